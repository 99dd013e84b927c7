"""Per-event work gathered into batches: one unit of work for many gateway events.

A busy guild sends thousands of messages a second; a database write for each would keep the event
loop and the database thread busy with bookkeeping. A :class:`Batcher` runs one flush at a time,
at most one every 20 ms: what arrives meanwhile waits for the next one, so a quiet bot still writes
an event at once while a busy one writes dozens per unit of work (at most 128 rows each, so a
unit commits on the loop thread: ``storage.db.point_chunks``). A crash can lose only what was
gathered and not yet committed (a few tens of milliseconds of events); :meth:`Batcher.close`
flushes the rest at shutdown.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any, Generic, TypeVar

log = logging.getLogger(__name__)

T = TypeVar("T")
MIN_INTERVAL = 0.02  # seconds between the starts of two flushes


class Batcher(Generic[T]):
    def __init__(
        self,
        flush: Callable[[list[T]], Awaitable[None]],
        *,
        name: str,
        track: Callable[[asyncio.Task[Any]], None],
        report: Callable[[str, BaseException], None],
        min_interval: float = MIN_INTERVAL,
    ) -> None:
        self._flush = flush
        self._min_interval = min_interval
        self._last = -min_interval
        self._name = name
        self._track = track
        self._report = report
        self._items: list[T] = []
        self._task: asyncio.Task[None] | None = None
        self._closing = asyncio.Event()

    def __len__(self) -> int:
        return len(self._items)

    def add(self, item: T) -> None:
        """Gather ``item``; a flush starts unless one is running (it takes this item next)."""
        self._items.append(item)
        if self._task is None:
            self._start()

    def _start(self) -> asyncio.Task[None]:
        task = self._task = asyncio.get_running_loop().create_task(self._run(), name=f"batch:{self._name}")
        self._track(task)
        return task

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            while self._items:
                # A coalescing window on the loop's real time, not a timer: flushes come at most
                # every ``min_interval`` seconds, so a busy guild's events share them.
                wait = self._last + self._min_interval - loop.time()
                if wait > 0 and not self._closing.is_set():
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._closing.wait(), wait)
                items, self._items = self._items, []
                self._last = loop.time()
                try:
                    await self._flush(items)
                except Exception as error:
                    self._report(f"{self._name} flush of {len(items)}", error)
        finally:
            self._task = None

    async def close(self) -> None:
        """Return once everything gathered so far is flushed (at once: no more waiting between flushes)."""
        self._closing.set()
        while self._task is not None or self._items:
            await asyncio.shield(self._task or self._start())
