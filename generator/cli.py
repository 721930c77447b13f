"""The `cigen` command line: options -> typed values -> one call per command.

User mistakes (UserError, ProblemReport) print `path:line: code: message` lines and exit 2
with no traceback; anything else is a bug and shows its traceback.
"""

from __future__ import annotations

import functools
import json
import sys
from dataclasses import dataclass
from pathlib import Path

import click

from generator import __version__
from generator.atomic import write_text_atomic
from generator.backtest import OWN_COUNTS, backtest, sglang_figures
from generator.backtest_report import (
    backtest_json,
    data_notes,
    estimator_rows,
    overall_rows,
    pipeline_rows,
    sglang_note,
    speed_note,
    suite_rows,
    verdict_counts,
)
from generator.cache import ScanCache, default_cache_dir
from generator.calibrate import calibrate
from generator.config import load_config
from generator.errors import EXIT_USER_ERROR, Problem, ProblemReport, UserError, plural
from generator.estimators import DEFAULT_ESTIMATOR, ESTIMATORS
from generator.forecast import score_estimators, speed_spread
from generator.history import read_history
from generator.lint import counts_by_code, lint, planned_registrations
from generator.measure import read_measurements
from generator.model import Config
from generator.timing_lint import est_time_check
from generator.timings import Timings, load_timings, timings_text
from generator.tree import TreeScan, scan_tree


def print_problems(problems: list[Problem]) -> None:
    for problem in problems:
        click.echo(problem.format(), err=True)


def reports_user_errors(command):
    """Turn user-facing errors into messages and exit code 2."""

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        try:
            return command(*args, **kwargs)
        except UserError as error:
            click.echo(error.problem.format(), err=True)
            sys.exit(EXIT_USER_ERROR)
        except ProblemReport as report:
            print_problems(report.problems)
            click.echo(report.summary, err=True)
            sys.exit(EXIT_USER_ERROR)

    return wrapper


@dataclass(frozen=True)
class Inputs:
    """What every command starts from: the config and a scan of the tree."""

    root: Path
    config: Config
    scan: TreeScan


def read_inputs(root: Path, config_path: Path | None, use_cache: bool) -> Inputs:
    if not root.is_dir():
        raise UserError(str(root), 0, "no-root", "not a directory")
    config = load_config(config_path, root)
    cache = ScanCache(default_cache_dir()) if use_cache else None
    scan = scan_tree(root, config.include, config.exclude, cache)
    return Inputs(root, config, scan)


def require_clean_scan(inputs: Inputs, what: str = "nothing written") -> None:
    """Stop with every scan error; warnings are printed and do not stop."""
    errors = inputs.scan.errors
    print_problems(inputs.scan.warnings)
    if errors:
        raise ProblemReport(errors, f"{plural(len(errors), 'error')} in {plural(len(inputs.scan.files), 'file')}; {what}.")


def input_options(command):
    """--root, --config and --no-cache, shared by every command that reads the tree."""
    command = click.option("--no-cache", is_flag=True, help="Scan every file; ignore and keep the scan cache.")(command)
    command = click.option(
        "--config",
        "config_path",
        type=click.Path(dir_okay=False, path_type=Path),
        help="cigen.yml to use (default: ROOT/cigen.yml, else the embedded sglang default).",
    )(command)
    command = click.option(
        "--root",
        type=click.Path(file_okay=False, path_type=Path),
        default=Path("."),
        show_default=True,
        help="Repository root the test globs are relative to.",
    )(command)
    return command


FORMAT = click.option(
    "--format", "fmt", type=click.Choice(["json", "table"]), default="table", show_default=True, help="Output format."
)


# A fixed help width: the same text in a terminal, a pipe and CliRunner, whatever the command names.
@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100, "terminal_width": 100})
@click.version_option(__version__, prog_name="cigen")
def cli() -> None:
    """Plan and generate GitHub Actions CI for GPU-heavy Python test suites."""


