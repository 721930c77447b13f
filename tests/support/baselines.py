"""What cigen's planner is measured against, for tests and benchmarks: sglang's LPT partition
(written here on its own, so it checks the planner's `lpt_makespan`), and churn between splits."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence

from generator.planning.stability import match_shards


def lpt(durations: Mapping[str, float], shards: int) -> list[list[str]]:
    """sglang's auto_partition: longest first (ties: path), each to the least-loaded shard
    (ties: the lowest index)."""
    bins: list[list[str]] = [[] for _ in range(shards)]
    loads = [0.0] * shards
    for path in sorted(durations, key=lambda p: (-durations[p], p)):
        target = min(range(shards), key=loads.__getitem__)
        bins[target].append(path)
        loads[target] += durations[path]
    return bins


def churn(old: Sequence[Collection[str]], new: Sequence[Collection[str]], ignore: Collection[str] = ()) -> int:
    """Files in both splits, other than `ignore`, whose shard changed after optimal matching."""
    skip = set(ignore)
    old = [set(files) - skip for files in old]
    new = [set(files) - skip for files in new]
    common = set().union(*old) & set().union(*new)
    slots = match_shards(old, new)
    kept = sum(len(new[i] & old[slot]) for i, slot in enumerate(slots) if slot < len(old))
    return len(common) - kept
