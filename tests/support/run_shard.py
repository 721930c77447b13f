"""Shared by the shard-runner tests: the runner as a subprocess, tiny test files, fake nvidia-smi scripts."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import generator.shipped.run_shard
from generator.shipped.run_shard import OutputWatch, failure_class

RUNNER = Path(generator.shipped.run_shard.__file__)

PASS = "print('ok')\n"
FAIL = "import sys\nprint('exit 3, nothing else said')\nsys.exit(3)\n"
ACCURACY_FAIL = "import sys\nprint('AssertionError: 0.61 not greater than 0.65 : accuracy too low')\nsys.exit(1)\n"
HANG = "import time\ntime.sleep(60)\n"
# Appends a line to attempts.log next to the file on every run, so a test can count its attempts.
COUNTED = (
    "import os\nopen(os.path.join(os.path.dirname(os.path.abspath(__file__)), 'attempts.log'), 'a').write('x\\n')\n"
)
# Fails its first attempt with sglang's accuracy pattern, then passes.
FLAKY = (
    COUNTED
    + """\
import sys
runs = open(os.path.join(os.path.dirname(os.path.abspath(__file__)), 'attempts.log')).read().count('x')
if runs == 1:
    print('accuracy 0.61 below 0.65')
    sys.exit(1)
print('passed on run', runs)
"""
)
# Starts a child in its own process (like a model server), records its pid, exits 0.
LEAVES_A_SERVER = """\
import subprocess, sys
child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
open("server.pid", "w").write(str(child.pid))
"""
HANGS_WITH_A_SERVER = LEAVES_A_SERVER + "import time\ntime.sleep(60)\n"


@dataclass(frozen=True)
class Run:
    """One runner invocation: exit status, output and how long it took."""

    exit_code: int
    stdout: str
    stderr: str
    seconds: float


def run_runner(*args: str, env: dict | None = None, runner: Path = RUNNER, python: str = sys.executable) -> Run:
    """`python RUNNER ARGS` with the step summary unset unless env sets it."""
    full_env = {k: v for k, v in os.environ.items() if k != "GITHUB_STEP_SUMMARY"}
    full_env.update(env or {})
    start = time.monotonic()
    result = subprocess.run([python, str(runner), *args], capture_output=True, text=True, env=full_env, timeout=120)
    return Run(result.returncode, result.stdout, result.stderr, time.monotonic() - start)


def shard_args(root: Path, files: list[str], *extra: str) -> list[str]:
    """`run` of a suite's shard 1 with these files and short timeouts, no waits."""
    return [
        "run", "--suite", "base-b", "--shard", "1", "--files-json", json.dumps(files), "--root", str(root),
        "--per-file-timeout", "3", "--retry-wait", "0", "--python", sys.executable, *extra,
    ]  # fmt: skip


def write_plan(path: Path, suites: dict[str, list[list[tuple[str, float]]]]) -> Path:
    """A plan file: suite -> shards -> (file, est_seconds), with keys the runner must ignore."""
    plan = {
        "version": 1,
        "generated_by": "tests",
        "suites": {
            suite: {
                "runner": "1-gpu",
                "shards": [
                    {
                        "est_seconds": sum(s for _, s in shard),
                        "files": [{"file": f, "est_seconds": s, "why": "x"} for f, s in shard],
                    }
                    for shard in shards
                ],
            }
            for suite, shards in suites.items()
        },
    }
    path.write_text(json.dumps(plan, indent=1))
    return path


def process_is_gone(pid: int, within_seconds: float = 5.0) -> bool:
    """True once the pid is gone or a zombie waiting for whoever adopted it."""
    deadline = time.monotonic() + within_seconds
    while time.monotonic() < deadline:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except FileNotFoundError:
            return True
        if state == "Z":
            return True
        time.sleep(0.05)
    return False


def fake_nvidia_smi(folder: Path, body: str) -> dict:
    """A `nvidia-smi` shell script first on PATH; returns the env that puts it there."""
    folder.mkdir(parents=True, exist_ok=True)
    script = folder / "nvidia-smi"
    script.write_text("#!/bin/sh\n" + body)
    script.chmod(0o755)
    return {"PATH": f"{folder}{os.pathsep}{os.environ['PATH']}"}


def gpu_line(index: int, used_mib: int, total_mib: int = 81559) -> str:
    """One line of `nvidia-smi --query-gpu=index,uuid,memory.used,memory.free,memory.total` (csv, no units)."""
    return f"{index}, GPU-0000000{index}-aaaa-bbbb-cccc-dddddddddddd, {used_mib}, {total_mib - used_mib}, {total_mib}"


def masked(text: str) -> str:
    """Seconds and clock times replaced by N: tiny test files take 0 or 1 s depending on the machine."""
    text = re.sub(r"\| \d+ \|$", "| N |", text, flags=re.M)
    text = re.sub(r"(\d+ ran), \d+ s;", r"\1, N s;", text)
    text = re.sub(r":(done|crit), \d+, \d+s$", r":\1, T, Ns", text, flags=re.M)
    return re.sub(r'"elapsed": \d+', '"elapsed": N', text)


def timings_lines(stdout: str) -> list[str]:
    """The TIMINGS block of a log, markers included."""
    lines = stdout.splitlines()
    begin = lines.index(generator.shipped.run_shard.TIMINGS_BEGIN)
    return lines[begin : lines.index(generator.shipped.run_shard.TIMINGS_END) + 1]


def classify_output(lines: Sequence[str]) -> tuple[str, str]:
    """The class the runner gives a failed attempt that printed these lines, and why."""
    watch = OutputWatch(lambda chunk: None)
    watch.feed("".join(line + "\n" for line in lines).encode())
    return failure_class(watch.matches, timed_out=False, gpu_problem=None)
