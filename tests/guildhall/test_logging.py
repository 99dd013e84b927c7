"""Logging leaves the event loop: lines are written by a thread, all of them by the time it stops."""

import contextlib
import io
import logging
import threading
from collections.abc import Iterator

from guildhall.cli import log_off_the_loop
from web.edge import AccessLogger


@contextlib.contextmanager
def bare_root() -> Iterator[logging.Logger]:
    """The root logger without handlers (pytest's own are put back after)."""
    root = logging.getLogger()
    saved, level = root.handlers[:], root.level
    for handler in saved:
        root.removeHandler(handler)
    try:
        yield root
    finally:
        for handler in root.handlers[:]:
            root.removeHandler(handler)
        for handler in saved:
            root.addHandler(handler)
        root.setLevel(level)


class SlowStream(io.StringIO):
    """A stream whose reader has fallen behind: each write waits until released."""

    def __init__(self) -> None:
        super().__init__()
        self.release = threading.Event()
        self.writers: set[str] = set()

    def write(self, text: str) -> int:
        self.writers.add(threading.current_thread().name)
        self.release.wait(10)
        return super().write(text)


def test_records_are_written_by_another_thread_and_all_of_them_at_stop():
    stream = SlowStream()
    with bare_root() as root:
        stop = log_off_the_loop("INFO", stream)
        log = logging.getLogger("guildhall.access")
        for number in range(200):
            log.info("request %d", number)  # returns at once although the stream is blocked
        logging.getLogger("noise").debug("below the level")
        assert stream.getvalue() == ""
        stream.release.set()
        stop()
        handlers_after = root.handlers[:]
    lines = stream.getvalue().splitlines()
    assert [line.rsplit(" ", 1)[1] for line in lines] == [str(n) for n in range(200)]
    assert "below the level" not in stream.getvalue()
    assert threading.current_thread().name not in stream.writers
    assert handlers_after == []  # stopped: the writer is gone from the root logger


class ThreadNamingFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return f"{threading.current_thread().name} {record.getMessage()}"


def test_records_are_formatted_where_they_are_logged_and_kept_in_order():
    stream = io.StringIO()
    with bare_root() as root:
        stop = log_off_the_loop("INFO", stream)
        root.handlers[0].setFormatter(ThreadNamingFormatter())
        log = logging.getLogger("guildhall.test")
        worker = threading.Thread(target=lambda: log.warning("from a worker"), name="worker")
        log.info("first")
        worker.start()
        worker.join()
        log.info("last")
        stop()
    me = threading.current_thread().name
    assert stream.getvalue().splitlines() == [f"{me} first", "worker from a worker", f"{me} last"]


def test_logging_configured_already_is_left_alone():
    existing = logging.StreamHandler(io.StringIO())
    with bare_root() as root:
        root.addHandler(existing)
        stop = log_off_the_loop("DEBUG", io.StringIO())
        assert root.handlers == [existing]
        stop()


def test_the_access_log_is_skipped_when_its_level_would_drop_the_lines():
    logger = logging.getLogger("guildhall.access.test")
    try:
        logger.setLevel(logging.WARNING)
        assert AccessLogger(logger, "").enabled is False
        logger.setLevel(logging.INFO)
        assert AccessLogger(logger, "").enabled is True
    finally:
        logger.setLevel(logging.NOTSET)
