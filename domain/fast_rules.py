"""A fast path in front of Cerberus for flat schemas (the room events of every frame).

Cerberus copies and re-validates its schema on every call; for a chat message
that was most of the cost of handling it.  ``compile_flat`` turns a flat schema
(no nested ``schema``, only the rules below) into a function that returns the
normalised document Cerberus would return, or ``None`` whenever it is not sure
the document is valid: Cerberus then decides and words the errors.  So this path
only ever accepts, and accepts only what Cerberus accepts, with the same result
(``tests/unit/test_fast_rules.py`` checks that against Cerberus).

Rules handled: ``type`` (string, integer, number, boolean, dict), ``required``,
``regex``, ``minlength``/``maxlength`` (strings), ``min``/``max`` (numbers),
``allowed``, ``default``, ``coerce`` (a callable), ``nonblank``.  Anything else
in a schema (``nullable``, ``empty``, ``schema``, custom rules) means no fast path.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

FastCheck = Callable[[dict[str, Any]], dict[str, Any] | None]

_TYPES: dict[str, Callable[[Any], bool]] = {
    "string": lambda v: isinstance(v, str),
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "number": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
    "boolean": lambda v: isinstance(v, bool),
    "dict": lambda v: isinstance(v, dict),
}
_HANDLED = frozenset(
    {"type", "required", "regex", "minlength", "maxlength", "min", "max", "allowed", "default", "coerce", "nonblank"}
)


class _Field:
    __slots__ = (
        "allowed",
        "coerce",
        "default",
        "has_default",
        "maximum",
        "maxlength",
        "minimum",
        "minlength",
        "name",
        "nonblank",
        "pattern",
        "required",
        "type_ok",
    )

    def __init__(self, name: str, rules: dict[str, Any]) -> None:
        self.name = name
        self.required = bool(rules.get("required", False))
        self.type_ok = _TYPES[rules["type"]] if "type" in rules else None
        regex = rules.get("regex")
        self.pattern = re.compile(regex if regex.endswith("$") else regex + "$") if regex is not None else None
        self.minlength: int | None = rules.get("minlength")
        self.maxlength: int | None = rules.get("maxlength")
        self.minimum: float | None = rules.get("min")
        self.maximum: float | None = rules.get("max")
        allowed = rules.get("allowed")
        self.allowed = frozenset(allowed) if allowed is not None else None
        self.has_default = "default" in rules
        self.default = rules.get("default")
        self.coerce: Callable[[Any], Any] | None = rules.get("coerce")
        self.nonblank = bool(rules.get("nonblank", False))

    def accepts(self, value: Any) -> bool:
        if value is None or (self.type_ok is not None and not self.type_ok(value)):
            return False
        if isinstance(value, str):
            if not value:
                return False  # empty values follow Cerberus's own ``empty`` logic: let it decide
            if self.pattern is not None and not self.pattern.match(value):
                return False
            if self.minlength is not None and len(value) < self.minlength:
                return False
            if self.maxlength is not None and len(value) > self.maxlength:
                return False
            if self.nonblank and not value.strip():
                return False
        elif self.pattern is not None or self.minlength is not None or self.maxlength is not None:
            return False
        if self.minimum is not None or self.maximum is not None:
            if not isinstance(value, int | float) or isinstance(value, bool):
                return False
            if self.minimum is not None and value < self.minimum:
                return False
            if self.maximum is not None and value > self.maximum:
                return False
        if self.allowed is not None:
            try:
                if value not in self.allowed:
                    return False
            except TypeError:  # unhashable
                return False
        return True


def compile_flat(schema: dict[str, Any]) -> FastCheck | None:
    """The fast check for ``schema``, or None when it has rules this path does not handle."""
    fields: list[_Field] = []
    for name, rules in schema.items():
        if not isinstance(rules, dict) or not set(rules) <= _HANDLED:
            return None
        if "type" in rules and rules["type"] not in _TYPES:
            return None
        if "coerce" in rules and not callable(rules["coerce"]):
            return None
        fields.append(_Field(name, rules))
    known = frozenset(schema)

    def check(document: dict[str, Any]) -> dict[str, Any] | None:
        if not isinstance(document, dict) or not known.issuperset(document):
            return None  # unknown fields: Cerberus words the error
        result = dict(document)
        for field in fields:
            name = field.name
            if name not in result:
                if field.has_default:
                    if field.default is None or not field.accepts(field.default):
                        return None
                    result[name] = field.default
                    continue
                if field.required:
                    return None
                continue
            value = result[name]
            if field.coerce is not None:
                try:
                    value = result[name] = field.coerce(value)
                except Exception:
                    return None
            if not field.accepts(value):
                return None
        return result

    return check
