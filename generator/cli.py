"""The `cigen` command line: options -> typed values -> one call per command.

User mistakes (UserError, ProblemReport) print `path:line: code: message` lines and exit 2
with no traceback; anything else is a bug and shows its traceback.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import json
import os
import sys
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import click

from generator import __version__
from generator.atomic import write_text_atomic
from generator.backtest import OWN_COUNTS, backtest, sglang_figures
from generator.backtest_report import (
    backtest_json,
    data_notes,
    estimator_rows,
    overall_rows,
    pipeline_rows,
    sglang_note,
    speed_note,
    suite_rows,
    verdict_counts,
)
from generator.cache import ScanCache, default_cache_dir
from generator.calibrate import calibrate
from generator.config import load_config
from generator.check import find_drift
from generator.errors import EXIT_DRIFT, EXIT_USER_ERROR, Problem, ProblemReport, UserError, plural
from generator.estimators import DEFAULT_ESTIMATOR, ESTIMATORS
from generator.forecast import score_estimators, speed_spread
from generator.github_api import DEFAULT_API_URL, GitHub
from generator.hfmodel import load_model
from generator.history import read_history
from generator.lint import check_suites, counts_by_code, lint, planned_registrations
from generator.measure import read_measurements
from generator.memory import CHECKER_CODES, DEFAULT_CHECKER, DEFAULT_SGLANG, GIB_MIB, MARGIN_MIB, SGLANG_DEFAULTS, Advice, Card, advise
from generator.memory_lint import check_memory_fit
from generator.model import Config, Plan
from generator.plan import DEFAULT_TOLERANCE, plan, plan_to_json, pool_totals, with_measured_setup
from generator.plan_file import diff_plans, format_diff, read_plan_file, shards_by_suite
from generator.rerun import (
    DEFAULT_MAX_SELECTORS,
    DEFAULT_POLICY_PATH,
    MAX_COMMENT_CHARS,
    RerunIndex,
    RerunRejected,
    Target,
    parse_comment,
)
from generator.rerun_gate import (
    CommentEvent,
    format_duration,
    parse_time,
    pin_head,
    read_pull,
    run_gate,
    run_report,
    write_outputs,
)
from generator.render import output_files, prepare, render_outputs, write_generated
from generator.rerun_policy import authorize, load_policy
from generator.run_shard import run_shard
from generator.timing_lint import est_time_check
from generator.timings import Timings, load_timings, timings_text
from generator.tree import TreeScan, scan_tree


def print_problems(problems: list[Problem]) -> None:
    for problem in problems:
        click.echo(problem.format(), err=True)


def reports_user_errors(command):
    """Turn user-facing errors into messages and exit code 2."""

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        try:
            return command(*args, **kwargs)
        except UserError as error:
            click.echo(error.problem.format(), err=True)
            sys.exit(EXIT_USER_ERROR)
        except ProblemReport as report:
            print_problems(report.problems)
            click.echo(report.summary, err=True)
            sys.exit(EXIT_USER_ERROR)

    return wrapper


@dataclass(frozen=True)
class Inputs:
    """What every command starts from: the config and a scan of the tree."""

    root: Path
    config: Config
    scan: TreeScan


def read_inputs(root: Path, config_path: Path | None, use_cache: bool) -> Inputs:
    if not root.is_dir():
        raise UserError(str(root), 0, "no-root", "not a directory")
    config = load_config(config_path, root)
    cache = ScanCache(default_cache_dir()) if use_cache else None
    scan = scan_tree(root, config.include, config.exclude, cache)
    return Inputs(root, config, scan)


def require_clean_scan(inputs: Inputs, what: str = "nothing written") -> None:
    """Stop with every scan error; warnings are printed and do not stop."""
    errors = inputs.scan.errors
    print_problems(inputs.scan.warnings)
    if errors:
        raise ProblemReport(errors, f"{plural(len(errors), 'error')} in {plural(len(inputs.scan.files), 'file')}; {what}.")


def input_options(command):
    """--root, --config and --no-cache, shared by every command that reads the tree."""
    command = click.option("--no-cache", is_flag=True, help="Scan every file; ignore and keep the scan cache.")(command)
    command = click.option(
        "--config",
        "config_path",
        type=click.Path(dir_okay=False, path_type=Path),
        help="cigen.yml to use (default: ROOT/cigen.yml, else the embedded sglang default).",
    )(command)
    command = click.option(
        "--root",
        type=click.Path(file_okay=False, path_type=Path),
        default=Path("."),
        show_default=True,
        help="Repository root the test globs are relative to.",
    )(command)
    return command


FORMAT = click.option(
    "--format", "fmt", type=click.Choice(["json", "table"]), default="table", show_default=True, help="Output format."
)


# A fixed help width: the same text in a terminal, a pipe and CliRunner, whatever the command names.
@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100, "terminal_width": 100})
@click.version_option(__version__, prog_name="cigen")
def cli() -> None:
    """Plan and generate GitHub Actions CI for GPU-heavy Python test suites."""


@cli.command()
@input_options
@FORMAT
@reports_user_errors
def scan(root: Path, config_path: Path | None, no_cache: bool, fmt: str) -> None:
    """List every CI registration in the tree (parsed, never imported)."""
    inputs = read_inputs(root, config_path, not no_cache)
    require_clean_scan(inputs, "nothing printed")
    registrations = inputs.scan.registrations
    if fmt == "json":
        click.echo(json.dumps([r.to_json() for r in registrations], indent=2))
        return
    rows = [
        (f"{r.path}:{r.line}", r.backend, r.suite, f"{r.est_seconds:g}", "yes" if r.nightly else "", r.disabled or "")
        for r in registrations
    ]
    click.echo(format_table(("file", "backend", "suite", "est_s", "nightly", "disabled"), rows))
    click.echo(f"{plural(len(registrations), 'registration')} in {plural(len(inputs.scan.files), 'file')}")


@cli.command("lint")
@input_options
@click.option("--strict", is_flag=True, help="Exit 2 on warnings too.")
@click.option(
    "--timings",
    "timings_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Timings file from `cigen calibrate`: warn where est_time is far from measured.",
)
@reports_user_errors
def lint_command(root: Path, config_path: Path | None, no_cache: bool, strict: bool, timings_path: Path | None) -> None:
    """Check registrations against the config: scan errors plus model-level checks."""
    timings = load_timings(timings_path) if timings_path else None
    inputs = read_inputs(root, config_path, not no_cache)
    problems = lint(inputs.config, inputs.scan, extra_lint_checks(timings))
    print_problems(problems)
    errors = sum(p.is_error for p in problems)
    warnings = len(problems) - errors
    click.echo(
        f"{plural(errors, 'error')}, {plural(warnings, 'warning')} in {plural(len(inputs.scan.files), 'file')}",
        err=True,
    )
    for severity, code, count in counts_by_code(problems):
        click.echo(f"  {count:5d}  {severity:7s} {code}", err=True)
    if errors or (strict and warnings):
        sys.exit(EXIT_USER_ERROR)


INPUT_FILE = click.Path(dir_okay=False, path_type=Path)
ESTIMATOR = click.option(
    "--estimator",
    type=click.Choice(list(ESTIMATORS)),
    default=DEFAULT_ESTIMATOR,
    show_default=True,
    help="How a file's samples become one estimate (`cigen backtest` scores them all).",
)
HISTORY_HELP = "sglang-ci-stats run history: a runs/ folder, the folder holding it, or run *.json files."


@cli.command("calibrate")
@input_options
@click.option("--history", "history_paths", multiple=True, type=click.Path(path_type=Path), help=HISTORY_HELP)
@click.option("--junit", "junit_paths", multiple=True, type=INPUT_FILE, help="JUnit XML report; one sample per file per report.")
@click.option(
    "--durations", "duration_paths", multiple=True, type=INPUT_FILE, help="Duration log: 'PATH SECONDS' or 'SUITE PATH SECONDS' a line."
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
    partition_model: Path | None,
    estimator: str,
    out_path: Path,
) -> None:
    """Write a timings file (for plan/lint --timings) from measured durations."""
    inputs = read_inputs(root, config_path, not no_cache)
    require_clean_scan(inputs)
    registrations = planned_registrations(inputs.config, inputs.scan)
    measurements = read_measurements(
        history_paths,
        junit_paths,
        duration_paths,
        partition_model,
        known_paths={r.path for r in inputs.scan.registrations},
        suites=set(inputs.config.suites),
        backends=inputs.config.backends,
    )
    sources = [str(p) for p in (*history_paths, *junit_paths, *duration_paths, *([partition_model] if partition_model else []))]
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


@cli.command("backtest")
@input_options
@click.option("--history", "history_paths", multiple=True, required=True, type=click.Path(path_type=Path), help=HISTORY_HELP)
@ESTIMATOR
@click.option("--min-history", default=1, show_default=True, type=click.IntRange(1), help="Judge runs with at least this many runs before them.")
@FORMAT
@reports_user_errors
def backtest_command(
    root: Path, config_path: Path | None, no_cache: bool, history_paths: tuple[Path, ...], estimator: str, min_history: int, fmt: str
) -> None:
    """Judge plans made from earlier runs by each run's real durations."""
    inputs = read_inputs(root, config_path, not no_cache)
    require_clean_scan(inputs, "nothing done")
    registrations = planned_registrations(inputs.config, inputs.scan)
    runs = read_history(history_paths)
    if len(runs) <= min_history:
        raise UserError(str(history_paths[0]), 0, "history-too-short", f"{plural(len(runs), 'run')}: need more than --min-history={min_history}")
    result = backtest(runs, inputs.config, registrations, estimator, min_history)
    scores = score_estimators(runs, inputs.config, registrations, list(ESTIMATORS), min_history)
    sglang = sglang_figures(runs, inputs.config.backends)
    if fmt == "json":
        click.echo(json.dumps(backtest_json(result, inputs.config, scores, sglang), indent=2, sort_keys=True))
        return
    sections = [
        (f"Per suite (median imbalance = max/mean shard test time; estimator {estimator})", suite_rows(result)),
        ("Overall", overall_rows(result)),
        ("Pipeline wall-clock (critical path through needs)", pipeline_rows(result, inputs.config)),
        ("Which estimator predicts the next run", estimator_rows(scores, estimator)),
    ]
    for title, (header, rows) in sections:
        click.echo(f"{title}\n\n{format_table(header, rows)}\n")
    for variant in OWN_COUNTS:
        verdicts = verdict_counts(result, variant)
        click.echo(f"{variant} wall-clock vs sglang per suite-run: {', '.join(f'{k} {v}' for k, v in verdicts.items())}")
    click.echo(sglang_note(sglang, len(runs)))
    click.echo(speed_note(speed_spread(runs, inputs.config.backends)))
    for note in data_notes(result):
        click.echo(note)


