"""action.yml passes actionlint, zizmor and check-jsonschema with zero findings.

actionlint lints workflows, not action files: it checks a local action's metadata, and the inputs
and outputs a workflow uses, through a workflow that calls it (`uses: ./`), as the generated
nightly workflow does. Every tool is also shown a broken copy, so a silent tool cannot pass.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.action_runner import ACTION

pytestmark = pytest.mark.validators

BIN = Path(sys.executable).parent
CALLER = """\
name: weight checker
on: workflow_dispatch
permissions: {}
jobs:
  weight-checker:
    runs-on: [1-gpu-5090]
    steps:
      - uses: ./
        id: wc
        with:
          test-file: test/registered/rl/test_weight_checker_e2e.py
          model: Qwen/Qwen3-0.6B
          mem-fraction-static: auto
          server-args: ""
          timeout-minutes: "30"
          install: none
          python: python3
      - run: echo "$RESULT at $FRACTION"
        env:
          RESULT: ${{ steps.wc.outputs.result }}
          FRACTION: ${{ steps.wc.outputs.mem-fraction-static }}
"""


def tool(name: str, *args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([str(BIN / name), *args], cwd=cwd, capture_output=True, text=True, timeout=120)


def repo_with_action(tmp_path: Path, action_text: str, caller: str = CALLER) -> Path:
    (tmp_path / ".github" / "workflows").mkdir(parents=True)
    (tmp_path / ".git").mkdir()  # actionlint finds the project root by it
    (tmp_path / "action.yml").write_text(action_text)
    (tmp_path / ".github" / "workflows" / "weight-checker.yml").write_text(caller)
    (tmp_path / ".github" / "actionlint.yaml").write_text("self-hosted-runner:\n  labels: [1-gpu-5090]\n")
    return tmp_path


def test_actionlint_zero_findings(tmp_path):
    root = repo_with_action(tmp_path, ACTION.read_text())
    result = tool("actionlint", "-oneline", "-shellcheck=", "-pyflakes=", cwd=root)
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")


def test_actionlint_sees_the_action_inputs(tmp_path):
    root = repo_with_action(
        tmp_path, ACTION.read_text(), CALLER.replace("python: python3", "python: python3\n          pyhton: typo")
    )
    result = tool("actionlint", "-oneline", "-shellcheck=", "-pyflakes=", cwd=root)
    assert result.returncode == 1
    assert result.stdout.startswith(
        '.github/workflows/weight-checker.yml:18:11: input "pyhton" is not defined in action "cigen weight-checker e2e"'
    )


def test_zizmor_zero_findings():
    result = tool("zizmor", "--offline", "--no-progress", str(ACTION), cwd=ACTION.parent)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == "No findings to report. Good job!"


def test_zizmor_flags_an_input_in_a_run_script(tmp_path):
    unsafe = ACTION.read_text().replace(
        """run: '"$CIGEN_PYTHON" "$GITHUB_ACTION_PATH/generator/action.py" install'""",
        """run: '"$CIGEN_PYTHON" -m pip install ${{ inputs.install }}'""",
    )
    (tmp_path / "action.yml").write_text(unsafe)
    result = tool("zizmor", "--offline", "--no-progress", str(tmp_path / "action.yml"), cwd=tmp_path)
    assert result.returncode != 0
    assert "template-injection" in result.stdout


def test_zizmor_flags_an_unpinned_action(tmp_path):
    unpinned = ACTION.read_text().replace(
        "actions/upload-artifact@ea165f8d65b6e75b540449e92b4886f43607fa02 # v4.6.2", "actions/upload-artifact@v4"
    )
    (tmp_path / "action.yml").write_text(unpinned)
    result = tool("zizmor", "--offline", "--no-progress", str(tmp_path / "action.yml"), cwd=tmp_path)
    assert result.returncode != 0
    assert "unpinned-uses" in result.stdout


def test_check_jsonschema_github_actions_schema(tmp_path):
    result = tool("check-jsonschema", "--builtin-schema", "vendor.github-actions", str(ACTION), cwd=ACTION.parent)
    assert (result.returncode, result.stdout.strip()) == (0, "ok -- validation done")
    broken = tmp_path / "action.yml"
    broken.write_text(ACTION.read_text().replace("using: composite", "using: compost"))
    assert (
        tool("check-jsonschema", "--builtin-schema", "vendor.github-actions", str(broken), cwd=tmp_path).returncode == 1
    )


def test_every_run_step_is_thin_and_input_free():
    import yaml

    steps = yaml.safe_load(ACTION.read_text())["runs"]["steps"]
    runs = [step["run"] for step in steps if "run" in step]
    assert all("${{" not in run for run in runs)
    assert all(run.startswith('"$CIGEN_PYTHON" "$GITHUB_ACTION_PATH/generator/action.py" ') for run in runs)
    uses = [step["uses"] for step in steps if "uses" in step]
    assert uses == ["actions/upload-artifact@ea165f8d65b6e75b540449e92b4886f43607fa02"]
    assert shutil.which("bash")
