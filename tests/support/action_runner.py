"""Runs action.yml's composite steps locally, in order, the way the runner does.

Each `run:` step goes to `bash --noprofile --norc -eo pipefail -c` with the runner's variables
(GITHUB_ACTION_PATH, RUNNER_TEMP, GITHUB_OUTPUT per step, GITHUB_STEP_SUMMARY) and the step's
`env:`, whose `${{ }}` expressions are evaluated here. Only the expression forms action.yml uses
are understood; anything else fails the test, which keeps action.yml simple. A `uses:` step
(upload-artifact) is recorded with its evaluated `with:` and the files it would upload.
"""

from __future__ import annotations

import os
import re
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import yaml

# What action.yml's logs artifact holds after a run, sorted.
ARTIFACT_FILES = [
    "gpu.json",
    "nvidia-smi-end.txt",
    "nvidia-smi-start.txt",
    "pgids",
    "plan.json",
    "result.json",
    "server.log",
    "summary.md",
    "test.log",
    "token",
]

REPO = Path(__file__).resolve().parents[2]
ACTION = REPO / "action.yml"
EXPRESSION = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")


@dataclass
class StepResult:
    name: str
    status: str  # "success", "failure" or "skipped"
    output: str = ""
    outputs: dict = field(default_factory=dict)


@dataclass
class ActionRun:
    steps: list[StepResult]
    outputs: dict
    summary: str
    uploads: list[dict]

    @property
    def failed(self) -> bool:
        return any(step.status == "failure" for step in self.steps)

    def step(self, name: str) -> StepResult:
        return next(step for step in self.steps if step.name == name)


def _context_value(ref: str, inputs: dict, steps: dict) -> str:
    parts = ref.split(".")
    if parts[0] == "inputs" and len(parts) == 2:
        return inputs[parts[1]]
    if parts[0] == "steps" and len(parts) == 4 and parts[2] == "outputs":
        return steps.get(parts[1], {}).get(parts[3], "")
    raise AssertionError(f"expression not understood by the local runner: {ref}")


def substitute(text: str, inputs: dict, steps: dict) -> str:
    return EXPRESSION.sub(lambda match: _context_value(match.group(1), inputs, steps), str(text))


def condition(text: str | None, inputs: dict, steps: dict, failed: bool) -> bool:
    """`if:` with the forms action.yml uses: always(), success(), failure(), `ref != ''`, `ref == ''`, joined by &&."""
    text = EXPRESSION.sub(lambda match: match.group(1), text or "success()")
    result = True
    for term in (part.strip() for part in text.split("&&")):
        if term == "always()":
            value = True
        elif term == "success()":
            value = not failed
        elif term == "failure()":
            value = failed
        elif match := re.fullmatch(r"([\w.-]+)\s*(==|!=)\s*''", term):
            empty = _context_value(match.group(1), inputs, steps) == ""
            value = empty if match.group(2) == "==" else not empty
        else:
            raise AssertionError(f"condition not understood by the local runner: {term}")
        result = result and value
    if "always()" not in text and "failure()" not in text and failed:
        return False  # GitHub adds success() to a condition without a status function
    return result


def read_outputs(path: Path) -> dict:
    """GITHUB_OUTPUT: `name=value` lines and `name<<DELIMITER` blocks."""
    outputs, lines = {}, path.read_text().splitlines() if path.is_file() else []
    index = 0
    while index < len(lines):
        line = lines[index]
        if "<<" in line and ("=" not in line or line.index("<<") < line.index("=")):
            name, delimiter = line.split("<<", 1)
            end = lines.index(delimiter, index + 1)
            outputs[name] = "\n".join(lines[index + 1 : end])
            index = end + 1
            continue
        name, value = line.split("=", 1)
        outputs[name] = value
        index += 1
    return outputs


