"""Measured test durations: the timings file `cigen calibrate` writes and `plan --timings` reads.

PROVISIONAL interface (issue 4/8 fill in calibration): per (suite, file) a robust duration
estimate with its sample count, a per-suite measured/estimated ratio for files never
measured, and per-pool setup overhead.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping

from generator.model import Registration


@dataclass(frozen=True)
class FileTiming:
    seconds: float  # the robust estimate the planner uses
    samples: int


@dataclass(frozen=True)
class Timings:
    source: str
    files: Mapping[tuple[str, str], FileTiming] = field(default_factory=dict)  # (suite, path)
    suite_ratio: Mapping[str, float] = field(default_factory=dict)  # measured / est_time
    setup_minutes: Mapping[str, float] = field(default_factory=dict)  # runner label -> minutes

    def seconds_of(self, reg: Registration) -> float:
        """Measured where known, else est_time scaled by the suite's measured ratio."""
        timing = self.files.get((reg.suite, reg.path))
        if timing is not None:
            return timing.seconds
        return reg.est_seconds * self.suite_ratio.get(reg.suite, 1.0)


def timings_from_json(data: dict, source: str) -> Timings:
    """The timings file: {"files": [{"suite", "path", "seconds", "samples"}], "suite_ratio": {..},
    "setup_minutes": {..}}. PROVISIONAL: the calibrate step owns this format."""
    return Timings(
        source=source,
        files={(f["suite"], f["path"]): FileTiming(float(f["seconds"]), int(f["samples"])) for f in data.get("files", [])},
        suite_ratio={k: float(v) for k, v in data.get("suite_ratio", {}).items()},
        setup_minutes={k: float(v) for k, v in data.get("setup_minutes", {}).items()},
    )


def load_timings(path) -> Timings:
    """Read a timings file written by `cigen calibrate`."""
    import json
    from pathlib import Path

    from generator.errors import UserError

    try:
        data = json.loads(Path(path).read_text())
    except (OSError, ValueError) as error:
        raise UserError(str(path), 0, "timings-unreadable", f"cannot read timings: {error}") from None
    return timings_from_json(data, str(path))
