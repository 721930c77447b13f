"""Every `cigen.yml` key with its default and help, one table per section (in the spirit of
pre-commit's cfgv). This is the one place a default is written: config.py fills absent keys
from here, model.py's dataclasses take their defaults from here, and the schema
(generator/data/cigen.schema.json, which checks shapes only) gets its `default` and
`description` keywords from here when it is loaded. Defaults are immutable values the model
uses as they are (tuples, not lists). Every command imports this module: it imports nothing but
generator/backends.py, and the shard runner (whose own defaults apply where a pool's preflight
key is left out) only when docs/config.md is written.

To add a key: its shape in the schema, one Field here (the tests check the two list the same
keys in the same order, and that the default passes the schema), and one line in its section's
builder in config.py.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from generator.backends import DEFAULT_BACKEND


class _Required:
    def __repr__(self) -> str:
        return "REQUIRED"


REQUIRED = _Required()  # no default: the schema requires the key (a suite may take it from `defaults:`)
EMPTY: Mapping = MappingProxyType({})  # an absent mapping or sub-section: empty, or each of its keys' defaults


class Derived:
    """A default computed from other keys when the config is built, said in words. (A plain class:
    every cigen command imports this module, and each dataclass costs about a millisecond to make.)"""

    __slots__ = ("rule",)

    def __init__(self, rule: str) -> None:
        self.rule = rule

    def __repr__(self) -> str:
        return f"Derived({self.rule!r})"


@dataclass(frozen=True)
class Field:
    """One key of a section: its default (REQUIRED, Derived or a value) and what it means."""

    key: str
    default: object
    help: str
    runner_option: str | None = None  # the shard runner's option this key sets (its default applies when None)

    @property
    def has_value(self) -> bool:
        """A default that is a value, not None, REQUIRED or Derived."""
        return self.default is not None and self.default is not REQUIRED and not isinstance(self.default, Derived)


@dataclass(frozen=True)
class Section:
    """The keys of one mapping in `cigen.yml`, in the schema's order."""

    name: str  # as the docs spell it: `suites.<name>`
    schema_path: tuple[str, ...]  # the object schema whose `properties` these are
    fields: tuple[Field, ...]

    def __getitem__(self, key: str) -> Field:
        for item in self.fields:
            if item.key == key:
                return item
        raise KeyError(f"{self.name} has no key {key!r}")

    def default(self, key: str) -> object:
        """The value an absent `key` takes (a programming error for a required or derived key)."""
        value = self[key].default
        if value is REQUIRED or isinstance(value, Derived):
            raise KeyError(f"{self.name}.{key} has no fixed default")
        return value

    def get(self, spec: Mapping, key: str) -> object:
        """`spec[key]`, else the key's default."""
        return spec[key] if key in spec else self.default(key)

    def defaults(self) -> dict[str, object]:
        """Every key with a default other than None (so `key in` still tells a given optional key)."""
        return {item.key: item.default for item in self.fields if item.has_value}

    @property
    def required(self) -> tuple[str, ...]:
        return tuple(item.key for item in self.fields if item.default is REQUIRED)


def describe(item: Field) -> str:
    """The key's help, with what it is when left out where that is not a plain value."""
    if isinstance(item.default, Derived):
        return f"{item.help} Left out: {item.default.rule}."
    if item.runner_option and item.default is None:
        return f"{item.help} Left out: the shard runner's {item.runner_option} default (run_shard.py run --help)."
    return item.help


def annotate_schema(schema: dict) -> None:
    """Give each tabled key of the JSON schema its `description` and, where it has a value, its `default`."""
    for section in SECTIONS:
        node = schema
        for step in section.schema_path:
            node = node[int(step)] if isinstance(node, list) else node[step]
        for item in section.fields:
            annotations = node["properties"][item.key]
            annotations["description"] = describe(item)
            if item.has_value:
                annotations["default"] = _json_value(item.default)


def _json_value(value: object) -> object:
    if isinstance(value, tuple):
        return list(value)
    if isinstance(value, Mapping):
        return dict(value)
    return value


# The workflows cigen may render; `workflows.files.<name>` renames one (generator/render/outputs.py).
OUTPUT_NAMES = ("per-commit", "nightly", "rerun-test", "cpu-tests", "timings", "redispatch")


def default_file_name(output: str) -> str:
    """A generated workflow's file name unless workflows.files names it: never a hand-written one's."""
    return f"cigen-{output}.yml"


