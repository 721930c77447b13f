"""Which estimator predicts the next run best: each scored on held-out runs. Pure: no I/O.

For every run with history before it, calibrate on the earlier runs only, then compare the
predictions with the run's real durations: per file, per real sglang shard (the sum a planner
balances), and the real imbalance of an LPT plan made from the predictions. LPT, not the
configured partitioner, so the scores rank estimates alone and stay cheap to compute.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from typing import Sequence

from generator import plan
from generator.backtest import actual_durations, judge
from generator.calibrate import calibrate, registered_est
from generator.estimators import nearest_rank
from generator.history import Run, history_measurements, is_partial
from generator.model import Config, Registration


@dataclass(frozen=True)
class EstimatorScore:
    estimator: str
    files: int  # held-out (run, suite, file) triples with at least one earlier sample
    file_mae_seconds: float | None  # None: nothing to score
    file_median_error: float | None  # median |predicted - real| / real
    shard_error: float | None  # mean |predicted - real| / real over sglang's real shards
    lpt_imbalance_median: float | None
    lpt_imbalance_p90: float | None


def score_estimators(
    runs: Sequence[Run], config: Config, registrations: Sequence[Registration], estimators: Sequence[str], min_history: int = 1
) -> list[EstimatorScore]:
    est = registered_est(registrations)
    scores = []
    for name in estimators:
        abs_errors: list[float] = []
        rel_errors: list[float] = []
        shard_errors: list[float] = []
        imbalances: list[float] = []
        for index in range(min_history, len(runs)):
            timings, _ = calibrate(history_measurements(runs[:index], config.backends), registrations, name)
            for suite, jobs in runs[index].suite_jobs(config.backends).items():
                actual = actual_durations(jobs)
                if not actual or is_partial(jobs):
                    continue
                predicted = {path: timings.estimate(suite, path, est.get((suite, path))) for path in actual}
                for path, real in actual.items():
                    if timings.measured(suite, path) is not None:
                        abs_errors.append(abs(predicted[path] - real))
                        if real > 0:
                            rel_errors.append(abs(predicted[path] - real) / real)
                for job in jobs:
                    real = sum(actual_durations([job]).values())
                    if real > 0:
                        guess = sum(predicted[path] for path in {f.path for f in job.files})
                        shard_errors.append(abs(guess - real) / real)
                if len(jobs) > 1:
                    imbalances.append(judge(plan.lpt(predicted, len(jobs)), actual, 0.0).imbalance)
        scores.append(
            EstimatorScore(
                estimator=name,
                files=len(abs_errors),
                file_mae_seconds=statistics.fmean(abs_errors) if abs_errors else None,
                file_median_error=statistics.median(rel_errors) if rel_errors else None,
                shard_error=statistics.fmean(shard_errors) if shard_errors else None,
                lpt_imbalance_median=nearest_rank(imbalances, 0.5) if imbalances else None,
                lpt_imbalance_p90=nearest_rank(imbalances, 0.9) if imbalances else None,
            )
        )
    return scores
