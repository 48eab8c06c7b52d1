"""Trial YAML fuzzed: any mutation of the example gets located messages or validates, never a crash.

Mutations of the shipped example: keys deleted, duplicated or retyped, random scalars, random
text and bytes spliced in, truncation, huge strings, deep nesting, and alias bombs. Each mutated
file sits beside a copy of the example's letters, so one that still parses goes on to every
check (schema, rules, templates, letters), not only to loading. The loader and the checks must
answer with Problems that name the file and a line (or a clean success), `nudge trial validate`
must exit 0 or 1 with no traceback, and every hostile file is refused.
"""

from __future__ import annotations

import io
import os
import re
import shutil
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ruamel.yaml import YAML

from nudge.cli import main
from tests.conftest import EXAMPLE

FUZZ = settings(
    max_examples=int(os.environ.get("NUDGE_FUZZ_EXAMPLES", "40")),
    deadline=None,
    derandomize=os.environ.get("CI", "").lower() == "true",
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
EXAMPLE_TEXT = EXAMPLE.read_text(encoding="utf-8")
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=40),
    st.sampled_from(["", "{{ x.__class__ }}", "{% for i in range(9) %}", "&a", "*b", "~", "0x1F"]),
)
VALUES = st.recursive(
    SCALARS,
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3)
    ),
    max_leaves=8,
)


@contextmanager
def time_limit(seconds: float) -> Iterator[None]:
    """Fail, instead of hanging the suite, when validation takes longer than a person waits."""

    def expired(*_: Any) -> None:
        raise TimeoutError(f"validation took more than {seconds} s")

    previous = signal.signal(signal.SIGALRM, expired)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def validate(folder: Path, content: str | bytes) -> tuple[Path, int, list[str]]:
    """Run `nudge trial validate` on `content` written beside the example's letters."""
    letters = folder / "letters"
    if not letters.exists():  # hypothesis reuses the folder between examples
        shutil.copytree(EXAMPLE.parent / "letters", letters)
    path = folder / "trial.yaml"
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8", errors="surrogatepass")
    with time_limit(20):
        result = CliRunner().invoke(main, ["trial", "validate", str(path)])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exc_info
    assert result.exit_code in (0, 1) and "Traceback" not in result.output
    return path, result.exit_code, result.output.splitlines()


def assert_located_or_valid(folder: Path, content: str | bytes) -> None:
    """`nudge trial validate` says valid (exit 0, after any located warnings), or prints only
    located problems (exit 1)."""
    path, exit_code, lines = validate(folder, content)
    if exit_code == 0:
        warning = re.compile(re.escape(str(path)) + r":\d+:\d+: warning: \S")
        first = next(i for i, line in enumerate(lines) if not warning.match(line))
        assert lines[first].startswith(f"{path}: valid: "), lines
        return
    assert_only_located_problems(path, lines)


def assert_only_located_problems(path: Path, lines: list[str]) -> None:
    output = "\n".join(lines)
    located = re.compile(re.escape(str(path)) + r":\d+:\d+: \S")
    summary = re.compile(re.escape(str(path)) + r": \d+ problem\(s\) found$")
    assert len(lines) >= 2 and summary.match(lines[-1]), output
    unlocated = [line for line in lines[:-1] if not located.match(line)]
    assert unlocated == [], output


def _document() -> Any:
    return YAML(typ="safe").load(EXAMPLE_TEXT)


