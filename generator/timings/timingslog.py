"""Job logs holding sglang's TIMINGS block -> one sample per passed file per block.

sglang's `run_unittest_files` (ci_utils.py) and cigen's shard runner print the same block at the end
of a shard:

    ========== TIMINGS BEGIN ==========
    {"file": "test/registered/a/test_x.py", "passed": true, "elapsed": 123}
    ========== TIMINGS END ==========

A log downloaded from GitHub has a timestamp before each line; it is ignored. One block is one job, so
its samples share a job (for the per-runner speed factors); the log does not say the suite, so each
sample applies to every suite registering the file. Failed files give no sample; a log without a block
(a job killed before the end) is counted, not refused.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

from generator.errors import Problem, ProblemReport, UserError, plural
from generator.shipped.run_shard import TIMINGS_BEGIN, TIMINGS_END
from generator.timings.samples import Measurements, Sample

_GITHUB_TIMESTAMP = re.compile(r"^\ufeff?(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z )?")


def read_timings_log(path: Path) -> Measurements:
    """Every TIMINGS block of the log, in order; all problems reported at once."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError as error:
        raise UserError(str(path), 0, "timings-log-unreadable", f"cannot read: {error}") from None
    samples: list[Sample] = []
    problems: list[Problem] = []
    blocks = failed = 0
    begin: int | None = None
    for number, raw in enumerate(text.splitlines(), start=1):
        line = _GITHUB_TIMESTAMP.sub("", raw, count=1).strip()
        if line == TIMINGS_BEGIN:
            if begin is not None:
                problems.append(Problem(str(path), begin, "timings-unterminated", "TIMINGS BEGIN without its END"))
            begin = number
        elif line == TIMINGS_END:
            if begin is None:
                problems.append(Problem(str(path), number, "timings-unopened", "TIMINGS END without its BEGIN"))
            else:
                blocks += 1
            begin = None
        elif begin is not None:
            entry = _entry(line, str(path), number, problems)
            if entry is not None and entry[1]:
                samples.append(Sample(entry[0], entry[2], None, f"{path}:{begin}"))
            elif entry is not None:
                failed += 1
    if begin is not None:
        problems.append(Problem(str(path), begin, "timings-unterminated", "TIMINGS BEGIN without its END"))
    if problems:
        raise ProblemReport(problems, f"{plural(len(problems), 'error')} in {path}; nothing done.")
    skipped = (("failed files in TIMINGS blocks", failed), ("job logs without a TIMINGS block", 0 if blocks else 1))
    return Measurements(samples=tuple(samples), skipped=tuple((why, n) for why, n in skipped if n))


def _entry(line: str, source: str, number: int, problems: list[Problem]) -> tuple[str, bool, float] | None:
    """(file, passed, elapsed) of one block line, or None with a problem recorded."""
    try:
        data = json.loads(line)
    except ValueError as error:
        problems.append(Problem(source, number, "timings-json", f"not a JSON object: {error}"))
        return None
    if not isinstance(data, dict):
        problems.append(Problem(source, number, "timings-json", f"not a JSON object: {line[:80]!r}"))
        return None
    file, passed, elapsed = data.get("file"), data.get("passed"), data.get("elapsed")
    if not isinstance(file, str) or not file:
        problems.append(Problem(source, number, "timings-entry", "'file' must be a non-empty path"))
    elif not isinstance(passed, bool):
        problems.append(Problem(source, number, "timings-entry", f"'passed' must be true or false, got {passed!r}"))
    elif (
        isinstance(elapsed, bool) or not isinstance(elapsed, (int, float)) or not math.isfinite(elapsed) or elapsed < 0
    ):
        problems.append(Problem(source, number, "timings-entry", f"'elapsed' must be seconds >= 0, got {elapsed!r}"))
    else:
        return file, passed, float(elapsed)
    return None
