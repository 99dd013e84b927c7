"""CDN paths discord.py reads assets from (``Asset.BASE`` points here): avatars, icons, attachments."""

from __future__ import annotations

import hashlib
import logging
import struct
import zlib
from functools import lru_cache
from typing import TYPE_CHECKING

from aiohttp import web

if TYPE_CHECKING:
    from .server import FakeDiscord

log = logging.getLogger(__name__)

SIZE = 64


@lru_cache(maxsize=256)
def solid_png(seed: str, size: int = SIZE) -> bytes:
    """A small opaque PNG in a colour derived from ``seed`` (so each avatar looks different)."""
    red, green, blue = hashlib.sha256(seed.encode()).digest()[:3]
    row = b"\x00" + bytes((red, green, blue)) * size
    raw = row * size

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")


def register(app: web.Application, fake: FakeDiscord) -> None:
    async def image(request: web.Request) -> web.Response:
        return web.Response(body=solid_png(request.path.rsplit(".", 1)[0]), content_type="image/png")

    async def attachment(request: web.Request) -> web.Response:
        found = fake.store.attachments.get(int(request.match_info["attachment_id"]))
        if found is None:
            raise web.HTTPNotFound()
        return web.Response(body=found.data, content_type=found.content_type)

    for prefix in ("avatars", "icons", "banners", "splashes", "role-icons"):
        app.router.add_get(f"/{prefix}/{{owner_id}}/{{asset_hash}}", image)
    app.router.add_get("/guilds/{guild_id}/users/{user_id}/avatars/{asset_hash}", image)
    app.router.add_get("/embed/avatars/{index}", image)
    app.router.add_get("/attachments/{channel_id}/{attachment_id:\\d+}/{filename}", attachment)
