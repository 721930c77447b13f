"""Drift check: exit 0 when the files on disk are a fresh render, else exit 1 with the diff."""

from __future__ import annotations

import os
import shutil
import stat
from pathlib import Path

import pytest
from click.testing import CliRunner

from generator.cli import cli
from generator.names import is_generated
from tests.support.files import without_warnings, write_files
from tests.support.rendering import GOLDEN, REPO_ROOT

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
    """Every file cigen wrote under the repository's .github/ folder."""
    return sorted(p for p in (root / ".github").rglob("*") if p.is_file() and is_generated(p))


def test_fresh_render_passes(tmp_path):
    root = fixture_repo(tmp_path)
    result = invoke("check", "--root", str(root))
    # 6 workflows (re-dispatch too), the plan, actionlint.yaml; the runner, gate, plan_file, step_files,
    # process_group, health, fleet and re-dispatch programs; /rerun-test's gate, selector, client and registry
    assert len(generated(root)) == 20
    assert (result.exit_code, result.stdout, without_warnings(result.stderr)) == (
        0,
        "20 generated files up to date.\n",
        "",
    )


def test_edited_workflow_fails_with_a_unified_diff_and_the_fix(tmp_path):
    root = fixture_repo(tmp_path)
    path = root / ".github" / "workflows" / "cigen-per-commit.yml"
    path.write_text(
        path.read_text().replace("timeout-minutes: 10\n    permissions:", "timeout-minutes: 15\n    permissions:", 1)
    )
    result = invoke("check", "--root", str(root))
    assert result.exit_code == 1
    assert result.stdout == (  # paths as git names them, relative to the repository root
        "--- a/.github/workflows/cigen-per-commit.yml\n"
        "+++ b/.github/workflows/cigen-per-commit.yml\n"
        "@@ -15,7 +15,7 @@\n"
        "   gate:\n"
        "     name: Which suites run\n"
        "     runs-on: ubuntu-latest\n"
        "-    timeout-minutes: 15\n"
        "+    timeout-minutes: 10\n"
        "     permissions:\n"
        "       contents: read  # the plan file, and the diff of a pull request's merge commit\n"
        "       pull-requests: read  # the pull request's labels and draft state, read live\n"
    )
    assert (
        without_warnings(result.stderr) == f"1 generated file out of date:\n  {path} (differs)\n  fix: cigen render\n"
    )


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
    assert "--- /dev/null\n+++ b/.github/actionlint.yaml\n" in result.stdout
    assert result.stdout.endswith(
        f"--- a/.github/workflows/old-suite.yml\n+++ /dev/null\n@@ -1,2 +0,0 @@\n-{HEADER}-name: old\n"
    )

    render = invoke("render", "--root", str(root))
    assert render.exit_code == 0
    rows = [line.split() for line in render.stdout.splitlines()[2:]]
    assert rows[0] == [str(root / ".github" / "actionlint.yaml"), "written"]
    ours = sorted(path for path in generated(root) if path.name != "actionlint.yaml" and path.name != "old-suite.yml")
    assert rows[1:-1] == [[str(path), "unchanged"] for path in ours]
    assert rows[-1] == [str(workflows / "old-suite.yml"), "removed", "(no", "longer", "generated)"]
    assert not (workflows / "old-suite.yml").exists()
    assert (workflows / "hand-written.yml").read_text() == "name: mine\n"
    assert invoke("check", "--root", str(root)).exit_code == 0


def test_adding_a_test_file_changes_the_plan_file_and_no_workflow(tmp_path):
    root = fixture_repo(tmp_path)
    new = 'register_cuda_ci(est_time=90, suite="base-c")\n\nif __name__ == "__main__":\n    main()\n'
    write_files(root, {"test/large/test_new.py": new})
    result = invoke("check", "--root", str(root))
    assert result.exit_code == 1
    assert '+          {"file": "test/large/test_new.py", "est_seconds": 90.0}\n' in result.stdout
    assert without_warnings(result.stderr).splitlines()[:3] == [  # the plan and what /rerun-test may run
        "2 generated files out of date:",
        f"  {root / '.github' / 'cigen' / 'plan.json'} (differs)",
        f"  {root / '.github' / 'cigen' / 'rerun-test.json'} (differs)",
    ]
    assert invoke("render", "--root", str(root)).exit_code == 0
    assert invoke("check", "--root", str(root)).exit_code == 0


def test_a_hand_written_file_where_an_output_goes_is_never_replaced(tmp_path):
    root = fixture_repo(tmp_path)
    path = root / ".github" / "workflows" / "cigen-nightly.yml"
    path.write_text("name: our own nightly\n")  # no @generated header: a maintainer's file
    for command in ("render", "check"):
        result = invoke(command, "--root", str(root))
        assert result.exit_code == 2
        what = "nothing written" if command == "render" else "nothing checked"
        assert without_warnings(result.stderr) == (
            f"{path}: not-generated: this file exists and was not generated by cigen (no @generated header); "
            "cigen never replaces it\n"
            f"  help: choose another name (workflows.files in cigen.yml), move it away, or adopt it: --adopt {path}\n"
            f"1 file in the way; {what}.\n"
        )
    assert path.read_text() == "name: our own nightly\n"
    # Deliberately adopted, it becomes cigen's.
    assert invoke("render", "--root", str(root), "--adopt", str(path)).exit_code == 0
    assert is_generated(path) and invoke("check", "--root", str(root)).exit_code == 0


def test_out_keeps_every_output_inside_the_folder_it_names(tmp_path):
    root = fixture_repo(tmp_path)
    out = tmp_path / "preview"
    assert invoke("render", "--root", str(root), "--out", str(out)).exit_code == 0
    written = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())
    assert written == sorted(p.relative_to(root / ".github").as_posix() for p in generated(root))
    assert not (tmp_path / "actionlint.yaml").exists()
    (out / "cigen" / "plan.json").unlink()
    result = invoke("check", "--root", str(root), "--out", str(out))
    assert result.exit_code == 1
    assert without_warnings(result.stderr).splitlines()[-1] == f"  fix: cigen render --out {out}"


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
    assert (result.exit_code, result.stdout) == (0, f"{len(generated(REPO_ROOT))} generated files up to date.\n"), (
        result.stdout + result.stderr
    )


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
    path = root / ".github" / "workflows" / "cigen-per-commit.yml"
    path.chmod(0o640)
    path.write_text(path.read_text() + "# edited\n")
    assert invoke("render", "--root", str(root)).exit_code == 0
    assert stat.S_IMODE(path.stat().st_mode) == 0o640 and not path.read_text().endswith("# edited\n")
