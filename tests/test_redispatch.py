"""The re-dispatch program (generator/shipped/redispatch.py) against a fake API: it re-runs a failed
run's jobs once only when every failure was the machine's, never for a test failure, a timeout or an
exhausted flaky-accuracy retry, and reads the results artifacts as untrusted data."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

import pytest
import yaml

from generator.shipped import fleet, redispatch
from generator.shipped.run_shard import FAILURE_CLASSES
from tests.support.redispatch import (
    BASE,
    RERUN,
    ApiJob,
    FakeRun,
    artifact_name,
    results_artifacts,
    results_doc,
    workflow_run_event,
    zipped,
)
from tests.support.rerun import FakeGitHub

PROGRAM = Path(redispatch.__file__)
TIMINGS_HOSTILE = [
    case
    for case in yaml.safe_load((Path(__file__).parent / "cases/timings/hostile.yml").read_text())
    if case["category"] == "artifact"
]
SHARD = "base (shard 0)"
GATE = ApiJob("Which suites run", "success", runner="GitHub Actions 1", steps=(("Decide", "success"),))
FINISH = ApiJob("Result", "failure", runner="GitHub Actions 2", steps=(("Check every job", "failure"),))
NO_GPU = ("nvidia-smi", "nvidia-smi exited 6: No devices were found")


def run_program(tmp_path: Path, api: FakeGitHub, event: dict, *args: str) -> tuple[subprocess.CompletedProcess, str]:
    """`python3 redispatch.py ARGS` as the workflow step runs it; the run and its step summary."""
    event_path, summary = tmp_path / "event.json", tmp_path / "summary.md"
    event_path.write_text(json.dumps(event))
    env = {k: v for k, v in os.environ.items() if not k.startswith("GITHUB_")}
    env.update(
        GITHUB_API_URL=api.url,
        GITHUB_REPOSITORY="octo/fixture",
        GITHUB_TOKEN="fake-token",
        GITHUB_EVENT_PATH=str(event_path),
        GITHUB_STEP_SUMMARY=str(summary),
    )
    done = subprocess.run(
        [sys.executable, str(PROGRAM), "--daily-cap", "3", "--ignore-job", "Result", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    return done, summary.read_text() if summary.exists() else ""


def posts(api: FakeGitHub) -> list[tuple[str, object]]:
    return [(r.path, r.body) for r in api.requests if r.method == "POST"]


def one_failed_shard(doc: dict, **run: object) -> FakeRun:
    return FakeRun(jobs=[GATE, ApiJob(SHARD, "failure"), FINISH], artifacts=results_artifacts({"base": doc}), **run)


def test_an_infra_failure_is_re_dispatched_once_with_one_line_on_the_pull_request(tmp_path):
    with FakeGitHub() as api:
        one_failed_shard(results_doc(SHARD, preflight=NO_GPU, drained=True)).serve(api)
        done, summary = run_program(tmp_path, api, workflow_run_event())
    assert (done.returncode, done.stderr) == (0, "")
    line = (
        "cigen: the GPU jobs failed on the machine, not the code (runner `gpu-h100-7` failed probe `nvidia-smi`);"
        " the failed jobs were re-dispatched as attempt 2: https://github.com/octo/fixture/actions/runs/4242"
    )
    assert posts(api) == [(RERUN, {}), (f"{BASE}/issues/7/comments", {"body": line})]
    assert done.stdout == line + "\n"
    assert "| base (shard 0) | `gpu-h100-7` | nvidia-smi | nvidia-smi exited 6: No devices were found |" in summary
    assert "### Runners of this attempt, as its results files tell it" in summary.splitlines()
    assert '    x-axis ["gpu-h100-7"]' in summary.splitlines()  # the mermaid chart
    tokens = {r.headers.get("authorization") for r in api.requests}
    assert tokens == {"Bearer fake-token"}


@pytest.mark.parametrize(
    "what, doc, blocker",
    [
        ("a test failure", results_doc(SHARD, 1, files=[("t/a.py", "test", "")]), "test (a test's failure"),
        ("an exhausted flaky retry", results_doc(SHARD, 1, files=[("t/a.py", "flaky-accuracy", "")]),
         "flaky-accuracy (a test's failure"),
        ("a timeout", results_doc(SHARD, 1, files=[("t/a.py", "timeout", "")]), "timeout (a test's failure"),
        ("infra beside a test failure", results_doc(SHARD, 1, files=[("t/a.py", "infra", "cuda-init"),
                                                                    ("t/b.py", "test", "")]), "infra, test"),
    ],
)  # fmt: skip
def test_a_failure_of_the_code_is_never_re_dispatched(tmp_path, what, doc, blocker):
    with FakeGitHub() as api:
        one_failed_shard(doc).serve(api)
        done, summary = run_program(tmp_path, api, workflow_run_event())
    assert (done.returncode, posts(api)) == (0, []), what
    assert done.stdout.splitlines()[0] == "not re-dispatched: not every failure is the machine's: nothing re-dispatched"
    assert blocker in done.stdout


def test_one_code_failure_among_infra_failures_withholds_the_re_run(tmp_path):
    jobs = [GATE, ApiJob("base (shard 0)", "failure"), ApiJob("base (shard 1)", "failure", runner="gpu-h100-8"), FINISH]
    docs = {
        "base-0": results_doc("base (shard 0)", preflight=NO_GPU),
        "base-1": results_doc("base (shard 1)", 1, runner="gpu-h100-8", files=[("t/a.py", "test", "")]),
    }
    with FakeGitHub() as api:
        FakeRun(jobs, results_artifacts(docs)).serve(api)
        done, _ = run_program(tmp_path, api, workflow_run_event())
    assert posts(api) == []
    assert "  base (shard 1): test (a test's failure, never re-dispatched)" in done.stdout.splitlines()


@pytest.mark.parametrize(
    "job, expected",
    [
        (ApiJob(SHARD, "failure", steps=(("Set up job", "failure"),)), "job-started-hook"),
        (ApiJob(SHARD, "failure", steps=(("Set up job", "success"), ("Run shard", None))), "lost-runner"),
        (ApiJob(SHARD, "failure", runner="", steps=()), "lost-runner"),
    ],
)
def test_a_failed_hook_or_a_lost_runner_without_results_is_infra(tmp_path, job, expected):
    with FakeGitHub() as api:
        FakeRun([GATE, job, FINISH]).serve(api)
        done, _ = run_program(tmp_path, api, workflow_run_event())
    assert posts(api)[0] == (RERUN, {})
    assert f"failed probe `{expected}`" in done.stdout


@pytest.mark.parametrize(
    "job, blocker",
    [
        (ApiJob(SHARD, "timed_out"), "base (shard 0): timed_out (never re-dispatched)"),
        (ApiJob(SHARD, "cancelled"), "base (shard 0): cancelled (never re-dispatched)"),
        (ApiJob(SHARD, "failure", steps=(("Set up", "failure"),)), "base (shard 0): failed without results (Set up"),
        (ApiJob("Which suites run", "failure", steps=(("Decide", "failure"),)), "Which suites run: failed without"),
    ],
)
def test_timeouts_cancellations_and_unexplained_failures_are_never_re_dispatched(tmp_path, job, blocker):
    with FakeGitHub() as api:
        FakeRun([job, FINISH]).serve(api)
        done, _ = run_program(tmp_path, api, workflow_run_event())
    assert posts(api) == []
    assert blocker in done.stdout


def test_a_second_attempt_is_never_re_dispatched_and_a_passing_run_is_left_alone(tmp_path):
    with FakeGitHub() as api:
        one_failed_shard(results_doc(SHARD, preflight=NO_GPU), attempt=2).serve(api)
        done, _ = run_program(tmp_path, api, workflow_run_event(attempt=2))
        assert done.stdout == "not re-dispatched: attempt 2: a run is re-dispatched once, never twice\n"
        done, _ = run_program(tmp_path, api, workflow_run_event(conclusion="success"))
        assert done.stdout == "not re-dispatched: the run's conclusion is success: nothing to do\n"
    assert api.requests == []


def test_the_daily_cap_and_a_re_run_meanwhile_stop_it(tmp_path):
    with FakeGitHub() as api:
        one_failed_shard(results_doc(SHARD, preflight=NO_GPU), reruns_today=3).serve(api)
        done, _ = run_program(tmp_path, api, workflow_run_event())
    assert (posts(api), done.stdout.splitlines()[0]) == (
        [],
        "not re-dispatched: the daily cap of 3 re-dispatched runs is reached",
    )
    # A busy day: the re-runs are on the third page of today's runs; every page is read, today's only.
    with FakeGitHub() as api:
        one_failed_shard(results_doc(SHARD, preflight=NO_GPU), reruns_today=3, first_runs_today=250).serve(api)
        done, _ = run_program(tmp_path, api, workflow_run_event())
    listed = [r.query for r in api.requests if r.path == f"{BASE}/actions/runs"]
    assert [q["page"] for q in listed] == ["1", "2", "3"]
    assert {q["created"] for q in listed} == {f">={datetime.now(timezone.utc):%Y-%m-%d}"}
    assert (posts(api), done.stdout.splitlines()[0]) == (
        [],
        "not re-dispatched: the daily cap of 3 re-dispatched runs is reached",
    )
    # Two re-runs today, the cap is 3: this one is re-dispatched.
    with FakeGitHub() as api:
        one_failed_shard(results_doc(SHARD, preflight=NO_GPU), reruns_today=2, first_runs_today=250).serve(api)
        run_program(tmp_path, api, workflow_run_event())
    assert posts(api)[0] == (RERUN, {})
    with FakeGitHub() as api:
        one_failed_shard(results_doc(SHARD, preflight=NO_GPU), current_attempt=2).serve(api)
        done, _ = run_program(tmp_path, api, workflow_run_event())
    assert (posts(api), done.stdout) == ([], "not re-dispatched: the run was re-run meanwhile: nothing re-dispatched\n")


def test_without_comment_or_pull_request_the_line_goes_to_the_summary_only(tmp_path):
    with FakeGitHub() as api:
        one_failed_shard(results_doc(SHARD, preflight=NO_GPU)).serve(api)
        done, summary = run_program(tmp_path, api, workflow_run_event(), "--no-comment")
        assert posts(api) == [(RERUN, {})]
        assert "re-dispatched as attempt 2" in summary.splitlines()[4]
        api.requests.clear()
        done, _ = run_program(tmp_path, api, workflow_run_event(pulls=()))
        assert posts(api) == [(RERUN, {})]


@pytest.mark.parametrize(
    "archive",
    [
        zipped("{not json"),
        zipped(json.dumps({"version": 1})),
        zipped(json.dumps(results_doc(SHARD, preflight=NO_GPU)), name="other.json"),
        b"not a zip",
        zipped(json.dumps(results_doc(SHARD, preflight=("nvidia-smi; rm -rf /", "x")))),
        zipped(json.dumps(results_doc(SHARD, runner="a`b|c", preflight=NO_GPU))),
    ],
)
def test_unreadable_or_forged_results_withhold_the_re_run(tmp_path, archive):
    with FakeGitHub() as api:
        FakeRun([GATE, ApiJob(SHARD, "failure"), FINISH], {artifact_name("base"): archive}).serve(api)
        done, _ = run_program(tmp_path, api, workflow_run_event())
    assert posts(api) == []
    assert "unreadable results" in done.stdout


def test_an_oversized_artifact_is_never_downloaded(tmp_path):
    name = artifact_name("base")
    with FakeGitHub() as api:
        run = FakeRun([GATE, ApiJob(SHARD, "failure"), FINISH], results_artifacts({"base": results_doc(SHARD)}))
        run.sizes = {name: 50 * 2**20}
        run.serve(api)
        done, _ = run_program(tmp_path, api, workflow_run_event())
    assert not [r for r in api.requests if r.path.endswith("/zip")]
    assert (posts(api), f"  {name}: unreadable results (BadZipFile)" in done.stdout.splitlines()) == ([], True)


def test_the_artifact_download_follows_the_storage_redirect_without_the_token(tmp_path):
    with FakeGitHub() as api:
        one_failed_shard(results_doc(SHARD, preflight=NO_GPU)).serve(api)
        data = api.routes[("GET", f"{BASE}/actions/artifacts/500/zip")][1]
        api.on("GET", f"{BASE}/actions/artifacts/500/zip", None, status=302, headers={"Location": f"{api.url}/blob"})
        api.on("GET", "/blob", data)
        done, _ = run_program(tmp_path, api, workflow_run_event())
    blob = [r for r in api.requests if r.path == "/blob"]
    assert len(blob) == 1 and "authorization" not in blob[0].headers
    assert posts(api)[0] == (RERUN, {})


def test_only_this_attempts_artifacts_are_read(tmp_path):
    older = {artifact_name("base", attempt=11): zipped(json.dumps(results_doc(SHARD, 1, files=[("a", "test", "")])))}
    with FakeGitHub() as api:
        run = one_failed_shard(results_doc(SHARD, preflight=NO_GPU))
        run.artifacts = {**run.artifacts, **older}
        run.serve(api)
        run_program(tmp_path, api, workflow_run_event())
    assert posts(api)[0] == (RERUN, {})
    assert [r.path for r in api.requests if r.path.endswith("/zip")] == [f"{BASE}/actions/artifacts/500/zip"]


def test_usage_and_api_errors_are_one_line(tmp_path):
    with FakeGitHub() as api:  # no routes: every call is a 404
        done, _ = run_program(tmp_path, api, workflow_run_event())
    assert done.returncode == 1 and done.stderr.startswith("redispatch.py: the GitHub API failed: GET ")
    with FakeGitHub() as api:
        done, _ = run_program(tmp_path, api, {"action": "completed"})
    assert (done.returncode, done.stderr) == (2, "redispatch.py: not a workflow_run event\n")


def test_the_fleet_reader_knows_every_class_the_runner_writes():
    assert fleet.FILE_CLASSES == FAILURE_CLASSES


def test_untrusted_text_is_made_inert():
    assert fleet.clean_text("a`b|c @admin\n\x1b[31mred") == "a'b/c (at)admin [31mred"


def test_the_timings_loops_artifact_rules_are_the_ones_applied():
    """The loop's reading rules (generator/timings/loop.py, generator/jsonpos.py), in the shipped copy."""
    from generator import jsonpos
    from generator.timings import loop

    assert set(loop._ZIP_ERRORS) <= set(redispatch.ZIP_ERRORS)
    assert (redispatch.MAX_INT_DIGITS, redispatch.MAX_DEPTH) == (jsonpos.MAX_INT_DIGITS, jsonpos.MAX_DEPTH)
    for text in ('{"a": "[[[", "b": [[{}]]}', '["\\"]", [[[]]]]', "[" * 70 + "]" * 70):
        assert redispatch._depth(text) == jsonpos.nesting_depth(text)


