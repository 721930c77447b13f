"""`cigen lint --timings`: warn where a registration's est_time is far from its measured time."""

from __future__ import annotations

from generator.errors import Problem, Severity
from generator.lint import LintCheck, planned_registrations
from generator.model import Config
from generator.timings.store import Timings
from generator.tree import TreeScan

FAR_RATIO = 2.0  # the yardstick: off by more than 2x
MIN_GAP_SECONDS = 30.0  # below this a wrong est_time cannot move a shard much


def est_time_check(timings: Timings) -> LintCheck:
    """A lint check comparing every planned registration's est_time with `timings`."""

    def check_est_time(config: Config, scan: TreeScan) -> list[Problem]:
        problems = []
        for reg in planned_registrations(config, scan):
            measured = timings.measured(reg.suite, reg.path)
            if measured is None:
                continue
            low, high = sorted((reg.est_seconds, measured.seconds))
            if high - low < MIN_GAP_SECONDS or high <= FAR_RATIO * low:
                continue
            factor = f"{high / low:.1f}x" if low > 0 else "unbounded ratio"
            basis = f"{measured.samples} samples" if measured.samples else "imported estimate"
            problems.append(
                Problem(
                    reg.path,
                    reg.line,
                    "est-time-off",
                    f"est_time={reg.est_seconds:g}s but suite '{reg.suite}' measured {round(measured.seconds, 1):g}s "
                    f"({factor}, {basis}, {timings.source})",
                    Severity.WARNING,
                    help=f"set est_time={max(1, round(measured.seconds))}",  # sglang's est_time is whole seconds
                )
            )
        return problems

    return check_est_time
