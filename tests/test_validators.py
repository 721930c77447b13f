"""The real validators over every rendered workflow: actionlint (with shellcheck), zizmor
--offline at its strictest persona, and check-jsonschema's GitHub-workflow schema. Zero
findings of any severity."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.rendering import GOLDEN, REPO_ROOT, pinned_default_config, render_tree

pytestmark = pytest.mark.validators

BIN = Path(sys.executable).parent


def tool(name: str, *args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([str(BIN / name), *args], cwd=cwd, capture_output=True, text=True)


def as_repository(root: Path) -> Path:
    """actionlint finds the project (and resolves `uses: ./`) by its .git folder."""
    subprocess.run(["git", "init", "-q"], cwd=root, check=True)
    return root


@pytest.fixture(scope="module")
def corpus_repo(synth_tree, tmp_path_factory) -> Path:
    """sglang's tree rendered with the embedded default, cigen pinned: every workflow at full size."""
    root = tmp_path_factory.mktemp("corpus-validate")
    render_tree(synth_tree.root, root / ".github", config=pinned_default_config(root / "config"))
    return as_repository(root)


@pytest.fixture(scope="module")
def golden_repo(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("golden-validate")
    shutil.copytree(GOLDEN / "expected", root / ".github")
    return as_repository(root)


@pytest.fixture(scope="module")
def own_repo(tmp_path_factory) -> Path:
    """This repository's committed .github, with its action.yml: actionlint checks every
    `uses: ./` step's inputs against the action's real interface."""
    root = tmp_path_factory.mktemp("own-validate")
    shutil.copytree(REPO_ROOT / ".github", root / ".github")
    shutil.copy(REPO_ROOT / "action.yml", root / "action.yml")
    return as_repository(root)


REPOS = ["corpus_repo", "golden_repo", "own_repo"]


def workflows(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in (root / ".github" / "workflows").glob("*.yml"))


@pytest.mark.parametrize("repo", REPOS)
def test_actionlint_with_shellcheck_finds_nothing(repo, request):
    root = request.getfixturevalue(repo)
    result = tool(
        "actionlint",
        "-shellcheck",
        str(BIN / "shellcheck"),
        "-config-file",
        ".github/actionlint.yaml",
        "-format",
        "{{json .}}",
        *workflows(root),
        cwd=root,
    )
    assert (result.returncode, json.loads(result.stdout), result.stderr) == (0, [], "")


@pytest.mark.parametrize("repo", REPOS)
def test_zizmor_auditor_persona_finds_nothing(repo, request):
    root = request.getfixturevalue(repo)
    result = tool("zizmor", "--offline", "--persona", "auditor", "--format", "json", ".github/workflows", cwd=root)
    assert (result.returncode, json.loads(result.stdout)) == (0, []), result.stderr


def test_zizmor_ignores_only_the_root_action_spelling(own_repo):
    """The one inline ignore render.py writes: `uses: ./` for the action at the root, which
    `$/` cannot name."""
    ours = [
        w
        for w in workflows(own_repo)
        if Path(w).name in ("cigen-per-commit.yml", "cigen-nightly.yml", "cigen-cpu-tests.yml")
    ]
    result = tool(
        "zizmor", "--offline", "--persona", "auditor", "--no-ignores", "--format", "json", *ours, cwd=own_repo
    )
    findings = json.loads(result.stdout)
    places = sorted(
        (
            f["ident"],
            loc["symbolic"]["key"]["Local"]["verbatim_path"],
            loc["concrete"]["location"]["start_point"]["row"] + 1,
        )
        for f in findings
        for loc in f["locations"]
        if loc["symbolic"]["kind"] == "Primary"
    )
    text = (own_repo / ".github" / "workflows" / "cigen-nightly.yml").read_text().splitlines()
    root_action_lines = [
        i + 1
        for i, line in enumerate(text)
        if re.fullmatch(r" +uses: \./ # zizmor: ignore\[self-repository\] .*", line)
    ]
    assert len(root_action_lines) == 2  # the weight checker on the 5090 and the H100 pools
    assert places == [("self-repository", ".github/workflows/cigen-nightly.yml", line) for line in root_action_lines]


@pytest.mark.parametrize("repo", REPOS)
def test_check_jsonschema_github_workflow_schema(repo, request):
    root = request.getfixturevalue(repo)
    result = tool("check-jsonschema", "--builtin-schema", "vendor.github-workflows", *workflows(root), cwd=root)
    assert (result.returncode, result.stdout) == (0, "ok -- validation done\n"), result.stderr


def test_every_rendered_workflow_is_validated(corpus_repo, golden_repo, own_repo):
    assert [workflows(r) for r in (corpus_repo, golden_repo, own_repo)] == [
        [
            ".github/workflows/cigen-nightly.yml",
            ".github/workflows/cigen-per-commit.yml",
            ".github/workflows/cigen-rerun-test.yml",
        ],
        [
            ".github/workflows/cigen-cpu-tests.yml",
            ".github/workflows/cigen-nightly.yml",
            ".github/workflows/cigen-per-commit.yml",
            ".github/workflows/cigen-redispatch.yml",
            ".github/workflows/cigen-rerun-test.yml",
            ".github/workflows/cigen-timings.yml",
        ],
        [
            ".github/workflows/cigen-cpu-tests.yml",
            ".github/workflows/cigen-nightly.yml",
            ".github/workflows/cigen-rerun-test.yml",
        ],
    ]
