"""One template context per generated workflow. A builder returns None when the repository gets
no such file (no nightly suite, no CPU workflow, no immutable way to install cigen for /rerun-test)."""

from __future__ import annotations

import shlex

from generator.names import FINISH_JOB_NAME, PLAN_FILE, RERUN_POLICY_PATH, RERUN_TEST_STEP, rerun_job_id
from generator.pipeline import Build
from generator.render.jobs import (
    WorkflowKind,
    finish_job,
    gate_job,
    literal,
    workflow_jobs,
    workflow_suites,
)
from generator.render.pins import ACTIONS

# Workflow-level concurrency keys: a newer PR push cancels the older run; pushes and
# scheduled runs queue instead of cancelling each other.
# The event name keeps pull requests, pushes, schedules and dispatches in groups of their own (as
# sglang's `pr-test-<event>-<branch>`): a schedule never queues behind, nor cancels, a push.
PER_COMMIT_CONCURRENCY = (
    "${{ github.workflow }}-${{ github.event_name }}-${{ github.event.pull_request.number || github.ref }}"
)
CPU_CONCURRENCY = "${{ github.workflow }}-${{ github.event.pull_request.number || github.ref }}"
NIGHTLY_CONCURRENCY = "${{ github.workflow }}-${{ github.ref }}-${{ github.event.schedule || inputs.suite }}"
PER_COMMIT = WorkflowKind(name="per-commit", triggers=("per-commit",))


def _common(build: Build) -> dict:
    """What every template gets: the header's command, the pinned actions, the branches."""
    return {
        "regenerate": build.config.workflows.regenerate,
        "actions": ACTIONS,
        "branches": list(build.config.workflows.branches),
    }


def per_commit_context(build: Build) -> dict | None:
    jobs = workflow_jobs(build, PER_COMMIT)
    if not jobs:
        return None
    workflows = build.config.workflows
    return {
        **_common(build),
        "concurrency": PER_COMMIT_CONCURRENCY,
        "pull_request_types": list(workflows.pull_requests.types),
        "push": workflows.triggers.push,
        "crons": list(workflows.triggers.schedule),
        "dispatch": workflows.triggers.dispatch,
        "gate": gate_job(build, PER_COMMIT),
        "jobs": jobs,
        "finish": finish_job(jobs),
    }


def nightly_kind(build: Build) -> WorkflowKind:
    """The nightly workflow: nightly and manual suites, every distinct cron (nightly_cron first)."""
    kind = WorkflowKind(name="nightly", triggers=("nightly", "manual"), pool_overrides=True)
    suites = workflow_suites(build, kind)
    crons = [build.config.nightly_cron] + [s.cron for s in suites if s.cron]
    return WorkflowKind(name="nightly", triggers=kind.triggers, crons=tuple(dict.fromkeys(crons)), pool_overrides=True)


def nightly_context(build: Build) -> dict | None:
    config = build.config
    kind = nightly_kind(build)
    jobs = workflow_jobs(build, kind)
    if not jobs:
        return None
    movable = {name for job in jobs for name in job.get("override_pools", [])}
    targets = [name for name in config.pools if name in movable]
    return {
        **_common(build),
        "concurrency": NIGHTLY_CONCURRENCY + ("-${{ inputs.pool }}" if targets else ""),
        "crons": list(kind.crons),
        "suites": list(dict.fromkeys(job["suite"] for job in jobs)),
        "pools": targets,
        "gate": gate_job(build, kind),
        "jobs": jobs,
    }


def cpu_tests_context(build: Build) -> dict | None:
    cpu = build.config.workflows.cpu_tests
    if cpu is None:
        return None
    return {
        **_common(build),
        "concurrency": CPU_CONCURRENCY,
        "runs_on": cpu.runs_on,
        "python": cpu.python,
        "timeout_minutes": cpu.timeout_minutes,
        "commands": list(cpu.commands),
    }


