"""Helpers shared by the render, check and validator tests: render a tree, read the result."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Sequence
from pathlib import Path

import yaml

from generator.cli.render_commands import render_files
from generator.model import Config, Registration
from generator.pipeline import Build, Inputs, build
from generator.render.files import write_generated
from generator.tree import TreeScan

REPO_ROOT = Path(__file__).resolve().parent.parent
GOLDEN = Path(__file__).resolve().parent / "golden"

def render_tree(root: Path, github_dir: Path, config: Path | None = None, fresh: bool = False) -> dict[Path, str]:
    """Render `root` into `github_dir` (workflows/ and actionlint.yaml), as `cigen render` does."""
    rendered = render_files(root, config, True, None, github_dir / "workflows", "nothing written", fresh)
    write_generated(rendered.files, rendered.workflows_dir)
    return rendered.files


def build_without_tree(config: Config, registrations: Sequence[Registration] = ()) -> Build:
    """A build of `registrations` alone (no files on disk), for tests of what a template lays
    out; lint's findings about the missing tree are dropped."""
    scan = TreeScan(Path("."), tuple(sorted({r.path for r in registrations})), tuple(registrations), ())
    built = build(Inputs(Path("."), config, scan))
    return dataclasses.replace(built, problems=())


def load_yaml(path: Path) -> dict:
    return yaml.safe_load(path.read_text())


def shard_placements(workflow: dict) -> list[tuple[str, str]]:
    """(job id, file) for every file of every shard in the workflow's matrices."""
    return [
        (job_id, path)
        for job_id, job in workflow["jobs"].items()
        for entry in job.get("strategy", {}).get("matrix", {}).get("include", [])
        for path in entry.get("files", [])
    ]


def model_test_placements(workflow: dict) -> list[tuple[str, str]]:
    """(job id, test file) for every step that runs a test through cigen's action."""
    return [
        (job_id, step["with"]["test-file"])
        for job_id, job in workflow["jobs"].items()
        for step in job["steps"]
        if "test-file" in step.get("with", {})
    ]


def default_labels(job: dict) -> list[list[str]]:
    """The runner labels a job gets without a dispatch override: one list per pool it runs on."""
    runs_on = job["runs-on"]
    if isinstance(runs_on, list):
        return [runs_on]
    if runs_on == "${{ matrix.labels }}":
        return [entry["labels"] for entry in job["strategy"]["matrix"]["include"] if "labels" in entry]
    fallback = re.fullmatch(r"\$\{\{ .* \|\| fromJSON\('(\[[^']*\])'\) \}\}", runs_on)
    assert fallback, runs_on
    return [yaml.safe_load(fallback.group(1))]
