"""calibrate's readers for the runner's results files and for job logs with a TIMINGS block; round trips."""

from __future__ import annotations

import json
import sys
import textwrap

import pytest
from click.testing import CliRunner

from generator.cli import cli
from generator.errors import ProblemReport, UserError
from generator.timings.measure import Known, read_measurements
from generator.timings.runresults import read_run_results
from generator.timings.samples import Sample
from generator.timings.timingslog import read_timings_log
from tests.support.files import write_files
from tests.support.run_shard import ACCURACY_FAIL, FLAKY, PASS, run_runner, write_plan

SUITE = "base-c-test-4-gpu-h100"
# Registered (the scanner reads the call) and runnable (the stub module is on PYTHONPATH).
MAIN = '\n\nif __name__ == "__main__":\n    main()\n'
REGISTERED = 'from ci_stub import register_cuda_ci\n\nregister_cuda_ci(est_time={est}, suite="' + SUITE + '")\n\n'


def registered(est: int, body: str) -> str:
    """A registered test file whose main block runs `body`."""
    return REGISTERED.format(est=est) + "\ndef main():\n" + textwrap.indent(body, "    ") + MAIN


def run_shard_of_real_files(tmp_path):
    """A repository of three registered files (passing, flaky, failing) run by the runner from a plan."""
    root = write_files(
        tmp_path / "repo",
        {
            "test/registered/a.py": registered(100, "import time\ntime.sleep(1.2)\n" + PASS),
            "test/registered/b.py": registered(30, FLAKY),
            "test/registered/c.py": registered(400, ACCURACY_FAIL),
        },
    )
    stub = write_files(tmp_path / "stub", {"ci_stub.py": "def register_cuda_ci(**kwargs):\n    pass\n"})
    files = [("test/registered/a.py", 100.0), ("test/registered/b.py", 30.0), ("test/registered/c.py", 400.0)]
    plan = write_plan(tmp_path / "plan.json", {SUITE: [files]})
    results = tmp_path / "results.json"
    args = ["run", "--plan", str(plan), "--suite", SUITE, "--shard", "0", "--root", str(root), "--workdir", "test"]
    args += [
        "--keep-going",
        "--retry-wait",
        "0",
        "--per-file-timeout",
        "10",
        "--python",
        sys.executable,
        "--results",
        str(results),
    ]
    env = {"PYTHONPATH": str(stub), "GITHUB_RUN_ID": "777", "GITHUB_RUN_ATTEMPT": "2", "GITHUB_JOB": "shard"}
    run = run_runner(*args, env=env)
    assert run.exit_code == 1, run.stdout + run.stderr
    log = tmp_path / "job.log"
    log.write_text(run.stdout)
    return root, results, log


def test_a_shards_log_and_results_read_back_as_samples_of_its_files(tmp_path):
    _, results, log = run_shard_of_real_files(tmp_path)
    from_results = read_run_results(results)
    data = json.loads(results.read_text())
    seconds = {f["path"]: f["attempts"][-1]["seconds"] for f in data["files"]}
    job = f"777/2/{SUITE} (0)"
    assert from_results.samples == (
        Sample("test/registered/a.py", seconds["test/registered/a.py"], SUITE, job, 777),
        Sample("test/registered/b.py", seconds["test/registered/b.py"], SUITE, job, 777),
    )
    assert 1.2 <= seconds["test/registered/a.py"] < 5
    assert from_results.skipped == (("files that did not pass in runner results", 1),)
    from_log = read_timings_log(log)
    begin = log.read_text().splitlines().index("========== TIMINGS BEGIN ==========") + 1
    assert from_log.samples == tuple(
        Sample(s.path, float(round(s.seconds)), None, f"{log}:{begin}") for s in from_results.samples
    )
    assert from_log.skipped == (("failed files in TIMINGS blocks", 1),)


