"""`cigen.yml` -> Config: the schema-valid document (generator/config_document.py), built into
typed dataclasses one section at a time, with the semantic checks the schema cannot make.

Every problem is reported with the config file's line, all in one pass. The document of a text
that validated before comes from the cache; the semantic checks run every time.
"""

from __future__ import annotations

import re
from pathlib import Path
from types import MappingProxyType

from generator.config_document import Document, YamlPath, document, read_document
from generator.config_fields import (
    BUILD,
    CPU_TESTS,
    ENV_VARIABLE,
    HEALTH,
    HOOKS,
    MODEL_TEST,
    OUTPUT_NAMES,
    POOL,
    POOL_HEALTH,
    PREFLIGHT,
    PULL_REQUESTS,
    REDISPATCH,
    SCHEDULE,
    SUITE,
    TESTS,
    THROTTLE,
    TIMINGS,
    TOP,
    TRIGGERS,
    WORKFLOWS,
    default_file_name,
)
from generator.errors import Problem, ProblemReport, plural
from generator.model import (
    Build,
    Config,
    CpuTests,
    GpuPreflight,
    Hooks,
    ModelTest,
    Pool,
    PullRequestGate,
    Redispatch,
    RunnerHealth,
    Suite,
    Throttle,
    TimingsLoop,
    Triggers,
    WorkflowSettings,
)
from generator.names import RESERVED_JOBS, build_job_id, shard_job_ids


def _build(doc: Document) -> Config:
    """A schema-valid document -> Config, one builder per section; every semantic problem at once."""
    data: dict = doc.data
    problems: list[Problem] = []
    health = TOP.get(data, "health")
    pools = {name: _pool(doc, name, spec, health) for name, spec in data["pools"].items()}
    runner_configs = dict(TOP.get(data, "runner_configs"))
    problems.extend(_runner_config_problems(doc, runner_configs, pools))
    backends = tuple(TOP.get(data, "backends"))
    suite_defaults = {"backend": backends[0], **TOP.get(data, "defaults")}
    suites: dict[str, Suite] = {}
    for name, spec in data["suites"].items():
        suite = _suite(doc, name, spec, suite_defaults, backends, pools, runner_configs, problems)
        if suite is not None:
            suites[name] = suite
    problems.extend(_needs_problems(doc, suites, declared=set(data["suites"])))
    builds = {name: _build_job(doc, name, spec) for name, spec in TOP.get(data, "builds").items()}
    problems.extend(_build_problems(doc, builds, pools, suites))
    model_tests = {
        path: _model_test(doc, path, spec, pools, problems) for path, spec in TOP.get(data, "model_tests").items()
    }
    workflows = TOP.get(data, "workflows")
    problems.extend(_action_problems(doc, workflows))
    problems.extend(_expression_problems(doc))
    problems.extend(_job_id_problems(doc, suites))
    problems.extend(_workflow_problems(doc, workflows))
    problems.extend(_health_problems(doc))
    if problems:
        raise ProblemReport(problems, f"{plural(len(problems), 'error')} in {doc.source}")
    tests = TOP.get(data, "tests")
    return Config(
        source=doc.source,
        include=tuple(TESTS.get(tests, "include")),
        exclude=tuple(TESTS.get(tests, "exclude")),
        backends=backends,
        pools=pools,
        runner_configs=runner_configs,
        suites=suites,
        nightly_cron=SCHEDULE.get(TOP.get(data, "schedule"), "nightly_cron"),
        model_tests=model_tests,
        builds=builds,
        workflows=_workflow_settings(workflows),
        max_infra_rate=HEALTH.get(health, "max_infra_rate"),
        lines=MappingProxyType(dict(doc.lines)),
    )


