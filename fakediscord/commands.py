"""Building INTERACTION_CREATE payloads the way a Discord client would, from what the bot synced.

A slash command's name path (``"item create"``) and ``{option: value}`` become nested subcommand /
group options; the synced definitions give each option's type, so users, members, channels, roles,
mentionables and attachments go into ``resolved`` as Discord does. Clicks and modal submits are
built from the components the bot actually sent.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from .payloads import ATTACHMENT_SIZE_LIMIT, Json, guess_content_type
from .state import Attachment, Guild, Message, State

if TYPE_CHECKING:
    from .interactions import InteractionRecord
    from .payloads import Payloads

log = logging.getLogger(__name__)

SUB_COMMAND, SUB_COMMAND_GROUP = 1, 2
STRING, INTEGER, BOOLEAN, USER, CHANNEL, ROLE, MENTIONABLE, NUMBER, ATTACHMENT = 3, 4, 5, 6, 7, 8, 9, 10, 11
SELECT_TYPES = {3: "string", 5: "user", 6: "role", 7: "mentionable", 8: "channel"}


class ActionError(ValueError):
    """A user-side action cannot happen as asked (unknown id, unknown option, ...): HTTP 400 in control."""


class InteractionBuilder:
    def __init__(self, state: State, payloads: Payloads) -> None:
        self.state = state
        self.payloads = payloads

    # -- the envelope ---------------------------------------------------------------------------

    def envelope(self, record: InteractionRecord, guild: Guild) -> Json:
        channel = self.state.channels[record.channel_id]
        member = guild.members[record.user_id]
        channel_payload = self.payloads.channel(channel) | {
            "permissions": str(self.state.permissions(guild, record.user_id))
        }
        return {
            "id": str(record.id),
            "application_id": str(self.state.application_id),
            "type": record.type,
            "token": record.token,
            "version": 1,
            "guild_id": str(guild.id),
            "guild": {"id": str(guild.id), "locale": "en-US", "features": []},
            "guild_locale": "en-US",
            "channel_id": str(channel.id),
            "channel": channel_payload,
            "member": self.payloads.member(guild, member, permissions=True),
            "app_permissions": str(self.state.permissions(guild, self.state.bot_id)),
            "locale": "en-US",
            "entitlements": [],
            "authorizing_integration_owners": {"0": str(guild.id)},
            "context": 0,
            "attachment_size_limit": ATTACHMENT_SIZE_LIMIT,
        }

    # -- application commands -------------------------------------------------------------------

    def command_data(self, guild: Guild, name: str, options: dict[str, Any], target_id: int | None) -> Json:
        resolved: dict[str, dict[str, Json]] = {}
        if target_id is not None:
            command = self.state.find_command(guild.id, name, 2) or self.state.find_command(guild.id, name, 3)
            if command is None:
                raise ActionError(f"no synced user or message command named {name!r}{self._synced(guild)}")
            data = self._data_head(command)
            data["target_id"] = str(target_id)
            if command["type"] == 2:
                self._resolve_user(guild, target_id, resolved)
            else:
                message = self.state.messages.get(target_id)
                if message is None:
                    raise ActionError(f"unknown message {target_id}")
                resolved["messages"] = {str(target_id): self.payloads.message(message)}
            data["resolved"] = resolved
            return data
        parts = name.split()
        if not parts:
            raise ActionError("name must not be empty")
        command = self.state.find_command(guild.id, parts[0], 1)
        if command is None:
            raise ActionError(f"no synced slash command named {parts[0]!r}{self._synced(guild)}")
        data = self._data_head(command)
        container = data
        definitions = command.get("options", [])
        for part in parts[1:]:
            found = next((o for o in definitions if o["name"] == part and o["type"] in (1, 2)), None)
            if found is None:
                raise ActionError(f"/{command['name']} has no subcommand or group {part!r}")
            entry: Json = {"name": part, "type": found["type"], "options": []}
            container["options"] = [entry]
            container, definitions = entry, found.get("options", [])
        subs = [o["name"] for o in definitions if o["type"] in (1, 2)]
        if subs:
            raise ActionError(f"/{name} needs a subcommand: one of {', '.join(subs)}")
        by_name = {o["name"]: o for o in definitions}
        for option_name, value in options.items():
            definition = by_name.get(option_name)
            if definition is None:
                raise ActionError(f"/{name} has no option {option_name!r} (options: {', '.join(by_name) or 'none'})")
            container["options"].append(
                {
                    "name": option_name,
                    "type": definition["type"],
                    "value": self._value(guild, definition, value, resolved),
                }
            )
        missing = [o["name"] for o in definitions if o.get("required") and o["name"] not in options]
        if missing:
            raise ActionError(f"/{name} needs option(s) {', '.join(missing)}")
        if resolved:
            data["resolved"] = resolved
        return data

    def _synced(self, guild: Guild) -> str:
        names = sorted({c["name"] for c in self.state.global_commands + self.state.guild_commands.get(guild.id, [])})
        return f" (synced: {', '.join(names)})" if names else " (no commands were synced)"

    def _data_head(self, command: Json) -> Json:
        data: Json = {"id": command["id"], "name": command["name"], "type": command.get("type", 1), "options": []}
        if command.get("guild_id"):
            data["guild_id"] = command["guild_id"]
        return data

    def _value(self, guild: Guild, definition: Json, value: Any, resolved: dict[str, dict[str, Json]]) -> Any:
        kind = definition["type"]
        name = definition["name"]
        try:
            if kind == STRING:
                converted: Any = str(value)
            elif kind == INTEGER:
                if isinstance(value, bool) or float(value) != int(float(value)):
                    raise ValueError
                converted = int(float(value))
            elif kind == NUMBER:
                converted = float(value)
            elif kind == BOOLEAN:
                if isinstance(value, str) and value.lower() in ("true", "false"):
                    value = value.lower() == "true"
                if not isinstance(value, bool):
                    raise ValueError
                converted = value
            elif kind in (USER, CHANNEL, ROLE, MENTIONABLE):
                return self._resolve_entity(guild, kind, name, value, definition, resolved)
            elif kind == ATTACHMENT:
                return self._resolve_attachment(guild, value, resolved)
            else:
                raise ActionError(f"option {name!r} has unsupported type {kind}")
        except (TypeError, ValueError) as error:
            if isinstance(error, ActionError):
                raise
            raise ActionError(f"option {name!r}: {value!r} is not a valid value for type {kind}") from None
        choices = definition.get("choices")
        if choices and converted not in [c["value"] for c in choices]:
            raise ActionError(f"option {name!r}: {converted!r} is not one of the choices")
        low, high = definition.get("min_value"), definition.get("max_value")
        if (low is not None and converted < low) or (high is not None and converted > high):
            raise ActionError(f"option {name!r}: {converted!r} is out of range")
        return converted

    def _resolve_entity(
        self, guild: Guild, kind: int, name: str, value: Any, definition: Json, resolved: dict[str, dict[str, Json]]
    ) -> str:
        text = str(value).strip().lstrip("<@&#!").rstrip(">")
        snowflake = int(text) if text.isdigit() else None
        if kind in (USER, MENTIONABLE):
            user_id = snowflake if snowflake in self.state.users else self.state.find_member(guild, text)
            if user_id is not None:
                self._resolve_user(guild, user_id, resolved)
                return str(user_id)
        if kind in (ROLE, MENTIONABLE):
            role = guild.roles.get(snowflake or 0) or next((r for r in guild.roles.values() if r.name == text), None)
            if role is not None:
                resolved.setdefault("roles", {})[str(role.id)] = self.payloads.role(role)
                return str(role.id)
        if kind == CHANNEL:
            channel = self.state.channels.get(snowflake or 0) or next(
                (c for c in self.state.guild_channels(guild) if c.name == text), None
            )
            if channel is not None and channel.guild_id == guild.id:
                allowed = definition.get("channel_types")
                if allowed and channel.type not in allowed:
                    raise ActionError(f"option {name!r}: channel {channel.name!r} has a type the command refuses")
                payload = self.payloads.channel(channel) | {
                    "permissions": str(self.state.permissions(guild, self.state.bot_id))
                }
                resolved.setdefault("channels", {})[str(channel.id)] = payload
                return str(channel.id)
        raise ActionError(f"option {name!r}: nothing in guild {guild.id} matches {value!r}")

    def _resolve_user(self, guild: Guild, user_id: int, resolved: dict[str, dict[str, Json]]) -> None:
        user = self.state.users.get(user_id)
        if user is None:
            raise ActionError(f"unknown user {user_id}")
        resolved.setdefault("users", {})[str(user_id)] = self.payloads.user(user)
        member = guild.members.get(user_id)
        if member is not None:
            payload = self.payloads.member(guild, member, with_user=False, permissions=True)
            resolved.setdefault("members", {})[str(user_id)] = payload

    def _resolve_attachment(self, guild: Guild, value: Any, resolved: dict[str, dict[str, Json]]) -> str:
        if isinstance(value, str):
            value = {"filename": value, "content": b""}
        if not isinstance(value, dict) or "filename" not in value:
            raise ActionError("an attachment option needs a filename (or {filename, content, content_type})")
        content = value.get("content", b"")
        data = content.encode() if isinstance(content, str) else bytes(content)
        if not data and value.get("size"):
            data = b"\0" * int(value["size"])
        filename = str(value["filename"])
        attachment = Attachment(
            self.state.snowflake(), 0, filename, value.get("content_type") or guess_content_type(filename), data
        )
        self.state.attachments[attachment.id] = attachment
        resolved.setdefault("attachments", {})[str(attachment.id)] = self.payloads.attachment(
            attachment, ephemeral=True
        )
        return str(attachment.id)

    # -- components and modals ------------------------------------------------------------------

    def component_data(self, guild: Guild, message: Message, custom_id: str, values: list[Any] | None) -> Json:
        component = find_component(message.components, custom_id)
        if component is None:
            raise ActionError(f"message {message.id} has no component with custom_id {custom_id!r}")
        kind = component["type"]
        data: Json = {"custom_id": custom_id, "component_type": kind}
        if kind in SELECT_TYPES:
            values = [str(v) for v in (values or [])]
            if kind == 3:
                known = [o.get("value") for o in component.get("options", [])]
                unknown_values = [v for v in values if v not in known]
                if unknown_values:
                    raise ActionError(f"select {custom_id!r} has no option(s) {', '.join(unknown_values)}")
            else:
                resolved: dict[str, dict[str, Json]] = {}
                option_type = {5: USER, 6: ROLE, 7: MENTIONABLE, 8: CHANNEL}[kind]
                values = [self._resolve_entity(guild, option_type, custom_id, v, {}, resolved) for v in values]
                data["resolved"] = resolved
            data["values"] = values
        elif values:
            raise ActionError(f"component {custom_id!r} is a button; it takes no values")
        return data

    def modal_data(self, custom_id: str, fields: dict[str, Any], modal: Json | None) -> Json:
        """A modal submit mirroring the modal the bot sent (action rows or labels around inputs)."""
        remaining = dict(fields)

        def answer(component: Json) -> Json | None:
            cid = component.get("custom_id")
            if cid not in remaining:
                return None
            value = remaining.pop(cid)
            if component.get("type") == 4:
                return {"type": 4, "id": component.get("id", 0), "custom_id": cid, "value": str(value)}
            values = value if isinstance(value, list) else [value]
            return {
                "type": component["type"],
                "id": component.get("id", 0),
                "custom_id": cid,
                "values": [str(v) for v in values],
            }

        rows: list[Json] = []
        for item in (modal or {}).get("components", []):
            if item.get("type") == 1:
                inner = [a for a in (answer(c) for c in item.get("components", [])) if a is not None]
                if inner:
                    rows.append({"type": 1, "id": item.get("id", 0), "components": inner})
            elif item.get("type") == 18 and isinstance(item.get("component"), dict):
                inner_answer = answer(item["component"])
                if inner_answer is not None:
                    rows.append({"type": 18, "id": item.get("id", 0), "component": inner_answer})
        if modal is not None and remaining:
            raise ActionError(f"modal {custom_id!r} has no field(s) {', '.join(remaining)}")
        for cid, value in remaining.items():
            rows.append({"type": 1, "components": [{"type": 4, "custom_id": cid, "value": str(value)}]})
        return {"custom_id": custom_id, "components": rows}


def find_component(components: list[Json], custom_id: str) -> Json | None:
    for component in components:
        if component.get("custom_id") == custom_id:
            return component
        for child in [*component.get("components", []), component.get("component"), component.get("accessory")]:
            if isinstance(child, dict):
                found = find_component([child], custom_id)
                if found is not None:
                    return found
    return None
