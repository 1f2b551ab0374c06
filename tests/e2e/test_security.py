"""Security at the edges, against real server processes: the Origin check
(cross-site WebSocket hijacking), TLS served directly (trustme certificates),
the JWT attack battery at the handshake and over REST, authorization (a trip's
frames reach only those who may see it, a removed collaborator stops receiving
at once) and privacy (IPs and user agents only in admin views).
"""

from __future__ import annotations

import asyncio
import json
import ssl
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import jwt
import pytest
import trustme
import websockets

from tests.e2e.wire import ADMIN, create_trip, handshake, stream
from tests.forged_tokens import b64url, forge, rsa_pair
from tests.server import ROOT, SECRET, Client, ServerProcess, free_port, object_id, token

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(60)]

OWNER, FRIEND, STRANGER = object_id(1), object_id(2), object_id(3)
ISSUER, AUDIENCE = "https://id.travelsense.example", "travelsense-realtime"


# origin ------------------------------------------------------------------------------


def test_same_host_only_by_default(start: Any) -> None:
    server = start()
    ok = {"token": token(OWNER)}
    assert handshake(server, ok, {"Origin": f"http://127.0.0.1:{server.port}"}).status == 101
    assert handshake(server, ok).status == 101  # no Origin: not a browser, nothing to hijack
    for origin in (
        "http://evil.example",
        f"http://127.0.0.1:{server.port + 1}",
        "null",
        f"http://127.0.0.1:{server.port}.evil.example",
        "http://localhost",
    ):
        refused = handshake(server, ok, {"Origin": origin})
        assert refused.status == 403, origin
        assert refused.body["error"]["code"] == "FORBIDDEN"


def test_allowed_origins_list(start: Any) -> None:
    server = start(env={"ALLOWED_ORIGINS": "https://app.example, https://admin.example"})
    ok = {"token": token(OWNER)}
    for origin in ("https://app.example", "https://admin.example", "https://app.example/"):
        assert handshake(server, ok, {"Origin": origin}).status == 101, origin
    for origin in (
        "http://app.example",
        "https://app.example.evil.com",
        "https://evil.example",
        f"http://127.0.0.1:{server.port}",
        "null",
        "https://app.example:444",
    ):
        assert handshake(server, ok, {"Origin": origin}).status == 403, origin
    # an origin check comes before the token: a hijacking page learns nothing about it
    assert handshake(server, {"token": "junk"}, {"Origin": "https://evil.example"}).status == 403


# TLS -----------------------------------------------------------------------------------


