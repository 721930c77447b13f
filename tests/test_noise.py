"""Noise in measured durations: per-job speed factors, de-noised samples, per-file variances."""

from __future__ import annotations

import pytest

from benchmarks.backtest.noise import FILE_CV, PRIOR_FILES, denoise, file_variances, job_factors
from generator.timings.samples import Measurements, Sample

SUITE = "base-c-test-4-gpu-h100"


def samples_of(jobs: dict[str, dict[str, float]]) -> tuple[Sample, ...]:
    return tuple(Sample(path, seconds, SUITE, job) for job, files in jobs.items() for path, seconds in files.items())


def test_a_slow_job_gets_its_factor_shrunk_by_its_evidence():
    files = {f"t{i}.py": 100.0 for i in range(8)}
    jobs = {f"{run}/x (0)": {p: s * (1.5 if run == 3 else 1.0) for p, s in files.items()} for run in range(4)}
    factors = job_factors(samples_of(jobs))
    # Eight equal files: 8 files' worth of evidence against a prior of PRIOR_FILES.
    assert factors["3/x (0)"] == pytest.approx(1.5 ** (8 / (8 + PRIOR_FILES)))
    assert [factors[f"{run}/x (0)"] for run in range(3)] == [1.0, 1.0, 1.0]


def test_a_one_file_job_says_little_about_its_runner():
    jobs = {f"{run}/x (0)": {"a.py": 200.0 if run == 3 else 100.0} for run in range(4)}
    factors = job_factors(samples_of(jobs))
    assert factors["3/x (0)"] == pytest.approx(2 ** (1 / (1 + PRIOR_FILES)))
    # One long file and a short one are about one file's worth: (110^2) / (100^2 + 10^2).
    jobs = {
        f"{run}/y (0)": {"a.py": 100.0 * (1.2 if run == 3 else 1.0), "b.py": 10.0 * (1.2 if run == 3 else 1.0)}
        for run in range(4)
    }
    files = 110**2 / (100**2 + 10**2)
    assert job_factors(samples_of(jobs))["3/y (0)"] == pytest.approx(1.2 ** (files / (files + PRIOR_FILES)))


def test_jobs_without_files_seen_elsewhere_stay_at_one():
    assert job_factors(samples_of({"0/x (0)": {"a.py": 100.0}, "1/x (0)": {"b.py": 300.0}})) == {
        "0/x (0)": 1.0,
        "1/x (0)": 1.0,
    }


def test_denoise_divides_each_jobs_samples_and_leaves_the_rest():
    measured = Measurements(
        samples=(
            Sample("a.py", 120.0, SUITE, "1/x (0)"),
            Sample("a.py", 100.0, SUITE),
            Sample("b.py", 50.0, SUITE, "2/x (0)"),
        )
    )
    out = denoise(measured, {"1/x (0)": 1.2})
    assert out.samples == (
        Sample("a.py", 100.0, SUITE, "1/x (0)"),
        Sample("a.py", 100.0, SUITE),
        Sample("b.py", 50.0, SUITE, "2/x (0)"),
    )


def test_file_variances_pool_the_samples_with_the_prior():
    measured = Measurements(
        samples=(Sample("a.py", 90.0, SUITE), Sample("a.py", 110.0, SUITE), Sample("b.py", 40.0, SUITE))
    )
    variances = file_variances(measured, {(SUITE, "a.py"): 100.0, (SUITE, "b.py"): 40.0}, prior_samples=2.0)
    # a: sample variance 200 (1 degree of freedom) pooled with (0.125 * 100)^2 counted twice.
    assert variances[(SUITE, "a.py")] == pytest.approx((200 + 2 * (FILE_CV * 100) ** 2) / 3)
    assert variances[(SUITE, "b.py")] == pytest.approx((FILE_CV * 40) ** 2)
