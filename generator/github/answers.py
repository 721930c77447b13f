"""Typed reads of GitHub API answers: every field is checked before use.

An answer is input like any other. A missing field, a wrong type, a list entry that is not an
object or a time without a timezone raises `GitHubApiError` (code `github-answer`) naming the
call and the field, never the value, so callers fail closed with a one-line reason instead of a
traceback.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from generator.errors import UserError


class GitHubApiError(UserError):
    """A GitHub API call failed (`github-api`) or answered something unexpected (`github-answer`)."""

    def __init__(self, method: str, path: str, message: str, code: str = "github-api"):
        super().__init__(f"{method} {path}", 0, code, message)


def parse_time(text: str) -> datetime:
    """GitHub's ISO 8601 timestamps ('...Z'); ValueError unless it names its timezone."""
    value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{text!r} has no timezone")
    return value


_KINDS = {dict: "an object", list: "a list", str: "a string", int: "an integer", bool: "true or false"}


def _kind(value: object) -> str:
    if value is None:
        return "null"
    return next((name for kind, name in _KINDS.items() if type(value) is kind), type(value).__name__)


@dataclass(frozen=True)
class Answer:
    """One call's answer, read field by field; `where` names the part being read."""

    method: str
    path: str

    def error(self, message: str) -> GitHubApiError:
        return GitHubApiError(self.method, self.path, f"unexpected answer: {message}", "github-answer")

    def _value(self, data: object, key: str, where: str, optional: bool) -> object:
        if not isinstance(data, dict):
            raise self.error(f"{where} is {_kind(data)}, not an object")
        if key not in data or (optional and data[key] is None):
            if optional:
                return None
            raise self.error(f"{where}.{key} is missing")
        return data[key]

    def _typed(self, data: object, key: str, where: str, kind: type, optional: bool):
        value = self._value(data, key, where, optional)
        if value is None and optional:
            return None
        if type(value) is not kind:
            raise self.error(f"{where}.{key} is {_kind(value)}, not {_KINDS[kind]}")
        return value

    def object(self, data: object, where: str = "answer") -> dict:
        if not isinstance(data, dict):
            raise self.error(f"{where} is {_kind(data)}, not an object")
        return data

    def objects(self, data: object, where: str = "answer") -> list[dict]:
        """A list whose every entry is an object."""
        if not isinstance(data, list):
            raise self.error(f"{where} is {_kind(data)}, not a list")
        for index, entry in enumerate(data):
            if not isinstance(entry, dict):
                raise self.error(f"{where}[{index}] is {_kind(entry)}, not an object")
        return data

    def child(self, data: object, key: str, where: str = "answer", optional: bool = False) -> dict | None:
        return self._typed(data, key, where, dict, optional)

    def string(self, data: object, key: str, where: str = "answer") -> str:
        return self._typed(data, key, where, str, False)

    def optional_string(self, data: object, key: str, where: str = "answer") -> str | None:
        return self._typed(data, key, where, str, True)

    def integer(self, data: object, key: str, where: str = "answer") -> int:
        return self._typed(data, key, where, int, False)

    def boolean(self, data: object, key: str, where: str = "answer") -> bool:
        return self._typed(data, key, where, bool, False)

    def time(self, data: object, key: str, where: str = "answer", optional: bool = False) -> datetime | None:
        text = self._typed(data, key, where, str, optional)
        if text is None:
            return None
        try:
            return parse_time(text)
        except ValueError:
            raise self.error(f"{where}.{key} is not an ISO 8601 time with a timezone") from None
