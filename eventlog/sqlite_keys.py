"""The key store in a SQLite file of its own (``<log>.keys.db`` beside the log).

Kept apart from the log's file so that a copy of the log holds no key, and so
that destroying a key can scrub it: ``secure_delete`` zeroes the deleted rows'
bytes and the WAL is checkpointed and truncated after every destruction, so the
key's bytes are left nowhere in the files.

Keys made many at once (the pool of chat message keys, 1,024 at a time) are one
row of ``key_batches``: one insert instead of one per key (~4 µs of CPU per chat
message).  Destroying one of them zeroes its 32 bytes in the row; the row goes
when all of them are.
"""

from __future__ import annotations

import contextlib
import secrets
import sqlite3
import threading
from collections.abc import Collection, Iterator, Sequence
from pathlib import Path

from eventlog.key_port import KEY_BYTES, DataKey, KeyStore, new_keys, now_iso
from eventlog.sqlite_wal import into_wal

_SCHEMA = """
CREATE TABLE IF NOT EXISTS data_keys (
    key_id TEXT PRIMARY KEY,
    subject TEXT NOT NULL,
    material BLOB NOT NULL,
    created_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS data_keys_subject ON data_keys (subject, created_at);
CREATE TABLE IF NOT EXISTS key_batches (
    batch_id TEXT PRIMARY KEY,
    subject TEXT NOT NULL,
    material BLOB NOT NULL,
    created_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS key_batches_subject ON key_batches (subject, created_at);
"""
_BATCHED = "."  # a key made in a batch: ``<batch id>.<its place in the batch>`` (other ids have no dot)
_DESTROYED = bytes(KEY_BYTES)  # a batch's destroyed key: its bytes zeroed


def _batch_keys(batch_id: str, subject: str, material: bytes, created_at: str) -> list[DataKey]:
    return [
        DataKey(f"{batch_id}{_BATCHED}{n}", subject, material[start : start + KEY_BYTES], created_at)
        for n, start in enumerate(range(0, len(material), KEY_BYTES))
    ]


def _batch_key(key_id: str, subject: str, material: bytes, created_at: str) -> DataKey | None:
    """One key of a batch's row (None: destroyed, or no such place)."""
    place = key_id.rpartition(_BATCHED)[2]
    if not place.isdigit():
        return None
    start = int(place) * KEY_BYTES
    key = bytes(material[start : start + KEY_BYTES])
    return DataKey(key_id, subject, key, created_at) if len(key) == KEY_BYTES and key != _DESTROYED else None


def _held_ids(batch_id: str, material: bytes) -> list[str]:
    """The ids of a batch's keys not destroyed."""
    return [
        f"{batch_id}{_BATCHED}{n}"
        for n, start in enumerate(range(0, len(material), KEY_BYTES))
        if material[start : start + KEY_BYTES] != _DESTROYED
    ]


def keys_path(log_path: str) -> str:
    """Where the keys of the SQLite log at ``log_path`` are kept."""
    path = Path(log_path)
    return str(path.with_name(path.stem + ".keys.db"))


