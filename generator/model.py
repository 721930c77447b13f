"""The typed model every pipeline step passes along: scan -> model -> plan -> render.

Frozen dataclasses only; dicts stay at the edges (YAML in, JSON and template context out).
Units are in the names (`est_seconds`, `gpu_mem_gib`); sort keys are explicit so output is
byte-identical from run to run. A field that a `cigen.yml` key sets takes its default from that
key's entry in generator/config_fields.py, the one place defaults are written.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace

from generator.config_fields import (
    BUILD,
    CPU_TESTS,
    HEALTH,
    HOOKS,
    MODEL_TEST,
    POOL,
    PREFLIGHT,
    PULL_REQUESTS,
    REDISPATCH,
    SUITE,
    THROTTLE,
    TIMINGS,
    TRIGGERS,
    WORKFLOWS,
    default_file_name,
)
from generator.errors import Problem

# The failure classes the shard runner may retry (generator/shipped/run_shard.py RETRIABLE_CLASSES).
RETRIABLE_CLASSES: tuple[str, ...] = SUITE.default("retry_classes")


@dataclass(frozen=True)
class GpuPreflight:
    """A pool's GPU check before a shard's first file; None: the shard runner's default (config_fields.PREFLIGHT)."""

    timeout_seconds: float | None = PREFLIGHT.default("timeout_seconds")
    max_used_mib: int | None = PREFLIGHT.default("max_used_mib")
    min_free_mib: int | None = PREFLIGHT.default("min_free_mib")
    wait_seconds: float | None = PREFLIGHT.default("wait_seconds")


@dataclass(frozen=True)
class Hooks:
    """Shell steps around a GPU job's tests, one level's (workflows, pool or suite)."""

    before: tuple[str, ...] = HOOKS.default("before")
    always_after: tuple[str, ...] = HOOKS.default("always_after")
    on_failure: tuple[str, ...] = HOOKS.default("on_failure")
    upload_on_failure: tuple[str, ...] = HOOKS.default("upload_on_failure")
    timeout_minutes: int | None = HOOKS.default("timeout_minutes")

    def then(self, other: Hooks) -> Hooks:
        """This level's lines, then `other`'s (a more specific level adds to the one above)."""
        return Hooks(
            self.before + other.before,
            self.always_after + other.always_after,
            self.on_failure + other.on_failure,
            self.upload_on_failure + other.upload_on_failure,
            other.timeout_minutes if other.timeout_minutes is not None else self.timeout_minutes,
        )


@dataclass(frozen=True)
class RunnerHealth:
    """A pool's runner health beyond the GPU preflight (generator/shipped/health.py): the
    top-level `health:` merged with the pool's own, key by key; None: the probe is off."""

    min_disk_free_gib: float | None = HEALTH.default("min_disk_free_gib")
    disk_path: str | None = HEALTH.default("disk_path")
    drain_command: str | None = HEALTH.default("drain_command")
    drain_marker: str | None = HEALTH.default("drain_marker")
    probes: Mapping[str, str] = field(default_factory=dict, hash=False)  # name -> shell command
    probe_timeout_seconds: float | None = HEALTH.default("probe_timeout_seconds")


@dataclass(frozen=True)
class Pool:
    """A set of interchangeable self-hosted runners, addressed by their labels."""

    name: str
    labels: tuple[str, ...]
    gpus: int
    setup_minutes: float  # per job: checkout, install, warm-up before the first test
    gpu_model: str | None = POOL.default("gpu")
    gpu_mem_gib: float | None = POOL.default("gpu_mem_gib")
    setup: tuple[str, ...] | None = POOL.default("setup")
    env: Mapping[str, str] = field(default_factory=dict, hash=False)
    preflight: GpuPreflight = field(default_factory=GpuPreflight)
    hooks: Hooks = field(default_factory=Hooks)
    changed_paths: tuple[str, ...] = ()  # a pull request changing these runs per-commit jobs on...
    changed_labels: tuple[str, ...] = ()  # ...these labels instead (sglang: 4-gpu-b200-kernel)
    health: RunnerHealth = field(default_factory=RunnerHealth)
    line: int = 0


