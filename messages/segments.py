"""How an SMS is encoded and how many segments it costs (GSM 03.38 and UCS-2 rules)."""

from __future__ import annotations

from dataclasses import dataclass

GSM_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM_EXTENSION = frozenset("\f^{}\\[~]|€")  # each costs an escape septet too
# Characters that slip in from word processors and force UCS-2, with the GSM character to use.
LOOKALIKES = {
    "\u2013": "-",  # en dash
    "\u2014": "-",  # em dash
    "\u2018": "'",
    "\u2019": "'",
    "\u201c": '"',
    "\u201d": '"',
    "\u2026": "...",
    "\u00a0": " ",  # no-break space
    "\u2022": "-",  # bullet
}
SINGLE = {"GSM-7": 160, "UCS-2": 70}
PART = {"GSM-7": 153, "UCS-2": 67}


@dataclass(frozen=True)
class SegmentCount:
    """An SMS's encoding, its length in characters, and the segments it is billed as."""

    encoding: str
    characters: int
    units: int
    segments: int
    stray: tuple[tuple[int, str], ...] = ()
    fixable: bool = False  # replacing the look-alikes in `stray` would make it GSM-7


def _septets(char: str) -> int:
    return 2 if char in GSM_EXTENSION else 1


def _utf16_units(char: str) -> int:
    return 2 if ord(char) > 0xFFFF else 1


def count_segments(text: str) -> SegmentCount:
    """Count segments as carriers bill them; a two-unit character is never split across parts."""
    if GSM_BASIC.issuperset(text):  # the usual text: one septet a character, no escapes
        units = len(text)
        single = 1 if text else 0
        segments = single if units <= SINGLE["GSM-7"] else -(-units // PART["GSM-7"])
        return SegmentCount("GSM-7", units, units, segments)
    return _counted(text)


def _counted(text: str) -> SegmentCount:
    """Character by character: any escape, look-alike or UCS-2 text."""
    non_gsm = [(i, c) for i, c in enumerate(text) if c not in GSM_BASIC and c not in GSM_EXTENSION]
    encoding = "UCS-2" if non_gsm else "GSM-7"
    width = _septets if encoding == "GSM-7" else _utf16_units
    sizes = [width(c) for c in text]
    units = sum(sizes)
    stray = tuple((i, c) for i, c in non_gsm if c in LOOKALIKES)
    fixable = bool(stray) and len(stray) == len(non_gsm)
    if units <= SINGLE[encoding]:
        segments = 1 if text else 0
    else:
        segments, used = 1, 0
        for size in sizes:
            if used + size > PART[encoding]:
                segments, used = segments + 1, 0
            used += size
    return SegmentCount(encoding, len(text), units, segments, stray, fixable)
