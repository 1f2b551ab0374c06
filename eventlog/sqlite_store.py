"""The embedded event log: SQLite in WAL mode, shared safely by several processes.

Appends from concurrent commands are committed together (group commit): each
caller's future resolves only after the transaction that holds its record has
committed, so nothing is acknowledged before it is durable.  Versions are unique
per stream through a unique index; a lost race surfaces as ``VersionConflict``.
Each record is linked into its hash chain (``eventlog/chain.py``) inside the
write transaction; the links reach the chain state only once it committed.

A row holds the record's document (JSON) in ``body``, except its events, which
are in ``events``; what projections read has columns of its own, so that a fold
reads ``SlimRecord`` values (``read_all_slim``) without decoding ``body``.
Schema version 2 added those columns; opening a store splits the rows written
before it (or by a tool that writes version 1 rows) a batch at a time, and
every read takes either kind of row meanwhile.  Schema version 4 added the
``notices`` table: who each record notifies (``eventlog/notices.py``), written
in the append's transaction, so one user's notifications are read by index.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import Callable, Collection
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import orjson

from eventlog.appends import Pending, fail_successors, in_stream
from eventlog.chain import ChainBatch, Chains, StreamKey, link_hash
from eventlog.notices import recipients
from eventlog.ports import (
    DuplicateCommand,
    RecordFilter,
    SchemaMismatch,
    StoreError,
    StoreMissing,
    StoreUnavailable,
    TripSnapshot,
    VersionConflict,
)
from eventlog.records import (
    FIRST_SCHEMA_VERSION,
    JSON,
    SCHEMA_VERSION,
    LogRecord,
    SlimRecord,
    error_code,
    from_document,
    slim_from_document,
    slim_record,
)
from eventlog.sqlite_wal import into_wal

MAX_BATCH = 512
SPLIT_BATCH = 5000  # version 1 rows split per transaction when the store opens

_SCHEMA = [
    # version 1
    """
    CREATE TABLE IF NOT EXISTS log (
        position INTEGER PRIMARY KEY AUTOINCREMENT,
        record_id TEXT NOT NULL UNIQUE,
        at TEXT NOT NULL,
        command TEXT NOT NULL,
        outcome TEXT NOT NULL,
        user_id TEXT,
        trip_id TEXT,
        stream TEXT,
        version INTEGER,
        idempotency_key TEXT UNIQUE,
        body BLOB NOT NULL
    );
    CREATE UNIQUE INDEX IF NOT EXISTS log_stream_version ON log(stream, version);
    CREATE INDEX IF NOT EXISTS log_trip ON log(trip_id, position);
    CREATE INDEX IF NOT EXISTS log_user ON log(user_id, position);
    CREATE INDEX IF NOT EXISTS log_command ON log(command, position);
    """,
    # version 2: what projections read, in columns of its own (rows are split by ``_split_rows``)
    """
    ALTER TABLE log ADD COLUMN session_id TEXT;
    ALTER TABLE log ADD COLUMN error_code TEXT;
    ALTER TABLE log ADD COLUMN schema_version INTEGER;
    ALTER TABLE log ADD COLUMN events BLOB;
    CREATE INDEX IF NOT EXISTS log_unsplit ON log(position) WHERE events IS NULL;
    """,
    # version 3: chat pages through an index, and trip snapshots (rows split later get their message id then)
    """
    ALTER TABLE log ADD COLUMN message_id TEXT;
    UPDATE log SET message_id = json_extract(CAST(events AS TEXT), '$[0].data.messageId')
        WHERE version IS NOT NULL AND events IS NOT NULL
        AND json_extract(CAST(events AS TEXT), '$[0].type') = 'chat_message';
    CREATE INDEX IF NOT EXISTS log_chat ON log(stream, version) WHERE message_id IS NOT NULL;
    CREATE INDEX IF NOT EXISTS log_message ON log(message_id) WHERE message_id IS NOT NULL;
    CREATE TABLE IF NOT EXISTS snapshots (
        stream TEXT NOT NULL,
        version INTEGER NOT NULL,
        schema TEXT NOT NULL,
        state BLOB NOT NULL,
        PRIMARY KEY (stream, version)
    );
    """,
    # version 4: each user's notifications by recipient (``eventlog/notices.py``), filled from the split rows
    # here (rows split later get theirs then); the substring test spares json_each the other rows
    """
    CREATE TABLE IF NOT EXISTS notices (
        user_id TEXT NOT NULL,
        position INTEGER NOT NULL,
        PRIMARY KEY (user_id, position)
    ) WITHOUT ROWID;
    INSERT OR IGNORE INTO notices (user_id, position)
        SELECT json_extract(event.value, '$.data.userId'), log.position
        FROM log, json_each(CAST(log.events AS TEXT)) AS event
        WHERE log.events IS NOT NULL AND instr(CAST(log.events AS TEXT), '"notification_') > 0
        AND json_extract(event.value, '$.type') IN ('notification_created', 'notification_read')
        AND json_type(event.value, '$.data.userId') = 'text';
    """,
]
LATEST_LAYOUT = len(_SCHEMA)  # the schema version this code writes
CHAT_MESSAGE = "chat_message"

_COLUMNS = "position, body, events"
# ``SlimRecord``'s fields in order, then the body of a row not split yet
_SLIM_COLUMNS = (
    "position, at, command, outcome, user_id, session_id, trip_id, stream, version, error_code, schema_version,"
    " events, CASE WHEN events IS NULL THEN body END"
)


def sqlite_path(url: str) -> str:
    """``sqlite:///rel/path`` or ``sqlite:////abs/path`` to a file path."""
    if not url.startswith("sqlite:///"):
        raise ValueError(f"not an sqlite URL: {url}")
    return url[len("sqlite:///") :] or "data/events.db"


