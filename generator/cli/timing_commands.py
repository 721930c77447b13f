"""calibrate: measured durations in, a timings file out."""

from __future__ import annotations

from pathlib import Path

import click

from generator.cli.common import format_table, input_options, reports_user_errors, stop_on_errors
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
