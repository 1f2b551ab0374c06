"""Every rule of the contract's tables, with boundary values."""

from __future__ import annotations

import unicodedata
from typing import Any

import pytest

from domain import schemas
from domain.errors import CommandRefused, ErrorCode
from domain.sanitize import DEFAULT_BOUNDS, MAX_DEPTH, DocumentBounds, sanitize

TRIP = "a" * 24
DAY = "b" * 24
ACT = "c" * 24


def refused(fn: Any, *args: Any) -> CommandRefused:
    with pytest.raises(CommandRefused) as caught:
        fn(*args)
    assert caught.value.code == ErrorCode.VALIDATION_ERROR
    return caught.value


@pytest.mark.parametrize("message", ["x", "y" * 1000, "  padded to 1000 after trimming " + "z" * 968])
def test_chat_message_of_1_to_1000_characters_after_trimming_is_accepted(message: str) -> None:
    data = schemas.check_event("chat_message", {"tripId": TRIP, "message": message})
    assert data["message"] == message.strip()
    assert data["type"] == "text"


@pytest.mark.parametrize("message", ["", "   ", "\n\t ", "y" * 1001])
def test_chat_message_empty_blank_or_over_1000_is_refused(message: str) -> None:
    assert "message" in refused(schemas.check_event, "chat_message", {"tripId": TRIP, "message": message}).details


@pytest.mark.parametrize("kind", ["text", "suggestion", "alert"])
def test_chat_types_of_the_contract_are_accepted(kind: str) -> None:
    assert schemas.check_event("chat_message", {"tripId": TRIP, "message": "m", "type": kind})["type"] == kind


def test_an_unknown_chat_type_is_refused() -> None:
    assert (
        "type"
        in refused(schemas.check_event, "chat_message", {"tripId": TRIP, "message": "m", "type": "shout"}).details
    )


@pytest.mark.parametrize("trip_id", [None, 5, "", "a" * 23, "a" * 25, "g" * 24, ["a" * 24]])
def test_trip_id_must_be_a_24_hex_object_id(trip_id: Any) -> None:
    assert "tripId" in refused(schemas.check_trip_id, {"tripId": trip_id}).details


def test_a_missing_trip_id_is_refused() -> None:
    assert "tripId" in refused(schemas.check_trip_id, {}).details


@pytest.mark.parametrize("value", ["true", 1, 0, None])
def test_is_typing_must_be_a_real_boolean(value: Any) -> None:
    assert "isTyping" in refused(schemas.check_event, "typing", {"tripId": TRIP, "isTyping": value}).details


@pytest.mark.parametrize("status", ["online", "away", "busy", "offline"])
def test_presence_statuses_of_the_contract_are_accepted(status: str) -> None:
    assert schemas.check_event("presence_update", {"tripId": TRIP, "status": status})["status"] == status


def test_an_unknown_presence_status_is_refused() -> None:
    refused(schemas.check_event, "presence_update", {"tripId": TRIP, "status": "asleep"})


@pytest.mark.parametrize("last_seq", [-1, "3", 1.5, True])
def test_last_seq_must_be_a_non_negative_integer(last_seq: Any) -> None:
    refused(schemas.check_event, "join_trip_room", {"tripId": TRIP, "lastSeq": last_seq})


def test_update_type_must_be_one_of_the_seven() -> None:
    refused(schemas.check_event, "trip_update", {"tripId": TRIP, "updateType": "trip_deleted", "data": {}})


