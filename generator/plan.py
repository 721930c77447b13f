"""Suites -> Plan: time-balanced shards per suite, their pools and their cost. Pure: no I/O.

Per suite: the smallest shard count whose best split fits the suite's shard budget (capped
by max_parallel), then the best split we can find for that count (generator/planning/partition.py).
Given the previous plan's shards, a split that keeps files in place is preferred while its
makespan stays within `tolerance` of the lower bound (generator/planning/stability.py).
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from generator.errors import Problem, Severity, plural
from generator.model import Config, PlacedModelTest, Plan, Pool, Shard, Suite, SuitePlan
from generator.planning.memo import Split, SplitMemo, split_key
from generator.planning.partition import best_partition, choose_shard_count, rounding_slack, simple_lower_bound
from generator.planning.stability import stable_split
from generator.registration import Registration
from generator.shipped import plan_file

EstSeconds = Callable[[Registration], float]
PreviousShards = Mapping[str, Sequence[Sequence[str]]]  # suite -> each shard's files, in index order

# With a previous plan, keep files in place while the makespan stays within 0.5% of the
# lower bound (or at the optimum, when that is further off). On the corpus this moves ~7x
# fewer files than replanning with LPT and is still better balanced than LPT on average
# (benchmarks/bench_plan.py); 1% halves the churn again but is, on average, a bit worse.
DEFAULT_TOLERANCE = 0.005


def suite_members(config: Config, registrations: Sequence[Registration]) -> dict[str, dict[str, Registration]]:
    """suite -> path -> registration, for enabled registrations of planned backends (a nightly= flag that
    contradicts its suite's trigger is left out where the suite says mismatched_nightly: skip)."""
    members: dict[str, dict[str, Registration]] = defaultdict(dict)
    for reg in sorted(registrations, key=lambda r: r.sort_key):
        suite = config.suites.get(reg.suite)
        if reg.backend in config.backends and reg.enabled and suite is not None and suite.runs_file(reg.nightly):
            members[reg.suite].setdefault(reg.path, reg)
    return members


def _budget_problems(
    suite: Suite, shards: Sequence[Shard], members: Mapping[str, Registration], source: str
) -> list[Problem]:
    """Shards over the suite's budget: a lone long file (lint's over-shard-budget, here a
    warning), or a suite that does not fit even at max_parallel."""
    budget = suite.shard_budget_minutes * 60
    problems = []
    for shard in shards:
        if shard.est_seconds <= budget + rounding_slack(budget):
            continue
        if len(shard.files) == 1:
            reg = members[shard.files[0]]
            problems.append(
                Problem(
                    reg.path,
                    reg.line,
                    "over-shard-budget",
                    f"{shard.est_seconds:g}s is longer than suite '{suite.name}' allows one shard "
                    f"({suite.shard_budget_minutes:g} min = {budget:g}s); planned alone in shard {shard.index}",
                    Severity.WARNING,
                    help="split the file, or raise shard_budget_minutes (and step_timeout_minutes) for the suite",
                )
            )
        else:
            problems.append(
                Problem(
                    source,
                    suite.line,
                    "shards-over-budget",
                    f"suite '{suite.name}': shard {shard.index} takes {shard.est_seconds:g}s, over the "
                    f"{budget:g}s budget, with {plural(len(shards), 'shard')} (max_parallel {suite.max_parallel})",
                    Severity.WARNING,
                    help="raise max_parallel or shard_budget_minutes for the suite",
                )
            )
    return problems


def split_suite(
    suite: Suite,
    durations: Mapping[str, float],
    previous: Sequence[Sequence[str]] | None = None,
    tolerance: float = DEFAULT_TOLERANCE,
) -> Split:
    """A suite's files per shard: the fewest shards that fit its budget, split as evenly as
    we can find, kept close to `previous` where that stays within `tolerance`."""
    budget = suite.shard_budget_minutes * 60
    count = choose_shard_count(durations, budget, suite.max_parallel, suite.groups)
    best = best_partition(durations, count, suite.groups, budget_seconds=budget)
    bins = [list(files) for files in best.bins if files]
    optimal = best.optimal
    if previous is not None:
        bins = stable_split(durations, previous, bins, best.makespan, tolerance, suite.groups, budget)
        makespan = max(sum(durations[p] for p in files) for files in bins)
        optimal = best.optimal and makespan <= best.makespan + rounding_slack(best.makespan)
    return Split(tuple(tuple(files) for files in bins), optimal, best.lpt_makespan)


def plan_suite(
    suite: Suite,
    pools: tuple[Pool, ...],
    members: Mapping[str, Registration],
    est_seconds_of: EstSeconds,
    previous: Sequence[Sequence[str]] | None = None,
    tolerance: float = DEFAULT_TOLERANCE,
    source: str = "",
    memo: SplitMemo | None = None,
) -> tuple[SuitePlan, list[Problem]]:
    """One non-empty suite -> its shards (and warnings about its budget). With `memo`, a split
    made earlier from the same inputs is reused instead of searched for again."""
    durations = {path: float(est_seconds_of(reg)) for path, reg in members.items()}
    if memo is None:
        split = split_suite(suite, durations, previous, tolerance)
    else:
        key = split_key(
            durations, suite.shard_budget_minutes * 60, suite.max_parallel, suite.groups, previous, tolerance
        )
        split = memo.get(key, list(durations))
        if split is None:
            split = split_suite(suite, durations, previous, tolerance)
            memo.put(key, split)
    bins = split.bins
    shards = tuple(
        Shard(
            index=i,
            files=tuple(sorted(files)),
            est_seconds=float(sum(durations[p] for p in files)),
            file_seconds=tuple(durations[p] for p in sorted(files)),
        )
        for i, files in enumerate(bins)
    )
    suite_plan = SuitePlan(
        suite=suite,
        pools=pools,
        shards=shards,
        lower_bound_seconds=simple_lower_bound(list(durations.values()), len(shards)),
        optimal=split.optimal,
        lpt_makespan_seconds=split.lpt_makespan_seconds,
    )
    return suite_plan, _budget_problems(suite, shards, members, source)


def model_test_placements(config: Config, registrations: Sequence[Registration]) -> tuple[PlacedModelTest, ...]:
    """Each model test (config `model_tests`) in every enabled suite its file is registered in,
    with its pools (its own, else the suite's). These files get jobs of their own, not shards."""
    placed = []
    for test in config.model_tests.values():
        for reg in registrations:
            suite = config.suites.get(reg.suite)
            if (
                reg.path != test.path
                or reg.backend not in config.backends
                or not reg.enabled
                or suite is None
                or not suite.enabled
            ):
                continue
            placed.append(PlacedModelTest(test, suite, tuple(config.pools[name] for name in test.pools or suite.pools)))
    return tuple(placed)


def without_model_tests(config: Config, registrations: Sequence[Registration]) -> list[Registration]:
    """The registrations shards are planned for: model tests run in jobs of their own."""
    return [r for r in registrations if r.path not in config.model_tests]


def plan(
    config: Config,
    registrations: Sequence[Registration],
    est_seconds_of: EstSeconds | None = None,
    *,
    previous: PreviousShards | None = None,
    tolerance: float = DEFAULT_TOLERANCE,
    memo: SplitMemo | None = None,
) -> Plan:
    """Every enabled, non-empty suite of the config, in config order. `est_seconds_of` gives a
    file's planned seconds (default: its est_time); `previous` the last plan's shards; `memo`
    splits made earlier (generator/planning/memo.py)."""
    est_seconds_of = est_seconds_of or (lambda reg: reg.est_seconds)
    members = suite_members(config, registrations)
    suites, problems = [], []
    for suite in config.suites.values():
        if not suite.enabled or not members.get(suite.name):
            continue
        old = previous.get(suite.name) if previous is not None else None
        pools = tuple(config.pools[p] for p in suite.pools)
        suite_plan, found = plan_suite(
            suite, pools, members[suite.name], est_seconds_of, old, tolerance, config.source, memo
        )
        suites.append(suite_plan)
        problems.extend(found)
    return Plan(tuple(suites), tuple(sorted(problems)))


def with_measured_setup(config: Config, setup_minutes_by_label: Mapping[str, float]) -> Config:
    """The config with each pool's setup_minutes replaced by a measured value for one of
    its labels (the first label that has one), where there is one."""
    pools = {}
    for name, pool in config.pools.items():
        measured = next(
            (setup_minutes_by_label[label] for label in pool.labels if label in setup_minutes_by_label), None
        )
        pools[name] = pool if measured is None else dataclasses.replace(pool, setup_minutes=float(measured))
    return dataclasses.replace(config, pools=pools)


@dataclass(frozen=True)
class PoolTotal:
    """What one runner pool spends on the whole plan."""

    pool: Pool
    jobs: int  # shards over all suites that run on this pool
    runner_minutes: float  # setup + tests
    setup_minutes: float  # of which setup

    @property
    def gpu_minutes(self) -> float:
        return self.runner_minutes * self.pool.gpus


def pool_totals(planned: Plan) -> list[PoolTotal]:
    """Per pool, by name: jobs, runner-minutes and the setup share of them."""
    totals: dict[str, PoolTotal] = {}
    for sp in planned.suites:
        for pool in sp.pools:
            before = totals.get(pool.name, PoolTotal(pool, 0, 0.0, 0.0))
            totals[pool.name] = PoolTotal(
                pool,
                before.jobs + len(sp.shards),
                before.runner_minutes + sp.pool_runner_minutes(pool),
                before.setup_minutes + len(sp.shards) * pool.setup_minutes,
            )
    return [totals[name] for name in sorted(totals)]


def _cost(value: float) -> float:
    """A cost for JSON, rounded: milliseconds are plenty, and float noise stays out of diffs."""
    return round(value, 3)


def plan_file_of(planned: Plan) -> plan_file.PlanFile:
    """What the plan file holds of a plan: each suite's shards, their files and seconds (rounded
    as the file holds them, so a plan read back from the file compares equal)."""
    seconds = plan_file.rounded
    return plan_file.PlanFile(
        {
            sp.suite.name: tuple(
                plan_file.PlannedShard(
                    seconds(shard.est_seconds),
                    tuple(map(plan_file.PlannedFile, shard.files, map(seconds, shard.file_seconds))),
                )
                for shard in sp.shards
            )
            for sp in planned.suites
        }
    )


def plan_to_json(planned: Plan) -> dict:
    """The `cigen plan --format json` document: the plan file's shape (generator/shipped/plan_file.py)
    plus each suite's and each pool's costs, so `--previous` and `--diff` read either."""
    document = plan_file.document(plan_file_of(planned))
    for sp in planned.suites:
        document["suites"][sp.suite.name].update(
            {
                "pool": sp.pools[0].name,
                "pools": [p.name for p in sp.pools],
                "runs_on": list(sp.pools[0].labels),
                "trigger": sp.suite.trigger,
                "makespan": _cost(sp.makespan_seconds),
                "lower_bound": _cost(sp.lower_bound_seconds),
                "lpt_makespan": _cost(sp.lpt_makespan_seconds),
                "optimal": sp.optimal,
                "budget": _cost(sp.suite.shard_budget_minutes * 60),
                "wall_minutes": _cost(sp.wall_minutes),
                "runner_minutes": _cost(sp.runner_minutes),
                "gpu_minutes": _cost(sp.gpu_minutes),
            }
        )
    document["pools"] = {
        total.pool.name: {
            "gpus": total.pool.gpus,
            "jobs": total.jobs,
            "setup_minutes": _cost(total.setup_minutes),
            "runner_minutes": _cost(total.runner_minutes),
            "gpu_minutes": _cost(total.gpu_minutes),
        }
        for total in pool_totals(planned)
    }
    return document
