"""Print-ready letters: the address in the envelope window, legible text, pages for a printer."""

from __future__ import annotations

from io import BytesIO
from pathlib import Path
from typing import Any

import pdfplumber
import pytest

from messages.letter_layout import LetterProblem, markdown_blocks, register_fonts
from messages.letters import Letter, render_batch, render_letter

MM = 72 / 25.4
A4 = (595.28, 841.89)
WINDOW = (24.6 * MM, 39.5 * MM, (24.6 + 95.4) * MM, (39.5 + 26.8) * MM)  # x0, top, x1, bottom
ADDRESS = ("Siân Llŵyd", "12 Heol y Bryn", "Ystrad Mynach", "Hengoed", "CF82 7AA")
BODY = (
    Path(__file__).parents[2] / "experiments" / "examples" / "letters" / "social_norm.md"
).read_text(encoding="utf-8")
SENDER = ("Witness Care Unit", "0117 496 0000")
EPS = 0.01  # PDF coordinates are written rounded


def pages_of(pdf: bytes) -> list[dict[str, Any]]:
    """Each page's size, words and characters, read back with pdfplumber."""
    with pdfplumber.open(BytesIO(pdf)) as document:
        return [
            {
                "size": (page.width, page.height),
                "words": page.extract_words(extra_attrs=["size"]),
                "chars": page.chars,
                "text": page.extract_text(),
            }
            for page in document.pages
        ]


def in_window(item: dict[str, Any]) -> bool:
    """Whether a word or character overlaps the envelope window's area."""
    x0, top, x1, bottom = WINDOW
    return item["x1"] > x0 and item["x0"] < x1 and item["bottom"] > top and item["top"] < bottom


def test_a_letter_is_one_a4_page() -> None:
    [page] = pages_of(render_letter(BODY, address=ADDRESS, sender=SENDER))
    assert page["size"] == pytest.approx(A4, abs=0.5)


@pytest.mark.parametrize(
    "address",
    [
        ADDRESS,
        ("Ms A Person", "Flat 3", "1 Street", "Town", "County", "AB1 2CD", "United Kingdom"),
        ("Mr Bartholomew Featherstonehaugh-Cholmondeley of the Very Long House Name", "AB1 2CD"),
    ],
)
def test_the_address_and_nothing_else_is_in_the_envelope_window(address: tuple[str, ...]) -> None:
    [page] = pages_of(render_letter(BODY, address=address, sender=SENDER, date_line="1 May"))
    x0, top, x1, bottom = WINDOW
    inside = [word for word in page["words"] if in_window(word)]
    assert " ".join(word["text"] for word in inside) == " ".join(address)
    for word in inside:
        assert x0 - EPS <= word["x0"] and word["x1"] <= x1 + EPS
        assert top - EPS <= word["top"] and word["bottom"] <= bottom + EPS
        assert word["size"] >= 9


def test_an_address_that_cannot_fit_at_a_legible_size_is_refused_by_name() -> None:
    with pytest.raises(LetterProblem, match="needs 11 lines at 9 pt"):
        render_letter(BODY, address=[f"line {n}" for n in range(11)])
    with pytest.raises(LetterProblem, match="wider than the window"):
        render_letter(BODY, address=["x" * 80, "AB1 2CD"])
    with pytest.raises(LetterProblem, match="no address"):
        render_letter(BODY, address=["", "  "])


def test_everything_outside_the_window_is_at_least_12_point() -> None:
    pdf = render_letter(BODY, address=ADDRESS, sender=SENDER, date_line="1 May", reference="R1")
    [page] = pages_of(pdf)
    sizes = {round(char["size"], 2) for char in page["chars"] if not in_window(char)}
    assert min(sizes) >= 12


def test_the_body_stays_within_15_mm_side_margins_even_with_a_very_long_word() -> None:
    body = BODY + "\n\nSee " + "https://example.org/" + "a" * 200 + " for more."
    for page in pages_of(render_letter(body, address=ADDRESS)):
        for char in page["chars"]:
            assert 15 * MM - EPS <= char["x0"] and char["x1"] <= A4[0] - 15 * MM + EPS


def test_a_long_letter_flows_onto_a_second_page_numbered_for_the_reader() -> None:
    long_body = (
        BODY + "\n\n" + "\n\n".join(f"Paragraph {n}. " + "More words. " * 30 for n in range(12))
    )
    pages = pages_of(render_letter(long_body, address=ADDRESS, reference="N-7"))
    assert len(pages) >= 2
    assert "Paragraph 11." in pages[-1]["text"] and "Page 2" in pages[1]["text"]
    assert all("N-7" in page["text"] for page in pages)
    welsh = pages_of(render_letter(long_body, address=ADDRESS, language="cy"))
    assert "Tudalen 2" in welsh[1]["text"]


