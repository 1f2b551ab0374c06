"""Operating the service, end to end: /metrics moving with traffic, the audit API
over the log (filters, paging, refused commands with their reasons, security and
connection events), personal data kept out of broadcasts, and JSON logs."""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode
from urllib.request import Request, urlopen

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.e2e.conftest import People, make_trip
from tests.server import Client, ServerProcess, object_id, token

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]
HEX24 = re.compile(r"[0-9a-f]{24}")


def admin_token(people: People) -> str:
    return people.token("root", role="admin")


def scrape(server: ServerProcess, bearer: str | None) -> Samples:
    status, text = server.request("GET", "/metrics", bearer=bearer)
    assert status == 200, text
    samples: Samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def audit(server: ServerProcess, bearer: str, **params: Any) -> dict[str, Any]:
    status, page = server.request("GET", f"/api/audit/events?{urlencode(params)}", bearer=bearer)
    assert status == 200, page
    return dict(page)


async def eventually(check: Any, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.05)


@pytest.fixture(scope="module")
def limited_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """A server with a small message budget, so that rate limits are easy to reach."""
    directory = tmp_path_factory.mktemp("limited")
    proc = ServerProcess(
        f"sqlite:///{directory}/events.db", args=["--rate-burst", "6", "--rate-per-second", "0.5"]
    ).start(directory)
    try:
        yield proc
    finally:
        proc.stop()


# /metrics ---------------------------------------------------------------------------------


def test_metrics_need_an_admin_token(shared_server: ServerProcess, people: People) -> None:
    assert shared_server.request("GET", "/metrics")[0] == 401
    assert shared_server.request("GET", "/metrics", bearer="garbage")[0] == 401
    status, error = shared_server.request("GET", "/metrics", bearer=people.token("ada"))
    assert status == 403 and error["error"]["code"] == "FORBIDDEN"
    samples = scrape(shared_server, admin_token(people))
    assert ("travelsense_ws_connections", ()) in samples
    refused = audit(shared_server, admin_token(people), type="metrics_read", userId=people.id("ada"))["events"]
    assert [r["error"]["code"] for r in refused] == ["FORBIDDEN"]


def test_metrics_are_public_when_started_with_metrics_public(tmp_path: Path) -> None:
    server = ServerProcess(f"sqlite:///{tmp_path}/events.db", args=["--metrics-public"]).start(tmp_path)
    try:
        status, text = server.request("GET", "/metrics")
        assert status == 200 and "# TYPE travelsense_ws_connections gauge" in text
    finally:
        server.stop()


