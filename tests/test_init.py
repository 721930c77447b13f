"""`cigen init`: a starter cigen.yml that lints and renders, never written over an existing one."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from generator.cli import cli
from generator.config import load_config
from generator.config_document import default_config_text
from generator.todos import find_todos
from tests.support.files import write_files

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
    written = root / "cigen.yml"
    assert result.stdout.splitlines()[1:10] == [
        "8 TODOs only you can decide:",
        f"  {written}:12: when nightly suites run (UTC)",
        f"  {written}:17: the runs-on labels of these runners",
        f"  {written}:18: GPUs per runner",
        f"  {written}:21: the runs-on labels of these runners",
        f"  {written}:22: GPUs per runner",
        f"  {written}:46: how a GPU runner installs this project",
        f"  {written}:47: which events run every per-commit suite (push to branches, schedule crons, dispatch)",
        f"  {written}:54: fail turns the required check red for a draft or unlabelled pull request",
    ]
    assert [todo.line for todo in find_todos(written.read_text())] == [12, 17, 18, 21, 22, 46, 47, 54]
    lint = run("lint", "--root", str(root))
    assert lint.exit_code == 0 and "0 errors" in lint.stderr, lint.stderr
    assert run("render", "--root", str(root)).exit_code == 0
    assert sorted(p.name for p in (root / ".github" / "workflows").iterdir()) == [
        "cigen-nightly.yml",
        "cigen-per-commit.yml",
        "cigen-rerun-test.yml",  # out of the box: nothing to install
    ]


# Every decision only sglang's maintainers can make, each a TODO above its key.
SGLANG_TODOS = {
    "# TODO: switch off the hand-written workflows these replace (pr-test.yml, pr-test-extra.yml, "
    "nightly-test-nvidia.yml, weekly-test-nvidia.yml, stress-test.yml; keep pr-gate.yml, which other backends call) "
    "once cigen's have run beside them; until then both run and only theirs is required": (
        "# cigen configuration: the embedded default. It reproduces sglang's CUDA CI layout"
    ),
    "  # TODO: when the nightly suites run (UTC; sglang: 14:00 every other day)": '  nightly_cron: "0 14 */2 * *"',
    "# TODO: keep the pools whose labels your self-hosted runners register (sglang's runner fleet)": "pools:",
    "    # TODO: the runners that build sgl-kernel's wheels (no GPU needed)": "    pool: x64-kernel-build-node",
    "# TODO: the timings loop (cigen-timings.yml) needs cigen pinned by commit; /rerun-test needs nothing: "
    "cigen_package: git+https://github.com/OWNER/cigen@<40-hex sha>": "workflows:",
    "  # TODO: which events run every per-commit suite (sglang: the twice-daily schedule and dispatch, no push)": (
        "  triggers:"
    ),
    "    # TODO: who may add run-ci decides who spends GPU time (on GitHub: triage permission and up)": (
        "    label: run-ci"
    ),
    '    # TODO: fail: a draft or unlabelled pull request cannot merge once the check "Result" (job finish) is '
    "required in branch protection, in place of pr-test-finish in sglang's protected job names": "    gated_off: fail",
    "    # TODO: the label that runs every shard of a pull request at once (sglang: high priority)": (
        "    lift_label: high priority"
    ),
    "  # TODO: retries of accuracy failures and timeouts (sglang's CUDA CI: none)": "  retries: 0",
    "      # TODO: set the repository variable SGLANG_PRECISION_HF_REPO (Settings > Secrets and variables > Actions > "
    "Variables; unset, SGLANG_PRECISION_HF_REPO is empty)": (
        "      SGLANG_PRECISION_HF_REPO: {var: SGLANG_PRECISION_HF_REPO}  # the test errors without it"
    ),
    "      # TODO: set the repository variable SGLANG_PRECISION_HF_REVISION (Settings > Secrets and variables > "
    "Actions > Variables; unset, SGLANG_PRECISION_HF_REVISION is 'main')": (
        "      SGLANG_PRECISION_HF_REVISION: {var: SGLANG_PRECISION_HF_REVISION, default: main}"
    ),
    "    # TODO: create the secret HF_TOKEN_PRECISION_STORE (Settings > Secrets and variables > Actions > Secrets); "
    "the jobs read it as HF_TOKEN": "    secrets: {HF_TOKEN: HF_TOKEN_PRECISION_STORE}",
}


def test_sglang_template_marks_every_maintainer_decision_and_lists_the_todos(tmp_path):
    """The embedded default, plus a TODO line above each decision only the maintainer can make (which
    runners, which events, the required check, the throttle label, retries, the hand-written workflows
    to switch off, the repository variables and secrets the jobs read); init prints them all."""
    root = write_files(tmp_path / "repo", TREE)
    result = run("init", "--root", str(root), "--template", "sglang")
    assert result.exit_code == 0, result.output
    lines = (root / "cigen.yml").read_text().splitlines()
    marks = {line: lines[number + 1] for number, line in enumerate(lines) if "# TODO:" in line}
    assert marks == SGLANG_TODOS
    unmarked = [line for line in lines if not line.lstrip().startswith("# TODO:")]
    assert "\n".join(unmarked) + "\n" == default_config_text()
    config = root / "cigen.yml"
    listed = [f"  {config}:{lines.index(mark) + 1}: {mark.split('# TODO: ', 1)[1]}" for mark in SGLANG_TODOS]
    assert result.stdout.splitlines()[1:15] == ["13 TODOs only you can decide:", *listed]
    assert f"  1. decide each TODO listed above in {config}, then delete its mark" in result.stdout


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
