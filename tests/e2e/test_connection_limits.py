"""Connection management under load and faults, against real server processes:
heartbeat, idle timeout, connection and room caps, per-user connection-attempt
rate, inbound rate limits (4008), frame size, permessage-deflate, token expiry
(4001), slow readers (4009) and a flood that must not hurt the others.

Every limit is shortened through its flag, so each test runs in seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sqlite3
import threading
import time
from typing import Any

import pytest
import websockets
import websockets.sync.client

from tests.e2e.wire import RawSocket, audit, create_trip, handshake, json_frames, json_until, rss_kib, stream
from tests.server import Client, ServerProcess, object_id, token

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(60)]

OWNER, FRIEND, OTHER = object_id(1), object_id(2), object_id(3)


async def closed_with(client: Client, timeout: float) -> int | None:
    """Read until the server closes; the close code it sent."""
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            await asyncio.wait_for(client.ws.recv(), max(0.01, deadline - time.monotonic()))
    except websockets.ConnectionClosed as closed:
        return closed.rcvd.code if closed.rcvd is not None else None
    except TimeoutError:
        pytest.fail(f"not closed within {timeout}s")
    return None


async def joined(client: Client, trip_id: str, ref: str = "join") -> dict[str, Any]:
    reply = await client.request("join_trip_room", {"tripId": trip_id}, ref, "trip_room_joined")
    assert reply["event"] == "trip_room_joined", reply
    return reply


# heartbeat and idle --------------------------------------------------------------


async def test_a_client_that_stops_answering_pings_is_closed_and_cleaned_up(start: Any) -> None:
    interval, timeout = 0.5, 0.5
    server = start("--ping-interval", str(interval), "--ping-timeout", str(timeout), "--max-connections-per-user", "1")
    dead = RawSocket.connect(server, token(OWNER))  # never reads, never answers a ping
    try:
        began = time.monotonic()
        assert handshake(server, {"token": token(OWNER)}).status == 429  # its seat is taken
        alive = await Client.connect(server, token(FRIEND))  # answers pings: stays
        # Tornado closes after interval + timeout, then waits up to 5 s for a close
        # reply that never comes; only then is the socket gone and cleaned up.
        frames, ended = await asyncio.to_thread(dead.frames, interval + timeout + 5 + 3, until_close=False)
        took = time.monotonic() - began
        assert ended, "the silent client was never disconnected"
        assert took < interval + timeout + 5 + 3
        assert any(opcode == 0x9 for opcode, _ in frames), "the server never pinged"
        deadline = time.monotonic() + 3
        while handshake(server, {"token": token(OWNER)}).status != 101:  # its seat is free again
            assert time.monotonic() < deadline, "the dead connection was not cleaned up"
            await asyncio.sleep(0.1)
        assert await alive.request("join_trip_room", {"tripId": "0" * 24}, "still-there", "trip_room_joined")
        disconnects = audit(server, userId=OWNER, type="disconnect")
        assert disconnects, "no disconnect record for the dead client"
    finally:
        dead.close()


async def test_a_connection_whose_join_waits_is_not_timed_out_until_its_frames_are_read_again(start: Any) -> None:
    """Tornado reads a connection's pong only once its frame before is let go: a client whose
    join waits on this node (here: the log locked by another writer; in a join storm: ten
    thousand joins before it) is not dead, and is timed out only if no pong comes once read."""
    interval, timeout = 1.0, 0.5  # the join is read well before the first check (a loaded machine)
    server = start("--ping-interval", str(interval), "--ping-timeout", str(timeout), "--store-timeout", "20")
    trip = create_trip(server, OWNER)
    waiting = RawSocket.connect(server, token(OWNER))  # never answers a ping
    lock = sqlite3.connect(server.store_url.removeprefix("sqlite:///"), isolation_level=None, timeout=10)
    try:
        json_until(waiting, lambda frame: frame.get("event") == "connected", 5)
        lock.execute("BEGIN IMMEDIATE")  # the log takes no write: the join's record waits
        waiting.send_json("join_trip_room", {"tripId": trip}, "join")
        while_waiting, ended = waiting.frames(interval + 6 * timeout)  # six timeouts
        lock.execute("ROLLBACK")
        assert not ended and RawSocket.close_code(while_waiting) is None, "timed out while its join waited"
        assert any(opcode == 0x9 for opcode, _ in while_waiting), "the server never pinged"
        once_read, _ = waiting.frames(interval + timeout + 5)
        assert "trip_room_joined" in [frame["event"] for frame in json_frames(while_waiting + once_read)]
        assert RawSocket.close_code(once_read) == 1000, "still no pong once its frames were read: not timed out"
    finally:
        lock.close()
        waiting.close()


async def test_idle_timeout_closes_with_4000_and_frames_keep_a_connection_alive(start: Any) -> None:
    server = start("--idle-timeout", "1")
    idle = await Client.connect(server, token(OWNER))
    chatty = await Client.connect(server, token(FRIEND))
    began = time.monotonic()
    for n in range(6):  # 2.4 s of a frame every 0.4 s
        await chatty.send("presence_update", {"tripId": "bad"}, f"p{n}")
        await asyncio.sleep(0.4)
    assert await closed_with(idle, 3) == 4000
    assert time.monotonic() - began > 0.9
    reply = await chatty.request("presence_update", {"tripId": "bad"}, "alive", "user_presence_updated")
    assert reply["event"] == "error"  # answered: still open
    assert await closed_with(chatty, 3) == 4000


# connection caps ---------------------------------------------------------------


async def test_global_connection_limit_is_503_at_the_handshake(start: Any) -> None:
    server = start("--max-connections", "2")
    first = await Client.connect(server, token(OWNER))
    await Client.connect(server, token(FRIEND))
    refused = handshake(server, {"token": token(OTHER)})
    assert refused.status == 503
    assert refused.body["error"]["code"] == "UNAVAILABLE"
    await first.close()
    deadline = time.monotonic() + 3
    while handshake(server, {"token": token(OTHER)}).status != 101:
        assert time.monotonic() < deadline
        await asyncio.sleep(0.05)


async def test_per_user_and_per_ip_limits_are_429(start: Any) -> None:
    server = start("--max-connections-per-user", "2", "--max-connections-per-ip", "3")
    await Client.connect(server, token(OWNER))
    await Client.connect(server, token(OWNER))
    per_user = handshake(server, {"token": token(OWNER)})
    assert per_user.status == 429 and per_user.body["error"]["code"] == "RATE_LIMITED"
    assert "user" in per_user.body["error"]["message"]
    await Client.connect(server, token(FRIEND))  # another user, same address: the third
    per_ip = handshake(server, {"token": token(OTHER)})
    assert per_ip.status == 429 and "address" in per_ip.body["error"]["message"]


async def test_simultaneous_handshakes_cannot_pass_a_cap_together(start: Any) -> None:
    server = start("--max-connections-per-user", "3", "--max-connections", "5")

    async def attempt(user: str) -> int:
        try:
            ws = await websockets.connect(f"{server.ws_base}/ws?token={token(user)}")
        except websockets.InvalidStatus as refused:
            return int(refused.response.status_code)
        held.append(ws)
        return 101

    held: list[Any] = []
    same_user = await asyncio.gather(*(attempt(OWNER) for _ in range(20)))
    assert sorted(same_user).count(101) == 3, same_user
    assert set(same_user) == {101, 429}
    others = await asyncio.gather(*(attempt(object_id(100 + n)) for n in range(10)))
    assert others.count(101) == 2 and set(others) == {101, 503}, others
    for ws in held:
        await ws.close()


async def test_connection_attempts_per_user_are_rate_limited(start: Any) -> None:
    server = start("--connect-burst", "3", "--connect-per-second", "2")
    for _ in range(3):
        assert handshake(server, {"token": token(OWNER)}).status == 101
    limited = handshake(server, {"token": token(OWNER)})
    assert limited.status == 429
    assert limited.body["error"]["code"] == "RATE_LIMITED"
    assert 0 < limited.body["error"]["details"]["retryAfterMs"] <= 500
    assert int(limited.headers["retry-after"]) >= 1
    assert handshake(server, {"token": token(FRIEND)}).status == 101  # per user, not global
    await asyncio.sleep(limited.body["error"]["details"]["retryAfterMs"] / 1000 + 0.05)
    assert handshake(server, {"token": token(OWNER)}).status == 101
    records = audit(server, type="ws_handshake")
    assert any(r["error"]["code"] == "RATE_LIMITED" for r in records)


async def test_rooms_per_connection_are_capped(start: Any) -> None:
    server = start("--max-rooms", "2")
    trips = [create_trip(server, OWNER) for _ in range(3)]
    client = await Client.connect(server, token(OWNER))
    await joined(client, trips[0], "j0")
    await joined(client, trips[1], "j1")
    over = await client.request("join_trip_room", {"tripId": trips[2]}, "j2", "trip_room_joined")
    assert over["event"] == "error" and over["data"]["code"] == "FORBIDDEN"
    assert "2 rooms" in over["data"]["message"]
    await joined(client, trips[0], "again")  # rejoining is not another room
    left = await client.request("leave_trip_room", {"tripId": trips[1]}, "l1", "trip_room_left")
    assert left["event"] == "trip_room_left"
    await joined(client, trips[2], "j2-after")


# inbound rate limits -----------------------------------------------------------------


async def test_rate_limits_answer_retry_after_and_abuse_closes_with_4008(start: Any) -> None:
    server = start(
        "--rate-burst",
        "5",
        "--rate-per-second",
        "1",
        "--typing-burst",
        "3",
        "--typing-per-second",
        "1",
        "--abuse-refusals",
        "20",
    )
    trip = create_trip(server, OWNER)
    client = await Client.connect(server, token(OWNER))
    await joined(client, trip)  # one token
    for n in range(4):
        reply = await client.request("chat_message", {"tripId": trip, "message": f"m{n}"}, f"c{n}", "chat_message")
        assert reply["event"] == "chat_message", reply
    limited = await client.request("chat_message", {"tripId": trip, "message": "over"}, "over", "chat_message")
    assert limited["event"] == "error"
    assert limited["data"]["code"] == "RATE_LIMITED" and limited["data"]["event"] == "chat_message"
    assert 0 < limited["data"]["details"]["retryAfterMs"] <= 1000
    # typing has its own bucket: still allowed while chat is limited
    for n in range(3):
        await client.send("typing", {"tripId": trip, "isTyping": n % 2 == 0}, f"t{n}")
    typing_over = await client.request("typing", {"tripId": trip, "isTyping": True}, "t-over", "user_typing")
    assert typing_over["data"]["code"] == "RATE_LIMITED"
    errors_before = [f for f in client.frames if f["event"] == "error" and f.get("ref", "").startswith("t")]
    assert [f["ref"] for f in errors_before] == ["t-over"]  # the first three typing frames passed
    await asyncio.sleep(limited["data"]["details"]["retryAfterMs"] / 1000 + 0.05)
    again = await client.request("chat_message", {"tripId": trip, "message": "later"}, "later", "chat_message")
    assert again["event"] == "chat_message"
    # sustained abuse: more than 20 refusals within the window
    for n in range(40):
        try:
            await client.send("chat_message", {"tripId": trip, "message": "spam"}, f"s{n}")
        except websockets.ConnectionClosed:
            break
    assert await closed_with(client, 5) == 4008
    # refused frames left no stream event; a burst of refusals is logged once, not 40 times
    messages = [e["data"]["message"] for e in stream(server, trip, OWNER) if e["type"] == "chat_message"]
    assert messages == ["m0", "m1", "m2", "m3", "later"]
    refused = [r for r in audit(server, userId=OWNER, type="chat_message") if r["outcome"] == "refused"]
    assert 1 <= len(refused) <= 3
    assert all(r["error"]["code"] == "RATE_LIMITED" and r["version"] is None for r in refused)


async def test_unreadable_frames_count_against_the_rate_and_a_flood_of_them_closes_with_4008(start: Any) -> None:
    """Frames that are not JSON, or carry a bad ref, pay a token as any frame does: past the
    burst they are RATE_LIMITED, a burst is recorded once, and past the abuse bound the
    connection is closed, so garbage cannot write a log record per frame at wire speed."""
    # a refill so slow that no token comes back while the test runs
    server = start("--rate-burst", "5", "--rate-per-second", "0.01", "--abuse-refusals", "20")
    client = await Client.connect(server, token(OWNER))
    for n in range(4):
        await client.send_raw(f"not json {n}")
    await client.send_raw(json.dumps({"event": "chat_message", "data": {}, "ref": "a\x85b"}))
    answers = [await client.expect("error") for _ in range(5)]
    assert [a["data"]["code"] for a in answers] == ["BAD_REQUEST"] * 5, answers
    assert answers[4]["data"]["event"] == "chat_message" and "ref" not in answers[4], answers[4]  # the bad ref unechoed
    await client.send_raw("not json, over the rate")
    limited = await client.expect("error")
    assert limited["data"]["code"] == "RATE_LIMITED", limited
    assert limited["data"]["details"]["retryAfterMs"] > 0
    for n in range(40):
        try:
            await client.send_raw(f"garbage {n}")
        except websockets.ConnectionClosed:
            break
    assert await closed_with(client, 5) == 4008
    refused = [r for r in audit(server, userId=OWNER) if r["outcome"] == "refused"]
    codes = [r["error"]["code"] for r in refused]
    assert codes.count("BAD_REQUEST") == 5, codes  # the five within the burst, each recorded
    assert codes.count("RATE_LIMITED") == 1, codes  # the flood after them: once for the burst


async def test_an_unreadable_typing_frame_pays_typings_bucket_and_an_oversized_frame_the_messages_one(
    start: Any,
) -> None:
    """An unreadable frame takes its token from the bucket its event names: a typing frame with a
    bad ref from typing's own (the messages' keeps its tokens), a frame over the size limit from the
    messages' one (the next message is then over the rate)."""
    server = start(
        *("--rate-burst", "2", "--rate-per-second", "0.01"),
        *("--typing-burst", "1", "--typing-per-second", "0.01"),
    )
    trip = create_trip(server, OWNER)
    client = await Client.connect(server, token(OWNER), compression=None)
    await joined(client, trip)  # the messages' first token
    bad_typing = json.dumps({"event": "typing", "data": {"tripId": trip, "isTyping": True}, "ref": "a\x85b"})
    await client.send_raw(bad_typing)
    await client.send_raw(bad_typing)
    answers = [(await client.expect("error"))["data"] for _ in range(2)]
    assert [(a["code"], a["event"]) for a in answers] == [("BAD_REQUEST", "typing"), ("RATE_LIMITED", "typing")]
    big = json.dumps({"event": "chat_message", "data": {"tripId": trip, "message": "x" * (64 * 1024)}, "ref": "big"})
    await client.send_raw(big)
    assert (await client.expect("error"))["data"]["code"] == "PAYLOAD_TOO_LARGE"  # the messages' second token
    over = await client.request("chat_message", {"tripId": trip, "message": "one more"}, "over", "chat_message")
    assert over["event"] == "error" and over["data"]["code"] == "RATE_LIMITED", over


