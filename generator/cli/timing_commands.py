"""calibrate: measured durations in, a timings file out."""

from __future__ import annotations

from pathlib import Path

import click

from generator.cli.common import format_table, input_options, reports_user_errors, stop_on_errors
from generator.errors import plural
from generator.timings.estimators import DEFAULT_ESTIMATOR, ESTIMATORS

INPUT_FILE = click.Path(dir_okay=False, path_type=Path)
ESTIMATOR = click.option(
    "--estimator",
    type=click.Choice(list(ESTIMATORS)),
    default=DEFAULT_ESTIMATOR,
    show_default=True,
    help="How a file's samples become one estimate (benchmarks/backtest scores them all).",
)
HISTORY_HELP = "sglang-ci-stats run history: a runs/ folder, the folder holding it, or run *.json files."


@click.command("calibrate")
@input_options
@click.option("--history", "history_paths", multiple=True, type=click.Path(path_type=Path), help=HISTORY_HELP)
@click.option("--junit", "junit_paths", multiple=True, type=INPUT_FILE, help="JUnit XML report; one sample per file per report.")
@click.option(
    "--durations", "duration_paths", multiple=True, type=INPUT_FILE, help="Duration log: 'PATH SECONDS' or 'SUITE PATH SECONDS' a line."
)
@click.option(
    "--results", "results_paths", multiple=True, type=INPUT_FILE, help="Results JSON of cigen's shard runner (run --results)."
)
@click.option(
    "--log", "log_paths", multiple=True, type=INPUT_FILE, help="Job log with a TIMINGS block (sglang's runner or cigen's)."
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
    results_paths: tuple[Path, ...],
    log_paths: tuple[Path, ...],
    partition_model: Path | None,
    estimator: str,
    out_path: Path,
) -> None:
    """Write a timings file (for plan/lint --timings) from measured durations."""
    from generator.atomic import write_text_atomic
    from generator.lint import planned_registrations
    from generator.pipeline import read_inputs
    from generator.timings.calibrate import calibrate
    from generator.timings.measure import read_measurements
    from generator.timings.store import timings_text

    inputs = read_inputs(root, config_path, not no_cache)
    stop_on_errors(inputs.scan.problems, len(inputs.scan.files), "nothing written")
    registrations = planned_registrations(inputs.config, inputs.scan)
    measurements = read_measurements(
        history_paths,
        junit_paths,
        duration_paths,
        partition_model,
        known_paths={r.path for r in inputs.scan.registrations},
        suites=set(inputs.config.suites),
        backends=inputs.config.backends,
        results=results_paths,
        logs=log_paths,
    )
    inputs_read = (*history_paths, *junit_paths, *duration_paths, *results_paths, *log_paths)
    sources = [str(p) for p in (*inputs_read, *([partition_model] if partition_model else []))]
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
