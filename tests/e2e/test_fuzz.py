"""Property-based fuzzing (hypothesis) of every inbound WebSocket event and REST
body against one real server process.

Each generated frame goes over one long-lived connection that sits in a real
trip's room, followed by a probe frame whose error marks the end of its
answers.  For every frame: each answer is a well-formed error (with a known
code, never INTERNAL) or a valid result, a refused frame produced no stream
event, and a bystander in the same room stays connected.  An error echoes the
frame's ``event`` and ``ref`` as sent, unless one has a control character
(Unicode's Cc or Cs): that frame is ``BAD_REQUEST`` and the unusable one is not
echoed (nor ever shown as ``[erased]``, as client text taken for a sealed value
would be).  At the end the trip's stream holds exactly the events whose
acknowledgement the fuzzer saw, and the log calls every refused ref refused.
"""

from __future__ import annotations

import contextlib
import http.client
import itertools
import json
import math
import time
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import websockets
import websockets.sync.client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from domain.schemas import CHAT_TYPES, PRESENCE_STATUSES, UPDATE_TYPES
from tests.e2e.wire import ADMIN, audit, create_trip, stream
from tests.server import ServerProcess, object_id, token

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]

OWNER, FRIEND, STRANGER = object_id(1), object_id(2), object_id(3)
CLIENT_EVENTS = (
    "join_trip_room",
    "leave_trip_room",
    "trip_update",
    "chat_message",
    "typing",
    "presence_update",
    "refresh_token",
)
SERVER_EVENTS = {
    "error",
    "trip_room_joined",
    "trip_room_left",
    "trip_updated",
    "chat_message",
    "user_presence_updated",
    "token_refreshed",
    "user_joined",
    "user_left",
    "user_typing",
    "notification",
    "broadcast",
    "token_expiring",
}
ERROR_CODES = {
    "BAD_REQUEST",
    "UNKNOWN_EVENT",
    "VALIDATION_ERROR",
    "TRIP_NOT_FOUND",
    "FORBIDDEN",
    "NOT_IN_ROOM",
    "CONFLICT",
    "RATE_LIMITED",
    "PAYLOAD_TOO_LARGE",
    "INVALID_TOKEN",
}
FRAME_LIMIT = 64 * 1024
MASK = "[erased]"  # what a sealed value whose key is gone reads as: no one is erased here
WS_EXAMPLES = 2000
REST_EXAMPLES = 300


# strategies -------------------------------------------------------------------------------

odd_text = st.text(
    alphabet=st.characters(codec=None, exclude_categories=()),  # surrogates and controls included
    max_size=40,
)
keys = st.one_of(
    st.text(max_size=12),
    odd_text,
    st.sampled_from(
        [
            *("$where", "$gt", "a.b", ".", "$", "", "__proto__", "\u0000", "tripId", "data", "ref", "é", "e\u0301"),
            "\x1eabc",  # as a sealed value starts
        ]
    ),
)
huge_numbers = st.one_of(
    st.integers(),
    st.sampled_from([2**53, 2**53 - 1, -(2**63), 2**64, 10**30, -(10**400)]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([1e308, -1e-308, 5e-324, 1.7976931348623157e308]),
)
scalars = st.one_of(st.none(), st.booleans(), huge_numbers, odd_text, st.text(max_size=30))
json_values = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=5), st.dictionaries(keys, inner, max_size=5)),
    max_leaves=25,
)


def nested(depth: int, leaf: Any = 1) -> Any:
    value = leaf
    for n in range(depth):
        value = {"k": value} if n % 2 else [value]
    return value


def many_keys_at_every_depth(depth: int, width: int) -> dict[str, Any]:
    level: dict[str, Any] = {}
    for d in range(depth):
        level = {**{f"k{d}_{i}": i for i in range(width)}, "inner": level}
    return level


def wide_values() -> st.SearchStrategy[dict[str, Any]]:
    """Objects that are costly by width: many keys, long lists, many small keys at every depth
    (all within the frame limit, so they reach the validation path)."""
    return st.one_of(
        st.integers(1, 4_000).map(lambda n: {f"k{i}": 0 for i in range(n)}),
        st.integers(1, 20_000).map(lambda n: {"x": [0] * n}),
        st.integers(1, 400).map(lambda n: {"constraint": {"type": "t", "value": [{"a": [0, 0]}] * n}}),
        st.tuples(st.integers(1, 8), st.integers(1, 500)).map(lambda dw: many_keys_at_every_depth(*dw)),
    )


