"""What people do in the fake Discord: talk, react, join voice, join or leave, click, run commands.

Each action changes the state, sends the gateway events Discord would send, and returns only after
the bot has handled them (``FakeDiscord.settled``). Bad input raises :class:`ActionError`.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

from core.clock import ManualClock

from .commands import ActionError, InteractionBuilder
from .payloads import Json, emoji, emoji_key, guess_content_type, mentions
from .snapshot import snapshot
from .state import (
    TEXT_TYPES,
    VOICE_TYPES,
    Attachment,
    Channel,
    Guild,
    Member,
    Message,
    Role,
    User,
    VoiceState,
    perm,
)
from .world import STATUSES

if TYPE_CHECKING:
    from .gateway import Gateway
    from .interactions import InteractionRecord, Interactions
    from .payloads import Payloads
    from .state import State

log = logging.getLogger(__name__)

__all__ = ["ActionError", "UserActions"]


def as_id(value: Any, name: str) -> int:
    if isinstance(value, bool):
        raise ActionError(f"{name} must be a snowflake id")
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise ActionError(f"{name} must be a snowflake id, not {value!r}") from None
    if not 0 < number < 2**63:
        raise ActionError(f"{name} is out of range")
    return number


def as_bool(value: Any, name: str) -> bool:
    if not isinstance(value, bool):
        raise ActionError(f"{name} must be true or false")
    return value


class UserActions:
    """Mixed into :class:`~fakediscord.server.FakeDiscord`."""

    store: State
    payloads: Payloads
    gateway: Gateway
    interactions: Interactions
    settle_timeout: float

    async def emit(self, event: str, data: Json, *, guild_id: int | None = None) -> int | None:
        raise NotImplementedError

    async def settled(self) -> None:
        raise NotImplementedError

    async def quiet(self, period: float | None = None) -> None:
        raise NotImplementedError

    # -- lookups --------------------------------------------------------------------------------

    def _guild(self, guild_id: Any) -> Guild:
        guild = self.store.guilds.get(as_id(guild_id, "guild_id"))
        if guild is None:
            raise ActionError(f"unknown guild {guild_id}")
        return guild

    def _member(self, guild: Guild, user_id: Any) -> Member:
        member = guild.members.get(as_id(user_id, "user_id"))
        if member is None:
            raise ActionError(f"user {user_id} is not a member of guild {guild.id}")
        return member

    def _text_channel(self, guild: Guild, channel_id: Any) -> int:
        channel = self.store.channels.get(as_id(channel_id, "channel_id"))
        if channel is None or channel.guild_id != guild.id:
            raise ActionError(f"unknown channel {channel_id} in guild {guild.id}")
        if channel.type not in TEXT_TYPES:
            raise ActionError(f"channel {channel_id} is not a text channel")
        return channel.id

    # -- voice, messages, reactions -------------------------------------------------------------

    async def voice(
        self,
        guild_id: Any,
        user_id: Any,
        channel_id: Any | None,
        *,
        self_mute: bool = False,
        self_deaf: bool = False,
        mute: bool | None = None,
        deaf: bool | None = None,
        suppress: bool = False,
        self_stream: bool = False,
        self_video: bool = False,
        settle: bool = True,
    ) -> None:
        """A member joins, moves within, changes state in, or (``channel_id=None``) leaves voice.

        ``settle=False`` returns once the event is sent, without waiting for the bot (a load stream)."""
        guild = self._guild(guild_id)
        member = self._member(guild, user_id)
        if channel_id is None:
            current = guild.voice.pop(member.user_id, None)
            if current is None:
                return
            payload = self.payloads.voice_state(guild, current, event=True) | {"channel_id": None}
        else:
            channel = self.store.channels.get(as_id(channel_id, "channel_id"))
            if channel is None or channel.guild_id != guild.id or channel.type not in VOICE_TYPES:
                raise ActionError(f"channel {channel_id} is not a voice channel of guild {guild.id}")
            if mute is not None:
                member.mute = as_bool(mute, "mute")
            if deaf is not None:
                member.deaf = as_bool(deaf, "deaf")
            previous = guild.voice.get(member.user_id)
            state = VoiceState(
                user_id=member.user_id,
                channel_id=channel.id,
                session_id=previous.session_id if previous else self.store.session_id(),
                self_mute=as_bool(self_mute, "self_mute"),
                self_deaf=as_bool(self_deaf, "self_deaf"),
                mute=member.mute,
                deaf=member.deaf,
                suppress=as_bool(suppress, "suppress"),
                self_stream=as_bool(self_stream, "self_stream"),
                self_video=as_bool(self_video, "self_video"),
            )
            guild.voice[member.user_id] = state
            payload = self.payloads.voice_state(guild, state, event=True)
        await self.emit("VOICE_STATE_UPDATE", payload, guild_id=guild.id)
        if settle:
            await self.settled()

    async def message(
        self,
        guild_id: Any | None,
        channel_id: Any | None,
        user_id: Any,
        content: str,
        *,
        attachments: list[dict[str, Any]] | None = None,
        settle: bool = True,
    ) -> int:
        """A person posts a message (``guild_id=None``: a DM to the bot); returns its id."""
        if not isinstance(content, str) or len(content) > 2000:
            raise ActionError("content must be a string of at most 2000 characters")
        if guild_id is None:
            user = self.store.users.get(as_id(user_id, "user_id"))
            if user is None:
                raise ActionError(f"unknown user {user_id}")
            channel = self.store.dm_channel(user.id)
            guild, author_id = None, user.id
        else:
            guild = self._guild(guild_id)
            author_id = self._member(guild, user_id).user_id
            channel = self.store.channels[self._text_channel(guild, channel_id)]
        files = [self._attachment(channel.id, a) for a in attachments or []]
        if not content and not files:
            raise ActionError("a message needs content or attachments")
        user_ids, role_ids = mentions(content)
        message = Message(
            id=self.store.snowflake(),
            channel_id=channel.id,
            guild_id=guild.id if guild else None,
            author_id=author_id,
            content=content,
            timestamp=self.store.clock.time(),
            attachments=files,
            mention_ids=user_ids,
            mention_role_ids=role_ids,
        )
        self.store.add_message(message)
        await self.emit("MESSAGE_CREATE", self.payloads.message_event(message), guild_id=message.guild_id)
        if settle:
            await self.settled()
        return message.id

    def _attachment(self, channel_id: int, spec: dict[str, Any]) -> Attachment:
        if not isinstance(spec, dict) or not isinstance(spec.get("filename"), str):
            raise ActionError("an attachment needs a filename (and optionally content and content_type)")
        content = spec.get("content", b"")
        data = content.encode() if isinstance(content, str) else bytes(content)
        if not data and spec.get("size"):
            data = b"\0" * int(spec["size"])
        filename = spec["filename"]
        return Attachment(
            self.store.snowflake(), channel_id, filename, spec.get("content_type") or guess_content_type(filename), data
        )

    async def reaction(
        self, guild_id: Any, channel_id: Any, message_id: Any, user_id: Any, emoji_name: str | Json, add: bool = True
    ) -> None:
        """A person adds (or removes) a reaction; nothing is sent if that changes nothing."""
        guild = self._guild(guild_id)
        member = self._member(guild, user_id)
        channel = self._text_channel(guild, channel_id)
        message = self.store.messages.get(as_id(message_id, "message_id"))
        if message is None or message.channel_id != channel or message.deleted:
            raise ActionError(f"unknown message {message_id} in channel {channel_id}")
        key = emoji_key(emoji_name)
        if not key:
            raise ActionError("emoji must not be empty")
        users = message.reactions.setdefault(key, [])
        data: Json = {
            "user_id": str(member.user_id),
            "channel_id": str(channel),
            "message_id": str(message.id),
            "guild_id": str(guild.id),
            "emoji": emoji(key),
            "burst": False,
            "type": 0,
        }
        if as_bool(add, "add"):
            if member.user_id in users:
                return
            users.append(member.user_id)
            data |= {
                "member": self.payloads.member(guild, member),
                "message_author_id": str(message.author_id),
                "burst_colors": [],
            }
            await self.emit("MESSAGE_REACTION_ADD", data, guild_id=guild.id)
        else:
            if member.user_id not in users:
                return
            users.remove(member.user_id)
            if not users:
                del message.reactions[key]
            await self.emit("MESSAGE_REACTION_REMOVE", data, guild_id=guild.id)
        await self.settled()

    # -- members and guilds ---------------------------------------------------------------------

    async def member(
        self,
        guild_id: Any,
        user_id: Any,
        action: str = "update",
        *,
        name: str | None = None,
        roles: list[Any] | None = None,
        status: str | None = None,
        bot: bool = False,
        dm_open: bool = True,
    ) -> None:
        """``join`` (GUILD_MEMBER_ADD), ``leave`` (GUILD_MEMBER_REMOVE) or ``update`` (roles, name, presence)."""
        guild = self._guild(guild_id)
        uid = as_id(user_id, "user_id")
        if status is not None and status not in STATUSES:
            raise ActionError(f"status must be one of {', '.join(STATUSES)}")
        role_ids = self._roles(guild, roles) if roles is not None else None
        if action == "join":
            await self._join(guild, uid, name, role_ids, status, bot, dm_open)
        elif action == "leave":
            self._member(guild, uid)
            await self.remove_member(guild, uid)
        elif action == "update":
            member = self._member(guild, uid)
            if name is not None:
                self.store.users[uid].name = self._name(name)
            if role_ids is not None:
                member.roles = role_ids
            if name is not None or role_ids is not None:
                payload = {"guild_id": str(guild.id), **self.payloads.member(guild, member)}
                await self.emit("GUILD_MEMBER_UPDATE", payload, guild_id=guild.id)
            if status is not None and status != member.status:
                member.status = status
                await self.emit("PRESENCE_UPDATE", self.payloads.presence(guild, member), guild_id=guild.id)
        else:
            raise ActionError("action must be join, leave or update")
        await self.settled()

    def _roles(self, guild: Guild, roles: Any) -> list[int]:
        if not isinstance(roles, list):
            raise ActionError("roles must be a list of role ids")
        ids = [as_id(r, "roles") for r in roles]
        for role_id in ids:
            if role_id not in guild.roles or role_id == guild.id:
                raise ActionError(f"unknown role {role_id} in guild {guild.id}")
        return list(dict.fromkeys(ids))

    @staticmethod
    def _name(name: Any) -> str:
        if not isinstance(name, str) or not 2 <= len(name) <= 32:
            raise ActionError("name must be 2 to 32 characters")
        return name

    async def _join(
        self,
        guild: Guild,
        uid: int,
        name: str | None,
        roles: list[int] | None,
        status: str | None,
        bot: bool,
        dm_open: bool,
    ) -> None:
        if uid in guild.members:
            raise ActionError(f"user {uid} is already a member of guild {guild.id}")
        user = self.store.users.get(uid)
        if user is None:
            user = User(
                uid,
                self._name(name or f"user-{uid % 100000}"),
                bot=as_bool(bot, "bot"),
                dm_open=as_bool(dm_open, "dm_open"),
            )
            self.store.users[uid] = user
        elif name is not None:
            user.name = self._name(name)
        member = Member(uid, roles or [], joined_at=self.store.clock.time(), status=status or "online")
        guild.members[uid] = member
        await self.emit(
            "GUILD_MEMBER_ADD", {"guild_id": str(guild.id), **self.payloads.member(guild, member)}, guild_id=guild.id
        )
        if member.status != "offline":
            await self.emit("PRESENCE_UPDATE", self.payloads.presence(guild, member), guild_id=guild.id)

    async def remove_member(self, guild: Guild, user_id: int) -> None:
        """The member leaves (or was kicked): out of voice first, then GUILD_MEMBER_REMOVE."""
        state = guild.voice.pop(user_id, None)
        if state is not None:
            payload = self.payloads.voice_state(guild, state, event=True) | {"channel_id": None}
            await self.emit("VOICE_STATE_UPDATE", payload, guild_id=guild.id)
        del guild.members[user_id]
        user = self.payloads.user(self.store.users[user_id])
        await self.emit("GUILD_MEMBER_REMOVE", {"guild_id": str(guild.id), "user": user}, guild_id=guild.id)

    async def role(self, guild_id: Any, action: str = "create", *, role_id: Any = None, name: str | None = None) -> int:
        """A person creates (at the bottom), renames or deletes a role: GUILD_ROLE_CREATE/UPDATE/DELETE."""
        guild = self._guild(guild_id)
        if name is not None and (not isinstance(name, str) or not 1 <= len(name) <= 100):
            raise ActionError("name must be 1 to 100 characters")
        if action == "create":
            role = Role(self.store.snowflake(), name or "new role", position=1, permissions=0)
            guild.roles[role.id] = role
            payload = {"guild_id": str(guild.id), "role": self.payloads.role(role)}
            await self.emit("GUILD_ROLE_CREATE", payload, guild_id=guild.id)
        elif action in ("update", "delete"):
            rid = as_id(role_id, "role_id")
            role = guild.roles.get(rid)
            if role is None or rid == guild.id:
                raise ActionError(f"unknown role {role_id} in guild {guild.id}")
            if action == "update":
                role.name = name if name is not None else role.name
                payload = {"guild_id": str(guild.id), "role": self.payloads.role(role)}
                await self.emit("GUILD_ROLE_UPDATE", payload, guild_id=guild.id)
            else:
                del guild.roles[rid]
                for member in guild.members.values():
                    if rid in member.roles:
                        member.roles.remove(rid)
                payload = {"guild_id": str(guild.id), "role_id": str(rid)}
                await self.emit("GUILD_ROLE_DELETE", payload, guild_id=guild.id)
        else:
            raise ActionError("action must be create, update or delete")
        await self.settled()
        return role.id

    async def guild(
        self, guild_id: Any, *, name: str | None = None, premium_subscription_count: int | None = None
    ) -> None:
        """Someone edits the guild (name, boosts): GUILD_UPDATE."""
        guild = self._guild(guild_id)
        if name is not None:
            if not isinstance(name, str) or not 2 <= len(name) <= 100:
                raise ActionError("name must be 2 to 100 characters")
            guild.name = name
        if premium_subscription_count is not None:
            if (
                isinstance(premium_subscription_count, bool)
                or not isinstance(premium_subscription_count, int)
                or premium_subscription_count < 0
            ):
                raise ActionError("premium_subscription_count must be a non-negative integer")
            guild.premium_subscription_count = premium_subscription_count
        await self.emit("GUILD_UPDATE", self.payloads.guild(guild), guild_id=guild.id)
        await self.settled()

    async def delete_channel(self, guild_id: Any, channel_id: Any) -> None:
        """Someone deletes a channel of the guild by hand: CHANNEL_DELETE."""
        guild = self._guild(guild_id)
        channel = self.store.channels.get(as_id(channel_id, "channel_id"))
        if channel is None or channel.guild_id != guild.id:
            raise ActionError(f"unknown channel {channel_id} in guild {guild.id}")
        payload = self.payloads.channel(channel)
        guild.channel_ids.remove(channel.id)
        del self.store.channels[channel.id]
        for user_id in [u for u, v in guild.voice.items() if v.channel_id == channel.id]:
            del guild.voice[user_id]
        await self.emit("CHANNEL_DELETE", payload, guild_id=guild.id)
        await self.settled()

    async def bot_added(self, guild_id: Any, name: str = "New Guild") -> None:
        """Someone adds the bot to a new guild (an @everyone role, #general, its owner): GUILD_CREATE."""
        gid = as_id(guild_id, "guild_id")
        if gid in self.store.guilds:
            raise ActionError(f"the bot is already in guild {gid}")
        store = self.store
        owner = store.owner_id
        guild = Guild(gid, self._name(name), owner, None, 0, created=store.clock.time())
        guild.roles[gid] = Role(gid, "@everyone", 0, perm("view_channel") | perm("send_messages"))
        channel = Channel(id=store.snowflake(), name="general", type=0, position=0, guild_id=gid)
        store.channels[channel.id] = channel
        store.channel_messages[channel.id] = []
        guild.channel_ids.append(channel.id)
        for user_id in (owner, store.bot_id):
            guild.members[user_id] = Member(user_id, [], joined_at=store.clock.time())
        store.guilds[gid] = guild
        payload = self.payloads.guild_create(guild, member_limit=1000, large_threshold=50, presences=False)
        del payload["unavailable"]  # a join's GUILD_CREATE has none (discord.py tells joins apart by it)
        await self.emit("GUILD_CREATE", payload, guild_id=gid)
        await self.settled()

    async def bot_removed(self, guild_id: Any) -> None:
        """Someone removes the bot from a guild: GUILD_DELETE, and the guild is gone for the bot."""
        guild = self._guild(guild_id)
        await self.emit("GUILD_DELETE", {"id": str(guild.id)}, guild_id=guild.id)
        for channel_id in guild.channel_ids:
            self.store.channels.pop(channel_id, None)
            self.store.channel_messages.pop(channel_id, None)
        del self.store.guilds[guild.id]
        await self.settled()

    # -- interactions ---------------------------------------------------------------------------

    async def command(
        self,
        guild_id: Any,
        channel_id: Any,
        user_id: Any,
        name: str,
        options: dict[str, Any] | None = None,
        *,
        target_id: Any = None,
    ) -> Json:
        """Run a synced slash command (``name`` is its path, e.g. ``"item create"``) as a member.

        Returns ``{"interaction_id", "responses": [...]}`` once the bot has answered, in order:
        the callback (reply, defer, update, modal), followups and edits of the original.
        """
        guild = self._guild(guild_id)
        member = self._member(guild, user_id)
        channel = self._text_channel(guild, channel_id)
        if options is not None and not isinstance(options, dict):
            raise ActionError("options must map option names to values")
        builder = InteractionBuilder(self.store, self.payloads)
        target = as_id(target_id, "target_id") if target_id is not None else None
        data = builder.command_data(guild, str(name), options or {}, target)
        record = self.interactions.new_record(2, guild.id, channel, member.user_id, str(name))
        payload = builder.envelope(record, guild) | {"data": data}
        return await self._run_interaction(record, payload)

    async def component(
        self,
        guild_id: Any,
        channel_id: Any,
        user_id: Any,
        message_id: Any = None,
        custom_id: str = "",
        values: list[Any] | None = None,
        fields: dict[str, Any] | None = None,
    ) -> Json:
        """Click a button / pick in a select on a message, or (with ``fields``) submit a modal."""
        guild = self._guild(guild_id)
        member = self._member(guild, user_id)
        channel = self._text_channel(guild, channel_id)
        if not isinstance(custom_id, str) or not custom_id:
            raise ActionError("custom_id is required")
        builder = InteractionBuilder(self.store, self.payloads)
        message = None
        if message_id is not None:
            message = self.store.messages.get(as_id(message_id, "message_id"))
            if message is None or message.channel_id != channel or message.deleted:
                raise ActionError(f"unknown message {message_id} in channel {channel_id}")
        if fields is not None:
            if not isinstance(fields, dict):
                raise ActionError("fields must map input custom_ids to values")
            data = builder.modal_data(custom_id, fields, self.interactions.modals.get(custom_id))
            record = self.interactions.new_record(5, guild.id, channel, member.user_id, custom_id)
        else:
            if message is None:
                raise ActionError("message_id is required to click a component")
            data = builder.component_data(guild, message, custom_id, values)
            record = self.interactions.new_record(3, guild.id, channel, member.user_id, custom_id)
        payload = builder.envelope(record, guild) | {"data": data}
        if message is not None:
            record.message_id = message.id
            payload["message"] = self.payloads.message(message)
        return await self._run_interaction(record, payload)

    async def _run_interaction(self, record: InteractionRecord, payload: Json) -> Json:
        seq = await self.emit("INTERACTION_CREATE", payload, guild_id=record.guild_id)
        if seq is None:
            raise ActionError("no bot is connected to receive the interaction")
        if getattr(self, "settle", None) is not None:
            await self.settled()
        else:
            try:
                await asyncio.wait_for(record.answered.wait(), self.settle_timeout)
            except TimeoutError:
                log.warning("interaction %s (%s) got no response", record.id, record.name)
            await self.quiet()
        return record.result()

    # -- state and time -------------------------------------------------------------------------

    async def advance_clock(self, seconds: float) -> None:
        """Move the injected ManualClock (running every timer that comes due), then settle."""
        clock = self.store.clock
        if not isinstance(clock, ManualClock):
            raise ActionError("the clock is real time here; only a ManualClock can be advanced")
        if isinstance(seconds, bool) or not isinstance(seconds, int | float) or seconds < 0:
            raise ActionError("advance_seconds must be a non-negative number")
        await clock.advance(float(seconds))
        await self.settled()

    def state(self) -> Json:
        """The ``/_control/state`` document (DESIGN §7), ids as strings."""
        return snapshot(self.store)
