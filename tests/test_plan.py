"""`plan` and `cigen plan`: shard counts, budgets, JSON shape, tables, --previous, --diff,
--timings, determinism, and the whole corpus."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
from click.testing import CliRunner

from generator.cli import cli
from generator.config import load_config
from generator.model import Plan, SuitePlan
from generator.plan import plan, plan_to_json
from generator.tree import scan_tree
from tests.support.files import write_files
from tests.support.rendering import pinned_default_config

CONFIG = """\
version: 1
tests:
  include: ["t/**/*.py"]
pools:
  small: {labels: [1-gpu-5090], gpus: 1, setup_minutes: 2}
  big: {labels: [8-gpu-h200], gpus: 8, setup_minutes: 3}
runner_configs:
  1-gpu-small: small
suites:
  base-b-test-1-gpu-small:
    trigger: per-commit
    runner_config: 1-gpu-small
    step_timeout_minutes: 10
    shard_budget_minutes: 5
    max_parallel: 4
    groups: [[t/a.py, t/b.py]]
  nightly-big:
    trigger: nightly
    pools: [big]
    step_timeout_minutes: 60
    shard_budget_minutes: 10
    max_parallel: 2
  nobody:
    trigger: nightly
    pools: [small]
    step_timeout_minutes: 60
    shard_budget_minutes: 60
  retired:
    trigger: nightly
    pools: [small]
    step_timeout_minutes: 60
    shard_budget_minutes: 60
    enabled: false
