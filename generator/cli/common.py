"""Helpers every command shares: options, error reporting, tables. Light on imports: every
command pays for them."""

from __future__ import annotations

import functools
import sys
from collections.abc import Iterable
from pathlib import Path

import click

from generator.errors import EXIT_USER_ERROR, Problem, ProblemReport, UserError, raise_errors


def print_problems(problems: Iterable[Problem]) -> None:
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
            print_problems(report.warnings)
            print_problems(report.problems)
            click.echo(report.summary, err=True)
            sys.exit(EXIT_USER_ERROR)
        except Exception as error:
            # The shipped GitHub client's errors (stdlib only, so not UserErrors); imported here
            # so commands that never call the API do not load urllib.
            from generator.shipped.github_api import GitHubApiError

            if not isinstance(error, GitHubApiError):
                raise
            click.echo(error.problem.format(), err=True)
            sys.exit(EXIT_USER_ERROR)

    return wrapper


def stop_on_errors(problems: Iterable[Problem], files: int, what: str) -> None:
    """Print the warnings, or raise every error at once (exit 2; the warnings print first)."""
    problems = list(problems)
    raise_errors(problems, files, what)
    print_problems(p for p in problems if not p.is_error)


def input_options(command):
    """--root, --config and --no-cache, shared by every command that reads the tree."""
    command = click.option(
        "--no-cache",
        is_flag=True,
        help="Ignore (and keep) the cache: scan every file, plan and compile templates afresh.",
    )(command)
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


def timings_option(command):
    return click.option(
        "--timings",
        "timings_path",
        type=click.Path(dir_okay=False, path_type=Path),
        help="Measured durations (from `cigen timings calibrate`) to plan with instead of est_time.",
    )(command)


API_URL = "https://api.github.com"  # the client's default, without importing urllib for --help


def github_options(command):
    """--repo and --api-url, defaulting to what GitHub Actions sets."""
    command = click.option(
        "--api-url",
        envvar="GITHUB_API_URL",
        default=API_URL,
        show_default=True,
        help="GitHub REST API root ($GITHUB_API_URL).",
    )(command)
    return click.option("--repo", envvar="GITHUB_REPOSITORY", required=True, help="owner/name ($GITHUB_REPOSITORY).")(
        command
    )


def github_client(repo: str, api_url: str):
    """A client whose token comes from $GITHUB_TOKEN only (never from the command line)."""
    import os

    from generator.github.client import GitHub  # urllib: only when a command calls the API

    return GitHub(repo=repo, token=os.environ.get("GITHUB_TOKEN", ""), api_url=api_url)


FORMAT = click.option(
    "--format", "fmt", type=click.Choice(["json", "table"]), default="table", show_default=True, help="Output format."
)


def format_table(header: tuple[str, ...], rows: list[tuple]) -> str:
    """Left-aligned columns, widths from the content."""
    cells = [tuple(str(c) for c in header)] + [tuple(str(c) for c in row) for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip() for row in cells]
    lines.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(lines)
