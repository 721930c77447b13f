"""README.md names only what exists: every `cigen` command, every repository path."""

from __future__ import annotations

import re

from generator.cli import cli
from tests.support.rendering import REPO_ROOT

README = (REPO_ROOT / "README.md").read_text()
# Paths in the user's repository (what cigen writes under .github/, sglang's own files): not ours to check.
USER_PATHS = (".github/", "workflows/", "cigen/", "test/", "registered/", "scripts/ci/", "src/", "tests/**", "python/")


GENERATED_NAMES = {
    "actionlint.yaml",
    "plan.json",
    "results.json",
    "cigen.yml",
    "model.json",
}  # names of outputs and examples


def test_every_cigen_command_the_readme_names_exists():
    inline = re.findall(r"`cigen ([a-z][a-z-]*)", README)  # `cigen lint`, `cigen run-shard ...`
    blocks = re.findall(r"^(?:\$ )?cigen ([a-z][a-z-]*)", README, flags=re.M)  # command lines in code blocks
    named = set(inline) | set(blocks)
    known = set(cli.list_commands(None))
    groups = {name: cli.get_command(None, name) for name in known}
    assert named <= known, sorted(named - known)
    for line in re.findall(r"^cigen rerun ([a-z|]+)", README, flags=re.M):
        assert set(line.split("|")) <= set(groups["rerun"].commands), line
    assert {"init", "lint", "render", "check", "calibrate", "mem", "rerun"} <= named


def test_every_repository_path_the_readme_names_exists():
    quoted = re.findall(
        r"`([A-Za-z0-9_.][A-Za-z0-9_./*-]*/[A-Za-z0-9_./*-]*|[A-Za-z0-9_-]+\.(?:py|yml|yaml|md|json|toml))`", README
    )
    checked = []
    for path in quoted:
        if path.startswith(USER_PATHS) or "<" in path or path.startswith("cigen-"):
            continue
        if path in GENERATED_NAMES or path.startswith("test_"):  # outputs' names, sglang's test files
            continue
        if path.startswith("../"):  # beside the checkout (the team's shared corpus), not in it
            continue
        if "*" in path:
            assert list(REPO_ROOT.glob(path)), path
        else:
            assert (REPO_ROOT / path).exists() or (REPO_ROOT / "generator" / path).exists(), path
        checked.append(path)
    assert len(checked) >= 30
