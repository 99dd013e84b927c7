"""Bot-list rules: the Bots on Discord validation of posted data, and command lists built from the tree.

Both doors use these: ``/bot-api`` validates what other bots post with them, and the auto-poster
checks its own command list with the same rules before sending it to a list.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from core import ledger

if TYPE_CHECKING:
    from storage import Repositories

MAX_COMMANDS = 200
MAX_ARGS = 20
MAX_ALIASES = 10
MAX_EXAMPLES = 6
MAX_EXAMPLE_LENGTH = 200
MAX_PERMISSIONS = 10
MAX_DESCRIPTION = 1000
MAX_GUILD_COUNT = 2**53 - 1
MAX_REVIEW_TEXT = 1000

SORTS = ("default", "none")
COOLDOWN_UNITS = ("s", "m", "h", "d")
ARG_TYPES = ("required", "optional")
ARG_TYPE_MESSAGE = 'Command arg types must be a string with the value "required" or "optional"'
SLASH_PREFIX = "/"
DEFAULT_CATEGORY = "General"


class BotListError(ValueError):
    """Posted bot-list data breaks a rule; the message names the field, as the original's 400 does."""


# --- guild count ------------------------------------------------------------------------------


def validate_guild_count(body: Any) -> int:
    """The ``guildCount`` of a ``POST /bots/:id/guilds`` body."""
    if not isinstance(body, dict):
        raise BotListError("The request body must be a JSON object with guildCount")
    if "guildCount" not in body or body["guildCount"] is None:
        raise BotListError("guildCount is required")
    count = body["guildCount"]
    if isinstance(count, bool) or not isinstance(count, int):
        raise BotListError("guildCount must be an integer")
    if count < 0:
        raise BotListError("guildCount must not be negative")
    if count > MAX_GUILD_COUNT:
        raise BotListError("guildCount is too large")
    return count


# --- commands -----------------------------------------------------------------------------------


def validate_command_data(body: Any) -> tuple[str | None, list[dict[str, Any]] | None]:
    """``(sort, commands)`` of a ``POST /bots/:id/commands`` body, normalised; commands ``None`` unsets."""
    if not isinstance(body, dict):
        raise BotListError("The request body must be a JSON object with sort and commands")
    sort = body.get("sort")
    if sort is not None and sort not in SORTS:
        raise BotListError('sort must be "default", "none" or null')
    if "commands" not in body:
        raise BotListError("commands is required: an array of commands, or null to unset them")
    commands = body["commands"]
    if commands is None:
        return sort, None
    if not isinstance(commands, list):
        raise BotListError("commands must be an array of commands or null")
    if len(commands) > MAX_COMMANDS:
        raise BotListError(f"There is a limit of {MAX_COMMANDS} commands")
    return sort, [_command(index, command) for index, command in enumerate(commands)]


def _command(index: int, command: Any) -> dict[str, Any]:
    where = f"commands[{index}]"
    if not isinstance(command, dict):
        raise BotListError(f"{where} must be an object")
    name = command.get("name")
    if not isinstance(name, str) or not name.strip():
        raise BotListError(f"{where}.name must be a non-empty string")
    description = _optional_string(command, "description", where)
    if description is not None and len(description) > MAX_DESCRIPTION:
        raise BotListError(f"{where}.description: descriptions are limited to 1,000 characters")
    cooldown = command.get("cooldown")
    if cooldown is not None and (
        isinstance(cooldown, bool)
        or not isinstance(cooldown, int | float)
        or not math.isfinite(cooldown)
        or cooldown < 0
    ):
        raise BotListError(f"{where}.cooldown must be a non-negative number or null")
    unit = command.get("cooldownUnit")
    if unit is not None and unit not in COOLDOWN_UNITS:
        raise BotListError(f'{where}.cooldownUnit must be "s", "m", "h", "d" or null')
    examples = _string_list(command, "examples", where, MAX_EXAMPLES, "examples")
    for number, example in enumerate(examples or []):
        if len(example) > MAX_EXAMPLE_LENGTH:
            raise BotListError(f"{where}.examples[{number}]: examples are limited to {MAX_EXAMPLE_LENGTH} characters")
    return {
        "name": name,
        "description": description,
        "args": _args(command.get("args"), where),
        "cooldown": cooldown,
        "cooldownUnit": unit,
        "aliases": _string_list(command, "aliases", where, MAX_ALIASES, "aliases"),
        "examples": examples,
        "permissions": _string_list(command, "permissions", where, MAX_PERMISSIONS, "permissions"),
        "category": _optional_string(command, "category", where),
        "prefix": _optional_string(command, "prefix", where),
    }


def _optional_string(command: dict[str, Any], field: str, where: str) -> str | None:
    value = command.get(field)
    if value is not None and not isinstance(value, str):
        raise BotListError(f"{where}.{field} must be a string or null")
    return value


def _string_list(command: dict[str, Any], field: str, where: str, limit: int, noun: str) -> list[str] | None:
    value = command.get(field)
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise BotListError(f"{where}.{field} must be an array of strings or null")
    if len(value) > limit:
        raise BotListError(f"{where}.{field}: There is a limit of {limit} {noun} per command")
    return value


