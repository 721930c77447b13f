"""The code passes ruff (pyflakes, pycodestyle, import order, bugbear, pyupgrade)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def test_ruff_finds_nothing():
    ruff = Path(sys.executable).parent / "ruff"
    result = subprocess.run(
        [str(ruff), "check", "--no-cache", "--output-format", "concise", "."], cwd=REPO, capture_output=True, text=True
    )
    assert (result.returncode, result.stdout) == (0, "All checks passed!\n"), result.stdout + result.stderr