def _pool(doc: Document, name: str, spec: dict, health: dict) -> Pool:
    """`pools.<name>` (schema-valid); `health` is the top-level section its own health: goes over."""
    changed = POOL.get(spec, "labels_when_changed")
    return Pool(
        name=name,
        labels=tuple(spec["labels"]),
        gpus=spec["gpus"],
        setup_minutes=float(spec["setup_minutes"]),
        gpu_model=POOL.get(spec, "gpu"),
        gpu_mem_gib=POOL.get(spec, "gpu_mem_gib"),
        setup=_lines_or_none(POOL.get(spec, "setup")),
        env=_env(POOL.get(spec, "env")),
        preflight=_preflight(POOL.get(spec, "preflight")),
        hooks=_hooks(POOL.get(spec, "hooks")),
        changed_paths=tuple(changed["paths"]) if changed else (),
        changed_labels=tuple(changed["labels"]) if changed else (),
        health=_runner_health(health, POOL.get(spec, "health")),
        line=doc.line(("pools", name)),
    )


def _preflight(spec: dict) -> GpuPreflight:
    """A pool's `preflight:`; a key left out keeps the shard runner's default (None)."""
    return GpuPreflight(**{item.key: PREFLIGHT.get(spec, item.key) for item in PREFLIGHT.fields})


def _runner_config_problems(doc: Document, runner_configs: dict[str, str], pools: dict[str, Pool]) -> list[Problem]:
    return [
        doc.problem(
            ("runner_configs", runner_config),
            "unknown-pool",
            f"runner_config '{runner_config}' maps to unknown pool '{pool}'",
        )
        for runner_config, pool in runner_configs.items()
        if pool not in pools
    ]


def _suite(
    doc: Document,
    name: str,
    spec: dict,
    suite_defaults: dict,
    backends: tuple[str, ...],
    pools: dict[str, Pool],
    runner_configs: dict[str, str],
    problems: list[Problem],
) -> Suite | None:
    """`suites.<name>` over the `defaults:` section over the table's defaults; None (its problems added) when
    it cannot be built."""
    where = ("suites", name)
    merged = {**SUITE.defaults(), **suite_defaults, **spec}
    if "runner_config" in spec and "pools" in suite_defaults:
        merged.pop("pools")
    if "pools" in spec and "runner_config" in suite_defaults:
        merged.pop("runner_config")
    missing = [key for key in SUITE.required if key not in merged]
    if missing:
        problems.append(doc.problem(where, "config-schema", f"suite '{name}' needs {', '.join(missing)}"))
        return None
    pool_names = _suite_pools(doc, name, merged, runner_configs, problems)
    if pool_names is None:
        return None
    for pool in pool_names:
        if pool not in pools:
            problems.append(doc.problem(where + ("pools",), "unknown-pool", f"suite '{name}': unknown pool '{pool}'"))
    problems.extend(_suite_problems(doc, name, merged, backends))
    problems.extend(
        doc.problem(
            where + ("on_pools", pool),
            "unknown-pool",
            f"suite '{name}': on_pools names '{pool}', which is not one of its pools ({', '.join(pool_names)})",
        )
        for pool in merged["on_pools"]
        if pool not in pool_names
    )

    def get(key: str) -> object:
        return SUITE.get(merged, key)

    return Suite(
        name=name,
        backend=merged["backend"],
        trigger=merged["trigger"],
        pools=pool_names,
        job_timeout_minutes=get("job_timeout_minutes"),
        step_timeout_minutes=get("step_timeout_minutes"),
        shard_budget_minutes=float(get("shard_budget_minutes")),
        max_parallel=get("max_parallel"),
        per_file_timeout_seconds=get("per_file_timeout_seconds"),
        needs=tuple(get("needs")),
        pr_label=get("pr_label"),
        paths=tuple(get("paths")),
        cron=get("cron"),
        enabled=get("enabled"),
        groups=tuple(tuple(group) for group in get("groups")),
        setup=_lines_or_none(get("setup")),
        env=_env(get("env")),
        secrets=dict(get("secrets")),
        working_directory=get("working_directory"),
        retries=get("retries"),
        retry_wait_seconds=get("retry_wait_seconds"),
        retry_classes=tuple(get("retry_classes")),
        test_args=tuple(get("test_args")),
        mismatched_nightly=get("mismatched_nightly"),
        on_pools={pool: _on_pool(settings) for pool, settings in get("on_pools").items()},
        hooks=_hooks(get("hooks")),
        builds=tuple(get("builds")),
        line=doc.line(where),
    )


