"""The timings file, its lookups, the estimators, and calibration from measurements."""

from __future__ import annotations

import json
import statistics

import pytest

from generator.errors import ProblemReport, UserError
from generator.registration import Registration
from generator.timings.calibrate import calibrate
from generator.timings.estimators import DEFAULT_ESTIMATOR, ESTIMATORS, MAX_SAMPLES, ewma, interpolated, nearest_rank
from generator.timings.samples import Imported, Measurements, Sample, SetupSample
from generator.timings.store import FileTiming, SetupTiming, Timings, load_timings, timings_text


def reg(path: str, suite: str, est: float) -> Registration:
    return Registration(path=path, line=3, backend="cuda", est_seconds=est, suite=suite)


SUITE = "base-b-test-1-gpu-large"
REGS = [
    reg("t/a.py", SUITE, 100),
    reg("t/b.py", SUITE, 50),
    reg("t/never.py", SUITE, 40),
    reg("t/a.py", "nightly-1-gpu", 300),
]


def test_nearest_rank_and_interpolated_percentiles():
    values = [5, 1, 4, 2, 3]
    assert nearest_rank(values, 0.5) == 3
    assert nearest_rank(values, 0.9) == 5  # ceil(4.5) = 5th smallest
    assert nearest_rank([7.0], 0.9) == 7.0
    assert interpolated(values, 0.9) == pytest.approx(4.6)
    many = [float(v) for v in (12, 3, 44, 7, 19, 25, 31, 2, 9)]
    assert interpolated(many, 0.9) == pytest.approx(statistics.quantiles(many, n=10, method="inclusive")[8])


def test_estimators_on_a_known_series():
    series = [100.0, 110.0, 90.0, 300.0, 100.0]
    assert ewma(series, 0.5) == pytest.approx(0.5 * 100 + 0.25 * 300 + 0.125 * 90 + 0.0625 * 110 + 0.0625 * 100)
    assert ESTIMATORS["last"](series) == 100.0
    assert ESTIMATORS["median"](series) == 100.0
    assert ESTIMATORS["trimmed-mean"](series) == pytest.approx((100 + 110 + 100) / 3)
    assert ESTIMATORS["max-last-3"](series) == 300.0
    assert ESTIMATORS["median-last-3"](series) == 100.0
    assert DEFAULT_ESTIMATOR in ESTIMATORS


def test_calibrate_estimates_ratios_setup_and_coverage():
    measurements = Measurements(
        samples=(
            Sample("t/a.py", 200.0, SUITE),
            Sample("t/a.py", 220.0, SUITE),
            Sample("t/b.py", 25.0, None),  # no suite: every suite registering t/b.py
            Sample("t/gone.py", 70.0, SUITE),  # measured, no longer registered
            Sample("t/unknown.py", 9.0, None),  # no suite and registered nowhere
        ),
        setups=(
            SetupSample(SUITE, "1-gpu-h100", 100.0),
            SetupSample(SUITE, "1-gpu-h100", 140.0),
            SetupSample("other", "1-gpu-h100", 30.0),
        ),
        skipped=(("failed or superseded job attempts", 2),),
    )
    timings, report = calibrate(measurements, REGS, "ewma-0.5", ["runs/"])
    assert timings.files == {
        (SUITE, "t/a.py"): FileTiming(210.0, 2, 218.0),
        (SUITE, "t/b.py"): FileTiming(25.0, 1, 25.0),
        (SUITE, "t/gone.py"): FileTiming(70.0, 1, 70.0),
    }
    assert timings.suite_ratio == {SUITE: statistics.median([210 / 100, 25 / 50])}
    assert timings.setup_by_runner == {"1-gpu-h100": SetupTiming(90.0, 3, 100.0, 132.0)}
    assert timings.setup_by_suite[SUITE] == SetupTiming(120.0, 2, 120.0, 136.0)
    assert report.samples == 5
    assert report.measured == 3
    assert report.unregistered == ((SUITE, "t/gone.py"),)
    assert report.unmeasured == ((SUITE, "t/never.py"), ("nightly-1-gpu", "t/a.py"))
    assert report.skipped == (
        ("failed or superseded job attempts", 2),
        ("samples of files no planned suite registers", 1),
    )


