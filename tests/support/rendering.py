"""Helpers shared by the render, check and validator tests: render a tree, read the result."""

from __future__ import annotations

import dataclasses
import re
import shlex
from collections.abc import Sequence
from pathlib import Path

import yaml

from generator.config_document import default_config_text
from generator.model import Config
from generator.names import PLAN_FILE
from generator.pipeline import Build, Inputs, build
from generator.registration import Registration
from generator.render.files import write_generated
from generator.render.repository import RenderRequest, render_repository
from generator.shipped import plan_file
from generator.tree import TreeScan

REPO_ROOT = Path(__file__).resolve().parents[2]
GOLDEN = REPO_ROOT / "tests" / "golden"


def render_tree(root: Path, github_dir: Path, config: Path | None = None, fresh: bool = False) -> dict[Path, str]:
    """Render `root` into `github_dir` (workflows/, cigen/, actionlint.yaml), as `cigen render --out` does."""
    rendered = render_repository(RenderRequest(root, config, out=github_dir, fresh=fresh), "nothing written")
    write_generated(rendered.files, rendered.github_dir)
    return rendered.files


PINNED_CIGEN = "git+https://github.com/octo/cigen@0123456789abcdef0123456789abcdef01234567"
PINNED_ACTION = "octo/cigen@0123456789abcdef0123456789abcdef01234567"


def pinned_default_config(folder: Path) -> Path:
    """The embedded sglang default with cigen pinned by commit (package and action), as a
    maintainer adopting cigen would set it: every output, /rerun-test and model-test jobs included."""
    text = default_config_text().replace(
        "workflows:\n",
        f"workflows:\n  cigen_package: {PINNED_CIGEN}\n  action: {PINNED_ACTION}\n  action_version: v0.1.0\n",
        1,
    )
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "cigen.yml").write_text(text)
    return folder / "cigen.yml"


def build_without_tree(config: Config, registrations: Sequence[Registration] = ()) -> Build:
    """A build of `registrations` alone (no files on disk), for tests of what a template lays
    out; lint's findings about the missing tree are dropped."""
    scan = TreeScan(Path("."), tuple(sorted({r.path for r in registrations})), tuple(registrations), ())
    built = build(Inputs(Path("."), config, scan))
    return dataclasses.replace(built, problems=())


def load_yaml(path: Path) -> dict:
    return yaml.safe_load(path.read_text())


def plan_placements(github_dir: Path) -> list[tuple[str, int, str]]:
    """(suite, shard, file) for every file of every shard in the plan file."""
    plan = plan_file.read(github_dir / PLAN_FILE)
    return [
        (suite, index, path)
        for suite, shards in plan.shard_paths().items()
        for index, paths in enumerate(shards)
        for path in paths
    ]


def shard_jobs(workflow: dict) -> dict[str, dict]:
    """The jobs that run shards (the runner on a suite of the plan file), by job id."""
    return {
        job_id: job
        for job_id, job in workflow["jobs"].items()
        if any("run_shard.py run" in step.get("run", "") for step in job.get("steps", []))
    }


def job_suite(job: dict) -> str:
    """The suite a shard job runs: its run step's --suite."""
    step = next(step for step in job["steps"] if "run_shard.py run" in step.get("run", ""))
    return shlex.split(step["run"])[shlex.split(step["run"]).index("--suite") + 1]


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
    fallback = re.fullmatch(r"\$\{\{ .* \|\| fromJSON\('(\[[^']*\])'\) \}\}", runs_on)
    assert fallback, runs_on
    return [yaml.safe_load(fallback.group(1))]
