"""Shared benchmark helpers: timing, tables, and targets that make `make bench` fail."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field


def best_of(runs: int, fn: Callable[[], object]) -> float:
    """Fastest wall-clock seconds of `runs` calls (the least disturbed by other load)."""
    best = float("inf")
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def table(header: tuple[str, ...], rows: list[tuple]) -> str:
    """A GitHub-flavoured markdown table, readable as plain text too."""
    cells = [tuple(map(str, header))] + [tuple(map(str, row)) for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    line = lambda row: "| " + " | ".join(c.ljust(w) for c, w in zip(row, widths)) + " |"  # noqa: E731
    return "\n".join([line(cells[0]), "|" + "|".join("-" * (w + 2) for w in widths) + "|", *map(line, cells[1:])])


@dataclass
class Targets:
    """Named pass/fail checks collected while benchmarks run."""

    results: list[tuple[str, bool, str]] = field(default_factory=list)

    def check(self, name: str, ok: bool, detail: str) -> None:
        self.results.append((name, ok, detail))

    @property
    def all_met(self) -> bool:
        return all(ok for _, ok, _ in self.results)

    def render(self) -> str:
        return table(("target", "met", "measured"), [(n, "yes" if ok else "NO", d) for n, ok, d in self.results])
