"""Plan -> generated files: Python decides every value, jinja templates only lay them out.

OUTPUTS is the registry of generated files: (path under `.github/`, template, context builder).
A builder returns None when the repository gets no such file (no nightly suites, no CPU
workflow). Every template starts with the `@generated` header (`common.header`; context
`template` and `regenerate` are always there); each output is checked for it and parsed back
with yaml.safe_load before anything is written, and the caller writes them all atomically.
"""

from __future__ import annotations

import json
import math
import re
import shlex
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path

import jinja2
import yaml

from generator.atomic import write_files_atomic
from generator.errors import UserError
from generator.model import Config, ModelTest, PlacedModelTest, Plan, Pool, Registration, Suite, SuitePlan
from generator.plan import PreviousShards, SecondsOf, model_test_placements, plan, without_model_tests
from generator.rerun import parse as rerun

TEMPLATE_PACKAGE = "generator.templates"  # the repo's top-level templates/ (pyproject.toml maps it)
GENERATED_MARK = "# @generated from templates/"
CHANGES_JOB = "changes"
SafeLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # the same safe loader, in C when built

# Third-party actions, pinned by full commit sha; the comment names the release.
CHECKOUT = "actions/checkout@08c6903cd8c0fde910a37f88322edcfb5dd907a8 # v5.0.0"  # as rerun-test.yml
SETUP_PYTHON = "actions/setup-python@a26af69be951a213d495a4c3e4e4022e16d87065 # v5.6.0"

# Workflow-level concurrency keys: a newer PR push cancels the older run; pushes and
# scheduled runs queue instead of cancelling each other.
PER_COMMIT_CONCURRENCY = "${{ github.workflow }}-${{ github.event.pull_request.number || github.ref }}"
NIGHTLY_CONCURRENCY = "${{ github.workflow }}-${{ github.ref }}-${{ github.event.schedule || inputs.suite }}"


@dataclass(frozen=True)
class RenderInputs:
    """What every context builder reads."""

    config: Config
    plan: Plan  # model-test files excluded: they run in their own jobs
    model_tests: tuple[PlacedModelTest, ...]  # config order

    def model_tests_of(self, suite: str) -> list[PlacedModelTest]:
        return [placed for placed in self.model_tests if placed.suite.name == suite]


@dataclass(frozen=True)
class Output:
    """One generated file: where it goes under `.github/`, its template, its context builder."""

    path: str
    template: str
    build_context: Callable[[RenderInputs], dict | None]


# ---------------------------------------------------------------------------------------
# Inputs


def place_model_tests(config: Config, registrations: Sequence[Registration]) -> tuple[PlacedModelTest, ...]:
    """Each model test in the suites its file is registered in; an unregistered one is an error
    (its job would run a file no suite declares)."""
    registered = {r.path for r in registrations if r.backend in config.backends}
    for test in config.model_tests.values():
        if test.path not in registered:
            raise UserError(
                config.source,
                test.line,
                "model-test-unregistered",
                f"model test '{test.path}' is not a registered test file",
                help="register it, e.g. register_cuda_ci(est_time=150, suite=\"nightly-1-gpu\", nightly=True)",
            )
    return model_test_placements(config, registrations)


def prepare(
    config: Config,
    registrations: Sequence[Registration],
    seconds_of: SecondsOf | None = None,
    previous: PreviousShards | None = None,
) -> RenderInputs:
    """Plan the suites without the model-test files, which run in jobs of their own. With the
    shards of the workflows already committed (`previous`), files stay where they are while
    the plan stays near-optimal, so a regeneration moves few lines."""
    planned = without_model_tests(config, registrations)
    return RenderInputs(config, plan(config, planned, seconds_of, previous=previous), place_model_tests(config, registrations))


def committed_shards(workflows_dir: Path, config: Config) -> PreviousShards:
    """Each suite's shards as the generated workflows on disk list them (suite -> files per
    shard, in shard order). Files cigen did not generate, or cannot read back, give nothing."""
    suite_of_job = {job_id(suite.name): suite.name for suite in config.suites.values()}
    shards: dict[str, dict[int, list[str]]] = {}
    for path in sorted(workflows_dir.glob("*.yml")):
        try:
            text = path.read_text(encoding="utf-8")
            if not text.startswith(GENERATED_MARK):
                continue
            workflow = yaml.load(text, Loader=SafeLoader)
            for name, job in (workflow.get("jobs") or {}).items():
                for entry in ((job.get("strategy") or {}).get("matrix") or {}).get("include") or []:
                    if name in suite_of_job and isinstance(entry.get("shard"), int) and isinstance(entry.get("files"), list):
                        shards.setdefault(suite_of_job[name], {})[entry["shard"]] = [str(f) for f in entry["files"]]
        except (OSError, UnicodeDecodeError, yaml.YAMLError, AttributeError):
            continue
    return {suite: [by_index[i] for i in sorted(by_index)] for suite, by_index in sorted(shards.items())}


