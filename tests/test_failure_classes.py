"""The failure table: every row classifies its sample line, and it holds sglang 0.5.23's lists verbatim."""

from __future__ import annotations

import inspect
import logging

import pytest

from generator import model
from generator.config_document import schema
from generator.shipped.health import SGLANG_IDLE_POLL_SECONDS, SGLANG_IDLE_USED_MIB, SGLANG_IDLE_WAIT_SECONDS
from generator.shipped.run_shard import (
    FAILURE_CLASSES,
    FAILURE_PATTERNS,
    RETRIABLE_CLASSES,
    SGLANG_LISTS,
    SGLANG_RETRY_WAIT_SECONDS,
    Attempt,
    FileResult,
    PlannedFile,
    RunSettings,
    failure_class,
    timings_block,
)
from tests.support.ci_utils_oracle import ORACLE_NAME, ci_utils, gpu_idle_constants
from tests.support.files import write_files
from tests.support.run_shard import classify_output, run_runner, shard_args, timings_lines

# One output line per row, which that row (and no row above it) must match.
SAMPLES = {
    r"CUDA error: initialization error|cudaErrorInitializationError": (
        "torch.AcceleratorError: CUDA error: initialization error"
    ),
    r"CUDA driver initialization failed|CUDA driver version is insufficient": (
        "CUDA driver initialization failed, you might not have a CUDA gpu."
    ),
    r"no CUDA-capable device is detected|No CUDA GPUs are available": "RuntimeError: No CUDA GPUs are available",
    r"OOM @ set_device": "[rank0] OOM @ set_device(0): 1.20 GiB free of 79.10 GiB",
    r"CUDA error: out of memory": "torch.AcceleratorError: CUDA error: out of memory",
    r"ncclSystemError|ncclUnhandledCudaError|ncclInternalError|ncclRemoteError": (
        "ncclUnhandledCudaError: Call to CUDA function failed."
    ),
    r"NCCL error|NCCL WARN .*(Cuda failure|NVLink|timeout)": (
        "node-1:2291:2291 [0] transport/p2p.cc:275 NCCL WARN Cuda failure 'peer access'"
    ),
    r"Watchdog caught collective operation timeout": (
        "[Rank 1] Watchdog caught collective operation timeout: WorkNCCL(SeqNum=5) ran for 600000 ms"
    ),
    r"Failed to initialize NVML|Driver/library version mismatch|NVIDIA-SMI has failed": (
        "Failed to initialize NVML: Driver/library version mismatch"
    ),
    r"GPU is lost|Unable to determine the device handle|uncorrectable ECC error": (
        "Unable to determine the device handle for GPU0000:17:00.0: Unknown Error"
    ),
    r"nvidia-smi.*timed out": "subprocess.TimeoutExpired: Command '['nvidia-smi']' timed out after 30 seconds",
    r"GPU\(s\) still not idle after waiting": (
        "RuntimeError: GPU(s) still not idle after waiting 30s before setUpClass: GPU 0 uses 40.0 GiB"
    ),
    r"UR_RESULT_ERROR_OUT_OF_RESOURCES": "level_zero backend failed with error: 40 (UR_RESULT_ERROR_OUT_OF_RESOURCES)",
    r"XPU out of memory": "torch.OutOfMemoryError: XPU out of memory. Tried to allocate 2.00 GiB",
    r"Server failed to start within the timeout": "Exception: Server failed to start within the timeout period.",
    r"SyntaxError": "SyntaxError: invalid syntax",
    r"ImportError": "ImportError: cannot import name 'foo' from 'sglang.srt'",
    r"ModuleNotFoundError": "ModuleNotFoundError: No module named 'flashinfer'",
    r"NameError": "NameError: name 'x' is not defined",
    r"TypeError": "TypeError: forward() got an unexpected keyword argument 'y'",
    r"AttributeError": "AttributeError: 'NoneType' object has no attribute 'shape'",
    r"RuntimeError": "RuntimeError: expected scalar type Float but found Half",
    r"CUDA out of memory": "torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 20.00 MiB",
    r"OOM": "Killed by the kernel's OOM killer",
    r"Segmentation fault": "Fatal Python error: Segmentation fault",
    r"core dumped": "Aborted (core dumped)",
    r"ConnectionRefusedError": "ConnectionRefusedError: [Errno 111] Connection refused",
    r"FileNotFoundError": "FileNotFoundError: [Errno 2] No such file or directory: 'model.safetensors'",
    r"AssertionError:.*not greater than": "AssertionError: 0.61 not greater than 0.65",
    r"AssertionError:.*not less than": "AssertionError: 1.7 not less than 1.5",
    r"AssertionError:.*not equal to": "AssertionError: 12 not equal to 13 within 0.1 delta",
    r"AssertionError:.*!=.*expected": "AssertionError: 'Lyon' != 'Paris' : expected the capital",
    r"accuracy": "gsm8k accuracy 0.71 below 0.74",
    r"score": "mmlu score 0.61 below its bar",
    r"latency": "median latency 1.8 s above 1.5 s",
    r"throughput": "output throughput 2100 tok/s below 2500 tok/s",
    r"timeout": "request timeout while waiting for the engine",
    r"AssertionError": "AssertionError: False is not true",
}
ROWS = [pytest.param(row, id=row.regex) for row in FAILURE_PATTERNS]


