"""``domain.frozen``: the fast copy and constructor give what ``dataclasses`` gives."""

from __future__ import annotations

import dataclasses
from types import MappingProxyType
from typing import Any

import pytest

from domain.frozen import builder, replacer
from domain.trip_model import Touch, Trip
from eventlog.records import LogRecord, new_record

TRIP = Trip("t", "Lisbon", "owner", ("a", "b"), (), (), 3, "2026-01-01T00:00:00.000Z", MappingProxyType({}))


def test_replacer_equals_dataclasses_replace_and_leaves_the_original_alone() -> None:
    replace = replacer(Trip)
    touches = MappingProxyType({"x": (Touch(4, "day_added"),)})
    assert replace(TRIP, version=4, touches=touches) == dataclasses.replace(TRIP, version=4, touches=touches)
    assert replace(TRIP) == TRIP
    assert TRIP.version == 3


def test_builder_equals_the_constructor_with_defaults_and_factories() -> None:
    fields: dict[str, Any] = {
        "record_id": "r",
        "at": "2026-01-01T00:00:00.000Z",
        "source": "ws",
        "command": "c",
        "outcome": "accepted",
    }
    built, constructed = new_record(**fields), LogRecord(**fields)
    assert built == constructed
    assert built.extra == {} and built.extra is not new_record(**fields).extra  # a fresh default per record
    assert built.stored_events is None and built.schema_version == constructed.schema_version


@pytest.mark.parametrize(
    "make",
    [
        lambda: replacer(Trip)(TRIP, versoin=1),
        lambda: builder(Trip)(trip_id="t"),
        lambda: builder(LogRecord)(record_id="r", at="a", source="ws", command="c", outcome="o", versoin=1),
        lambda: replacer(Trip)(TRIP, TRIP),
    ],
)
def test_unknown_or_missing_fields_are_refused(make: object) -> None:
    with pytest.raises(TypeError):
        make()  # type: ignore[operator]


@dataclasses.dataclass(frozen=True, slots=True)
class _Empty:
    pass


@dataclasses.dataclass(frozen=True)
class _Unslotted:
    count: int = 0


@dataclasses.dataclass(frozen=True, slots=True)
class _Clashing:
    _frozen_obj: int


def test_a_class_without_fields_is_copied_and_built() -> None:
    empty = _Empty()
    assert replacer(_Empty)(empty) == empty and replacer(_Empty)(empty) is not empty
    assert builder(_Empty)() == _Empty()
    with pytest.raises(TypeError, match="no field 'x'"):
        builder(_Empty)(x=1)


@pytest.mark.parametrize("make", [replacer, builder])
def test_a_class_without_slots_is_refused_by_name(make: Any) -> None:
    with pytest.raises(TypeError, match="_Unslotted is not a slotted dataclass"):
        make(_Unslotted)


@pytest.mark.parametrize("make", [replacer, builder])
def test_a_field_named_like_the_generated_names_is_refused(make: Any) -> None:
    with pytest.raises(TypeError, match="_Clashing has a field named _frozen_"):
        make(_Clashing)
