"""Session records in SQLite (the ``SessionRecords`` port of ``eventlog/session_port.py``).

A file of their own beside the log's (``events.db`` -> ``events-sessions.db``), so
that writing them never holds the log's write lock; WAL mode, shared by every
node on the machine like the log.  Calls run in one thread of their own.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import orjson

from eventlog.ports import StoreUnavailable
from eventlog.session_port import CONNECTED, DISCONNECTED, SessionQuery, SessionRecord
from eventlog.sqlite_wal import into_wal

T = TypeVar("T")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS sessions (
    session_id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL,
    node TEXT NOT NULL,
    connection_time TEXT NOT NULL,
    last_activity TEXT NOT NULL,
    ip TEXT NOT NULL,
    user_agent TEXT NOT NULL,
    rooms TEXT NOT NULL,
    status TEXT NOT NULL,
    disconnected_at TEXT,
    close_code INTEGER,
    position INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS sessions_time ON sessions(connection_time, session_id);
CREATE INDEX IF NOT EXISTS sessions_user ON sessions(user_id, connection_time, session_id);
CREATE INDEX IF NOT EXISTS sessions_status ON sessions(status, node);
CREATE TABLE IF NOT EXISTS session_counts (day TEXT PRIMARY KEY, sessions INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS presence_choices (
    user_id TEXT PRIMARY KEY, hidden INTEGER NOT NULL, position INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS leases (name TEXT PRIMARY KEY, holder TEXT NOT NULL, until TEXT NOT NULL);
"""

_COLUMNS = (
    "session_id, user_id, node, connection_time, last_activity, ip, user_agent, rooms, status,"
    " disconnected_at, close_code, position"
)


def sessions_path(log_path: str) -> str:
    path = Path(log_path)
    return str(path.with_name(f"{path.stem}-sessions{path.suffix or '.db'}"))


# what a known session's save sets: not its user, connection time, ip or user agent (``SessionRecords.save``);
# SQLite rewrites an index's entry for every column set, changed or not (~25 % of a storm's saves)
_UPSERT = (
    f"INSERT INTO sessions ({_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)"
    " ON CONFLICT(session_id) DO UPDATE SET node=excluded.node, last_activity=excluded.last_activity,"
    " rooms=excluded.rooms, status=excluded.status, disconnected_at=excluded.disconnected_at,"
    " close_code=excluded.close_code, position=excluded.position"
    " WHERE excluded.position > sessions.position"
)


def _record(row: tuple[Any, ...]) -> SessionRecord:
    return SessionRecord(
        session_id=row[0],
        user_id=row[1],
        node=row[2],
        connection_time=row[3],
        last_activity=row[4],
        ip=row[5],
        user_agent=row[6],
        rooms=tuple(orjson.loads(row[7])),
        status=row[8],
        disconnected_at=row[9],
        close_code=row[10],
        position=row[11],
    )


