"""Measurements every input format is reduced to, before `calibrate` turns them into timings."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Sample:
    """One measured run of one test file (all its test cases), oldest samples first."""

    path: str
    seconds: float
    suite: str | None = None  # None: the input does not say; every suite registering the file
    job: str | None = None  # the job (one runner) that ran it, where the input says: run id/job name
    run_id: int | None = None  # the workflow run, where the input says (the timings loop's fetch does)
    run_time: str | None = None  # when that run started, ISO 8601 UTC: samples are ordered by it


@dataclass(frozen=True)
class SetupSample:
    """One job's setup overhead: its wall-clock minus the sum of its tests."""

    suite: str
    runner: str  # the job's runner labels, comma-joined
    seconds: float


@dataclass(frozen=True)
class Imported:
    """A finished estimate from another tool (sglang's model.json), sample count unknown."""

    suite: str
    path: str
    seconds: float


@dataclass(frozen=True)
class Measurements:
    """Everything read from the inputs, plus what was read but deliberately not used."""

    samples: tuple[Sample, ...] = ()
    setups: tuple[SetupSample, ...] = ()
    imported: tuple[Imported, ...] = ()
    skipped: tuple[tuple[str, int], ...] = ()  # (reason, count), for the report

    def __add__(self, other: Measurements) -> Measurements:
        return Measurements(
            self.samples + other.samples,
            self.setups + other.setups,
            self.imported + other.imported,
            _merged_counts(self.skipped + other.skipped),
        )


def _merged_counts(counts: tuple[tuple[str, int], ...]) -> tuple[tuple[str, int], ...]:
    """One (reason, count) per reason, summed over every input, in first-seen order."""
    merged: dict[str, int] = {}
    for reason, count in counts:
        merged[reason] = merged.get(reason, 0) + count
    return tuple(merged.items())
