"""The risk-balancing partitioner: mean + k x sd per shard, never riskier than `partition`."""

from __future__ import annotations

import math
import random

import pytest

from benchmarks.backtest.risk import risk_partition, risk_score
from generator.planning.partition import partition

MEANS = {"a": 100.0, "b": 100.0, "c": 50.0, "d": 40.0, "e": 10.0}
VARIANCES = {"a": 900.0, "b": 0.0, "c": 0.0, "d": 0.0, "e": 0.0}  # only a is noisy: sd 30


def worst_score(bins, means, variances, k):
    return max(risk_score(sum(means[p] for p in b), sum(variances[p] for p in b), k) for b in bins)


def test_the_noisy_file_gets_the_lighter_shard():
    # On means, 150 / 150 is optimal and the shard with a scores 180; with a and d it is
    # 140 + 30 = 170 and the other shard 160: longer on means, less likely to run longest.
    assert max(sum(MEANS[p] for p in b) for b in partition(MEANS, 2)) == 150
    assert worst_score(partition(MEANS, 2), MEANS, VARIANCES, 1.0) == 180
    bins = risk_partition(MEANS, VARIANCES, 2, 1.0)
    assert sorted(bins) == [["a", "d"], ["b", "c", "e"]]
    assert worst_score(bins, MEANS, VARIANCES, 1.0) == 170


def test_k_zero_is_partition():
    assert risk_partition(MEANS, VARIANCES, 2, 0.0) == partition(MEANS, 2)


@pytest.mark.parametrize("seed", range(20))
def test_every_file_once_and_never_riskier_than_partition(seed):
    rng = random.Random(seed)
    means = {f"t{i}.py": float(rng.randint(5, 900)) for i in range(rng.randint(3, 25))}
    variances = {p: (rng.uniform(0.0, 0.5) * m) ** 2 for p, m in means.items()}
    shards = rng.randint(2, 6)
    k = rng.choice([0.5, 1.0, 2.0])
    bins = risk_partition(means, variances, shards, k)
    assert len(bins) == shards
    assert sorted(p for b in bins for p in b) == sorted(means)
    assert worst_score(bins, means, variances, k) <= worst_score(partition(means, shards), means, variances, k) + 1e-9
    assert risk_partition(means, variances, shards, k) == bins  # deterministic


def test_risk_score():
    assert risk_score(100.0, 400.0, 1.5) == 130.0
    assert risk_score(100.0, -1e-12, 1.0) == 100.0  # float residue of subtracted variances
    assert math.isclose(risk_score(0.0, 2.0, 1.0), math.sqrt(2.0))
