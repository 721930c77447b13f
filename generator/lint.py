"""Model-level checks: registrations against the config's suites and pools.

Everything `scan` reports comes first; these add what only the config can tell: an empty
tree, unknown suites, `nightly=` flags that contradict the suite's trigger, suites no job
runs, duplicate registrations, groups naming files that are not there, model tests no
registration runs. The planner adds its own findings (files longer than a shard); the
pipeline (generator/pipeline.py) collects them all, so every command gives a finding the same
severity.
"""

from __future__ import annotations

import difflib
import re
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from pathlib import Path

from generator.config_document import ScanGlobs
from generator.errors import Problem
from generator.errors import error as _error
from generator.errors import warning as _warning
from generator.model import Config, PlacedModelTest
from generator.names import RESERVED_JOBS, job_id, model_job_id
from generator.pathglob import path_filter_matches
from generator.registration import Registration
from generator.shipped.plan_file import PLAN_PATH
from generator.tree import TreeScan, no_test_files

# Extra checks other steps plug in (timings vs estimates, GPU-memory fit): each takes the
# config and the scan and yields problems.
LintCheck = Callable[[Config, TreeScan], Iterable[Problem]]


def check_tree(config: Config, scan: TreeScan) -> list[Problem]:
    """No test file at all is a wrong --root or include glob, not an empty CI."""
    globs = ScanGlobs(config.source, config.include, config.exclude, config.line("tests", "include"))
    return no_test_files(scan, globs)


def planned_registrations(config: Config, scan: TreeScan) -> list[Registration]:
    """Enabled registrations of the backends this config plans."""
    return [r for r in scan.registrations if r.backend in config.backends and r.enabled]


def check_suites(config: Config, scan: TreeScan) -> list[Problem]:
    problems = []
    for reg in scan.registrations:
        if reg.backend not in config.backends:
            continue
        suite = config.suites.get(reg.suite)
        if suite is None or suite.backend != reg.backend:
            known = [s.name for s in config.suites_for(reg.backend)]
            close = difflib.get_close_matches(reg.suite, known, n=1)
            problems.append(
                _error(
                    reg.path,
                    reg.line,
                    "unknown-suite",
                    f"{reg.backend} suite '{reg.suite}' is not in {config.source}",
                    help=f"did you mean '{close[0]}'?" if close else "add it under suites: in cigen.yml",
                )
            )
            continue
        if not reg.enabled:
            continue
        if suite.trigger in ("per-commit", "nightly") and reg.nightly != suite.nightly:
            problems.append(
                _warning(
                    reg.path,
                    reg.line,
                    "nightly-mismatch",
                    f"nightly={reg.nightly} but suite '{suite.name}' runs {suite.trigger}; "
                    "sglang's run_suite.py would never run it "
                    + (
                        "(cigen skips it too: mismatched_nightly: skip)"
                        if suite.mismatched_nightly == "skip"
                        else "(cigen runs it by its suite)"
                    ),
                    help=f"set nightly={suite.nightly}",
                )
            )
        if reg.runner_config is not None:
            pool = config.runner_configs.get(reg.runner_config)
            if pool is not None and pool not in suite.pools:
                problems.append(
                    _warning(
                        reg.path,
                        reg.line,
                        "pool-mismatch",
                        f"runner_config '{reg.runner_config}' means pool '{pool}', but suite "
                        f"'{suite.name}' runs on {', '.join(suite.pools)}",
                    )
                )
    return problems


def check_unrun(config: Config, scan: TreeScan) -> list[Problem]:
    """Registrations whose suite no job runs, and configured suites with nothing in them."""
    problems = []
    by_suite: dict[str, list[Registration]] = defaultdict(list)
    for reg in planned_registrations(config, scan):
        by_suite[reg.suite].append(reg)
    for suite in config.suites.values():
        members = by_suite.get(suite.name, [])
        if not suite.enabled and members:
            why = "it is disabled in the config"
            for reg in members:
                problems.append(
                    _warning(
                        reg.path,
                        reg.line,
                        "suite-not-run",
                        f"suite '{suite.name}' has no job: {why}; this registration never runs",
                    )
                )
        elif suite.enabled and not members:
            problems.append(
                _warning(
                    config.source,
                    suite.line,
                    "empty-suite",
                    f"suite '{suite.name}' has no enabled registrations; no job is generated",
                )
            )
    return problems


