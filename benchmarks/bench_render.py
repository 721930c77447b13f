"""Render speed on the 1,369-file sglang tree: scan, plan and render every workflow, cold
(no scan cache, the baseline) and warm, in-process and as the `cigen render` command."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

from benchmarks.common import Targets, best_of, table
from generator.cache import ScanCache
from generator.config import load_config
from generator.pipeline import Inputs, build
from generator.render.outputs import render_outputs
from generator.tree import scan_tree
from tests.synth import write_tree


def main(targets: Targets) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        tree = write_tree(Path(tmp) / "sglang")
        config = load_config(None, tree.root)
        store = Path(tmp) / "cache"

        def pipeline(cache: ScanCache | None) -> dict[str, str]:
            scan = scan_tree(tree.root, config.include, config.exclude, cache)
            return render_outputs(build(Inputs(tree.root, config, scan)))

        cold = best_of(3, lambda: pipeline(None))
        pipeline(ScanCache(store))
        warm = best_of(5, lambda: pipeline(ScanCache(store)))
        scan = scan_tree(tree.root, config.include, config.exclude, ScanCache(store))
        planned = best_of(5, lambda: build(Inputs(tree.root, config, scan)))
        built = build(Inputs(tree.root, config, scan))
        rendered = best_of(5, lambda: render_outputs(built))
        lines = sum(text.count("\n") for text in render_outputs(built).values())
        cigen = Path(sys.executable).parent / "cigen"
        env = {**os.environ, "CIGEN_CACHE_DIR": str(store)}
        out = Path(tmp) / "out" / "workflows"
        command = best_of(
            3,
            lambda: subprocess.run(
                [str(cigen), "render", "--root", str(tree.root), "--out", str(out)],
                env=env,
                check=True,
                capture_output=True,
            ),
        )
    print(
        f"## Render: {len(tree.paths):,} files -> {len(built.plan.suites)} suites, "
        f"{lines:,} lines of YAML (best of 3-5 runs)\n"
    )
    print(
        table(
            ("step", "seconds", "vs cold"),
            [
                ("scan + plan + render, cold scan (baseline)", f"{cold:.3f}", "1.0x"),
                ("scan + plan + render, warm scan cache", f"{warm:.3f}", f"{cold / warm:.1f}x faster"),
                ("  of which lint + plan", f"{planned:.4f}", ""),
                ("  of which render + YAML check", f"{rendered:.4f}", ""),
                ("`cigen render` command, warm (process start included)", f"{command:.3f}", ""),
            ],
        )
    )
    print()
    targets.check("render, warm, in-process < 0.5 s", warm < 0.5, f"{warm:.3f} s")
    targets.check("`cigen render`, warm, whole command < 1 s", command < 1.0, f"{command:.3f} s")
