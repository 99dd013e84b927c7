"""The shared HTTP machinery, through the real app: keys, scope, limits, bodies, envelopes, paths."""

from aiohttp import web
from yarl import URL

from core.config import RateLimit
from storage import Repositories
from tests.conftest import make_settings
from web.api import Family, add_routes, json_response, read_json
from web.families import economy, serverstats
from web.ratelimit import SWEEP_EVERY, RateLimiter


def empty_family(name: str, **limits: RateLimit) -> Family:
    """An empty family of test routes under ``/name``, with an envelope of its own."""
    return Family(
        name=name,
        title=name.title(),
        base=f"/{name}",
        description="test routes",
        envelope=lambda status, message, code: {"problem": message, "status": status},
        error_schema={"type": "object"},
        default_limits=dict(limits),
    )


def probe_family() -> Family:
    """A family with one route per access level, the way a feature declares its routes."""
    family = empty_family("probe", limited=RateLimit(limit=2, per=60))

    @family.route("GET", r"/probe/{guild_id:\d+}/read", summary="read")
    async def read(request: web.Request) -> web.Response:
        return json_response({"guild": request.match_info["guild_id"]})

    @family.route("POST", r"/probe/{guild_id:\d+}/write", summary="write", access="write")
    async def write(request: web.Request) -> web.Response:
        return json_response({"echo": await read_json(request)})

    @family.route("GET", "/probe/limited", summary="limited", limit="limited")
    async def limited(request: web.Request) -> web.Response:
        return json_response({"ok": True})

    @family.route("GET", "/probe/boom", summary="fails", access="public")
    async def boom(request: web.Request) -> web.Response:
        raise RuntimeError("secret internals")

    return family


async def probe_client(client_for, **kwargs):
    family = probe_family()
    return await client_for(prepare=lambda app: add_routes(app, [family]), **kwargs)


async def test_missing_and_wrong_keys_are_401_in_the_family_envelope(client_for, api_key):
    client = await probe_client(client_for)
    response = await client.get("/probe/1/read")
    assert response.status == 401
    assert await response.json() == {"problem": "an API key is required", "status": 401}
    response = await client.get("/probe/1/read", headers={"Authorization": api_key + "x"})
    assert response.status == 401
    for header in (api_key, f"Bearer {api_key}"):
        response = await client.get("/probe/1/read", headers={"Authorization": header})
        assert response.status == 200
        assert await response.json() == {"guild": "1"}


async def test_key_out_of_guild_scope_is_403(client_for, repos: Repositories):
    _, scoped = await repos.api_keys.create("scoped", now=0, guild_ids=frozenset({5}))
    client = await probe_client(client_for)
    assert (await client.get("/probe/5/read", headers={"Authorization": scoped})).status == 200
    response = await client.get("/probe/6/read", headers={"Authorization": scoped})
    assert response.status == 403
    assert "guild" in (await response.json())["problem"]


async def test_read_only_key_cannot_write(client_for, repos: Repositories):
    _, reader = await repos.api_keys.create("reader", now=0, read_only=True)
    client = await probe_client(client_for)
    response = await client.post("/probe/1/write", json={"a": 1}, headers={"Authorization": reader})
    assert response.status == 403
    assert (await client.get("/probe/1/read", headers={"Authorization": reader})).status == 200


async def test_revoked_key_stops_working_at_once(client_for, repos: Repositories, api_key):
    client = await probe_client(client_for)
    assert (await client.get("/probe/1/read", headers={"Authorization": api_key})).status == 200
    await repos.api_keys.revoke("test", now=1)
    assert (await client.get("/probe/1/read", headers={"Authorization": api_key})).status == 401


async def test_rate_limit_headers_and_429_reset_with_the_clock(client_for, api_key, clock):
    client = await probe_client(client_for)
    headers = {"Authorization": api_key}
    first = await client.get("/probe/limited", headers=headers)
    assert first.status == 200
    assert first.headers["X-RateLimit-Limit"] == "2"
    assert first.headers["X-RateLimit-Remaining"] == "1"
    assert int(first.headers["X-RateLimit-Reset"]) == int(clock.time()) + 60
    assert (await client.get("/probe/limited", headers=headers)).headers["X-RateLimit-Remaining"] == "0"
    refused = await client.get("/probe/limited", headers=headers)
    assert refused.status == 429
    assert refused.headers["Retry-After"] == "60"
    assert refused.headers["X-RateLimit-Remaining"] == "0"
    assert "rate limited" in (await refused.json())["problem"]
    await clock.advance(30)
    assert (await client.get("/probe/limited", headers=headers)).headers["Retry-After"] == "30"
    await clock.advance(30)
    assert (await client.get("/probe/limited", headers=headers)).status == 200


async def test_rate_limits_count_per_key(client_for, repos: Repositories, api_key):
    _, other = await repos.api_keys.create("other", now=0)
    client = await probe_client(client_for)
    for _ in range(2):
        await client.get("/probe/limited", headers={"Authorization": api_key})
    assert (await client.get("/probe/limited", headers={"Authorization": api_key})).status == 429
    assert (await client.get("/probe/limited", headers={"Authorization": other})).status == 200


async def test_rate_limits_are_configurable_per_route(client_for, api_key, db_path):
    settings = make_settings(db_path, api={"rate_limits": {"probe.limited": "off"}})
    client = await probe_client(client_for, app_settings=settings)
    for _ in range(5):
        response = await client.get("/probe/limited", headers={"Authorization": api_key})
        assert response.status == 200
        assert "X-RateLimit-Limit" not in response.headers