def _suite_pools(
    doc: Document, name: str, merged: dict, runner_configs: dict[str, str], problems: list[Problem]
) -> tuple[str, ...] | None:
    """The suite's pools: its runner_config's, or its pools; None (a problem added) when it names neither
    or an unknown runner_config."""
    where = ("suites", name)
    if "runner_config" in merged:
        pool = runner_configs.get(merged["runner_config"])
        if pool is None:
            problems.append(
                doc.problem(
                    where + ("runner_config",),
                    "unknown-runner-config",
                    f"suite '{name}': runner_config '{merged['runner_config']}' is not under runner_configs",
                )
            )
        return None if pool is None else (pool,)
    if "pools" in merged:
        return tuple(merged["pools"])
    problems.append(doc.problem(where, "config-schema", f"suite '{name}' needs runner_config or pools"))
    return None


def _build_job(doc: Document, name: str, spec: dict) -> Build:
    """`builds.<name>` (schema-valid)."""
    return Build(
        name=name,
        pool=spec["pool"],
        steps=tuple(spec["steps"]),
        artifact_path=spec["artifact_path"],
        download_to=spec["download_to"],
        paths=tuple(BUILD.get(spec, "paths")),
        switch_env=BUILD.get(spec, "switch_env"),
        timeout_minutes=BUILD.get(spec, "timeout_minutes"),
        line=doc.line(("builds", name)),
    )


def _model_test(doc: Document, path: str, spec: dict, pools: dict[str, Pool], problems: list[Problem]) -> ModelTest:
    """`model_tests.<path>`; an unknown pool is a problem."""
    where = ("model_tests", path)
    for pool in MODEL_TEST.get(spec, "pools"):
        if pool not in pools:
            problems.append(
                doc.problem(where + ("pools",), "unknown-pool", f"model test '{path}': unknown pool '{pool}'")
            )
    return ModelTest(
        path=path,
        model=spec["model"],
        hf_model=spec.get("hf_model", spec["model"]),
        tp=MODEL_TEST.get(spec, "tp"),
        extra_peak=MODEL_TEST.get(spec, "extra_peak"),
        pools=tuple(MODEL_TEST.get(spec, "pools")),
        server_args=MODEL_TEST.get(spec, "server_args"),
        install=MODEL_TEST.get(spec, "install"),
        line=doc.line(where),
    )


def _action_problems(doc: Document, workflows: dict) -> list[Problem]:
    """A pinned action says which version its sha is."""
    if "@" in (WORKFLOWS.get(workflows, "action") or "") and "action_version" not in workflows:
        return [
            doc.problem(
                ("workflows", "action"),
                "action-version-missing",
                "a pinned action needs action_version: the version its sha is, written beside it for reviewers",
            )
        ]
    return []


def _lines_or_none(lines: list[str] | None) -> tuple[str, ...] | None:
    """A `setup:` that is given (even empty) replaces the level above's; None keeps it."""
    return None if lines is None else tuple(lines)


def _hooks(spec: dict) -> Hooks:
    """A level's `hooks:` (schema-valid)."""
    return Hooks(
        before=tuple(HOOKS.get(spec, "before")),
        always_after=tuple(HOOKS.get(spec, "always_after")),
        on_failure=tuple(HOOKS.get(spec, "on_failure")),
        upload_on_failure=tuple(HOOKS.get(spec, "upload_on_failure")),
        timeout_minutes=HOOKS.get(spec, "timeout_minutes"),
    )