def _flood(server: ServerProcess, trip: str, joined_flag: threading.Event, stop: threading.Event) -> int:
    """One client sending chat frames as fast as its socket takes them, from a thread
    of its own (so the test's event loop stays free for the others), reading its
    errors in another so that it is not also a slow reader."""
    url = f"{server.ws_base}/ws?token={token(OTHER)}"
    with websockets.sync.client.connect(url, compression=None, max_size=None) as ws:
        ws.recv(timeout=5)
        ws.send(json.dumps({"event": "join_trip_room", "data": {"tripId": trip}, "ref": "join"}))
        while json.loads(ws.recv(timeout=5)).get("ref") != "join":
            pass

        def drain() -> None:
            with contextlib.suppress(websockets.ConnectionClosed):
                while True:
                    ws.recv()

        reader = threading.Thread(target=drain, daemon=True)
        reader.start()
        joined_flag.set()
        frame = json.dumps({"event": "chat_message", "data": {"tripId": trip, "message": "flood " * 50}})
        sent = 0
        while not stop.is_set():
            ws.send(frame)
            sent += 1
    reader.join(5)
    return sent


async def test_a_flood_does_not_delay_the_others(start: Any) -> None:
    server = start("--abuse-refusals", "1000000")  # 4008 is tested above: here the flood goes on
    trip = create_trip(server, OWNER, [FRIEND, OTHER])
    alice = await Client.connect(server, token(OWNER))
    bob = await Client.connect(server, token(FRIEND))
    await joined(alice, trip)
    await joined(bob, trip)
    flooder_joined, stop = threading.Event(), threading.Event()
    flood_began = time.monotonic()
    flooding = asyncio.ensure_future(asyncio.to_thread(_flood, server, trip, flooder_joined, stop))
    assert await asyncio.to_thread(flooder_joined.wait, 10)
    await asyncio.sleep(0.5)  # the flood is on
    expected: list[str] = []
    latencies: list[float] = []
    try:
        for n in range(20):
            for sender, name in ((alice, "alice"), (bob, "bob")):
                text = f"{name}-{n}"
                sent_at = time.monotonic()
                reply = await sender.request("chat_message", {"tripId": trip, "message": text}, text, "chat_message")
                latencies.append(time.monotonic() - sent_at)
                assert reply["event"] == "chat_message", reply
                expected.append(text)
            await asyncio.sleep(0.05)  # within the 10/s refill
    finally:
        stop.set()
        sent = await flooding
    flooded_for = time.monotonic() - flood_began
    assert sent > 20 * 30, "the flood was not a flood"
    for client in (alice, bob):
        await client.silent_for(0.3)
        got = [f["data"]["message"] for f in client.frames if f["event"] == "chat_message"]
        mine = [m for m in got if not m.startswith("flood")]
        assert mine == expected, "a message of the others was lost or reordered"
    latencies.sort()
    p50, worst = latencies[len(latencies) // 2], latencies[-1]
    print(f"flood {sent} frames in {flooded_for:.1f}s; chat latency p50 {p50:.3f}s worst {worst:.3f}s")
    assert worst < 1.0, f"chat latency during the flood: p50 {p50:.3f}s, worst {worst:.3f}s"
    flood_accepted = [e for e in stream(server, trip, OWNER) if e["userId"] == OTHER]
    assert len(flood_accepted) <= 30 + 10 * flooded_for + 2  # the burst plus the refill, no more
    assert alive_and_well(server)


# frame size and compression ----------------------------------------------------------


async def test_frames_over_the_limit_are_refused_without_closing(start: Any) -> None:
    server = start()
    trip = create_trip(server, OWNER)
    client = await Client.connect(server, token(OWNER), compression=None)
    await joined(client, trip)
    big = json.dumps({"event": "chat_message", "data": {"tripId": trip, "message": "x" * (64 * 1024)}, "ref": "big"})
    await client.send_raw(big)
    error = await client.expect("error")
    assert error["data"]["code"] == "PAYLOAD_TOO_LARGE"
    assert error["data"]["details"]["limit"] == 64 * 1024
    reply = await client.request("chat_message", {"tripId": trip, "message": "small"}, "small", "chat_message")
    assert reply["event"] == "chat_message"  # the connection lives on


async def test_frames_over_the_hard_cap_close_with_1009_unread(start: Any) -> None:
    server = start()
    client = await Client.connect(server, token(OWNER), compression=None)
    await client.send_raw("x" * (300 * 1024))
    assert await closed_with(client, 5) == 1009
    # a header that announces 1 GiB is refused before a byte of it is read
    raw = RawSocket.connect(server, token(OWNER))
    try:
        raw.send_frame(0x1, b"{}", declared=1 << 30)
        frames, _ = await asyncio.to_thread(raw.frames, 5)
        assert RawSocket.close_code(frames) == 1009
    finally:
        raw.close()
    assert server.proc is not None and server.proc.poll() is None


async def test_the_size_limit_counts_after_decompression(start: Any) -> None:
    server = start()
    trip = create_trip(server, OWNER)
    client = await Client.connect(server, token(OWNER))  # permessage-deflate negotiated
    extensions = client.ws.response.headers.get("Sec-WebSocket-Extensions", "")
    assert "permessage-deflate" in extensions
    await joined(client, trip)
    inflated = json.dumps({"event": "chat_message", "data": {"tripId": trip, "message": "y" * 100_000}})
    await client.send_raw(inflated)  # a few hundred bytes on the wire
    error = await client.expect("error")
    assert error["data"]["code"] == "PAYLOAD_TOO_LARGE"
    await client.send_raw("z" * (8 * 1024 * 1024))  # a compression bomb
    assert await closed_with(client, 5) == 1009


async def test_broadcasts_reach_a_deflate_client_and_a_plain_one_alike(start: Any) -> None:
    server = start()
    trip = create_trip(server, OWNER, [FRIEND])
    plain = await Client.connect(server, token(OWNER), compression=None)
    deflate = await Client.connect(server, token(FRIEND))  # offers as Chromium does
    await joined(plain, trip)
    await joined(deflate, trip)
    for n in range(20):
        # odd ones over --deflate-min-bytes (1 KiB): deflated once for every deflate socket
        message = f"hello {n} " * (100 if n % 2 else 40)  # chat messages: at most 1,000 characters
        await plain.send("chat_message", {"tripId": trip, "message": message}, f"r{n}")
    got_plain = [(await plain.expect("chat_message"))["data"] for _ in range(20)]
    got_deflate = [(await deflate.expect("chat_message"))["data"] for _ in range(20)]
    assert got_plain == got_deflate


# token expiry -------------------------------------------------------------------------


async def test_token_expiry_warns_then_closes_with_4001(start: Any) -> None:
    server = start("--token-warning", "2")
    client = await Client.connect(server, token(OWNER, ttl=4))
    began = time.monotonic()
    warning = await client.expect("token_expiring", 4)
    assert warning["data"]["expiresAt"].endswith("Z")
    assert time.monotonic() - began < 3
    assert await closed_with(client, 5) == 4001


async def test_refresh_token_keeps_the_session_and_a_bad_one_does_not(start: Any) -> None:
    server = start("--token-warning", "2")
    client = await Client.connect(server, token(OWNER, ttl=3))
    await client.expect("token_expiring", 3)
    other = await client.request("refresh_token", {"token": token(FRIEND, ttl=600)}, "other", "token_refreshed")
    assert other["data"]["code"] == "INVALID_TOKEN"
    junk = await client.request("refresh_token", {"token": "junk"}, "junk", "token_refreshed")
    assert junk["data"]["code"] == "INVALID_TOKEN"
    fresh = await client.request("refresh_token", {"token": token(OWNER, ttl=600)}, "fresh", "token_refreshed")
    assert fresh["event"] == "token_refreshed" and fresh["data"]["expiresAt"].endswith("Z")
    await asyncio.sleep(3.5)  # past the first token's exp
    reply = await client.request("presence_update", {"tripId": "bad"}, "after", "user_presence_updated")
    assert reply["event"] == "error" and reply["data"]["code"] == "VALIDATION_ERROR"  # still open
    records = audit(server, userId=OWNER, type="refresh_token")
    assert [r["outcome"] for r in records] == ["refused", "refused", "accepted"]
    assert "eyJ" not in json.dumps(records)  # no token, refused or not, is written to the log
    unrefreshed = await Client.connect(server, token(FRIEND, ttl=2))
    junk = await unrefreshed.request("refresh_token", {"token": token(OWNER, ttl=600)}, "x", "token_refreshed")
    assert junk["data"]["code"] == "INVALID_TOKEN"
    assert await closed_with(unrefreshed, 5) == 4001  # the old expiry stands


# slow readers -------------------------------------------------------------------------


def _big_update(trip: str, n: int) -> tuple[dict[str, Any], dict[str, Any]]:
    """A ~60 KB constraint added then removed: big broadcasts, a trip that stays small."""
    constraint_id = f"{0xC0000000 + n:024x}"
    added = {
        "tripId": trip,
        "updateType": "constraint_added",
        "data": {"constraint": {"type": "note", "value": "v" * 60_000, "constraintId": constraint_id}},
    }
    removed = {"tripId": trip, "updateType": "constraint_removed", "data": {"constraintId": constraint_id}}
    return added, removed


async def _flood_updates(sender: Client, trip: str, first: int, pairs: int) -> None:
    for n in range(first, first + pairs, 10):
        for k in range(n, min(n + 10, first + pairs)):
            added, removed = _big_update(trip, k)
            await sender.send("trip_update", added, f"a{k}")
            await sender.send("trip_update", removed, f"r{k}")
        acked = 0
        while acked < 2 * (min(n + 10, first + pairs) - n):
            frame = await sender.expect("trip_updated", 10)
            if frame["data"]["updateType"] != "snapshot":
                assert frame.get("ref", "")[:1] in ("a", "r"), frame
                acked += 1


async def test_a_reader_that_never_reads_is_closed_with_4009_and_memory_stays_bounded(start: Any) -> None:
    server = start("--rate-burst", "100000", "--rate-per-second", "100000")
    assert server.proc is not None
    trip = create_trip(server, OWNER, [FRIEND])
    writer = await Client.connect(server, token(OWNER), compression=None)
    reader = await Client.connect(server, token(FRIEND), compression=None)
    await joined(writer, trip)
    await joined(reader, trip)

    async def read_all() -> list[int]:
        seqs = []
        try:
            async for raw in reader.ws:
                frame = json.loads(raw)
                if frame["event"] == "trip_updated" and "seq" in frame["data"]:
                    seqs.append(frame["data"]["seq"])
        except websockets.ConnectionClosed:
            pass
        return seqs

    reading = asyncio.ensure_future(read_all())
    slow = RawSocket.connect(server, token(FRIEND))  # stops reading after the handshake
    slow.send_json("join_trip_room", {"tripId": trip}, "join")
    await asyncio.sleep(0.3)

    # 1. ~7 MB of broadcasts: more than the kernel's buffers (~4 MB) plus the 1 MiB queue
    began = time.monotonic()
    await _flood_updates(writer, trip, 0, 120)
    assert time.monotonic() - began < 4.5, "the flood was too slow for Tornado's 5 s close grace"
    frames, _ = await asyncio.to_thread(slow.frames, 10)
    assert RawSocket.close_code(frames) == 4009
    updates = [f for f in json_frames(frames) if f["event"] == "trip_updated" and "seq" in f["data"]]
    assert len(updates) < 240, "the slow reader was sent everything: nothing was bounded"
    slow.send_frame(0x8, b"\x0f\xa9")  # answer the close
    slow.close()

    # 2. three more that never read, 24 MB of broadcasts each: memory must not follow
    others = [RawSocket.connect(server, token(FRIEND)) for _ in range(3)]
    for other in others:
        other.send_json("join_trip_room", {"tripId": trip}, "join")
    await asyncio.sleep(0.3)
    rss_before = rss_kib(server.proc.pid)
    await _flood_updates(writer, trip, 1000, 400)
    growth_mib = (rss_kib(server.proc.pid) - rss_before) / 1024
    for other in others:
        other.close()
    assert growth_mib < 40, f"RSS grew by {growth_mib:.0f} MiB while 3 clients read nothing"

    # the reader that kept up got every broadcast, in order
    await writer.close()
    await asyncio.sleep(0.5)
    await reader.close()
    seqs = await reading
    assert len(seqs) == 2 * 520 and seqs == sorted(seqs)
    deadline = time.monotonic() + 8
    while True:
        codes = [r["events"][0]["data"]["code"] for r in audit(server, userId=FRIEND, type="disconnect")]
        if codes.count(4009) >= 4:
            break
        assert time.monotonic() < deadline, codes
        await asyncio.sleep(0.2)
    assert alive_and_well(server)


def alive_and_well(server: ServerProcess) -> bool:
    assert server.proc is not None
    return server.proc.poll() is None and server.request("GET", "/healthz")[0] == 200


async def test_hub_encodes_a_room_broadcast_once_for_every_member() -> None:
    from service.hub import Connection, Hub
    from service.metrics import Metrics

    class Outlet:
        def __init__(self) -> None:
            self.sent: list[bytes] = []

        def send(self, payload: bytes) -> None:
            self.sent.append(payload)

        def close(self, code: int, reason: str) -> None:
            raise AssertionError("closed")

        @property
        def pending_bytes(self) -> int:
            return 0

    hub = Hub(None, Metrics(), node_id="n", revocations=asyncio.Queue(), changed=asyncio.Event())  # type: ignore[arg-type]
    outlets = []
    for n in range(5):
        outlet = Outlet()
        outlets.append(outlet)
        conn = Connection(f"s{n}", object_id(n + 1), None, "user", False, "127.0.0.1", "ua", "now", outlet)
        hub.add(conn)
        hub.enter(conn, "t" * 24)
        hub.open_seat(conn, "t" * 24, 0)
    hub.deliver(
        {
            "kind": "room",
            "tripId": "t" * 24,
            "seq": 1,
            "event": "chat_message",
            "data": {"message": "hi", "seq": 1},
            "ref": "r",
            "sender": "s0",
        }
    )
    own, *others = [outlet.sent[-1] for outlet in outlets]
    assert json.loads(own)["ref"] == "r"
    assert all(payload is others[0] for payload in others), "encoded once per recipient"
    assert "ref" not in json.loads(others[0])
