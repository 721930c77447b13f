"""The two ends of the rerun-test workflow: the gate (who, what, which commit) and the report.

The gate runs on the default branch and never touches the pull request's code. In order:
the commenter's permission (live, against the policy), the comment (`rerun.parse_comment`),
the pull request (open, fork policy) and its head commit. Only then does it react, answer,
and set a pending commit status per target. The report reads each test job's outcome from
the GitHub API (not from the jobs themselves, which run untrusted code) and posts it back.

"At comment time": the comment event does not carry the head SHA. With `@<sha>` in the
comment, the head must start with it. Without, the head branch's server-side activity log
must show the current head was pushed at or before the comment's `created_at`; if the
branch moved after the comment, or the log cannot tell, the request is refused and the
answer asks for `@<sha>`. Either way the test jobs check out that exact SHA.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from generator.model import Config
from generator.names import RERUN_TEST_STEP
from generator.rerun.github import GitHub, GitHubApiError
from generator.rerun.parse import COMMAND, RerunIndex, RerunRejected, RerunRequest, Target, parse_comment, reject
from generator.rerun.policy import RerunPolicy, authorize

MARKER = "<!-- cigen:rerun-test -->"
_SHA = re.compile(r"[0-9a-f]{40}\Z")
_LOGIN = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})(?:\[bot\])?\Z")
# job conclusion -> (commit status state, words)
_OUTCOMES = {
    "success": ("success", "passed"),
    "failure": ("failure", "failed"),
    "timed_out": ("failure", "timed out"),
    "cancelled": ("error", "cancelled"),
    "skipped": ("error", "skipped"),
}
_ICONS = {"passed": "✅", "failed": "❌", "timed out": "⏱️"}


def parse_time(text: str) -> datetime:
    """GitHub's ISO 8601 timestamps ('...Z'), timezone-aware."""
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


@dataclass(frozen=True)
class CommentEvent:
    """The parts of the issue_comment event the gate uses, passed in through env."""

    repo: str
    pr: int
    comment_id: int
    author: str
    author_id: int | None
    created_at: datetime
    body: str
    run_url: str

    @property
    def mention(self) -> str:
        return f"@{self.author}" if _LOGIN.match(self.author) else "the commenter"


@dataclass(frozen=True)
class PullHead:
    """The pull request's live head: commit, branch, and where the branch lives."""

    sha: str
    repo: str
    branch: str
    fork: bool


def read_pull(pull: dict, repo: str, number: int) -> PullHead:
    """Check the live pull request is this repository's, open, and has a head we can name."""
    if pull.get("number") != number or (pull.get("base") or {}).get("repo", {}).get("full_name") != repo:
        raise reject("wrong-pull", f"GitHub answered about another pull request than #{number} of {repo}")
    if pull.get("state") != "open":
        raise reject("pull-closed", f"pull request #{number} is {pull.get('state')}")
    head = pull.get("head") or {}
    head_repo = head.get("repo")
    if not head_repo:
        raise reject("head-repo-gone", f"the head repository of #{number} was deleted")
    sha = head.get("sha", "")
    if not isinstance(sha, str) or not _SHA.match(sha):
        raise reject("bad-head", f"the head commit of #{number} is not a commit SHA")
    base_id = pull["base"]["repo"].get("id")
    return PullHead(sha=sha, repo=head_repo.get("full_name", ""), branch=head.get("ref", ""), fork=head_repo.get("id") != base_id)


