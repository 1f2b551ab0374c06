"""Rules every piece of client data obeys before any schema looks at it.

Keys may not start with ``$`` or contain ``.`` (they would be operators or paths
in the MongoDB read side), containers nest at most ``MAX_DEPTH`` levels, strings
are NFC-normalised and may hold no control character but newline and tab, and
numbers stay finite and exactly representable in every JSON reader.  An error names a
refused key with its control characters escaped (``\\x1e``): no client text starts an
error's message or path as it was sent.

Width is bounded as well as depth (``Bounds``: keys per object, items
per list, values per document), and a document over a bound is refused at the
first value past it: whatever runs after this walk (the schemas, the decider)
sees at most ``max_document_nodes`` values, so no frame or body costs more than that.
"""

from __future__ import annotations

import math
import re
import unicodedata
from dataclasses import dataclass
from typing import Any, Protocol

from domain.errors import CommandRefused, ErrorCode

MAX_DEPTH = 8
MAX_SAFE_INTEGER = 2**53 - 1
# Unicode's categories Cc (C0 and C1 controls) and Cs (surrogates), newline and tab
# excepted: one regex scan in C instead of a category lookup per character
_FORBIDDEN = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff]")
# What a frame's ``event`` and ``ref`` may not hold either (``service/session.py`` refuses them,
# unechoed): what no value may.  Nothing else looks at those two strings before they reach an
# answer and the log, where one that starts with U+001E would be taken for a sealed value
# (``eventlog/sealing.py``) and masked.
NAME_FORBIDDEN = _FORBIDDEN
# its ASCII part, derived from it: the bytes ``usable_name`` deletes to check an ASCII name
_ASCII_FORBIDDEN = bytes(code for code in range(0x80) if _FORBIDDEN.match(chr(code)))


def usable_name(name: str) -> bool:
    """Whether a frame's ``event`` or ``ref`` holds nothing of ``NAME_FORBIDDEN``, so that it may
    be echoed and recorded.  An ASCII one is checked by deleting its control bytes: a 60 KB name
    in ~30 µs, where the pattern takes ~190."""
    if name.isascii():
        raw = name.encode()
        return len(raw.translate(None, _ASCII_FORBIDDEN)) == len(raw)
    return _FORBIDDEN.search(name) is None


class Bounds(Protocol):
    """How wide and how large one frame's ``data`` or one REST body may be
    (``config.Limits`` is one, read from the flags)."""

    @property
    def max_object_keys(self) -> int: ...
    @property
    def max_list_items(self) -> int: ...
    @property
    def max_document_nodes(self) -> int: ...


@dataclass(frozen=True, slots=True)
class DocumentBounds:
    max_object_keys: int = 64
    max_list_items: int = 400  # a trip's days fit: 366
    max_document_nodes: int = 2_000  # values in the whole document, containers included


DEFAULT_BOUNDS = DocumentBounds()


# A path in the document, built only when an error names it: (parent, key), None at the top.
Path = tuple["Path", str | int] | None


def _render(path: Path) -> str:
    parts: list[str] = []
    while path is not None:
        path, key = path
        parts.append(_shown(key) if isinstance(key, str) else str(key))
    return ".".join(reversed(parts))


class _TooLarge(Exception):
    def __init__(self, path: Path, message: str) -> None:
        self.path = _render(path) or "data"
        self.message = message


def _has_control(text: str) -> bool:
    return _FORBIDDEN.search(text) is not None


