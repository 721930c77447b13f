"""Suites -> Plan: time-balanced shards per suite. Pure: no I/O.

PROVISIONAL: LPT only (sglang's algorithm), kept API-stable while the optimised planner
(issue 4) is built behind the same functions.
"""

from __future__ import annotations

import math
from collections import defaultdict
from typing import Callable, Mapping, Sequence

from generator.model import Config, Plan, Registration, Shard, SuitePlan

SecondsOf = Callable[[Registration], float]


def lpt(durations: Mapping[str, float], shards: int) -> list[list[str]]:
    """sglang's auto_partition: longest first, each to the least-loaded shard."""
    bins: list[list[str]] = [[] for _ in range(shards)]
    loads = [0.0] * shards
    for path in sorted(durations, key=lambda p: (-durations[p], p)):
        target = min(range(shards), key=loads.__getitem__)
        bins[target].append(path)
        loads[target] += durations[path]
    return bins


def partition(durations: Mapping[str, float], shards: int, groups: Sequence[Sequence[str]] = ()) -> list[list[str]]:
    """Files into `shards` bins, minimising the largest bin's total. Deterministic."""
    return lpt(durations, shards)


def choose_shard_count(durations: Mapping[str, float], budget_seconds: float, max_parallel: int) -> int:
    """The smallest count whose makespan fits the budget, capped by max_parallel."""
    total = sum(durations.values())
    for count in range(max(1, math.ceil(total / budget_seconds)), max_parallel + 1):
        bins = partition(durations, count)
        if max(sum(durations[p] for p in b) for b in bins) <= budget_seconds:
            return count
    return max_parallel


def plan(config: Config, registrations: Sequence[Registration], seconds_of: SecondsOf | None = None) -> Plan:
    seconds_of = seconds_of or (lambda reg: reg.est_seconds)
    members: dict[str, dict[str, float]] = defaultdict(dict)
    for reg in registrations:
        if reg.backend in config.backends and reg.enabled and reg.suite in config.suites:
            members[reg.suite][reg.path] = seconds_of(reg)
    suites = []
    for suite in config.suites.values():
        durations = members.get(suite.name)
        if not suite.enabled or not durations:
            continue
        count = min(choose_shard_count(durations, suite.shard_budget_minutes * 60, suite.max_parallel), len(durations))
        bins = [b for b in partition(durations, count, suite.groups) if b]
        shards = tuple(
            Shard(index=i, files=tuple(b), est_seconds=sum(durations[p] for p in b)) for i, b in enumerate(bins)
        )
        bound = max(max(durations.values()), sum(durations.values()) / len(shards))
        suites.append(SuitePlan(suite, tuple(config.pools[p] for p in suite.pools), shards, bound))
    return Plan(tuple(suites))


def plan_to_json(plan_: Plan) -> dict:
    """The `cigen plan --format json` document; `render` reads the same shape."""
    return {
        "suites": {
            sp.suite.name: {
                "pool": sp.pools[0].name,
                "pools": [p.name for p in sp.pools],
                "runs_on": list(sp.pools[0].labels),
                "trigger": sp.suite.trigger,
                "shards": [{"files": list(s.files), "est_time": s.est_seconds} for s in sp.shards],
                "makespan": sp.makespan_seconds,
                "lower_bound": sp.lower_bound_seconds,
                "runner_minutes": sp.runner_minutes,
            }
            for sp in plan_.suites
        }
    }