@cli.command()
@input_options
@FORMAT
@reports_user_errors
def scan(root: Path, config_path: Path | None, no_cache: bool, fmt: str) -> None:
    """List every CI registration in the tree (parsed, never imported)."""
    inputs = read_inputs(root, config_path, not no_cache)
    require_clean_scan(inputs, "nothing printed")
    registrations = inputs.scan.registrations
    if fmt == "json":
        click.echo(json.dumps([r.to_json() for r in registrations], indent=2))
        return
    rows = [
        (f"{r.path}:{r.line}", r.backend, r.suite, f"{r.est_seconds:g}", "yes" if r.nightly else "", r.disabled or "")
        for r in registrations
    ]
    click.echo(format_table(("file", "backend", "suite", "est_s", "nightly", "disabled"), rows))
    click.echo(f"{plural(len(registrations), 'registration')} in {plural(len(inputs.scan.files), 'file')}")


@cli.command("lint")
@input_options
@click.option("--strict", is_flag=True, help="Exit 2 on warnings too.")
@click.option(
    "--timings",
    "timings_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Timings file from `cigen calibrate`: warn where est_time is far from measured.",
)
@reports_user_errors
def lint_command(root: Path, config_path: Path | None, no_cache: bool, strict: bool, timings_path: Path | None) -> None:
    """Check registrations against the config: scan errors plus model-level checks."""
    timings = load_timings(timings_path) if timings_path else None
    inputs = read_inputs(root, config_path, not no_cache)
    problems = lint(inputs.config, inputs.scan, extra_lint_checks(timings))
    print_problems(problems)
    errors = sum(p.is_error for p in problems)
    warnings = len(problems) - errors
    click.echo(
        f"{plural(errors, 'error')}, {plural(warnings, 'warning')} in {plural(len(inputs.scan.files), 'file')}",
        err=True,
    )
    for severity, code, count in counts_by_code(problems):
        click.echo(f"  {count:5d}  {severity:7s} {code}", err=True)
    if errors or (strict and warnings):
        sys.exit(EXIT_USER_ERROR)


INPUT_FILE = click.Path(dir_okay=False, path_type=Path)
ESTIMATOR = click.option(
    "--estimator",
    type=click.Choice(list(ESTIMATORS)),
    default=DEFAULT_ESTIMATOR,
    show_default=True,
    help="How a file's samples become one estimate (`cigen backtest` scores them all).",
)
HISTORY_HELP = "sglang-ci-stats run history: a runs/ folder, the folder holding it, or run *.json files."


@cli.command("calibrate")
@input_options
@click.option("--history", "history_paths", multiple=True, type=click.Path(path_type=Path), help=HISTORY_HELP)
@click.option("--junit", "junit_paths", multiple=True, type=INPUT_FILE, help="JUnit XML report; one sample per file per report.")
@click.option(
    "--durations", "duration_paths", multiple=True, type=INPUT_FILE, help="Duration log: 'PATH SECONDS' or 'SUITE PATH SECONDS' a line."
)
@click.option("--partition-model", type=INPUT_FILE, help="sglang-ci-stats model.json: its p90s, for files without samples.")
@ESTIMATOR
@click.option("--out", "-o", "out_path", required=True, type=INPUT_FILE, help="Timings file to write.")
@reports_user_errors
def calibrate_command(
    root: Path,
    config_path: Path | None,
    no_cache: bool,
    history_paths: tuple[Path, ...],
    junit_paths: tuple[Path, ...],
    duration_paths: tuple[Path, ...],
    partition_model: Path | None,
    estimator: str,
    out_path: Path,
) -> None:
    """Write a timings file (for plan/lint --timings) from measured durations."""
    inputs = read_inputs(root, config_path, not no_cache)
    require_clean_scan(inputs)
    registrations = planned_registrations(inputs.config, inputs.scan)
    measurements = read_measurements(
        history_paths,
        junit_paths,
        duration_paths,
        partition_model,
        known_paths={r.path for r in inputs.scan.registrations},
        suites=set(inputs.config.suites),
        backends=inputs.config.backends,
    )
    sources = [str(p) for p in (*history_paths, *junit_paths, *duration_paths, *([partition_model] if partition_model else []))]
    timings, report = calibrate(measurements, registrations, estimator, sources)
    write_text_atomic(out_path, timings_text(timings))
    click.echo(f"wrote {out_path}: {plural(report.measured, 'file estimate')} from {plural(report.samples, 'sample')} ({estimator})")
    click.echo(f"  measured, not registered now (renamed or deleted): {len(report.unregistered)}")
    for suite, path in report.unregistered:
        click.echo(f"    {suite} {path}")
    click.echo(f"  registered, never measured (est_time x suite ratio): {len(report.unmeasured)}")
    for reason, count in report.skipped:
        click.echo(f"  skipped: {reason}: {count}")
    rows = [
        (runner, t.samples, f"{t.seconds:.0f}", f"{t.median:.0f}", f"{t.p90:.0f}")
        for runner, t in sorted(timings.setup_by_runner.items())
        if t.median is not None and t.p90 is not None
    ]
    if rows:
        click.echo()
        click.echo(format_table(("runner", "jobs", "setup mean s", "median s", "p90 s"), rows))