def render_options(command):
    """--timings and --out, shared by render and check."""
    command = click.option(
        "--out",
        type=click.Path(file_okay=False, path_type=Path),
        help="Workflows folder (default: ROOT/.github/workflows); actionlint.yaml goes to its parent.",
    )(command)
    command = click.option(
        "--timings",
        "timings_path",
        type=click.Path(dir_okay=False, path_type=Path),
        help="Measured durations (from `cigen calibrate`) to plan with instead of est_time.",
    )(command)
    return command


@dataclass(frozen=True)
class RenderedFiles:
    """Every generated file's fresh text, by where it belongs on disk."""

    files: dict[Path, str]
    workflows_dir: Path
    regenerate: str  # the command that rewrites them


def render_files(root: Path, config_path: Path | None, no_cache: bool, timings_path: Path | None, out: Path | None, what: str) -> RenderedFiles:
    """Scan, refuse registrations no job would run, plan, render: nothing touches the disk."""
    inputs = read_inputs(root, config_path, not no_cache)
    require_clean_scan(inputs, what)
    unplaced = [p for p in check_suites(inputs.config, inputs.scan) if p.is_error]
    if unplaced:
        raise ProblemReport(unplaced, f"{plural(len(unplaced), 'error')} in {plural(len(inputs.scan.files), 'file')}; {what}.")
    seconds_of = load_timings(timings_path).seconds_of if timings_path else None
    rendered = render_outputs(prepare(inputs.config, inputs.scan.registrations, seconds_of))
    workflows_dir = out if out is not None else root / ".github" / "workflows"
    return RenderedFiles(output_files(rendered, workflows_dir), workflows_dir, inputs.config.workflows.regenerate)


