"""Every measurement input `calibrate` accepts -> one Measurements; all problems at once."""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from pathlib import Path

from generator.errors import Problem, ProblemReport, UserError, plural
from generator.timings.durationlog import read_duration_log
from generator.timings.history import history_measurements, read_history
from generator.timings.junit import read_junit
from generator.timings.model_json import read_partition_model
from generator.timings.runresults import read_run_results
from generator.timings.samples import Measurements
from generator.timings.timingslog import read_timings_log


def read_measurements(
    history: Sequence[Path],
    junit: Sequence[Path],
    durations: Sequence[Path],
    partition_model: Path | None,
    known_paths: Collection[str],
    suites: Collection[str],
    backends: Sequence[str],
    results: Sequence[Path] = (),
    logs: Sequence[Path] = (),
) -> Measurements:
    """History first (oldest run first), then JUnit reports, duration logs, runner results files
    and job logs with a TIMINGS block, each in the order given: that order is the samples' time order."""
    readers: list[Callable[[], Measurements]] = []
    if history:
        readers.append(lambda: history_measurements(read_history(history), backends))
    readers += [lambda p=p: read_junit(p, known_paths, suites) for p in junit]
    readers += [lambda p=p: read_duration_log(p) for p in durations]
    readers += [lambda p=p: read_run_results(p) for p in results]
    readers += [lambda p=p: read_timings_log(p) for p in logs]
    if partition_model is not None:
        readers.append(lambda: read_partition_model(partition_model))
    if not readers:
        options = "--history, --junit, --durations, --results, --log, --partition-model"
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
        raise ProblemReport(problems, f"{plural(len(problems), 'error')} in {plural(files, 'input file')}; nothing written.")
    return known_suites_only(total, suites)


def known_suites_only(measurements: Measurements, suites: Collection[str]) -> Measurements:
    """Drop file measurements of suites the config does not plan (sglang's CPU suites in
    model.json, a typo in a duration log), counting them; setup stays, it is per runner too."""
    samples = tuple(s for s in measurements.samples if s.suite is None or s.suite in suites)
    imported = tuple(i for i in measurements.imported if i.suite in suites)
    dropped = len(measurements.samples) - len(samples) + len(measurements.imported) - len(imported)
    skipped = measurements.skipped + ((("measurements of suites not in the config", dropped),) if dropped else ())
    return Measurements(samples, measurements.setups, imported, skipped)
