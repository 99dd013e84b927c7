"""The one database connection and the way work reaches it.

Every call into SQLite costs a hop to aiosqlite's worker thread, and that hop, not SQLite, is
what limits throughput. So the API takes whole units of work instead of statements:

- ``read(fn)`` runs ``fn(conn)`` in the worker thread: any number of statements, one hop.
- ``write(fn)`` queues ``fn(conn)`` for the group writer. Writes that arrive while a commit is
  running share the next transaction; one that raises is rolled back alone (:func:`_run_batch`)
  and its caller gets the exception. A caller is answered only after the transaction holding its
  write committed, so nothing acknowledged is lost.
- ``transaction()`` is the explicit form for code that must interleave awaits with SQL (rare;
  migrations and maintenance use it).
- ``read_now(fn)`` runs ``fn`` on a read-only connection in the caller's thread, with no hop at
  all. It is for short indexed point reads on hot paths (API key checks): in WAL mode a reader is
  never blocked by the writer, and its busy timeout is kept tiny so the loop can't stall.
  ``read_point(fn)`` is its async form for repositories' point reads (a profile, a guild's
  settings), and ``read_cached(key, fn)`` remembers such a read until the next commit by anyone
  (``PRAGMA data_version``), so a cached value is never stale (``bench/run`` measures both).
- ``write_point(fn)`` is the write side of the same idea, for short indexed units of work on hot
  paths (a transfer, a profile's counters): the units issued during one turn of the event loop
  are committed together on a loop-thread connection, with no hop. Under NORMAL synchronous mode
  a WAL commit appends to the log without an fsync, so it costs microseconds; checkpoints (which
  do sync) run in the worker thread. When the worker holds the write lock, or another process
  does, the batch joins ``write``'s queue instead, so the loop never waits on a lock. The bot's
  gathered events go the same way, in runs of at most ``POINT_ROWS`` rows (``point_chunks``).

Functions handed to ``read``/``write`` run in another thread, and a write may run twice (when
another unit of its batch fails half-way, :func:`_run_batch`): they must touch only ``conn``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
from collections.abc import AsyncIterator, Callable, Hashable, Iterator, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, TypeVar

import aiosqlite

log = logging.getLogger(__name__)

T = TypeVar("T")
Work = Callable[[sqlite3.Connection], T]

SYNCHRONOUS_MODES = ("normal", "full")
MAX_BATCH = 256
POINT_ROWS = 128  # rows one unit may touch and still commit on the loop thread (point_chunks)
CHECKPOINT_EVERY = 200  # loop-thread commits between passive checkpoints in the worker thread
CACHE_MAX = 10_000  # entries (an economy answer is ~2.5 KB); emptied at once when reached: a hot set refills


class StorageError(Exception):
    """The database cannot be used as asked."""


class DatabaseTooNew(StorageError):
    """The database was migrated by a newer Guildhall than this one."""


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str
    sql: str


def load_migrations() -> list[Migration]:
    """The numbered ``NNNN_name.sql`` files shipped in ``storage/migrations``, in order."""
    folder = resources.files("storage") / "migrations"
    found = []
    for entry in folder.iterdir():
        if not entry.name.endswith(".sql"):
            continue
        number, _, rest = entry.name.partition("_")
        found.append(Migration(int(number), rest.removesuffix(".sql"), entry.read_text(encoding="utf-8")))
    return sorted(found, key=lambda m: m.version)


def split_statements(script: str) -> list[str]:
    """Split a SQL script into statements (trigger bodies stay whole)."""
    statements, pending = [], ""
    for line in script.splitlines(keepends=True):
        pending += line
        if sqlite3.complete_statement(pending):
            if pending.strip():
                statements.append(pending.strip())
            pending = ""
    if pending.strip() and not all(part.strip().startswith("--") or not part.strip() for part in pending.splitlines()):
        raise StorageError(f"incomplete SQL statement at the end of a migration: {pending.strip()[:80]!r}")
    return statements


_MISSING: Any = object()


class Storage:
    """One aiosqlite connection in WAL mode, opened with :meth:`open`."""

    def __init__(self, connection: aiosqlite.Connection, path: Path) -> None:
        self._connection = connection
        self.path = path
        self._in_memory = str(path) == ":memory:"  # no second connection can see it: no loop-thread fast paths
        self._pending: list[tuple[Work[Any], asyncio.Future[Any]]] = []
        self._writer: asyncio.Task[None] | None = None
        self._transaction_lock = asyncio.Lock()
        self._closed = False
        self._synchronous = "normal"
        self._reader: sqlite3.Connection | None = None
        self._cache: dict[Hashable, Any] = {}
        self._cache_version = -1
        self._version_fresh = False
        self._inline: sqlite3.Connection | None = None
        self._inline_pending: list[tuple[Work[Any], asyncio.Future[Any]]] = []
        self._inline_scheduled = False
        self._commits_since_checkpoint = 0
        self._checkpoint: asyncio.Task[None] | None = None

    @classmethod
    async def open(cls, path: str | Path, *, synchronous: str = "normal", migrate: bool = True) -> Storage:
        if synchronous not in SYNCHRONOUS_MODES:
            raise StorageError(f"synchronous must be one of {', '.join(SYNCHRONOUS_MODES)}")
        path = Path(path)
        if str(path) != ":memory:":
            path.parent.mkdir(parents=True, exist_ok=True)
        connection = await aiosqlite.connect(path, isolation_level=None)
        connection.row_factory = sqlite3.Row
        storage = cls(connection, path)
        storage._synchronous = synchronous
        try:
            await storage.read(lambda conn: _configure(conn, synchronous))
            if migrate:
                await storage.migrate()
            else:
                await storage.check_version()
        except BaseException:
            await connection.close()
            raise
        return storage

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._commit_inline()  # units already queued for the loop thread commit first
        if self._writer is not None:
            await self._writer
        if self._checkpoint is not None:
            await self._checkpoint
        if self._reader is not None:
            self._reader.close()
        if self._inline is not None:
            self._inline.close()
        await self._connection.close()

    # --- units of work -------------------------------------------------------------------

    async def read(self, fn: Work[T]) -> T:
        """Run ``fn(conn)`` in the database thread and return its result."""
        connection = self._connection
        # The one hop: aiosqlite's worker queue runs fn with the thread's own sqlite3 connection.
        return await connection._execute(lambda: fn(connection._conn))

    def read_now(self, fn: Work[T]) -> T:
        """Run a short indexed read on the loop thread's own read-only connection."""
        return fn(self._read_connection())

    def _read_connection(self) -> sqlite3.Connection:
        if self._reader is None:
            if self._in_memory:
                raise StorageError("read_now needs a database file")
            reader = sqlite3.connect(f"{self.path.resolve().as_uri()}?mode=ro", uri=True, check_same_thread=True)
            reader.row_factory = sqlite3.Row
            reader.execute("PRAGMA busy_timeout = 50")
            reader.execute("PRAGMA query_only = ON")
            self._reader = reader
        return self._reader

    async def read_point(self, fn: Work[T]) -> T:
        """A short indexed read (a few rows by key): on the loop thread when it can be, else one hop.

        It sees every committed write, like :meth:`read`: a write is acknowledged only after its
        COMMIT, and each statement here starts a fresh WAL snapshot. Falls back to the worker
        thread for an in-memory database or when the reader is busy (a checkpoint's brief lock).
        """
        if not self._in_memory:
            try:
                return self.read_now(fn)
            except sqlite3.OperationalError as error:
                if not _busy(error):
                    raise
        return await self.read(fn)

    async def read_cached(self, key: Hashable, fn: Work[T]) -> T:
        """:meth:`read_point`, remembered under ``key`` until the database next changes.

        ``PRAGMA data_version`` on the reader changes whenever any connection (this process's
        writer, another process such as ``apikey revoke``) has committed, and the cache is emptied
        then, so a cached value is never older than the last commit. Values are shared between
        callers: only immutable results (frozen dataclasses, tuples, numbers) may be cached.
        """
        if self._in_memory:
            return await self.read(fn)
        try:
            reader = self._reader or self._read_connection()
            if not self._version_fresh:
                self._check_version(reader)
            cached = self._cache.get(key, _MISSING)  # one lookup: a key is a tuple, hashed anew each time
            if cached is not _MISSING:
                return cached
            # Read after the version check: the value is at least as new as the version it is kept under.
            value = fn(reader)
        except sqlite3.OperationalError as error:
            if not _busy(error):
                raise
            return await self.read(fn)
        if len(self._cache) >= CACHE_MAX:
            self._cache.clear()
        self._cache[key] = value
        return value

    def _check_version(self, reader: sqlite3.Connection) -> None:
        """Empty the cache if the database changed since it was filled (``PRAGMA data_version``).

        Asked at most once per turn of the event loop. A request read from a socket in one turn is
        handled in that turn or a later one, after the ``select`` that saw it; another process's
        commit that the caller saw finish came before that ``select``, and so before any check made
        in the turn. This process's own commits force the next check at once (:meth:`_note_commit`).
        """
        version = reader.execute("PRAGMA data_version").fetchone()[0]
        if version != self._cache_version:
            self._cache.clear()
            self._cache_version = version
        self._version_fresh = True
        asyncio.get_running_loop().call_soon(self._expire_version)

    def _expire_version(self) -> None:
        self._version_fresh = False

    def _note_commit(self) -> None:
        self._version_fresh = False

    async def write(self, fn: Work[T]) -> T:
        """Run ``fn(conn)`` in a committed transaction, possibly shared with concurrent writes."""
        if self._closed:
            raise StorageError("storage is closed")
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._pending.append((fn, future))
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._drain(), name="storage-writer")
        return await future

    async def _drain(self) -> None:
        while self._pending:
            batch, self._pending = self._pending[:MAX_BATCH], self._pending[MAX_BATCH:]
            async with self._transaction_lock:
                try:
                    outcomes = await self.read(lambda conn, batch=batch: _run_batch(conn, batch))
                except Exception as error:  # the COMMIT itself failed: nobody's write landed
                    log.exception("group commit of %d writes failed", len(batch))
                    for _, future in batch:
                        if not future.done():
                            future.set_exception(StorageError(f"commit failed: {error}"))
                    continue
            self._note_commit()
            _settle(batch, outcomes)

    async def write_point(self, fn: Work[T]) -> T:
        """:meth:`write` for a short indexed unit of work, committed on the loop thread (see above)."""
        if self._closed:
            raise StorageError("storage is closed")
        if self._in_memory:
            return await self.write(fn)
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        self._inline_pending.append((fn, future))
        if not self._inline_scheduled:
            self._inline_scheduled = True
            loop.call_soon(self._commit_inline)
        return await future

    def _commit_inline(self) -> None:
        self._inline_scheduled = False
        batch, self._inline_pending = self._inline_pending, []
        if not batch:
            return
        if self._transaction_lock.locked() or self._pending:
            self._hand_to_worker(batch)  # the worker writes now: never wait for its lock on the loop
            return
        try:
            outcomes = _run_batch(self._inline_connection(), batch)
        except Exception as error:
            if isinstance(error, sqlite3.OperationalError) and _busy(error):
                self._hand_to_worker(batch)  # another process holds the write lock; nothing ran here
                return
            log.exception("group commit of %d writes failed", len(batch))
            for _, future in batch:
                if not future.done():
                    future.set_exception(StorageError(f"commit failed: {error}"))
            return
        self._note_commit()
        _settle(batch, outcomes)
        self._commits_since_checkpoint += 1
        if self._commits_since_checkpoint >= CHECKPOINT_EVERY and (self._checkpoint is None or self._checkpoint.done()):
            self._commits_since_checkpoint = 0
            self._checkpoint = asyncio.get_running_loop().create_task(self._passive_checkpoint(), name="checkpoint")

    def _hand_to_worker(self, batch: list[tuple[Work[Any], asyncio.Future[Any]]]) -> None:
        self._pending.extend(batch)
        if self._writer is None or self._writer.done():
            self._writer = asyncio.get_running_loop().create_task(self._drain(), name="storage-writer")

    def _inline_connection(self) -> sqlite3.Connection:
        if self._inline is None:
            conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=True)
            conn.row_factory = sqlite3.Row
            conn.execute("PRAGMA busy_timeout = 0")  # a held lock sends the batch to the worker
            conn.execute(f"PRAGMA synchronous = {self._synchronous.upper()}")
            conn.execute("PRAGMA foreign_keys = ON")
            conn.execute("PRAGMA wal_autocheckpoint = 0")  # checkpoints sync: they run in the worker
            self._inline = conn
        return self._inline

    async def _passive_checkpoint(self) -> None:
        # Writes wait for the lock meanwhile (queued, the loop stays free): a checkpoint racing new
        # frames never copies the whole log, and only a whole copy lets the log restart from its start.
        try:
            async with self._transaction_lock:
                await self.read(lambda conn: conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone())
        except sqlite3.Error:
            log.warning("a passive checkpoint failed; the next one will retry", exc_info=True)

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[aiosqlite.Connection]:
        """An explicit ``BEGIN IMMEDIATE`` … ``COMMIT`` for work that awaits between statements."""
        async with self._transaction_lock:
            await self._connection.execute("BEGIN IMMEDIATE")
            try:
                yield self._connection
            except BaseException:
                await self._connection.execute("ROLLBACK")
                raise
            await self._connection.execute("COMMIT")
            self._note_commit()

    # --- schema ----------------------------------------------------------------------------

    async def schema_version(self) -> int:
        return await self.read(_schema_version)

    async def check_version(self) -> int:
        version = await self.schema_version()
        latest = max((m.version for m in load_migrations()), default=0)
        if version > latest:
            raise DatabaseTooNew(
                f"database {self.path} is at schema version {version}, newer than this Guildhall "
                f"understands ({latest}); upgrade Guildhall or use another database"
            )
        return version

    async def migrate(self) -> list[int]:
        """Apply the migrations not yet applied, each atomically with its version bump."""
        current = await self.check_version()
        applied = []
        for migration in load_migrations():
            if migration.version <= current:
                continue
            async with self._transaction_lock:
                await self.read(lambda conn, m=migration: _apply_migration(conn, m))
            self._note_commit()
            log.info("applied migration %04d_%s", migration.version, migration.name)
            applied.append(migration.version)
        return applied

    async def backup(self, target: Path) -> int:
        """Copy the database to ``target`` with SQLite's online backup: a consistent snapshot even
        while other connections write. Returns the number of pages copied."""

        def work(conn: sqlite3.Connection) -> int:
            if target.exists():
                raise StorageError(f"{target} exists already; choose a new file")
            target.parent.mkdir(parents=True, exist_ok=True)
            destination = sqlite3.connect(target)
            try:
                conn.backup(destination)
                return destination.execute("PRAGMA page_count").fetchone()[0]
            finally:
                destination.close()

        return await self.read(work)

    async def integrity_check(self) -> str:
        return await self.read(lambda conn: conn.execute("PRAGMA integrity_check").fetchone()[0])

    async def writable(self) -> bool:
        """True when a write transaction can be opened and committed now."""
        try:
            await self.write(lambda conn: conn.execute("UPDATE schema_migrations SET version = version WHERE 0"))
        except (StorageError, sqlite3.Error):
            return False
        return True


