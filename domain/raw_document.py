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
the bound.  ``sanitize`` counts the same thing (members of every container of ``data``)
and refuses past the same bound with the same error (VALIDATION_ERROR, ``data: more than
N values in one document``), so a REST body this check refuses is one ``sanitize`` would
refuse (a text that is not JSON at all may get this error rather than ``BAD_REQUEST``).  A frame's count includes its top level (``event``, ``data``, ``ref``: the
``envelope`` allowed for) and any other member it has: a frame with values beside its
``data`` over the bound is refused here though ``sanitize`` never sees them; and a frame
refused here is refused before its event is known, so it is answered with this error
where a parsed frame might have been refused first for another reason (an unknown
event, the rate limit).
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


def check_document_nodes(text: bytes, bounds: Bounds, envelope: int = 0) -> None:
    """Refuse ``text`` (VALIDATION_ERROR, as ``sanitize`` would) when its containers hold
    more than ``bounds.max_document_nodes`` values plus ``envelope`` (the members of a
    frame's top level: ``event``, ``data``, ``ref``, which ``sanitize`` does not see)."""
    limit = bounds.max_document_nodes + envelope
    if text.count(b",") + text.count(b"{") + text.count(b"[") <= limit:
        return
    # Every string is a key or a value, and a container's member holds at most two (``"k":"v"``):
    # past twice the bound in strings, the members are past it too, whatever the strings hold.
    # Counting members exactly costs in proportion to the strings, so it is left for fewer.
    strings = (text.count(b'"') - text.count(b'\\"')) // 2  # at least; an escaped quote is no string's end
    if strings > 2 * limit or container_members(text) > limit:
        message = f"more than {bounds.max_document_nodes} values in one document"
        raise CommandRefused(ErrorCode.VALIDATION_ERROR, f"data: {message}", {"data": [message]})
