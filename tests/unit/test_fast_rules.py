"""The compiled checks give what Cerberus gives for the same rules: the same
document when valid, errors at the same paths with the same words when not."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from domain import schemas
from domain.fast_rules import compile_schema

ALL_SCHEMAS: dict[str, dict[str, Any]] = {
    "tripId": schemas.TRIP_ID,
    **{f"event:{k}": v for k, v in schemas.CLIENT_EVENTS.items()},
    **{f"update:{k}": v for k, v in schemas.UPDATE_DATA.items()},
    **{f"rest:{k}": v for k, v in schemas.REST_BODIES.items()},
}
CHECKS = {key: compile_schema(schema, schemas.CUSTOM_RULES) for key, schema in ALL_SCHEMAS.items()}

object_ids = st.text(alphabet="0123456789abcdefABCDEF", min_size=23, max_size=25)
strings = st.one_of(
    object_ids,
    st.text(max_size=8),
    st.sampled_from(
        [
            "",
            " ",
            "  x ",
            "text",
            "alert",
            "online",
            "day_added",
            "\n",
            "a" * 1001,
            " " + "b" * 1000 + " ",
            "2026-12-04",
            "2026-02-30",
            "12:30",
            "24:00",
            "a" * 24,
        ]
    ),
)
scalars = st.one_of(strings, st.integers(-3, 3), st.booleans(), st.none(), st.floats(-2, 2, allow_nan=False))
values = st.one_of(scalars, st.dictionaries(st.text(max_size=3), scalars, max_size=2), st.lists(scalars, max_size=2))


def flatten(errors: dict[str, Any], prefix: str = "") -> dict[str, list[str]]:
    """Cerberus's error tree as dotted paths."""
    flat: dict[str, list[str]] = {}
    for field, messages in errors.items():
        path = f"{prefix}.{field}" if prefix else str(field)
        for message in messages:
            if isinstance(message, dict):
                for sub, subs in flatten(message, path).items():
                    flat.setdefault(sub, []).extend(subs)
            else:
                flat.setdefault(path, []).append(str(message))
    return flat


def value_for(rules: dict[str, Any], depth: int = 0) -> st.SearchStrategy[Any]:
    """Mostly the right shape, so that the nested rules are reached; sometimes anything."""
    nested = rules.get("schema")
    if nested is not None and depth < 3:
        if rules.get("type") == "dict":
            return st.one_of(document_for(nested, depth + 1), values)
        if rules.get("type") == "list":
            return st.one_of(st.lists(value_for(nested, depth + 1), max_size=3), values)
    return values


def document_for(schema: dict[str, Any], depth: int = 0) -> st.SearchStrategy[dict[str, Any]]:
    fields = {name: st.one_of(st.none(), value_for(rules, depth)) for name, rules in schema.items()}
    optional = {**{name: strategy for name, strategy in fields.items()}, "extra": values}
    return st.fixed_dictionaries({}, optional=optional)


@settings(max_examples=600, deadline=None)
@given(data=st.data())
def test_compiled_checks_agree_with_cerberus(data: st.DataObject) -> None:
    key = data.draw(st.sampled_from(sorted(ALL_SCHEMAS)))
    schema = ALL_SCHEMAS[key]
    document = data.draw(document_for(schema))
    if "tripId" in schema and data.draw(st.booleans()):
        document["tripId"] = "a" * 24  # valid often enough to reach the other rules
    normalized, errors = CHECKS[key](dict(document))
    validator = schemas._Rules(schema)
    valid = validator.validate(dict(document))
    assert valid == (not errors), (key, document, validator.errors, errors)
    if valid:
        assert normalized == validator.document
        assert list(normalized) == list(validator.document)
    else:
        expected = flatten(validator.errors)
        assert {path: sorted(messages) for path, messages in errors.items()} == {
            path: sorted(messages) for path, messages in expected.items()
        }


def test_a_chat_message_is_normalised_like_cerberus() -> None:
    check = CHECKS["event:chat_message"]
    document = {"tripId": "0123456789abcdef01234567", "message": "  hello  "}
    assert check(document) == ({"tripId": "0123456789abcdef01234567", "message": "hello", "type": "text"}, {})
    assert check({"tripId": "0123456789abcdef01234567", "message": "   "})[1] == {"message": ["min length is 1"]}


def test_every_unknown_key_is_named_once_without_cerberus_cost() -> None:
    document = {"token": "t", **{f"k{i}": i for i in range(2_000)}}
    _, errors = CHECKS["event:refresh_token"](document)
    assert len(errors) == 2_000 and errors["k1999"] == ["unknown field"]


def test_a_rule_the_compiler_does_not_know_is_refused_at_compile_time() -> None:
    with pytest.raises(ValueError, match="does not know"):
        compile_schema({"a": {"type": "string", "oneof": []}}, schemas.CUSTOM_RULES)