def test_welsh_letters_come_out_as_themselves() -> None:
    body = "Annwyl Siân,\n\nDŵr, tŷ, ŵyn, Ŵ Ŷ â ê î ô û ŵ ŷ ẁ ẃ ẅ ỳ. **Dydd Llun** yn y llys."
    [page] = pages_of(render_letter(body, address=ADDRESS))
    text = page["text"]
    for expected in ("Siân Llŵyd", "Annwyl Siân,", "Dŵr, tŷ, ŵyn, Ŵ Ŷ â ê î ô û ŵ ŷ ẁ ẃ ẅ ỳ."):
        assert expected in text


def test_hostile_text_prints_literally() -> None:
    hostile = "<b>Evil</b> & Sons &amp; ]]> <font size=1>tiny</font> <para/> &#60;"
    body = f"Dear {hostile},\n\n# {hostile}\n\n- {hostile}\n\n**{hostile}**"
    pdf = render_letter(body, address=[hostile, "AB1 2CD"], sender=[hostile], date_line=hostile)
    [page] = pages_of(pdf)
    assert page["text"].count(hostile) >= 3
    sizes = {round(char["size"]) for char in page["chars"] if not in_window(char)}
    assert min(sizes) >= 12  # the <font size=1> did not take effect


def test_bold_is_the_only_inline_markup_and_it_is_bold() -> None:
    [page] = pages_of(render_letter("Come on **Monday 29 March**.", address=ADDRESS))
    bold = "".join(char["text"] for char in page["chars"] if "Bold" in char["fontname"])
    assert bold == "Monday 29 March"


def test_the_markdown_subset_makes_headings_bullets_and_joined_paragraphs() -> None:
    body = "Dear Ann,\n\n# Title\nFirst line\nsecond line.\n\n## Part\n- one\n- two\n  more\n\nBye"
    assert markdown_blocks(body) == [
        ("body", "Dear Ann,"),
        ("h1", "Title"),
        ("body", "First line second line."),
        ("h2", "Part"),
        ("bullet", "one"),
        ("bullet", "two more"),
        ("body", "Bye"),
    ]


def test_a_batch_maps_each_letter_to_its_pages_with_blank_backs_for_duplex() -> None:
    long_body = BODY + "\n\n" + "Extra words for a second page. " * 150
    letters = [
        Letter(BODY, ADDRESS, reference="REF-A"),
        Letter(long_body, ADDRESS, reference="REF-B"),
        Letter("Short.", ("Someone Else", "AB1 2CD"), reference="REF-C"),
    ]
    batch = render_batch(letters, duplex=True)
    pages = pages_of(batch.pdf)
    assert len(pages) == batch.total_pages
    assert batch.letters[0].first_page == 1 and batch.letters[1].printed_pages >= 2
    for placed, after in zip(batch.letters, batch.letters[1:], strict=False):
        assert after.first_page == placed.first_page + placed.pages
    assert all(p.first_page % 2 == 1 and p.pages % 2 == 0 for p in batch.letters)
    for letter, placed in zip(letters, batch.letters, strict=True):
        span = pages[placed.first_page - 1 : placed.first_page - 1 + placed.pages]
        printed, blank = span[: placed.printed_pages], span[placed.printed_pages :]
        assert all(letter.reference in page["text"] for page in printed)
        assert all(not page["chars"] for page in blank)
        assert " ".join(letter.address) in printed[0]["text"].replace("\n", " ")


def test_a_simplex_batch_has_no_blank_pages() -> None:
    batch = render_batch([Letter(BODY, ADDRESS), Letter("Short.", ADDRESS)], duplex=False)
    assert [(p.first_page, p.pages, p.printed_pages) for p in batch.letters] == [
        (1, 1, 1),
        (2, 1, 1),
    ]
    assert len(pages_of(batch.pdf)) == 2


def test_the_same_letters_give_the_same_bytes() -> None:
    assert render_letter(BODY, address=ADDRESS) == render_letter(BODY, address=ADDRESS)


def test_a_missing_font_is_reported_with_the_package_to_install() -> None:
    with pytest.raises(LetterProblem, match="fonts-dejavu-core"):
        register_fonts((Path("/nonexistent"),))
