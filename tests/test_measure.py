"""Every calibrate input: sglang run history, model.json, JUnit XML, the duration log."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from generator.errors import ProblemReport, UserError
from generator.timings.durationlog import read_duration_log
from generator.timings.history import history_measurements, is_partial, read_history
from generator.timings.junit import read_junit
from generator.timings.measure import Known, read_measurements
from generator.timings.model_json import read_partition_model
from generator.timings.samples import Measurements, Sample, SetupSample
from tests.support.synth import corpus_dir

SUITE = "base-b-test-1-gpu-large"
NOTHING = Known(set(), set(), ["cuda"])  # no scanned file, no suite


def job(name: str, start: str, end: str, timings: list, suite: str = SUITE, **extra) -> dict:
    return {
        "job_id": 1,
        "name": name,
        "suite": suite,
        "backend": "cuda",
        "started_at": f"2026-06-18T{start}Z",
        "completed_at": f"2026-06-18T{end}Z",
        "labels": ["1-gpu-h100"],
        "timings": [{"file": f, "elapsed": e, **({"passed": p} if p is not None else {})} for f, e, p in timings],
        **extra,
    }


def write_run(folder: Path, run_id: int, started: str, jobs: list) -> Path:
    path = folder / f"{started.replace(':', '-')}__{run_id}.json"
    path.write_text(
        json.dumps({"run_id": run_id, "started_at": f"2026-06-{started}Z", "event": "schedule", "jobs": jobs}, indent=1)
    )
    return path


def test_the_shipped_history_reads_in_time_order():
    runs = read_history([corpus_dir() / "sglang-ci-stats"])
    assert [r.run_id for r in runs][:2] == ["27758438303", "27795889497"]
    assert len(runs) == 8
    assert sum(len(r.final_jobs(["cuda"])) for r in runs) == 406
    assert sum(len(r.jobs) for r in runs) == 438
    first = runs[0].suite_jobs(["cuda"])
    assert is_partial(first["base-b-test-1-gpu-small"])  # shards 1, 3, 4, 5 recorded
    assert not is_partial(first["base-b-test-1-gpu-large"])


def test_retries_failures_and_failed_attempts(tmp_path):
    write_run(
        tmp_path,
        7,
        "18T10:00:00",
        [
            job("s (0)", "10:00:00", "10:10:00", [("t/a.py", 300, None)]),
            job("s (0)", "11:00:00", "11:12:00", [("t/a.py", 200, False), ("t/a.py", 310, True)]),  # the re-run wins
            job("s (1)", "10:00:00", "10:05:00", [("t/b.py", 100, None)], conclusion="failure"),
            job("s (2)", "10:00:00", "10:03:00", [("t/c.py", 60, None)]),
        ],
    )
    [run] = read_history([tmp_path])
    kept = run.final_jobs(["cuda"])
    assert [(j.name, j.test_seconds, j.setup_seconds) for j in kept] == [
        ("s (0)", 510.0, 210.0),
        ("s (2)", 60.0, 120.0),
    ]
    assert is_partial(kept)  # shard 1 failed
    measured = history_measurements([run], ["cuda"])
    assert measured.samples == (Sample("t/a.py", 310.0, SUITE, "7/s (0)"), Sample("t/c.py", 60.0, SUITE, "7/s (2)"))
    assert measured.setups == (SetupSample(SUITE, "1-gpu-h100", 210.0), SetupSample(SUITE, "1-gpu-h100", 120.0))
    assert measured.skipped == (("failed or superseded job attempts", 2), ("failed file attempts (timeout-capped)", 1))


def test_jobs_with_impossible_clocks_give_no_setup(tmp_path):
    write_run(
        tmp_path,
        1,
        "18T10:00:00",
        [job("s (0)", "10:00:00", "10:01:00", [("t/a.py", 300, None)]), job("s (1)", "10:00:00", "10:01:00", [])],
    )
    measured = history_measurements(read_history([tmp_path]), ["cuda"])
    assert measured.setups == ()
    assert measured.skipped == (("jobs with no tests or tests longer than the job", 2),)


def test_bad_history_files_are_all_reported_with_lines(tmp_path):
    good = job("s (0)", "10:00:00", "10:10:00", [("t/a.py", 30, None)])
    broken = job("s (1)", "10:00:00", "10:10:00", [("t/b.py", -4, None)], started_at="2026-06-18 10:00")
    del broken["labels"]
    write_run(tmp_path, 1, "18T10:00:00", [good])
    write_run(tmp_path, 3, "18T11:00:00", [good, broken])
    (tmp_path / "19T10-00-00__2.json").write_text('{"run_id": 2,\n "jobs": [}')
    write_run(tmp_path, 1, "20T10:00:00", [good])
    with pytest.raises(ProblemReport) as caught:
        read_history([tmp_path])
    assert [p.format() for p in caught.value.problems] == [
        f"{tmp_path}/18T11-00-00__3.json:23: history-schema: jobs[1]: 'labels' is a required property",
        f"{tmp_path}/18T11-00-00__3.json:28: history-schema: "
        "jobs[1].started_at: '2026-06-18 10:00' is not a time like 2026-06-18T12:09:58Z",
        f"{tmp_path}/18T11-00-00__3.json:33: history-schema: "
        "jobs[1].timings[0].elapsed: -4 is less than the minimum of 0",
        f"{tmp_path}/19T10-00-00__2.json:2: history-json: invalid JSON: Expecting value (column 11)",
        f"{tmp_path}/20T10-00-00__1.json:1: history-duplicate-run: run 1 is also in {tmp_path}/18T10-00-00__1.json",
    ]
    assert caught.value.summary == "5 errors in 4 history files; nothing done."


def test_history_paths_must_hold_runs(tmp_path):
    with pytest.raises(UserError) as error:
        read_history([tmp_path])
    assert str(error.value) == f"{tmp_path}: history-empty: no run files (*.json) here or under runs/"
    with pytest.raises(UserError) as error:
        read_history([tmp_path / "nope"])
    assert str(error.value) == f"{tmp_path / 'nope'}: history-missing: no such file or folder"


def test_sglang_model_json_imports_its_p90s():
    measured = read_partition_model(corpus_dir() / "sglang-ci-stats" / "model.json")
    assert len(measured.imported) == 613
    assert measured.imported[0].suite == "base-a-test-1-gpu-small"
    assert measured.imported[0].path == "test/registered/attention/unittests/dense/test_extend_init_contract.py"
    assert measured.imported[0].seconds == 10.0


JUNIT = """\
<?xml version="1.0" encoding="utf-8"?>
<testsuites>
  <testsuite name="pytest">
    <testcase classname="test.registered.a.test_x.TestA" name="test_one" time="12.5"/>
    <testcase classname="test.registered.a.test_x.TestA" name="test_two" time="7.5"/>
    <testcase file="test/registered/b/test_y.py" classname="b.test_y" name="t" time="3">
      <failure message="boom">trace</failure>
    </testcase>
    <testcase classname="nowhere.Test" name="t" time="1"/>
  </testsuite>
  <testsuite name="base-b-test-1-gpu-large">
    <testcase file="./test/registered/b/test_y.py" name="u" time="1,234.5"><skipped/></testcase>
  </testsuite>