def _settle(batch: list[tuple[Work[Any], asyncio.Future[Any]]], outcomes: list[tuple[bool, Any]]) -> None:
    for (_, future), (ok, value) in zip(batch, outcomes, strict=True):
        if future.done():
            continue
        if ok:
            future.set_result(value)
        else:
            future.set_exception(value)


def _busy(error: sqlite3.OperationalError) -> bool:
    return "locked" in str(error) or "busy" in str(error)


def _configure(conn: sqlite3.Connection, synchronous: str) -> None:
    conn.execute("PRAGMA busy_timeout = 5000")
    mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
    if mode.lower() != "wal" and conn.execute("PRAGMA database_list").fetchone()[2]:
        raise StorageError(f"could not switch the database to WAL (journal_mode is {mode})")
    conn.execute(f"PRAGMA synchronous = {synchronous.upper()}")
    conn.execute("PRAGMA foreign_keys = ON")


def _schema_version(conn: sqlite3.Connection) -> int:
    exists = conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'").fetchone()
    if not exists:
        return 0
    return conn.execute("SELECT COALESCE(MAX(version), 0) FROM schema_migrations").fetchone()[0]


def _apply_migration(conn: sqlite3.Connection, migration: Migration) -> None:
    # executescript() would COMMIT on its own; statement by statement keeps the migration and
    # its version bump in one transaction.
    conn.execute("BEGIN IMMEDIATE")
    try:
        for statement in split_statements(migration.sql):
            conn.execute(statement)
        conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations ("
            " version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)"
        )
        conn.execute(
            "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, unixepoch())",
            (migration.version, migration.name),
        )
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def point_chunks(items: Sequence[T], rows_per_item: int = 1) -> Iterator[Sequence[T]]:
    """``items`` (the bot's gathered events) in runs short enough for :meth:`Storage.write_point`.

    A batch goes to the loop thread in such runs, one per turn of the loop, rather than whole to
    the worker thread: the loop thread runs Python anyway, and a batch's Python work in the worker
    would take the interpreter lock from it statement by statement, each handover making the loop
    wait (up to the 5 ms switch interval). A run is also one short step of the loop.
    """
    size = max(1, POINT_ROWS // rows_per_item)
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _run_batch(conn: sqlite3.Connection, batch: list[tuple[Work[Any], asyncio.Future[Any]]]) -> list[tuple[bool, Any]]:
    """Run ``batch`` in one transaction; a unit that raises leaves no trace and its caller gets the error.

    A SAVEPOINT around each unit would make that so, but costs a unit with writes about a fifth of
    its time (SQLite copies each page the unit changes aside, in case it is rolled back). So the
    units run bare first. One that raises before it changed anything (``total_changes``; SQLite
    undoes a failed statement itself) needs no undoing. Only when one raises after changing rows is
    the transaction rolled back and the batch run again, each unit in its own savepoint: units
    touch nothing but ``conn``, so running one again does what its first run would have done.
    """
    try:
        return _run_units(conn, batch, savepoints=False)
    except _UndoNeeded:
        return _run_units(conn, batch, savepoints=True)


class _UndoNeeded(Exception):
    """A unit raised after changing rows: only a savepoint could have undone it alone."""


def _run_units(
    conn: sqlite3.Connection, batch: list[tuple[Work[Any], asyncio.Future[Any]]], *, savepoints: bool
) -> list[tuple[bool, Any]]:
    outcomes: list[tuple[bool, Any]] = []
    conn.execute("BEGIN IMMEDIATE")
    try:
        for fn, _ in batch:
            if savepoints:
                conn.execute("SAVEPOINT unit")
            changes = conn.total_changes
            try:
                value = fn(conn)
            except Exception as error:
                if savepoints:
                    conn.execute("ROLLBACK TO unit")
                    conn.execute("RELEASE unit")
                elif conn.total_changes != changes or not conn.in_transaction:
                    raise _UndoNeeded from error
                outcomes.append((False, error))
            else:
                if savepoints:
                    conn.execute("RELEASE unit")
                outcomes.append((True, value))
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    return outcomes
