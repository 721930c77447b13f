"""Who may use /rerun-test, and how much: the policy file and the live permission check.

The policy is `.github/rerun-test-policy.yml`. `cigen render` reads it, checks it against its
schema and writes it into the registry the gate reads (`.github/cigen/rerun-test.json`, drift-
checked like the workflows), so the gate itself needs no YAML parser. The live check
(`authorize`) is the shipped gate's (generator/shipped/rerun_gate.py). Without the file the default applies:
repository collaborators with write permission or above, no fork pull requests, no pin
required, at most 8 selectors, and the default budgets. Users and teams are named with their
numeric ids, which GitHub never reuses (logins and team slugs can be renamed and taken). See
README.md for the format.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

from generator.config_document import DATA_DIR, read_yaml
from generator.errors import ProblemReport, UserError, plural
from generator.names import RERUN_POLICY_PATH
from generator.shipped.rerun_gate import (
    DEFAULT_COMMENT_BUDGET,
    DEFAULT_PULL_REQUEST_BUDGET,
    DEFAULT_REPOSITORY_BUDGET,
    DEFAULT_SOURCE,
    ROLE_RANKS,
    Authorization,
    Budget,
    PolicyTeam,
    PolicyUser,
    RerunPolicy,
    authorize,
)
from generator.shipped.rerun_select import DEFAULT_MAX_SELECTORS

if TYPE_CHECKING:
    import jsonschema

__all__ = [
    "DEFAULT_POLICY_PATH",
    "DEFAULT_SOURCE",
    "ROLE_RANKS",
    "Authorization",
    "PolicyTeam",
    "PolicyUser",
    "RerunPolicy",
    "authorize",
    "load_policy",
    "parse_policy",
]

DEFAULT_POLICY_PATH = RERUN_POLICY_PATH


@cache
def _schema() -> dict:
    return json.loads((DATA_DIR / "rerun-policy.schema.json").read_text(encoding="utf-8"))


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
    import jsonschema  # here, not at the top: without a policy file no command pays for it

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
        comment_budget=_budget(budget, "per_comment", DEFAULT_COMMENT_BUDGET),
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