def check_duplicates(config: Config, scan: TreeScan) -> list[Problem]:
    problems = []
    seen: Counter = Counter()
    for reg in scan.registrations:
        key = (reg.path, reg.backend, reg.suite)
        seen[key] += 1
        if seen[key] == 2:
            problems.append(
                _error(
                    reg.path,
                    reg.line,
                    "duplicate-registration",
                    f"{reg.backend} suite '{reg.suite}' is registered more than once in this file",
                )
            )
    return problems


def check_groups(config: Config, scan: TreeScan) -> list[Problem]:
    problems = []
    members: dict[str, set[str]] = defaultdict(set)
    for reg in planned_registrations(config, scan):
        members[reg.suite].add(reg.path)
    for suite in config.suites.values():
        for group in suite.groups:
            for path in group:
                if path not in members[suite.name]:
                    problems.append(
                        _error(
                            config.source,
                            suite.line,
                            "group-member-missing",
                            f"suite '{suite.name}': group member '{path}' is not an enabled registration of this suite",
                        )
                    )
    return problems


def lint(config: Config, scan: TreeScan, extra_checks: Iterable[LintCheck] = ()) -> list[Problem]:
    """All problems: the scan's, then each check's; sorted by file and line. A tree with no test
    file at all gets that one finding: every other would only be a consequence of it."""
    empty = check_tree(config, scan)
    if empty:
        return sorted([*scan.problems, *empty])
    problems = list(scan.problems)
    for check in (*BUILTIN_CHECKS, *extra_checks):
        problems.extend(check(config, scan))
    return sorted(problems)


def counts_by_code(problems: Iterable[Problem]) -> list[tuple[str, str, int]]:
    """(severity, code, count), errors first, then by count."""
    counts = Counter((p.severity.value, p.code) for p in problems)
    return sorted(((sev, code, n) for (sev, code), n in counts.items()), key=lambda t: (t[0] != "error", -t[2], t[1]))


def check_model_tests(config: Config, scan: TreeScan) -> list[Problem]:
    """A model test must be a registered test file (else its job runs a file no suite declares),
    and one that no enabled suite runs is reported too."""
    problems = []
    registered = {r.path for r in scan.registrations if r.backend in config.backends}
    running = {
        r.path
        for r in planned_registrations(config, scan)
        if r.suite in config.suites and config.suites[r.suite].enabled
    }
    for test in sorted(config.model_tests.values(), key=lambda t: t.path):
        if test.path not in registered:
            problems.append(
                _error(
                    config.source,
                    test.line,
                    "model-test-unregistered",
                    f"model test '{test.path}' is not a registered test file",
                    help='register it, e.g. register_cuda_ci(est_time=150, suite="nightly-1-gpu", nightly=True)',
                )
            )
        elif test.path not in running:
            problems.append(
                _warning(
                    config.source,
                    test.line,
                    "model-test-not-run",
                    f"model test '{test.path}' has no enabled registration in an enabled suite; nothing runs it",
                )
            )
        elif config.workflows.action is None:
            problems.append(
                _warning(
                    config.source,
                    test.line,
                    "model-test-without-action",
                    f"model test '{test.path}' runs in its suite's shards like any file: no workflows.action "
                    "to size --mem-fraction-static for the card",
                    help="set workflows.action to cigen's action, OWNER/cigen@<40-hex sha> with action_version",
                )
            )
    return problems


def _is_cigens_own_repository(root: Path) -> bool:
    """The root's pyproject.toml declares the project `cigen` (where `.` installs cigen)."""
    try:
        text = (root / "pyproject.toml").read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return False
    return re.search(r'^\[project\][^\[]*^name\s*=\s*"cigen"\s*$', text, re.MULTILINE | re.DOTALL) is not None


def check_cigen_sources(config: Config, scan: TreeScan) -> list[Problem]:
    """What jobs install or use of cigen must be there and be immutable in this repository:
    `.` only in cigen's own, `./` only beside an action.yml, every requirement hash-pinned."""
    settings, root, problems = config.workflows, scan.root, []
    if settings.cigen_package == "." and not _is_cigens_own_repository(root):
        problems.append(
            _error(
                config.source,
                config.line("workflows", "cigen_package"),
                "mutable-cigen-package",
                "workflows.cigen_package '.' installs this repository, which is not cigen",
                help="pin cigen by commit: git+https://github.com/OWNER/cigen@<40-hex sha>",
            )
        )
    if settings.action is not None and settings.action.startswith("./"):
        action_dir = root / settings.action
        if not (action_dir / "action.yml").is_file() and not (action_dir / "action.yaml").is_file():
            problems.append(
                _error(
                    config.source,
                    config.line("workflows", "action"),
                    "action-not-found",
                    f"workflows.action {settings.action!r}: there is no action.yml there in {root}",
                    help="reference cigen's action by commit: OWNER/cigen@<40-hex sha> with action_version",
                )
            )
    if settings.cigen_requirements is not None:
        problems.extend(_unhashed_requirements(root / settings.cigen_requirements, settings.cigen_requirements))
    return problems


