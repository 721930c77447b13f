"""`cigen timings calibrate` and `cigen lint --timings` end to end through click, and the backtest
(benchmarks/backtest, research kept out of the wheel) through its own entry point."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from benchmarks.backtest.__main__ import main as backtest_main
from generator.cli import cli
from tests.support.files import write_files
from tests.support.synth import corpus_dir
from tests.test_backtest import write_history

MAIN = '\nif __name__ == "__main__":\n    main()\n'
TREE = {
    "test/registered/a.py": 'register_cuda_ci(est_time=100, suite="base-c-test-4-gpu-h100")' + MAIN,
    "test/registered/b.py": 'register_cuda_ci(est_time=30, suite="base-c-test-4-gpu-h100")' + MAIN,
    "test/registered/c.py": 'register_cuda_ci(est_time=400, suite="base-c-test-4-gpu-h100")' + MAIN,
}
# The embedded default runs sglang's weight-checker e2e as a model test: lint needs it registered.
WEIGHT_CHECKER = {
    "test/registered/rl/test_weight_checker_e2e.py": (
        'register_cuda_ci(est_time=150, suite="nightly-1-gpu", nightly=True)' + MAIN
    )
}


def run(*args: str):
    return CliRunner().invoke(cli, list(args))


def history(folder: Path) -> Path:
    folder.mkdir()
    jobs = [
        {
            "name": f"base-c-test-4-gpu-h100 ({i})",
            "suite": "base-c-test-4-gpu-h100",
            "backend": "cuda",
            "started_at": f"2026-06-1{day}T10:00:00Z",
            "completed_at": f"2026-06-1{day}T10:{minutes}:00Z",
            "labels": ["4-gpu-h100"],
            "timings": timings,
        }
        for day in (1, 2)
        for i, (minutes, timings) in enumerate(
            [
                (
                    "10",
                    [
                        {"file": "test/registered/a.py", "elapsed": 240 + 60 * day},
                        {"file": "test/registered/gone.py", "elapsed": 60},
                    ],
                ),
                ("06", [{"file": "test/registered/b.py", "elapsed": 200}]),
            ]
        )
    ]
    for day in (1, 2):
        run_jobs = [j for j in jobs if j["started_at"].startswith(f"2026-06-1{day}")]
        (folder / f"run{day}.json").write_text(
            json.dumps({"run_id": day, "started_at": f"2026-06-1{day}T09:59:00Z", "jobs": run_jobs})
        )
    return folder


def test_the_old_calibrate_command_says_where_it_moved():
    result = run("calibrate", "--root", ".")
    assert (result.exit_code, result.stdout, result.stderr) == (
        2,
        "",
        "Error: `cigen calibrate` is now `cigen timings calibrate`\n",
    )


def test_calibrate_writes_timings_and_reports_coverage(tmp_path):
    root = write_files(tmp_path / "repo", TREE)
    runs = history(tmp_path / "runs")
    out = tmp_path / "timings.json"
    result = run(
        "timings", "calibrate", "--root", str(root), "--history", str(runs), "--estimator", "median", "--out", str(out)
    )
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [
        f"wrote {out}: 3 file estimates from 6 samples (median)",
        "  measured, not registered now (renamed or deleted): 1",
        "    base-c-test-4-gpu-h100 test/registered/gone.py",
        "  registered, never measured (est_time x suite ratio): 1",
        "",
        "runner      jobs  setup mean s  median s  p90 s",
        "----------  ----  ------------  --------  -----",
        "4-gpu-h100  4     185           170       222",  # setups 240, 160, 180, 160
    ]
    data = json.loads(out.read_text())
    assert data["files"][0] == {
        "suite": "base-c-test-4-gpu-h100",
        "path": "test/registered/a.py",
        "seconds": 330.0,
        "p90": 354.0,
        "samples": 2,
    }
    assert data["suite_ratio"] == {"base-c-test-4-gpu-h100": 4.9833}  # median of 330/100 and 200/30
    first = out.read_bytes()
    assert (
        run(
            "timings",
            "calibrate",
            "--root",
            str(root),
            "--history",
            str(runs),
            "--estimator",
            "median",
            "--out",
            str(out),
        ).exit_code
        == 0
    )
    assert out.read_bytes() == first


def test_calibrate_reports_all_bad_inputs_and_writes_nothing(tmp_path):
    root = write_files(tmp_path / "repo", TREE)
    write_files(
        tmp_path, {"bad.xml": "<testsuite>\n<testcase time='-1'/>\n</testsuite>\n", "bad.log": "test/registered/a.py\n"}
    )
    out = tmp_path / "timings.json"
    result = run(
        "timings",
        "calibrate",
        "--root",
        str(root),
        "--junit",
        str(tmp_path / "bad.xml"),
        "--durations",
        str(tmp_path / "bad.log"),
        "-o",
        str(out),
    )
    assert result.exit_code == 2
    assert result.output.splitlines() == [
        f"{tmp_path}/bad.log:1: durations-syntax: expected 'PATH SECONDS' or 'SUITE PATH SECONDS', got 1 fields",
        f"{tmp_path}/bad.xml:2: junit-time: testcase needs a time in seconds (a number >= 0), got time='-1'",
        "2 errors in 2 input files; nothing written.",
    ]
    assert not out.exists()
    result = run("timings", "calibrate", "--root", str(root), "-o", str(out))
    assert (result.exit_code, result.output) == (
        2,
        "calibrate-no-input: give at least one of "
        "--history, --junit, --durations, --results, --log, --partition-model\n",
    )


def test_calibrate_from_junit_and_a_duration_log(tmp_path):
    root = write_files(tmp_path / "repo", TREE)
    write_files(
        tmp_path,
        {
            "r1.xml": '<testsuite><testcase classname="test.registered.b.T" name="x" time="20"/></testsuite>',
            "d.log": "test/registered/b.py 40\nbase-c-test-4-gpu-h100 test/registered/c.py 100\n",
        },
    )
    out = tmp_path / "t.json"
    args = (
        "timings",
        "calibrate",
        "--root",
        str(root),
        "--junit",
        str(tmp_path / "r1.xml"),
        "--durations",
        str(tmp_path / "d.log"),
        "-o",
        str(out),
    )
    assert run(*args, "--estimator", "mean").exit_code == 0
    files = {f["path"]: (f["seconds"], f["samples"]) for f in json.loads(out.read_text())["files"]}
    assert files == {"test/registered/b.py": (30.0, 2), "test/registered/c.py": (100.0, 1)}


def test_lint_warns_where_est_time_is_far_from_measured(tmp_path):
    root = write_files(tmp_path / "repo", {**TREE, **WEIGHT_CHECKER})
    out = tmp_path / "timings.json"
    assert (
        run(
            "timings",
            "calibrate",
            "--root",
            str(root),
            "--history",
            str(history(tmp_path / "runs")),
            "--estimator",
            "median",
            "-o",
            str(out),
        ).exit_code
        == 0
    )
    result = run("lint", "--root", str(root), "--timings", str(out))
    assert result.exit_code == 0
    warnings = [
        line for line in result.output.splitlines() if ": warning: est-time-off: " in line or "help: set est" in line
    ]
    assert warnings == [
        "test/registered/a.py:1: warning: est-time-off: "
        f"est_time=100s but suite 'base-c-test-4-gpu-h100' measured 330s (3.3x, 2 samples, {out})",
        "  help: set est_time=330",
        "test/registered/b.py:1: warning: est-time-off: "
        f"est_time=30s but suite 'base-c-test-4-gpu-h100' measured 200s (6.7x, 2 samples, {out})",
        "  help: set est_time=200",
    ]
    assert "      2  warning est-time-off" in result.output.splitlines()
    assert run("lint", "--root", str(root), "--timings", str(out), "--strict").exit_code == 2
    (tmp_path / "broken.json").write_text("{]")
    result = run("lint", "--root", str(root), "--timings", str(tmp_path / "broken.json"))
    assert (result.exit_code, result.output) == (
        2,
        f"{tmp_path}/broken.json:1: timings-unreadable: "
        "invalid JSON: Expecting property name enclosed in double quotes (column 2)\n",
    )


def backtest(capsys, *args: str) -> tuple[int, str, str]:
    """`python -m benchmarks.backtest ARGS`: exit status, stdout and stderr."""
    try:
        status = backtest_main(list(args))
    except SystemExit as exit:
        status = exit.code
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def test_backtest_table_and_json(tmp_path, capsys):
    root = write_files(tmp_path / "repo", TREE)
    folder = tmp_path / "runs"
    folder.mkdir()
    write_history(folder)
    status, output, _ = backtest(capsys, "--root", str(root), "--history", str(folder), "--estimator", "last")
    assert status == 0, output
    lines = output.splitlines()
    assert lines[0] == "Per suite (median imbalance = max/mean shard test time; estimator last)"
    assert "Overall" in lines and "Pipeline wall-clock (critical path through needs)" in lines
    assert "Which estimator predicts the next run" in lines
    assert lines[-4:] == [
        "held-out runs: 1; not judged (no earlier run): 1",
        "suite-runs judged: 2; excluded as partial (a failed shard is missing): 0",
        "files new in their run (est_time x suite ratio): 2, of which unregistered (suite median): 2",
        "history files not registered now (renamed or deleted): 6; registered files of these suites that never ran: 3",
    ]
    data = json.loads(
        backtest(capsys, "--root", str(root), "--history", str(folder), "--estimator", "last", "--format", "json")[1]
    )
    assert data["summary"]["cigen"]["imbalance_median"] == round(950 / 925, 4)
    assert data["summary"]["sglang"]["imbalance_median"] == round(1050 / 925, 4)
    assert data["pipeline_seconds"]["sglang"] == {"2026-06-18T22:00:00Z": 1150.0}
    assert data["wall_verdicts"]["cigen-own"] == {"no-slower": 2, "within-budget": 0, "over-budget": 0}


def test_backtest_needs_more_runs_than_min_history(tmp_path, capsys):
    folder = tmp_path / "runs"
    folder.mkdir()
    write_history(folder)
    status, _, err = backtest(capsys, "--root", str(tmp_path), "--history", str(folder), "--min-history", "2")
    assert status == 2
    assert err.splitlines()[-1].endswith("error: 2 runs: need more than --min-history=2")


def test_backtest_on_the_shipped_history_reproduces_sglangs_figures(synth_tree, capsys):
    status, output, _ = backtest(
        capsys, "--root", str(synth_tree.root), "--history", str(corpus_dir() / "sglang-ci-stats")
    )
    assert status == 0, output
    assert (
        "sglang's own shards, all 8 runs: 88 multi-shard suite-runs, imbalance median 1.085, p90 1.187, "
        "worst 1.426; setup 11.1% of 406 jobs' seconds"
    ) in output.splitlines()


def test_backtest_with_nothing_to_compare_prints_dashes(tmp_path, capsys):
    folder = tmp_path / "runs"
    folder.mkdir()
    for day, file in ((1, "a.py"), (2, "b.py")):
        job = {
            "name": "s (0)",
            "suite": "base-c-test-4-gpu-h100",
            "backend": "cuda",
            "started_at": f"2026-06-1{day}T10:00:00Z",
            "completed_at": f"2026-06-1{day}T10:05:00Z",
            "labels": ["4-gpu-h100"],
            "timings": [{"file": file, "elapsed": 100}],
        }
        (folder / f"{day}.json").write_text(
            json.dumps({"run_id": day, "started_at": f"2026-06-1{day}T10:00:00Z", "jobs": [job]})
        )
    status, output, _ = backtest(capsys, "--root", str(tmp_path), "--history", str(folder), "--estimator", "last")
    assert status == 0, output
    lines = output.splitlines()
    # b.py is new: its estimate is the median measured file, a.py's 100 s, which is exact.
    assert "last (default)  0      -           -                0.0%       -               -" in lines
    assert (
        "sglang's own shards, all 2 runs: 0 multi-shard suite-runs, imbalance median -, p90 -, worst -; "
        "setup 66.7% of 2 jobs' seconds"
    ) in lines