def _runner_health(default: dict, pool: dict) -> RunnerHealth:
    """The top-level `health:` with the pool's own on top, key by key; probes merged by name."""
    merged = {**default, **pool}
    return RunnerHealth(
        min_disk_free_gib=POOL_HEALTH.get(merged, "min_disk_free_gib"),
        disk_path=POOL_HEALTH.get(merged, "disk_path"),
        drain_command=POOL_HEALTH.get(merged, "drain_command"),
        drain_marker=POOL_HEALTH.get(merged, "drain_marker"),
        probes={**HEALTH.get(default, "probes"), **POOL_HEALTH.get(pool, "probes")},
        probe_timeout_seconds=POOL_HEALTH.get(merged, "probe_timeout_seconds"),
    )


def _health_problems(doc: Document) -> list[Problem]:
    """A probe may not take a built-in probe's name: the report could not tell them apart."""
    data: dict = doc.data  # schema-valid
    places = [("health",)] + [("pools", name, "health") for name in data["pools"]]
    named = []
    for where in places:
        spec = data
        for key in where:
            spec = spec.get(key, {}) if isinstance(spec, dict) else {}
        named += [(where, name) for name in (spec.get("probes", {}) if isinstance(spec, dict) else {})]
    if not named:
        return []
    # The shipped health program (and its subprocess, socket and argparse) only when probes are named.
    from generator.shipped.health import BUILTIN_PROBES

    return [
        doc.problem(
            where + ("probes", name),
            "probe-name-taken",
            f"{'.'.join(where)}.probes: '{name}' is a built-in probe's name",
            help="built-in probes: " + ", ".join(BUILTIN_PROBES) + "; pick another name",
        )
        for where, name in named
        if name in BUILTIN_PROBES
    ]


def _on_pool(settings: dict) -> dict[str, object]:
    """A suite's settings on one pool (schema-valid) as Suite fields: env values as the shell sees them."""
    on_pool = dict(settings)
    if "env" in on_pool:
        on_pool["env"] = _env(on_pool["env"])
    if "retry_classes" in on_pool:
        on_pool["retry_classes"] = tuple(on_pool["retry_classes"])
    return on_pool


def _env(spec: dict) -> dict[str, str]:
    """Environment values as the shell sees them: YAML's true is "true", 2 is "2"; {var: X} is the
    expression reading the repository variable X (its default, a quoted literal, when X is unset)."""
    return {name: _env_value(value) for name, value in spec.items()}


def _env_value(value: object) -> str:
    if isinstance(value, dict):
        fallback = ENV_VARIABLE.get(value, "default")
        tail = "" if fallback is None else " || '" + fallback + "'"  # the schema refuses ' in a default
        return "${{ vars." + value["var"] + tail + " }}"
    return str(value).lower() if isinstance(value, bool) else str(value)


def _workflow_settings(spec: dict) -> WorkflowSettings:
    """The `workflows:` section (schema-valid), its sub-sections by their own builders."""

    def get(key: str) -> object:
        return WORKFLOWS.get(spec, key)

    return WorkflowSettings(
        setup=tuple(get("setup")),
        setup_timeout_minutes=get("setup_timeout_minutes"),
        env=_env(get("env")),
        secrets=dict(get("secrets")),
        secrets_environment=get("secrets_environment"),
        files=dict(get("files")),
        pull_requests=_pull_request_gate(get("pull_requests")),
        triggers=_triggers(get("triggers")),
        throttle=_throttle(get("throttle")),
        hooks=_hooks(get("hooks")),
        cigen_package=get("cigen_package"),
        cigen_requirements=get("cigen_requirements"),
        action=get("action"),
        action_version=get("action_version"),
        regenerate=get("regenerate"),
        branches=tuple(get("branches")),
        timings=_timings_file(get("timings")),
        cpu_tests=_cpu_tests(get("cpu_tests")),
        timings_loop=_timings_loop(get("timings")),
        redispatch=_redispatch(get("redispatch")),
    )


def _pull_request_gate(spec: dict) -> PullRequestGate:
    return PullRequestGate(
        label=PULL_REQUESTS.get(spec, "label"),
        skip_drafts=PULL_REQUESTS.get(spec, "skip_drafts"),
        paths=tuple(PULL_REQUESTS.get(spec, "paths")),
        types=tuple(PULL_REQUESTS.get(spec, "types")),
        gated_off=PULL_REQUESTS.get(spec, "gated_off"),
    )


