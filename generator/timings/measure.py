"""Every measurement input `calibrate` accepts -> one Measurements; all problems at once.

FORMATS is the one table of input formats: each is a `calibrate` option (repeatable) and the
reader behind it. Adding a format is a reader module and one entry here.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from generator.errors import Problem, ProblemReport, UserError, plural
from generator.timings.durationlog import read_duration_log
from generator.timings.history import history_measurements, read_history
from generator.timings.junit import read_junit
from generator.timings.model_json import read_partition_model
from generator.timings.runresults import read_run_results
from generator.timings.samples import Measurements
from generator.timings.timingslog import read_timings_log


@dataclass(frozen=True)
class Known:
    """What readers may check their input against."""

    paths: Collection[str]  # every scanned test file
    suites: Collection[str]  # the config's suites
    backends: Sequence[str]  # the backends the config plans


@dataclass(frozen=True)
class InputFormat:
    """One kind of measurement input: its option, its help, how its files are read."""

    option: str  # `calibrate --OPTION FILE`, repeatable
    help: str
    read: Callable[[Sequence[Path], Known], list[Callable[[], Measurements]]]  # one reader per file (or per batch)
    folders: bool = False  # the option also takes folders


def _each(read_one: Callable[[Path, Known], Measurements]) -> Callable[[Sequence[Path], Known], list]:
    return lambda paths, known: [lambda p=p: read_one(p, known) for p in paths]


def _results_files(paths: Sequence[Path]) -> list[Path]:
    """Results files given, and every *.json in a folder given (what `cigen timings fetch` downloads)."""
    return [found for path in paths for found in (sorted(path.glob("*.json")) if path.is_dir() else [path])]


FORMATS: tuple[InputFormat, ...] = (
    InputFormat(
        "history",
        "sglang-ci-stats run history: a runs/ folder, the folder holding it, or run *.json files.",
        lambda paths, known: [lambda: history_measurements(read_history(paths), known.backends)] if paths else [],
        folders=True,
    ),
    InputFormat(
        "junit",
        "JUnit XML report; one sample per file per report.",
        _each(lambda path, known: read_junit(path, known.paths, known.suites)),
    ),
    InputFormat(
        "durations",
        "Duration log: 'PATH SECONDS' or 'SUITE PATH SECONDS' a line.",
        _each(lambda path, known: read_duration_log(path)),
    ),
    InputFormat(
        "results",
        "Results JSON of cigen's shard runner (run --results), or a folder of them.",
        lambda paths, known: [lambda p=p: read_run_results(p) for p in _results_files(paths)],
        folders=True,
    ),
    InputFormat(
        "log",
        "Job log with a TIMINGS block (sglang's runner or cigen's).",
        _each(lambda path, known: read_timings_log(path)),
    ),
    InputFormat(
        "partition-model",
        "sglang-ci-stats model.json: its p90s, for files without samples.",
        _each(lambda path, known: read_partition_model(path)),
    ),
)


def read_measurements(inputs: Mapping[str, Sequence[Path]], known: Known) -> Measurements:
    """Every input, format by format in FORMATS order (history first, oldest run first), each
    format's files in the order given: that order is the samples' time order."""
    readers = [reader for fmt in FORMATS for reader in fmt.read(inputs.get(fmt.option, ()), known)]
    if not readers:
        given = [str(path) for paths in inputs.values() for path in paths]
        if given:
            raise UserError(given[0], 0, "calibrate-no-input", "no measurement files here (an empty folder?)")
        options = ", ".join(f"--{fmt.option}" for fmt in FORMATS)
        raise UserError("", 0, "calibrate-no-input", f"give at least one of {options}")
    total = Measurements()
    problems: list[Problem] = []
    for read in readers:
        try:
            total = total + read()
        except UserError as error:
            problems.append(error.problem)
        except ProblemReport as report:
            problems.extend(report.problems)
    if problems:
        files = len({p.path for p in problems})
        raise ProblemReport(
            problems, f"{plural(len(problems), 'error')} in {plural(files, 'input file')}; nothing written."
        )
    return known_suites_only(by_run_time(total), known.suites)


def by_run_time(measurements: Measurements) -> Measurements:
    """Samples whose run time is known (results the loop fetched) after the others, oldest run first;
    the others keep their order (the order of the inputs). Stable, so equal times keep input order."""
    times = [_run_time(sample.run_time) for sample in measurements.samples]
    order = sorted(range(len(times)), key=lambda i: (times[i] is not None, times[i] or 0.0))
    samples = [measurements.samples[i] for i in order]
    return dataclasses.replace(measurements, samples=tuple(samples))


def _run_time(text: str | None) -> float | None:
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00")) if text else None
    except ValueError:
        return None
    return None if moment is None or moment.tzinfo is None else moment.timestamp()


def known_suites_only(measurements: Measurements, suites: Collection[str]) -> Measurements:
    """Drop file measurements of suites the config does not plan (sglang's CPU suites in
    model.json, a typo in a duration log), counting them; setup stays, it is per runner too."""
    samples = tuple(s for s in measurements.samples if s.suite is None or s.suite in suites)
    imported = tuple(i for i in measurements.imported if i.suite in suites)
    dropped = len(measurements.samples) - len(samples) + len(measurements.imported) - len(imported)
    skipped = measurements.skipped + ((("measurements of suites not in the config", dropped),) if dropped else ())
    return Measurements(samples, measurements.setups, imported, skipped)
