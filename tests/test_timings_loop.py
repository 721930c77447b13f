"""The timings loop against a local fake GitHub API: results artifacts of trusted runs in, a
branch that changes only .github/cigen/ and a compare link out (no pull request);
the round trip fetch -> calibrate -> render moves the plan; bad numbers never reach render."""

from __future__ import annotations

import base64
import io
import json
import shutil
import zipfile
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from generator.cli import cli
from generator.errors import UserError
from generator.github.client import GitHub
from generator.timings.loop import fetch_results, propose
from generator.timings.measure import Known, read_measurements
from generator.timings.provenance import TrustedRuns
from tests.support.rerun import FakeGitHub

REPO = "octo/gpu"
BASE = "0123456789abcdef0123456789abcdef01234567"
NOW = datetime(2026, 11, 30, 12, 0, tzinfo=timezone.utc)
GOLDEN_TREE = Path(__file__).parent / "golden" / "tree"
TIMINGS = ".github/cigen/timings.json"
PLAN = ".github/cigen/plan.json"
PER_COMMIT = ".github/workflows/cigen-per-commit.yml"
TRUST = TrustedRuns(REPO, frozenset({PER_COMMIT}), frozenset({"main"}))


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


def artifact(artifact_id: int, name: str, created: str, expired: bool = False, run_id: int = 11) -> dict:
    run = {"id": run_id, "repository_id": 1, "head_repository_id": 1, "head_branch": "main", "head_sha": "a" * 40}
    return {"id": artifact_id, "name": name, "created_at": created, "expired": expired, "workflow_run": run}


def run_answer(run_id: int, event: str = "push", head: str = REPO, started: str = "2026-11-30T09:00:00Z") -> dict:
    """GET /actions/runs/{id}, as far as the loop reads it."""
    return {
        "id": run_id,
        "event": event,
        "path": PER_COMMIT,
        "head_branch": "main",
        "repository": {"full_name": REPO},
        "head_repository": {"full_name": head},
        "run_attempt": 1,
        "run_started_at": started,
        "created_at": started,
    }


def serve_artifacts(server: FakeGitHub, listed: list[dict], zips: dict[int, bytes], runs: dict | None = None) -> None:
    """Artifacts listed on one page, their runs (default: run 11, a push on main), each zip behind
    a redirect to the fake's 'storage' path, as GitHub does."""
    server.on("GET", f"/repos/{REPO}/actions/artifacts", {"total_count": len(listed), "artifacts": listed})
    for run_id, answer in (runs or {11: run_answer(11)}).items():
        server.on("GET", f"/repos/{REPO}/actions/runs/{run_id}", answer)
    for artifact_id, data in zips.items():
        storage = f"/storage/{artifact_id}.zip"
        server.on(
            "GET", f"/repos/{REPO}/actions/artifacts/{artifact_id}/zip", None, 302, {"Location": server.url + storage}
        )
        server.on("GET", storage, data)


def test_fetch_keeps_recent_unexpired_results_artifacts_in_run_time_order(github, tmp_path):
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

    fetched = fetch_results(client(github), TRUST, 7, tmp_path / "results", NOW)

    names = ["2026-11-30T090000Z-11-1.json", "2026-11-30T090000Z-11-2.json"]
    assert [path.name for path in fetched.written] == names
    assert json.loads(fetched.written[0].read_text())["files"][0]["path"] == "test/base/test_batch.py"
    assert [p.format() for p in fetched.problems] == [
        "artifact 6: warning: results-missing: the artifact holds no cigen-results.json"
    ]
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
    args = ["timings", "fetch", "--repo", REPO, "--api-url", github.url, "--root", str(GOLDEN_TREE)]
    args += ["--out", str(tmp_path / "r")]
    summary = tmp_path / "summary.md"
    result = CliRunner().invoke(cli, [*args, "--github-output", str(output), "--summary", str(summary)])
    assert result.exit_code == 0, result.output
    assert "0 results files of trusted runs from the last 7 days" in result.output
    assert output.read_text() == "earlier=1\nresults=0\n"
    assert summary.read_text().splitlines()[2] == (
        "0 results files of trusted runs from the last 7 days. Trusted: push, schedule, workflow_dispatch runs of "
        ".github/workflows/cigen-nightly.yml, .github/workflows/cigen-per-commit.yml on main, release, "
        "of octo/gpu's own code."
    )

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