def _wait_tls(server: ServerProcess, context: ssl.SSLContext, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while True:
        assert server.proc is not None
        if server.proc.poll() is not None:
            raise RuntimeError(server.read_log())
        try:
            with urllib.request.urlopen(f"https://127.0.0.1:{server.port}/healthz", context=context, timeout=1) as r:
                if r.status == 200:
                    return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def tls_files(tmp_path: Path) -> tuple[Path, Path, Path, ssl.SSLContext]:
    """A certificate for 127.0.0.1 from a CA of the test's own: (its chain, its key, both in
    one file, a client context that trusts the CA)."""
    ca = trustme.CA()
    leaf = ca.issue_cert("127.0.0.1", "localhost")
    cert, key, both = tmp_path / "cert.pem", tmp_path / "key.pem", tmp_path / "both.pem"
    leaf.private_key_pem.write_to_path(str(key))
    for blob in leaf.cert_chain_pems:
        blob.write_to_path(str(cert), append=True)
    leaf.private_key_and_cert_chain_pem.write_to_path(str(both))
    client_context = ssl.create_default_context()
    ca.configure_trust(client_context)
    return cert, key, both, client_context


async def test_wss_with_a_certificate_served_directly(tmp_path: Path) -> None:
    cert, key, both, client_context = tls_files(tmp_path)
    for flags in (["--certfile", str(cert), "--keyfile", str(key)], ["--certfile", str(both)]):
        server = ServerProcess(f"sqlite:///{tmp_path}/events.db", args=flags)
        try:
            server.start(tmp_path, wait=False)
            _wait_tls(server, client_context)
            trip = create_trip_tls(server, client_context)
            url = f"wss://127.0.0.1:{server.port}/ws?token={token(OWNER)}"
            async with websockets.connect(url, ssl=client_context) as ws:
                assert json.loads(await ws.recv())["event"] == "connected"
                await ws.send(json.dumps({"event": "join_trip_room", "data": {"tripId": trip}, "ref": "j"}))
                assert json.loads(await ws.recv())["event"] == "trip_room_joined"
            with pytest.raises((websockets.InvalidMessage, OSError, EOFError, websockets.InvalidHandshake)):
                async with websockets.connect(f"ws://127.0.0.1:{server.port}/ws?token={token(OWNER)}", open_timeout=3):
                    pass
            untrusted = ssl.create_default_context()  # the system store does not know our CA
            with pytest.raises(ssl.SSLCertVerificationError):
                async with websockets.connect(url, ssl=untrusted, open_timeout=3):
                    pass
        finally:
            server.stop()


async def test_a_browsers_same_host_https_origin_is_allowed_with_tls_served_directly(tmp_path: Path) -> None:
    """The node works out that its client speaks https from the TLS connection itself (no
    proxy to say so): a page served from https://<host> may open a socket, one of http://<host>
    (another origin) may not."""
    cert, key, _, client_context = tls_files(tmp_path)
    server = ServerProcess(f"sqlite:///{tmp_path}/events.db", args=["--certfile", str(cert), "--keyfile", str(key)])
    try:
        server.start(tmp_path, wait=False)
        _wait_tls(server, client_context)
        url = f"wss://127.0.0.1:{server.port}/ws?token={token(OWNER)}"
        same_host = websockets.Origin(f"https://127.0.0.1:{server.port}")
        async with websockets.connect(url, ssl=client_context, origin=same_host) as ws:
            assert json.loads(await ws.recv())["event"] == "connected"
        with pytest.raises(websockets.InvalidStatus) as refused:
            async with websockets.connect(
                url, ssl=client_context, origin=websockets.Origin(f"http://127.0.0.1:{server.port}")
            ):
                pass
        assert refused.value.response.status_code == 403
    finally:
        server.stop()


def create_trip_tls(server: ServerProcess, context: ssl.SSLContext) -> str:
    request = urllib.request.Request(
        f"https://127.0.0.1:{server.port}/api/trips",
        data=json.dumps({"title": "tls"}).encode(),
        method="POST",
        headers={"Authorization": f"Bearer {token(OWNER)}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, context=context, timeout=5) as response:
        return str(json.loads(response.read())["tripId"])


@pytest.mark.parametrize("flags", [["--keyfile", "key.pem"], ["--certfile", "missing.pem"]])
def test_a_bad_tls_configuration_refuses_to_start(tmp_path: Path, flags: list[str]) -> None:
    done = subprocess.run(
        [
            sys.executable,
            str(ROOT / "app.py"),
            "--port",
            str(free_port()),
            "--store",
            f"sqlite:///{tmp_path}/e.db",
            *flags,
        ],
        cwd=str(tmp_path),
        env={"PATH": "/usr/bin:/bin", "JWT_SECRET": SECRET},
        capture_output=True,
        timeout=30,
    )
    assert done.returncode == 2
    assert b"error:" in done.stderr


# JWT battery ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def rsa_keys() -> tuple[str, str]:
    return rsa_pair()


def battery(private: str, public: str) -> dict[str, str]:
    now = int(time.time())
    good = {"sub": OWNER, "exp": now + 600, "iss": ISSUER, "aud": AUDIENCE}

    def hs(**changes: Any) -> str:
        claims = {k: v for k, v in {**good, **changes}.items() if v is not None}
        return str(jwt.encode(claims, SECRET, algorithm="HS256"))

    return {
        "alg none": forge({"alg": "none", "typ": "JWT"}, good, None),
        "alg None, signed": forge({"alg": "None", "typ": "JWT"}, good, SECRET.encode()),
        "wrong signature": str(jwt.encode(good, "not-the-secret-at-all-0123456789", algorithm="HS256")),
        "tampered payload": hs().rsplit(".", 2)[0]
        + "."
        + b64url(json.dumps({**good, "role": "admin"}).encode())
        + "."
        + hs().rsplit(".", 1)[1],
        "expired": hs(exp=now - 5),
        "not yet valid": hs(nbf=now + 300),
        "missing exp": hs(exp=None),
        "wrong iss": hs(iss="https://evil.example"),
        "wrong aud": hs(aud="someone-else"),
        "missing aud": hs(aud=None),
        "missing iss": hs(iss=None),
        "RS256 public key as HS256 secret": forge({"alg": "HS256", "typ": "JWT"}, good, public.encode()),
        "HS512, not allowed": str(jwt.encode(good, SECRET, algorithm="HS512")),
        "RS512, not allowed": str(jwt.encode(good, private, algorithm="RS512")),
        "sub not an ObjectId": hs(sub="alice"),
        "sub too short": hs(sub=OWNER[:-1]),
        "role not allowed": hs(role="root"),
        "huge token": hs(padding="p" * 9000),
        "garbage": "not.a.jwt",
        "empty": "",
        "exp 1e20, properly signed": forge({"alg": "HS256", "typ": "JWT"}, {**good, "exp": 1e20}, SECRET.encode()),
        "exp 2**70, properly signed": forge({"alg": "HS256", "typ": "JWT"}, {**good, "exp": 2**70}, SECRET.encode()),
        "nbf far past, properly signed": hs(nbf=-(2**70)),
        "iat 1e20, properly signed": forge({"alg": "HS256", "typ": "JWT"}, {**good, "iat": 1e20}, SECRET.encode()),
        "crit header": forge({"alg": "HS256", "typ": "JWT", "crit": ["exp"]}, good, SECRET.encode()),
    }


@pytest.fixture
def strict_server(start: Any, rsa_keys: tuple[str, str]) -> ServerProcess:
    server: ServerProcess = start(
        env={
            "JWT_ALGORITHMS": "HS256,RS256",
            "JWT_PUBLIC_KEY": rsa_keys[1],
            "JWT_ISSUER": ISSUER,
            "JWT_AUDIENCE": AUDIENCE,
        }
    )
    return server


def test_the_jwt_battery_is_refused_at_the_handshake_and_over_rest(
    strict_server: ServerProcess, rsa_keys: tuple[str, str]
) -> None:
    server = strict_server
    private, public = rsa_keys
    now = int(time.time())
    good = {"sub": OWNER, "exp": now + 600, "iss": ISSUER, "aud": AUDIENCE}
    valid_hs = str(jwt.encode(good, SECRET, algorithm="HS256"))
    valid_rs = str(jwt.encode(good, private, algorithm="RS256"))
    status, trip = server.request("POST", "/api/trips", body={"title": "jwt"}, bearer=valid_hs)
    assert status == 201, trip
    path = f"/api/trips/{trip['tripId']}"
    for valid in (valid_hs, valid_rs):
        assert handshake(server, {"token": valid}).status == 101
        assert server.request("GET", path, bearer=valid)[0] == 200

    failures = []
    for name, bad in battery(private, public).items():
        at_handshake = handshake(server, {"token": bad})
        over_rest, body = server.request("GET", path, bearer=bad)
        ok = (
            at_handshake.status == 401
            and at_handshake.body["error"]["code"] == "UNAUTHORIZED"
            and over_rest == 401
            and body["error"]["code"] == "UNAUTHORIZED"
        )
        if not ok:
            failures.append((name, at_handshake.status, over_rest))
    assert not failures, failures
    assert handshake(server, {}).status == 401  # no token at all
    assert server.request("GET", path)[0] == 401


def test_an_oversized_token_never_upgrades_and_the_server_carries_on(strict_server: ServerProcess) -> None:
    server = strict_server
    monster = "x" * 200_000
    try:
        refused = handshake(server, {"token": monster})
        assert refused.status in (400, 401, 414, 431)
    except (ConnectionError, OSError):
        pass  # Tornado may drop a request line this long without an answer
    status, _ = server.request("GET", "/healthz")
    assert status == 200


# authorization ---------------------------------------------------------------------------


async def test_a_stranger_gets_nothing_from_a_trip(start: Any) -> None:
    server = start()
    trip = create_trip(server, OWNER, [FRIEND])
    owner = await Client.connect(server, token(OWNER))
    stranger = await Client.connect(server, token(STRANGER))
    await owner.request("join_trip_room", {"tripId": trip}, "j", "trip_room_joined")
    refused = await stranger.request("join_trip_room", {"tripId": trip}, "j", "trip_room_joined")
    assert refused["data"]["code"] == "FORBIDDEN"
    for event, data in (
        ("chat_message", {"tripId": trip, "message": "hi"}),
        ("typing", {"tripId": trip, "isTyping": True}),
        ("presence_update", {"tripId": trip, "status": "away"}),
        ("trip_update", {"tripId": trip, "updateType": "day_removed", "data": {"dayId": trip}}),
    ):
        reply = await stranger.request(event, data, f"x-{event}", "never")
        assert reply["data"]["code"] == "NOT_IN_ROOM", reply
    for n in range(5):
        await owner.request("chat_message", {"tripId": trip, "message": f"secret {n}"}, f"c{n}", "chat_message")
    await owner.send("typing", {"tripId": trip, "isTyping": True})
    assert [f for f in await stranger.silent_for(0.5) if trip in json.dumps(f)] == []
    for path in (f"/api/trips/{trip}", f"/api/trips/{trip}/messages", f"/api/trips/{trip}/events"):
        status, body = server.request("GET", path, bearer=token(STRANGER))
        assert status == 403 and body["error"]["code"] == "FORBIDDEN", path


async def test_a_removed_collaborator_stops_receiving_at_once(start: Any) -> None:
    server = start()
    trip = create_trip(server, OWNER, [FRIEND])
    owner = await Client.connect(server, token(OWNER))
    friend = await Client.connect(server, token(FRIEND))
    await owner.request("join_trip_room", {"tripId": trip}, "j", "trip_room_joined")
    await friend.request("join_trip_room", {"tripId": trip}, "j", "trip_room_joined")
    await owner.request("chat_message", {"tripId": trip, "message": "before"}, "before", "chat_message")
    assert (await friend.expect("chat_message"))["data"]["message"] == "before"

    stop = asyncio.Event()

    async def chat_throughout() -> None:
        n = 0
        while not stop.is_set():
            await owner.send("chat_message", {"tripId": trip, "message": f"during-{n}"}, f"during-{n}")
            n += 1
            await asyncio.sleep(0.003)

    chatting = asyncio.ensure_future(chat_throughout())
    await asyncio.sleep(0.1)
    status, _ = await asyncio.to_thread(
        server.request, "DELETE", f"/api/trips/{trip}/collaborators/{FRIEND}", bearer=token(OWNER)
    )
    assert status == 200
    await asyncio.sleep(0.1)
    stop.set()
    await chatting
    left = await friend.expect("trip_room_left")
    assert left["data"] == {"tripId": trip, "reason": "access_revoked"}
    after = await friend.silent_for(0.7)
    assert [f for f in after if trip in json.dumps(f)] == [], "frames of the trip after trip_room_left"
    events = stream(server, trip, OWNER)
    removed_at = next(
        e["seq"] for e in events if e["type"] == "trip_updated" and e["data"]["updateType"] == "collaborator_removed"
    )
    assert any(e["seq"] > removed_at for e in events), "the owner's chat did not overlap the removal"
    got = [
        f["data"]["seq"] for f in friend.frames if f["event"] in ("chat_message", "trip_updated") and "seq" in f["data"]
    ]
    assert max(got) <= removed_at, "a removed collaborator received what was sent after the removal"
    rejoin = await friend.request("join_trip_room", {"tripId": trip}, "again", "trip_room_joined")
    assert rejoin["data"]["code"] == "FORBIDDEN"
    chat = await friend.request("chat_message", {"tripId": trip, "message": "still here?"}, "late", "chat_message")
    assert chat["data"]["code"] == "NOT_IN_ROOM"
    status, _ = server.request("GET", f"/api/trips/{trip}/messages", bearer=token(FRIEND))
    assert status == 403


# privacy -------------------------------------------------------------------------------------


async def test_broadcasts_carry_ids_and_names_only(start: Any) -> None:
    server = start()
    trip = create_trip(server, OWNER, [FRIEND])
    agent = "SecretAgent/7.7 (private; do-not-share)"
    observer = await Client.connect(server, token(OWNER, name="Ada"))
    await observer.request("join_trip_room", {"tripId": trip}, "j", "trip_room_joined")
    friend = await Client.connect(server, token(FRIEND, name="Grace"), user_agent_header=agent)
    joined = await friend.request("join_trip_room", {"tripId": trip}, "j", "trip_room_joined")
    await friend.request("presence_update", {"tripId": trip, "status": "busy"}, "p", "user_presence_updated")
    await friend.send("typing", {"tripId": trip, "isTyping": True})
    await friend.request("chat_message", {"tripId": trip, "message": "hello"}, "c", "chat_message")
    await observer.silent_for(0.5)
    seen = json.dumps(observer.frames + friend.frames)
    assert "Grace" in seen and FRIEND in seen  # ids and display names: yes
    assert "SecretAgent" not in seen and "127.0.0.1" not in seen and "userAgent" not in seen
    assert {m["userId"] for m in joined["data"]["members"]} == {OWNER, FRIEND}
    for path in (f"/api/trips/{trip}", f"/api/trips/{trip}/messages", f"/api/trips/{trip}/events"):
        _, body = server.request("GET", path, bearer=token(OWNER))
        assert "SecretAgent" not in json.dumps(body) and "127.0.0.1" not in json.dumps(body), path
    status, view = server.request("GET", "/api/realtime/connections", bearer=token(ADMIN, role="admin"))
    assert status == 200
    mine = [c for c in view["connections"] if c["userId"] == FRIEND]
    assert mine and mine[0]["userAgent"] == agent and mine[0]["ip"] == "127.0.0.1"
    status, _ = server.request("GET", "/api/realtime/connections", bearer=token(OWNER))
    assert status == 403


async def test_client_addresses_come_from_proxy_headers_only_with_trust_proxy(start: Any) -> None:
    plain = start("--max-connections-per-ip", "1")
    await Client.connect(plain, token(OWNER), additional_headers={"X-Real-IP": "10.0.0.1"})
    spoofed = handshake(plain, {"token": token(FRIEND)}, {"X-Real-IP": "10.0.0.2", "X-Forwarded-For": "10.0.0.2"})
    assert spoofed.status == 429  # the headers are ignored: both are 127.0.0.1

    proxied = start("--trust-proxy", "--max-connections-per-ip", "1")
    await Client.connect(proxied, token(OWNER), additional_headers={"X-Real-IP": "10.0.0.1"})
    assert handshake(proxied, {"token": token(FRIEND)}, {"X-Real-IP": "10.0.0.2"}).status == 101
    assert handshake(proxied, {"token": token(FRIEND)}, {"X-Real-IP": "10.0.0.1"}).status == 429
    assert handshake(proxied, {"token": token(FRIEND)}, {"X-Forwarded-For": "10.0.0.7, 10.0.0.1"}).status == 429
    status, view = proxied.request("GET", "/api/realtime/connections", bearer=token(ADMIN, role="admin"))
    ips = {c["ip"] for c in view["connections"]}
    assert status == 200 and "10.0.0.1" in ips and "127.0.0.1" not in ips, ips
