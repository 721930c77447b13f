"""The two ends of the rerun-test workflow: the gate (who, what, which commit) and the report.

The gate runs on the default branch and never touches the pull request's code. In order: the
exact, case-sensitive command (GitHub's `startsWith` in the job's `if:` ignores case; nothing
else is looked at, and no API call is made, for a comment that is not one), the commenter's
association with the repository (from the event), the commenter's permission (live, against
the policy), the comment (`rerun.parse_comment`: shape, registry, classes, per-comment budget),
the pull request (open, fork policy) and its head commit, and the pull request's and the
repository's budget over the last 24 hours. Only then does it react, answer, and set a pending
commit status per target. Anything unexpected from the API refuses the request with an answer.
The report reads each test job's outcome from the GitHub API (not from the jobs themselves,
which run untrusted code) and posts it back.

"At comment time": the comment event does not carry the head SHA. The head branch's
server-side activity log must show the current head was pushed strictly before the comment's
`created_at` (both have one-second resolution, so a push in the same second is refused: which
came first cannot be told). With `@<sha>` (the full 40 hex digits) the head must also be
exactly that commit, the one the commenter reviewed. The test jobs check out that exact SHA.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timezone

from generator.github.answers import Answer, GitHubApiError, parse_time
from generator.github.client import GitHub, Job, Push
from generator.model import Config
from generator.names import RERUN_TEST_STEP
from generator.rerun.budget import Usage, check_windows, count_usage, usage_marker, window_start
from generator.rerun.parse import (
    COMMAND,
    RerunIndex,
    RerunRejected,
    RerunRequest,
    Target,
    estimated_gpu_minutes,
    parse_comment,
    reject,
)
from generator.rerun.policy import RerunPolicy, authorize

__all__ = ["parse_time", "run_gate", "run_report"]

MARKER = "<!-- cigen:rerun-test -->"  # first line of an answer that queued nothing
# author_association values that may reach the permission check; the workflow's `if:` filters
# on the same list, this is the second, exact check (NONE, FIRST_TIMER, MANNEQUIN, ... are not).
ALLOWED_ASSOCIATIONS = frozenset({"OWNER", "MEMBER", "COLLABORATOR", "CONTRIBUTOR"})
_COMMAND_START = re.compile(re.escape(COMMAND) + r"[ \t]")
_SHA = re.compile(r"[0-9a-f]{40}\Z")
_LOGIN = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})(?:\[bot\])?\Z")
_ASSOCIATION = re.compile(r"[A-Z_]{1,40}\Z")
# job conclusion -> (commit status state, words)
_OUTCOMES = {
    "success": ("success", "passed"),
    "failure": ("failure", "failed"),
    "timed_out": ("failure", "timed out"),
    "cancelled": ("error", "cancelled"),
    "skipped": ("error", "skipped"),
}
_ICONS = {"passed": "✅", "failed": "❌", "timed out": "⏱️"}
_REVIEW_NEW = "review the new commits and comment again"


def is_command(body: str) -> bool:
    """Exactly `/rerun-test` and a blank at the very start: the case-sensitive check the
    workflow's case-insensitive `startsWith` cannot make."""
    return _COMMAND_START.match(body) is not None


