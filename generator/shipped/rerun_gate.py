"""The two ends of the /rerun-test workflow: the gate (who, what, which commit, how much) and
the report. Standard library only: the workflow runs the copy in `.github/cigen/`, and
`cigen rerun gate|report` run this same module.

    python3 .github/cigen/rerun_gate.py gate --registry .github/cigen/rerun-test.json
    python3 .github/cigen/rerun_gate.py report

The gate runs on the default branch and never touches the pull request's code. In order: the
exact, case-sensitive command (GitHub's `startsWith` in the job's `if:` ignores case; nothing
else is looked at, and no API call is made, for a comment that is not one), a re-run of an
earlier attempt (refused: a request is counted once), the commenter's association with the
repository (from the event), the commenter's permission (live, against the policy), the
comment (`rerun_select`: shape, registry, classes, per-comment budget), the pull request
(open, fork policy) and its head commit, and the pull request's and the repository's budget
over the last 24 hours. Only then does it react, answer, and set a pending commit status per
test job. Anything unexpected from the API refuses the request with an answer. The report
reads each test job's outcome from the GitHub API (not from the jobs themselves, which run
untrusted code) and posts it back.

The budgets count the test jobs of this workflow's own runs of the last 24 hours, as GitHub
lists them: records the commenter cannot edit (comments can be edited, so they never count).
Each test job's name carries its estimated GPU-minutes; a job GitHub skipped counts nothing.

"At comment time": the comment event does not carry the head SHA. The head branch's
server-side activity log must show the current head was pushed strictly before the
comment's `created_at` (both have one-second resolution, so a push in the same second is
refused). With `@<sha>` the head must also be exactly that commit. The test jobs check out
that exact SHA.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta

# One sibling import a line: the copy reads each as `import NAME`.
# isort: off
from generator.shipped import github_api
from generator.shipped import rerun_select
from generator.shipped import step_files

# isort: on

GitHub = github_api.GitHub
GitHubApiError = github_api.GitHubApiError
COMMAND = rerun_select.COMMAND
CommentLimits = rerun_select.CommentLimits
Registry = rerun_select.Registry
RerunRejected = rerun_select.RerunRejected
RerunRequest = rerun_select.RerunRequest
Target = rerun_select.Target
reject = rerun_select.reject

MARKER = "<!-- cigen:rerun-test -->"  # first line of every answer of the gate
WINDOW = timedelta(hours=24)
# author_association values that may reach the permission check by default (writers); the
# workflow's `if:` filters on the same list, this is the second, exact check.
WRITER_ASSOCIATIONS = ("COLLABORATOR", "MEMBER", "OWNER")
ROLE_RANKS = {"none": 0, "read": 1, "triage": 2, "write": 3, "maintain": 4, "admin": 5}
MAX_COUNTED_RUNS = (
    400  # runs whose jobs the budget reads before it gives up (fails closed)
)
_COMMAND_START = re.compile(re.escape(COMMAND) + r"[ \t]")
_SHA = re.compile(r"[0-9a-f]{40}\Z")
_LOGIN = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})(?:\[bot\])?\Z")
_ASSOCIATION = re.compile(r"[A-Z_]{1,40}\Z")
_RUN_TITLE = re.compile(re.escape(COMMAND) + r" on #([1-9][0-9]{0,9})\Z")
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
TEST_STEP = "Run the test"  # the test jobs' step whose duration the report shows
GATE_JOB_NAME = (
    "Check the request"  # the gate job's name: later gates wait for earlier ones
)
SETTLE_POLL_SECONDS = 10
MAX_SETTLE_SECONDS = 420  # waiting for earlier gates, well inside the gate's 10 minutes


def jobs_text(count: int) -> str:
    return f"{count} test job" + ("" if count == 1 else "s")


# -- the policy ---------------------------------------------------------------------------


# --- the policy: who may run what, and how much ---------------------------------------


@dataclass(frozen=True)
class Budget:
    """A limit on test jobs and on estimated GPU-minutes."""

    jobs: int
    gpu_minutes: int


@dataclass(frozen=True)
class PolicyUser:
    """A user the policy allows: the numeric id decides, the login is for people to read."""

    login: str
    id: int


@dataclass(frozen=True)
class PolicyTeam:
    """A team whose active members the policy allows: `org/slug`, checked to still have `id`."""

    team: str
    id: int


DEFAULT_SOURCE = "<default /rerun-test policy>"
DEFAULT_COMMENT_BUDGET = Budget(
    rerun_select.DEFAULT_MAX_JOBS, rerun_select.DEFAULT_MAX_GPU_MINUTES
)
DEFAULT_PULL_REQUEST_BUDGET = Budget(jobs=16, gpu_minutes=2880)
DEFAULT_REPOSITORY_BUDGET = Budget(jobs=64, gpu_minutes=11520)


@dataclass(frozen=True)
class RerunPolicy:
    """Who may run /rerun-test, on which pull requests, and how much it may queue."""

    source: str
    permission: str | None = "write"
    users: tuple = ()
    teams: tuple = ()
    forks: bool = False
    require_commit: bool = False
    max_selectors: int = rerun_select.DEFAULT_MAX_SELECTORS
    comment_budget: Budget = DEFAULT_COMMENT_BUDGET
    pull_request_budget: Budget = DEFAULT_PULL_REQUEST_BUDGET
    repository_budget: Budget = DEFAULT_REPOSITORY_BUDGET

    @property
    def limits(self) -> CommentLimits:
        budget = self.comment_budget
        return CommentLimits(self.max_selectors, budget.jobs, budget.gpu_minutes)

    @property
    def associations(self) -> tuple:
        """Who may reach the permission check: writers, and contributors too when the
        policy lists users or teams, or allows less than write."""
        writers_only = not self.users and not self.teams
        if writers_only and ROLE_RANKS.get(self.permission or "none", 0) >= 3:
            return WRITER_ASSOCIATIONS
        return tuple(sorted(WRITER_ASSOCIATIONS + ("CONTRIBUTOR",)))

    def describe(self) -> str:
        """Who is allowed, in words, for the answer to someone who is not."""
        parts = []
        if self.permission:
            parts.append(
                f"people with {self.permission} permission or above on this repository"
            )
        if self.users:
            parts.append(f"the users listed in {self.source}")
        if self.teams:
            parts.append("members of " + ", ".join(team.team for team in self.teams))
        return " and ".join(parts) if parts else "nobody (the policy allows no one)"

    def to_json(self) -> dict:
        def budget(value: Budget) -> dict:
            return {"jobs": value.jobs, "gpu_minutes": value.gpu_minutes}

        return {
            "source": self.source,
            "permission": self.permission,
            "users": [{"login": u.login, "id": u.id} for u in self.users],
            "teams": [{"team": t.team, "id": t.id} for t in self.teams],
            "forks": self.forks,
            "require_commit": self.require_commit,
            "max_selectors": self.max_selectors,
            "per_comment": budget(self.comment_budget),
            "per_pull_request_per_day": budget(self.pull_request_budget),
            "per_repository_per_day": budget(self.repository_budget),
        }

    @classmethod
    def from_json(cls, data: dict) -> RerunPolicy:
        def budget(key: str) -> Budget:
            return Budget(data[key]["jobs"], data[key]["gpu_minutes"])

        return cls(
            source=data["source"],
            permission=data["permission"],
            users=tuple(PolicyUser(u["login"], u["id"]) for u in data["users"]),
            teams=tuple(PolicyTeam(t["team"], t["id"]) for t in data["teams"]),
            forks=data["forks"],
            require_commit=data["require_commit"],
            max_selectors=data["max_selectors"],
            comment_budget=budget("per_comment"),
            pull_request_budget=budget("per_pull_request_per_day"),
            repository_budget=budget("per_repository_per_day"),
        )


@dataclass(frozen=True)
class Authorization:
    """The verdict on one commenter, with the reason that decided it."""

    allowed: bool
    reason: str


def _role(answer: github_api.Permission) -> str:
    """The finest role GitHub reports: role_name when it is a built-in role, else
    permission."""
    return answer.role_name if answer.role_name in ROLE_RANKS else answer.permission


def _team_verdict(github: GitHub, team: PolicyTeam, login: str) -> str | None:
    """None for an active member of the team the policy names (same id), else why not."""
    try:
        found = github.team_id(team.team)
        if found != team.id:
            now = "does not exist" if found is None else f"has id {found}"
            return f"team {team.team} {now}, not {team.id} as the policy says"
        state = github.team_membership_state(team.team, login)
    except GitHubApiError as error:
        return f"team {team.team} could not be checked ({error.problem.message})"
    return None if state == "active" else f"not an active member of {team.team}"


def authorize(
    policy: RerunPolicy, github: GitHub, login: str, user_id: int
) -> Authorization:
    """Check the commenter live: listed user (by id), team member, or permission."""
    listed = next((user for user in policy.users if user.id == user_id), None)
    if listed is not None:
        return Authorization(
            True, f"@{login} (id {user_id}) is listed in {policy.source}"
        )
    notes = []
    if policy.permission:
        answer = github.collaborator_permission(login)
        role = "none"
        if answer is not None:
            same = answer.login.casefold() == login.casefold()
            if not same or answer.user_id != user_id:
                return Authorization(
                    False, f"GitHub's permission answer is not about @{login}"
                )
            role = _role(answer)
        if ROLE_RANKS.get(role, 0) >= ROLE_RANKS[policy.permission]:
            return Authorization(True, f"@{login} has {role} permission")
        notes.append(f"has {role} permission, needs {policy.permission}")
    for team in policy.teams:
        verdict = _team_verdict(github, team, login)
        if verdict is None:
            return Authorization(True, f"@{login} is a member of {team.team}")
        notes.append(verdict)
    why = "; ".join(notes or ["not listed"])
    return Authorization(False, f"@{login} may not run /rerun-test: {why}")


# -- the registry file --------------------------------------------------------------------


# --- the request: the comment, the pinned head, the changed files ---------------------


@dataclass(frozen=True)
class Setup:
    """What `cigen render` decided for the gate: the policy, the registry, the workflow."""

    policy: RerunPolicy
    registry: Registry
    workflow: str  # this workflow's file name, whose runs the budgets count

    @classmethod
    def from_json(cls, data: dict) -> Setup:
        return cls(
            RerunPolicy.from_json(data["policy"]),
            Registry.from_json(data["registry"]),
            data["workflow"],
        )

    def to_json(self) -> dict:
        return {
            "workflow": self.workflow,
            "policy": self.policy.to_json(),
            "registry": self.registry.to_json(),
        }


# -- the head commit ----------------------------------------------------------------------


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
    run_id: int = 0
    run_attempt: int = 1

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
    """Check the live pull request is this repository's, open, and has a head we can
    name; an answer of another shape is a GitHubApiError."""
    answer = github_api.Answer("GET", f"/repos/{repo}/pulls/{number}")
    base_repo = answer.child(answer.child(pull, "base"), "repo", "answer.base")
    same_number = answer.integer(pull, "number") == number
    if (
        not same_number
        or answer.string(base_repo, "full_name", "answer.base.repo") != repo
    ):
        raise reject(
            "wrong-pull",
            f"GitHub answered about another pull request than #{number} of {repo}",
        )
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
    head_id = answer.integer(head_repo, "id", "answer.head.repo")
    return PullHead(
        sha=sha,
        repo=answer.string(head_repo, "full_name", "answer.head.repo"),
        branch=answer.string(head, "ref", "answer.head"),
        fork=head_id != answer.integer(base_repo, "id", "answer.base.repo"),
    )


def pin_head(
    head: PullHead,
    pin: str | None,
    commented_at: datetime,
    activity: list | None,
    policy: RerunPolicy,
) -> str:
    """The commit to test: the head, proven pushed strictly before the comment (and, with
    a pin, exactly the commit named), else RerunRejected."""
    short = head.sha[:12]
    where = f"{head.repo}:{head.branch}"
    if head.fork and not policy.forks:
        raise reject(
            "fork",
            f"the pull request comes from the fork {head.repo}, and {policy.source} "
            "does not allow forks",
        )
    if pin is not None and head.sha != pin:
        raise reject(
            "head-moved", f"the head is now {short}, not @{pin[:12]}: {_REVIEW_NEW}"
        )
    if pin is None and policy.require_commit:
        raise reject(
            "commit-required",
            f"{policy.source} requires naming the commit you reviewed: "
            f"{COMMAND} FILE @<sha>",
        )
    if not activity:
        raise reject(
            "head-unproven",
            f"no push record shows when {short} became the head of {where}; "
            "nothing runs on a head that cannot be shown to predate the comment",
        )
    latest = activity[0]
    if latest.after != head.sha:
        raise reject(
            "head-moved",
            f"the last push to {where} is not the head {short}: {_REVIEW_NEW}",
        )
    when = github_api.utc_stamp(latest.timestamp)
    if latest.timestamp == commented_at:
        raise reject(
            "same-second-push",
            f"{short} was pushed at {when}, the same second as the comment, so which "
            "came first cannot be told: review it and comment again",
        )
    if latest.timestamp > commented_at:
        raise reject(
            "head-moved",
            f"{short} was pushed at {when}, after the comment: review it and comment again",
        )
    return head.sha


def resolve_head(
    github: GitHub,
    repo: str,
    pr: int,
    pin: str | None,
    commented_at: datetime,
    policy: RerunPolicy,
) -> tuple:
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


def changed_files(github: GitHub, repo: str, pr: int, sha: str) -> tuple:
    """The files the pull request changes at the pinned head (removed files are not
    there to run); refused when the head moved while they were read."""
    files = github.pull_files(pr)
    if read_pull(github.pull(pr), repo, pr).sha != sha:
        raise reject(
            "head-moved",
            f"the head moved while its changed files were read: {_REVIEW_NEW}",
        )
    return tuple(sorted(f.path for f in files if f.status != "removed"))


# -- the budgets --------------------------------------------------------------------------


# --- budgets: what earlier requests used ----------------------------------------------


@dataclass(frozen=True)
class Usage:
    """Test jobs and estimated GPU-minutes already queued."""

    jobs: int = 0
    gpu_minutes: int = 0

    def plus(self, other: Usage) -> Usage:
        return Usage(self.jobs + other.jobs, self.gpu_minutes + other.gpu_minutes)


def run_usage(jobs: list) -> Usage:
    """What one run's test jobs count: each job GitHub did not skip, by the estimate its
    name carries (every attempt's jobs: a re-run that ran counts again)."""
    used = Usage()
    for job in jobs:
        minutes = rerun_select.job_gpu_minutes(job.name)
        if minutes is not None and job.conclusion != "skipped":
            used = used.plus(Usage(1, minutes))
    return used


@dataclass(frozen=True)
class Window:
    """The last 24 hours of requests: this pull request's usage and the repository's."""

    on_pr: Usage = field(default_factory=Usage)
    total: Usage = field(default_factory=Usage)


def settled(jobs: list) -> bool:
    """Whether a request run's count is final: its gate finished, and its test jobs are
    listed (accepted) or every job finished (refused: the test jobs were skipped)."""
    gates = [job for job in jobs if job.name == GATE_JOB_NAME]
    if not gates or any(job.status != "completed" for job in gates):
        return False
    tests = [job for job in jobs if rerun_select.job_gpu_minutes(job.name) is not None]
    return bool(tests) or all(job.status == "completed" for job in jobs)


def recent_usage(
    github: GitHub,
    workflow: str,
    event: CommentEvent,
    sleep=time.sleep,
    clock=time.monotonic,
) -> Window:
    """This workflow's runs of the last 24 hours (every state but skipped: comments that
    were no request, or came from people the workflow filters out, are skipped runs and
    never read), and the test jobs of each; RerunRejected when they cannot be counted.
    Requests are not queued (no comment may cancel another's run), so this gate waits
    until every earlier request's gate has decided and its test jobs are listed: two
    requests at once are counted in the order GitHub numbered their runs."""
    since = event.created_at - WINDOW
    runs: dict = {}
    try:
        for state in github_api.RUN_STATES:
            for run in github.workflow_runs(workflow, since, state):
                runs.setdefault(run.run_id, run)
        requests = [
            (run, _RUN_TITLE.match(run.title))
            for run in runs.values()
            if run.run_id != event.run_id and run.conclusion != "skipped"
        ]
        requests = [(run, int(m.group(1))) for run, m in requests if m is not None]
        if len(requests) > MAX_COUNTED_RUNS:
            raise GitHubApiError(
                "GET",
                f"/repos/{event.repo}/actions/workflows/{workflow}/runs",
                f"more than {MAX_COUNTED_RUNS} requests to count",
            )
        jobs = {run.run_id: github.run_jobs(run.run_id) for run, _ in requests}
        earlier = sorted(run_id for run_id in jobs if run_id < event.run_id)
        waiting = [run_id for run_id in earlier if not settled(jobs[run_id])]
        deadline = clock() + MAX_SETTLE_SECONDS
        while waiting:
            if clock() >= deadline:
                raise GitHubApiError(
                    "GET",
                    f"/repos/{event.repo}/actions/runs/{waiting[0]}/jobs",
                    f"an earlier request's gate has not decided in {MAX_SETTLE_SECONDS} s",
                )
            sleep(SETTLE_POLL_SECONDS)
            for run_id in waiting:
                jobs[run_id] = github.run_jobs(run_id)
            waiting = [run_id for run_id in waiting if not settled(jobs[run_id])]
        window = Window()
        for run, pr in sorted(requests, key=lambda item: item[0].run_id):
            used = run_usage(jobs[run.run_id])
            on_pr = window.on_pr.plus(used) if pr == event.pr else window.on_pr
            window = Window(on_pr, window.total.plus(used))
    except GitHubApiError as error:
        raise reject(
            "budget-unknown",
            f"the last 24 hours of {COMMAND} use cannot be counted "
            f"({error.problem.message}), so nothing runs",
        ) from None
    return window


def _over(request: RerunRequest, used: Usage, limit: Budget) -> str | None:
    """Why the request does not fit what is left of `limit`, or None."""
    if used.jobs + request.jobs > limit.jobs:
        return (
            f"{used.jobs} test jobs in the last 24 hours plus {request.jobs} "
            f"is more than {limit.jobs}"
        )
    if used.gpu_minutes + request.gpu_minutes > limit.gpu_minutes:
        return (
            f"{used.gpu_minutes} estimated GPU-minutes in the last 24 hours plus "
            f"{request.gpu_minutes} is more than {limit.gpu_minutes}"
        )
    return None


def check_windows(request: RerunRequest, pr: int, used: Window, policy: RerunPolicy):
    """Refuse a request that would take the pull request or the repository over its
    daily budget."""
    reason = _over(request, used.on_pr, policy.pull_request_budget)
    if reason:
        raise reject(
            "pull-request-budget", f"pull request #{pr}: {reason}; try again later"
        )
    reason = _over(request, used.total, policy.repository_budget)
    if reason:
        raise reject("repository-budget", f"this repository: {reason}; try again later")


# -- the answers --------------------------------------------------------------------------


# --- answers: the comments the gate writes --------------------------------------------


def _block(text: str) -> str:
    """A fenced block no text can close early; mentions and HTML inside stay inert."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}text\n{text}\n{fence}"


def refusal_comment(event: CommentEvent, policy: RerunPolicy) -> str:
    """The answer to a commenter the policy does not allow; it never repeats the comment."""
    return (
        f"{MARKER}\n{event.mention}: {COMMAND} is limited to {policy.describe()}. "
        "Ask a maintainer to run it."
    )


def rejection_comment(event: CommentEvent, reason: str) -> str:
    forms = "\n".join(f"- `{form}`" for form in rerun_select.FORMS)
    return (
        f"{MARKER}\n{event.mention}: nothing was run.\n\n{_block(reason)}\n\n"
        f"Usage: `{COMMAND} SELECTOR ... [@<full sha>]`, one line. A selector is:\n"
        f"{forms}"
    )


def rerun_refused_comment(event: CommentEvent) -> str:
    """The answer to a re-run of a request's workflow run (a request is counted once)."""
    return (
        f"{MARKER}\n{event.mention}: re-running a {COMMAND} run (attempt "
        f"{event.run_attempt}) is refused: its budget was counted once, for its first run. "
        f"Comment `{COMMAND} ...` again: a new request is checked against today's budget."
    )


def failure_comment(event: CommentEvent, error: GitHubApiError) -> str:
    """The answer when the API failed or answered something unexpected: nothing ran."""
    return (
        f"{MARKER}\n{event.mention}: nothing was run: a GitHub API call failed or answered "
        f"something unexpected, so the request could not be checked.\n\n"
        f"{_block(error.problem.format())}\n\n"
        "Comment again later; if it persists, a maintainer can look at the workflow run."
    )


def table_order(targets) -> list:
    """Rows of the answer, in the same order before and after the run."""
    return sorted(targets, key=lambda t: (t.selector, t.suite, t.pool))


def _where(target: Target) -> str:
    return f"`{target.suite}` on `{target.pool}`"


def _table(rows: list) -> str:
    lines = ["| test | job | result | duration |", "|---|---|---|---|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def _what(target: Target) -> str:
    files = ", ".join(f"`{f}`" for f in target.files[:3])
    more = f" and {len(target.files) - 3} more" if len(target.files) > 3 else ""
    if target.selector in target.files or (
        target.test and target.selector.endswith("::" + target.test)
    ):
        return f"`{target.selector}`"
    return f"`{target.selector}`: {files}{more}"


def progress_comment(event: CommentEvent, sha: str, request: RerunRequest) -> str:
    rows = [
        (_what(t), _where(t), "⏳ queued", "") for t in table_order(request.targets)
    ]
    return (
        f"{MARKER}\n{COMMAND} by {event.mention} at `{sha[:12]}`: "
        f"{jobs_text(request.jobs)}, an estimated {request.gpu_minutes} GPU-minutes "
        f"([workflow run]({event.run_url}))\n\n{_table(rows)}"
    )


# --- the gate and the report ----------------------------------------------------------


@dataclass(frozen=True)
class GateResult:
    """What the gate decided; `outputs()` is what the test jobs read."""

    accepted: bool
    reason: str
    head_sha: str = ""
    request: RerunRequest | None = None
    reply_id: int | None = None

    def outputs(self) -> dict:
        if not self.accepted or self.request is None:
            return {"accepted": "false"}
        return {
            "accepted": "true",
            "head_sha": self.head_sha,
            "jobs": json.dumps(list(self.request.job_ids)),
            "targets": json.dumps(self.request.targets_by_job(), sort_keys=True),
            "reply_id": str(self.reply_id or ""),
        }


def _refuse(github: GitHub, event: CommentEvent, policy: RerunPolicy, reason: str):
    github.add_reaction(event.comment_id, "-1")
    github.create_comment(event.pr, refusal_comment(event, policy))
    return GateResult(False, reason)


def _reject(github: GitHub, event: CommentEvent, rejected: RerunRejected) -> GateResult:
    github.add_reaction(event.comment_id, "confused")
    github.create_comment(event.pr, rejection_comment(event, rejected.reason))
    return GateResult(False, rejected.reason)


def _fail(github: GitHub, event: CommentEvent, error: GitHubApiError, reply_id=None):
    """Fail closed: say so (in the answer already posted, if any)."""
    if reply_id:
        github.update_comment(reply_id, failure_comment(event, error))
    else:
        github.add_reaction(event.comment_id, "confused")
        github.create_comment(event.pr, failure_comment(event, error))
    return GateResult(False, error.problem.format())


def is_command(body: str) -> bool:
    """Exactly `/rerun-test` and a blank at the very start: the case-sensitive check the
    workflow's case-insensitive `startsWith` cannot make."""
    return _COMMAND_START.match(body) is not None


def check_request(
    event: CommentEvent, setup: Setup, root: str | None, github: GitHub
) -> tuple:
    """The request and the commit to test, or RerunRejected / GitHubApiError."""
    policy = setup.policy
    comment = rerun_select.read_comment(event.body, policy.limits)
    _, sha = resolve_head(
        github, event.repo, event.pr, comment.pin, event.created_at, policy
    )
    changed = (
        changed_files(github, event.repo, event.pr, sha) if comment.changed else None
    )
    request = rerun_select.resolve(
        comment, setup.registry, root, policy.limits, changed
    )
    check_windows(
        request, event.pr, recent_usage(github, setup.workflow, event), policy
    )
    return request, sha


def run_gate(
    event: CommentEvent, setup: Setup, root: str | None, github: GitHub
) -> GateResult:
    """Check the command, who, what, which commit, how much; acknowledge or explain.
    Nothing runs unless accepted."""
    policy = setup.policy
    if not is_command(event.body):
        return GateResult(
            False,
            f"ignored: the comment does not start with {COMMAND} (case-sensitive)",
        )
    if event.author_association not in policy.associations:
        shown = event.author_association
        shown = shown if _ASSOCIATION.match(shown) else "unknown"
        return _refuse(
            github, event, policy, f"{event.mention} is {shown} to this repository"
        )
    try:
        if event.run_attempt > 1:
            github.create_comment(event.pr, rerun_refused_comment(event))
            return GateResult(
                False, f"attempt {event.run_attempt}: re-runs are refused"
            )
        verdict = authorize(policy, github, event.author, event.author_id)
        if not verdict.allowed:
            return _refuse(github, event, policy, verdict.reason)
        request, sha = check_request(event, setup, root, github)
    except RerunRejected as rejected:
        return _reject(github, event, rejected)
    except GitHubApiError as error:
        return _fail(github, event, error)
    reply_id = None
    try:
        github.add_reaction(event.comment_id, "rocket")
        reply_id = github.create_comment(
            event.pr, progress_comment(event, sha, request)
        )
        for target in request.targets:
            github.set_status(
                sha,
                "pending",
                target.status_context,
                f"queued by {event.mention}",
                event.run_url,
            )
    except GitHubApiError as error:
        return _fail(github, event, error, reply_id)
    return GateResult(True, verdict.reason, sha, request, reply_id)


# -- the report ---------------------------------------------------------------------------


@dataclass(frozen=True)
class TargetResult:
    """One target's outcome as the GitHub API reports its job."""

    target: Target
    state: str  # commit status state
    words: str
    seconds: float | None
    url: str


def _seconds(started, completed) -> float | None:
    if started is None or completed is None:
        return None
    return max((completed - started).total_seconds(), 0.0)


def format_duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    minutes, secs = divmod(int(round(seconds)), 60)
    hours, minutes = divmod(minutes, 60)
    if hours:
        return f"{hours}h {minutes:02d}m"
    return f"{minutes}m {secs:02d}s" if minutes else f"{secs}s"


def collect_results(targets: list, jobs: list, run_url: str) -> list:
    """Match each target to its job by name; a target without a finished job is an
    error."""
    by_name = {job.name: job for job in jobs}
    results = []
    for target in targets:
        job = by_name.get(target.job_name)
        if job is None:
            results.append(TargetResult(target, "error", "did not run", None, run_url))
            continue
        state, words = _OUTCOMES.get(job.conclusion or "", ("error", "did not finish"))
        step = next((s for s in job.steps if s.name == TEST_STEP), None)
        seconds = _seconds(step.started_at, step.completed_at) if step else None
        if seconds is None:
            seconds = _seconds(job.started_at, job.completed_at)
        https = job.html_url and job.html_url.startswith("https://")
        results.append(
            TargetResult(
                target, state, words, seconds, job.html_url if https else run_url
            )
        )
    return results


def results_comment(
    mention: str, sha: str, run_url: str, results: list, note: str = ""
) -> str:
    rows = [
        (
            _what(r.target),
            _where(r.target),
            f"{_ICONS.get(r.words, '⚠️')} [{r.words}]({r.url})",
            format_duration(r.seconds),
        )
        for r in results
    ]
    passed = sum(r.state == "success" for r in results)
    text = (
        f"{MARKER}\n{COMMAND} by {mention} at `{sha[:12]}`: {passed}/{len(results)} "
        f"passed ([workflow run]({run_url}))\n\n{_table(rows)}"
    )
    return text + (f"\n\n{_block(note)}" if note else "")


def run_report(
    github: GitHub,
    targets: list,
    sha: str,
    event: CommentEvent,
    reply_id: int | None,
) -> list:
    """Read the test jobs' outcomes, set the final statuses, update the answer, react.
    Jobs that cannot be read count as errors (never as passed). A re-run attempt ran no
    test job (they run on the first attempt only): it is refused with an answer."""
    if event.run_attempt > 1:
        for target in targets:
            github.set_status(
                sha, "error", target.status_context, "re-run refused", event.run_url
            )
        github.create_comment(event.pr, rerun_refused_comment(event))
        return []
    note = ""
    try:
        jobs = github.run_jobs(event.run_id, event.run_attempt)
    except GitHubApiError as error:
        jobs = []
        note = f"the test jobs' outcomes could not be read: {error.problem.format()}"
    results = collect_results(table_order(targets), jobs, event.run_url)
    for result in results:
        seconds = result.seconds
        description = result.words
        if seconds is not None:
            description += f" in {format_duration(seconds)}"
        github.set_status(
            sha, result.state, result.target.status_context, description, result.url
        )
    body = results_comment(event.mention, sha, event.run_url, results, note)
    if reply_id:
        github.update_comment(reply_id, body)
    else:
        github.create_comment(event.pr, body)
    passed = all(r.state == "success" for r in results)
    github.add_reaction(event.comment_id, "+1" if passed else "-1")
    return results


# -- the program --------------------------------------------------------------------------


# --- command line: the event, outputs, main -------------------------------------------


class UsageError(Exception):
    """A mistake in how the program was called: one line on stderr, exit 2."""


def _env(name: str, default: str | None = None) -> str:
    value = os.environ.get(name, default)
    if value is None:
        raise UsageError(f"${name}: no-env: the environment variable is not set")
    return value


def _positive(name: str, default: str | None = None) -> int:
    text = _env(name, default)
    if not text.isdigit() or int(text) <= 0:
        raise UsageError(f"${name}: bad-number: expected a positive integer")
    return int(text)


def read_event(with_body: bool) -> CommentEvent:
    """The comment event from the environment the workflow sets."""
    repo = _env("GITHUB_REPOSITORY")
    run_id = _positive("GITHUB_RUN_ID")
    server = _env("GITHUB_SERVER_URL", "https://github.com").rstrip("/")
    try:
        created_at = github_api.parse_time(_env("COMMENT_CREATED_AT"))
    except ValueError:
        raise UsageError(
            "$COMMENT_CREATED_AT: bad-time: not an ISO 8601 time with a timezone"
        ) from None
    return CommentEvent(
        repo=repo,
        pr=_positive("PR_NUMBER"),
        comment_id=_positive("COMMENT_ID"),
        author=_env("COMMENT_AUTHOR"),
        author_id=_positive("COMMENT_AUTHOR_ID") if with_body else 0,
        created_at=created_at,
        body=_env("COMMENT_BODY") if with_body else "",
        run_url=f"{server}/{repo}/actions/runs/{run_id}",
        author_association=_env("COMMENT_AUTHOR_ASSOCIATION", "") if with_body else "",
        run_id=run_id,
        run_attempt=_positive("GITHUB_RUN_ATTEMPT", "1"),
    )


def load_setup(path: str) -> Setup:
    try:
        with open(path, encoding="utf-8") as handle:
            return Setup.from_json(json.load(handle))
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as error:
        raise UsageError(
            f"{path}: bad-registry: not cigen's /rerun-test registry ({error})"
        ) from None


def client() -> GitHub:
    api_url = _env("GITHUB_API_URL", github_api.DEFAULT_API_URL)
    return GitHub(_env("GITHUB_REPOSITORY"), _env("GITHUB_TOKEN", ""), api_url)


def write_outputs(path: str | None, outputs: dict) -> None:
    """Step outputs, one `name=value` line each, all checked by step_files before any is
    written (the values are one line of JSON)."""
    if not path:
        return
    try:
        step_files.write_lines(path, outputs)
    except step_files.StepFileError as error:
        raise UsageError(f"{path}: bad-output: {error}") from None


def append_summary(path: str | None, text: str) -> None:
    if path:
        with open(path, "a", encoding="utf-8") as handle:
            handle.write(text)


def gate_main(options: argparse.Namespace) -> int:
    event = read_event(with_body=True)
    result = GateResult(False, "the gate did not finish")
    try:
        if not is_command(event.body):  # case-sensitive, before anything else is read
            result = GateResult(
                False,
                f"ignored: the comment does not start with {COMMAND} (case-sensitive)",
            )
        else:
            setup = load_setup(options.registry)
            result = run_gate(event, setup, options.root, client())
    finally:
        write_outputs(os.environ.get("GITHUB_OUTPUT"), result.outputs())
    if result.accepted and result.request is not None:
        line = f"accepted: {jobs_text(result.request.jobs)} at {result.head_sha}"
        detail = line
    else:
        line = f"rejected: {result.reason}"
        detail = "rejected:\n\n```text\n" + result.reason.replace("`", "'") + "\n```"
    print(line)
    append_summary(os.environ.get("GITHUB_STEP_SUMMARY"), f"{COMMAND} {detail}\n")
    return 0


def report_main(options: argparse.Namespace) -> int:
    event = read_event(with_body=False)
    try:
        data = json.loads(_env("TARGETS"))
        targets = [Target.from_json(t) for job in data.values() for t in job]
    except (ValueError, KeyError, TypeError, AttributeError):
        raise UsageError(
            "$TARGETS: bad-targets: not the gate's targets output"
        ) from None
    sha = _env("HEAD_SHA")
    reply = _env("REPLY_ID", "")
    reply_id = int(reply) if reply.isdigit() else None
    for result in run_report(client(), targets, sha, event, reply_id):
        selector, where = result.target.selector, result.target.pool
        print(
            f"{selector} ({where}): {result.words}, {format_duration(result.seconds)}"
        )
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rerun_gate.py", description=__doc__.split("\n")[0]
    )
    commands = parser.add_subparsers(dest="command", required=True)
    gate = commands.add_parser("gate", help="Check a /rerun-test comment; answer it.")
    gate.add_argument("--registry", required=True, help="cigen's rerun-test.json.")
    gate.add_argument("--root", default=".", help="The default branch's checkout.")
    commands.add_parser("report", help="Post the test jobs' results.")
    return parser


def main(argv: list | None = None) -> int:
    options = build_parser().parse_args(argv)
    try:
        return gate_main(options) if options.command == "gate" else report_main(options)
    except UsageError as error:
        print(error, file=sys.stderr)
        return 2
    except GitHubApiError as error:
        print(error.problem.format(), file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
