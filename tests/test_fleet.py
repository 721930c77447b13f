"""The fleet health report (generator/shipped/fleet.py) and `cigen health`: per runner and per pool,
a chart, the runners above the infra rate with their probes; results read as untrusted data."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from generator.cli import cli
from generator.shipped import fleet
from tests.support.redispatch import results_doc

NO_GPU = ("nvidia-smi", "nvidia-smi exited 6: No devices were found")


def write(folder: Path, name: str, data: dict) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(json.dumps(data))
    return path


def health_record(runner: str, probe: str | None, at: str) -> dict:
    """What `health.py check --record` writes on the job-started hook."""
    status = "failed" if probe else "passed"
    return {
        "version": 1,
        "kind": "cigen-health",
        "runner": {"name": runner, "os": "Linux"},
        "at": at,
        "health": {"status": status, "reason": f"{probe} broke" if probe else "ok", "probe": probe or ""},
        "drain": {"drained": bool(probe), "command": "stop", "exit_status": 0, "output": "", "marker": None},
    }


def fleet_folder(tmp_path: Path) -> Path:
    """r-sick: 2 of 3 infra (nvidia-smi by the shard's preflight, disk by the hook); r-ok: 1 test failure of 4."""
    folder = tmp_path / "results"
    sick = [results_doc("a (shard 0)", runner="r-sick", preflight=NO_GPU, drained=True), results_doc("b", 0, "r-sick")]
    for n, doc in enumerate(sick):
        doc["started"] = f"2026-12-0{n + 1}T00:00:00.000Z"
        write(folder, f"sick-{n}.json", doc)
    write(folder / "hook", "sick-hook.json", health_record("r-sick", "disk", "2026-12-05T00:00:00Z"))
    for n in range(3):
        write(folder, f"ok-{n}.json", results_doc(f"c{n}", 0, runner="r-ok"))
    write(folder, "ok-fail.json", results_doc("d", 1, runner="r-ok", files=[("t/a.py", "test", "")]))
    return folder


def test_cigen_health_names_the_runner_above_the_rate_with_its_probes(tmp_path):
    result = CliRunner().invoke(cli, ["health", str(fleet_folder(tmp_path)), "--max-infra-rate", "0.5"])
    assert result.exit_code == 1, result.output
    lines = result.output.splitlines()
    assert lines[:4] == [
        "### Runner health: 7 jobs",
        "",
        "**Runners above the infra rate of 50%:**",
        "",
    ]
    assert (
        lines[4]
        == "- r-sick (1-gpu-h100): 2 of 3 jobs infra (67% > 50%), drained; failing probes: disk x1, nvidia-smi x1"
    )
    assert "| `r-ok` | 1-gpu-h100 | 4 | 0 | 1 | test: t/a.py: test: test happened | no |" in lines
    assert "| `r-sick` | 1-gpu-h100 | 3 | 2 | 2 | disk: disk broke | yes |" in lines
    assert "| `1-gpu-h100` | 2 | 1 | 7 | 2 | 3 | test: t/a.py: test: test happened |" in lines  # the latest
    assert "r-ok   |..xxxxx.............| 0/4 infra" not in lines  # bars are proportional:
    assert "r-ok   |xxxxx...............| 0/4 infra" in lines
    assert "r-sick |#############.......| 2/3 infra, drained" in lines


def test_below_the_rate_it_exits_0_and_says_so(tmp_path):
    result = CliRunner().invoke(cli, ["health", str(fleet_folder(tmp_path)), "--max-infra-rate", "0.7"])
    assert result.exit_code == 0
    assert "No runner above the infra rate of 70%." in result.output.splitlines()


def test_the_rate_defaults_to_the_configs(tmp_path):
    root = tmp_path / "repo"
    root.mkdir()
    config = (Path(__file__).parent / "golden" / "tree" / "cigen.yml").read_text()
    (root / "cigen.yml").write_text(config.replace("\nhealth:\n", "\nhealth:\n  max_infra_rate: 0.9\n"))
    result = CliRunner().invoke(cli, ["health", str(fleet_folder(tmp_path)), "--root", str(root)])
    assert (result.exit_code, result.output.splitlines()[2]) == (0, "No runner above the infra rate of 90%.")


def test_a_file_that_is_not_a_results_file_is_an_error_naming_it(tmp_path):
    folder = fleet_folder(tmp_path)
    bad = write(folder, "zz-bad.json", {"version": 1, "runner": {"name": "x`y"}, "preflight": {}, "files": []})
    (folder / "zz-text.json").write_text("{")
    (folder / "zz-nan.json").write_text(json.dumps(results_doc("a")).replace('"exit_status": 3', '"exit_status": NaN'))
    result = CliRunner().invoke(cli, ["health", str(folder)])
    assert result.exit_code == 2
    assert result.output.splitlines() == [
        f"{bad}: results-invalid: not a cigen results file: runner.name is not a plain name",
        f"{folder / 'zz-nan.json'}: results-unreadable: NaN is not a finite number (JSON has no NaN or Infinity)",
        f"{folder / 'zz-text.json'}:1: results-unreadable: invalid JSON: "
        "Expecting property name enclosed in double quotes (column 2)",
        "3 errors in 10 files; no report.",
    ]


def test_parse_outcome_refuses_what_cigen_never_writes():
    good = results_doc("a", preflight=NO_GPU)
    assert fleet.parse_outcome(good, "x").probe == "nvidia-smi"
    for change in (
        {"exit_status": True},
        {"exit_status": 7},
        {"files": [{"class": "passed-ish"}]},
        {"files": "many"},
        {"runner": {"name": "r", "pool": "a\nb"}},
        {"github": {"run_id": "1; drop"}},
        {"drain": {"drained": "yes"}},
        {"version": 2},
    ):
        try:
            fleet.parse_outcome({**good, **change}, "x")
        except fleet.ResultsError:
            continue
        raise AssertionError(f"accepted {change}")


def test_the_report_of_nothing_says_so():
    assert fleet.report([], 0.2, "Runners") == "### Runners\n\nNo results.\n"


def test_the_summary_gets_the_report_with_a_mermaid_chart_and_exit_zero_keeps_the_step_green(tmp_path):
    summary = tmp_path / "summary.md"
    summary.write_text("### Shard results\n\n")
    args = ["health", str(fleet_folder(tmp_path)), "--max-infra-rate", "0.5", "--summary", str(summary), "--exit-zero"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    text = summary.read_text()
    assert text.startswith("### Shard results\n\n### Runner health: 7 jobs\n")
    assert "- r-sick (1-gpu-h100): 2 of 3 jobs infra (67% > 50%), drained" in text
    assert text.endswith(
        "```mermaid\nxychart-beta\n"
        '    title "Jobs (tall bar) and infra failures (short bar) per runner"\n'
        '    x-axis ["r-ok", "r-sick"]\n'
        '    y-axis "jobs" 0 --> 4\n'
        "    bar [4, 3]\n"
        "    bar [0, 2]\n"
        "```\n"
    )
    assert "```mermaid" not in result.output and "r-sick |#############.......| 2/3 infra, drained" in result.output


def test_the_mermaid_chart_shows_the_runners_that_failed_most(tmp_path):
    outcomes = [
        fleet.parse_outcome(results_doc(f"j{n}", 3 if n % 7 == 0 else 0, runner=f"r{n:02}"), "x") for n in range(40)
    ]
    chart = fleet.mermaid_chart(fleet.runner_rows(outcomes))
    names = chart.split("x-axis [")[1].split("]")[0].split(", ")
    assert len(names) == fleet.MERMAID_RUNNERS
    assert {'"r00"', '"r07"', '"r14"', '"r21"', '"r28"', '"r35"'} <= set(names)


def test_results_fetched_from_trusted_runs_are_what_cigen_health_reads(tmp_path):
    """`cigen timings fetch` keeps a results file validated, its `github` block replaced by the API's
    (generator/timings/loop.py): the runner, preflight and drain survive for the fleet report."""
    from datetime import datetime, timezone

    from generator.github.client import RunOrigin
    from generator.timings.loop import trusted_results

    doc = results_doc("a (shard 0)", runner="r-sick", preflight=NO_GPU, drained=True)
    run = RunOrigin(
        run_id=11,
        event="push",
        path=".github/workflows/cigen-per-commit.yml",
        head_branch="main",
        repository="octo/fixture",
        head_repository="octo/fixture",
        run_attempt=1,
        started_at=datetime(2026, 12, 7, 6, tzinfo=timezone.utc),
    )
    folder = tmp_path / "fetched"
    write(folder, "run.json", json.loads(trusted_results(json.dumps(doc), "artifact 7", run, 7)))
    result = CliRunner().invoke(cli, ["health", str(folder), "--max-infra-rate", "0.5"])
    assert result.exit_code == 1
    assert "- r-sick (1-gpu-h100): 1 of 1 jobs infra (100% > 50%), drained; failing probes: nvidia-smi x1" in (
        result.output.splitlines()
    )


def test_results_files_that_name_no_runner_are_counted_not_errors(tmp_path):
    """Older runners' results (the timings loop reads them too) hold no runner: a note, still a report."""
    folder = fleet_folder(tmp_path)
    write(folder, "older.json", {"suite": "base", "shard": 0, "files": []})
    result = CliRunner().invoke(cli, ["health", str(folder), "--max-infra-rate", "0.7"])
    assert result.exit_code == 0, result.output
    assert result.output.endswith(
        "```\n\nSkipped 1 results file without the runner's name (written before cigen recorded it).\n"
    )


def test_exit_zero_reports_from_the_readable_files_and_warns_of_the_others(tmp_path):
    """The timings job runs `cigen health --exit-zero`: one odd file must not stop the timings loop."""
    folder = fleet_folder(tmp_path)
    bad = write(folder, "zz-bad.json", {"version": 1, "runner": {"name": "x`y"}, "preflight": {}, "files": []})
    summary = tmp_path / "summary.md"
    args = ["health", str(folder), "--max-infra-rate", "0.5", "--exit-zero", "--summary", str(summary)]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0
    assert (
        result.stderr == f"{bad}: warning: results-invalid: not a cigen results file: runner.name is not a plain name\n"
    )
    assert result.stdout.startswith("### Runner health: 7 jobs\n")
    assert result.stdout.endswith("\nSkipped 1 unreadable file (the warnings in the log name them).\n")
    assert "- r-sick (1-gpu-h100): 2 of 3 jobs infra (67% > 50%), drained" in summary.read_text()


def test_a_long_last_failure_is_cut_at_a_word_and_marked():
    text = "cuda-init: test/test_gpu.py: infra: " + "word " * 40
    short = fleet.shortened(text)
    assert len(short) <= fleet.LAST_FAILURE and short.endswith(" word...") and fleet.shortened("short") == "short"