def _dump(document: Any) -> str:
    stream = io.StringIO()
    YAML(typ="safe").dump(document, stream)
    return stream.getvalue()


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix] if prefix else []
    if isinstance(node, dict):
        for key, value in node.items():
            found += _paths(value, (*prefix, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found += _paths(value, (*prefix, index))
    return found


def _set(document: Any, path: tuple[Any, ...], value: Any, *, delete: bool = False) -> None:
    parent = document
    for step in path[:-1]:
        parent = parent[step]
    if delete:
        del parent[path[-1]]
    else:
        parent[path[-1]] = value


@st.composite
def structural_mutation(draw: st.DrawFn) -> str:
    """The example with one to three keys deleted or given random values."""
    document = _document()
    for _ in range(draw(st.integers(1, 3))):
        paths = _paths(document)
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        if draw(st.booleans()):
            _set(document, path, None, delete=True)
        else:
            _set(document, path, draw(VALUES))
    return _dump(document)


@st.composite
def textual_mutation(draw: st.DrawFn) -> str:
    """The example's text with lines duplicated or dropped, text spliced in, or cut short."""
    lines = EXAMPLE_TEXT.splitlines(keepends=True)
    for _ in range(draw(st.integers(1, 3))):
        at = draw(st.integers(0, len(lines) - 1))
        action = draw(st.sampled_from(["duplicate", "drop", "splice", "indent"]))
        if action == "duplicate":
            lines.insert(at, lines[at])
        elif action == "drop":
            del lines[at]
        elif action == "indent":
            lines[at] = " " * draw(st.integers(1, 5)) + lines[at]
        else:
            cut = draw(st.integers(0, len(lines[at])))
            noise = draw(st.text(max_size=20))
            lines[at] = lines[at][:cut] + noise + lines[at][cut:]
        if not lines:
            break
    text = "".join(lines)
    if draw(st.booleans()):
        text = text[: draw(st.integers(0, len(text)))]
    return text


def test_the_unmutated_example_passes_every_check_where_the_fuzzer_writes_it(
    tmp_path: Path,
) -> None:
    """So a mutation that is refused is refused for what was mutated, not for a missing letter."""
    path, exit_code, lines = validate(tmp_path, EXAMPLE_TEXT)
    assert exit_code == 0 and lines[0].startswith(f"{path}: valid: "), lines


@FUZZ
@given(text=structural_mutation())
def test_a_definition_with_keys_deleted_or_retyped_gets_located_messages(
    tmp_path: Path, text: str
) -> None:
    assert_located_or_valid(tmp_path, text)


@FUZZ
@given(text=textual_mutation())
def test_a_definition_with_lines_duplicated_spliced_or_cut_gets_located_messages(
    tmp_path: Path, text: str
) -> None:
    assert_located_or_valid(tmp_path, text)


@FUZZ
@given(noise=st.binary(max_size=200), at=st.integers(0, len(EXAMPLE_TEXT)))
def test_a_definition_with_random_bytes_gets_a_clear_answer(
    tmp_path: Path, noise: bytes, at: int
) -> None:
    raw = EXAMPLE_TEXT.encode()
    assert_located_or_valid(tmp_path, raw[:at] + noise + raw[at:])


@pytest.mark.parametrize(
    "name, text",
    [
        ("huge title", EXAMPLE_TEXT.replace("title: Reminder", "title: " + "x" * 5_000_000, 1)),
        ("huge key", "x" * 2_000_000 + ": 1\n" + EXAMPLE_TEXT),
        ("deep list", "id: " + "[" * 50_000 + "]" * 50_000 + "\n"),
        ("deep mapping", "".join(" " * i + f"k{i}:\n" for i in range(3000)) + " " * 3000 + "v\n"),
        (
            "billion laughs",
            "a: &a [x, x, x, x, x, x, x, x, x, x]\n"
            + "".join(
                f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join([f'*{chr(97 + i)}'] * 10)}]\n"
                for i in range(8)
            )
            + "id: *i\n",
        ),
        ("alias as the whole arms list", EXAMPLE_TEXT + "x: &arms [1]\n"),
        ("a merge key bomb", "a: &a {x: 1}\nb: {<<: [*a, *a, *a]}\n" + EXAMPLE_TEXT),
        ("a tag", "id: !!python/object/apply:os.system ['true']\n"),
        ("a complex key", "? [a, b]\n: 1\n" + EXAMPLE_TEXT),
        ("a NUL character", EXAMPLE_TEXT.replace("title:", "title: \x00", 1)),
        ("UTF-16", EXAMPLE_TEXT.encode("utf-16")),
        ("Latin-1", EXAMPLE_TEXT.replace("Helo", "H\xe9lo").encode("latin-1")),
        ("empty", ""),
        ("a list", "- 1\n- 2\n"),
        ("a scalar", "42\n"),
    ],
)
def test_a_hostile_definition_is_refused_with_a_located_message(
    tmp_path: Path, name: str, text: str | bytes
) -> None:
    path, exit_code, lines = validate(tmp_path, text)
    assert exit_code == 1, lines
    assert_only_located_problems(path, lines)
