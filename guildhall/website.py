"""A small client for a NamelessMC website's API (v2), as Nameless-Link calls it.

Calls to loopback, private, link-local and other non-global addresses are refused unless
``[link] allow_private_targets`` is set, both for IP literals and for names that resolve there
(checked again at connect time, so a name cannot be re-pointed between check and call).
"""

from __future__ import annotations

import ipaddress
import json
import logging
import socket
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlsplit

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult

from core import __version__

log = logging.getLogger(__name__)

SUPPORTED_PREFIXES = ("2.0.", "2.1.", "2.2.", "2.0.0-pr13")


class WebsiteError(Exception):
    """The website could not be reached or answered an error; ``code`` is its error code or ours."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def is_private_address(host: str) -> bool:
    try:
        address = ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return not address.is_global or address.is_multicast


class _GlobalOnlyResolver(AbstractResolver):
    """Resolves like the default resolver, then refuses names that point at non-global addresses."""

    def __init__(self) -> None:
        self._inner = aiohttp.ThreadedResolver()

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        results = await self._inner.resolve(host, port, family)
        if any(is_private_address(result["host"]) for result in results):
            raise OSError(f"{host} resolves to a private address")
        return results

    async def close(self) -> None:
        await self._inner.close()


@dataclass(frozen=True, slots=True)
class Website:
    api_url: str
    api_key: str


class WebsiteClient:
    def __init__(self, *, allow_private: bool, timeout: float) -> None:
        self._allow_private = allow_private
        self._timeout = aiohttp.ClientTimeout(total=timeout)

    def _session(self) -> aiohttp.ClientSession:
        """A session per exchange: website calls are rare, and nothing is left open at shutdown."""
        resolver = None if self._allow_private else _GlobalOnlyResolver()
        return aiohttp.ClientSession(connector=aiohttp.TCPConnector(resolver=resolver), timeout=self._timeout)

    def check_target(self, api_url: str) -> None:
        """Refuse a URL aimed at this host's own network (raises :class:`WebsiteError` ``refused``)."""
        host = (urlsplit(api_url).hostname or "").rstrip(".").lower()
        if self._allow_private:
            return
        if host == "localhost" or host.endswith(".localhost") or is_private_address(host):
            raise WebsiteError("refused", f"{host} is a loopback, private or link-local address")

    async def call(self, site: Website, route: str, body: Any = None) -> Any:
        """GET (no body) or POST ``route`` on the website; its JSON answer, or :class:`WebsiteError`."""
        self.check_target(site.api_url)
        url = site.api_url.rstrip("/") + "/" + route
        headers = {
            "Authorization": f"Bearer {site.api_key}",
            "X-API-Key": site.api_key,
            "Accept": "application/json",
            "User-Agent": f"Guildhall/{__version__} (Nameless-Link compatible)",
        }
        data = None
        if body is not None:
            headers["Content-Type"] = "application/json"
            data = json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()
        method = "GET" if body is None else "POST"
        try:
            async with (
                self._session() as session,
                session.request(method, url, data=data, headers=headers, allow_redirects=False) as answer,
            ):
                raw = await answer.read()
                status = answer.status
        except (TimeoutError, aiohttp.ClientError, OSError) as error:
            if "private address" in str(error):
                raise WebsiteError("refused", "the website's address is a private address") from None
            raise WebsiteError("unreachable", f"the website cannot be reached ({type(error).__name__})") from None
        try:
            payload = json.loads(raw.decode("utf-8")) if raw else None
        except (UnicodeDecodeError, ValueError):
            payload = None
        if isinstance(payload, dict) and payload.get("error"):
            raise WebsiteError(str(payload["error"]), str(payload.get("message") or payload["error"]))
        if status >= 300:
            raise WebsiteError(f"http_{status}", f"the website answered HTTP {status}")
        if payload is None:
            raise WebsiteError("not_json", "the website's answer is not JSON: is the URL its API URL?")
        return payload

    # --- the calls Nameless-Link makes (reference §3.2) --------------------------------------

    async def info(self, site: Website) -> dict[str, Any]:
        """``GET info``, checked: a supported NamelessMC with the Discord Integration module."""
        info = await self.call(site, "info")
        version = str(info.get("nameless_version", "")) if isinstance(info, dict) else ""
        if not version:
            raise WebsiteError("not_nameless", "the website did not say which NamelessMC version it runs")
        if not version.startswith(SUPPORTED_PREFIXES):
            raise WebsiteError("unsupported", f"NamelessMC {version} is not supported (2.0 to 2.2 are)")
        modules = info.get("modules") or []
        if "Discord Integration" not in modules:
            raise WebsiteError("module_missing", "the website's Discord Integration module is not enabled")
        return info

    async def update_bot_settings(self, site: Website, *, bot_url: str, guild_id: int, name: str, user_id: int) -> None:
        body = {"url": bot_url, "guild_id": str(guild_id), "bot_username": name, "bot_user_id": str(user_id)}
        await self.call(site, "discord/update-bot-settings", body)

    async def submit_role_list(self, site: Website, roles: list[tuple[int, str]]) -> None:
        await self.call(site, "discord/submit-role-list", {"roles": [{"id": r, "name": n} for r, n in roles]})

    async def website_user(self, site: Website, discord_id: int) -> int | None:
        """The website's user id for a Discord member, or None when no account is linked."""
        try:
            user = await self.call(site, "users/" + quote(f"integration_id:Discord:{discord_id}", safe=""))
        except WebsiteError as error:
            if error.code == "nameless:cannot_find_user":
                return None
            raise
        if not isinstance(user, dict) or not user.get("exists", True) or user.get("id") is None:
            return None
        return int(user["id"])

    async def sync_roles(
        self, site: Website, website_user: int, *, add: list[int], remove: list[int], current: list[int]
    ) -> None:
        """Report a member's role change: the delta, or the full list to sites older than 2.2."""
        try:
            await self.call(site, f"discord/id:{website_user}/sync-roles", {"add": add, "remove": remove})
        except WebsiteError as error:
            if error.code != "nameless:invalid_api_method":
                raise
            await self.call(site, "discord/set-roles", {"user": website_user, "roles": current})

    async def verify(self, site: Website, *, discord_id: int, username: str, code: str) -> None:
        body = {"integration": "Discord", "identifier": str(discord_id), "username": username, "code": code}
        try:
            await self.call(site, "integration/verify", body)
        except WebsiteError as error:
            if error.code != "core:integration_username_errors":
                raise
            await self.call(site, "integration/verify", body | {"username": f"{username}#0000"})
