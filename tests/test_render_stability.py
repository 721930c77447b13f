"""Regenerating keeps files in the shards the committed plan file lists (few moved lines),
and `render` says what the planner warns about."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from click.testing import CliRunner

from generator.cli import cli
from generator.config import load_config
from generator.planning.previous import committed_shards
from tests.support.rendering import render_tree

NEW_FILE = "test/registered/core/test_new_feature.py"
NEW_SOURCE = (
    'register_cuda_ci(est_time=300, stage="base-b", runner_config="1-gpu-large")\n'
    '\nif __name__ == "__main__":\n    main()\n'
)


def shards_of(github_dir: Path, suite: str) -> list[set[str]]:
    return [set(files) for files in committed_shards(github_dir / "cigen" / "plan.json")[suite]]


def moved(old: list[set[str]], new: list[set[str]], ignore: str) -> int:
    """Files (other than `ignore`) whose shard index changed."""
    where = {path: i for i, files in enumerate(old) for path in files}
    return sum(1 for i, files in enumerate(new) for path in files if path != ignore and where.get(path) != i)


def test_adding_one_file_moves_few_others(synth_tree, tmp_path):
    root = tmp_path / "repo"
    shutil.copytree(synth_tree.root, root)
    render_tree(root, root / ".github")
    before = shards_of(root / ".github", "base-b-test-1-gpu-large")
    (root / NEW_FILE).write_text(NEW_SOURCE)
    stable_dir, fresh_dir = tmp_path / "stable", tmp_path / "fresh"
    shutil.copytree(root / ".github", stable_dir)
    shutil.copytree(root / ".github", fresh_dir)
    render_tree(root, stable_dir)
    render_tree(root, fresh_dir, fresh=True)
    stable = shards_of(stable_dir, "base-b-test-1-gpu-large")
    fresh = shards_of(fresh_dir, "base-b-test-1-gpu-large")
    assert any(NEW_FILE in files for files in stable) and any(NEW_FILE in files for files in fresh)
    kept, replanned = moved(before, stable, NEW_FILE), moved(before, fresh, NEW_FILE)
    assert kept < replanned
    assert kept <= 20, (kept, replanned)


def test_regenerating_an_unchanged_tree_changes_nothing(synth_tree, tmp_path):
    github = tmp_path / ".github"
    first = render_tree(synth_tree.root, github)
    second = render_tree(synth_tree.root, github)
    assert {p.name: t for p, t in first.items()} == {p.name: t for p, t in second.items()}


def test_only_a_plan_file_cigen_wrote_and_can_read_is_the_previous_plan(tmp_path):
    shards = [{"est_seconds": 1, "files": [{"file": "test/a.py", "est_seconds": 1}]}]
    plan = {"version": 1, "suites": {"nightly-1-gpu": {"shards": shards}}}
    path = tmp_path / "plan.json"
    path.write_text(json.dumps(plan))  # hand-written: no @generated key first
    assert committed_shards(path) is None
    path.write_text(json.dumps({"@generated": "by cigen", **plan}, indent=2))
    assert committed_shards(path) == {"nightly-1-gpu": [["test/a.py"]]}
    path.write_text('{\n  "@generated": "by cigen", "suites": [\n')  # cigen's, but broken
    assert committed_shards(path) is None
    path.write_text(json.dumps({"@generated": "by cigen", **plan, "version": 2}, indent=2))  # a newer cigen's
    assert committed_shards(path) is None
    assert committed_shards(tmp_path / "absent.json") is None


def test_render_prints_the_planners_warnings_as_lint_does(synth_tree, tmp_path):
    result = CliRunner().invoke(
        cli, ["render", "--root", str(synth_tree.root), "--out", str(tmp_path / "wf"), "--no-cache"]
    )
    assert result.exit_code == 0, result.output
    lint = CliRunner().invoke(cli, ["lint", "--root", str(synth_tree.root)])
    findings = [line for line in lint.stderr.splitlines() if ": warning: " in line or line.startswith("  help: ")]
    assert result.stderr.splitlines() == findings  # one verdict: render prints exactly lint's findings
    warnings = [line for line in result.stderr.splitlines() if "budget: " in line]
    base_a = load_config(None, synth_tree.root).suites["base-a-test-1-gpu-small"].line
    assert warnings == [
        f"<embedded default cigen.yml>:{base_a}: warning: shards-over-budget: "
        "suite 'base-a-test-1-gpu-small': shard 0 takes 590s, over the 450s budget, with 1 shard (max_parallel 1)",
        "test/registered/perf/test_text_models_perf.py:12: warning: over-shard-budget: 3600s is longer than suite "
        "'nightly-perf-text-2-gpu' allows one shard (30 min = 1800s); planned alone in shard 0",
        "test/registered/perf/test_vlms_perf.py:14: warning: over-shard-budget: 7200s is longer than suite "
        "'nightly-perf-vlm-2-gpu' allows one shard (30 min = 1800s); planned alone in shard 0",
    ]