def _unhashed_requirements(path: Path, shown: str) -> list[Problem]:
    """Every requirement of a --require-hashes file carries --hash=sha256: (lines joined where
    they end with a backslash; options such as --index-url are not requirements)."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        return [_error(shown, 0, "requirements-unreadable", f"cannot read workflows.cigen_requirements: {error}")]
    problems, line_number = [], 1
    for logical in re.split(r"(?<!\\)\n", text):
        requirement = logical.replace("\\\n", " ").split(" #", 1)[0].strip()
        if requirement and not requirement.startswith(("#", "-")) and "--hash=sha256:" not in requirement:
            problems.append(
                _error(
                    shown,
                    line_number,
                    "requirement-unhashed",
                    f"{requirement.split()[0]} has no --hash=sha256: (pip install --require-hashes refuses it)",
                    help="generate the file with pip-compile --generate-hashes",
                )
            )
        line_number += logical.count("\n") + 1
    return problems


def file_timeout_check(est_seconds_of: Callable[[Registration], float]) -> LintCheck:
    """A file expected to run longer than its suite's per-file timeout would be killed every time."""

    def check_file_timeouts(config: Config, scan: TreeScan) -> list[Problem]:
        problems = []
        for reg in planned_registrations(config, scan):
            suite = config.suites.get(reg.suite)
            if suite is None or not suite.enabled:
                continue
            seconds = est_seconds_of(reg)
            if seconds > suite.per_file_timeout_seconds:
                problems.append(
                    _warning(
                        reg.path,
                        reg.line,
                        "est-over-file-timeout",
                        f"{seconds:g}s expected, but suite '{suite.name}' stops a file after "
                        f"{suite.per_file_timeout_seconds}s (per_file_timeout_seconds)",
                        help="raise per_file_timeout_seconds for the suite, or split the file",
                    )
                )
        return problems

    return check_file_timeouts


def check_model_job_ids(config: Config, placements: Iterable[PlacedModelTest]) -> list[Problem]:
    """A model-test job (`<suite>-models-<pool>`) must not take a suite's job id."""
    taken = {job_id(suite.name): suite.name for suite in config.suites.values() if suite.enabled}
    problems = []
    for ident, placed in sorted(
        {model_job_id(p.suite.name, pool.name): p for p in placements for pool in p.pools}.items()
    ):
        if ident in taken or ident in RESERVED_JOBS:
            problems.append(
                _error(
                    config.source,
                    placed.test.line,
                    "job-id-clash",
                    f"model test '{placed.test.path}' would run in job '{ident}', the id of "
                    f"{'suite ' + repr(taken[ident]) if ident in taken else 'a job cigen adds'}",
                    help="rename the suite or the pool",
                )
            )
    return problems


def check_ci_paths(config: Config, scan: TreeScan) -> list[Problem]:
    """A pull-request path filter that leaves out the files defining the CI: cigen adds them anyway
    (a change to the CI always runs it), but the config should say what happens."""
    paths = config.workflows.pull_requests.paths
    ci_files = ("cigen.yml", f".github/workflows/{config.workflows.file_name('per-commit')}", PLAN_PATH)
    missing = [path for path in ci_files if not path_filter_matches(paths, path)] if paths else []
    if not missing:
        return []
    return [
        _warning(
            config.source,
            config.line("workflows", "pull_requests", "paths"),
            "ci-files-outside-paths",
            f"workflows.pull_requests.paths leaves out {', '.join(missing)}: a pull request changing only the CI "
            "would run none of it, so cigen adds cigen.yml, its workflows and .github/cigen/** to the gate",
            help='list them to say so: "cigen.yml", ".github/workflows/cigen-*.yml", ".github/cigen/**"',
        )
    ]


BUILTIN_CHECKS: tuple[LintCheck, ...] = (
    check_ci_paths,
    check_suites,
    check_unrun,
    check_duplicates,
    check_groups,
    check_model_tests,
    check_cigen_sources,
)
