"""render and check: write the generated files, or compare them with the disk."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from generator.cli.common import format_table, input_options, print_problems, reports_user_errors, timings_option
from generator.errors import EXIT_DRIFT, plural


def render_options(command):
    """--timings, --out, --fresh and --adopt, shared by render and check."""
    command = click.option(
        "--adopt",
        multiple=True,
        type=click.Path(dir_okay=False, path_type=Path),
        help="Replace this hand-written file with cigen's output (repeatable); cigen never replaces one otherwise.",
    )(command)
    command = click.option(
        "--fresh",
        is_flag=True,
        help="Plan from scratch instead of keeping files in the shards the committed plan file lists.",
    )(command)
    command = click.option(
        "--out",
        type=click.Path(file_okay=False, path_type=Path),
        help="The folder every output goes under (default: ROOT/.github): workflows/, cigen/, actionlint.yaml.",
    )(command)
    return timings_option(command)


def request(
    root: Path,
    config_path: Path | None,
    no_cache: bool,
    timings_path: Path | None,
    out: Path | None,
    fresh: bool,
    adopt: tuple[Path, ...],
):
    """The options as a RenderRequest (imported here: `cigen --help` does not load render/)."""
    from generator.render.repository import RenderRequest

    return RenderRequest(root, config_path, not no_cache, timings_path, out, fresh, adopt)


@click.command("render")
@input_options
@render_options
@reports_user_errors
def render(
    root: Path,
    config_path: Path | None,
    no_cache: bool,
    timings_path: Path | None,
    out: Path | None,
    fresh: bool,
    adopt: tuple[Path, ...],
) -> None:
    """Write the CI workflows from the tests and the config.

    Scans the registered tests, plans each suite's shards and renders the workflows, the plan
    file, the shard runner and the gate (and actionlint.yaml). Every file is rendered and
    validated before any is written; each write is atomic; a file cigen did not generate is
    never replaced.
    """
    from generator.render.files import write_generated
    from generator.render.repository import render_repository

    rendered = render_repository(
        request(root, config_path, no_cache, timings_path, out, fresh, adopt), "nothing written"
    )
    print_problems(rendered.warnings)
    result = write_generated(rendered.files, rendered.github_dir)
    rows = [(path, "written" if path in result.changed else "unchanged") for path in sorted(rendered.files)]
    rows += [(path, "removed (no longer generated)") for path in result.removed]
    click.echo(format_table(("file", "status"), rows))
    for note in rendered.not_rendered:
        click.echo(f"not rendered: {note}")


@click.command("check")
@input_options
@render_options
@reports_user_errors
def check(
    root: Path,
    config_path: Path | None,
    no_cache: bool,
    timings_path: Path | None,
    out: Path | None,
    fresh: bool,
    adopt: tuple[Path, ...],
) -> None:
    """Fail with a diff when the generated files are stale.

    Renders in memory and compares with the files on disk: exit 0 when they match, exit 1
    with a unified diff (and the command that regenerates them) when they do not.
    """
    from generator.render.check import find_drift
    from generator.render.repository import render_repository

    rendered = render_repository(
        request(root, config_path, no_cache, timings_path, out, fresh, adopt), "nothing checked"
    )
    print_problems(rendered.warnings)
    drift = find_drift(rendered.files, rendered.github_dir, root)
    if not drift:
        click.echo(f"{plural(len(rendered.files), 'generated file')} up to date.")
        return
    for item in drift:
        click.echo(item.diff, nl=False)
    click.echo(f"{plural(len(drift), 'generated file')} out of date:", err=True)
    for item in drift:
        click.echo(f"  {item.path} ({item.state})", err=True)
    fix = rendered.regenerate if out is None else f"cigen render --out {out}"
    click.echo(f"  fix: {fix}", err=True)
    sys.exit(EXIT_DRIFT)
