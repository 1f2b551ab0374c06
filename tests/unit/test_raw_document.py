"""The document-node bound on the raw text (``domain/raw_document.py``): the same count
``sanitize`` makes, so a text refused before parsing is one the parsed check refuses."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from domain.errors import CommandRefused, ErrorCode
from domain.raw_document import check_document_nodes, container_members, envelope_of
from domain.sanitize import DocumentBounds, sanitize

# strings drawn to hold the characters the count looks at, escapes and quotes included
text = st.text(alphabet=st.sampled_from(list('ab,{}[]"\\ :\n')), max_size=8)
leaf = st.none() | st.booleans() | st.integers(-1000, 1000) | text
documents = st.recursive(
    leaf, lambda inner: st.lists(inner, max_size=6) | st.dictionaries(text, inner, max_size=6), max_leaves=60
)


def members(value: Any) -> int:
    """What ``sanitize`` counts: the members of every container."""
    if isinstance(value, dict):
        return len(value) + sum(members(v) for v in value.values())
    if isinstance(value, list):
        return len(value) + sum(members(v) for v in value)
    return 0


@settings(max_examples=300, deadline=None)
@given(documents, st.sampled_from([None, 2]))
def test_the_raw_count_is_the_parsed_count_for_any_document(document: Any, indent: int | None) -> None:
    raw = json.dumps(document, indent=indent, ensure_ascii=False).encode()
    assert container_members(raw) == members(document)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(text, documents, max_size=6))
def test_a_body_refused_before_parsing_is_refused_by_the_parsed_check_with_the_same_error(body: Any) -> None:
    bounds = DocumentBounds(max_object_keys=1000, max_list_items=1000, max_document_nodes=12)
    raw = json.dumps(body).encode()
    try:
        check_document_nodes(raw, bounds)
    except CommandRefused as early:
        with pytest.raises(CommandRefused) as parsed:
            sanitize(body, bounds)
        assert parsed.value.code == early.code == ErrorCode.VALIDATION_ERROR
        # the same message, at the path where the walk crossed the bound (or deeper than it may nest)
        assert parsed.value.message.endswith(": more than 12 values in one document") or "nested deeper" in str(
            parsed.value.details
        )
    else:
        assert members(body) <= bounds.max_document_nodes


def test_commas_and_brackets_inside_strings_are_not_counted() -> None:
    bounds = DocumentBounds(max_document_nodes=10)
    check_document_nodes(json.dumps({"message": ",[{" * 5_000, "quote": 'a \\" ,,, "'}).encode(), bounds)


def test_a_document_of_many_tiny_objects_is_refused_before_parsing() -> None:
    raw = json.dumps({"value": [{"a": 0}] * 3_000}).encode()
    with pytest.raises(CommandRefused) as refused:
        check_document_nodes(raw, DocumentBounds())
    assert refused.value.code == ErrorCode.VALIDATION_ERROR
    assert refused.value.details == {"data": ["more than 2000 values in one document"]}


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(["event", "data", "ref", "x"]).flatmap(lambda _: documents), text, st.none() | text)
def test_a_frames_event_and_ref_read_unparsed_are_the_ones_a_parser_reads(data: Any, event: str, ref: Any) -> None:
    shapes: list[dict[str, Any]] = [
        {"event": event, "data": data, "ref": ref},
        {"ref": ref, "event": event, "data": data},
        {"data": {"event": "nested", "ref": "nested"}, "event": event, "ref": ref},
        {"event": event, "data": data},
        {"event": "first", "data": data, "event ": event, "ref": ref},
    ]
    for frame in shapes:
        raw = json.dumps(frame, ensure_ascii=False).encode()
        parsed = json.loads(raw)
        read = envelope_of(raw)
        if read is not None:
            assert read == (parsed["event"], parsed.get("ref"))


def test_an_event_first_and_a_ref_last_are_read_and_anything_else_is_left_to_the_parser() -> None:
    assert envelope_of(b'{"event":"trip_update","data":{"x":[1,2]},"ref":"r1"}') == ("trip_update", "r1")
    assert envelope_of(b' { "event" : "chat_message" , "data" : {} } ') == ("chat_message", None)
    assert envelope_of(b'{"data":{},"event":"e","ref":"r"}') is None  # event not first
    assert envelope_of(b'{"event":"e","ref":"r","data":{}}') is None  # ref not last
    assert envelope_of(b'{"event":"e","data":{"event":"x"}}') is None  # named twice
    assert envelope_of(b'{"event":"e\\u0041","data":{}}') is None  # an escape: parsed
    assert envelope_of(b'{"event":"e","data":{"k":"a\\"ref\\":\\"r\\"}"}}') == ("e", None)  # in a string: no ref
    assert envelope_of(b'{"event":"e","data":{"k":"ref"},"n":1}') is None  # "ref" somewhere, not last
    assert envelope_of(b'{"event":"\xff","data":{}}') is None  # not UTF-8