TOP = Section(
    "top level",
    (),
    (
        Field("version", REQUIRED, "The config format: 1."),
        Field("tests", EMPTY, "Which files are test files."),
        Field(
            "backends", (DEFAULT_BACKEND,), "Registrations of these backends are linted against the suites and planned."
        ),
        Field("schedule", EMPTY, "The nightly workflow's schedule."),
        Field("pools", REQUIRED, "Runner pools by name: interchangeable self-hosted runners and their GPUs."),
        Field(
            "health",
            EMPTY,
            "Every pool's runner health settings (a pool's own `health:` overrides them key by key; probes merge).",
        ),
        Field("runner_configs", EMPTY, "runner_config (as tests register it) -> pool name."),
        Field("defaults", EMPTY, "Suite keys every suite gets unless it sets them."),
        Field("suites", REQUIRED, "Suites by name, spelled as tests register them: one sharded job each."),
        Field(
            "model_tests",
            EMPTY,
            "Tests that launch a model server. The memory advisor checks they fit their pools' GPUs; the nightly "
            "workflow runs them through action.yml (server args tuned to the card) on each pool.",
        ),
        Field("workflows", EMPTY, "How generated workflows prepare GPU runners, call cigen and reach cigen's action."),
        Field(
            "builds",
            EMPTY,
            "Jobs the per-commit workflow runs before the suites that name them (suite builds:), on their own pool, "
            "when their paths change on a pull request (always, without paths): each uploads an artifact the suites "
            "download, and sets the suites' switch_env to true (sglang: the sgl-kernel wheel and "
            "CUSTOM_BUILD_SGL_KERNEL).",
        ),
    ),
)

TESTS = Section(
    "tests",
    ("properties", "tests"),
    (
        Field("include", ("test/registered/**/*.py",), "Globs of the files scanned for registrations."),
        Field("exclude", (), "Globs of files under include that are not test files."),
    ),
)

SCHEDULE = Section(
    "schedule",
    ("properties", "schedule"),
    (Field("nightly_cron", "0 14 * * *", "When the nightly workflow runs (UTC cron)."),),
)

HOOKS = Section(
    "hooks",
    ("$defs", "hooks"),
    (
        Field("before", (), "Shell lines after set-up, before the tests (sglang: DeepGEMM warm-up)."),
        Field("always_after", (), "Shell lines after the tests, even when they failed (sglang: ci_cleanup_venv.sh)."),
        Field("on_failure", (), "Shell lines only when a step failed (sglang: collect core dumps)."),
        Field("upload_on_failure", (), "Paths uploaded as an artifact when a step failed."),
        Field(
            "timeout_minutes",
            None,
            "Each hook step's timeout (left out: workflows.setup_timeout_minutes); the most specific level that gives "
            "one wins.",
        ),
    ),
)

PREFLIGHT = Section(
    "pools.<name>.preflight",
    ("$defs", "pool", "properties", "preflight"),
    (
        Field("timeout_seconds", None, "nvidia-smi must answer within this.", "--preflight-timeout"),
        Field("max_used_mib", None, "A GPU is busy at this much used memory (sglang's idle gate).", "--max-used-mib"),
        Field("min_free_mib", None, "A GPU is busy below this much free memory.", "--min-free-mib"),
        Field("wait_seconds", None, "How long busy GPU memory may take to be released.", "--gpu-wait-seconds"),
    ),
)

LABELS_WHEN_CHANGED = Section(
    "pools.<name>.labels_when_changed",
    ("$defs", "pool", "properties", "labels_when_changed"),
    (
        Field("paths", REQUIRED, "A pull request changing these paths (! excludes) runs per-commit jobs on..."),
        Field("labels", REQUIRED, "...these runs-on labels instead (sglang: 4-gpu-b200-kernel)."),
    ),
)

