"""Rules for a guild's link to a NamelessMC website."""

from __future__ import annotations

from urllib.parse import urlsplit


class LinkError(ValueError):
    """The link cannot be stored as given."""


def normalise_website_url(url: str) -> str:
    """The website's API URL, checked (http or https, a host) and without a trailing slash."""
    url = url.strip()
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise LinkError(f"{url!r} is not an http(s) URL of the website's API")
    return url.rstrip("/")
