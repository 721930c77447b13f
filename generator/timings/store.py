"""Measured test durations: the timings file `cigen timings calibrate` writes and `plan --timings` reads.

Per (suite, file) a robust duration estimate with its sample count (and sglang's p90 beside
it), per suite the measured/est_time ratio for files never measured, and the per-job setup
overhead by runner labels and by suite. Sorted keys, rounded numbers: byte-identical output.
"""

from __future__ import annotations

import json
import statistics
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from generator.errors import ProblemReport, plural
from generator.jsonpos import read_json, schema_problems
from generator.registration import Registration

FORMAT_VERSION = 1
RATIO_FLOOR = 0.0001  # the smallest suite ratio the file's 4 decimals can hold

_NUMBER = {"type": "number", "minimum": 0}
_SETUP = {
    "type": "object",
    "additionalProperties": False,
    "required": ["seconds", "samples"],
    "properties": {"seconds": _NUMBER, "median": _NUMBER, "p90": _NUMBER, "samples": {"type": "integer", "minimum": 0}},
}
SCHEMA = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "version": {"const": FORMAT_VERSION},
        "estimator": {"type": "string"},
        "inputs": {"type": "array", "items": {"type": "string"}},
        "files": {
            "type": "array",
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": ["suite", "path", "seconds", "samples"],
                "properties": {
                    "suite": {"type": "string"},
                    "path": {"type": "string"},
                    "seconds": _NUMBER,
                    "p90": _NUMBER,
                    "samples": {"type": "integer", "minimum": 0},
                },
            },
        },
        "suite_ratio": {"type": "object", "additionalProperties": {"type": "number", "exclusiveMinimum": 0}},
        "setup": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "runners": {"type": "object", "additionalProperties": _SETUP},
                "suites": {"type": "object", "additionalProperties": _SETUP},
            },
        },
        "setup_minutes": {"type": "object", "additionalProperties": _NUMBER},  # the provisional format
    },
}


@dataclass(frozen=True)
class FileTiming:
    seconds: float  # the robust estimate the planner uses
    samples: int  # 0: imported from a tool that does not say (sglang's model.json)
    p90: float | None = None


@dataclass(frozen=True)
class SetupTiming:
    """Per-job setup overhead: wall-clock minus the sum of the job's tests."""

    seconds: float  # the mean: what each extra shard costs in runner time, on average
    samples: int
    median: float | None = None
    p90: float | None = None


@dataclass(frozen=True)
class Timings:
    source: str
    files: Mapping[tuple[str, str], FileTiming] = field(default_factory=dict)  # (suite, path)
    suite_ratio: Mapping[str, float] = field(default_factory=dict)  # measured / est_time
    setup_by_runner: Mapping[str, SetupTiming] = field(default_factory=dict)  # "1-gpu-h100"
    setup_by_suite: Mapping[str, SetupTiming] = field(default_factory=dict)
    estimator: str = ""
    inputs: tuple[str, ...] = ()

    def est_seconds_of(self, reg: Registration) -> float:
        """Measured where known, else est_time scaled by the suite's measured ratio."""
        return self.estimate(reg.suite, reg.path, reg.est_seconds)

    def estimate(self, suite: str, path: str, est_seconds: float | None) -> float:
        """Measured; else est_time x the suite's ratio; else (no registration) the suite's
        median measured file; else the median over every measured file."""
        timing = self.files.get((suite, path))
        if timing is not None:
            return timing.seconds
        if est_seconds is not None:
            return est_seconds * self.suite_ratio.get(suite, 1.0)
        return self._suite_median.get(suite, self._overall_median)

    def measured(self, suite: str, path: str) -> FileTiming | None:
        return self.files.get((suite, path))

    def setup_seconds(self, suite: str, runner: str) -> float | None:
        """The suite's own measured setup (DeepEP suites pay more), else its runners'."""
        timing = self.setup_by_suite.get(suite) or self.setup_by_runner.get(runner)
        return timing.seconds if timing is not None else None

    @property
    def setup_minutes(self) -> dict[str, float]:
        """Runner labels -> mean setup minutes."""
        return {runner: t.seconds / 60 for runner, t in sorted(self.setup_by_runner.items())}

    @cached_property
    def _suite_median(self) -> dict[str, float]:
        by_suite: dict[str, list[float]] = {}
        for (suite, _), timing in self.files.items():
            by_suite.setdefault(suite, []).append(timing.seconds)
        return {suite: statistics.median(values) for suite, values in by_suite.items()}

    @cached_property
    def _overall_median(self) -> float:
        return statistics.median([t.seconds for t in self.files.values()]) if self.files else 0.0


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def _setup_json(timing: SetupTiming) -> dict:
    data = {"seconds": _rounded(timing.seconds), "samples": timing.samples}
    if timing.median is not None:
        data["median"] = _rounded(timing.median)
    if timing.p90 is not None:
        data["p90"] = _rounded(timing.p90)
    return data


def _ratio(value: float) -> float:
    """Rounded, but never to 0: the schema (and so render) refuses a ratio of 0."""
    return max(round(value, 4), RATIO_FLOOR)


def timings_to_json(timings: Timings) -> dict:
    files = []
    for (suite, path), timing in sorted(timings.files.items()):
        entry = {"suite": suite, "path": path, "seconds": _rounded(timing.seconds), "samples": timing.samples}
        if timing.p90 is not None:
            entry["p90"] = _rounded(timing.p90)
        files.append(entry)
    return {
        "version": FORMAT_VERSION,
        "estimator": timings.estimator,
        "inputs": list(timings.inputs),
        "files": files,
        "suite_ratio": {suite: _ratio(ratio) for suite, ratio in sorted(timings.suite_ratio.items())},
        "setup": {
            "runners": {runner: _setup_json(t) for runner, t in sorted(timings.setup_by_runner.items())},
            "suites": {suite: _setup_json(t) for suite, t in sorted(timings.setup_by_suite.items())},
        },
    }


def timings_text(timings: Timings) -> str:
    return json.dumps(timings_to_json(timings), indent=2, sort_keys=True, allow_nan=False) + "\n"


def _setup(data: dict) -> SetupTiming:
    return SetupTiming(float(data["seconds"]), int(data["samples"]), data.get("median"), data.get("p90"))


def timings_from_json(data: dict, source: str) -> Timings:
    """A schema-valid timings document -> Timings."""
    setup = data.get("setup", {})
    by_runner = {runner: _setup(t) for runner, t in setup.get("runners", {}).items()}
    for runner, minutes in data.get("setup_minutes", {}).items():
        by_runner.setdefault(runner, SetupTiming(float(minutes) * 60, 0))
    return Timings(
        source=source,
        files={
            (f["suite"], f["path"]): FileTiming(float(f["seconds"]), int(f["samples"]), f.get("p90"))
            for f in data.get("files", [])
        },
        suite_ratio={k: float(v) for k, v in data.get("suite_ratio", {}).items()},
        setup_by_runner=by_runner,
        setup_by_suite={suite: _setup(t) for suite, t in setup.get("suites", {}).items()},
        estimator=data.get("estimator", ""),
        inputs=tuple(data.get("inputs", ())),
    )


def load_timings(path) -> Timings:
    """Read a timings file written by `cigen timings calibrate`; every problem at its line."""
    path = Path(path)
    data, text = read_json(path, "timings-unreadable")
    problems = schema_problems(data, text, SCHEMA, str(path), "timings-schema")
    if problems:
        raise ProblemReport(problems, f"{plural(len(problems), 'error')} in {path}")
    return timings_from_json(data, str(path))
