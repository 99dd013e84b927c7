"""Request bodies with files, and building or editing a message from one (channel and webhook routes)."""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from .payloads import Json, guess_content_type, mentions, normalise_embeds, number_components
from .state import Attachment, Message, State, StateError, form_error

log = logging.getLogger(__name__)

MAX_CONTENT = 2000
MAX_EMBEDS = 10
FILE_FIELD = re.compile(r"^files\[(\d+)\]$")


@dataclass
class UploadedFile:
    index: int
    filename: str
    content_type: str
    data: bytes


BODY_KEY = web.RequestKey("fakediscord_body", object)
FILES_KEY = web.RequestKey("fakediscord_files", list)


def request_body(request: web.Request) -> Any:
    """The parsed JSON body the REST middleware read (``payload_json`` for multipart)."""
    return request.get(BODY_KEY)


def request_files(request: web.Request) -> list[UploadedFile]:
    return request.get(FILES_KEY) or []


async def read_body(request: web.Request) -> tuple[Any, list[UploadedFile]]:
    """The JSON body (also ``payload_json`` of a multipart body) and any uploaded files."""
    if request.content_type.startswith("multipart/"):
        payload: Any = None
        files: list[UploadedFile] = []
        reader = await request.multipart()
        while True:
            part = await reader.next()
            if part is None:
                break
            name = part.name or ""
            data = await part.read(decode=False)  # type: ignore[union-attr]
            if name == "payload_json":
                payload = _parse_json(bytes(data))
                continue
            match = FILE_FIELD.match(name)
            if match or part.filename:  # type: ignore[union-attr]
                index = int(match.group(1)) if match else len(files)
                filename = part.filename or f"file{index}"  # type: ignore[union-attr]
                files.append(UploadedFile(index, filename, guess_content_type(filename), bytes(data)))
        return payload, files
    raw = await request.read()
    if not raw:
        return None, []
    return _parse_json(raw), []


def _parse_json(raw: bytes) -> Any:
    try:
        return json.loads(raw)
    except ValueError:
        raise StateError(400, 50109, "The request body contains invalid JSON.") from None


def _attachments(
    state: State, channel_id: int, body: Json, files: list[UploadedFile], keep: list[Attachment]
) -> list[Attachment]:
    by_index = {f.index: f for f in files}
    declared = body.get("attachments")
    result: list[Attachment] = []
    used: set[int] = set()
    if isinstance(declared, list):
        kept = {a.id: a for a in keep}
        for entry in declared:
            if not isinstance(entry, dict):
                raise form_error("attachments", "Must be a list of attachment objects.")
            raw_id = entry.get("id")
            upload = None
            try:
                number = int(raw_id)  # type: ignore[arg-type]
            except (TypeError, ValueError):
                number = -1
            if number in by_index and number not in kept:
                upload = by_index[number]
                used.add(number)
            elif number in kept:
                result.append(kept[number])
                continue
            if upload is None:
                continue
            result.append(_stored(state, channel_id, upload, entry.get("filename"), entry.get("description")))
    for upload in files:
        if upload.index not in used:
            result.append(_stored(state, channel_id, upload, None, None))
    return result


def _stored(
    state: State, channel_id: int, upload: UploadedFile, filename: str | None, description: str | None
) -> Attachment:
    name = filename or upload.filename
    return Attachment(state.snowflake(), channel_id, name, guess_content_type(name), upload.data, description)


def _content(body: Json) -> str:
    content = body.get("content")
    if content is None:
        return ""
    if not isinstance(content, str):
        content = str(content)
    if len(content) > MAX_CONTENT:
        raise form_error("content", f"Must be {MAX_CONTENT} or fewer in length.", "BASE_TYPE_MAX_LENGTH")
    return content


def _embeds(body: Json) -> list[Json]:
    embeds = body.get("embeds")
    if embeds is None and isinstance(body.get("embed"), dict):
        embeds = [body["embed"]]
    if embeds is None:
        return []
    if not isinstance(embeds, list) or len(embeds) > MAX_EMBEDS:
        raise form_error("embeds", f"Must be {MAX_EMBEDS} or fewer in length.", "BASE_TYPE_MAX_LENGTH")
    return normalise_embeds(embeds)


def build_message(
    state: State,
    *,
    channel_id: int,
    guild_id: int | None,
    author_id: int,
    body: Json | None,
    files: list[UploadedFile],
    message_type: int = 0,
    webhook_id: int | None = None,
    interaction_id: int | None = None,
    extra_flags: int = 0,
) -> Message:
    """A new message from a create-message body; 400/50006 if it would be empty."""
    body = body or {}
    if not isinstance(body, dict):
        raise form_error("_root", "Expected an object.")
    content = _content(body)
    embeds = _embeds(body)
    components = number_components(body.get("components") or [])
    attachments = _attachments(state, channel_id, body, files, [])
    if not (content or embeds or attachments or components or body.get("sticker_ids") or body.get("poll")):
        raise StateError(400, 50006, "Cannot send an empty message")
    user_ids, role_ids = mentions(content)
    flags = (int(body.get("flags") or 0) & (4 | 64 | 4096 | 32768)) | extra_flags
    return Message(
        id=state.snowflake(),
        channel_id=channel_id,
        guild_id=guild_id,
        author_id=author_id,
        content=content,
        timestamp=state.clock.time(),
        type=message_type,
        embeds=embeds,
        attachments=attachments,
        components=components,
        flags=flags,
        tts=bool(body.get("tts")),
        webhook_id=webhook_id,
        interaction_id=interaction_id,
        mention_ids=user_ids,
        mention_role_ids=role_ids,
    )


def edit_message(state: State, message: Message, body: Json | None, files: list[UploadedFile]) -> Message:
    """Apply an edit body (content, embeds, components, attachments, flags) in place."""
    body = body or {}
    if not isinstance(body, dict):
        raise form_error("_root", "Expected an object.")
    if "content" in body:
        message.content = _content(body)
        message.mention_ids, message.mention_role_ids = mentions(message.content)
    if "embeds" in body or "embed" in body:
        message.embeds = _embeds(body)
    if "components" in body:
        message.components = number_components(body.get("components") or [])
    if "attachments" in body or files:
        message.attachments = _attachments(state, message.channel_id, body, files, message.attachments)
        for attachment in message.attachments:
            state.attachments[attachment.id] = attachment
    if "flags" in body and body["flags"] is not None:
        message.flags = (message.flags & ~4) | (int(body["flags"]) & 4)
    message.flags &= ~128
    message.edited_timestamp = state.clock.time()
    return message
