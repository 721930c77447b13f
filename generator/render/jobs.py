"""The jobs of the per-commit and nightly workflows: a gate, one matrix job per suite and pool
(its shards, listed in the plan file), one job per pool for its model tests, and on per-commit
runs a `finish` job to require.

Every value is decided here; validation happened before (config loading and the pipeline's
lint), so nothing here can fail on user input.
"""

from __future__ import annotations

import json
import math
import shlex
from collections.abc import Sequence
from dataclasses import dataclass

from generator.backends import BY_NAME
from generator.config_fields import OUTPUT_NAMES
from generator.model import Config, GpuPreflight, ModelTest, Pool, RunnerHealth, Suite, SuitePlan
from generator.names import (
    FINISH_JOB,
    GATE_FILE,
    GATE_JOB,
    PLAN_FILE,
    RESULTS_ARTIFACT,
    RESULTS_FILE,
    RUNNER_FILE,
    build_job_id,
    model_job_id,
    shard_job_ids,
)
from generator.pathglob import path_filter_matches
from generator.pipeline import Build
from generator.shipped.health import DRAIN_COMMAND_ENV, PROBES_ENV


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


def repo_path(path: str) -> str:
    """A file cigen writes beside the workflows, as jobs reach it from the repository root."""
    return f".github/{path}"


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

    name: str  # "per-commit" | "nightly": what the gate program decides for
    triggers: tuple[str, ...]  # suite triggers this workflow runs
    crons: tuple[str, ...] = ()  # nightly: schedules, nightly_cron first
    pool_overrides: bool = False  # nightly: workflow_dispatch may move suites to another pool

    @property
    def trusted(self) -> bool:
        """Only trusted events (schedule, dispatch) start it: secrets may always be passed."""
        return self.name == "nightly"

    @property
    def pull_request_code_only(self) -> bool:
        """Every run tests a pull request's code (/rerun-test): no secret is ever passed."""
        return self.name == "rerun-test"


def job_condition(config: Config, suite: Suite, needs: Sequence[str], kind: WorkflowKind) -> str:
    """The gate decided this suite runs, and no job it waits for failed or was cancelled (a
    need its own gate skipped does not block it, which GitHub's implicit success() would). With
    `keep_going_on_schedule`, a scheduled per-commit run ignores the suites it needs (sglang's
    stages run on a schedule whatever came before); a failed build still blocks."""
    parts = [
        "!cancelled()",
        f"needs.{GATE_JOB}.result == 'success'",
        f"fromJSON(needs.{GATE_JOB}.outputs.run || '{{}}')[{literal(suite.name)}]",
    ]
    if len(needs) == 1:
        return expression(parts)
    blocked = "!contains(needs.*.result, 'failure') && !contains(needs.*.result, 'cancelled')"
    builds = [build_job_id(name) for name in used_builds(config, suite, kind)]
    if not schedule_keeps_going(config, kind) or len(needs) == 1 + len(builds):  # no suite needed
        return expression([*parts, blocked])
    parts += [f"needs.{job}.result != '{result}'" for job in builds for result in ("failure", "cancelled")]
    return expression([*parts, f"github.event_name == 'schedule' || ({blocked})"])


def schedule_keeps_going(config: Config, kind: WorkflowKind) -> bool:
    """A scheduled run of this workflow collects every failure (workflows.triggers.keep_going_on_schedule)."""
    return kind.name == "per-commit" and config.workflows.triggers.keep_going_on_schedule


def ci_paths(config: Config) -> list[str]:
    """The files that define the CI: a pull request changing one of them always runs it."""
    workflows = [f".github/workflows/{config.workflows.file_name(output)}" for output in OUTPUT_NAMES]
    return ["cigen.yml", *workflows, ".github/cigen/**"]


