"""Noise in measured durations: per-job speed factors out of the samples (so a file's
estimate does not depend on the runner it landed on), and per-file variances. Pure.

All files of one job run faster or slower together (a slower or busier runner: `cigen
backtest` prints the spread). A job's factor is the sum of its files' durations over the sum
of their medians in the other jobs, shrunk toward 1 by how many files' worth of evidence the
job holds: a job of one or two files says little about its runner. Each sample is divided by
its job's factor; twice, so the medians the second pass compares against are de-noised too.
"""

from __future__ import annotations

import dataclasses
import math
import statistics
from collections import defaultdict
from collections.abc import Mapping, Sequence

from generator.timings.estimators import MAX_SAMPLES
from generator.timings.samples import Measurements, Sample

# A file's own run-to-run noise around its job's factor: sd ~12.5% (`speed_spread`).
FILE_CV = 0.125
# Per-file variance: the samples' variance pooled with (FILE_CV x estimate)^2 worth this many samples.
PRIOR_SAMPLES = 2.0

# Shrinkage toward 1: a job's log factor has sd ~5%, a file's own noise around it ~12.5%
# (`speed_spread` on sglang's history), so one file's evidence weighs (5/12.5)^2 ~ 1/6 of
# the prior: a job's factor counts for n / (n + 6) with n the number of (equal-sized) files.
PRIOR_FILES = 6.0
ITERATIONS = 2


def job_factors(
    samples: Sequence[Sample], prior_files: float = PRIOR_FILES, iterations: int = ITERATIONS
) -> dict[str, float]:
    """Job -> its speed factor (> 1: ran slow), for every job that the samples name."""
    by_job: dict[str, list[int]] = defaultdict(list)
    by_file: dict[tuple[str | None, str], list[int]] = defaultdict(list)
    for index, sample in enumerate(samples):
        if sample.job is not None:
            by_job[sample.job].append(index)
            by_file[(sample.suite, sample.path)].append(index)
    factors = {job: 1.0 for job in by_job}
    for _ in range(iterations):
        adjusted = [s.seconds / factors[s.job] if s.job is not None else s.seconds for s in samples]
        updated = {}
        for job, members in sorted(by_job.items()):
            real = reference = squares = 0.0
            for index in members:
                sample = samples[index]
                others = [adjusted[o] for o in by_file[(sample.suite, sample.path)] if samples[o].job != job]
                if others:
                    median = statistics.median(others)
                    real += sample.seconds
                    reference += median
                    squares += median * median
            updated[job] = _shrunk(real, reference, squares, prior_files)
        factors = updated
    return factors


def _shrunk(real: float, reference: float, squares: float, prior_files: float) -> float:
    """exp(w * log(real / reference)), w = n / (n + prior_files) with n the effective number
    of files ((sum m)^2 / sum m^2: a job of one long file and some short ones is about one)."""
    if real <= 0 or reference <= 0:
        return 1.0
    files = reference * reference / squares
    return math.exp(files / (files + prior_files) * math.log(real / reference))


def denoise(measurements: Measurements, factors: Mapping[str, float]) -> Measurements:
    """Every sample of a job divided by the job's factor; samples naming no job as they are."""
    samples = tuple(
        dataclasses.replace(s, seconds=s.seconds / factors[s.job]) if s.job in factors else s
        for s in measurements.samples
    )
    return dataclasses.replace(measurements, samples=samples)


def file_variances(
    measurements: Measurements,
    estimates: Mapping[tuple[str, str], float],
    cv: float = FILE_CV,
    prior_samples: float = PRIOR_SAMPLES,
) -> dict[tuple[str, str], float]:
    """(suite, path) -> variance of its next duration: the sample variance of its newest
    samples, pooled with (cv x its estimate)^2 counted as `prior_samples` samples (one or
    two samples say little about spread)."""
    by_file: dict[tuple[str, str], list[float]] = defaultdict(list)
    for sample in measurements.samples:
        if sample.suite is not None:
            by_file[(sample.suite, sample.path)].append(sample.seconds)
    variances = {}
    for key, values in sorted(by_file.items()):
        if key not in estimates:
            continue
        values = values[-MAX_SAMPLES:]
        spread = statistics.variance(values) if len(values) >= 2 else 0.0
        freedom = len(values) - 1
        variances[key] = (freedom * spread + prior_samples * (cv * estimates[key]) ** 2) / (freedom + prior_samples)
    return variances