def run_action(
    with_inputs: dict, temp: Path, env: dict, workdir: Path = REPO, timeout_seconds: float = 300
) -> ActionRun:
    """Every step of action.yml with `with_inputs`, run in `workdir` (the workspace) over `env`.

    RUNNER_TEMP is `temp`.
    """
    action = yaml.safe_load(ACTION.read_text())
    declared = action["inputs"]
    unknown = set(with_inputs) - set(declared)
    assert not unknown, f"inputs not declared in action.yml: {sorted(unknown)}"
    missing = [name for name, spec in declared.items() if spec.get("required") and name not in with_inputs]
    assert not missing, f"required inputs missing: {missing}"
    inputs = {name: str(with_inputs.get(name, spec.get("default", ""))) for name, spec in declared.items()}
    temp.mkdir(parents=True, exist_ok=True)
    summary_file = temp / "step-summary.md"
    base_env = {
        **env,
        "GITHUB_ACTION_PATH": str(REPO),
        "GITHUB_ACTIONS": "true",
        "RUNNER_TEMP": str(temp),
        "GITHUB_STEP_SUMMARY": str(summary_file),
        "GITHUB_JOB": "weight-checker",
        "GITHUB_RUN_ATTEMPT": "1",
        "RUNNER_NAME": "local runner",
    }
    steps_outputs: dict[str, dict] = {}
    results, uploads, failed = [], [], False
    for number, step in enumerate(action["runs"]["steps"]):
        name = step.get("name", f"step {number}")
        if not condition(step.get("if"), inputs, steps_outputs, failed):
            results.append(StepResult(name, "skipped"))
            continue
        if "uses" in step:
            values = {key: substitute(value, inputs, steps_outputs) for key, value in step.get("with", {}).items()}
            folder = Path(values["path"])
            files = (
                sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file()) if folder.is_dir() else []
            )
            uploads.append({"uses": step["uses"], "with": values, "files": files})
            results.append(StepResult(name, "success"))
            continue
        assert step.get("shell") == "bash", f"{name}: every run step names its shell"
        assert "${{" not in step["run"], f"{name}: an expression inside run: would reach the shell"
        output_file = temp / f"output-{number}"
        output_file.write_text("")
        step_env = {**base_env, "GITHUB_OUTPUT": str(output_file)}
        step_env.update({key: substitute(value, inputs, steps_outputs) for key, value in step.get("env", {}).items()})
        completed = subprocess.run(
            ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", step["run"]],
            cwd=workdir, env=step_env, capture_output=True, text=True, timeout=timeout_seconds,
        )  # fmt: skip
        outputs = read_outputs(output_file)
        if "id" in step:
            steps_outputs[step["id"]] = outputs
        status = "success" if completed.returncode == 0 else "failure"
        failed = failed or status == "failure"
        results.append(StepResult(name, status, completed.stdout + completed.stderr, outputs))
    action_outputs = {
        name: substitute(spec["value"], inputs, steps_outputs) for name, spec in action["outputs"].items()
    }
    summary = summary_file.read_text() if summary_file.is_file() else ""
    return ActionRun(results, action_outputs, summary, uploads)


def fake_nvidia_smi(bin_dir: Path, gpus: list[tuple[int, str, int, int]] | None) -> Path:
    """An `nvidia-smi` on PATH that reports `gpus` (index, name, total MiB, free MiB); None: it fails."""
    bin_dir.mkdir(parents=True, exist_ok=True)
    script = bin_dir / "nvidia-smi"
    if gpus is None:
        body = 'echo "NVIDIA-SMI has failed because it could not communicate with the NVIDIA driver." >&2\nexit 9\n'
    else:
        csv = "\\n".join(f"{i}, {name}, {total}, {free}" for i, name, total, free in gpus)
        table = "\\n".join(f"| {i}  {name:<30} | {total - free}MiB / {total}MiB |" for i, name, total, free in gpus)
        body = (
            f'case "$1" in\n  --query-gpu=*) printf "{csv}\\n" ;;\n'
            f'  *) printf "fake nvidia-smi\\n{table}\\n" ;;\nesac\n'
        )
    script.write_text("#!/bin/sh\n" + body)
    script.chmod(0o755)
    return bin_dir


def processes_with(marker: str) -> list[int]:
    """Live processes whose environment holds `marker` (NAME=value)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if (entry / "stat").read_text().rsplit(")", 1)[1].split()[0] == "Z":
                continue
            if marker.encode() in (entry / "environ").read_bytes().split(b"\0"):
                found.append(int(entry.name))
        except (OSError, IndexError):
            continue
    return found