def _args(args: Any, where: str) -> list[str | dict[str, str]] | None:
    if args is None:
        return None
    if not isinstance(args, list):
        raise BotListError(f"{where}.args must be an array or null")
    if len(args) > MAX_ARGS:
        raise BotListError(f"{where}.args: There is a limit of {MAX_ARGS} args per command")
    normalised: list[str | dict[str, str]] = []
    for number, arg in enumerate(args):
        if isinstance(arg, str):
            normalised.append(arg)
            continue
        if not isinstance(arg, dict):
            raise BotListError(f"{where}.args[{number}] must be a string or an object with text and type")
        if not isinstance(arg.get("text"), str):
            raise BotListError(f"{where}.args[{number}].text must be a string")
        if arg.get("type") not in ARG_TYPES:
            raise BotListError(ARG_TYPE_MESSAGE)
        normalised.append({"text": arg["text"], "type": arg["type"]})
    return normalised


# --- reviews ------------------------------------------------------------------------------------


def validate_review(rating: int, text: str) -> str:
    """The review text, stripped; a rating is 1 to 5 stars and the text says something."""
    if not 1 <= rating <= 5:
        raise BotListError("A rating is 1 to 5 stars")
    text = text.strip()
    if not text:
        raise BotListError("A review needs some text")
    if len(text) > MAX_REVIEW_TEXT:
        raise BotListError(f"A review is limited to {MAX_REVIEW_TEXT:,} characters")
    return text


@dataclass(frozen=True, slots=True)
class ReviewReward:
    """What ``/reviewed`` paid: ``amount`` 0 with ``already`` set when the member was paid before."""

    amount: int
    already: bool = False


async def grant_review_reward(
    repos: Repositories, *, guild_id: int, bot_user_id: int, user_id: int, amount: int, list_name: str, now: int
) -> ReviewReward:
    """Pay the member's one review reward from the bot's own profile ("self"), a ledger row."""
    if amount <= 0:
        return ReviewReward(0)
    entry = await repos.botlist.pay_review_reward(
        guild_id=guild_id,
        user_id=user_id,
        bot_user_id=bot_user_id,
        list_name=list_name,
        amount=amount,
        actor=ledger.cog_actor("botlist"),
        now=now,
    )
    if entry is None:
        return ReviewReward(0, already=True)
    return ReviewReward(amount)


# --- command lists from the bot's own command tree ------------------------------------------------


def commands_from_tree(tree: Any) -> list[dict[str, Any]]:
    """The bot's slash commands in the Bots on Discord format: one entry per invocable command path."""
    entries: list[dict[str, Any]] = []
    for command in tree.get_commands():
        if not hasattr(command, "parameters") and not hasattr(command, "commands"):
            continue  # context menus have no place in a command list
        entries.extend(_entries(command, root=command))
    return entries


def _entries(command: Any, *, root: Any) -> Iterable[dict[str, Any]]:
    children = getattr(command, "commands", None)
    if children is not None:  # a group: its subcommands are what people type
        for child in children:
            yield from _entries(child, root=root)
        return
    cooldown = _cooldown_seconds(command)
    args = [
        {"text": parameter.display_name, "type": "required" if parameter.required else "optional"}
        for parameter in command.parameters
    ]
    permissions = _permission_names(getattr(root, "default_permissions", None))
    yield {
        "name": command.qualified_name,
        "description": command.description or None,
        "args": args or None,
        "cooldown": cooldown,
        "cooldownUnit": "s" if cooldown is not None else None,
        "aliases": None,
        "examples": None,
        "permissions": permissions or None,
        "category": _category(command),
        "prefix": SLASH_PREFIX,
    }


def _category(command: Any) -> str:
    node = command
    while node is not None:
        cog = getattr(node, "binding", None)
        if cog is not None and hasattr(cog, "qualified_name"):
            return cog.qualified_name
        node = getattr(node, "parent", None)
    return DEFAULT_CATEGORY


def _permission_names(permissions: Any) -> list[str]:
    if permissions is None:
        return []
    return [name.replace("_", " ").title() for name, granted in permissions if granted][:MAX_PERMISSIONS]


def _cooldown_seconds(command: Any) -> int | float | None:
    """A fixed cooldown set with ``app_commands.checks.cooldown`` (or ``extras={"cooldown": s}``)."""
    extra = getattr(command, "extras", {}).get("cooldown")
    if isinstance(extra, int | float) and not isinstance(extra, bool):
        return extra
    for check in getattr(command, "checks", []):
        for cell in getattr(check, "__closure__", None) or ():
            defaults = getattr(cell.cell_contents, "__kwdefaults__", None) or {}
            factory = defaults.get("factory")
            if factory is None:
                continue
            try:
                bucket = factory(None)  # a fixed cooldown's factory ignores the interaction
            except Exception:  # noqa: S112 - a dynamic cooldown has no fixed value to show
                continue
            per = getattr(bucket, "per", None)
            if isinstance(per, int | float):
                return int(per) if float(per).is_integer() else per
    return None


def discord_commands(tree: Any) -> list[dict[str, Any]]:
    """The application-command JSON the lists that mirror Discord's format take (top.gg v1, DBL)."""
    return [command.to_dict(tree) for command in tree.get_commands()]


def digest(payload: Any) -> str:
    """A stable fingerprint of a payload, to post a command list only when it changed."""
    return hashlib.sha256(json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()).hexdigest()
