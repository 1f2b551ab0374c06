"""Cerberus rules for every payload of the wire contract.

Validation is a pure function: it returns the normalised document or raises
``CommandRefused`` with ``details`` mapping dotted field paths to messages.
The rules are Cerberus's; ``domain.fast_rules`` compiles them into one linear
check (Cerberus itself is the reference the tests compare it with).
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from cerberus import TypeDefinition, Validator

from domain.emoji import is_one_emoji
from domain.errors import CommandRefused, ErrorCode
from domain.fast_rules import Check, CustomRule, compile_schema
from domain.ids import OBJECT_ID_PATTERN

UPDATE_TYPES = (
    "day_added",
    "day_removed",
    "activity_added",
    "activity_updated",
    "activity_removed",
    "constraint_added",
    "constraint_removed",
    "day_updated",
    "activity_moved",
    "constraint_updated",
)
CHAT_TYPES = ("text", "suggestion", "alert")
PRESENCE_STATUSES = ("online", "away", "busy", "offline")
BROADCAST_TYPES = ("announcement", "alert", "maintenance")
_HHMM = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")


def _calendar_date(value: Any) -> str | None:
    if not isinstance(value, str):
        return None
    try:
        if len(value) != 10:
            raise ValueError
        dt.date.fromisoformat(value)
    except ValueError:
        return "must be a date YYYY-MM-DD"
    return None


def _clock_time(value: Any) -> str | None:
    return "must be a time HH:MM" if isinstance(value, str) and not _HHMM.match(value) else None


def _nonblank(value: Any) -> str | None:
    return "must not be blank" if isinstance(value, str) and not value.strip() else None


def _emoji(value: Any) -> str | None:
    return "must be one emoji" if isinstance(value, str) and not is_one_emoji(value) else None


# the rules of ours the schemas below use, beside Cerberus's own
CUSTOM_RULES: dict[str, CustomRule] = {
    "calendar_date": _calendar_date,
    "clock_time": _clock_time,
    "nonblank": _nonblank,
    "emoji": _emoji,
}


class _Rules(Validator):  # type: ignore[misc]
    """The same rules read by Cerberus: the reference the compiled checks are tested against."""

    types_mapping = Validator.types_mapping.copy()
    # bool is an int in Python, never in our payloads
    types_mapping["integer"] = TypeDefinition("integer", (int,), (bool,))
    types_mapping["number"] = TypeDefinition("number", (int, float), (bool,))

    def _custom(self, name: str, enabled: bool, field: str, value: Any) -> None:
        message = CUSTOM_RULES[name](value) if enabled else None
        if message is not None:
            self._error(field, message)

    def _validate_calendar_date(self, enabled: bool, field: str, value: Any) -> None:
        """{'type': 'boolean'}"""
        self._custom("calendar_date", enabled, field, value)

    def _validate_clock_time(self, enabled: bool, field: str, value: Any) -> None:
        """{'type': 'boolean'}"""
        self._custom("clock_time", enabled, field, value)

    def _validate_nonblank(self, enabled: bool, field: str, value: Any) -> None:
        """{'type': 'boolean'}"""
        self._custom("nonblank", enabled, field, value)

    def _validate_emoji(self, enabled: bool, field: str, value: Any) -> None:
        """{'type': 'boolean'}"""
        self._custom("emoji", enabled, field, value)


def _strip(value: Any) -> Any:
    return value.strip() if isinstance(value, str) else value


OBJECT_ID: dict[str, Any] = {"type": "string", "regex": OBJECT_ID_PATTERN}
REQUIRED_ID: dict[str, Any] = {**OBJECT_ID, "required": True}
TRIP_ID: dict[str, Any] = {"tripId": REQUIRED_ID}

ACTIVITY_FIELDS: dict[str, Any] = {
    "title": {"type": "string", "minlength": 1, "maxlength": 200, "nonblank": True},
    "startTime": {"type": "string", "clock_time": True},
    "endTime": {"type": "string", "clock_time": True},
    "location": {"type": "string", "maxlength": 200},
    "notes": {"type": "string", "maxlength": 2000},
    "cost": {"type": "number", "min": 0},
}
ACTIVITY: dict[str, Any] = {
    **ACTIVITY_FIELDS,
    "title": {**ACTIVITY_FIELDS["title"], "required": True},
    "activityId": OBJECT_ID,
}
DAY: dict[str, Any] = {
    "date": {"type": "string", "required": True, "calendar_date": True},
    "title": {"type": "string", "maxlength": 200},
    "dayId": OBJECT_ID,
}
CONSTRAINT: dict[str, Any] = {
    "type": {"type": "string", "required": True, "minlength": 1, "maxlength": 50, "nonblank": True},
    "value": {"required": True, "nullable": True},
    "description": {"type": "string", "maxlength": 500},
    "constraintId": OBJECT_ID,
}

UPDATE_DATA: dict[str, dict[str, Any]] = {
    "day_added": {"day": {"type": "dict", "required": True, "schema": DAY}},
    "day_removed": {"dayId": REQUIRED_ID},
    "activity_added": {
        "dayId": REQUIRED_ID,
        "activity": {"type": "dict", "required": True, "schema": ACTIVITY},
    },
    "activity_updated": {
        "dayId": REQUIRED_ID,
        "activityId": REQUIRED_ID,
        "changes": {"type": "dict", "required": True, "empty": False, "schema": ACTIVITY_FIELDS},
    },
    "activity_removed": {"dayId": REQUIRED_ID, "activityId": REQUIRED_ID},
    "constraint_added": {"constraint": {"type": "dict", "required": True, "schema": CONSTRAINT}},
    "constraint_removed": {"constraintId": REQUIRED_ID},
    "day_updated": {
        "dayId": REQUIRED_ID,
        "changes": {
            "type": "dict",
            "required": True,
            "empty": False,
            "schema": {k: v for k, v in DAY.items() if k != "dayId"} | {"date": {**DAY["date"], "required": False}},
        },
    },
    "activity_moved": {
        "dayId": REQUIRED_ID,
        "activityId": REQUIRED_ID,
        "toDayId": OBJECT_ID,
        "toIndex": {"type": "integer", "min": 0, "max": 10_000},
    },
    "constraint_updated": {
        "constraintId": REQUIRED_ID,
        "changes": {
            "type": "dict",
            "required": True,
            "empty": False,
            "schema": {k: {**v, "required": False} for k, v in CONSTRAINT.items() if k != "constraintId"},
        },
    },
}

CLIENT_EVENTS: dict[str, dict[str, Any]] = {
    "join_trip_room": {**TRIP_ID, "lastSeq": {"type": "integer", "min": 0}},
    "leave_trip_room": TRIP_ID,
    "trip_update": {
        **TRIP_ID,
        "updateType": {"type": "string", "required": True, "allowed": list(UPDATE_TYPES)},
        "data": {"type": "dict", "required": True},
        "baseVersion": {"type": "integer", "min": 0},
    },
    "chat_message": {
        **TRIP_ID,
        "message": {"type": "string", "required": True, "coerce": _strip, "minlength": 1, "maxlength": 1000},
        "type": {"type": "string", "allowed": list(CHAT_TYPES), "default": "text"},
        "mentions": {"type": "list", "maxlength": 20, "schema": REQUIRED_ID},
    },
    "edit_message": {
        **TRIP_ID,
        "messageId": REQUIRED_ID,
        "message": {"type": "string", "required": True, "coerce": _strip, "minlength": 1, "maxlength": 1000},
    },
    "delete_message": {**TRIP_ID, "messageId": REQUIRED_ID},
    "add_reaction": {**TRIP_ID, "messageId": REQUIRED_ID, "emoji": {"type": "string", "required": True, "emoji": True}},
    "remove_reaction": {
        **TRIP_ID,
        "messageId": REQUIRED_ID,
        "emoji": {"type": "string", "required": True, "emoji": True},
    },
    "mark_chat_read": {**TRIP_ID, "seq": {"type": "integer", "required": True, "min": 0}},
    "typing": {**TRIP_ID, "isTyping": {"type": "boolean", "required": True}},
    "presence_update": {**TRIP_ID, "status": {"type": "string", "required": True, "allowed": list(PRESENCE_STATUSES)}},
    "refresh_token": {"token": {"type": "string", "required": True, "minlength": 1, "maxlength": 8192}},
    "undo": TRIP_ID,
    "redo": TRIP_ID,
    "presence_visibility": {"hidden": {"type": "boolean", "required": True}},
}

REST_BODIES: dict[str, dict[str, Any]] = {
    "create_trip": {
        "title": {"type": "string", "required": True, "minlength": 1, "maxlength": 200, "nonblank": True},
        "ownerId": OBJECT_ID,
        "collaborators": {"type": "list", "maxlength": 100, "schema": REQUIRED_ID},
        "days": {
            "type": "list",
            "maxlength": 366,
            "schema": {
                "type": "dict",
                "schema": {
                    **DAY,
                    "activities": {"type": "list", "maxlength": 200, "schema": {"type": "dict", "schema": ACTIVITY}},
                },
            },
        },
    },
    "add_collaborator": {"userId": REQUIRED_ID},
    "restore_trip": {"toVersion": {"type": "integer", "required": True, "min": 1}},
    "mark_chat_read": {"seq": {"type": "integer", "required": True, "min": 0}},
    "edit_message": {
        "message": {"type": "string", "required": True, "coerce": _strip, "minlength": 1, "maxlength": 1000},
    },
    "dev_sign_in": {"userId": REQUIRED_ID},
    "accept_invite": {"invite": {"type": "string", "required": True, "minlength": 1, "maxlength": 512}},
    "viewing": {"itemId": {**OBJECT_ID, "required": True, "nullable": True}},
    "broadcast": {
        "message": {"type": "string", "required": True, "minlength": 1, "maxlength": 1000, "nonblank": True},
        "type": {"type": "string", "allowed": list(BROADCAST_TYPES), "default": "announcement"},
        "expiresInSeconds": {"type": "integer", "min": 60, "max": 30 * 24 * 3600},
    },
    "notify": {
        "userId": REQUIRED_ID,
        "kind": {"type": "string", "required": True, "minlength": 1, "maxlength": 50, "nonblank": True},
        "title": {"type": "string", "required": True, "minlength": 1, "maxlength": 200, "nonblank": True},
        "body": {"type": "string", "maxlength": 2000},
        "data": {"type": "dict"},
    },
}

_CHECKS: dict[str, Check] = {}


def _check(key: str, schema: dict[str, Any], document: dict[str, Any]) -> dict[str, Any]:
    check = _CHECKS.get(key)
    if check is None:
        check = _CHECKS[key] = compile_schema(schema, CUSTOM_RULES)
    normalized, errors = check(document)
    if errors:
        first = next(iter(errors))
        raise CommandRefused(ErrorCode.VALIDATION_ERROR, f"{first}: {errors[first][0]}", errors)
    return normalized


def check_trip_id(data: dict[str, Any]) -> str:
    """The first rule of every room event, checked before room membership."""
    return str(_check("tripId", TRIP_ID, {"tripId": data.get("tripId")} if "tripId" in data else {})["tripId"])


def check_event(event: str, data: dict[str, Any]) -> dict[str, Any]:
    return _check(f"event:{event}", CLIENT_EVENTS[event], data)


def check_update(update_type: str, data: dict[str, Any]) -> dict[str, Any]:
    return _check(f"update:{update_type}", UPDATE_DATA[update_type], data)


def check_emoji(value: str) -> str:
    """A reaction named in a REST path."""
    return str(
        _check("emoji", {"emoji": {"type": "string", "required": True, "emoji": True}}, {"emoji": value})["emoji"]
    )


def check_body(name: str, body: dict[str, Any]) -> dict[str, Any]:
    return _check(f"rest:{name}", REST_BODIES[name], body)
