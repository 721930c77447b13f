"""cigen timings: calibrate (measured durations in, a timings file out), and the loop's fetch and propose."""

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
from generator.config_fields import TIMINGS
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


@click.group("timings")
def timings() -> None:
    """Measured timings: calibrate a timings file; the timings loop's fetch and propose steps."""


@timings.command("calibrate")
@input_options
@input_format_options
@ESTIMATOR
@click.option("--out", "-o", "out_path", required=True, type=INPUT_FILE, help="Timings file to write.")
@click.option(
    "--previous",
    "previous_path",
    type=INPUT_FILE,
    help="The timings the plan uses now (missing: none yet, est_time): a file whose estimate jumps on few samples "
    "is not applied (workflows.timings max_factor, min_seconds, min_samples).",
)
@click.option("--report", "report_path", type=INPUT_FILE, help="With --previous: write the changes as Markdown here.")
@reports_user_errors
def calibrate_command(
    root: Path,
    config_path: Path | None,
    no_cache: bool,
    estimator: str,
    out_path: Path,
    previous_path: Path | None,
    report_path: Path | None,
    **paths: tuple[Path, ...],
) -> None:
    """Write a timings file (for plan/lint --timings) from measured durations."""
    from generator.atomic import write_text_atomic
    from generator.lint import planned_registrations
    from generator.model import PlausibilityBounds
    from generator.pipeline import read_inputs
    from generator.timings.calibrate import calibrate, change_report
    from generator.timings.measure import Known, read_measurements
    from generator.timings.store import Timings, load_timings, timings_text

    inputs = read_inputs(root, config_path, not no_cache)
    stop_on_errors(inputs.scan.problems, len(inputs.scan.files), "nothing written")
    registrations = planned_registrations(inputs.config, inputs.scan)
    by_option = {fmt.option: paths[fmt.option.replace("-", "_")] for fmt in FORMATS}
    known = Known({r.path for r in inputs.scan.registrations}, set(inputs.config.suites), inputs.config.backends)
    measurements = read_measurements(by_option, known)
    sources = [str(path) for fmt in FORMATS for path in by_option[fmt.option]]
    previous = None
    if previous_path is not None:
        previous = load_timings(previous_path) if previous_path.exists() else Timings(source="est_time")
    loop = inputs.config.workflows.timings_loop
    bounds = loop.bounds if loop is not None else PlausibilityBounds()
    timings, report = calibrate(measurements, registrations, estimator, sources, previous, bounds)
    write_text_atomic(out_path, timings_text(timings))
    if report_path is not None:
        write_text_atomic(report_path, change_report(report, bounds))
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
    if previous is not None:
        click.echo(f"  changed: {len(report.changes)}; held back (implausible on few samples): {len(report.held)}")
        for change in report.held:
            click.echo(
                f"    {change.suite} {change.path}: {change.old_seconds:.1f} s -> {change.new_seconds:.1f} s "
                f"on {plural(change.samples, 'sample')}"
            )
    rows = [
        (runner, t.samples, f"{t.seconds:.0f}", f"{t.median:.0f}", f"{t.p90:.0f}")
        for runner, t in sorted(timings.setup_by_runner.items())
        if t.median is not None and t.p90 is not None
    ]
    if rows:
        click.echo()
        click.echo(format_table(("runner", "jobs", "setup mean s", "median s", "p90 s"), rows))


SUMMARY = click.option(
    "--summary", "summary_path", type=INPUT_FILE, help="Append a Markdown account to this file: $GITHUB_STEP_SUMMARY."
)


def append_summary(path: Path | None, text: str) -> None:
    if path is not None:
        with path.open("a", encoding="utf-8") as summary:
            summary.write(text)


