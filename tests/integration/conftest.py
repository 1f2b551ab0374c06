"""Fixtures shared by the service-layer tests."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from app import build
from config import Limits, Settings
from eventlog.factory import memory_key_store
from eventlog.memory_store import MemoryEventStore
from service.container import Services


@contextlib.asynccontextmanager
async def built_node(tmp_path: Path, limits: Limits | None = None) -> AsyncIterator[Services]:
    """A node as ``app.build`` wires it, on the in-memory store and bus, stopped on leaving."""
    # the log and the data keys in memory; the session records in a file of the test's own
    settings = Settings(jwt_secret="s" * 32, store_url=f"sqlite:///{tmp_path}/events.db", limits=limits or Limits())
    services = await build(settings, MemoryEventStore(), memory_key_store())
    try:
        yield services
    finally:
        for follower in services.followers:
            follower.cancel()
        await services.bus.close()
        await services.store.close()
        for closeable in services.closing:  # the session records' file, the key store
            await closeable.close()


@pytest.fixture
async def node(tmp_path: Path) -> AsyncIterator[Services]:
    async with built_node(tmp_path) as services:
        yield services