def _split(document: dict[str, JSON]) -> tuple[str | None, str | None, int, bytes, bytes]:
    """A stored document (without ``position``) as its row's columns: session_id, error_code,
    schema_version, events, body.  Takes ``events`` out of ``document``."""
    events = document.pop("events", None) or []
    return (
        document.get("sessionId"),
        error_code(document.get("error")),
        document.get("schemaVersion") or FIRST_SCHEMA_VERSION,
        orjson.dumps(events),
        orjson.dumps(document),
    )


def _message_id(stream: str | None, events: JSON) -> str | None:
    """The id of the chat message a stream record holds (None: it holds none)."""
    if stream is None or not isinstance(events, list | tuple) or not events:
        return None
    event = events[0]
    if not isinstance(event, dict) or event.get("type") != CHAT_MESSAGE:
        return None
    data = event.get("data")
    found = data.get("messageId") if isinstance(data, dict) else None
    return found if isinstance(found, str) else None


INSERT_ROW = (
    "INSERT INTO log (record_id, at, command, outcome, user_id, trip_id, stream, version,"
    " idempotency_key, message_id, session_id, error_code, schema_version, events, body)"
    " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)"
)


def log_row(record: LogRecord, body: dict[str, JSON]) -> tuple[Any, ...]:
    """A record's row for ``INSERT_ROW`` (the layout this code writes), ``body`` its stored document."""
    return (
        record.record_id,
        record.at,
        record.command,
        record.outcome,
        record.user_id,
        record.trip_id,
        record.stream,
        record.version,
        record.idempotency_key,
        _message_id(record.stream if record.version is not None else None, record.events),
        *_split(body),
    )


def _not_in(column: str, count: int) -> str:
    """The SQL condition leaving out ``count`` values of ``column`` (nothing when there are none)."""
    return f" AND {column} NOT IN ({', '.join('?' * count)})" if count else ""


def _document(position: int, body: bytes, events: bytes | None) -> dict[str, JSON]:
    document: dict[str, JSON] = orjson.loads(body)
    if events is not None:  # else a row not split yet: its events are in the body
        document["events"] = orjson.loads(events)
    document["position"] = position
    return document


def _record(position: int, body: bytes, events: bytes | None) -> LogRecord:
    return from_document(_document(position, body, events))


def _slim(row: tuple[Any, ...]) -> SlimRecord:
    """A ``SlimRecord`` from a row of ``_SLIM_COLUMNS`` (the slow cases: not split yet, or events to lift)."""
    if row[12] is not None:
        return slim_from_document(_document(row[0], row[12], None))
    return slim_record((*row[:11], orjson.loads(row[11])))


