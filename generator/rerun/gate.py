"""The two ends of the rerun-test workflow, the gate and the report: generator/shipped/rerun_gate.py,
the one implementation the workflow's copy (`.github/cigen/rerun_gate.py`) and `cigen rerun` share."""

from __future__ import annotations

from generator.shipped.github_api import parse_time
from generator.shipped.rerun_gate import (
    MARKER,
    CommentEvent,
    GateResult,
    PullHead,
    Setup,
    TargetResult,
    changed_files,
    collect_results,
    format_duration,
    is_command,
    jobs_text,
    pin_head,
    read_pull,
    resolve_head,
    run_gate,
    run_report,
)

__all__ = [
    "MARKER",
    "CommentEvent",
    "GateResult",
    "PullHead",
    "Setup",
    "TargetResult",
    "changed_files",
    "collect_results",
    "format_duration",
    "is_command",
    "jobs_text",
    "parse_time",
    "pin_head",
    "read_pull",
    "resolve_head",
    "run_gate",
    "run_report",
]