@pytest.mark.parametrize("case", TIMINGS_HOSTILE, ids=[case["name"] for case in TIMINGS_HOSTILE])
def test_every_hostile_artifact_of_the_timings_loop_is_one_unreadable_line(case):
    """tests/cases/timings/hostile.yml's artifacts (NaN, 1e400, deep nesting, zip bombs, two results
    files...), wearing the runner fields of a failed preflight: each one withholds the re-run. The two
    schema cases bound a test file's seconds, which the re-dispatch never reads: they read."""
    from tests.test_timings_hostile import artifact_zip

    content = case["content"]
    if "text" in content and content["text"].startswith("{"):
        doc = json.loads(json.dumps(results_doc(SHARD, preflight=NO_GPU)))
        text = json.dumps(doc)[:-1] + ", " + content["text"][1:]  # the hostile keys win (last one)
        content = {"text": text}
    outcomes, problems = redispatch.read_outcomes({"cigen-results-base-0-1": artifact_zip(content)})
    if case["warning"] is None or ": results-schema: " in case["warning"]:
        assert (len(outcomes), problems) == (1, [])
    else:
        assert (outcomes, len(problems)) == ([], 1)
        assert problems[0].startswith("cigen-results-base-0-1: unreadable results (")


def test_a_corrupted_artifact_is_one_problem_never_a_traceback():
    """Byte flips and truncations of a good artifact, as the timings loop's fuzz test does them."""
    import random

    good = zipped(json.dumps(results_doc(SHARD, preflight=NO_GPU)))
    rng = random.Random(24)
    read = unreadable = 0
    for _ in range(2000):
        data = bytearray(good)
        for _ in range(rng.randint(1, 6)):
            data[rng.randrange(len(data))] = rng.randrange(256)
        data = data[: rng.randrange(len(data))] if rng.random() < 0.2 else data
        outcomes, problems = redispatch.read_outcomes({"a": bytes(data)})
        read, unreadable = read + len(outcomes), unreadable + len(problems)
    assert read + unreadable == 2000 and read and unreadable


