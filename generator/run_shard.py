"""`cigen run-shard`: run one shard's test files, each as `python3 FILE` under a per-file timeout.

The one entry point generated jobs call, so the workflow YAML stays thin. The file list comes
from the workflow's matrix (the plan, reviewable in the diff). Each result goes to the log and
to the job's step summary as soon as it is known, so a step killed by its timeout still shows
what ran.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

KILL_GRACE_SECONDS = 10


@dataclass(frozen=True)
class FileResult:
    """How one test file ended."""

    path: str
    outcome: str  # "passed" | "failed" | "timed out" | "missing" | "not run"
    seconds: float = 0.0
    exit_code: int | None = None

    @property
    def passed(self) -> bool:
        return self.outcome == "passed"

    def describe(self) -> str:
        if self.outcome == "failed":
            return f"failed (exit {self.exit_code})"
        return self.outcome


def _end_process_group(process: subprocess.Popen) -> None:
    """SIGTERM the test's process group (it and any server it started), then SIGKILL what is
    left, so the next file gets a clean GPU."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + KILL_GRACE_SECONDS
        while time.monotonic() < deadline:
            process.poll()  # reap the leader: a zombie still counts as a member of the group
            try:
                os.killpg(process.pid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.05)


def run_file(path: str, root: Path, timeout_seconds: float, python: str) -> FileResult:
    """`python FILE` from the root, in its own process group, stopped at the timeout."""
    if not (root / path).is_file():
        return FileResult(path, "missing")
    start = time.monotonic()
    process = subprocess.Popen([python, path], cwd=root, start_new_session=True)
    try:
        exit_code = process.wait(timeout=timeout_seconds)
    except subprocess.TimeoutExpired:
        _end_process_group(process)
        return FileResult(path, "timed out", time.monotonic() - start)
    seconds = time.monotonic() - start
    _end_process_group(process)
    return FileResult(path, "passed" if exit_code == 0 else "failed", seconds, exit_code)


def summary_header(suite: str, shard: int, files: Sequence[str]) -> str:
    return f"### {suite}, shard {shard}: {len(files)} file{'' if len(files) == 1 else 's'}\n\n| file | result | seconds |\n|---|---|---|\n"


def summary_row(result: FileResult) -> str:
    return f"| `{result.path}` | {result.describe()} | {result.seconds:.0f} |\n"


def summary_footer(results: Sequence[FileResult]) -> str:
    passed = sum(r.passed for r in results)
    ran = sum(r.outcome != "not run" for r in results)
    total = sum(r.seconds for r in results)
    return f"\n**{passed} of {len(results)} passed** ({ran} ran, {total:.0f} s)\n"


def run_shard(
    suite: str,
    shard: int,
    files: Sequence[str],
    root: Path,
    timeout_seconds: float,
    python: str,
    keep_going: bool,
    summary: TextIO | None,
) -> list[FileResult]:
    """Run the files in order; without keep_going, stop at the first that does not pass."""

    def report(text: str) -> None:
        if summary is not None:
            summary.write(text)
            summary.flush()

    report(summary_header(suite, shard, files))
    results: list[FileResult] = []
    for path in files:
        if results and not keep_going and not results[-1].passed:
            result = FileResult(path, "not run")
        else:
            print(f"::group::{path}", flush=True)
            result = run_file(path, root, timeout_seconds, python)
            print("::endgroup::", flush=True)
            print(f"{path}: {result.describe()} in {result.seconds:.0f} s", file=sys.stderr, flush=True)
        results.append(result)
        report(summary_row(result))
    report(summary_footer(results))
    return results
