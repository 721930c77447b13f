"""The jobs of the per-commit and nightly workflows: one matrix job per suite (its shards), one
job per pool for its model tests, each with the gates and needs the config gives it.

Every value is decided here; validation happened before (config loading and the pipeline's
lint), so nothing here can fail on user input.
"""

from __future__ import annotations

import json
import math
import shlex
from collections.abc import Sequence
from dataclasses import dataclass

from generator.model import Config, ModelTest, Pool, Suite, SuitePlan
from generator.names import CHANGES_JOB, job_id, model_job_id
from generator.pipeline import Build


def literal(text: str) -> str:
    """A string literal in a GitHub expression."""
    return "'" + text.replace("'", "''") + "'"


def expression(parts: Sequence[str]) -> str | None:
    """`${{ a && b }}` from the parts; a part with an `||` is parenthesised when joined."""
    if not parts:
        return None
    joined = parts[0] if len(parts) == 1 else " && ".join(f"({p})" if "||" in p else p for p in parts)
    return "${{ " + joined + " }}"


def labels_json(pool: Pool) -> str:
    return json.dumps(list(pool.labels))


def needed_suites(config: Config, suite: Suite) -> list[str]:
    """Every suite `suite` waits for, directly or through others, in config order: a job
    sees only its direct needs' results, so a failure two stages up must be a direct need."""
    seen: set[str] = set()
    stack = list(suite.needs)
    while stack:
        name = stack.pop()
        if name not in seen:
            seen.add(name)
            stack.extend(config.suites[name].needs)
    return [name for name in config.suites if name in seen]


@dataclass(frozen=True)
class WorkflowKind:
    """What differs between the per-commit and nightly workflows' jobs."""

    triggers: tuple[str, ...]  # suite triggers this workflow runs
    crons: tuple[str, ...] = ()  # nightly: schedules, nightly_cron first
    pool_overrides: bool = False  # nightly: workflow_dispatch may move suites to another pool


def trigger_parts(config: Config, suite: Suite, kind: WorkflowKind) -> list[str]:
    """When the suite runs in its workflow: its label and path gates, or its schedule and the
    dispatch's suite pick."""
    if suite.trigger == "per-commit":
        parts = []
        if suite.pr_label:
            parts.append(
                "github.event_name != 'pull_request' || "
                f"contains(github.event.pull_request.labels.*.name, {literal(suite.pr_label)})"
            )
        if suite.paths:
            parts.append(f"needs.{CHANGES_JOB}.outputs.{job_id(suite.name)} == 'true'")
        return parts
    picked = f"github.event_name == 'workflow_dispatch' && inputs.suite == {literal(suite.name)}"
    if suite.trigger == "manual":
        return [picked]
    schedule = "github.event_name == 'schedule'"
    if len(kind.crons) > 1:
        schedule += f" && github.event.schedule == {literal(suite.cron or config.nightly_cron)}"
    return [
        f"{schedule} || github.event_name == 'workflow_dispatch' && "
        f"(inputs.suite == 'all' || inputs.suite == {literal(suite.name)})"
    ]


def job_condition(trigger: list[str], has_needs: bool) -> str | None:
    """A job with needs must still run when a need was skipped by its own gate (GitHub's
    implicit success() would skip it), and must not run when one failed or was cancelled."""
    needs_ok = ["!cancelled()", "!contains(needs.*.result, 'failure')", "!contains(needs.*.result, 'cancelled')"]
    return expression((needs_ok if has_needs else []) + trigger)


def override_pools(config: Config, pool: Pool, kind: WorkflowKind) -> list[Pool]:
    """Pools a dispatch may move a single-pool job to: those with as many GPUs."""
    if not kind.pool_overrides:
        return []
    return [p for p in config.pools.values() if p.gpus == pool.gpus and p.name != pool.name]


def runs_on(pool: Pool, others: Sequence[Pool]) -> list[str] | str:
    """The pool's labels, or an expression picking an override's when the dispatch chose one
    of `others`."""
    if not others:
        return list(pool.labels)
    picks = " || ".join(f"inputs.pool == {literal(p.name)} && fromJSON({literal(labels_json(p))})" for p in others)
    return f"${{{{ {picks} || fromJSON({literal(labels_json(pool))}) }}}}"


def shard_command(config: Config, suite: Suite) -> str:
    """The run step: cigen's entry point with the shard's files from the matrix (via env)."""
    command = (
        f"{config.workflows.cigen} run-shard --suite {shlex.quote(suite.name)} --shard \"$SHARD\" "
        f"--per-file-timeout {suite.per_file_timeout_seconds} --files-json \"$SHARD_FILES\""
    )
    # Per-commit shards free the runner at the first failure; scheduled ones report everything.
    return command if suite.trigger == "per-commit" else command + " --keep-going"


def action_uses(config: Config) -> str:
    """cigen's action, with the comment beside it: a pinned sha's version, or why `./` stays."""
    settings = config.workflows
    if settings.action_version is not None:
        return f"{settings.action} # {settings.action_version}"
    if settings.action == "./":
        # zizmor prefers `$/path` (the workflow's own commit), but `$/` must name a path and
        # the action is at the root; `./` is the checkout of that same commit.
        return "./ # zizmor: ignore[self-repository] `$/` needs a path; the action is at the root"
    return settings.action


