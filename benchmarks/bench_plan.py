"""Shard planning on the synthesized sglang tree: quality vs LPT and the lower bound at
sglang's shard counts, runner-minutes vs sglang's count formula, plan time, and churn."""

from __future__ import annotations

import math
import statistics
import tempfile
from pathlib import Path

from benchmarks.common import Targets, median_of, table
from generator.config import load_config
from generator.plan import DEFAULT_TOLERANCE, plan, plan_to_json
from generator.planning.partition import best_partition, choose_shard_count, simple_lower_bound
from generator.planning.stability import stable_split
from generator.tree import scan_tree
from tests.support.baselines import churn, lpt
from tests.support.sglang_counts import cuda_suite_durations, sglang_shard_counts
from tests.support.synth import load_suites, write_tree


def _makespan(durations: dict[str, float], bins) -> float:
    return max((sum(durations[p] for p in files) for files in bins), default=0.0)


def quality(suites: dict[str, dict[str, float]], counts: dict[str, int], targets: Targets) -> None:
    """Ours vs LPT vs max(longest, total / shards), every suite at sglang's count."""
    rows, lpt_ratios, our_ratios, failing, worse = [], [], [], [], []
    for name, durations in suites.items():
        shards = counts[name]
        bound = simple_lower_bound(list(durations.values()), shards)
        baseline = _makespan(durations, lpt(durations, shards))
        ours = best_partition(durations, shards)
        lpt_ratios.append(baseline / bound)
        our_ratios.append(ours.makespan / bound)
        near = ours.makespan <= 1.01 * bound
        status = (
            ("proven optimal" if ours.optimal else "")
            + (" and " if ours.optimal and near else "")
            + ("<= 1.01 x LB" if near else "")
        )
        if not status:
            failing.append(name)
        if ours.makespan > baseline:
            worse.append(name)
        rows.append(
            (
                name,
                len(durations),
                shards,
                f"{bound:.1f}",
                f"{baseline:.0f}",
                f"{ours.makespan:.0f}",
                f"{baseline / bound:.4f}",
                f"{ours.makespan / bound:.4f}",
                status or "NO",
            )
        )
    print(f"## Plan quality: {len(suites)} non-empty CUDA suites at sglang's shard counts\n")
    print("LB = max(longest file, total / shards). LPT = sglang's auto_partition. Proven optimal = the")
    print("makespan meets a valid bound, or the branch-and-bound search finished.\n")
    print(table(("suite", "files", "shards", "LB_s", "LPT_s", "ours_s", "LPT/LB", "ours/LB", "ours is"), rows))
    print()
    print(
        table(
            ("partitioner", "mean makespan/LB", "worst makespan/LB", "suites > 1.01 x LB"),
            [
                (
                    "sglang LPT (baseline)",
                    f"{statistics.mean(lpt_ratios):.4f}",
                    f"{max(lpt_ratios):.4f}",
                    sum(r > 1.01 for r in lpt_ratios),
                ),
                (
                    "cigen",
                    f"{statistics.mean(our_ratios):.4f}",
                    f"{max(our_ratios):.4f}",
                    sum(r > 1.01 for r in our_ratios),
                ),
            ],
        )
    )
    print()
    targets.check(
        "every suite <= 1.01 x LB or proven optimal",
        not failing,
        f"{len(suites) - len(failing)}/{len(suites)}" + (f" (not: {', '.join(failing)})" if failing else ""),
    )
    targets.check("never worse than LPT on any suite", not worse, f"{len(suites) - len(worse)}/{len(suites)} suites")


def runner_minutes(suites: dict[str, dict[str, float]], counts: dict[str, int], config, targets: Targets) -> None:
    """Runner-minutes (tests + per-shard setup) and wall-clock for three ways to count shards."""

    def cost(name: str, durations: dict[str, float], shards: int, bins) -> tuple[float, float, float, bool]:
        suite = config.suites[name]
        pools = [config.pools[p] for p in suite.pools]
        total = sum(durations.values()) / 60
        runner = sum(shards * pool.setup_minutes + total for pool in pools)
        setup = sum(shards * pool.setup_minutes for pool in pools)
        wall = max(pool.setup_minutes for pool in pools) + _makespan(durations, bins) / 60
        over = _makespan(durations, bins) > suite.shard_budget_minutes * 60 + 1e-6
        return runner, setup, wall, over

    ways = {
        "sglang's counts + LPT (baseline)": lambda name, d: counts[name],
        "ceil(total / budget) + LPT (sglang's formula)": lambda name, d: max(
            1, min(len(d), math.ceil(sum(d.values()) / (config.suites[name].shard_budget_minutes * 60)))
        ),
        "cigen: smallest count that fits + ours": None,
    }
    rows = []
    totals = {}
    for label, count_of in ways.items():
        shard_sum = runner_sum = setup_sum = wall_sum = 0.0
        over_budget = 0
        for name, durations in suites.items():
            suite = config.suites[name]
            if count_of is None:
                shards = choose_shard_count(
                    durations, suite.shard_budget_minutes * 60, suite.max_parallel, suite.groups
                )
                bins = best_partition(
                    durations, shards, suite.groups, budget_seconds=suite.shard_budget_minutes * 60
                ).bins
            else:
                shards = count_of(name, durations)
                bins = lpt(durations, shards)
            runner, setup, wall, over = cost(name, durations, shards, bins)
            shard_sum += shards
            runner_sum += runner
            setup_sum += setup
            wall_sum += wall
            over_budget += over
        totals[label] = runner_sum
        rows.append((label, int(shard_sum), f"{runner_sum:,.1f}", f"{setup_sum:,.1f}", f"{wall_sum:,.1f}", over_budget))
    print(f"## Runner cost: the same {len(suites)} suites, budgets and setup minutes from the embedded config\n")
    print("runner-min = shards x pool setup + test minutes, per pool; wall = setup + longest shard, summed")
    print("over suites; over budget = suites whose longest shard exceeds shard_budget_minutes.\n")
    print(table(("shard counts", "shards", "runner-min", "of it setup", "wall-min (sum)", "suites over budget"), rows))
    print()
    ours = totals["cigen: smallest count that fits + ours"]
    formula = totals["ceil(total / budget) + LPT (sglang's formula)"]
    targets.check("runner-minutes <= sglang's count formula", ours <= formula, f"{ours:,.1f} vs {formula:,.1f}")


