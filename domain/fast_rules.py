"""The validator every payload goes through: the Cerberus rules of ``domain.schemas``,
compiled once into plain Python and checked in one linear walk.

Cerberus copies and re-validates its schema on every call and re-sorts its error
list once per error: a valid 114 KB trip took 0.46 s and one with 3,600 errors
57 s.  ``compile_schema`` reads the same schema dicts (the rules stay in one
place, ``domain.schemas``) and returns a check that gives what Cerberus gives:
the same normalised document when valid, errors at the same dotted paths worded
the same way when not (``tests/unit/test_fast_rules.py`` compares the two).

Rules handled, with Cerberus's meaning: ``type`` (string, integer, number,
boolean, dict, list), ``required``, ``nullable``, ``empty``, ``regex``,
``minlength``/``maxlength``, ``min``/``max``, ``allowed``, ``default``,
``coerce`` (a callable), ``schema`` (of a dict, or of a list's items) and the
custom rules ``domain.schemas`` names (a rule name -> a check returning an error
message or None).  Any other rule is a programming error, refused at compile time.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sized
from typing import Any

Errors = dict[str, list[str]]
Check = Callable[[dict[str, Any]], tuple[dict[str, Any], Errors]]
CustomRule = Callable[[Any], str | None]

_TYPES: dict[str, Callable[[Any], bool]] = {
    "string": lambda v: isinstance(v, str),
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "number": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
    "boolean": lambda v: isinstance(v, bool),
    "dict": lambda v: isinstance(v, dict),
    "list": lambda v: isinstance(v, list),
}
_HANDLED = frozenset(
    {
        "type",
        "required",
        "nullable",
        "empty",
        "regex",
        "minlength",
        "maxlength",
        "min",
        "max",
        "allowed",
        "default",
        "coerce",
        "schema",
    }
)


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


class _Field:
    __slots__ = (
        "allowed",
        "coerce",
        "custom",
        "default",
        "empty",
        "has_default",
        "item",
        "maximum",
        "maxlength",
        "minimum",
        "minlength",
        "nullable",
        "pattern",
        "pattern_text",
        "required",
        "subschema",
        "type_name",
        "type_ok",
    )

    def __init__(self, rules: dict[str, Any], custom: dict[str, CustomRule]) -> None:
        unknown = set(rules) - _HANDLED - set(custom)
        if unknown:
            raise ValueError(f"rules this validator does not know: {sorted(unknown)}")
        self.required = bool(rules.get("required", False))
        self.nullable = bool(rules.get("nullable", False))
        self.type_name: str | None = rules.get("type")
        self.type_ok = _TYPES[self.type_name] if self.type_name is not None else None
        self.empty: bool | None = rules.get("empty")
        regex: str | None = rules.get("regex")
        self.pattern_text = regex
        self.pattern = re.compile(regex if regex.endswith("$") else regex + "$") if regex is not None else None
        self.minlength: int | None = rules.get("minlength")
        self.maxlength: int | None = rules.get("maxlength")
        self.minimum: float | None = rules.get("min")
        self.maximum: float | None = rules.get("max")
        allowed = rules.get("allowed")
        self.allowed = tuple(allowed) if allowed is not None else None
        self.has_default = "default" in rules
        self.default = rules.get("default")
        self.coerce: Callable[[Any], Any] | None = rules.get("coerce")
        self.custom = tuple(custom[name] for name in rules if name in custom and rules[name])
        schema = rules.get("schema")
        self.subschema: _Mapping | None = None
        self.item: _Field | None = None
        if schema is not None and self.type_name == "dict":
            self.subschema = _Mapping(schema, custom)
        elif schema is not None and self.type_name == "list":
            self.item = _Field(schema, custom)
        elif schema is not None:
            raise ValueError("'schema' needs type dict or list")

    def normalize(self, value: Any) -> Any:
        if self.subschema is not None and isinstance(value, dict):
            return self.subschema.normalize(value)
        if self.item is not None and isinstance(value, list):
            item = self.item
            return [item.normalize(item.coerced(v)) for v in value]
        return value

    def coerced(self, value: Any) -> Any:
        if self.coerce is None:
            return value
        try:
            return self.coerce(value)
        except Exception:
            return value  # the value is validated as it came

    def validate(self, value: Any, path: str, errors: Errors) -> None:
        if value is None:
            if not self.nullable:
                errors.setdefault(path, []).append("null value not allowed")
            return
        if self.type_ok is not None and not self.type_ok(value):
            errors.setdefault(path, []).append(f"must be of {self.type_name} type")
            return
        mine: list[str] = []
        sized = isinstance(value, Sized)
        empty = sized and len(value) == 0
        if empty and self.empty is not None:
            if not self.empty:
                mine.append("empty values not allowed")
        else:
            self._contents(value, sized, mine)
        if self.minimum is not None:
            try:
                if value < self.minimum:
                    mine.append(f"min value is {self.minimum}")
            except TypeError:
                pass
        if self.maximum is not None:
            try:
                if value > self.maximum:
                    mine.append(f"max value is {self.maximum}")
            except TypeError:
                pass
        for rule in self.custom:
            message = rule(value)
            if message is not None:
                mine.append(message)
        if mine:
            errors.setdefault(path, []).extend(mine)
        if self.subschema is not None:
            self.subschema.validate(value, path, errors)
        elif self.item is not None:
            item = self.item
            for i, v in enumerate(value):
                item.validate(v, _join(path, str(i)), errors)

    def _contents(self, value: Any, sized: bool, mine: list[str]) -> None:
        """The rules an empty value skips when the schema says whether it may be empty."""
        if self.allowed is not None and isinstance(value, str | int | float) and value not in self.allowed:
            mine.append(f"unallowed value {value}")
        if sized and self.minlength is not None and len(value) < self.minlength:
            mine.append(f"min length is {self.minlength}")
        if sized and self.maxlength is not None and len(value) > self.maxlength:
            mine.append(f"max length is {self.maxlength}")
        if self.pattern is not None and isinstance(value, str) and not self.pattern.match(value):
            mine.append(f"value does not match regex '{self.pattern_text}'")


class _Mapping:
    __slots__ = ("defaults", "fields", "required")

    def __init__(self, schema: dict[str, Any], custom: dict[str, CustomRule]) -> None:
        self.fields = {name: _Field(rules, custom) for name, rules in schema.items()}
        self.defaults = tuple((name, f) for name, f in self.fields.items() if f.has_default)
        self.required = tuple(name for name, f in self.fields.items() if f.required)

    def normalize(self, document: dict[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        fields = self.fields
        for name, value in document.items():
            field = fields.get(name)
            out[name] = value if field is None else field.normalize(field.coerced(value))
        for name, field in self.defaults:
            if name not in out or (out[name] is None and not field.nullable):
                out[name] = field.default
        return out

    def validate(self, document: dict[str, Any], path: str, errors: Errors) -> None:
        fields = self.fields
        for name, value in document.items():
            field = fields.get(name)
            if field is None:
                errors.setdefault(_join(path, str(name)), []).append("unknown field")
            else:
                field.validate(value, _join(path, name), errors)
        for name in self.required:
            if name not in document:
                errors.setdefault(_join(path, name), []).append("required field")


def compile_schema(schema: dict[str, Any], custom: dict[str, CustomRule]) -> Check:
    """The check of ``schema``: (normalised document, errors by dotted path; empty when valid)."""
    mapping = _Mapping(schema, custom)

    def check(document: dict[str, Any]) -> tuple[dict[str, Any], Errors]:
        normalized = mapping.normalize(document)
        errors: Errors = {}
        mapping.validate(normalized, "", errors)
        return normalized, errors

    return check
