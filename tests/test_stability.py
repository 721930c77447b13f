"""Shard matching, churn, and the warm start that keeps files where they were."""

from __future__ import annotations

import itertools

from hypothesis import given, settings
from hypothesis import strategies as st

from generator.planning.partition import best_partition, simple_lower_bound
from generator.planning.stability import (
    _min_cost_assignment,
    align,
    match_shards,
    moved_files,
    stable_split,
    warm_start,
)
from tests.support.baselines import churn


@settings(max_examples=100, deadline=None)
@given(
    st.integers(1, 5).flatmap(
        lambda n: st.lists(st.lists(st.integers(-20, 20), min_size=n, max_size=n), min_size=n, max_size=n)
    )
)
def test_assignment_is_a_cheapest_permutation(cost):
    n = len(cost)
    result = _min_cost_assignment(cost)
    assert sorted(result) == list(range(n))
    cheapest = min(sum(cost[r][c] for r, c in enumerate(perm)) for perm in itertools.permutations(range(n)))
    assert sum(cost[r][c] for r, c in enumerate(result)) == cheapest


def test_renumbered_shards_are_no_churn():
    old = [["a", "b"], ["c"], ["d", "e"]]
    new = [["d", "e"], ["a", "b"], ["c"]]
    assert match_shards(old, new) == [2, 0, 1]
    assert align(old, new) == old
    assert churn(old, new) == 0
    assert moved_files(old, new) == 5


def test_churn_counts_files_that_changed_company_and_ignores_the_changed_file():
    old = [["a", "b", "c"], ["d", "e"]]
    new = [["a", "b", "new"], ["c", "d", "e"]]
    assert churn(old, new) == 1  # c moved; "new" is in one split only
    assert churn(old, new, ignore=["c"]) == 0
    assert churn(old, [["a", "b", "c", "d", "e"]]) == 2  # shards merged: d and e moved


def test_align_when_the_count_shrinks_keeps_the_best_matching_indices():
    old = [["a"], ["b"], ["c", "d"]]
    new = [["c", "d", "b"], ["a"]]
    assert align(old, new) == [["a"], ["c", "d", "b"]]


durations = {f"t/f{i:02d}.py": float(10 + (i * 7) % 50) for i in range(30)}


def test_warm_start_adds_a_file_without_moving_others_when_there_is_room():
    before = best_partition(durations, 4)
    grown = {**durations, "t/new.py": 5.0}
    target = 1.01 * simple_lower_bound(list(grown.values()), 4)
    after = warm_start(grown, 4, before.bins, target)
    assert after is not None
    assert churn(before.bins, after, ignore=["t/new.py"]) == 0
    assert moved_files(before.bins, after) == 0
    assert sorted(p for files in after for p in files) == sorted(grown)


def test_warm_start_removing_a_file_moves_nothing_within_the_tolerance():
    before = best_partition(durations, 4)
    shrunk = {p: s for p, s in durations.items() if p != "t/f00.py"}
    target = 1.03 * simple_lower_bound(list(shrunk.values()), 4)
    assert max(before.loads) <= target
    assert warm_start(shrunk, 4, before.bins, target) == [
        [p for p in files if p != "t/f00.py"] for files in before.bins
    ]


def test_warm_start_moves_a_few_files_to_make_room_for_a_long_one():
    before = best_partition(durations, 4)
    grown = {**durations, "t/long.py": 90.0}
    target = 1.01 * simple_lower_bound(list(grown.values()), 4)
    after = warm_start(grown, 4, before.bins, target)
    assert after is not None
    assert max(sum(grown[p] for p in files) for files in after) <= target
    assert 0 < churn(before.bins, after, ignore=["t/long.py"]) <= 6


def test_warm_start_gives_up_below_what_is_possible():
    before = best_partition(durations, 4)
    assert warm_start(durations, 4, before.bins, target=before.lower_bound - 1) is None


@settings(max_examples=100, deadline=None)
@given(
    st.lists(st.integers(1, 300).map(float), min_size=2, max_size=20),
    st.integers(1, 5),
    st.integers(1, 5),
    st.floats(0, 0.2),
    st.randoms(use_true_random=False),
)
def test_stable_split_places_every_file_once_within_the_target_moving_no_more_than_fresh(
    sizes, old_count, count, tolerance, rng
):
    before = {f"t/f{i:02d}.py": size for i, size in enumerate(sizes)}
    previous = best_partition(before, old_count).bins
    after = dict(before)
    del after[rng.choice(sorted(after))]
    after["t/new.py"] = float(rng.randint(1, 300))
    fresh = best_partition(after, count)
    target = max(fresh.makespan, (1 + tolerance) * simple_lower_bound(list(after.values()), count))
    result = stable_split(after, previous, fresh.bins, fresh.makespan, tolerance)
    assert len(result) == count
    assert sorted(p for files in result for p in files) == sorted(after)
    assert max(sum(after[p] for p in files) for files in result) <= target * (1 + 1e-9)
    assert moved_files(previous, result) <= moved_files(previous, align(previous, fresh.bins))