@dataclass(frozen=True)
class Suite:
    """A named set of registrations that one CI job (sharded) runs on one or more pools."""

    name: str
    backend: str
    trigger: str  # "per-commit" | "nightly" | "manual"
    pools: tuple[str, ...]
    job_timeout_minutes: int
    step_timeout_minutes: int
    shard_budget_minutes: float  # target for one shard's test time (setup excluded)
    max_parallel: int
    per_file_timeout_seconds: int
    needs: tuple[str, ...] = SUITE.default("needs")
    pr_label: str | None = SUITE.default("pr_label")
    paths: tuple[str, ...] = SUITE.default("paths")
    cron: str | None = SUITE.default("cron")
    enabled: bool = SUITE.default("enabled")
    groups: tuple[tuple[str, ...], ...] = SUITE.default("groups")
    setup: tuple[str, ...] | None = SUITE.default("setup")
    env: Mapping[str, str] = field(default_factory=dict, hash=False)
    secrets: Mapping[str, str] = field(default_factory=dict, hash=False)  # env name -> secret name, trusted events only
    working_directory: str | None = SUITE.default("working_directory")
    retries: int = SUITE.default("retries")
    retry_wait_seconds: int = SUITE.default("retry_wait_seconds")
    retry_classes: tuple[str, ...] = SUITE.default("retry_classes")  # the failures retries are for
    test_args: tuple[str, ...] = SUITE.default("test_args")
    mismatched_nightly: str = SUITE.default("mismatched_nightly")  # "run" | "skip"
    on_pools: Mapping[str, Mapping[str, object]] = field(default_factory=dict, hash=False)  # pool -> settings
    hooks: Hooks = field(default_factory=Hooks)
    builds: tuple[str, ...] = SUITE.default("builds")
    line: int = 0

    def on_pool(self, pool: str) -> Suite:
        """This suite with the settings it has on `pool` (on_pools), e.g. sglang's B200 nightly timeouts;
        its env is merged over the suite's, key by key (sglang's IS_H200 on the H200 job only)."""
        settings = self.on_pools.get(pool)
        if not settings:
            return self
        return replace(self, **{**settings, "env": {**self.env, **settings.get("env", {})}})

    def runs_file(self, nightly: bool) -> bool:
        """Whether a registration with this nightly= flag runs here (sglang's run_suite skips a mismatch)."""
        scheduled = self.trigger in ("per-commit", "nightly")
        return self.mismatched_nightly == "run" or not scheduled or nightly == self.nightly

    @property
    def nightly(self) -> bool:
        """The `nightly=` flag its registrations must carry (sglang's run_suite --nightly)."""
        return self.trigger == "nightly"


@dataclass(frozen=True)
class ModelTest:
    """A test that launches a model server: checked for GPU-memory fit, run via action.yml."""

    path: str  # relative to the root, as registrations spell it
    model: str  # built-in model name or path to a HF config.json
    hf_model: str  # what the server loads
    tp: int = MODEL_TEST.default("tp")
    extra_peak: str | float = MODEL_TEST.default("extra_peak")  # "weight-checker" or MiB
    pools: tuple[str, ...] = MODEL_TEST.default("pools")  # empty: the pools of the test's suite
    server_args: str = MODEL_TEST.default("server_args")
    install: str = MODEL_TEST.default("install")
    line: int = 0


@dataclass(frozen=True)
class Build:
    """A job before the suites that name it: builds on its pool and hands an artifact to them."""

    name: str
    pool: str
    steps: tuple[str, ...]
    artifact_path: str  # what it uploads
    download_to: str  # where a suite job puts the artifact
    paths: tuple[str, ...] = BUILD.default("paths")  # a pull request changing these runs it; empty: always
    switch_env: str | None = BUILD.default("switch_env")
    timeout_minutes: int = BUILD.default("timeout_minutes")
    line: int = 0


@dataclass(frozen=True)
class CpuTests:
    """The hosted-runner workflow of the repo's own checks (`make test`, the drift check)."""

    commands: tuple[str, ...]  # one step each, in order
    runs_on: str = CPU_TESTS.default("runs_on")
    python: str = CPU_TESTS.default("python")
    timeout_minutes: int = CPU_TESTS.default("timeout_minutes")


