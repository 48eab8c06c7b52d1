"""Print-ready letters: one A4 PDF per letter, or one merged PDF per print run with a page map.

The body comes in as rendered template text (plain text with a small Markdown subset; never
HTML-escaped) and is escaped here, so whatever a participant's name holds prints literally.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from io import BytesIO
from typing import Any

from reportlab.lib.units import mm
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import (
    BaseDocTemplate,
    Flowable,
    Frame,
    FrameBreak,
    NextPageTemplate,
    PageBreak,
    PageTemplate,
    Paragraph,
)

from messages.letter_layout import (
    BODY_SIZE,
    BODY_TOP_FIRST,
    BODY_TOP_LATER,
    BOTTOM_MARGIN,
    PAGE_HEIGHT,
    PAGE_WIDTH,
    REGULAR,
    SIDE_MARGIN,
    STYLES,
    WINDOW_HEIGHT,
    WINDOW_LEFT,
    WINDOW_TOP,
    WINDOW_WIDTH,
    AddressBlock,
    LetterProblem,
    body_flowables,
    fit_address,
    inline_markup,
    register_fonts,
    sender_block,
)

__all__ = ["Letter", "LetterBatch", "LetterPages", "LetterProblem", "render_batch", "render_letter"]

PAGE_WORD = {"en": "Page", "cy": "Tudalen"}
SENDER_LEFT = 130 * mm  # right of the window, clear of it
SENDER_TOP = 15 * mm
SENDER_BOX = (PAGE_WIDTH - SIDE_MARGIN - SENDER_LEFT, WINDOW_TOP + WINDOW_HEIGHT - SENDER_TOP)


@dataclass(frozen=True)
class Letter:
    """One letter to print: the rendered body and where it goes."""

    body: str
    address: tuple[str, ...]
    sender: tuple[str, ...] = ()
    date_line: str | None = None
    reference: str | None = None  # printed in the footer so the print room can match pages
    language: str = "en"  # for the footer's "Page 2" ("Tudalen 2" in Welsh)


@dataclass(frozen=True)
class LetterPages:
    """Where one letter sits in a batch: its first page (1-based) and how many pages it takes."""

    first_page: int
    pages: int  # including a blank back page added for duplex printing
    printed_pages: int  # pages with something on them


@dataclass(frozen=True)
class LetterBatch:
    """A merged PDF for one print run and, in input order, each letter's pages in it."""

    pdf: bytes
    letters: tuple[LetterPages, ...]

    @property
    def total_pages(self) -> int:
        return sum(letter.pages for letter in self.letters)


def render_letter(
    body: str,
    *,
    address: Sequence[str],
    sender: Sequence[str] = (),
    date_line: str | None = None,
    reference: str | None = None,
    language: str = "en",
    body_top_first: float = BODY_TOP_FIRST,
) -> bytes:
    """One letter as an A4 PDF, with the address placed for a C5/DL windowed envelope; its
    first page's body starts `body_top_first` from the top (lower for GOV.UK Notify)."""
    letter = Letter(body, tuple(address), tuple(sender), date_line, reference, language)
    return render_batch([letter], duplex=False, body_top_first=body_top_first).pdf


def render_batch(
    letters: Sequence[Letter], *, duplex: bool = True, body_top_first: float = BODY_TOP_FIRST
) -> LetterBatch:
    """Every letter in one PDF, each starting on a new page (and, for duplex, a new sheet)."""
    if not letters:
        raise LetterProblem("there are no letters to print")
    register_fonts()
    fitted = [fit_address(letter.address) for letter in letters]  # refuse before printing any
    buffer = BytesIO()
    document = _LetterDocument(buffer, body_top_first)
    story: list[Flowable] = []
    for index, (letter, address) in enumerate(zip(letters, fitted, strict=True)):
        if index:
            story += [NextPageTemplate("first"), PageBreak()]
        story += [_Start(index, letter), NextPageTemplate("later")]
        story += [*sender_block(letter.sender, *SENDER_BOX), FrameBreak()]
        story += [AddressBlock(address), FrameBreak()]
        if letter.date_line:
            story.append(Paragraph(inline_markup(letter.date_line), STYLES["body"]))
        story += [*body_flowables(letter.body), _End(index)]
        if duplex:
            story.append(_BlankBackIfOdd())
    document.build(story)
    return LetterBatch(buffer.getvalue(), _page_map(document, len(letters)))


