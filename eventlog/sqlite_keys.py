"""The key store in a SQLite file of its own (``<log>.keys.db`` beside the log).

Kept apart from the log's file so that a copy of the log holds no key, and so
that destroying a key can scrub it: ``secure_delete`` zeroes the deleted rows'
bytes and the WAL is checkpointed and truncated after every destruction, so the
key's bytes are left nowhere in the files.
"""

from __future__ import annotations

import base64
import secrets
import sqlite3
import threading
from collections.abc import Collection
from datetime import UTC, datetime
from pathlib import Path

from eventlog.key_port import KEY_BYTES, DataKey
from eventlog.sqlite_wal import into_wal

_SCHEMA = """
CREATE TABLE IF NOT EXISTS data_keys (
    key_id TEXT PRIMARY KEY,
    subject TEXT NOT NULL,
    material BLOB NOT NULL,
    created_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS data_keys_subject ON data_keys (subject, created_at);
"""


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def new_key(subject: str, created_at: str) -> DataKey:
    return DataKey(secrets.token_urlsafe(12), subject, secrets.token_bytes(KEY_BYTES), created_at)


def new_keys(subject: str, count: int, created_at: str) -> list[DataKey]:
    """``count`` new keys, their ids and material from one draw of the system's random source."""
    size = 12 + KEY_BYTES
    drawn = secrets.token_bytes(size * count)
    return [
        DataKey(
            base64.urlsafe_b64encode(drawn[start : start + 12]).decode("ascii"),
            subject,
            drawn[start + 12 : start + size],
            created_at,
        )
        for start in range(0, size * count, size)
    ]


def keys_path(log_path: str) -> str:
    """Where the keys of the SQLite log at ``log_path`` are kept."""
    path = Path(log_path)
    return str(path.with_name(path.stem + ".keys.db"))


class SqliteKeyStore:
    def __init__(self, path: str, *, read_only: bool = False) -> None:
        self._lock = threading.Lock()
        if read_only:  # the analyst commands: ``mode=ro``, the file neither created nor switched nor written
            uri = f"{Path(path).resolve().as_uri()}?mode=ro"
            self._db = sqlite3.connect(uri, uri=True, timeout=5.0, check_same_thread=False, isolation_level=None)
            self._db.execute("PRAGMA busy_timeout=5000")
            return
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, timeout=5.0, check_same_thread=False, isolation_level=None)
        into_wal(self._db, 5.0)
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.execute("PRAGMA secure_delete=ON")
        self._db.execute("PRAGMA busy_timeout=5000")
        self._db.executescript(_SCHEMA)

    def key_for(self, subject: str) -> DataKey:
        with self._lock:
            row = self._db.execute(
                "SELECT key_id, subject, material, created_at FROM data_keys WHERE subject = ?"
                " ORDER BY created_at DESC LIMIT 1",
                (subject,),
            ).fetchone()
            if row is not None:
                return DataKey(row[0], row[1], bytes(row[2]), row[3])
        return self.create(subject, 1)[0]

    def create(self, subject: str, count: int) -> list[DataKey]:
        keys = new_keys(subject, count, now_iso())
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._db.executemany(
                    "INSERT INTO data_keys (key_id, subject, material, created_at) VALUES (?, ?, ?, ?)",
                    [(k.key_id, k.subject, k.material, k.created_at) for k in keys],
                )
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")
        return keys

    def find(self, key_ids: Collection[str]) -> dict[str, DataKey]:
        ids = list(key_ids)
        found: dict[str, DataKey] = {}
        with self._lock:
            for start in range(0, len(ids), 500):
                chunk = ids[start : start + 500]
                marks = ",".join("?" * len(chunk))
                for row in self._db.execute(
                    f"SELECT key_id, subject, material, created_at FROM data_keys WHERE key_id IN ({marks})", chunk
                ):
                    found[row[0]] = DataKey(row[0], row[1], bytes(row[2]), row[3])
        return found

    def _delete(self, where: str, args: tuple[str, ...]) -> list[str]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                ids = [row[0] for row in self._db.execute(f"SELECT key_id FROM data_keys WHERE {where}", args)]
                self._db.execute(f"DELETE FROM data_keys WHERE {where}", args)
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")
            if ids:  # leave the destroyed keys' bytes in no WAL frame
                self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        return ids

    def destroy(self, subject: str) -> list[str]:
        return self._delete("subject = ?", (subject,))

    def destroy_key(self, key_id: str) -> bool:
        return bool(self._delete("key_id = ?", (key_id,)))

    def destroy_older_than(self, subject_prefix: str, before: str) -> list[str]:
        escaped = subject_prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        return self._delete("subject LIKE ? ESCAPE '\\' AND created_at < ?", (escaped + "%", before))

    def close(self) -> None:
        with self._lock:
            self._db.close()
