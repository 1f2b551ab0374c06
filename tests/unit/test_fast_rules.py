"""The fast path in front of Cerberus accepts only what Cerberus accepts, with the same result."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from domain import schemas
from domain.fast_rules import compile_flat

ALL_SCHEMAS: dict[str, dict[str, Any]] = {
    "tripId": schemas.TRIP_ID,
    **{f"event:{k}": v for k, v in schemas.CLIENT_EVENTS.items()},
    **{f"update:{k}": v for k, v in schemas.UPDATE_DATA.items()},
    **{f"rest:{k}": v for k, v in schemas.REST_BODIES.items()},
}
FAST = {key: compile_flat(schema) for key, schema in ALL_SCHEMAS.items()}

object_ids = st.text(alphabet="0123456789abcdefABCDEF", min_size=23, max_size=25)
strings = st.one_of(
    object_ids,
    st.text(max_size=8),
    st.sampled_from(
        ["", " ", "  x ", "text", "alert", "online", "away", "day_added", "\n", "a" * 1001, " " + "b" * 1000 + " "]
    ),
)
scalars = st.one_of(strings, st.integers(-3, 3), st.booleans(), st.none(), st.floats(-2, 2, allow_nan=False))
values = st.one_of(scalars, st.dictionaries(st.text(max_size=3), scalars, max_size=2), st.lists(scalars, max_size=2))


def documents(schema: dict[str, Any]) -> st.SearchStrategy[dict[str, Any]]:
    keys = st.sampled_from([*schema, "extra"]) if schema else st.just("extra")
    return st.dictionaries(keys, values, max_size=len(schema) + 1)


def test_the_hot_room_events_have_a_fast_path() -> None:
    for key in (
        "tripId",
        "event:chat_message",
        "event:typing",
        "event:presence_update",
        "event:join_trip_room",
        "event:leave_trip_room",
        "event:trip_update",
    ):
        assert FAST[key] is not None, key


@settings(max_examples=300, deadline=None)
@given(data=st.data())
def test_fast_accepts_only_what_cerberus_accepts_with_the_same_document(data: st.DataObject) -> None:
    key = data.draw(st.sampled_from(sorted(k for k, f in FAST.items() if f is not None)))
    schema = ALL_SCHEMAS[key]
    document = data.draw(documents(schema))
    if (key == "tripId" or "tripId" in schema) and data.draw(st.booleans()):
        document["tripId"] = "a" * 24  # valid often enough to reach the other rules
    fast = FAST[key]
    assert fast is not None
    got = fast(dict(document))
    if got is None:
        return
    validator = schemas._Rules(schema)
    assert validator.validate(dict(document)), (key, document, validator.errors)
    assert got == validator.document
    assert list(got) == list(validator.document)


def test_valid_chat_message_is_normalised_like_cerberus() -> None:
    fast = FAST["event:chat_message"]
    assert fast is not None
    document = {"tripId": "0123456789abcdef01234567", "message": "  hello  "}
    assert fast(document) == {"tripId": "0123456789abcdef01234567", "message": "hello", "type": "text"}
    # blank after the strip: Cerberus words the error
    assert fast({"tripId": "0123456789abcdef01234567", "message": "   "}) is None
    assert fast({"tripId": "0123456789abcdef01234567", "message": "x", "other": 1}) is None
