"""The typed model every pipeline step passes along: scan -> model -> plan -> render.

Frozen dataclasses only; dicts stay at the edges (YAML in, JSON and template context out).
Units are in the names (`est_seconds`, `gpu_mem_gib`); sort keys are explicit so output is
byte-identical from run to run.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace

from generator.errors import Problem


@dataclass(frozen=True)
class Registration:
    """One top-level `register_<backend>_ci(...)` call in a test file."""

    path: str  # posix, relative to the scanned root
    line: int
    backend: str  # lower case: cuda, amd, cpu, npu, ...
    est_seconds: float
    suite: str  # the effective suite: `suite=` or f"{stage}-test-{runner_config}"
    stage: str | None = None
    runner_config: str | None = None
    nightly: bool = False
    disabled: str | None = None  # the reason, when disabled

    @property
    def enabled(self) -> bool:
        return self.disabled is None

    @property
    def sort_key(self) -> tuple[str, int, str, str]:
        return (self.path, self.line, self.backend, self.suite)

    def to_json(self) -> dict:
        """The `cigen scan --format json` shape (sglang's field names)."""
        return {
            "file": self.path,
            "lineno": self.line,
            "backend": self.backend,
            "est_time": self.est_seconds,
            "suite": self.suite,
            "stage": self.stage,
            "runner_config": self.runner_config,
            "nightly": self.nightly,
            "disabled": self.disabled,
        }


@dataclass(frozen=True)
class GpuPreflight:
    """A pool's GPU check before a shard's first file; None: the shard runner's default."""

    timeout_seconds: float | None = None  # nvidia-smi must answer within this (runner: 15)
    max_used_mib: int | None = None  # a GPU is busy at this much used memory (runner: 2048, sglang's)
    min_free_mib: int | None = None  # a GPU is busy below this much free memory (runner: 0)
    wait_seconds: float | None = None  # how long busy memory may take to be released (runner: 30)


@dataclass(frozen=True)
class Hooks:
    """Shell steps around a GPU job's tests, one level's (workflows, pool or suite)."""

    before: tuple[str, ...] = ()  # after set-up, before the tests (sglang: DeepGEMM warm-up)
    always_after: tuple[str, ...] = ()  # even when the tests failed (sglang: ci_cleanup_venv.sh)
    on_failure: tuple[str, ...] = ()  # only when a step failed (sglang: collect core dumps)
    upload_on_failure: tuple[str, ...] = ()  # paths uploaded as an artifact when a step failed
    timeout_minutes: int | None = None  # each hook step's; None: the set-up timeout

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

    min_disk_free_gib: float | None = None
    disk_path: str | None = None  # None: the job's working folder
    drain_command: str | None = None  # takes the runner out of the pool (e.g. stops its service)
    drain_marker: str | None = None  # written on a failure; every later check refuses while it exists
    probes: Mapping[str, str] = field(default_factory=dict, hash=False)  # name -> shell command
    probe_timeout_seconds: float | None = None


@dataclass(frozen=True)
class Pool:
    """A set of interchangeable self-hosted runners, addressed by their labels."""

    name: str
    labels: tuple[str, ...]
    gpus: int
    setup_minutes: float  # per job: checkout, install, warm-up before the first test
    gpu_model: str | None = None
    gpu_mem_gib: float | None = None
    setup: tuple[str, ...] | None = None  # None: the workflows' setup
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
    needs: tuple[str, ...] = ()
    pr_label: str | None = None  # per-commit suites that only run when a PR carries this label
    paths: tuple[str, ...] = ()  # per-commit suites that only run when these paths change
    cron: str | None = None  # nightly suites on their own schedule
    enabled: bool = True
    groups: tuple[tuple[str, ...], ...] = ()  # files that must share a shard
    setup: tuple[str, ...] | None = None  # None: the pool's, else the workflows' setup
    env: Mapping[str, str] = field(default_factory=dict, hash=False)
    secrets: Mapping[str, str] = field(default_factory=dict, hash=False)  # env name -> secret name, trusted events only
    working_directory: str | None = None  # where each test runs (sglang: test); paths stay as registered
    retries: int = 1  # extra attempts for retriable failure classes, as sglang
    retry_wait_seconds: int = 60
    test_args: tuple[str, ...] = ()
    mismatched_nightly: str = "run"  # "run" | "skip": files whose nightly= contradicts the trigger (sglang: skip)
    on_pools: Mapping[str, Mapping[str, int]] = field(default_factory=dict, hash=False)  # pool -> settings
    hooks: Hooks = field(default_factory=Hooks)
    builds: tuple[str, ...] = ()  # builds whose artifact the suite's jobs download
    line: int = 0

    def on_pool(self, pool: str) -> Suite:
        """This suite with the settings it has on `pool` (on_pools), e.g. sglang's B200 nightly timeouts."""
        return replace(self, **self.on_pools[pool]) if pool in self.on_pools else self

    def runs_file(self, nightly: bool) -> bool:
        """Whether a registration with this nightly= flag runs here (sglang's run_suite skips a mismatch)."""
        scheduled = self.trigger in ("per-commit", "nightly")
        return self.mismatched_nightly == "run" or not scheduled or nightly == self.nightly

    @property
    def nightly(self) -> bool:
        """The `nightly=` flag its registrations must carry (sglang's run_suite --nightly)."""
        return self.trigger == "nightly"

    @property
    def pool(self) -> str:
        return self.pools[0]


@dataclass(frozen=True)
class ModelTest:
    """A test that launches a model server: checked for GPU-memory fit, run via action.yml."""

    path: str  # relative to the root, as registrations spell it
    model: str  # built-in model name or path to a HF config.json
    hf_model: str  # what the server loads
    tp: int = 1
    extra_peak: str | float = "weight-checker"  # "weight-checker" or MiB
    pools: tuple[str, ...] = ()  # empty: the pools of the test's suite
    server_args: str = ""
    install: str = "none"  # the action's `install` input: pip arguments, or none
    line: int = 0


@dataclass(frozen=True)
class Build:
    """A job before the suites that name it: builds on its pool and hands an artifact to them."""

    name: str
    pool: str
    steps: tuple[str, ...]
    artifact_path: str  # what it uploads
    download_to: str  # where a suite job puts the artifact
    paths: tuple[str, ...] = ()  # a pull request changing these runs it; empty: always
    switch_env: str | None = None  # env a suite job gets: "true" when the build ran
    timeout_minutes: int = 120
    line: int = 0


@dataclass(frozen=True)
class CpuTests:
    """The hosted-runner workflow of the repo's own checks (`make test`, the drift check)."""

    commands: tuple[str, ...]  # one step each, in order
    runs_on: str = "ubuntu-latest"
    python: str = "3.12"
    timeout_minutes: int = 60


@dataclass(frozen=True)
class PullRequestGate:
    """Which pull requests start the per-commit GPU suites (pushes and dispatches always do)."""

    label: str | None = None  # the label a pull request needs, read live (sglang: run-ci)
    skip_drafts: bool = True
    paths: tuple[str, ...] = ()  # a change under none of these runs no GPU suite ("!glob" excludes)
    types: tuple[str, ...] = ("opened", "synchronize", "reopened", "ready_for_review", "labeled")
    gated_off: str = "pass"  # "pass" | "fail": the required check of a draft or unlabelled pull request


@dataclass(frozen=True)
class Triggers:
    """Events besides pull requests that run the per-commit workflow's every suite."""

    push: bool = True  # pushes to workflows.branches
    schedule: tuple[str, ...] = ()  # crons (sglang: 0 11,23 * * *)
    dispatch: bool = True


@dataclass(frozen=True)
class Throttle:
    """At most max(shards // divisor, 1) shards of a suite at once on `events`, unless the pull request
    carries `lift_label` (sglang's compute_partitions: size // 3 on pull requests, `high priority` lifts it)."""

    divisor: int
    events: tuple[str, ...] = ("pull_request",)
    lift_label: str | None = None


@dataclass(frozen=True)
class PlausibilityBounds:
    """How far measured timings may move a file on few samples: further is held back, not applied."""

    max_factor: float = 3.0  # new / old (or old / new) above this is a jump
    min_seconds: float = 1.0  # a new estimate below this is a jump too (a 0 s file is a lie or a skip)
    min_samples: int = 5  # with this many samples a jump is believed and applied


@dataclass(frozen=True)
class CalibrateLoop:
    """The scheduled workflow that turns recent shard results into a timings-and-plan branch."""

    cron: str
    days: int = 7  # how far back results are downloaded
    branch: str = "cigen/timings"  # the branch the pull request comes from
    max_factor: float = PlausibilityBounds.max_factor
    min_seconds: float = PlausibilityBounds.min_seconds
    min_samples: int = PlausibilityBounds.min_samples

    @property
    def bounds(self) -> PlausibilityBounds:
        return PlausibilityBounds(self.max_factor, self.min_seconds, self.min_samples)


@dataclass(frozen=True)
class Redispatch:
    """The workflow_run workflow that re-runs a run's failed jobs once when all of them were infra."""

    daily_cap: int = 20  # re-dispatched runs a day (UTC), every re-run counted
    comment: bool = True  # the one line on the pull request (pull-requests: write); else the summary only


OUTPUT_NAMES = ("per-commit", "nightly", "rerun-test", "cpu-tests", "calibrate", "redispatch")


@dataclass(frozen=True)
class WorkflowSettings:
    """How generated workflows prepare GPU runners, gate pull requests, and reach cigen."""

    setup: tuple[str, ...] = ()  # shell lines run before a GPU job's tests (install the project)
    setup_timeout_minutes: int = 20
    env: Mapping[str, str] = field(default_factory=dict)  # every GPU job's environment
    secrets: Mapping[str, str] = field(default_factory=dict)  # env name -> secret name, trusted events only
    secrets_environment: str = "cigen-secrets"  # the GitHub environment jobs with secrets run in
    files: Mapping[str, str] = field(default_factory=dict)  # output name -> workflow file name
    pull_requests: PullRequestGate = field(default_factory=PullRequestGate)
    triggers: Triggers = field(default_factory=Triggers)
    throttle: Throttle | None = None  # None: every shard at once
    hooks: Hooks = field(default_factory=Hooks)  # every GPU job's; pools and suites add theirs
    cigen_package: str | None = None  # immutable: git URL at a commit, or `.` in cigen's own repository
    cigen_requirements: str | None = None  # a hash-pinned requirements file, installed with --require-hashes
    action: str | None = None  # cigen's composite action: `./` in cigen's repository, else `owner/cigen@<sha>`
    action_version: str | None = None  # the version comment beside a pinned action
    regenerate: str = "cigen render"  # the command named in every generated file's header
    branches: tuple[str, ...] = ("main",)  # pushes to these run the per-commit workflow
    timings: str | None = None  # the timings file plan, render and check use by default
    cpu_tests: CpuTests | None = None  # None: no CPU workflow
    calibrate: CalibrateLoop | None = None  # None: no calibrate workflow
    redispatch: Redispatch | None = None  # None: no re-dispatch workflow

    def file_name(self, output: str) -> str:
        """The workflow file an output is written to (default: cigen-<output>.yml)."""
        return self.files.get(output, f"cigen-{output}.yml")


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
    max_infra_rate: float = 0.2  # `cigen health` names a runner whose infra share is above this
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

    def suite(self, name: str) -> SuitePlan:
        return next(s for s in self.suites if s.suite.name == name)
