"""Backtest on sglang's shipped CI history: our plans vs sglang's real shards, run by run."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from benchmarks.backtest.forecast import score_estimators, speed_spread
from benchmarks.backtest.replay import backtest, floor_setup_share, sglang_figures, summarize
from benchmarks.backtest.report import (
    data_notes,
    estimator_rows,
    noise_rows,
    overall_rows,
    pipeline_rows,
    sglang_note,
    speed_note,
    suite_rows,
    verdict_counts,
)
from benchmarks.common import Targets, table
from generator.config import load_config
from generator.lint import planned_registrations
from generator.timings.estimators import DEFAULT_ESTIMATOR, ESTIMATORS
from generator.timings.history import read_history
from generator.tree import scan_tree
from tests.support.synth import corpus_dir, write_tree


def main(targets: Targets) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        tree = write_tree(Path(tmp) / "sglang")
        config = load_config(None, tree.root)
        registrations = planned_registrations(config, scan_tree(tree.root, config.include, config.exclude))
    start = time.perf_counter()
    runs = read_history([corpus_dir() / "sglang-ci-stats"])
    result = backtest(runs, config, registrations)
    scores = score_estimators(runs, config, registrations, list(ESTIMATORS))
    sglang = sglang_figures(runs, config.backends)
    seconds = time.perf_counter() - start

    print(
        f"## Backtest: {len(runs)} scheduled sglang runs, each planned from the runs before it ({DEFAULT_ESTIMATOR})\n"
    )
    for title, (header, rows) in (
        (
            "Per suite: median imbalance (max/mean real shard test time), shard counts, mean wall-clock, setup share",
            suite_rows(result),
        ),
        (
            "Overall, complete held-out suite-runs (sglang = its real jobs, measured from the same history)",
            overall_rows(result),
        ),
        (
            "Pipeline wall-clock per run: critical path through `needs` of suite walls (setup + makespan)",
            pipeline_rows(result, config),
        ),
        (
            "Which estimator predicts the next run (held-out runs; shard err = real sglang shard totals)",
            estimator_rows(scores, DEFAULT_ESTIMATOR),
        ),
    ):
        print(f"### {title}\n\n{table(header, rows)}\n")
    experiments = {
        "de-noised estimates": backtest(runs, config, registrations, denoised=True),
        "risk k=0.5": backtest(runs, config, registrations, risk_k=0.5),
        "risk k=1": backtest(runs, config, registrations, risk_k=1.0),
        "de-noised + risk k=1": backtest(runs, config, registrations, denoised=True, risk_k=1.0),
    }
    header, rows = noise_rows(result, experiments)
    print(
        "### Noise experiments: the cigen variant with de-noised estimates (per-job speed factors out) or "
        f"risk-balanced shards (mean + k x sd); not the default, measured no better\n\n{table(header, rows)}\n"
    )
    print("\n".join(f"- {note}" for note in data_notes(result)))
    print(f"- {sglang_note(sglang, len(runs))}")
    print(f"- {speed_note(speed_spread(runs, config.backends))}")
    print(f"- read + backtest + estimator scores: {seconds:.2f}s\n")

    compared = result.compared()
    at_sglang_counts = summarize(compared, "cigen")
    own = summarize(compared, "cigen-own")
    sglang_shards = summarize(compared, "sglang")
    verdicts = verdict_counts(result, "cigen-own")
    reproduced = (
        sglang.suite_runs,
        round(sglang.imbalance_median, 3),
        round(sglang.imbalance_p90, 3),
        round(sglang.imbalance_max, 3),
    )
    targets.check(
        "sglang's issue figures reproduce (88; 1.085/1.187/1.426; 11.1%)",
        reproduced == (88, 1.085, 1.187, 1.426) and round(100 * sglang.setup_share, 1) == 11.1,
        f"{reproduced}, {100 * sglang.setup_share:.1f}%",
    )
    oracle = summarize(compared, "oracle")  # the floor for any plan made before the run
    targets.check(
        "median imbalance <= 1.03 at sglang's shard counts",
        at_sglang_counts.imbalance_median <= 1.03,
        f"{at_sglang_counts.imbalance_median:.3f} "
        f"(oracle floor {oracle.imbalance_median:.3f}, sglang {sglang_shards.imbalance_median:.3f})",
    )
    targets.check(
        "p90 imbalance <= 1.08 at sglang's shard counts",
        at_sglang_counts.imbalance_p90 <= 1.08,
        f"{at_sglang_counts.imbalance_p90:.3f} "
        f"(oracle floor {oracle.imbalance_p90:.3f}, sglang {sglang_shards.imbalance_p90:.3f})",
    )
    targets.check(
        "setup < 8% of CUDA job-seconds, no suite-run slower than sglang and over budget",
        own.setup_share < 0.08 and verdicts["over-budget"] == 0,
        f"{100 * own.setup_share:.1f}% (sglang {100 * sglang_shards.setup_share:.1f}%, "
        f"floor at these budgets {100 * floor_setup_share(compared):.1f}%); {verdicts['over-budget']} over budget",
    )
    targets.check("backtest + estimator scores <= 5 s", seconds <= 5, f"{seconds:.2f}s")
