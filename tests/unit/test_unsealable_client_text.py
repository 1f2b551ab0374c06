"""The rules that keep client text from starting with U+001E, the mark of a sealed value
(``eventlog/sealing.py``), where it reaches an answer or a log record unsealed: what a frame's
``event`` and ``ref`` may not hold (``NAME_FORBIDDEN``: what no value may), and how an error names a refused key."""

from __future__ import annotations

import unicodedata

import pytest

from domain.errors import CommandRefused
from domain.sanitize import NAME_FORBIDDEN, sanitize, usable_name
from eventlog.sealing import SEALED

# what a key may not hold: Unicode's Cc and Cs, but newline and tab
REFUSED_IN_KEYS = [
    ch for ch in map(chr, range(0x110000)) if unicodedata.category(ch) in ("Cc", "Cs") and ch not in "\n\t"
]


def test_an_event_or_ref_may_hold_no_character_of_cc_but_newline_and_tab_nor_of_cs() -> None:
    for code in range(0x110000):
        ch = chr(code)
        expected = unicodedata.category(ch) in ("Cc", "Cs") and ch not in "\n\t"
        assert (NAME_FORBIDDEN.search(f"a{ch}b") is not None) is expected, hex(code)


@pytest.mark.parametrize("depth", [1, 2])
def test_a_key_refused_for_a_control_character_is_named_with_it_escaped(depth: int) -> None:
    for ch in REFUSED_IN_KEYS:
        key = f"{ch}k"
        data = {key: 1} if depth == 1 else {"outer": {key: 1}}
        with pytest.raises(CommandRefused) as refused:
            sanitize(data)
        code = ord(ch)
        shown = (f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}") + "k"
        path = shown if depth == 1 else f"outer.{shown}"
        assert refused.value.message == f"{path}: keys may not contain control characters"
        assert refused.value.details == {path: ["keys may not contain control characters"]}
        assert not refused.value.message.startswith(SEALED)
        assert NAME_FORBIDDEN.search(refused.value.message) is None  # it can be encoded, and read back as sent


def test_a_value_refused_for_a_control_character_is_named_by_its_key() -> None:
    with pytest.raises(CommandRefused) as refused:
        sanitize({"message": f"{SEALED}abc"})
    assert refused.value.message == "message: control characters other than newline and tab are not allowed"


def test_an_unknown_events_name_is_judged_as_the_pattern_judges_it_ascii_by_its_fast_path_too() -> None:
    for code in range(0x110000):
        ch = chr(code)
        name = f"a{ch}b"
        assert usable_name(name) is (NAME_FORBIDDEN.search(name) is None), hex(code)