def _triggers(spec: dict) -> Triggers:
    return Triggers(
        push=TRIGGERS.get(spec, "push"),
        schedule=tuple(TRIGGERS.get(spec, "schedule")),
        dispatch=TRIGGERS.get(spec, "dispatch"),
        keep_going_on_schedule=TRIGGERS.get(spec, "keep_going_on_schedule"),
    )


def _throttle(spec: dict | None) -> Throttle | None:
    if spec is None:
        return None
    return Throttle(
        divisor=spec["divisor"],
        events=tuple(THROTTLE.get(spec, "events")),
        lift_label=THROTTLE.get(spec, "lift_label"),
    )


def _cpu_tests(spec: dict | None) -> CpuTests | None:
    if spec is None:
        return None
    return CpuTests(
        commands=tuple(spec["commands"]),
        runs_on=CPU_TESTS.get(spec, "runs_on"),
        python=CPU_TESTS.get(spec, "python"),
        timeout_minutes=CPU_TESTS.get(spec, "timeout_minutes"),
    )


def _redispatch(spec: dict | None) -> Redispatch | None:
    if spec is None:
        return None
    return Redispatch(daily_cap=REDISPATCH.get(spec, "daily_cap"), comment=REDISPATCH.get(spec, "comment"))


def _timings_file(spec: str | dict | None) -> str | None:
    """workflows.timings: a file name alone, or the loop's mapping with its `file`."""
    return spec["file"] if isinstance(spec, dict) else spec


def _timings_loop(spec: str | dict | None) -> TimingsLoop | None:
    if not isinstance(spec, dict):
        return None
    return TimingsLoop(
        cron=spec["cron"],
        days=TIMINGS.get(spec, "days"),
        branch=TIMINGS.get(spec, "branch"),
        max_factor=TIMINGS.get(spec, "max_factor"),
        min_seconds=TIMINGS.get(spec, "min_seconds"),
        min_samples=TIMINGS.get(spec, "min_samples"),
    )


def _suite_problems(doc: Document, name: str, suite: dict, backends: tuple[str, ...]) -> list[Problem]:
    where = ("suites", name)
    problems = []
    if suite["backend"] not in backends:
        problems.append(
            doc.problem(
                where,
                "backend-not-planned",
                f"suite '{name}' is for backend '{suite['backend']}', which `backends` does not list",
            )
        )
    if suite["shard_budget_minutes"] > suite["step_timeout_minutes"]:
        problems.append(
            doc.problem(
                where + ("shard_budget_minutes",),
                "budget-over-timeout",
                f"suite '{name}': shard_budget_minutes ({suite['shard_budget_minutes']:g}) is above "
                f"step_timeout_minutes ({suite['step_timeout_minutes']}); a full shard would time out",
            )
        )
    if suite["step_timeout_minutes"] > suite["job_timeout_minutes"]:
        problems.append(
            doc.problem(
                where + ("step_timeout_minutes",),
                "step-over-job-timeout",
                f"suite '{name}': step_timeout_minutes ({suite['step_timeout_minutes']}) is above "
                f"job_timeout_minutes ({suite['job_timeout_minutes']})",
            )
        )
    problems.extend(_paths_problems(doc, where + ("paths",), suite["paths"]))
    for pool, settings in suite["on_pools"].items():
        merged = {**suite, **settings}
        if merged["step_timeout_minutes"] > merged["job_timeout_minutes"]:
            problems.append(
                doc.problem(
                    where + ("on_pools", pool),
                    "step-over-job-timeout",
                    f"suite '{name}' on '{pool}': step_timeout_minutes ({merged['step_timeout_minutes']}) is above "
                    f"job_timeout_minutes ({merged['job_timeout_minutes']})",
                )
            )
    per_commit_only = [key for key in ("pr_label", "paths") if suite.get(key) and suite["trigger"] != "per-commit"]
    if suite.get("cron") and suite["trigger"] != "nightly":
        per_commit_only.append("cron")
    for key in per_commit_only:
        problems.append(
            doc.problem(
                where + (key,),
                "option-for-trigger",
                f"suite '{name}': {key} does not apply to trigger '{suite['trigger']}'",
            )
        )
    return problems