POOL = Section(
    "pools.<name>",
    ("$defs", "pool"),
    (
        Field("labels", REQUIRED, "The runs-on labels of the pool's runners."),
        Field("gpu", None, "The GPU model (e.g. NVIDIA H100), for the memory advisor."),
        Field("gpu_mem_gib", None, "Each GPU's memory as nvidia-smi reports it, for the memory advisor."),
        Field("gpus", REQUIRED, "GPUs per runner (0: a CPU runner)."),
        Field("setup_minutes", REQUIRED, "Per-job overhead (checkout, install, warm-up) before the first test."),
        Field("setup", None, "Shell lines that replace workflows.setup on this pool (left out: the workflows')."),
        Field("env", EMPTY, "Environment of the pool's GPU jobs, over the workflows' (key by key)."),
        Field(
            "preflight",
            EMPTY,
            "The shard runner's GPU check before the first file; each key left out keeps the runner's default.",
        ),
        Field("hooks", EMPTY, "Hook steps the pool's GPU jobs add after the workflows'."),
        Field(
            "labels_when_changed",
            None,
            "Other runs-on labels for per-commit jobs of a pull request that changes these paths (sglang: "
            "4-gpu-b200-kernel when sgl-kernel/** changed).",
        ),
        Field("health", EMPTY, "This pool's runner health settings, over the top-level health: key by key."),
    ),
)

_HEALTH_FIELDS = (
    Field(
        "min_disk_free_gib",
        None,
        "Free disk space (GiB) a runner must have at disk_path; 0: no disk probe.",
        "--min-disk-free-gib",
    ),
    Field("disk_path", None, "Where free space is measured.", "--disk-path"),
    Field(
        "drain_command",
        None,
        "Shell command that takes a runner out of the pool when a probe fails (CIGEN_RUNNER_NAME, "
        "CIGEN_HEALTH_PROBE, CIGEN_HEALTH_REASON are set), e.g. stopping its service; left out: none.",
    ),
    Field(
        "drain_marker",
        None,
        "File written on the runner when a probe fails; while it exists every health check fails (and "
        "`health.py drained` refuses a service start); left out: none.",
    ),
    Field(
        "probes", EMPTY, "Extra probes: name -> shell command, healthy when it exits 0 within probe_timeout_seconds."
    ),
    Field("probe_timeout_seconds", None, "How long an extra probe may run.", "--probe-timeout"),
)

HEALTH = Section(
    "health",
    ("properties", "health"),
    _HEALTH_FIELDS
    + (Field("max_infra_rate", 0.2, "`cigen health` names a runner whose share of infra failures is above this."),),
)

POOL_HEALTH = Section("pools.<name>.health", ("$defs", "health"), _HEALTH_FIELDS)

_RETRIES_HELP = "Extra attempts for a file failing in one of retry_classes (never test), as sglang."
_RETRY_CLASSES_HELP = (
    "The failure classes retries apply to: flaky-accuracy, infra, timeout (a test failure never retries), as sglang."
)
_RETRY_WAIT_HELP = "Seconds between attempts, as sglang."

SUITE = Section(
    "suites.<name> and defaults",
    ("$defs", "suite_fields"),
    (
        Field("backend", Derived("the first of backends"), "The backend whose registrations the suite runs."),
        Field("trigger", REQUIRED, "per-commit, nightly or manual: the workflow the suite's jobs are in."),
        Field("runner_config", None, "The runner_config whose pool runs the suite (or pools, not both)."),
        Field("pools", None, "The pools that each run every shard (or runner_config, not both)."),
        Field("needs", (), "Suites (of the same trigger) whose jobs finish first."),
        Field("job_timeout_minutes", 360, "The job's timeout."),
        Field("step_timeout_minutes", REQUIRED, "The test step's timeout."),
        Field("shard_budget_minutes", REQUIRED, "The test time one shard may hold (set-up excluded)."),
        Field("max_parallel", 1, "The most shards (runners at once) the suite may take."),
        Field("per_file_timeout_seconds", 1200, "How long one test file may run."),
        Field("pr_label", None, "A per-commit suite runs on a pull request only when it carries this label."),
        Field("paths", (), "A per-commit suite runs on a pull request only when it changes these paths."),
        Field("cron", None, "A nightly suite's own schedule (left out: schedule.nightly_cron)."),
        Field("enabled", True, "A disabled suite is kept in the config (say why in note) and never runs."),
        Field("note", None, "Why the suite is as it is (e.g. why it is disabled); cigen does not read it."),
        Field("groups", (), "Files (paths relative to the root) that must run in the same shard."),
        Field("setup", None, "Shell lines that replace the pool's or the workflows' setup (left out: theirs)."),
        Field("env", EMPTY, "Environment of the suite's jobs, over the pool's and the workflows' (key by key)."),
        Field("secrets", EMPTY, "env name -> secret name, on trusted events only."),
        Field(
            "working_directory",
            None,
            "Folder (relative to the repository root) each test file runs in; paths stay as registered (sglang: test).",
        ),
        Field("retries", 1, _RETRIES_HELP, "--retries"),
        Field("retry_classes", ("flaky-accuracy", "infra", "timeout"), _RETRY_CLASSES_HELP, "--retry-classes"),
        Field("retry_wait_seconds", 60, _RETRY_WAIT_HELP, "--retry-wait"),
        Field("test_args", (), "Arguments after each test file (sglang passes -f).", "--test-arg"),
        Field(
            "mismatched_nightly",
            "run",
            "Files whose nightly= flag contradicts the suite's trigger (nightly=False in a nightly suite): run them "
            "or skip them, as sglang's run_suite.py --nightly does. cigen lint warns either way.",
        ),
        Field(
            "on_pools",
            EMPTY,
            "Settings of this suite on one of its pools only (sglang's B200 nightly timeouts): pool name -> "
            "job_timeout_minutes, step_timeout_minutes, per_file_timeout_seconds, retries, retry_classes, "
            "retry_wait_seconds, and env (over the suite's, key by key: sglang's IS_H200 on its H200 job only).",
        ),
        Field("hooks", EMPTY, "Hook steps the suite's GPU jobs add after the pool's."),
        Field("builds", (), "Builds (top-level builds:) whose artifact this per-commit suite's jobs download."),
    ),
)