# ---------------------------------------------------------------------------------------
# Values the templates lay out


def id_part(name: str) -> str:
    """A suite or pool name with only the characters a job id may hold."""
    return re.sub(r"[^A-Za-z0-9_-]", "_", name)


def job_id(name: str) -> str:
    """A GitHub job id for a suite: letters, digits, `-`, `_`; no leading digit."""
    safe = id_part(name)
    return safe if re.match(r"[A-Za-z_]", safe) else f"_{safe}"


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


def refuse_expressions(text: str, where: str, config: Config, line: int = 0) -> str:
    """Config text placed in a workflow must not carry `${{ }}`: GitHub would evaluate it."""
    if "${{" in text:
        raise UserError(config.source, line, "expression-in-config", f"{where}: '{text}' contains '${{{{'; GitHub would evaluate it")
    return text


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
                f"github.event_name != 'pull_request' || contains(github.event.pull_request.labels.*.name, {literal(suite.pr_label)})"
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
    return [f"{schedule} || github.event_name == 'workflow_dispatch' && (inputs.suite == 'all' || inputs.suite == {literal(suite.name)})"]


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


def setup_lines(config: Config) -> list[str]:
    return [refuse_expressions(line, "workflows.setup", config) for line in config.workflows.setup]


def shard_command(config: Config, suite: Suite) -> str:
    """The run step: cigen's entry point with the shard's files from the matrix (via env)."""
    cigen = refuse_expressions(config.workflows.cigen, "workflows.cigen", config)
    command = (
        f"{cigen} run-shard --suite {shlex.quote(suite.name)} --shard \"$SHARD\" "
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


MAX_MATRIX_JOBS = 256  # GitHub's limit for one job's matrix


def shard_job(config: Config, suite_plan: SuitePlan, needs: list[str], kind: WorkflowKind) -> dict:
    suite = suite_plan.suite
    multi_pool = len(suite_plan.pools) > 1
    runs = len(suite_plan.shards) * len(suite_plan.pools)
    if runs > MAX_MATRIX_JOBS:
        raise UserError(
            config.source,
            suite.line,
            "matrix-too-large",
            f"suite '{suite.name}' needs {len(suite_plan.shards)} shards x {len(suite_plan.pools)} pools = {runs} jobs; "
            f"GitHub runs at most {MAX_MATRIX_JOBS} from one matrix",
            help="lower max_parallel or split the suite",
        )
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
                "comment": f"{len(shard.files)} file{'' if len(shard.files) == 1 else 's'}, ~{shard.est_seconds / 60:.1f} min",
            }
            for shard in suite_plan.shards
        ],
        "setup": setup_lines(config),
        "setup_timeout_minutes": config.workflows.setup_timeout_minutes,
        "step_timeout_minutes": suite.step_timeout_minutes,
        "command": shard_command(config, suite),
    }


def model_job_id(suite: Suite, pool: Pool) -> str:
    return f"{job_id(suite.name)}-models-{id_part(pool.name)}"


def model_test_pools(inputs: RenderInputs, suite: Suite) -> list[Pool]:
    """The pools the suite's model tests run on, each a job of its own."""
    return list(dict.fromkeys(pool for placed in inputs.model_tests_of(suite.name) for pool in placed.pools))


def suite_job_ids(inputs: RenderInputs, suite: Suite) -> list[str]:
    """The jobs a suite gets: its shard job when it has planned files, a job per model-test pool."""
    shards = [job_id(suite.name)] if any(sp.suite.name == suite.name for sp in inputs.plan.suites) else []
    return shards + [model_job_id(suite, pool) for pool in model_test_pools(inputs, suite)]


def model_test_job(config: Config, suite: Suite, pool: Pool, tests: list[ModelTest], needs: list[str], kind: WorkflowKind) -> dict:
    """Each model test through cigen's action: the server loads `hf_model`, the advisor sizes
    `model`, and the action picks --mem-fraction-static for the card it finds."""
    return {
        "kind": "model-tests",
        "suite": suite.name,
        "id": model_job_id(suite, pool),
        "name": f"{suite.name} model tests ({pool.name})",
        "needs": needs,
        "if": job_condition(trigger_parts(config, suite, kind), bool(needs)),
        "runs_on": list(pool.labels),
        "timeout_minutes": suite.job_timeout_minutes,
        "uses": action_uses(config),
        "setup": setup_lines(config),
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
                    **({"server-args": refuse_expressions(test.server_args, f"model_tests.{test.path}.server_args", config, test.line)} if test.server_args else {}),
                    "timeout-minutes": str(math.ceil(suite.per_file_timeout_seconds / 60)),
                    **({"install": test.install} if test.install != "none" else {}),
                },
            }
            for test in tests
        ],
    }


