"""Replay CI history: plan each run from the runs before it, judge the plan by that run's real
durations, and judge sglang's actual shards the same way. Pure: no I/O.

For each held-out run and CUDA suite, these shardings of the files the suite actually ran:
  sglang      the jobs sglang ran (each job one shard)
  cigen       `partition.partition` on our estimates, at sglang's shard count
  lpt         `tests.support.baselines.lpt` (sglang's algorithm) on our estimates, at sglang's count
  hindsight   `partition.partition` on the run's own durations, at sglang's count (no estimate error)
  oracle      `partition.partition` on each file's mean over the whole history, the held-out run
              included, at sglang's count: more than any forecast can know, yet the run's own
              noise (runner speed, retries) remains. No plan made before a run does better.
  cigen-own   `partition.partition` at the count `partition.choose_shard_count` picks: the fewest shards
              whose predicted test time fits the suite's shard budget (what `cigen plan` ships)
  cigen-own-setup  the fewest shards whose predicted setup + test time fits the budget
              (sglang's rule, with our measured setup): more shards, shorter walls
Each shard's test time is the sum of its files' real elapsed seconds in that run; every shard
pays the suite's mean real setup in that run (so equal counts cost equal setup).
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from benchmarks.backtest.noise import FILE_CV, denoise, file_variances, job_factors
from benchmarks.backtest.risk import risk_partition
from generator.model import Config
from generator.planning import partition
from generator.registration import Registration
from generator.timings.calibrate import calibrate, registered_est
from generator.timings.estimators import DEFAULT_ESTIMATOR, nearest_rank
from generator.timings.history import Job, Run, history_measurements, is_partial
from tests.support.baselines import lpt

Partitioner = Callable[[Mapping[str, float], int], list[list[str]]]
VARIANTS = ("sglang", "cigen", "lpt", "hindsight", "oracle", "cigen-own", "cigen-own-setup")
OWN_COUNTS = ("cigen-own", "cigen-own-setup")


@dataclass(frozen=True)
class Sharding:
    """One split of one suite's files in one run, with that run's real per-shard test time."""

    shard_seconds: tuple[float, ...]
    setup_seconds: float  # per job
    longest_file_seconds: float

    @property
    def shards(self) -> int:
        return len(self.shard_seconds)

    @property
    def total_seconds(self) -> float:
        return sum(self.shard_seconds)

    @property
    def makespan_seconds(self) -> float:
        return max(self.shard_seconds)

    @property
    def imbalance(self) -> float:
        """max / mean shard test time: 1.0 is perfect."""
        mean = self.total_seconds / self.shards
        return self.makespan_seconds / mean if mean else 1.0

    @property
    def lower_bound_seconds(self) -> float:
        """No split into this many shards can finish sooner."""
        return max(self.longest_file_seconds, self.total_seconds / self.shards)

    @property
    def wall_seconds(self) -> float:
        return self.setup_seconds + self.makespan_seconds

    @property
    def setup_total_seconds(self) -> float:
        return self.setup_seconds * self.shards

    @property
    def job_seconds(self) -> float:
        """Runner time: every shard's setup plus its tests."""
        return self.setup_total_seconds + self.total_seconds


@dataclass(frozen=True)
class SuiteRun:
    """One CUDA suite in one held-out run."""

    run_id: str
    started: str
    suite: str
    files: int
    new_files: int  # never measured in earlier runs: est_time x suite ratio
    unregistered_new_files: int  # new and not in the registrations either: the suite's median
    partial: bool  # a shard job is missing (failed): excluded from the comparison
    budget_seconds: float | None  # the config's shard budget; None for a suite it does not know
    shardings: Mapping[str, Sharding]

    @property
    def compared(self) -> bool:
        return not self.partial and all(v in self.shardings for v in VARIANTS)

    def wall_verdict(self, variant: str = "cigen-own") -> str:
        """`variant`'s wall-clock against sglang's: 'no-slower', 'within-budget' (slower, but
        every shard's real test time fits the budget), or 'over-budget'."""
        own, sglang = self.shardings[variant], self.shardings["sglang"]
        if own.wall_seconds <= sglang.wall_seconds:
            return "no-slower"
        if self.budget_seconds is not None and own.makespan_seconds <= self.budget_seconds:
            return "within-budget"
        return "over-budget"


@dataclass(frozen=True)
class Backtest:
    estimator: str
    suite_runs: tuple[SuiteRun, ...]
    cold_runs: tuple[str, ...]  # runs with too little history before them: not judged
    renamed_or_deleted: tuple[tuple[str, str], ...] = field(default=())  # history files not registered now
    never_run: int = 0  # planned registrations of the judged suites that no run ran

    def compared(self) -> list[SuiteRun]:
        return [s for s in self.suite_runs if s.compared]


def actual_durations(jobs: Sequence[Job]) -> dict[str, float]:
    """A file's real cost in a run: every attempt of it, summed."""
    seconds: dict[str, float] = {}
    for job in jobs:
        for file in job.files:
            seconds[file.path] = seconds.get(file.path, 0.0) + file.seconds
    return seconds


