"""`make bench`: every benchmark, baselines measured in the same run, then the targets.

Exits 1 when a target is missed, so a regression cannot pass unnoticed. With `--update-readme`
(what `make bench` passes) the output also replaces the last section of benchmarks/README.md,
verbatim, so the figures there are always the last run's.
"""

from __future__ import annotations

import argparse
import io
import platform
import sys
from contextlib import redirect_stdout
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks import bench_backtest, bench_plan, bench_plan_file, bench_render, bench_scan  # noqa: E402
from benchmarks.common import Targets  # noqa: E402

BENCHMARKS = [bench_scan, bench_plan, bench_render, bench_plan_file, bench_backtest]
README = Path(__file__).resolve().parent / "README.md"
LATEST = "## Latest `make bench`\n"


class Tee(io.StringIO):
    """Keeps what is printed and passes it on, so a long run still shows progress."""

    def __init__(self, out):
        super().__init__()
        self.out = out

    def write(self, text: str) -> int:
        self.out.write(text)
        self.out.flush()
        return super().write(text)


def update_readme(output: str) -> None:
    """Replace everything after the LATEST heading of benchmarks/README.md with `output`."""
    text = README.read_text(encoding="utf-8")
    head = text[: text.index(LATEST) + len(LATEST)]
    when = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    machine = f"{platform.python_implementation()} {platform.python_version()}, {platform.machine()}"
    README.write_text(f"{head}\nRun {when} ({machine}); written by `make bench`.\n\n```text\n{output.rstrip()}\n```\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--update-readme", action="store_true", help="write the output into benchmarks/README.md")
    args = parser.parse_args(argv)
    targets = Targets()
    with redirect_stdout(Tee(sys.stdout)) as captured:
        for bench in BENCHMARKS:
            bench.main(targets)
        print("## Targets\n")
        print(targets.render())
    if args.update_readme:
        update_readme(captured.getvalue())
    return 0 if targets.all_met else 1


if __name__ == "__main__":
    sys.exit(main())
