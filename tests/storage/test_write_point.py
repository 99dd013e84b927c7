"""``Storage.write_point``: short units of work committed together on the loop thread."""

import asyncio
import sqlite3
from pathlib import Path

import pytest

from storage import Storage
from storage import db as storage_db


async def _table(storage: Storage) -> None:
    await storage.write(lambda conn: conn.execute("CREATE TABLE t (x INTEGER UNIQUE)"))


async def _rows(storage: Storage) -> list[int]:
    return await storage.read(lambda conn: [row[0] for row in conn.execute("SELECT x FROM t ORDER BY x")])


async def test_units_of_one_turn_share_one_transaction_and_a_failing_one_is_rolled_back_alone(storage: Storage):
    await _table(storage)
    runs = []

    def insert(x: int):
        def work(conn: sqlite3.Connection) -> int:
            assert conn.in_transaction
            runs.append(x)
            conn.execute("INSERT INTO t VALUES (?)", (x,))
            return conn.execute("SELECT COUNT(*) FROM t").fetchone()[0]

        return work

    def bad(conn: sqlite3.Connection) -> None:
        conn.execute("INSERT INTO t VALUES (99)")
        raise ValueError("refused")

    outcomes = await asyncio.gather(
        storage.write_point(insert(1)),
        storage.write_point(bad),
        storage.write_point(insert(2)),
        return_exceptions=True,
    )
    assert isinstance(outcomes[1], ValueError)
    # The second unit saw the first one's row: one transaction, committed once for all three.
    assert outcomes[0] == 1 and outcomes[2] == 2
    # A unit that fails after writing sends the batch round again, each unit in a savepoint.
    assert runs == [1, 1, 2]
    assert await _rows(storage) == [1, 2]


async def test_a_unit_refused_before_it_wrote_costs_the_others_nothing(storage: Storage):
    await _table(storage)
    runs = []

    def insert(x: int):
        def work(conn: sqlite3.Connection) -> None:
            runs.append(x)
            conn.execute("INSERT INTO t VALUES (?)", (x,))

        return work

    def refuse(conn: sqlite3.Connection) -> None:
        conn.execute("SELECT COUNT(*) FROM t").fetchone()
        raise ValueError("refused")

    def duplicate(conn: sqlite3.Connection) -> None:
        conn.execute("INSERT INTO t VALUES (1)")  # the UNIQUE failure: SQLite undoes the statement itself

    outcomes = await asyncio.gather(
        storage.write_point(insert(1)),
        storage.write_point(refuse),
        storage.write_point(duplicate),
        storage.write_point(insert(2)),
        return_exceptions=True,
    )
    assert isinstance(outcomes[1], ValueError)
    assert isinstance(outcomes[2], sqlite3.IntegrityError)
    assert runs == [1, 2]  # each ran once: nothing needed undoing
    assert await _rows(storage) == [1, 2]


async def test_an_acknowledged_point_write_is_on_disk_and_seen_by_the_next_cached_read(db_path: Path, storage: Storage):
    await _table(storage)
    calls = []

    def count(conn: sqlite3.Connection) -> int:
        calls.append(1)
        return conn.execute("SELECT COUNT(*) FROM t").fetchone()[0]

    assert await storage.read_cached("count", count) == 0
    assert await storage.read_cached("count", count) == 0
    assert len(calls) == 1  # remembered
    await storage.write_point(lambda conn: conn.execute("INSERT INTO t VALUES (7)"))
    assert await storage.read_cached("count", count) == 1  # same turn of the loop: forgotten at the commit
    other = sqlite3.connect(db_path)
    try:
        assert other.execute("SELECT x FROM t").fetchall() == [(7,)]
    finally:
        other.close()


