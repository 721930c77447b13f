"""Model-level checks: registrations against the config's suites and pools.

Everything `scan` reports comes first; these add what only the config can tell: unknown
suites, `nightly=` flags that contradict the suite's trigger, files too long for a shard,
suites no job runs, duplicate registrations, and groups naming files that are not there.
"""

from __future__ import annotations

import difflib
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable

from generator.errors import Problem, Severity
from generator.model import Config, Registration
from generator.tree import TreeScan

# Extra checks other steps plug in (timings vs estimates, GPU-memory fit): each takes the
# config and the scan and yields problems.
LintCheck = Callable[[Config, TreeScan], Iterable[Problem]]


def _warning(path: str, line: int, code: str, message: str, help: str | None = None) -> Problem:
    return Problem(path, line, code, message, Severity.WARNING, help)


def _error(path: str, line: int, code: str, message: str, help: str | None = None) -> Problem:
    return Problem(path, line, code, message, Severity.ERROR, help)


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
                    f"sglang's run_suite.py would never run it (cigen runs it by its suite)",
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


def check_budgets(config: Config, scan: TreeScan, seconds_of: Callable[[Registration], float] | None = None) -> list[Problem]:
    """A file longer than its suite's shard budget would make a shard that cannot fit."""
    seconds_of = seconds_of or (lambda reg: reg.est_seconds)
    problems = []
    for reg in planned_registrations(config, scan):
        suite = config.suites.get(reg.suite)
        if suite is None or not suite.enabled:
            continue
        seconds = seconds_of(reg)
        if seconds > suite.shard_budget_minutes * 60:
            problems.append(
                _error(
                    reg.path,
                    reg.line,
                    "over-shard-budget",
                    f"{seconds:g}s is longer than suite '{suite.name}' allows one shard "
                    f"({suite.shard_budget_minutes:g} min = {suite.shard_budget_minutes * 60:g}s)",
                    help="split the file, or raise shard_budget_minutes (and step_timeout_minutes) for the suite",
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
                    _warning(reg.path, reg.line, "suite-not-run", f"suite '{suite.name}' has no job: {why}; this registration never runs")
                )
        elif suite.enabled and not members:
            problems.append(
                _warning(config.source, suite.line, "empty-suite", f"suite '{suite.name}' has no enabled registrations; no job is generated")
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
                _error(reg.path, reg.line, "duplicate-registration", f"{reg.backend} suite '{reg.suite}' is registered more than once in this file")
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
                        _error(config.source, suite.line, "group-member-missing", f"suite '{suite.name}': group member '{path}' is not an enabled registration of this suite")
                    )
    return problems


BUILTIN_CHECKS: tuple[LintCheck, ...] = (check_suites, check_budgets, check_unrun, check_duplicates, check_groups)


def lint(config: Config, scan: TreeScan, extra_checks: Iterable[LintCheck] = ()) -> list[Problem]:
    """All problems: the scan's, then each check's; sorted by file and line."""
    problems = list(scan.problems)
    for check in (*BUILTIN_CHECKS, *extra_checks):
        problems.extend(check(config, scan))
    return sorted(problems)


def counts_by_code(problems: Iterable[Problem]) -> list[tuple[str, str, int]]:
    """(severity, code, count), errors first, then by count."""
    counts = Counter((p.severity.value, p.code) for p in problems)
    return sorted(((sev, code, n) for (sev, code), n in counts.items()), key=lambda t: (t[0] != "error", -t[2], t[1]))
