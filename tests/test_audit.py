"""`cigen audit` against a local fake GitHub API: a safe and a risky repository, unknown settings,
API errors; the token only from $GITHUB_TOKEN."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from generator.cli import cli
from tests.support.rerun import FakeGitHub

REPO = "octo/gpu"
BASE = f"/repos/{REPO}/actions/permissions"
GENERAL = "Settings > Actions > General > "
FIXES = {
    "fork": GENERAL + "Approval for running fork pull request workflows from contributors: "
    "Require approval for all external contributors",
    "token": GENERAL + "Workflow permissions: Read repository contents and packages permissions",
    "approve": GENERAL + "Workflow permissions: clear Allow GitHub Actions to create and approve pull requests",
    "actions": GENERAL + "Actions permissions: Allow select actions and reusable workflows; list only the "
    "actions the workflows use (no Marketplace-verified blanket, no wildcard owner)",
    "pinning": GENERAL + "Actions permissions: Require actions to be pinned to a full-length commit SHA",
}
SHA = "d4b2f3b6ecc6e67c4457f6d3e41ec42d3d0fcb86"
NARROW = {"github_owned_allowed": True, "verified_allowed": False, "patterns_allowed": [f"astral-sh/setup-uv@{SHA}"]}


def serve(
    server: FakeGitHub,
    *,
    approval: str = "all_external_contributors",
    token: str = "read",
    approve: bool = False,
    allowed: str = "selected",
    pinning: bool = True,
    selected: dict | None = None,
) -> FakeGitHub:
    workflow = {"default_workflow_permissions": token, "can_approve_pull_request_reviews": approve}
    permissions = {"enabled": True, "allowed_actions": allowed, "sha_pinning_required": pinning}
    server.on("GET", f"{BASE}/fork-pr-contributor-approval", {"approval_policy": approval})
    server.on("GET", f"{BASE}/workflow", workflow)
    server.on("GET", BASE, permissions)
    server.on("GET", f"{BASE}/selected-actions", selected or NARROW)
    return server


def row(setting: str, value: str, fix: str) -> dict:
    return {"setting": setting, "value": value, "verdict": "risky", "fix": FIXES[fix]}


EMBEDDED_CONFIG = str(Path(__file__).parent.parent / "generator/data/cigen.yml")  # uses only GitHub's actions


def audit(server: FakeGitHub, *args: str, token: str = "adm1n"):
    env = {"GITHUB_TOKEN": token, "GITHUB_API_URL": server.url, "GITHUB_REPOSITORY": REPO}
    config = [] if "--root" in args else ["--config", EMBEDDED_CONFIG]
    return CliRunner().invoke(cli, ["audit", *config, *args], env=env)


@pytest.fixture
def github():
    with FakeGitHub() as server:
        yield server


def test_a_safe_repository_is_ok_everywhere(github):
    result = audit(serve(github))
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        "setting                                   value                               verdict  fix",
        "----------------------------------------  ----------------------------------  -------  ---",
        "fork pull request approval                all_external_contributors           ok       -",
        "default GITHUB_TOKEN permissions          read                                ok       -",
        "GitHub Actions may approve pull requests  false                               ok       -",
        "allowed actions and reusable workflows    selected (1 pattern, GitHub-owned)  ok       -",
        "actions pinned to a full commit SHA       true                                ok       -",
        "",
        f"every setting checked is ok in {REPO}; SECURITY.md says why each matters.",
    ]
    assert github.calls() == [
        ("GET", f"{BASE}/fork-pr-contributor-approval"),
        ("GET", f"{BASE}/workflow"),
        ("GET", BASE),
        ("GET", f"{BASE}/selected-actions"),
    ]
    assert [r.headers["authorization"] for r in github.requests] == ["Bearer adm1n"] * 4


def test_a_risky_repository_is_risky_everywhere_with_the_fixes(github):
    serve(github, approval="first_time_contributors", token="write", approve=True, allowed="all", pinning=False)
    result = audit(github, "--format", "json")
    assert result.exit_code == 1, result.output
    assert json.loads(result.stdout) == {
        "repo": REPO,
        "risky": 5,
        "settings": [
            row("fork pull request approval", "first_time_contributors", "fork"),
            row("default GITHUB_TOKEN permissions", "write", "token"),
            row("GitHub Actions may approve pull requests", "true", "approve"),
            row("allowed actions and reusable workflows", "all", "actions"),
            row("actions pinned to a full commit SHA", "false", "pinning"),
        ],
    }
    assert ("GET", f"{BASE}/selected-actions") not in github.calls()
    table = audit(github)
    assert table.exit_code == 1
    assert table.stdout.splitlines()[-1] == f"5 risky settings in {REPO}; SECURITY.md says why each matters."


VERIFIED = "GitHub-owned, Marketplace verified creators"


@pytest.mark.parametrize(
    "owned, verified, patterns, value, ok",
    [
        (True, True, [], f"selected (0 patterns, {VERIFIED})", False),
        (False, False, ["*"], "selected (1 pattern, 1 risky pattern)", False),
        (True, None, [f"a/b@{SHA}"], f"selected (1 pattern, {VERIFIED})", False),
        (False, False, [f"a/b@{SHA}", "actions/*", "actions/checkout@v5"], "selected (3 patterns)", True),
        (False, False, ["a/b@v1"], "selected (1 pattern, 1 risky pattern)", False),
        (False, False, ["a/b@*"], "selected (1 pattern, 1 risky pattern)", False),
        (False, False, ["c/*"], "selected (1 pattern, 1 risky pattern)", False),
    ],
    ids=["verified creators", "any owner", "verified unknown", "narrow", "a tag", "any version", "any repository"],
)
def test_selected_actions_are_ok_only_when_narrow(github, owned, verified, patterns, value, ok):
    selected = {"github_owned_allowed": owned, "verified_allowed": verified, "patterns_allowed": patterns}
    result = audit(serve(github, selected=selected), "--format", "json")
    settings = json.loads(result.stdout)["settings"]
    [found] = [s for s in settings if s["setting"] == "allowed actions and reusable workflows"]
    assert (found["value"], found["verdict"], result.exit_code) == (value, "ok" if ok else "risky", 0 if ok else 1)


def test_local_only_actions_are_ok(github):
    result = audit(serve(github, allowed="local_only"), "--format", "json")
    assert result.exit_code == 0, result.output
    assert ("GET", f"{BASE}/selected-actions") not in github.calls()


def test_settings_that_cannot_be_read_are_unknown_and_risky(github):
    serve(github)
    github.on("GET", f"{BASE}/fork-pr-contributor-approval", {"message": "Not Found"}, status=404)
    github.on("GET", BASE, {"enabled": True, "allowed_actions": "local_only"})  # no sha_pinning_required: older GitHub
    result = audit(github, "--format", "json")
    assert result.exit_code == 1
    rows = {s["setting"]: (s["value"], s["verdict"]) for s in json.loads(result.stdout)["settings"]}
    assert rows["fork pull request approval"] == ("unknown", "risky")
    assert rows["actions pinned to a full commit SHA"] == ("unknown", "risky")
    assert json.loads(result.stdout)["settings"][0]["fix"] == FIXES["fork"] + " (and check it can be read)"


ADMIN = "Must have admin rights to Repository."
ODD = "github-answer: unexpected answer: "
PATTERNS = "answer.patterns_allowed is not a list of strings"


@pytest.mark.parametrize(
    "path, answer, status, message",
    [
        (f"{BASE}/workflow", {"message": ADMIN}, 403, f"github-api: HTTP 403: {ADMIN}"),
        (
            f"{BASE}/workflow",
            {"default_workflow_permissions": 1},
            200,
            ODD + "answer.default_workflow_permissions is an integer, not a string",
        ),
        (f"{BASE}/workflow", ["read"], 200, ODD + "the answer is not a JSON object"),
        (f"{BASE}/selected-actions", {"patterns_allowed": "*"}, 200, ODD + PATTERNS),
    ],
    ids=["not an admin", "wrong type", "not an object", "patterns not a list"],
)
def test_api_errors_and_unexpected_answers_exit_2_with_one_line(github, path, answer, status, message):
    serve(github)
    github.on("GET", path, answer, status=status)
    result = audit(github)
    assert (result.exit_code, result.stdout) == (2, "")
    assert result.stderr == f"GET {path}: {message}\n"


def test_the_token_comes_from_the_environment_only(github):
    result = audit(serve(github), token="")
    assert (result.exit_code, result.stderr) == (2, "github-token: no GitHub token: set GITHUB_TOKEN\n")
    assert github.requests == []
    assert "--token" not in CliRunner().invoke(cli, ["audit", "--help"]).output


OWNER_FIX = (
    "a wildcard in the owner matches owners anyone can create; name the owner exactly: owner/repo@<full commit sha>"
)
OWNER_WILDCARD = GENERAL + "Actions permissions: " + OWNER_FIX
MOVABLE = "a tag, a branch or a wildcard can point at new code; pin it: "
EVERY_OWNER = [f"{c}*/*" for c in "abcdefghijklmnopqrstuvwxyz0123456789"]


def test_a_wildcard_owner_is_risky_wherever_it_stands(github):
    """The old audit flagged only patterns starting with `*`; these 37 (every owner, and owners
    that look like octo) passed as ok with exit 0."""
    patterns = [*EVERY_OWNER, "octo*/*"]
    selected = {"github_owned_allowed": True, "verified_allowed": False, "patterns_allowed": patterns}
    result = audit(serve(github, selected=selected), "--format", "json")
    assert result.exit_code == 1, result.output
    settings = json.loads(result.stdout)["settings"]
    assert settings[3] == row(
        "allowed actions and reusable workflows", "selected (37 patterns, GitHub-owned, 37 risky patterns)", "actions"
    )
    risky = [s for s in settings if s["setting"].startswith("allowed pattern ")]
    assert [s["setting"] for s in risky] == [f"allowed pattern {p!r}" for p in sorted(patterns)]
    assert {(s["value"], s["verdict"], s["fix"]) for s in risky} == {("selected", "risky", OWNER_WILDCARD)}


@pytest.mark.parametrize(
    "pattern, fix",
    [
        ("*/checkout@*", OWNER_FIX),
        ("act?ons/checkout@v5", OWNER_FIX),
        ("octo/cigen@v1", MOVABLE + "octo/cigen@<full commit sha>"),
        ("octo/*", MOVABLE + "octo/<repo>@<full commit sha>"),
        (f"octo/cigen@{SHA[:7]}", MOVABLE + "octo/cigen@<full commit sha>"),
        ("checkout", "name one repository: owner/repo@<full commit sha>"),
        (f"octo/cigen@{SHA}", None),
        (f"octo/cigen/.github/workflows/ci.yml@{SHA}", None),
        ("actions/*", None),
        ("Actions/upload-artifact@v4", None),
    ],
)
def test_patterns_are_judged_by_what_they_match(pattern, fix):
    from generator.audit import judge_pattern

    assert judge_pattern(pattern, ["actions"]) == fix


def test_the_owner_of_cigens_action_in_the_config_may_have_any_pattern(github, tmp_path):
    (tmp_path / "cigen.yml").write_text((Path(__file__).parent / "golden/tree/cigen.yml").read_text())
    selected = {"github_owned_allowed": True, "verified_allowed": False, "patterns_allowed": ["octo/*"]}
    result = audit(serve(github, selected=selected), "--format", "json", "--root", str(tmp_path))
    assert result.exit_code == 0, result.output  # workflows.action is octo/cigen@<sha>: octo's actions are used
    assert audit(github, "--format", "json").exit_code == 1  # with a config that names no action of octo's
