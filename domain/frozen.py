"""Fast copies and constructions of frozen, slotted dataclasses.

A frozen dataclass sets every field through ``object.__setattr__`` in its
``__init__``, and ``dataclasses.replace`` first walks the fields by
introspection; on the hot paths (a log record built and copied twice per
command, a trip state per chat message) both cost more than the work around
them.  These fill the slots directly, with the same result (checked against
``dataclasses.replace`` and the class's own constructor in the tests).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")


def _fields(cls: type[Any]) -> tuple[dataclasses.Field[Any], ...]:
    return dataclasses.fields(cls)


def _names(cls: type[Any]) -> tuple[str, ...]:
    return tuple(field.name for field in _fields(cls))


def _slots(cls: type[Any]) -> tuple[tuple[str, Any, Any], ...]:
    return tuple((name, getattr(cls, name).__get__, getattr(cls, name).__set__) for name in _names(cls))


def _refuse_unknown(cls: type[Any], names: Any, known: frozenset[str]) -> None:
    if not names <= known:
        raise TypeError(f"{cls.__name__} has no field {sorted(names - known)[0]!r}")


def replacer(cls: type[T]) -> Callable[..., T]:
    """``dataclasses.replace`` for ``cls``: ``replace(obj, **changes)``."""
    slots, known, new = _slots(cls), frozenset(_names(cls)), object.__new__

    def replace(obj: T, /, **changes: Any) -> T:
        _refuse_unknown(cls, changes.keys(), known)
        copy: T = new(cls)
        for name, get, set_ in slots:
            set_(copy, changes[name] if name in changes else get(obj))
        return copy

    return replace


def builder(cls: type[T]) -> Callable[..., T]:
    """``cls(**values)`` by keyword, defaults and default factories included."""
    missing = dataclasses.MISSING
    fields = [(f.name, getattr(cls, f.name).__set__, f.default, f.default_factory) for f in _fields(cls)]
    known, new = frozenset(_names(cls)), object.__new__

    def build(**values: Any) -> T:
        _refuse_unknown(cls, values.keys(), known)
        obj: T = new(cls)
        for name, set_, default, factory in fields:
            if name in values:
                set_(obj, values[name])
            elif factory is not missing:
                set_(obj, factory())
            elif default is not missing:
                set_(obj, default)
            else:
                raise TypeError(f"{cls.__name__} needs {name!r}")
        return obj

    return build