"""
MAIN = '\nif __name__ == "__main__":\n    main()\n'
BASE = 'register_cuda_ci(est_time={}, stage="base-b", runner_config="1-gpu-small")' + MAIN
NIGHTLY = 'register_cuda_ci(est_time={}, suite="nightly-big", nightly=True)' + MAIN
TREE = {
    "cigen.yml": CONFIG,
    "t/a.py": BASE.format(100),
    "t/b.py": BASE.format(100),
    "t/c.py": BASE.format(150),
    "t/d.py": BASE.format(150),
    "t/e.py": BASE.format(50),
    "t/f.py": BASE.format(999).replace(")", ', disabled="flaky")', 1),
    "t/n1.py": NIGHTLY.format(900),
    "t/n2.py": NIGHTLY.format(200),
    "t/n3.py": NIGHTLY.format(200),
    "t/r.py": 'register_cuda_ci(est_time=60, suite="retired", nightly=True)' + MAIN,
}
OVER_BUDGET = [
    "t/n1.py:1: warning: over-shard-budget: 900s is longer than suite 'nightly-big' allows one shard "
    "(10 min = 600s); planned alone in shard 0",
    "  help: split the file, or raise shard_budget_minutes (and step_timeout_minutes) for the suite",
]
# What lint finds in TREE besides: plan prints every warning, with the severity lint gives it.
WARNINGS = [
    "cigen.yml:23: warning: empty-suite: suite 'nobody' has no enabled registrations; no job is generated",
    *OVER_BUDGET,
    "t/r.py:1: warning: suite-not-run: suite 'retired' has no job: it is disabled in the config; "
    "this registration never runs",
]


@pytest.fixture
def tree(tmp_path, monkeypatch) -> Path:
    write_files(tmp_path, TREE)
    monkeypatch.chdir(tmp_path)  # messages name files as the user would see them
    return Path(".")


def run(*args: str):
    return CliRunner().invoke(cli, list(args))


def plan_of(root: Path, **kwargs):
    config = load_config(None, root)
    return plan(config, scan_tree(root, config.include, config.exclude).registrations, **kwargs)


def suite_plan(result: Plan, name: str) -> SuitePlan:
    return next(s for s in result.suites if s.suite.name == name)


def shard(*files: tuple[str, float]) -> dict:
    """A shard as the plan file writes it."""
    return {
        "est_seconds": sum(seconds for _, seconds in files),
        "files": [{"file": path, "est_seconds": seconds} for path, seconds in files],
    }


def shard_paths(shard: dict) -> list[str]:
    return [entry["file"] for entry in shard["files"]]


def test_plan_json_shape_counts_budgets_and_costs(tree):
    result = run("plan", "--format", "json")
    assert result.exit_code == 0, result.output
    assert result.stderr.splitlines() == WARNINGS
    assert json.loads(result.stdout) == {
        "version": 1,  # the plan file's shape (generator/shipped/plan_file.py), plus costs
        "suites": {
            "base-b-test-1-gpu-small": {
                "pool": "small",
                "pools": ["small"],
                "runs_on": ["1-gpu-5090"],
                "trigger": "per-commit",
                # 550s over a 300s budget: 2 shards; a+b (a group) with e, c with d.
                "shards": [
                    shard(("t/a.py", 100.0), ("t/b.py", 100.0), ("t/e.py", 50.0)),
                    shard(("t/c.py", 150.0), ("t/d.py", 150.0)),
                ],
                "makespan": 300.0,
                "lower_bound": 275.0,
                "lpt_makespan": 300.0,
                "optimal": True,  # the 3 longest items (200, 150, 150) put 2 together: >= 300
                "budget": 300.0,
                "wall_minutes": 7.0,
                "runner_minutes": 13.167,
                "gpu_minutes": 13.167,
            },
            "nightly-big": {
                "pool": "big",
                "pools": ["big"],
                "runs_on": ["8-gpu-h200"],
                "trigger": "nightly",
                "shards": [
                    shard(("t/n1.py", 900.0)),
                    shard(("t/n2.py", 200.0), ("t/n3.py", 200.0)),
                ],
                "makespan": 900.0,
                "lower_bound": 900.0,
                "lpt_makespan": 900.0,
                "optimal": True,
                "budget": 600.0,
                "wall_minutes": 18.0,
                "runner_minutes": 27.667,
                "gpu_minutes": 221.333,
            },
        },
        "pools": {
            "big": {"gpus": 8, "jobs": 2, "setup_minutes": 6.0, "runner_minutes": 27.667, "gpu_minutes": 221.333},
            "small": {"gpus": 1, "jobs": 2, "setup_minutes": 4.0, "runner_minutes": 13.167, "gpu_minutes": 13.167},
        },
        "model_tests": [],
    }


def test_plan_table(tree):
    result = run("plan")
    assert result.exit_code == 0
    assert result.stdout.splitlines() == [
        "suite                    pool   files  shards  makespan_min  lpt_min  bound_min  vs_bound  "
        "optimal  wall_min  runner_min  gpu_min",
        "-----------------------  -----  -----  ------  ------------  -------  ---------  --------  "
        "-------  --------  ----------  -------",
        "base-b-test-1-gpu-small  small  5      2       5.0           5.0      4.6        1.0909    "
        "yes      7.0       13.2        13.2",
        "nightly-big              big    3      2       15.0          15.0     15.0       1.0000    "
        "yes      18.0      27.7        221.3",
        "",
        "pool   gpus  jobs  setup_min  runner_min  gpu_min",
        "-----  ----  ----  ---------  ----------  -------",
        "big    8     2     6.0        27.7        221.3",
        "small  1     2     4.0        13.2        13.2",
        "",
        "2 suites, 4 jobs: 40.8 runner-minutes (10.0 of them setup), 234.5 GPU-minutes",
    ]


def test_plan_is_byte_identical_whatever_the_registration_order(tree):
    config = load_config(None, tree)
    registrations = list(scan_tree(tree, config.include, config.exclude).registrations)
    first = json.dumps(plan_to_json(plan(config, registrations)), indent=2)
    random.Random(7).shuffle(registrations)
    assert json.dumps(plan_to_json(plan(config, registrations)), indent=2) == first


def test_previous_plan_keeps_shard_indices(tree):
    previous = {"base-b-test-1-gpu-small": [["t/c.py", "t/d.py"], ["t/a.py", "t/b.py", "t/e.py"]]}
    suite = suite_plan(plan_of(tree, previous=previous), "base-b-test-1-gpu-small")
    assert [shard.files for shard in suite.shards] == [("t/c.py", "t/d.py"), ("t/a.py", "t/b.py", "t/e.py")]


def test_previous_plan_keeps_files_in_place_within_the_tolerance(tree):
    # Before: c with e. A fresh plan would move e next to a+b; within 10% it stays.
    previous = {"base-b-test-1-gpu-small": [["t/a.py", "t/b.py"], ["t/c.py", "t/d.py", "t/e.py"]]}
    kept = suite_plan(plan_of(tree, previous=previous, tolerance=0.3), "base-b-test-1-gpu-small")
    assert [shard.files for shard in kept.shards] == [("t/a.py", "t/b.py"), ("t/c.py", "t/d.py", "t/e.py")]
    assert kept.makespan_seconds == 350 and not kept.optimal
    strict = suite_plan(plan_of(tree, previous=previous, tolerance=0.0), "base-b-test-1-gpu-small")
    assert strict.makespan_seconds == 300 and strict.optimal


def test_diff_shows_what_moved(tree, tmp_path):
    write_files(tmp_path, {"old.json": run("plan", "--format", "json").stdout})
    write_files(
        tmp_path,
        {
            "t/e.py": BASE.format(40),
            "t/g.py": BASE.format(45),
            "t/n3.py": "register_cuda_ci(est_time=200, suite='nightly-big', nightly=True, disabled='x')" + MAIN,
        },
    )
    result = run("plan", "--diff", "old.json")
    assert result.exit_code == 0
    assert result.stdout.splitlines() == [
        "base-b-test-1-gpu-small: 2 -> 2 shards, makespan 300s -> 300s",
        "  added    t/g.py  -> shard 0",
        "nightly-big: 2 -> 2 shards, makespan 900s -> 900s",
        "  removed  t/n3.py  (was shard 1)",
        "2 suites changed: 0 files moved, 1 added, 1 removed",
    ]
    assert run("plan", "--diff", "old.json", "--format", "json").exit_code == 0


def test_diff_reads_the_committed_plan_file_too(tree, tmp_path):
    """The README's review command: `cigen plan --diff .github/cigen/plan.json` (files with their seconds)."""
    assert run("render").exit_code == 0
    write_files(tmp_path, {"t/g.py": BASE.format(45)})
    result = run("plan", "--diff", ".github/cigen/plan.json")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        "base-b-test-1-gpu-small: 2 -> 2 shards, makespan 300s -> 300s",
        "  added    t/g.py  -> shard 0",
        "1 suite changed: 0 files moved, 1 added, 0 removed",
    ]


