"""One template context per generated file. A builder returns None when the repository gets
no such file (no nightly suite, no CPU workflow)."""

from __future__ import annotations

import shlex

from generator.names import CHANGES_JOB, RERUN_POLICY_PATH, RERUN_TEST_STEP, rerun_job_id
from generator.pipeline import Build
from generator.render.jobs import WorkflowKind, literal, path_filters, suite_job_ids, workflow_jobs
from generator.render.pins import ACTIONS

# Workflow-level concurrency keys: a newer PR push cancels the older run; pushes and
# scheduled runs queue instead of cancelling each other.
PER_COMMIT_CONCURRENCY = "${{ github.workflow }}-${{ github.event.pull_request.number || github.ref }}"
NIGHTLY_CONCURRENCY = "${{ github.workflow }}-${{ github.ref }}-${{ github.event.schedule || inputs.suite }}"


def _common(build: Build) -> dict:
    """What every template gets: the header's command, the pinned actions, the branches."""
    return {
        "regenerate": build.config.workflows.regenerate,
        "actions": ACTIONS,
        "branches": list(build.config.workflows.branches),
        "changes_job": CHANGES_JOB,
    }


def per_commit_context(build: Build) -> dict | None:
    jobs = workflow_jobs(build, WorkflowKind(triggers=("per-commit",)))
    if not jobs:
        return None
    return {**_common(build), "concurrency": PER_COMMIT_CONCURRENCY, "changes": path_filters(build), "jobs": jobs}


def nightly_crons(build: Build) -> tuple[str, ...]:
    config = build.config
    crons = [config.nightly_cron] + [s.cron for s in config.suites.values() if s.cron and suite_job_ids(build, s)]
    return tuple(dict.fromkeys(crons))


def nightly_context(build: Build) -> dict | None:
    config = build.config
    kind = WorkflowKind(triggers=("nightly", "manual"), crons=nightly_crons(build), pool_overrides=True)
    jobs = workflow_jobs(build, kind)
    if not jobs:
        return None
    suites = list(dict.fromkeys(job["suite"] for job in jobs))
    movable = {name for job in jobs for name in job.get("override_pools", [])}
    targets = [name for name in config.pools if name in movable]
    return {
        **_common(build),
        "concurrency": NIGHTLY_CONCURRENCY + ("-${{ inputs.pool }}" if targets else ""),
        "crons": list(kind.crons),
        "suites": suites,
        "pools": targets,
        "jobs": jobs,
    }


def cpu_tests_context(build: Build) -> dict | None:
    cpu = build.config.workflows.cpu_tests
    if cpu is None:
        return None
    return {
        **_common(build),
        "concurrency": PER_COMMIT_CONCURRENCY,
        "runs_on": cpu.runs_on,
        "python": cpu.python,
        "timeout_minutes": cpu.timeout_minutes,
        "commands": list(cpu.commands),
    }


def rerun_context(build: Build) -> dict:
    """The /rerun-test workflow: a gate, one test job per pool of an enabled suite of a planned
    backend, and a report. The test jobs' step name is the one the report reads durations from."""
    config = build.config
    workflows = config.workflows
    suites = [s for s in config.suites.values() if s.backend in config.backends and s.enabled]
    pools = []
    for name in sorted({pool for suite in suites for pool in suite.pools}):
        pools.append(
            {
                "name": name,
                "id": rerun_job_id(name),
                "if": f"needs.gate.outputs.accepted == 'true' && contains(fromJSON(needs.gate.outputs.pools), {literal(name)})",
                "targets": f"${{{{ fromJSON(needs.gate.outputs.targets)[{literal(name)}] }}}}",
                "runs_on": list(config.pools[name].labels),
                "timeout_minutes": max(s.job_timeout_minutes for s in suites if name in s.pools),
                "setup": list(workflows.setup),
                "setup_timeout_minutes": workflows.setup_timeout_minutes,
            }
        )
    return {
        **_common(build),
        "pools": pools,
        "cigen_package": shlex.quote(workflows.cigen_package),
        "policy_path": RERUN_POLICY_PATH,
        "test_step": RERUN_TEST_STEP,
    }


def actionlint_context(build: Build) -> dict | None:
    """actionlint must know the self-hosted runner labels of every pool."""
    labels = dict.fromkeys(label for pool in build.config.pools.values() for label in pool.labels)
    return {"regenerate": build.config.workflows.regenerate, "labels": list(labels)}
