"""Identifiers: every user, trip, day, activity, message and notification id is
a 24-hex MongoDB ObjectId string, whichever store is behind the log."""

from __future__ import annotations

import re

OBJECT_ID_PATTERN = r"^[0-9a-fA-F]{24}$"
_OBJECT_ID = re.compile(OBJECT_ID_PATTERN)


def is_object_id(value: object) -> bool:
    return isinstance(value, str) and _OBJECT_ID.fullmatch(value) is not None