def cigen_install(build: Build) -> str | None:
    """pip arguments that install cigen immutably in the /rerun-test gate and report, or None."""
    workflows = build.config.workflows
    if workflows.cigen_requirements is not None:
        return f"--require-hashes -r {shlex.quote(workflows.cigen_requirements)}"
    if workflows.cigen_package == ".":
        return "."
    if workflows.cigen_package is not None:
        return shlex.quote(f"cigen @ {workflows.cigen_package}")
    return None


def rerun_context(build: Build) -> dict | None:
    """The /rerun-test workflow: a gate, one test job per pool of an enabled suite of a planned
    backend, and a report. The test jobs' step name is the one the report reads durations from."""
    install = cigen_install(build)
    if install is None:
        return None
    config = build.config
    suites = [s for s in config.suites.values() if s.backend in config.backends and s.enabled]
    pools = []
    for name in sorted({pool for suite in suites for pool in suite.pools}):
        pool = config.pools[name]
        users = [s for s in suites if name in s.pools]
        pools.append(
            {
                "name": name,
                "id": rerun_job_id(name),
                "if": f"needs.gate.outputs.accepted == 'true' && "
                f"contains(fromJSON(needs.gate.outputs.pools || '[]'), {literal(name)})",
                # act evaluates a skipped job's matrix (GitHub does not): `|| '{}'` because a refused
                # gate leaves `targets` empty (fromJSON('') would abort the run), and the result test
                # first because act cannot read the outputs of a gate its `if:` skipped (any comment
                # not starting with /rerun-test): that aborts the run too.
                "targets": f"${{{{ needs.gate.result == 'success' && "
                f"fromJSON(needs.gate.outputs.targets || '{{}}')[{literal(name)}] || fromJSON('[]') }}}}",
                "runs_on": list(pool.labels),
                "timeout_minutes": max(s.job_timeout_minutes for s in users),
                "setup": list(config.workflows.setup if pool.setup is None else pool.setup),
                "setup_timeout_minutes": config.workflows.setup_timeout_minutes,
            }
        )
    return {
        **_common(build),
        "pools": pools,
        "cigen_install": install,
        "policy_path": RERUN_POLICY_PATH,
        "test_step": RERUN_TEST_STEP,
    }


def calibrate_context(build: Build) -> dict | None:
    """The scheduled timings loop, when configured and cigen can be installed immutably."""
    loop = build.config.workflows.calibrate
    install = cigen_install(build)
    if loop is None or install is None:
        return None
    return {
        **_common(build),
        "cron": loop.cron,
        "days": loop.days,
        "branch": shlex.quote(loop.branch),
        "cigen_install": install,
        "timings": shlex.quote(str(build.config.workflows.timings)),
        "plan": f".github/{PLAN_FILE}",
    }


# The `name:` of the GPU workflows (templates/per-commit.yml.j2, nightly.yml.j2): what a
# workflow_run trigger names them by.
GPU_WORKFLOW_NAMES = {"per-commit": "GPU tests (per commit)", "nightly": "GPU tests (nightly)"}
REDISPATCH_PROGRAM = ".github/cigen/redispatch.py"


def redispatch_context(build: Build) -> dict | None:
    """The workflow_run workflow that re-runs a GPU run's failed jobs once when all were infra."""
    settings = build.config.workflows.redispatch
    if settings is None:
        return None
    rendered = {"per-commit": per_commit_context(build), "nightly": nightly_context(build)}
    workflows = [GPU_WORKFLOW_NAMES[kind] for kind, context in rendered.items() if context is not None]
    if not workflows:
        return None
    command = f"python3 {REDISPATCH_PROGRAM} --daily-cap {settings.daily_cap} --ignore-job {FINISH_JOB_NAME}"
    return {
        **_common(build),
        "workflows": workflows,
        "daily_cap": settings.daily_cap,
        "comment": settings.comment,
        "command": command + ("" if settings.comment else " --no-comment"),
    }


def actionlint_context(build: Build) -> dict | None:
    """actionlint must know the self-hosted runner labels of every pool."""
    pools = build.config.pools.values()
    labels = dict.fromkeys(label for pool in pools for label in (*pool.labels, *pool.changed_labels))
    return {"regenerate": build.config.workflows.regenerate, "labels": list(labels)}
