"""The outgoing website client: private targets refused unless allowed, errors read, fallbacks."""

from __future__ import annotations

import pytest

from guildhall.website import Website, WebsiteClient, WebsiteError, is_private_address
from tests.e2e.nameless_site import NamelessSite


@pytest.mark.parametrize(
    ("host", "private"),
    [
        ("127.0.0.1", True),
        ("10.1.2.3", True),
        ("192.168.0.5", True),
        ("172.16.0.1", True),
        ("169.254.169.254", True),
        ("::1", True),
        ("fe80::1", True),
        ("::ffff:127.0.0.1", True),
        ("0.0.0.0", True),
        ("100.64.0.1", True),
        ("93.184.216.34", False),
        ("2606:4700::1111", False),
        ("example.com", False),
    ],
)
def test_private_addresses(host, private):
    assert is_private_address(host) is private


@pytest.mark.parametrize(
    "url",
    [
        "http://localhost/index.php?route=/api/v2",
        "http://127.0.0.1:8080/index.php",
        "http://[::1]/index.php",
        "http://169.254.169.254/latest",
        "http://10.0.0.8/index.php",
    ],
)
async def test_private_targets_are_refused_before_any_call(url):
    client = WebsiteClient(allow_private=False, timeout=2)
    with pytest.raises(WebsiteError) as error:
        await client.info(Website(url, "k"))
    assert error.value.code == "refused"


async def test_a_name_resolving_to_loopback_is_refused_at_connect():
    client = WebsiteClient(allow_private=False, timeout=2)
    with pytest.raises(WebsiteError) as error:
        await client.call(Website("http://localtest.me.invalid.localhost/index.php", "k"), "info")
    assert error.value.code == "refused"


async def test_calls_against_a_website():
    site = NamelessSite(users={5: 50})
    await site.start()
    try:
        client = WebsiteClient(allow_private=True, timeout=5)
        info = await client.info(Website(site.api_url, site.api_key))
        assert info["nameless_version"] == "2.1.2"
        assert await client.website_user(Website(site.api_url, site.api_key), 5) == 50
        assert await client.website_user(Website(site.api_url, site.api_key), 6) is None
        with pytest.raises(WebsiteError) as error:
            await client.info(Website(site.api_url, "bad"))
        assert error.value.code == "nameless:invalid_api_key"
        site.version = "1.9.0"
        with pytest.raises(WebsiteError, match="not supported"):
            await client.info(Website(site.api_url, site.api_key))
        [first, *_] = site.calls
        assert first.headers["Authorization"] == f"Bearer {site.api_key}"
        assert first.headers["X-API-Key"] == site.api_key
    finally:
        await site.stop()


async def test_an_unreachable_website():
    client = WebsiteClient(allow_private=True, timeout=2)
    with pytest.raises(WebsiteError) as error:
        await client.info(Website("http://127.0.0.1:9/index.php?route=/api/v2", "k"))
    assert error.value.code == "unreachable"
