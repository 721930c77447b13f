"""`cigen audit`: the repository settings cigen's workflows rely on, read through the REST API.

The generated workflows run pull-request code on self-hosted GPU runners, and for a pull request
from a fork the workflow file itself comes from the pull request, so nothing in it can be a
control: the repository's Actions settings are (SECURITY.md says why each matters). With a
maintainer's token (admin on the repository; these endpoints need it) this reads:

  GET /repos/{repo}/actions/permissions                               enabled, allowed_actions,
                                                                      sha_pinning_required
  GET /repos/{repo}/actions/permissions/selected-actions              (when allowed_actions is
                                                                      `selected`) github_owned_allowed,
                                                                      verified_allowed, patterns_allowed
  GET /repos/{repo}/actions/permissions/workflow                      default_workflow_permissions,
                                                                      can_approve_pull_request_reviews
  GET /repos/{repo}/actions/permissions/fork-pr-contributor-approval  approval_policy

and reports each setting as ok or risky with its fix. A 404 (an endpoint this GitHub does not
have, or an answer without the field) is "unknown", which is risky: nothing is assumed safe.
"""

from __future__ import annotations

from dataclasses import dataclass

from generator.errors import plural
from generator.github.answers import Answer
from generator.github.client import GitHub

SETTINGS = "Settings > Actions > General"
UNKNOWN = "unknown"


@dataclass(frozen=True)
class Finding:
    """One setting: what it is, whether it is safe, and how to make it so."""

    setting: str
    value: str
    ok: bool
    fix: str = ""

    @property
    def verdict(self) -> str:
        return "ok" if self.ok else "risky"

    def to_json(self) -> dict:
        return {"setting": self.setting, "value": self.value, "verdict": self.verdict, "fix": self.fix}


def _read(github: GitHub, path: str) -> tuple[dict | None, Answer]:
    """The object at `path` (None on a 404) and its reader."""
    return github.get_object(path, missing_ok=True), Answer("GET", path)


def _field(data: dict | None, answer: Answer, key: str, kind: type) -> object | None:
    """A field of the answer, None when the answer or the field is missing (unknown)."""
    if data is None or data.get(key) is None:
        return None
    return answer.boolean(data, key) if kind is bool else answer.string(data, key)


def fork_approval(github: GitHub, repo: str) -> Finding:
    data, answer = _read(github, f"/repos/{repo}/actions/permissions/fork-pr-contributor-approval")
    policy = _field(data, answer, "approval_policy", str)
    fix = (
        f"{SETTINGS} > Approval for running fork pull request workflows from contributors: "
        "Require approval for all external contributors"
    )
    if policy is None:
        return Finding("fork pull request approval", UNKNOWN, False, fix + " (and check it can be read)")
    return Finding("fork pull request approval", policy, policy == "all_external_contributors", fix)


def workflow_token(github: GitHub, repo: str) -> list[Finding]:
    data, answer = _read(github, f"/repos/{repo}/actions/permissions/workflow")
    default = _field(data, answer, "default_workflow_permissions", str)
    approve = _field(data, answer, "can_approve_pull_request_reviews", bool)
    return [
        Finding(
            "default GITHUB_TOKEN permissions",
            default or UNKNOWN,
            default == "read",
            f"{SETTINGS} > Workflow permissions: Read repository contents and packages permissions",
        ),
        Finding(
            "GitHub Actions may approve pull requests",
            UNKNOWN if approve is None else str(approve).lower(),
            approve is False,
            f"{SETTINGS} > Workflow permissions: clear Allow GitHub Actions to create and approve pull requests",
        ),
    ]


def _selected(github: GitHub, repo: str) -> tuple[str, bool]:
    """What `selected` allows, in words, and whether that is narrow enough."""
    data, answer = _read(github, f"/repos/{repo}/actions/permissions/selected-actions")
    if data is None:
        return "selected (the list cannot be read)", False
    verified = _field(data, answer, "verified_allowed", bool)
    owned = _field(data, answer, "github_owned_allowed", bool)
    patterns = data.get("patterns_allowed") or []
    if not isinstance(patterns, list) or not all(isinstance(p, str) for p in patterns):
        raise answer.error("answer.patterns_allowed is not a list of strings")
    wildcard = [p for p in patterns if p.startswith("*")]  # any owner: as good as allowing everything
    parts = [plural(len(patterns), "pattern")]
    parts += ["GitHub-owned"] if owned else []
    parts += ["Marketplace verified creators"] if verified is not False else []
    parts += [f"wildcard {wildcard[0]!r}"] if wildcard else []
    return f"selected ({', '.join(parts)})", verified is False and not wildcard


def allowed_actions(github: GitHub, repo: str) -> list[Finding]:
    data, answer = _read(github, f"/repos/{repo}/actions/permissions")
    allowed = _field(data, answer, "allowed_actions", str)
    pinning = _field(data, answer, "sha_pinning_required", bool)
    if allowed == "selected":
        value, ok = _selected(github, repo)
    else:
        value, ok = allowed or UNKNOWN, allowed == "local_only"
    return [
        Finding(
            "allowed actions and reusable workflows",
            value,
            ok,
            f"{SETTINGS} > Actions permissions: Allow select actions and reusable workflows; list only the actions "
            "the workflows use (no Marketplace-verified blanket, no wildcard owner)",
        ),
        Finding(
            "actions pinned to a full commit SHA",
            UNKNOWN if pinning is None else str(pinning).lower(),
            pinning is True,
            f"{SETTINGS} > Actions permissions: Require actions to be pinned to a full-length commit SHA",
        ),
    ]


def audit_repository(github: GitHub) -> list[Finding]:
    """Every finding for the client's repository, in a fixed order."""
    repo = github.repo
    return [fork_approval(github, repo), *workflow_token(github, repo), *allowed_actions(github, repo)]
