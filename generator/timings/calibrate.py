"""Measurements + registrations -> Timings: per-file estimates, suite ratios, setup overhead. Pure."""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from generator.errors import plural
from generator.model import PlausibilityBounds
from generator.registration import Registration
from generator.timings.estimators import DEFAULT_ESTIMATOR, ESTIMATORS, MAX_SAMPLES, interpolated
from generator.timings.samples import Measurements, Sample
from generator.timings.store import FileTiming, SetupTiming, Timings

Key = tuple[str, str]  # (suite, path)
DEFAULT_BOUNDS = PlausibilityBounds()


@dataclass(frozen=True)
class CalibrationReport:
    """What the inputs covered, and what they did not."""

    samples: int
    measured: int  # (suite, file) pairs with an estimate
    unregistered: tuple[Key, ...]  # measured, but no such registration now: renamed or deleted
    unmeasured: tuple[Key, ...]  # registered, never measured: est_time x the suite's ratio
    skipped: tuple[tuple[str, int], ...]  # (reason, count)
    changes: tuple[Change, ...] = ()  # with a previous timings file: the files whose estimate moved
    held: tuple[Change, ...] = ()  # ... and those whose move was implausible: the old value stays


@dataclass(frozen=True)
class Change:
    """One file's estimate, before and after, and the measurements behind the new one."""

    suite: str
    path: str
    old_seconds: float  # what the plan used: the previous timings' estimate, else est_time
    new_seconds: float
    samples: int
    runs: tuple[int, ...]  # the workflow runs the samples came from, where known

    def implausible(self, bounds: PlausibilityBounds) -> bool:
        """A jump (by more than the factor either way, or to below min_seconds) on too few samples."""
        if self.samples >= bounds.min_samples:
            return False
        old, new = self.old_seconds, self.new_seconds
        return new < bounds.min_seconds or new > old * bounds.max_factor or new * bounds.max_factor < old


def registered_est(registrations: Iterable[Registration]) -> dict[Key, float]:
    """(suite, path) -> est_time of the registrations that get planned."""
    return {(r.suite, r.path): r.est_seconds for r in registrations}


def file_samples(measurements: Measurements, est: dict[Key, float]) -> tuple[dict[Key, list[Sample]], int]:
    """Samples by (suite, path), oldest first; a sample naming no suite goes to every suite
    registering its file. Also returns how many named no suite and matched no registration."""
    suites_of: dict[str, list[str]] = defaultdict(list)
    for suite, path in sorted(est):
        suites_of[path].append(suite)
    samples: dict[Key, list[Sample]] = defaultdict(list)
    orphans = 0
    for sample in measurements.samples:
        suites = [sample.suite] if sample.suite is not None else suites_of.get(sample.path, [])
        orphans += not suites
        for suite in suites:
            samples[(suite, sample.path)].append(sample)
    return samples, orphans


def _setup_timing(values: Sequence[float]) -> SetupTiming:
    return SetupTiming(statistics.fmean(values), len(values), statistics.median(values), interpolated(values, 0.9))


def calibrate(
    measurements: Measurements,
    registrations: Iterable[Registration],
    estimator: str = DEFAULT_ESTIMATOR,
    inputs: Sequence[str] = (),
    previous: Timings | None = None,
    bounds: PlausibilityBounds = DEFAULT_BOUNDS,
) -> tuple[Timings, CalibrationReport]:
    """Timings from the measurements. With `previous` (the timings the plan uses now; empty: est_time),
    a registered file whose new estimate is implausible (Change.implausible) keeps its previous value."""
    estimate = ESTIMATORS[estimator]
    est = registered_est(registrations)
    samples, orphans = file_samples(measurements, est)
    files: dict[Key, FileTiming] = {}
    changes: list[Change] = []
    held: list[Change] = []
    for key, values in sorted(samples.items()):
        recent = [sample.seconds for sample in values[-MAX_SAMPLES:]]
        timing = FileTiming(estimate(recent), len(recent), interpolated(recent, 0.9))
        if previous is not None and key in est:
            runs = tuple(dict.fromkeys(s.run_id for s in values[-MAX_SAMPLES:] if s.run_id is not None))
            old = previous.estimate(key[0], key[1], est[key])
            change = Change(key[0], key[1], old, timing.seconds, timing.samples, runs)
            if change.implausible(bounds):
                held.append(change)
                kept = previous.measured(*key)
                if kept is not None:
                    files[key] = kept
                continue
            if round(old, 1) != round(timing.seconds, 1):
                changes.append(change)
        files[key] = timing
    for imported in measurements.imported:
        files.setdefault((imported.suite, imported.path), FileTiming(imported.seconds, 0, imported.seconds))
    ratios: dict[str, list[float]] = defaultdict(list)
    for key, timing in files.items():
        if est.get(key, 0) > 0 and timing.seconds > 0:
            ratios[key[0]].append(timing.seconds / est[key])
    by_runner: dict[str, list[float]] = defaultdict(list)
    by_suite: dict[str, list[float]] = defaultdict(list)
    for setup in measurements.setups:
        by_runner[setup.runner].append(setup.seconds)
        by_suite[setup.suite].append(setup.seconds)
    timings = Timings(
        source="calibrate",
        files=dict(sorted(files.items())),
        suite_ratio={suite: statistics.median(values) for suite, values in sorted(ratios.items())},
        setup_by_runner={runner: _setup_timing(v) for runner, v in sorted(by_runner.items())},
        setup_by_suite={suite: _setup_timing(v) for suite, v in sorted(by_suite.items())},
        estimator=estimator,
        inputs=tuple(inputs),
    )
    skipped = measurements.skipped + ((("samples of files no planned suite registers", orphans),) if orphans else ())
    report = CalibrationReport(
        samples=len(measurements.samples),
        measured=len(files),
        unregistered=tuple(sorted(key for key in files if key not in est)),
        unmeasured=tuple(sorted(key for key in est if key not in files)),
        skipped=skipped,
        changes=tuple(changes),
        held=tuple(held),
    )
    return timings, report


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("`", "'")


def _rows(changes: Sequence[Change]) -> list[str]:
    rows = ["| suite | file | old s | new s | samples | runs |", "|---|---|---:|---:|---:|---|"]
    for c in changes:
        runs = ", ".join(str(run) for run in c.runs) or "-"
        seconds = f"{c.old_seconds:.1f} | {c.new_seconds:.1f}"
        rows.append(f"| {_cell(c.suite)} | `{_cell(c.path)}` | {seconds} | {c.samples} | {runs} |")
    return rows


def change_report(report: CalibrationReport, bounds: PlausibilityBounds) -> str:
    """Markdown for the reviewer: per file the old and new seconds, the samples and the runs they
    came from; then the jumps held back. The timings branch's commit message and job summary."""
    lines = [
        f"{plural(len(report.changes), 'file estimate')} changed, {len(report.held)} held back, "
        f"from {plural(report.samples, 'sample')}.",
        "",
    ]
    if report.changes:
        lines += [*_rows(report.changes), ""]
    if report.held:
        lines += [
            f"Held back (moved more than {bounds.max_factor:g}x, or to below {bounds.min_seconds:g} s, on fewer "
            f"than {bounds.min_samples} samples; not applied: each keeps its previous measurement, or its est_time):",
            "",
            *_rows(report.held),
            "",
        ]
    return "\n".join(lines)