def with_ci_paths(config: Config, paths: Sequence[str]) -> list[str]:
    """A path filter that also matches the CI's own files (an empty filter matches everything already):
    those its includes do not match yet, after them and before the exclusions (reviewers read includes
    first; git's exclusions apply to every pattern, and none of cigen's defaults excludes a CI file)."""
    if not paths:
        return []
    includes = [p for p in paths if not p.startswith("!")]
    excludes = [p for p in paths if p.startswith("!")]
    missing = [p for p in ci_paths(config) if not path_filter_matches(includes, p.replace("**", "cigen"))]
    return includes + missing + excludes


def shard_max_parallel(suite: Suite) -> str:
    """How many of the suite's shards run at once: the gate's throttle (all of them when it says nothing)."""
    return f"${{{{ fromJSON(needs.{GATE_JOB}.outputs.parallel || '{{}}')[{literal(suite.name)}] || 256 }}}}"


def shard_matrix(suite: Suite) -> str:
    """The suite's shard indices from the gate (the plan file). `|| '{}'` and the `[0]` fallback
    keep the expression valid when the gate failed, which act evaluates (docs/act.md, difference 1)."""
    return f"${{{{ fromJSON(needs.{GATE_JOB}.outputs.shards || '{{}}')[{literal(suite.name)}] || fromJSON('[0]') }}}}"


def override_pools(config: Config, suite: Suite, pool: Pool, kind: WorkflowKind) -> list[Pool]:
    """Pools a dispatch may move a single-pool job to: those with as many GPUs whose job would get
    the same env and set-up, since only `runs-on` follows the dispatch (a moved job must not carry
    its own pool's GPU_CONFIG, its on_pools env or install script to another card)."""
    if not kind.pool_overrides:
        return []

    def job_setting(p: Pool) -> tuple:
        on_p = suite.on_pool(p.name)
        return config.env_for(on_p, p), config.setup_for(on_p, p)

    same = job_setting(pool)
    return [p for p in config.pools.values() if p.gpus == pool.gpus and p.name != pool.name and job_setting(p) == same]


def runs_on(pool: Pool, others: Sequence[Pool], kind: WorkflowKind | None = None) -> list[str] | str:
    """The pool's labels, or an expression picking an override's when the dispatch chose one
    of `others`; on the per-commit workflow, the pool's labels_when_changed when the gate says
    the pull request changed their paths."""
    if kind is not None and kind.name == "per-commit" and pool.changed_labels:
        changed = f"fromJSON(needs.{GATE_JOB}.outputs.changed || '{{}}')[{literal(pool.name)}]"
        alternate = json.dumps(list(pool.changed_labels))
        return f"${{{{ {changed} && fromJSON({literal(alternate)}) || fromJSON({literal(labels_json(pool))}) }}}}"
    if not others:
        return list(pool.labels)
    picks = " || ".join(f"inputs.pool == {literal(p.name)} && fromJSON({literal(labels_json(p))})" for p in others)
    return f"${{{{ {picks} || fromJSON({literal(labels_json(pool))}) }}}}"


def secrets_environment(config: Config, suite: Suite, kind: WorkflowKind) -> str | None:
    """The deployment environment a job with secrets runs in (where the secrets are kept). A pull
    request gets none (GitHub ignores an empty name): it gets no secrets, and the environment's
    protection rules (required reviewers) must not hold back every pull request's GPU jobs."""
    if not {**config.workflows.secrets, **suite.secrets} or kind.pull_request_code_only:
        return None
    name = config.workflows.secrets_environment
    return name if kind.trusted else f"${{{{ github.event_name != 'pull_request' && {literal(name)} || '' }}}}"


def job_env(config: Config, suite: Suite, pool: Pool, kind: WorkflowKind) -> dict[str, str]:
    """The pool's and suite's environment, and the named secrets: on a pull request (untrusted
    code) a secret is the empty string."""
    env = config.env_for(suite, pool)
    for name, secret in {**config.workflows.secrets, **suite.secrets}.items():
        value = f"secrets.{secret}"
        if kind.pull_request_code_only:
            env[name] = ""
        elif kind.trusted:
            env[name] = f"${{{{ {value} }}}}"
        else:
            env[name] = f"${{{{ github.event_name != 'pull_request' && {value} || '' }}}}"
    return env


