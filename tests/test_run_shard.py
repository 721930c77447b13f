"""The shard runner: real processes, retries, timeouts, process groups, reports and the plan."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time

import pytest
from click.testing import CliRunner

from generator.cli import cli
from generator.render.shipping import closure, copy_text
from generator.shipped.run_shard import FAILURE_PATTERNS, OutputWatch, failure_class, main
from tests.support.files import write_files
from tests.support.run_shard import (
    ACCURACY_FAIL,
    COUNTED,
    FAIL,
    FLAKY,
    HANG,
    HANGS_WITH_A_SERVER,
    LEAVES_A_SERVER,
    PASS,
    RUNNER,
    masked,
    process_is_gone,
    run_runner,
    shard_args,
    timings_lines,
    write_plan,
)


def test_all_passing_shard_exits_0_with_summary_timings_and_results(tmp_path):
    root = write_files(tmp_path / "repo", {"t/test_a.py": PASS, "t/test_b.py": PASS})
    summary, results = tmp_path / "summary.md", tmp_path / "results.json"
    run = run_runner(
        *shard_args(root, ["t/test_a.py", "t/test_b.py"], "--results", str(results), "--summary", str(summary))
    )
    assert run.exit_code == 0, run.stdout + run.stderr
    assert run.stderr == "base-b shard 1: 2 of 2 files passed\n"
    assert masked(summary.read_text()).splitlines() == [
        "### base-b, shard 1: 2 files",
        "",
        "| file | class | attempts | seconds |",
        "|---|---|---|---|",
        "| `t/test_a.py` | passed | passed | N |",
        "| `t/test_b.py` | passed | passed | N |",
        "",
        "**2 of 2 passed** (2 ran, N s; exit 0)",
        "",
        "```mermaid",
        "gantt",
        "    title base-b shard 1",
        "    dateFormat X",
        "    axisFormat %H:%M:%S",
        "    section files",
        "    t/test_a.py (passed) :done, T, Ns",
        "    t/test_b.py (passed) :done, T, Ns",
        "```",
    ]
    assert masked("\n".join(timings_lines(run.stdout))).splitlines() == [
        "========== TIMINGS BEGIN ==========",
        '{"file": "t/test_a.py", "passed": true, "elapsed": N}',
        '{"file": "t/test_b.py", "passed": true, "elapsed": N}',
        "========== TIMINGS END ==========",
    ]
    data = json.loads(results.read_text())
    assert (data["suite"], data["shard"], data["exit_status"], data["cancelled"]) == ("base-b", 1, 0, False)
    assert data["preflight"] == {
        "status": "skipped",
        "reason": "nothing to probe (--gpus 0, no disk floor, no probes)",
        "probe": "",
        "seconds": 0.0,
        "waited_seconds": 0.0,
        "gpus": [],
        "probes": [],
    }
    assert data["started"] <= data["finished"]
    [first, _] = data["files"]
    assert (first["path"], first["class"], first["retried"]) == ("t/test_a.py", "passed", False)
    [attempt] = first["attempts"]
    assert (attempt["class"], attempt["exit_status"], attempt["timed_out"], attempt["reason"]) == (
        "passed",
        0,
        False,
        "",
    )
    assert attempt["seconds"] == first["seconds"] < 3
    assert data["started"] <= attempt["started"] <= data["finished"]


def test_output_goes_to_the_log_live_between_the_runners_lines(tmp_path):
    root = write_files(tmp_path / "repo", {"t/test_a.py": "print('hello from the test', flush=True)\n"})
    run = run_runner(*shard_args(root, ["t/test_a.py"]))
    lines = run.stdout.splitlines()
    assert lines[:3] == ["[cigen] (1/1) t/test_a.py: attempt 1, timeout 3 s", "hello from the test", lines[2]]
    assert lines[2].startswith("[cigen] (1/1) t/test_a.py: passed in ")


def test_stops_at_the_first_failure_unless_keep_going(tmp_path):
    root = write_files(tmp_path / "repo", {"t/test_a.py": FAIL, "t/test_b.py": PASS})
    summary = tmp_path / "summary.md"
    run = run_runner(*shard_args(root, ["t/test_a.py", "t/test_b.py"], "--summary", str(summary)))
    assert run.exit_code == 1
    assert masked(summary.read_text()).splitlines()[4:8] == [
        "| `t/test_a.py` | test | test | N |",
        "| `t/test_b.py` | not-run | - | N |",
        "",
        "**0 of 2 passed** (1 ran, N s; exit 1)",
    ]
    assert "::error title=test::t/test_a.py: no known failure pattern in the output" in run.stdout.splitlines()
    assert masked("\n".join(timings_lines(run.stdout))).splitlines()[1:-1] == [
        '{"file": "t/test_a.py", "passed": false, "elapsed": N}'
    ]
    summary.unlink()
    run = run_runner(
        *shard_args(root, ["t/test_a.py", "t/test_b.py", "t/test_gone.py"], "--keep-going", "--summary", str(summary))
    )
    assert run.exit_code == 1
    assert masked(summary.read_text()).splitlines()[4:9] == [
        "| `t/test_a.py` | test | test | N |",
        "| `t/test_b.py` | passed | passed | N |",
        "| `t/test_gone.py` | missing | - | N |",
        "",
        "**1 of 3 passed** (2 ran, N s; exit 1)",
    ]


@pytest.mark.parametrize(
    ("event", "ran"),
    [("schedule", ["test", "passed"]), ("pull_request", ["test", "not-run"]), (None, ["test", "not-run"])],
)
def test_keep_going_on_an_event_keeps_going_only_on_that_event(tmp_path, event, ran):
    """sglang passes --continue-on-error on schedules only: `--keep-going-on schedule` reads GitHub's
    GITHUB_EVENT_NAME, so one rendered command fails fast on pull requests and collects every
    failure on a schedule."""
    root = write_files(tmp_path / "repo", {"t/test_a.py": FAIL, "t/test_b.py": PASS})
    summary = tmp_path / "summary.md"
    env = {"GITHUB_EVENT_NAME": event or ""}  # "": not an Actions run (and not the event of one running these tests)
    args = shard_args(root, ["t/test_a.py", "t/test_b.py"], "--keep-going-on", "schedule", "--summary", str(summary))
    run = run_runner(*args, env=env)
    assert run.exit_code == 1
    rows = masked(summary.read_text()).splitlines()[4:6]
    assert [row.split(" | ")[1] for row in rows] == ran


def test_a_file_that_fails_once_then_passes_is_flaky_and_the_shard_passes(tmp_path):
    root = write_files(tmp_path / "repo", {"t/test_flaky.py": FLAKY})
    results, summary = tmp_path / "results.json", tmp_path / "summary.md"
    run = run_runner(*shard_args(root, ["t/test_flaky.py"], "--results", str(results), "--summary", str(summary)))
    assert run.exit_code == 0, run.stdout
    [entry] = json.loads(results.read_text())["files"]
    assert (entry["class"], entry["retried"], [a["class"] for a in entry["attempts"]]) == (
        "flaky",
        True,
        ["flaky-accuracy", "passed"],
    )
    assert (
        entry["attempts"][0]["reason"]
        == "'accuracy' (sglang 0.5.23 ci_utils.py RETRIABLE_PATTERNS) matched: accuracy 0.61 below 0.65"
    )
    assert "::warning title=flaky::t/test_flaky.py passed on attempt 2" in run.stdout.splitlines()
    assert masked(summary.read_text()).splitlines()[4] == "| `t/test_flaky.py` | flaky | flaky-accuracy, passed | N |"
    assert masked(summary.read_text()).splitlines()[-4:-1] == [
        "    section files",
        "    t/test_flaky.py (flaky-accuracy) :crit, T, Ns",
        "    t/test_flaky.py (attempt 2, passed) :done, T, Ns",
    ]
    assert masked(timings_lines(run.stdout)[1]) == '{"file": "t/test_flaky.py", "passed": true, "elapsed": N}'


def test_a_real_failure_runs_once_whatever_the_retries(tmp_path):
    root = write_files(
        tmp_path / "repo",
        {"t/test_a.py": COUNTED + FAIL, "u/test_b.py": COUNTED + "raise ImportError('no module x')\n"},
    )
    run = run_runner(*shard_args(root, ["t/test_a.py", "u/test_b.py"], "--retries", "3", "--keep-going"))
    assert run.exit_code == 1
    assert (root / "t/attempts.log").read_text() == "x\n"
    assert (root / "u/attempts.log").read_text() == "x\n"
    assert (
        "::error title=test::u/test_b.py: 'ImportError' (sglang 0.5.23 ci_utils.py NON_RETRIABLE_PATTERNS) matched: "
        "raise ImportError('no module x')"
    ) in run.stdout


def test_retriable_failures_get_retries_extra_attempts_and_no_more(tmp_path):
    root = write_files(tmp_path / "repo", {"t/test_a.py": COUNTED + ACCURACY_FAIL})
    results = tmp_path / "results.json"
    assert run_runner(*shard_args(root, ["t/test_a.py"], "--retries", "2", "--results", str(results))).exit_code == 1
    assert (root / "t/attempts.log").read_text() == "x\nx\nx\n"
    [entry] = json.loads(results.read_text())["files"]
    assert (entry["class"], len(entry["attempts"])) == ("flaky-accuracy", 3)
    (root / "t/attempts.log").unlink()
    assert run_runner(*shard_args(root, ["t/test_a.py"], "--retries", "0")).exit_code == 1
    assert (root / "t/attempts.log").read_text() == "x\n"


def test_only_the_retry_classes_named_are_retried(tmp_path):
    infra = COUNTED + "import sys\nprint('RuntimeError: CUDA error: initialization error')\nsys.exit(1)\n"
    root = write_files(tmp_path / "repo", {"t/test_acc.py": COUNTED + ACCURACY_FAIL, "u/test_infra.py": infra})
    results = tmp_path / "results.json"
    files = ["t/test_acc.py", "u/test_infra.py"]
    only_infra = ("--retries", "2", "--retry-classes", "infra", "--keep-going", "--results", str(results))
    assert run_runner(*shard_args(root, files, *only_infra)).exit_code == 1
    assert (root / "t/attempts.log").read_text() == "x\n"
    assert (root / "u/attempts.log").read_text() == "x\nx\nx\n"
    classes = [(entry["class"], len(entry["attempts"])) for entry in json.loads(results.read_text())["files"]]
    assert classes == [("flaky-accuracy", 1), ("infra", 3)]
    for log in (root / "t/attempts.log", root / "u/attempts.log"):
        log.unlink()
    both = ("--retries", "1", "--retry-classes", "infra,flaky-accuracy", "--keep-going")
    assert run_runner(*shard_args(root, files, *both)).exit_code == 1
    assert (root / "t/attempts.log").read_text() == (root / "u/attempts.log").read_text() == "x\nx\n"


def test_the_default_is_one_retry_as_sglang(tmp_path):
    root = write_files(tmp_path / "repo", {"t/test_a.py": COUNTED + ACCURACY_FAIL})
    assert run_runner(*shard_args(root, ["t/test_a.py"])).exit_code == 1
    assert (root / "t/attempts.log").read_text() == "x\nx\n"


def test_infra_only_failures_exit_3_and_mixed_failures_exit_1(tmp_path):
    infra = "import sys\nprint('RuntimeError: CUDA error: initialization error')\nsys.exit(1)\n"
    root = write_files(tmp_path / "repo", {"t/test_infra.py": infra, "t/test_real.py": FAIL})
    results = tmp_path / "results.json"
    run = run_runner(*shard_args(root, ["t/test_infra.py"], "--retries", "0", "--results", str(results)))
    assert run.exit_code == 3
    assert json.loads(results.read_text())["files"][0]["class"] == "infra"
    assert (
        run_runner(*shard_args(root, ["t/test_infra.py", "t/test_real.py"], "--retries", "0", "--keep-going")).exit_code
        == 1
    )


def test_a_timeout_kills_the_whole_process_group_including_a_server(tmp_path):
    root = write_files(tmp_path / "repo", {"t/test_hang.py": HANGS_WITH_A_SERVER, "t/test_b.py": PASS})
    results = tmp_path / "results.json"
    args = shard_args(
        root, ["t/test_hang.py", "t/test_b.py"], "--keep-going", "--retries", "0", "--per-file-timeout", "1"
    )
    run = run_runner(*args, "--results", str(results))
    assert run.seconds < 10
    assert run.exit_code == 1
    server = int((root / "server.pid").read_text())
    assert process_is_gone(server, within_seconds=0.5), f"the test's server {server} outlived its timeout"
    hang, passed = json.loads(results.read_text())["files"]
    assert (hang["class"], passed["class"]) == ("timeout", "passed")
    [attempt] = hang["attempts"]
    assert (attempt["exit_status"], attempt["timed_out"], attempt["reason"]) == (
        None,
        True,
        "killed at the per-file timeout",
    )
    assert 1 <= attempt["seconds"] < 3


def test_a_timeout_is_retried_once_by_default(tmp_path):
    root = write_files(tmp_path / "repo", {"t/test_hang.py": COUNTED + HANG})
    run = run_runner(*shard_args(root, ["t/test_hang.py"], "--per-file-timeout", "0.5"))
    assert run.exit_code == 1
    assert (root / "t/attempts.log").read_text() == "x\nx\n"


def test_processes_a_passing_test_leaves_behind_are_stopped(tmp_path):
    root = write_files(tmp_path / "repo", {"t/test_server.py": LEAVES_A_SERVER})
    assert run_runner(*shard_args(root, ["t/test_server.py"])).exit_code == 0
    pid = int((root / "server.pid").read_text())
    assert process_is_gone(pid), f"the test's child {pid} outlived it"


def test_sigterm_stops_the_running_file_and_finishes_the_reports(tmp_path):
    root = write_files(tmp_path / "repo", {"t/test_hang.py": HANGS_WITH_A_SERVER, "t/test_b.py": PASS})
    results, summary = tmp_path / "results.json", tmp_path / "summary.md"
    args = shard_args(
        root,
        ["t/test_hang.py", "t/test_b.py"],
        "--per-file-timeout",
        "60",
        "--results",
        str(results),
        "--summary",
        str(summary),
    )
    process = subprocess.Popen(
        [sys.executable, str(RUNNER), *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    deadline = time.monotonic() + 10
    while not (root / "server.pid").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    process.send_signal(signal.SIGTERM)
    stdout, _ = process.communicate(timeout=20)
    assert process.returncode == 1
    assert process_is_gone(int((root / "server.pid").read_text()), within_seconds=0.5)
    data = json.loads(results.read_text())
    assert (data["cancelled"], [f["class"] for f in data["files"]]) == (True, ["not-run", "not-run"])
    assert "**cancelled**: **0 of 2 passed**" in summary.read_text()
    assert timings_lines(stdout) == ["========== TIMINGS BEGIN ==========", "========== TIMINGS END =========="]


def test_workdir_is_each_tests_cwd_and_paths_stay_repository_relative(tmp_path):
    where = "import os\nprint('cwd=' + os.getcwd())\n"
    root = write_files(tmp_path / "repo", {"test/registered/test_a.py": where})
    run = run_runner(*shard_args(root, ["test/registered/test_a.py"], "--workdir", "test", "--test-arg=-f"))
    assert run.exit_code == 0
    assert f"cwd={root / 'test'}" in run.stdout.splitlines()
    assert timings_lines(run.stdout)[1].startswith('{"file": "test/registered/test_a.py", ')


def test_test_args_follow_the_file(tmp_path):
    root = write_files(tmp_path / "repo", {"t/test_a.py": "import sys\nprint('argv', sys.argv[1:])\n"})
    run = run_runner(*shard_args(root, ["t/test_a.py"], "--test-arg=-f", "--test-arg", "x"))
    assert "argv ['-f', 'x']" in run.stdout.splitlines()


def test_files_come_from_the_plan_with_sglangs_derived_timeout(tmp_path):
    root = write_files(tmp_path / "repo", {"test/registered/a/test_x.py": PASS, "test/registered/b/test_y.py": PASS})
    plan = write_plan(
        tmp_path / "plan.json",
        {
            "base-b-test-1-gpu-small": [
                [("test/registered/a/test_x.py", 60.0)],
                [("test/registered/b/test_y.py", 1500.0)],
            ]
        },
    )
    common = [
        "--plan",
        str(plan),
        "--suite",
        "base-b-test-1-gpu-small",
        "--root",
        str(root),
        "--python",
        sys.executable,
    ]
    run = run_runner("run", *common, "--shard", "1")
    assert run.exit_code == 0
    assert (
        run.stdout.splitlines()[0] == "[cigen] (1/1) test/registered/b/test_y.py: attempt 1, timeout 3300 s"
    )  # 1500 + 1800
    run = run_runner("run", *common, "--shard", "0", "--per-file-timeout", "5")
    assert run.stdout.splitlines()[0] == "[cigen] (1/1) test/registered/a/test_x.py: attempt 1, timeout 5 s"


def test_plan_mistakes_are_one_line_errors_naming_the_plan(tmp_path):
    plan = write_plan(tmp_path / "plan.json", {"suite-a": [[("t/a.py", 1.0)]], "suite-b": []})
    cases = [
        (
            ["--suite", "nope", "--shard", "0"],
            f"{plan}: plan-no-suite: suite 'nope' is not in the plan (suites: suite-a, suite-b)",
        ),
        (["--suite", "suite-a", "--shard", "1"], f"{plan}: plan-no-shard: suite 'suite-a' has 1 shard(s) (0-0), not 1"),
    ]
    for args, message in cases:
        run = run_runner("run", "--plan", str(plan), *args)
        assert (run.exit_code, run.stderr, run.stdout) == (2, message + "\n", "")
    (tmp_path / "broken.json").write_text("{")
    run = run_runner("run", "--plan", str(tmp_path / "broken.json"), "--suite", "s", "--shard", "0")
    assert (run.exit_code, run.stderr) == (
        2,
        f"{tmp_path}/broken.json: bad-plan-file: "
        "invalid JSON: Expecting property name enclosed in double quotes: line 1 column 2 (char 1)\n",
    )
    run = run_runner("run", "--plan", str(tmp_path / "absent.json"), "--suite", "s", "--shard", "0")
    assert (run.exit_code, run.stderr) == (
        2,
        f"{tmp_path}/absent.json: plan-unreadable: cannot read: No such file or directory\n",
    )
    (tmp_path / "odd.json").write_text('{"version": 1, "suites": {"s": {"shards": [{"files": [{"est_seconds": 3}]}]}}}')
    run = run_runner("run", "--plan", str(tmp_path / "odd.json"), "--suite", "s", "--shard", "0")
    assert (run.exit_code, run.stderr) == (
        2,
        f"{tmp_path}/odd.json: bad-plan-file: suites.s.shards[0].files[0].file must be a non-empty path, got null\n",
    )
    (tmp_path / "newer.json").write_text('{"version": 2, "suites": {}}')
    run = run_runner("run", "--plan", str(tmp_path / "newer.json"), "--suite", "s", "--shard", "0")
    assert (run.exit_code, run.stderr) == (
        2,
        f"{tmp_path}/newer.json: plan-version: the plan file is version 2; this cigen reads version 1. "
        "Regenerate it with `cigen render` (or `cigen plan --format json`).\n",
    )


def test_option_mistakes_are_one_line_errors(tmp_path):
    cases = [
        ([], "run_shard.py: the following arguments are required: command"),
        (["run", "--suite", "s", "--shard", "0"],
         "run_shard.py run: one of the arguments --plan --files-json is required"),
        (["run", "--suite", "s", "--shard", "-1", "--files-json", '["a.py"]'],
         "run_shard.py run: argument --shard: must be at least 0, got '-1'"),
        (["run", "--suite", "s", "--shard", "0", "--files-json", '["a.py"]'],
         "--per-file-timeout: missing-timeout: required when a file has no est_seconds (a.py)"),
        (["run", "--suite", "s", "--shard", "0", "--files-json", '["a.py"]', "--per-file-timeout", "0"],
         "run_shard.py run: argument --per-file-timeout: must be at least 0.1, got '0'"),
        (["run", "--suite", "s", "--shard", "0", "--files-json", '["a.py"]', "--retry-classes", "infra,test"],
         "run_shard.py run: argument --retry-classes: expected distinct names among flaky-accuracy, infra, "
         "timeout, got 'infra,test'"),
        (["run", "--suite", "s", "--shard", "0", "--files-json", '["a.py"]', "--retry-classes", "infra,infra"],
         "run_shard.py run: argument --retry-classes: expected distinct names among flaky-accuracy, infra, "
         "timeout, got 'infra,infra'"),
    ]  # fmt: skip
    for args, message in cases:
        run = run_runner(*args)
        assert (run.exit_code, run.stderr) == (2, message + "\n")


@pytest.mark.parametrize(
    "probes, message",
    [
        ("not json", "CIGEN_HEALTH_PROBES is not JSON"),
        ('["ls"]', "CIGEN_HEALTH_PROBES must be a JSON object: name -> command"),
    ],
)
def test_bad_health_probes_in_the_env_are_one_line_errors(probes, message):
    """The health settings' mistakes end the runner as its own option mistakes do, never in a traceback."""
    args = ["run", "--suite", "s", "--shard", "0", "--files-json", '["a.py"]', "--per-file-timeout", "10"]
    run = run_runner(*args, env={"CIGEN_HEALTH_PROBES": probes})
    assert (run.exit_code, run.stderr) == (2, message + "\n")


