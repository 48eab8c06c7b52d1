"""Notify's precompiled-letter rules, checked on PDFs: our own letters laid out for Notify pass,
and each rule broken is named by its reason (read back from the PDF, not from how it was made)."""

from __future__ import annotations

from collections.abc import Callable
from io import BytesIO

import pytest
from reportlab.lib.pagesizes import A4, LETTER
from reportlab.lib.units import mm
from reportlab.pdfgen.canvas import Canvas

from messages.letter_check import check_precompiled
from messages.letter_layout import BODY_TOP_NOTIFY, REGULAR, register_fonts
from messages.letters import render_letter

ADDRESS = ("Testy McTestface", "1 Fictional Street", "Bristol", "BS1 1AA")
BODY = "# Your court date\n\nDear Testy,\n\n" + "You are due at court soon. " * 40


def notify_letter(body: str = BODY, address: tuple[str, ...] = ADDRESS, **options: str) -> bytes:
    return render_letter(body, address=address, body_top_first=BODY_TOP_NOTIFY, **options)


def drawn(
    draw: Callable[[Canvas], None], *, pages: int = 1, size: tuple[float, float] = A4
) -> bytes:
    """A PDF drawn by hand: a proper address in DejaVu on page 1, then `draw` on every page."""
    register_fonts()
    buffer = BytesIO()
    canvas = Canvas(buffer, pagesize=size)
    for page in range(pages):
        if page == 0:
            canvas.setFont(REGULAR, 10)
            for i, line in enumerate(ADDRESS):
                canvas.drawString(26 * mm, size[1] - (45 + 4.5 * i) * mm, line)
        draw(canvas)
        canvas.showPage()
    canvas.save()
    return buffer.getvalue()


def body_text(canvas: Canvas) -> None:
    canvas.setFont(REGULAR, 12)
    canvas.drawString(20 * mm, A4[1] - 120 * mm, "A line of the letter's body.")


def test_our_letter_laid_out_for_notify_passes_in_english_and_in_welsh() -> None:
    assert check_precompiled(notify_letter()) is None
    welsh = notify_letter("Annwyl Testy,\n\n" + "Mae’n rhaid i chi ddod i’r llys. ŵ ŷ " * 300)
    assert check_precompiled(welsh) is None


def test_the_print_layout_puts_the_body_where_notify_keeps_the_first_page_clear() -> None:
    printed = render_letter(BODY, address=ADDRESS, date_line="12 February 2027")
    broken = check_precompiled(printed)
    assert broken is not None and broken.reason == "letter_outside_printable_area"
    assert broken.detail.startswith("page 1:")


def test_a_hand_drawn_letter_inside_the_rules_passes() -> None:
    assert check_precompiled(drawn(body_text, pages=3)) is None


def test_a_page_that_is_not_a4_is_refused() -> None:
    broken = check_precompiled(drawn(lambda canvas: None, size=LETTER))
    assert broken is not None and broken.reason == "letter_not_a4_portrait"
    assert "216 × 279 mm" in broken.detail


def test_more_than_ten_pages_is_refused() -> None:
    assert check_precompiled(drawn(body_text, pages=10)) is None
    broken = check_precompiled(drawn(body_text, pages=11))
    assert broken is not None and broken.reason == "letter_too_long"
    assert broken.detail == "11 pages; Notify posts letters of at most 10"


@pytest.mark.parametrize(
    ("x_mm", "top_mm", "page"),
    [
        (5, 150, 1),  # the left margin, where Notify prints its barcode
        (200, 150, 1),  # the right margin
        (20, 2, 2),  # the top margin of a later page
        (20, 295, 2),  # the bottom margin
        (20, 80, 1),  # first page, left of the sender's column and below the address block
    ],
)
def test_anything_outside_the_printable_area_is_refused(
    x_mm: float, top_mm: float, page: int
) -> None:
    def draw(canvas: Canvas) -> None:
        body_text(canvas)
        if canvas.getPageNumber() == page:
            canvas.setFont(REGULAR, 8)
            canvas.drawString(x_mm * mm, A4[1] - top_mm * mm, "x")

    broken = check_precompiled(drawn(draw, pages=2))
    assert broken is not None and broken.reason == "letter_outside_printable_area"
    assert broken.detail.startswith(f"page {page}: a char at {x_mm:.1f} mm from the left")


def test_a_line_drawn_in_the_margin_is_refused_like_text() -> None:
    broken = check_precompiled(drawn(lambda canvas: canvas.line(2 * mm, 100, 2 * mm, 200)))
    assert broken is not None and broken.reason == "letter_outside_printable_area"


def test_a_font_not_embedded_is_refused() -> None:
    def helvetica(canvas: Canvas) -> None:
        canvas.setFont("Helvetica", 12)  # one of the 14 standard fonts: never embedded
        canvas.drawString(20 * mm, A4[1] - 120 * mm, "Plain text")

    broken = check_precompiled(drawn(helvetica))
    assert broken is not None and broken.reason == "letter_fonts_not_embedded"
    assert "Helvetica" in broken.detail


@pytest.mark.parametrize(
    "address",
    [
        ("Testy McTestface", "BS1 1AA"),  # two lines
        ("Testy McTestface", "1 Fictional Street", "Bristol"),  # no postcode last
    ],
)
def test_an_address_notify_cannot_post_to_is_refused(address: tuple[str, ...]) -> None:
    broken = check_precompiled(notify_letter(address=address))
    assert broken is not None and broken.reason == "letter_address_unusable"
    assert "Testy" not in broken.detail and "Bristol" not in broken.detail  # no personal data


def test_something_that_is_not_a_pdf_is_refused() -> None:
    broken = check_precompiled(b"%PDF-1.4 this is not really a PDF")
    assert broken is not None and broken.reason == "letter_unprintable"
