"""sglang-ci-stats run history (`runs/*.json`) -> typed runs, jobs and per-file durations.

One file per scheduled CI run: its jobs (suite, runner labels, start and end) and the
elapsed seconds of every test file each job ran. The scraper keeps successful jobs only, so
a failed shard shows up as a missing shard index; a job re-run appears twice under one name.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from generator.errors import Problem, ProblemReport, UserError, plural
from generator.jsonpos import read_json, schema_problems
from generator.timings.samples import Measurements, Sample, SetupSample

_SHARD_INDEX = re.compile(r"\((\d+)\)\s*$")
_TIMESTAMP = {
    "type": "string",
    "pattern": r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$",
    "description": "a time like 2026-06-18T12:09:58Z",
}
RUN_SCHEMA = {
    "type": "object",
    "required": ["run_id", "started_at", "jobs"],
    "properties": {
        "run_id": {"type": ["integer", "string"]},
        "started_at": _TIMESTAMP,
        "event": {"type": "string"},
        "jobs": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["name", "suite", "backend", "started_at", "completed_at", "labels", "timings"],
                "properties": {
                    "name": {"type": "string"},
                    "suite": {"type": "string", "minLength": 1},
                    "backend": {"type": "string"},
                    "started_at": _TIMESTAMP,
                    "completed_at": _TIMESTAMP,
                    "labels": {"type": "array", "items": {"type": "string"}},
                    "conclusion": {"type": ["string", "null"]},
                    "timings": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "required": ["file", "elapsed"],
                            "properties": {
                                "file": {"type": "string", "minLength": 1},
                                "elapsed": {"type": "number", "minimum": 0},
                                "passed": {"type": "boolean"},
                            },
                        },
                    },
                },
            },
        },
    },
}


@dataclass(frozen=True)
class FileTime:
    """One test file's run inside a job."""

    path: str
    seconds: float
    passed: bool = True  # False: a failed attempt, often cut short by a timeout


@dataclass(frozen=True)
class Job:
    """One shard of one suite in one run, as GitHub ran it."""

    name: str
    suite: str
    backend: str
    labels: tuple[str, ...]
    started: datetime
    completed: datetime
    files: tuple[FileTime, ...]
    conclusion: str | None = None  # the scraper records successful jobs only; None means success

    @property
    def wall_seconds(self) -> float:
        return (self.completed - self.started).total_seconds()

    @property
    def test_seconds(self) -> float:
        """Every attempt counts: the runner spent that time."""
        return sum(f.seconds for f in self.files)

    @property
    def setup_seconds(self) -> float:
        """Checkout, install and warm-up: wall-clock minus the tests."""
        return self.wall_seconds - self.test_seconds

    @property
    def runner(self) -> str:
        """The runner labels as one key (`1-gpu-h100`, or `a,b` for several)."""
        return ",".join(self.labels)

    @property
    def shard_index(self) -> int | None:
        match = _SHARD_INDEX.search(self.name)
        return int(match.group(1)) if match else None

    @property
    def succeeded(self) -> bool:
        return self.conclusion in (None, "success")


@dataclass(frozen=True)
class Run:
    """One scheduled CI run: every job attempt it recorded."""

    run_id: str
    started: datetime
    source: str
    jobs: tuple[Job, ...]

    def final_jobs(self, backends: Iterable[str] | None = None) -> tuple[Job, ...]:
        """Successful jobs, the latest attempt of each job name; optionally of some backends."""
        wanted = None if backends is None else set(backends)
        latest: dict[str, Job] = {}
        for job in sorted(self.jobs, key=lambda j: (j.started, j.completed, j.name)):
            if job.succeeded and (wanted is None or job.backend in wanted):
                latest[job.name] = job
        return tuple(sorted(latest.values(), key=lambda j: (j.suite, j.shard_index or 0, j.name)))

    def suite_jobs(self, backends: Iterable[str]) -> dict[str, tuple[Job, ...]]:
        """Final jobs grouped by suite: each job is one shard."""
        groups: dict[str, list[Job]] = {}
        for job in self.final_jobs(backends):
            groups.setdefault(job.suite, []).append(job)
        return {suite: tuple(jobs) for suite, jobs in sorted(groups.items())}


