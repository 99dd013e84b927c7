"""Commands that change settings check the permission in code, not only through Discord's defaults.

fakediscord does not enforce ``default_member_permissions`` (a guild's admins can override it on
real Discord too), so a member without Manage Server reaches every command here and must be refused.
"""

from __future__ import annotations

from discord import AppCommandOptionType, app_commands

from tests.e2e.conftest import assert_healthy


def _value(parameter: app_commands.Parameter, ids) -> object:
    """A value of the right type for a required option: the check must refuse before it matters."""
    if parameter.choices:
        return parameter.choices[0].value
    kind = parameter.type
    if kind in (AppCommandOptionType.user, AppCommandOptionType.mentionable):
        return ids.member
    if kind is AppCommandOptionType.channel:
        return ids.general
    if kind is AppCommandOptionType.role:
        return next(iter(ids.roles.values()))
    if kind in (AppCommandOptionType.integer, AppCommandOptionType.number):
        return int(parameter.min_value or 1)
    if kind is AppCommandOptionType.boolean:
        return False
    return "1"


REFUSALS = ("permission", "only the bot's owner")


def _guarded_commands(tree: app_commands.CommandTree) -> list[app_commands.Command]:
    """Every slash command that Discord hides behind a permission by default (its own or its group's)."""
    found = []
    for command in tree.walk_commands():
        if not isinstance(command, app_commands.Command):
            continue
        owner = command
        while owner is not None and owner.default_permissions is None:
            owner = owner.parent
        if owner is not None and owner.default_permissions is not None and owner.default_permissions.value:
            found.append(command)
    return found


def _has_check(command: app_commands.Command) -> bool:
    node = command
    while node is not None:
        if getattr(node, "checks", None):
            return True
        if (
            isinstance(node, app_commands.Group)
            and type(node).interaction_check is not app_commands.Group.interaction_check
        ):
            return True
        node = node.parent
    return False


async def test_every_permission_gated_command_checks_in_code_and_refuses_a_plain_member(sandbox, ids):
    guarded = _guarded_commands(sandbox.bot.tree)
    assert len(guarded) >= 10  # the settings commands of every feature
    assert [c.qualified_name for c in guarded if not _has_check(c)] == []
    before = sandbox.fake.state()
    for command in guarded:
        options = {p.name: _value(p, ids) for p in command.parameters if p.required}
        answer = await sandbox.fake.command(ids.guild, ids.general, ids.member, command.qualified_name, options)
        replies = answer["responses"]
        assert replies, command.qualified_name
        assert replies[-1]["ephemeral"], command.qualified_name
        refusal = replies[-1]["content"].lower()
        assert any(word in refusal for word in REFUSALS), (command.qualified_name, refusal)
    assert sandbox.fake.state()["guilds"] == before["guilds"]  # no refused command touched Discord
    assert_healthy(sandbox)
