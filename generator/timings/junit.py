"""JUnit XML reports -> one duration sample per test file per report.

Parsed with the stdlib's expat, streaming, with DOCTYPE refused: JUnit never needs a DTD,
and without one there are no entities, so no billion-laughs or quadratic-blowup expansion
and no external entity fetch (what defusedxml guards against), with no extra dependency.
"""

from __future__ import annotations

import math
from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path
from xml.parsers import expat

from generator.errors import UserError
from generator.timings.samples import Measurements, Sample


class _Refused(Exception):
    pass


@dataclass
class _Case:
    line: int
    path: str | None
    seconds: float
    suite: str | None
    failed: bool = False


@dataclass
class _Reader:
    source: str
    known_paths: Collection[str]
    suites: Collection[str]
    parser: expat.XMLParserType = field(init=False)
    suite_stack: list[str | None] = field(default_factory=list)
    case: _Case | None = None
    cases: list[_Case] = field(default_factory=list)
    unresolved: int = 0

    def start(self, tag: str, attrs: dict[str, str]) -> None:
        line = self.parser.CurrentLineNumber
        if tag == "testsuite":
            name = attrs.get("name")
            self.suite_stack.append(name if name in self.suites else None)
        elif tag == "testcase":
            self.case = _Case(line, self._path(attrs), self._seconds(attrs, line), self._suite())
        elif tag in ("failure", "error") and self.case is not None:
            self.case.failed = True

    def end(self, tag: str) -> None:
        if tag == "testsuite" and self.suite_stack:
            self.suite_stack.pop()
        elif tag == "testcase" and self.case is not None:
            if self.case.path is None:
                self.unresolved += 1
            else:
                self.cases.append(self.case)
            self.case = None

    def _suite(self) -> str | None:
        return next((name for name in reversed(self.suite_stack) if name), None)

    def _seconds(self, attrs: dict[str, str], line: int) -> float:
        text = attrs.get("time")
        try:
            seconds = float(text.replace(",", "")) if text is not None else None
        except ValueError:
            seconds = None
        if seconds is None or not (math.isfinite(seconds) and seconds >= 0):
            got = "no time attribute" if text is None else f"time={text!r}"
            raise UserError(
                self.source, line, "junit-time", f"testcase needs a time in seconds (a number >= 0), got {got}"
            )
        return seconds

    def _path(self, attrs: dict[str, str]) -> str | None:
        """The `file` attribute (pytest xunit1), else the longest module prefix of `classname`
        that names a known test file."""
        if attrs.get("file"):
            path = attrs["file"].replace("\\", "/")
            return path[2:] if path.startswith("./") else path
        parts = attrs.get("classname", "").split(".")
        for end in range(len(parts), 0, -1):
            candidate = "/".join(parts[:end]) + ".py"
            if candidate in self.known_paths:
                return candidate
        return None


def _refuse_doctype(*_args) -> None:
    raise _Refused


def read_junit(path: Path, known_paths: Collection[str], suites: Collection[str]) -> Measurements:
    """Per report, a file's sample is the sum of its test cases' times; a file with a failing
    or erroring case gives no sample (a failure often ends early or hits a timeout)."""
    reader = _Reader(str(path), known_paths, suites)
    parser = expat.ParserCreate()
    reader.parser = parser
    parser.StartDoctypeDeclHandler = _refuse_doctype
    parser.EntityDeclHandler = _refuse_doctype
    parser.StartElementHandler = reader.start
    parser.EndElementHandler = reader.end
    try:
        with path.open("rb") as handle:
            parser.ParseFile(handle)
    except OSError as error:
        raise UserError(str(path), 0, "junit-unreadable", f"cannot read: {error}") from None
    except expat.ExpatError as error:
        raise UserError(
            str(path), error.lineno, "junit-xml", f"invalid XML: {expat.errors.messages[error.code]}"
        ) from None
    except _Refused:
        raise UserError(
            str(path),
            parser.CurrentLineNumber,
            "junit-doctype",
            "DOCTYPE and entity declarations are refused (JUnit XML needs none)",
        ) from None
    totals: dict[tuple[str | None, str], float] = {}
    failed: set[tuple[str | None, str]] = set()
    for case in reader.cases:
        key = (case.suite, case.path)
        totals[key] = totals.get(key, 0.0) + case.seconds
        if case.failed:
            failed.add(key)
    samples = tuple(Sample(p, s, suite) for (suite, p), s in totals.items() if (suite, p) not in failed)
    skipped = (
        ("test files with a failing case in a JUnit report", len(failed)),
        ("JUnit test cases naming no known file", reader.unresolved),
    )
    return Measurements(samples=samples, skipped=tuple((why, n) for why, n in skipped if n))