def workflow_jobs(inputs: RenderInputs, kind: WorkflowKind) -> list[dict]:
    """The shard job and model-test jobs of every suite this workflow runs, in config order,
    each waiting for the jobs of every suite it needs (transitively, wherever it is declared)."""
    config = inputs.config
    planned = {sp.suite.name: sp for sp in inputs.plan.suites}
    jobs = []
    for suite in config.suites.values():
        if suite.trigger not in kind.triggers or not suite.enabled:
            continue
        needs = [job for name in needed_suites(config, suite) for job in suite_job_ids(inputs, config.suites[name])]
        if suite.paths:
            needs.insert(0, CHANGES_JOB)
        if suite.name in planned:
            jobs.append(shard_job(config, planned[suite.name], needs, kind))
        for pool in model_test_pools(inputs, suite):
            tests = [placed.test for placed in inputs.model_tests_of(suite.name) if pool in placed.pools]
            jobs.append(model_test_job(config, suite, pool, tests, needs, kind))
    ids = [job["id"] for job in jobs]
    clash = next((i for i in ids if ids.count(i) > 1 or i == CHANGES_JOB), None)
    if clash is not None:
        raise UserError(config.source, 0, "job-id-clash", f"two jobs would be named '{clash}'; rename one of their suites or pools")
    return jobs


def path_filters(inputs: RenderInputs) -> list[dict]:
    """Per path-gated suite with a job: its `changes` output and git pathspecs (`:(glob)`
    gives `**` the same meaning as the config's globs)."""
    config = inputs.config
    return [
        {
            "output": job_id(suite.name),
            "pathspecs": " ".join(
                shlex.quote(":(glob)" + refuse_expressions(path, f"suites.{suite.name}.paths", config, suite.line)) for path in suite.paths
            ),
        }
        for suite in config.suites.values()
        if suite.trigger == "per-commit" and suite.paths and suite_job_ids(inputs, suite)
    ]


# ---------------------------------------------------------------------------------------
# Context builders, one per output


def _common(config: Config) -> dict:
    return {
        "actions": {"checkout": CHECKOUT, "setup_python": SETUP_PYTHON},
        "branches": list(config.workflows.branches),
        "changes_job": CHANGES_JOB,
    }


def per_commit_context(inputs: RenderInputs) -> dict | None:
    jobs = workflow_jobs(inputs, WorkflowKind(triggers=("per-commit",)))
    if not jobs:
        return None
    return {**_common(inputs.config), "concurrency": PER_COMMIT_CONCURRENCY, "changes": path_filters(inputs), "jobs": jobs}


def nightly_crons(inputs: RenderInputs) -> tuple[str, ...]:
    config = inputs.config
    crons = [config.nightly_cron] + [s.cron for s in config.suites.values() if s.cron and suite_job_ids(inputs, s)]
    return tuple(dict.fromkeys(crons))


def nightly_context(inputs: RenderInputs) -> dict | None:
    config = inputs.config
    kind = WorkflowKind(triggers=("nightly", "manual"), crons=nightly_crons(inputs), pool_overrides=True)
    jobs = workflow_jobs(inputs, kind)
    if not jobs:
        return None
    suites = list(dict.fromkeys(job["suite"] for job in jobs))
    movable = {name for job in jobs for name in job.get("override_pools", [])}
    targets = [name for name in config.pools if name in movable]
    return {
        **_common(config),
        "concurrency": NIGHTLY_CONCURRENCY + ("-${{ inputs.pool }}" if targets else ""),
        "crons": list(kind.crons),
        "suites": suites,
        "pools": targets,
        "jobs": jobs,
    }


def cpu_tests_context(inputs: RenderInputs) -> dict | None:
    cpu = inputs.config.workflows.cpu_tests
    if cpu is None:
        return None
    commands = [refuse_expressions(c, "workflows.cpu_tests.commands", inputs.config) for c in cpu.commands]
    return {
        **_common(inputs.config),
        "concurrency": PER_COMMIT_CONCURRENCY,
        "runs_on": cpu.runs_on,
        "python": cpu.python,
        "timeout_minutes": cpu.timeout_minutes,
        "commands": commands,
    }


def actionlint_context(inputs: RenderInputs) -> dict | None:
    """actionlint must know the self-hosted runner labels of every pool."""
    labels = dict.fromkeys(label for pool in inputs.config.pools.values() for label in pool.labels)
    return {"labels": list(labels)}


