"""`cigen init`: a starter cigen.yml that lints and renders, never written over an existing one."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from generator.cli import cli
from generator.config import default_config_text, load_config
from tests.conftest import write_files

MAIN = '\n\nif __name__ == "__main__":\n    unittest.main()\n'
TREE = {
    "tests/gpu/test_a.py": 'import unittest\nregister_cuda_ci(est_time=60, suite="per-commit-1-gpu")' + MAIN,
    "tests/gpu/test_b.py": 'import unittest\nregister_cuda_ci(est_time=600, suite="nightly-1-gpu", nightly=True)'
    + MAIN,
    "tests/gpu/test_c.py": 'import unittest\nregister_cuda_ci(est_time=90, stage="base", runner_config="2-gpu")' + MAIN,
    "tests/cpu/test_d.py": 'import unittest\nregister_cpu_ci(est_time=5, suite="cpu")' + MAIN,
    "src/app.py": "print('not a test')\n",
}


def run(*args: str):
    return CliRunner().invoke(cli, list(args))


def test_minimal_config_follows_the_tests_and_renders(tmp_path):
    root = write_files(tmp_path / "repo", TREE)
    result = run("init", "--root", str(root))
    assert result.exit_code == 0, result.output
    assert (
        result.stdout.splitlines()[0]
        == f"wrote {root / 'cigen.yml'} (minimal) for 4 registered test files under tests/**/*.py"
    )
    assert (
        "  3. cigen render   writes .github/workflows/cigen-*.yml and .github/cigen/ (plan, runner, gate)"
        in result.stdout
    )
    config = load_config(None, root)
    assert {name: (s.trigger, s.pools) for name, s in config.suites.items()} == {
        "base-test-2-gpu": ("per-commit", ("2-gpu",)),
        "nightly-1-gpu": ("nightly", ("gpu",)),
        "per-commit-1-gpu": ("per-commit", ("gpu",)),
    }
    assert config.workflows.pull_requests.label == "run-ci" and config.workflows.cigen_package is None
    lint = run("lint", "--root", str(root))
    assert lint.exit_code == 0 and "0 errors" in lint.stderr, lint.stderr
    assert run("render", "--root", str(root)).exit_code == 0
    assert sorted(p.name for p in (root / ".github" / "workflows").iterdir()) == [
        "cigen-nightly.yml",
        "cigen-per-commit.yml",
    ]


def test_sglang_template_is_the_embedded_default(tmp_path):
    root = write_files(tmp_path / "repo", TREE)
    assert run("init", "--root", str(root), "--template", "sglang").exit_code == 0
    assert (root / "cigen.yml").read_text() == default_config_text()


def test_a_tree_without_tests_gets_a_placeholder_suite(tmp_path):
    root = write_files(tmp_path / "repo", {"src/app.py": "print(1)\n"})
    assert run("init", "--root", str(root)).exit_code == 0
    assert list(load_config(None, root).suites) == ["gpu-tests"]


def test_an_existing_config_is_never_replaced(tmp_path):
    root = write_files(tmp_path / "repo", {"cigen.yml": "version: 1\n"})
    result = run("init", "--root", str(root))
    assert (result.exit_code, result.stderr) == (
        2,
        f"{root / 'cigen.yml'}: config-exists: a cigen.yml is already here; init never replaces it\n"
        "  help: edit it, or remove it to start over\n",
    )
    assert (root / "cigen.yml").read_text() == "version: 1\n"


def test_tests_option_picks_the_layout(tmp_path):
    root = write_files(tmp_path / "repo", TREE)
    assert run("init", "--root", str(root), "--tests", "tests/cpu/**/*.py").exit_code == 0
    assert load_config(None, Path(root)).include == ("tests/cpu/**/*.py",)