def plan_source(suite: Suite) -> list[str]:
    """Which files a shard job runs: its shard of the plan file."""
    return [f"--plan {repo_path(PLAN_FILE)}", f"--suite {shlex.quote(suite.name)}", '--shard "$SHARD"']


def shard_command(
    suite: Suite, pool: Pool, source: Sequence[str] | None = None, keep_going_on: Sequence[str] = ()
) -> str:
    """The run step: the shipped runner with the suite's settings, one option a line; `source`
    says which files (default: the job's shard of the plan); `keep_going_on`: the events on which
    a per-commit shard runs every file even after one fails."""
    lines = [
        f"python3 {repo_path(RUNNER_FILE)} run",
        *(plan_source(suite) if source is None else source),
        f"--per-file-timeout {suite.per_file_timeout_seconds}",
        f"--retries {suite.retries}",
    ]
    if suite.retries:  # which failures the retries are for (with none, nothing is retried)
        lines.append(f"--retry-classes {','.join(suite.retry_classes)}")
    lines.append(f"--retry-wait {suite.retry_wait_seconds}")
    if suite.trigger != "per-commit":  # per-commit shards free the runner at the first failure
        lines.append("--keep-going")
    lines += [f"--keep-going-on {event}" for event in keep_going_on]
    lines.append(f"--pool {shlex.quote(pool.name)}")
    if BY_NAME[suite.backend].gpu_check == "nvidia-smi" and pool.gpus:
        lines.append(f"--gpus {pool.gpus}")
        lines += preflight_options(pool.preflight)
    lines += health_options(pool.health)
    if suite.working_directory:
        lines.append(f"--workdir {shlex.quote(suite.working_directory)}")
    lines += [f"--test-arg={shlex.quote(arg)}" for arg in suite.test_args]
    lines.append(f'--results "$RUNNER_TEMP/{RESULTS_FILE}"')
    return "\n".join(lines)


def build_ran(name: str) -> str:
    """Whether the gate started the build (its job then succeeded, or the suite's job was skipped)."""
    return f"fromJSON(needs.{GATE_JOB}.outputs.builds || '{{}}')[{literal(name)}]"


def used_builds(config: Config, suite: Suite, kind: WorkflowKind) -> list[str]:
    """The builds a suite's per-commit jobs wait for (builds run in the per-commit workflow only)."""
    return [name for name in suite.builds if name in config.builds] if kind.name == "per-commit" else []


def build_switches(config: Config, suite: Suite, kind: WorkflowKind) -> dict[str, str]:
    """Each used build's switch_env: 'true' when it ran and its artifact is downloaded, else 'false'."""
    builds = [config.builds[name] for name in used_builds(config, suite, kind)]
    return {b.switch_env: f"${{{{ {build_ran(b.name)} && 'true' || 'false' }}}}" for b in builds if b.switch_env}


def build_downloads(config: Config, suite: Suite, kind: WorkflowKind) -> list[dict]:
    """A download step per used build, taken only when the build ran."""
    return [
        {
            "name": f"Download the {name} build",
            "if": f"${{{{ {build_ran(name)} }}}}",
            "artifact": build_artifact(name),
            "path": config.builds[name].download_to,
        }
        for name in used_builds(config, suite, kind)
    ]


def build_artifact(name: str) -> str:
    return f"cigen-build-{name}-${{{{ github.run_attempt }}}}"