def judge(bins: Iterable[Sequence[str]], actual: Mapping[str, float], setup_seconds: float) -> Sharding:
    """Real per-shard test time of a split; empty bins are no jobs."""
    loads = tuple(sum(actual[path] for path in b) for b in bins if b)
    return Sharding(loads, setup_seconds, max(actual.values()))


def mean_durations(runs: Sequence[Run], backends: Iterable[str]) -> dict[tuple[str, str], float]:
    """(suite, file) -> the file's mean real duration over every run that ran it."""
    samples: dict[tuple[str, str], list[float]] = {}
    for run in runs:
        for suite, jobs in run.suite_jobs(tuple(backends)).items():
            for path, seconds in actual_durations(jobs).items():
                samples.setdefault((suite, path), []).append(seconds)
    return {key: statistics.fmean(values) for key, values in samples.items()}


def count_with_setup(
    predicted: Mapping[str, float],
    budget_seconds: float,
    max_parallel: int,
    setup_seconds: float,
    partitioner: Partitioner,
) -> int:
    """The fewest shards whose predicted setup plus test time fits the budget (at most
    max_parallel): sglang's `target - bias` rule, on our estimates and partitioner."""
    for count in range(max(1, math.ceil(sum(predicted.values()) / budget_seconds)), max_parallel + 1):
        if setup_seconds + max(sum(predicted[p] for p in b) for b in partitioner(predicted, count)) <= budget_seconds:
            return count
    return max_parallel


def backtest(
    runs: Sequence[Run],
    config: Config,
    registrations: Sequence[Registration],
    estimator: str = DEFAULT_ESTIMATOR,
    min_history: int = 1,
    partitioner: Partitioner = partition.partition,
    *,
    denoised: bool = False,
    risk_k: float = 0.0,
) -> Backtest:
    """Judge every run that has at least `min_history` runs before it. Experiments, off by
    default (measured no better, `make bench`): `denoised` calibrates on samples with each
    job's speed factor taken out; `risk_k` > 0 makes the `cigen` variant balance
    mean + risk_k x sd per shard (`risk_partition`) instead of the mean."""
    est = registered_est(registrations)
    backends = config.backends
    history_mean = mean_durations(runs, backends)
    suite_runs: list[SuiteRun] = []
    seen_in_history: set[tuple[str, str]] = set()
    for index, run in enumerate(runs):
        jobs_by_suite = run.suite_jobs(backends)
        for suite, jobs in jobs_by_suite.items():
            seen_in_history.update((suite, f.path) for job in jobs for f in job.files)
        if index < min_history:
            continue
        measurements = history_measurements(runs[:index], backends)
        if denoised:
            measurements = denoise(measurements, job_factors(measurements.samples))
        timings, _ = calibrate(measurements, registrations, estimator)
        variances = file_variances(measurements, {key: t.seconds for key, t in timings.files.items()}) if risk_k else {}
        for suite_name, jobs in jobs_by_suite.items():
            actual = actual_durations(jobs)
            if not actual:
                continue
            predicted = {path: timings.estimate(suite_name, path, est.get((suite_name, path))) for path in actual}
            new = [path for path in actual if timings.measured(suite_name, path) is None]
            setup = statistics.fmean(job.setup_seconds for job in jobs)
            count = len(jobs)
            if risk_k:
                spread = {
                    path: variances.get((suite_name, path), (FILE_CV * seconds) ** 2)
                    for path, seconds in predicted.items()
                }
                cigen_bins = risk_partition(predicted, spread, count, risk_k)
            else:
                cigen_bins = partitioner(predicted, count)
            shardings = {
                "sglang": Sharding(tuple(job.test_seconds for job in jobs), setup, max(actual.values())),
                "cigen": judge(cigen_bins, actual, setup),
                "lpt": judge(lpt(predicted, count), actual, setup),
                "hindsight": judge(partitioner(actual, count), actual, setup),
                "oracle": judge(partitioner({p: history_mean[(suite_name, p)] for p in actual}, count), actual, setup),
            }
            suite = config.suites.get(suite_name)
            budget = suite.shard_budget_minutes * 60 if suite is not None else None
            if suite is not None:
                own = min(partition.choose_shard_count(predicted, budget, suite.max_parallel), len(actual))
                shardings["cigen-own"] = judge(partitioner(predicted, own), actual, setup)
                setup_guess = timings.setup_seconds(suite_name, jobs[0].runner)
                if setup_guess is None:
                    setup_guess = config.pools[suite.pools[0]].setup_minutes * 60
                own = min(
                    count_with_setup(predicted, budget, suite.max_parallel, setup_guess, partitioner), len(actual)
                )
                shardings["cigen-own-setup"] = judge(partitioner(predicted, own), actual, setup)
            suite_runs.append(
                SuiteRun(
                    run_id=run.run_id,
                    started=run.started.strftime("%Y-%m-%dT%H:%M:%SZ"),
                    suite=suite_name,
                    files=len(actual),
                    new_files=len(new),
                    unregistered_new_files=sum((suite_name, path) not in est for path in new),
                    partial=is_partial(jobs),
                    budget_seconds=budget,
                    shardings=shardings,
                )
            )
    judged_suites = {s.suite for s in suite_runs}
    return Backtest(
        estimator=estimator,
        suite_runs=tuple(suite_runs),
        cold_runs=tuple(run.run_id for run in runs[:min_history]),
        renamed_or_deleted=tuple(sorted(key for key in seen_in_history if key not in est)),
        never_run=sum(1 for key in est if key[0] in judged_suites and key not in seen_in_history),
    )