async def test_large_bodies_get_413_and_are_not_handled(client_for, api_key, db_path):
    settings = make_settings(db_path, api={"max_body_bytes": 2048})
    client = await probe_client(client_for, app_settings=settings)
    headers = {"Authorization": api_key, "Content-Type": "application/json"}
    response = await client.post("/probe/1/write", data=b"[" + b"1," * 2000 + b"1]", headers=headers)
    assert response.status == 413
    assert "2048" in (await response.json())["problem"]

    async def chunks():
        for _ in range(10):
            yield b" " * 1000

    response = await client.post("/probe/1/write", data=chunks(), headers=headers)
    assert response.status == 413


async def test_malformed_json_is_400(client_for, api_key):
    client = await probe_client(client_for)
    headers = {"Authorization": api_key}
    for body in (b"{", b"\xff\xfe", b"[" * 100_000, b"NaN", b""):
        response = await client.post("/probe/1/write", data=body, headers=headers)
        assert response.status == 400, body[:10]
        assert (await response.json())["status"] == 400


async def test_doubled_and_trailing_slashes_are_served_in_place(client_for, api_key):
    client = await probe_client(client_for)
    headers = {"Authorization": api_key}
    for path in ("//probe//1/write", "/probe/1/write/", "/probe/1//write//"):
        url = URL(f"http://127.0.0.1:{client.port}{path}", encoded=True)
        response = await client.session.post(url, json={"n": 1}, headers=headers, allow_redirects=False)
        assert response.status == 200, path
        assert await response.json() == {"echo": {"n": 1}}


async def test_unknown_paths_answer_in_the_envelope_of_their_family(client_for):
    client = await client_for()
    response = await client.get("/api/nowhere")
    assert response.status == 404
    assert await response.json() == economy.envelope(404, "not found", None)
    response = await client.get("/modules/serverstats/nowhere")
    assert await response.json() == serverstats.envelope(404, "not found", None)
    assert (await response.json())["error"]["code"] == 404
    response = await client.get("/nowhere")
    assert await response.json() == {"error": "not found"}


async def test_internal_errors_are_500_without_a_traceback(client_for, caplog):
    client = await probe_client(client_for)
    response = await client.get("/probe/boom")
    assert response.status == 500
    body = await response.text()
    assert "secret internals" not in body
    assert "Traceback" not in body
    assert "secret internals" in caplog.text


async def test_wrong_method_is_405_with_allow(client_for):
    client = await client_for()
    response = await client.delete("/openapi.json")
    assert response.status == 405
    assert "GET" in response.headers["Allow"]


def prefix_family() -> Family:
    """Three paths under one static prefix, the last declared marked to be tried first."""
    family = empty_family("prefix")
    for name, path, first in (
        ("list", "/prefix", False),
        ("guild", r"/prefix/{guild_id:\d+}", False),
        ("member", r"/prefix/{guild_id:\d+}/{user_id:\d+}", True),
    ):

        async def answer(request: web.Request, name: str = name) -> web.Response:
            return json_response({"route": name})

        family.route("GET", path, summary=name, guild_param=None, tried_first=first)(answer)
    return family


async def test_routes_marked_tried_first_are_tried_first_and_the_others_still_answer(client_for, api_key):
    client = await client_for(prepare=lambda app: add_routes(app, [prefix_family()]))
    order = [resource.canonical for resource in client.app.router.resources()]
    under_prefix = [path for path in order if path.startswith("/prefix")]
    assert under_prefix == ["/prefix/{guild_id}/{user_id}", "/prefix", "/prefix/{guild_id}"]
    # the busiest reads of the real app too, before the paths that share their prefix
    for busiest, other in (
        ("/profile/{guild_id}/{user_id}", "/profile"),
        ("/profile/{guild_id}/{user_id}", "/profile/{guild_id}"),
        ("/api/guilds/{guild_id}/users/{user_id}", "/api/guilds/{guild_id}/users/{user_id}/inventory"),
    ):
        assert order.index(busiest) < order.index(other)
    headers = {"Authorization": api_key}
    for path, name in (("/prefix", "list"), ("/prefix/1", "guild"), ("/prefix/1/2", "member")):
        response = await client.get(path, headers=headers)
        assert (response.status, await response.json()) == (200, {"route": name})
    assert (await client.get("/prefix/1/2/3", headers=headers)).status == 404


RESET = "X-RateLimit-Reset"


async def test_the_limiter_keeps_only_open_windows(clock):
    limiter, rule = RateLimiter(clock), RateLimit(limit=2, per=60)
    first = limiter.hit("bucket", "ip:0", rule)
    assert (first.allowed, first.remaining, first.headers()[RESET]) == (True, 1, str(int(clock.time()) + 60))
    for caller in range(1, SWEEP_EVERY - 1):  # a window each: the next one opened sweeps
        limiter.hit("bucket", f"ip:{caller}", rule)
    await clock.advance(30)
    second = limiter.hit("bucket", "ip:0", rule)
    assert (second.remaining, second.headers()[RESET]) == (0, first.headers()[RESET])  # the same window
    refused = limiter.hit("bucket", "ip:0", rule)
    assert (refused.allowed, refused.retry_after, refused.headers()["Retry-After"]) == (False, 30, "30")
    await clock.advance(31)
    reopened = limiter.hit("bucket", "new", rule)  # opens a window, and sweeps the closed ones
    assert reopened.allowed and len(limiter._windows) == 1
    assert limiter.hit("bucket", "ip:0", rule).remaining == 1  # a new window