def test_the_runner_runs_as_a_plain_file_outside_the_package(tmp_path):
    """As the workflows run it: the shipped copies of the runner and what it imports, in one folder."""
    copy = tmp_path / "elsewhere" / "run_shard.py"
    copy.parent.mkdir()
    assert closure({"run_shard"}) == ["health", "plan_file", "process_group", "run_shard"]
    for module in closure({"run_shard"}):
        (copy.parent / f"{module}.py").write_text(copy_text(module, "make regen-workflows"))
    root = write_files(tmp_path / "repo", {"test/registered/a/test_x.py": PASS})
    plan = write_plan(tmp_path / "plan.json", {"s": [[("test/registered/a/test_x.py", 5.0)]]})
    args = ["run", "--plan", str(plan), "--suite", "s", "--shard", "0", "--root", str(root)]
    # PYTHONSAFEPATH would drop the copy's folder from sys.path, and with it the sibling imports
    run = run_runner(*args, runner=copy, python="python3", env={"PYTHONPATH": ""})
    assert run.exit_code == 0, run.stderr
    assert (
        masked("\n".join(timings_lines(run.stdout))).splitlines()[1]
        == '{"file": "test/registered/a/test_x.py", "passed": true, "elapsed": N}'
    )


def test_cigen_run_shard_forwards_to_the_same_runner(tmp_path, monkeypatch):
    root = write_files(tmp_path / "repo", {"t/test_a.py": PASS})
    summary = tmp_path / "summary.md"
    args = [
        "run-shard",
        "--suite",
        "base-b",
        "--shard",
        "1",
        "--per-file-timeout",
        "5",
        "--python",
        sys.executable,
        "--root",
        str(root),
    ]
    result = CliRunner(env={"GITHUB_STEP_SUMMARY": str(summary)}).invoke(
        cli, [*args, "--files-json", '["t/test_a.py"]']
    )
    assert result.exit_code == 0, result.output
    assert result.stderr == "base-b shard 1: 1 of 1 files passed\n"
    assert "ok" in result.stdout.splitlines()
    assert summary.read_text().startswith("### base-b, shard 1: 1 file\n")


