"""`python -m benchmarks.backtest --history DIR [--root ROOT]`: judge plans made from earlier
runs by each run's real durations (what `cigen backtest` did before it moved out of the wheel)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from benchmarks.backtest.forecast import score_estimators, speed_spread
from benchmarks.backtest.replay import OWN_COUNTS, backtest, sglang_figures
from benchmarks.backtest.report import (
    backtest_json,
    data_notes,
    estimator_rows,
    overall_rows,
    pipeline_rows,
    sglang_note,
    speed_note,
    suite_rows,
    verdict_counts,
)
from generator.cli.common import format_table
from generator.lint import planned_registrations
from generator.pipeline import read_inputs
from generator.timings.estimators import DEFAULT_ESTIMATOR, ESTIMATORS
from generator.timings.history import read_history


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.backtest", description=__doc__)
    parser.add_argument(
        "--history", action="append", type=Path, required=True, help="sglang-ci-stats runs (repeatable)"
    )
    parser.add_argument("--root", type=Path, default=Path("."), help="the test tree the runs are of")
    parser.add_argument("--config", type=Path, help="cigen.yml (default: ROOT/cigen.yml, else the embedded default)")
    parser.add_argument("--estimator", choices=list(ESTIMATORS), default=DEFAULT_ESTIMATOR)
    parser.add_argument(
        "--min-history", type=int, default=1, help="judge runs with at least this many runs before them"
    )
    parser.add_argument("--format", choices=["json", "table"], default="table")
    args = parser.parse_args(argv)
    inputs = read_inputs(args.root, args.config)
    registrations = planned_registrations(inputs.config, inputs.scan)
    runs = read_history(args.history)
    if len(runs) <= args.min_history:
        parser.error(f"{len(runs)} runs: need more than --min-history={args.min_history}")
    result = backtest(runs, inputs.config, registrations, args.estimator, args.min_history)
    scores = score_estimators(runs, inputs.config, registrations, list(ESTIMATORS), args.min_history)
    sglang = sglang_figures(runs, inputs.config.backends)
    if args.format == "json":
        print(json.dumps(backtest_json(result, inputs.config, scores, sglang), indent=2, sort_keys=True))
        return 0
    sections = [
        (f"Per suite (median imbalance = max/mean shard test time; estimator {args.estimator})", suite_rows(result)),
        ("Overall", overall_rows(result)),
        ("Pipeline wall-clock (critical path through needs)", pipeline_rows(result, inputs.config)),
        ("Which estimator predicts the next run", estimator_rows(scores, args.estimator)),
    ]
    for title, (header, rows) in sections:
        print(f"{title}\n\n{format_table(header, rows)}\n")
    for variant in OWN_COUNTS:
        verdicts = verdict_counts(result, variant)
        print(f"{variant} wall-clock vs sglang per suite-run: {', '.join(f'{k} {v}' for k, v in verdicts.items())}")
    print(sglang_note(sglang, len(runs)))
    print(speed_note(speed_spread(runs, inputs.config.backends)))
    for note in data_notes(result):
        print(note)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
