"""GOV.UK Notify's rules for a precompiled letter, checked on the PDF itself before it is sent.

Notify prints and posts a precompiled letter only if it meets its letter specification
(https://www.notifications.service.gov.uk/using-notify/guidance/letter-specification):

- every page A4 portrait, 210 × 297 mm;
- at most 10 pages (Notify's limit; it prints both sides);
- nothing in the margins Notify keeps for its own marks: 15 mm left and right, 5 mm top and
  bottom; and on the first page, above 95 mm from the top, only the logo area (to 30 mm), the
  address block (24.6 to 120 mm from the left, 39.5 to 66.3 mm from the top) and the column
  right of 125 mm (the sender's address);
- every font embedded;
- an address of 3 to 7 lines in the address block, its last line a UK postcode.

Notify rejects a letter that breaks them only after accepting it (`validation-failed`);
checked here first, the letter fails at once with a reason that names the rule, and nothing is
sent. As Notify does, every boundary has 1 mm of slack for anti-aliased glyph edges. The check
reads what a printer would: the characters, lines, shapes and images placed on each page.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from io import BytesIO
from typing import Any

from reportlab.lib.units import mm

from nudge.models.statuses import Reason

A4_MM = (210.0, 297.0)
SIZE_SLACK_MM = 1.0
MAX_PAGES = 10
SLACK_MM = 1.0
MIN_ADDRESS_LINES, MAX_ADDRESS_LINES = 3, 7
# Boxes (left, top, right, bottom) in mm from the page's top-left corner.
BODY = (15.0, 5.0, 195.0, 292.0)  # every page but the first: inside the margins
FIRST_PAGE = (
    (15.0, 5.0, 125.0, 30.0),  # logo
    (125.0, 5.0, 195.0, 95.0),  # the sender's address, right of the address block
    (24.6, 39.5, 120.0, 66.3),  # the address block, behind the envelope's window
    (15.0, 95.0, 195.0, 292.0),  # the body
)
ADDRESS = FIRST_PAGE[2]
UK_POSTCODE = re.compile(r"[A-Z]{1,2}[0-9][A-Z0-9]? ?[0-9][A-Z]{2}", re.IGNORECASE)
_OBJECTS = ("char", "rect", "line", "curve", "image")


@dataclass(frozen=True)
class RuleBroken:
    """The first of Notify's rules a letter's PDF breaks: the reason it fails with, and where
    (words for staff, with no personal data: never the text found)."""

    reason: Reason
    detail: str


def check_precompiled(pdf: bytes) -> RuleBroken | None:
    """The first rule the PDF breaks, or None when Notify will take it as it is."""
    import pdfplumber  # only letters through Notify pay for importing it
    from pdfminer.pdfparser import PDFSyntaxError
    from pdfminer.psparser import PSException
    from pdfplumber.utils.exceptions import MalformedPDFException, PdfminerException

    try:
        with pdfplumber.open(BytesIO(pdf)) as document:
            pages = document.pages
            if not pages:
                return RuleBroken(Reason.LETTER_UNPRINTABLE, "the PDF has no pages")
            if len(pages) > MAX_PAGES:
                return RuleBroken(
                    Reason.LETTER_TOO_LONG,
                    f"{len(pages)} pages; Notify posts letters of at most {MAX_PAGES}",
                )
            for number, page in enumerate(pages, 1):
                broken = _page_size(page, number) or _outside(page, number)
                if broken is not None:
                    return broken
            return _fonts(pages) or _address(pages[0])
    except (
        PDFSyntaxError,
        PSException,
        PdfminerException,
        MalformedPDFException,
        ValueError,
        KeyError,
        TypeError,
    ) as error:
        why = f"the PDF cannot be read ({type(error).__name__})"
        return RuleBroken(Reason.LETTER_UNPRINTABLE, why)


def _page_size(page: Any, number: int) -> RuleBroken | None:
    width, height = float(page.width) / mm, float(page.height) / mm
    if abs(width - A4_MM[0]) <= SIZE_SLACK_MM and abs(height - A4_MM[1]) <= SIZE_SLACK_MM:
        return None
    return RuleBroken(
        Reason.LETTER_NOT_A4,
        f"page {number} is {width:.0f} × {height:.0f} mm; Notify prints A4 portrait (210 × 297)",
    )


def _outside(page: Any, number: int) -> RuleBroken | None:
    """The first thing on the page outside the areas Notify lets a letter print in."""
    areas = FIRST_PAGE if number == 1 else (BODY,)
    for kind, box in _boxes(page):
        if not any(_within(box, area) for area in areas):
            left, top = box[0], box[1]
            return RuleBroken(
                Reason.LETTER_OUTSIDE_PRINTABLE_AREA,
                f"page {number}: a {kind} at {left:.1f} mm from the left, {top:.1f} mm from the "
                "top is outside Notify's printable area",
            )
    return None


def _boxes(page: Any) -> Iterator[tuple[str, tuple[float, float, float, float]]]:
    """Each object's box in mm from the top-left corner; blank characters take no ink."""
    for kind in _OBJECTS:
        for item in page.objects.get(kind, []):
            if kind == "char" and not str(item.get("text", "")).strip():
                continue
            left, top, right, bottom = (float(item[k]) / mm for k in ("x0", "top", "x1", "bottom"))
            yield kind, (left, top, right, bottom)


