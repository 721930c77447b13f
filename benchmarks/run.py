"""`make bench`: every benchmark, baselines measured in the same run, then the targets.

Exits 1 when a target is missed, so a regression cannot pass unnoticed.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks import bench_backtest, bench_plan, bench_plan_file, bench_render, bench_scan  # noqa: E402
from benchmarks.common import Targets  # noqa: E402

BENCHMARKS = [bench_scan, bench_plan, bench_render, bench_plan_file, bench_backtest]


def main() -> int:
    targets = Targets()
    for bench in BENCHMARKS:
        bench.main(targets)
    print("## Targets\n")
    print(targets.render())
    return 0 if targets.all_met else 1


if __name__ == "__main__":
    sys.exit(main())
