"""Backtest results -> table rows and a JSON document (the CLI and `make bench` share them)."""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import asdict

from benchmarks.backtest.forecast import EstimatorScore, SpeedSpread
from benchmarks.backtest.replay import (
    OWN_COUNTS,
    VARIANTS,
    Backtest,
    SglangFigures,
    SuiteRun,
    floor_setup_share,
    pipeline_walls,
    summarize,
)
from generator.model import Config
from generator.timings.estimators import nearest_rank

Rows = tuple[tuple[str, ...], list[tuple]]


def _ratio(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}%"


def _counts(values: Sequence[int]) -> str:
    low, high = min(values), max(values)
    return str(low) if low == high else f"{low}-{high}"


def suite_rows(result: Backtest) -> Rows:
    """Per suite, over its complete held-out suite-runs: ours against sglang's real shards."""
    header = (
        "suite", "runs", "k sglang", "imb sglang", "imb cigen", "imb lpt", "imb oracle", "imb hindsight",
        "k own", "imb own", "wall s sglang", "wall s own", "setup sglang", "setup own", "own slower",
    )  # fmt: skip
    by_suite: dict[str, list[SuiteRun]] = {}
    for s in result.compared():
        by_suite.setdefault(s.suite, []).append(s)
    rows = []
    for suite, runs in sorted(by_suite.items()):
        median = {v: nearest_rank([s.shardings[v].imbalance for s in runs], 0.5) for v in VARIANTS}
        sglang, own = summarize(runs, "sglang"), summarize(runs, "cigen-own")
        verdicts = Counter(s.wall_verdict() for s in runs)
        slower = verdicts["within-budget"] + verdicts["over-budget"]
        rows.append(
            (
                suite,
                len(runs),
                _counts([s.shardings["sglang"].shards for s in runs]),
                *(_ratio(median[v]) for v in ("sglang", "cigen", "lpt", "oracle", "hindsight")),
                _counts([s.shardings["cigen-own"].shards for s in runs]),
                _ratio(median["cigen-own"]),
                f"{sglang.wall_seconds / len(runs):.0f}",
                f"{own.wall_seconds / len(runs):.0f}",
                _pct(sglang.setup_share),
                _pct(own.setup_share),
                f"{slower} ({verdicts['over-budget']} over budget)" if slower else "0",
            )
        )
    return header, rows


def overall_rows(result: Backtest) -> Rows:
    """Every variant over all complete held-out suite-runs; imbalance over multi-shard ones."""
    header = (
        "sharding",
        "suite-runs",
        "multi-shard",
        "shards",
        "imb median",
        "imb p90",
        "imb max",
        "makespan/bound",
        "job-hours",
        "setup share",
    )
    compared = result.compared()
    rows = []
    for variant in VARIANTS:
        s = summarize(compared, variant)
        rows.append(
            (
                variant,
                s.suite_runs,
                s.multi_shard,
                s.shards,
                _ratio(s.imbalance_median),
                _ratio(s.imbalance_p90),
                _ratio(s.imbalance_max),
                f"{s.makespan_over_bound:.3f}",
                f"{s.job_seconds / 3600:.1f}",
                _pct(s.setup_share),
            )
        )
    rows.append(
        ("floor (ceil(total/budget) perfect shards)", "", "", "", "", "", "", "", "", _pct(floor_setup_share(compared)))
    )
    return header, rows


def pipeline_rows(result: Backtest, config: Config) -> Rows:
    """Per judged run, the critical path through `needs` of the suites' wall-clocks."""
    variants = ("sglang", "cigen", *OWN_COUNTS)
    walls = {v: pipeline_walls(result, config, v) for v in variants}
    header = ("run", *(f"{v} s" for v in variants), *(f"{v} vs sglang" for v in OWN_COUNTS))
    rows = [
        (
            started,
            *(f"{walls[v][started]:.0f}" for v in variants),
            *(f"{walls[v][started] / walls['sglang'][started] - 1:+.1%}" for v in OWN_COUNTS),
        )
        for started in walls["sglang"]
    ]
    return header, rows


def _multi_shard(result: Backtest, variant: str) -> dict[tuple[str, str], float]:
    return {
        (s.run_id, s.suite): s.shardings[variant].imbalance
        for s in result.compared()
        if s.shardings[variant].shards > 1
    }


def noise_rows(baseline: Backtest, experiments: Mapping[str, Backtest]) -> Rows:
    """The `cigen` variant under each experiment against the default, suite-run by suite-run
    (worst 10% = mean of the worst tenth: steadier than one order statistic); sglang, lpt
    and the oracle of the default run for scale."""
    header = ("sharding", "imb median", "imb p90", "imb mean", "worst 10% mean", "mean vs default", "better / worse")
    default = _multi_shard(baseline, "cigen")
    rows = []
    for name, result, variant in (
        *((v, baseline, v) for v in ("sglang", "lpt", "oracle")),
        ("default", baseline, "cigen"),
        *((name, result, "cigen") for name, result in experiments.items()),
    ):
        values = _multi_shard(result, variant)
        ordered = sorted(values.values(), reverse=True)
        diffs = [values[key] - default[key] for key in default]
        rows.append(
            (
                name,
                _ratio(nearest_rank(ordered, 0.5)),
                _ratio(nearest_rank(ordered, 0.9)),
                f"{statistics.fmean(ordered):.4f}",
                f"{statistics.fmean(ordered[: max(1, round(len(ordered) / 10))]):.3f}",
                f"{statistics.fmean(diffs):+.4f}",
                f"{sum(d < -1e-9 for d in diffs)} / {sum(d > 1e-9 for d in diffs)}",
            )
        )
    return header, rows


