"""The typed model every pipeline step passes along: scan -> model -> plan -> render.

Frozen dataclasses only; dicts stay at the edges (YAML in, JSON and template context out).
Units are in the names (`est_seconds`, `gpu_mem_gib`); sort keys are explicit so output is
byte-identical from run to run.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping


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
class Pool:
    """A set of interchangeable self-hosted runners, addressed by their labels."""

    name: str
    labels: tuple[str, ...]
    gpus: int
    setup_minutes: float  # per job: checkout, install, warm-up before the first test
    gpu_model: str | None = None
    gpu_mem_gib: float | None = None
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
    line: int = 0

    @property
    def nightly(self) -> bool:
        """The `nightly=` flag its registrations must carry (sglang's run_suite --nightly)."""
        return self.trigger == "nightly"

    @property
    def pool(self) -> str:
        return self.pools[0]


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
    extras: Mapping[str, object] = field(default_factory=dict)  # sections later steps own

    def suites_for(self, backend: str) -> list[Suite]:
        return [s for s in self.suites.values() if s.backend == backend]