@dataclass(frozen=True)
class Summary:
    """One variant over many suite-runs."""

    variant: str
    suite_runs: int
    multi_shard: int  # suite-runs with 2+ shards: where imbalance means something
    shards: int
    imbalance_median: float | None
    imbalance_p90: float | None
    imbalance_max: float | None
    makespan_over_bound: float  # mean of makespan / lower bound, multi-shard suite-runs
    wall_seconds: float  # summed over suite-runs
    job_seconds: float
    setup_seconds: float

    @property
    def setup_share(self) -> float:
        return self.setup_seconds / self.job_seconds if self.job_seconds else 0.0


def summarize(suite_runs: Sequence[SuiteRun], variant: str) -> Summary:
    shardings = [s.shardings[variant] for s in suite_runs if variant in s.shardings]
    multi = [s for s in shardings if s.shards > 1]
    imbalances = [s.imbalance for s in multi]
    return Summary(
        variant=variant,
        suite_runs=len(shardings),
        multi_shard=len(multi),
        shards=sum(s.shards for s in shardings),
        imbalance_median=nearest_rank(imbalances, 0.5) if imbalances else None,
        imbalance_p90=nearest_rank(imbalances, 0.9) if imbalances else None,
        imbalance_max=max(imbalances) if imbalances else None,
        makespan_over_bound=statistics.fmean(s.makespan_seconds / s.lower_bound_seconds for s in multi)
        if multi
        else 1.0,
        wall_seconds=sum(s.wall_seconds for s in shardings),
        job_seconds=sum(s.job_seconds for s in shardings),
        setup_seconds=sum(s.setup_total_seconds for s in shardings),
    )


def critical_path_seconds(walls: Mapping[str, float], config: Config) -> float:
    """Longest chain of suite wall-clocks through the config's `needs` (suites absent: 0)."""
    finish: dict[str, float] = {}

    def end(name: str) -> float:
        if name not in finish:
            needs = config.suites[name].needs if name in config.suites else ()
            finish[name] = max((end(n) for n in needs), default=0.0) + walls.get(name, 0.0)
        return finish[name]

    return max((end(name) for name in walls), default=0.0)


def pipeline_walls(result: Backtest, config: Config, variant: str) -> dict[str, float]:
    """Per judged run: the critical path of complete suite-runs' walls under `variant`."""
    by_run: dict[str, dict[str, float]] = {}
    for s in result.compared():
        by_run.setdefault(s.started, {})[s.suite] = s.shardings[variant].wall_seconds
    return {started: critical_path_seconds(walls, config) for started, walls in sorted(by_run.items())}


@dataclass(frozen=True)
class SglangFigures:
    """sglang's own shards, every run: the issue's sanity-check numbers."""

    suite_runs: int  # multi-shard suite-runs
    imbalance_median: float | None  # None: no multi-shard suite-run
    imbalance_p90: float | None
    imbalance_max: float | None
    setup_share: float  # setup / job-seconds over every job of the backends
    jobs: int


def sglang_figures(runs: Sequence[Run], backends: Iterable[str]) -> SglangFigures:
    """Imbalance of each multi-shard suite-run as recorded (partial ones included, as in the
    issue), and setup over all jobs."""
    backends = tuple(backends)
    imbalances = []
    setup = wall = 0.0
    jobs_seen = 0
    for run in runs:
        for jobs in run.suite_jobs(backends).values():
            sharding = Sharding(tuple(j.test_seconds for j in jobs), 0.0, 0.0)
            if sharding.shards > 1:
                imbalances.append(sharding.imbalance)
            setup += sum(j.setup_seconds for j in jobs)
            wall += sum(j.wall_seconds for j in jobs)
            jobs_seen += len(jobs)
    return SglangFigures(
        suite_runs=len(imbalances),
        imbalance_median=nearest_rank(imbalances, 0.5) if imbalances else None,
        imbalance_p90=nearest_rank(imbalances, 0.9) if imbalances else None,
        imbalance_max=max(imbalances, default=None),
        setup_share=setup / wall if wall else 0.0,
        jobs=jobs_seen,
    )


def floor_setup_share(suite_runs: Sequence[SuiteRun]) -> float:
    """Setup share if every suite ran ceil(total / budget) perfectly balanced shards: no
    planner that keeps every shard within its budget can go lower."""
    setup = jobs = 0.0
    for s in suite_runs:
        real = s.shardings["sglang"]
        count = max(1, math.ceil(real.total_seconds / s.budget_seconds)) if s.budget_seconds else real.shards
        setup += count * real.setup_seconds
        jobs += count * real.setup_seconds + real.total_seconds
    return setup / jobs if jobs else 0.0
