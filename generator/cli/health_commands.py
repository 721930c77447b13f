"""health: the fleet's health from downloaded shard results and health records."""

from __future__ import annotations

import sys
from dataclasses import dataclass, replace
from pathlib import Path

import click

from generator.cli.common import print_problems, reports_user_errors
from generator.errors import EXIT_DRIFT, Problem, ProblemReport, Severity, UserError, plural
from generator.jsonpos import parse_json
from generator.shipped import fleet

MAX_RESULTS_BYTES = 8 * 2**20


def results_files(paths: tuple[Path, ...]) -> list[Path]:
    """The files given, and every *.json under the folders given, sorted."""
    found: set[Path] = set()
    for path in paths:
        found.update(path.rglob("*.json") if path.is_dir() else [path])
    return sorted(found)


@dataclass(frozen=True)
class Read:
    """What the files gave: outcomes, problems, and results files that name no runner."""

    outcomes: list[fleet.Outcome]
    problems: list[Problem]
    no_runner: int


def read_outcomes(files: list[Path]) -> Read:
    """Every file's outcome; one problem per file that is not a results file or health record.
    JSON is read as the timings loop reads results (generator/jsonpos.py: strict, bounded)."""
    outcomes, problems, no_runner = [], [], 0
    for path in files:
        try:
            if path.stat().st_size > MAX_RESULTS_BYTES:
                raise fleet.ResultsError(f"larger than {MAX_RESULTS_BYTES // 2**20} MiB")
            data = parse_json(path.read_text(encoding="utf-8"), str(path), "results-unreadable")
            outcomes.append(fleet.parse_outcome(data, str(path)))
        except fleet.NoRunner:
            no_runner += 1
        except UserError as error:
            problems.append(error.problem)
        except (OSError, UnicodeDecodeError) as error:
            problems.append(Problem(str(path), 0, "results-unreadable", f"cannot read: {error}"))
        except fleet.ResultsError as error:
            message = str(error).removeprefix(f"{path}: ")
            problems.append(Problem(str(path), 0, "results-invalid", f"not a cigen results file: {message}"))
    return Read(outcomes, problems, no_runner)


def configured_infra_rate(config_path: Path | None, root: Path) -> float:
    from generator.config import load_config  # yaml and jsonschema: only when no rate is given

    return load_config(config_path, root).max_infra_rate


@click.command("health")
@click.argument("results", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option(
    "--max-infra-rate",
    type=click.FloatRange(0, 1),
    help="Name runners whose share of infra failures is above this (default: cigen.yml's health.max_infra_rate, 0.2).",
)
@click.option(
    "--summary",
    "summary_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also append the report, with a mermaid chart, to this file: $GITHUB_STEP_SUMMARY.",
)
@click.option(
    "--exit-zero",
    is_flag=True,
    help="Never fail (for a job that must go on): a runner above the rate is still named, an unreadable file"
    " is a warning and the report is made from the others.",
)
@click.option("--root", type=click.Path(file_okay=False, path_type=Path), default=Path("."), show_default=True)
@click.option("--config", "config_path", type=click.Path(dir_okay=False, path_type=Path), help="cigen.yml to use.")
@reports_user_errors
def health_command(
    results: tuple[Path, ...],
    max_infra_rate: float | None,
    summary_path: Path | None,
    exit_zero: bool,
    root: Path,
    config_path: Path | None,
) -> None:
    """Runner and pool health from shard results; exit 1 when a runner is above the infra rate.

    RESULTS: results files (`run_shard.py --results`, e.g. from `cigen timings fetch`, which downloads
    trusted runs' only) or the hook's health records (`health.py check --record`), or folders of them.
    Prints markdown: the runners above the rate with their failing probes, a table per runner and per
    pool (jobs, infra failures, the last failure, drained or not), and a text bar chart (a mermaid
    chart in the summary file)."""
    files = results_files(results)
    read = read_outcomes(files)
    if read.problems and not exit_zero:
        summary = f"{plural(len(read.problems), 'error')} in {plural(len(files), 'file')}; no report."
        raise ProblemReport(read.problems, summary)
    print_problems(replace(problem, severity=Severity.WARNING) for problem in read.problems)
    outcomes = read.outcomes
    rate = max_infra_rate if max_infra_rate is not None else configured_infra_rate(config_path, root)
    title = f"Runner health: {plural(len(outcomes), 'job')}"
    note = ""
    if read.no_runner:
        skipped = plural(read.no_runner, "results file")
        note += f"\nSkipped {skipped} without the runner's name (written before cigen recorded it).\n"
    if read.problems:
        note += f"\nSkipped {plural(len(read.problems), 'unreadable file')} (the warnings in the log name them).\n"
    click.echo(fleet.report(outcomes, rate, title) + note, nl=False)
    if summary_path is not None:
        with summary_path.open("a", encoding="utf-8") as summary:
            summary.write(fleet.report(outcomes, rate, title, mermaid=True) + note)
    if fleet.sick_runners(fleet.runner_rows(outcomes), rate) and not exit_zero:
        sys.exit(EXIT_DRIFT)


@click.command("runner-hook")
@click.argument("pool")
@click.option("--root", type=click.Path(file_okay=False, path_type=Path), default=Path("."), show_default=True)
@click.option("--config", "config_path", type=click.Path(dir_okay=False, path_type=Path), help="cigen.yml to use.")
@reports_user_errors
def runner_hook_command(pool: str, root: Path, config_path: Path | None) -> None:
    """Print the job-started hook script for a pool's runners (health probes, drain), from cigen.yml.

    Install it with a copy of .github/cigen/health.py beside it and point the runner's
    ACTIONS_RUNNER_HOOK_JOB_STARTED at it (docs/runners.md)."""
    from generator.config import load_config
    from generator.errors import UserError
    from generator.runner_hook import hook_script

    config = load_config(config_path, root)
    if pool not in config.pools:
        known = ", ".join(config.pools)
        raise UserError(config.source, 0, "unknown-pool", f"no pool {pool!r} in the config (pools: {known})")
    click.echo(hook_script(config, config.pools[pool]), nl=False)