PULLS_FORBIDDEN = {"message": "GitHub Actions is not permitted to create or approve pull requests."}


def test_propose_pushes_only_the_changed_files_to_cigens_branch_and_opens_no_pull_request(github, tmp_path):
    """With "Allow GitHub Actions to create and approve pull requests" off (what `cigen audit`
    asks for), POST /pulls answers 403; the loop never calls it, and still ends with a link."""
    write_files(tmp_path, {TIMINGS: '{"new": 1}\n', PLAN: '{"plan": "same"}\n'})
    serve_repository(github, {TIMINGS: '{"old": 1}\n', PLAN: '{"plan": "same"}\n'})
    github.on("POST", f"/repos/{REPO}/pulls", PULLS_FORBIDDEN, 403)

    commit = propose(client(github), tmp_path, [TIMINGS, PLAN], "cigen/timings", "main", "| a | table |")

    assert commit == "d" * 40
    assert github.bodies("POST", f"/repos/{REPO}/git/blobs") == [{"content": '{"new": 1}\n', "encoding": "utf-8"}]
    (tree,) = github.bodies("POST", f"/repos/{REPO}/git/trees")
    assert tree == {
        "base_tree": "t" * 40,
        "tree": [{"path": TIMINGS, "mode": "100644", "type": "blob", "sha": "b" * 40}],
    }
    (posted,) = github.bodies("POST", f"/repos/{REPO}/git/commits")
    assert posted == {
        "message": "Update shard timings and plan\n\n"
        f"cigen timings calibrate and cigen render changed {TIMINGS}.\n\n| a | table |\n",
        "tree": "c" * 40,
        "parents": [BASE],
    }
    assert github.bodies("POST", f"/repos/{REPO}/git/refs") == [{"ref": "refs/heads/cigen/timings", "sha": "d" * 40}]
    assert [path for _, path in github.calls() if "/pulls" in path] == []


def test_propose_cli_prints_and_summarises_the_compare_link(github, tmp_path, monkeypatch):
    write_files(tmp_path, {TIMINGS: '{"new": 2}\n'})
    serve_repository(github, {}, branch_exists=True)  # the file is new on the base branch
    github.on("POST", f"/repos/{REPO}/pulls", PULLS_FORBIDDEN, 403)
    monkeypatch.setenv("GITHUB_TOKEN", "t0k")
    report, summary = tmp_path / "report.md", tmp_path / "summary.md"
    report.write_text("1 file estimate changed, 0 held back, from 1 sample.\n")
    args = ["timings", "propose", "--repo", REPO, "--api-url", github.url, "--root", str(tmp_path), "--base", "main"]
    args += ["--server-url", "https://github.example", "--report", str(report), "--summary", str(summary), TIMINGS]

    result = CliRunner().invoke(cli, args)

    assert result.exit_code == 0, result.output
    link = "https://github.example/octo/gpu/compare/main...cigen/timings?expand=1"
    assert result.output == f"pushed cigen/timings at {'d' * 40}; open the pull request: {link}\n"
    assert summary.read_text() == (
        f"### Timings\n\nPushed `cigen/timings` at {'d' * 40}. [Open the pull request]({link}) after reading it.\n\n"
        "1 file estimate changed, 0 held back, from 1 sample.\n"
    )
    assert github.bodies("PATCH", f"/repos/{REPO}/git/refs/heads/cigen/timings") == [{"sha": "d" * 40, "force": True}]
    assert [path for _, path in github.calls() if "/pulls" in path] == []


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
    """What the timings workflow does, step by step: fetch, calibrate --results, render."""
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
    assert len(fetch_results(client(github), TRUST, 14, folder, NOW).written) == 2

    calibrated = runner.invoke(
        cli, ["timings", "calibrate", "--root", str(root), "--results", str(folder), "--out", str(root / TIMINGS)]
    )  # without --previous: no bounds, as a maintainer calibrating by hand
    assert calibrated.exit_code == 0, calibrated.output
    assert "2 file estimates from 2 samples" in calibrated.output
    assert runner.invoke(cli, ["render", "--root", str(root)]).exit_code == 0

    after = json.loads(plan_path.read_text())
    assert after != before
    shards = [shard for suite in after["suites"].values() for shard in suite["shards"]]
    seconds_after = {entry["file"]: entry["est_seconds"] for shard in shards for entry in shard["files"]}
    assert seconds_after["test/base/test_batch.py"] > 1000 > seconds_after["test/base/test_generate.py"]


