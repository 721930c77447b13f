"""The backtest: plans judged by the next run's real durations, and sglang's shards alike."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from benchmarks.backtest.forecast import score_estimators, speed_spread
from benchmarks.backtest.replay import (
    VARIANTS,
    Sharding,
    backtest,
    critical_path_seconds,
    floor_setup_share,
    sglang_figures,
    summarize,
)
from benchmarks.backtest.report import noise_rows
from generator.config import load_config, parse_config
from generator.lint import planned_registrations
from generator.registration import Registration
from generator.timings.history import history_measurements, read_history
from generator.tree import scan_tree
from tests.support.synth import corpus_dir

SUITE = "base-c-test-4-gpu-h100"  # embedded default: 22.5 min budget, max_parallel 6


def job(name: str, start: str, end: str, files: dict[str, float], suite: str = SUITE) -> dict:
    return {
        "name": name,
        "suite": suite,
        "backend": "cuda",
        "started_at": f"2026-06-18T{start}Z",
        "completed_at": f"2026-06-18T{end}Z",
        "labels": ["4-gpu-h100"],
        "timings": [{"file": f, "elapsed": e} for f, e in files.items()],
    }


def write_history(folder: Path) -> Path:
    runs = {
        "2026-06-18T10:00:00Z": [
            job("x (0)", "10:00:00", "10:17:00", {"a": 600, "b": 300}),  # setup 120
            job("x (1)", "10:00:00", "10:16:20", {"c": 500, "d": 400}),  # setup 80
        ],
        "2026-06-18T22:00:00Z": [
            job("x (0)", "22:00:00", "22:19:30", {"a": 650, "d": 400}),  # setup 120
            job("x (1)", "22:00:00", "22:14:40", {"b": 300, "c": 500}),  # setup 80
            job("y (0)", "22:00:00", "22:05:00", {"new": 100, "gone": 80}, suite="base-c-test-8-gpu-h200"),
        ],
    }
    for index, (started, jobs) in enumerate(runs.items()):
        (folder / f"run{index}.json").write_text(json.dumps({"run_id": index, "started_at": started, "jobs": jobs}))
    return folder


REGS = [Registration(p, 1, "cuda", est, SUITE) for p, est in (("a", 100), ("b", 100), ("c", 100), ("d", 100))] + [
    Registration("new", 1, "cuda", 90, "base-c-test-8-gpu-h200")
]


def test_sharding_figures():
    sharding = Sharding((300.0, 100.0), 50.0, 200.0)
    assert (sharding.shards, sharding.makespan_seconds, sharding.imbalance) == (2, 300.0, 1.5)
    assert sharding.lower_bound_seconds == 200.0
    assert (sharding.wall_seconds, sharding.setup_total_seconds, sharding.job_seconds) == (350.0, 100.0, 500.0)


def test_backtest_judges_each_sharding_by_the_runs_real_durations(tmp_path):
    runs = read_history([write_history(tmp_path)])
    config = load_config(None, tmp_path)
    result = backtest(runs, config, REGS, estimator="last")
    assert result.cold_runs == ("0",)
    [suite_run, newcomer] = result.suite_runs
    assert (suite_run.suite, suite_run.files, suite_run.new_files, suite_run.partial) == (SUITE, 4, 0, False)
    shards = {name: s.shard_seconds for name, s in suite_run.shardings.items()}
    # Predicted from run 0 (last): a 600, b 300, c 500, d 400 -> LPT [a, b] [c, d]; real a is 650.
    assert shards == {
        "sglang": (1050.0, 800.0),
        "cigen": (950.0, 900.0),
        "lpt": (950.0, 900.0),
        "hindsight": (950.0, 900.0),
        "oracle": (950.0, 900.0),  # means a 625, b 300, c 500, d 400 -> [a, b] [c, d]
        "cigen-own": (950.0, 900.0),  # 1800 s over a 1350 s budget: 2 shards
        "cigen-own-setup": (950.0, 900.0),  # 100 s measured setup + 900 still fits
    }
    sglang, ours = suite_run.shardings["sglang"], suite_run.shardings["cigen"]
    assert (sglang.setup_seconds, sglang.wall_seconds, sglang.job_seconds) == (100.0, 1150.0, 2050.0)
    assert (ours.wall_seconds, ours.imbalance) == (1050.0, 950 / 925)
    assert suite_run.wall_verdict() == "no-slower"
    assert (newcomer.new_files, newcomer.unregistered_new_files) == (2, 1)
    assert result.renamed_or_deleted == (("base-c-test-8-gpu-h200", "gone"),)


def test_the_partitioner_is_pluggable_and_lpt_stays_the_baseline(tmp_path):
    runs = read_history([write_history(tmp_path)])
    config = load_config(None, tmp_path)

    def round_robin(durations, shards):
        return [sorted(durations)[i::shards] for i in range(shards)]

    [suite_run, _] = backtest(runs, config, REGS, estimator="last", partitioner=round_robin).suite_runs
    assert suite_run.shardings["cigen"].shard_seconds == (1150.0, 700.0)  # [a, c] [b, d]
    assert suite_run.shardings["lpt"].shard_seconds == (950.0, 900.0)


def test_critical_path_follows_needs():
    config = parse_config(
        """\
