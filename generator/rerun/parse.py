"""/rerun-test's registry: what may be rerun, from the scan and the config, and the comment
parser over it (generator/shipped/rerun_select.py, the one implementation the workflow's copy
and `cigen rerun` share).

A file may run when it has an enabled registration of a backend the config plans, in a suite
the config enables; it runs in that suite's job on each of the suite's pools (the same job as
CI's, `render.contexts.rerun_jobs`), estimated at its measured seconds where the plan has
them. Every other registered file is listed with the reason it may not run.
"""

from __future__ import annotations

from pathlib import Path

from generator.errors import Problem
from generator.model import Config
from generator.names import rerun_job_id
from generator.registration import Registration
from generator.shipped import rerun_select
from generator.shipped.rerun_select import (
    CHANGED,
    COMMAND,
    DEFAULT_MAX_GPU_MINUTES,
    DEFAULT_MAX_JOBS,
    DEFAULT_MAX_SELECTORS,
    MAX_COMMENT_CHARS,
    MAX_STATUS_CONTEXT_CHARS,
    CommentLimits,
    Refusal,
    Registry,
    RerunJob,
    RerunRejected,
    RerunRequest,
    Target,
    reject,
)
from generator.tree import TreeScan

__all__ = [
    "CHANGED",
    "COMMAND",
    "DEFAULT_MAX_GPU_MINUTES",
    "DEFAULT_MAX_JOBS",
    "DEFAULT_MAX_SELECTORS",
    "MAX_COMMENT_CHARS",
    "MAX_STATUS_CONTEXT_CHARS",
    "CommentLimits",
    "Registry",
    "RerunRejected",
    "RerunRequest",
    "Target",
    "parse_comment",
    "problems_of",
    "registry_from_scan",
    "reject",
]


def _refusal(path: str, registrations: tuple[Registration, ...], config: Config) -> Refusal | None:
    """Why a registered file may not run, or None when it may."""
    quoted = ascii(path)
    planned = [r for r in registrations if r.backend in config.backends]
    if not planned:
        backends = ", ".join(sorted({r.backend for r in registrations}))
        return Refusal(
            "backend-not-planned",
            f"{quoted} is registered only for {backends}; /rerun-test runs {', '.join(config.backends)} tests",
        )
    enabled = [r for r in planned if r.enabled]
    if not enabled:
        return Refusal("disabled", f"{quoted} is disabled for {planned[0].backend}: {planned[0].disabled}")
    if any(r.suite in config.suites and config.suites[r.suite].enabled for r in enabled):
        return None
    unknown = sorted({r.suite for r in enabled if r.suite not in config.suites})
    if unknown:
        return Refusal(
            "unknown-suite", f"{quoted} is registered in suite {ascii(unknown[0])}, which the config does not define"
        )
    disabled = ", ".join(sorted({r.suite for r in enabled}))
    return Refusal("suite-disabled", f"{quoted} runs only in suite {disabled}, which the config disables")


def rerun_jobs(config: Config) -> dict[str, RerunJob]:
    """A job per enabled suite of a planned backend and per pool of it, in config order."""
    jobs = {}
    for suite in config.suites.values():
        if suite.backend in config.backends and suite.enabled:
            for pool in suite.pools:
                job_id = rerun_job_id(suite.name, pool)
                gpus = config.pools[pool].gpus
                workdir = suite.on_pool(pool).working_directory or ""
                jobs[job_id] = RerunJob(job_id, suite.name, pool, gpus, workdir)
    return jobs


def registry_from_scan(
    config: Config, scan: TreeScan, measured: dict[tuple[str, str], float] | None = None
) -> Registry:
    """What may be rerun, and why the other registered (or broken) files may not."""
    measured = measured or {}
    jobs = rerun_jobs(config)
    by_path: dict[str, list[Registration]] = {}
    for registration in scan.registrations:
        by_path.setdefault(registration.path, []).append(registration)
    files: dict[str, dict[str, float]] = {}
    refused: dict[str, Refusal] = {}
    for path, registrations in sorted(by_path.items()):
        refusal = _refusal(path, tuple(registrations), config)
        if refusal is not None:
            refused[path] = refusal
            continue
        runs: dict[str, float] = {}
        for r in registrations:
            for job_id, job in jobs.items():
                if job.suite == r.suite and r.enabled and r.backend in config.backends:
                    runs[job_id] = max(runs.get(job_id, 0.0), float(measured.get((r.suite, path), r.est_seconds)))
        files[path] = runs
    for problem in scan.errors:
        if problem.path not in files and problem.path not in refused:
            refused[problem.path] = Refusal(
                "scan-error", f"{ascii(problem.path)} has a registration error: line {problem.line}: {problem.message}"
            )
    for path in scan.files:
        if path not in files and path not in refused:
            refused[path] = Refusal("not-registered", f"{ascii(path)} has no register_<backend>_ci(...) call")
    return Registry(jobs, files, refused)


def parse_comment(
    body: str,
    registry: Registry,
    root: Path | None,
    limits: CommentLimits | None = None,
    changed: tuple[str, ...] | None = None,
) -> RerunRequest:
    """The request in a one-line comment (rerun_select.parse_comment), or RerunRejected."""
    return rerun_select.parse_comment(body, registry, None if root is None else str(root), limits, changed)


def problems_of(rejected: RerunRejected) -> list[Problem]:
    """A rejection as cigen's problems, located on the comment's one line."""
    return [Problem("comment", 1, refusal.code, refusal.message) for refusal in rejected.problems]