def test_a_truncated_listing_is_a_warning_that_says_how_much_was_not_read(github, tmp_path, monkeypatch):
    """F1c: 5,321 recent artifacts, of which the client reads 10 pages of 100; the old loop read
    1,000 without a word and exited 0 with whatever they held."""
    # the command reads the clock: the flood is an hour old whenever the test runs
    an_hour_ago = (datetime.now(timezone.utc) - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    flood = [artifact(n, f"cigen-results-flood-{n}-1", an_hour_ago, run_id=13) for n in range(1, 1001)]

    def pages(request):
        first = (int(request.query["page"]) - 1) * 100
        return {"total_count": 5321, "artifacts": flood[first : first + 100]}

    github.on("GET", f"/repos/{REPO}/actions/artifacts", pages)
    github.on("GET", f"/repos/{REPO}/actions/runs/13", run_answer(13, event="pull_request"))
    monkeypatch.setenv("GITHUB_TOKEN", "t0k")
    args = ["timings", "fetch", "--repo", REPO, "--api-url", github.url, "--root", str(GOLDEN_TREE)]

    summary = tmp_path / "summary.md"
    result = CliRunner().invoke(cli, [*args, "--out", str(tmp_path / "r"), "--summary", str(summary)])

    assert result.exit_code == 0, result.output
    assert summary.read_text().splitlines()[4:] == [
        "- skipped 1,000 artifacts from pull_request runs",
        "",
        "```text",
        result.stderr.strip(),
        "```",
        "",
    ]
    assert result.stderr == (
        "warning: artifacts-truncated: read the newest 1,000 of 5,321 artifacts, as many as one listing gives; "
        "4,321 older ones were not read, results of the last 7 days among them\n"
    )
    assert result.stdout.splitlines()[1:] == ["skipped 1,000 artifacts from pull_request runs"]
    assert [r.query["page"] for r in github.requests if r.path.endswith("/artifacts")] == [str(n) for n in range(1, 11)]
    assert len([r for r in github.requests if r.path.endswith("/runs/13")]) == 1  # one run, read once


NAN_RESULTS = '{"suite": "base-b", "shard": 0, "files": [{"path": "test/base/test_batch.py", "class": "passed", '
NAN_RESULTS += '"attempts": [{"seconds": NaN}]}]}'


def test_non_finite_seconds_never_reach_the_timings_file_or_render(tmp_path):
    """NaN passed the results schema, calibrate wrote it into timings.json, render died with a traceback."""
    root = tmp_path / "tree"
    shutil.copytree(GOLDEN_TREE, root)
    (tmp_path / "nan.json").write_text(NAN_RESULTS)
    runner = CliRunner()

    calibrated = runner.invoke(
        cli,
        [
            "timings",
            "calibrate",
            "--root",
            str(root),
            "--results",
            str(tmp_path / "nan.json"),
            "--out",
            str(root / TIMINGS),
        ],
    )

    assert calibrated.exit_code == 2
    assert calibrated.stderr.splitlines() == [
        f"{tmp_path / 'nan.json'}: results-json: NaN is not a finite number (JSON has no NaN or Infinity)",
        "1 error in 1 input file; nothing written.",
    ]
    assert not (root / TIMINGS).exists()
    (root / TIMINGS).parent.mkdir(parents=True, exist_ok=True)
    (root / TIMINGS).write_text(
        '{"version": 1, "files": [{"suite": "base-b", "path": "test/base/test_batch.py", '
        '"seconds": NaN, "samples": 1}]}\n'
    )  # a timings file written by the old loop
    rendered = runner.invoke(cli, ["render", "--root", str(root)])
    assert rendered.exit_code == 2 and isinstance(rendered.exception, SystemExit)
    assert rendered.stderr == (
        f"{root / TIMINGS}: timings-unreadable: NaN is not a finite number (JSON has no NaN or Infinity)\n"
    )


def test_a_file_measured_near_zero_leaves_a_timings_file_render_accepts(tmp_path):
    """0.001 s against est_time 400 made a suite ratio that rounded to 0.0, which the timings
    schema refuses: calibrate wrote a file render could not read."""
    root = tmp_path / "tree"
    shutil.copytree(GOLDEN_TREE, root)
    (tmp_path / "tiny.json").write_text(json.dumps(results("test/base/test_batch.py", 0.001)))
    runner = CliRunner()
    calibrated = runner.invoke(
        cli,
        [
            "timings",
            "calibrate",
            "--root",
            str(root),
            "--results",
            str(tmp_path / "tiny.json"),
            "--out",
            str(root / TIMINGS),
        ],
    )
    assert calibrated.exit_code == 0, calibrated.output
    assert json.loads((root / TIMINGS).read_text())["suite_ratio"] == {"base-b": 0.0001}
    rendered = runner.invoke(cli, ["render", "--root", str(root)])
    assert rendered.exit_code == 0, rendered.output


def test_samples_count_per_artifact_and_are_ordered_by_run_time_not_file_name(tmp_path):
    """F1b: the old loop wrote OUT/<artifact name>.json (same-named artifacts of different runs
    overwrote each other) and calibrate read the folder in name order; ewma weighs the newest most."""
    folder = tmp_path / "results"
    folder.mkdir()
    runs = [("z-oldest.json", "2026-11-28T09:00:00Z", 100.0), ("a-newest.json", "2026-11-30T09:00:00Z", 300.0)]
    runs.insert(1, ("m-middle.json", "2026-11-29T09:00:00Z", 200.0))
    for number, (name, started, seconds) in enumerate(runs, 1):
        document = results("test/base/test_batch.py", seconds)
        document["github"] = {"run_id": str(number), "run_started_at": started}
        (folder / name).write_text(json.dumps(document))
    known = Known({"test/base/test_batch.py"}, {"base-b"}, ("cuda",))

    samples = read_measurements({"results": [folder]}, known).samples

    assert [(s.seconds, s.run_id, s.run_time) for s in samples] == [
        (100.0, 1, "2026-11-28T09:00:00Z"),
        (200.0, 2, "2026-11-29T09:00:00Z"),
        (300.0, 3, "2026-11-30T09:00:00Z"),
    ]


def test_the_timings_workflow_asks_for_no_pull_request_permission():
    """What `cigen audit` asks for (default token read, Actions may not create pull requests) is
    all the loop needs: the job's own permissions are these two, and no step opens a pull request."""
    workflow = yaml.safe_load((GOLDEN_TREE.parent / "expected/workflows/cigen-timings.yml").read_text())
    (job,) = workflow["jobs"].values()
    assert workflow["permissions"] == {}
    assert job["permissions"] == {"actions": "read", "contents": "write"}
    assert not any("pulls" in step.get("run", "") or "gh pr" in step.get("run", "") for step in job["steps"])


@pytest.mark.parametrize(
    "change, line",
    [
        ({"head_repository": None}, "skipped 1 artifact from runs of code from another repository"),
        (
            {"head_repository": {"full_name": "mallory/gpu"}},
            "skipped 1 artifact from runs of code from another repository",
        ),
        ({"event": "pull_request"}, "skipped 1 artifact from pull_request runs"),
        ({"head_branch": None}, "skipped 1 artifact from runs on other branches"),
        ({"path": ".github/workflows/cigen-nightly.yml"}, "skipped 1 artifact from runs of other workflows"),
    ],
    ids=["deleted fork", "fork", "pull request", "no branch", "workflow not trusted here"],
)
def test_the_runs_answer_decides_trust(github, tmp_path, change, line):
    listed = [artifact(1, "cigen-results-base-b-0-1", "2026-11-30T09:00:00Z")]
    zips = {1: zipped({"cigen-results.json": json.dumps(results("test/base/test_batch.py", 0))})}
    serve_artifacts(github, listed, zips, {11: {**run_answer(11), **change}})
    fetched = fetch_results(client(github), TRUST, 7, tmp_path / "results", NOW)
    assert (fetched.written, fetched.lines(), fetched.problems) == ((), [line], ())
    assert not [r for r in github.requests if r.path.endswith("/zip")]


def test_a_runs_answer_that_cannot_be_read_is_a_warning_and_no_trust(github, tmp_path):
    listed = [artifact(1, "cigen-results-base-b-0-1", "2026-11-30T09:00:00Z")]
    answer = {key: value for key, value in run_answer(11).items() if key != "event"}
    serve_artifacts(github, listed, {}, {11: answer})
    fetched = fetch_results(client(github), TRUST, 7, tmp_path / "results", NOW)
    assert [p.format() for p in fetched.problems] == [
        "artifact 1: warning: artifact-run: its run cannot be read: unexpected answer: answer.event is missing"
    ]
    assert fetched.written == ()
