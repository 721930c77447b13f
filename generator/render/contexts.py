"""One template context per generated workflow. A builder returns None when the repository gets
no such file (no nightly suite, no CPU workflow, no GPU suite to rerun)."""

from __future__ import annotations

import json
import shlex

from generator.names import (
    FINISH_JOB_NAME,
    GATE_JOB,
    PLAN_FILE,
    RERUN_POLICY_PATH,
    RERUN_PROGRAM,
    RERUN_REGISTRY_FILE,
    RERUN_TEST_STEP,
)
from generator.pipeline import Build
from generator.render.jobs import (
    WorkflowKind,
    finish_job,
    gate_job,
    literal,
    repo_path,
    suite_pool_job,
    workflow_jobs,
    workflow_suites,
)
from generator.render.pins import ACTIONS
from generator.shipped.rerun_gate import Setup

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
    """pip arguments that install cigen immutably for the timings loop (cigen-timings.yml), or None.
    It is the one workflow that runs the package; /rerun-test runs the shipped copies."""
    workflows = build.config.workflows
    if workflows.cigen_requirements is not None:
        return f"--require-hashes -r {shlex.quote(workflows.cigen_requirements)}"
    if workflows.cigen_package == ".":
        return "."
    if workflows.cigen_package is not None:
        return shlex.quote(f"cigen @ {workflows.cigen_package}")
    return None


RERUN = WorkflowKind(name="rerun-test", triggers=())
# The test step's own argument, then the suite's runner options: which files and which test.
RERUN_SOURCE = ('--suite "$RERUN_SUITE"', "--shard 0", '--files-json "$RERUN_FILES"', '"$@"')
RERUN_FAILURE_ARTIFACT = "cigen-on-failure-${{ github.job }}-${{ strategy.job-index }}-${{ github.run_attempt }}"


def rerun_setup(build: Build) -> Setup:
    """What the /rerun-test gate decides with: the policy, the registry, the workflow's name."""
    from generator.rerun.parse import registry_from_scan
    from generator.rerun.policy import load_policy

    measured = {
        (suite_plan.suite.name, path): seconds
        for suite_plan in build.plan.suites
        for shard in suite_plan.shards
        for path, seconds in zip(shard.files, shard.file_seconds)
    }
    registry = registry_from_scan(build.config, build.inputs.scan, measured)
    policy = load_policy(build.inputs.root / RERUN_POLICY_PATH)
    return Setup(policy, registry, build.config.workflows.file_name("rerun-test"))


def rerun_jobs(build: Build) -> list[dict]:
    """One test job per suite and pool, built like CI's job for them (`suite_pool_job`: labels,
    timeouts, env, set-up, hooks, runner options) but without secrets or builds (they run in the
    per-commit workflow only); it runs when the gate put
    targets in it, on the request's first attempt only (a re-run is refused, not re-counted)."""
    from generator.rerun.parse import rerun_jobs as registry_jobs

    config = build.config
    jobs = []
    for job_id, job in registry_jobs(config).items():
        suite, pool = config.suites[job.suite].on_pool(job.pool), config.pools[job.pool]
        source = [line.replace('"$RERUN_SUITE"', shlex.quote(suite.name)) for line in RERUN_SOURCE]
        ci = suite_pool_job(config, suite, pool, RERUN, source)
        # Builds run in the per-commit workflow only: here each switch says "not built", as in CI
        # when the pull request did not change the build's paths.
        switches = [config.builds[n].switch_env for n in suite.builds if n in config.builds]
        ci = {**ci, "env": {**ci["env"], **{name: "false" for name in switches if name}}}
        if ci["hooks"]["upload"] is not None:  # one artifact per target: the matrix has no shard
            upload = {**ci["hooks"]["upload"], "name": RERUN_FAILURE_ARTIFACT}
            ci = {**ci, "hooks": {**ci["hooks"], "upload": upload}}
        jobs.append(
            {
                "id": job_id,
                "name": "${{ matrix.target.job_name }}",
                "suite": suite.name,
                "pool": pool.name,
                "needs": [GATE_JOB],
                "if": f"needs.{GATE_JOB}.outputs.accepted == 'true' && github.run_attempt == '1' && "
                f"contains(fromJSON(needs.{GATE_JOB}.outputs.jobs || '[]'), {literal(job_id)})",
                # Right on GitHub and in act (docs/act.md, differences 1 and 9): `|| '{}'` because a
                # refused gate leaves `targets` empty, and the result test first because the gate is
                # skipped for any comment not starting with /rerun-test.
                "targets": f"${{{{ needs.{GATE_JOB}.result == 'success' && "
                f"fromJSON(needs.{GATE_JOB}.outputs.targets || '{{}}')[{literal(job_id)}] || fromJSON('[]') }}}}",
                **ci,
            }
        )
    return jobs


def rerun_context(build: Build) -> dict | None:
    """The /rerun-test workflow: a gate, one test job per suite and pool of an enabled suite of a
    planned backend, and a report; None when there is no such suite."""
    from generator.rerun.policy import load_policy

    jobs = rerun_jobs(build)
    if not jobs:
        return None
    policy = load_policy(build.inputs.root / RERUN_POLICY_PATH)  # the registry is not needed here
    associations = json.dumps(list(policy.associations), separators=(", ", ": "))
    return {
        **_common(build),
        "jobs": jobs,
        "associations": associations,
        "program": repo_path(RERUN_PROGRAM),
        "registry": repo_path(RERUN_REGISTRY_FILE),
        "policy_path": RERUN_POLICY_PATH,
        "test_step": RERUN_TEST_STEP,
    }


def rerun_registry_text(build: Build) -> str | None:
    """`.github/cigen/rerun-test.json`: what the gate may run and who may ask, where the
    /rerun-test workflow is rendered."""
    from generator.rerun.parse import rerun_jobs as registry_jobs

    if not registry_jobs(build.config):  # as rerun_context: no suite and pool to rerun
        return None
    data = {
        "@generated": f"by cigen render from the scan, the config and {RERUN_POLICY_PATH}. DO NOT EDIT.",
        "regenerate": build.config.workflows.regenerate,
        **rerun_setup(build).to_json(),
    }
    return json.dumps(data, indent=2, sort_keys=False) + "\n"


def timings_context(build: Build) -> dict | None:
    """The scheduled timings loop, when configured and cigen can be installed immutably."""
    loop = build.config.workflows.timings_loop
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
