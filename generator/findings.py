"""Every finding code cigen reports, once: its severity, the module that raises it, and its help.

The README's "Findings" table is generated from this catalog (`make findings-table`), and
tests/test_findings.py fails when a module raises a code that is not here, or a code here is
raised nowhere. "…" stands for the part of a message that names the file, suite or value.
"""

from __future__ import annotations

from dataclasses import dataclass

ERROR = "error"
WARNING = "warning"
EITHER = "error or warning"  # an error where it blocks the command, a warning where lint only reports it


@dataclass(frozen=True)
class Finding:
    code: str
    severity: str
    modules: str  # the raising modules, dotted, comma-separated
    help: str


FINDINGS: tuple[Finding, ...] = (
    Finding(
        "absolute-path",
        ERROR,
        "generator.shipped.rerun_select",
        "absolute paths are not allowed; use the path from the repository root",
    ),
    Finding(
        "action-not-found",
        ERROR,
        "generator.lint",
        "workflows.action …: there is no action.yml there in …; fix: reference cigen's action by commit: OWNER/cigen@<40-hex sha> with action_version",
    ),
    Finding(
        "action-version-missing",
        ERROR,
        "generator.config",
        "a pinned action needs action_version: the version its sha is, written beside it for reviewers",
    ),
    Finding(
        "ambiguous-name",
        ERROR,
        "generator.shipped.rerun_select",
        "'…' names … registered files; fix: give the path of one",
    ),
    Finding(
        "artifact-name",
        WARNING,
        "generator.timings.loop",
        "refused: the name … is not a plain file name; the artifact is skipped",
    ),
    Finding("artifact-run", WARNING, "generator.timings.loop", "its run cannot be read: …; its artifacts are skipped"),
    Finding("artifact-unreadable", ERROR, "generator.timings.loop", "not a readable zip: …"),
    Finding(
        "artifacts-truncated",
        WARNING,
        "generator.timings.loop",
        "read the newest … of … artifacts, as many as one listing gives; older ones were not read",
    ),
    Finding(
        "backend-not-planned",
        ERROR,
        "generator.config, generator.rerun.parse",
        "suite '…' is for backend '…', which `backends` does not list",
    ),
    Finding("bad-disabled", ERROR, "generator.scan", "disabled must be a reason string, got …"),
    Finding("bad-est-time", ERROR, "generator.scan", "est_time must be a number, got …"),
    Finding(
        "bad-extra-peak",
        ERROR,
        "generator.cli.mem_commands",
        "--extra-peak must be 'weight-checker' or MiB >= 0, got '…'",
    ),
    Finding("bad-glob", ERROR, "generator.shipped.rerun_select", "'…': a glob is path characters and * ? [ ] only"),
    Finding("bad-head", ERROR, "generator.shipped.rerun_gate", "the head commit of #… is not a commit SHA"),
    Finding("bad-jobs", ERROR, "generator.scan_many", "'…' is not a number of processes; fix: set it to 1 or more"),
    Finding(
        "bad-mem-fraction", ERROR, "generator.memory.advisor", "--mem-fraction-static must be between 0 and 1, got …"
    ),
    Finding("bad-model-config", ERROR, "generator.memory.hfmodel", "a model config must be a JSON object"),
    Finding("bad-nightly", ERROR, "generator.scan", "nightly must be True or False, got …"),
    Finding(
        "bad-output",
        ERROR,
        "generator.cli.rerun_commands",
        "a $GITHUB_OUTPUT value is not one line; nothing was written",
    ),
    Finding(
        "bad-path",
        ERROR,
        "generator.shipped.rerun_select",
        "write the path as `cigen scan` lists it (no './', no '//')",
    ),
    Finding(
        "bad-pin",
        ERROR,
        "generator.shipped.rerun_select",
        "the @commit is not where it belongs or not a commit SHA; it comes last: FILE... @<40-hex sha>",
    ),
    Finding(
        "bad-plan-file",
        ERROR,
        "generator.shipped.plan_file",
        "the plan file is not JSON of its shape (suites.….shards[…].files[…].est_seconds must be a number >= 0, …); "
        "fix: regenerate it with cigen render",
    ),
    Finding("bad-server-args", ERROR, "generator.memory.lint", "model test '…': …"),
    Finding("bad-targets", ERROR, "generator.cli.rerun_commands", "TARGETS is not the gate's targets output"),
    Finding(
        "bad-test-name",
        ERROR,
        "generator.shipped.rerun_select",
        "after '::' give Class or Class.method (Python identifiers, at most … characters)",
    ),
    Finding(
        "bad-time", ERROR, "generator.cli.rerun_commands", "COMMENT_CREATED_AT is not an ISO 8601 time with a timezone"
    ),
    Finding(
        "budget-over-timeout",
        ERROR,
        "generator.config",
        "suite '…': shard_budget_minutes (…) is above step_timeout_minutes (…); a full shard would time out",
    ),
    Finding(
        "budget-unknown",
        ERROR,
        "generator.shipped.rerun_gate",
        "the last 24 hours of … use cannot be counted (…), so nothing runs",
    ),
    Finding("calibrate-no-input", ERROR, "generator.timings.measure", "give at least one of …"),
    Finding(
        "changed-unknown",
        ERROR,
        "generator.shipped.rerun_select",
        "--changed needs the pull request's changed files, which were not read",
    ),
    Finding(
        "ci-files-outside-paths",
        WARNING,
        "generator.lint",
        "workflows.pull_requests.paths leaves out …: cigen adds cigen.yml, its workflows and .github/cigen/** to the "
        "gate; fix: list them to say so",
    ),
    Finding("cigen-installed-twice", ERROR, "generator.config", "give cigen_package or cigen_requirements, not both"),
    Finding("comment-too-long", ERROR, "generator.shipped.rerun_select", "the comment is … characters; the limit is …"),
    Finding(
        "commit-required",
        ERROR,
        "generator.shipped.rerun_gate",
        "… requires naming the commit you reviewed: … FILE @<sha>",
    ),
    Finding("config-duplicate-key", ERROR, "generator.config_document", "key '…' appears twice"),
    Finding(
        "config-exists",
        ERROR,
        "generator.cli.init_commands",
        "a cigen.yml is already here; init never replaces it; fix: edit it, or remove it to start over",
    ),
    Finding("config-renamed", ERROR, "generator.config_document", "… is now …"),
    Finding(
        "config-schema",
        ERROR,
        "generator.config, generator.config_document",
        "the config must be a mapping (version, pools, suites, ...)",
    ),
    Finding("config-unreadable", ERROR, "generator.config_document", "cannot read config: …"),
    Finding("config-yaml", ERROR, "generator.config_document", "invalid YAML: …"),
    Finding(
        "control-character",
        ERROR,
        "generator.shipped.rerun_select",
        "the comment holds a control character; write the command in plain text",
    ),
    Finding("decode-error", ERROR, "generator.scan", "not UTF-8 text: … at byte …"),
    Finding("duplicate-arg", ERROR, "generator.scan", "argument '…' given twice"),
    Finding("duplicate-registration", ERROR, "generator.lint", "… suite '…' is registered more than once in this file"),
    Finding("duplicate-selector", ERROR, "generator.shipped.rerun_select", "… is named twice"),
    Finding("durations-seconds", ERROR, "generator.timings.durationlog", "seconds must be a number >= 0, got …"),
    Finding("durations-syntax", ERROR, "generator.timings.durationlog", "…, got … fields"),
    Finding("durations-unreadable", ERROR, "generator.timings.durationlog", "cannot read: …"),
    Finding(
        "empty-suite",
        WARNING,
        "generator.lint, generator.shipped.rerun_select",
        "suite '…' has no enabled registrations; no job is generated",
    ),
    Finding(
        "est-over-file-timeout",
        WARNING,
        "generator.lint",
        "…s expected, but suite '…' stops a file after …s (per_file_timeout_seconds); fix: raise per_file_timeout_seconds for the suite, or split the file",
    ),
    Finding(
        "est-time-off",
        WARNING,
        "generator.timings.lint",
        "est_time=…s but suite '…' measured …s (…, …, …); fix: set est_time=…",
    ),
    Finding(
        "expression-in-config",
        ERROR,
        "generator.config",
        "… contains '${{'; GitHub would evaluate it where cigen places it; fix: write the value out, or pass it to the job through the environment",
    ),
    Finding(
        "extra-lines",
        ERROR,
        "generator.shipped.rerun_select",
        "line … is not empty; a /rerun-test comment is one line (explain in a separate comment)",
    ),
    Finding(
        "free-needs-one-gpu",
        ERROR,
        "generator.memory.cards",
        "--gpu-free-mib describes one GPU; give one --gpu-mem-gib or --pool",
    ),
    Finding(
        "github-answer",
        ERROR,
        "generator.shipped.github_api",
        "GitHub answered with a shape cigen does not expect; nothing is acted on",
    ),
    Finding(
        "github-api",
        ERROR,
        "generator.shipped.github_api, generator.shipped.rerun_gate",
        "a GitHub API call failed; the step fails closed",
    ),
    Finding("github-api-argument", ERROR, "generator.shipped.github_api", "refusing to call the API with … …"),
    Finding("github-token", ERROR, "generator.shipped.github_api", "no GitHub token: set GITHUB_TOKEN"),
    Finding(
        "glob-matches-nothing", ERROR, "generator.shipped.rerun_select", "'…' matches no test file /rerun-test can run"
    ),
    Finding(
        "glob-with-test", ERROR, "generator.shipped.rerun_select", "'…': '::' names a test of one file, not of a glob"
    ),
    Finding(
        "group-member-missing",
        ERROR,
        "generator.lint",
        "suite '…': group member '…' is not an enabled registration of this suite",
    ),
    Finding("head-moved", ERROR, "generator.shipped.rerun_gate", "the head is now …, not @…: …"),
    Finding("head-repo-gone", ERROR, "generator.shipped.rerun_gate", "the head repository of #… was deleted"),
    Finding(
        "head-unproven",
        ERROR,
        "generator.shipped.rerun_gate",
        "no push record shows when … became the head of …; nothing runs on a head that cannot be shown to predate the comment",
    ),
    Finding("history-duplicate-run", ERROR, "generator.timings.history", "run … is also in …"),
    Finding("history-empty", ERROR, "generator.timings.history", "no run files (*.json) here or under runs/"),
    Finding("history-json", ERROR, "generator.timings.history", "a history run file is not JSON"),
    Finding("history-missing", ERROR, "generator.timings.history", "no such file or folder"),
    Finding("history-schema", ERROR, "generator.timings.history", "a history run file does not match the run schema"),
    Finding(
        "job-id-clash",
        ERROR,
        "generator.config, generator.lint",
        "suite '…' would get job id '…', which … already has; fix: rename one of the suites (letters, digits, '-' and '_' are kept; others become '_')",
    ),
    Finding(
        "junit-doctype",
        ERROR,
        "generator.timings.junit",
        "DOCTYPE and entity declarations are refused (JUnit XML needs none)",
    ),
    Finding("junit-time", ERROR, "generator.timings.junit", "testcase needs a time in seconds (a number >= 0), got …"),
    Finding("junit-unreadable", ERROR, "generator.timings.junit", "cannot read: …"),
    Finding("junit-xml", ERROR, "generator.timings.junit", "invalid XML: …"),
    Finding("line-too-long", ERROR, "generator.shipped.rerun_select", "the first line is … characters; the limit is …"),
    Finding(
        "mem-default-no-fit",
        WARNING,
        "generator.memory.lint",
        "sglang's default … … leaves … MiB free; …; action.yml passes …; fix: a run without action.yml needs … … in the test's server args",
    ),
    Finding(
        "mem-never-fits",
        ERROR,
        "generator.memory.lint",
        "… does not fit a … GiB GPU at any … (…); fix: run it on a pool with larger GPUs, or raise tp",
    ),
    Finding(
        "mem-no-fit",
        ERROR,
        "generator.memory.lint",
        "… … leaves … MiB free; …; fix: use … … (cigen mem --model … --pool …)",
    ),
    Finding(
        "mem-unknown-gpu",
        EITHER,
        "generator.memory.cards, generator.memory.lint",
        "pool '…' declares no gpu_mem_gib",
    ),
    Finding(
        "missing-est-time", ERROR, "generator.scan", "est_time is required; fix: …(est_time=60, suite=...)  # seconds"
    ),
    Finding(
        "missing-main",
        ERROR,
        "generator.tree",
        'no `if __name__ == "__main__":` block that runs the tests; `python3 FILE` would exit green without running anything',
    ),
    Finding("model-json", ERROR, "generator.timings.model_json", "a partition model file is not JSON"),
    Finding("model-schema", ERROR, "generator.timings.model_json", "a partition model file does not match its schema"),
    Finding(
        "model-test-not-run",
        WARNING,
        "generator.lint",
        "model test '…' has no enabled registration in an enabled suite; nothing runs it",
    ),
    Finding(
        "model-test-unregistered",
        ERROR,
        "generator.lint",
        "model test '…' is not a registered test file; fix: register it, e.g. register_cuda_ci(est_time=150, suite=\"nightly-1-gpu\", nightly=True)",
    ),
    Finding(
        "model-test-without-action",
        WARNING,
        "generator.lint",
        "model test '…' runs in its suite's shards like any file: no workflows.action to size --mem-fraction-static for the card; fix: set workflows.action to cigen's action, OWNER/cigen@<40-hex sha> with action_version",
    ),
    Finding(
        "mutable-cigen-package",
        ERROR,
        "generator.config, generator.lint",
        "workflows.cigen_package … can change under the same name: whoever controls it runs code in jobs that can write to pull requests; fix: pin a commit: git+https://github.com/OWNER/cigen@<40-hex sha>, or use cigen_requirements (a requirements file with --hash=sha256: on every line)",
    ),
    Finding(
        "need-across-triggers",
        ERROR,
        "generator.config",
        "suite '…' (…) cannot wait for '…' (…): they run in different workflows",
    ),
    Finding("needs-cycle", ERROR, "generator.config", "needs form a cycle: …"),
    Finding(
        "nightly-mismatch",
        WARNING,
        "generator.lint",
        "nightly=… but suite '…' runs …; sglang's run_suite.py would never run it (cigen runs it by its suite); fix: set nightly=…",
    ),
    Finding("no-base-branch", ERROR, "generator.timings.loop", "the base branch … does not exist"),
    Finding("no-comment", ERROR, "generator.cli.rerun_commands", "the environment variable is not set"),
    Finding(
        "no-gpu",
        ERROR,
        "generator.action, generator.memory.cards",
        "give --gpu-mem-gib N or --pool NAME (either may repeat)",
    ),
    Finding(
        "no-marker",
        ERROR,
        "generator.tree",
        "no register_<backend>_ci(...) call at top level; fix: register the file, e.g. register_cuda_ci(est_time=60, suite=...), or exclude it under tests.exclude in cigen.yml",
    ),
    Finding(
        "no-root",
        ERROR,
        "generator.cli.init_commands, generator.tree",
        "not a directory; fix: pass the repository root with --root",
    ),
    Finding(
        "no-selector",
        ERROR,
        "generator.shipped.rerun_select",
        "name at least one test: … test/registered/<dir>/test_<name>.py[::Class.method]",
    ),
    Finding(
        "no-test-files",
        ERROR,
        "generator.tree",
        "no file under … matches tests.include (…); fix: run from the repository root or pass --root; check tests.include in cigen.yml",
    ),
    Finding(
        "non-ascii",
        ERROR,
        "generator.shipped.rerun_select",
        "the command line holds a non-ASCII character (look-alike letters are refused); retype it",
    ),
    Finding(
        "non-constant-arg",
        ERROR,
        "generator.scan",
        "… must be a literal constant, got `…`; fix: markers are read without importing the file, so values must be written out",
    ),
    Finding(
        "not-allowed",
        ERROR,
        "generator.cli.rerun_commands",
        "the policy refuses this commenter: the reason says which rule",
    ),
    Finding(
        "not-generated",
        ERROR,
        "generator.render.files",
        "this file exists and was not generated by cigen (no @generated header); cigen never replaces it; fix: choose another name (workflows.files in cigen.yml), move it away, or adopt it: --adopt …",
    ),
    Finding("not-proposable", ERROR, "generator.timings.loop", "a timings pull request changes only files under …"),
    Finding("not-python", ERROR, "generator.shipped.rerun_select", "a selector names a .py test file"),
    Finding(
        "not-registered",
        ERROR,
        "generator.rerun.parse, generator.shipped.rerun_select",
        "… is not a test file of this repository's scan…",
    ),
    Finding("not-utf8", ERROR, "generator.cli.rerun_commands", "the comment is not UTF-8 text: … at byte …"),
    Finding(
        "nothing-changed",
        ERROR,
        "generator.shipped.rerun_select",
        "--changed: this pull request changes no test file /rerun-test can run (new test files run once registered)",
    ),
    Finding("option-for-trigger", ERROR, "generator.config", "suite '…': … does not apply to trigger '…'"),
    Finding(
        "outside-root", ERROR, "generator.tree", "a link that leads outside the scanned tree; the file is not read"
    ),
    Finding(
        "over-shard-budget",
        WARNING,
        "generator.plan",
        "…s is longer than suite '…' allows one shard (… min = …s); planned alone in shard …; fix: split the file, or raise shard_budget_minutes (and step_timeout_minutes) for the suite",
    ),
    Finding(
        "overlapping-selectors",
        ERROR,
        "generator.shipped.rerun_select",
        "two selectors name the same test (a file and a class or method in it)",
    ),
    Finding("path-traversal", ERROR, "generator.shipped.rerun_select", "'..' is not allowed in a path"),
    Finding("paths-bad-exclusion", ERROR, "generator.config", "'!': an exclusion needs a pattern after '!'"),
    Finding(
        "paths-only-exclusions",
        ERROR,
        "generator.config",
        'every pattern starts with \'!\' (an exclusion); fix: give the paths to include, e.g. ["python/**", "!**/*.md"]',
    ),
    Finding("plan-unreadable", ERROR, "generator.shipped.plan_file", "cannot read: … (the plan file's path is wrong)"),
    Finding(
        "plan-version",
        ERROR,
        "generator.shipped.plan_file",
        "the plan file is version …; this cigen reads version 1; fix: regenerate it with cigen render "
        "(or cigen plan --format json)",
    ),
    Finding(
        "policy-schema",
        ERROR,
        "generator.rerun.policy",
        "the policy must be a mapping (version, permission, users, ...)",
    ),
    Finding("policy-unreadable", ERROR, "generator.rerun.policy", "cannot read the policy: …"),
    Finding("pool-mismatch", WARNING, "generator.lint", "runner_config '…' means pool '…', but suite '…' runs on …"),
    Finding(
        "probe-name-taken",
        ERROR,
        "generator.config",
        "….probes: '…' is a built-in probe's name; fix: pick another name (built-in probes: drained, nvidia-smi, "
        "gpu-count, gpu-memory, disk)",
    ),
    Finding("pull-closed", ERROR, "generator.shipped.rerun_gate", "pull request #… is …"),
    Finding("pull-request-budget", ERROR, "generator.shipped.rerun_gate", "pull request #…: …; try again later"),
    Finding("repository-budget", ERROR, "generator.shipped.rerun_gate", "this repository: …; try again later"),
    Finding(
        "requirement-unhashed",
        ERROR,
        "generator.lint",
        "… has no --hash=sha256: (pip install --require-hashes refuses it); fix: generate the file with pip-compile --generate-hashes",
    ),
    Finding("requirements-unreadable", ERROR, "generator.lint", "cannot read workflows.cigen_requirements: …"),
    Finding("results-ambiguous", ERROR, "generator.timings.loop", "the artifact holds … results files"),
    Finding(
        "results-invalid",
        WARNING,
        "generator.cli.health_commands",
        "not a cigen results file: …; it is left out of the report",
    ),
    Finding(
        "results-json",
        ERROR,
        "generator.timings.loop, generator.timings.runresults",
        "a run_shard results file is not JSON (or not UTF-8 text)",
    ),
    Finding("results-missing", ERROR, "generator.timings.loop", "the artifact holds no results file"),
    Finding(
        "results-schema", ERROR, "generator.timings.runresults", "a run_shard results file does not match its schema"
    ),
    Finding(
        "results-too-large", ERROR, "generator.timings.loop", "the results file unpacks to more than the … bytes read"
    ),
    Finding(
        "results-unreadable", WARNING, "generator.cli.health_commands", "cannot read: …; it is left out of the report"
    ),
    Finding(
        "same-second-push",
        ERROR,
        "generator.shipped.rerun_gate",
        "… was pushed at …, the same second as the comment, so which came first cannot be told: review it and comment again",
    ),
    Finding("scan-error", ERROR, "generator.rerun.parse", "… has a registration error: line …: …"),
    Finding("selector-too-long", ERROR, "generator.shipped.rerun_select", "a selector is … characters; the limit is …"),
    Finding(
        "shards-over-budget",
        WARNING,
        "generator.plan",
        "suite '…': shard … takes …s, over the …s budget, with … (max_parallel …); fix: raise max_parallel or shard_budget_minutes for the suite",
    ),
    Finding("shell-metacharacter", ERROR, "generator.shipped.rerun_select", "shell metacharacter … is not allowed"),
    Finding(
        "short-pin",
        ERROR,
        "generator.cli.rerun_commands, generator.shipped.rerun_select",
        "give the full 40-hex-digit commit SHA",
    ),
    Finding("starred-arg", ERROR, "generator.scan", "*args are not supported"),
    Finding(
        "step-over-job-timeout",
        ERROR,
        "generator.config",
        "suite '…': step_timeout_minutes (…) is above job_timeout_minutes (…)",
    ),
    Finding("suite-disabled", ERROR, "generator.rerun.parse", "… runs only in suite …, which the config disables"),
    Finding("suite-not-run", WARNING, "generator.lint", "suite '…' has no job: …; this registration never runs"),
    Finding(
        "suite-shape",
        ERROR,
        "generator.scan",
        "pass suite= or stage= + runner_config=, not both; got stage=…, runner_config=…, suite=…",
    ),
    Finding("syntax-error", ERROR, "generator.scan", "invalid Python: …"),
    Finding("timings-entry", ERROR, "generator.timings.timingslog", "'file' must be a non-empty path"),
    Finding("timings-json", ERROR, "generator.timings.timingslog", "not a JSON object: …"),
    Finding("timings-log-unreadable", ERROR, "generator.timings.timingslog", "cannot read: …"),
    Finding(
        "timings-schema",
        ERROR,
        "generator.timings.store",
        "the timings file does not match its schema; regenerate it with cigen timings calibrate",
    ),
    Finding("timings-unopened", ERROR, "generator.timings.timingslog", "TIMINGS END without its BEGIN"),
    Finding("timings-unreadable", ERROR, "generator.timings.store", "the timings file cannot be read or is not JSON"),
    Finding("timings-unterminated", ERROR, "generator.timings.timingslog", "TIMINGS BEGIN without its END"),
    Finding(
        "too-many-args", ERROR, "generator.scan", "register_*_ci() takes at most … positional arguments (…), got …"
    ),
    Finding(
        "too-many-gpu-minutes",
        ERROR,
        "generator.shipped.rerun_select",
        "an estimated … GPU-minutes (each file's estimated time x its pool's GPUs); at most … per comment",
    ),
    Finding(
        "too-many-jobs",
        ERROR,
        "generator.shipped.rerun_select",
        "… test jobs (… selectors on their pools); at most … per comment",
    ),
    Finding("too-many-selectors", ERROR, "generator.shipped.rerun_select", "… selectors; at most … per comment"),
    Finding("tp-over-pool-gpus", EITHER, "generator.memory.lint", "tp=… needs … GPUs, the pool has …"),
    Finding("unknown-arg", ERROR, "generator.scan", "unknown argument '…'; fix: known arguments: …"),
    Finding("unknown-build", ERROR, "generator.config", "suite '…' names unknown build '…'"),
    Finding("unknown-checker", ERROR, "generator.memory.advisor", "unknown weight-checker code '…' (known: …)"),
    Finding("unknown-class", ERROR, "generator.shipped.rerun_select", "the file defines no top-level class ……"),
    Finding("unknown-command", ERROR, "generator.shipped.rerun_select", "the first line must start with …, got …"),
    Finding(
        "unknown-form",
        ERROR,
        "generator.shipped.rerun_select",
        "'…' is not a test file (.py), a glob, a suite name or --changed",
    ),
    Finding(
        "unknown-marker",
        WARNING,
        "generator.scan",
        "register_*_ci() is not a CI marker and is ignored; fix: known markers: …",
    ),
    Finding(
        "unknown-method",
        ERROR,
        "generator.shipped.rerun_select",
        "class … has no method … in this file (its own or a base class's defined here)…",
    ),
    Finding(
        "unknown-model",
        ERROR,
        "generator.memory.hfmodel",
        "no config.json at '…' and no built-in model of that name; fix: built-in: …; or pass a Hugging Face config.json",
    ),
    Finding("unknown-need", ERROR, "generator.config", "suite '…' needs unknown suite '…'"),
    Finding(
        "unknown-pool",
        ERROR,
        "generator.cli.health_commands, generator.config, generator.memory.cards",
        "no pool '…' in … (known: …)",
    ),
    Finding(
        "unknown-runner-config", ERROR, "generator.config", "suite '…': runner_config '…' is not under runner_configs"
    ),
    Finding("unknown-sglang-defaults", ERROR, "generator.memory.advisor", "unknown sglang defaults '…' (known: …)"),
    Finding("unknown-suite", ERROR, "generator.lint, generator.rerun.parse", "… suite '…' is not in …"),
    Finding("unknown-test", ERROR, "generator.shipped.rerun_select", "the file cannot be parsed to find …"),
    Finding("workflow-file-clash", ERROR, "generator.config", "workflows.files: '…' and '…' are both written to …"),
    Finding(
        "wrong-pull", ERROR, "generator.shipped.rerun_gate", "GitHub answered about another pull request than #… of …"
    ),
)

CODES: dict[str, Finding] = {finding.code: finding for finding in FINDINGS}


def markdown_table() -> str:
    """The README's findings table: one row a code, sorted."""
    rows = ["| code | severity | raised by | help |", "|---|---|---|---|"]
    for finding in FINDINGS:
        modules = ", ".join(f"`{module}`" for module in finding.modules.split(", "))
        help_text = finding.help.replace("|", "\\|")
        rows.append(f"| `{finding.code}` | {finding.severity} | {modules} | {help_text} |")
    return "\n".join(rows) + "\n"