def _utc(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class CommentEvent:
    """The parts of the issue_comment event the gate uses, passed in through env."""

    repo: str
    pr: int
    comment_id: int
    author: str
    author_id: int
    created_at: datetime
    body: str
    run_url: str
    author_association: str = ""

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
    """Check the live pull request is this repository's, open, and has a head we can name;
    an answer of another shape is a GitHubApiError."""
    answer = Answer("GET", f"/repos/{repo}/pulls/{number}")
    base_repo = answer.child(answer.child(pull, "base"), "repo", "answer.base")
    if answer.integer(pull, "number") != number or answer.string(base_repo, "full_name", "answer.base.repo") != repo:
        raise reject("wrong-pull", f"GitHub answered about another pull request than #{number} of {repo}")
    state = answer.string(pull, "state")
    if state != "open":
        raise reject("pull-closed", f"pull request #{number} is {ascii(state)[1:-1]}")
    head = answer.child(pull, "head")
    head_repo = answer.child(head, "repo", "answer.head", optional=True)
    if head_repo is None:
        raise reject("head-repo-gone", f"the head repository of #{number} was deleted")
    sha = answer.string(head, "sha", "answer.head")
    if not _SHA.match(sha):
        raise reject("bad-head", f"the head commit of #{number} is not a commit SHA")
    return PullHead(
        sha=sha,
        repo=answer.string(head_repo, "full_name", "answer.head.repo"),
        branch=answer.string(head, "ref", "answer.head"),
        fork=answer.integer(head_repo, "id", "answer.head.repo") != answer.integer(base_repo, "id", "answer.base.repo"),
    )


def pin_head(
    head: PullHead, pin: str | None, commented_at: datetime, activity: list[Push] | None, policy: RerunPolicy
) -> str:
    """The commit to test: the head, proven pushed strictly before the comment (and, with a
    pin, exactly the commit named), else RerunRejected."""
    short = head.sha[:12]
    where = f"{head.repo}:{head.branch}"
    if head.fork and not policy.forks:
        raise reject(
            "fork", f"the pull request comes from the fork {head.repo}, and {policy.source} does not allow forks"
        )
    if pin is not None and head.sha != pin:
        raise reject("head-moved", f"the head is now {short}, not @{pin[:12]}: {_REVIEW_NEW}")
    if pin is None and policy.require_commit:
        raise reject(
            "commit-required", f"{policy.source} requires naming the commit you reviewed: {COMMAND} FILE @<sha>"
        )
    if not activity:
        raise reject(
            "head-unproven",
            f"no push record shows when {short} became the head of {where}; "
            "nothing runs on a head that cannot be shown to predate the comment",
        )
    latest = activity[0]
    if latest.after != head.sha:
        raise reject("head-moved", f"the last push to {where} is not the head {short}: {_REVIEW_NEW}")
    if latest.timestamp == commented_at:
        raise reject(
            "same-second-push",
            f"{short} was pushed at {_utc(latest.timestamp)}, the same second as the comment, so which came first "
            "cannot be told: review it and comment again",
        )
    if latest.timestamp > commented_at:
        when = _utc(latest.timestamp)
        raise reject("head-moved", f"{short} was pushed at {when}, after the comment: review it and comment again")
    return head.sha


def resolve_head(
    github: GitHub, repo: str, pr: int, pin: str | None, commented_at: datetime, policy: RerunPolicy
) -> tuple[PullHead, str]:
    """The live pull request's head, pinned (`pin_head`). The push log is read unless the
    policy refuses the fork anyway; a log that cannot be read (HTTP error) leaves the head
    unproven, one that answers something unexpected is a GitHubApiError."""
    head = read_pull(github.pull(pr), repo, pr)
    activity = None
    if not (head.fork and not policy.forks):
        try:
            activity = github.branch_activity(head.repo, head.branch)
        except GitHubApiError as error:
            if error.problem.code != "github-api":
                raise
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
        f"Usage: `{COMMAND} test/registered/<dir>/test_<name>.py[::Class.method] ... [@<full sha>]`, one line."
    )


def failure_comment(event: CommentEvent, error: GitHubApiError) -> str:
    """The answer when the API failed or answered something unexpected: nothing ran."""
    return (
        f"{MARKER}\n{event.mention}: nothing was run: a GitHub API call failed or answered something unexpected, "
        f"so the request could not be checked.\n\n{_block(error.problem.format())}\n\n"
        "Comment again later; if it persists, a maintainer can look at the workflow run."
    )


def table_order(targets: Iterable[Target]) -> list[Target]:
    """Rows of the answer, in the same order before and after the run."""
    return sorted(targets, key=lambda t: (t.selector, t.pool))


