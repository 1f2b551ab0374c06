"""Applies the pending migrations to a database and records them in the ledger.

The ledger is the ``migrations`` collection: one document per applied
migration, ``{_id: name, appliedAt: datetime}``.  ``appliedAt`` is for people
reading the ledger; nothing orders by it.  Two processes migrating at once both
run the (idempotent) migration; the second ledger insert fails on ``_id`` and
is taken as "someone else recorded it".

Migrating also takes a lock (one document in ``migration_lock``), so that a
second process waits for the first to finish instead of running the same
``up`` alongside it; a lock older than ``LOCK_TTL`` (its holder died) is taken
over.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import pkgutil
import re
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from eventlog import migrations

LEDGER = "migrations"
LOCK = "migration_lock"
LOCK_TTL = timedelta(minutes=10)
LOCK_WAIT = 60.0  # seconds a second migrator waits before giving up
_NAME = re.compile(r"^m\d{4}_\w+$")

Database = AsyncDatabase[dict[str, Any]]
Migration = Callable[[Database], Awaitable[None]]


def available() -> list[tuple[str, Migration]]:
    """Every migration shipped with the code, in the order it must run."""
    names = sorted(info.name for info in pkgutil.iter_modules(migrations.__path__) if _NAME.match(info.name))
    return [(name, cast(Migration, importlib.import_module(f"eventlog.migrations.{name}").up)) for name in names]


async def applied(db: Database) -> set[str]:
    return {str(document["_id"]) async for document in db[LEDGER].find({}, {"_id": 1})}


async def pending(db: Database) -> list[str]:
    """The shipped migrations the ledger does not list yet."""
    done = await applied(db)
    return [name for name, _ in available() if name not in done]


class MigrationLocked(Exception):
    """Another process held the migration lock for longer than this one would wait."""


@contextlib.asynccontextmanager
async def locked(db: Database, wait: float = LOCK_WAIT) -> AsyncIterator[str]:
    """Hold the database's migration lock (its ``_id`` is unique: one holder at a time)."""
    owner = secrets.token_hex(8)
    deadline = asyncio.get_running_loop().time() + wait
    while True:
        now = datetime.now(UTC)
        await db[LOCK].delete_one({"_id": "migrate", "until": {"$lt": now}})  # a dead holder's lock
        try:
            await db[LOCK].insert_one({"_id": "migrate", "owner": owner, "since": now, "until": now + LOCK_TTL})
            break
        except DuplicateKeyError:
            if asyncio.get_running_loop().time() > deadline:
                holder = await db[LOCK].find_one({"_id": "migrate"})
                since = holder.get("since") if holder else None
                raise MigrationLocked(f"another process has been migrating this database since {since}") from None
            await asyncio.sleep(0.2)
    try:
        yield owner
    finally:
        await db[LOCK].delete_one({"_id": "migrate", "owner": owner})


async def migrate(db: Database, wait: float = LOCK_WAIT) -> list[str]:
    """Apply what is pending, under the migration lock; returns the names this call applied and recorded."""
    async with locked(db, wait):
        return await _apply(db)


async def _apply(db: Database) -> list[str]:
    done = await applied(db)
    ran: list[str] = []
    for name, up in available():
        if name in done:
            continue
        await up(db)
        try:
            await db[LEDGER].insert_one({"_id": name, "appliedAt": datetime.now(UTC)})
        except DuplicateKeyError:
            continue  # another process applied and recorded it meanwhile
        ran.append(name)
    return ran
