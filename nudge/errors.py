"""The user-facing error hierarchy: each error carries a message that says where and what to do."""

from __future__ import annotations

import re
from dataclasses import dataclass

# Control characters (newlines, escapes, NUL...) from a user's file, shown as escapes: a
# message stays on its one line and cannot drive the terminal or forge lines in a log.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def printable(text: str) -> str:
    """Text with every control character written as an escape such as \\n or \\x1b."""
    return _CONTROL.sub(lambda m: repr(m.group())[1:-1], text)


@dataclass(frozen=True)
class Problem:
    """One located problem in a user's file: `path:line:column: message`."""

    path: str
    line: int | None
    column: int | None
    message: str
    severity: str = "error"

    def __str__(self) -> str:
        where = self.path
        if self.line is not None:
            where += f":{self.line}"
            if self.column is not None:
                where += f":{self.column}"
        label = "warning: " if self.severity == "warning" else ""
        return printable(f"{where}: {label}{self.message}")


class NudgeError(Exception):
    """A mistake the user can fix; the CLI prints it without a traceback and exits 1."""

    def __init__(self, message: str, problems: list[Problem] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.problems = problems or []

    def __str__(self) -> str:
        if not self.problems:
            return self.message
        return "\n".join([*(str(p) for p in self.problems), self.message])


class DefinitionError(NudgeError):
    """A trial definition that does not validate."""


class TrialStateError(NudgeError):
    """An operation the trial's state does not allow (e.g. a design change after launch)."""


class NotFound(NudgeError):
    """A trial, participant or other record named by the user does not exist."""


class ImportRejected(NudgeError):
    """A CSV import refused as a whole; nothing was written."""


class ConfigError(NudgeError):
    """A setting in the environment is missing or wrong."""


class ProviderError(NudgeError):
    """A provider refused or failed a send.

    `transient`: worth retrying later (rate limit, server error). `ambiguous`: the request may
    have reached the provider (a timeout, a garbled reply), so the send must be reconciled with
    the provider's records before any retry, never blindly repeated.
    """

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        transient: bool = False,
        ambiguous: bool = False,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.transient = transient
        self.ambiguous = ambiguous
