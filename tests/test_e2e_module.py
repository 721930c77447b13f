"""The e2e test module on its own: a clean skip without sglang, and its own launch timeout and cleanup."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
E2E = "tests/e2e/test_weight_checker_e2e.py"


def clean_env(**extra: str) -> dict:
    env = {key: value for key, value in os.environ.items() if not key.startswith("CIGEN_E2E_")}
    return {**env, **extra}


def test_collected_and_skipped_with_a_reason_without_sglang():
    pytest = [sys.executable, "-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider", E2E]
    env = clean_env(CIGEN_COLLECT_E2E="1")
    result = subprocess.run(pytest, cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout
    assert "6 skipped" in result.stdout
    assert "needs sglang and a CUDA GPU: import sglang failed" in result.stdout


# A server that logs and never becomes ready. It imports nothing heavy (the stand-in server imports
# torch), so its line is in the log long before the launch timeout, however busy the machine.
HANGING_SERVER = "import time\nprint('hanging before ready, as asked', flush=True)\ntime.sleep(600)\n"


def test_launch_timeout_fails_and_kills_the_server_group(tmp_path):
    pgid_file = tmp_path / "pgids"
    server = tmp_path / "hanging_server.py"
    server.write_text(HANGING_SERVER)
    env = clean_env(
        CIGEN_E2E_LAUNCH=f"{sys.executable} {server}",
        CIGEN_E2E_MODEL="tests/e2e/tiny-qwen3",
        CIGEN_E2E_LAUNCH_TIMEOUT="3",
        CIGEN_E2E_LOG_DIR=str(tmp_path),
        CIGEN_E2E_PGID_FILE=str(pgid_file),
    )
    result = subprocess.run([sys.executable, E2E], cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 1
    assert "TimeoutError: server not ready after 3 s" in result.stderr
    assert "hanging before ready, as asked" in result.stderr  # the server log's tail is in the error
    (pgid,) = [int(line) for line in pgid_file.read_text().split()]
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        pass
    else:
        raise AssertionError(f"process group {pgid} still alive")