@dataclass
class World:
    """The server and the trips the fuzz runs against (set up once for the module)."""

    server: ServerProcess
    trip: str  # the fuzzer (OWNER) and the bystander (FRIEND) sit in its room
    foreign: str  # a trip the fuzzer has no access to
    rest_trip: str  # REST fuzzing adds collaborators here, away from ``trip``
    head: int  # the trip's stream head before fuzzing
    fuzzer: Any = None
    bystander: Any = None
    accepted_seqs: set[int] = field(default_factory=set)
    refused_refs: dict[str, str] = field(default_factory=dict)  # ref -> error code
    accepted_refs: set[str] = field(default_factory=set)
    counter: Iterator[int] = field(default_factory=itertools.count)
    frames_sent: int = 0


def trip_ids(world: World) -> st.SearchStrategy[Any]:
    return st.one_of(
        st.just(world.trip),
        st.just(world.trip),
        st.just(world.trip),
        st.just(world.foreign),
        st.just(world.trip.upper()),
        st.text(alphabet="0123456789abcdef", min_size=23, max_size=25),
        scalars,
        json_values,
    )


def maybe(value: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """A field's value: usually from ``value``, sometimes anything at all."""
    return st.one_of(value, value, value, json_values)


def fields(
    required: dict[str, st.SearchStrategy[Any]], optional: dict[str, st.SearchStrategy[Any]] | None = None
) -> st.SearchStrategy[dict[str, Any]]:
    """Objects with these fields (each sometimes missing) and sometimes extra keys."""
    base = st.fixed_dictionaries(
        {k: maybe(v) for k, v in required.items()}, optional={k: maybe(v) for k, v in (optional or {}).items()}
    )
    extra = st.dictionaries(keys, json_values, max_size=2)

    def combine(parts: tuple[dict[str, Any], dict[str, Any], set[str]]) -> dict[str, Any]:
        body, more, drop = parts
        out = {k: v for k, v in body.items() if k not in drop}
        out.update(more)
        return out

    one_dropped = st.sets(st.sampled_from(sorted(required) or ["-"]), max_size=1)
    drops: st.SearchStrategy[set[str]] = st.one_of(st.just(set()), st.just(set()), one_dropped)
    return st.tuples(base, st.one_of(st.just({}), st.just({}), extra), drops).map(combine)


def long_text(low: int, high: int) -> st.SearchStrategy[str]:
    """Strings around a length limit, made cheaply from a short random piece."""
    return st.tuples(st.text(min_size=1, max_size=4), st.integers(low, high)).map(
        lambda t: (t[0] * (t[1] // len(t[0]) + 1))[: t[1]]
    )


object_ids = st.one_of(st.integers(0, 2**96 - 1).map(lambda n: f"{n:024x}"), st.just("x" * 24))
dates = st.one_of(st.dates().map(lambda d: d.isoformat()), st.sampled_from(["2024-02-30", "2024-13-01", "24-01-01"]))
times = st.one_of(
    st.sampled_from(["00:00", "23:59", "24:00", "9:00", "12:60", "noon"]), st.times().map(lambda t: t.strftime("%H:%M"))
)
titles = st.one_of(st.text(max_size=20), long_text(190, 210), st.just("   "), odd_text)
activity = fields(
    {"title": titles},
    {
        "startTime": times,
        "endTime": times,
        "location": titles,
        "notes": st.one_of(st.text(max_size=20), long_text(1990, 2010)),
        "cost": huge_numbers,
        "activityId": object_ids,
    },
)


def update_data(update_type: str) -> st.SearchStrategy[Any]:
    return {
        "day_added": fields({"day": fields({"date": dates}, {"title": titles, "dayId": object_ids})}),
        "day_removed": fields({"dayId": object_ids}),
        "activity_added": fields({"dayId": object_ids, "activity": activity}),
        "activity_updated": fields({"dayId": object_ids, "activityId": object_ids, "changes": activity}),
        "activity_removed": fields({"dayId": object_ids, "activityId": object_ids}),
        "constraint_added": fields(
            {
                "constraint": fields(
                    {"type": titles, "value": json_values}, {"description": titles, "constraintId": object_ids}
                )
            }
        ),
        "constraint_removed": fields({"constraintId": object_ids}),
    }.get(update_type, json_values)


def event_data(world: World, event: str) -> st.SearchStrategy[Any]:
    trip = trip_ids(world)
    tokens = st.one_of(
        st.just(token(OWNER, ttl=7200)),
        st.just(token(FRIEND, ttl=7200)),
        st.just(token(OWNER, ttl=-10)),
        st.text(max_size=50),
        st.just("x" * 9000),
    )
    shapes: dict[str, st.SearchStrategy[Any]] = {
        "join_trip_room": fields({"tripId": trip}, {"lastSeq": huge_numbers}),
        "leave_trip_room": fields({"tripId": st.one_of(trip, st.just(world.foreign))}),
        "trip_update": st.one_of(
            *[
                fields(
                    {"tripId": trip, "updateType": st.just(kind), "data": update_data(kind)},
                    {"baseVersion": huge_numbers},
                )
                for kind in (*UPDATE_TYPES, "snapshot", "collaborator_added", "", "DAY_ADDED")
            ]
        ),
        "chat_message": fields(
            {
                "tripId": trip,
                "message": st.one_of(st.text(max_size=50), odd_text, long_text(990, 1010), st.just(" \n\t ")),
            },
            {"type": st.sampled_from([*CHAT_TYPES, "TEXT", "html"])},
        ),
        "typing": fields({"tripId": trip, "isTyping": st.one_of(st.booleans(), st.sampled_from(["true", 1, 0]))}),
        "presence_update": fields({"tripId": trip, "status": st.sampled_from([*PRESENCE_STATUSES, "ONLINE", ""])}),
        "refresh_token": fields({"token": tokens}),
    }
    return shapes[event]


def frames(world: World) -> st.SearchStrategy[tuple[str | bytes, Any]]:
    """(the raw frame, the decoded object or None)."""
    refs = st.one_of(
        st.just("<unique>"),
        st.just("<unique>"),
        st.just("<unique>"),
        st.just("<none>"),
        st.sampled_from(["", "r" * 65, 7, None, ["r"], {"r": 1}, "\x1eabc", "r\x00", "a\x85b", "\ud800"]),
    )

    def frame_object(parts: tuple[Any, Any, Any]) -> dict[str, Any]:
        event, data, ref = parts
        frame: dict[str, Any] = {"event": event, "data": data}
        if ref == "<unique>":
            frame["ref"] = f"fz-{next(world.counter)}"
        elif ref != "<none>":
            frame["ref"] = ref
        return frame

    known = [st.tuples(st.just(event), event_data(world, event), refs) for event in CLIENT_EVENTS]
    with_controls = st.sampled_from(["\x1e", "\x1echat_message", "chat_message\n", "typing\x7f", "\udc80"])
    unknown = st.tuples(st.one_of(st.text(max_size=20), json_values, with_controls), json_values, refs)
    structured = st.one_of(*known, unknown).map(frame_object)
    as_json = structured.map(lambda f: (json.dumps(f), f))
    return st.one_of(
        as_json,
        as_json,
        as_json,
        as_json,
        as_json,
        as_json,
        json_values.map(lambda v: (json.dumps(v), v)),  # any JSON value, objects included
        st.binary(max_size=200).map(lambda b: (b, None)),  # a binary frame
        st.text(max_size=200).map(lambda t: (t, None)),  # text that is seldom JSON
        st.integers(1, 3000).map(lambda d: ("[" * d + "]" * d, None)),  # deep nesting, even past any parser
        st.tuples(st.integers(9, 40), st.sampled_from(CLIENT_EVENTS)).map(
            lambda de: (
                json.dumps(
                    f := {
                        "event": de[1],
                        "data": {"tripId": world.trip, "x": nested(de[0])},
                        "ref": f"fz-{next(world.counter)}",
                    }
                ),
                f,
            )
        ),
        st.integers(FRAME_LIMIT - 200, FRAME_LIMIT * 3).map(  # around and past the size limit
            lambda n: (
                json.dumps(
                    f := {
                        "event": "chat_message",
                        "data": {"tripId": world.trip, "message": "m" * n},
                        "ref": f"fz-{next(world.counter)}",
                    }
                ),
                f,
            )
        ),
        st.tuples(st.sampled_from(CLIENT_EVENTS), wide_values(), st.booleans()).map(  # width, not depth
            lambda ewu: (
                json.dumps(
                    f := {
                        "event": ewu[0],
                        "data": (
                            {"tripId": world.trip, "updateType": "constraint_added", "data": ewu[1]}
                            if ewu[2]
                            else {"tripId": world.trip, **ewu[1]}
                        ),
                        "ref": f"fz-{next(world.counter)}",
                    }
                ),
                f,
            )
        ),
    )


# the world ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    tmp: Path = tmp_path_factory.mktemp("fuzz")
    unlimited = [
        "--rest-burst",
        "1000000",
        "--rest-ip-burst",
        "1000000",
        "--rate-burst",
        "1000000",
        "--rate-per-second",
        "1000000",
        "--typing-burst",
        "1000000",
        "--typing-per-second",
        "1000000",
        "--shutdown-grace",
        "2",
    ]
    server = ServerProcess(f"sqlite:///{tmp}/events.db", args=unlimited).start(tmp)
    try:
        with contextlib.ExitStack() as sockets:
            trip = create_trip(server, OWNER, [FRIEND], title="fuzzed")
            world = World(
                server,
                trip,
                create_trip(server, STRANGER),
                create_trip(server, OWNER),
                head=len(stream(server, trip, OWNER)),
            )
            world.fuzzer = _connect(sockets, server, OWNER, trip)
            world.bystander = _connect(sockets, server, FRIEND, trip)
            yield world
    finally:
        server.stop()


def _connect(sockets: contextlib.ExitStack, server: ServerProcess, user: str, trip: str) -> Any:
    ws = sockets.enter_context(
        websockets.sync.client.connect(
            f"{server.ws_base}/ws?token={token(user, ttl=7200)}", max_size=None, open_timeout=10
        )
    )
    assert json.loads(ws.recv(timeout=5))["event"] == "connected"
    ws.send(json.dumps({"event": "join_trip_room", "data": {"tripId": trip}, "ref": "join"}))
    while json.loads(ws.recv(timeout=5)).get("ref") != "join":
        pass
    return ws


def _exchange(world: World, raw: str | bytes) -> list[dict[str, Any]]:
    """Send a frame, then a probe; the frames that answered it (the probe's error ends them)."""
    probe = f"probe-{next(world.counter)}"
    ws = world.fuzzer
    ws.send(raw)
    ws.send(json.dumps({"event": "leave_trip_room", "data": {"tripId": "probe"}, "ref": probe}))
    answers: list[dict[str, Any]] = []
    deadline = time.monotonic() + 10
    while True:
        try:
            frame = json.loads(ws.recv(timeout=max(0.01, deadline - time.monotonic())))
        except websockets.ConnectionClosed as closed:
            pytest.fail(f"the server closed the fuzzing connection: {closed!r} after {raw!r:.300}")
        except TimeoutError:
            pytest.fail(f"no answer within 10 s to {raw!r:.300}")
        if frame.get("ref") == probe:
            assert frame["event"] == "error" and frame["data"]["code"] == "VALIDATION_ERROR", frame
            return answers
        answers.append(frame)


def _drain_bystander(world: World) -> None:
    while True:
        try:
            world.bystander.recv(timeout=0)
        except TimeoutError:
            return
        except websockets.ConnectionClosed as closed:
            pytest.fail(f"a fuzzed frame closed another connection: {closed!r}")


def _strict_json(raw: str | bytes) -> bool:
    """Whether ``raw`` is JSON as RFC 8259 has it (no NaN, no Infinity)."""

    def refuse(name: str) -> Any:
        raise ValueError(name)

    try:
        json.loads(raw, parse_constant=refuse)
    except (ValueError, RecursionError):
        return False
    return True


def _has_control(text: str) -> bool:
    """Whether ``text`` holds a character of Unicode's Cc (but newline and tab) or Cs."""
    return any(unicodedata.category(ch) in ("Cc", "Cs") and ch not in "\n\t" for ch in text)


def _check(world: World, raw: str | bytes, sent: Any, answers: list[dict[str, Any]]) -> None:
    size = len(raw.encode() if isinstance(raw, str) else raw)
    is_command = isinstance(sent, dict) and _strict_json(raw)
    event = sent.get("event") if is_command else None
    ref = sent.get("ref") if is_command else None
    good_ref = isinstance(ref, str) and 1 <= len(ref) <= 64 and not _has_control(ref)
    ref_key = str(ref)
    errors = []
    stream_seqs = []
    for answer in answers:
        assert isinstance(answer, dict) and isinstance(answer.get("event"), str), answer
        assert answer["event"] in SERVER_EVENTS, answer
        assert isinstance(answer.get("data"), dict), answer
        if answer["event"] == "error":
            data = answer["data"]
            assert data["code"] in ERROR_CODES, f"{data} for {raw!r:.300}"
            assert isinstance(data["message"], str) and data["message"]
            assert MASK not in (data["message"], data["event"], answer.get("ref")), f"{answer} for {raw!r:.300}"
            assert "details" not in data or isinstance(data["details"], dict)
            if size <= FRAME_LIMIT and is_command and isinstance(event, str):
                if _has_control(event):  # unusable: refused before anything else, and not echoed
                    assert data["code"] == "BAD_REQUEST" and data["event"] is None, (data, event)
                else:
                    assert data["event"] == event, (data, event)
            elif size > FRAME_LIMIT:
                assert data["code"] == "PAYLOAD_TOO_LARGE" and data["event"] is None
            if good_ref and data["code"] != "PAYLOAD_TOO_LARGE":
                assert answer.get("ref") == ref, (answer, ref)
            elif not good_ref:  # none, or unusable: not echoed
                assert "ref" not in answer, (answer, ref)
            errors.append(answer)
        elif answer["event"] in ("chat_message", "trip_updated") and "seq" in answer["data"]:
            assert answer["data"]["tripId"] == world.trip, answer
            stream_seqs.append(answer["data"]["seq"])
        elif answer["event"] == "trip_room_left" and answer["data"].get("tripId") == world.trip:
            world.fuzzer.send(json.dumps({"event": "join_trip_room", "data": {"tripId": world.trip}, "ref": "rejoin"}))
    if not answers:  # only an accepted typing frame goes to the others alone
        assert event == "typing" and isinstance(sent.get("data"), dict), f"no answer to {raw!r:.300}"
    if event == "join_trip_room":
        return  # recovered history and snapshots: nothing new
    assert len(errors) <= 1, errors
    if errors:
        assert stream_seqs == [], f"a refused frame produced stream events: {raw!r:.300}"
        if good_ref and errors[0]["data"]["code"] != "PAYLOAD_TOO_LARGE":  # logged without its unread ref
            world.refused_refs[ref_key] = errors[0]["data"]["code"]
    elif stream_seqs:
        assert event in ("chat_message", "trip_update") and len(stream_seqs) == 1, (raw, answers)
        world.accepted_seqs.update(stream_seqs)
        if good_ref:
            world.accepted_refs.add(ref_key)


# the properties -------------------------------------------------------------------------------


def test_every_inbound_frame_gets_a_structured_answer(world: World) -> None:
    @settings(
        max_examples=WS_EXAMPLES,
        deadline=None,
        database=None,
        derandomize=False,
        suppress_health_check=list(HealthCheck),
    )
    @given(frames(world))
    def run(example: tuple[str | bytes, Any]) -> None:
        raw, sent = example
        answers = _exchange(world, raw)
        world.frames_sent += 1
        _check(world, raw, sent, answers)
        if world.frames_sent % 50 == 0:
            _drain_bystander(world)

    run()
    _drain_bystander(world)
    assert world.frames_sent >= WS_EXAMPLES * 0.9
    assert world.accepted_seqs, "no generated frame was ever accepted: the strategies miss the valid space"
    assert world.refused_refs


def test_the_log_holds_exactly_what_was_acknowledged(world: World) -> None:
    events = stream(world.server, world.trip, OWNER)
    new = {e["seq"] for e in events[world.head :]}
    assert new == world.accepted_seqs, (
        f"in the stream but never acknowledged: {sorted(new - world.accepted_seqs)[:10]}; "
        f"acknowledged but not in the stream: {sorted(world.accepted_seqs - new)[:10]}"
    )
    outcomes: dict[str, set[str]] = {}
    for record in audit(world.server, userId=OWNER):
        if record.get("ref"):
            outcomes.setdefault(record["ref"], set()).add(record["outcome"])
    for ref, code in world.refused_refs.items():
        assert outcomes.get(ref) == {"refused"}, (ref, code, outcomes.get(ref))
    for ref in world.accepted_refs:
        assert outcomes.get(ref) == {"accepted"}, (ref, outcomes.get(ref))
    status, _ = world.server.request("GET", "/healthz")
    assert status == 200


# REST -------------------------------------------------------------------------------------------


REST_TARGETS = ("create_trip", "add_collaborator", "broadcast", "notify")


def rest_bodies() -> st.SearchStrategy[tuple[str, bytes]]:
    users = st.one_of(object_ids, st.just(FRIEND), scalars)
    shapes = {
        "create_trip": fields(
            {"title": titles},
            {
                "collaborators": st.lists(users, max_size=4),
                "ownerId": users,
                "days": st.lists(
                    fields({"date": dates}, {"title": titles, "activities": st.lists(activity, max_size=2)}), max_size=3
                ),
            },
        ),
        "add_collaborator": fields({"userId": users}),
        "broadcast": fields({"message": titles}, {"type": st.sampled_from(["announcement", "alert", "x"])}),
        "notify": fields({"userId": users, "kind": titles, "title": titles}, {"body": titles, "data": json_values}),
    }

    def encode(value: Any) -> bytes:
        return json.dumps(value).encode()

    return st.sampled_from(REST_TARGETS).flatmap(
        lambda target: st.tuples(
            st.just(target),
            st.one_of(
                shapes[target].map(encode),
                shapes[target].map(encode),
                shapes[target].map(encode),
                json_values.map(encode),
                st.binary(max_size=100),
                st.integers(1, 3000).map(lambda d: ("[" * d + "]" * d).encode()),
                st.integers(9, 30).map(lambda d: encode({"title": "t", "x": nested(d)})),
                wide_values().map(lambda w: encode({"title": "t", **w})),
                st.integers(1, 2_000).map(
                    lambda n: encode({"title": "t", "days": [{"date": "2026-12-04", "colour": i} for i in range(n)]})
                ),
            ),
        )
    )


def test_every_rest_body_gets_a_structured_answer(world: World) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", world.server.port, timeout=10)
    paths = {
        "create_trip": "/api/trips",
        "add_collaborator": f"/api/trips/{world.rest_trip}/collaborators",
        "broadcast": "/api/realtime/broadcast",
        "notify": "/api/realtime/notify",
    }
    bearers = {
        "create_trip": token(OWNER, ttl=7200),
        "add_collaborator": token(OWNER, ttl=7200),
        "broadcast": token(ADMIN, role="admin", ttl=7200),
        "notify": token(ADMIN, role="admin", ttl=7200),
    }
    seen: dict[int, int] = {}

    @settings(max_examples=REST_EXAMPLES, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    @given(rest_bodies())
    def run(example: tuple[str, bytes]) -> None:
        target, body = example
        conn.request(
            "POST",
            paths[target],
            body=body,
            headers={"Authorization": f"Bearer {bearers[target]}", "Content-Type": "application/json"},
        )
        response = conn.getresponse()
        raw = response.read()
        seen[response.status] = seen.get(response.status, 0) + 1
        assert response.status < 500, f"{response.status} {raw[:300]!r} for {target} {body[:300]!r}"
        answer = json.loads(raw)
        if response.status >= 400:
            error = answer["error"]
            assert error["code"] in ERROR_CODES | {"UNAUTHORIZED", "NOT_FOUND"} and error["message"], answer
            assert "details" not in error or isinstance(error["details"], dict)
        else:
            assert isinstance(answer, dict)

    try:
        run()
    finally:
        conn.close()
    assert seen.get(400, 0) > 0 and (seen.get(200, 0) + seen.get(201, 0)) > 0, seen
    assert all(not math.isnan(float(k)) for k in seen)
    _drain_bystander(world)
    status, _ = world.server.request("GET", "/healthz")
    assert status == 200
