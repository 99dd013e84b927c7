from bench.stall_bench import percentile, slope, world_toml


def test_percentile_nearest_rank() -> None:
    values = [float(n) for n in range(1, 101)]
    assert percentile(values, 50) == 50.0
    assert percentile(values, 99) == 99.0
    assert percentile(values, 100) == 100.0
    assert percentile([3.0], 99) == 3.0
    assert percentile([], 99) == 0.0


def test_slope_least_squares() -> None:
    assert slope([(0.0, 100.0), (1.0, 102.0), (2.0, 104.0)]) == 2.0
    assert slope([(0.0, 5.0), (1.0, 5.0)]) == 0.0
    assert slope([(1.0, 5.0), (1.0, 9.0)]) == 0.0
    assert slope([]) == 0.0


def test_world_toml_generates_members() -> None:
    assert "generate_members = 1234\n" in world_toml(1234)


async def test_open_loop_counts_answers_and_survives_closed_keep_alive_connections() -> None:
    import asyncio

    from aiohttp import web

    from bench.stall_bench import open_loop

    async def ok(request: web.Request) -> web.Response:
        assert request.headers["Authorization"] == "Bearer k"
        return web.json_response({"ok": True})

    app = web.Application()
    app.router.add_get("/ok", ok)
    # The server drops an idle connection after 10 ms: most requests find theirs closed and retry fresh.
    runner = web.AppRunner(app, keepalive_timeout=0.01, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        answered, missing = await asyncio.gather(
            open_loop(f"http://127.0.0.1:{port}/ok", {"Authorization": "Bearer k"}, rate=40, seconds=0.5),
            open_loop(f"http://127.0.0.1:{port}/missing", {}, rate=20, seconds=0.5),
        )
    finally:
        await runner.cleanup()
    assert (answered["count"], answered["errors"]) == (20, 0)
    assert answered["p99_ms"] < 1000
    assert (missing["count"], missing["errors"]) == (10, 10)  # answered 404: counted, as errors