def test_bad_file_lists_are_user_errors():
    for files_json, message in [
        ("[1, 2]", "--files-json: bad-files-json: expected a non-empty JSON list of file paths\n"),
        ("a.py", "--files-json: bad-files-json: not JSON: Expecting value: line 1 column 1 (char 0)\n"),
    ]:
        result = CliRunner().invoke(
            cli, ["run-shard", "--suite", "s", "--shard", "0", "--per-file-timeout", "5", "--files-json", files_json]
        )
        assert (result.exit_code, result.stderr) == (2, message)


def test_main_returns_the_exit_status(tmp_path, capsys):
    root = write_files(tmp_path / "repo", {"t/test_a.py": FAIL})
    assert main(shard_args(root, ["t/test_a.py"])) == 1
    assert "exit 3, nothing else said" in capsys.readouterr().out


def test_output_is_matched_whole_while_memory_stays_bounded():
    """A pattern printed first is still seen after 40 MB of output, which is passed through, not kept."""
    written = []
    watch = OutputWatch(lambda chunk: written.append(len(chunk)))
    first = b"RuntimeError: NCCL error in: ../ProcessGroupNCCL.cpp:1, unhandled system error\n"
    watch.feed(first)
    for _ in range(400):
        watch.feed(b"INFO: step ok\n" * 7000 + b"x" * 2000)
    watch.feed(b"y" * 500_000)  # a line longer than the matched window, no newline yet
    assert len(watch.partial) <= 64 * 1024
    watch.close()
    assert sum(written) == len(first) + 400 * (14 * 7000 + 2000) + 500_000
    assert sorted(FAILURE_PATTERNS[i].regex for i in watch.matches) == [
        "NCCL error|NCCL WARN .*(Cuda failure|NVLink|timeout)",
        "RuntimeError",
    ]
    assert failure_class(watch.matches, timed_out=False, gpu_problem=None)[0] == "infra"


def test_a_file_name_cannot_break_the_summary_table():
    from generator.shipped.run_shard import code_cell

    assert code_cell("test/a.py") == "`test/a.py`"
    assert code_cell("test/a|b`c\nd.py") == "`test/a\\|b'c d.py`"
