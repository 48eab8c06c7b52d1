"""Benchmark: how long refusing a hostile template takes, against rendering an ordinary one.

    uv run python bench/templates.py [--repeat 200]

tests/messages/test_template_sandbox.py asserts that each hostile template is refused before
Jinja compiles it; this measures what that costs, which a test on a shared machine cannot
assert. Two comparisons, each against a baseline measured in the same run:

- rendering: each hostile template of the test refused for a text and a letter, against the
  ordinary reminder text rendered from nothing (parsed, checked, compiled and rendered: the
  template cache emptied first), the least a first render does;
- validation: `check_definition` on the example trial with one hostile template, against the
  unchanged example (the template cache emptied before each run).

Each figure is the median over `--repeat` runs (validation: a tenth as many).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from experiments.loader import load_trial_file  # noqa: E402
from messages import templates  # noqa: E402
from messages.checks import check_definition  # noqa: E402
from tests.conftest import EXAMPLE  # noqa: E402
from tests.messages.test_template_sandbox import CONTEXT, HOSTILE  # noqa: E402

ORDINARY = (
    "{% if language == 'cy' %}Helo{% else %}Hi{% endif %} {{ first_name | upper }}, "
    "you are due at {{ court_name }} tomorrow. {{ missing | default('-') }}"
)
ORIGINAL = '"Hi {{ first_name }}, see you tomorrow'


def median_seconds(run: Callable[[], object], repeat: int) -> float:
    """The median wall-clock seconds of `run`, the template cache emptied before each."""
    times = []
    for _ in range(repeat):
        templates._compiled.cache_clear()  # every run parses and compiles, as a first one does
        began = time.perf_counter()
        run()
        times.append(time.perf_counter() - began)
    return statistics.median(times)


def refuse(text: str) -> None:
    for channel in ("sms", "letter"):
        try:
            templates.render(text, dict(CONTEXT), channel=channel)
        except templates.TemplateProblem:
            continue
        raise AssertionError(f"not refused: {text}")


def ordinary() -> None:
    for channel in ("sms", "letter"):
        templates.render(ORDINARY, {**CONTEXT, "missing": None}, channel=channel)


def hostile_trial(folder: Path, name: str) -> Path:
    """The example trial beside its letters, with one template made hostile."""
    letters = folder / "letters"
    letters.mkdir(exist_ok=True)
    for letter in (EXAMPLE.parent / "letters").iterdir():
        (letters / letter.name).write_text(letter.read_text())
    hostile = '"' + HOSTILE[name].replace('"', "'") + " Hi {{ first_name }}, see you tomorrow"
    path = folder / f"{name.replace(' ', '-')}.yaml"
    path.write_text(EXAMPLE.read_text().replace(ORIGINAL, hostile, 1))
    return path


def validate(path: Path) -> bool:
    return check_definition(load_trial_file(path)).ok


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=200)
    repeat = parser.parse_args().repeat
    baseline = median_seconds(ordinary, repeat)
    print(f"ordinary template, first render (text and letter): {baseline * 1e3:.3f} ms")
    print(f"{'hostile template refused':<28}{'ms':>9}{'ratio':>8}")
    for name, text in HOSTILE.items():
        seconds = median_seconds(lambda text=text: refuse(text), repeat)
        print(f"{name:<28}{seconds * 1e3:>9.3f}{seconds / baseline:>8.2f}")
    with tempfile.TemporaryDirectory() as folder:
        valid = median_seconds(lambda: validate(EXAMPLE), max(repeat // 10, 1))
        print(f"\nexample trial validated: {valid * 1e3:.1f} ms")
        print(f"{'validated with a hostile template':<36}{'ms':>9}{'ratio':>8}")
        for name in ("reads a file", "calls .format", "loops on a huge range"):
            path = hostile_trial(Path(folder), name)
            assert not validate(path), f"{name}: validation did not refuse it"
            seconds = median_seconds(lambda path=path: validate(path), max(repeat // 10, 1))
            print(f"{name:<36}{seconds * 1e3:>9.1f}{seconds / valid:>8.2f}")


if __name__ == "__main__":
    main()