def is_partial(jobs: Sequence[Job]) -> bool:
    """A suite-run with a gap in its shard indexes lost a shard (failed jobs are not scraped).

    A missing highest index cannot be told from a smaller shard count."""
    indexes = sorted(j.shard_index for j in jobs if j.shard_index is not None)
    return indexes != list(range(len(indexes)))


def history_files(paths: Sequence[Path]) -> list[Path]:
    """Run files: each path a run file, a `runs/` folder, or a folder holding `runs/`."""
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            folder = path / "runs" if (path / "runs").is_dir() else path
            found = sorted(folder.glob("*.json"))
            if not found:
                raise UserError(str(path), 0, "history-empty", "no run files (*.json) here or under runs/")
            files.extend(found)
        elif path.is_file():
            files.append(path)
        else:
            raise UserError(str(path), 0, "history-missing", "no such file or folder")
    return files


def read_history(paths: Sequence[Path]) -> list[Run]:
    """Every run, oldest first; all problems of all files reported at once."""
    runs: list[Run] = []
    problems: list[Problem] = []
    files = history_files(paths)
    for path in files:
        try:
            data, text = read_json(path, "history-json")
        except UserError as error:
            problems.append(error.problem)
            continue
        found = schema_problems(data, text, RUN_SCHEMA, str(path), "history-schema")
        if found:
            problems.extend(found)
            continue
        runs.append(_run(data, str(path)))
    seen: dict[str, str] = {}
    for run in runs:
        if run.run_id in seen:
            problems.append(
                Problem(run.source, 1, "history-duplicate-run", f"run {run.run_id} is also in {seen[run.run_id]}")
            )
        seen.setdefault(run.run_id, run.source)
    if problems:
        raise ProblemReport(
            problems, f"{plural(len(problems), 'error')} in {plural(len(files), 'history file')}; nothing done."
        )
    return sorted(runs, key=lambda r: (r.started, r.run_id))


def _run(data: dict, source: str) -> Run:
    jobs = tuple(
        Job(
            name=job["name"],
            suite=job["suite"],
            backend=job["backend"],
            labels=tuple(job["labels"]),
            started=_time(job["started_at"]),
            completed=_time(job["completed_at"]),
            files=tuple(FileTime(t["file"], float(t["elapsed"]), t.get("passed", True)) for t in job["timings"]),
            conclusion=job.get("conclusion"),
        )
        for job in data["jobs"]
    )
    return Run(run_id=str(data["run_id"]), started=_time(data["started_at"]), source=source, jobs=jobs)


def _time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def history_measurements(runs: Sequence[Run], backends: Iterable[str]) -> Measurements:
    """Per-file samples (passed attempts only, as sglang's derive.py) and per-job setup."""
    backends = tuple(backends)
    samples: list[Sample] = []
    setups: list[SetupSample] = []
    dropped = failed_files = bad_setup = 0
    for run in runs:
        jobs = run.final_jobs(backends)
        dropped += sum(j.backend in backends for j in run.jobs) - len(jobs)
        for job in jobs:
            for file in job.files:
                if file.passed:
                    samples.append(Sample(file.path, file.seconds, job.suite, f"{run.run_id}/{job.name}"))
                else:
                    failed_files += 1
            if job.files and job.setup_seconds >= 0:
                setups.append(SetupSample(job.suite, job.runner, job.setup_seconds))
            else:
                bad_setup += 1
    skipped = (
        ("failed or superseded job attempts", dropped),
        ("failed file attempts (timeout-capped)", failed_files),
        ("jobs with no tests or tests longer than the job", bad_setup),
    )
    return Measurements(tuple(samples), tuple(setups), (), tuple((why, n) for why, n in skipped if n))
