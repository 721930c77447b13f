"""Robust estimates of a file's next duration from its past samples (oldest first).

Which one predicts the next run best is measured, not assumed: `cigen backtest` and
`make bench` print each estimator's error on held-out runs (see README, "Backtest").
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable, Sequence

Estimator = Callable[[Sequence[float]], float]


def nearest_rank(values: Sequence[float], fraction: float) -> float:
    """The ceil(fraction * n)-th smallest value: the percentile sglang's issue figures use."""
    ordered = sorted(values)
    return ordered[max(1, math.ceil(fraction * len(ordered))) - 1]


def interpolated(values: Sequence[float], fraction: float) -> float:
    """Linear interpolation between order statistics (statistics.quantiles 'inclusive',
    numpy's default): what sglang-ci-stats' derive.py uses for its p90."""
    ordered = sorted(values)
    position = (len(ordered) - 1) * fraction
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def ewma(values: Sequence[float], alpha: float) -> float:
    """Exponentially weighted mean, the newest sample weighted `alpha`."""
    mean = values[0]
    for value in values[1:]:
        mean = alpha * value + (1 - alpha) * mean
    return mean


def trimmed_mean(values: Sequence[float]) -> float:
    """Mean without the lowest and highest sample once there are five or more."""
    ordered = sorted(values)
    if len(ordered) >= 5:
        ordered = ordered[1:-1]
    return sum(ordered) / len(ordered)


ESTIMATORS: dict[str, Estimator] = {
    "p90": lambda v: interpolated(v, 0.9),
    "p75": lambda v: interpolated(v, 0.75),
    "median": statistics.median,
    "mean": statistics.fmean,
    "trimmed-mean": trimmed_mean,
    "ewma-0.3": lambda v: ewma(v, 0.3),
    "ewma-0.5": lambda v: ewma(v, 0.5),
    "ewma-0.7": lambda v: ewma(v, 0.7),
    "last": lambda v: v[-1],
    "median-last-3": lambda v: statistics.median(v[-3:]),
    "max-last-3": lambda v: max(v[-3:]),
}

# Measured with `cigen backtest` on sglang's 8 scheduled runs (2026-06-18..21; README,
# "Which estimator"): the lowest error on the next run's real shard totals and per file.
# Recent runs predict best because durations shift with code changes; p90 is the worst.
DEFAULT_ESTIMATOR = "ewma-0.7"

# sglang-ci-stats keeps the newest 16 samples per file (about one weekly rotation).
MAX_SAMPLES = 16