class SqliteSessionRecords:
    def __init__(self, path: str) -> None:
        self._path = path
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="sqlite-sessions")
        self._db: sqlite3.Connection | None = None

    async def _run(self, work: Callable[[sqlite3.Connection], T]) -> T:
        def call() -> T:
            db = self._db
            if db is None:
                raise StoreUnavailable("the session records are closed")
            try:
                with db:
                    return work(db)
            except sqlite3.OperationalError as exc:
                raise StoreUnavailable(f"the session records are unavailable: {exc}") from exc

        return await asyncio.get_running_loop().run_in_executor(self._executor, call)

    async def open(self) -> None:
        def connect() -> None:
            Path(self._path).parent.mkdir(parents=True, exist_ok=True)
            db = sqlite3.connect(self._path, timeout=5.0, check_same_thread=False, isolation_level=None)
            into_wal(db, 5.0)
            db.execute("PRAGMA synchronous=NORMAL")
            db.executescript(_SCHEMA)
            db.isolation_level = "DEFERRED"  # ``with db`` commits
            self._db = db

        await asyncio.get_running_loop().run_in_executor(self._executor, connect)

    async def save(self, session: SessionRecord) -> None:
        await self.save_many((session,))

    async def save_many(self, sessions: Sequence[SessionRecord]) -> None:
        rows = [
            (
                s.session_id,
                s.user_id,
                s.node,
                s.connection_time,
                s.last_activity,
                s.ip,
                s.user_agent,
                orjson.dumps(list(s.rooms)).decode(),
                s.status,
                s.disconnected_at,
                s.close_code,
                s.position,
            )
            for s in sessions
        ]
        if rows:
            await self._run(lambda db: db.executemany(_UPSERT, rows))

    async def touch(self, session_id: str, at: str) -> None:
        await self._run(
            lambda db: db.execute(
                "UPDATE sessions SET last_activity = ? WHERE session_id = ? AND last_activity < ?",
                (at, session_id, at),
            )
        )

    async def get(self, session_id: str) -> SessionRecord | None:
        row = await self._run(
            lambda db: db.execute(f"SELECT {_COLUMNS} FROM sessions WHERE session_id = ?", (session_id,)).fetchone()
        )
        return None if row is None else _record(row)

    async def find(self, query: SessionQuery) -> list[SessionRecord]:
        where: list[str] = []
        args: list[Any] = []
        if query.user_id is not None:
            where.append("user_id = ?")
            args.append(query.user_id)
        if query.status is not None:
            where.append("status = ?")
            args.append(query.status)
        if query.since is not None:
            where.append("connection_time >= ?")
            args.append(query.since)
        if query.until is not None:
            where.append("connection_time < ?")
            args.append(query.until)
        if query.after is not None:
            where.append("(connection_time, session_id) > (?, ?)")
            args.extend(query.after)
        sql = f"SELECT {_COLUMNS} FROM sessions"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY connection_time, session_id LIMIT ?"
        args.append(query.limit)
        rows = await self._run(lambda db: db.execute(sql, args).fetchall())
        return [_record(row) for row in rows]

    async def connected_nodes(self) -> set[str]:
        rows = await self._run(
            lambda db: db.execute("SELECT DISTINCT node FROM sessions WHERE status = ?", (CONNECTED,)).fetchall()
        )
        return {row[0] for row in rows}

    async def connected_on(self, node: str) -> list[SessionRecord]:
        rows = await self._run(
            lambda db: db.execute(
                f"SELECT {_COLUMNS} FROM sessions WHERE status = ? AND node = ? ORDER BY session_id",
                (CONNECTED, node),
            ).fetchall()
        )
        return [_record(row) for row in rows]

    async def blank_personal(self, before: str) -> int:
        def blank(db: sqlite3.Connection) -> int:
            cursor = db.execute(
                "UPDATE sessions SET ip = '', user_agent = ''"
                " WHERE connection_time < ? AND (ip != '' OR user_agent != '')",
                (before,),
            )
            return cursor.rowcount

        return await self._run(blank)

    async def compact(self, before: str) -> int:
        def compact(db: sqlite3.Connection) -> int:
            condition = "status = ? AND disconnected_at < ?"
            db.execute(
                "INSERT INTO session_counts (day, sessions) SELECT day, n FROM"
                f" (SELECT substr(connection_time, 1, 10) AS day, count(*) AS n FROM sessions WHERE {condition}"
                " GROUP BY day) WHERE true"
                " ON CONFLICT(day) DO UPDATE SET sessions = sessions + excluded.sessions",
                (DISCONNECTED, before),
            )
            return db.execute(f"DELETE FROM sessions WHERE {condition}", (DISCONNECTED, before)).rowcount

        return await self._run(compact)

    async def counts(self) -> dict[str, int]:
        rows = await self._run(
            lambda db: db.execute("SELECT day, sessions FROM session_counts ORDER BY day").fetchall()
        )
        return {day: count for day, count in rows}

    async def take_lease(self, name: str, holder: str, now: str, until: str) -> bool:
        def take(db: sqlite3.Connection) -> bool:
            db.execute(
                "INSERT INTO leases (name, holder, until) VALUES (?, ?, ?)"
                " ON CONFLICT(name) DO UPDATE SET holder = excluded.holder, until = excluded.until"
                " WHERE leases.until < ? OR leases.holder = excluded.holder",
                (name, holder, until, now),
            )
            row = db.execute("SELECT holder FROM leases WHERE name = ?", (name,)).fetchone()
            return row is not None and row[0] == holder

        return await self._run(take)

    async def save_hidden(self, user_id: str, hidden: bool, position: int) -> None:
        await self._run(
            lambda db: db.execute(
                "INSERT INTO presence_choices (user_id, hidden, position) VALUES (?, ?, ?)"
                " ON CONFLICT(user_id) DO UPDATE SET hidden = excluded.hidden, position = excluded.position"
                " WHERE excluded.position > presence_choices.position",
                (user_id, int(hidden), position),
            )
        )

    async def hidden(self, user_id: str) -> bool:
        row = await self._run(
            lambda db: db.execute("SELECT hidden FROM presence_choices WHERE user_id = ?", (user_id,)).fetchone()
        )
        return row is not None and bool(row[0])

    async def close(self) -> None:
        def shut() -> None:
            db, self._db = self._db, None
            if db is not None:
                db.close()

        await asyncio.get_running_loop().run_in_executor(self._executor, shut)
        self._executor.shutdown(wait=True)
