"""The simple per-file duration log: one measured file run per line.

    # comments and blank lines are ignored
    test/registered/a/test_x.py 123.4
    base-b-test-1-gpu-large test/registered/a/test_y.py 56

`PATH SECONDS` applies to every suite registering the file; `SUITE PATH SECONDS` to one.
Lines are samples in time order, oldest first.
"""

from __future__ import annotations

import math
from pathlib import Path

from generator.errors import Problem, ProblemReport, UserError, plural
from generator.timings.samples import Measurements, Sample

USAGE = "expected 'PATH SECONDS' or 'SUITE PATH SECONDS'"


def read_duration_log(path: Path) -> Measurements:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise UserError(str(path), 0, "durations-unreadable", f"cannot read: {error}") from None
    samples = []
    problems = []
    for number, line in enumerate(text.splitlines(), start=1):
        fields = line.split("#", 1)[0].split()
        if not fields:
            continue
        if len(fields) not in (2, 3):
            problems.append(Problem(str(path), number, "durations-syntax", f"{USAGE}, got {len(fields)} fields"))
            continue
        *where, seconds_text = fields
        try:
            seconds = float(seconds_text)
        except ValueError:
            seconds = -1.0
        if not (math.isfinite(seconds) and seconds >= 0):
            problems.append(
                Problem(str(path), number, "durations-seconds", f"seconds must be a number >= 0, got {seconds_text!r}")
            )
            continue
        suite, file = (None, where[0]) if len(where) == 1 else where
        samples.append(Sample(file, seconds, suite))
    if problems:
        raise ProblemReport(problems, f"{plural(len(problems), 'error')} in {path}; nothing done.")
    return Measurements(samples=tuple(samples))
