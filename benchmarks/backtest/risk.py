"""Files -> shards balancing risk, not only the mean: minimise the largest
sum of means + k * sqrt(sum of variances) of a shard. Pure and deterministic.

Measured against `partition` on sglang's history (`make bench`, "Noise experiments"): it
does not beat it there, so nothing ships it by default; kept to re-measure as history grows.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from generator.planning.partition import partition, rounding_slack

# Each step lowers the sorted score vector, so the search ends; this only caps pathological inputs.
MAX_STEPS = 10_000


def risk_score(means: float, variances: float, k: float) -> float:
    return means + k * math.sqrt(max(variances, 0.0))


def risk_partition(
    durations: Mapping[str, float], variances: Mapping[str, float], shards: int, k: float
) -> list[list[str]]:
    """`partition`'s split, then single moves or swaps out of the riskiest shard while they
    lower its score without the other shard reaching it. k = 0 is `partition` itself."""
    bins = [sorted(b) for b in partition(durations, shards)]
    if k == 0:
        return bins
    means = [sum(durations[p] for p in b) for b in bins]
    risks = [sum(variances[p] for p in b) for b in bins]
    for _ in range(MAX_STEPS):
        scores = [risk_score(m, v, k) for m, v in zip(means, risks)]
        top = max(range(shards), key=lambda s: (scores[s], -s))
        limit = scores[top] - rounding_slack(scores[top])
        best = None
        for other in range(shards):
            if other == top:
                continue
            for out in bins[top]:
                for back in (None, *bins[other]):
                    dm = durations[out] - (durations[back] if back is not None else 0.0)
                    dv = variances[out] - (variances[back] if back is not None else 0.0)
                    worst = max(
                        risk_score(means[top] - dm, risks[top] - dv, k),
                        risk_score(means[other] + dm, risks[other] + dv, k),
                    )
                    candidate = (worst, other, out, back or "")
                    if worst < limit and (best is None or candidate < best[0]):
                        best = (candidate, other, out, back, dm, dv)
        if best is None:
            break
        _, other, out, back, dm, dv = best
        bins[top].remove(out)
        bins[other].append(out)
        if back is not None:
            bins[other].remove(back)
            bins[top].append(back)
        means[top] -= dm
        means[other] += dm
        risks[top] -= dv
        risks[other] += dv
    return [sorted(b) for b in bins]