def test_calibrate_reads_results_files_and_logs(tmp_path):
    root, results, log = run_shard_of_real_files(tmp_path)
    out = tmp_path / "timings.json"
    result = CliRunner().invoke(
        cli,
        [
            "timings",
            "calibrate",
            "--root",
            str(root),
            "--results",
            str(results),
            "--log",
            str(log),
            "--estimator",
            "mean",
            "-o",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[:3] == [
        f"wrote {out}: 2 file estimates from 4 samples (mean)",
        "  measured, not registered now (renamed or deleted): 0",
        "  registered, never measured (est_time x suite ratio): 1",
    ]
    assert "  skipped: files that did not pass in runner results: 1" in result.output.splitlines()
    data = json.loads(out.read_text())
    assert [(f["path"], f["samples"]) for f in data["files"]] == [
        ("test/registered/a.py", 2),
        ("test/registered/b.py", 2),
    ]
    assert data["inputs"] == [str(results), str(log)]


def test_sglangs_own_log_with_github_timestamps_reads(tmp_path):
    log = tmp_path / "sglang.log"
    log.write_text(
        "2026-06-18T12:00:00.1234567Z Test Summary: 2/3 passed\n"
        "2026-06-18T12:00:00.1234567Z ========== TIMINGS BEGIN ==========\n"
        '2026-06-18T12:00:00.1234567Z {"file": "test/registered/a.py", "passed": true, "elapsed": 312}\n'
        '2026-06-18T12:00:00.1234567Z {"file": "test/registered/b.py", "passed": false, "elapsed": 1800}\n'
        '2026-06-18T12:00:00.1234567Z {"file": "test/registered/c.py", "passed": true, "elapsed": 40}\n'
        "2026-06-18T12:00:00.1234567Z ========== TIMINGS END ==========\n"
        "========== TIMINGS BEGIN ==========\n"
        '{"file": "test/registered/a.py", "passed": true, "elapsed": 300}\n'
        "========== TIMINGS END ==========\n"
    )
    measured = read_timings_log(log)
    assert measured.samples == (
        Sample("test/registered/a.py", 312.0, None, f"{log}:2"),
        Sample("test/registered/c.py", 40.0, None, f"{log}:2"),
        Sample("test/registered/a.py", 300.0, None, f"{log}:7"),
    )
    assert measured.skipped == (("failed files in TIMINGS blocks", 1),)


def test_a_log_without_a_block_is_counted_not_refused(tmp_path):
    log = tmp_path / "killed.log"
    log.write_text("[cigen] (1/3) test/a.py: attempt 1, timeout 600 s\n")
    assert read_timings_log(log).skipped == (("job logs without a TIMINGS block", 1),)
    assert read_timings_log(log).samples == ()


def test_broken_blocks_are_problems_at_their_lines(tmp_path):
    log = tmp_path / "bad.log"
    log.write_text(
        "========== TIMINGS END ==========\n"
        "========== TIMINGS BEGIN ==========\n"
        "not json\n"
        '{"file": "a.py", "passed": "yes", "elapsed": 3}\n'
        '{"file": "a.py", "passed": true, "elapsed": -3}\n'
        '{"passed": true, "elapsed": 3}\n'
        "[1]\n"
        "========== TIMINGS END ==========\n"
        "========== TIMINGS BEGIN ==========\n"
    )
    with pytest.raises(ProblemReport) as report:
        read_timings_log(log)
    assert [p.format() for p in report.value.problems] == [
        f"{log}:1: timings-unopened: TIMINGS END without its BEGIN",
        f"{log}:3: timings-json: not a JSON object: Expecting value: line 1 column 1 (char 0)",
        f"{log}:4: timings-entry: 'passed' must be true or false, got 'yes'",
        f"{log}:5: timings-entry: 'elapsed' must be seconds >= 0, got -3",
        f"{log}:6: timings-entry: 'file' must be a non-empty path",
        f"{log}:7: timings-json: not a JSON object: '[1]'",
        f"{log}:9: timings-unterminated: TIMINGS BEGIN without its END",
    ]
    assert report.value.summary == f"7 errors in {log}; nothing done."


def test_bad_results_files_are_problems_at_their_lines(tmp_path):
    path = tmp_path / "r.json"
    path.write_text(
        json.dumps(
            {"suite": "s", "shard": 0, "files": [{"path": "a.py", "class": "bogus", "attempts": [{"seconds": -1}]}]},
            indent=1,
        )
    )
    with pytest.raises(ProblemReport) as report:
        read_run_results(path)
    assert [p.format() for p in report.value.problems] == [
        f"{path}:7: results-schema: files[0].class: "
        "'bogus' is not one of passed, flaky, test, flaky-accuracy, infra, timeout, not-run, missing",
        f"{path}:10: results-schema: files[0].attempts[0].seconds: -1 is not a number of seconds, 0 to a week",
    ]
    path.write_text("{")
    with pytest.raises(UserError) as error:
        read_run_results(path)
    assert (
        str(error.value)
        == f"{path}:1: results-json: invalid JSON: Expecting property name enclosed in double quotes (column 2)"
    )


def test_results_without_github_ids_name_the_file_as_the_job(tmp_path):
    path = tmp_path / "r.json"
    entry = {"path": "a.py", "class": "passed", "attempts": [{"class": "passed", "seconds": 12.5}]}
    path.write_text(
        json.dumps({"suite": "s", "shard": 3, "files": [entry, {"path": "b.py", "class": "not-run", "attempts": []}]})
    )
    measured = read_run_results(path)
    assert (measured.samples, measured.skipped) == ((Sample("a.py", 12.5, "s", str(path)),), ())


def test_read_measurements_reports_every_bad_input_at_once(tmp_path):
    (tmp_path / "r.json").write_text("[]")
    (tmp_path / "x.log").write_text("========== TIMINGS BEGIN ==========\n")
    with pytest.raises(ProblemReport) as report:
        read_measurements(
            {"results": [tmp_path / "r.json"], "log": [tmp_path / "x.log"]}, Known(set(), set(), ["cuda"])
        )
    assert [p.format() for p in report.value.problems] == [
        f"{tmp_path}/r.json:1: results-schema: top level: [] is not of type 'object'",
        f"{tmp_path}/x.log:1: timings-unterminated: TIMINGS BEGIN without its END",
    ]
    assert report.value.summary == "2 errors in 2 input files; nothing written."
