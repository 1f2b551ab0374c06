from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.server import Client, ServerProcess, object_id, token


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ServerProcess]:
    """A fresh server process on a fresh embedded store."""
    proc = ServerProcess(f"sqlite:///{tmp_path}/events.db").start(tmp_path)
    try:
        yield proc
    finally:
        proc.stop()


@pytest.fixture
def start(tmp_path: Path) -> Iterator[Callable[..., ServerProcess]]:
    """``start(*flags, env=...)`` runs a server; every one is stopped by pid afterwards."""
    started: list[ServerProcess] = []

    def run(*args: str, env: dict[str, str] | None = None) -> ServerProcess:
        # clients the test leaves open never answer the 1001 close: do not wait long for them
        flags = ["--shutdown-grace", "1", *args]
        server = ServerProcess(f"sqlite:///{tmp_path}/events-{len(started)}.db", args=flags, env=env)
        started.append(server)
        return server.start(tmp_path)

    try:
        yield run
    finally:
        for server in started:
            server.stop()


@pytest.fixture
def two_nodes(tmp_path: Path, redis_url: str, prefix: str) -> Iterator[tuple[ServerProcess, ServerProcess]]:
    """Two nodes on one store and one Redis, as behind a round-robin balancer."""
    store = f"sqlite:///{tmp_path}/events.db"
    pair = [
        ServerProcess(store, args=["--redis", redis_url, "--redis-prefix", prefix, "--node-id", name])
        for name in ("node-a", "node-b")
    ]
    try:
        for node in pair:
            node.start(tmp_path, wait=False)
        for node in pair:
            node.wait_ready()
        yield pair[0], pair[1]
    finally:
        for node in pair:
            node.stop()


@pytest.fixture(scope="module")
def shared_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """One server for a module whose tests each make their own trips and users."""
    directory = tmp_path_factory.mktemp("shared")
    proc = ServerProcess(f"sqlite:///{directory}/events.db", args=["--typing-clear", "0.5"]).start(directory)
    try:
        yield proc
    finally:
        proc.stop()


_users = itertools.count(0x100)


class People:
    """Fresh user ids (and their tokens) for one test."""

    def __init__(self) -> None:
        self.ids: dict[str, str] = {}

    def id(self, name: str) -> str:
        if name not in self.ids:
            self.ids[name] = object_id(next(_users) * 7919)
        return self.ids[name]

    def token(self, name: str, **claims: Any) -> str:
        return token(self.id(name), name=name.capitalize(), **claims)


@pytest.fixture
def people() -> People:
    return People()


def make_trip(server: ServerProcess, people: People, owner: str, *collaborators: str, **body: Any) -> dict[str, Any]:
    status, trip = server.request(
        "POST",
        "/api/trips",
        body={"title": "Lisbon", "collaborators": [people.id(c) for c in collaborators], **body},
        bearer=people.token(owner),
    )
    assert status == 201, trip
    return trip


async def in_room(server: ServerProcess, people: People, trip: dict[str, Any], *names: str) -> list[Client]:
    """A connected client per name, each in the trip's room with its snapshot read."""
    clients = []
    for name in names:
        client = await Client.connect(server, people.token(name))
        await client.request("join_trip_room", {"tripId": trip["tripId"]}, f"join-{name}", "trip_room_joined")
        await client.expect("trip_updated")  # the snapshot
        clients.append(client)
    return clients


async def close_all(*clients: Client) -> None:
    for client in clients:
        await client.close()