ON_POOL = Section(
    "suites.<name>.on_pools.<pool>",
    ("$defs", "suite_fields", "properties", "on_pools", "additionalProperties"),
    (
        *(
            Field(key, Derived("the suite's"), SUITE[key].help)
            for key in (
                "job_timeout_minutes",
                "step_timeout_minutes",
                "per_file_timeout_seconds",
                "retries",
                "retry_classes",
                "retry_wait_seconds",
            )
        ),
        Field("env", EMPTY, "Environment of the suite's job on this pool, over the suite's (key by key)."),
    ),
)

MODEL_TEST = Section(
    "model_tests.<path>",
    ("$defs", "model_test"),
    (
        Field(
            "model",
            REQUIRED,
            "A built-in model name (e.g. Qwen3-0.6B) or a path to a Hugging Face config.json, relative to the root.",
        ),
        Field("hf_model", Derived("model"), "What the server loads (e.g. Qwen/Qwen3-0.6B)."),
        Field("tp", 1, "Tensor-parallel size: GPUs the server uses."),
        Field(
            "extra_peak",
            "weight-checker",
            "Memory the test allocates on the GPU outside the server's static pool: 'weight-checker' (derived from "
            "the model's largest tensor) or MiB.",
        ),
        Field("pools", (), "The pools it is checked and run on (empty: its suite's)."),
        Field("server_args", "", "Extra server arguments."),
        Field(
            "install",
            "none",
            "How the action installs the model server: pip install arguments such as sglang==0.5.23 (none: the "
            "runner's Python already has it).",
        ),
    ),
)

ENV_VARIABLE = Section(
    "env.<NAME> (repository variable)",
    ("$defs", "env", "additionalProperties", "oneOf", "1"),
    (
        Field("var", REQUIRED, "The repository variable vars.<var>, read through env: only."),
        Field("default", None, "The text used when the variable is unset (left out: empty)."),
    ),
)

BUILD = Section(
    "builds.<name>",
    ("$defs", "build"),
    (
        Field("pool", REQUIRED, "The pool the build runs on."),
        Field("paths", (), "A pull request changing these paths runs the build (empty: always)."),
        Field("steps", REQUIRED, "The build's shell lines."),
        Field("artifact_path", REQUIRED, "What the build uploads (upload-artifact's path)."),
        Field("download_to", REQUIRED, "Where a suite job puts the artifact before its set-up."),
        Field(
            "switch_env",
            None,
            "An environment variable the suites' jobs get: true when the build ran (its artifact is there), else "
            "false.",
        ),
        Field("timeout_minutes", 120, "The build job's timeout."),
    ),
)

CPU_TESTS = Section(
    "workflows.cpu_tests",
    ("properties", "workflows", "properties", "cpu_tests"),
    (
        Field("commands", REQUIRED, "One step each, in order."),
        Field("runs_on", "ubuntu-latest", "The hosted runner's label."),
        Field("python", "3.12", "The Python version set up."),
        Field("timeout_minutes", 60, "The job's timeout."),
    ),
)