@dataclass(frozen=True)
class PullRequestGate:
    """Which pull requests start the per-commit GPU suites (pushes and dispatches always do)."""

    label: str | None = PULL_REQUESTS.default("label")
    skip_drafts: bool = PULL_REQUESTS.default("skip_drafts")
    paths: tuple[str, ...] = PULL_REQUESTS.default("paths")
    types: tuple[str, ...] = PULL_REQUESTS.default("types")
    gated_off: str = PULL_REQUESTS.default("gated_off")  # "pass" | "fail"


@dataclass(frozen=True)
class Triggers:
    """Events besides pull requests that run the per-commit workflow's every suite."""

    push: bool = TRIGGERS.default("push")
    schedule: tuple[str, ...] = TRIGGERS.default("schedule")
    dispatch: bool = TRIGGERS.default("dispatch")
    keep_going_on_schedule: bool = TRIGGERS.default("keep_going_on_schedule")


@dataclass(frozen=True)
class Throttle:
    """At most max(shards // divisor, 1) shards of a suite at once on `events`, unless the pull request
    carries `lift_label` (sglang's compute_partitions: size // 3 on pull requests, `high priority` lifts it)."""

    divisor: int
    events: tuple[str, ...] = THROTTLE.default("events")
    lift_label: str | None = THROTTLE.default("lift_label")


@dataclass(frozen=True)
class PlausibilityBounds:
    """How far measured timings may move a file on few samples: further is held back, not applied."""

    max_factor: float = TIMINGS.default("max_factor")
    min_seconds: float = TIMINGS.default("min_seconds")
    min_samples: int = TIMINGS.default("min_samples")


@dataclass(frozen=True)
class TimingsLoop:
    """The scheduled workflow that turns recent shard results into a timings-and-plan branch
    (its file is WorkflowSettings.timings)."""

    cron: str
    days: int = TIMINGS.default("days")
    branch: str = TIMINGS.default("branch")
    max_factor: float = TIMINGS.default("max_factor")
    min_seconds: float = TIMINGS.default("min_seconds")
    min_samples: int = TIMINGS.default("min_samples")

    @property
    def bounds(self) -> PlausibilityBounds:
        return PlausibilityBounds(self.max_factor, self.min_seconds, self.min_samples)


@dataclass(frozen=True)
class Redispatch:
    """The workflow_run workflow that re-runs a run's failed jobs once when all of them were infra."""

    daily_cap: int = REDISPATCH.default("daily_cap")
    comment: bool = REDISPATCH.default("comment")


@dataclass(frozen=True)
class WorkflowSettings:
    """How generated workflows prepare GPU runners, gate pull requests, and reach cigen."""

    setup: tuple[str, ...] = WORKFLOWS.default("setup")
    setup_timeout_minutes: int = WORKFLOWS.default("setup_timeout_minutes")
    env: Mapping[str, str] = field(default_factory=dict)  # every GPU job's environment
    secrets: Mapping[str, str] = field(default_factory=dict)  # env name -> secret name, trusted events only
    secrets_environment: str = WORKFLOWS.default("secrets_environment")
    files: Mapping[str, str] = field(default_factory=dict)  # output name -> workflow file name
    pull_requests: PullRequestGate = field(default_factory=PullRequestGate)
    triggers: Triggers = field(default_factory=Triggers)
    throttle: Throttle | None = WORKFLOWS.default("throttle")
    hooks: Hooks = field(default_factory=Hooks)  # every GPU job's; pools and suites add theirs
    cigen_package: str | None = WORKFLOWS.default("cigen_package")
    cigen_requirements: str | None = WORKFLOWS.default("cigen_requirements")
    action: str | None = WORKFLOWS.default("action")
    action_version: str | None = WORKFLOWS.default("action_version")
    regenerate: str = WORKFLOWS.default("regenerate")
    branches: tuple[str, ...] = WORKFLOWS.default("branches")
    timings: str | None = WORKFLOWS.default("timings")  # the file, given alone or as workflows.timings.file
    cpu_tests: CpuTests | None = WORKFLOWS.default("cpu_tests")
    timings_loop: TimingsLoop | None = None  # workflows.timings given as a mapping
    redispatch: Redispatch | None = WORKFLOWS.default("redispatch")

    def file_name(self, output: str) -> str:
        """The workflow file an output is written to (workflows.files, else config_fields.default_file_name)."""
        return self.files.get(output, default_file_name(output))