def test_every_row_has_a_sample_and_a_prefilter():
    assert list(SAMPLES) == [row.regex for row in FAILURE_PATTERNS]
    for row in FAILURE_PATTERNS:
        assert row.prefilter and all(anchor == anchor.lower() for anchor in row.prefilter), row.regex
        assert row.failure_class in ("test", "flaky-accuracy", "infra")


@pytest.mark.parametrize("row", ROWS)
def test_each_rows_sample_line_classifies_to_its_class(row):
    line = SAMPLES[row.regex]
    assert classify_output(["some ordinary output", line, "Traceback done"]) == (
        row.failure_class,
        f"{row.regex!r} ({row.source}) matched: {line}",
    )
    assert any(anchor in line.lower() for anchor in row.prefilter)  # the prefilter lets it through


@pytest.mark.parametrize(
    "row", [pytest.param(row, id=row.regex) for row in FAILURE_PATTERNS if row.source.startswith("sglang")]
)
def test_sglang_agrees_on_whether_each_sample_is_retriable(row):
    retriable, _ = ci_utils().is_retriable_failure(SAMPLES[row.regex])
    assert retriable == (row.failure_class in RETRIABLE_CLASSES)


def test_the_table_holds_sglangs_three_lists_verbatim_in_order():
    oracle = ci_utils()
    for list_name, failure in SGLANG_LISTS.items():
        ours = [row for row in FAILURE_PATTERNS if row.source == f"sglang 0.5.23 ci_utils.py {list_name}"]
        assert [row.regex for row in ours] == getattr(oracle, list_name)
        assert {(row.failure_class, row.ignore_case) for row in ours} == {(failure, True)}  # sglang: re.IGNORECASE
    fallback = FAILURE_PATTERNS[-1]
    assert (fallback.regex, fallback.failure_class, fallback.ignore_case) == ("AssertionError", "flaky-accuracy", False)
    assert 'if re.search(r"AssertionError", output):' in inspect.getsource(oracle.is_retriable_failure)
    # sglang checks its lists in this order: infra, non-retriable, retriable, then the fallback.
    order = [row.source.rsplit(" ", 1)[1] for row in FAILURE_PATTERNS if row.source.startswith("sglang")]
    assert order == sorted(
        order,
        key=["INFRA_RETRIABLE_PATTERNS", "NON_RETRIABLE_PATTERNS", "RETRIABLE_PATTERNS", "is_retriable_failure"].index,
    )
    assert all(row.source == "cigen" for row in FAILURE_PATTERNS[: len(FAILURE_PATTERNS) - len(order)])


def test_failures_with_no_known_pattern_are_test_failures():
    assert classify_output(["Traceback (most recent call last):", "ZeroDivisionError: division by zero"]) == (
        "test",
        "no known failure pattern in the output",
    )
    assert classify_output([]) == ("test", "no known failure pattern in the output")


def test_the_first_row_in_table_order_wins_not_the_first_line():
    lines = ["gsm8k accuracy 0.71 below 0.74", "RuntimeError: CUDA error: initialization error"]
    assert classify_output(lines)[0] == "infra"
    assert (
        classify_output(["AssertionError: accuracy 0.5", "ImportError: x"])[0] == "test"
    )  # as sglang: non-retriable first


def test_the_fallback_is_case_sensitive_as_sglangs():
    assert classify_output(["assertionerror: lower case"])[0] == "test"
    assert ci_utils().is_retriable_failure("assertionerror: lower case")[0] is False


