"""render, check and run-shard: the generated workflows and what their jobs call."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

import click

from generator.cli.common import format_table, input_options, reports_user_errors, stop_on_errors, timings_option
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


@dataclass(frozen=True)
class RenderedFiles:
    """Every generated file's fresh text, by where it belongs on disk."""

    files: dict[Path, str]
    github_dir: Path
    regenerate: str  # the command that rewrites them
    not_rendered: tuple[str, ...] = ()  # outputs the repository does not get, and why


def render_files(
    root: Path,
    config_path: Path | None,
    no_cache: bool,
    timings_path: Path | None,
    out: Path | None,
    what: str,
    fresh: bool = False,
    adopt: tuple[Path, ...] = (),
) -> RenderedFiles:
    """Build (keeping the committed plan file's shards where the plan allows, unless `fresh`)
    and render: nothing touches the disk. Errors and hand-written files in the way stop it;
    warnings are printed."""
    from generator.names import PLAN_FILE
    from generator.pipeline import build, load_planning_timings, read_inputs
    from generator.planning.plan_file import committed_shards
    from generator.render.files import output_files, refuse_hand_written
    from generator.render.outputs import not_rendered, render_outputs

    inputs = read_inputs(root, config_path, not no_cache)
    timings = load_planning_timings(inputs, timings_path)
    github_dir = out if out is not None else root / ".github"
    previous = None if fresh else committed_shards(github_dir / PLAN_FILE)
    built = build(inputs, timings, previous)
    stop_on_errors(built.problems, len(inputs.scan.files), what)
    files = output_files(render_outputs(built), github_dir)
    refuse_hand_written(files, adopt, what)
    return RenderedFiles(files, github_dir, built.config.workflows.regenerate, tuple(not_rendered(built)))


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

    rendered = render_files(root, config_path, no_cache, timings_path, out, "nothing written", fresh, adopt)
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
    from generator.check import find_drift

    rendered = render_files(root, config_path, no_cache, timings_path, out, "nothing checked", fresh, adopt)
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


@click.command(
    "run-shard",
    context_settings={"ignore_unknown_options": True, "allow_extra_args": True, "help_option_names": []},
)
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def run_shard_command(args: tuple[str, ...]) -> None:
    """Run one CI shard's test files (cigen's runner).

    `run-shard [run] ARGS`: the runner generated jobs call as `.github/cigen/run_shard.py`
    (generator/shipped/run_shard.py, standard library only). `run-shard run --help` lists its options.
    """
    from generator.shipped.run_shard import main as run_shard_main

    forwarded = list(args) if args and args[0] in ("run", "-h", "--help") else ["run", *args]
    sys.exit(run_shard_main(forwarded))
