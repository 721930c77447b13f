"""render, check and run-shard: the generated workflows and what their jobs call."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

import click

from generator.cli.common import format_table, input_options, reports_user_errors, stop_on_errors, timings_option
from generator.errors import EXIT_DRIFT, plural


def render_options(command):
    """--timings, --out and --fresh, shared by render and check."""
    command = click.option(
        "--fresh",
        is_flag=True,
        help="Plan from scratch instead of keeping files in the shards the committed workflows list.",
    )(command)
    command = click.option(
        "--out",
        type=click.Path(file_okay=False, path_type=Path),
        help="Workflows folder (default: ROOT/.github/workflows); actionlint.yaml goes to its parent.",
    )(command)
    return timings_option(command)


@dataclass(frozen=True)
class RenderedFiles:
    """Every generated file's fresh text, by where it belongs on disk."""

    files: dict[Path, str]
    workflows_dir: Path
    regenerate: str  # the command that rewrites them


def render_files(
    root: Path,
    config_path: Path | None,
    no_cache: bool,
    timings_path: Path | None,
    out: Path | None,
    what: str,
    fresh: bool = False,
) -> RenderedFiles:
    """Build (keeping the committed shards where the plan allows, unless `fresh`) and render:
    nothing touches the disk. Errors stop it; warnings are printed."""
    from generator.pipeline import build, read_inputs
    from generator.planning.plan_file import committed_shards
    from generator.render.files import output_files
    from generator.render.outputs import render_outputs
    from generator.timings.store import load_timings

    timings = load_timings(timings_path) if timings_path else None
    inputs = read_inputs(root, config_path, not no_cache)
    workflows_dir = out if out is not None else root / ".github" / "workflows"
    previous = None if fresh else committed_shards(workflows_dir, inputs.config)
    built = build(inputs, timings, previous)
    stop_on_errors(built.problems, len(inputs.scan.files), what)
    rendered = render_outputs(built)
    return RenderedFiles(output_files(rendered, workflows_dir), workflows_dir, built.config.workflows.regenerate)


@click.command("render")
@input_options
@render_options
@reports_user_errors
def render(root: Path, config_path: Path | None, no_cache: bool, timings_path: Path | None, out: Path | None, fresh: bool) -> None:
    """Write the CI workflows from the tests and the config.

    Scans the registered tests, plans each suite's shards and renders the workflows (and
    actionlint.yaml) from templates/. Every file is rendered and validated before any is
    written; each write is atomic.
    """
    from generator.render.files import write_generated

    rendered = render_files(root, config_path, no_cache, timings_path, out, "nothing written", fresh)
    result = write_generated(rendered.files, rendered.workflows_dir)
    rows = [(path, "written" if path in result.changed else "unchanged") for path in sorted(rendered.files)]
    rows += [(path, "removed (no longer generated)") for path in result.removed]
    click.echo(format_table(("file", "status"), rows))


@click.command("check")
@input_options
@render_options
@reports_user_errors
def check(root: Path, config_path: Path | None, no_cache: bool, timings_path: Path | None, out: Path | None, fresh: bool) -> None:
    """Fail with a diff when the generated files are stale.

    Renders in memory and compares with the files on disk: exit 0 when they match, exit 1
    with a unified diff (and the command that regenerates them) when they do not.
    """
    from generator.check import find_drift

    rendered = render_files(root, config_path, no_cache, timings_path, out, "nothing checked", fresh)
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


@click.command(
    "run-shard",
    context_settings={"ignore_unknown_options": True, "allow_extra_args": True, "help_option_names": []},
)
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def run_shard_command(args: tuple[str, ...]) -> None:
    """Run one CI shard's test files, or print each suite's shard matrix (cigen's runner).

    `run-shard [run|matrix] ARGS`: the runner generated jobs call as `.github/cigen/run_shard.py`
    (generator/run_shard.py, standard library only). Without a subcommand the arguments go to
    `run`; `run-shard run --help` lists its options.
    """
    from generator.run_shard import main as run_shard_main

    forwarded = list(args) if args and args[0] in ("run", "matrix", "-h", "--help") else ["run", *args]
    sys.exit(run_shard_main(forwarded))