def _page_map(document: _LetterDocument, count: int) -> tuple[LetterPages, ...]:
    starts = [document.starts[i] for i in range(count)] + [document.page + 1]
    return tuple(
        LetterPages(starts[i], starts[i + 1] - starts[i], document.ends[i] - starts[i] + 1)
        for i in range(count)
    )


class _LetterDocument(BaseDocTemplate):
    """A4 with three page designs: a letter's first page, its later pages, a blank back."""

    def __init__(self, buffer: BytesIO, body_top_first: float) -> None:
        super().__init__(
            buffer,
            pagesize=(PAGE_WIDTH, PAGE_HEIGHT),
            title="Letters",
            author="Nudge",
            creator="Nudge",
            invariant=1,  # the same letters give the same bytes
        )
        self.starts: dict[int, int] = {}
        self.ends: dict[int, int] = {}
        self.letter: Letter | None = None
        self.addPageTemplates(
            [
                PageTemplate("first", _first_page_frames(body_top_first), onPageEnd=_footer),
                PageTemplate("later", [_body_frame(BODY_TOP_LATER)], onPageEnd=_footer),
                PageTemplate("blank", [_body_frame(BODY_TOP_LATER)]),
            ]
        )


def _first_page_frames(body_top: float) -> list[Frame]:
    sender = Frame(
        SENDER_LEFT,
        PAGE_HEIGHT - WINDOW_TOP - WINDOW_HEIGHT,
        *SENDER_BOX,
        id="sender",
        **_NO_PADDING,
    )
    window = Frame(
        WINDOW_LEFT,
        PAGE_HEIGHT - WINDOW_TOP - WINDOW_HEIGHT,
        WINDOW_WIDTH,
        WINDOW_HEIGHT,
        id="window",
        **_NO_PADDING,
    )
    return [sender, window, _body_frame(body_top)]


_NO_PADDING: dict[str, Any] = {
    "leftPadding": 0,
    "rightPadding": 0,
    "topPadding": 0,
    "bottomPadding": 0,
}


def _body_frame(top: float) -> Frame:
    height = PAGE_HEIGHT - top - BOTTOM_MARGIN
    width = PAGE_WIDTH - 2 * SIDE_MARGIN
    return Frame(SIDE_MARGIN, BOTTOM_MARGIN, width, height, id="body", **_NO_PADDING)


def _footer(canvas: Canvas, document: _LetterDocument) -> None:
    """The letter's reference and, from its second page, the page number, below the body."""
    page = document.page - document.starts[max(document.starts)] + 1
    canvas.saveState()
    canvas.setFont(REGULAR, BODY_SIZE)
    baseline = BOTTOM_MARGIN - 12 * mm
    letter = document.letter
    if letter is not None and letter.reference:
        canvas.drawString(SIDE_MARGIN, baseline, letter.reference)
    if letter is not None and page > 1:
        word = PAGE_WORD.get(letter.language, PAGE_WORD["en"])
        canvas.drawRightString(PAGE_WIDTH - SIDE_MARGIN, baseline, f"{word} {page}")
    canvas.restoreState()


class _Marker(Flowable):
    """A zero-size flowable that notes, as it is drawn, the page it landed on."""

    _ZEROSIZE = 1

    def __init__(self, index: int) -> None:
        super().__init__()
        self.index = index

    def wrap(self, available_width: float, available_height: float) -> tuple[float, float]:
        return 0, 0

    def draw(self) -> None:
        return None


class _Start(_Marker):
    def __init__(self, index: int, letter: Letter) -> None:
        super().__init__(index)
        self.letter = letter

    def draw(self) -> None:
        document = self._doctemplate
        document.starts[self.index] = document.page
        document.letter = self.letter


class _End(_Marker):
    def draw(self) -> None:
        self._doctemplate.ends[self.index] = self._doctemplate.page


class _BlankBackIfOdd(Flowable):
    """For duplex printing: a blank page after a letter that ends on a sheet's front."""

    _ZEROSIZE = 1

    def wrap(self, available_width: float, available_height: float) -> tuple[float, float]:
        document = self._doctemplate
        if document.page % 2 == 1:
            # The empty flowable makes the blank page exist even after the batch's last letter.
            document.frame.add_generated_content(
                NextPageTemplate("blank"), PageBreak(), _Marker(-1)
            )
        return 0, 0

    def draw(self) -> None:
        return None
