"""``/applyRoleChanges`` against fakediscord: one request of many changes versus the same changes one by one.

Starts the sandbox (fakediscord, the bot and the API) with a guild of generated members, links it,
then applies ``2 × members`` role additions (two roles below the bot for each member):

- one by one: one request per change, each waiting for the previous answer;
- batched: the same additions (after removing them again, untimed) in one request.

``run(quick)`` returns the figures; ``python bench/link_bench.py [--quick] [--json]`` prints them.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
import tempfile
import time
import tomllib
from importlib import resources
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import aiohttp

from core.config import Settings
from fakediscord.world import parse_world
from guildhall.sandbox import open_sandbox

WEBSITE_KEY = "bench-website-key"
ROLES = ("Member", "Verified")  # both below the bot's role in the default world


def _world(members: int) -> Any:
    data = tomllib.loads(resources.files("fakediscord").joinpath("default_world.toml").read_text(encoding="utf-8"))
    data["guilds"][0]["generate_members"] = members
    return parse_world(data)


async def _post(session: aiohttp.ClientSession, url: str, body: dict[str, Any]) -> dict[str, Any]:
    async with session.post(url, data=json.dumps(body).encode()) as response:
        answer = await response.json(content_type=None)
        if response.status != 200:
            raise RuntimeError(f"/applyRoleChanges answered {response.status}: {answer}")
        return answer


async def _measure(members: int) -> dict[str, Any]:
    world = _world(members)
    guild = world.guilds[0]
    role_ids = {role.name: role.id for role in guild.roles}
    member_ids = [member.id for member in guild.members if member.name.startswith("member-")][:members]
    with tempfile.TemporaryDirectory() as folder:
        db_path = Path(folder) / "bench.sqlite3"
        settings = Settings.model_validate(
            {"storage": {"path": str(db_path)}, "logging": {"access_log": False}, "discord": {"sync_commands": "never"}}
        )
        async with open_sandbox(settings, world=world, db_path=db_path) as sandbox:
            # A website the bot never reaches (it refuses the loopback target), so role reports stay local.
            await sandbox.repos.guild_links.put(
                guild.id, "http://127.0.0.1:9/index.php?route=/api/v2", WEBSITE_KEY, now=0
            )
            url = f"{sandbox.api.url}/applyRoleChanges"
            changes = [
                {"user_id": str(member), "role_id": str(role_ids[name]), "action": action}
                for member in member_ids
                for name in ROLES
                for action in ("add",)
            ]

            def body(items: list[dict[str, Any]]) -> dict[str, Any]:
                return {"guild_id": str(guild.id), "api_key": WEBSITE_KEY, "role_changes": items}

            async with aiohttp.ClientSession() as session:
                await _post(session, url, body(changes[:1]))  # warm up: Discord's bucket is learnt
                await _post(session, url, body([change | {"action": "remove"} for change in changes[:1]]))
                await sandbox.fake.settled()

                started = time.perf_counter()
                single = [await _post(session, url, body([change])) for change in changes]
                one_by_one = time.perf_counter() - started
                await sandbox.fake.settled()

                await _post(session, url, body([change | {"action": "remove"} for change in changes]))
                await sandbox.fake.settled()

                started = time.perf_counter()
                batch = await _post(session, url, body(changes))
                batched = time.perf_counter() - started
                await sandbox.fake.settled()

    single_ok = all(answer["role_changes"][0]["status"] == "added" for answer in single)
    batch_ok = [item["status"] for item in batch["role_changes"]] == ["added"] * len(changes)
    return {
        "changes": len(changes),
        "members": len(member_ids),
        "batch_seconds": round(batched, 4),
        "one_by_one_seconds": round(one_by_one, 4),
        "speedup": round(one_by_one / batched, 2) if batched else None,
        "batch_within_website_timeout": batched < 5.0,
        "all_added": single_ok and batch_ok,
    }


def run(quick: bool) -> dict[str, Any]:
    """The figures of one run: 100 changes over 50 members (quick: 20 over 10)."""
    logging.getLogger("cogs.link").setLevel(logging.ERROR)
    logging.getLogger("discord").setLevel(logging.ERROR)
    return asyncio.run(_measure(10 if quick else 50))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="20 changes over 10 members")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args(argv)
    figures = run(args.quick)
    if args.json:
        print(json.dumps(figures))
    else:
        print(
            f"/applyRoleChanges: {figures['changes']} changes over {figures['members']} members\n"
            f"  one request:   {figures['batch_seconds'] * 1000:.0f} ms\n"
            f"  one by one:    {figures['one_by_one_seconds'] * 1000:.0f} ms\n"
            f"  one request is {figures['speedup']}x faster; all added: {figures['all_added']}"
        )
    return 0 if figures["all_added"] else 1


if __name__ == "__main__":
    sys.exit(main())
