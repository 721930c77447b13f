"""Keeping shards stable across plans: match shard indices, count moved files, warm-start a split.

Churn between two splits of (nearly) the same files: the files present in both whose shard
changed, after renumbering the new shards to overlap the old ones as much as possible.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence

from generator.planning.partition import (
    improve,
    loads_of,
    make_items,
    rounding_slack,
    search,
    simple_lower_bound,
    split_oversized,
)


def _min_cost_assignment(cost: list[list[int]]) -> list[int]:
    """Row -> column of a square matrix with the least total cost (Hungarian, O(n^3))."""
    n = len(cost)
    inf = float("inf")
    u = [0.0] * (n + 1)
    v = [0.0] * (n + 1)
    row_of = [0] * (n + 1)  # column j (1-based) -> row (1-based), 0 = free
    way = [0] * (n + 1)
    for row in range(1, n + 1):
        row_of[0] = row
        col = 0
        min_to = [inf] * (n + 1)
        used = [False] * (n + 1)
        while True:
            used[col] = True
            r, delta, next_col = row_of[col], inf, 0
            for j in range(1, n + 1):
                if used[j]:
                    continue
                reduced = cost[r - 1][j - 1] - u[r] - v[j]
                if reduced < min_to[j]:
                    min_to[j], way[j] = reduced, col
                if min_to[j] < delta:
                    delta, next_col = min_to[j], j
            for j in range(n + 1):
                if used[j]:
                    u[row_of[j]] += delta
                    v[j] -= delta
                else:
                    min_to[j] -= delta
            col = next_col
            if row_of[col] == 0:
                break
        while col:
            previous = way[col]
            row_of[col] = row_of[previous]
            col = previous
    result = [0] * n
    for j in range(1, n + 1):
        result[row_of[j] - 1] = j - 1
    return result


def match_shards(old: Sequence[Collection[str]], new: Sequence[Collection[str]]) -> list[int]:
    """For each new shard, the slot it takes: the old index it shares most files with
    (most files kept in place overall); slots past the old count for the rest."""
    size = max(len(old), len(new))
    old_sets = [set(files) for files in old]
    cost = [[-len(set(files) & old_sets[j]) if j < len(old) else 0 for j in range(size)] for files in new]
    cost += [[0] * size for _ in range(size - len(new))]
    return _min_cost_assignment(cost)[: len(new)]


def align(old: Sequence[Sequence[str]], new: Sequence[Sequence[str]]) -> list[list[str]]:
    """`new` renumbered so each shard keeps the index of the old shard it overlaps most."""
    slots = match_shards(old, new)
    return [list(new[i]) for i in sorted(range(len(new)), key=lambda i: slots[i])]


def moved_files(old: Sequence[Collection[str]], new: Sequence[Collection[str]]) -> int:
    """Files in both splits whose shard index differs, as written (no renumbering)."""
    where = {path: index for index, files in enumerate(old) for path in files}
    return sum(1 for index, files in enumerate(new) for path in files if where.get(path, index) != index)


def repair(sizes: Sequence[float], assign: list[int], shards: int, target: float) -> list[int]:
    """Bring every shard to `target` or below moving as few items as it can: while a shard
    is over, move one item out of the fullest shard (else swap two) into room under the
    target, preferring a step that ends the overflow, then the one that removes the most.
    Stops when nothing fits; each step shrinks the fullest shard, so it terminates."""
    assign = list(assign)
    loads = loads_of(sizes, assign, shards)
    limit = target + rounding_slack(target)
    while True:
        top = max(range(shards), key=lambda s: (loads[s], -s))
        excess = loads[top] - limit
        if excess <= 0:
            return assign
        mine = [i for i, a in enumerate(assign) if a == top]
        best = None
        for other in range(shards):
            if other == top:
                continue
            room = limit - loads[other]
            theirs = [j for j, a in enumerate(assign) if a == other]
            for i in mine:
                for j in (None, *theirs):
                    delta = sizes[i] - (sizes[j] if j is not None else 0.0)
                    if rounding_slack(loads[top]) < delta <= room:
                        step = (delta < excess, j is not None, -delta if delta < excess else delta, i, other, j)
                        if best is None or step < best:
                            best = step
        if best is None:
            return assign
        _, _, _, i, other, j = best
        assign[i] = other
        loads[top] -= sizes[i]
        loads[other] += sizes[i]
        if j is not None:
            assign[j] = top
            loads[other] -= sizes[j]
            loads[top] += sizes[j]


def warm_start(
    durations: Mapping[str, float],
    shards: int,
    previous: Sequence[Sequence[str]],
    target: float,
    groups: Sequence[Sequence[str]] = (),
) -> list[list[str]] | None:
    """A split that keeps files where `previous` had them, within makespan `target`.

    Known files stay in their old shard (when the count shrinks, the least-loaded old
    shards are dropped); new ones go longest first to the least-loaded shard. Then, until
    the makespan is within `target`: `repair` moves single files out of full shards; if it
    gets stuck, an exact search for a split within the target that tries each file's shard
    first; else the balancing local search. None when none of them gets there.
    """
    items = make_items(durations, groups)
    load_of = [sum(durations.get(path, 0.0) for path in files) for files in previous]
    surviving = sorted(sorted(range(len(previous)), key=lambda b: (-load_of[b], b))[:shards])
    slot_of = {path: slot for slot, b in enumerate(surviving) for path in previous[b]}
    sizes = [item.seconds for item in items]
    assign = [next((slot_of[p] for p in item.files if p in slot_of), -1) for item in items]
    loads = [sum(sizes[i] for i, a in enumerate(assign) if a == s) for s in range(shards)]
    for i, item in enumerate(items):
        if assign[i] < 0:
            assign[i] = min(range(shards), key=loads.__getitem__)
            loads[assign[i]] += item.seconds
    kept = repair(sizes, assign, shards, target)
    if max(loads_of(sizes, kept, shards), default=0.0) > target + rounding_slack(target):
        # Repair got stuck: search for any split within the target, each item trying its
        # current shard first, so most stay; else balance from the stuck state.
        found = search(sizes, shards, limit=target, stop_at=target, preferred=assign)
        kept = found.assign if found.assign is not None else improve(sizes, kept, shards, target=target)
    assign = kept
    if max(loads_of(sizes, assign, shards), default=0.0) > target + rounding_slack(target):
        return None
    bins: list[list[str]] = [[] for _ in range(shards)]
    for item, shard in zip(items, assign):
        bins[shard].extend(item.files)
    return [sorted(files) for files in bins]


def stable_split(
    durations: Mapping[str, float],
    previous: Sequence[Sequence[str]],
    fresh: Sequence[Sequence[str]],
    fresh_makespan: float,
    tolerance: float,
    groups: Sequence[Sequence[str]] = (),
    budget_seconds: float | None = None,
) -> list[list[str]]:
    """What `plan --previous` ships: of the fresh split (renumbered to match `previous`)
    and a warm start from `previous` within max(fresh makespan, (1 + tolerance) x lower
    bound), the one that moves fewer files as written; the fresh one on a tie."""
    count = len(fresh)
    target = max(fresh_makespan, (1 + tolerance) * simple_lower_bound(list(durations.values()), count))
    candidates = [align(previous, fresh)]
    # A file over the budget sits alone in its shard; a warm start would not keep it so.
    oversized, _ = split_oversized(make_items(durations, groups), budget_seconds)
    warm = None if oversized else warm_start(durations, count, previous, target, groups)
    if warm is not None:
        candidates.append(align(previous, warm))
    return min(candidates, key=lambda bins: moved_files(previous, bins))