@cli.command()
@input_options
@render_options
@reports_user_errors
def render(root: Path, config_path: Path | None, no_cache: bool, timings_path: Path | None, out: Path | None) -> None:
    """Write the CI workflows from the tests and the config.

    Scans the registered tests, plans each suite's shards and renders the workflows (and
    actionlint.yaml) from templates/. Every file is rendered and validated before any is
    written; each write is atomic.
    """
    rendered = render_files(root, config_path, no_cache, timings_path, out, "nothing written")
    result = write_generated(rendered.files, rendered.workflows_dir)
    rows = [(path, "written" if path in result.changed else "unchanged") for path in sorted(rendered.files)]
    rows += [(path, "removed (no longer generated)") for path in result.removed]
    click.echo(format_table(("file", "status"), rows))


@cli.command()
@input_options
@render_options
@reports_user_errors
def check(root: Path, config_path: Path | None, no_cache: bool, timings_path: Path | None, out: Path | None) -> None:
    """Fail with a diff when the generated files are stale.

    Renders in memory and compares with the files on disk: exit 0 when they match, exit 1
    with a unified diff (and the command that regenerates them) when they do not.
    """
    rendered = render_files(root, config_path, no_cache, timings_path, out, "nothing checked")
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


@cli.command("run-shard")
@click.option("--suite", required=True, help="The suite, for the log and the step summary.")
@click.option("--shard", type=click.IntRange(min=0), required=True, help="The shard's index in its suite.")
@click.option("--files-json", required=True, help='The shard\'s files as a JSON list (the matrix\'s `files`), e.g. \'["test/a.py"]\'.')
@click.option("--per-file-timeout", type=click.IntRange(min=1), required=True, help="Seconds each file may run.")
@click.option("--keep-going", is_flag=True, help="Run every file even after one fails (default: stop at the first).")
@click.option("--python", default="python3", show_default=True, help="Interpreter that runs each file.")
@click.option(
    "--root", type=click.Path(file_okay=False, path_type=Path), default=Path("."), show_default=True, help="Folder the files are relative to."
)
@reports_user_errors
def run_shard_command(suite: str, shard: int, files_json: str, per_file_timeout: int, keep_going: bool, python: str, root: Path) -> None:
    """Run one shard's test files (the jobs' entry point).

    Each file runs as `python3 FILE` from --root in its own process group, stopped at the
    per-file timeout; results go to the log and to $GITHUB_STEP_SUMMARY as they finish.
    Exits 1 when a file fails, times out or is missing.
    """
    try:
        files = json.loads(files_json)
    except ValueError as error:
        raise UserError("--files-json", 0, "bad-files-json", f"not JSON: {error}") from None
    if not isinstance(files, list) or not files or not all(isinstance(f, str) and f for f in files):
        raise UserError("--files-json", 0, "bad-files-json", "expected a non-empty JSON list of file paths")
    summary_path = os.environ.get("GITHUB_STEP_SUMMARY")
    with open(summary_path, "a", encoding="utf-8") if summary_path else contextlib.nullcontext() as summary:
        results = run_shard(suite, shard, files, root, per_file_timeout, python, keep_going, summary)
    failed = [r for r in results if not r.passed]
    click.echo(f"{suite} shard {shard}: {len(results) - len(failed)} of {len(results)} files passed", err=True)
    if failed:
        sys.exit(1)


