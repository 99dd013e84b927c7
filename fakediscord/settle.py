"""Knowing when a discord.py bot has finished handling what the fake sent it.

``EventTracker`` tracks the tasks discord.py creates for events (``Client._schedule_event``), for
app-command invocations (``CommandTree._from_interaction``) and for view/modal callbacks (the view
store's ``add_task``), plus any task the bot hands to ``track()``. ``settle(seq)`` waits until the
bot's websocket has read up to gateway sequence ``seq`` and every tracked task is done.

Two ways to attach it to a ``commands.Bot``:

* ``tracker.install(bot)`` after construction: wraps the three hooks on that instance;
* a subclass: ``_schedule_event`` returns ``self.event_tracker.track(super()._schedule_event(...))``,
  ``tree_cls=TrackedCommandTree`` (which finds ``client.event_tracker``), and
  ``tracker.watch_views(self)`` once the bot is built.

Then pass ``tracker.settle_for(bot)`` to ``FakeDiscord(settle=...)``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

import discord
from discord import app_commands

log = logging.getLogger(__name__)


class EventTracker:
    def __init__(self, *, poll_interval: float = 0.001) -> None:
        self.poll_interval = poll_interval
        self._tasks: set[asyncio.Future[Any]] = set()
        self._view_store: object | None = None

    # -- tracking -------------------------------------------------------------------------------

    def track(self, work: Coroutine[Any, Any, Any] | asyncio.Future[Any]) -> asyncio.Future[Any]:
        """Track a task (or schedule and track a coroutine); returns the task."""
        task = work if isinstance(work, asyncio.Future) else asyncio.ensure_future(work)
        if not task.done():
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        return task

    @property
    def pending(self) -> list[asyncio.Future[Any]]:
        return [task for task in self._tasks if not task.done()]

    async def wait_idle(self) -> None:
        """Wait until no tracked task is running, including tasks those tasks started."""
        while True:
            pending = self.pending
            if pending:
                await asyncio.wait(pending)
                continue
            # Let callbacks scheduled by the last tasks run; they may start new tracked tasks.
            for _ in range(3):
                await asyncio.sleep(0)
            if not self.pending:
                return

    async def settle(self, sequence: Callable[[], int | None], seq: int) -> None:
        """Wait until ``sequence()`` (the bot's ``ws.sequence``) reaches ``seq``, then until idle."""
        # discord.py keeps the sequence in a plain attribute with no event to wait on, so poll it.
        while (sequence() or 0) < seq:  # noqa: ASYNC110
            await asyncio.sleep(self.poll_interval)
        await self.wait_idle()

    def settle_for(self, client: discord.Client) -> Callable[[int], Awaitable[None]]:
        """The ``settle`` callback for ``FakeDiscord`` for this client."""

        def sequence() -> int | None:
            ws = client.ws
            return ws.sequence if ws is not None else None

        async def settle(seq: int) -> None:
            self.watch_views(client)
            await self.settle(sequence, seq)

        return settle

    # -- attaching ------------------------------------------------------------------------------

    def install(self, client: discord.Client) -> None:
        """Track ``client``'s event tasks, its command tree's invocations and its view callbacks."""
        original = client._schedule_event

        def _schedule_event(
            coro: Callable[..., Coroutine[Any, Any, Any]], event_name: str, *args: Any, **kwargs: Any
        ) -> asyncio.Task[Any]:
            task = original(coro, event_name, *args, **kwargs)
            self.track(task)
            return task

        client._schedule_event = _schedule_event  # type: ignore[method-assign]
        tree = getattr(client, "tree", None) or getattr(client._connection, "_command_tree", None)
        if tree is not None and not isinstance(tree, TrackedCommandTree):
            self.install_tree(tree)
        self.watch_views(client)

    def install_tree(self, tree: app_commands.CommandTree[Any]) -> None:
        def _from_interaction(interaction: discord.Interaction[Any]) -> None:
            self.track(_invoke(tree, interaction))

        tree._from_interaction = _from_interaction  # type: ignore[method-assign]

    def watch_views(self, client: discord.Client) -> None:
        """Track view and modal callback tasks (idempotent; the view store can be replaced)."""
        store = getattr(client._connection, "_view_store", None)
        if store is None or store is self._view_store or not hasattr(store, "add_task"):
            return
        original = store.add_task

        def add_task(task: asyncio.Task[None]) -> None:
            original(task)
            self.track(task)

        store.add_task = add_task
        self._view_store = store


async def _invoke(tree: app_commands.CommandTree[Any], interaction: discord.Interaction[Any]) -> None:
    # What CommandTree._from_interaction runs, as a task the tracker can see.
    try:
        await tree._call(interaction)
    except app_commands.AppCommandError as error:
        await tree._dispatch_error(interaction, error)


class TrackedCommandTree(app_commands.CommandTree):
    """A command tree whose invocations are tracked by ``client.event_tracker`` when it has one."""

    def _from_interaction(self, interaction: discord.Interaction[Any]) -> None:
        tracker = getattr(self.client, "event_tracker", None)
        if not isinstance(tracker, EventTracker):
            super()._from_interaction(interaction)
            return
        tracker.track(_invoke(self, interaction))