def build_jobs(build: Build, kind: WorkflowKind) -> list[dict]:
    """The builds some suite of this workflow uses, in config order, each on its own pool."""
    config = build.config
    used = {name for suite in workflow_suites(build, kind) for name in used_builds(config, suite, kind)}
    jobs = []
    for spec in config.builds.values():
        if spec.name not in used:
            continue
        pool = config.pools[spec.pool]
        jobs.append(
            {
                "kind": "build",
                "id": build_job_id(spec.name),
                "name": f"Build {spec.name}",
                "needs": [GATE_JOB],
                "if": expression([f"needs.{GATE_JOB}.result == 'success'", build_ran(spec.name)]),
                "runs_on": list(pool.labels),
                "environment": None,
                "env": {},
                "timeout_minutes": spec.timeout_minutes,
                "steps": list(spec.steps),
                "artifact": build_artifact(spec.name),
                "artifact_path": spec.artifact_path,
            }
        )
    return jobs


def hook_steps(config: Config, suite: Suite, pool: Pool) -> dict[str, object]:
    """The job's hook lines by when they run, and the failure artifact's name and paths (None: no upload)."""
    hooks = config.hooks_for(suite, pool)
    upload = None
    if hooks.upload_on_failure:
        upload = {
            "name": "cigen-on-failure-${{ github.job }}-${{ matrix.shard }}-${{ github.run_attempt }}",
            "paths": list(hooks.upload_on_failure),
        }
    return {
        "before": list(hooks.before),
        "always_after": list(hooks.always_after),
        "on_failure": list(hooks.on_failure),
        "upload": upload,
        "timeout_minutes": hooks.timeout_minutes or config.workflows.setup_timeout_minutes,
    }


def preflight_options(preflight: GpuPreflight) -> list[str]:
    """The runner's GPU-check options a pool sets; what it leaves out keeps the runner's default."""
    options = {
        "--preflight-timeout": preflight.timeout_seconds,
        "--max-used-mib": preflight.max_used_mib,
        "--min-free-mib": preflight.min_free_mib,
        "--gpu-wait-seconds": preflight.wait_seconds,
    }
    return [f"{option} {_plain_number(value)}" for option, value in options.items() if value is not None]


def health_options(health: RunnerHealth) -> list[str]:
    """The runner's health probes a pool sets (generator/shipped/health.py); its commands go
    through the env (health_env)."""
    lines = []
    if health.disk_path is not None:
        lines.append(f"--disk-path {shlex.quote(health.disk_path)}")
    if health.min_disk_free_gib is not None:
        lines.append(f"--min-disk-free-gib {_plain_number(health.min_disk_free_gib)}")
    if health.probe_timeout_seconds is not None:
        lines.append(f"--probe-timeout {_plain_number(health.probe_timeout_seconds)}")
    if health.drain_marker is not None:
        lines.append(f"--drain-marker {shlex.quote(health.drain_marker)}")
    return lines


def health_env(health: RunnerHealth) -> dict[str, str]:
    """The shell commands of the health settings, passed through the step's env (never
    spliced into its shell line): the drain command and the extra probes as JSON."""
    env = {}
    if health.drain_command is not None:
        env[DRAIN_COMMAND_ENV] = health.drain_command
    if health.probes:
        env[PROBES_ENV] = json.dumps(dict(sorted(health.probes.items())))
    return env


def _plain_number(value: float) -> str:
    """3.0 -> 3, 2.5 -> 2.5: never an exponent an int option would refuse."""
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def action_uses(config: Config) -> str:
    """cigen's action, with the comment beside it: a pinned sha's version, or why `./` stays."""
    settings = config.workflows
    if settings.action_version is not None:
        return f"{settings.action} # {settings.action_version}"
    if settings.action == "./":
        # zizmor prefers `$/path` (the workflow's own commit), but `$/` must name a path and
        # the action is at the root; `./` is the checkout of that same commit.
        return "./ # zizmor: ignore[self-repository] `$/` needs a path; the action is at the root"
    return str(settings.action)


