"""/rerun-test against a local fake GitHub API on 127.0.0.1 that records every request:
the client, the policy, the head-commit pin, and the gate and report steps end to end."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

import pytest
from click.testing import CliRunner

from generator.cli import cli
from generator.errors import ProblemReport, UserError
from generator.rerun.gate import PullHead, pin_head, read_pull
from generator.rerun.github import GitHub, GitHubApiError
from generator.rerun.parse import RerunRejected
from generator.rerun.policy import DEFAULT_SOURCE, RerunPolicy, authorize, load_policy, parse_policy
from tests.rerun_support import E2E, FakeGitHub, write_rerun_tree

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
    assert str(error.value) == f"GET /repos/{REPO}/pulls/12: github-api: HTTP 403: Resource not accessible by integration"


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
        with pytest.raises(UserError):
            call()
    assert github.requests == []


def test_an_unreachable_api_is_a_user_error():
    with FakeGitHub() as server:
        url = server.url
    with pytest.raises(GitHubApiError) as error:
        GitHub(repo=REPO, token="t0k", api_url=url).pull(12)
    assert str(error.value) == f"GET /repos/{REPO}/pulls/12: github-api: request failed: ConnectionError"


# -- the policy ----------------------------------------------------------------------------


def test_without_a_policy_file_the_default_is_write_access_and_no_forks(tmp_path):
    assert load_policy(tmp_path / "missing.yml") == RerunPolicy(
        source=DEFAULT_SOURCE, permission="write", users=(), teams=(), forks=False, require_commit=False, max_selectors=8
    )


def test_a_policy_file_is_read_whole():
    text = "version: 1\npermission: admin\nusers: [alice]\nteams: [octo/gpu-ci]\nforks: true\nrequire_commit: true\nmax_selectors: 3\n"
    assert parse_policy(text, "p.yml") == RerunPolicy("p.yml", "admin", ("alice",), ("octo/gpu-ci",), True, True, 3)


def test_policy_mistakes_are_reported_with_their_lines():
    with pytest.raises(ProblemReport) as report:
        parse_policy("version: 1\npermission: read\nusers: ['bad name']\nfork: true\n", "p.yml")
    assert [p.format() for p in report.value.problems] == [
        "p.yml:1: policy-schema: top level: Additional properties are not allowed ('fork' was unexpected)",
        "p.yml:2: policy-schema: permission: 'read' is not one of ['write', 'maintain', 'admin', None]",
        "p.yml:3: policy-schema: users.0: 'bad name' does not match '^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})$'",
    ]
    assert report.value.summary == "3 errors in p.yml"


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
    assert (verdict.allowed, verdict.reason) == (False, "@stranger may not run /rerun-test: has none permission, needs write")


def test_an_answer_about_another_user_is_refused(github):
    github.on("GET", f"/repos/{REPO}/collaborators/alice/permission", permission("alice", "admin", user_id=99))
    verdict = authorize(RerunPolicy("p"), client(github), "alice", 7)
    assert (verdict.allowed, verdict.reason) == (False, "GitHub's permission answer is not about @alice")


def test_listed_users_need_no_api_call_and_admin_policies_refuse_writers(github):
    assert authorize(RerunPolicy("p.yml", users=("Alice",)), client(github), "alice", 7).reason == "@alice is listed in p.yml"
    assert github.requests == []
    github.on("GET", f"/repos/{REPO}/collaborators/bob/permission", permission("bob", "write"))
    verdict = authorize(RerunPolicy("p.yml", permission="admin"), client(github), "bob", 7)
    assert (verdict.allowed, verdict.reason) == (False, "@bob may not run /rerun-test: has write permission, needs admin")


def test_team_membership_is_checked_and_unreadable_teams_are_explained(github):
    github.on("GET", "/orgs/octo/teams/secret/memberships/carol", {"message": "Forbidden"}, status=403)
    github.on("GET", "/orgs/octo/teams/gpu-ci/memberships/carol", {"state": "active", "role": "member"})
    policy = RerunPolicy("p.yml", permission=None, teams=("octo/secret", "octo/gpu-ci"))
    assert authorize(policy, client(github), "carol", 7).reason == "@carol is a member of octo/gpu-ci"
    verdict = authorize(RerunPolicy("p.yml", permission=None, teams=("octo/secret",)), client(github), "carol", 7)
    assert (verdict.allowed, verdict.reason) == (
        False,
        "@carol may not run /rerun-test: team octo/secret could not be checked (HTTP 403: Forbidden)",
    )


# -- the head commit -----------------------------------------------------------------------

AT = datetime(2026, 7, 20, 10, 0, tzinfo=timezone.utc)
HEAD = PullHead(sha=SHA, repo=REPO, branch="feature", fork=False)
POLICY = RerunPolicy("policy.yml")


@pytest.mark.parametrize(
    "head, pin, activity, policy, code, reason",
    [
        (HEAD, "0123abc", None, POLICY, "head-moved", "the head is now 0123456789ab, not @0123abc: review the new commits and comment again"),
        (HEAD, None, pushed("2026-07-20T10:00:05Z"), POLICY, "head-moved", "0123456789ab was pushed at 2026-07-20T10:00:05Z, after the comment: review it and comment again"),
        (HEAD, None, pushed("2026-07-20T09:00:00Z", after=OLD), POLICY, "head-moved", f"the last push to {REPO}:feature is not the head 0123456789ab; name the commit you reviewed: /rerun-test FILE @<sha>"),
        (HEAD, None, [], POLICY, "head-unproven", f"no push record shows when 0123456789ab became the head of {REPO}:feature; name the commit you reviewed: /rerun-test FILE @<sha>"),
        (HEAD, None, pushed("2026-07-20T09:00:00Z"), RerunPolicy("policy.yml", require_commit=True), "commit-required", "policy.yml requires naming the commit you reviewed: /rerun-test FILE @<sha>"),
        (PullHead(SHA, "mallory/gpu", "feature", True), "0123456", None, POLICY, "fork", "the pull request comes from the fork mallory/gpu, and policy.yml does not allow forks"),
    ],
    ids=["pin differs", "pushed after the comment", "log disagrees", "no log", "pin required", "fork"],
)
def test_a_head_that_moved_or_cannot_be_proven_is_refused(head, pin, activity, policy, code, reason):
    with pytest.raises(RerunRejected) as rejected:
        pin_head(head, pin, AT, activity, policy)
    assert (rejected.value.code, rejected.value.reason) == (code, reason)


def test_a_head_pushed_before_the_comment_or_pinned_is_accepted():
    assert pin_head(HEAD, None, AT, pushed("2026-07-20T10:00:00Z"), POLICY) == SHA
    assert pin_head(HEAD, "0123456789", AT, None, POLICY) == SHA
    fork = PullHead(SHA, "mallory/gpu", "feature", True)
    assert pin_head(fork, None, AT, pushed("2026-07-20T09:59:00Z"), RerunPolicy("p", forks=True)) == SHA


@pytest.mark.parametrize(
    "answer, code, reason",
    [
        (pull(state="closed"), "pull-closed", "pull request #12 is closed"),
        ({**pull(), "head": {"sha": SHA, "ref": "feature", "repo": None}}, "head-repo-gone", "the head repository of #12 was deleted"),
        ({**pull(), "number": 13}, "wrong-pull", f"GitHub answered about another pull request than #12 of {REPO}"),
        (pull(sha="main"), "bad-head", "the head commit of #12 is not a commit SHA"),
    ],
)
def test_the_live_pull_request_must_be_open_and_ours(answer, code, reason):
    with pytest.raises(RerunRejected) as rejected:
        read_pull(answer, REPO, 12)
    assert (rejected.value.code, rejected.value.reason) == (code, reason)


# -- the gate step, end to end ---------------------------------------------------------------


def gate_env(server: FakeGitHub, output: Path, body: str, author: str = "alice") -> dict:
    return {
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
        "COMMENT_CREATED_AT": COMMENTED,
        "PR_NUMBER": "12",
    }


def run_gate(server: FakeGitHub, tree: Path, tmp_path: Path, body: str, *args: str, author: str = "alice"):
    output = tmp_path / "github_output"
    output.touch()
    result = CliRunner().invoke(
        cli, ["rerun", "gate", "--root", str(tree), "--policy", str(tmp_path / "policy.yml"), *args], env=gate_env(server, output, body, author)
    )
    return result, output.read_text()


def serve_happy_path(server: FakeGitHub, activity: list[dict] | None = None) -> None:
    server.on("GET", f"/repos/{REPO}/collaborators/alice/permission", permission("alice", "write"))
    server.on("GET", f"/repos/{REPO}/pulls/12", pull())
    server.on("GET", f"/repos/{REPO}/activity", activity if activity is not None else pushed("2026-07-20T09:58:00Z"))
    server.on("POST", f"/repos/{REPO}/issues/comments/101/reactions", {"content": "x"}, status=201)
    server.on("POST", f"/repos/{REPO}/issues/12/comments", {"id": 555}, status=201)
    server.on("POST", f"/repos/{REPO}/statuses/{SHA}", {"state": "pending"}, status=201)


def test_gate_accepts_answers_and_sets_pending_statuses(github, tree, tmp_path):
    serve_happy_path(github)
    result, outputs = run_gate(github, tree, tmp_path, f"/rerun-test {FA3}::TestFA3.test_decode\n\nflaky on main?")
    assert result.exit_code == 0, result.output
    assert result.stdout == f"accepted: 2 test runs at {SHA}\n"
    assert github.calls() == [
        ("GET", f"/repos/{REPO}/collaborators/alice/permission"),
        ("GET", f"/repos/{REPO}/pulls/12"),
        ("GET", f"/repos/{REPO}/activity"),
        ("POST", f"/repos/{REPO}/issues/comments/101/reactions"),
        ("POST", f"/repos/{REPO}/issues/12/comments"),
        ("POST", f"/repos/{REPO}/statuses/{SHA}"),
        ("POST", f"/repos/{REPO}/statuses/{SHA}"),
    ]
    assert github.requests[2].query == {"ref": "refs/heads/feature", "direction": "desc", "per_page": "10"}
    assert github.bodies("POST", f"/repos/{REPO}/issues/comments/101/reactions") == [{"content": "rocket"}]
    selector = f"{FA3}::TestFA3.test_decode"
    assert github.bodies("POST", f"/repos/{REPO}/issues/12/comments") == [
        {
            "body": "<!-- cigen:rerun-test -->\n"
            f"/rerun-test by @alice at `0123456789ab`: [workflow run]({RUN_URL})\n\n"
            "| test | pool | result | duration |\n|---|---|---|---|\n"
            f"| `{selector}` | `1-gpu-h100` | ⏳ queued |  |\n"
            f"| `{selector}` | `4-gpu-b200` | ⏳ queued |  |"
        }
    ]
    assert github.bodies("POST", f"/repos/{REPO}/statuses/{SHA}") == [
        {"state": "pending", "context": f"rerun-test {selector} (1-gpu-h100)", "description": "queued by @alice", "target_url": RUN_URL},
        {"state": "pending", "context": f"rerun-test {selector} (4-gpu-b200)", "description": "queued by @alice", "target_url": RUN_URL},
    ]
    lines = dict(line.split("=", 1) for line in outputs.splitlines())
    assert lines["accepted"] == "true" and lines["head_sha"] == SHA and lines["reply_id"] == "555"
    assert json.loads(lines["pools"]) == ["1-gpu-h100", "4-gpu-b200"]
    targets = json.loads(lines["targets"])
    assert sorted(targets) == ["1-gpu-h100", "4-gpu-b200"]
    assert targets["4-gpu-b200"] == [
        {
            "selector": selector,
            "file": FA3,
            "test": "TestFA3.test_decode",
            "pool": "4-gpu-b200",
            "labels": ["4-gpu-b200"],
            "suites": ["base-b-test-4-gpu-b200"],
            "timeout_minutes": 20,
            "argv": ["python3", FA3, "TestFA3.test_decode"],
            "job_name": f"4-gpu-b200: {selector}",
            "status_context": f"rerun-test {selector} (4-gpu-b200)",
        }
    ]


def test_gate_refuses_a_commenter_without_permission_and_never_echoes_the_comment(github, tree, tmp_path):
    github.on("GET", f"/repos/{REPO}/collaborators/mallory/permission", permission("mallory", "read"))
    github.on("POST", f"/repos/{REPO}/issues/comments/101/reactions", {}, status=201)
    github.on("POST", f"/repos/{REPO}/issues/12/comments", {"id": 556}, status=201)
    result, outputs = run_gate(github, tree, tmp_path, f"/rerun-test {E2E} @everyone <img src=x>", author="mallory")
    assert result.exit_code == 0, result.output
    assert result.stdout == "rejected: @mallory may not run /rerun-test: has read permission, needs write\n"
    assert outputs == "accepted=false\n"
    assert github.calls() == [
        ("GET", f"/repos/{REPO}/collaborators/mallory/permission"),
        ("POST", f"/repos/{REPO}/issues/comments/101/reactions"),
        ("POST", f"/repos/{REPO}/issues/12/comments"),
    ]
    assert github.bodies("POST", f"/repos/{REPO}/issues/comments/101/reactions") == [{"content": "-1"}]
    assert github.bodies("POST", f"/repos/{REPO}/issues/12/comments") == [
        {
            "body": "<!-- cigen:rerun-test -->\n@mallory: /rerun-test is limited to people with write permission or above "
            "on this repository. Ask a maintainer to run it."
        }
    ]


def test_gate_explains_a_hostile_comment_inside_a_fence_it_cannot_break(github, tree, tmp_path):
    serve_happy_path(github)
    marker = tmp_path / "pwned"
    body = f"/rerun-test {E2E}```$(touch {marker})``` @here"
    result, outputs = run_gate(github, tree, tmp_path, body)
    assert result.exit_code == 0, result.output
    assert outputs == "accepted=false\n"
    assert github.calls() == [
        ("GET", f"/repos/{REPO}/collaborators/alice/permission"),
        ("POST", f"/repos/{REPO}/issues/comments/101/reactions"),
        ("POST", f"/repos/{REPO}/issues/12/comments"),
    ]
    assert github.bodies("POST", f"/repos/{REPO}/issues/comments/101/reactions") == [{"content": "confused"}]
    reason = "'@here': name the commit as @ and 7 to 40 hex digits"
    assert github.bodies("POST", f"/repos/{REPO}/issues/12/comments") == [
        {
            "body": "<!-- cigen:rerun-test -->\n@alice: nothing was run.\n\n"
            f"```text\n{reason}\n```\n\n"
            "Usage: `/rerun-test test/registered/<dir>/test_<name>.py[::Class.method] ... [@<sha>]` on the first line."
        }
    ]
    result, _ = run_gate(github, tree, tmp_path, f"/rerun-test {E2E}```$(touch {marker})```")
    [_, answer] = github.bodies("POST", f"/repos/{REPO}/issues/12/comments")
    assert answer["body"].split("\n")[3:6] == [
        "````text",
        f"'{E2E}```$(touch': shell metacharacter '`' is not allowed",
        f"'{marker})```': shell metacharacter ')' is not allowed",
    ]
    assert answer["body"].split("\n")[6] == "````"
    assert not marker.exists()


def test_gate_refuses_when_the_pr_moved_after_the_comment(github, tree, tmp_path):
    serve_happy_path(github, activity=pushed("2026-07-20T10:00:30Z"))
    result, outputs = run_gate(github, tree, tmp_path, f"/rerun-test {E2E}")
    assert result.stdout == "rejected: 0123456789ab was pushed at 2026-07-20T10:00:30Z, after the comment: review it and comment again\n"
    assert outputs == "accepted=false\n"
    assert ("POST", f"/repos/{REPO}/statuses/{SHA}") not in github.calls()


def test_gate_with_a_pin_needs_no_push_log(github, tree, tmp_path):
    serve_happy_path(github, activity=pushed("2026-07-20T10:00:30Z"))
    result, outputs = run_gate(github, tree, tmp_path, f"/rerun-test {E2E} @0123456789AB")
    assert result.stdout == f"accepted: 1 test run at {SHA}\n"
    assert ("GET", f"/repos/{REPO}/activity") not in github.calls()


def test_gate_refuses_forks_unless_the_policy_allows_them(github, tree, tmp_path):
    serve_happy_path(github)
    github.on("GET", f"/repos/{REPO}/pulls/12", pull(fork=True))
    github.on("GET", "/repos/mallory/gpu/activity", pushed("2026-07-20T09:00:00Z"))
    result, _ = run_gate(github, tree, tmp_path, f"/rerun-test {E2E}")
    assert result.stdout == "rejected: the pull request comes from the fork mallory/gpu, and <default /rerun-test policy> does not allow forks\n"
    (tmp_path / "policy.yml").write_text("version: 1\nforks: true\n")
    result, outputs = run_gate(github, tree, tmp_path, f"/rerun-test {E2E}")
    assert result.stdout == f"accepted: 1 test run at {SHA}\n"
    assert ("GET", "/repos/mallory/gpu/activity") in github.calls()


def test_gate_reports_api_failures_without_a_traceback(github, tree, tmp_path):
    github.on("GET", f"/repos/{REPO}/collaborators/alice/permission", {"message": "Bad credentials"}, status=401)
    result, outputs = run_gate(github, tree, tmp_path, f"/rerun-test {E2E}")
    assert result.exit_code == 2
    assert result.stderr == f"GET /repos/{REPO}/collaborators/alice/permission: github-api: HTTP 401: Bad credentials\n"
    assert outputs == ""


# -- the report step, end to end --------------------------------------------------------------


def target(pool: str, selector: str = E2E) -> dict:
    return {"selector": selector, "file": selector, "test": None, "pool": pool, "labels": [pool], "suites": ["s"], "timeout_minutes": 20}


def job(name: str, conclusion: str | None, run: tuple[str, str] | None, url: str) -> dict:
    steps = [{"name": "Check out the pinned head commit", "started_at": "2026-07-20T10:01:00Z", "completed_at": "2026-07-20T10:01:10Z"}]
    if run:
        steps.append({"name": "Run the test", "started_at": run[0], "completed_at": run[1]})
    return {"name": name, "conclusion": conclusion, "started_at": "2026-07-20T10:01:00Z", "completed_at": "2026-07-20T10:09:00Z", "html_url": url, "steps": steps}


def run_report(server: FakeGitHub, targets: dict, reply_id: str = "555"):
    env = {
        "GITHUB_REPOSITORY": REPO,
        "GITHUB_TOKEN": "t0k",
        "GITHUB_API_URL": server.url,
        "GITHUB_RUN_ID": "4242",
        "GITHUB_RUN_ATTEMPT": "1",
        "COMMENT_ID": "101",
        "COMMENT_AUTHOR": "alice",
        "COMMENT_CREATED_AT": COMMENTED,
        "PR_NUMBER": "12",
        "HEAD_SHA": SHA,
        "TARGETS": json.dumps(targets),
        "REPLY_ID": reply_id,
    }
    return CliRunner().invoke(cli, ["rerun", "report"], env=env)


def test_report_posts_pass_fail_duration_and_links(github):
    github.on(
        "GET",
        f"/repos/{REPO}/actions/runs/4242/attempts/1/jobs",
        {
            "total_count": 4,
            "jobs": [
                {"name": "Check the request", "conclusion": "success", "steps": []},
                job(f"1-gpu-h100: {E2E}", "success", ("2026-07-20T10:02:00Z", "2026-07-20T10:05:12Z"), "https://github.com/j/1"),
                job(f"4-gpu-b200: {FA3}", "failure", ("2026-07-20T10:02:00Z", "2026-07-20T10:02:45Z"), "https://github.com/j/2"),
            ],
        },
    )
    github.on("POST", f"/repos/{REPO}/statuses/{SHA}", {}, status=201)
    github.on("PATCH", f"/repos/{REPO}/issues/comments/555", {"id": 555})
    github.on("POST", f"/repos/{REPO}/issues/comments/101/reactions", {}, status=201)
    targets = {"1-gpu-h100": [target("1-gpu-h100")], "4-gpu-b200": [target("4-gpu-b200", FA3)], "8-gpu-h200": [target("8-gpu-h200", FA3)]}
    result = run_report(github, targets)
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        f"{FA3} (4-gpu-b200): failed, 45s",
        f"{FA3} (8-gpu-h200): did not run, -",
        f"{E2E} (1-gpu-h100): passed, 3m 12s",
    ]
    assert github.bodies("POST", f"/repos/{REPO}/statuses/{SHA}") == [
        {"state": "failure", "context": f"rerun-test {FA3} (4-gpu-b200)", "description": "failed in 45s", "target_url": "https://github.com/j/2"},
        {"state": "error", "context": f"rerun-test {FA3} (8-gpu-h200)", "description": "did not run", "target_url": RUN_URL},
        {"state": "success", "context": f"rerun-test {E2E} (1-gpu-h100)", "description": "passed in 3m 12s", "target_url": "https://github.com/j/1"},
    ]
    assert github.bodies("PATCH", f"/repos/{REPO}/issues/comments/555") == [
        {
            "body": "<!-- cigen:rerun-test -->\n"
            f"/rerun-test by @alice at `0123456789ab`: 1/3 passed ([workflow run]({RUN_URL}))\n\n"
            "| test | pool | result | duration |\n|---|---|---|---|\n"
            f"| `{FA3}` | `4-gpu-b200` | ❌ [failed](https://github.com/j/2) | 45s |\n"
            f"| `{FA3}` | `8-gpu-h200` | ⚠️ [did not run]({RUN_URL}) | - |\n"
            f"| `{E2E}` | `1-gpu-h100` | ✅ [passed](https://github.com/j/1) | 3m 12s |"
        }
    ]
    assert github.bodies("POST", f"/repos/{REPO}/issues/comments/101/reactions") == [{"content": "-1"}]


def test_report_without_an_answer_comment_posts_one_and_thumbs_up_when_all_pass(github):
    github.on(
        "GET",
        f"/repos/{REPO}/actions/runs/4242/attempts/1/jobs",
        {"total_count": 1, "jobs": [job(f"1-gpu-h100: {E2E}", "success", None, "https://github.com/j/1")]},
    )
    github.on("POST", f"/repos/{REPO}/statuses/{SHA}", {}, status=201)
    github.on("POST", f"/repos/{REPO}/issues/12/comments", {"id": 9}, status=201)
    github.on("POST", f"/repos/{REPO}/issues/comments/101/reactions", {}, status=201)
    result = run_report(github, {"1-gpu-h100": [target("1-gpu-h100")]}, reply_id="")
    assert result.exit_code == 0, result.output
    assert github.bodies("POST", f"/repos/{REPO}/statuses/{SHA}")[0]["description"] == "passed in 8m 00s"
    assert [c for c in github.calls() if c[0] in ("POST", "PATCH")] == [
        ("POST", f"/repos/{REPO}/statuses/{SHA}"),
        ("POST", f"/repos/{REPO}/issues/12/comments"),
        ("POST", f"/repos/{REPO}/issues/comments/101/reactions"),
    ]
    assert github.bodies("POST", f"/repos/{REPO}/issues/comments/101/reactions") == [{"content": "+1"}]


def test_report_refuses_targets_that_are_not_the_gates_output(github):
    result = run_report(github, {"1-gpu-h100": [{"selector": E2E}]})
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
    ok = CliRunner().invoke(cli, ["rerun", "authorize", "--policy", policy, "--user", "alice", "--user-id", "7"], env=api_env(github))
    assert (ok.exit_code, json.loads(ok.stdout)) == (0, {"allowed": True, "reason": "@alice has write permission"})
    no = CliRunner().invoke(cli, ["rerun", "authorize", "--policy", policy, "--user", "bob"], env=api_env(github))
    assert no.exit_code == 2
    assert no.stderr == f"{policy}: not-allowed: @bob may not run /rerun-test: has read permission, needs write\n"


def test_head_command_prints_the_pinned_commit_or_why_not(github, tmp_path):
    github.on("GET", f"/repos/{REPO}/pulls/12", pull())
    github.on("GET", f"/repos/{REPO}/activity", pushed("2026-07-20T09:00:00Z"))
    args = ["rerun", "head", "--policy", str(tmp_path / "none.yml"), "--pr", "12"]
    ok = CliRunner().invoke(cli, [*args, "--commented-at", COMMENTED], env=api_env(github))
    assert (ok.exit_code, json.loads(ok.stdout)) == (0, {"head_sha": SHA, "head_repo": REPO, "fork": False})
    late = CliRunner().invoke(cli, [*args, "--commented-at", "2026-07-20T08:00:00Z"], env=api_env(github))
    assert late.exit_code == 2
    assert late.stderr == (
        "comment:1: head-moved: 0123456789ab was pushed at 2026-07-20T09:00:00Z, after the comment: review it and comment again\n"
        "the head commit cannot be pinned.\n"
    )
    bad = CliRunner().invoke(cli, [*args, "--commented-at", "yesterday"], env=api_env(github))
    assert (bad.exit_code, bad.stderr) == (2, "bad-time: COMMENT_CREATED_AT is not an ISO 8601 time: 'yesterday'\n")


def test_gate_writes_its_decision_to_the_job_summary(github, tree, tmp_path):
    serve_happy_path(github)
    output, summary = tmp_path / "out", tmp_path / "summary.md"
    env = {**gate_env(github, output, f"/rerun-test {E2E}"), "GITHUB_STEP_SUMMARY": str(summary)}
    result = CliRunner().invoke(cli, ["rerun", "gate", "--root", str(tree), "--policy", str(tmp_path / "none.yml")], env=env)
    assert result.exit_code == 0, result.output
    assert summary.read_text() == f"/rerun-test accepted: 1 test run at {SHA}\n"
