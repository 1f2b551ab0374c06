"""The document-node bound checked on a JSON text before it is parsed.

Parsing builds every value of a document before ``sanitize`` can count them: a 64 KiB
frame of tiny objects is ~8,000 dicts made and freed only to be refused.  The values a
document's containers hold can be counted on its text instead: every container with
``k`` members has ``k - 1`` commas, so, outside strings,

    members of every container = commas + containers opened - empty containers

exactly, for any valid JSON text.  Counting ``,``, ``{`` and ``[`` over the whole text
(three passes in C) can only over-count (strings may hold them): when that is within
the bound the text passes at once.  A text over it with more than twice the bound in
strings is over it for certain (each member holds at most two strings, a key and a
value); only the rest is counted exactly, its strings left out, at a cost bounded by
the bound.  ``sanitize`` counts the same thing (members of every container
of ``data``) and refuses past the same bound with the same error (VALIDATION_ERROR,
``data: more than N values in one document``; ``sanitize`` names the container where
its walk crossed the bound, this check the document; and ``sanitize`` may stop first at
another of its bounds, keys per object, items per list or depth, with that one's
message).  So a REST body this check refuses is one ``sanitize`` would refuse (a text
that is not JSON at all may get this error rather than ``BAD_REQUEST``).

A frame's count includes its top level (``event``, ``data``, ``ref``: the ``envelope``
allowed for) and any other member it has: a frame with values beside its ``data`` over
the bound is refused though ``sanitize`` never sees them.  Its answer must name its
event and echo its ref, so a frame over the bound is refused unparsed only when those
can be read for certain (``envelope_of``: the event its first member, the ref its last
or absent, as clients send them), and then after the checks a parsed frame passes
first (the rate limit, an unknown event: ``ClientSession.receive``); a frame whose
``data`` is not an object gets this error rather than ``BAD_REQUEST``.  Any other frame
is parsed, and ``sanitize`` refuses it.
"""

from __future__ import annotations

import re

from domain.errors import CommandRefused, ErrorCode
from domain.sanitize import Bounds

_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"')
_SPACE = b" \t\n\r"


def container_members(text: bytes) -> int:
    """The values the containers of the JSON ``text`` hold between them (exact for valid JSON)."""
    # with a backslash, an escaped quote may sit in a string: strings are matched one by one;
    # without, strings are the odd pieces between quotes.  A placeholder keeps [""] from looking empty.
    outside = _STRING.sub(b"0", text) if b"\\" in text else b"0".join(text.split(b'"')[0::2])
    outside = outside.translate(None, _SPACE)
    return outside.count(b",") + outside.count(b"{") + outside.count(b"[") - outside.count(b"{}") - outside.count(b"[]")


def over_bound(text: bytes, bounds: Bounds, envelope: int = 0) -> CommandRefused | None:
    """The refusal ``sanitize`` would give (VALIDATION_ERROR) when the containers of ``text``
    hold more than ``bounds.max_document_nodes`` values plus ``envelope`` (the members of a
    frame's top level: ``event``, ``data``, ``ref``, which ``sanitize`` does not see); None
    when they do not."""
    limit = bounds.max_document_nodes + envelope
    if text.count(b",") + text.count(b"{") + text.count(b"[") <= limit:
        return None
    # Every string is a key or a value, and a container's member holds at most two (``"k":"v"``):
    # past twice the bound in strings, the members are past it too, whatever the strings hold.
    # Counting members exactly costs in proportion to the strings, so it is left for fewer.
    escaped = text.count(b'\\"') if b"\\" in text else 0  # an escaped quote is no string's end
    strings = (text.count(b'"') - escaped) // 2  # at least
    if strings > 2 * limit or container_members(text) > limit:
        message = f"more than {bounds.max_document_nodes} values in one document"
        return CommandRefused(ErrorCode.VALIDATION_ERROR, f"data: {message}", {"data": [message]})
    return None


def check_document_nodes(text: bytes, bounds: Bounds) -> None:
    """Refuse a REST body over the value bound, as ``sanitize`` would (see ``over_bound``)."""
    refusal = over_bound(text, bounds)
    if refusal is not None:
        raise refusal


# A frame's event when it is its first member and its ref when it is its last, as clients
# send them: read there, they are the top level's whatever the rest holds.
_EVENT_FIRST = re.compile(rb'\s*\{\s*"event"\s*:\s*"([^"\\]*)"\s*[,}]')
_REF_LAST = re.compile(rb'(?<!\\)"ref"\s*:\s*"([^"\\]{1,64})"\s*\}\s*\Z')
_TAIL = 128  # bytes at the end of a frame in which its last member is looked for


def envelope_of(text: bytes) -> tuple[str, str | None] | None:
    """A frame's ``event`` and ``ref`` read without parsing it, when they can be told for
    certain: ``event`` its first member (and named once in the frame: the last of
    duplicate keys is the one a parser keeps), ``ref`` its last member or nowhere in it.
    None when they cannot (the frame is parsed instead)."""
    first = _EVENT_FIRST.match(text)
    if first is None or text.count(b'"event"') != 1:
        return None
    ref = None
    if b'"ref"' in text:
        last = _REF_LAST.search(text, max(0, len(text) - _TAIL))
        if last is None:
            return None
        ref = last.group(1)
    try:
        return first.group(1).decode(), ref.decode() if ref is not None else None
    except UnicodeDecodeError:  # a binary frame that is no UTF-8: the parser says so
        return None