def pin_head(head: PullHead, pin: str | None, commented_at: datetime, activity: list[dict] | None, policy: RerunPolicy) -> str:
    """The commit to test: the head, proven to be what the commenter saw, else RerunRejected."""
    short = head.sha[:12]
    if head.fork and not policy.forks:
        raise reject("fork", f"the pull request comes from the fork {head.repo}, and {policy.source} does not allow forks")
    if pin is not None:
        if not head.sha.startswith(pin):
            raise reject("head-moved", f"the head is now {short}, not @{pin}: review the new commits and comment again")
        return head.sha
    if policy.require_commit:
        raise reject("commit-required", f"{policy.source} requires naming the commit you reviewed: {COMMAND} FILE @<sha>")
    if not activity:
        raise reject(
            "head-unproven",
            f"no push record shows when {short} became the head of {head.repo}:{head.branch}; "
            f"name the commit you reviewed: {COMMAND} FILE @<sha>",
        )
    latest = activity[0]
    if latest.get("after") != head.sha:
        raise reject(
            "head-moved",
            f"the last push to {head.repo}:{head.branch} is not the head {short}; "
            f"name the commit you reviewed: {COMMAND} FILE @<sha>",
        )
    pushed_at = parse_time(latest["timestamp"])
    if pushed_at > commented_at:
        raise reject(
            "head-moved",
            f"{short} was pushed at {latest['timestamp']}, after the comment: review it and comment again",
        )
    return head.sha


def resolve_head(
    github: GitHub, repo: str, pr: int, pin: str | None, commented_at: datetime, policy: RerunPolicy
) -> tuple[PullHead, str]:
    """The live pull request's head, pinned (`pin_head`): the push log is read only when it can
    decide (no pin, and not a fork the policy refuses anyway); a log that cannot be read
    leaves the head unproven."""
    head = read_pull(github.pull(pr), repo, pr)
    activity = None
    if pin is None and not (head.fork and not policy.forks):
        try:
            activity = github.branch_activity(head.repo, head.branch)
        except GitHubApiError:
            activity = None
    return head, pin_head(head, pin, commented_at, activity, policy)


def _block(text: str) -> str:
    """A fenced block no text can close early; mentions and HTML inside stay inert."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}text\n{text}\n{fence}"


def refusal_comment(event: CommentEvent, policy: RerunPolicy) -> str:
    """The answer to a commenter the policy does not allow; it never repeats the comment."""
    return f"{MARKER}\n{event.mention}: {COMMAND} is limited to {policy.describe()}. Ask a maintainer to run it."


def rejection_comment(event: CommentEvent, reason: str) -> str:
    return (
        f"{MARKER}\n{event.mention}: nothing was run.\n\n{_block(reason)}\n\n"
        f"Usage: `{COMMAND} test/registered/<dir>/test_<name>.py[::Class.method] ... [@<sha>]` on the first line."
    )


def table_order(targets: Iterable[Target]) -> list[Target]:
    """Rows of the answer, in the same order before and after the run."""
    return sorted(targets, key=lambda t: (t.selector, t.pool))


def _table(rows: list[tuple[str, ...]]) -> str:
    lines = ["| test | pool | result | duration |", "|---|---|---|---|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def progress_comment(event: CommentEvent, sha: str, request: RerunRequest) -> str:
    rows = [(f"`{t.selector}`", f"`{t.pool}`", "⏳ queued", "") for t in table_order(request.targets)]
    return (
        f"{MARKER}\n{COMMAND} by {event.mention} at `{sha[:12]}`: [workflow run]({event.run_url})\n\n{_table(rows)}"
    )


@dataclass(frozen=True)
class GateResult:
    """What the gate decided; `outputs()` is what the test jobs read."""

    accepted: bool
    reason: str
    head_sha: str = ""
    request: RerunRequest | None = None
    reply_id: int | None = None

    def outputs(self) -> dict[str, str]:
        if not self.accepted or self.request is None:
            return {"accepted": "false"}
        return {
            "accepted": "true",
            "head_sha": self.head_sha,
            "pools": json.dumps(list(self.request.pools)),
            "targets": json.dumps(self.request.targets_by_pool(), sort_keys=True),
            "reply_id": str(self.reply_id or ""),
        }


def run_gate(event: CommentEvent, index: RerunIndex, config: Config, policy: RerunPolicy, github: GitHub) -> GateResult:
    """Authorize, parse, pin the head; acknowledge or explain. Nothing runs unless accepted."""
    verdict = authorize(policy, github, event.author, event.author_id)
    if not verdict.allowed:
        github.add_reaction(event.comment_id, "-1")
        github.create_comment(event.pr, refusal_comment(event, policy))
        return GateResult(False, verdict.reason)
    try:
        request = parse_comment(event.body, index, config, policy.max_selectors)
        _, sha = resolve_head(github, event.repo, event.pr, request.pin, event.created_at, policy)
    except RerunRejected as rejected:
        github.add_reaction(event.comment_id, "confused")
        github.create_comment(event.pr, rejection_comment(event, rejected.reason))
        return GateResult(False, rejected.reason)
    github.add_reaction(event.comment_id, "rocket")
    reply_id = github.create_comment(event.pr, progress_comment(event, sha, request))
    for target in request.targets:
        github.set_status(sha, "pending", target.status_context, f"queued by {event.mention}", event.run_url)
    return GateResult(True, verdict.reason, sha, request, reply_id)


@dataclass(frozen=True)
class TargetResult:
    """One target's outcome as the GitHub API reports its job."""

    target: Target
    state: str  # commit status state
    words: str
    seconds: float | None
    url: str


