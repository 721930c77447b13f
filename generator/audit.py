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

An allowed-actions pattern is judged by what it matches (`judge_pattern`): a wildcard in the owner
matches owners anyone can register (`octo*/*` is `octo-evil/*` too), so it is risky; a pattern
passes only as an exact `owner/repo@<full sha>`, or with any version or repository for an owner
the generated workflows use (GitHub's `actions`, and the owner of `workflows.action`).

The settings asked for here are all the timings loop needs: it pushes a branch with the job's
own `contents: write` and opens no pull request, so "Allow GitHub Actions to create and approve
pull requests" can stay off (SECURITY.md, "The timings loop").
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass

from generator.errors import plural
from generator.github.answers import Answer
from generator.github.client import GitHub

SETTINGS = "Settings > Actions > General"
UNKNOWN = "unknown"
PINNED = re.compile(r"[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+(?:/[A-Za-z0-9_./-]+)?@[0-9a-f]{40}\Z")  # no wildcard anywhere


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


def judge_pattern(pattern: str, owners: Collection[str]) -> str | None:
    """None when the allowed-actions pattern is narrow enough; else the fix, in words."""
    owner, slash, rest = pattern.partition("/")
    if not owner or not slash or not rest:
        return "name one repository: owner/repo@<full commit sha>"
    if "*" in owner or "?" in owner:
        return (
            "a wildcard in the owner matches owners anyone can create; name the owner exactly: "
            "owner/repo@<full commit sha>"
        )
    if owner.lower() in {o.lower() for o in owners} or PINNED.match(pattern):
        return None
    repo = rest.split("@", 1)[0].split("/", 1)[0]
    target = f"{owner}/{repo}" if repo and "*" not in repo and "?" not in repo else f"{owner}/<repo>"
    return f"a tag, a branch or a wildcard can point at new code; pin it: {target}@<full commit sha>"


def _selected(github: GitHub, repo: str, owners: Collection[str]) -> tuple[str, bool, list[Finding]]:
    """What `selected` allows, in words, whether that is narrow enough, and a finding per risky pattern."""
    data, answer = _read(github, f"/repos/{repo}/actions/permissions/selected-actions")
    if data is None:
        return "selected (the list cannot be read)", False, []
    verified = _field(data, answer, "verified_allowed", bool)
    owned = _field(data, answer, "github_owned_allowed", bool)
    patterns = data.get("patterns_allowed") or []
    if not isinstance(patterns, list) or not all(isinstance(p, str) for p in patterns):
        raise answer.error("answer.patterns_allowed is not a list of strings")
    risky = [
        Finding(f"allowed pattern {pattern!r}", "selected", False, f"{SETTINGS} > Actions permissions: {fix}")
        for pattern in sorted(set(patterns))
        if (fix := judge_pattern(pattern, owners)) is not None
    ]
    parts = [plural(len(patterns), "pattern")]
    parts += ["GitHub-owned"] if owned else []
    parts += ["Marketplace verified creators"] if verified is not False else []
    parts += [f"{plural(len(risky), 'risky pattern')}"] if risky else []
    return f"selected ({', '.join(parts)})", verified is False and not risky, risky


def allowed_actions(github: GitHub, repo: str, owners: Collection[str]) -> list[Finding]:
    data, answer = _read(github, f"/repos/{repo}/actions/permissions")
    allowed = _field(data, answer, "allowed_actions", str)
    pinning = _field(data, answer, "sha_pinning_required", bool)
    patterns: list[Finding] = []
    if allowed == "selected":
        value, ok, patterns = _selected(github, repo, owners)
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
        *patterns,
        Finding(
            "actions pinned to a full commit SHA",
            UNKNOWN if pinning is None else str(pinning).lower(),
            pinning is True,
            f"{SETTINGS} > Actions permissions: Require actions to be pinned to a full-length commit SHA",
        ),
    ]


def audit_repository(github: GitHub, owners: Collection[str] = ("actions",)) -> list[Finding]:
    """Every finding for the client's repository, in a fixed order; `owners`: those whose actions
    the generated workflows use (any pattern naming one exactly passes)."""
    repo = github.repo
    return [fork_approval(github, repo), *workflow_token(github, repo), *allowed_actions(github, repo, owners)]


def action_owners(config) -> list[str]:
    """The owners of the actions the generated workflows use: cigen's pinned ones and workflows.action."""
    from generator.render.pins import ACTIONS

    owners = {pin.split("/", 1)[0] for pin in ACTIONS.values()}
    action = config.workflows.action
    if action and "/" in action and not action.startswith("."):
        owners.add(action.split("/", 1)[0])
    return sorted(owners)
