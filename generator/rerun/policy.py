"""Who may use /rerun-test, and how much: the policy file and the live permission check.

The policy is `.github/rerun-test-policy.yml`, read from the default branch only (the
workflow checks out nothing else before deciding). Without the file the default applies:
repository collaborators with write permission or above, no fork pull requests, no pin
required, at most 8 selectors, and the default budgets. Users and teams are named with their
numeric ids, which GitHub never reuses (logins and team slugs can be renamed and taken). See
README.md for the format.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path

import jsonschema

from generator.config import read_yaml
from generator.errors import ProblemReport, UserError, plural
from generator.github.client import GitHub, GitHubApiError, Permission
from generator.names import RERUN_POLICY_PATH
from generator.rerun.budget import Budget
from generator.rerun.parse import DEFAULT_MAX_GPU_MINUTES, DEFAULT_MAX_JOBS, DEFAULT_MAX_SELECTORS, CommentLimits

DEFAULT_POLICY_PATH = RERUN_POLICY_PATH
DEFAULT_PULL_REQUEST_BUDGET = Budget(jobs=16, gpu_minutes=2880)
DEFAULT_REPOSITORY_BUDGET = Budget(jobs=64, gpu_minutes=11520)

# Repository roles from least to most access; `permission` answers only admin/write/read/none.
ROLE_RANKS = {"none": 0, "read": 1, "triage": 2, "write": 3, "maintain": 4, "admin": 5}


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


@dataclass(frozen=True)
class RerunPolicy:
    """Who may run /rerun-test, on which pull requests, and how much it may queue."""

    source: str
    permission: str | None = "write"
    users: tuple[PolicyUser, ...] = ()
    teams: tuple[PolicyTeam, ...] = ()
    forks: bool = False
    require_commit: bool = False
    max_selectors: int = DEFAULT_MAX_SELECTORS
    comment_budget: Budget = field(default_factory=lambda: Budget(DEFAULT_MAX_JOBS, DEFAULT_MAX_GPU_MINUTES))
    pull_request_budget: Budget = DEFAULT_PULL_REQUEST_BUDGET
    repository_budget: Budget = DEFAULT_REPOSITORY_BUDGET

    @property
    def limits(self) -> CommentLimits:
        return CommentLimits(self.max_selectors, self.comment_budget.jobs, self.comment_budget.gpu_minutes)

    def describe(self) -> str:
        """Who is allowed, in words, for the answer to someone who is not."""
        parts = []
        if self.permission:
            parts.append(f"people with {self.permission} permission or above on this repository")
        if self.users:
            parts.append(f"the users listed in {self.source}")
        if self.teams:
            parts.append("members of " + ", ".join(team.team for team in self.teams))
        return " and ".join(parts) if parts else "nobody (the policy allows no one)"


DEFAULT_SOURCE = "<default /rerun-test policy>"


@cache
def _schema() -> dict:
    return json.loads(resources.files("generator").joinpath("data/rerun-policy.schema.json").read_text())


def _message(error: jsonschema.ValidationError) -> str:
    """The schema's complaint; a plain login or team name gets the format and the reason."""
    where = ".".join(map(str, error.absolute_path)) or "top level"
    path = tuple(error.absolute_path)
    if len(path) == 2 and path[0] in ("users", "teams") and isinstance(error.instance, str):
        key = "login" if path[0] == "users" else "team"
        org, _, slug = error.instance.partition("/")
        lookup = f"gh api users/{error.instance}" if key == "login" else f"gh api orgs/{org}/teams/{slug}"
        lookup += " --jq .id"
        return (
            f"{where}: write {{{key}: {error.instance}, id: <numeric id>}}: names can be renamed and reused, "
            f"ids cannot (`{lookup}`)"
        )
    return f"{where}: {error.message}"


def _budget(spec: dict, key: str, default: Budget) -> Budget:
    given = spec.get(key, {})
    return Budget(given.get("jobs", default.jobs), given.get("gpu_minutes", default.gpu_minutes))


def parse_policy(text: str, source: str) -> RerunPolicy:
    doc = read_yaml(text, source)
    if not isinstance(doc.data, dict):
        raise UserError(source, 1, "policy-schema", "the policy must be a mapping (version, permission, users, ...)")
    problems = [
        doc.problem(tuple(error.absolute_path), "policy-schema", _message(error))
        for error in jsonschema.Draft202012Validator(_schema()).iter_errors(doc.data)
    ]
    if problems:
        raise ProblemReport(problems, f"{plural(len(problems), 'error')} in {source}")
    data = doc.data
    budget = data.get("budget", {})
    return RerunPolicy(
        source=source,
        permission=data.get("permission", "write"),
        users=tuple(PolicyUser(user["login"], user["id"]) for user in data.get("users", [])),
        teams=tuple(PolicyTeam(team["team"], team["id"]) for team in data.get("teams", [])),
        forks=data.get("forks", False),
        require_commit=data.get("require_commit", False),
        max_selectors=data.get("max_selectors", DEFAULT_MAX_SELECTORS),
        comment_budget=_budget(budget, "per_comment", Budget(DEFAULT_MAX_JOBS, DEFAULT_MAX_GPU_MINUTES)),
        pull_request_budget=_budget(budget, "per_pull_request_per_day", DEFAULT_PULL_REQUEST_BUDGET),
        repository_budget=_budget(budget, "per_repository_per_day", DEFAULT_REPOSITORY_BUDGET),
    )


def load_policy(path: Path) -> RerunPolicy:
    """The policy file at `path`, or the default policy when there is none."""
    if not path.exists():
        return RerunPolicy(source=DEFAULT_SOURCE)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise UserError(str(path), 0, "policy-unreadable", f"cannot read the policy: {error}") from None
    return parse_policy(text, str(path))


@dataclass(frozen=True)
class Authorization:
    """The verdict on one commenter, with the reason that decided it."""

    allowed: bool
    reason: str


def _role(answer: Permission) -> str:
    """The finest role GitHub reports: role_name when it is a built-in role, else permission."""
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


def authorize(policy: RerunPolicy, github: GitHub, login: str, user_id: int) -> Authorization:
    """Check the commenter live against the policy: listed user (by id), team member, or permission."""
    listed = next((user for user in policy.users if user.id == user_id), None)
    if listed is not None:
        return Authorization(True, f"@{login} (id {user_id}) is listed in {policy.source}")
    notes = []
    if policy.permission:
        answer = github.collaborator_permission(login)
        role = "none"
        if answer is not None:
            if answer.login.casefold() != login.casefold() or answer.user_id != user_id:
                return Authorization(False, f"GitHub's permission answer is not about @{login}")
            role = _role(answer)
        if ROLE_RANKS.get(role, 0) >= ROLE_RANKS[policy.permission]:
            return Authorization(True, f"@{login} has {role} permission")
        notes.append(f"has {role} permission, needs {policy.permission}")
    for team in policy.teams:
        verdict = _team_verdict(github, team, login)
        if verdict is None:
            return Authorization(True, f"@{login} is a member of {team.team}")
        notes.append(verdict)
    return Authorization(False, f"@{login} may not run /rerun-test: " + "; ".join(notes or ["not listed"]))
