"""The one build path: config + tree -> scan -> lint -> plan, for every command that needs it.

`plan`, `render`, `check` and `lint` all call `build`, so a finding has the same severity in
each, a command never re-wires the steps, and what `lint` says is what `render` refuses.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from generator.cache import ScanCache, default_cache_dir
from generator.config import load_config
from generator.errors import HasProblems, Problem
from generator.model import Config, PlacedModelTest, Plan
from generator.tree import TreeScan, check_root, scan_tree

if TYPE_CHECKING:
    from generator.plan import PreviousShards
    from generator.timings.store import Timings


@dataclass(frozen=True)
class Inputs:
    """What every command starts from: the root, its config and a scan of its tests."""

    root: Path
    config: Config
    scan: TreeScan
    cache_dir: Path | None = None  # where the scan cache and remembered splits live; None: no cache


def read_inputs(root: Path, config_path: Path | None = None, use_cache: bool = True) -> Inputs:
    """Load the config (ROOT/cigen.yml, else the embedded default) and scan the tree."""
    check_root(root)
    cache_dir = default_cache_dir() if use_cache else None
    config = load_config(config_path, root, cache_dir)
    cache = ScanCache(cache_dir) if cache_dir is not None else None
    return Inputs(root, config, scan_tree(root, config.include, config.exclude, cache), cache_dir)


def load_planning_timings(inputs: Inputs, given: Path | None) -> Timings | None:
    """The timings to plan with: `--timings FILE`, else the config's `workflows.timings` once that
    file exists (the timings loop writes it; before, plans use est_time)."""
    from generator.timings.store import load_timings

    configured = inputs.config.workflows.timings
    if given is None and configured is not None and (inputs.root / configured).is_file():
        given = inputs.root / configured
    return load_timings(given) if given is not None else None


@dataclass(frozen=True)
class Build(HasProblems):
    """Everything plan, render, check and lint need, and every finding on the way."""

    inputs: Inputs
    config: Config  # the inputs' config, with measured setup minutes where timings give them
    timings: Timings | None
    plan: Plan  # model-test files excluded: they run in jobs of their own
    model_tests: tuple[PlacedModelTest, ...]
    problems: tuple[Problem, ...]  # scan, lint and plan findings, sorted


def build(
    inputs: Inputs,
    timings: Timings | None = None,
    previous: PreviousShards | None = None,
    tolerance: float | None = None,
) -> Build:
    """Lint and plan the scanned tree. With `timings`, files are planned by measured seconds and
    pools pay measured setup; with `previous`, files stay in their shards where the plan allows
    (within `tolerance`, default plan.DEFAULT_TOLERANCE)."""
    # Imported here, not at the top: `cigen scan` reads inputs only and should not pay for these.
    from generator.lint import check_model_job_ids, file_timeout_check, lint
    from generator.memory.lint import check_memory_fit
    from generator.plan import DEFAULT_TOLERANCE, model_test_placements, plan, with_measured_setup, without_model_tests
    from generator.planning.memo import load_split_memo, save_split_memo
    from generator.timings.lint import est_time_check

    config, scan = inputs.config, inputs.scan
    est_seconds_of = timings.est_seconds_of if timings is not None else (lambda reg: reg.est_seconds)
    if timings is not None:
        config = with_measured_setup(config, timings.setup_minutes)
    checks = [file_timeout_check(est_seconds_of), check_memory_fit]
    if timings is not None:
        checks.append(est_time_check(timings))
    # Model tests get jobs of their own through cigen's action; without one they are files like any other.
    through_action = config.workflows.action is not None
    sharded = without_model_tests(config, scan.registrations) if through_action else list(scan.registrations)
    tolerance = DEFAULT_TOLERANCE if tolerance is None else tolerance
    memo = load_split_memo(inputs.cache_dir, inputs.root) if inputs.cache_dir is not None else None
    planned = plan(config, sharded, est_seconds_of, previous=previous, tolerance=tolerance, memo=memo)
    if memo is not None:
        save_split_memo(memo, inputs.cache_dir, inputs.root)
    model_tests = model_test_placements(config, scan.registrations) if through_action else ()
    problems = [*lint(config, scan, checks), *planned.problems, *check_model_job_ids(config, model_tests)]
    return Build(inputs, config, timings, planned, model_tests, tuple(sorted(problems)))
