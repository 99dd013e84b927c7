import pytest

from storage import Repositories
from storage.repositories import DuplicateName, hash_key


async def test_api_key_is_stored_hashed_and_authenticates(repos: Repositories):
    key, secret = await repos.api_keys.create("site", now=100, guild_ids=frozenset({5, 6}), read_only=True)
    assert secret.startswith("gh_") and len(secret) > 40
    stored = await repos.storage.read(lambda conn: conn.execute("SELECT key_hash FROM api_keys").fetchone()[0])
    assert stored == hash_key(secret) and secret not in stored
    found = await repos.api_keys.authenticate(secret)
    assert found == key
    assert found.guild_ids == {5, 6} and found.read_only and found.allows_guild(5) and not found.allows_guild(7)
    assert await repos.api_keys.authenticate(secret + "x") is None


async def test_revoked_key_stops_working(repos: Repositories):
    _, secret = await repos.api_keys.create("site", now=1)
    assert await repos.api_keys.revoke("site", now=2)
    assert await repos.api_keys.authenticate(secret) is None
    assert not await repos.api_keys.revoke("site", now=3)
    [listed] = await repos.api_keys.list()
    assert listed.revoked_at == 2


async def test_duplicate_key_name_is_refused(repos: Repositories):
    await repos.api_keys.create("site", now=1)
    with pytest.raises(DuplicateName):
        await repos.api_keys.create("site", now=2)
    assert len(await repos.api_keys.list()) == 1


async def test_guild_settings_roundtrip(repos: Repositories):
    assert await repos.guild_settings.get(1, "starboard") is None
    await repos.guild_settings.put(1, "starboard", {"count": 3}, now=10)
    await repos.guild_settings.put(1, "starboard", {"count": 5}, now=11)
    assert await repos.guild_settings.get(1, "starboard") == {"count": 5}
    assert await repos.guild_settings.delete(1, "starboard")
    assert await repos.guild_settings.get(1, "starboard") is None


async def test_guild_link_roundtrip(repos: Repositories):
    await repos.guild_links.put(7, "https://example.org/api/v2", "secret", now=5)
    link = await repos.guild_links.get(7)
    assert (link.api_url, link.api_key, link.linked_at) == ("https://example.org/api/v2", "secret", 5)
    assert await repos.guild_links.delete(7)
    assert await repos.guild_links.get(7) is None