def verdict_counts(result: Backtest, variant: str = "cigen-own") -> dict[str, int]:
    counts = Counter(s.wall_verdict(variant) for s in result.compared())
    return {verdict: counts[verdict] for verdict in ("no-slower", "within-budget", "over-budget")}


def estimator_rows(scores: Sequence[EstimatorScore], chosen: str) -> Rows:
    header = ("estimator", "files", "file MAE s", "file median err", "shard err", "LPT imb median", "LPT imb p90")
    rows = [
        (
            f"{s.estimator} (default)" if s.estimator == chosen else s.estimator,
            s.files,
            "-" if s.file_mae_seconds is None else f"{s.file_mae_seconds:.1f}",
            _pct(s.file_median_error),
            _pct(s.shard_error),
            _ratio(s.lpt_imbalance_median),
            _ratio(s.lpt_imbalance_p90),
        )
        for s in sorted(scores, key=lambda s: (s.shard_error is None, s.shard_error or 0.0, s.estimator))
    ]
    return header, rows


def sglang_note(figures: SglangFigures, runs: int) -> str:
    """sglang's own shards over the whole history, as the issue states its figures."""
    return (
        f"sglang's own shards, all {runs} runs: {figures.suite_runs} multi-shard suite-runs, imbalance median "
        f"{_ratio(figures.imbalance_median)}, p90 {_ratio(figures.imbalance_p90)}, "
        f"worst {_ratio(figures.imbalance_max)}; "
        f"setup {_pct(figures.setup_share)} of {figures.jobs} jobs' seconds"
    )


def speed_note(spread: SpeedSpread | None) -> str:
    if spread is None:
        return "per-job speed factor: too few repeated files to tell"
    return (
        f"per-job speed factor (all files of one job faster or slower together, which no plan made before the run "
        f"can balance): sd {_pct(spread.job_sd)} over {spread.jobs} jobs; "
        f"per-file noise around it: sd {_pct(spread.file_sd)}"
    )


def data_notes(result: Backtest) -> list[str]:
    """How the history's gaps were handled, as counts."""
    partial = [s for s in result.suite_runs if s.partial]
    new = sum(s.new_files for s in result.suite_runs)
    unregistered = sum(s.unregistered_new_files for s in result.suite_runs)
    return [
        f"held-out runs: {len({s.run_id for s in result.suite_runs})}; "
        f"not judged (no earlier run): {len(result.cold_runs)}",
        f"suite-runs judged: {len(result.compared())}; excluded as partial (a failed shard is missing): {len(partial)}"
        + (f" ({', '.join(f'{s.started[:13]} {s.suite}' for s in partial)})" if partial else ""),
        f"files new in their run (est_time x suite ratio): {new}, of which unregistered (suite median): {unregistered}",
        f"history files not registered now (renamed or deleted): {len(result.renamed_or_deleted)}; "
        f"registered files of these suites that never ran: {result.never_run}",
    ]


def backtest_json(result: Backtest, config: Config, scores: Sequence[EstimatorScore], sglang: SglangFigures) -> dict:
    def sharding(s) -> dict:
        return {
            "shards": s.shards,
            "shard_seconds": [round(x, 1) for x in s.shard_seconds],
            "setup_seconds": round(s.setup_seconds, 1),
            "makespan": round(s.makespan_seconds, 1),
            "lower_bound": round(s.lower_bound_seconds, 1),
            "imbalance": round(s.imbalance, 4),
            "wall_seconds": round(s.wall_seconds, 1),
            "job_seconds": round(s.job_seconds, 1),
        }

    def summary(variant: str) -> dict:
        totals = summarize(result.compared(), variant)
        data = {**asdict(totals), "setup_share": totals.setup_share}
        return {k: round(v, 4) if isinstance(v, float) else v for k, v in data.items()}

    return {
        "estimator": result.estimator,
        "cold_runs": list(result.cold_runs),
        "summary": {variant: summary(variant) for variant in VARIANTS},
        "floor_setup_share": round(floor_setup_share(result.compared()), 4),
        "wall_verdicts": {v: verdict_counts(result, v) for v in OWN_COUNTS},
        "pipeline_seconds": {
            v: {k: round(x, 1) for k, x in pipeline_walls(result, config, v).items()} for v in VARIANTS
        },
        "estimators": [{k: round(v, 4) if isinstance(v, float) else v for k, v in asdict(s).items()} for s in scores],
        "sglang_all_runs": {k: round(v, 4) if isinstance(v, float) else v for k, v in asdict(sglang).items()},
        "renamed_or_deleted": [{"suite": suite, "path": path} for suite, path in result.renamed_or_deleted],
        "suite_runs": [
            {
                "run_id": s.run_id,
                "started": s.started,
                "suite": s.suite,
                "files": s.files,
                "new_files": s.new_files,
                "unregistered_new_files": s.unregistered_new_files,
                "partial": s.partial,
                "budget_seconds": s.budget_seconds,
                "wall_verdicts": {v: s.wall_verdict(v) for v in OWN_COUNTS} if s.compared else None,
                "shardings": {v: sharding(x) for v, x in s.shardings.items()},
            }
            for s in result.suite_runs
        ],
    }
