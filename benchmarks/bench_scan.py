"""Scan speed on the 1,369-file sglang tree, whole process against whole process: sglang's
collect_tests (a Python process loading ci_register.py and collecting every file) vs `cigen scan`
cold (no cache) and warm, and `cigen --help`.

Processes run without PYTHONDONTWRITEBYTECODE (a user's machine keeps .pyc files), each command
once before timing so both sides start with warm bytecode and a warm OS file cache.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.common import Targets, best_of, table
from tests.oracle import ci_register
from tests.synth import write_tree

COLLECT = """
import glob, importlib.util, sys, warnings
spec = importlib.util.spec_from_file_location("ci_register", sys.argv[1])
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
files = [f for f in glob.glob("test/registered/**/*.py", recursive=True)
         if not f.endswith(("/conftest.py", "/__init__.py", "/cpu/utils.py"))]
warnings.simplefilter("ignore")
tests = module.collect_tests(files, sanity_check=False)
for test in tests:
    print(test)
"""


def run(command: list[str], cwd: Path, env: dict[str, str]) -> None:
    subprocess.run(command, cwd=cwd, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def main(targets: Targets) -> None:
    bin_dir = Path(sys.executable).parent
    with tempfile.TemporaryDirectory() as tmp:
        tree = write_tree(Path(tmp) / "sglang")
        env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        env["CIGEN_CACHE_DIR"] = str(Path(tmp) / "cache")
        collect = [sys.executable, "-c", COLLECT, ci_register().__file__]
        cigen = [str(bin_dir / "cigen")]
        for command in (collect, cigen + ["scan", "--no-cache"], cigen + ["scan"], cigen + ["--help"]):
            run(command, tree.root, env)  # bytecode and OS caches warm, the scan cache filled
        time.sleep(2.5)  # past the scan cache's racy window: the next run records file signatures
        run(cigen + ["scan"], tree.root, env)
        baseline = best_of(3, lambda: run(collect, tree.root, env))
        cold = best_of(3, lambda: run(cigen + ["scan", "--no-cache"], tree.root, env))
        warm = best_of(5, lambda: run(cigen + ["scan"], tree.root, env))
        help_seconds = best_of(5, lambda: run(cigen + ["--help"], tree.root, env))
        size_mib = sum(p.stat().st_size for p in tree.paths) / 2**20
    print(f"## Scan: {len(tree.paths):,} files, {size_mib:.1f} MiB, whole process (best of 3-5 runs)\n")
    print(
        table(
            ("command", "seconds", "speed-up vs collect_tests"),
            [
                ("python: sglang collect_tests (baseline)", f"{baseline:.3f}", "1.0x"),
                ("cigen scan --no-cache (cold)", f"{cold:.3f}", f"{baseline / cold:.1f}x"),
                ("cigen scan (warm cache)", f"{warm:.3f}", f"{baseline / warm:.1f}x"),
                ("cigen --help", f"{help_seconds:.3f}", ""),
            ],
        )
    )
    print()
    targets.check(
        "cigen scan cold >= 6x faster than collect_tests (whole process)",
        baseline / cold >= 6,
        f"{baseline / cold:.1f}x",
    )
    targets.check(
        "cigen scan warm >= 25x faster than collect_tests (whole process)",
        baseline / warm >= 25,
        f"{baseline / warm:.1f}x",
    )
    targets.check("cigen --help < 0.1 s", help_seconds < 0.1, f"{help_seconds:.3f} s")