@timings.command("fetch")
@github_options
@click.option("--root", type=click.Path(file_okay=False, path_type=Path), default=Path("."), show_default=True)
@click.option(
    "--config",
    "config_path",
    type=INPUT_FILE,
    help="cigen.yml to use (default: ROOT/cigen.yml): which runs are trusted.",
)
@click.option("--days", type=click.IntRange(1, 90), default=7, show_default=True, help="How far back to look.")
@click.option(
    "--out", "out_dir", required=True, type=click.Path(file_okay=False, path_type=Path), help="Folder to write them to."
)
@click.option(
    "--github-output",
    type=INPUT_FILE,
    help="Append results=N (how many were written) to this file: $GITHUB_OUTPUT, so later steps can skip.",
)
@SUMMARY
@reports_user_errors
def timings_fetch(
    repo: str,
    api_url: str,
    root: Path,
    config_path: Path | None,
    days: int,
    out_dir: Path,
    github_output: Path | None,
    summary_path: Path | None,
) -> None:
    """Download the shard results of the last days: the cigen-results-* artifacts of push, schedule
    and workflow_dispatch runs of the per-commit and nightly workflows on workflows.branches, of
    this repository's own code. Every other artifact is skipped and counted; a bad one is skipped
    with a warning."""
    from datetime import datetime, timezone

    from generator.cli.common import print_problems
    from generator.config import load_config
    from generator.timings.loop import fetch_results
    from generator.timings.provenance import TRUSTED_EVENTS, trusted_runs

    trust = trusted_runs(load_config(config_path, root), repo)
    fetched = fetch_results(github_client(repo, api_url), trust, days, out_dir, datetime.now(timezone.utc))
    print_problems(fetched.problems)
    headline = f"{plural(len(fetched.written), 'results file')} of trusted runs from the last {plural(days, 'day')}"
    click.echo(f"{headline} in {out_dir}")
    for line in fetched.lines():
        click.echo(line)
    trusted = (
        f"Trusted: {', '.join(TRUSTED_EVENTS)} runs of {', '.join(sorted(trust.workflows))} "
        f"on {', '.join(sorted(trust.branches))}, of {repo}'s own code."
    )
    account = [f"- {line}" for line in fetched.lines()]
    if fetched.problems:  # quoted text in a code block: no Markdown of an artifact's reaches the page
        account += ["", "```text", *(p.format().replace("`", "'") for p in fetched.problems), "```"]
    append_summary(
        summary_path, "\n".join(["### Shard results", "", f"{headline}. {trusted}", "", *account, ""]) + "\n"
    )
    if github_output is not None:
        with github_output.open("a", encoding="utf-8") as output:
            output.write(f"results={len(fetched.written)}\n")


@timings.command("propose")
@github_options
@click.option("--root", type=click.Path(file_okay=False, path_type=Path), default=Path("."), show_default=True)
@click.option(
    "--branch", default=TIMINGS.default("branch"), show_default=True, help="cigen's branch for the pull request."
)
@click.option("--base", envvar="GITHUB_REF_NAME", required=True, help="The branch to propose to ($GITHUB_REF_NAME).")
@click.option(
    "--server-url", envvar="GITHUB_SERVER_URL", default="https://github.com", show_default=True, help="For the link."
)
@click.option(
    "--report", "report_path", type=INPUT_FILE, help="calibrate --report's Markdown: the commit message's body."
)
@SUMMARY
@click.argument("files", nargs=-1, required=True)
@reports_user_errors
def timings_propose(
    repo: str,
    api_url: str,
    root: Path,
    branch: str,
    base: str,
    server_url: str,
    report_path: Path | None,
    summary_path: Path | None,
    files: tuple[str, ...],
) -> None:
    """Push FILES (only under .github/cigen/) as one commit on BRANCH and print the link that opens
    the pull request. It opens none itself: a maintainer does, after reading the commit."""
    from generator.timings.loop import compare_url, propose

    report = report_path.read_text(encoding="utf-8") if report_path is not None and report_path.exists() else ""
    commit = propose(github_client(repo, api_url), root, list(files), branch, base, report)
    if commit is None:
        click.echo("nothing to propose: the files are as on the base branch")
        append_summary(summary_path, "### Timings\n\nNothing to propose: the files are as on the base branch.\n")
        return
    url = compare_url(server_url, repo, base, branch)
    click.echo(f"pushed {branch} at {commit}; open the pull request: {url}")
    summary = f"### Timings\n\nPushed `{branch}` at {commit}. [Open the pull request]({url}) after reading it.\n\n"
    append_summary(summary_path, summary + report)
