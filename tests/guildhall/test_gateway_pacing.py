"""The gateway reader hands the event loop back every ``GATEWAY_SLICE`` of events it handles."""

import asyncio
from typing import Any

import pytest

from guildhall import bot as bot_module


class BufferedSocket:
    """A gateway socket with events buffered: ``receive`` answers without suspending."""

    async def receive(self, timeout: float | None = None) -> str:
        return "event"


class FakeHTTP:
    async def ws_connect(self, url: str, *, compress: int = 0) -> Any:
        return BufferedSocket()


async def test_buffered_events_yield_to_the_loop_once_per_slice(monkeypatch: pytest.MonkeyPatch):
    now = [0.0]
    monkeypatch.setattr(bot_module.time, "perf_counter", lambda: now[0])
    http = FakeHTTP()
    bot_module.pace_gateway(http)  # type: ignore[arg-type]
    socket = await http.ws_connect("ws://gateway")
    turns: list[int] = []
    received = 0

    async def other_work() -> None:
        while True:
            turns.append(received)
            await asyncio.sleep(0)

    other = asyncio.get_running_loop().create_task(other_work())
    await asyncio.sleep(0)  # the other task runs once first
    for _ in range(10):
        assert await socket.receive(timeout=5) == "event"
        received += 1
        now[0] += bot_module.GATEWAY_SLICE * 0.3  # each event takes 0.3 of a slice
    other.cancel()
    # Without pacing the reader never suspends and the other task would not run again at all.
    assert turns == [0, 4, 8]
