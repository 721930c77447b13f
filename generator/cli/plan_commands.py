"""plan: time-balanced shards per suite, their cost, and what moved."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import click

from generator.cli.common import (
    FORMAT,
    format_table,
    input_options,
    reports_user_errors,
    stop_on_errors,
    timings_option,
)
from generator.errors import plural
from generator.model import PlacedModelTest, Plan
from generator.plan import DEFAULT_TOLERANCE, plan_file_of, plan_to_json, pool_totals

PLAN_FILE = click.Path(dir_okay=False, path_type=Path)


@click.command("plan")
@input_options
@FORMAT
@timings_option
@click.option(
    "--previous",
    "previous_path",
    type=PLAN_FILE,
    help="An earlier plan (the plan file or --format json): keep files in their shards where the makespan allows.",
)
@click.option(
    "--tolerance",
    type=click.FloatRange(min=0),
    default=DEFAULT_TOLERANCE,
    show_default=True,
    help="With --previous: how far over the lower bound (fraction) a kept-in-place split may be.",
)
@click.option(
    "--diff",
    "diff_path",
    type=PLAN_FILE,
    help="Show which files moved relative to this plan (the plan file or --format json) instead of the plan.",
)
@reports_user_errors
def plan_command(
    root: Path,
    config_path: Path | None,
    no_cache: bool,
    fmt: str,
    timings_path: Path | None,
    previous_path: Path | None,
    tolerance: float,
    diff_path: Path | None,
) -> None:
    """Split every suite into time-balanced shards: pools, shard counts, files, cost."""
    from generator.pipeline import build, load_planning_timings, read_inputs
    from generator.planning.previous import diff_plans, format_diff, read_plan

    previous = read_plan(previous_path).shard_paths() if previous_path is not None else None
    old = read_plan(diff_path) if diff_path is not None else None
    inputs = read_inputs(root, config_path, not no_cache)
    timings = load_planning_timings(inputs, timings_path)
    built = build(inputs, timings, previous, tolerance)
    stop_on_errors(built.problems, len(inputs.scan.files), "nothing planned")
    result, model_tests = built.plan, built.model_tests
    if old is not None:
        diffs = diff_plans(old, plan_file_of(result))
        if fmt == "json":
            click.echo(json.dumps([dataclasses.asdict(d) for d in diffs], indent=2))
        else:
            click.echo("\n".join(format_diff(diffs)))
    elif fmt == "json":
        click.echo(json.dumps({**plan_to_json(result), "model_tests": model_tests_json(model_tests)}, indent=2))
    else:
        click.echo(format_plan_table(result))
        if model_tests:
            click.echo("\nmodel tests (through cigen's action, a job per pool; not in the shards above):")
            for placed in model_tests:
                click.echo(f"  {placed.test.path} ({placed.suite.name}): {', '.join(p.name for p in placed.pools)}")


def model_tests_json(model_tests: tuple[PlacedModelTest, ...]) -> list[dict]:
    return [{"file": p.test.path, "suite": p.suite.name, "pools": [pool.name for pool in p.pools]} for p in model_tests]


def format_plan_table(result: Plan) -> str:
    """Per suite, then per pool: what `cigen plan --format table` prints."""
    suites = [
        (
            sp.suite.name,
            ",".join(p.name for p in sp.pools),
            sp.files,
            len(sp.shards),
            f"{sp.makespan_seconds / 60:.1f}",
            f"{sp.lpt_makespan_seconds / 60:.1f}",
            f"{sp.lower_bound_seconds / 60:.1f}",
            f"{sp.makespan_seconds / sp.lower_bound_seconds:.4f}",
            "yes" if sp.optimal else "",
            f"{sp.wall_minutes:.1f}",
            f"{sp.runner_minutes:.1f}",
            f"{sp.gpu_minutes:.1f}",
        )
        for sp in result.suites
    ]
    header = (
        "suite",
        "pool",
        "files",
        "shards",
        "makespan_min",
        "lpt_min",
        "bound_min",
        "vs_bound",
        "optimal",
        "wall_min",
        "runner_min",
        "gpu_min",
    )
    totals = pool_totals(result)
    pools = [
        (t.pool.name, t.pool.gpus, t.jobs, f"{t.setup_minutes:.1f}", f"{t.runner_minutes:.1f}", f"{t.gpu_minutes:.1f}")
        for t in totals
    ]
    runner = sum(t.runner_minutes for t in totals)
    setup = sum(t.setup_minutes for t in totals)
    gpu = sum(t.gpu_minutes for t in totals)
    summary = (
        f"{plural(len(result.suites), 'suite')}, {plural(sum(t.jobs for t in totals), 'job')}: "
        f"{runner:,.1f} runner-minutes ({setup:,.1f} of them setup), {gpu:,.1f} GPU-minutes"
    )
    return "\n".join(
        [
            format_table(header, suites),
            "",
            format_table(("pool", "gpus", "jobs", "setup_min", "runner_min", "gpu_min"), pools),
            "",
            summary,
        ]
    )
