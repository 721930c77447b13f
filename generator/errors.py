"""User-facing problems: one `path:line: code: message` per line, stable kebab-case codes.

`Problem` is the one type every step reports with (scan, config, lint, plan, rerun, the
action). Anything that is not a `UserError` (or a `Problem` collected into a `ProblemReport`)
is a bug in cigen and is allowed to show its traceback.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass
from enum import Enum

EXIT_OK = 0
EXIT_DRIFT = 1  # `cigen check`: committed workflows differ from a fresh render
EXIT_USER_ERROR = 2


class Severity(str, Enum):
    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True, order=True)
class Problem:
    """One finding about the user's input.

    `path` is the file it is in, relative to where the user runs cigen, or "" when the input
    is not a file (a command-line option, an environment variable, a comment); `line` is
    1-based, 0 when the problem is about the whole file.
    """

    path: str
    line: int
    code: str
    message: str
    severity: Severity = Severity.ERROR
    help: str | None = None

    @property
    def is_error(self) -> bool:
        return self.severity is Severity.ERROR

    def at(self, path: str) -> Problem:
        """The same problem in `path` (the scanner finds problems before it knows the path)."""
        return dataclasses.replace(self, path=path)

    def format(self) -> str:
        location = f"{self.path}:{self.line}" if self.path and self.line else self.path
        prefix = "" if self.is_error else "warning: "
        text = (
            f"{location}: {prefix}{self.code}: {self.message}" if location else f"{prefix}{self.code}: {self.message}"
        )
        if self.help:
            text += f"\n  help: {self.help}"
        return text


def error(path: str, line: int, code: str, message: str, help: str | None = None) -> Problem:
    return Problem(path, line, code, message, Severity.ERROR, help)


def warning(path: str, line: int, code: str, message: str, help: str | None = None) -> Problem:
    return Problem(path, line, code, message, Severity.WARNING, help)


class HasProblems:
    """For a result that carries `problems`: its errors and its warnings."""

    problems: tuple[Problem, ...]

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.is_error]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if not p.is_error]


class UserError(Exception):
    """A mistake in the user's input or invocation; reported without a traceback."""

    def __init__(self, path: str, line: int, code: str, message: str, help: str | None = None):
        self.problem = Problem(path, line, code, message, Severity.ERROR, help)
        super().__init__(self.problem.format())


class ProblemReport(Exception):
    """Several problems found in one pass; raised once all of them are collected. `warnings`
    found in the same pass are printed before them."""

    def __init__(self, problems: list[Problem], summary: str, warnings: tuple[Problem, ...] = ()):
        self.problems = sorted(problems)
        self.summary = summary
        self.warnings = warnings
        super().__init__(summary)


def raise_errors(problems: Iterable[Problem], files: int, what: str) -> None:
    """Raise every error at once (exit 2) so nothing is half done: '2 errors in 9 files; `what`.'"""
    problems = list(problems)
    errors = [p for p in problems if p.is_error]
    if errors:
        warnings = tuple(p for p in problems if not p.is_error)
        raise ProblemReport(errors, f"{plural(len(errors), 'error')} in {plural(files, 'file')}; {what}.", warnings)


def plural(count: int, noun: str) -> str:
    """'1 error', '2 errors', '1,369 files'."""
    return f"{count:,} {noun}{'' if count == 1 else 's'}"