async def test_metrics_move_when_traffic_flows(limited_server: ServerProcess) -> None:
    server, people = limited_server, People()
    root = admin_token(people)
    before = scrape(server, root)
    trip = make_trip(server, people, "ada", "bob")
    ada = await Client.connect(server, people.token("ada"))
    bob = await Client.connect(server, people.token("bob"))
    await ada.request("join_trip_room", {"tripId": trip["tripId"]}, "j1", "trip_room_joined")
    await bob.request("join_trip_room", {"tripId": trip["tripId"]}, "j2", "trip_room_joined")
    for n in range(3):
        reply = await ada.request(
            "chat_message", {"tripId": trip["tripId"], "message": f"hi {n}"}, f"c{n}", "chat_message"
        )
        assert reply["event"] == "chat_message"
    await ada.send_raw("{not json")
    await ada.send("no_such_event", {})
    for n in range(4):  # the budget is spent: some of these are refused
        await ada.send("chat_message", {"tripId": trip["tripId"], "message": "flood"}, f"f{n}")
    assert any(f["event"] == "error" and f["data"]["code"] == "RATE_LIMITED" for f in await ada.silent_for(0.5))
    assert server.request("GET", "/ws?token=garbage")[0] == 401
    assert server.request("POST", "/api/realtime/broadcast", body={"message": "hello"}, bearer=root)[0] == 200
    await bob.expect("broadcast")
    await bob.close()

    def moved() -> bool:
        return value(scrape(server, root), "travelsense_ws_session_duration_seconds_count") > value(
            before, "travelsense_ws_session_duration_seconds_count"
        )

    await eventually(moved)
    after = scrape(server, root)

    def delta(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert delta("travelsense_ws_connects_total") == 2
    assert value(after, "travelsense_ws_connections") == 1
    assert delta("travelsense_ws_disconnects_total", reason="normal") == 1
    assert delta("travelsense_ws_session_duration_seconds_count") == 1
    assert delta("travelsense_ws_messages_in_total", event="join_trip_room") == 2
    assert delta("travelsense_ws_messages_in_total", event="chat_message") == 7
    assert delta("travelsense_ws_messages_in_total", event="invalid") == 1
    assert delta("travelsense_ws_messages_in_total", event="other") == 1
    assert delta("travelsense_ws_messages_out_total", event="chat_message") >= 6  # sender and bob, 3 messages
    assert delta("travelsense_ws_messages_out_total", event="broadcast") == 2
    assert delta("travelsense_ws_messages_out_total", event="connected") == 2
    assert delta("travelsense_realtime_errors_total", transport="ws", code="BAD_REQUEST") == 1
    assert delta("travelsense_realtime_errors_total", transport="ws", code="UNKNOWN_EVENT") == 1
    assert delta("travelsense_realtime_errors_total", transport="ws", code="RATE_LIMITED") >= 1
    assert delta("travelsense_rate_limit_hits_total", scope="message") >= 1
    assert delta("travelsense_ws_handshake_refusals_total", status="401") == 1
    assert delta("travelsense_delivery_latency_seconds_count") >= 4  # three chat messages and a broadcast
    assert delta("travelsense_bus_lag_seconds_count") >= 4
    assert delta("travelsense_eventlog_append_seconds_count") >= 8
    assert (
        delta("travelsense_eventlog_append_batch_size_sum") >= 8
        and delta("travelsense_eventlog_append_batch_size_count") >= 1
    )
    assert delta("travelsense_admin_actions_total", action="broadcast", outcome="accepted") == 1
    await ada.close()


async def test_metric_labels_never_carry_user_trip_or_session_ids(limited_server: ServerProcess) -> None:
    people = People()
    trip = make_trip(limited_server, people, "ada")
    ada = await Client.connect(limited_server, people.token("ada"))
    await ada.request("join_trip_room", {"tripId": trip["tripId"]}, "j", "trip_room_joined")
    await ada.send(f"event_{trip['tripId']}", {"tripId": trip["tripId"]})
    await ada.expect("error")
    session_id = ada.frames[0]["data"]["sessionId"]
    status, text = limited_server.request("GET", "/metrics", bearer=admin_token(people))
    assert status == 200
    assert trip["tripId"] not in text and people.id("ada") not in text and session_id not in text
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            assert set(sample.labels) <= {
                "reason",
                "status",
                "event",
                "transport",
                "code",
                "scope",
                "action",
                "outcome",
                "le",
                "generation",  # python_gc_*
                "implementation",  # python_info
                "major",
                "minor",
                "patchlevel",
                "version",  # python_info, travelsense_build_info
                "revision",
                "python",
            }, sample
            assert not any(HEX24.search(v) for v in sample.labels.values()), sample
    await ada.close()


# /api/audit/events ---------------------------------------------------------------------------


def test_the_audit_api_is_for_admins_only(shared_server: ServerProcess, people: People) -> None:
    assert shared_server.request("GET", "/api/audit/events")[0] == 401
    assert shared_server.request("GET", "/api/audit/events", bearer=token("bad-sub", role="admin"))[0] == 401
    status, error = shared_server.request("GET", "/api/audit/events", bearer=people.token("ada"))
    assert status == 403 and error["error"]["code"] == "FORBIDDEN"


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("tripId=nope", "tripId"),
        ("userId=123", "userId"),
        ("userId=", "userId"),
        ("from=yesterday", "from"),
        ("to=2025-13-01T00:00:00Z", "to"),
        ("from=", "from"),
        ("limit=0", "limit"),
        ("limit=1001", "limit"),
        ("limit=ten", "limit"),
        ("after=-1", "after"),
        ("after=99999999999999999999", "after"),
        ("type=", "type"),
        (f"type={'x' * 101}", "type"),
    ],
)
def test_the_audit_api_answers_400_naming_the_bad_parameter(
    shared_server: ServerProcess, people: People, query: str, field: str
) -> None:
    status, error = shared_server.request("GET", f"/api/audit/events?{query}", bearer=admin_token(people))
    assert status == 400, error
    assert error["error"]["code"] == "VALIDATION_ERROR" and error["error"]["details"][field]


