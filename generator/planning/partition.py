"""Files -> shards: minimise the longest shard. LPT, then local search, then branch-and-bound.

Pure and deterministic: every loop runs in an explicit order and the exact search stops after
a fixed number of nodes (never a wall-clock limit), so the same input gives the same shards.
A result is `optimal` only with a certificate: its makespan equals a valid lower bound, or
the branch-and-bound finished and so proved that nothing shorter exists.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

# Two makespans closer than this (relative) are equal: sums of float seconds round.
RELATIVE_EPSILON = 1e-9
# Branch-and-bound nodes per call. Every corpus suite needs far fewer; this only bounds the
# time spent on a large suite whose local-search result no bound can certify.
NODE_LIMIT = 20_000
# With fractional seconds (measured timings) the bound is hardly ever met exactly and the
# exact search almost never ends within its nodes: a local-search result this close to the
# bound is kept as is (0.1% is far below the noise of measured durations).
FRACTIONAL_GAP = 1e-3


def rounding_slack(value: float) -> float:
    """The tolerance around `value` below which two float sums count as equal."""
    return RELATIVE_EPSILON * max(1.0, abs(value))


@dataclass(frozen=True)
class Item:
    """What the planner places: one file, or a group of files that must share a shard."""

    files: tuple[str, ...]  # sorted; the first names the item in tie-breaks
    seconds: float

    @property
    def sort_key(self) -> tuple[float, str]:
        """Longest first, then by path: the order LPT and the exact search place items in."""
        return (-self.seconds, self.files[0])


@dataclass(frozen=True)
class Partition:
    """Items split into a fixed number of bins, with what is known about its quality."""

    bins: tuple[tuple[str, ...], ...]  # files per bin, sorted; non-empty bins by first file, then empty ones
    loads: tuple[float, ...]  # seconds per bin, same order
    lower_bound: float  # the strongest valid bound known (see lower_bound)
    optimal: bool  # proven: equals lower_bound, or the exact search was exhaustive
    lpt_makespan: float  # what sglang's LPT gives for the same items and bins

    @property
    def makespan(self) -> float:
        return max(self.loads, default=0.0)


def make_items(durations: Mapping[str, float], groups: Sequence[Sequence[str]] = ()) -> list[Item]:
    """One item per file, except files of a group (or of overlapping groups) form one item.

    Group members that are not in `durations` are ignored here; lint reports them.
    """
    for path, seconds in durations.items():
        if not (math.isfinite(seconds) and seconds >= 0):
            raise ValueError(f"{path}: duration must be a finite number of seconds >= 0, got {seconds!r}")
    merged: list[set[str]] = []
    for group in groups:
        members = {path for path in group if path in durations}
        touching = [m for m in merged if m & members]
        for m in touching:
            members |= m
            merged.remove(m)
        if len(members) > 1:
            merged.append(members)
    grouped = {path for members in merged for path in members}
    items = [Item((path,), float(durations[path])) for path in durations if path not in grouped]
    items += [Item(tuple(sorted(m)), float(sum(durations[p] for p in m))) for m in merged]
    return sorted(items, key=lambda item: item.sort_key)


def simple_lower_bound(sizes: Sequence[float], shards: int) -> float:
    """max(longest item, total / shards): the bound the issue measures against."""
    if not sizes:
        return 0.0
    return max(max(sizes), sum(sizes) / shards)


def lower_bound(sizes_desc: Sequence[float], shards: int) -> float:
    """The simple bound, raised by pigeonhole (of the j*shards + 1 longest items some shard
    holds j + 1, so at least the j + 1 shortest of them) and rounded up for whole seconds."""
    bound = simple_lower_bound(sizes_desc, shards)
    j = 1
    while j * shards < len(sizes_desc):
        last = j * shards  # index of the (j*shards + 1)-th longest item
        bound = max(bound, sum(sizes_desc[last - j : last + 1]))
        j += 1
    if all(float(size).is_integer() for size in sizes_desc):
        # Whole seconds (est_time usually is) sum to whole seconds: round the bound up.
        bound = float(math.ceil(bound - rounding_slack(bound)))
    return bound


def _lpt_assign(sizes: Sequence[float], shards: int) -> list[int]:
    """Item i (longest first) -> the least-loaded shard so far, lowest index on ties."""
    loads = [0.0] * shards
    assign = []
    for size in sizes:
        target = min(range(shards), key=loads.__getitem__)
        assign.append(target)
        loads[target] += size
    return assign


def loads_of(sizes: Sequence[float], assign: Sequence[int], shards: int) -> list[float]:
    """Seconds per shard of an assignment (item i -> shard assign[i])."""
    loads = [0.0] * shards
    for size, target in zip(sizes, assign):
        loads[target] += size
    return loads


def _best_exchange(sizes, members_top, members_other, gap, margin):
    """The move (one item) or swap (two items) from the top shard to another that narrows
    their gap most, shortening the top by more than `margin` without the other reaching
    it (so float noise cannot loop): (how far from even, out, back)."""
    best = None
    for i in members_top:
        delta = sizes[i]
        if margin < delta < gap - margin:
            candidate = (abs(gap - 2 * delta), (i,), ())
            if best is None or candidate < best:
                best = candidate
        for j in members_other:
            delta = sizes[i] - sizes[j]
            if margin < delta < gap - margin:
                candidate = (abs(gap - 2 * delta), (i,), (j,))
                if best is None or candidate < best:
                    best = candidate
    return best


def _even_split(sizes, members_top, members_other):
    """Re-split two shards' items as evenly as whole seconds allow (subset-sum over a bitset);
    of the two ways to hand the halves back, the one that moves fewer items.
    Returns (how far from even, out, back): items leaving the top shard and coming back."""
    union = sorted(members_top + members_other)
    weights = [round(sizes[i]) for i in union]
    reach = [1]  # reach[m]: bit t set when some subset of the first m items sums to t
    for weight in weights:
        reach.append(reach[-1] | (reach[-1] << weight))
    half = sum(weights) // 2
    target = (reach[-1] & ((1 << (half + 1)) - 1)).bit_length() - 1
    side = set()
    for m in range(len(union) - 1, -1, -1):
        if not (reach[m] >> target) & 1:
            side.add(union[m])
            target -= weights[m]
    rest = [i for i in union if i not in side]
    on_top = set(members_top)
    options = []
    for stay in (sorted(side), rest):
        keep = set(stay)
        out = tuple(i for i in members_top if i not in keep)
        back = tuple(i for i in stay if i not in on_top)
        options.append((len(out) + len(back), out, back))
    _, out, back = min(options)
    top_load = sum(sizes[i] for i in members_top) - sum(sizes[i] for i in out) + sum(sizes[i] for i in back)
    other_load = sum(sizes[i] for i in members_top) + sum(sizes[i] for i in members_other) - top_load
    return (abs(top_load - other_load), out, back)


def improve(sizes: Sequence[float], assign: list[int], shards: int, target: float = 0.0) -> list[int]:
    """Local search on the longest shard: move or swap one item out of it, else re-split it
    evenly with another shard, while that shortens it.

    Each step lowers the sorted load vector lexicographically, so it terminates; it stops
    early once the makespan is at or below `target` (fewer moves when churn matters).
    """
    assign = list(assign)
    loads = loads_of(sizes, assign, shards)
    members: list[list[int]] = [[] for _ in range(shards)]
    for i, shard in enumerate(assign):
        members[shard].append(i)
    while True:
        top = max(range(shards), key=lambda s: (loads[s], -s))
        if loads[top] <= target + rounding_slack(target):
            break
        margin = rounding_slack(loads[top])
        others = [s for s in range(shards) if s != top and loads[top] - loads[s] > 2 * margin]
        best = None
        for other in others:
            found = _best_exchange(sizes, members[top], members[other], loads[top] - loads[other], margin)
            if found is not None and (best is None or (found, other) < best):
                best = (found, other)
        if best is None:
            for other in others:
                found = _even_split(sizes, members[top], members[other])
                gap = loads[top] - loads[other]
                if found[0] < gap - 2 * margin and (best is None or (found, other) < best):
                    best = (found, other)
        if best is None:
            break
        (_, out, back), other = best
        for i in out:
            members[top].remove(i)
            members[other].append(i)
            assign[i] = other
            loads[top] -= sizes[i]
            loads[other] += sizes[i]
        for j in back:
            members[other].remove(j)
            members[top].append(j)
            assign[j] = top
            loads[other] -= sizes[j]
            loads[top] += sizes[j]
    return assign


class _Stop(Exception):
    """Unwinds the exact search: it found what it was asked for, or spent its nodes."""


@dataclass(frozen=True)
class SearchResult:
    """What one branch-and-bound run found: the best assignment (None when nothing under
    the starting limit exists or was reached) and whether the search space was exhausted."""

    assign: list[int] | None
    makespan: float
    exhausted: bool


def search(
    sizes: Sequence[float],
    shards: int,
    limit: float,
    stop_at: float,
    node_limit: int = NODE_LIMIT,
    preferred: Sequence[int] | None = None,
) -> SearchResult:
    """Branch-and-bound for assignments with makespan <= `limit`, lowering the limit below
    each one found; stops at the first with makespan <= `stop_at`, or after `node_limit` nodes.
    With `preferred`, item i tries shard preferred[i] first (to keep files where they were).

    Items go longest first; a shard is tried only if the item keeps it within the limit,
    shards with equal loads once (they are interchangeable), and a branch is cut when the
    remaining items cannot fit in the room left under the limit. Exhausted means: nothing
    within the (last) limit exists, so the best found is optimal, or nothing at all fits.
    """
    n = len(sizes)
    remaining = [0.0] * (n + 1)
    for i in range(n - 1, -1, -1):
        remaining[i] = remaining[i + 1] + sizes[i]
    smallest = sizes[-1] if sizes else 0.0
    loads = [0.0] * shards
    current = [0] * n
    best_assign: list[int] | None = None
    best = math.inf
    nodes = 0
    # Deciding "is there a split within `limit`?" (the first one found ends the search):
    # only then may a branch be dropped for an equally good one within that same limit.
    deciding = stop_at >= limit

    def visit(i: int) -> None:
        nonlocal best, best_assign, nodes, limit
        if i == n:
            best = max(loads)
            best_assign = list(current)
            if best <= stop_at + rounding_slack(stop_at):
                raise _Stop
            limit = best - 2 * rounding_slack(best)
            return
        nodes += 1
        if nodes > node_limit:
            raise _Stop
        # Room under the limit that even the shortest remaining item cannot use is wasted.
        usable = sum(room for room in (limit - load for load in loads) if room >= smallest)
        if remaining[i] > usable + rounding_slack(limit):
            return
        size = sizes[i]
        order = sorted(range(shards), key=lambda s: (loads[s], s))
        if preferred is not None:
            order.remove(preferred[i])
            order.insert(0, preferred[i])
        # Deciding, an item that exactly fills a shard's room goes there: whatever else would
        # fill that room is no longer than the item, so it can swap into the item's place.
        exact = [s for s in order if abs(loads[s] + size - limit) <= rounding_slack(limit)] if deciding else []
        tried: set[float] = set()
        for shard in exact[:1] or order:
            load = loads[shard]
            if load + size > limit + rounding_slack(limit):
                if preferred is not None and shard == preferred[i]:
                    continue
                break
            if load in tried:
                continue
            tried.add(load)
            loads[shard] = load + size
            current[i] = shard
            visit(i + 1)
            loads[shard] = load

    try:
        visit(0)
    except _Stop:
        return SearchResult(best_assign, best, False)
    return SearchResult(best_assign, best, True)


def _solve(items: list[Item], shards: int, good_enough: float) -> tuple[list[int], float, bool, float]:
    """(assignment, lower bound, proven optimal, LPT makespan) for items sorted by sort_key.

    LPT; then local search; then (unless fractional seconds are within FRACTIONAL_GAP of
    it) an exact search for a split within max(bound, good_enough); if none exists, an exact
    search for anything shorter than the local-search result.
    """
    sizes = [item.seconds for item in items]
    bound = lower_bound(sizes, shards)
    at_bound = lambda makespan: makespan <= bound + rounding_slack(bound)  # noqa: E731
    assign = _lpt_assign(sizes, shards)
    lpt_makespan = max(loads_of(sizes, assign, shards), default=0.0)
    stop_at = max(bound, good_enough)
    if lpt_makespan <= stop_at + rounding_slack(stop_at):
        return assign, bound, at_bound(lpt_makespan), lpt_makespan
    assign = improve(sizes, assign, shards, target=stop_at)
    makespan = max(loads_of(sizes, assign, shards))
    if makespan <= stop_at + rounding_slack(stop_at):
        return assign, bound, at_bound(makespan), lpt_makespan
    whole_seconds = all(size.is_integer() for size in sizes)
    if not whole_seconds and makespan <= stop_at * (1 + FRACTIONAL_GAP):
        return assign, bound, False, lpt_makespan
    tight = search(sizes, shards, limit=stop_at, stop_at=stop_at)
    if tight.assign is not None:
        return tight.assign, bound, at_bound(tight.makespan), lpt_makespan
    if not tight.exhausted:
        return assign, bound, False, lpt_makespan
    # Nothing within stop_at exists; look for anything shorter than what we have.
    shorter = search(sizes, shards, limit=makespan - 2 * rounding_slack(makespan), stop_at=stop_at)
    if shorter.assign is not None:
        assign = shorter.assign
    return assign, bound, shorter.exhausted, lpt_makespan


def _pack(items: Sequence[Item], assign: Sequence[int], shards: int) -> list[list[str]]:
    bins: list[list[str]] = [[] for _ in range(shards)]
    for item, shard in zip(items, assign):
        bins[shard].extend(item.files)
    for files in bins:
        files.sort()
    return bins


def split_oversized(items: list[Item], budget_seconds: float | None) -> tuple[list[Item], list[Item]]:
    """(items longer than the budget, the rest): the long ones each get a shard of their own."""
    if budget_seconds is None:
        return [], items
    limit = budget_seconds + rounding_slack(budget_seconds)
    return [i for i in items if i.seconds > limit], [i for i in items if i.seconds <= limit]


def best_partition(
    durations: Mapping[str, float],
    shards: int,
    groups: Sequence[Sequence[str]] = (),
    *,
    budget_seconds: float | None = None,
    good_enough: float = 0.0,
) -> Partition:
    """The shortest-makespan split of the files into `shards` bins that we can find.

    With `budget_seconds`, an item longer than the budget sits alone in a bin (when there are
    enough bins for that); `good_enough` stops the search once the makespan is that short.
    """
    if shards < 1:
        raise ValueError(f"shards must be >= 1, got {shards}")
    items = make_items(durations, groups)
    alone, rest = split_oversized(items, budget_seconds)
    if len(alone) >= shards:
        alone, rest = [], items
    rest_shards = shards - len(alone)
    assign, bound, optimal, lpt_makespan = _solve(rest, rest_shards, good_enough)
    bins = [list(item.files) for item in alone] + _pack(rest, assign, rest_shards)
    loads = [sum(durations[p] for p in files) for files in bins]
    if alone:
        bound = max(bound, alone[0].seconds)
        lpt_makespan = max(lpt_makespan, alone[0].seconds)
        optimal = optimal or max(loads) <= alone[0].seconds + rounding_slack(alone[0].seconds)
    order = sorted(range(shards), key=lambda b: (not bins[b], bins[b][0] if bins[b] else "", b))
    return Partition(
        bins=tuple(tuple(bins[b]) for b in order),
        loads=tuple(float(loads[b]) for b in order),
        lower_bound=bound,
        optimal=optimal,
        lpt_makespan=lpt_makespan,
    )


def partition(
    durations: Mapping[str, float],
    shards: int,
    groups: Sequence[Sequence[str]] = (),
    *,
    budget_seconds: float | None = None,
) -> list[list[str]]:
    """Files into exactly `shards` bins (some empty if there are fewer items), minimising
    the largest bin's total; never longer than LPT. Deterministic."""
    return [list(b) for b in best_partition(durations, shards, groups, budget_seconds=budget_seconds).bins]


