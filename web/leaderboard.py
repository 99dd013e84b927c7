"""The public leaderboard page ``/leaderboard/{guild_id}``: off unless the guild turns it on.

Sortable by points, levels, voice time and messages, and paged. Names come from the Discord side
when it knows the member; otherwise the row shows the user id.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import urlencode

from aiohttp import web

from core import economy
from web import keys
from web.api import ApiError, enum_param, int_param, snowflake
from web.families import ops

SORTS = {"points": "points", "levels": "levels", "time": "time", "messages": "text-message"}
SORT_LABELS = {"points": "Points", "levels": "Level", "time": "Voice time", "messages": "Messages"}
MAX_PAGE = 10_000


@dataclass(frozen=True, slots=True)
class Row:
    rank: int
    user_id: int
    name: str
    level: int
    points: int
    voice_seconds: int
    messages: int


def render_page(guild_id: int, rows: Sequence[Row], *, by: str, page: int, has_next: bool) -> str:
    """The page as HTML; every value that came from outside is escaped."""

    def link(sort: str, to_page: int) -> str:
        return "?" + urlencode({"by": sort, "page": to_page})

    head = "".join(
        f'<th><a href="{link(sort, 0)}"{" aria-sort=descending" if sort == by else ""}>{label}</a></th>'
        for sort, label in SORT_LABELS.items()
    )
    body = "".join(
        f'<tr data-user-id="{row.user_id}"><td class=rank>{row.rank}</td><td class=name>{html.escape(row.name)}</td>'
        f"<td class=points>{row.points}</td><td class=level>{row.level}</td>"
        f"<td class=time>{row.voice_seconds / 3600:.1f} h</td><td class=messages>{row.messages}</td></tr>"
        for row in rows
    )
    nav = []
    if page > 0:
        nav.append(f'<a rel=prev href="{link(by, page - 1)}">Previous</a>')
    if has_next:
        nav.append(f'<a rel=next href="{link(by, page + 1)}">Next</a>')
    return (
        "<!doctype html><html lang=en><meta charset=utf-8>"
        f"<title>Leaderboard of server {guild_id}</title>"
        "<style>body{font:16px/1.5 system-ui,sans-serif;max-width:56rem;margin:2rem auto;padding:0 1rem}"
        "table{border-collapse:collapse;width:100%}td,th{padding:.3em .6em;border-bottom:1px solid #ddd;"
        "text-align:right}td.name,th:nth-child(2){text-align:left}</style>"
        f"<h1>Leaderboard</h1><p>Sorted by {html.escape(SORT_LABELS[by].lower())}, page {page + 1}.</p>"
        f"<table><thead><tr><th>#</th><th>Member</th>{head}</tr></thead><tbody>{body}</tbody></table>"
        f"<nav>{' '.join(nav)}</nav></html>"
    )


@ops.route(
    "GET",
    r"/leaderboard/{guild_id:\d+}",
    summary="A guild's public leaderboard page (HTML)",
    access="public",
    content_type="text/html",
    query=(enum_param("by", tuple(SORTS)), int_param("page", f"0 to {MAX_PAGE}")),
)
async def leaderboard(request: web.Request) -> web.Response:
    app = request.app
    repos = app[keys.REPOS]
    guild_id = snowflake(request.match_info["guild_id"], "guild_id")
    by = request.query.get("by", "points")
    if by not in SORTS:
        raise ApiError(400, f"by must be one of {', '.join(SORTS)}")
    raw_page = request.query.get("page", "0")
    if not raw_page.isdigit() or int(raw_page) > MAX_PAGE:
        raise ApiError(400, f"page must be a whole number from 0 to {MAX_PAGE}")
    page = int(raw_page)
    settings = app[keys.SETTINGS].economy
    guild = await economy.guild_economy(repos, settings, guild_id)
    if not guild.leaderboard_public:
        raise ApiError(404, "this server's leaderboard is not public")
    size = settings.leaderboard_page_size
    members = await repos.members.top(
        guild_id,
        SORTS[by],  # type: ignore[arg-type]
        amount=size + 1,
        offset=page * size,
        members_only=True,
    )
    bot = app[keys.BOT]
    rows = [
        Row(
            rank=page * size + index + 1,
            user_id=member.user_id,
            name=bot.member_name(guild_id, member.user_id) or str(member.user_id),
            level=member.level,
            points=member.voicepoints,
            voice_seconds=member.voice_seconds,
            messages=member.message_count,
        )
        for index, member in enumerate(members[:size])
    ]
    page_html = render_page(guild_id, rows, by=by, page=page, has_next=len(members) > size)
    return web.Response(text=page_html, content_type="text/html", charset="utf-8")