def _seconds(started: str | None, completed: str | None) -> float | None:
    if not started or not completed:
        return None
    return max((parse_time(completed) - parse_time(started)).total_seconds(), 0.0)


def format_duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    minutes, secs = divmod(int(round(seconds)), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes:02d}m" if hours else (f"{minutes}m {secs:02d}s" if minutes else f"{secs}s")


def collect_results(targets: list[Target], jobs: list[dict], run_url: str) -> list[TargetResult]:
    """Match each target to its job by name; a target without a finished job is an error."""
    by_name = {job.get("name"): job for job in jobs}
    results = []
    for target in targets:
        job = by_name.get(target.job_name)
        if job is None:
            results.append(TargetResult(target, "error", "did not run", None, run_url))
            continue
        state, words = _OUTCOMES.get(job.get("conclusion"), ("error", "did not finish"))
        step = next((s for s in job.get("steps") or [] if s.get("name") == RERUN_TEST_STEP), None)
        seconds = _seconds(step.get("started_at"), step.get("completed_at")) if step else None
        if seconds is None:
            seconds = _seconds(job.get("started_at"), job.get("completed_at"))
        results.append(TargetResult(target, state, words, seconds, job.get("html_url") or run_url))
    return results


def results_comment(mention: str, sha: str, run_url: str, results: list[TargetResult]) -> str:
    rows = [
        (
            f"`{r.target.selector}`",
            f"`{r.target.pool}`",
            f"{_ICONS.get(r.words, '⚠️')} [{r.words}]({r.url})",
            format_duration(r.seconds),
        )
        for r in results
    ]
    passed = sum(r.state == "success" for r in results)
    return (
        f"{MARKER}\n{COMMAND} by {mention} at `{sha[:12]}`: {passed}/{len(results)} passed "
        f"([workflow run]({run_url}))\n\n{_table(rows)}"
    )


def run_report(
    github: GitHub,
    targets: list[Target],
    sha: str,
    event: CommentEvent,
    reply_id: int | None,
    run_id: int,
    attempt: int,
) -> list[TargetResult]:
    """Read the test jobs' outcomes, set the final statuses, update the answer, react."""
    results = collect_results(table_order(targets), github.run_jobs(run_id, attempt), event.run_url)
    for result in results:
        description = result.words if result.seconds is None else f"{result.words} in {format_duration(result.seconds)}"
        github.set_status(sha, result.state, result.target.status_context, description, result.url)
    body = results_comment(event.mention, sha, event.run_url, results)
    if reply_id:
        github.update_comment(reply_id, body)
    else:
        github.create_comment(event.pr, body)
    github.add_reaction(event.comment_id, "+1" if all(r.state == "success" for r in results) else "-1")
    return results


def write_outputs(path: Path, outputs: dict[str, str]) -> None:
    """Append `name=value` lines to $GITHUB_OUTPUT; values are one line by construction."""
    with path.open("a", encoding="utf-8") as handle:
        for name, value in outputs.items():
            if "\n" in value or "\r" in value:
                raise ValueError(f"output {name} spans lines")
            handle.write(f"{name}={value}\n")
