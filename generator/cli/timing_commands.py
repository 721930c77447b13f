"""calibrate and timings: measured durations in, a timings file out; the loop that proposes them."""

from __future__ import annotations

from pathlib import Path

import click

from generator.cli.common import (
    format_table,
    github_client,
    github_options,
    input_options,
    reports_user_errors,
    stop_on_errors,
)
from generator.errors import plural
from generator.timings.estimators import DEFAULT_ESTIMATOR, ESTIMATORS
from generator.timings.measure import FORMATS

INPUT_FILE = click.Path(dir_okay=False, path_type=Path)
ESTIMATOR = click.option(
    "--estimator",
    type=click.Choice(list(ESTIMATORS)),
    default=DEFAULT_ESTIMATOR,
    show_default=True,
    help="How a file's samples become one estimate (benchmarks/backtest scores them all).",
)


def input_format_options(command):
    """One repeatable option per measurement input format (generator/timings/measure.py's FORMATS)."""
    for fmt in reversed(FORMATS):
        kind = click.Path(path_type=Path) if fmt.folders else INPUT_FILE
        name = fmt.option.replace("-", "_")
        command = click.option(f"--{fmt.option}", name, multiple=True, type=kind, help=fmt.help)(command)
    return command


@click.command("calibrate")
@input_options
@input_format_options
@ESTIMATOR
@click.option("--out", "-o", "out_path", required=True, type=INPUT_FILE, help="Timings file to write.")
@reports_user_errors
def calibrate_command(
    root: Path, config_path: Path | None, no_cache: bool, estimator: str, out_path: Path, **paths: tuple[Path, ...]
) -> None:
    """Write a timings file (for plan/lint --timings) from measured durations."""
    from generator.atomic import write_text_atomic
    from generator.lint import planned_registrations
    from generator.pipeline import read_inputs
    from generator.timings.calibrate import calibrate
    from generator.timings.measure import Known, read_measurements
    from generator.timings.store import timings_text

    inputs = read_inputs(root, config_path, not no_cache)
    stop_on_errors(inputs.scan.problems, len(inputs.scan.files), "nothing written")
    registrations = planned_registrations(inputs.config, inputs.scan)
    by_option = {fmt.option: paths[fmt.option.replace("-", "_")] for fmt in FORMATS}
    known = Known({r.path for r in inputs.scan.registrations}, set(inputs.config.suites), inputs.config.backends)
    measurements = read_measurements(by_option, known)
    sources = [str(path) for fmt in FORMATS for path in by_option[fmt.option]]
    timings, report = calibrate(measurements, registrations, estimator, sources)
    write_text_atomic(out_path, timings_text(timings))
    click.echo(
        f"wrote {out_path}: {plural(report.measured, 'file estimate')} "
        f"from {plural(report.samples, 'sample')} ({estimator})"
    )
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


@click.group("timings")
def timings() -> None:
    """The timings loop: recent shard results in, a pull request with new timings and plan out."""


@timings.command("fetch")
@github_options
@click.option("--days", type=click.IntRange(1, 90), default=7, show_default=True, help="How far back to look.")
@click.option(
    "--out", "out_dir", required=True, type=click.Path(file_okay=False, path_type=Path), help="Folder to write them to."
)
@click.option(
    "--github-output",
    type=INPUT_FILE,
    help="Append results=N (how many were written) to this file: $GITHUB_OUTPUT, so later steps can skip.",
)
@reports_user_errors
def timings_fetch(repo: str, api_url: str, days: int, out_dir: Path, github_output: Path | None) -> None:
    """Download the shard results of the last days (every shard job's cigen-results-* artifact)."""
    from datetime import datetime, timezone

    from generator.timings.loop import fetch_results

    written = fetch_results(github_client(repo, api_url), days, out_dir, datetime.now(timezone.utc))
    click.echo(f"{plural(len(written), 'results file')} from the last {plural(days, 'day')} in {out_dir}")
    if github_output is not None:
        with github_output.open("a", encoding="utf-8") as output:
            output.write(f"results={len(written)}\n")


@timings.command("propose")
@github_options
@click.option("--root", type=click.Path(file_okay=False, path_type=Path), default=Path("."), show_default=True)
@click.option("--branch", default="cigen/timings", show_default=True, help="cigen's branch for the pull request.")
@click.option("--base", envvar="GITHUB_REF_NAME", required=True, help="The branch to propose to ($GITHUB_REF_NAME).")
@click.argument("files", nargs=-1, required=True)
@reports_user_errors
def timings_propose(repo: str, api_url: str, root: Path, branch: str, base: str, files: tuple[str, ...]) -> None:
    """Open (or update) a pull request changing FILES, which must be under .github/cigen/."""
    from generator.timings.loop import propose

    url = propose(github_client(repo, api_url), root, list(files), branch, base, "Update shard timings and plan")
    click.echo("nothing to propose: the files are as on the base branch" if url is None else f"proposed: {url}")
