"""Which estimator predicts the next run best: each scored on held-out runs. Pure: no I/O.

For every run with history before it, calibrate on the earlier runs only, then compare the
predictions with the run's real durations: per file, per real sglang shard (the sum a planner
balances), and the real imbalance of an LPT plan made from the predictions. LPT, not the
configured partitioner, so the scores rank estimates alone and stay cheap to compute.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

from benchmarks.backtest.replay import actual_durations, judge
from generator.model import Config
from generator.registration import Registration
from generator.timings.calibrate import calibrate, registered_est
from generator.timings.estimators import nearest_rank
from generator.timings.history import Run, history_measurements, is_partial
from tests.support.baselines import lpt


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
    runs: Sequence[Run],
    config: Config,
    registrations: Sequence[Registration],
    estimators: Sequence[str],
    min_history: int = 1,
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
                    imbalances.append(judge(lpt(predicted, len(jobs)), actual, 0.0).imbalance)
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


@dataclass(frozen=True)
class SpeedSpread:
    """How much of a file's run-to-run variation its whole job shares (a slower or busier
    runner): no plan made before the run can balance that away."""

    jobs: int
    files: int
    job_sd: float  # sd of a job's common log speed factor, file noise removed
    file_sd: float  # sd of a file's log deviation around its job's factor


def speed_spread(runs: Sequence[Run], backends: Sequence[str], min_seconds: float = 30.0) -> SpeedSpread | None:
    """Each file's log(elapsed / its median in the other runs), split into a per-job mean and
    the rest; the job-level variance is the variance of job means minus what file noise adds."""
    samples: dict[tuple[str, str, str], float] = {}
    for run in runs:
        for job in run.final_jobs(backends):
            for path, seconds in actual_durations([job]).items():
                samples[(run.run_id, job.suite, path)] = seconds
    by_file: dict[tuple[str, str], dict[str, float]] = {}
    for (run_id, suite, path), seconds in samples.items():
        by_file.setdefault((suite, path), {})[run_id] = seconds
    job_means: list[float] = []
    noise: list[float] = []  # within-job variance / files, per job
    residuals: list[float] = []
    for run in runs:
        for job in run.final_jobs(backends):
            deviations = []
            for path, seconds in actual_durations([job]).items():
                others = [s for r, s in by_file[(job.suite, path)].items() if r != run.run_id]
                if seconds >= min_seconds and len(others) >= 3:
                    deviations.append(math.log(seconds / statistics.median(others)))
            if len(deviations) >= 4:
                mean = statistics.fmean(deviations)
                job_means.append(mean)
                noise.append(statistics.variance(deviations) / len(deviations))
                residuals.extend(d - mean for d in deviations)
    if len(job_means) < 2:
        return None
    job_variance = statistics.variance(job_means) - statistics.fmean(noise)
    return SpeedSpread(len(job_means), len(residuals), math.sqrt(max(job_variance, 0.0)), statistics.pstdev(residuals))
