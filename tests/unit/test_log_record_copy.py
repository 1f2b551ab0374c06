"""``LogRecord.but``: the stores' fast copy is ``dataclasses.replace``, field for field."""

from __future__ import annotations

import dataclasses

import pytest

from eventlog.records import LogRecord
from tests.log_records import chat_record


def test_but_equals_replace_for_every_field_changed_or_kept() -> None:
    record = chat_record("650000000000000000000009", "650000000000000000000100", 3, session="s", ref="r")
    changes = {"position": 42, "extra": {"hash": "h"}, "stored_events": None, "meta": {"role": "user"}}
    copy = record.but(**changes)
    assert copy == dataclasses.replace(record, **changes)
    for field in dataclasses.fields(LogRecord):  # compare=False fields too
        expected = changes.get(field.name, getattr(record, field.name))
        assert getattr(copy, field.name) == expected, field.name
    assert record.position == 0  # the original is untouched


def test_but_refuses_a_field_that_does_not_exist() -> None:
    record = chat_record("650000000000000000000009", "650000000000000000000100", 1)
    with pytest.raises(TypeError, match="no field 'positon'"):
        record.but(positon=1)
