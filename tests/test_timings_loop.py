"""The timings loop against a local fake GitHub API: results artifacts in, a pull request that
changes only .github/cigen/ out; and the round trip fetch -> calibrate -> render moves the plan."""

from __future__ import annotations

import base64
import io
import json
import shutil
import zipfile
from datetime import datetime, timezone
from pathlib import Path

import pytest
from click.testing import CliRunner

from generator.cli import cli
from generator.errors import UserError
from generator.github.client import GitHub
from generator.timings.loop import fetch_results, propose
from tests.rerun_support import FakeGitHub

REPO = "octo/gpu"
BASE = "0123456789abcdef0123456789abcdef01234567"
NOW = datetime(2026, 11, 30, 12, 0, tzinfo=timezone.utc)
GOLDEN_TREE = Path(__file__).parent / "golden" / "tree"
TIMINGS = ".github/cigen/timings.json"
PLAN = ".github/cigen/plan.json"


@pytest.fixture
def github():
    with FakeGitHub() as server:
        yield server


def client(server: FakeGitHub) -> GitHub:
    return GitHub(repo=REPO, token="t0k", api_url=server.url)


def results(path: str, seconds: float, suite: str = "base-b") -> dict:
    return {
        "suite": suite,
        "shard": 0,
        "files": [{"path": path, "class": "passed", "attempts": [{"seconds": seconds}]}],
    }