@cli.command("backtest")
@input_options
@click.option("--history", "history_paths", multiple=True, required=True, type=click.Path(path_type=Path), help=HISTORY_HELP)
@ESTIMATOR
@click.option("--min-history", default=1, show_default=True, type=click.IntRange(1), help="Judge runs with at least this many runs before them.")
@FORMAT
@reports_user_errors
def backtest_command(
    root: Path, config_path: Path | None, no_cache: bool, history_paths: tuple[Path, ...], estimator: str, min_history: int, fmt: str
) -> None:
    """Judge plans made from earlier runs by each run's real durations."""
    inputs = read_inputs(root, config_path, not no_cache)
    require_clean_scan(inputs, "nothing done")
    registrations = planned_registrations(inputs.config, inputs.scan)
    runs = read_history(history_paths)
    if len(runs) <= min_history:
        raise UserError(str(history_paths[0]), 0, "history-too-short", f"{plural(len(runs), 'run')}: need more than --min-history={min_history}")
    result = backtest(runs, inputs.config, registrations, estimator, min_history)
    scores = score_estimators(runs, inputs.config, registrations, list(ESTIMATORS), min_history)
    sglang = sglang_figures(runs, inputs.config.backends)
    if fmt == "json":
        click.echo(json.dumps(backtest_json(result, inputs.config, scores, sglang), indent=2, sort_keys=True))
        return
    sections = [
        (f"Per suite (median imbalance = max/mean shard test time; estimator {estimator})", suite_rows(result)),
        ("Overall", overall_rows(result)),
        ("Pipeline wall-clock (critical path through needs)", pipeline_rows(result, inputs.config)),
        ("Which estimator predicts the next run", estimator_rows(scores, estimator)),
    ]
    for title, (header, rows) in sections:
        click.echo(f"{title}\n\n{format_table(header, rows)}\n")
    for variant in OWN_COUNTS:
        verdicts = verdict_counts(result, variant)
        click.echo(f"{variant} wall-clock vs sglang per suite-run: {', '.join(f'{k} {v}' for k, v in verdicts.items())}")
    click.echo(sglang_note(sglang, len(runs)))
    click.echo(speed_note(speed_spread(runs, inputs.config.backends)))
    for note in data_notes(result):
        click.echo(note)


def extra_lint_checks(timings: Timings | None = None) -> list:
    """Checks from later pipeline steps (timings, memory), registered here."""
    return [est_time_check(timings)] if timings is not None else []


def format_table(header: tuple[str, ...], rows: list[tuple]) -> str:
    """Left-aligned columns, widths from the content."""
    cells = [tuple(str(c) for c in header)] + [tuple(str(c) for c in row) for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip() for row in cells]
    lines.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(lines)


def main() -> None:
    cli(prog_name="cigen")
