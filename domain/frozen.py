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
from types import MemberDescriptorType
from typing import Any, TypeVar

T = TypeVar("T")


_PREFIX = "_frozen_"  # the generated functions' own names: no field may start with it


def _fields(cls: type[Any]) -> tuple[dataclasses.Field[Any], ...]:
    fields = dataclasses.fields(cls)
    if any(field.name.startswith(_PREFIX) for field in fields):
        raise TypeError(f"{cls.__name__} has a field named {_PREFIX}...: the fast copies cannot be made")
    return fields


def _slot(cls: type[Any], name: str) -> MemberDescriptorType:
    """The slot of field ``name``: without ``slots=True`` there is none to fill, and the
    class attribute found instead (a default, or nothing) would fail far from its cause."""
    slot = cls.__dict__.get(name)
    if not isinstance(slot, MemberDescriptorType):
        raise TypeError(f"{cls.__name__} is not a slotted dataclass (field {name!r} has no slot)")
    return slot


def _refuse_unknown(cls: type[Any], unknown: dict[str, Any]) -> None:
    raise TypeError(f"{cls.__name__} has no field {sorted(unknown)[0]!r}")


def _made(name: str, params: list[str], body: list[str], namespace: dict[str, Any]) -> Callable[..., Any]:
    """A function made from its source, as ``dataclasses`` makes ``__init__``: the arguments are
    matched to the fields by Python itself (a missing one raises ``TypeError``, an unknown one
    is refused by name), and each slot is set by one call, with no loop and no lookup."""
    p = _PREFIX
    namespace[f"{p}refuse"] = _refuse_unknown
    body = [f"if {p}unknown:", f"    {p}refuse({p}cls, {p}unknown)", *body]
    params = [*params, f"**{p}unknown"]
    source = f"def {name}({', '.join(params)}):\n" + "\n".join(f"    {line}" for line in body) + "\n"
    exec(source, namespace)  # the source is made here, of the class's field names only
    made: Callable[..., Any] = namespace[name]
    return made


def replacer(cls: type[T]) -> Callable[..., T]:
    """``dataclasses.replace`` for ``cls``: ``replace(obj, **changes)``."""
    p = _PREFIX
    namespace: dict[str, Any] = {f"{p}new": object.__new__, f"{p}cls": cls, f"{p}same": object()}
    fields = _fields(cls)  # a bare ``*`` needs a named field after it: none for a class without fields
    params, body = [f"{p}obj", "/", *(["*"] if fields else [])], [f"{p}copy = {p}new({p}cls)"]
    for i, field in enumerate(fields):
        slot, name = _slot(cls, field.name), field.name
        namespace[f"{p}get{i}"], namespace[f"{p}set{i}"] = slot.__get__, slot.__set__
        params.append(f"{name}={p}same")
        body.append(f"{p}set{i}({p}copy, {p}get{i}({p}obj) if {name} is {p}same else {name})")
    body.append(f"return {p}copy")
    return _made("replace", params, body, namespace)


def builder(cls: type[T]) -> Callable[..., T]:
    """``cls(**values)`` by keyword, defaults and default factories included."""
    p, missing = _PREFIX, dataclasses.MISSING
    namespace: dict[str, Any] = {f"{p}new": object.__new__, f"{p}cls": cls, f"{p}missing": missing}
    fields = _fields(cls)  # a bare ``*`` needs a named field after it, as in ``replacer``
    params, body = ["*"] if fields else [], [f"{p}obj = {p}new({p}cls)"]
    for i, field in enumerate(fields):
        name, value = field.name, field.name
        namespace[f"{p}set{i}"] = _slot(cls, name).__set__
        if field.default_factory is not missing:
            namespace[f"{p}factory{i}"] = field.default_factory
            params.append(f"{name}={p}missing")
            value = f"{p}factory{i}() if {name} is {p}missing else {name}"
        elif field.default is not missing:
            namespace[f"{p}default{i}"] = field.default
            params.append(f"{name}={p}default{i}")
        else:
            params.append(name)
        body.append(f"{p}set{i}({p}obj, {value})")
    body.append(f"return {p}obj")
    return _made("build", params, body, namespace)