def test_timeouts_are_infra_when_the_gpu_stopped_answering_or_the_output_says_so():
    assert failure_class({}, timed_out=True, gpu_problem=None) == ("timeout", "killed at the per-file timeout")
    assert failure_class({}, timed_out=True, gpu_problem="nvidia-smi did not answer within 15 s") == (
        "infra",
        "timed out with the GPU unresponsive: nvidia-smi did not answer within 15 s",
    )
    nccl = FAILURE_PATTERNS.index(next(r for r in FAILURE_PATTERNS if r.regex.startswith("Watchdog")))
    accuracy = FAILURE_PATTERNS.index(next(r for r in FAILURE_PATTERNS if r.regex == "accuracy"))
    assert failure_class({accuracy: "accuracy 0.5"}, timed_out=True, gpu_problem=None)[0] == "timeout"
    assert (
        failure_class({accuracy: "accuracy 0.5", nccl: "Watchdog caught collective operation timeout"}, True, None)[0]
        == "infra"
    )


def test_every_class_is_reachable_and_listed():
    assert FAILURE_CLASSES == ("passed", "flaky", "test", "flaky-accuracy", "infra", "timeout", "not-run", "missing")
    assert set(RETRIABLE_CLASSES) == {"flaky-accuracy", "infra", "timeout"}
    # The config's retry_classes (and its default: every retriable class) name the runner's classes.
    assert model.RETRIABLE_CLASSES == RETRIABLE_CLASSES
    assert schema()["$defs"]["retry_classes"]["items"]["enum"] == list(RETRIABLE_CLASSES)


def test_defaults_match_sglang():
    oracle = ci_utils()
    defaults = inspect.signature(oracle.run_unittest_files).parameters
    assert defaults["max_attempts"].default == 2  # our --retries 1
    assert defaults["retry_wait_seconds"].default == SGLANG_RETRY_WAIT_SECONDS
    settings = RunSettings(".", ".", "python3", (), None, 1, 0.0, False, None)
    for est in (10.0, 60.0, 3600.0, 5000.0):
        assert settings.timeout_for(PlannedFile("a.py", est)) == oracle.derive_timeout_per_file(est)
    idle = gpu_idle_constants()
    assert idle["_GPU_IDLE_USED_MEMORY_THRESHOLD"] == SGLANG_IDLE_USED_MIB * 2**20
    assert (idle["_GPU_IDLE_TIMEOUT_SECS"], idle["_GPU_IDLE_POLL_INTERVAL_SECS"]) == (
        SGLANG_IDLE_WAIT_SECONDS,
        SGLANG_IDLE_POLL_SECONDS,
    )


def sglang_timings(tmp_path, monkeypatch, files: dict[str, str]) -> list[str]:
    """sglang's run_unittest_files on real files (from sglang's test/ folder, as its CI): its log lines."""
    oracle = ci_utils()
    test_dir = write_files(tmp_path / "sglang" / "test", files)
    monkeypatch.chdir(test_dir)
    records: list[str] = []
    handler = logging.Handler()
    handler.emit = lambda record: records.append(record.getMessage())
    logger = logging.getLogger(ORACLE_NAME)
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        oracle.run_unittest_files(
            [oracle.TestFile(name, 1) for name in files], timeout_per_file=30, continue_on_error=True
        )
    finally:
        logger.removeHandler(handler)
    return "\n".join(records).splitlines()


def test_our_timings_block_is_sglangs(tmp_path, monkeypatch):
    files = {"registered/test_a.py": "print('ok')\n", "registered/test_b.py": "import sys\nsys.exit(1)\n"}
    theirs = timings_lines("\n".join(sglang_timings(tmp_path, monkeypatch, files)))
    root = tmp_path / "sglang"
    run = run_runner(*shard_args(root, [f"test/{name}" for name in files], "--keep-going", "--workdir", "test"))
    ours = timings_lines(run.stdout)
    assert ours == theirs  # both tiny files: 0 s
    assert ours == [
        "========== TIMINGS BEGIN ==========",
        '{"file": "test/registered/test_a.py", "passed": true, "elapsed": 0}',
        '{"file": "test/registered/test_b.py", "passed": false, "elapsed": 0}',
        "========== TIMINGS END ==========",
    ]


def test_timings_block_rounds_as_sglang():
    results = [
        FileResult("a.py", "passed", (Attempt("passed", 0, seconds, 0.0),)) for seconds in (0.5, 1.5, 2.4999, 119.6)
    ]
    assert timings_block(results).splitlines()[1:-1] == [
        f'{{"file": "a.py", "passed": true, "elapsed": {n}}}' for n in (0, 2, 2, 120)
    ]
