"""scan and lint: read the tree, report registrations and problems."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from generator.cli.common import (
    FORMAT,
    format_table,
    input_options,
    print_problems,
    reports_user_errors,
    stop_on_errors,
)
from generator.errors import EXIT_USER_ERROR, plural


@click.command("scan")
@input_options
@FORMAT
@reports_user_errors
def scan(root: Path, config_path: Path | None, no_cache: bool, fmt: str) -> None:
    """List every CI registration in the tree (parsed, never imported)."""
    from generator.tree import no_test_files, read_tree

    globs, tree = read_tree(root, config_path, not no_cache)
    problems = [*tree.problems, *no_test_files(tree, globs)]  # an empty tree is a wrong root
    stop_on_errors(problems, len(tree.files), "nothing printed")
    registrations = tree.registrations
    if fmt == "json":
        click.echo(json.dumps([r.to_json() for r in registrations], indent=2))
        return
    rows = [
        (f"{r.path}:{r.line}", r.backend, r.suite, f"{r.est_seconds:g}", "yes" if r.nightly else "", r.disabled or "")
        for r in registrations
    ]
    click.echo(format_table(("file", "backend", "suite", "est_s", "nightly", "disabled"), rows))
    click.echo(f"{plural(len(registrations), 'registration')} in {plural(len(tree.files), 'file')}")


@click.command("lint")
@input_options
@click.option("--strict", is_flag=True, help="Exit 2 on warnings too.")
@click.option(
    "--timings",
    "timings_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Timings file from `cigen timings calibrate`: plan with it, and warn where est_time is far from measured.",
)
@reports_user_errors
def lint_command(root: Path, config_path: Path | None, no_cache: bool, strict: bool, timings_path: Path | None) -> None:
    """Check registrations against the config: every finding, one verdict each.

    Everything `plan`, `render` and `check` would report, with the same severity: errors stop
    them, warnings do not.
    """
    from generator.lint import counts_by_code
    from generator.pipeline import build, load_planning_timings, read_inputs

    inputs = read_inputs(root, config_path, not no_cache)
    timings = load_planning_timings(inputs, timings_path)
    problems = build(inputs, timings).problems
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