def _escape(found: re.Match[str]) -> str:
    code = ord(found.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def _shown(key: str) -> str:
    """A key as an error path may show it: its control characters and lone surrogates (only
    a JSON escape can make one) become their escapes (``\\x1e``, ``\\udc80``), so that the
    error itself can be encoded, and its message, which starts with the path, is never taken
    for a sealed value (one starts with U+001E: ``eventlog/sealing.py``)."""
    return _FORBIDDEN.sub(_escape, key)


def _nfc(text: str) -> str:
    return text if text.isascii() else unicodedata.normalize("NFC", text)


class _Walker:
    """One walk over a document.  The common leaves (short strings, small integers,
    booleans, null) are checked inline in their container's loop and paths are
    built only for errors: at the value bound a walk is ~10k values, once per frame."""

    def __init__(self, bounds: Bounds) -> None:
        self.errors: dict[str, list[str]] = {}
        self.bounds = bounds
        self.nodes_left = bounds.max_document_nodes

    def fail(self, path: Path, message: str) -> None:
        self.errors.setdefault(_render(path) or "data", []).append(message)

    def count(self, nodes: int, path: Path) -> None:
        self.nodes_left -= nodes
        if self.nodes_left < 0:
            raise _TooLarge(path, f"more than {self.bounds.max_document_nodes} values in one document")

    def clean(self, value: Any, path: Path, depth: int) -> Any:
        if isinstance(value, dict):
            return self._object(value, path, depth)
        if isinstance(value, list):
            return self._list(value, path, depth)
        if isinstance(value, str):
            if _has_control(value):
                self.fail(path, "control characters other than newline and tab are not allowed")
                return value
            return _nfc(value)
        if isinstance(value, bool) or value is None:
            return value
        if isinstance(value, int):
            if abs(value) > MAX_SAFE_INTEGER:
                self.fail(path, "number is out of range")
            return value
        if isinstance(value, float):
            if not math.isfinite(value) or abs(value) > 1e300:
                self.fail(path, "number is out of range")
            return value
        self.fail(path, "unsupported value")
        return None

    def _object(self, value: dict[str, Any], path: Path, depth: int) -> Any:
        if depth > MAX_DEPTH:
            self.fail(path, f"nested deeper than {MAX_DEPTH} levels")
            return None
        if len(value) > self.bounds.max_object_keys:
            raise _TooLarge(path, f"more than {self.bounds.max_object_keys} keys in one object")
        self.count(len(value), path)  # its members, counted before any of them is looked at
        out: dict[str, Any] = {}
        search = _FORBIDDEN.search
        for key, item in value.items():
            name = _nfc(key)
            if name.startswith("$") or "." in name:
                self.fail((path, name), "keys may not start with '$' or contain '.'")
                continue
            if search(name) is not None:
                self.fail((path, name), "keys may not contain control characters")
                continue
            kind = type(item)
            if kind is str:
                if search(item) is None:
                    out[name] = _nfc(item)
                    continue
            elif kind is int:
                if -MAX_SAFE_INTEGER <= item <= MAX_SAFE_INTEGER:
                    out[name] = item
                    continue
            elif kind is bool or item is None:
                out[name] = item
                continue
            out[name] = self.clean(item, (path, name), depth + 1)
        return out

    def _list(self, value: list[Any], path: Path, depth: int) -> Any:
        if depth > MAX_DEPTH:
            self.fail(path, f"nested deeper than {MAX_DEPTH} levels")
            return None
        if len(value) > self.bounds.max_list_items:
            raise _TooLarge(path, f"more than {self.bounds.max_list_items} items in one list")
        self.count(len(value), path)
        out: list[Any] = []
        append = out.append
        search = _FORBIDDEN.search
        for i, item in enumerate(value):
            kind = type(item)
            if kind is str:
                if search(item) is None:
                    append(_nfc(item))
                    continue
            elif kind is int:
                if -MAX_SAFE_INTEGER <= item <= MAX_SAFE_INTEGER:
                    append(item)
                    continue
            elif kind is bool or item is None:
                append(item)
                continue
            append(self.clean(item, (path, i), depth + 1))
        return out


def sanitize(data: dict[str, Any], bounds: Bounds = DEFAULT_BOUNDS) -> dict[str, Any]:
    """Return a cleaned copy of a frame's ``data`` object (level 1) or refuse it."""
    walker = _Walker(bounds)
    try:
        cleaned = walker.clean(data, None, 1)
    except _TooLarge as large:
        raise CommandRefused(
            ErrorCode.VALIDATION_ERROR, f"{large.path}: {large.message}", {large.path: [large.message]}
        ) from None
    if walker.errors:
        first = next(iter(walker.errors))
        raise CommandRefused(
            ErrorCode.VALIDATION_ERROR,
            f"{first}: {walker.errors[first][0]}",
            walker.errors,
        )
    assert isinstance(cleaned, dict)
    return cleaned
