"""A researcher's template gets placeholders and {% if %}, nothing that reaches Python.

Each hostile template is refused before it is compiled: trial validation reports it at the
template's line in the YAML, and rendering refuses it too, so it never runs. The tests watch
Jinja's compiler, so a hostile template that got through would fail the test on the spot
instead of running (a loop over a huge range would hang the suite rather than fail it). How long
a refusal takes is measured in bench/templates.py, not asserted here.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from jinja2 import nodes
from jinja2.sandbox import SandboxedEnvironment

from experiments.loader import load_trial_file
from messages.checks import check_definition
from messages.templates import TemplateProblem, render
from tests.conftest import EXAMPLE

CONTEXT = {"first_name": "Testy", "court_name": "Bristol Crown Court", "language": "en"}
HOSTILE = {
    "reads a file": "{{ self._TemplateReference__context.cycler.__init__.__globals__.os }}",
    "opens a file": "{% include '/etc/passwd' %}",
    "imports": "{% import 'os' as os %}{{ os }}",
    "from-imports": "{% from 'os' import system %}",
    "extends": "{% extends '/etc/passwd' %}",
    "reaches __class__": "{{ first_name.__class__ }}",
    "reaches __globals__": "{{ lipsum.__globals__ }}",
    "reaches __subclasses__": "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "calls .format": '{{ "{0.__class__}".format(first_name) }}',
    "calls .mro": "{{ first_name.mro() }}",
    "reads an item": "{{ first_name[0] }}",
    "loops on a huge range": "{% for i in range(100000) %}{% for j in range(100000) %}x"
    "{% endfor %}{% endfor %}",
    "multiplies a string": "{{ 'x' * 1000000000 }}",
    "raises to a power": "{{ 9 ** 9 ** 9 }}",
    "sets a variable": "{% set x = first_name %}{{ x }}",
    "defines a macro": "{% macro m() %}{{ m() }}{% endmacro %}{{ m() }}",
    "uses a global": "{{ range }}",
    "uses an unlisted filter": "{{ first_name | attr('__class__') }}",
    "uses the map filter": "{{ [first_name] | map('upper') | list }}",
    "uses an unlisted test": "{% if first_name is sameas first_name %}x{% endif %}",
}
# Compiled, and refused when it runs: it names a value the template is not given.
REFUSED_WHEN_RENDERED = {"uses a global": "unknown placeholder 'range'"}
# What no compiled template may hold: every construct of HOSTILE but a name, filter or test.
UNSAFE = (
    nodes.Getattr,
    nodes.Getitem,
    nodes.Call,
    nodes.For,
    nodes.BinExpr,
    nodes.Import,
    nodes.FromImport,
    nodes.Include,
    nodes.Extends,
    nodes.Macro,
    nodes.Assign,
)


@pytest.fixture
def compiled(monkeypatch: pytest.MonkeyPatch) -> list[nodes.Template]:
    """Every template tree the sandbox compiles; one holding an unsafe construct fails the
    test before it could run."""
    trees: list[nodes.Template] = []
    original = SandboxedEnvironment.compile

    def watched(self: SandboxedEnvironment, source: object, *args: object, **kw: object) -> object:
        if isinstance(source, nodes.Template):
            trees.append(source)
            unsafe = [type(n).__name__ for n in source.find_all(UNSAFE)]
            assert not unsafe, f"compiled a template holding {unsafe}"
        return original(self, source, *args, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(SandboxedEnvironment, "compile", watched)
    return trees


@pytest.mark.parametrize("name", list(HOSTILE))
def test_rendering_refuses_a_template_that_reaches_beyond_its_placeholders(
    name: str, compiled: list[nodes.Template]
) -> None:
    expected = REFUSED_WHEN_RENDERED.get(name, "is not allowed in a template")
    for channel in ("sms", "letter"):
        with pytest.raises(TemplateProblem, match=expected):
            render(HOSTILE[name], dict(CONTEXT), channel=channel)
    if name not in REFUSED_WHEN_RENDERED:
        assert compiled == []  # refused before Jinja compiled it, so none of it ran


def test_a_refused_template_never_runs(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    text = (
        "{{ cycler.__init__.__globals__.os.system('touch " + str(marker) + "') }}"
        "{{ ''.__class__.__mro__[1].__subclasses__() }}"
    )
    with pytest.raises(TemplateProblem):
        render(text, dict(CONTEXT), channel="sms")
    assert not marker.exists()


def test_what_a_reminder_needs_still_renders() -> None:
    text = (
        "{% if language == 'cy' %}Helo{% else %}Hi{% endif %} {{ first_name | upper }}, "
        "{{ court_name ~ '!' }} {{ missing | default('-') if missing is defined else '' }}"
    )
    assert render(text, dict(CONTEXT), channel="sms") == "Hi TESTY, Bristol Crown Court! "


@pytest.mark.usefixtures("compiled")
@pytest.mark.parametrize("name", ["reads a file", "calls .format", "loops on a huge range"])
def test_trial_validation_refuses_a_hostile_template_at_its_line(tmp_path: Path, name: str) -> None:
    original = '"Hi {{ first_name }}, see you tomorrow'
    hostile = '"' + HOSTILE[name].replace('"', "'") + " Hi {{ first_name }}, see you tomorrow"
    text = EXAMPLE.read_text()
    line = next(i for i, row in enumerate(text.splitlines(), 1) if original in row)
    (tmp_path / "letters").mkdir()
    for letter in (EXAMPLE.parent / "letters").iterdir():
        (tmp_path / "letters" / letter.name).write_text(letter.read_text())
    path = tmp_path / "trial.yaml"
    path.write_text(text.replace(original, hostile, 1))
    checked = check_definition(load_trial_file(path))
    assert not checked.ok
    [problem] = checked.errors
    assert (problem.line, "templates.practical_1d.en: ") == (line, problem.message[:27])
    assert "is not allowed in a template" in problem.message
