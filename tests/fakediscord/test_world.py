"""World files: the default world, validation errors that name the key, permission names."""

from __future__ import annotations

import tomllib
from pathlib import Path

import discord
import pytest

from fakediscord import WorldError, default_world, load_world
from fakediscord.world import parse_world

from .conftest import BOT, BOT_ROLE, DAX, GUILD, MOD_ROLE, world_text


def test_default_world() -> None:
    world = default_world()
    assert world.bot.id == BOT and len(str(BOT)) == 19
    [guild] = world.guilds
    assert guild.id == GUILD and guild.afk_channel_id is not None
    roles = {r.id: r for r in guild.roles}
    assert roles[GUILD].name == "@everyone" and roles[GUILD].position == 0
    bot_role, moderator = roles[BOT_ROLE], roles[MOD_ROLE]
    assert moderator.position > bot_role.position and bot_role.managed
    expected = discord.Permissions(manage_roles=True, manage_channels=True, send_messages=True, embed_links=True)
    assert discord.Permissions(bot_role.permissions) >= expected
    members = {m.id: m for m in guild.members}
    assert members[BOT].bot and members[BOT].roles == [BOT_ROLE]
    assert not members[DAX].dm_open
    assert sum(1 for m in guild.members if m.bot) == 2


def test_load_world_file(tmp_path: Path) -> None:
    path = tmp_path / "w.toml"
    path.write_text(world_text(), encoding="utf-8")
    assert load_world(path) == default_world()


@pytest.mark.parametrize(
    ("old", "new", "error"),
    [
        (
            '"manage_roles", "manage_channels"',
            '"manage_rolez"',
            "guilds[0].roles[3].permissions: unknown permission 'manage_rolez'",
        ),
        ('type = "category"', 'type = "forum"', "guilds[0].channels[0].type: unknown channel type 'forum'"),
        ('status = "idle"', 'status = "asleep"', "guilds[0].members[4].status: must be one of"),
        ("dm_open = false", 'dm_open = "no"', "guilds[0].members[3].dm_open: expected true or false"),
        ('name = "Guildhall Sandbox"', 'name = "Guildhall Sandbox"\ncolour = 1', "guilds[0].colour: unknown key"),
        (
            'id = "1179000000000003002"',
            'id = "1179000000000003001"',
            "guilds[0].channels[2].id: id 1179000000000003001 is already used",
        ),
        (
            'roles = ["1179000000000002001"]\ndm_open',
            'roles = ["42"]\ndm_open',
            "guilds[0].members[3].roles[0]: unknown role 42",
        ),
        (
            'afk_channel_id = "1179000000000003023"',
            'afk_channel_id = "1179000000000003001"',
            "guilds[0].afk_channel_id",
        ),
        ('owner_id = "1179000000000000101"\nafk', 'owner_id = "1179000000000000999"\nafk', "guilds[0].owner_id"),
        (
            'id = "1179000000000000001"\nname = "Guildhall"\nbot',
            'id = "1179000000000000009"\nname = "Guildhall"\nbot',
            "the bot",
        ),
        (
            'id = "1179000000000001000"\nname = "Guildhall Sandbox"',
            'id = "x"\nname = "Guildhall Sandbox"',
            "guilds[0].id: not a snowflake",
        ),
    ],
)
def test_world_errors_name_the_key(old: str, new: str, error: str) -> None:
    text = world_text()
    assert old in text, old
    with pytest.raises(WorldError) as caught:
        parse_world(tomllib.loads(text.replace(old, new, 1)))
    assert error in str(caught.value)


def test_unreadable_world_files(tmp_path: Path) -> None:
    with pytest.raises(WorldError, match="cannot read"):
        load_world(tmp_path / "missing.toml")
    broken = tmp_path / "broken.toml"
    broken.write_text("[bot\n", encoding="utf-8")
    with pytest.raises(WorldError, match="not valid TOML"):
        load_world(broken)
    with pytest.raises(WorldError, match="bot: missing"):
        parse_world({"guilds": []})
