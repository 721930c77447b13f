"""cigen's commands as a user meets them: whole processes on sglang's 1,369-file tree (built from
the registrations in the shared corpus), against sglang's collect_tests (a Python process loading
ci_register.py and collecting every file) measured in the same rounds.

`cigen scan` cold (no cache) and warm, and warm `cigen check`, `cigen render` and `cigen --help`.
Every command runs once per round, the rounds interleaved (a burst of load on a shared machine
falls on all commands alike); figures are medians, speed-ups the median of the ratios taken
within each round. Processes run without PYTHONDONTWRITEBYTECODE (a user's machine keeps
.pyc files), and each command runs once before timing, so both sides start with warm bytecode
and a warm OS file cache.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.common import Targets, paired_ratio, paired_rounds, spread, table
from tests.support.oracle import ci_register
from tests.support.synth import REPO_ROOT, corpus_dir, write_tree

ROUNDS = 9

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
        cigen = str(bin_dir / "cigen")
        commands = {
            "collect": [sys.executable, "-c", COLLECT, ci_register().__file__],
            "cold": [cigen, "scan", "--no-cache"],
            "warm": [cigen, "scan"],
            "check": [cigen, "check"],
            "render": [cigen, "render"],
            "help": [cigen, "--help"],
        }
        run(commands["render"], tree.root, env)  # the generated files `check` compares with
        for command in commands.values():
            run(command, tree.root, env)  # bytecode and OS caches warm, cigen's caches filled
        time.sleep(2.5)  # past the scan cache's racy window: the next run records file signatures
        run(commands["warm"], tree.root, env)
        load_before = os.getloadavg()[0]
        samples = paired_rounds(
            ROUNDS, {name: (lambda command=command: run(command, tree.root, env)) for name, command in commands.items()}
        )
        load_after = os.getloadavg()[0]
        size_mib = sum(p.stat().st_size for p in tree.paths) / 2**20
    collect = samples["collect"]
    speedup = {name: paired_ratio(collect, samples[name]) for name in samples}
    median = {name: statistics.median(values) for name, values in samples.items()}
    print(
        f"## Commands, whole process: {len(tree.paths):,} files, {size_mib:.1f} MiB, built from "
        f"{os.path.relpath(corpus_dir(), REPO_ROOT)}/sglang-registrations.json\n"
    )
    print(
        f"Seconds: median (lowest-highest) of {ROUNDS} interleaved rounds; speed-up: median of the "
        "per-round ratios. The machine may be shared: the range shows how noisy this run was, and "
        f"the 1-minute load average was {load_before:.1f} before the rounds and {load_after:.1f} after, "
        f"on {os.cpu_count()} CPUs.\n"
    )
    rows = [
        ("python: sglang collect_tests (baseline)", "collect"),
        ("cigen scan --no-cache (cold)", "cold"),
        ("cigen scan (warm cache)", "warm"),
        ("cigen check (warm, up to date)", "check"),
        ("cigen render (warm, nothing to write)", "render"),
        ("cigen --help", "help"),
    ]
    print(
        table(
            ("command", "seconds", "speed-up vs collect_tests"),
            [(label, spread(samples[name]), f"{speedup[name]:.1f}x") for label, name in rows],
        )
    )
    print()
    targets.check(
        "cigen scan cold >= 8x faster than collect_tests (whole process, paired median)",
        speedup["cold"] >= 8,
        f"{speedup['cold']:.1f}x",
    )
    targets.check(
        "cigen scan warm >= 30x faster than collect_tests (whole process, paired median)",
        speedup["warm"] >= 30,
        f"{speedup['warm']:.1f}x",
    )
    targets.check(
        "cigen check, warm, whole process < 0.25 s (median)", median["check"] < 0.25, f"{median['check']:.3f} s"
    )
    targets.check(
        "cigen render, warm, whole process < 0.35 s (median)", median["render"] < 0.35, f"{median['render']:.3f} s"
    )
    targets.check("cigen --help < 0.1 s (median)", median["help"] < 0.1, f"{median['help']:.3f} s")
