"""The timings loop in act (issue 14, item 5): the rendered cigen-calibrate.yml of the sglang-shaped
fixture downloads the shard results artifacts from the fake API, calibrates, re-plans and proposes
a pull request that changes only .github/cigen/; with no results it changes nothing.

cigen is installed as users' workflows do, `pip install --require-hashes` from the wheelhouse of
tests/act/wheelhouse.py with no index reachable. Each artifact download answers with a redirect to
the fake's "storage" path, as GitHub does; the token must not follow it there.
"""

from __future__ import annotations

import base64
import io
import json
import zipfile
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from tests.act.concurrent import Runs, run_concurrently
from tests.act.fixture import DEFAULT_BRANCH, REPOSITORY, FixtureRepo, dispatch_event
from tests.act.harness import ActRun, run_workflow
from tests.act.sglang_repo import CONFIG, make_sglang_repo
from tests.act.wheelhouse import build_wheelhouse, hashed_requirements, offline_pip_env
from tests.rerun_support import FakeGitHub, Recorded

WORKFLOW = "cigen-calibrate.yml"
REQUIREMENTS = ".github/cigen/requirements.txt"
TIMINGS, PLAN = ".github/cigen/timings.json", ".github/cigen/plan.json"
BATCH = "test/registered/core/test_batch.py"  # base-b-test-1-gpu-small, est_time 400
GENERATE = "test/registered/core/test_generate.py"  # same suite, est_time 500
SUITE = "base-b-test-1-gpu-small"
MEASURED = {BATCH: 2000.0, GENERATE: 40.0}  # what the last runs of the suite's shards took
API = f"/repos/{REPOSITORY}"
NEW_COMMIT = "d" * 40


@pytest.fixture(scope="module")
def repo(tmp_path_factory) -> tuple[FixtureRepo, Path]:
    wheels = build_wheelhouse(tmp_path_factory.mktemp("wheelhouse"))
    loop = f"  cigen_requirements: {REQUIREMENTS}\n  timings: {TIMINGS}\n  calibrate: {{cron: '0 6 * * 1', days: 14}}\n"
    files = {"cigen.yml": CONFIG + loop, REQUIREMENTS: hashed_requirements(wheels)}
    return make_sglang_repo(tmp_path_factory.mktemp("calibrate") / "repo", files), wheels


def results_zip(path: str, seconds: float) -> bytes:
    """A shard's results artifact: the runner's results file, zipped as upload-artifact stores it."""
    passed = {"path": path, "class": "passed", "attempts": [{"seconds": seconds}]}
    results = {"suite": SUITE, "shard": 0, "files": [passed]}
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("cigen-results.json", json.dumps(results))
    return buffer.getvalue()


def serve_loop(api: FakeGitHub, repo: FixtureRepo, with_results: bool) -> None:
    """The artifacts (one per measured file, an hour old) and the git data the proposal writes."""
    created = (datetime.now(timezone.utc) - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    listed = []
    for number, (path, seconds) in enumerate(MEASURED.items(), 1) if with_results else ():
        name = f"cigen-results-base-b-test-1-gpu-small-{number - 1}-1"
        listed.append({"id": number, "name": name, "created_at": created, "expired": False})
        storage = f"/storage/{number}.zip"
        api.on("GET", f"{API}/actions/artifacts/{number}/zip", None, 302, {"Location": api.url + storage})
        api.on("GET", storage, results_zip(path, seconds))
    api.on("GET", f"{API}/actions/artifacts", {"total_count": len(listed), "artifacts": listed})
    api.on("GET", f"{API}/git/ref/heads/{DEFAULT_BRANCH}", {"object": {"sha": repo.head}})
    plan = base64.b64encode((repo.path / PLAN).read_bytes()).decode()
    api.on("GET", f"{API}/contents/{PLAN}", {"encoding": "base64", "content": plan})  # the timings file: 404, new
    api.on("GET", f"{API}/git/commits/{repo.head}", {"sha": repo.head, "tree": {"sha": "t" * 40}})
    api.on("POST", f"{API}/git/blobs", lambda request: {"sha": f"{len(request.body['content']):040x}"}, 201)
    api.on("POST", f"{API}/git/trees", {"sha": "c" * 40}, 201)
    api.on("POST", f"{API}/git/commits", {"sha": NEW_COMMIT}, 201)
    api.on("POST", f"{API}/git/refs", {"ref": "refs/heads/cigen/timings"}, 201)
    api.on("GET", f"{API}/pulls", [])
    api.on("POST", f"{API}/pulls", {"html_url": f"https://github.com/{REPOSITORY}/pull/99"}, 201)


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
    root = tmp_path_factory.mktemp("calibrate-runs")
    clone = fixture.clone(root / "clone")  # one working copy per concurrent run
    return run_concurrently(
        {
            "results": lambda: act(fixture, wheels, root / "results", with_results=True),
            "no results": lambda: act(clone, wheels, root / "no-results", with_results=False),
        }
    )


def posted(calls: list[Recorded], suffix: str) -> list[object]:
    return [call.body for call in calls if call.method == "POST" and call.path.endswith(suffix)]


def test_the_loop_proposes_measured_timings_and_a_new_plan_and_nothing_else(runs, repo):
    result = runs["results"]
    assert result.errors == [] and result.leftovers == [], result.text
    assert result.results() == {"calibrate": "success"}
    calls = result.api_calls
    storage = [call for call in calls if call.path.startswith("/storage/")]
    assert len(storage) == 2 and all("authorization" not in call.headers for call in storage)
    (tree,) = posted(calls, "/git/trees")
    assert sorted(entry["path"] for entry in tree["tree"]) == [PLAN, TIMINGS]  # never a workflow file
    blobs = [json.loads(body["content"]) for body in posted(calls, "/git/blobs")]
    plan = next(blob for blob in blobs if "suites" in blob)
    seconds = {f["file"]: f["est_seconds"] for shard in plan["suites"][SUITE]["shards"] for f in shard["files"]}
    assert seconds[BATCH] == pytest.approx(2000, rel=0.01) and seconds[GENERATE] == pytest.approx(40, rel=0.01)
    committed = json.loads((repo[0].path / PLAN).read_text())
    before = {f["file"]: f["est_seconds"] for shard in committed["suites"][SUITE]["shards"] for f in shard["files"]}
    assert (before[BATCH], before[GENERATE]) == (400, 500)  # the est_time the fixture registers
    assert posted(calls, "/git/refs") == [{"ref": "refs/heads/cigen/timings", "sha": NEW_COMMIT}]
    (pull,) = posted(calls, "/pulls")
    assert (pull["head"], pull["base"]) == ("cigen/timings", DEFAULT_BRANCH)
    assert any("proposed: https://github.com/octo/fixture/pull/99" in line for line in result.job("calibrate").lines)


def test_without_results_the_loop_changes_nothing(runs):
    result = runs["no results"]
    assert result.results() == {"calibrate": "success"}
    outcomes = result.job("calibrate").outcomes()
    assert outcomes["Calibrate and re-plan"] == outcomes["Propose the new timings and plan"] == "skipped"
    assert [call.method for call in result.api_calls] == ["GET"]  # the artifact list, and nothing written
