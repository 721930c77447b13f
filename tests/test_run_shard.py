"""run-shard, the jobs' entry point: real processes, timeouts, process groups, step summary."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from click.testing import CliRunner

from generator.cli import cli
from tests.conftest import write_files

PASS = "print('ok')\n"
FAIL = "import sys\nsys.exit(3)\n"
HANG = "import time\ntime.sleep(60)\n"
# Starts a child in its own process (like a model server), records its pid, exits 0.
LEAVES_A_SERVER = """\
import subprocess, sys
child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
open("server.pid", "w").write(str(child.pid))
"""


def run_shard(root, files, *extra, summary=None):
    env = {"GITHUB_STEP_SUMMARY": str(summary)} if summary else {}
    args = ["run-shard", "--suite", "base-b", "--shard", "1", "--per-file-timeout", "2", "--python", sys.executable]
    return CliRunner(env=env).invoke(cli, [*args, "--root", str(root), "--files-json", json.dumps(files), *extra])


def rows(summary):
    return summary.read_text().splitlines()


def test_all_passing_shard_exits_0_and_writes_its_summary(tmp_path):
    root = write_files(tmp_path / "repo", {"t/test_a.py": PASS, "t/test_b.py": PASS})
    summary = tmp_path / "summary.md"
    result = run_shard(root, ["t/test_a.py", "t/test_b.py"], summary=summary)
    assert result.exit_code == 0
    assert result.stderr.splitlines()[-1] == "base-b shard 1: 2 of 2 files passed"
    assert rows(summary)[:5] == ["### base-b, shard 1: 2 files", "", "| file | result | seconds |", "|---|---|---|", "| `t/test_a.py` | passed | 0 |"]
    assert rows(summary)[5:] == ["| `t/test_b.py` | passed | 0 |", "", "**2 of 2 passed** (2 ran, 0 s)"]


def test_stops_at_the_first_failure_unless_keep_going(tmp_path):
    root = write_files(tmp_path / "repo", {"t/test_a.py": FAIL, "t/test_b.py": PASS})
    summary = tmp_path / "summary.md"
    result = run_shard(root, ["t/test_a.py", "t/test_b.py"], summary=summary)
    assert result.exit_code == 1
    assert rows(summary)[4:] == ["| `t/test_a.py` | failed (exit 3) | 0 |", "| `t/test_b.py` | not run | 0 |", "", "**0 of 2 passed** (1 ran, 0 s)"]
    summary.unlink()
    result = run_shard(root, ["t/test_a.py", "t/test_b.py", "t/test_gone.py"], "--keep-going", summary=summary)
    assert result.exit_code == 1
    assert rows(summary)[4:] == [
        "| `t/test_a.py` | failed (exit 3) | 0 |",
        "| `t/test_b.py` | passed | 0 |",
        "| `t/test_gone.py` | missing | 0 |",
        "",
        "**1 of 3 passed** (3 ran, 0 s)",
    ]


def test_a_hanging_file_is_stopped_at_its_timeout(tmp_path):
    root = write_files(tmp_path / "repo", {"t/test_hang.py": HANG, "t/test_b.py": PASS})
    summary = tmp_path / "summary.md"
    start = time.monotonic()
    result = run_shard(root, ["t/test_hang.py", "t/test_b.py"], "--keep-going", summary=summary)
    assert time.monotonic() - start < 20
    assert result.exit_code == 1
    assert rows(summary)[4] == "| `t/test_hang.py` | timed out | 2 |"
    assert rows(summary)[5] == "| `t/test_b.py` | passed | 0 |"


def test_processes_a_test_leaves_behind_are_stopped(tmp_path):
    root = write_files(tmp_path / "repo", {"t/test_server.py": LEAVES_A_SERVER})
    assert run_shard(root, ["t/test_server.py"]).exit_code == 0
    pid = int((root / "server.pid").read_text())
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except FileNotFoundError:
            return
        if state == "Z":  # dead, waiting for whoever adopted it to reap it
            return
        time.sleep(0.05)
    raise AssertionError(f"the test's child {pid} outlived it")


def test_bad_file_lists_are_user_errors(tmp_path):
    result = CliRunner().invoke(cli, ["run-shard", "--suite", "s", "--shard", "0", "--per-file-timeout", "5", "--files-json", "[1, 2]"])
    assert (result.exit_code, result.stderr) == (2, "--files-json: bad-files-json: expected a non-empty JSON list of file paths\n")
    result = CliRunner().invoke(cli, ["run-shard", "--suite", "s", "--shard", "0", "--per-file-timeout", "5", "--files-json", "a.py"])
    assert (result.exit_code, result.stderr) == (2, "--files-json: bad-files-json: not JSON: Expecting value: line 1 column 1 (char 0)\n")
