"""Independent act runs side by side: a module's scenarios start together, two at a time.

Each act run is mostly one process at a time (act, a step's python), so on a 2-core machine two
runs at once take about half the wall time of one after the other. A run that raised keeps its
exception, re-raised by the test that reads it, so one broken scenario fails only its own tests.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor

from tests.act.harness import ActRun

WORKERS = 2


class Runs:
    """name -> ActRun of runs made together; a failed run's exception is raised where it is read."""

    def __init__(self, outcomes: Mapping[str, ActRun | BaseException], seconds: float):
        self.outcomes = dict(outcomes)
        self.seconds = seconds  # wall time of them all

    def __getitem__(self, name: str) -> ActRun:
        outcome = self.outcomes[name]
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome


def run_concurrently(runs: Mapping[str, Callable[[], ActRun]], workers: int = WORKERS) -> Runs:
    """Call every function of `runs` on `workers` threads; print each run's wall time and the total."""
    start = time.monotonic()

    def call(name: str) -> ActRun | BaseException:
        try:
            return runs[name]()
        except Exception as error:  # kept for the test that reads this run
            return error

    with ThreadPoolExecutor(max_workers=workers) as pool:
        outcomes = dict(zip(runs, pool.map(call, runs)))
    seconds = time.monotonic() - start
    for name, outcome in outcomes.items():
        failed = isinstance(outcome, BaseException)
        took = f"failed: {outcome!r}"[:200] if failed else f"{outcome.seconds:.1f} s"
        print(f"act run {name}: {took}", file=sys.stderr)
    print(f"act runs ({len(runs)}, {workers} at a time): {seconds:.1f} s", file=sys.stderr)
    return Runs(outcomes, seconds)