def test_diff_against_itself_is_no_changes(tree, tmp_path):
    write_files(tmp_path, {"old.json": run("plan", "--format", "json").stdout})
    assert run("plan", "--diff", "old.json").stdout == "no changes\n"


def test_bad_plan_files_are_user_errors(tree, tmp_path):
    write_files(tmp_path, {"bad.json": json.dumps({"version": 1, "suites": {"x": {"shards": [{"files": [1]}]}}})})
    result = run("plan", "--previous", "bad.json")
    assert (result.exit_code, result.stdout) == (2, "")
    assert result.stderr == (
        "bad.json: bad-plan-file: suites.x.shards[0].files[0] must be an object with 'file' and 'est_seconds'\n"
    )
    missing = run("plan", "--diff", "nope.json")
    message = "nope.json: plan-unreadable: cannot read: No such file or directory\n"
    assert (missing.exit_code, missing.stderr) == (2, message)


def test_a_plan_of_another_version_is_refused(tree, tmp_path):
    write_files(tmp_path, {"old.json": '{"suites": {}}', "new.json": '{"version": 2, "suites": {}}'})
    for option in ("--previous", "--diff"):
        result = run("plan", option, "old.json")
        assert (result.exit_code, result.stderr) == (
            2,
            "old.json: plan-version: the plan file has no 'version'; this cigen reads version 1. "
            "Regenerate it with `cigen render` (or `cigen plan --format json`).\n",
        )
        result = run("plan", option, "new.json")
        assert (result.exit_code, result.stderr) == (
            2,
            "new.json: plan-version: the plan file is version 2; this cigen reads version 1. "
            "Regenerate it with `cigen render` (or `cigen plan --format json`).\n",
        )