def _table(rows: list[tuple[str, ...]]) -> str:
    lines = ["| test | pool | result | duration |", "|---|---|---|---|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def targets_marker(targets: list[Target] | tuple[Target, ...]) -> str:
    """The budget line an answer about these targets starts with."""
    return usage_marker(len(targets), estimated_gpu_minutes(targets))


def progress_comment(event: CommentEvent, sha: str, request: RerunRequest) -> str:
    rows = [(f"`{t.selector}`", f"`{t.pool}`", "⏳ queued", "") for t in table_order(request.targets)]
    return (
        f"{targets_marker(request.targets)}\n{COMMAND} by {event.mention} at `{sha[:12]}`: "
        f"[workflow run]({event.run_url})\n\n{_table(rows)}"
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


def _refuse(github: GitHub, event: CommentEvent, policy: RerunPolicy, reason: str) -> GateResult:
    github.add_reaction(event.comment_id, "-1")
    github.create_comment(event.pr, refusal_comment(event, policy))
    return GateResult(False, reason)


def _reject(github: GitHub, event: CommentEvent, rejected: RerunRejected) -> GateResult:
    github.add_reaction(event.comment_id, "confused")
    github.create_comment(event.pr, rejection_comment(event, rejected.reason))
    return GateResult(False, rejected.reason)


def _fail(github: GitHub, event: CommentEvent, error: GitHubApiError, reply_id: int | None = None) -> GateResult:
    """Fail closed: say so (in the answer already posted, if any); a failure here is exit 2."""
    if reply_id:
        github.update_comment(reply_id, failure_comment(event, error))
    else:
        github.add_reaction(event.comment_id, "confused")
        github.create_comment(event.pr, failure_comment(event, error))
    return GateResult(False, error.problem.format())


def recent_usage(github: GitHub, event: CommentEvent) -> tuple[Usage, Usage]:
    """(this pull request's, the repository's) test jobs and GPU-minutes of the last 24 hours;
    RerunRejected when they cannot be counted."""
    try:
        comments = github.recent_comments(window_start(event.created_at))
    except GitHubApiError as error:
        raise reject(
            "budget-unknown",
            f"the last 24 hours of {COMMAND} use cannot be counted ({error.problem.message}), so nothing runs",
        ) from None
    return count_usage(comments, event.pr)


def _check_request(
    event: CommentEvent, index: RerunIndex, config: Config, policy: RerunPolicy, github: GitHub
) -> tuple[RerunRequest, str]:
    """The request and the commit to test, or RerunRejected / GitHubApiError."""
    request = parse_comment(event.body, index, config, policy.limits)
    _, sha = resolve_head(github, event.repo, event.pr, request.pin, event.created_at, policy)
    limits = (policy.pull_request_budget, policy.repository_budget)
    check_windows(request, event.pr, recent_usage(github, event), limits)
    return request, sha


def run_gate(event: CommentEvent, index: RerunIndex, config: Config, policy: RerunPolicy, github: GitHub) -> GateResult:
    """Check the command, who, what, which commit, how much; acknowledge or explain. Nothing
    runs unless accepted."""
    if not is_command(event.body):
        return GateResult(False, f"ignored: the comment does not start with {COMMAND} (case-sensitive)")
    if event.author_association not in ALLOWED_ASSOCIATIONS:
        shown = event.author_association if _ASSOCIATION.match(event.author_association) else "unknown"
        return _refuse(github, event, policy, f"{event.mention} is {shown} to this repository")
    try:
        verdict = authorize(policy, github, event.author, event.author_id)
        if not verdict.allowed:
            return _refuse(github, event, policy, verdict.reason)
        request, sha = _check_request(event, index, config, policy, github)
    except RerunRejected as rejected:
        return _reject(github, event, rejected)
    except GitHubApiError as error:
        return _fail(github, event, error)
    reply_id = None
    try:
        github.add_reaction(event.comment_id, "rocket")
        reply_id = github.create_comment(event.pr, progress_comment(event, sha, request))
        for target in request.targets:
            github.set_status(sha, "pending", target.status_context, f"queued by {event.mention}", event.run_url)
    except GitHubApiError as error:
        return _fail(github, event, error, reply_id)
    return GateResult(True, verdict.reason, sha, request, reply_id)


@dataclass(frozen=True)
class TargetResult:
    """One target's outcome as the GitHub API reports its job."""

    target: Target
    state: str  # commit status state
    words: str
    seconds: float | None
    url: str


def _seconds(started: datetime | None, completed: datetime | None) -> float | None:
    if started is None or completed is None:
        return None
    return max((completed - started).total_seconds(), 0.0)


def format_duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    minutes, secs = divmod(int(round(seconds)), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes:02d}m" if hours else (f"{minutes}m {secs:02d}s" if minutes else f"{secs}s")


def collect_results(targets: list[Target], jobs: list[Job], run_url: str) -> list[TargetResult]:
    """Match each target to its job by name; a target without a finished job is an error."""
    by_name = {job.name: job for job in jobs}
    results = []
    for target in targets:
        job = by_name.get(target.job_name)
        if job is None:
            results.append(TargetResult(target, "error", "did not run", None, run_url))
            continue
        state, words = _OUTCOMES.get(job.conclusion or "", ("error", "did not finish"))
        step = next((s for s in job.steps if s.name == RERUN_TEST_STEP), None)
        seconds = _seconds(step.started_at, step.completed_at) if step else None
        if seconds is None:
            seconds = _seconds(job.started_at, job.completed_at)
        url = job.html_url if job.html_url and job.html_url.startswith("https://") else run_url
        results.append(TargetResult(target, state, words, seconds, url))
    return results


def results_comment(mention: str, sha: str, run_url: str, results: list[TargetResult], note: str = "") -> str:
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
    marker = targets_marker([r.target for r in results])
    text = (
        f"{marker}\n{COMMAND} by {mention} at `{sha[:12]}`: {passed}/{len(results)} passed "
        f"([workflow run]({run_url}))\n\n{_table(rows)}"
    )
    return text + (f"\n\n{_block(note)}" if note else "")


def run_report(
    github: GitHub,
    targets: list[Target],
    sha: str,
    event: CommentEvent,
    reply_id: int | None,
    run_id: int,
    attempt: int,
) -> list[TargetResult]:
    """Read the test jobs' outcomes, set the final statuses, update the answer, react. Jobs that
    cannot be read count as errors (never as passed), and the answer says why."""
    note = ""
    try:
        jobs = github.run_jobs(run_id, attempt)
    except GitHubApiError as error:
        jobs, note = [], f"the test jobs' outcomes could not be read: {error.problem.format()}"
    results = collect_results(table_order(targets), jobs, event.run_url)
    for result in results:
        description = result.words if result.seconds is None else f"{result.words} in {format_duration(result.seconds)}"
        github.set_status(sha, result.state, result.target.status_context, description, result.url)
    body = results_comment(event.mention, sha, event.run_url, results, note)
    if reply_id:
        github.update_comment(reply_id, body)
    else:
        github.create_comment(event.pr, body)
    github.add_reaction(event.comment_id, "+1" if all(r.state == "success" for r in results) else "-1")
    return results
