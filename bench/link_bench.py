"""``/applyRoleChanges`` under Discord's rate limits: the time it takes against the least the limits allow.

Starts the sandbox (fakediscord with Discord's limits: 50 requests/s per bot and 10 member-role
calls/s per guild; the bot, its own limiter and the API) with a guild of generated members, links
it, then applies ``2 × members`` role additions in one request (two roles below the bot for each
member) and counts the 429s fakediscord sent.

The least time the limits allow: each member needs at least one call, so ``R = members`` calls
in one guild's member-role bucket (``L`` per ``P`` seconds) and in the global bucket (``G`` per
``Q`` seconds); windows open with the first call, so the last call can go at the earliest at
``max((ceil(R / L) - 1) * P, (ceil(R / G) - 1) * Q)``: 4 s for 50 members.

``run(quick)`` returns the figures; ``python bench/link_bench.py [--quick] [--json]`` prints them.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import math
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
from fakediscord.ratelimits import Limit
from fakediscord.world import parse_world
from guildhall.sandbox import open_sandbox

WEBSITE_KEY = "bench-website-key"
ROLES = ("Member", "Verified")  # both below the bot's role in the default world
RATIO_GOAL = 1.2
WEBSITE_WAITS = 5.0
MEMBER_ROLE_CALL = r"^/guilds/\d+/members/\d+(/roles/\d+)?$"


def least_seconds(calls: int, member_roles: Limit | None, global_: Limit | None) -> float:
    """The least time ``calls`` member-role calls in one guild take under the limits (last call's start)."""
    windows = [
        (math.ceil(calls / limit.limit) - 1) * limit.per for limit in (member_roles, global_) if limit is not None
    ]
    return max([0.0, *windows])


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
            fake = sandbox.fake
            # A website the bot never reaches (it refuses the loopback target), so role reports stay local.
            await sandbox.repos.guild_links.put(
                guild.id, "http://127.0.0.1:9/index.php?route=/api/v2", WEBSITE_KEY, now=0
            )
            url = f"{sandbox.api.url}/applyRoleChanges"
            changes = [
                {"user_id": str(member), "role_id": str(role_ids[name]), "action": "add"}
                for member in member_ids
                for name in ROLES
            ]
            body = {"guild_id": str(guild.id), "api_key": WEBSITE_KEY, "role_changes": changes}
            await fake.settled()
            calls_before = len(fake.find_requests(None, MEMBER_ROLE_CALL))
            async with aiohttp.ClientSession() as session:
                started = time.perf_counter()
                answer = await _post(session, url, body)
                seconds = time.perf_counter() - started
            await fake.settled()
            calls = fake.find_requests(None, MEMBER_ROLE_CALL)[calls_before:]
            held = {
                int(member["id"]): {int(role) for role in member["roles"]}
                for member in fake.state()["guilds"][0]["members"]
            }
            limits = fake.ratelimits
            least = least_seconds(len(member_ids), limits.member_roles, limits.global_limit)
            rate_limited = limits.total_429s
            held_back = sandbox.bot.discord_limiter.waited

    wanted = {role_ids[name] for name in ROLES}
    all_added = [item["status"] for item in answer["role_changes"]] == ["added"] * len(changes) and all(
        wanted <= held[member] for member in member_ids
    )
    return {
        "changes": len(changes),
        "members": len(member_ids),
        "calls": len(calls),
        "seconds": round(seconds, 4),
        "least_seconds": least,
        "ratio": round(seconds / least, 3) if least else None,
        "rate_limited": rate_limited,
        "held_back": held_back,
        "all_added": all_added,
        "within_website_wait": seconds < WEBSITE_WAITS,
    }


def passed(figures: dict[str, Any]) -> bool:
    """Within 1.2× the least time, no 429, everything applied, and inside the website's 5 s when possible."""
    ratio_ok = figures["ratio"] is None or figures["ratio"] <= RATIO_GOAL
    in_time = figures["within_website_wait"] or figures["least_seconds"] >= WEBSITE_WAITS
    return ratio_ok and in_time and figures["rate_limited"] == 0 and figures["all_added"]


def run(quick: bool) -> dict[str, Any]:
    """The figures of one run: 100 changes over 50 members (quick: 60 over 30)."""
    logging.getLogger("cogs.link").setLevel(logging.ERROR)
    logging.getLogger("discord").setLevel(logging.ERROR)
    return asyncio.run(_measure(30 if quick else 50))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="60 changes over 30 members")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args(argv)
    figures = run(args.quick)
    if args.json:
        print(json.dumps(figures))
    else:
        print(
            f"/applyRoleChanges: {figures['changes']} changes over {figures['members']} members"
            f" in {figures['calls']} Discord calls\n"
            f"  took:          {figures['seconds'] * 1000:.0f} ms\n"
            f"  least allowed: {figures['least_seconds'] * 1000:.0f} ms (ratio {figures['ratio']})\n"
            f"  429s: {figures['rate_limited']}; all added: {figures['all_added']}"
        )
    return 0 if passed(figures) else 1


if __name__ == "__main__":
    sys.exit(main())