async def test_a_commit_by_another_process_is_seen_once_the_loop_turns(db_path: Path, storage: Storage):
    await _table(storage)

    def count(conn: sqlite3.Connection) -> int:
        return conn.execute("SELECT COUNT(*) FROM t").fetchone()[0]

    assert await storage.read_cached("count", count) == 0
    other = sqlite3.connect(db_path, isolation_level=None)
    try:
        other.execute("INSERT INTO t VALUES (1)")
    finally:
        other.close()
    await asyncio.sleep(0)  # a request that arrives after the commit is handled in a later turn
    await asyncio.sleep(0)
    assert await storage.read_cached("count", count) == 1


async def test_a_lock_held_elsewhere_sends_the_batch_to_the_worker_without_blocking_the_loop(
    db_path: Path, storage: Storage
):
    await _table(storage)
    other = sqlite3.connect(db_path, isolation_level=None, check_same_thread=False)
    other.execute("BEGIN IMMEDIATE")
    try:
        write = asyncio.ensure_future(storage.write_point(lambda conn: conn.execute("INSERT INTO t VALUES (5)")))
        ticks = 0
        while ticks < 20:  # the loop keeps turning while the write waits for the lock
            await asyncio.sleep(0)
            ticks += 1
        assert not write.done()
        other.execute("COMMIT")
    finally:
        other.close()
    await asyncio.wait_for(write, 10)
    assert await _rows(storage) == [5]


async def test_point_writes_queued_at_close_are_committed(db_path: Path):
    storage = await Storage.open(db_path)
    await _table(storage)
    pending = [
        asyncio.ensure_future(storage.write_point(lambda c, i=i: c.execute("INSERT INTO t VALUES (?)", (i,))))
        for i in range(5)
    ]
    await asyncio.sleep(0)  # queued, not yet run
    await storage.close()
    assert [task.result() is not None for task in pending] == [True] * 5
    conn = sqlite3.connect(db_path)
    try:
        assert conn.execute("SELECT COUNT(*) FROM t").fetchone()[0] == 5
    finally:
        conn.close()


async def test_checkpoints_keep_the_log_small(storage: Storage, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(storage_db, "CHECKPOINT_EVERY", 20)
    await storage.write(lambda conn: conn.execute("CREATE TABLE blob (x BLOB)"))
    for _ in range(600):  # ~600 pages of log without checkpoints
        await storage.write_point(lambda conn: conn.execute("INSERT INTO blob VALUES (zeroblob(3000))"))
    if storage._checkpoint is not None:
        await storage._checkpoint
    # The log restarts from its first frame once a checkpoint has copied it all: frames in use stay few.
    _, frames_in_log, _ = await storage.read(lambda conn: conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone())
    assert frames_in_log < 200


async def test_a_failed_commit_fails_every_caller_of_the_batch(storage: Storage, monkeypatch: pytest.MonkeyPatch):
    await _table(storage)

    def broken_disk(conn: sqlite3.Connection, batch: list) -> list:
        raise sqlite3.OperationalError("disk I/O error")

    monkeypatch.setattr(storage_db, "_run_batch", broken_disk)
    outcomes = await asyncio.wait_for(
        asyncio.gather(
            *(storage.write_point(lambda c, i=i: c.execute("INSERT INTO t VALUES (?)", (i,))) for i in range(3)),
            return_exceptions=True,
        ),
        5,
    )
    assert all(isinstance(outcome, storage_db.StorageError) for outcome in outcomes), outcomes
    monkeypatch.undo()
    assert await _rows(storage) == []


def test_a_batch_goes_to_the_loop_thread_in_runs_of_at_most_point_rows_rows():
    rows = storage_db.POINT_ROWS
    assert [len(run) for run in storage_db.point_chunks(list(range(2 * rows + 5)))] == [rows, rows, 5]
    per_three = rows // 3
    assert [len(run) for run in storage_db.point_chunks(list(range(per_three + 1)), rows_per_item=3)] == [per_three, 1]
    assert [list(run) for run in storage_db.point_chunks([1, 2, 3], rows_per_item=rows * 2)] == [[1], [2], [3]]
    assert list(storage_db.point_chunks([])) == []
