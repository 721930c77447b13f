"""How much GPU time /rerun-test may queue: per comment, and per pull request and per
repository over the last 24 hours (counted in generator/shipped/rerun_gate.py from the rerun
workflow's own runs), and the measured seconds the estimates use.

Estimates are each file's `est_time`, or its measured seconds where the default branch's
`.github/cigen/plan.json` has them, times the GPUs of the pool it runs on.
"""

from __future__ import annotations

import json
from pathlib import Path

from generator.errors import UserError
from generator.shipped.rerun_gate import Budget, Usage, Window, check_windows, recent_usage, run_usage

__all__ = ["PLAN_PATH", "Budget", "Usage", "Window", "check_windows", "read_measured", "recent_usage", "run_usage"]

PLAN_PATH = ".github/cigen/plan.json"


def _number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and value >= 0


def read_measured(path: Path) -> dict[tuple[str, str], float]:
    """(suite, file) -> measured seconds from a plan file, `{}` when there is none; a plan file
    that is not of that shape is a UserError (the default branch's setup is broken)."""
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as error:
        raise UserError(str(path), 0, "bad-plan-json", f"cannot read the plan: {error}") from None
    suites = data.get("suites") if isinstance(data, dict) else None
    if not isinstance(suites, dict):
        raise UserError(str(path), 0, "bad-plan-json", "expected an object with a 'suites' object")
    measured: dict[tuple[str, str], float] = {}
    for suite, spec in suites.items():
        shards = spec.get("shards") if isinstance(spec, dict) else None
        if not isinstance(shards, list):
            raise UserError(str(path), 0, "bad-plan-json", f"suites.{suite}.shards must be a list")
        for number, shard in enumerate(shards):
            files = shard.get("files") if isinstance(shard, dict) else None
            if not isinstance(files, list):
                raise UserError(str(path), 0, "bad-plan-json", f"suites.{suite}.shards[{number}].files must be a list")
            for entry in files:
                if isinstance(entry, dict) and isinstance(entry.get("file"), str) and _number(entry.get("est_seconds")):
                    measured[(suite, entry["file"])] = float(entry["est_seconds"])
    return measured
