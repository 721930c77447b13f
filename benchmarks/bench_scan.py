"""Scan speed on the 1,369-file sglang tree: sglang's collect_tests vs cigen cold and warm."""

from __future__ import annotations

import tempfile
from pathlib import Path

from benchmarks.common import Targets, best_of, table
from generator.cache import ScanCache
from generator.config import load_config
from generator.tree import scan_tree
from tests.oracle import ci_register, sglang_files
from tests.synth import write_tree


def main(targets: Targets) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        tree = write_tree(Path(tmp) / "sglang")
        config = load_config(None, tree.root)
        files = sglang_files(tree.root)
        oracle = ci_register()
        baseline = best_of(3, lambda: oracle.collect_tests(files))
        cold = best_of(3, lambda: scan_tree(tree.root, config.include, config.exclude))
        store = Path(tmp) / "cache"
        scan_tree(tree.root, config.include, config.exclude, ScanCache(store))
        warm = best_of(5, lambda: scan_tree(tree.root, config.include, config.exclude, ScanCache(store)))
        size_mib = sum(p.stat().st_size for p in tree.paths) / 2**20
    print(f"## Scan: {len(tree.paths):,} files, {size_mib:.1f} MiB (best of 3-5 runs)\n")
    print(
        table(
            ("scanner", "seconds", "speed-up vs collect_tests"),
            [
                ("sglang collect_tests (baseline)", f"{baseline:.3f}", "1.0x"),
                ("cigen scan, cold (no cache)", f"{cold:.3f}", f"{baseline / cold:.1f}x"),
                ("cigen scan, warm (cache)", f"{warm:.4f}", f"{baseline / warm:.1f}x"),
            ],
        )
    )
    print()
    targets.check("scan cold >= 5x faster than collect_tests", baseline / cold >= 5, f"{baseline / cold:.1f}x")
    targets.check("scan warm >= 50x faster than collect_tests", baseline / warm >= 50, f"{baseline / warm:.1f}x")
