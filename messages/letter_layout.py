"""What goes where on a printed letter: the envelope window, the fonts, the body's Markdown.

Measurements follow UK windowed envelopes (C5 and DL): the address must sit in the window box
and nothing else may. Text is set in DejaVu Sans, a plain sans serif that has every Welsh
letter (ŵ and ŷ are missing from the PDF built-in fonts and from reportlab's own Vera).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache, lru_cache
from pathlib import Path

from reportlab.lib.enums import TA_LEFT
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.lib.utils import simpleSplit
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.platypus import Flowable, Paragraph

from nudge.errors import NudgeError

PAGE_WIDTH, PAGE_HEIGHT = A4
WINDOW_LEFT = 24.6 * mm
WINDOW_TOP = 39.5 * mm  # from the top edge of the page
WINDOW_WIDTH = 95.4 * mm
WINDOW_HEIGHT = 26.8 * mm
SIDE_MARGIN = 15 * mm
BODY_TOP_FIRST = 76 * mm  # below the window, with a clear gap
# GOV.UK Notify keeps the first page above 95 mm for the address and the sender (its letter
# specification; messages/letter_check.py): a letter it posts starts its body there.
BODY_TOP_NOTIFY = 95 * mm
BODY_TOP_LATER = 20 * mm
BOTTOM_MARGIN = 22 * mm
BODY_SIZE = 12.0
ADDRESS_SIZES = (12.0, 11.5, 11.0, 10.5, 10.0, 9.5, 9.0)  # 9 pt is the least still legible

REGULAR, BOLD = "NudgeSans", "NudgeSans-Bold"
FONT_FILES = {REGULAR: "DejaVuSans.ttf", BOLD: "DejaVuSans-Bold.ttf"}
FONT_DIRS = (
    Path("/usr/share/fonts/truetype/dejavu"),  # Debian and Ubuntu: fonts-dejavu-core
    Path("/usr/share/fonts/dejavu-sans-fonts"),  # Fedora
    Path("/usr/share/fonts/TTF"),  # Arch
)


class LetterProblem(NudgeError):
    """A letter that cannot be printed as asked: an address too long, or no usable font."""


@lru_cache(maxsize=1)
@cache  # parsing the TTF files is the cost; a missing font is not remembered, so it raises again
def register_fonts(directories: tuple[Path, ...] = FONT_DIRS) -> str:
    """Register DejaVu Sans (regular and bold) with reportlab once; returns the directory used.
    Every letter, print run and text check calls it: after the first, it costs a lookup."""
    for directory in directories:
        if all((directory / name).is_file() for name in FONT_FILES.values()):
            for font, name in FONT_FILES.items():
                pdfmetrics.registerFont(TTFont(font, str(directory / name)))
            pdfmetrics.registerFontFamily(
                REGULAR, normal=REGULAR, bold=BOLD, italic=REGULAR, boldItalic=BOLD
            )
            return str(directory)
    raise LetterProblem(
        "letters need the DejaVu Sans font (it has the Welsh letters ŵ and ŷ) and it is not "
        f"installed: looked in {', '.join(str(d) for d in directories)}. On Debian or Ubuntu "
        "install the package fonts-dejavu-core."
    )


# Emoji and pictographs, refused even where DejaVu has an outline for one: the author sees a
# colour picture, the letter would print a small black glyph or a missing-glyph box.
_EMOJI = re.compile("[\u2600-\u27bf\ufe0f\U0001f000-\U0001faff]")


def unprintable(text: str) -> tuple[int, str] | None:
    """The index and description of the first character a letter cannot print, if any."""
    emoji = _EMOJI.search(text)
    if emoji is not None:
        return emoji.start(), _described(emoji.group(), "an emoji or pictograph")
    try:
        register_fonts()
    except LetterProblem:
        return None  # no font to ask; sending letters stops at the font with its own message
    glyphs = pdfmetrics.getFont(REGULAR).face.charToGlyph
    for i, char in enumerate(text):
        if ord(char) >= 0x20 and ord(char) not in glyphs:
            return i, _described(char, "a character the letter font (DejaVu Sans) lacks")
    return None


def _described(char: str, what: str) -> str:
    return f"U+{ord(char):04X} ({unicodedata.name(char, 'unnamed').lower()}), {what}"


# --- the address ----------------------------------------------------------------------------


@dataclass(frozen=True)
class FittedAddress:
    """The address as it will print: its lines after wrapping, at one size."""

    lines: tuple[str, ...]
    size: float
    leading: float


def fit_address(address: Sequence[str]) -> FittedAddress:
    """The largest size (12 pt down to 9 pt) at which the address fits the window, wrapped."""
    given = [" ".join(line.split()) for line in address]
    given = [line for line in given if line]
    if not given:
        raise LetterProblem("the letter has no address")
    for size in ADDRESS_SIZES:
        leading = size * 1.2
        lines = [part for line in given for part in simpleSplit(line, REGULAR, size, WINDOW_WIDTH)]
        wide = max(pdfmetrics.stringWidth(line, REGULAR, size) for line in lines)
        if wide <= WINDOW_WIDTH and _address_height(len(lines), size, leading) <= WINDOW_HEIGHT:
            return FittedAddress(tuple(lines), size, leading)
    raise LetterProblem(_why_address_does_not_fit(given))


def _address_height(count: int, size: float, leading: float) -> float:
    ascent = pdfmetrics.getAscent(REGULAR, size)
    descent = -pdfmetrics.getDescent(REGULAR, size)
    return ascent + (count - 1) * leading + descent


def _why_address_does_not_fit(lines: list[str]) -> str:
    size = ADDRESS_SIZES[-1]
    for line in lines:
        for word in line.split():
            if pdfmetrics.stringWidth(word, REGULAR, size) > WINDOW_WIDTH:
                return (
                    f"the address does not fit the envelope window: '{word}' is wider than the "
                    f"window ({WINDOW_WIDTH / mm:.1f} mm) even at {size:g} pt; shorten it"
                )
    wrapped = sum(len(simpleSplit(line, REGULAR, size, WINDOW_WIDTH)) for line in lines)
    return (
        f"the address does not fit the envelope window: it needs {wrapped} lines at {size:g} pt "
        f"and the window ({WINDOW_HEIGHT / mm:.1f} mm high) holds "
        f"{_lines_that_fit(size)}; shorten or combine its lines"
    )


def _lines_that_fit(size: float) -> int:
    count = 1
    while _address_height(count + 1, size, size * 1.2) <= WINDOW_HEIGHT:
        count += 1
    return count


class AddressBlock(Flowable):
    """The fitted address, drawn from the window's top-left corner; it fills the window frame."""

    def __init__(self, fitted: FittedAddress) -> None:
        super().__init__()
        self.fitted = fitted

    def wrap(self, available_width: float, available_height: float) -> tuple[float, float]:
        return WINDOW_WIDTH, WINDOW_HEIGHT - 1  # a point spare: frames refuse an exact fit

    def draw(self) -> None:
        size, leading = self.fitted.size, self.fitted.leading
        baseline = WINDOW_HEIGHT - 1 - pdfmetrics.getAscent(REGULAR, size)
        self.canv.setFont(REGULAR, size, leading)
        for line in self.fitted.lines:
            self.canv.drawString(0, baseline, line)
            baseline -= leading


