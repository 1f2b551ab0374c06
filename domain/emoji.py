"""Whether a string is one emoji: one grapheme cluster of the emoji kind, checked with the
standard library alone (no grapheme segmentation there), so by the code points emoji are
made of: a pictograph with its variation selector, skin tone, keycap or tags, pictographs
joined by zero-width joiners, or a pair of regional indicators (a flag)."""

from __future__ import annotations

MAX_EMOJI_CODE_POINTS = 16  # the longest emoji in use (a family with skin tones) has 11

_ZWJ = 0x200D
_VS16 = 0xFE0F
_KEYCAP = 0x20E3
_PICTOGRAPH_RANGES = (
    (0x1F000, 0x1FAFF),  # mahjong to symbols and pictographs extended-A
    (0x2600, 0x27BF),  # miscellaneous symbols, dingbats
    (0x2300, 0x23FF),  # miscellaneous technical (watch, hourglass...)
    (0x2B00, 0x2BFF),  # arrows and stars
    (0x2190, 0x21FF),  # arrows
    (0x25A0, 0x25FF),  # geometric shapes
    (0x2900, 0x297F),
    (0x3030, 0x3030),
    (0x303D, 0x303D),
    (0x3297, 0x3299),
    (0x00A9, 0x00A9),
    (0x00AE, 0x00AE),
    (0x203C, 0x203C),
    (0x2049, 0x2049),
    (0x2122, 0x2122),
    (0x2139, 0x2139),
    (0x24C2, 0x24C2),
)


def _pictograph(code: int) -> bool:
    return any(low <= code <= high for low, high in _PICTOGRAPH_RANGES) and not _regional(code) and not _tone(code)


def _regional(code: int) -> bool:
    return 0x1F1E6 <= code <= 0x1F1FF


def _tone(code: int) -> bool:
    return 0x1F3FB <= code <= 0x1F3FF


def _tag(code: int) -> bool:
    return 0xE0020 <= code <= 0xE007F


def is_one_emoji(value: str) -> bool:
    codes = [ord(c) for c in value]
    if not codes or len(codes) > MAX_EMOJI_CODE_POINTS:
        return False
    if _regional(codes[0]):
        return len(codes) == 2 and _regional(codes[1])
    if chr(codes[0]) in "0123456789#*":  # a keycap: base, variation selector, combining keycap
        return codes[1:] in ([_VS16, _KEYCAP], [_KEYCAP])
    at = 0
    while True:  # pictograph (modifiers)* (ZWJ pictograph (modifiers)*)*
        if at >= len(codes) or not _pictograph(codes[at]):
            return False
        at += 1
        while at < len(codes) and (codes[at] == _VS16 or _tone(codes[at]) or _tag(codes[at])):
            at += 1
        if at == len(codes):
            return True
        if codes[at] != _ZWJ:
            return False
        at += 1
