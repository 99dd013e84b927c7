"""A client that sends its request headers too slowly (or not at all) is disconnected."""

import asyncio

from guildhall.runtime import start_api
from tests.conftest import make_settings
from web.app import create_app


async def test_slow_headers_are_cut_off_and_normal_requests_still_work(db_path, repos, clock):
    settings = make_settings(db_path, api={"header_timeout": 0.3})
    api = await start_api(create_app(settings=settings, repos=repos, clock=clock), settings, host="127.0.0.1", port=0)
    try:
        host, port = api.url.removeprefix("http://").split(":")
        reader, writer = await asyncio.open_connection(host, int(port))
        writer.write(b"GET / HTTP/1.1\r\nHost: x\r\n")  # never finishes its headers
        await writer.drain()
        async with asyncio.timeout(5):
            assert await reader.read() == b""  # the server closed the connection
        writer.close()

        reader, writer = await asyncio.open_connection(host, int(port))
        writer.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        await writer.drain()
        async with asyncio.timeout(5):
            answer = await reader.read()
        assert answer.startswith(b"HTTP/1.1 ")
        writer.close()
    finally:
        await api.runner.cleanup()
