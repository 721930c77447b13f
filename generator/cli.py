"""The `cigen` command line: options -> typed values -> one call per command.

User mistakes (UserError, ProblemReport) print `path:line: code: message` lines and exit 2
with no traceback; anything else is a bug and shows its traceback.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import sys
from dataclasses import dataclass
from pathlib import Path

import click

from generator import __version__
from generator.cache import ScanCache, default_cache_dir
from generator.config import load_config
from generator.errors import EXIT_USER_ERROR, Problem, ProblemReport, UserError, plural
from generator.lint import counts_by_code, lint
from generator.model import Config, Plan
from generator.plan import DEFAULT_TOLERANCE, plan, plan_to_json, pool_totals, with_measured_setup
from generator.plan_file import diff_plans, format_diff, read_plan_file, shards_by_suite
from generator.timings import load_timings
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


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
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
@reports_user_errors
def lint_command(root: Path, config_path: Path | None, no_cache: bool, strict: bool) -> None:
    """Check registrations against the config: scan errors plus model-level checks."""
    inputs = read_inputs(root, config_path, not no_cache)
    problems = lint(inputs.config, inputs.scan, extra_lint_checks())
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


PLAN_FILE = click.Path(dir_okay=False, path_type=Path)


@cli.command("plan")
@input_options
@FORMAT
@click.option("--timings", "timings_path", type=PLAN_FILE, help="Measured durations (from `cigen calibrate`); est_time elsewhere.")
@click.option("--previous", "previous_path", type=PLAN_FILE, help="An earlier plan JSON: keep files in their shards where the makespan allows.")
@click.option(
    "--tolerance",
    type=click.FloatRange(min=0),
    default=DEFAULT_TOLERANCE,
    show_default=True,
    help="With --previous: how far over the lower bound (fraction) a kept-in-place split may be.",
)
@click.option("--diff", "diff_path", type=PLAN_FILE, help="Show which files moved relative to this plan JSON instead of the plan.")
@reports_user_errors
def plan_command(
    root: Path,
    config_path: Path | None,
    no_cache: bool,
    fmt: str,
    timings_path: Path | None,
    previous_path: Path | None,
    tolerance: float,
    diff_path: Path | None,
) -> None:
    """Split every suite into time-balanced shards: pools, shard counts, files, cost."""
    inputs = read_inputs(root, config_path, not no_cache)
    require_clean_scan(inputs, "nothing planned")
    config, seconds_of = inputs.config, None
    if timings_path is not None:
        timings = load_timings(timings_path)
        config, seconds_of = with_measured_setup(config, timings.setup_minutes), timings.seconds_of
    previous = shards_by_suite(read_plan_file(previous_path)) if previous_path is not None else None
    old = read_plan_file(diff_path) if diff_path is not None else None
    result = plan(config, inputs.scan.registrations, seconds_of, previous=previous, tolerance=tolerance)
    print_problems(list(result.problems))
    if old is not None:
        diffs = diff_plans(old, plan_to_json(result))
        if fmt == "json":
            click.echo(json.dumps([dataclasses.asdict(d) for d in diffs], indent=2))
        else:
            click.echo("\n".join(format_diff(diffs)))
    elif fmt == "json":
        click.echo(json.dumps(plan_to_json(result), indent=2))
    else:
        click.echo(format_plan_table(result))


def format_plan_table(result: Plan) -> str:
    """Per suite, then per pool: what `cigen plan --format table` prints."""
    suites = [
        (
            sp.suite.name,
            ",".join(p.name for p in sp.pools),
            sp.files,
            len(sp.shards),
            f"{sp.makespan_seconds / 60:.1f}",
            f"{sp.lpt_makespan_seconds / 60:.1f}",
            f"{sp.lower_bound_seconds / 60:.1f}",
            f"{sp.makespan_seconds / sp.lower_bound_seconds:.4f}",
            "yes" if sp.optimal else "",
            f"{sp.wall_minutes:.1f}",
            f"{sp.runner_minutes:.1f}",
            f"{sp.gpu_minutes:.1f}",
        )
        for sp in result.suites
    ]
    header = ("suite", "pool", "files", "shards", "makespan_min", "lpt_min", "bound_min", "vs_bound", "optimal", "wall_min", "runner_min", "gpu_min")
    totals = pool_totals(result)
    pools = [
        (t.pool.name, t.pool.gpus, t.jobs, f"{t.setup_minutes:.1f}", f"{t.runner_minutes:.1f}", f"{t.gpu_minutes:.1f}")
        for t in totals
    ]
    runner = sum(t.runner_minutes for t in totals)
    setup = sum(t.setup_minutes for t in totals)
    summary = (
        f"{plural(len(result.suites), 'suite')}, {plural(sum(t.jobs for t in totals), 'job')}: "
        f"{runner:,.1f} runner-minutes ({setup:,.1f} of them setup), {sum(t.gpu_minutes for t in totals):,.1f} GPU-minutes"
    )
    return "\n".join(
        [
            format_table(header, suites),
            "",
            format_table(("pool", "gpus", "jobs", "setup_min", "runner_min", "gpu_min"), pools),
            "",
            summary,
        ]
    )


def extra_lint_checks() -> list:
    """Checks from later pipeline steps (timings, memory), registered here."""
    return []


def format_table(header: tuple[str, ...], rows: list[tuple]) -> str:
    """Left-aligned columns, widths from the content."""
    cells = [tuple(str(c) for c in header)] + [tuple(str(c) for c in row) for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip() for row in cells]
    lines.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(lines)


def main() -> None:
    cli(prog_name="cigen")
