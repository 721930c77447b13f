"""The timings loop in act: the rendered cigen-timings.yml of the sglang-shaped fixture lists the
shard results artifacts on the fake API: those of a push and a schedule run of the generated
workflows on main, and the poisoned ones (0 s) of a pull request from a branch of the repository and
of a fork's. It keeps the trusted two, skips and counts the others, calibrates, re-plans and pushes a
branch that changes only .github/cigen/; it opens no pull request (POST /pulls answers 403, as with
"Allow GitHub Actions to create and approve pull requests" off) and links to one in the job summary.
With no results it changes nothing.

cigen is installed as users' workflows do, `pip install --require-hashes` from the wheelhouse of
tests/act/wheelhouse.py with no index reachable. Each artifact download answers with a redirect to
the fake's "storage" path, as GitHub does; the token must not follow it there.
"""

from __future__ import annotations

import base64
import io
import json
import zipfile
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from tests.act.concurrent import Runs, run_concurrently
from tests.act.fixture import DEFAULT_BRANCH, REPOSITORY, FixtureRepo, dispatch_event
from tests.act.harness import ActRun, run_workflow
from tests.act.sglang_repo import CONFIG, make_sglang_repo
from tests.act.wheelhouse import build_wheelhouse, hashed_requirements, offline_pip_env
from tests.support.rerun import FakeGitHub, Recorded

WORKFLOW = "cigen-timings.yml"
REQUIREMENTS = ".github/cigen/requirements.txt"
TIMINGS, PLAN = ".github/cigen/timings.json", ".github/cigen/plan.json"
BATCH = "test/registered/core/test_batch.py"  # base-b-test-1-gpu-small, est_time 400
GENERATE = "test/registered/core/test_generate.py"  # same suite, est_time 500
SUITE = "base-b-test-1-gpu-small"
API = f"/repos/{REPOSITORY}"
NEW_COMMIT = "d" * 40
PER_COMMIT, NIGHTLY = ".github/workflows/cigen-per-commit.yml", ".github/workflows/cigen-nightly.yml"
FORK = "mallory/fixture"


@dataclass(frozen=True)
class Shard:
    """One results artifact: the run that uploaded it and what its file says."""

    artifact_id: int
    name: str
    run_id: int
    event: str
    workflow: str
    branch: str
    head: str
    path: str
    seconds: float
    runner: str = ""  # the runner the results name (the fleet report); "" as older runners wrote them


ARTIFACTS = (
    Shard(
        1,
        "cigen-results-base-b-test-1-gpu-small-0-1",
        101,
        "push",
        PER_COMMIT,
        "main",
        REPOSITORY,
        BATCH,
        1000.0,
        "gpu-trusted-1",
    ),
    Shard(
        2, "cigen-results-base-b-test-1-gpu-small-0-1", 102, "schedule", NIGHTLY, "main", REPOSITORY, GENERATE, 300.0
    ),
    Shard(
        3,
        "cigen-results-base-b-test-1-gpu-small-0-1",
        103,
        "pull_request",
        PER_COMMIT,
        "feature",
        REPOSITORY,
        BATCH,
        0,
        "gpu-pr-runner",
    ),
    Shard(4, "cigen-results-zzz", 104, "pull_request", PER_COMMIT, "main", FORK, GENERATE, 0),
)


@pytest.fixture(scope="module")
def repo(tmp_path_factory) -> tuple[FixtureRepo, Path]:
    wheels = build_wheelhouse(tmp_path_factory.mktemp("wheelhouse"))
    loop = f"  cigen_requirements: {REQUIREMENTS}\n  timings: {{file: {TIMINGS}, cron: '0 6 * * 1', days: 14}}\n"
    files = {"cigen.yml": CONFIG + loop, REQUIREMENTS: hashed_requirements(wheels)}
    return make_sglang_repo(tmp_path_factory.mktemp("timings") / "repo", files), wheels


