"""Render message templates in Jinja2's sandbox: strict about unknown placeholders."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from functools import lru_cache
from typing import Any

from babel import Locale, UnknownLocaleError
from babel.dates import format_date
from jinja2 import StrictUndefined, Template, TemplateError
from jinja2.sandbox import SandboxedEnvironment

_SMS = SandboxedEnvironment(
    undefined=StrictUndefined, autoescape=False, keep_trailing_newline=False
)


def _one_line(value: object) -> object:
    """A placeholder's value stays inside its line: it cannot start a heading or a list item."""
    return " ".join(value.split()) if isinstance(value, str) else value


# Letters are rendered as plain text and escaped once, where the PDF markup is made
# (messages/letters.py); escaping here as well would print "Smith & Jones" as "&amp;".
_LETTER = SandboxedEnvironment(undefined=StrictUndefined, autoescape=False, finalize=_one_line)


class TemplateProblem(ValueError):
    """A template that does not render: a syntax error or an unknown placeholder."""


def render(text: str, context: dict[str, Any], *, channel: str) -> str:
    """Render one template text; the letter renderer escapes letters for the PDF itself."""
    try:
        return _compiled(text, channel).render(context)
    except TemplateError as exc:
        raise TemplateProblem(_explain(exc)) from None


@lru_cache(maxsize=512)
def _compiled(text: str, channel: str) -> Template:
    """Compiling costs far more than rendering, and a trial has only a few texts."""
    return (_LETTER if channel == "letter" else _SMS).from_string(text)


def _explain(exc: TemplateError) -> str:
    message = str(exc.message or exc)
    if "is undefined" in message:
        name = message.split("'")[1] if "'" in message else message
        return f"unknown placeholder '{name}'"
    line = getattr(exc, "lineno", None)
    return f"template syntax error{f' on its line {line}' if line else ''}: {message}"


def hearing_date_text(local: datetime, language: str = "en") -> str:
    """'Thursday 4 March' ('Dydd Iau 4 Mawrth' in Welsh): the date as people say it."""
    try:
        locale = Locale.parse("en_GB" if language == "en" else language)
    except (UnknownLocaleError, ValueError):
        locale = Locale.parse("en_GB")
    return format_date(local.date(), "EEEE d MMMM", locale=locale)


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
