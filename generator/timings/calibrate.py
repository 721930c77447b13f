"""Measurements + registrations -> Timings: per-file estimates, suite ratios, setup overhead. Pure."""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from generator.model import Registration
from generator.timings.estimators import DEFAULT_ESTIMATOR, ESTIMATORS, MAX_SAMPLES, interpolated
from generator.timings.samples import Measurements
from generator.timings.store import FileTiming, SetupTiming, Timings

Key = tuple[str, str]  # (suite, path)


@dataclass(frozen=True)
class CalibrationReport:
    """What the inputs covered, and what they did not."""

    samples: int
    measured: int  # (suite, file) pairs with an estimate
    unregistered: tuple[Key, ...]  # measured, but no such registration now: renamed or deleted
    unmeasured: tuple[Key, ...]  # registered, never measured: est_time x the suite's ratio
    skipped: tuple[tuple[str, int], ...]  # (reason, count)


def registered_est(registrations: Iterable[Registration]) -> dict[Key, float]:
    """(suite, path) -> est_time of the registrations that get planned."""
    return {(r.suite, r.path): r.est_seconds for r in registrations}


def file_samples(measurements: Measurements, est: dict[Key, float]) -> tuple[dict[Key, list[float]], int]:
    """Samples by (suite, path), oldest first; a sample naming no suite goes to every suite
    registering its file. Also returns how many named no suite and matched no registration."""
    suites_of: dict[str, list[str]] = defaultdict(list)
    for suite, path in sorted(est):
        suites_of[path].append(suite)
    samples: dict[Key, list[float]] = defaultdict(list)
    orphans = 0
    for sample in measurements.samples:
        suites = [sample.suite] if sample.suite is not None else suites_of.get(sample.path, [])
        orphans += not suites
        for suite in suites:
            samples[(suite, sample.path)].append(sample.seconds)
    return samples, orphans


def _setup_timing(values: Sequence[float]) -> SetupTiming:
    return SetupTiming(statistics.fmean(values), len(values), statistics.median(values), interpolated(values, 0.9))


def calibrate(
    measurements: Measurements,
    registrations: Iterable[Registration],
    estimator: str = DEFAULT_ESTIMATOR,
    inputs: Sequence[str] = (),
) -> tuple[Timings, CalibrationReport]:
    estimate = ESTIMATORS[estimator]
    est = registered_est(registrations)
    samples, orphans = file_samples(measurements, est)
    files: dict[Key, FileTiming] = {}
    for key, values in samples.items():
        recent = values[-MAX_SAMPLES:]
        files[key] = FileTiming(estimate(recent), len(recent), interpolated(recent, 0.9))
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
    )
    return timings, report