def shard_jobs(config: Config, suite_plan: SuitePlan, needs: list[str], kind: WorkflowKind) -> list[dict]:
    """A suite's shard job, or one per pool when it runs on several (each pool its own env and set-up)."""
    jobs = []
    for ident, pool in zip(shard_job_ids(suite_plan.suite.name, suite_plan.suite.pools), suite_plan.pools):
        suite = suite_plan.suite.on_pool(pool.name)
        shown = f"{suite.name} on {pool.name}" if len(suite_plan.pools) > 1 else suite.name
        overrides = override_pools(config, suite_plan.suite, pool, kind) if len(suite_plan.pools) == 1 else []
        throttled = kind.name == "per-commit" and config.workflows.throttle is not None
        jobs.append(
            {
                "kind": "shards",
                "suite": suite.name,
                "id": ident,
                "name": f"{shown} (shard ${{{{ matrix.shard }}}})",
                "needs": needs,
                "if": job_condition(config, suite, needs, kind),
                **suite_pool_job(config, suite, pool, kind),
                "runs_on": runs_on(pool, overrides, kind),
                "override_pools": [p.name for p in overrides],
                "shards": shard_matrix(suite),
                "max_parallel": shard_max_parallel(suite) if throttled else None,
                "artifact": (
                    f"{RESULTS_ARTIFACT}-${{{{ github.job }}}}-${{{{ matrix.shard }}}}-${{{{ github.run_attempt }}}}"
                ),
                "results_path": f"${{{{ runner.temp }}}}/{RESULTS_FILE}",
            }
        )
    return jobs


def suite_pool_job(
    config: Config, suite: Suite, pool: Pool, kind: WorkflowKind, source: Sequence[str] | None = None
) -> dict:
    """What a suite's job on one pool gets, whichever workflow runs it (its shards, or a
    /rerun-test of some of its files): runner labels, timeouts, environment, secrets, build
    downloads (per-commit only), set-up, hooks, and the runner's command with the suite's
    settings (`source`: which files)."""
    return {
        "runs_on": list(pool.labels),
        "timeout_minutes": suite.job_timeout_minutes,
        "environment": secrets_environment(config, suite, kind),
        "env": {**job_env(config, suite, pool, kind), **build_switches(config, suite, kind)},
        "downloads": build_downloads(config, suite, kind),
        "setup": list(config.setup_for(suite, pool)),
        "setup_timeout_minutes": config.workflows.setup_timeout_minutes,
        "step_timeout_minutes": suite.step_timeout_minutes,
        "hooks": hook_steps(config, suite, pool),
        "command": shard_command(suite, pool, source, ("schedule",) if schedule_keeps_going(config, kind) else ()),
        "step_env": health_env(pool.health),
    }


def model_test_pools(build: Build, suite: Suite) -> list[Pool]:
    """The pools the suite's model tests run on, each a job of its own."""
    placed = [p for p in build.model_tests if p.suite.name == suite.name]
    return list(dict.fromkeys(pool for p in placed for pool in p.pools))


def suite_job_ids(build: Build, suite: Suite) -> list[str]:
    """The jobs a suite gets: its shard job(s) when it has planned files, a job per model-test pool."""
    planned = any(sp.suite.name == suite.name for sp in build.plan.suites)
    shards = shard_job_ids(suite.name, suite.pools) if planned else []
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
        "if": job_condition(config, suite, needs, kind),
        "runs_on": list(pool.labels),
        "timeout_minutes": suite.job_timeout_minutes,
        "environment": secrets_environment(config, suite, kind),
        "env": job_env(config, suite, pool, kind),
        "uses": action_uses(config),
        "setup": list(config.setup_for(suite, pool)),
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


def workflow_suites(build: Build, kind: WorkflowKind) -> list[Suite]:
    """The enabled suites this workflow runs that get at least one job, in config order."""
    return [
        suite
        for suite in build.config.suites.values()
        if suite.trigger in kind.triggers and suite.enabled and suite_job_ids(build, suite)
    ]