def _save_snapshot(connection: Callable[[], sqlite3.Connection], snapshot: TripSnapshot) -> None:
    conn = connection()
    conn.execute("BEGIN IMMEDIATE")
    try:
        newest = conn.execute("SELECT MAX(version) FROM snapshots WHERE stream = ?", (snapshot.stream,)).fetchone()[0]
        if newest is None or newest < snapshot.version:
            conn.execute(
                "INSERT INTO snapshots (stream, version, schema, state) VALUES (?,?,?,?)",
                (snapshot.stream, snapshot.version, snapshot.schema, orjson.dumps(snapshot.state)),
            )
            conn.execute("DELETE FROM snapshots WHERE stream = ? AND version < ?", (snapshot.stream, snapshot.version))
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise


_Query = tuple[str, tuple[Any, ...]]  # SQL and its parameters
_Read = TypeVar("_Read", LogRecord, SlimRecord)


def _stream_query(columns: str, stream: str, after_version: int, limit: int | None) -> _Query:
    sql = f"SELECT {columns} FROM log WHERE stream = ? AND version > ? ORDER BY version"
    params: tuple[Any, ...] = (stream, after_version)
    if limit is not None:
        sql += " LIMIT ?"
        params += (limit,)
    return sql, params


_FILTER_CLAUSES = (("trip_id", "trip_id = ?"), ("user_id", "user_id = ?"), ("since", "at >= ?"), ("until", "at < ?"))


def _all_query(columns: str, after_position: int, limit: int, where: RecordFilter | None) -> _Query:
    clauses = ["position > ?"]
    params: list[Any] = [after_position]
    commands: tuple[str, ...] = ()
    if where is not None:
        for field, clause in _FILTER_CLAUSES:
            value = getattr(where, field)
            if value is not None:
                clauses.append(clause)
                params.append(value)
        if where.commands is not None:
            commands = where.commands
    if len(commands) > 1:
        # `command IN (...)` makes SQLite gather every later match and sort it, for each page; one
        # (command, position) index range per command, each cut at `limit`, reads a page's worth only
        branch = (
            f"SELECT * FROM (SELECT position FROM log WHERE command = ? AND {' AND '.join(clauses)}"
            " ORDER BY position LIMIT ?)"
        )
        sql = (
            f"SELECT {columns} FROM log WHERE position IN"
            f" ({' UNION ALL '.join([branch] * len(commands))} ORDER BY 1 LIMIT ?) ORDER BY position"
        )
        params = [value for command in commands for value in (command, *params, limit)] + [limit]
    else:
        if commands:
            clauses.append("command = ?")
            params.append(commands[0])
        sql = f"SELECT {columns} FROM log WHERE {' AND '.join(clauses)} ORDER BY position LIMIT ?"
        params.append(limit)
    return sql, tuple(params)


STEADY = 0.002  # a commit starting this soon after the previous one ended: the node is under steady load
FOLLOW_MAX = 0.005  # how long a commit follows a loop that keeps queueing appends
BUSY_ITERATION = 0.0005  # a loop iteration at least this long: the loop is busy deciding commands


# Pages each connection keeps (SQLite's default: 2,000 KiB).  A node's memory outside its trip cache:
# the reader and the writer each filled theirs (bench/RESULTS.md, S12); the system's file cache
# holds the log's pages anyway, and a page from there costs microseconds.
PAGE_CACHE_KIB = 512