@pytest.mark.parametrize(
    ("update_type", "data"),
    [
        ("day_added", {"day": {"date": "2026-12-04"}}),
        ("day_added", {"day": {"date": "2026-12-04", "title": "t" * 200, "dayId": DAY}}),
        ("day_removed", {"dayId": DAY}),
        ("activity_added", {"dayId": DAY, "activity": {"title": "a"}}),
        (
            "activity_added",
            {
                "dayId": DAY,
                "activity": {
                    "title": "a" * 200,
                    "startTime": "00:00",
                    "endTime": "23:59",
                    "location": "l" * 200,
                    "notes": "n" * 2000,
                    "cost": 0,
                    "activityId": ACT,
                },
            },
        ),
        ("activity_updated", {"dayId": DAY, "activityId": ACT, "changes": {"cost": 12.5}}),
        ("activity_removed", {"dayId": DAY, "activityId": ACT}),
        ("constraint_added", {"constraint": {"type": "budget", "value": {"max": 900, "currency": "EUR"}}}),
        ("constraint_added", {"constraint": {"type": "t" * 50, "value": None, "description": "d" * 500}}),
        ("constraint_removed", {"constraintId": ACT}),
    ],
)
def test_valid_update_data_is_accepted(update_type: str, data: dict[str, Any]) -> None:
    assert schemas.check_update(update_type, data) == data


@pytest.mark.parametrize(
    ("update_type", "data", "field"),
    [
        ("day_added", {"day": {"date": "2026-02-30"}}, "day.date"),
        ("day_added", {"day": {"date": "04/12/2026"}}, "day.date"),
        ("day_added", {"day": {"date": "2026-12-04", "title": "t" * 201}}, "day.title"),
        ("day_added", {}, "day"),
        ("day_removed", {"dayId": "nope"}, "dayId"),
        ("activity_added", {"dayId": DAY, "activity": {"title": ""}}, "activity.title"),
        ("activity_added", {"dayId": DAY, "activity": {"title": "t" * 201}}, "activity.title"),
        ("activity_added", {"dayId": DAY, "activity": {"title": "a", "startTime": "24:00"}}, "activity.startTime"),
        ("activity_added", {"dayId": DAY, "activity": {"title": "a", "endTime": "9:00"}}, "activity.endTime"),
        ("activity_added", {"dayId": DAY, "activity": {"title": "a", "location": "l" * 201}}, "activity.location"),
        ("activity_added", {"dayId": DAY, "activity": {"title": "a", "notes": "n" * 2001}}, "activity.notes"),
        ("activity_added", {"dayId": DAY, "activity": {"title": "a", "cost": -0.01}}, "activity.cost"),
        ("activity_added", {"dayId": DAY, "activity": {"title": "a", "cost": True}}, "activity.cost"),
        ("activity_updated", {"dayId": DAY, "activityId": ACT, "changes": {}}, "changes"),
        ("activity_updated", {"dayId": DAY, "activityId": ACT, "changes": {"owner": "x"}}, "changes.owner"),
        ("constraint_added", {"constraint": {"type": "", "value": 1}}, "constraint.type"),
        ("constraint_added", {"constraint": {"type": "t" * 51, "value": 1}}, "constraint.type"),
        ("constraint_added", {"constraint": {"type": "x"}}, "constraint.value"),
        (
            "constraint_added",
            {"constraint": {"type": "x", "value": 1, "description": "d" * 501}},
            "constraint.description",
        ),
        ("constraint_removed", {}, "constraintId"),
    ],
)
def test_invalid_update_data_names_the_dotted_field(update_type: str, data: dict[str, Any], field: str) -> None:
    assert field in refused(schemas.check_update, update_type, data).details


@pytest.mark.parametrize("key", ["$where", "a.b", "$"])
def test_keys_starting_with_dollar_or_holding_a_dot_are_refused_at_any_depth(key: str) -> None:
    deep: dict[str, Any] = {key: 1}
    for _ in range(3):
        deep = {"inner": deep}
    error = refused(sanitize, {"data": deep})
    assert any(key in path for path in error.details)


def test_nesting_up_to_the_limit_is_accepted_and_one_deeper_is_refused() -> None:
    def nested(levels: int) -> dict[str, Any]:
        value: dict[str, Any] = {}
        for _ in range(levels - 1):
            value = {"x": value}
        return value

    assert sanitize(nested(MAX_DEPTH))
    refused(sanitize, nested(MAX_DEPTH + 1))