def test_calibrate_keeps_the_newest_samples_and_prefers_them_to_imports():
    samples = tuple(Sample("t/a.py", float(i), SUITE) for i in range(MAX_SAMPLES + 4))
    imported = (Imported(SUITE, "t/a.py", 999.0), Imported(SUITE, "t/b.py", 60.0))
    timings, _ = calibrate(Measurements(samples=samples, imported=imported), REGS, "median")
    assert timings.files[(SUITE, "t/a.py")] == FileTiming(
        statistics.median(range(4, MAX_SAMPLES + 4)), MAX_SAMPLES, 17.5
    )
    assert timings.files[(SUITE, "t/b.py")] == FileTiming(60.0, 0, 60.0)


def test_estimate_falls_back_from_measured_to_ratio_to_suite_median():
    timings = Timings(
        "t.json",
        files={
            (SUITE, "t/a.py"): FileTiming(200, 3),
            (SUITE, "t/b.py"): FileTiming(40, 3),
            ("s2", "t/c.py"): FileTiming(10, 1),
        },
        suite_ratio={SUITE: 0.5},
    )
    assert timings.est_seconds_of(reg("t/a.py", SUITE, 100)) == 200
    assert timings.est_seconds_of(reg("t/new.py", SUITE, 100)) == 50  # est_time x ratio
    assert timings.est_seconds_of(reg("t/new.py", "s3", 100)) == 100  # no ratio: est_time
    assert timings.estimate(SUITE, "t/renamed.py", None) == 120  # the suite's median file
    assert timings.estimate("s3", "t/renamed.py", None) == 40  # the median over all files


def test_setup_prefers_the_suites_own_measurement():
    timings = Timings(
        "t", setup_by_runner={"4-gpu-h100": SetupTiming(106, 40)}, setup_by_suite={"deepep": SetupTiming(250, 8)}
    )
    assert timings.setup_seconds("deepep", "4-gpu-h100") == 250
    assert timings.setup_seconds("base-c", "4-gpu-h100") == 106
    assert timings.setup_seconds("base-c", "8-gpu-h20") is None
    assert timings.setup_minutes == {"4-gpu-h100": pytest.approx(106 / 60)}


def test_timings_file_round_trips_byte_identically(tmp_path):
    measurements = Measurements(
        samples=(Sample("t/a.py", 200.04, SUITE), Sample("t/b.py", 25.0, SUITE)),
        setups=(SetupSample(SUITE, "1-gpu-h100", 100.0),),
    )
    timings, _ = calibrate(measurements, REGS, "median", ["runs/"])
    text = timings_text(timings)
    path = tmp_path / "timings.json"
    path.write_text(text)
    loaded = load_timings(path)
    assert timings_text(loaded) == text
    assert loaded.files[(SUITE, "t/a.py")] == FileTiming(200.0, 1, 200.0)
    assert loaded.estimator == "median" and loaded.inputs == ("runs/",)
    assert json.loads(text)["setup"]["runners"] == {
        "1-gpu-h100": {"seconds": 100.0, "median": 100.0, "p90": 100.0, "samples": 1}
    }


def test_the_provisional_format_still_loads(tmp_path):
    path = tmp_path / "t.json"
    path.write_text(
        json.dumps(
            {
                "files": [{"suite": SUITE, "path": "t/a.py", "seconds": 90, "samples": 4}],
                "suite_ratio": {SUITE: 1.5},
                "setup_minutes": {"1-gpu-h100": 2.0},
            }
        )
    )
    timings = load_timings(path)
    assert timings.est_seconds_of(reg("t/a.py", SUITE, 10)) == 90
    assert timings.est_seconds_of(reg("t/x.py", SUITE, 10)) == 15
    assert timings.setup_by_runner == {"1-gpu-h100": SetupTiming(120.0, 0)}


def test_bad_timings_files_name_file_and_line(tmp_path):
    path = tmp_path / "t.json"
    path.write_text(
        '{\n  "files": [\n    {"suite": "s", "path": "p", "seconds": "fast", "samples": 1}\n  ],\n'
        '  "suite_ratio": {"s": 0}\n}\n'
    )
    with pytest.raises(ProblemReport) as caught:
        load_timings(path)
    assert [p.format() for p in caught.value.problems] == [
        f"{path}:3: timings-schema: files[0].seconds: 'fast' is not of type 'number'",
        f"{path}:5: timings-schema: suite_ratio.s: 0 is less than or equal to the minimum of 0",
    ]
    path.write_text('{"files": [\n  {"suite": "s",}\n]}')
    with pytest.raises(UserError) as error:
        load_timings(path)
    assert (
        str(error.value)
        == f"{path}:2: timings-unreadable: invalid JSON: Expecting property name enclosed in double quotes (column 17)"
    )