class SqliteEventStore:
    """Group commit, with company gathered under steady load.

    A commit costs this process ~200 µs of CPU whatever its size (the hand-over
    to the writer thread, the WAL frames, the fsync).  Under steady load (the
    previous commit ended less than ``steady`` seconds ago) the next one first
    follows the event loop while each of its iterations is long (``BUSY_ITERATION``)
    and queues more appends (the frames read meanwhile): a busy node then commits
    what it decided in one go instead of a few appends at a time, and adds no idle
    time.  After a pause, or as soon as an iteration is short or queues nothing,
    it commits at once.
    """

    fold_page = 200  # a query costs tens of microseconds; 200 slim records stay in a core's cache
    # one reader thread: a page asked for during a fold of ~3,300 records waited ~10 ms behind its reads
    # of 200 (decoding with the GIL held), ~1.5 ms behind reads of 50; the fold costs the same CPU
    # (bench/RESULTS.md, S16)
    stream_page = 50

    def __init__(
        self,
        path: str,
        *,
        busy_timeout_ms: int = 10_000,
        synchronous: str = "FULL",
        steady: float = STEADY,
        follow_max: float = FOLLOW_MAX,
        read_only: bool = False,
    ) -> None:
        self._path = path
        self._read_only = read_only
        self._busy_timeout_ms = busy_timeout_ms
        self._synchronous = synchronous
        self._steady = steady
        self._follow_max = follow_max
        self._committed_at = 0.0
        self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite-writer")
        self._reader = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite-reader")
        self._local = threading.local()
        self._pending: list[Pending] = []
        self._flushing: asyncio.Task[None] | None = None
        self._closed = False
        self._chains = Chains()  # used by the writer thread only

    # connections live in their executor's thread
    def _connection(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None and self._read_only:
            conn = self._read_only_connection()
            self._local.conn = conn
        if conn is None:
            if self._path != ":memory:":
                Path(self._path).parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(self._path, timeout=self._busy_timeout_ms / 1000, isolation_level=None)
            conn.execute(f"PRAGMA busy_timeout={int(self._busy_timeout_ms)}")
            self._into_wal(conn)
            conn.execute(f"PRAGMA synchronous={self._synchronous}")
            conn.execute(f"PRAGMA cache_size=-{PAGE_CACHE_KIB}")
            self._local.conn = conn
        return conn

    def _read_only_connection(self) -> sqlite3.Connection:
        """``mode=ro``: SQLite neither creates the file nor writes it (no WAL switch, no migration)."""
        path = Path(self._path)
        if not path.is_file():
            raise StoreMissing(f"no such file: {self._path}")
        uri = f"{path.resolve().as_uri()}?mode=ro"
        conn = sqlite3.connect(uri, uri=True, timeout=self._busy_timeout_ms / 1000, isolation_level=None)
        conn.execute(f"PRAGMA busy_timeout={int(self._busy_timeout_ms)}")
        conn.execute(f"PRAGMA cache_size=-{PAGE_CACHE_KIB}")
        return conn

    def _into_wal(self, conn: sqlite3.Connection) -> None:
        into_wal(conn, self._busy_timeout_ms / 1000)

    async def _run(self, pool: ThreadPoolExecutor, fn: Any, *args: Any) -> Any:
        if self._closed:
            raise StoreUnavailable("the store is closed")
        try:
            return await asyncio.get_running_loop().run_in_executor(pool, fn, *args)
        except sqlite3.OperationalError as exc:
            raise StoreUnavailable(str(exc)) from exc
        except sqlite3.DatabaseError as exc:
            raise StoreError(str(exc)) from exc

    async def open(self) -> None:
        if self._read_only:
            await self._run(self._reader, self._check_schema)
            return
        await self._run(self._writer, self._migrate)

    def _check_schema(self) -> None:
        """A read-only store must already have this code's schema: it cannot be upgraded here."""
        conn = self._connection()
        current = conn.execute("PRAGMA user_version").fetchone()[0]
        has_log = conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'log'").fetchone()
        if not has_log:
            raise StoreMissing(f"{self._path} is not an event log (it has no log table)")
        if current < len(_SCHEMA):
            raise SchemaMismatch(
                f"{self._path} has schema version {current}, this code reads version {len(_SCHEMA)}:"
                " run `python app.py migrate` on it (or a copy of it) first"
            )
        if current > len(_SCHEMA):
            raise SchemaMismatch(
                f"{self._path} has schema version {current}, newer than this code's {len(_SCHEMA)}: use a newer release"
            )

    def schema_status(self) -> tuple[int, int, int]:
        """(the file's schema version, this code's, rows not split yet); blocking, for ``migrate --status``."""
        conn = self._connection()
        current = int(conn.execute("PRAGMA user_version").fetchone()[0])
        unsplit = 0
        if current >= 2:
            unsplit = int(conn.execute("SELECT COUNT(*) FROM log WHERE events IS NULL").fetchone()[0])
        return current, len(_SCHEMA), unsplit

    async def status(self) -> tuple[int, int, int]:
        result: tuple[int, int, int] = await self._run(self._reader, self.schema_status)
        return result

    def _migrate(self) -> None:
        conn = self._connection()
        conn.execute("BEGIN IMMEDIATE")
        try:
            current = conn.execute("PRAGMA user_version").fetchone()[0]
            for number, ddl in enumerate(_SCHEMA, start=1):
                if number > current:
                    for statement in ddl.split(";"):
                        if statement.strip():
                            conn.execute(statement)
                    conn.execute(f"PRAGMA user_version={number}")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        while self._split_rows(conn, SPLIT_BATCH):
            pass

    @staticmethod
    def _split_rows(conn: sqlite3.Connection, limit: int) -> int:
        """Split up to ``limit`` rows that hold their events in ``body``; returns how many it did."""
        conn.execute("BEGIN IMMEDIATE")
        try:
            rows = conn.execute(
                "SELECT position, stream, version, body FROM log WHERE events IS NULL ORDER BY position LIMIT ?",
                (limit,),
            ).fetchall()
            updates = []
            notices: list[tuple[str, int]] = []
            for position, stream, version, body in rows:
                document = orjson.loads(body)
                events = document.get("events") or []
                chat = _message_id(stream if version is not None else None, events)
                notices.extend((user, position) for user in recipients(events))
                updates.append((*_split(document), chat, position))
            conn.executemany(
                "UPDATE log SET session_id = ?, error_code = ?, schema_version = ?, events = ?, body = ?,"
                " message_id = ? WHERE position = ?",
                updates,
            )
            conn.executemany("INSERT OR IGNORE INTO notices (user_id, position) VALUES (?, ?)", notices)
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        return len(rows)

    # appends ---------------------------------------------------------------

    async def append(self, record: LogRecord) -> LogRecord:
        return await self.enqueue(record)

    def enqueue(self, record: LogRecord) -> asyncio.Future[LogRecord]:
        """Queue an append; the future resolves once its batch has committed.

        Appends are written in the order they are queued.  When a stream record
        fails (its version was taken, its idempotency key was used, or its batch
        failed), every record of the same stream queued behind it fails too,
        unwritten, with ``VersionConflict``: it may have been decided on the failed
        one.  So the pipeline may decide a stream's next command before the
        previous one is durable (``service/pipeline.py``).
        """
        future: asyncio.Future[LogRecord] = asyncio.get_running_loop().create_future()
        self._pending.append(Pending(record, future))
        if self._flushing is None or self._flushing.done():
            self._flushing = asyncio.ensure_future(self._flush())
        return future

    async def _flush(self) -> None:
        loop = asyncio.get_running_loop()
        while self._pending:
            await self._gather(loop)
            batch, self._pending = self._pending[:MAX_BATCH], self._pending[MAX_BATCH:]
            try:
                outcomes = await self._run(self._writer, self._insert_batch, [p.record for p in batch])
            except Exception as exc:  # the whole batch failed: nothing was written
                for pending in batch:
                    if not pending.future.done():
                        pending.future.set_exception(exc)
                self._pending = fail_successors(
                    self._pending, {p.record.stream or "" for p in batch if in_stream(p.record)}
                )
                continue
            finally:
                self._committed_at = loop.time()
            broken: set[str] = set()
            for pending, outcome in zip(batch, outcomes, strict=True):
                if isinstance(outcome, Exception) and in_stream(pending.record):
                    broken.add(pending.record.stream or "")
                if pending.future.done():
                    continue
                if isinstance(outcome, Exception):
                    pending.future.set_exception(outcome)
                else:
                    pending.future.set_result(outcome)
            if broken:
                self._pending = fail_successors(self._pending, broken)

    async def _gather(self, loop: asyncio.AbstractEventLoop) -> None:
        """Under steady load, wait while the event loop keeps queueing appends (see the class)."""
        now = loop.time()
        if now >= self._committed_at + self._steady:
            return
        until = now + self._follow_max
        while len(self._pending) < MAX_BATCH and now < until:
            queued, before = len(self._pending), now
            await asyncio.sleep(0)  # one loop iteration: the frames read meanwhile queue their appends
            now = loop.time()
            if len(self._pending) == queued or now - before < BUSY_ITERATION:
                return  # nothing more came, or the loop is not that busy: waiting would only idle

    def _insert_batch(self, records: list[LogRecord]) -> list[LogRecord | Exception]:
        conn = self._connection()
        conn.execute("BEGIN IMMEDIATE")
        chain = self._chains.batch()
        cursor = conn.cursor()  # one for the batch's statements, not one per statement
        outcomes: list[LogRecord | Exception] = []
        broken: set[str] = set()  # streams with a failed record earlier in this batch
        try:
            for record in records:
                if record.stream in broken and in_stream(record):
                    outcomes.append(VersionConflict(record.stream or "", record.version or 0))
                    continue
                outcome = self._insert_one(cursor, chain, record)
                if isinstance(outcome, Exception) and in_stream(record):
                    broken.add(record.stream or "")
                outcomes.append(outcome)
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        chain.commit(outcome for outcome in outcomes if isinstance(outcome, LogRecord))
        return outcomes

    @staticmethod
    def _stream_hash(cursor: sqlite3.Cursor, key: StreamKey) -> str | None:
        row = cursor.execute(f"SELECT {_COLUMNS} FROM log WHERE stream = ? AND version = ?", key).fetchone()
        return link_hash(_record(*row)) if row else None

    def _insert_one(self, cursor: sqlite3.Cursor, chain: ChainBatch, record: LogRecord) -> LogRecord | Exception:
        needed = chain.predecessor(record)
        extra, body = chain.links(record, {needed: self._stream_hash(cursor, needed)} if needed else None)
        try:
            # the row's columns are the record's as queued (its links are in ``body``)
            cursor.execute(INSERT_ROW, log_row(record, body))
        except sqlite3.IntegrityError as exc:
            text = str(exc)
            if "log.stream" in text or "log.version" in text:
                return VersionConflict(record.stream or "", record.version or 0)
            if "idempotency_key" in text:
                return DuplicateCommand(record.idempotency_key or "")
            return StoreError(text)
        position = cursor.lastrowid
        assert position is not None
        for user in recipients(record.events):
            cursor.execute("INSERT INTO notices (user_id, position) VALUES (?, ?)", (user, position))
        stored = record.but(extra=extra, stored_events=None, position=position)  # one copy per append
        chain.advance(stored)
        return stored

    # reads -----------------------------------------------------------------

    def _select(self, sql: str, params: tuple[Any, ...]) -> list[LogRecord]:
        return [_record(*row) for row in self._connection().execute(sql, params).fetchall()]

    def _select_slim(self, sql: str, params: tuple[Any, ...]) -> list[SlimRecord]:
        rows = self._connection().execute(sql, params).fetchall()
        loads, new, current = orjson.loads, tuple.__new__, SCHEMA_VERSION
        return [
            new(SlimRecord, (*row[:11], loads(row[11]))) if row[12] is None and row[10] >= current else _slim(row)
            for row in rows
        ]

    async def _read(self, select: Callable[[str, tuple[Any, ...]], list[_Read]], query: _Query) -> list[_Read]:
        result: list[_Read] = await self._run(self._reader, select, *query)
        return result

    async def read_stream(self, stream: str, after_version: int = 0, limit: int | None = None) -> list[LogRecord]:
        return await self._read(self._select, _stream_query(_COLUMNS, stream, after_version, limit))

    async def read_stream_slim(self, stream: str, after_version: int = 0, limit: int | None = None) -> list[SlimRecord]:
        return await self._read(self._select_slim, _stream_query(_SLIM_COLUMNS, stream, after_version, limit))

    async def stream_version(self, stream: str) -> int:
        def head() -> int:
            row = self._connection().execute("SELECT MAX(version) FROM log WHERE stream = ?", (stream,)).fetchone()
            return int(row[0] or 0)

        result: int = await self._run(self._reader, head)
        return result

    async def read_all(
        self, after_position: int = 0, limit: int = 1000, where: RecordFilter | None = None
    ) -> list[LogRecord]:
        return await self._read(self._select, _all_query(_COLUMNS, after_position, limit, where))

    async def read_all_slim(
        self, after_position: int = 0, limit: int = 1000, where: RecordFilter | None = None
    ) -> list[SlimRecord]:
        return await self._read(self._select_slim, _all_query(_SLIM_COLUMNS, after_position, limit, where))

    async def head_position(self) -> int:
        """The highest position in the log (0 when empty): how far a full read goes."""

        def head() -> int:
            return int(self._connection().execute("SELECT MAX(position) FROM log").fetchone()[0] or 0)

        result: int = await self._run(self._reader, head)
        return result

    async def find_by_idempotency_key(self, key: str) -> LogRecord | None:
        found = await self._run(
            self._reader, self._select, f"SELECT {_COLUMNS} FROM log WHERE idempotency_key = ?", (key,)
        )
        return found[0] if found else None

    async def read_chat_page(self, stream: str, limit: int, before: str | None = None) -> list[LogRecord] | None:
        def page() -> list[LogRecord] | None:
            conn = self._connection()
            below = None
            if before is not None:
                row = conn.execute(
                    "SELECT version FROM log WHERE message_id = ? AND stream = ?", (before, stream)
                ).fetchone()
                if row is None:
                    return None
                below = row[0]
            sql = f"SELECT {_COLUMNS} FROM log WHERE stream = ? AND message_id IS NOT NULL"
            params: tuple[Any, ...] = (stream,)
            if below is not None:
                sql += " AND version < ?"
                params += (below,)
            rows = conn.execute(f"{sql} ORDER BY version DESC LIMIT ?", (*params, limit)).fetchall()
            return [_record(*row) for row in reversed(rows)]

        result: list[LogRecord] | None = await self._run(self._reader, page)
        return result

    async def find_chat_message(self, stream: str, message_id: str) -> LogRecord | None:
        found = await self._run(
            self._reader,
            self._select,
            f"SELECT {_COLUMNS} FROM log WHERE message_id = ? AND stream = ?",
            (message_id, stream),
        )
        return found[0] if found else None

    async def count_chat_messages(
        self, stream: str, after_version: int, not_by: str, limit: int, excluding: Collection[str] = ()
    ) -> int:
        left_out = tuple(excluding)
        sql = (
            "SELECT COUNT(*) FROM (SELECT 1 FROM log WHERE stream = ? AND message_id IS NOT NULL"
            f" AND version > ? AND user_id IS NOT ?{_not_in('message_id', len(left_out))} LIMIT ?)"
        )

        def count() -> int:
            row = self._connection().execute(sql, (stream, after_version, not_by, *left_out, limit)).fetchone()
            return int(row[0])

        result: int = await self._run(self._reader, count)
        return result

    async def read_notifications(self, user_id: str, after_position: int = 0, limit: int = 1000) -> list[SlimRecord]:
        sql = (
            f"SELECT {_SLIM_COLUMNS} FROM log WHERE position IN"
            " (SELECT position FROM notices WHERE user_id = ? AND position > ? ORDER BY position LIMIT ?)"
            " ORDER BY position"
        )
        return await self._read(self._select_slim, (sql, (user_id, after_position, limit)))

    async def save_snapshot(self, snapshot: TripSnapshot) -> None:
        await self._run(self._writer, _save_snapshot, self._connection, snapshot)

    async def load_snapshot(self, stream: str, schema: str) -> TripSnapshot | None:
        def load() -> TripSnapshot | None:
            row = (
                self._connection()
                .execute(
                    "SELECT version, state FROM snapshots WHERE stream = ? AND schema = ?"
                    " ORDER BY version DESC LIMIT 1",
                    (stream, schema),
                )
                .fetchone()
            )
            return TripSnapshot(stream, row[0], schema, orjson.loads(row[1])) if row else None

        result: TripSnapshot | None = await self._run(self._reader, load)
        return result

    async def read_snapshots(self, after_stream: str = "", limit: int = 1000) -> list[TripSnapshot]:
        def read() -> list[TripSnapshot]:
            rows = (
                self._connection()
                .execute(
                    "SELECT stream, MAX(version), schema, state FROM snapshots WHERE stream > ?"
                    " GROUP BY stream ORDER BY stream LIMIT ?",
                    (after_stream, limit),
                )
                .fetchall()
            )
            return [
                TripSnapshot(stream, version, schema, orjson.loads(state)) for stream, version, schema, state in rows
            ]

        result: list[TripSnapshot] = await self._run(self._reader, read)
        return result

    async def ping(self) -> None:
        await self._run(self._reader, lambda: self._connection().execute("SELECT 1").fetchone())

    async def close(self) -> None:
        if self._flushing is not None:
            await asyncio.shield(self._flushing)
        self._closed = True
        for pool in (self._writer, self._reader):
            pool.submit(self._close_connection).result()
            pool.shutdown(wait=True)

    def _close_connection(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None