@dataclass(frozen=True)
class Config:
    """A validated `cigen.yml` (or the embedded default)."""

    source: str  # the file it came from, for messages
    include: tuple[str, ...]
    exclude: tuple[str, ...]
    backends: tuple[str, ...]  # registrations of these backends are linted and planned
    pools: Mapping[str, Pool]
    runner_configs: Mapping[str, str]  # runner_config -> pool name
    suites: Mapping[str, Suite]
    nightly_cron: str
    model_tests: Mapping[str, ModelTest] = field(default_factory=dict)  # by path
    builds: Mapping[str, Build] = field(default_factory=dict)  # by name
    workflows: WorkflowSettings = field(default_factory=WorkflowSettings)
    max_infra_rate: float = HEALTH.default("max_infra_rate")
    lines: Mapping[tuple[str, ...], int] = field(default_factory=dict, compare=False, repr=False)  # key path -> line

    def line(self, *key: str) -> int:
        """The line of a key in the config file (`line("workflows", "action")`); 0 where it has none."""
        return self.lines.get(key, 0)

    def suites_for(self, backend: str) -> list[Suite]:
        return [s for s in self.suites.values() if s.backend == backend]

    def setup_for(self, suite: Suite, pool: Pool) -> tuple[str, ...]:
        """A GPU job's set-up lines: the suite's, else its pool's, else the workflows' (the most specific wins)."""
        for setup in (suite.setup, pool.setup):
            if setup is not None:
                return setup
        return self.workflows.setup

    def hooks_for(self, suite: Suite, pool: Pool) -> Hooks:
        """A GPU job's hook steps: the workflows', then its pool's, then the suite's lines."""
        return self.workflows.hooks.then(pool.hooks).then(suite.hooks)

    def env_for(self, suite: Suite, pool: Pool) -> dict[str, str]:
        """A GPU job's environment: the workflows', then its pool's, then the suite's, key by key (later wins)."""
        return {**self.workflows.env, **pool.env, **suite.env}


@dataclass(frozen=True)
class PlacedModelTest:
    """A model test in a suite it is registered in: run through cigen's action, a job per pool."""

    test: ModelTest
    suite: Suite
    pools: tuple[Pool, ...]


@dataclass(frozen=True)
class Shard:
    """One matrix entry of a suite's job: the files it runs, in run order (by path)."""

    index: int
    files: tuple[str, ...]
    est_seconds: float  # sum of the files' planned seconds (setup excluded)
    file_seconds: tuple[float, ...] = ()  # each file's planned seconds, in the order of `files`


@dataclass(frozen=True)
class SuitePlan:
    """A suite split into shards, and the pools whose runners run every shard."""

    suite: Suite
    pools: tuple[Pool, ...]
    shards: tuple[Shard, ...]
    lower_bound_seconds: float  # max(longest file, total / shards): no split can beat it
    optimal: bool = False  # proven: no split into this many shards has a shorter makespan
    lpt_makespan_seconds: float = 0.0  # what sglang's LPT gives for the same count

    @property
    def makespan_seconds(self) -> float:
        return max((shard.est_seconds for shard in self.shards), default=0.0)

    @property
    def total_seconds(self) -> float:
        return sum(shard.est_seconds for shard in self.shards)

    @property
    def files(self) -> int:
        return sum(len(shard.files) for shard in self.shards)

    @property
    def wall_minutes(self) -> float:
        """Wall-clock of the suite's job: the slowest pool's setup plus the longest shard."""
        return max(pool.setup_minutes for pool in self.pools) + self.makespan_seconds / 60

    def pool_runner_minutes(self, pool: Pool) -> float:
        """Runner time on one pool: every shard pays the setup, then runs its tests."""
        return len(self.shards) * pool.setup_minutes + self.total_seconds / 60

    @property
    def runner_minutes(self) -> float:
        """Runner time over all pools, each shard paying its pool's setup."""
        return sum(self.pool_runner_minutes(pool) for pool in self.pools)

    @property
    def gpu_minutes(self) -> float:
        """Runner minutes weighted by each pool's GPUs per runner."""
        return sum(self.pool_runner_minutes(pool) * pool.gpus for pool in self.pools)


@dataclass(frozen=True)
class Plan:
    """Every enabled, non-empty suite of the config, in config order, and what the planner
    had to warn about (files longer than a shard's budget, suites that cannot fit)."""

    suites: tuple[SuitePlan, ...]
    problems: tuple[Problem, ...] = ()