def test_strings_are_nfc_normalised() -> None:
    assert sanitize({"message": "Cafe\u0301"})["message"] == "Caf\u00e9"


@pytest.mark.parametrize("text", ["bell\x07", "nul\x00", "esc\x1b[0m", "cr\r"])
def test_control_characters_other_than_newline_and_tab_are_refused(text: str) -> None:
    assert "message" in refused(sanitize, {"message": text}).details


def test_newline_and_tab_are_kept() -> None:
    assert sanitize({"message": "a\n\tb"})["message"] == "a\n\tb"


@pytest.mark.parametrize("number", [2**53, -(2**53), 10**400, float("inf"), float("nan")])
def test_numbers_no_json_reader_can_hold_are_refused(number: Any) -> None:
    refused(sanitize, {"value": number})


def test_rest_create_trip_title_bounds() -> None:
    assert schemas.check_body("create_trip", {"title": "t" * 200})
    for title in ("", "   ", "t" * 201):
        assert "title" in refused(schemas.check_body, "create_trip", {"title": title}).details


def test_rest_create_trip_collaborators_must_be_object_ids() -> None:
    assert (
        "collaborators.0"
        in refused(schemas.check_body, "create_trip", {"title": "t", "collaborators": ["bob"]}).details
    )


def test_the_control_character_scan_refuses_exactly_unicode_cc_and_cs_but_newline_and_tab() -> None:
    from domain.sanitize import _has_control

    for code in range(0x110000):
        ch = chr(code)
        expected = ch not in "\n\t" and unicodedata.category(ch) in ("Cc", "Cs")
        assert _has_control(f"a{ch}b") is expected, hex(code)


# width as well as depth -------------------------------------------------------------------------


def test_an_object_with_more_keys_than_the_bound_is_refused_before_its_keys_are_read() -> None:
    wide = {f"k{i}": i for i in range(DEFAULT_BOUNDS.max_object_keys + 1)}
    error = refused(sanitize, {"data": wide})
    assert error.details == {"data": [f"more than {DEFAULT_BOUNDS.max_object_keys} keys in one object"]}
    assert sanitize({f"k{i}": i for i in range(DEFAULT_BOUNDS.max_object_keys)})


def test_a_list_longer_than_the_bound_is_refused() -> None:
    assert "x" in refused(sanitize, {"x": [0] * (DEFAULT_BOUNDS.max_list_items + 1)}).details
    assert sanitize({"x": [0] * DEFAULT_BOUNDS.max_list_items})


def test_a_document_with_more_values_than_the_bound_is_refused_however_they_are_spread() -> None:
    bounds = DocumentBounds(max_object_keys=10, max_list_items=10, max_document_nodes=100)
    # 10 lists of 9 values: 100 values with the 10 lists themselves, just at the bound
    assert sanitize({f"k{i}": [0] * 9 for i in range(10)}, bounds)
    error = refused(sanitize, {f"k{i}": [0] * 10 for i in range(10)}, bounds)
    assert next(iter(error.details.values())) == ["more than 100 values in one document"]


def test_many_small_keys_at_every_depth_are_bounded_by_the_node_count() -> None:
    bounds = DocumentBounds(max_object_keys=64, max_list_items=400, max_document_nodes=300)
    level: dict[str, Any] = {}
    for _ in range(MAX_DEPTH - 1):  # 7 levels of 61 keys: 427 values
        level = {**{f"k{i}": 0 for i in range(60)}, "inner": level}
    assert sanitize(level)
    refused(sanitize, level, bounds)


def test_an_unknown_key_is_refused_by_the_schema_at_any_depth() -> None:
    body = {"title": "t", "days": [{"date": "2026-12-04", "activities": [{"title": "a", "colour": "red"}]}]}
    assert refused(schemas.check_body, "create_trip", body).details == {"days.0.activities.0.colour": ["unknown field"]}
