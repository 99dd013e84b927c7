"""Interactions: what the bot answers to them (callback, followups, ``@original``) and their records.

Discord's rules the bot relies on: the first reply must come within 3 s of clock time (else 404/10062
Unknown interaction), an interaction is acknowledged once (400/40060), followups need an
acknowledgement first and expire after 15 minutes, and the first followup after a thinking defer
replaces the loading message.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from aiohttp import web

from .messages import build_message, edit_message, request_files
from .payloads import Json, number_components
from .rest import body_dict, no_content, ok
from .state import Message, StateError, form_error, unknown

if TYPE_CHECKING:
    from .server import FakeDiscord

log = logging.getLogger(__name__)

P = "/api/v10"
REPLY_WINDOW = 3.0
TOKEN_LIFETIME = 900.0
RECORD_LIMIT = 10_000  # the newest interactions kept (a token outlives 900 s on Discord only)
EPHEMERAL = 64
LOADING = 128
KINDS = {4: "reply", 5: "defer", 6: "defer_update", 7: "update", 8: "autocomplete", 9: "modal"}


@dataclass
class InteractionRecord:
    id: int
    token: str
    type: int
    guild_id: int
    channel_id: int
    user_id: int
    created: float
    name: str = ""
    message_id: int | None = None
    acknowledged: bool = False
    callback_type: int | None = None
    original_id: int | None = None
    loading: bool = False
    responses: list[Json] = field(default_factory=list)
    answered: asyncio.Event = field(default_factory=asyncio.Event)

    def result(self) -> Json:
        return {"interaction_id": str(self.id), "responses": list(self.responses)}


class Interactions:
    def __init__(self, fake: FakeDiscord) -> None:
        self.fake = fake
        self.state = fake.store
        self.payloads = fake.payloads
        self.records: dict[int, InteractionRecord] = {}
        self.by_token: dict[str, InteractionRecord] = {}
        self.modals: dict[str, Json] = {}
        self.payloads.interaction_metadata = self.metadata

    def register(self, app: web.Application) -> None:
        r = app.router
        r.add_post(f"{P}/interactions/{{interaction_id:\\d+}}/{{token}}/callback", self.callback)
        w = f"{P}/webhooks/{{app_id:\\d+}}/{{token}}"
        r.add_post(w, self.followup)
        for message in ("@original", "{message_id:\\d+}"):
            r.add_get(f"{w}/messages/{message}", self.get_message)
            r.add_patch(f"{w}/messages/{message}", self.edit_message)
            r.add_delete(f"{w}/messages/{message}", self.delete_message)

    # -- records --------------------------------------------------------------------------------

    def new_record(self, kind: int, guild_id: int, channel_id: int, user_id: int, name: str = "") -> InteractionRecord:
        record = InteractionRecord(
            id=self.state.snowflake(),
            token="aW50ZXJhY3Rpb24" + secrets.token_urlsafe(48),
            type=kind,
            guild_id=guild_id,
            channel_id=channel_id,
            user_id=user_id,
            created=self.fake.clock.time(),
            name=name,
        )
        self.records[record.id] = record
        self.by_token[record.token] = record
        if len(self.records) > RECORD_LIMIT:
            oldest = self.records.pop(next(iter(self.records)))
            self.by_token.pop(oldest.token, None)
        return record

    def metadata(self, message: Message) -> Json | None:
        record = self.records.get(message.interaction_id or 0)
        if record is None or record.type != 2:
            return None
        data: Json = {
            "id": str(record.id),
            "type": record.type,
            "user": self.payloads.user(self.state.users[record.user_id]),
            "authorizing_integration_owners": {"0": str(record.guild_id)},
        }
        if record.original_id is not None and record.original_id != message.id:
            data["original_response_message_id"] = str(record.original_id)
        return data

    def _entry(self, kind: str, callback_type: int | None, message: Message | None, **extra: Any) -> Json:
        entry: Json = {
            "kind": kind,
            "type": callback_type,
            "content": message.content if message else None,
            "embeds": message.embeds if message else [],
            "attachments": [
                {"id": str(a.id), "filename": a.filename, "content_type": a.content_type, "size": a.size}
                for a in (message.attachments if message else [])
            ],
            "components": message.components if message else [],
            "ephemeral": bool(message.flags & EPHEMERAL) if message else bool(extra.pop("ephemeral", False)),
            "message_id": str(message.id) if message else None,
        }
        return entry | extra

    def _record(self, record: InteractionRecord, entry: Json) -> None:
        record.responses.append(entry)
        record.answered.set()

    def _by_token(self, request: web.Request) -> InteractionRecord:
        record = self.by_token.get(request.match_info["token"])
        if record is None or int(request.match_info["app_id"]) != self.state.application_id:
            raise unknown("webhook")
        if self.fake.clock.time() - record.created > TOKEN_LIFETIME:
            raise StateError(401, 50027, "Invalid Webhook Token")
        return record

    async def _emit_message(self, event: str, message: Message) -> None:
        if not message.ephemeral:
            await self.fake.emit(event, self.payloads.message_event(message), guild_id=message.guild_id)

    def _new_message(
        self, record: InteractionRecord, body: Json | None, files: list[Any], *, extra_flags: int = 0
    ) -> Message:
        message = build_message(
            self.state,
            channel_id=record.channel_id,
            guild_id=record.guild_id,
            author_id=self.state.bot_id,
            body=body,
            files=files,
            message_type=20 if record.type == 2 else 0,
            webhook_id=self.state.application_id,
            interaction_id=record.id,
            extra_flags=extra_flags,
        )
        self.state.add_message(message, listed=not message.ephemeral)
        return message

    # -- the callback ---------------------------------------------------------------------------

    async def callback(self, request: web.Request) -> web.Response:
        record = self.records.get(int(request.match_info["interaction_id"]))
        if record is None or record.token != request.match_info["token"]:
            raise unknown("interaction")
        if record.acknowledged:
            raise StateError(400, 40060, "Interaction has already been acknowledged.")
        if self.fake.clock.time() - record.created > REPLY_WINDOW:
            log.info("interaction %s answered %.1fs late", record.id, self.fake.clock.time() - record.created)
            raise unknown("interaction")
        body = body_dict(request)
        kind = body.get("type")
        data = body.get("data") or {}
        files = request_files(request)
        if kind not in KINDS or (kind in (6, 7) and record.message_id is None) or (kind == 8 and record.type != 4):
            raise form_error("type", f"Value must be one of {sorted(KINDS)}.", "BASE_TYPE_CHOICES")
        message: Message | None = None
        if kind == 4:
            message = self._new_message(record, data, files)
            record.original_id = message.id
            await self._emit_message("MESSAGE_CREATE", message)
            self._record(record, self._entry("reply", 4, message))
        elif kind == 5:
            flags = LOADING | (int(data.get("flags") or 0) & EPHEMERAL)
            message = Message(
                id=self.state.snowflake(),
                channel_id=record.channel_id,
                guild_id=record.guild_id,
                author_id=self.state.bot_id,
                content="",
                timestamp=self.fake.clock.time(),
                type=20 if record.type == 2 else 0,
                flags=flags,
                webhook_id=self.state.application_id,
                interaction_id=record.id,
            )
            self.state.add_message(message, listed=not message.ephemeral)
            record.original_id, record.loading = message.id, True
            await self._emit_message("MESSAGE_CREATE", message)
            self._record(record, self._entry("defer", 5, None, ephemeral=bool(flags & EPHEMERAL)))
        elif kind == 6:
            self._record(record, self._entry("defer_update", 6, None))
        elif kind == 7:
            message = self.state.messages[record.message_id or 0]
            edit_message(self.state, message, data, files)
            record.original_id = message.id
            await self._emit_message("MESSAGE_UPDATE", message)
            self._record(record, self._entry("update", 7, message))
        elif kind == 8:
            self._record(record, self._entry("autocomplete", 8, None, choices=data.get("choices", [])))
        else:
            modal = {
                "custom_id": data.get("custom_id"),
                "title": data.get("title"),
                "components": number_components(data.get("components") or []),
            }
            self.modals[str(modal["custom_id"])] = modal
            self._record(record, self._entry("modal", 9, None, modal=modal))
        record.acknowledged, record.callback_type = True, kind
        if request.query.get("with_response", "").lower() not in ("1", "true"):
            return no_content()
        return ok(self._callback_answer(record, kind, message))

    def _callback_answer(self, record: InteractionRecord, kind: int, message: Message | None) -> Json:
        interaction: Json = {
            "id": str(record.id),
            "type": record.type,
            "response_message_loading": kind == 5,
            "channel_id": str(record.channel_id),
            "guild_id": str(record.guild_id),
        }
        if record.original_id is not None and kind in (4, 5, 7):
            original = self.state.messages[record.original_id]
            interaction["response_message_id"] = str(original.id)
            interaction["response_message_ephemeral"] = original.ephemeral
        answer: Json = {"interaction": interaction}
        if message is not None and kind in (4, 7):
            answer["resource"] = {"type": kind, "message": self.payloads.message(message)}
        return answer

    # -- followups and the original response ----------------------------------------------------

    async def followup(self, request: web.Request) -> web.Response:
        record = self._by_token(request)
        if not record.acknowledged:
            raise unknown("webhook")
        body = body_dict(request)
        files = request_files(request)
        if record.loading and record.original_id is not None:
            message = self.state.messages[record.original_id]
            edit_message(self.state, message, body, files)
            record.loading = False
            await self._emit_message("MESSAGE_UPDATE", message)
        else:
            message = self._new_message(record, body, files)
            await self._emit_message("MESSAGE_CREATE", message)
        self._record(record, self._entry("followup", None, message))
        if request.query.get("wait", "").lower() not in ("1", "true"):
            return no_content()
        return ok(self.payloads.message(message))

    def _target(self, request: web.Request, record: InteractionRecord) -> Message:
        raw = request.match_info.get("message_id")
        message_id = record.original_id if raw is None else int(raw)
        message = self.state.messages.get(message_id or 0)
        if (
            message is None
            or message.deleted
            or (message.interaction_id != record.id and message.id != record.original_id)
        ):
            raise unknown("message")
        return message

    async def get_message(self, request: web.Request) -> web.Response:
        record = self._by_token(request)
        return ok(self.payloads.message(self._target(request, record)))

    async def edit_message(self, request: web.Request) -> web.Response:
        record = self._by_token(request)
        message = self._target(request, record)
        edit_message(self.state, message, body_dict(request), request_files(request))
        if message.id == record.original_id:
            record.loading = False
        await self._emit_message("MESSAGE_UPDATE", message)
        self._record(record, self._entry("edit", None, message))
        return ok(self.payloads.message(message))

    async def delete_message(self, request: web.Request) -> web.Response:
        record = self._by_token(request)
        message = self._target(request, record)
        self.state.delete_message(message)
        if not message.ephemeral:
            payload = {"id": str(message.id), "channel_id": str(message.channel_id), "guild_id": str(record.guild_id)}
            await self.fake.emit("MESSAGE_DELETE", payload, guild_id=record.guild_id)
        self._record(record, self._entry("delete", None, None, message_id=str(message.id)))
        return no_content()
