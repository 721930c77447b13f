"""Helpers every command shares: inputs, options, error reporting, tables."""

from __future__ import annotations

import functools
import sys
from dataclasses import dataclass
from pathlib import Path

import click

from generator.cache import ScanCache, default_cache_dir
from generator.config import load_config
from generator.errors import EXIT_USER_ERROR, Problem, ProblemReport, UserError, plural
from generator.memory.lint import check_memory_fit
from generator.model import Config
from generator.timings.lint import est_time_check
from generator.timings.store import Timings
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
def format_table(header: tuple[str, ...], rows: list[tuple]) -> str:
    """Left-aligned columns, widths from the content."""
    cells = [tuple(str(c) for c in header)] + [tuple(str(c) for c in row) for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip() for row in cells]
    lines.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(lines)


def extra_lint_checks(timings: Timings | None = None) -> list:
    """Checks from later pipeline steps (timings, memory), registered here."""
    return ([est_time_check(timings)] if timings is not None else []) + [check_memory_fit]


