"""Two read models compared item by item.

A read model is what ``ReadSide.snapshot()`` gives: ``{"trips": {tripId: trip},
"chat": {tripId: [message]}, "notifications": {userId: [notification]}}``,
plus ``"audit"`` when asked for.  Either side may be *compact* (chat and
notifications as counts and digests, ``projections/digests.py``); the full side
is then compacted too, so a live node's full model compares with a compact
rebuild.

``compare_models(left, right)`` returns ``Difference`` values with a path to
each differing item: ``trips.<tripId>.days[<dayId>].title``,
``chat.<tripId>[<messageId>]`` (a message only one side has),
``notifications.<userId>[<notificationId>].read`` (a read flag), and so on.
Lists of items with ids are matched by id, so one missing message is one
difference, not a shifted list.  Tests compare a live read side with a rebuild
through it:

    assert compare_models(rebuilt.snapshot(), live.snapshot()) == []
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import orjson

from projections.digests import compact_chat, compact_notifications

ID_KEYS = ("notificationId", "messageId", "dayId", "activityId", "constraintId", "sessionId", "tripId", "userId")
SECTIONS = ("trips", "chat", "notifications", "audit")


class _Missing:
    def __repr__(self) -> str:
        return "MISSING"


MISSING: Any = _Missing()


@dataclass(frozen=True, slots=True)
class Difference:
    path: str
    left: Any = MISSING
    right: Any = MISSING
    note: str | None = None

    def describe(self, left: str = "rebuild", right: str = "live") -> str:
        if self.note is not None:
            return f"{self.path}: {self.note}"
        if self.right is MISSING:
            return f"{self.path}: only in the {left} ({_short(self.left)})"
        if self.left is MISSING:
            return f"{self.path}: only in the {right} ({_short(self.right)})"
        return f"{self.path}: {left} {_short(self.left)}, {right} {_short(self.right)}"

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"path": self.path}
        if self.left is not MISSING:
            out["left"] = self.left
        if self.right is not MISSING:
            out["right"] = self.right
        if self.note is not None:
            out["note"] = self.note
        return out


def _short(value: Any, limit: int = 120) -> str:
    text = orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _id_key(*lists: list[Any]) -> str | None:
    """The id key every item of these lists has, if they are lists of identified items."""
    items = [item for values in lists for item in values]
    if not items or not all(isinstance(item, dict) for item in items):
        return None
    return next((key for key in ID_KEYS if all(key in item for item in items)), None)


def _same(left: Any, right: Any) -> bool:
    return type(left) is type(right) and left == right


class Differ:
    """Collects differences, up to ``limit`` of them (``truncated`` tells whether more were found)."""

    def __init__(self, limit: int = 1000) -> None:
        self.limit = limit
        self.found: list[Difference] = []
        self.truncated = False

    def add(self, difference: Difference) -> None:
        if len(self.found) < self.limit:
            self.found.append(difference)
        else:
            self.truncated = True

    def json(self, path: str, left: Any, right: Any) -> None:
        """Every difference between two JSON values, item by item."""
        if isinstance(left, dict) and isinstance(right, dict):
            for key in sorted(left.keys() | right.keys(), key=str):
                sub = f"{path}.{key}" if path else str(key)
                if key not in right:
                    self.add(Difference(sub, left[key], MISSING))
                elif key not in left:
                    self.add(Difference(sub, MISSING, right[key]))
                else:
                    self.json(sub, left[key], right[key])
        elif isinstance(left, list) and isinstance(right, list):
            self._lists(path, left, right)
        elif not _same(left, right):
            self.add(Difference(path, left, right))

    def _lists(self, path: str, left: list[Any], right: list[Any]) -> None:
        if left == right:
            return
        key = _id_key(left, right)
        if key is None:
            if len(left) == len(right):
                for index, (a, b) in enumerate(zip(left, right, strict=True)):
                    self.json(f"{path}[{index}]", a, b)
            else:
                self.add(Difference(path, left, right))
            return
        by_id_left = {item[key]: item for item in left}
        by_id_right = {item[key]: item for item in right}
        for item_id in dict.fromkeys([*by_id_left, *by_id_right]):
            sub = f"{path}[{item_id}]"
            if item_id not in by_id_right:
                self.add(Difference(sub, by_id_left[item_id], MISSING))
            elif item_id not in by_id_left:
                self.add(Difference(sub, MISSING, by_id_right[item_id]))
            else:
                self.json(sub, by_id_left[item_id], by_id_right[item_id])
        order_left = [item[key] for item in left if item[key] in by_id_right]
        order_right = [item[key] for item in right if item[key] in by_id_left]
        if order_left != order_right:
            self.add(Difference(path, order_left, order_right, note="the same items in another order"))


def _is_compact(entries: dict[str, Any]) -> bool:
    return any(isinstance(value, dict) for value in entries.values())


def _compacted(section: str, entries: dict[str, Any]) -> dict[str, Any]:
    compact = compact_chat if section == "chat" else compact_notifications
    return {key: value if isinstance(value, dict) else compact(value) for key, value in entries.items()}


def comparable(left: dict[str, Any], right: dict[str, Any], section: str) -> tuple[Any, Any]:
    """The two sides of a section in one form: compact when either side is."""
    a, b = left.get(section, {}), right.get(section, {})
    if section in ("chat", "notifications") and (_is_compact(a) or _is_compact(b)):
        return _compacted(section, a), _compacted(section, b)
    return a, b


def compare_models(
    left: dict[str, Any], right: dict[str, Any], *, sections: Iterable[str] | None = None, limit: int = 1000
) -> list[Difference]:
    """Every difference between two read models, by section, item by item (at most ``limit``).

    ``sections`` defaults to those both sides have.
    """
    differ = Differ(limit)
    for section in sections if sections is not None else [s for s in SECTIONS if s in left and s in right]:
        a, b = comparable(left, right, section)
        differ.json(section, a, b)
    return differ.found