async def test_the_audit_api_returns_a_refused_command_with_its_reason(
    shared_server: ServerProcess, people: People
) -> None:
    trip = make_trip(shared_server, people, "owner")
    eve = await Client.connect(shared_server, people.token("eve"))
    chat = {"tripId": trip["tripId"], "message": "let me in"}
    refused = await eve.request("chat_message", chat, "c1", "chat_message")
    assert refused["event"] == "error" and refused["data"]["code"] == "NOT_IN_ROOM"
    forbidden = await eve.request("join_trip_room", {"tripId": trip["tripId"]}, "j1", "trip_room_joined")
    assert forbidden["data"]["code"] == "FORBIDDEN"
    root = admin_token(people)

    [chat] = audit(shared_server, root, userId=people.id("eve"), type="chat_message")["events"]
    assert chat["outcome"] == "refused" and chat["source"] == "ws"
    assert chat["error"]["code"] == "NOT_IN_ROOM" and chat["error"]["message"] == refused["data"]["message"]
    assert chat["tripId"] == trip["tripId"] and chat["ref"] == "c1" and chat["payload"]["message"] == "let me in"
    assert chat["sessionId"] == eve.frames[0]["data"]["sessionId"] and chat["at"].endswith("Z")
    assert chat["events"] == [] and chat["version"] is None
    [join] = audit(shared_server, root, userId=people.id("eve"), type="join_trip_room")["events"]
    assert join["outcome"] == "refused" and join["error"]["code"] == "FORBIDDEN"
    await eve.close()