def zipped(members: dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, text in members.items():
            archive.writestr(name, text)
    return buffer.getvalue()


def artifact(artifact_id: int, name: str, created: str, expired: bool = False) -> dict:
    return {"id": artifact_id, "name": name, "created_at": created, "expired": expired}


def serve_artifacts(server: FakeGitHub, listed: list[dict], zips: dict[int, bytes]) -> None:
    """Artifacts listed on one page; each zip behind a redirect to the fake's 'storage' path, as GitHub does."""
    server.on("GET", f"/repos/{REPO}/actions/artifacts", {"total_count": len(listed), "artifacts": listed})
    for artifact_id, data in zips.items():
        storage = f"/storage/{artifact_id}.zip"
        server.on(
            "GET", f"/repos/{REPO}/actions/artifacts/{artifact_id}/zip", None, 302, {"Location": server.url + storage}
        )
        server.on("GET", storage, data)


def test_fetch_keeps_only_recent_unexpired_results_artifacts_newest_first(github, tmp_path):
    listed = [
        artifact(1, "cigen-results-base-b-0-1", "2026-11-29T10:00:00Z"),
        artifact(2, "cigen-results-base-b-1-1", "2026-11-30T09:00:00Z"),
        artifact(3, "cigen-results-base-a-0-1", "2026-11-28T10:00:00Z", expired=True),
        artifact(4, "cigen-results-base-a-0-2", "2026-11-01T10:00:00Z"),  # older than --days 7
        artifact(5, "coverage-report", "2026-11-30T10:00:00Z"),
        artifact(6, "cigen-results-broken-0-1", "2026-11-30T08:00:00Z"),  # a zip without a results file
    ]
    zips = {
        1: zipped({"cigen-results.json": json.dumps(results("test/base/test_batch.py", 410))}),
        2: zipped({"cigen-results.json": json.dumps(results("test/base/test_generate.py", 520))}),
        6: zipped({"something-else.txt": "no results here"}),
    }
    serve_artifacts(github, listed, zips)

    written = fetch_results(client(github), 7, tmp_path / "results", NOW)

    assert [path.name for path in written] == ["cigen-results-base-b-1-1.json", "cigen-results-base-b-0-1.json"]
    assert json.loads(written[1].read_text())["files"][0]["path"] == "test/base/test_batch.py"
    downloaded = [r.path for r in github.requests if r.path.endswith(".zip") or r.path.endswith("/zip")]
    assert "/repos/octo/gpu/actions/artifacts/3/zip" not in downloaded  # expired: never asked for
    assert "/repos/octo/gpu/actions/artifacts/4/zip" not in downloaded  # too old
    assert "/repos/octo/gpu/actions/artifacts/5/zip" not in downloaded  # not a results artifact
    api = [r for r in github.requests if r.path.startswith("/repos/")]
    storage = [r for r in github.requests if r.path.startswith("/storage/")]
    assert api and all(r.headers.get("authorization") == "Bearer t0k" for r in api)
    assert storage and all("authorization" not in r.headers for r in storage)  # the token stays with the API


def test_fetch_cli_counts_for_later_steps_and_an_api_failure_is_an_error(github, tmp_path, monkeypatch):
    serve_artifacts(github, [], {})
    monkeypatch.setenv("GITHUB_TOKEN", "t0k")
    output = tmp_path / "github_output"
    output.write_text("earlier=1\n")
    args = ["timings", "fetch", "--repo", REPO, "--api-url", github.url, "--out", str(tmp_path / "r")]
    result = CliRunner().invoke(cli, [*args, "--github-output", str(output)])
    assert result.exit_code == 0, result.output
    assert "0 results files from the last 7 days" in result.output
    assert output.read_text() == "earlier=1\nresults=0\n"

    github.on("GET", f"/repos/{REPO}/actions/artifacts", {"message": "Bad credentials"}, 401)
    failed = CliRunner().invoke(cli, args)
    assert failed.exit_code != 0
    assert "HTTP 401" in failed.output and "Traceback" not in failed.output


def serve_repository(server: FakeGitHub, files_on_base: dict[str, str], branch_exists: bool = False) -> None:
    server.on("GET", f"/repos/{REPO}/git/ref/heads/main", {"ref": "refs/heads/main", "object": {"sha": BASE}})
    for path, text in files_on_base.items():
        content = base64.b64encode(text.encode()).decode()
        server.on("GET", f"/repos/{REPO}/contents/{path}", {"encoding": "base64", "content": content})
    server.on("GET", f"/repos/{REPO}/git/commits/{BASE}", {"sha": BASE, "tree": {"sha": "t" * 40}})
    server.on("POST", f"/repos/{REPO}/git/blobs", {"sha": "b" * 40})
    server.on("POST", f"/repos/{REPO}/git/trees", {"sha": "c" * 40})
    server.on("POST", f"/repos/{REPO}/git/commits", {"sha": "d" * 40})
    if branch_exists:
        server.on("GET", f"/repos/{REPO}/git/ref/heads/cigen/timings", {"object": {"sha": "e" * 40}})
    server.on("POST", f"/repos/{REPO}/git/refs", {"ref": "refs/heads/cigen/timings"}, 201)
    server.on("PATCH", f"/repos/{REPO}/git/refs/heads/cigen/timings", {"ref": "refs/heads/cigen/timings"})
    server.on("GET", f"/repos/{REPO}/pulls", [])
    server.on("POST", f"/repos/{REPO}/pulls", {"html_url": "https://github.com/octo/gpu/pull/77"}, 201)


def write_files(root: Path, files: dict[str, str]) -> None:
    for path, text in files.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_text(text)


def test_propose_commits_only_the_changed_files_on_cigens_branch_and_opens_a_pull_request(github, tmp_path):
    write_files(tmp_path, {TIMINGS: '{"new": 1}\n', PLAN: '{"plan": "same"}\n'})
    serve_repository(github, {TIMINGS: '{"old": 1}\n', PLAN: '{"plan": "same"}\n'})

    url = propose(client(github), tmp_path, [TIMINGS, PLAN], "cigen/timings", "main", "Update shard timings and plan")

    assert url == "https://github.com/octo/gpu/pull/77"
    assert github.bodies("POST", f"/repos/{REPO}/git/blobs") == [{"content": '{"new": 1}\n', "encoding": "utf-8"}]
    (tree,) = github.bodies("POST", f"/repos/{REPO}/git/trees")
    assert tree == {
        "base_tree": "t" * 40,
        "tree": [{"path": TIMINGS, "mode": "100644", "type": "blob", "sha": "b" * 40}],
    }
    (commit,) = github.bodies("POST", f"/repos/{REPO}/git/commits")
    assert commit["parents"] == [BASE] and commit["tree"] == "c" * 40
    assert github.bodies("POST", f"/repos/{REPO}/git/refs") == [{"ref": "refs/heads/cigen/timings", "sha": "d" * 40}]
    (opened,) = github.bodies("POST", f"/repos/{REPO}/pulls")
    assert opened["head"] == "cigen/timings" and opened["base"] == "main"
    assert TIMINGS in opened["body"] and PLAN not in opened["body"]


def test_propose_moves_an_existing_branch_and_reuses_its_open_pull_request(github, tmp_path):
    write_files(tmp_path, {TIMINGS: '{"new": 2}\n'})
    serve_repository(github, {}, branch_exists=True)  # the file is new on the base branch
    github.on("GET", f"/repos/{REPO}/pulls", [{"html_url": "https://github.com/octo/gpu/pull/70"}])

    url = propose(client(github), tmp_path, [TIMINGS], "cigen/timings", "main", "Update shard timings and plan")

    assert url == "https://github.com/octo/gpu/pull/70"
    assert github.bodies("PATCH", f"/repos/{REPO}/git/refs/heads/cigen/timings") == [{"sha": "d" * 40, "force": True}]
    assert github.calls("POST") == [(m, p) for m, p in github.calls("POST") if "/pulls" not in p]
    (listed,) = [r for r in github.requests if r.method == "GET" and r.path.endswith("/pulls")]
    assert listed.query == {"head": "octo:cigen/timings", "base": "main", "state": "open"}


def test_propose_nothing_when_the_base_branch_has_the_same_files(github, tmp_path):
    write_files(tmp_path, {TIMINGS: "{}\n", PLAN: "[]\n"})
    serve_repository(github, {TIMINGS: "{}\n", PLAN: "[]\n"})

    assert propose(client(github), tmp_path, [TIMINGS, PLAN], "cigen/timings", "main", "t") is None
    assert github.calls("POST") == [] and github.calls("PATCH") == []


@pytest.mark.parametrize(
    "path",
    [".github/workflows/cigen-per-commit.yml", ".github/cigen/../workflows/x.yml", "cigen.yml", "/.github/cigen/a"],
)
def test_propose_refuses_anything_outside_the_cigen_folder_before_calling_the_api(github, tmp_path, monkeypatch, path):
    monkeypatch.setenv("GITHUB_TOKEN", "t0k")
    args = ["timings", "propose", "--repo", REPO, "--api-url", github.url, "--root", str(tmp_path), "--base", "main"]
    result = CliRunner().invoke(cli, [*args, TIMINGS, path])
    assert result.exit_code == 2
    assert f"{path}: not-proposable" in result.output and "Traceback" not in result.output
    assert github.requests == []
    with pytest.raises(UserError):
        propose(client(github), tmp_path, [path], "cigen/timings", "main", "t")


def test_round_trip_fetched_results_calibrate_the_timings_and_move_the_plan(github, tmp_path):
    """What the calibrate workflow does, step by step: fetch, calibrate --results, render."""
    root = tmp_path / "tree"
    shutil.copytree(GOLDEN_TREE, root)
    plan_path = root / PLAN
    runner = CliRunner()
    assert runner.invoke(cli, ["render", "--root", str(root)]).exit_code == 0
    before = json.loads(plan_path.read_text())
    measured = {"test/base/test_batch.py": 2000.0, "test/base/test_generate.py": 40.0}  # est_time 400 and 500
    listed = [artifact(n, f"cigen-results-base-b-{n}-1", "2026-11-30T09:00:00Z") for n in (1, 2)]
    zips = {
        n: zipped({"cigen-results.json": json.dumps(results(path, s))})
        for n, (path, s) in enumerate(measured.items(), 1)
    }
    serve_artifacts(github, listed, zips)
    folder = tmp_path / "results"
    assert len(fetch_results(client(github), 14, folder, NOW)) == 2

    calibrated = runner.invoke(
        cli, ["calibrate", "--root", str(root), "--results", str(folder), "--out", str(root / TIMINGS)]
    )
    assert calibrated.exit_code == 0, calibrated.output
    assert "2 file estimates from 2 samples" in calibrated.output
    assert runner.invoke(cli, ["render", "--root", str(root)]).exit_code == 0

    after = json.loads(plan_path.read_text())
    assert after != before
    shards = [shard for suite in after["suites"].values() for shard in suite["shards"]]
    seconds_after = {entry["file"]: entry["est_seconds"] for shard in shards for entry in shard["files"]}
    assert seconds_after["test/base/test_batch.py"] > 1000 > seconds_after["test/base/test_generate.py"]