PLAN_FILE = click.Path(dir_okay=False, path_type=Path)


@cli.command("plan")
@input_options
@FORMAT
@click.option("--timings", "timings_path", type=PLAN_FILE, help="Measured durations (from `cigen calibrate`); est_time elsewhere.")
@click.option("--previous", "previous_path", type=PLAN_FILE, help="An earlier plan JSON: keep files in their shards where the makespan allows.")
@click.option(
    "--tolerance",
    type=click.FloatRange(min=0),
    default=DEFAULT_TOLERANCE,
    show_default=True,
    help="With --previous: how far over the lower bound (fraction) a kept-in-place split may be.",
)
@click.option("--diff", "diff_path", type=PLAN_FILE, help="Show which files moved relative to this plan JSON instead of the plan.")
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
    inputs = read_inputs(root, config_path, not no_cache)
    require_clean_scan(inputs, "nothing planned")
    config, seconds_of = inputs.config, None
    if timings_path is not None:
        timings = load_timings(timings_path)
        config, seconds_of = with_measured_setup(config, timings.setup_minutes), timings.seconds_of
    previous = shards_by_suite(read_plan_file(previous_path)) if previous_path is not None else None
    old = read_plan_file(diff_path) if diff_path is not None else None
    result = plan(config, inputs.scan.registrations, seconds_of, previous=previous, tolerance=tolerance)
    print_problems(list(result.problems))
    if old is not None:
        diffs = diff_plans(old, plan_to_json(result))
        if fmt == "json":
            click.echo(json.dumps([dataclasses.asdict(d) for d in diffs], indent=2))
        else:
            click.echo("\n".join(format_diff(diffs)))
    elif fmt == "json":
        click.echo(json.dumps(plan_to_json(result), indent=2))
    else:
        click.echo(format_plan_table(result))


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
    header = ("suite", "pool", "files", "shards", "makespan_min", "lpt_min", "bound_min", "vs_bound", "optimal", "wall_min", "runner_min", "gpu_min")
    totals = pool_totals(result)
    pools = [
        (t.pool.name, t.pool.gpus, t.jobs, f"{t.setup_minutes:.1f}", f"{t.runner_minutes:.1f}", f"{t.gpu_minutes:.1f}")
        for t in totals
    ]
    runner = sum(t.runner_minutes for t in totals)
    setup = sum(t.setup_minutes for t in totals)
    summary = (
        f"{plural(len(result.suites), 'suite')}, {plural(sum(t.jobs for t in totals), 'job')}: "
        f"{runner:,.1f} runner-minutes ({setup:,.1f} of them setup), {sum(t.gpu_minutes for t in totals):,.1f} GPU-minutes"
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


def extra_lint_checks(timings: Timings | None = None) -> list:
    """Checks from later pipeline steps (timings, memory), registered here."""
    return ([est_time_check(timings)] if timings is not None else []) + [check_memory_fit]


def _extra_peak(value: str) -> str | float:
    """'weight-checker' or a number of MiB."""
    if value == "weight-checker":
        return value
    try:
        peak = float(value)
    except ValueError:
        peak = -1.0
    if peak < 0:
        raise UserError("--extra-peak", 0, "bad-extra-peak", f"--extra-peak must be 'weight-checker' or MiB >= 0, got '{value}'")
    return peak


def _cards(root: Path, config_path: Path | None, gpu_mem_gib: tuple[float, ...], pools: tuple[str, ...], gpu_free_mib: float | None) -> list[Card]:
    """--gpu-mem-gib values, then --pool names read from the config, in the order given."""
    if not gpu_mem_gib and not pools:
        raise UserError("cigen mem", 0, "no-gpu", "give --gpu-mem-gib N or --pool NAME (either may repeat)")
    if gpu_free_mib is not None and len(gpu_mem_gib) + len(pools) != 1:
        raise UserError("--gpu-free-mib", 0, "free-needs-one-gpu", "--gpu-free-mib describes one GPU; give one --gpu-mem-gib or --pool")
    cards = [Card(f"{gib:g} GiB", gib * GIB_MIB, gpu_free_mib) for gib in gpu_mem_gib]
    if pools:
        config = load_config(config_path, root)
        for name in pools:
            pool = config.pools.get(name)
            if pool is None:
                raise UserError("--pool", 0, "unknown-pool", f"no pool '{name}' in {config.source} (known: {', '.join(sorted(config.pools))})")
            if pool.gpu_mem_gib is None:
                raise UserError(config.source, pool.line, "mem-unknown-gpu", f"pool '{name}' declares no gpu_mem_gib")
            cards.append(Card(f"{name} ({pool.gpu_model})" if pool.gpu_model else name, pool.gpu_mem_gib * GIB_MIB, gpu_free_mib))
    return cards


def _mem_row(advice: Advice) -> tuple:
    data = advice.to_json()
    recommended = data["recommended_mem_fraction"]
    return (
        advice.card.name,
        f"{advice.card.total_mib:.0f}",
        f"{advice.default_mem_fraction:.3f}",
        f"{advice.mem_fraction:.3f}",
        f"{data['static_pool_mib']:.0f}",
        f"{data['headroom_mib']:.0f}",
        f"{advice.peak_mib:.0f}",
        "yes" if data["fits"] else "no",
        f"{advice.max_fit_mem_fraction:.3f}",
        "none" if recommended is None else f"{recommended:g}",
    )


@cli.command("mem")
@click.option("--model", "model_spec", required=True, help="Built-in model name (e.g. Qwen3-0.6B) or a Hugging Face config.json (or its folder).")
@click.option("--gpu-mem-gib", type=click.FloatRange(min=1), multiple=True, help="GPU memory in GiB (nvidia-smi total / 1024); repeat for a table.")
@click.option("--pool", "pools", multiple=True, help="A pool name from the config, for its gpu_mem_gib; repeatable.")
@click.option("--gpu-free-mib", type=click.FloatRange(min=0), help="Free MiB before the server starts (nvidia-smi memory.free); default: an idle card.")
@click.option("--tp", type=click.IntRange(min=1), default=1, show_default=True, help="Tensor parallelism: GPUs the model is split over.")
@click.option("--mem-fraction", type=float, help="Also evaluate this --mem-fraction-static (default: sglang's own).")
@click.option("--extra-peak", default="weight-checker", show_default=True, help="The test's own GPU peak: 'weight-checker' (from the model's largest tensor) or MiB.")
@click.option("--checker", type=click.Choice(CHECKER_CODES), default=DEFAULT_CHECKER, show_default=True, help="Which weight-checker code allocates: unchunked (sglang at the fix) or chunked (later).")
@click.option("--sglang", "sglang_defaults", type=click.Choice(sorted(SGLANG_DEFAULTS)), default=DEFAULT_SGLANG, show_default=True, help="Whose default-fraction tiers to apply.")
@click.option("--margin-mib", type=click.FloatRange(min=0), default=MARGIN_MIB, show_default=True, help="Safety margin on top of the peak.")
@click.option("--root", type=click.Path(file_okay=False, path_type=Path), default=Path("."), show_default=True, help="Repository root (for --pool and relative config.json paths).")
@click.option("--config", "config_path", type=click.Path(dir_okay=False, path_type=Path), help="cigen.yml for --pool (default: ROOT/cigen.yml, else the embedded default).")
@FORMAT
@reports_user_errors
def mem_command(
    model_spec: str,
    gpu_mem_gib: tuple[float, ...],
    pools: tuple[str, ...],
    gpu_free_mib: float | None,
    tp: int,
    mem_fraction: float | None,
    extra_peak: str,
    checker: str,
    sglang_defaults: str,
    margin_mib: float,
    root: Path,
    config_path: Path | None,
    fmt: str,
) -> None:
    """GPU-memory advisor: does a model test fit a GPU, at which mem-fraction?"""
    model = load_model(model_spec, root)
    peak = _extra_peak(extra_peak)
    cards = _cards(root, config_path, gpu_mem_gib, pools, gpu_free_mib)
    advice = [advise(model, card, tp, peak, checker, margin_mib, sglang_defaults, mem_fraction) for card in cards]
    if fmt == "json":
        payload = [a.to_json() for a in advice]
        click.echo(json.dumps(payload[0] if len(payload) == 1 else payload, indent=2))
        return
    header = ("gpu", "total_mib", "default_m", "m", "pool_mib", "headroom_mib", "peak_mib", "fits", "max_fit_m", "recommended_m")
    click.echo(f"{model.name} ({model.source}), tp={tp}, sglang defaults {sglang_defaults}; peak: {advice[0].peak_source}")
    click.echo(format_table(header, [_mem_row(a) for a in advice]))
    click.echo(f"fits: headroom >= peak + {margin_mib:g} MiB margin; recommended: sglang's default when it fits, else the largest safe value")


def format_table(header: tuple[str, ...], rows: list[tuple]) -> str:
    """Left-aligned columns, widths from the content."""
    cells = [tuple(str(c) for c in header)] + [tuple(str(c) for c in row) for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip() for row in cells]
    lines.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(lines)


# /rerun-test ------------------------------------------------------------------------------


def read_comment(env_name: str | None) -> str:
    """The comment from $env_name or stdin (bounded), never from argv."""
    if env_name is not None:
        if env_name not in os.environ:
            raise UserError(f"${env_name}", 0, "no-comment", "the environment variable is not set")
        return os.environ[env_name]
    data = sys.stdin.buffer.read(MAX_COMMENT_CHARS * 4 + 1)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise UserError("comment", 1, "not-utf8", f"the comment is not UTF-8 text: {error.reason} at byte {error.start}") from None


def github_client(repo: str, api_url: str) -> GitHub:
    """A client whose token comes from $GITHUB_TOKEN only (never from the command line)."""
    return GitHub(repo=repo, token=os.environ.get("GITHUB_TOKEN", ""), api_url=api_url)


def github_options(command):
    """--repo and --api-url, defaulting to what GitHub Actions sets."""
    command = click.option(
        "--api-url", envvar="GITHUB_API_URL", default=DEFAULT_API_URL, show_default=True, help="GitHub REST API root ($GITHUB_API_URL)."
    )(command)
    command = click.option("--repo", envvar="GITHUB_REPOSITORY", required=True, help="owner/name ($GITHUB_REPOSITORY).")(command)
    return command


def event_options(command):
    """The comment event's fields, from the env: the workflow passes them so."""
    for name, envvar, kind, help in reversed(
        [
            ("--pr", "PR_NUMBER", click.IntRange(1), "Pull request number ($PR_NUMBER)."),
            ("--comment-id", "COMMENT_ID", click.IntRange(1), "The comment's id ($COMMENT_ID)."),
            ("--author", "COMMENT_AUTHOR", str, "The comment author's login ($COMMENT_AUTHOR)."),
            ("--commented-at", "COMMENT_CREATED_AT", str, "The comment's created_at ($COMMENT_CREATED_AT)."),
            ("--run-id", "GITHUB_RUN_ID", click.IntRange(1), "This workflow run ($GITHUB_RUN_ID)."),
        ]
    ):
        command = click.option(name, envvar=envvar, type=kind, required=True, help=help)(command)
    command = click.option(
        "--server-url", envvar="GITHUB_SERVER_URL", default="https://github.com", show_default=True, help="($GITHUB_SERVER_URL)"
    )(command)
    return command


def comment_time(text: str) -> datetime:
    try:
        return parse_time(text)
    except ValueError:
        raise UserError("$COMMENT_CREATED_AT", 0, "bad-time", f"not an ISO 8601 time: {text!r}") from None


def comment_event(
    repo: str,
    pr: int,
    comment_id: int,
    author: str,
    commented_at: str,
    run_id: int,
    server_url: str,
    body: str = "",
    author_id: int | None = None,
) -> CommentEvent:
    run_url = f"{server_url.rstrip('/')}/{repo}/actions/runs/{run_id}"
    return CommentEvent(repo, pr, comment_id, author, author_id, comment_time(commented_at), body, run_url)


POLICY = click.option(
    "--policy",
    "policy_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=Path(DEFAULT_POLICY_PATH),
    show_default=True,
    help="The /rerun-test policy file; the default policy applies when it does not exist.",
)


@cli.group()
def rerun() -> None:
    """/rerun-test PR comments: parse, check, report, workflow."""


@rerun.command("parse")
@input_options
@click.option("--from-env", "env_name", metavar="NAME", help="Read the comment from $NAME instead of stdin.")
@click.option("--max-selectors", type=click.IntRange(1, 32), default=DEFAULT_MAX_SELECTORS, show_default=True, help="Most selectors allowed.")
@reports_user_errors
def rerun_parse(root: Path, config_path: Path | None, no_cache: bool, env_name: str | None, max_selectors: int) -> None:
    """Validate a /rerun-test comment (stdin) against the scanned tree; JSON out, exit 2 if rejected."""
    body = read_comment(env_name)
    inputs = read_inputs(root, config_path, not no_cache)
    try:
        request = parse_comment(body, RerunIndex.from_scan(inputs.scan), inputs.config, max_selectors)
    except RerunRejected as rejected:
        click.echo(json.dumps({"accepted": False, "code": rejected.code, "reason": rejected.reason}, indent=2))
        raise ProblemReport(rejected.problems(), "rejected: nothing runs.") from None
    click.echo(json.dumps(request.to_json(), indent=2))


@rerun.command("authorize")
@github_options
@POLICY
@click.option("--user", envvar="COMMENT_AUTHOR", required=True, help="GitHub login to check ($COMMENT_AUTHOR).")
@click.option("--user-id", envvar="COMMENT_AUTHOR_ID", type=click.IntRange(1), help="Its numeric id, cross-checked ($COMMENT_AUTHOR_ID).")
@reports_user_errors
def rerun_authorize(repo: str, api_url: str, policy_path: Path, user: str, user_id: int | None) -> None:
    """Check live whether a user may run /rerun-test under the policy; exit 2 if not."""
    verdict = authorize(load_policy(policy_path), github_client(repo, api_url), user, user_id)
    click.echo(json.dumps({"allowed": verdict.allowed, "reason": verdict.reason}, indent=2))
    if not verdict.allowed:
        raise UserError(str(policy_path), 0, "not-allowed", verdict.reason)


@rerun.command("head")
@github_options
@POLICY
@click.option("--pr", envvar="PR_NUMBER", type=click.IntRange(1), required=True, help="Pull request number ($PR_NUMBER).")
@click.option("--commented-at", envvar="COMMENT_CREATED_AT", required=True, help="The comment's created_at ($COMMENT_CREATED_AT).")
@click.option("--pin", help="Hex prefix of the commit the comment names, if any.")
@reports_user_errors
def rerun_head(repo: str, api_url: str, policy_path: Path, pr: int, commented_at: str, pin: str | None) -> None:
    """Print the PR head SHA if it is provably what the commenter saw; exit 2 if it moved."""
    github = github_client(repo, api_url)
    created_at = comment_time(commented_at)
    policy = load_policy(policy_path)
    try:
        head = read_pull(github.pull(pr), repo, pr)
        activity = None if pin else github.branch_activity(head.repo, head.branch)
        sha = pin_head(head, pin.lower() if pin else None, created_at, activity, policy)
    except RerunRejected as rejected:
        raise ProblemReport(rejected.problems(), "the head commit cannot be pinned.") from None
    click.echo(json.dumps({"head_sha": sha, "head_repo": head.repo, "fork": head.fork}, indent=2))


@rerun.command("gate")
@input_options
@github_options
@POLICY
@event_options
@click.option("--author-id", envvar="COMMENT_AUTHOR_ID", type=click.IntRange(1), help="($COMMENT_AUTHOR_ID)")
@click.option("--body-env", default="COMMENT_BODY", show_default=True, metavar="NAME", help="Environment variable holding the comment.")
@click.option("--output", "output_path", envvar="GITHUB_OUTPUT", type=click.Path(dir_okay=False, path_type=Path), help="($GITHUB_OUTPUT)")
@click.option("--summary", "summary_path", envvar="GITHUB_STEP_SUMMARY", type=click.Path(dir_okay=False, path_type=Path), help="($GITHUB_STEP_SUMMARY)")
@reports_user_errors
def rerun_gate(
    root: Path,
    config_path: Path | None,
    no_cache: bool,
    repo: str,
    api_url: str,
    policy_path: Path,
    pr: int,
    comment_id: int,
    author: str,
    commented_at: str,
    run_id: int,
    server_url: str,
    author_id: int | None,
    body_env: str,
    output_path: Path | None,
    summary_path: Path | None,
) -> None:
    """The workflow's gate step: authorize, parse, pin the head, answer; writes step outputs."""
    event = comment_event(repo, pr, comment_id, author, commented_at, run_id, server_url, read_comment(body_env), author_id)
    inputs = read_inputs(root, config_path, not no_cache)
    result = run_gate(event, RerunIndex.from_scan(inputs.scan), inputs.config, load_policy(policy_path), github_client(repo, api_url))
    line = f"accepted: {plural(len(result.request.targets), 'test run')} at {result.head_sha}" if result.accepted else f"rejected: {result.reason}"
    click.echo(line)
    if output_path is not None:
        write_outputs(output_path, result.outputs())
    if summary_path is not None:
        with summary_path.open("a", encoding="utf-8") as summary:
            summary.write(f"/rerun-test {line}\n")


@rerun.command("report")
@github_options
@event_options
@click.option("--run-attempt", envvar="GITHUB_RUN_ATTEMPT", type=click.IntRange(1), default=1, show_default=True, help="($GITHUB_RUN_ATTEMPT)")
@click.option("--head-sha", envvar="HEAD_SHA", required=True, help="The commit the gate pinned ($HEAD_SHA).")
@click.option("--targets", "targets_json", envvar="TARGETS", required=True, help="The gate's targets output ($TARGETS).")
@click.option("--reply-id", envvar="REPLY_ID", default="", help="The gate's answer comment to update ($REPLY_ID).")
@reports_user_errors
def rerun_report(
    repo: str,
    api_url: str,
    pr: int,
    comment_id: int,
    author: str,
    commented_at: str,
    run_id: int,
    server_url: str,
    run_attempt: int,
    head_sha: str,
    targets_json: str,
    reply_id: str,
) -> None:
    """The workflow's report step: test outcomes -> commit statuses, the answer, a reaction."""
    event = comment_event(repo, pr, comment_id, author, commented_at, run_id, server_url)
    try:
        targets = [Target.from_json(t) for pool_targets in json.loads(targets_json).values() for t in pool_targets]
    except (ValueError, KeyError, TypeError, AttributeError):
        raise UserError("$TARGETS", 0, "bad-targets", "not the gate's targets output") from None
    reply = int(reply_id) if reply_id.isdigit() else None
    results = run_report(github_client(repo, api_url), targets, head_sha, event, reply, run_id, run_attempt)
    for result in results:
        click.echo(f"{result.target.selector} ({result.target.pool}): {result.words}, {format_duration(result.seconds)}")


def main() -> None:
    cli(prog_name="cigen")