def has_jobs(build: Build, kind: WorkflowKind) -> bool:
    """This workflow gets jobs (`workflow_jobs` is not empty): some suite of it gets one, and
    builds come only with the suites that use them. Cheap: nothing is built."""
    return bool(workflow_suites(build, kind))


def workflow_jobs(build: Build, kind: WorkflowKind) -> list[dict]:
    """The shard and model-test jobs of every suite this workflow runs, in config order, each
    waiting for the gate and for the jobs of every suite it needs (transitively)."""
    config = build.config
    planned = {sp.suite.name: sp for sp in build.plan.suites}
    jobs = build_jobs(build, kind)
    for suite in workflow_suites(build, kind):
        needs = [GATE_JOB] + [build_job_id(name) for name in used_builds(config, suite, kind)]
        needs += [job for name in needed_suites(config, suite) for job in suite_job_ids(build, config.suites[name])]
        if suite.name in planned:
            jobs.extend(shard_jobs(config, planned[suite.name], needs, kind))
        for pool in model_test_pools(build, suite):
            tests = [p.test for p in build.model_tests if p.suite.name == suite.name and pool in p.pools]
            jobs.append(model_test_job(config, suite.on_pool(pool.name), pool, tests, needs, kind))
    return jobs


def gate_spec(build: Build, kind: WorkflowKind) -> str:
    """The gates the gate program applies, as JSON with one suite a line (reviewable in the YAML)."""
    config = build.config
    suites = {}
    for suite in workflow_suites(build, kind):
        spec: dict = {"trigger": suite.trigger}
        if suite.pr_label:
            spec["label"] = suite.pr_label
        if suite.paths:
            spec["paths"] = with_ci_paths(config, suite.paths) if kind.name == "per-commit" else list(suite.paths)
        if suite.cron:
            spec["cron"] = suite.cron
        suites[suite.name] = spec
    head: dict = {"workflow": kind.name}
    if kind.name == "per-commit":
        gate = config.workflows.pull_requests
        head["pull_request"] = {
            "label": gate.label,
            "skip_drafts": gate.skip_drafts,
            "paths": with_ci_paths(config, gate.paths),
            "gated_off": gate.gated_off,
            "types": list(gate.types),
        }
        used = {name for suite in workflow_suites(build, kind) for name in used_builds(config, suite, kind)}
        builds = {
            name: {
                "paths": list(spec.paths),
                "suites": [s.name for s in workflow_suites(build, kind) if name in s.builds],
            }
            for name, spec in config.builds.items()
            if name in used
        }
        if builds:
            head["builds"] = builds
        changed = {name: list(pool.changed_paths) for name, pool in config.pools.items() if pool.changed_labels}
        if changed:
            head["changed"] = changed
        throttle = config.workflows.throttle
        if throttle is not None:
            head["throttle"] = {
                "divisor": throttle.divisor,
                "events": list(throttle.events),
                "lift_label": throttle.lift_label,
            }
    else:
        head["crons"] = list(kind.crons)
    lines = [json.dumps(head)[:-1] + ', "suites": {']
    entries = [f"  {json.dumps(name)}: {json.dumps(spec)}" for name, spec in suites.items()]
    lines.append(",\n".join(entries))
    lines.append("}}")
    return "\n".join(lines)


def gate_job(build: Build, kind: WorkflowKind) -> dict:
    return {
        "id": GATE_JOB,
        "reads_pull_request": kind.name == "per-commit",
        "spec": gate_spec(build, kind),
        "program": repo_path(GATE_FILE),
        "plan": repo_path(PLAN_FILE),
    }


def finish_job(jobs: list[dict]) -> dict:
    return {"id": FINISH_JOB, "needs": [GATE_JOB] + [job["id"] for job in jobs], "program": repo_path(GATE_FILE)}
