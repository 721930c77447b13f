"""How much GPU time /rerun-test may queue: per comment, and per pull request and per
repository over the last 24 hours (counted in generator/shipped/rerun_gate.py from the rerun
workflow's own runs), and the planned seconds the estimates use.

Estimates are each file's seconds as the default branch's plan file (`.github/cigen/plan.json`)
plans them, else its `est_time`, times the GPUs of the pool it runs on.
"""

from __future__ import annotations

from pathlib import Path

from generator.errors import UserError
from generator.shipped import plan_file
from generator.shipped.rerun_gate import Budget, Usage, Window, check_windows, recent_usage, run_usage

__all__ = ["Budget", "Usage", "Window", "check_windows", "planned_seconds", "recent_usage", "run_usage"]


def planned_seconds(path: Path) -> dict[tuple[str, str], float]:
    """(suite, file) -> planned seconds from the plan file, `{}` when there is none; a plan file
    cigen cannot read is a UserError (the default branch's setup is broken)."""
    if not path.is_file():
        return {}
    try:
        return plan_file.read(path).file_seconds()
    except plan_file.PlanFileError as error:
        raise UserError(error.path, 0, error.code, error.message) from None
