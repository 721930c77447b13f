"""The partitioner: exact on small cases (checked by brute force), honest `optimal` flags,
never worse than LPT, groups and over-budget files, the shard count, and the corpus bar."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from generator.planning.partition import (
    FRACTIONAL_GAP,
    best_partition,
    choose_shard_count,
    lower_bound,
    make_items,
    partition,
    search,
    simple_lower_bound,
)
from generator.tree import scan_tree
from tests.support.baselines import lpt
from tests.support.sglang_counts import cuda_suite_durations, sglang_shard_counts


def makespan(durations: dict[str, float], bins) -> float:
    return max((sum(durations[p] for p in files) for files in bins), default=0.0)


def brute_force_optimum(sizes: list[float], shards: int) -> float:
    best = float("inf")
    for assign in itertools.product(range(shards), repeat=len(sizes)):
        loads = [0.0] * shards
        for size, shard in zip(sizes, assign):
            loads[shard] += size
        best = min(best, max(loads))
    return best


@settings(max_examples=150, deadline=None)
@given(st.lists(st.integers(0, 60).map(float), min_size=1, max_size=7), st.integers(1, 4))
def test_small_whole_second_cases_are_solved_exactly_and_flagged_optimal(sizes, shards):
    durations = {f"t/f{i}.py": size for i, size in enumerate(sizes)}
    result = best_partition(durations, shards)
    optimum = brute_force_optimum(sizes, shards)
    assert result.makespan == optimum
    assert result.optimal
    assert result.lower_bound <= optimum


@settings(max_examples=150, deadline=None)
@given(st.lists(st.floats(0, 60, allow_nan=False), min_size=1, max_size=7), st.integers(1, 4))
def test_small_fractional_cases_are_within_the_gap_and_flags_are_true(sizes, shards):
    durations = {f"t/f{i}.py": size for i, size in enumerate(sizes)}
    result = best_partition(durations, shards)
    optimum = brute_force_optimum(sizes, shards)
    assert result.makespan <= optimum * (1 + FRACTIONAL_GAP) + 1e-9
    if result.optimal:
        assert result.makespan == pytest.approx(optimum, rel=1e-9, abs=1e-9)
    assert result.lower_bound <= optimum + 1e-6


seconds = st.one_of(
    st.integers(1, 500).map(float),
    st.floats(0, 500, allow_nan=False),
    st.sampled_from([0.0, 5e-324, 1e-300, 1e6]),  # float sums that absorb tiny items
)


@settings(max_examples=200, deadline=None)
@given(st.lists(seconds, min_size=1, max_size=40), st.integers(1, 8))
def test_every_file_once_never_worse_than_lpt_and_flags_are_true(sizes, shards):
    durations = {f"t/f{i:02d}.py": size for i, size in enumerate(sizes)}
    result = best_partition(durations, shards)
    assert len(result.bins) == shards
    assert sorted(p for files in result.bins for p in files) == sorted(durations)
    assert result.makespan <= makespan(durations, lpt(durations, shards)) * (1 + 1e-9)
    assert result.lpt_makespan == makespan(durations, lpt(durations, shards))
    assert result.makespan >= simple_lower_bound(sizes, shards) * (1 - 1e-9)
    assert result.makespan >= result.lower_bound * (1 - 1e-9)
    if result.optimal and len(sizes) <= 8 and shards <= 3:
        assert result.makespan == pytest.approx(brute_force_optimum(sizes, shards), rel=1e-9)


def test_beats_lpt_where_lpt_is_known_to_miss():
    # LPT: 3+2+2 | 3+2 = 7; optimal: 3+3 | 2+2+2 = 6.
    durations = {"a": 3.0, "b": 3.0, "c": 2.0, "d": 2.0, "e": 2.0}
    assert makespan(durations, lpt(durations, 2)) == 7
    result = best_partition(durations, 2)
    assert result.bins == (("a", "b"), ("c", "d", "e"))
    assert result.loads == (6.0, 6.0)
    assert result.optimal and result.lpt_makespan == 7


def test_lower_bound_pigeonhole_and_whole_seconds():
    # Three 5s files on 2 shards: two share one, so 10 (the simple bound says 7.5).
    assert simple_lower_bound([5.0, 5.0, 5.0], 2) == 7.5
    assert lower_bound([5.0, 5.0, 5.0], 2) == 10
    # Whole seconds round up: 7 / 2 = 3.5 -> 4.
    assert lower_bound([3.0, 2.0, 2.0], 2) == 4
    assert lower_bound([3.5, 2.0, 1.5], 2) == 3.5


def test_exhausted_search_proves_an_optimum_above_every_bound():
    # 25s on 2 shards: every bound says 13, but no subset sums to 12 or 13: the best is 14.
    durations = {"a": 10.0, "b": 6.0, "c": 5.0, "d": 4.0}
    result = best_partition(durations, 2)
    assert result.lower_bound == 13
    assert result.makespan == 14
    assert result.optimal


def test_search_stops_unproven_at_the_node_limit():
    sizes = [float(s) for s in (97, 89, 83, 79, 73, 71, 67, 61, 59, 53, 47, 43, 41, 37, 31, 29, 23, 19, 17, 13)]
    found = search(sizes, 4, limit=sum(sizes) / 4, stop_at=0.0, node_limit=5)
    assert found.assign is None and not found.exhausted


def test_groups_share_a_shard_and_overlapping_groups_merge():
    durations = {"a": 5.0, "b": 5.0, "c": 5.0, "d": 5.0, "e": 1.0}
    groups = [("a", "b"), ("b", "c"), ("x-not-planned", "e")]
    items = make_items(durations, groups)
    assert [(item.files, item.seconds) for item in items] == [
        (("a", "b", "c"), 15.0),
        (("d",), 5.0),
        (("e",), 1.0),
    ]
    bins = partition(durations, 2, groups)
    assert bins == [["a", "b", "c"], ["d", "e"]]


def test_a_file_over_the_budget_sits_alone():
    durations = {"long": 100.0, "a": 30.0, "b": 30.0, "c": 30.0}
    # Unconstrained, the best 2-way split puts a 30s file beside the 100s one... or not:
    # either way the makespan is 100. With the budget, `long` is alone.
    result = best_partition(durations, 2, budget_seconds=60)
    assert result.bins == (("a", "b", "c"), ("long",))
    assert result.loads == (90.0, 100.0)


def test_bins_are_ordered_by_first_file_then_empty_ones():
    durations = {"z": 9.0, "a": 1.0}
    assert best_partition(durations, 3).bins == (("a",), ("z",), ())


def test_same_input_in_any_order_gives_the_same_split():
    durations = {f"t/f{i:03d}.py": float((i * 37) % 101 + 1) for i in range(60)}
    backwards = dict(reversed(list(durations.items())))
    assert best_partition(durations, 7) == best_partition(backwards, 7)


def test_negative_duration_is_a_bug_not_a_plan():
    with pytest.raises(ValueError, match="t/a.py: duration must be a finite number of seconds >= 0, got -1.0"):
        best_partition({"t/a.py": -1.0}, 1)


@pytest.mark.parametrize(
    ("sizes", "budget", "max_parallel", "expected"),
    [
        ([6.0, 6.0, 6.0], 12.0, 9, 2),  # ceil(18 / 12) = 2 fits: 12 | 6
        ([6.0, 6.0, 6.0], 9.0, 9, 3),  # ceil(18 / 9) = 2 cannot (12 > 9): 3
        ([6.0, 6.0, 6.0], 9.0, 2, 2),  # capped by max_parallel
        ([5.0, 5.0], 100.0, 4, 1),
        ([100.0, 5.0, 5.0], 20.0, 4, 2),  # the long file alone, the rest in one
        ([100.0, 90.0], 20.0, 4, 2),  # only long files: one shard each
        ([], 20.0, 4, 1),
    ],
)
def test_choose_shard_count(sizes, budget, max_parallel, expected):
    durations = {f"f{i}": size for i, size in enumerate(sizes)}
    assert choose_shard_count(durations, budget, max_parallel) == expected


def test_every_corpus_suite_at_sglangs_count_is_near_the_bound_or_proven(synth_tree, sglang_suites):
    scan = scan_tree(synth_tree.root, ("test/registered/**/*.py",), ())
    suites = cuda_suite_durations(scan.registrations)
    counts = sglang_shard_counts(sglang_suites, suites)
    assert len(suites) == 45
    for name, durations in suites.items():
        result = best_partition(durations, counts[name])
        bound = simple_lower_bound(list(durations.values()), counts[name])
        assert result.makespan <= makespan(durations, lpt(durations, counts[name])), name
        assert result.makespan <= 1.01 * bound or result.optimal, name