class SqliteKeyStore(KeyStore):
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

    def newest(self, subject: str) -> DataKey | None:
        with self._lock:
            row = self._db.execute(
                "SELECT key_id, subject, material, created_at FROM data_keys WHERE subject = ?"
                " ORDER BY created_at DESC LIMIT 1",
                (subject,),
            ).fetchone()
        return DataKey(row[0], row[1], bytes(row[2]), row[3]) if row is not None else None

    def create(self, subject: str, count: int) -> list[DataKey]:
        if count > 1:
            return self._create_batch(subject, count)
        keys = new_keys(subject, count, now_iso())
        self.add(keys)
        return keys

    def add(self, keys: Sequence[DataKey]) -> None:
        if not keys:
            return
        with self._lock, self._transaction():
            self._db.executemany(
                "INSERT OR IGNORE INTO data_keys (key_id, subject, material, created_at) VALUES (?, ?, ?, ?)",
                [(k.key_id, k.subject, k.material, k.created_at) for k in keys],
            )

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[None]:
        """One write transaction, its lock taken at once; rolled back on any error (under ``_lock``)."""
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    def _create_batch(self, subject: str, count: int) -> list[DataKey]:
        batch_id, created_at = secrets.token_urlsafe(12), now_iso()
        material = secrets.token_bytes(KEY_BYTES * count)
        with self._lock:
            self._db.execute(
                "INSERT INTO key_batches (batch_id, subject, material, created_at) VALUES (?, ?, ?, ?)",
                (batch_id, subject, material, created_at),
            )
        return _batch_keys(batch_id, subject, material, created_at)

    def find(self, key_ids: Collection[str]) -> dict[str, DataKey]:
        batched: dict[str, list[str]] = {}
        ids = []
        for key_id in key_ids:
            if _BATCHED in key_id:
                batched.setdefault(key_id.partition(_BATCHED)[0], []).append(key_id)
            else:
                ids.append(key_id)
        found: dict[str, DataKey] = self._find_batched(batched) if batched else {}
        with self._lock:
            for start in range(0, len(ids), 500):
                chunk = ids[start : start + 500]
                marks = ",".join("?" * len(chunk))
                for row in self._db.execute(
                    f"SELECT key_id, subject, material, created_at FROM data_keys WHERE key_id IN ({marks})", chunk
                ):
                    found[row[0]] = DataKey(row[0], row[1], bytes(row[2]), row[3])
        return found

    def _find_batched(self, batched: dict[str, list[str]]) -> dict[str, DataKey]:
        found: dict[str, DataKey] = {}
        batch_ids = list(batched)
        with self._lock:
            for start in range(0, len(batch_ids), 500):
                chunk = batch_ids[start : start + 500]
                marks = ",".join("?" * len(chunk))
                for batch_id, subject, material, created_at in self._db.execute(
                    f"SELECT batch_id, subject, material, created_at FROM key_batches WHERE batch_id IN ({marks})",
                    chunk,
                ):
                    for key_id in batched[batch_id]:
                        key = _batch_key(key_id, subject, material, created_at)
                        if key is not None:
                            found[key_id] = key
        return found

    def _delete(self, where: str, args: tuple[str, ...], *, batches: bool = True) -> list[str]:
        with self._lock:
            with self._transaction():
                ids = [row[0] for row in self._db.execute(f"SELECT key_id FROM data_keys WHERE {where}", args)]
                self._db.execute(f"DELETE FROM data_keys WHERE {where}", args)
                if batches:  # (``where`` names only the columns both tables have)
                    for batch_id, material in self._db.execute(
                        f"SELECT batch_id, material FROM key_batches WHERE {where}", args
                    ).fetchall():
                        ids += _held_ids(batch_id, material)
                    self._db.execute(f"DELETE FROM key_batches WHERE {where}", args)
            if ids:  # leave the destroyed keys' bytes in no WAL frame
                self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        return ids

    def destroy(self, subject: str) -> list[str]:
        return self._delete("subject = ?", (subject,))

    def destroy_key(self, key_id: str) -> bool:
        if _BATCHED not in key_id:
            return bool(self._delete("key_id = ?", (key_id,), batches=False))
        batch_id, _, place = key_id.partition(_BATCHED)
        if not place.isdigit():
            return False
        start = int(place) * KEY_BYTES
        with self._lock:
            with self._transaction():
                row = self._db.execute("SELECT material FROM key_batches WHERE batch_id = ?", (batch_id,)).fetchone()
                material = bytes(row[0]) if row is not None else b""
                destroyed = start + KEY_BYTES <= len(material) and material[start : start + KEY_BYTES] != _DESTROYED
                if destroyed:
                    rest = material[:start] + _DESTROYED + material[start + KEY_BYTES :]
                    if _held_ids(batch_id, rest):
                        self._db.execute("UPDATE key_batches SET material = ? WHERE batch_id = ?", (rest, batch_id))
                    else:
                        self._db.execute("DELETE FROM key_batches WHERE batch_id = ?", (batch_id,))
            if destroyed:  # leave the destroyed key's bytes in no WAL frame
                self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        return destroyed

    def destroy_older_than(self, subject_prefix: str, before: str) -> list[str]:
        escaped = subject_prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        return self._delete("subject LIKE ? ESCAPE '\\' AND created_at < ?", (escaped + "%", before))

    def close(self) -> None:
        with self._lock:
            self._db.close()