def speed(config, registrations, suites, counts, targets: Targets) -> None:
    whole = median_of(5, lambda: plan(config, registrations))
    document = median_of(5, lambda: plan_to_json(plan(config, registrations)))
    at_counts = median_of(5, lambda: [best_partition(d, counts[n]) for n, d in suites.items()])
    lpt_time = median_of(5, lambda: [lpt(d, counts[n]) for n, d in suites.items()])
    print("## Plan time (median of 5)\n")
    print(
        table(
            ("what", "seconds"),
            [
                ("sglang LPT, 45 suites at sglang's counts (baseline)", f"{lpt_time:.4f}"),
                ("cigen partition, 45 suites at sglang's counts", f"{at_counts:.4f}"),
                ("cigen plan(), whole corpus (counts chosen from budgets)", f"{whole:.4f}"),
                ("cigen plan() + plan_to_json, whole corpus", f"{document:.4f}"),
            ],
        )
    )
    print()
    targets.check("plan the whole corpus < 0.5 s", document < 0.5, f"{document:.3f} s")


def one_file_changes(durations: dict[str, float]) -> list[tuple[dict[str, float], str]]:
    """Every removal of one file, and an addition beside every file (a copy of its time)."""
    changes = [({p: s for p, s in durations.items() if p != path}, path) for path in durations]
    for path in durations:
        added = path.replace(".py", "_added.py")
        changes.append(({**durations, added: durations[path]}, added))
    return changes


WARM_TOLERANCES = (0.01, DEFAULT_TOLERANCE, 0.0)


def stability(suites: dict[str, dict[str, float]], counts: dict[str, int], targets: Targets) -> None:
    """Churn: files other than the changed one whose shard changed, after optimal matching."""
    baseline, replanned = "sglang LPT, replanned (baseline)", "cigen, replanned"
    warm_labels = {tolerance: f"cigen --previous, tolerance {tolerance:.1%}" for tolerance in WARM_TOLERANCES}
    strategies = (baseline, replanned, *warm_labels.values())
    churns: dict[str, list[int]] = {s: [] for s in strategies}
    ratios: dict[str, list[float]] = {s: [] for s in strategies}
    changes = 0
    for name, durations in suites.items():
        shards = counts[name]
        if shards < 2:
            continue
        before_lpt = lpt(durations, shards)
        before = best_partition(durations, shards).bins
        for after, changed in one_file_changes(durations):
            changes += 1
            bound = simple_lower_bound(list(after.values()), shards)
            fresh = best_partition(after, shards)
            replans = {baseline: lpt(after, shards), replanned: fresh.bins}
            for tolerance, label in warm_labels.items():
                replans[label] = stable_split(after, before, fresh.bins, fresh.makespan, tolerance)
            for strategy, bins in replans.items():
                churns[strategy].append(churn(before_lpt if strategy == baseline else before, bins, [changed]))
                ratios[strategy].append(_makespan(after, bins) / bound)
    rows = []
    for strategy in strategies:
        values = sorted(churns[strategy])
        rows.append(
            (
                strategy,
                f"{statistics.mean(values):.2f}",
                statistics.median(values),
                values[int(0.9 * (len(values) - 1))],
                values[-1],
                f"{statistics.mean(ratios[strategy]):.4f}",
                f"{max(ratios[strategy]):.4f}",
            )
        )
    multi = sum(1 for name in suites if counts[name] >= 2)
    print(f"## Churn: {changes} one-file changes in the {multi} suites sglang splits (at its counts)\n")
    print("Churn = files other than the added/removed one whose shard changed, after matching old and")
    print("new shard indices optimally (Hungarian). Changes: every file removed, and a file added beside")
    print("every file with its duration. --previous keeps the old split where the makespan stays within")
    print("max(fresh optimum, (1 + tolerance) x LB), else the fresh split renumbered.\n")
    print(table(("strategy", "mean churn", "median", "p90", "max", "mean makespan/LB", "worst makespan/LB"), rows))
    print()
    lpt_churn = statistics.mean(churns[baseline])
    warm = statistics.mean(churns[warm_labels[DEFAULT_TOLERANCE]])
    targets.check(
        "--previous (default tolerance) mean churn <= 1/4 of LPT's",
        warm <= lpt_churn / 4,
        f"{warm:.2f} vs {lpt_churn:.2f} files",
    )


def main(targets: Targets) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        tree = write_tree(Path(tmp) / "sglang")
        config = load_config(None, tree.root)
        registrations = scan_tree(tree.root, config.include, config.exclude).registrations
    suites = cuda_suite_durations(registrations)
    counts = sglang_shard_counts(load_suites(), suites)
    quality(suites, counts, targets)
    runner_minutes(suites, counts, config, targets)
    speed(config, registrations, suites, counts, targets)
    stability(suites, counts, targets)