version: 1
pools: {p: {labels: [p], gpus: 1, setup_minutes: 1}}
suites:
  a: {trigger: per-commit, pools: [p], step_timeout_minutes: 10, shard_budget_minutes: 5}
  b: {trigger: per-commit, pools: [p], step_timeout_minutes: 10, shard_budget_minutes: 5, needs: [a]}
  c: {trigger: per-commit, pools: [p], step_timeout_minutes: 10, shard_budget_minutes: 5, needs: [a]}
  x: {trigger: per-commit, pools: [p], step_timeout_minutes: 10, shard_budget_minutes: 5}
""",
        "cigen.yml",
    )
    assert critical_path_seconds({"a": 100, "b": 200, "c": 50, "x": 250}, config) == 300
    assert critical_path_seconds({"b": 200, "x": 250}, config) == 250


def test_estimator_scores_on_a_steady_history(tmp_path):
    runs = read_history([write_history(tmp_path)])
    config = load_config(None, tmp_path)
    [last] = score_estimators(runs, config, REGS, ["last"])
    # Only a changed (600 -> 650) among the 4 measured files. Shards: a+d 1000 for 1050, b+c 800
    # for 800, and y's: new = est_time 90, gone = the median measured file 450, for 180.
    assert last.files == 4
    assert last.file_mae_seconds == 12.5
    assert last.file_median_error == 0.0
    assert last.shard_error == pytest.approx((50 / 1050 + 0 + 360 / 180) / 3)
    assert last.lpt_imbalance_median == 950 / 925


def test_sglangs_issue_figures_reproduce_from_the_shipped_history():
    runs = read_history([corpus_dir() / "sglang-ci-stats"])
    figures = sglang_figures(runs, ["cuda"])
    assert figures.suite_runs == 88
    assert figures.jobs == 406
    assert (round(figures.imbalance_median, 3), round(figures.imbalance_p90, 3), round(figures.imbalance_max, 3)) == (
        1.085,
        1.187,
        1.426,
    )
    assert round(100 * figures.setup_share, 1) == 11.1


@pytest.fixture(scope="module")
def corpus_inputs(synth_tree):
    """(runs, config, registrations): sglang's history and the synthetic tree's registrations."""
    config = load_config(None, synth_tree.root)
    scan = scan_tree(synth_tree.root, config.include, config.exclude)
    return read_history([corpus_dir() / "sglang-ci-stats"]), config, planned_registrations(config, scan)


@pytest.fixture(scope="module")
def corpus_backtest(corpus_inputs):
    config = corpus_inputs[1]
    return config, backtest(*corpus_inputs)


def test_corpus_backtest_handles_the_historys_gaps(corpus_backtest):
    _, result = corpus_backtest
    assert result.cold_runs == ("27758438303",)
    assert len(result.suite_runs) == 143
    assert sorted((s.started[:13], s.suite) for s in result.suite_runs if s.partial) == [
        ("2026-06-19T12", "base-c-test-8-gpu-h200"),
        ("2026-06-20T11", "extra-a-test-1-gpu-large"),
        ("2026-06-20T23", "base-c-test-8-gpu-h20"),
        ("2026-06-21T11", "extra-a-test-1-gpu-large"),
    ]
    assert len(result.renamed_or_deleted) == 19
    assert ("base-b-test-1-gpu-large", "test/registered/dllm/test_llada2_mini.py") in result.renamed_or_deleted


def test_corpus_backtest_invariants(corpus_backtest):
    config, result = corpus_backtest
    for s in result.compared():
        sglang = s.shardings["sglang"]
        for name in VARIANTS:
            sharding = s.shardings[name]
            assert sharding.total_seconds == pytest.approx(sglang.total_seconds), (s.suite, name)
            assert sharding.makespan_seconds >= sharding.lower_bound_seconds - 1e-9
            assert sharding.setup_seconds == sglang.setup_seconds
        for name in ("cigen", "lpt", "hindsight", "oracle"):
            assert s.shardings[name].shards == min(sglang.shards, s.files)
        assert s.shardings["cigen-own"].shards <= config.suites[s.suite].max_parallel
        assert s.shardings["cigen-own-setup"].shards <= config.suites[s.suite].max_parallel


def test_floor_setup_share_counts_budget_filling_shards(corpus_backtest):
    _, result = corpus_backtest
    compared = result.compared()
    setup = total = 0.0
    for s in compared:
        real = s.shardings["sglang"]
        count = -(-real.total_seconds // s.budget_seconds)
        setup += count * real.setup_seconds
        total += count * real.setup_seconds + real.total_seconds
    assert floor_setup_share(compared) == pytest.approx(setup / total)
    assert floor_setup_share(compared) < summarize(compared, "sglang").setup_share


def test_speed_spread_finds_a_job_that_ran_slow_on_every_file(tmp_path):
    files = {f"t{i}.py": 100.0 + 10 * i for i in range(5)}
    for index in range(4):
        slow = 1.5 if index == 3 else 1.0
        jobs = [
            job("x (0)", "10:00:00", "11:00:00", {f: s * slow for f, s in files.items()}),
            job("x (1)", "10:00:00", "11:00:00", {"u.py": 300}),
        ]
        (tmp_path / f"{index}.json").write_text(
            json.dumps({"run_id": index, "started_at": f"2026-06-1{index}T10:00:00Z", "jobs": jobs})
        )
    spread = speed_spread(read_history([tmp_path]), ["cuda"])
    # Job means: 0, 0, 0, log 1.5; no spread within a job.
    assert (spread.jobs, spread.files) == (4, 20)
    assert spread.job_sd == pytest.approx(math.log(1.5) / 2)
    assert spread.file_sd == pytest.approx(0.0, abs=1e-12)


def test_denoised_history_undoes_a_slow_runner(tmp_path):
    # Four 100 s files ran on one job, 1.5x slow in run 2; b (400 s) alone in another job.
    quick = {f"a{i}": 100.0 for i in range(4)}
    for index in range(4):
        slow = 1.5 if index == 2 else 1.0
        jobs = [
            job("x (0)", "10:00:00", "11:00:00", {p: s * slow for p, s in quick.items()}),
            job("x (1)", "10:00:00", "11:00:00", {"b": 400.0}),
        ]
        (tmp_path / f"{index}.json").write_text(
            json.dumps({"run_id": index, "started_at": f"2026-06-1{index}T10:00:00Z", "jobs": jobs})
        )
    runs = read_history([tmp_path])
    assert {s.job for s in history_measurements(runs[:1], ["cuda"]).samples} == {"0/x (0)", "0/x (1)"}
    regs = [Registration(p, 1, "cuda", 100, SUITE) for p in [*quick, "b"]]
    config = load_config(None, tmp_path)
    # Raw, ewma-0.7 puts the a's at 135 s each (540): [b, a0] against [a1, a2, a3], really 500 / 300.
    [raw] = backtest(runs, config, regs, min_history=3).suite_runs
    assert raw.shardings["cigen"].shard_seconds == (300.0, 500.0)
    # The slow job's factor taken out, the a's are about 119 s (476): the a's against b, really 400 / 400.
    [denoised] = backtest(runs, config, regs, min_history=3, denoised=True).suite_runs
    assert denoised.shardings["cigen"].shard_seconds == (400.0, 400.0)


def test_risk_balancing_changes_only_the_cigen_variant(corpus_inputs, corpus_backtest):
    _, plain = corpus_backtest
    risky = backtest(*corpus_inputs, risk_k=1.0)
    changed = 0
    for before, after in zip(plain.suite_runs, risky.suite_runs):
        assert {v: s for v, s in before.shardings.items() if v != "cigen"} == {
            v: s for v, s in after.shardings.items() if v != "cigen"
        }
        assert after.shardings["cigen"].total_seconds == pytest.approx(before.shardings["cigen"].total_seconds)
        changed += after.shardings["cigen"] != before.shardings["cigen"]
    assert changed > 0


def test_noise_rows_compare_each_experiment_suite_run_by_suite_run(corpus_backtest):
    _, result = corpus_backtest
    header, rows = noise_rows(result, {"same again": result})
    assert header[0] == "sharding"
    assert [row[0] for row in rows] == ["sglang", "lpt", "oracle", "default", "same again"]
    assert rows[-1][1:] == rows[-2][1:]
    assert rows[-1][-2:] == ("+0.0000", "0 / 0")
    oracle = summarize(result.compared(), "oracle")
    assert rows[2][1:3] == (f"{oracle.imbalance_median:.3f}", f"{oracle.imbalance_p90:.3f}")
    assert rows[0][-1] == "24 / 48"  # sglang's own shards beat ours in 24 of 76 suite-runs