def _paths_problems(doc: Document, where: YamlPath, paths: list[str]) -> list[Problem]:
    """A path list of exclusions only (`!**/*.md`) would match every other file: say what was meant."""
    if paths and all(path.startswith("!") for path in paths):
        return [
            doc.problem(
                where,
                "paths-only-exclusions",
                f"{'.'.join(map(str, where))}: every pattern starts with '!' (an exclusion); give the paths to include",
                help='e.g. ["python/**", "!**/*.md"]',
            )
        ]
    return [
        doc.problem(where + (index,), "paths-bad-exclusion", f"'{path}': an exclusion needs a pattern after '!'")
        for index, path in enumerate(paths)
        if path == "!"
    ]


IMMUTABLE_GIT_URL = re.compile(r"git\+https://[^@\s]+@[0-9a-f]{40}(#subdirectory=[A-Za-z0-9_./-]+)?\Z")


def _workflow_problems(doc: Document, workflows: dict) -> list[Problem]:
    """cigen is installed only from an immutable reference; two outputs cannot share a file."""
    problems = []
    package = WORKFLOWS.get(workflows, "cigen_package")
    if package is not None and package != "." and not IMMUTABLE_GIT_URL.match(package):
        problems.append(
            doc.problem(
                ("workflows", "cigen_package"),
                "mutable-cigen-package",
                f"workflows.cigen_package {package!r} can change under the same name: whoever controls it runs code "
                "in jobs that can write to pull requests",
                help="pin a commit: git+https://github.com/OWNER/cigen@<40-hex sha>, or use cigen_requirements "
                "(a requirements file with --hash=sha256: on every line)",
            )
        )
    if package is not None and "cigen_requirements" in workflows:
        problems.append(
            doc.problem(
                ("workflows", "cigen_requirements"),
                "cigen-installed-twice",
                "give cigen_package or cigen_requirements, not both",
            )
        )
    problems.extend(_paths_problems(doc, ("workflows", "pull_requests", "paths"), pull_requests_paths(workflows)))
    files = WORKFLOWS.get(workflows, "files")
    seen: dict[str, str] = {}
    for output in OUTPUT_NAMES:
        name = files.get(output, default_file_name(output))
        if name in seen:
            problems.append(
                doc.problem(
                    ("workflows", "files", output),
                    "workflow-file-clash",
                    f"workflows.files: '{output}' and '{seen[name]}' are both written to {name}",
                )
            )
        seen.setdefault(name, output)
    return problems


def pull_requests_paths(workflows: dict) -> list[str]:
    return list(PULL_REQUESTS.get(WORKFLOWS.get(workflows, "pull_requests"), "paths"))


def _expression_problems(doc: Document) -> list[Problem]:
    """Config text lands in workflow YAML: a `${{` in it would be evaluated by GitHub."""
    problems = []

    def visit(value: object, path: YamlPath) -> None:
        if isinstance(value, dict):
            for key, child in value.items():
                visit(child, path + (key,))
        elif isinstance(value, list):
            for index, child in enumerate(value):
                visit(child, path + (index,))
        elif isinstance(value, str) and "${{" in value:
            where = ".".join(map(str, path))
            problems.append(
                doc.problem(
                    path,
                    "expression-in-config",
                    f"{where}: {value!r} contains '${{{{'; GitHub would evaluate it where cigen places it",
                    help="write the value out, or pass it to the job through the environment",
                )
            )

    visit(doc.data, ())
    return problems


