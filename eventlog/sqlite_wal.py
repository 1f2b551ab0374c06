"""One SQLite file switched to WAL, by any of the adapters that keep a file of their own."""

from __future__ import annotations

import sqlite3
import time


def into_wal(conn: sqlite3.Connection, timeout_s: float) -> None:
    """Switching a file to WAL takes it whole, and SQLite answers "locked" at once,
    without its busy handler, when another process is at it (several nodes starting
    on one new file): retried here for as long as ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.02)
