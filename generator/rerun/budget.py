"""How much GPU time /rerun-test may queue: per comment (`parse.check_comment_budget`), and per
pull request and per repository over the last 24 hours, counted here.

The count comes from the gate's own earlier answers: an accepted request's answer starts with
`<!-- cigen:rerun-test jobs=N gpu-minutes=M -->`, and only comments written by the account that
posts the answers (`github-actions[bot]`, a Bot) are counted, so nobody can add or hide usage by
writing that line themselves. When the count cannot be made (an API error, an unexpected
answer, more comments than the gate may page through), nothing runs.

Estimates are each file's `est_time`, or its measured seconds where the default branch's
`.github/cigen/plan.json` has them, times the GPUs of the pool it runs on.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from generator.errors import UserError
from generator.github.client import IssueComment
from generator.rerun.parse import RerunRequest, reject

PLAN_PATH = ".github/cigen/plan.json"
REPLY_BOT = "github-actions[bot]"  # the login GITHUB_TOKEN's comments are written by
WINDOW = timedelta(hours=24)
_USAGE = re.compile(r"<!-- cigen:rerun-test jobs=([0-9]{1,6}) gpu-minutes=([0-9]{1,9}) -->\Z")


@dataclass(frozen=True)
class Budget:
    """A limit on test jobs and on estimated GPU-minutes."""

    jobs: int
    gpu_minutes: int


@dataclass(frozen=True)
class Usage:
    """Test jobs and estimated GPU-minutes already queued."""

    jobs: int = 0
    gpu_minutes: int = 0

    def plus(self, other: Usage) -> Usage:
        return Usage(self.jobs + other.jobs, self.gpu_minutes + other.gpu_minutes)


def usage_marker(jobs: int, gpu_minutes: int) -> str:
    """The first line of an accepted request's answer: what the budget counts."""
    return f"<!-- cigen:rerun-test jobs={jobs} gpu-minutes={gpu_minutes} -->"


def reply_usage(comment: IssueComment) -> Usage:
    """What one comment counts for: an answer of the reply bot that starts with the marker."""
    if comment.author != REPLY_BOT or comment.author_type != "Bot":
        return Usage()
    match = _USAGE.match(comment.body.split("\n", 1)[0].removesuffix("\r"))
    return Usage(int(match.group(1)), int(match.group(2))) if match else Usage()


def count_usage(comments: list[IssueComment], pr: int) -> tuple[Usage, Usage]:
    """(this pull request's, the repository's) usage in the comments given (the window's)."""
    on_pr, total = Usage(), Usage()
    for comment in comments:
        used = reply_usage(comment)
        total = total.plus(used)
        if comment.issue == pr:
            on_pr = on_pr.plus(used)
    return on_pr, total


def window_start(commented_at: datetime) -> datetime:
    return commented_at - WINDOW


def _over(request: RerunRequest, used: Usage, limit: Budget) -> str | None:
    """Why the request does not fit what is left of `limit`, or None."""
    if used.jobs + request.jobs > limit.jobs:
        return f"{used.jobs} test jobs in the last 24 hours plus {request.jobs} is more than {limit.jobs}"
    if used.gpu_minutes + request.gpu_minutes > limit.gpu_minutes:
        return (
            f"{used.gpu_minutes} estimated GPU-minutes in the last 24 hours plus {request.gpu_minutes} "
            f"is more than {limit.gpu_minutes}"
        )
    return None


def check_windows(request: RerunRequest, pr: int, used: tuple[Usage, Usage], limits: tuple[Budget, Budget]) -> None:
    """Refuse a request that would take the pull request or the repository over its daily budget."""
    on_pr, total = used
    pr_limit, repo_limit = limits
    reason = _over(request, on_pr, pr_limit)
    if reason:
        raise reject("pull-request-budget", f"pull request #{pr}: {reason}; try again later")
    reason = _over(request, total, repo_limit)
    if reason:
        raise reject("repository-budget", f"this repository: {reason}; try again later")


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
