"""Client text is never taken for a sealed value (``eventlog/sealing.py``): a sealed value is a
string that starts with U+001E, and every frame and REST answer is encoded by ``Opener.dumps``,
which masks such a string as ``[erased]``, as does every read of the log.

So the client strings that reach a frame, an answer or a log record without ``domain/sanitize.py``
looking at them may hold no control character: a frame's ``event`` or ``ref`` with one is refused
(``BAD_REQUEST``) and not echoed, a data key with one is named escaped in the error, and a
query-string value comes without one (Tornado turns C0 controls into spaces).  Each is checked on a
real node, in the answers and in the log as the audit API reads it back.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

import pytest

from eventlog.sealing import MASK
from tests.e2e.conftest import People, close_all, in_room, make_trip
from tests.e2e.wire import ADMIN, audit
from tests.server import Client, ServerProcess, token

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(60)]


def masked(value: Any, path: str = "") -> list[str]:
    """Where ``value`` holds ``MASK`` (no one is erased in these tests: it may hold it nowhere)."""
    if value == MASK:
        return [path or "."]
    if isinstance(value, dict):
        return [hit for key, item in value.items() for hit in masked(item, f"{path}.{key}")]
    if isinstance(value, list):
        return [hit for n, item in enumerate(value) for hit in masked(item, f"{path}.{n}")]
    return []


async def answer_to(client: Client, raw: str) -> dict[str, Any]:
    await client.send_raw(raw)
    error = await client.expect("error")
    assert masked(error) == [], error
    return error


async def test_an_event_with_a_control_character_is_refused_and_not_echoed(
    shared_server: ServerProcess, people: People
) -> None:
    ada = await Client.connect(shared_server, people.token("ada"))
    error = await answer_to(ada, json.dumps({"event": "\x1e", "data": 1}))
    assert error["data"]["code"] == "BAD_REQUEST" and error["data"]["event"] is None, error
    assert "ref" not in error
    for event in ("\x1e", "\x1echat_message", "chat_message\x7f", "typing\x00"):
        error = await answer_to(ada, json.dumps({"event": event, "data": {}, "ref": "r-event"}))
        assert error["data"]["code"] == "BAD_REQUEST" and error["data"]["event"] is None, (event, error)
        assert error["ref"] == "r-event", error  # its ref is usable: echoed
    # a frame over the value bound is answered from its event and ref as read off the raw text,
    # unparsed; raw control bytes there are no JSON, and it is answered so (its event unechoed)
    over = '{"event": "\x1e", "data": {"x": [' + ",".join(["0"] * 3000) + ']}, "ref": "r-over"}'
    error = await answer_to(ada, over)
    assert error["data"] == {"code": "BAD_REQUEST", "message": "frame is not JSON", "event": None}, error
    refused = [r for r in audit(shared_server, userId=people.id("ada")) if r["outcome"] == "refused"]
    assert len(refused) == 6 and masked(refused) == [], refused
    assert {r["command"] for r in refused} == {"(none)"}
    assert [r["ref"] for r in refused] == [None] + ["r-event"] * 4 + [None]
    assert {r["error"]["code"] for r in refused} == {"BAD_REQUEST"}
    assert ada.ws.close_code is None
    await close_all(ada)


async def test_a_ref_with_a_control_character_is_refused_and_not_echoed(
    shared_server: ServerProcess, people: People
) -> None:
    trip = make_trip(shared_server, people, "ada", "bob")
    ada, bob = await in_room(shared_server, people, trip, "ada", "bob")
    error = await answer_to(ada, json.dumps({"event": "chat_message", "ref": "\x1eabc", "data": {}}))
    assert error["data"]["code"] == "BAD_REQUEST" and error["data"]["event"] == "chat_message", error
    assert "ref" not in error
    for ref in ("\x1eabc", "ab\x00", "a\x85b"):  # a valid message all the same: refused, never posted
        raw = json.dumps({"event": "chat_message", "ref": ref, "data": {"tripId": trip["tripId"], "message": "no"}})
        error = await answer_to(ada, raw)
        assert error["data"]["code"] == "BAD_REQUEST" and error["data"]["event"] == "chat_message", (ref, error)
        assert "ref" not in error
    sent = await ada.request("chat_message", {"tripId": trip["tripId"], "message": "yes"}, "ok", "chat_message")
    assert sent["event"] == "chat_message" and sent["data"]["message"] == "yes"
    assert (await bob.expect("chat_message"))["data"]["message"] == "yes"  # the first bob hears
    # tab and newline are no control characters here, as in any value: a ref may hold them
    tabbed = await ada.request("chat_message", {"tripId": trip["tripId"], "message": "tab"}, "a\tb\n", "chat_message")
    assert tabbed["ref"] == "a\tb\n" and tabbed["data"]["message"] == "tab"
    assert (await bob.expect("chat_message"))["data"]["message"] == "tab"
    refused = [r for r in audit(shared_server, userId=people.id("ada")) if r["outcome"] == "refused"]
    assert len(refused) == 4 and masked(refused) == [], refused
    assert {(r["command"], r["ref"], r["error"]["code"]) for r in refused} == {("chat_message", None, "BAD_REQUEST")}
    await close_all(ada, bob)


async def test_a_data_key_with_a_control_character_is_named_escaped(
    shared_server: ServerProcess, people: People
) -> None:
    trip = make_trip(shared_server, people, "ada")
    (ada,) = await in_room(shared_server, people, trip, "ada")
    data = {"tripId": trip["tripId"], "message": "x", "\x1eabc": 1}
    error = await answer_to(ada, json.dumps({"event": "chat_message", "ref": "k1", "data": data}))
    assert error["ref"] == "k1" and error["data"]["code"] == "VALIDATION_ERROR", error
    assert error["data"]["message"] == "\\x1eabc: keys may not contain control characters", error
    assert error["data"]["details"] == {"\\x1eabc": ["keys may not contain control characters"]}, error
    status, body = shared_server.request(
        "POST", "/api/trips", body={"title": "t", "\x1e": 1}, bearer=people.token("ada")
    )
    assert status == 400 and masked(body) == [], body
    assert body["error"]["message"] == "\\x1e: keys may not contain control characters", body
    records = audit(shared_server, userId=people.id("ada"))
    refused = {r["command"]: r for r in records if r["outcome"] == "refused"}
    assert masked(list(refused.values())) == [], refused
    assert refused["chat_message"]["error"]["message"].startswith("\\x1eabc: ")
    assert refused["create_trip"]["error"]["message"].startswith("\\x1e: ")
    await close_all(ada)


def test_a_query_string_value_reaches_the_log_without_control_characters(shared_server: ServerProcess) -> None:
    status, body = shared_server.request(
        "GET", f"/api/audit/events?type={quote(chr(0x1E))}abc", bearer=token(ADMIN, role="admin")
    )
    assert status == 200 and masked(body) == [], body
    queries = audit(shared_server, type="admin_audit_query", userId=ADMIN)
    assert masked(queries) == [], queries
    assert any((q["payload"] or {}).get("type") == "abc" for q in queries), queries