</testsuites>
"""
KNOWN = {"test/registered/a/test_x.py", "test/registered/b/test_y.py"}


def test_junit_sums_cases_per_file_and_skips_failures(tmp_path):
    path = tmp_path / "report.xml"
    path.write_text(JUNIT)
    measured = read_junit(path, KNOWN, {SUITE})
    assert measured.samples == (
        Sample("test/registered/a/test_x.py", 20.0, None),
        Sample("test/registered/b/test_y.py", 1234.5, SUITE),
    )
    assert measured.skipped == (
        ("test files with a failing case in a JUnit report", 1),
        ("JUnit test cases naming no known file", 1),
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            '<?xml version="1.0"?>\n<!DOCTYPE lolz [\n <!ENTITY lol "lol">\n'
            ' <!ENTITY lol2 "&lol;&lol;&lol;&lol;">\n]>\n<testsuite>&lol2;</testsuite>\n',
            "2: junit-doctype: DOCTYPE and entity declarations are refused (JUnit XML needs none)",
        ),
        (
            '<?xml version="1.0"?>\n<!DOCTYPE t SYSTEM "file:///etc/passwd">\n<testsuite/>\n',
            "2: junit-doctype: DOCTYPE and entity declarations are refused (JUnit XML needs none)",
        ),
        ("<testsuite>\n<testcase name='a' time='1'>\n</testsuite>\n", "3: junit-xml: invalid XML: mismatched tag"),
        (
            "<testsuite>\n\n<testcase name='a' time='soon'/>\n</testsuite>\n",
            "3: junit-time: testcase needs a time in seconds (a number >= 0), got time='soon'",
        ),
        (
            "<testsuite>\n<testcase name='a'/>\n</testsuite>\n",
            "2: junit-time: testcase needs a time in seconds (a number >= 0), got no time attribute",
        ),
    ],
)
def test_bad_junit_is_a_user_error_at_its_line(tmp_path, text, expected):
    path = tmp_path / "report.xml"
    path.write_text(text)
    with pytest.raises(UserError) as error:
        read_junit(path, KNOWN, set())
    assert str(error.value) == f"{path}:{expected}"


def test_duration_log_lines(tmp_path):
    path = tmp_path / "durations.txt"
    path.write_text(
        "# file seconds\n\ntest/registered/a/test_x.py 12.5\nbase-b-test-1-gpu-large t/y.py 40  # retried\n"
    )
    assert read_duration_log(path).samples == (
        Sample("test/registered/a/test_x.py", 12.5, None),
        Sample("t/y.py", 40.0, SUITE),
    )


def test_duration_log_errors_all_at_once(tmp_path):
    path = tmp_path / "durations.txt"
    path.write_text("t/a.py\nt/b.py nan\nt/c.py -3\ns t/d.py 1 extra\nt/e.py 5\n")
    with pytest.raises(ProblemReport) as caught:
        read_duration_log(path)
    assert [p.format() for p in caught.value.problems] == [
        f"{path}:1: durations-syntax: expected 'PATH SECONDS' or 'SUITE PATH SECONDS', got 1 fields",
        f"{path}:2: durations-seconds: seconds must be a number >= 0, got 'nan'",
        f"{path}:3: durations-seconds: seconds must be a number >= 0, got '-3'",
        f"{path}:4: durations-syntax: expected 'PATH SECONDS' or 'SUITE PATH SECONDS', got 4 fields",
    ]


def test_read_measurements_reports_every_input_at_once(tmp_path):
    (tmp_path / "bad.xml").write_text("<testsuite>\n<testcase name='a' time='x'/></testsuite>")
    (tmp_path / "bad.txt").write_text("only-a-path\n")
    (tmp_path / "good.txt").write_text("t/a.py 3\n")
    with pytest.raises(ProblemReport) as caught:
        read_measurements(
            {"junit": [tmp_path / "bad.xml"], "durations": [tmp_path / "good.txt", tmp_path / "bad.txt"]}, NOTHING
        )
    assert [p.format() for p in caught.value.problems] == [
        f"{tmp_path}/bad.txt:1: durations-syntax: expected 'PATH SECONDS' or 'SUITE PATH SECONDS', got 1 fields",
        f"{tmp_path}/bad.xml:2: junit-time: testcase needs a time in seconds (a number >= 0), got time='x'",
    ]
    assert caught.value.summary == "2 errors in 2 input files; nothing written."
    with pytest.raises(UserError) as error:
        read_measurements({}, NOTHING)
    assert str(error.value) == (
        "calibrate-no-input: give at least one of --history, --junit, --durations, --results, --log, --partition-model"
    )


def test_measurements_of_unplanned_suites_are_dropped_and_counted(tmp_path):
    (tmp_path / "d.log").write_text("base-a-test-cpu t/cpu.py 5\nt/any.py 6\nbase-b-test-1-gpu-large t/gpu.py 7\n")
    model = corpus_dir() / "sglang-ci-stats" / "model.json"
    measured = read_measurements(
        {"durations": [tmp_path / "d.log"], "partition-model": [model]}, Known(set(), {SUITE}, ["cuda"])
    )
    assert measured.samples == (Sample("t/any.py", 6.0, None), Sample("t/gpu.py", 7.0, SUITE))
    assert {i.suite for i in measured.imported} == {SUITE}
    assert len(measured.imported) == 96  # model.json's est table for this suite
    assert measured.skipped == (("measurements of suites not in the config", 1 + 613 - 96),)


def test_skipped_reasons_are_summed_over_inputs_not_repeated():
    """Two results files that each hold a failed file report one line with 2, not two lines."""
    not_passed = "files that did not pass in runner results"
    one = Measurements(skipped=((not_passed, 1),))
    other = Measurements(skipped=(("failed files in TIMINGS blocks", 3), (not_passed, 1)))
    assert (one + other).skipped == (
        (not_passed, 2),
        ("failed files in TIMINGS blocks", 3),
    )
