"""Applies the pending migrations to a database and records them in the ledger.

The ledger is the ``migrations`` collection: one document per applied
migration, ``{_id: name, appliedAt: datetime}``.  ``appliedAt`` is for people
reading the ledger; nothing orders by it.  Two processes migrating at once both
run the (idempotent) migration; the second ledger insert fails on ``_id`` and
is taken as "someone else recorded it".
"""

from __future__ import annotations

import importlib
import pkgutil
import re
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, cast

from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from eventlog import migrations

LEDGER = "migrations"
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


async def migrate(db: Database) -> list[str]:
    """Apply what is pending; returns the names this call applied and recorded."""
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