def choose_shard_count(
    durations: Mapping[str, float],
    budget_seconds: float,
    max_parallel: int,
    groups: Sequence[Sequence[str]] = (),
) -> int:
    """The smallest count whose best makespan fits the budget, capped by max_parallel.

    Each extra shard pays a full runner setup and the tests' total is fixed, so runner
    minutes grow with the count: the smallest count that fits is also the cheapest. Items
    longer than the budget take a shard each on top (they can never fit); at least 1.
    """
    items = make_items(durations, groups)
    if not items:
        return 1
    alone, rest = split_oversized(items, budget_seconds)
    if not rest:
        return len(alone)
    cap = max(1, min(max_parallel - len(alone), len(rest)))
    rest_durations = {path: durations[path] for item in rest for path in item.files}
    rest_groups = [item.files for item in rest if len(item.files) > 1]
    sizes = [item.seconds for item in rest]
    limit = budget_seconds + rounding_slack(budget_seconds)
    first = max(1, min(cap, math.ceil(sum(sizes) / budget_seconds - RELATIVE_EPSILON)))
    for count in range(first, cap + 1):
        if lower_bound(sizes, count) > limit:
            continue
        found = best_partition(rest_durations, count, rest_groups, good_enough=budget_seconds)
        if found.makespan <= limit:
            return count + len(alone)
    return cap + len(alone)