async def test_the_audit_api_filters_by_trip_user_type_and_time_and_pages_with_after(
    shared_server: ServerProcess, people: People
) -> None:
    root = admin_token(people)
    lisbon = make_trip(shared_server, people, "ada", "bob")
    porto = make_trip(shared_server, people, "ada")
    ada = await Client.connect(shared_server, people.token("ada"))
    bob = await Client.connect(shared_server, people.token("bob"))
    await ada.request("join_trip_room", {"tripId": lisbon["tripId"]}, "j1", "trip_room_joined")
    await bob.request("join_trip_room", {"tripId": lisbon["tripId"]}, "j2", "trip_room_joined")
    await ada.request("join_trip_room", {"tripId": porto["tripId"]}, "j3", "trip_room_joined")
    for n in range(3):
        await ada.request("chat_message", {"tripId": lisbon["tripId"], "message": f"a{n}"}, f"a{n}", "chat_message")
        await asyncio.sleep(0.01)  # the log's clock counts milliseconds: keep the three apart
    middle = audit(shared_server, root, tripId=lisbon["tripId"], type="chat_message")["events"][1]["at"]
    await bob.request("chat_message", {"tripId": lisbon["tripId"], "message": "b"}, "b0", "chat_message")
    await ada.request("chat_message", {"tripId": porto["tripId"], "message": "p"}, "p0", "chat_message")

    in_lisbon = audit(shared_server, root, tripId=lisbon["tripId"])["events"]
    assert {r["tripId"] for r in in_lisbon} == {lisbon["tripId"]}
    commands = ["create_trip", "join_trip_room", "join_trip_room"] + ["chat_message"] * 4
    assert [r["command"] for r in in_lisbon] == commands
    positions = [r["position"] for r in in_lisbon]
    assert positions == sorted(positions)  # oldest first

    chats = audit(shared_server, root, tripId=lisbon["tripId"], userId=people.id("ada"), type="chat_message")
    assert [r["payload"]["message"] for r in chats["events"]] == ["a0", "a1", "a2"] and chats["next"] is None
    since = audit(shared_server, root, tripId=lisbon["tripId"], type="chat_message", **{"from": middle})["events"]
    assert [r["payload"]["message"] for r in since] == ["a1", "a2", "b"]
    until = audit(shared_server, root, tripId=lisbon["tripId"], type="chat_message", to=middle)["events"]
    assert [r["payload"]["message"] for r in until] == ["a0"]
    offset = middle.replace("Z", "+01:00")  # the same wall time an hour earlier in UTC
    assert audit(shared_server, root, tripId=lisbon["tripId"], type="chat_message", **{"from": offset})["events"]

    pages, after = [], 0
    while True:
        page = audit(shared_server, root, userId=people.id("ada"), limit=2, after=after)
        pages.append(page["events"])
        if page["next"] is None:
            break
        assert page["next"] == page["events"][-1]["position"] and len(page["events"]) == 2
        after = page["next"]
    walked = [r["position"] for page in pages for r in page]
    everything = [r["position"] for r in audit(shared_server, root, userId=people.id("ada"), limit=1000)["events"]]
    assert walked == everything and len(walked) == len(set(walked)) >= 8
    await ada.close()
    await bob.close()


async def test_connection_admin_and_security_events_are_audit_records(
    shared_server: ServerProcess, people: People
) -> None:
    root = admin_token(people)
    expired = people.token("ada", ttl=-10)
    assert shared_server.request("GET", f"/ws?token={expired}")[0] == 401
    assert shared_server.request("GET", f"/api/trips/{object_id(1)}", bearer=expired)[0] == 401
    assert shared_server.request("POST", "/api/trips", body={"title": "x"}, bearer=expired)[0] == 401
    ada = await Client.connect(shared_server, people.token("ada"), user_agent_header="Audit-Agent/1.0")
    await ada.close()

    def records(**params: Any) -> list[dict[str, Any]]:
        return list(audit(shared_server, root, **params)["events"])

    await eventually(lambda: len(records(userId=people.id("ada"), type="disconnect")) == 1)
    [connect] = records(userId=people.id("ada"), type="connect")
    assert connect["outcome"] == "accepted" and connect["sessionId"] == ada.frames[0]["data"]["sessionId"]
    assert connect["meta"]["ip"] == "127.0.0.1" and connect["meta"]["userAgent"] == "Audit-Agent/1.0"
    [disconnect] = records(userId=people.id("ada"), type="disconnect")
    assert disconnect["events"][0]["data"]["code"] == 1000

    handshakes = [r for r in records(type="ws_handshake") if "expired" in r["error"]["message"]]
    assert handshakes and handshakes[-1]["outcome"] == "refused" and handshakes[-1]["error"]["code"] == "UNAUTHORIZED"
    assert handshakes[-1]["meta"]["status"] == 401 and handshakes[-1]["meta"]["ip"] == "127.0.0.1"
    queries = [r for r in records(type="rest_unauthorized") if r["meta"]["path"] == f"/api/trips/{object_id(1)}"]
    assert queries and queries[-1]["userId"] is None and queries[-1]["meta"]["method"] == "GET"
    commands = [
        r for r in records(type="create_trip") if r["outcome"] == "refused" and r["error"]["code"] == "UNAUTHORIZED"
    ]
    assert commands and commands[-1]["meta"]["path"] == "/api/trips"
    log_text = json.dumps(records(limit=1000))
    assert expired not in log_text  # tokens are never stored


