"""health: the fleet's health from downloaded shard results and health records."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from generator.cli.common import reports_user_errors
from generator.errors import EXIT_DRIFT, Problem, ProblemReport, plural
from generator.shipped import fleet

MAX_RESULTS_BYTES = 8 * 2**20


def results_files(paths: tuple[Path, ...]) -> list[Path]:
    """The files given, and every *.json under the folders given, sorted."""
    found: set[Path] = set()
    for path in paths:
        found.update(path.rglob("*.json") if path.is_dir() else [path])
    return sorted(found)


def read_outcomes(files: list[Path]) -> tuple[list[fleet.Outcome], list[Problem]]:
    """Every file's outcome; one problem per file that is not a results file or health record."""
    outcomes, problems = [], []
    for path in files:
        try:
            if path.stat().st_size > MAX_RESULTS_BYTES:
                raise fleet.ResultsError(f"larger than {MAX_RESULTS_BYTES // 2**20} MiB")
            data = json.loads(path.read_text(encoding="utf-8"))
            outcomes.append(fleet.parse_outcome(data, str(path)))
        except (OSError, UnicodeDecodeError, ValueError) as error:
            problems.append(Problem(str(path), 0, "results-unreadable", f"not a JSON file: {error}"))
        except fleet.ResultsError as error:
            message = str(error).removeprefix(f"{path}: ")
            problems.append(Problem(str(path), 0, "results-invalid", f"not a cigen results file: {message}"))
    return outcomes, problems


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
@click.option("--root", type=click.Path(file_okay=False, path_type=Path), default=Path("."), show_default=True)
@click.option("--config", "config_path", type=click.Path(dir_okay=False, path_type=Path), help="cigen.yml to use.")
@reports_user_errors
def health_command(
    results: tuple[Path, ...], max_infra_rate: float | None, root: Path, config_path: Path | None
) -> None:
    """Runner and pool health from shard results; exit 1 when a runner is above the infra rate.

    RESULTS: results files (`run_shard.py --results`, e.g. from `cigen timings fetch`, which downloads
    trusted runs' only) or the hook's health records (`health.py check --record`), or folders of them.
    Prints markdown: the runners above the rate with their failing probes, a table per runner and per
    pool (jobs, infra failures, the last failure, drained or not), and a text bar chart."""
    files = results_files(results)
    outcomes, problems = read_outcomes(files)
    if problems:
        raise ProblemReport(problems, f"{plural(len(problems), 'error')} in {plural(len(files), 'file')}; no report.")
    rate = max_infra_rate if max_infra_rate is not None else configured_infra_rate(config_path, root)
    click.echo(fleet.report(outcomes, rate, f"Runner health: {plural(len(outcomes), 'job')}"), nl=False)
    if fleet.sick_runners(fleet.runner_rows(outcomes), rate):
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
