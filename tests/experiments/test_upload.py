"""Turning uploaded files into a trial definition: the limits and the matching of letter files."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from experiments.loader import LoadedTrial
from experiments.set_aside import PLACEHOLDER
from experiments.upload import UploadedFile, excerpt, load_upload, own_name
from experiments.upload_form import check_upload
from messages.checks import check_definition
from nudge.errors import Problem
from tests.conftest import EXAMPLE
from tests.experiments.test_fuzz_definition import (
    FUZZ,
    structural_mutation,
    textual_mutation,
    time_limit,
)

YAML = EXAMPLE.read_bytes()
LETTERS = [
    UploadedFile(path.name, path.read_bytes()) for path in (EXAMPLE.parent / "letters").iterdir()
]


def messages(result: object) -> list[str]:
    assert isinstance(result, list)
    return [str(problem) for problem in result]


def test_the_definition_and_its_letters_load_as_the_cli_loads_them() -> None:
    upload = load_upload(UploadedFile("trial.yaml", YAML), LETTERS)
    assert isinstance(upload.result, LoadedTrial) and upload.warnings == []
    expected = (EXAMPLE.parent / "letters" / "social_norm.md").read_text(encoding="utf-8")
    assert upload.result.texts["social_norm_letter"]["en"] == expected


def test_a_definition_over_one_megabyte_is_refused_before_it_is_parsed() -> None:
    upload = load_upload(UploadedFile("trial.yaml", b"# x\n" * 300_000), [])
    assert messages(upload.result) == [
        "trial.yaml: is larger than 1 MB; a trial definition is much smaller"
    ]


def test_a_letter_over_200_kb_is_refused_naming_it_with_the_letters_still_missing() -> None:
    upload = load_upload(UploadedFile("trial.yaml", YAML), [UploadedFile("big.md", b"x" * 200_001)])
    found = messages(upload.result)
    assert found[0] == "big.md: is larger than 200 KB"
    assert [m.split("'")[1] for m in found[1:]] == [
        "letters/social_norm.md",
        "letters/social_norm.cy.md",
    ]


def test_a_letter_that_is_not_utf8_is_reported_where_the_definition_names_it() -> None:
    latin = [UploadedFile("social_norm.md", "Cymraeg \u0175".encode("utf-16")), *LETTERS[:0]]
    cy = next(f for f in LETTERS if f.name == "social_norm.cy.md")
    upload = load_upload(UploadedFile("trial.yaml", YAML), [*latin, cy])
    line = (
        YAML.decode()
        .splitlines()
        .index("    en: {file: letters/social_norm.md}   # a file relative to the YAML")
        + 1
    )
    assert messages(upload.result) == [
        f"trial.yaml:{line}:16: templates.social_norm_letter.en.file: "
        "'letters/social_norm.md' is not UTF-8 text"
    ]


def test_two_letters_with_one_name_in_different_folders_are_refused() -> None:
    text = YAML.replace(b"{file: letters/social_norm.cy.md}", b"{file: welsh/social_norm.md}")
    upload = load_upload(UploadedFile("trial.yaml", text), LETTERS)
    assert (
        "'welsh/social_norm.md' and 'letters/social_norm.md' have the same file name"
        in (messages(upload.result)[0])
    )


def test_a_letter_path_outside_the_folder_is_refused_by_the_loader() -> None:
    text = YAML.replace(b"{file: letters/social_norm.cy.md}", b"{file: ../../etc/passwd}")
    upload = load_upload(UploadedFile("trial.yaml", text), LETTERS)
    assert "'../../etc/passwd' is outside the definition's folder" in messages(upload.result)[0]


def test_a_windows_path_from_an_old_browser_is_reduced_to_the_file_name() -> None:
    assert own_name("C:\\Users\\rita\\trial.yaml") == "trial.yaml"
    assert own_name("folder/trial.yaml") == "trial.yaml"


def test_the_excerpt_is_the_problem_line_with_its_column() -> None:
    problem = Problem("t.yaml", 2, 5, "bad")
    assert excerpt("a: 1\nbb: [x\n", problem) == ("bb: [x", 5)
    assert excerpt("a: 1\n", Problem("t.yaml", 9, 1, "past the end")) is None
    assert excerpt("a: 1\n", Problem("t.yaml", None, None, "no place")) is None


def test_a_refused_letter_does_not_stop_the_definition_being_checked() -> None:
    text = YAML.replace(b"timezone: Europe/London", b"timezone: [Europe/London]")
    archive = UploadedFile("letters.zip", b"PK\x05\x06" + b"\0" * 18)
    upload = load_upload(UploadedFile("trial.yaml", text), [archive, *LETTERS])
    assert messages(upload.result) == [
        "letters.zip: archives are not accepted: choose the letter files themselves",
        "trial.yaml:7:11: timezone: must be text (not a list)",
    ]
    assert upload.stand_in is not None  # the rest of the definition can still be checked


@FUZZ
@given(text=st.one_of(structural_mutation(), textual_mutation()))
def test_a_mutated_definition_gets_every_problem_in_one_pass_never_a_crash_or_a_stand_in(
    text: str,
) -> None:
    """What the web adds to `nudge trial validate`: the checks also run on a refused
    definition's stand-ins; they must neither crash nor report a stand-in value."""
    data = text.encode("utf-8", "surrogatepass")
    with time_limit(20):
        upload = load_upload(UploadedFile("trial.yaml", data), LETTERS)
        checked = check_upload(upload, check_definition)
    assert all(PLACEHOLDER not in problem.message for problem in checked.problems)
    assert checked.ok or any(problem.severity == "error" for problem in checked.problems)
    if upload.stand_in is not None:
        assert not checked.ok