def results_zip(path: str, seconds: float, runner: str = "") -> bytes:
    """A shard's results artifact: the runner's results file, zipped as upload-artifact stores it."""
    passed = {"path": path, "class": "passed", "attempts": [{"seconds": seconds}]}
    results = {"suite": SUITE, "shard": 0, "files": [passed]}
    if runner:
        preflight = {"status": "passed", "reason": "GPU 0: 512 MiB used", "probe": ""}
        results |= {"version": 1, "runner": {"name": runner}, "preflight": preflight, "exit_status": 0}
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("cigen-results.json", json.dumps(results))
    return buffer.getvalue()


def stamp(hours_ago: float) -> str:
    return (datetime.now(timezone.utc) - timedelta(hours=hours_ago)).strftime("%Y-%m-%dT%H:%M:%SZ")


def run_answer(shard: Shard) -> dict:
    """GET /actions/runs/{id} as GitHub answers it, as far as the loop reads it."""
    return {
        "id": shard.run_id,
        "event": shard.event,
        "path": shard.workflow,
        "head_branch": shard.branch,
        "repository": {"full_name": REPOSITORY},
        "head_repository": {"full_name": shard.head},
        "run_attempt": 1,
        "run_started_at": stamp(5 - shard.artifact_id),
        "created_at": stamp(5 - shard.artifact_id),
    }


def serve_loop(api: FakeGitHub, repo: FixtureRepo, with_results: bool) -> None:
    """The artifacts (newest first), their runs, their zips, and the git data the branch is written with."""
    listed = []
    for shard in reversed(ARTIFACTS) if with_results else ():
        run = {"id": shard.run_id, "head_branch": shard.branch}
        created = stamp(4.5 - shard.artifact_id)
        listed.append(
            {"id": shard.artifact_id, "name": shard.name, "created_at": created, "expired": False, "workflow_run": run}
        )
        api.on("GET", f"{API}/actions/runs/{shard.run_id}", run_answer(shard))
        storage = f"/storage/{shard.artifact_id}.zip"
        api.on("GET", f"{API}/actions/artifacts/{shard.artifact_id}/zip", None, 302, {"Location": api.url + storage})
        api.on("GET", storage, results_zip(shard.path, shard.seconds, shard.runner))
    api.on("GET", f"{API}/actions/artifacts", {"total_count": len(listed), "artifacts": listed})
    api.on("GET", f"{API}/git/ref/heads/{DEFAULT_BRANCH}", {"object": {"sha": repo.head}})
    plan = base64.b64encode((repo.path / PLAN).read_bytes()).decode()
    api.on("GET", f"{API}/contents/{PLAN}", {"encoding": "base64", "content": plan})  # the timings file: 404, new
    api.on("GET", f"{API}/git/commits/{repo.head}", {"sha": repo.head, "tree": {"sha": "t" * 40}})
    api.on("POST", f"{API}/git/blobs", lambda request: {"sha": f"{len(request.body['content']):040x}"}, 201)
    api.on("POST", f"{API}/git/trees", {"sha": "c" * 40}, 201)
    api.on("POST", f"{API}/git/commits", {"sha": NEW_COMMIT}, 201)
    api.on("POST", f"{API}/git/refs", {"ref": "refs/heads/cigen/timings"}, 201)
    forbidden = {"message": "GitHub Actions is not permitted to create or approve pull requests."}
    api.on("POST", f"{API}/pulls", forbidden, 403)  # what the setting `cigen audit` asks for answers


def act(repo: FixtureRepo, wheels: Path, work: Path, with_results: bool) -> ActRun:
    with FakeGitHub() as api:
        serve_loop(api, repo, with_results)
        return run_workflow(
            repo.path,
            WORKFLOW,
            "workflow_dispatch",
            dispatch_event({}),
            labels=[],
            work=work,
            api=api,
            env=offline_pip_env(wheels),
            timeout=120,
        )


