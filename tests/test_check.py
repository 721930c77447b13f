"""Drift check: exit 0 when the files on disk are a fresh render, else exit 1 with the diff."""

from __future__ import annotations

import os
import shutil
import stat
from pathlib import Path

import pytest
from click.testing import CliRunner

from generator.cli import cli
from tests.conftest import without_warnings, write_files
from tests.rendering import GOLDEN, REPO_ROOT

HEADER = "# @generated from templates/nightly.yml.j2. DO NOT EDIT.\n"


def invoke(*args: str):
    return CliRunner().invoke(cli, list(args))


def fixture_repo(tmp_path: Path) -> Path:
    """A copy of the golden fixture tree, rendered."""
    root = tmp_path / "repo"
    shutil.copytree(GOLDEN / "tree", root)
    assert invoke("render", "--root", str(root)).exit_code == 0
    return root


def generated(root: Path) -> list[Path]:
    return sorted(p for p in (root / ".github").rglob("*.y*ml") if p.read_text().startswith("# @generated"))


def test_fresh_render_passes(tmp_path):
    root = fixture_repo(tmp_path)
    result = invoke("check", "--root", str(root))
    assert len(generated(root)) >= 4
    assert (result.exit_code, result.stdout, without_warnings(result.stderr)) == (0, f"{len(generated(root))} generated files up to date.\n", "")


def test_edited_workflow_fails_with_a_unified_diff_and_the_fix(tmp_path):
    root = fixture_repo(tmp_path)
    path = root / ".github" / "workflows" / "per-commit.yml"
    path.write_text(path.read_text().replace("timeout-minutes: 10\n    permissions:", "timeout-minutes: 15\n    permissions:", 1))
    result = invoke("check", "--root", str(root))
    assert result.exit_code == 1
    assert result.stdout == (
        f"--- a/{path}\n"
        f"+++ b/{path}\n"
        "@@ -14,7 +14,7 @@\n"
        "   changes:\n"
        "     name: Changed paths\n"
        "     runs-on: ubuntu-latest\n"
        "-    timeout-minutes: 15\n"
        "+    timeout-minutes: 10\n"
        "     permissions:\n"
        "       contents: read\n"
        "     outputs:\n"
    )
    assert without_warnings(result.stderr) == f"1 generated file out of date:\n  {path} (differs)\n  fix: cigen render\n"


def test_missing_and_stale_files_are_drift_and_render_fixes_both(tmp_path):
    root = fixture_repo(tmp_path)
    workflows = root / ".github" / "workflows"
    (root / ".github" / "actionlint.yaml").unlink()
    (workflows / "old-suite.yml").write_text(HEADER + "name: old\n")
    (workflows / "hand-written.yml").write_text("name: mine\n")  # not ours: left alone
    result = invoke("check", "--root", str(root))
    assert result.exit_code == 1
    assert without_warnings(result.stderr) == (
        "2 generated files out of date:\n"
        f"  {root / '.github' / 'actionlint.yaml'} (missing)\n"
        f"  {workflows / 'old-suite.yml'} (stale)\n"
        "  fix: cigen render\n"
    )
    assert f"--- /dev/null\n+++ b/{root / '.github' / 'actionlint.yaml'}\n" in result.stdout
    assert result.stdout.endswith(f"--- a/{workflows / 'old-suite.yml'}\n+++ /dev/null\n@@ -1,2 +0,0 @@\n-{HEADER}-name: old\n")

    render = invoke("render", "--root", str(root))
    assert render.exit_code == 0
    rows = [line.split() for line in render.stdout.splitlines()[2:]]
    assert rows[0] == [str(root / ".github" / "actionlint.yaml"), "written"]
    assert rows[1:-1] == [[str(path), "unchanged"] for path in sorted(workflows.glob("*.yml")) if path.name != "hand-written.yml"]
    assert rows[-1] == [str(workflows / "old-suite.yml"), "removed", "(no", "longer", "generated)"]
    assert not (workflows / "old-suite.yml").exists()
    assert (workflows / "hand-written.yml").read_text() == "name: mine\n"
    assert invoke("check", "--root", str(root)).exit_code == 0


def test_adding_a_test_file_is_drift_until_regenerated(tmp_path):
    root = fixture_repo(tmp_path)
    write_files(root, {"test/large/test_new.py": 'register_cuda_ci(est_time=90, suite="base-c")\n\nif __name__ == "__main__":\n    main()\n'})
    result = invoke("check", "--root", str(root))
    assert result.exit_code == 1
    assert "+              - test/large/test_new.py\n" in result.stdout
    assert invoke("render", "--root", str(root)).exit_code == 0
    assert invoke("check", "--root", str(root)).exit_code == 0


def test_user_errors_exit_2_and_check_nothing(tmp_path):
    root = fixture_repo(tmp_path)
    result = invoke("check", "--root", str(root), "--timings", str(tmp_path / "absent.json"))
    assert result.exit_code == 2
    assert without_warnings(result.stderr).startswith(f"{tmp_path / 'absent.json'}: timings-unreadable: ")
    assert without_warnings(result.stderr).count("\n") == 1
    write_files(root, {"test/base/test_bad.py": "register_cuda_ci(est_time='fast', suite='base-a')\n"})
    result = invoke("check", "--root", str(root))
    assert result.exit_code == 2
    assert result.stderr.splitlines()[-1] == "1 error in 18 files; nothing checked."


def test_this_repositorys_workflows_are_fresh():
    """What `make check-workflows` and this repo's CI run."""
    result = invoke("check", "--root", str(REPO_ROOT))
    assert len(generated(REPO_ROOT)) >= 3  # nightly, cpu-tests, actionlint.yaml
    assert (result.exit_code, result.stdout) == (0, f"{len(generated(REPO_ROOT))} generated files up to date.\n"), result.stdout + result.stderr


@pytest.mark.parametrize(("umask", "mode"), [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_generated_files_honour_the_umask(tmp_path, umask, mode):
    old = os.umask(umask)
    try:
        root = fixture_repo(tmp_path)
    finally:
        os.umask(old)
    modes = {stat.S_IMODE(path.stat().st_mode) for path in generated(root)}
    assert modes == {mode}


def test_an_existing_file_keeps_its_mode(tmp_path):
    root = fixture_repo(tmp_path)
    path = root / ".github" / "workflows" / "per-commit.yml"
    path.chmod(0o640)
    path.write_text(path.read_text() + "# edited\n")
    assert invoke("render", "--root", str(root)).exit_code == 0
    assert stat.S_IMODE(path.stat().st_mode) == 0o640 and not path.read_text().endswith("# edited\n")
