""".pre-commit-hooks.yaml: pre-commit itself installs cigen from a local clone and runs both hooks.

Offline: the clone is a git repository made from this checkout's package files (uncommitted
changes included), and pip reads no configuration and no index, only .venv/wheelhouse (cigen's
runtime dependencies, downloaded by `make .venv/.test`); cigen builds with the setuptools the
hook's virtualenv is seeded with.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.act.wheelhouse import DEPENDENCY_WHEELS, PACKAGE_FILES
from tests.support.rendering import GOLDEN, REPO_ROOT, render_tree

HOOKS = REPO_ROOT / ".pre-commit-hooks.yaml"
PRE_COMMIT = Path(sys.executable).parent / "pre-commit"


def git(*args: str, cwd: Path) -> str:
    done = subprocess.run(
        ["git", "-c", "user.name=cigen-tests", "-c", "user.email=tests@cigen.invalid", *args],
        cwd=cwd, capture_output=True, text=True, check=True,
    )  # fmt: skip
    return done.stdout.strip()


def cigen_clone(folder: Path) -> tuple[Path, str]:
    """A git repository holding what pip needs to install cigen, and the hooks file; its commit."""
    for name in (*PACKAGE_FILES, HOOKS.name):
        origin = REPO_ROOT / name
        if origin.is_dir():
            shutil.copytree(origin, folder / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            folder.mkdir(parents=True, exist_ok=True)
            shutil.copy2(origin, folder / name)
    git("init", "-q", cwd=folder)
    git("add", "-A", cwd=folder)
    git("commit", "-qm", "cigen", cwd=folder)
    return folder, git("rev-parse", "HEAD", cwd=folder)


@pytest.fixture(scope="module")
def consumer(tmp_path_factory) -> tuple[Path, dict]:
    """A repository whose CI cigen generated, using both hooks from the clone; pre-commit's env."""
    base = tmp_path_factory.mktemp("pre-commit")
    clone, sha = cigen_clone(base / "cigen")
    repo = base / "repo"
    shutil.copytree(GOLDEN / "tree", repo)
    render_tree(repo, repo / ".github")
    config = {"repos": [{"repo": clone.as_uri(), "rev": sha, "hooks": [{"id": "cigen-check"}, {"id": "cigen-lint"}]}]}
    (repo / ".pre-commit-config.yaml").write_text(yaml.safe_dump(config))
    git("init", "-q", cwd=repo)
    git("add", "-A", cwd=repo)
    env = {key: value for key, value in os.environ.items() if not key.startswith("PIP_")}
    env.update(
        PRE_COMMIT_HOME=str(base / "pre-commit-home"),
        PIP_CONFIG_FILE=os.devnull,
        PIP_NO_INDEX="1",
        PIP_FIND_LINKS=str(DEPENDENCY_WHEELS),
        PIP_NO_BUILD_ISOLATION="0",  # pip reads this variable inverted: "0" turns build isolation off
    )
    return repo, env


def pre_commit(repo: Path, env: dict, *hooks: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(PRE_COMMIT), "run", "--all-files", *hooks], cwd=repo, env=env, capture_output=True, text=True, timeout=600
    )


def test_the_hooks_file_declares_check_and_lint():
    hooks = yaml.safe_load(HOOKS.read_text())
    assert [(hook["id"], hook["entry"], hook["language"], hook["pass_filenames"]) for hook in hooks] == [
        ("cigen-check", "cigen check", "python", False),
        ("cigen-lint", "cigen lint", "python", False),
    ]


def test_both_hooks_pass_on_a_repository_whose_workflows_are_fresh(consumer):
    repo, env = consumer
    done = pre_commit(repo, env)
    assert done.returncode == 0, done.stdout + done.stderr
    passed = [line for line in done.stdout.splitlines() if line.endswith("Passed")]
    assert [line.split(" ", 2)[:2] for line in passed] == [["cigen", "check"], ["cigen", "lint"]]


def test_cigen_check_fails_with_the_diff_when_a_workflow_is_stale(consumer):
    repo, env = consumer
    workflow = repo / ".github" / "workflows" / "cigen-nightly.yml"
    fresh = workflow.read_text()
    workflow.write_text(fresh.replace("timeout-minutes:", "timeout-minutes: 1 #", 1))
    try:
        done = pre_commit(repo, env, "cigen-check")
    finally:
        workflow.write_text(fresh)
    assert done.returncode == 1
    assert "cigen check (the generated workflows are up to date)" in done.stdout
    assert "Failed" in done.stdout
    assert "+++ b/.github/workflows/cigen-nightly.yml" in done.stdout


def test_cigen_lint_fails_on_an_error_finding(consumer):
    repo, env = consumer
    bad = repo / "test" / "registered" / "test_bad_marker.py"
    bad.parent.mkdir(parents=True, exist_ok=True)
    bad.write_text('from sglang.test.ci.ci_register import register_cuda_ci\nregister_cuda_ci(est_time="fast")\n')
    try:
        done = pre_commit(repo, env, "cigen-lint")
    finally:
        bad.unlink()
    assert done.returncode == 1
    assert "bad-est-time" in done.stdout