def _job_id_problems(doc: Document, suites: dict[str, Suite]) -> list[Problem]:
    """Every enabled suite's job ids are unique and not ones cigen uses itself. (A job's matrix
    is its shards: the schema's max_parallel limit, 256, is GitHub's per matrix.)"""
    problems = []
    owner: dict[str, str] = {name: "cigen itself" for name in RESERVED_JOBS}
    for suite in suites.values():
        if not suite.enabled:
            continue
        where = ("suites", suite.name)
        for ident in shard_job_ids(suite.name, suite.pools):
            if ident in owner:
                problems.append(
                    doc.problem(
                        where,
                        "job-id-clash",
                        f"suite '{suite.name}' would get job id '{ident}', which {owner[ident]} already has",
                        help="rename one of the suites (letters, digits, '-' and '_' are kept; others become '_')",
                    )
                )
            owner.setdefault(ident, f"suite '{suite.name}'")
    return problems


def _build_problems(doc: Document, builds: dict[str, Build], pools: dict, suites: dict[str, Suite]) -> list[Problem]:
    """A build runs on a known pool, has a job id of its own, and only per-commit suites use builds."""
    problems = [
        doc.problem(("builds", b.name, "pool"), "unknown-pool", f"build '{b.name}': unknown pool '{b.pool}'")
        for b in builds.values()
        if b.pool not in pools
    ]
    problems += [
        doc.problem(("builds", b.name, "paths"), "paths-only-exclusions", f"build '{b.name}': every path excludes")
        for b in builds.values()
        if b.paths and all(p.startswith("!") for p in b.paths)
    ]
    jobs = {job for suite in suites.values() for job in shard_job_ids(suite.name, suite.pools)}
    problems += [
        doc.problem(
            ("builds", b.name),
            "job-id-clash",
            f"build '{b.name}' would get job id '{build_job_id(b.name)}', which a suite already has",
        )
        for b in builds.values()
        if build_job_id(b.name) in jobs
    ]
    for suite in suites.values():
        where = ("suites", suite.name, "builds")
        for name in suite.builds:
            if name not in builds:
                problems.append(
                    doc.problem(where, "unknown-build", f"suite '{suite.name}' names unknown build '{name}'")
                )
            elif suite.trigger != "per-commit":
                problems.append(
                    doc.problem(
                        where,
                        "option-for-trigger",
                        f"suite '{suite.name}': builds run in the per-commit workflow, "
                        f"not for trigger '{suite.trigger}'",
                    )
                )
    return problems


def _needs_problems(doc: Document, suites: dict[str, Suite], declared: set[str]) -> list[Problem]:
    """Unknown needs, needs across workflows, and cycles. A need on a declared suite that
    failed its own checks is not reported again."""
    problems = []
    for suite in suites.values():
        for need in suite.needs:
            where = ("suites", suite.name, "needs")
            other = suites.get(need)
            if other is None and need in declared:
                continue
            if other is None:
                problems.append(
                    doc.problem(where, "unknown-need", f"suite '{suite.name}' needs unknown suite '{need}'")
                )
            elif other.trigger != suite.trigger:
                problems.append(
                    doc.problem(
                        where,
                        "need-across-triggers",
                        f"suite '{suite.name}' ({suite.trigger}) cannot wait for '{need}' ({other.trigger}): "
                        "they run in different workflows",
                    )
                )
    visiting: set[str] = set()
    done: set[str] = set()

    def visit(name: str, chain: list[str]) -> None:
        if name in done or name not in suites:
            return
        if name in visiting:
            cycle = chain[chain.index(name) :] + [name]
            problems.append(
                doc.problem(("suites", name, "needs"), "needs-cycle", f"needs form a cycle: {' -> '.join(cycle)}")
            )
            return
        visiting.add(name)
        for need in suites[name].needs:
            visit(need, chain + [name])
        visiting.discard(name)
        done.add(name)

    for name in suites:
        visit(name, [])
    return problems


def parse_config(text: str, source: str, cache_dir: Path | None = None) -> Config:
    return _build(document(text, source, cache_dir))


def load_config(path: Path | None, root: Path, cache_dir: Path | None = None) -> Config:
    """The config at `path`, else `root/cigen.yml`, else the embedded default. With
    `cache_dir`, a text that validated before is not parsed or validated again."""
    return _build(read_document(path, root, cache_dir))