def test_the_workflow_is_a_privileged_trigger_that_runs_only_the_default_branchs_program(tmp_path):
    """Least privilege: actions: write (jobs, artifacts, the re-run); contents: read for the sparse
    checkout of the default branch's .github/cigen (workflow_run checks out the default branch, and
    the step names no ref); pull-requests: write only while the line is posted. No event value
    reaches the shell; nothing of the examined run is checked out or executed."""
    import shutil

    from generator.render.pins import CHECKOUT
    from tests.support.rendering import GOLDEN, load_yaml, render_tree

    workflow = load_yaml(GOLDEN / "expected" / "workflows" / "cigen-redispatch.yml")
    assert workflow[True] == {  # YAML 1.1 reads the key `on` as true
        "workflow_run": {"workflows": ["GPU tests (per commit)", "GPU tests (nightly)"], "types": ["completed"]}
    }
    assert workflow["permissions"] == {}
    [job] = workflow["jobs"].values()
    assert job["permissions"] == {"actions": "write", "contents": "read", "pull-requests": "write"}
    assert job["if"] == (
        "github.event.workflow_run.conclusion == 'failure' && github.event.workflow_run.run_attempt == 1"
    )
    checkout, program = job["steps"]
    assert checkout == {
        "name": "Check out the default branch's .github/cigen",
        "uses": CHECKOUT.split(" #")[0],
        "with": {"persist-credentials": False, "sparse-checkout": ".github/cigen"},
    }
    assert program["run"] == "python3 .github/cigen/redispatch.py --daily-cap 10 --ignore-job Result"
    assert program["env"] == {"GITHUB_TOKEN": "${{ github.token }}"}
    root = tmp_path / "repo"
    shutil.copytree(GOLDEN / "tree", root)
    config = root / "cigen.yml"
    config.write_text(
        config.read_text().replace("redispatch: {daily_cap: 10}", "redispatch: {daily_cap: 10, comment: false}")
    )
    render_tree(root, root / ".github")
    quiet = load_yaml(root / ".github" / "workflows" / "cigen-redispatch.yml")
    [job] = quiet["jobs"].values()
    assert job["permissions"] == {"actions": "write", "contents": "read"}
    assert job["steps"][1]["run"].endswith(" --no-comment")