async def test_a_rate_limit_hit_is_an_audit_record(limited_server: ServerProcess) -> None:
    people = People()
    trip = make_trip(limited_server, people, "ada")
    ada = await Client.connect(limited_server, people.token("ada"))
    await ada.request("join_trip_room", {"tripId": trip["tripId"]}, "j", "trip_room_joined")
    for n in range(10):
        await ada.send("typing", {"tripId": trip["tripId"], "isTyping": True}, f"t{n}")
        await ada.send("presence_update", {"tripId": trip["tripId"], "status": "away"}, f"p{n}")
    await ada.silent_for(0.3)
    limited = [
        r
        for r in audit(limited_server, admin_token(people), userId=people.id("ada"), limit=1000)["events"]
        if r["outcome"] == "refused"
    ]
    assert limited and {r["error"]["code"] for r in limited} == {"RATE_LIMITED"}
    assert limited[0]["error"]["details"]["retryAfterMs"] > 0
    await ada.close()


async def test_ip_and_user_agent_appear_in_the_audit_view_but_never_in_broadcasts(
    shared_server: ServerProcess, people: People
) -> None:
    trip = make_trip(shared_server, people, "ada", "bob")
    bob = await Client.connect(shared_server, people.token("bob"))
    await bob.request("join_trip_room", {"tripId": trip["tripId"]}, "j", "trip_room_joined")
    ada = await Client.connect(shared_server, people.token("ada"), user_agent_header="Secret-Agent/7.0")
    await ada.request("join_trip_room", {"tripId": trip["tripId"]}, "j", "trip_room_joined")
    await ada.request("presence_update", {"tripId": trip["tripId"], "status": "busy"}, "p", "user_presence_updated")
    await ada.request("chat_message", {"tripId": trip["tripId"], "message": "hello"}, "c", "chat_message")
    await ada.send("typing", {"tripId": trip["tripId"], "isTyping": True})
    await bob.expect("user_typing")
    seen = json.dumps(bob.frames + ada.frames)
    assert "Secret-Agent" not in seen and "127.0.0.1" not in seen and '"ip"' not in seen

    root = admin_token(people)
    [connect] = audit(shared_server, root, userId=people.id("ada"), type="connect")["events"]
    assert connect["meta"]["userAgent"] == "Secret-Agent/7.0"
    await ada.close()
    await bob.close()


# logs ---------------------------------------------------------------------------------------


async def test_logs_are_json_lines_with_session_and_correlation_ids_and_no_tokens(tmp_path: Path) -> None:
    server = ServerProcess(f"sqlite:///{tmp_path}/events.db").start(tmp_path)
    people = People()
    secret_token = people.token("ada")
    try:
        ada = await Client.connect(server, secret_token)
        session_id = ada.frames[0]["data"]["sessionId"]
        await ada.close()
        assert server.request("GET", f"/ws?token={secret_token}x")[0] == 401
        req_status, _ = server.request("GET", "/api/notifications?unread=true", bearer=secret_token)
        assert req_status == 200
        request = Request(f"{server.base}/healthz", headers={"X-Request-ID": "trace-42"})
        with urlopen(request, timeout=5) as response:
            assert response.headers["X-Request-ID"] == "trace-42"
        await asyncio.sleep(0.3)
    finally:
        server.stop()
    text = server.read_log()
    lines = [json.loads(line) for line in text.splitlines() if line.startswith("{")]
    assert lines and all({"timestamp", "level", "logger", "message"} <= set(line) for line in lines)
    assert any(line.get("session_id") == session_id and line["message"] == "session opened" for line in lines)
    assert any(line.get("session_id") == session_id and line["message"] == "session closed" for line in lines)
    assert any(line.get("correlation_id") == "trace-42" and "/healthz" in line["message"] for line in lines)
    assert secret_token not in text and "token=" not in text and "unread=true" not in text
    assert "Bearer" not in text