def rerun_context(inputs: RenderInputs) -> dict:
    """The /rerun-test workflow: one job per GPU pool of an enabled CUDA suite."""
    workflows = inputs.config.workflows
    return rerun.workflow_context(
        inputs.config,
        cigen_package=workflows.cigen_package,
        setup=workflows.setup,
        setup_timeout_minutes=workflows.setup_timeout_minutes,
    )


OUTPUTS: tuple[Output, ...] = (
    Output("workflows/per-commit.yml", "per-commit.yml.j2", per_commit_context),
    Output("workflows/nightly.yml", "nightly.yml.j2", nightly_context),
    Output("workflows/cpu-tests.yml", "cpu-tests.yml.j2", cpu_tests_context),
    Output("workflows/rerun-test.yml", rerun.TEMPLATE, rerun_context),
    Output("actionlint.yaml", "actionlint.yaml.j2", actionlint_context),
)


# ---------------------------------------------------------------------------------------
# Rendering and writing


def yaml_value(value: object) -> str:
    """A value as one line of YAML: a string plain where YAML reads it back as the same string
    (easier to review), else double-quoted; lists and numbers in JSON's flow style."""
    if not isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    try:
        plain = "\n" not in value and yaml.load(f"k: {value}", Loader=SafeLoader) == {"k": value}
    except yaml.YAMLError:
        plain = False
    return value if plain else json.dumps(value, ensure_ascii=False)


def _load_template(name: str) -> tuple[str, str, Callable[[], bool]]:
    """Source, file name (for tracebacks) and an always-fresh check: templates never change
    while cigen runs."""
    resource = resources.files(TEMPLATE_PACKAGE).joinpath(name)
    return resource.read_text(encoding="utf-8"), str(resource), lambda: True


@cache
def environment() -> jinja2.Environment:
    """`!{{ }}` is ours so GitHub's `${{ }}` passes through; `yaml` writes any value safely,
    quoting only where it must;
    `chomp` drops the newline a macro's block ends with (the calling line has its own)."""
    env = jinja2.Environment(
        loader=jinja2.FunctionLoader(_load_template),
        variable_start_string="!{{",
        variable_end_string="}}",
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        autoescape=False,
    )
    env.filters["yaml"] = yaml_value
    env.filters["chomp"] = lambda block: block.removesuffix("\n")
    return env


def render_outputs(inputs: RenderInputs, outputs: Sequence[Output] = OUTPUTS) -> dict[str, str]:
    """{path under .github/: text} for every output this repository gets, each checked for
    its `@generated` header and parsed back."""
    regenerate = refuse_expressions(inputs.config.workflows.regenerate, "workflows.regenerate", inputs.config)
    rendered = {}
    for output in outputs:
        context = output.build_context(inputs)
        if context is None:
            continue
        text = environment().get_template(output.template).render({"template": output.template, "regenerate": regenerate, **context})
        first, second = (text.splitlines() + ["", ""])[:2]
        if first != f"{GENERATED_MARK}{output.template}. DO NOT EDIT." or not second.startswith("# Regenerate: "):
            raise AssertionError(f"{output.template} does not start with the @generated header")
        if not isinstance(yaml.load(text, Loader=SafeLoader), dict):
            raise AssertionError(f"{output.template} rendered something that is not a YAML mapping")
        rendered[output.path] = text
    return rendered


def github_dir(workflows_dir: Path) -> Path:
    """`--out` names the workflows folder; other outputs (actionlint.yaml) go beside it."""
    return workflows_dir.parent


def output_files(rendered: Mapping[str, str], workflows_dir: Path) -> dict[Path, str]:
    base = github_dir(workflows_dir)
    return {
        (workflows_dir / path.removeprefix("workflows/")) if path.startswith("workflows/") else base / path: text
        for path, text in rendered.items()
    }


def stale_outputs(files: Mapping[Path, str], workflows_dir: Path) -> list[Path]:
    """Files cigen generated earlier that it no longer generates (a workflow left with no jobs)."""
    candidates = sorted([*workflows_dir.glob("*.yml"), *workflows_dir.glob("*.yaml"), github_dir(workflows_dir) / "actionlint.yaml"])
    return [
        path
        for path in candidates
        if path not in files and path.is_file() and path.read_text(encoding="utf-8", errors="replace").startswith(GENERATED_MARK)
    ]


@dataclass(frozen=True)
class WriteResult:
    changed: tuple[Path, ...]
    removed: tuple[Path, ...]


def write_generated(files: Mapping[Path, str], workflows_dir: Path) -> WriteResult:
    """Write every output atomically, then remove the generated files no longer produced."""
    stale = stale_outputs(files, workflows_dir)
    changed = write_files_atomic(files)
    for path in stale:
        path.unlink()
    return WriteResult(tuple(changed), tuple(stale))
