"""Render message templates in Jinja2's sandbox: strict about unknown placeholders.

A template is a researcher's text, so it gets only what a reminder needs: placeholders,
`{% if %}` on them, comparisons and a few text filters. Anything else (attribute access,
calls, loops, arithmetic, imports, includes) is refused before the template is compiled, so
it never runs: trial validation reports it, and rendering refuses it too.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from functools import lru_cache
from typing import Any

from babel import Locale, UnknownLocaleError
from babel.dates import format_date
from jinja2 import StrictUndefined, Template, TemplateError, nodes
from jinja2.sandbox import SandboxedEnvironment

ALLOWED_FILTERS = frozenset({"upper", "lower", "title", "capitalize", "trim", "default", "d"})
ALLOWED_TESTS = frozenset({"defined", "undefined", "none", "number", "string"})
_ALLOWED_NODES = (
    nodes.Template,
    nodes.Output,
    nodes.TemplateData,
    nodes.Name,
    nodes.Const,
    nodes.If,
    nodes.CondExpr,
    nodes.Compare,
    nodes.Operand,
    nodes.And,
    nodes.Or,
    nodes.Not,
    nodes.Concat,
    nodes.Filter,
    nodes.Test,
)

_SMS = SandboxedEnvironment(
    undefined=StrictUndefined, autoescape=False, keep_trailing_newline=False
)
_SMS.globals.clear()  # no range(), lipsum(), dict(), cycler(): only the participant's values


def _one_line(value: object) -> object:
    """A placeholder's value stays inside its line: it cannot start a heading or a list item."""
    return " ".join(value.split()) if isinstance(value, str) else value


# Letters are rendered as plain text and escaped once, where the PDF markup is made
# (messages/letters.py); escaping here as well would print "Smith & Jones" as "&amp;".
_LETTER = SandboxedEnvironment(undefined=StrictUndefined, autoescape=False, finalize=_one_line)
_LETTER.globals.clear()


class TemplateProblem(ValueError):
    """A template that does not render: a syntax error or an unknown placeholder."""


def render(text: str, context: dict[str, Any], *, channel: str) -> str:
    """Render one template text; the letter renderer escapes letters for the PDF itself."""
    try:
        return _compiled(text, channel == "letter").render(context)
    except TemplateError as exc:
        raise TemplateProblem(_explain(exc)) from None


@lru_cache(maxsize=512)
def _compiled(text: str, letter: bool) -> Template:
    """Parse, check against the allow-list, and only then compile (once per text)."""
    environment = _LETTER if letter else _SMS
    tree = environment.parse(text)
    for node in (tree, *tree.find_all(nodes.Node)):
        _check_node(node)
    return environment.from_string(tree)


def _check_node(node: nodes.Node) -> None:
    where = f" on its line {node.lineno}" if getattr(node, "lineno", None) else ""
    if not isinstance(node, _ALLOWED_NODES) or (
        isinstance(node, nodes.Name) and node.ctx != "load"
    ):
        raise TemplateProblem(
            f"{_construct(node)} is not allowed in a template{where}: use placeholders such as "
            "{{ first_name }}, {% if ... %} and the filters " + ", ".join(sorted(ALLOWED_FILTERS))
        )
    if isinstance(node, nodes.Filter) and node.name not in ALLOWED_FILTERS:
        raise TemplateProblem(f"the filter '{node.name}' is not allowed in a template{where}")
    if isinstance(node, nodes.Test) and node.name not in ALLOWED_TESTS:
        raise TemplateProblem(f"the test '{node.name}' is not allowed in a template{where}")


_CONSTRUCTS = {
    nodes.Getattr: "reading an attribute (.name)",
    nodes.Getitem: "reading an item ([...])",
    nodes.Call: "calling a function or method",
    nodes.For: "a loop ({% for %})",
    nodes.Import: "an import",
    nodes.FromImport: "an import",
    nodes.Include: "an include",
    nodes.Extends: "extends",
    nodes.Macro: "a macro",
    nodes.Assign: "setting a variable",
    nodes.AssignBlock: "setting a variable",
}


def _construct(node: nodes.Node) -> str:
    for kind, name in _CONSTRUCTS.items():
        if isinstance(node, kind):
            return name
    if isinstance(node, nodes.BinExpr | nodes.UnaryExpr):
        return "arithmetic"
    return f"'{type(node).__name__}'"


def _explain(exc: TemplateError) -> str:
    message = str(exc.message or exc)
    if "is undefined" in message:
        name = message.split("'")[1] if "'" in message else message
        return f"unknown placeholder '{name}'"
    line = getattr(exc, "lineno", None)
    return f"template syntax error{f' on its line {line}' if line else ''}: {message}"


def hearing_date_text(local: datetime, language: str = "en") -> str:
    """'Thursday 4 March' ('Dydd Iau 4 Mawrth' in Welsh): the date as people say it."""
    return _date_text(local.date(), language)


@lru_cache(maxsize=4096)
def _date_text(day: date, language: str) -> str:
    """Remembered: Babel takes longer to format a date than the rest of a text takes to render."""
    try:
        locale = Locale.parse("en_GB" if language == "en" else language)
    except (UnknownLocaleError, ValueError):
        locale = Locale.parse("en_GB")
    return format_date(day, "EEEE d MMMM", locale=locale)


# Welsh writes the morning and evening as yb (y bore) and yh (yr hwyr).
_MERIDIEM = {"cy": ("yb", "yh", "hanner dydd")}


def hearing_time_text(local: datetime, language: str = "en") -> str:
    """'10am', '2:30pm', 'midday' ('10yb' in Welsh): the time as people say it."""
    morning, evening, noon = _MERIDIEM.get(language, ("am", "pm", "midday"))
    if local.hour == 12 and local.minute == 0:
        return noon
    hour = local.hour % 12 or 12
    suffix = morning if local.hour < 12 else evening
    return f"{hour}{suffix}" if local.minute == 0 else f"{hour}:{local.minute:02d}{suffix}"


def choose_language(languages: Mapping[str, object], wanted: str | None) -> str:
    """The participant's language when the template has it, English otherwise."""
    return wanted if wanted is not None and wanted in languages else "en"