PULL_REQUESTS = Section(
    "workflows.pull_requests",
    ("properties", "workflows", "properties", "pull_requests"),
    (
        Field(
            "label",
            None,
            "The label a pull request needs (read live from the API), e.g. run-ci; left out: none needed.",
        ),
        Field("skip_drafts", True, "Draft pull requests run nothing."),
        Field(
            "paths",
            (),
            "A pull request changing no file under these runs nothing (the finish job still passes). A pattern "
            "starting with ! excludes (e.g. !**/*.md). cigen.yml, the generated workflows and .github/cigen/** are "
            "always added: a change to the CI always runs it.",
        ),
        Field(
            "types",
            ("opened", "synchronize", "reopened", "ready_for_review", "labeled"),
            "The pull_request activity types that start the per-commit workflow. Without labeled, adding a label "
            "starts nothing: re-run the workflow (sglang's way).",
        ),
        Field(
            "gated_off",
            "pass",
            "What the required check (finish) says for a pull request its gate kept from running (a draft, or the "
            "label missing): pass or fail, as sglang's pr-gate does, with a summary line saying how to get CI.",
        ),
    ),
)

TIMINGS = Section(
    "workflows.timings",
    ("properties", "workflows", "properties", "timings"),
    (
        Field("file", REQUIRED, "The timings file: plan, render and check use it unless --timings is given."),
        Field("cron", REQUIRED, "When the timings loop (cigen-timings.yml) runs (UTC cron)."),
        Field("days", 7, "How far back shard results are downloaded."),
        Field("branch", "cigen/timings", "The branch the pull request comes from."),
        Field(
            "max_factor",
            3.0,
            "A new estimate more than this many times the old one (or less than the old one divided by it) is a "
            "jump: held back, not applied, unless it has min_samples samples.",
        ),
        Field(
            "min_seconds", 1.0, "A new estimate below this many seconds is a jump too (a 0 s file is a lie or a skip)."
        ),
        Field("min_samples", 5, "How many samples make a jump believed and applied."),
    ),
)

TRIGGERS = Section(
    "workflows.triggers",
    ("properties", "workflows", "properties", "triggers"),
    (
        Field("push", True, "Pushes to workflows.branches run every per-commit suite."),
        Field("schedule", (), "Crons that run every per-commit suite (sglang: 0 11,23 * * *)."),
        Field("dispatch", True, "A manual dispatch runs every per-commit suite."),
        Field(
            "keep_going_on_schedule",
            False,
            "A scheduled run collects every failure, as sglang's does: its shards keep going past a failing "
            "file, and a suite runs even when a suite it needs failed (a failed build still stops it).",
        ),
    ),
)

THROTTLE = Section(
    "workflows.throttle",
    ("properties", "workflows", "properties", "throttle"),
    (
        Field("divisor", REQUIRED, "A suite runs at most max(shards // divisor, 1) shards at once (sglang: 3)."),
        Field("events", ("pull_request",), "The events throttled; others run every shard at once."),
        Field(
            "lift_label", None, "A pull request carrying this label runs every shard at once (sglang: high priority)."
        ),
    ),
)

