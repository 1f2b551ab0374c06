"""Graceful shutdown: SIGTERM (or SIGINT) while clients are connected and chat
messages are being appended.  New handshakes stop, every client is told 1001,
the process exits 0 within the grace period, and every chat message a client
saw acknowledged is in the log afterwards.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import time
from pathlib import Path

import pytest
import websockets

from tests.e2e.wire import RawSocket, create_trip, handshake, stream
from tests.server import Client, ServerProcess, object_id, token

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(60)]

USERS = [object_id(n) for n in (1, 2, 3, 4)]
GRACE = 6.0


async def _chatter(client: Client, trip: str, name: str, acked: dict[str, str], stop: asyncio.Event) -> int | None:
    """Send chat messages back to back (several in flight at once) until the server
    closes; collect the acknowledged ones (own copies echoing the ref).  Returns the
    close code the server sent."""

    async def read() -> int | None:
        try:
            async for raw in client.ws:
                frame = json.loads(raw)
                ref = frame.get("ref") or ""
                if frame["event"] == "chat_message" and ref.startswith(name):
                    acked[ref] = frame["data"]["messageId"]
        except websockets.ConnectionClosed as closed:
            return closed.rcvd.code if closed.rcvd is not None else None
        code: int | None = client.ws.close_code
        return code

    reading = asyncio.ensure_future(read())
    n = 0
    with contextlib.suppress(websockets.ConnectionClosed):
        while not stop.is_set() and not reading.done():
            await client.send("chat_message", {"tripId": trip, "message": f"{name} {n}"}, f"{name}-{n}")
            n += 1
            if n % 5 == 0:
                await asyncio.sleep(0.005)
    return await asyncio.wait_for(reading, GRACE + 5)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
async def test_shutdown_tells_clients_1001_keeps_every_acknowledged_message_and_exits_0(
    tmp_path: Path, sig: signal.Signals
) -> None:
    store = f"sqlite:///{tmp_path}/events.db"
    server = ServerProcess(
        store, args=["--shutdown-grace", str(GRACE), "--rate-burst", "100000", "--rate-per-second", "100000"]
    ).start(tmp_path)
    try:
        assert server.proc is not None
        trip = create_trip(server, USERS[0], USERS[1:])
        clients = [await Client.connect(server, token(user)) for user in USERS]
        for client in clients:
            reply = await client.request("join_trip_room", {"tripId": trip}, "join", "trip_room_joined")
            assert reply["event"] == "trip_room_joined"
        acked: list[dict[str, str]] = [{} for _ in clients]
        stop = asyncio.Event()
        chatting = [asyncio.ensure_future(_chatter(c, trip, f"u{i}", acked[i], stop)) for i, c in enumerate(clients)]
        await asyncio.sleep(0.8)
        assert all(acked), "no traffic before the signal"
        began = time.monotonic()
        server.proc.send_signal(sig)
        await asyncio.sleep(0.2)
        with contextlib.suppress(ConnectionError, OSError):  # refused outright once the listener is closed
            assert handshake(server, {"token": token(USERS[0])}, timeout=2).status == 503
        codes = await asyncio.gather(*chatting)
        stop.set()
        returncode = await asyncio.to_thread(server.proc.wait, GRACE + 5)
        took = time.monotonic() - began
        assert codes == [1001] * len(clients), codes
        assert returncode == 0, server.read_log()[-2000:]
        print(f"{sig.name}: exit 0 after {took:.2f}s, {sum(len(m) for m in acked)} acknowledged")
        assert took < GRACE + 2, f"took {took:.1f}s to exit"
    finally:
        server.stop()

    # the log, read by a fresh process on the same store, holds every acknowledged message
    again = ServerProcess(store).start(tmp_path)
    try:
        logged = {e["data"]["messageId"] for e in stream(again, trip, USERS[0]) if e["type"] == "chat_message"}
        for i, mine in enumerate(acked):
            missing = set(mine.values()) - logged
            assert not missing, f"user {i}: {len(missing)} acknowledged messages are not in the log"
        assert sum(len(m) for m in acked) <= len(logged)
    finally:
        again.stop()


async def test_a_client_that_never_answers_the_close_does_not_hold_the_exit(tmp_path: Path) -> None:
    grace = 1.5
    server = ServerProcess(f"sqlite:///{tmp_path}/events.db", args=["--shutdown-grace", str(grace)]).start(tmp_path)
    deaf = RawSocket.connect(server, token(USERS[0]))
    polite = await Client.connect(server, token(USERS[1]))
    try:
        assert server.proc is not None
        began = time.monotonic()
        server.proc.send_signal(signal.SIGTERM)
        returncode = await asyncio.to_thread(server.proc.wait, grace + 5)
        took = time.monotonic() - began
        assert returncode == 0
        assert took < grace + 1.5, f"took {took:.1f}s with a grace of {grace}s"
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await polite.next_frame(2)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1001
        frames, _ = await asyncio.to_thread(deaf.frames, 2)
        assert RawSocket.close_code(frames) == 1001
    finally:
        deaf.close()
        server.stop()
