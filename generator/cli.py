"""The `cigen` command line: options -> typed values -> one call per command.

User mistakes (UserError, ProblemReport) print `path:line: code: message` lines and exit 2
with no traceback; anything else is a bug and shows its traceback.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path

import click

from generator import __version__
from generator.cache import ScanCache, default_cache_dir
from generator.config import load_config
from generator.check import find_drift
from generator.errors import EXIT_DRIFT, EXIT_USER_ERROR, Problem, ProblemReport, UserError, plural
from generator.lint import check_suites, counts_by_code, lint
from generator.model import Config
from generator.render import output_files, prepare, render_outputs, write_generated
from generator.run_shard import run_shard
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


def render_options(command):
    """--timings and --out, shared by render and check."""
    command = click.option(
        "--out",
        type=click.Path(file_okay=False, path_type=Path),
        help="Workflows folder (default: ROOT/.github/workflows); actionlint.yaml goes to its parent.",
    )(command)
    command = click.option(
        "--timings",
        "timings_path",
        type=click.Path(dir_okay=False, path_type=Path),
        help="Measured durations (from `cigen calibrate`) to plan with instead of est_time.",
    )(command)
    return command


@dataclass(frozen=True)
class RenderedFiles:
    """Every generated file's fresh text, by where it belongs on disk."""

    files: dict[Path, str]
    workflows_dir: Path
    regenerate: str  # the command that rewrites them


def render_files(root: Path, config_path: Path | None, no_cache: bool, timings_path: Path | None, out: Path | None, what: str) -> RenderedFiles:
    """Scan, refuse registrations no job would run, plan, render: nothing touches the disk."""
    inputs = read_inputs(root, config_path, not no_cache)
    require_clean_scan(inputs, what)
    unplaced = [p for p in check_suites(inputs.config, inputs.scan) if p.is_error]
    if unplaced:
        raise ProblemReport(unplaced, f"{plural(len(unplaced), 'error')} in {plural(len(inputs.scan.files), 'file')}; {what}.")
    seconds_of = load_timings(timings_path).seconds_of if timings_path else None
    rendered = render_outputs(prepare(inputs.config, inputs.scan.registrations, seconds_of))
    workflows_dir = out if out is not None else root / ".github" / "workflows"
    return RenderedFiles(output_files(rendered, workflows_dir), workflows_dir, inputs.config.workflows.regenerate)


@cli.command()
@input_options
@render_options
@reports_user_errors
def render(root: Path, config_path: Path | None, no_cache: bool, timings_path: Path | None, out: Path | None) -> None:
    """Write the CI workflows from the tests and the config.

    Scans the registered tests, plans each suite's shards and renders the workflows (and
    actionlint.yaml) from templates/. Every file is rendered and validated before any is
    written; each write is atomic.
    """
    rendered = render_files(root, config_path, no_cache, timings_path, out, "nothing written")
    result = write_generated(rendered.files, rendered.workflows_dir)
    rows = [(path, "written" if path in result.changed else "unchanged") for path in sorted(rendered.files)]
    rows += [(path, "removed (no longer generated)") for path in result.removed]
    click.echo(format_table(("file", "status"), rows))


@cli.command()
@input_options
@render_options
@reports_user_errors
def check(root: Path, config_path: Path | None, no_cache: bool, timings_path: Path | None, out: Path | None) -> None:
    """Fail with a diff when the generated files are stale.

    Renders in memory and compares with the files on disk: exit 0 when they match, exit 1
    with a unified diff (and the command that regenerates them) when they do not.
    """
    rendered = render_files(root, config_path, no_cache, timings_path, out, "nothing checked")
    drift = find_drift(rendered.files, rendered.workflows_dir)
    if not drift:
        click.echo(f"{plural(len(rendered.files), 'generated file')} up to date.")
        return
    for item in drift:
        click.echo(item.diff, nl=False)
    click.echo(f"{plural(len(drift), 'generated file')} out of date:", err=True)
    for item in drift:
        click.echo(f"  {item.path} ({item.state})", err=True)
    click.echo(f"  fix: {rendered.regenerate}", err=True)
    sys.exit(EXIT_DRIFT)


@cli.command("run-shard")
@click.option("--suite", required=True, help="The suite, for the log and the step summary.")
@click.option("--shard", type=click.IntRange(min=0), required=True, help="The shard's index in its suite.")
@click.option("--files-json", required=True, help='The shard\'s files as a JSON list (the matrix\'s `files`), e.g. \'["test/a.py"]\'.')
@click.option("--per-file-timeout", type=click.IntRange(min=1), required=True, help="Seconds each file may run.")
@click.option("--keep-going", is_flag=True, help="Run every file even after one fails (default: stop at the first).")
@click.option("--python", default="python3", show_default=True, help="Interpreter that runs each file.")
@click.option(
    "--root", type=click.Path(file_okay=False, path_type=Path), default=Path("."), show_default=True, help="Folder the files are relative to."
)
@reports_user_errors
def run_shard_command(suite: str, shard: int, files_json: str, per_file_timeout: int, keep_going: bool, python: str, root: Path) -> None:
    """Run one shard's test files (the jobs' entry point).

    Each file runs as `python3 FILE` from --root in its own process group, stopped at the
    per-file timeout; results go to the log and to $GITHUB_STEP_SUMMARY as they finish.
    Exits 1 when a file fails, times out or is missing.
    """
    try:
        files = json.loads(files_json)
    except ValueError as error:
        raise UserError("--files-json", 0, "bad-files-json", f"not JSON: {error}") from None
    if not isinstance(files, list) or not files or not all(isinstance(f, str) and f for f in files):
        raise UserError("--files-json", 0, "bad-files-json", "expected a non-empty JSON list of file paths")
    summary_path = os.environ.get("GITHUB_STEP_SUMMARY")
    with open(summary_path, "a", encoding="utf-8") if summary_path else contextlib.nullcontext() as summary:
        results = run_shard(suite, shard, files, root, per_file_timeout, python, keep_going, summary)
    failed = [r for r in results if not r.passed]
    click.echo(f"{suite} shard {shard}: {len(results) - len(failed)} of {len(results)} files passed", err=True)
    if failed:
        sys.exit(1)


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