WORKFLOWS = Section(
    "workflows",
    ("properties", "workflows"),
    (
        Field("setup", (), "Shell lines run before a GPU job's tests (install the project)."),
        Field("setup_timeout_minutes", 20, "The set-up step's timeout."),
        Field(
            "cigen_package",
            None,
            "What the timings loop (cigen-timings.yml, which runs cigen timings calibrate and cigen render) "
            "installs cigen from, immutably: a git URL at a full commit "
            "(git+https://github.com/OWNER/cigen@<40-hex sha>), or '.' in cigen's own repository. Nothing else needs "
            "it: /rerun-test and the CI jobs run the stdlib programs cigen writes to .github/cigen/.",
        ),
        Field(
            "action",
            None,
            "cigen's composite action for model_tests: ./ where action.yml is at the repository root (cigen's own), "
            "else owner/repo[/path]@<40-hex commit sha> with action_version. Without it, model tests run in their "
            "suite's shards like any file.",
        ),
        Field("action_version", None, "Version comment written beside a pinned action, e.g. v0.1.0."),
        Field("regenerate", "cigen render", "The command every generated file's header names."),
        Field("branches", ("main",), "Pushes to these branches run the per-commit workflow."),
        Field(
            "cpu_tests",
            None,
            "A workflow on a hosted runner running these commands on every pull request and push (this repo: make "
            "test, make check-workflows); left out: no CPU workflow.",
        ),
        Field("env", EMPTY, "Every GPU job's environment; pools' and suites' env merge in."),
        Field("secrets", EMPTY, "env name -> secret name, on trusted events only."),
        Field(
            "cigen_requirements",
            None,
            "A requirements file in the repository whose every line pins a hash (--hash=sha256:...): the timings loop "
            "installs cigen from it with pip --require-hashes.",
        ),
        Field(
            "files",
            EMPTY,
            f"The generated workflows' file names under .github/workflows, by output (absent: "
            f"{default_file_name('<output>')}, so they never take the name of a hand-written workflow).",
        ),
        Field(
            "pull_requests",
            EMPTY,
            "Which pull requests start the per-commit GPU suites (pushes and dispatches always do).",
        ),
        Field(
            "timings",
            None,
            "A timings file (from cigen timings calibrate): plan, render and check use it unless --timings is given. "
            "Or the timings loop, a mapping (workflows.timings below: the file, cron, ...): a scheduled workflow that "
            "downloads recent shard results, runs cigen timings calibrate and proposes a commit changing only the "
            "timings and plan files. A file name alone: no loop.",
        ),
        Field(
            "secrets_environment",
            "cigen-secrets",
            "The GitHub deployment environment a job that gets secrets runs in: keep the secrets there, with the "
            "protection rules you want.",
        ),
        Field("triggers", EMPTY, "Which events besides pull requests run the per-commit workflow's every suite."),
        Field(
            "throttle",
            None,
            "Per-commit shards a suite may run at once on the listed events (left out: every shard at once).",
        ),
        Field("hooks", EMPTY, "Every GPU job's hook steps; pools and suites add theirs."),
        Field(
            "redispatch",
            None,
            "Render a workflow_run workflow that re-runs the failed jobs of a per-commit or nightly run once when "
            "every failure was the machine's (infra), and says so on the pull request; left out: no such workflow.",
        ),
    ),
)

REDISPATCH = Section(
    "workflows.redispatch",
    ("properties", "workflows", "properties", "redispatch"),
    (
        Field("daily_cap", 20, "At most this many re-dispatched runs a day (UTC), counting every re-run."),
        Field(
            "comment",
            True,
            "Post the one line on the pull request (needs pull-requests: write); false: only the job summary.",
        ),
    ),
)

SECTIONS = (
    TOP,
    TESTS,
    SCHEDULE,
    HEALTH,
    POOL,
    PREFLIGHT,
    LABELS_WHEN_CHANGED,
    POOL_HEALTH,
    HOOKS,
    ENV_VARIABLE,
    SUITE,
    ON_POOL,
    BUILD,
    MODEL_TEST,
    WORKFLOWS,
    PULL_REQUESTS,
    TRIGGERS,
    THROTTLE,
    CPU_TESTS,
    TIMINGS,
    REDISPATCH,
)


def reference_markdown() -> str:
    """docs/config.md: every section's keys with their defaults and help. A key that only passes an
    option to the shard runner shows the runner's own default, read from its argument parser."""
    from generator.shipped import run_shard

    runner = vars(run_shard.build_parser().parse_args(["run", "--suite", "s", "--shard", "0", "--files-json", "[]"]))
    lines = [
        "# `cigen.yml` keys",
        "",
        "<!-- @generated from generator/config_fields.py. DO NOT EDIT.",
        "     Regenerate: .venv/bin/python -m pytest tests/test_config_fields.py --update-golden -->",
        "",
        "Every key cigen reads, with the value it takes when left out. The shapes each key accepts are",
        "checked by `generator/data/cigen.schema.json`; `cigen lint` reports every problem at its line.",
    ]
    for section in SECTIONS:
        lines += ["", f"## `{section.name}`" if section.schema_path else "## Top level", ""]
        lines += ["| key | left out | meaning |", "| --- | --- | --- |"]
        for item in section.fields:
            meaning = item.help.replace("|", "\\|")
            lines.append(f"| `{item.key}` | {_left_out(item, runner)} | {meaning} |")
    return "\n".join(lines) + "\n"


def _left_out(item: Field, runner: dict[str, object]) -> str:
    if item.default is REQUIRED:
        return "required"
    if isinstance(item.default, Derived):
        return item.default.rule
    if item.default is None and item.runner_option:
        value = runner[item.runner_option.lstrip("-").replace("-", "_")]
        shown = f"{value:g}" if isinstance(value, (int, float)) else value
        return f"the runner's `{item.runner_option}`: `{shown}`"
    if item.default is None:
        return "none"
    return f"`{json.dumps(_json_value(item.default))}`"