def sender_block(lines: Sequence[str], width: float, height: float) -> list[Flowable]:
    """Who the letter is from (top right), refused if it would spill towards the window."""
    kept = [line for line in lines if line.strip()]
    if not kept:
        return []
    block = Paragraph("<br/>".join(inline_markup(line) for line in kept), STYLES["sender"])
    if block.wrap(width, height)[1] > height:
        raise LetterProblem(
            f"the sender's details ({len(kept)} lines) do not fit the space beside the window; "
            "shorten them"
        )
    return [block]


# --- the body -------------------------------------------------------------------------------

_BASE = ParagraphStyle(
    "body",
    fontName=REGULAR,
    fontSize=BODY_SIZE,
    leading=BODY_SIZE * 1.5,
    alignment=TA_LEFT,
    spaceAfter=BODY_SIZE * 0.75,
)
STYLES = {
    "body": _BASE,
    "h1": ParagraphStyle(
        "h1", _BASE, fontName=BOLD, fontSize=17, leading=22, spaceBefore=4, keepWithNext=1
    ),
    "h2": ParagraphStyle(
        "h2", _BASE, fontName=BOLD, fontSize=14, leading=19, spaceBefore=6, keepWithNext=1
    ),
    "bullet": ParagraphStyle(
        "bullet",
        _BASE,
        leftIndent=20,
        bulletIndent=5,
        bulletFontName=REGULAR,
        bulletFontSize=BODY_SIZE,
        spaceAfter=BODY_SIZE * 0.4,
    ),
    "small_gap": ParagraphStyle("small_gap", _BASE, spaceAfter=BODY_SIZE * 0.25),
    "sender": ParagraphStyle("sender", _BASE, leading=BODY_SIZE * 1.25, spaceAfter=0),
}
_BOLD = re.compile(r"\*\*(.+?)\*\*")
_HEADING = re.compile(r"^(#{1,2})\s+(.*)$")
_BULLET = re.compile(r"^[-*]\s+(.*)$")


def inline_markup(text: str) -> str:
    """Plain text made safe for reportlab's mini-markup, with `**bold**` as the only markup."""
    escaped = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _BOLD.sub(r"<b>\1</b>", escaped)


def body_flowables(body: str) -> list[Flowable]:
    """The letter's body (paragraphs, `#`/`##` headings, `- ` bullets, `**bold**`) as flowables."""
    return [
        Paragraph(inline_markup(text), STYLES[kind], bulletText="•" if kind == "bullet" else None)
        for kind, text in markdown_blocks(body)
    ]


def markdown_blocks(body: str) -> list[tuple[str, str]]:
    """The body as (kind, text) blocks; lines of one paragraph or bullet are joined."""
    blocks: list[tuple[str, str]] = []
    current: list[str] | None = None
    for raw in body.splitlines():
        line = raw.strip()
        heading, bullet = _HEADING.match(line), _BULLET.match(line)
        if not line:
            current = None
        elif heading:
            blocks.append(("h1" if len(heading.group(1)) == 1 else "h2", heading.group(2)))
            current = None
        elif bullet:
            blocks.append(("bullet", bullet.group(1)))
            current = [bullet.group(1)]
        elif current is not None:
            current.append(line)
            blocks[-1] = (blocks[-1][0], " ".join(current))
        else:
            blocks.append(("body", line))
            current = [line]
    return _close_up_sign_offs(blocks)


def _close_up_sign_offs(blocks: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """'Yours sincerely,' sits close to the name under it, as in a posted letter."""
    return [
        ("small_gap", text)
        if kind == "body" and text.rstrip().endswith(",") and i
        else (kind, text)
        for i, (kind, text) in enumerate(blocks)
    ]