def shard_job(config: Config, suite_plan: SuitePlan, needs: list[str], kind: WorkflowKind) -> dict:
    suite = suite_plan.suite
    multi_pool = len(suite_plan.pools) > 1
    shown = "${{ matrix.pool }}, shard ${{ matrix.shard }}" if multi_pool else "shard ${{ matrix.shard }}"
    overrides = [] if multi_pool else override_pools(config, suite_plan.pools[0], kind)
    return {
        "kind": "shards",
        "suite": suite.name,
        "id": job_id(suite.name),
        "name": f"{suite.name} ({shown})",
        "needs": needs,
        "if": job_condition(trigger_parts(config, suite, kind), bool(needs)),
        "runs_on": "${{ matrix.labels }}" if multi_pool else runs_on(suite_plan.pools[0], overrides),
        "override_pools": [p.name for p in overrides],
        "timeout_minutes": suite.job_timeout_minutes,
        "pools": [{"name": p.name, "labels": list(p.labels)} for p in suite_plan.pools] if multi_pool else [],
        "shards": [
            {
                "index": shard.index,
                "files": list(shard.files),
                "comment": f"{len(shard.files)} file{'' if len(shard.files) == 1 else 's'}, "
                f"~{shard.est_seconds / 60:.1f} min",
            }
            for shard in suite_plan.shards
        ],
        "setup": list(config.workflows.setup),
        "setup_timeout_minutes": config.workflows.setup_timeout_minutes,
        "step_timeout_minutes": suite.step_timeout_minutes,
        "command": shard_command(config, suite),
    }


def model_test_pools(build: Build, suite: Suite) -> list[Pool]:
    """The pools the suite's model tests run on, each a job of its own."""
    return list(dict.fromkeys(pool for placed in build.model_tests if placed.suite.name == suite.name for pool in placed.pools))


def suite_job_ids(build: Build, suite: Suite) -> list[str]:
    """The jobs a suite gets: its shard job when it has planned files, a job per model-test pool."""
    shards = [job_id(suite.name)] if any(sp.suite.name == suite.name for sp in build.plan.suites) else []
    return shards + [model_job_id(suite.name, pool.name) for pool in model_test_pools(build, suite)]


def model_test_job(
    config: Config, suite: Suite, pool: Pool, tests: list[ModelTest], needs: list[str], kind: WorkflowKind
) -> dict:
    """Each model test through cigen's action: the server loads `hf_model`, the advisor sizes
    `model`, and the action picks --mem-fraction-static for the card it finds."""
    return {
        "kind": "model-tests",
        "suite": suite.name,
        "id": model_job_id(suite.name, pool.name),
        "name": f"{suite.name} model tests ({pool.name})",
        "needs": needs,
        "if": job_condition(trigger_parts(config, suite, kind), bool(needs)),
        "runs_on": list(pool.labels),
        "timeout_minutes": suite.job_timeout_minutes,
        "uses": action_uses(config),
        "setup": list(config.workflows.setup),
        "setup_timeout_minutes": config.workflows.setup_timeout_minutes,
        "steps": [
            {
                "name": f"{test.path} ({test.model}, tp {test.tp})",
                "timeout_minutes": suite.step_timeout_minutes,
                "with": {
                    "test-file": test.path,
                    "model": test.hf_model,
                    "model-config": test.model,
                    "tp": str(test.tp),
                    "extra-peak": str(test.extra_peak),
                    **({"server-args": test.server_args} if test.server_args else {}),
                    "timeout-minutes": str(math.ceil(suite.per_file_timeout_seconds / 60)),
                    **({"install": test.install} if test.install != "none" else {}),
                },
            }
            for test in tests
        ],
    }


def workflow_jobs(build: Build, kind: WorkflowKind) -> list[dict]:
    """The shard job and model-test jobs of every suite this workflow runs, in config order,
    each waiting for the jobs of every suite it needs (transitively, wherever it is declared)."""
    config = build.config
    planned = {sp.suite.name: sp for sp in build.plan.suites}
    jobs = []
    for suite in config.suites.values():
        if suite.trigger not in kind.triggers or not suite.enabled:
            continue
        needs = [job for name in needed_suites(config, suite) for job in suite_job_ids(build, config.suites[name])]
        if suite.paths:
            needs.insert(0, CHANGES_JOB)
        if suite.name in planned:
            jobs.append(shard_job(config, planned[suite.name], needs, kind))
        for pool in model_test_pools(build, suite):
            tests = [p.test for p in build.model_tests if p.suite.name == suite.name and pool in p.pools]
            jobs.append(model_test_job(config, suite, pool, tests, needs, kind))
    return jobs


def path_filters(build: Build) -> list[dict]:
    """Per path-gated suite with a job: its `changes` output and git pathspecs (`:(glob)`
    gives `**` the same meaning as the config's globs)."""
    return [
        {
            "output": job_id(suite.name),
            "pathspecs": " ".join(shlex.quote(":(glob)" + path) for path in suite.paths),
        }
        for suite in build.config.suites.values()
        if suite.trigger == "per-commit" and suite.paths and suite_job_ids(build, suite)
    ]