def _within(box: tuple[float, float, float, float], area: tuple[float, ...]) -> bool:
    left, top, right, bottom = area
    return (
        box[0] >= left - SLACK_MM
        and box[1] >= top - SLACK_MM
        and box[2] <= right + SLACK_MM
        and box[3] <= bottom + SLACK_MM
    )


def _fonts(pages: list[Any]) -> RuleBroken | None:
    """A font that draws characters without its outlines in the file: the printer would have
    to substitute one. (A font only named, as reportlab names Helvetica on every page, draws
    nothing and is not asked about.)"""
    from pdfminer.pdftypes import resolve1

    for number, page in enumerate(pages, 1):
        used = {str(char.get("fontname", "")) for char in page.chars}
        resources = resolve1(page.page_obj.resources) or {}
        fonts = resolve1(resources.get("Font")) or {}
        for font in fonts.values():
            names, embedded = _font_names(resolve1(font))
            if not embedded and names & used:
                return RuleBroken(
                    Reason.LETTER_FONTS_NOT_EMBEDDED,
                    f"page {number}: the font {sorted(names)[0]} is not embedded; Notify prints "
                    "only embedded fonts",
                )
    return None


def _font_names(font: dict[str, Any]) -> tuple[set[str], bool]:
    """The names a font goes by (its base name and its descriptor's), and whether its outlines
    are in the file (a Type 3 font is drawn in the file)."""
    from pdfminer.pdftypes import resolve1

    subtype = _literal(font.get("Subtype"))
    described = font
    if subtype == "Type0":
        descendants = resolve1(font.get("DescendantFonts")) or []
        described = resolve1(descendants[0]) if descendants else {}
    descriptor = resolve1(described.get("FontDescriptor")) or {}
    names = {
        name
        for name in (_literal(font.get("BaseFont")), _literal(descriptor.get("FontName")))
        if name
    }
    embedded = subtype == "Type3" or any(
        key in descriptor for key in ("FontFile", "FontFile2", "FontFile3")
    )
    return names, embedded


def _literal(value: object) -> str | None:
    name = getattr(value, "name", value)
    if isinstance(name, bytes):
        return name.decode("latin-1")
    return name if isinstance(name, str) else None


def _address(first: Any) -> RuleBroken | None:
    """Notify reads the address from the block behind the window: 3 to 7 lines, the last a UK
    postcode (it posts no letter abroad for us)."""
    left, top, right, bottom = (v * mm for v in ADDRESS)
    slack = SLACK_MM * mm
    block = first.within_bbox((left - slack, top - slack, right + slack, bottom + slack))
    lines = [line.strip() for line in (block.extract_text() or "").splitlines() if line.strip()]
    if not MIN_ADDRESS_LINES <= len(lines) <= MAX_ADDRESS_LINES:
        return RuleBroken(
            Reason.LETTER_ADDRESS_UNUSABLE,
            f"the address block has {len(lines)} line(s); Notify needs "
            f"{MIN_ADDRESS_LINES} to {MAX_ADDRESS_LINES}",
        )
    if not UK_POSTCODE.fullmatch(lines[-1]):
        return RuleBroken(
            Reason.LETTER_ADDRESS_UNUSABLE,
            "the address's last line is not a UK postcode; Notify needs one there",
        )
    return None