def test_timings_replace_estimates_and_setup(tree, tmp_path):
    timings = {
        "files": [{"suite": "base-b-test-1-gpu-small", "path": "t/e.py", "seconds": 400.0, "samples": 5}],
        "setup_minutes": {"1-gpu-5090": 1.0},
    }
    write_files(tmp_path, {"timings.json": json.dumps(timings)})
    result = run("plan", "--format", "json", "--timings", "timings.json")
    assert result.exit_code == 0
    suite = json.loads(result.stdout)["suites"]["base-b-test-1-gpu-small"]
    assert suite["shards"] == [
        shard(("t/a.py", 100.0), ("t/b.py", 100.0)),
        shard(("t/c.py", 150.0), ("t/d.py", 150.0)),
        shard(("t/e.py", 400.0)),
    ]
    assert suite["wall_minutes"] == 7.667  # measured setup 1 min + 400s
    lines = result.stderr.splitlines()
    start = next(i for i, line in enumerate(lines) if "over-shard-budget" in line)
    assert lines[start : start + 2] == [
        "t/e.py:1: warning: over-shard-budget: 400s is longer than suite 'base-b-test-1-gpu-small' allows one shard "
        "(5 min = 300s); planned alone in shard 2",
        "  help: split the file, or raise shard_budget_minutes (and step_timeout_minutes) for the suite",
    ]


def test_suite_that_cannot_fit_at_max_parallel_is_warned_about(tree, tmp_path):
    write_files(tmp_path, {"cigen.yml": CONFIG.replace("max_parallel: 4", "max_parallel: 1")})
    result = run("plan", "--format", "json")
    assert result.exit_code == 0
    assert result.stderr.splitlines()[:2] == [
        "cigen.yml:10: warning: shards-over-budget: suite 'base-b-test-1-gpu-small': shard 0 takes 550s, "
        "over the 300s budget, with 1 shard (max_parallel 1)",
        "  help: raise max_parallel or shard_budget_minutes for the suite",
    ]


def test_scan_errors_stop_the_plan(tree, tmp_path):
    write_files(tmp_path, {"t/bad.py": "register_cuda_ci(est_time='slow', suite='nightly-big')" + MAIN})
    result = run("plan")
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr.splitlines()[-1] == "1 error in 11 files; nothing planned."


def test_corpus_plan_places_every_enabled_registration_once(synth_tree):
    config = load_config(None, synth_tree.root)
    registrations = scan_tree(synth_tree.root, config.include, config.exclude).registrations
    result = plan(config, registrations)
    planned = {(sp.suite.name, path) for sp in result.suites for shard in sp.shards for path in shard.files}
    expected = {  # sglang's rule: a nightly= flag contradicting the suite is skipped (mismatched_nightly: skip)
        (r.suite, r.path)
        for r in registrations
        if r.backend == "cuda"
        and r.enabled
        and config.suites[r.suite].enabled
        and config.suites[r.suite].runs_file(r.nightly)
    }
    assert planned == expected
    assert sum(len(shard.files) for sp in result.suites for shard in sp.shards) == len(expected)
    assert len(result.suites) == 39  # 45 non-empty CUDA suites, 6 of them disabled in the config
    for sp in result.suites:
        assert len(sp.shards) <= max(sp.suite.max_parallel, 1), sp.suite.name
        assert sp.makespan_seconds <= sp.lpt_makespan_seconds, sp.suite.name
        assert sp.makespan_seconds <= 1.01 * sp.lower_bound_seconds or sp.optimal, sp.suite.name


def test_model_tests_get_jobs_of_their_own_through_cigens_action_else_shards(synth_tree, tmp_path):
    checker = "test/registered/rl/test_weight_checker_e2e.py"
    # The embedded default pins no action: the weight checker is a file of its suite, as in sglang.
    result = CliRunner().invoke(cli, ["plan", "--root", str(synth_tree.root), "--format", "json"])
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["model_tests"] == []
    assert checker in [f for shard in document["suites"]["nightly-1-gpu"]["shards"] for f in shard_paths(shard)]
    # With cigen's action pinned, it gets a job per pool and leaves the shards.
    config = pinned_default_config(tmp_path)
    result = CliRunner().invoke(
        cli, ["plan", "--root", str(synth_tree.root), "--config", str(config), "--format", "json"]
    )
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["model_tests"] == [
        {"file": checker, "suite": "nightly-1-gpu", "pools": ["1-gpu-5090", "1-gpu-h100"]}
    ]
    shards = {f for suite in document["suites"].values() for shard in suite["shards"] for f in shard_paths(shard)}
    assert checker not in shards
    nightly = [f for shard in document["suites"]["nightly-1-gpu"]["shards"] for f in shard_paths(shard)]
    assert len(nightly) == 22  # sglang's 23 enabled nightly-1-gpu files, less the checker (nightly=False skipped)
