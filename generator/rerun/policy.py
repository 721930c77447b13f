"""Who may use /rerun-test: the policy file and the live permission check.

The policy is `.github/rerun-test-policy.yml`, read from the default branch only (the
workflow checks out nothing else before deciding). Without the file the default applies:
repository collaborators with write permission or above, no fork pull requests, no pin
required, at most 8 selectors. See README.md for the format.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path

import jsonschema

from generator.config import read_yaml
from generator.errors import ProblemReport, UserError, plural
from generator.names import RERUN_POLICY_PATH
from generator.rerun.github import GitHub, GitHubApiError
from generator.rerun.parse import DEFAULT_MAX_SELECTORS

DEFAULT_POLICY_PATH = RERUN_POLICY_PATH

# Repository roles from least to most access; `permission` answers only admin/write/read/none.
ROLE_RANKS = {"none": 0, "read": 1, "triage": 2, "write": 3, "maintain": 4, "admin": 5}


@dataclass(frozen=True)
class RerunPolicy:
    """Who may run /rerun-test, and on which pull requests."""

    source: str
    permission: str | None = "write"
    users: tuple[str, ...] = ()
    teams: tuple[str, ...] = ()
    forks: bool = False
    require_commit: bool = False
    max_selectors: int = DEFAULT_MAX_SELECTORS

    def describe(self) -> str:
        """Who is allowed, in words, for the answer to someone who is not."""
        parts = []
        if self.permission:
            parts.append(f"people with {self.permission} permission or above on this repository")
        if self.users:
            parts.append(f"the users listed in {self.source}")
        if self.teams:
            parts.append("members of " + ", ".join(self.teams))
        return " and ".join(parts) if parts else "nobody (the policy allows no one)"


DEFAULT_SOURCE = "<default /rerun-test policy>"


@cache
def _schema() -> dict:
    return json.loads(resources.files("generator").joinpath("data/rerun-policy.schema.json").read_text())


def parse_policy(text: str, source: str) -> RerunPolicy:
    doc = read_yaml(text, source)
    if not isinstance(doc.data, dict):
        raise UserError(source, 1, "policy-schema", "the policy must be a mapping (version, permission, users, ...)")
    problems = [
        doc.problem(tuple(error.absolute_path), "policy-schema", f"{'.'.join(map(str, error.absolute_path)) or 'top level'}: {error.message}")
        for error in jsonschema.Draft202012Validator(_schema()).iter_errors(doc.data)
    ]
    if problems:
        raise ProblemReport(problems, f"{plural(len(problems), 'error')} in {source}")
    data = doc.data
    return RerunPolicy(
        source=source,
        permission=data.get("permission", "write"),
        users=tuple(data.get("users", [])),
        teams=tuple(data.get("teams", [])),
        forks=data.get("forks", False),
        require_commit=data.get("require_commit", False),
        max_selectors=data.get("max_selectors", DEFAULT_MAX_SELECTORS),
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


def _role(answer: dict) -> str:
    """The finest role GitHub reports: role_name when it is a built-in role, else permission."""
    role = answer.get("role_name")
    return role if role in ROLE_RANKS else str(answer.get("permission", "none"))


def authorize(policy: RerunPolicy, github: GitHub, login: str, user_id: int | None) -> Authorization:
    """Check the commenter live against the policy: listed user, team member, or permission."""
    if login.casefold() in {user.casefold() for user in policy.users}:
        return Authorization(True, f"@{login} is listed in {policy.source}")
    notes = []
    if policy.permission:
        answer = github.collaborator_permission(login)
        role = "none"
        if answer is not None:
            user = answer.get("user") or {}
            if str(user.get("login", "")).casefold() != login.casefold() or (user_id is not None and user.get("id") != user_id):
                return Authorization(False, f"GitHub's permission answer is not about @{login}")
            role = _role(answer)
        if ROLE_RANKS.get(role, 0) >= ROLE_RANKS[policy.permission]:
            return Authorization(True, f"@{login} has {role} permission")
        notes.append(f"has {role} permission, needs {policy.permission}")
    for team in policy.teams:
        try:
            state = github.team_membership_state(team, login)
        except GitHubApiError as error:
            notes.append(f"team {team} could not be checked ({error.problem.message})")
            continue
        if state == "active":
            return Authorization(True, f"@{login} is a member of {team}")
        notes.append(f"not an active member of {team}")
    return Authorization(False, f"@{login} may not run /rerun-test: " + "; ".join(notes or ["not listed"]))

