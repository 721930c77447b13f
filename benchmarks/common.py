"""Shared benchmark helpers: timing, tables, and targets that make `make bench` fail."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field


def timed(fn: Callable[[], object]) -> float:
    """Wall-clock seconds of one call."""
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def median_of(runs: int, fn: Callable[[], object]) -> float:
    """Median wall-clock seconds of `runs` calls."""
    return statistics.median(timed(fn) for _ in range(runs))


def paired_rounds(rounds: int, commands: Mapping[str, Callable[[], object]]) -> dict[str, list[float]]:
    """Seconds of every command in each of `rounds` rounds. Each round runs every command once,
    in an order rotated from round to round, so a burst of load on a shared machine falls on all
    of them alike; a ratio taken within one round (see `paired_ratio`) compares like with like."""
    names = list(commands)
    samples: dict[str, list[float]] = {name: [] for name in names}
    for index in range(rounds):
        shift = index % len(names)
        for name in names[shift:] + names[:shift]:
            samples[name].append(timed(commands[name]))
    return samples


def paired_ratio(baseline: list[float], candidate: list[float]) -> float:
    """The median of baseline / candidate taken round by round: the speed-up a user sees."""
    return statistics.median(b / c for b, c in zip(baseline, candidate))


def spread(samples: list[float]) -> str:
    """Median with the lowest and highest sample, so the noise of the run is on the page."""
    return f"{statistics.median(samples):.3f} ({min(samples):.3f}-{max(samples):.3f})"


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
