"""Signing in without pasted tokens: the dev secret kept across restarts, the dev
person picker, people listed by name, and single-use WebSocket tickets."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
import websockets

from tests.server import Client, ServerProcess, object_id, token

ADA = "650000000000000000000001"


def dev_server(directory: Path) -> ServerProcess:
    # no JWT_SECRET: the --dev node signs with the secret it keeps beside its store
    return ServerProcess(f"sqlite:///{directory}/events.db", args=["--dev"], env={"JWT_SECRET": ""})


def test_a_dev_restart_signs_nobody_out(tmp_path: Path) -> None:
    first = dev_server(tmp_path).start(tmp_path)
    try:
        status, people = first.request("GET", "/api/dev/sign-in")
        assert status == 200 and {"userId": ADA, "name": "Ada"} in people["people"]
        status, signed = first.request("POST", "/api/dev/sign-in", body={"userId": ADA})
        assert status == 200 and signed["name"] == "Ada", signed
    finally:
        assert first.stop() == 0
    secret = tmp_path / "dev-secret"
    assert stat.S_IMODE(secret.stat().st_mode) == 0o600

    second = dev_server(tmp_path)
    second.port = first.port
    second.start(tmp_path)
    try:
        status, body = second.request("GET", "/api/people", bearer=signed["token"])
        assert status == 200, body
        assert [p["name"] for p in body["people"]] == ["Ada", "Admin", "Grace", "Katherine", "Linus"]
    finally:
        second.stop()


def test_dev_sign_in_is_not_served_without_dev_and_refuses_strangers(shared_server: ServerProcess) -> None:
    status, body = shared_server.request("POST", "/api/dev/sign-in", body={"userId": ADA})
    assert status == 404 and body["error"]["code"] == "NOT_FOUND"
    status, _ = shared_server.request("GET", "/api/people")
    assert status == 401


def test_dev_sign_in_takes_only_a_demo_person(tmp_path: Path) -> None:
    server = dev_server(tmp_path).start(tmp_path)
    try:
        status, body = server.request("POST", "/api/dev/sign-in", body={"userId": object_id(7)})
        assert status == 400 and body["error"]["details"] == {"userId": ["must be a demo person"]}
        status, body = server.request("POST", "/api/dev/sign-in", body={"userId": ADA, "role": "admin"})
        assert status == 400 and "role" in body["error"]["details"]
    finally:
        server.stop()


async def test_a_ticket_opens_the_socket_once_and_names_its_buyer(shared_server: ServerProcess) -> None:
    user = object_id(0x71C)
    bearer = token(user, name="Tomás")
    status, issued = shared_server.request("POST", "/api/realtime/tickets", bearer=bearer)
    assert status == 201 and issued["expiresIn"] == 30, issued
    ws = await websockets.connect(f"{shared_server.ws_base}/ws?ticket={issued['ticket']}")
    client = Client(ws)
    connected = await client.next_frame()
    assert connected["event"] == "connected" and connected["data"]["userId"] == user
    await client.close()

    with pytest.raises(websockets.InvalidStatus) as refused:
        await websockets.connect(f"{shared_server.ws_base}/ws?ticket={issued['ticket']}")
    assert refused.value.response.status_code == 401

    status, listed = shared_server.request("GET", "/api/people", bearer=token(object_id(0x71D)))
    assert status == 200 and {"userId": user, "name": "Tomás"} in listed["people"]