@pytest.fixture(scope="module")
def runs(repo, tmp_path_factory) -> Runs:
    fixture, wheels = repo
    root = tmp_path_factory.mktemp("timings-runs")
    clone = fixture.clone(root / "clone")  # one working copy per concurrent run
    return run_concurrently(
        {
            "results": lambda: act(fixture, wheels, root / "results", with_results=True),
            "no results": lambda: act(clone, wheels, root / "no-results", with_results=False),
        }
    )


def posted(calls: list[Recorded], suffix: str) -> list[object]:
    return [call.body for call in calls if call.method == "POST" and call.path.endswith(suffix)]


def test_the_loop_learns_only_from_trusted_runs_and_pushes_a_branch_with_a_link(runs, repo):
    result = runs["results"]
    assert result.errors == [] and result.leftovers == [], result.text
    assert result.results() == {"timings": "success"}
    calls = result.api_calls
    downloaded = sorted(call.path for call in calls if call.path.endswith("/zip"))
    assert downloaded == [f"{API}/actions/artifacts/1/zip", f"{API}/actions/artifacts/2/zip"]  # never the PRs'
    storage = [call for call in calls if call.path.startswith("/storage/")]
    assert len(storage) == 2 and all("authorization" not in call.headers for call in storage)
    (tree,) = posted(calls, "/git/trees")
    assert sorted(entry["path"] for entry in tree["tree"]) == [PLAN, TIMINGS]  # never a workflow file
    blobs = [json.loads(body["content"]) for body in posted(calls, "/git/blobs")]
    plan = next(blob for blob in blobs if "suites" in blob)
    seconds = {f["file"]: f["est_seconds"] for shard in plan["suites"][SUITE]["shards"] for f in shard["files"]}
    assert seconds[BATCH] == pytest.approx(1000, rel=0.01) and seconds[GENERATE] == pytest.approx(300, rel=0.01)
    timings = next(blob for blob in blobs if "suite_ratio" in blob)
    assert {(f["path"], f["seconds"], f["samples"]) for f in timings["files"]} == {(BATCH, 1000, 1), (GENERATE, 300, 1)}
    committed = json.loads((repo[0].path / PLAN).read_text())
    before = {f["file"]: f["est_seconds"] for shard in committed["suites"][SUITE]["shards"] for f in shard["files"]}
    assert (before[BATCH], before[GENERATE]) == (400, 500)  # the est_time the fixture registers
    assert posted(calls, "/git/refs") == [{"ref": "refs/heads/cigen/timings", "sha": NEW_COMMIT}]
    assert [call for call in calls if call.path.endswith("/pulls")] == []  # no pull request asked for
    (commit,) = posted(calls, "/git/commits")
    assert f"| {SUITE} | `{BATCH}` | 400.0 | 1000.0 | 1 | 101 |" in commit["message"].splitlines()
    assert f"| {SUITE} | `{GENERATE}` | 500.0 | 300.0 | 1 | 102 |" in commit["message"].splitlines()
    summary = result.job("timings").summary
    assert "- skipped 2 artifacts from pull_request runs" in summary.splitlines()
    # The fleet's health from the same trusted results: the pull request's runner is never named.
    assert "| `gpu-trusted-1` | - | 1 | 0 | 0 | - | no |" in summary.splitlines()
    assert "Skipped 1 results file without the runner's name (written before cigen recorded it)." in summary
    assert "gpu-pr-runner" not in summary
    link = f"https://github.com/{REPOSITORY}/compare/{DEFAULT_BRANCH}...cigen/timings?expand=1"
    assert f"Pushed `cigen/timings` at {NEW_COMMIT}. [Open the pull request]({link}) after reading it." in summary


def test_without_results_the_loop_changes_nothing(runs):
    result = runs["no results"]
    assert result.results() == {"timings": "success"}
    outcomes = result.job("timings").outcomes()
    assert outcomes["Calibrate and re-plan"] == outcomes["Propose the new timings and plan"] == "skipped"
    assert [call.method for call in result.api_calls] == ["GET"]  # the artifact list, and nothing written
