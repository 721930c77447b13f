"""Where a render's time goes, in-process, on the 1,369-file sglang tree: scan, plan and render
every workflow with a cold scan (no cache, the baseline) and warm (scan cache and remembered
splits), and the lint + plan and render steps alone. Medians of repeated calls. The whole
`cigen render` and `cigen check` commands are timed in bench_scan.py."""

from __future__ import annotations

import tempfile
from pathlib import Path

from benchmarks.common import Targets, median_of, table
from generator.cache import ScanCache
from generator.config import load_config
from generator.pipeline import Inputs, build
from generator.render.outputs import render_outputs
from generator.tree import scan_tree
from tests.support.synth import write_tree


def main(targets: Targets) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        tree = write_tree(Path(tmp) / "sglang")
        config = load_config(None, tree.root)
        store = Path(tmp) / "cache"

        def pipeline(cache_dir: Path | None) -> dict[str, str]:
            cache = ScanCache(cache_dir) if cache_dir is not None else None
            scan = scan_tree(tree.root, config.include, config.exclude, cache)
            return render_outputs(build(Inputs(tree.root, config, scan, cache_dir)))

        cold = median_of(3, lambda: pipeline(None))
        pipeline(store)
        warm = median_of(5, lambda: pipeline(store))
        scan = scan_tree(tree.root, config.include, config.exclude, ScanCache(store))
        planned = median_of(3, lambda: build(Inputs(tree.root, config, scan)))
        remembered = median_of(5, lambda: build(Inputs(tree.root, config, scan, store)))
        built = build(Inputs(tree.root, config, scan, store))
        rendered = median_of(5, lambda: render_outputs(built))
        lines = sum(text.count("\n") for text in render_outputs(built).values())
    print(
        f"## Render in-process: {len(tree.paths):,} files -> {len(built.plan.suites)} suites, "
        f"{lines:,} lines of YAML (medians of 3-5 runs)\n"
    )
    print(
        table(
            ("step", "seconds", "vs cold"),
            [
                ("scan + plan + render, cold: no cache (baseline)", f"{cold:.3f}", "1.0x"),
                ("scan + plan + render, warm: caches filled", f"{warm:.3f}", f"{cold / warm:.1f}x faster"),
                ("  of which lint + plan, splits searched for", f"{planned:.4f}", ""),
                ("  of which lint + plan, splits remembered", f"{remembered:.4f}", ""),
                ("  of which render + YAML check", f"{rendered:.4f}", ""),
            ],
        )
    )
    print()
    targets.check("render, warm, in-process < 0.5 s", warm < 0.5, f"{warm:.3f} s")
