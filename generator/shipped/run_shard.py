"""cigen's shard runner: run one shard's test files, classify each failure, retry the retriable, report timings.

Standard library only, Python >= 3.9: cigen copies this file verbatim into the repository it writes CI
for (`.github/cigen/run_shard.py`) and the generated jobs run it with the runner's system python3:

    python3 .github/cigen/run_shard.py run --plan PLAN --suite S --shard 0 --gpus 1 --results results.json

(The workflow's gate job, .github/cigen/ci_gate.py, reads the same plan file to build each suite's
matrix of shard indices.)

`cigen run-shard ARGS` calls the same `main`. Parity with sglang 0.5.23's `run_unittest_files`
(sglang/test/ci/ci_utils.py): each file runs as `python3 FILE` in its own process, failures matching
sglang's retriable patterns (or timing out) get one more attempt (--retries, --retry-classes), test
failures never do, and the same TIMINGS block is printed at the end. Beyond it: every failed attempt
gets a class (FAILURE_CLASSES), a GPU preflight runs before the first file, and a results file and the
step summary record every attempt.

Exit status:
  0  every file passed (a flaky file, passed on retry, counts as passed)
  1  a file failed, or the job was cancelled (SIGINT/SIGTERM end the running file's process group, then
     the reports are finished)
  2  a usage mistake (options, plan file)
  3  infra only: the GPU preflight failed, or every failed file failed as `infra` (the machine, not the
     code: re-running the job may pass)
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone

from generator.shipped import health, plan_file, process_group

# --- exit statuses and the settings shared with sglang and GitHub ---------------------


EXIT_PASSED = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_INFRA = 3

# sglang's markers and fields (ci_utils.py, run_unittest_files): scrapers parse this block.
TIMINGS_BEGIN = "========== TIMINGS BEGIN =========="
TIMINGS_END = "========== TIMINGS END =========="

PASSING_CLASSES = ("passed", "flaky")
RETRIABLE_CLASSES = ("flaky-accuracy", "infra", "timeout")
KILL_GRACE_SECONDS = 10.0  # SIGTERM, then this long, then SIGKILL
CANCEL_GRACE_SECONDS = (
    2.0  # GitHub sends SIGINT, SIGTERM 7.5 s later, SIGKILL 2.5 s after that
)
MAX_MATCH_LINE = 64 * 1024  # longer lines are matched in pieces (bounded regex work)
READER_GRACE_SECONDS = 5.0  # an escaped grandchild may hold the output pipe open
SGLANG_RETRY_WAIT_SECONDS = 60.0
GITHUB_IDS = (
    "GITHUB_RUN_ID",
    "GITHUB_RUN_ATTEMPT",
    "GITHUB_JOB",
)  # recorded as run_id, run_attempt, job


# --- failure classes: what a failed attempt's output means ----------------------------


_REGEX_SYNTAX = frozenset(".^$*+?{}[]\\()")


@dataclass(frozen=True)
class FailurePattern:
    """One row of the failure table: a regex searched in each output line, and the class it means."""

    regex: str
    failure_class: str  # test | flaky-accuracy | infra
    source: str  # where the pattern comes from
    why: str
    ignore_case: bool = True
    # lowercase text every match contains one of; derived for literal regexes
    anchors: tuple[str, ...] = ()
    # the health probe a match stands for: the machine is at fault, the runner is drained
    probe: str = ""

    @property
    def prefilter(self) -> tuple[str, ...]:
        """What a line must contain (lowercased) to be worth the regex: `anchors`, or a literal regex's
        alternatives. A plain substring search over the output is ~50x faster than 40 regexes per line.
        """
        if self.anchors or any(c in _REGEX_SYNTAX for c in self.regex):
            return self.anchors
        return tuple(alternative.lower() for alternative in self.regex.split("|"))


# sglang 0.5.23 ci_utils.py's pattern lists and the class each means here
SGLANG_LISTS = {
    "INFRA_RETRIABLE_PATTERNS": "infra",
    "NON_RETRIABLE_PATTERNS": "test",
    "RETRIABLE_PATTERNS": "flaky-accuracy",
}


def _sglang(
    sglang_list: str, regex: str, why: str, anchors: tuple[str, ...] = ()
) -> FailurePattern:
    source = f"sglang 0.5.23 ci_utils.py {sglang_list}"
    return FailurePattern(
        regex, SGLANG_LISTS[sglang_list], source, why, anchors=anchors
    )


def _cigen(
    regex: str, why: str, anchors: tuple[str, ...] = (), probe: str = ""
) -> FailurePattern:
    return FailurePattern(regex, "infra", "cigen", why, anchors=anchors, probe=probe)


_INFRA, _NON_RETRIABLE, _RETRIABLE = SGLANG_LISTS
_ASSERT = ("assertionerror:",)

# Searched line by line (no sglang pattern spans lines), in this order: the first row that matches any
# line of a failed attempt's output gives its class, as sglang's is_retriable_failure checks its lists
# in order. cigen's infra rows come first (sglang would call most of them RuntimeError: non-retriable),
# then sglang's three lists verbatim, with sglang's flags (IGNORECASE; its AssertionError fallback is
# case-sensitive). sglang's broad words ("OOM", "timeout", "score") are kept for parity.
FAILURE_PATTERNS: tuple[FailurePattern, ...] = (
    _cigen(
        r"CUDA error: initialization error|cudaErrorInitializationError",
        "CUDA could not set up the device",
        probe="cuda-init",
    ),
    _cigen(
        r"CUDA driver initialization failed|CUDA driver version is insufficient",
        "driver missing or too old",
        probe="cuda-driver",
    ),
    _cigen(
        r"no CUDA-capable device is detected|No CUDA GPUs are available",
        "the job sees no GPU",
        probe="cuda-device",
    ),
    _cigen(
        r"OOM @ set_device",
        "out of memory setting the device: another process holds the GPU",
        probe="gpu-memory",
    ),
    _cigen(
        r"CUDA error: out of memory",
        "driver OOM creating the context at device set-up (not the allocator's)",
    ),
    _cigen(
        r"ncclSystemError|ncclUnhandledCudaError|ncclInternalError|ncclRemoteError",
        "NCCL transport failure",
    ),
    _cigen(
        r"NCCL error|NCCL WARN .*(Cuda failure|NVLink|timeout)",
        "NCCL failure",
        ("nccl error", "nccl warn"),
    ),
    _cigen(
        r"Watchdog caught collective operation timeout",
        "a collective hung across ranks (link or peer)",
    ),
    _cigen(
        r"Failed to initialize NVML|Driver/library version mismatch|NVIDIA-SMI has failed",
        "NVML or driver broken",
        probe="nvml",
    ),
    _cigen(
        r"GPU is lost|Unable to determine the device handle|uncorrectable ECC error",
        "GPU off the bus or ECC",
        probe="gpu-lost",
    ),
    _cigen(
        r"nvidia-smi.*timed out",
        "nvidia-smi hung: the driver is unresponsive",
        ("nvidia-smi",),
        probe="nvidia-smi",
    ),
    _cigen(
        r"GPU\(s\) still not idle after waiting",
        "sglang's GPU-idle gate timed out",
        ("still not idle after",),
    ),
    _sglang(_INFRA, r"UR_RESULT_ERROR_OUT_OF_RESOURCES", "XPU out of resources"),
    _sglang(_INFRA, r"XPU out of memory", "XPU transient OOM"),
    _sglang(
        _INFRA,
        r"Server failed to start within the timeout",
        "slow cold-cache server start",
    ),
    _sglang(_NON_RETRIABLE, r"SyntaxError", "code error"),
    _sglang(_NON_RETRIABLE, r"ImportError", "code error"),
    _sglang(_NON_RETRIABLE, r"ModuleNotFoundError", "code error"),
    _sglang(_NON_RETRIABLE, r"NameError", "code error"),
    _sglang(_NON_RETRIABLE, r"TypeError", "code error"),
    _sglang(_NON_RETRIABLE, r"AttributeError", "code error"),
    _sglang(_NON_RETRIABLE, r"RuntimeError", "code error"),
    _sglang(
        _NON_RETRIABLE, r"CUDA out of memory", "the test's own allocations do not fit"
    ),
    _sglang(_NON_RETRIABLE, r"OOM", "out of memory (any case: also matches 'room')"),
    _sglang(_NON_RETRIABLE, r"Segmentation fault", "crash"),
    _sglang(_NON_RETRIABLE, r"core dumped", "crash"),
    _sglang(_NON_RETRIABLE, r"ConnectionRefusedError", "the server died"),
    _sglang(_NON_RETRIABLE, r"FileNotFoundError", "code or data error"),
    _sglang(
        _RETRIABLE,
        r"AssertionError:.*not greater than",
        "metric below its bar",
        _ASSERT,
    ),
    _sglang(
        _RETRIABLE, r"AssertionError:.*not less than", "metric above its bar", _ASSERT
    ),
    _sglang(
        _RETRIABLE, r"AssertionError:.*not equal to", "metric off its value", _ASSERT
    ),
    _sglang(
        _RETRIABLE, r"AssertionError:.*!=.*expected", "metric off its value", _ASSERT
    ),
    _sglang(_RETRIABLE, r"accuracy", "accuracy check"),
    _sglang(_RETRIABLE, r"score", "score check"),
    _sglang(_RETRIABLE, r"latency", "performance check"),
    _sglang(_RETRIABLE, r"throughput", "performance check"),
    _sglang(_RETRIABLE, r"timeout", "slow run"),
    FailurePattern(
        r"AssertionError",
        "flaky-accuracy",
        "sglang 0.5.23 ci_utils.py is_retriable_failure",
        "any other assertion",
        ignore_case=False,
    ),  # fmt: skip
)
FAILURE_CLASSES = (
    "passed",
    "flaky",
    "test",
    "flaky-accuracy",
    "infra",
    "timeout",
    "not-run",
    "missing",
)
_COMPILED = tuple(
    re.compile(p.regex, re.IGNORECASE if p.ignore_case else 0) for p in FAILURE_PATTERNS
)
_PREFILTERS = tuple(
    tuple(anchor.encode() for anchor in p.prefilter) for p in FAILURE_PATTERNS
)


class OutputWatch:
    """A test's output on its way to the job log: written through at once and searched for the failure
    patterns as it passes; only the first line matching each pattern is kept, so memory stays bounded.
    """

    def __init__(self, sink: Callable[[bytes], None]):
        self.sink = sink
        self.partial = b""  # the unfinished last line
        # FAILURE_PATTERNS index -> first matching line
        self.matches: dict[int, str] = {}

    def feed(self, chunk: bytes) -> None:
        self.sink(chunk)
        data = self.partial + chunk
        end = data.rfind(b"\n") + 1
        self.partial = data[end:]
        if end:
            self.scan(data[:end])
        if len(self.partial) > MAX_MATCH_LINE:  # a very long line is searched in pieces
            self.scan(self.partial)
            self.partial = b""

    def close(self) -> None:
        if self.partial:
            self.scan(self.partial)
            self.partial = b""

    def scan(self, lines: bytes) -> None:
        """Search whole lines: bytes.lower() keeps every offset (ASCII only), so a hit's line is cut
        from the original text and only that line is decoded and given to the regex."""
        lowered = lines.lower()
        for index, anchors in enumerate(_PREFILTERS):
            if index not in self.matches:
                line = first_matching_line(lines, lowered, anchors, _COMPILED[index])
                if line is not None:
                    self.matches[index] = line.strip()[:300]


def first_matching_line(
    lines: bytes, lowered: bytes, anchors: Sequence[bytes], regex: re.Pattern
) -> str | None:
    for anchor in anchors:
        position = lowered.find(anchor)
        while position != -1:
            start = lines.rfind(b"\n", 0, position) + 1
            end = lines.find(b"\n", position)
            end = len(lines) if end == -1 else end
            line = lines[start:end].decode("utf-8", "replace")
            if regex.search(line):
                return line
            position = lowered.find(anchor, end)
    return None


def failure_class(
    matches: dict[int, str], timed_out: bool, gpu_problem: str | None
) -> tuple[str, str]:
    """(class, reason) of a failed attempt from the patterns its output matched and how it ended."""
    if timed_out:
        if gpu_problem:
            return "infra", f"timed out with the GPU unresponsive: {gpu_problem}"
        infra = [
            i for i in sorted(matches) if FAILURE_PATTERNS[i].failure_class == "infra"
        ]
        if infra:
            return "infra", f"timed out after {describe_match(infra[0], matches)}"
        return "timeout", "killed at the per-file timeout"
    if matches:
        first = min(matches)
        return FAILURE_PATTERNS[first].failure_class, describe_match(first, matches)
    return "test", "no known failure pattern in the output"


def describe_match(index: int, matches: dict[int, str]) -> str:
    pattern = FAILURE_PATTERNS[index]
    return f"{pattern.regex!r} ({pattern.source}) matched: {matches[index]}"


# --- one process: its own group, output teed and watched, killed at the timeout -------


@dataclass(frozen=True)
class ProcessEnd:
    """How one test process ended."""

    exit_status: int | None  # None: killed at the timeout
    seconds: float
    matches: dict[int, str]


def end_process_group(
    process: subprocess.Popen, grace_seconds: float = KILL_GRACE_SECONDS
) -> None:
    """SIGTERM the process group (the test and any server it started), then SIGKILL what is left."""

    def still_running() -> bool:
        process.poll()  # reap the leader: a zombie does not count
        return process_group.alive(process.pid)

    process_group.end(process.pid, grace_seconds, still_running)


def write_to_stdout(chunk: bytes) -> None:
    """The job log; a log that cannot be written must not stop the output from being drained."""
    try:
        buffer = getattr(sys.stdout, "buffer", None)
        if buffer is None:
            sys.stdout.write(chunk.decode("utf-8", "replace"))
            sys.stdout.flush()
            return
        sys.stdout.flush()
        buffer.write(chunk)
        buffer.flush()
    except (OSError, ValueError):
        pass


def pump(fd: int, watch: OutputWatch) -> None:
    """Copy a process's output to the watch until every writer has closed it."""
    while True:
        chunk = os.read(fd, 65536)
        if not chunk:
            break
        watch.feed(chunk)
    watch.close()


def run_process(command: Sequence[str], cwd: str, timeout_seconds: float) -> ProcessEnd:
    """Run a command in its own process group with output teed to stdout; the group is killed when it
    exits, times out or the runner is interrupted."""
    watch = OutputWatch(write_to_stdout)
    start = time.monotonic()
    process = subprocess.Popen(
        list(command),
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    reader = threading.Thread(
        target=pump, args=(process.stdout.fileno(), watch), daemon=True
    )
    reader.start()
    exit_status: int | None = None
    try:
        exit_status = process.wait(timeout=timeout_seconds)
    except subprocess.TimeoutExpired:
        pass
    except (
        BaseException
    ):  # cancelled: the job has seconds left, not a full grace period
        end_process_group(process, CANCEL_GRACE_SECONDS)
        raise
    seconds = time.monotonic() - start
    end_process_group(process)
    reader.join(READER_GRACE_SECONDS)
    if (
        not reader.is_alive()
    ):  # else a process that left the group still holds the pipe: leave it open
        process.stdout.close()
    return ProcessEnd(exit_status, seconds, dict(watch.matches))


# --- files and attempts: retried as sglang retries ------------------------------------


@dataclass(frozen=True)
class Attempt:
    """One run of one test file."""

    failure_class: str  # passed or the failure's class
    exit_status: int | None  # None: killed at the timeout
    seconds: float
    started: float  # epoch seconds
    reason: str = ""
    probe: str = ""  # an infra failure the machine is at fault for: the probe it fails

    def as_json(self) -> dict:
        data = {
            "class": self.failure_class,
            "exit_status": self.exit_status,
            "timed_out": self.exit_status is None,
            "seconds": round(self.seconds, 3),
            "started": iso_time(self.started),
            "reason": self.reason,
        }
        if self.probe:
            data["probe"] = self.probe
        return data


@dataclass(frozen=True)
class FileResult:
    """How one test file ended, after its retries."""

    path: str
    result_class: str  # one of FAILURE_CLASSES
    attempts: tuple[Attempt, ...] = ()

    @property
    def passed(self) -> bool:
        return self.result_class in PASSING_CLASSES

    @property
    def seconds(self) -> float:
        """Every attempt counts: the shard spent that time."""
        return sum(a.seconds for a in self.attempts)

    @property
    def retried(self) -> bool:
        return len(self.attempts) > 1

    def as_json(self) -> dict:
        return {
            "path": self.path,
            "class": self.result_class,
            "seconds": round(self.seconds, 3),
            "retried": self.retried,
            "attempts": [a.as_json() for a in self.attempts],
        }


@dataclass(frozen=True)
class PlannedFile:
    """A file of the shard and its planned seconds (None when --files-json names it)."""

    path: str
    est_seconds: float | None = None


@dataclass(frozen=True)
class RunSettings:
    """How to run each file of the shard."""

    root: str
    workdir: str
    python: str
    test_args: tuple[str, ...]
    per_file_timeout: float | None
    retries: int
    retry_wait_seconds: float
    keep_going: bool
    preflight: health.HealthSettings
    pool: str | None = None
    retry_classes: tuple[str, ...] = RETRIABLE_CLASSES  # what --retries applies to

    def timeout_for(self, planned: PlannedFile) -> float:
        """--per-file-timeout, else sglang's derive_timeout_per_file(est_time)."""
        if self.per_file_timeout is not None:
            return self.per_file_timeout
        assert planned.est_seconds is not None  # checked when the options are read
        return max(planned.est_seconds * 1.5, planned.est_seconds + 1800.0)


def run_attempt(planned: PlannedFile, settings: RunSettings) -> Attempt:
    """`python FILE [ARGS]` from the workdir, classified when it fails."""
    started = time.time()
    command = [
        settings.python,
        os.path.abspath(os.path.join(settings.root, planned.path)),
        *settings.test_args,
    ]
    end = run_process(
        command,
        os.path.join(settings.root, settings.workdir),
        settings.timeout_for(planned),
    )
    if end.exit_status == 0:
        return Attempt("passed", 0, end.seconds, started)
    gpu_problem = None
    if end.exit_status is None and settings.preflight.gpus > 0:
        gpu_problem = gpu_unresponsive(settings.preflight.timeout_seconds)
    failure, reason = failure_class(end.matches, end.exit_status is None, gpu_problem)
    probe = machine_fault(end.matches, gpu_problem) if failure == "infra" else ""
    return Attempt(failure, end.exit_status, end.seconds, started, reason, probe)


def gpu_unresponsive(timeout_seconds: float) -> str | None:
    """Why the GPU looks unresponsive after a timeout, or None when nvidia-smi answers."""
    try:
        health.query_gpus(timeout_seconds)
    except health.GpuProblem as problem:
        return str(problem)
    return None


def machine_fault(matches: dict[int, str], gpu_problem: str | None) -> str:
    """The health probe an infra failure stands for when the machine is at fault (the
    runner is drained), else "" (a flaky link, a slow server start: not the machine)."""
    if gpu_problem:
        return "nvidia-smi"
    probes = [FAILURE_PATTERNS[i].probe for i in sorted(matches)]
    return next((probe for probe in probes if probe), "")


def run_file(planned: PlannedFile, position: str, settings: RunSettings) -> FileResult:
    """Run a file, retrying failures of --retry-classes up to --retries times; a pass after a
    retry is `flaky`."""
    if not os.path.isfile(os.path.join(settings.root, planned.path)):
        say(f"{position} {planned.path}: missing")
        return FileResult(planned.path, "missing")
    attempts: list[Attempt] = []
    while True:
        say(
            f"{position} {planned.path}: attempt {len(attempts) + 1}, timeout {settings.timeout_for(planned):g} s"
        )
        attempt = run_attempt(planned, settings)
        attempts.append(attempt)
        verdict = attempt.failure_class + (
            f" ({attempt.reason})" if attempt.reason else ""
        )
        say(f"{position} {planned.path}: {verdict} in {attempt.seconds:.0f} s")
        if (
            attempt.failure_class not in settings.retry_classes
            or len(attempts) > settings.retries
        ):
            break
        say(f"{planned.path}: retrying in {settings.retry_wait_seconds:g} s")
        time.sleep(settings.retry_wait_seconds)
    final = attempts[-1].failure_class
    if final == "passed" and len(attempts) > 1:
        final = "flaky"
    return FileResult(planned.path, final, tuple(attempts))


# --- reports: the results file, sglang's timings block, the step summary --------------


def say(message: str) -> None:
    print(f"[cigen] {message}", flush=True)


def iso_time(epoch_seconds: float) -> str:
    return (
        datetime.fromtimestamp(epoch_seconds, timezone.utc).strftime(
            "%Y-%m-%dT%H:%M:%S.%f"
        )[:-3]
        + "Z"
    )


@dataclass
class ShardReport:
    """Everything the shard records, rewritten to the results file after each file."""

    suite: str
    shard: int
    started: float
    preflight: health.Health = health.Health("skipped", "not run yet")
    results: list[FileResult] = field(default_factory=list)
    finished: float | None = None
    cancelled: bool = False
    drain: health.Drain = health.NOT_DRAINED
    pool: str | None = None

    @property
    def exit_status(self) -> int:
        failed = [
            r for r in self.results if not r.passed and r.result_class != "not-run"
        ]
        if self.preflight.status == "failed":
            return EXIT_INFRA
        if self.cancelled:
            return EXIT_FAILED
        if not failed:
            return EXIT_PASSED
        return (
            EXIT_INFRA
            if all(r.result_class == "infra" for r in failed)
            else EXIT_FAILED
        )

    def as_json(self) -> dict:
        data = {
            "version": 1,
            "suite": self.suite,
            "shard": self.shard,
            "started": iso_time(self.started),
            "finished": iso_time(self.finished) if self.finished is not None else None,
            "exit_status": self.exit_status if self.finished is not None else None,
            "cancelled": self.cancelled,
            "preflight": self.preflight.as_json(),
            "files": [r.as_json() for r in self.results],
            "runner": runner_identity(self.pool),
        }
        if self.drain is not health.NOT_DRAINED:
            data["drain"] = self.drain.as_json()
        github = {
            key[len("GITHUB_") :].lower(): os.environ[key]
            for key in GITHUB_IDS
            if key in os.environ
        }
        if github:
            data["github"] = github
        return data


def runner_identity(pool: str | None) -> dict:
    """Which machine ran the shard: the runner's name (GitHub's, else the host's), its
    pool, and the job's name as the jobs API shows it (CIGEN_JOB_NAME, set by the
    workflow), so the fleet report and the re-dispatch workflow can tell runners apart.
    """
    identity = {"name": health.runner_name()}
    if pool:
        identity["pool"] = pool
    if os.environ.get("CIGEN_JOB_NAME"):
        identity["job_name"] = os.environ["CIGEN_JOB_NAME"]
    return identity


def write_results(path: str | None, report: ShardReport) -> None:
    """Atomically, so a job killed mid-shard leaves the last complete version."""
    if not path:
        return
    temporary = f"{path}.tmp{os.getpid()}"
    with open(temporary, "w", encoding="utf-8") as handle:
        json.dump(report.as_json(), handle, indent=1)
        handle.write("\n")
    os.replace(temporary, path)


def timings_block(results: Sequence[FileResult]) -> str:
    """sglang's block: one JSON object per executed file, the latest attempt's elapsed seconds."""
    lines = [TIMINGS_BEGIN]
    for result in results:
        if result.attempts:
            entry = {
                "file": result.path,
                "passed": result.passed,
                "elapsed": round(result.attempts[-1].seconds),
            }
            lines.append(json.dumps(entry))
    lines.append(TIMINGS_END)
    return "\n".join(lines) + "\n"


def summary_header(suite: str, shard: int, count: int, preflight: health.Health) -> str:
    files = f"{count} file{'' if count == 1 else 's'}"
    text = f"### {suite}, shard {shard}: {files}\n\n"
    if preflight.status != "skipped":
        waited = (
            f", waited {preflight.waited_seconds:.0f} s for memory"
            if preflight.waited_seconds
            else ""
        )
        text += f"GPU preflight {preflight.status} in {preflight.seconds:.1f} s{waited}: {preflight.reason}\n\n"
        if preflight.status == "failed":
            text += f"The shard ends as `infra` (exit {EXIT_INFRA}): no file ran.\n\n"
    return text + "| file | class | attempts | seconds |\n|---|---|---|---|\n"


def code_cell(text: str) -> str:
    """Text as an inline-code table cell: no line break, pipe or backtick can end it early."""
    return (
        "`" + re.sub(r"[\r\n]+", " ", text).replace("`", "'").replace("|", "\\|") + "`"
    )


def summary_row(result: FileResult) -> str:
    attempts = ", ".join(a.failure_class for a in result.attempts) or "-"
    return f"| {code_cell(result.path)} | {result.result_class} | {attempts} | {result.seconds:.0f} |\n"


def summary_footer(report: ShardReport) -> str:
    results = report.results
    passed = sum(r.passed for r in results)
    flaky = sum(r.result_class == "flaky" for r in results)
    ran = sum(bool(r.attempts) for r in results)
    seconds = sum(r.seconds for r in results)
    flaky_note = f"{flaky} flaky; " if flaky else ""
    cancelled = "**cancelled**: " if report.cancelled else ""
    counts = f"({flaky_note}{ran} ran, {seconds:.0f} s; exit {report.exit_status})"
    text = f"\n{cancelled}**{passed} of {len(results)} passed** {counts}\n"
    return text + gantt(report)


def gantt(report: ShardReport) -> str:
    """A mermaid Gantt chart of every attempt, on the clock of the viewer's time zone."""
    attempts = [
        (r.path, n, a)
        for r in report.results
        for n, a in enumerate(r.attempts, start=1)
    ]
    if not attempts:
        return ""
    lines = [
        "",
        "```mermaid",
        "gantt",
        f"    title {report.suite} shard {report.shard}",
        "    dateFormat X",
        "    axisFormat %H:%M:%S",
    ]
    lines.append("    section files")
    for path, number, attempt in attempts:
        name = re.sub(r"[:;#]", "_", path) + (
            f" (attempt {number}, " if number > 1 else " ("
        )
        status = "done" if attempt.failure_class == "passed" else "crit"
        seconds = max(1, round(attempt.seconds))  # a zero-length bar is not drawn
        lines.append(
            f"    {name}{attempt.failure_class}) :{status}, {int(attempt.started)}, {seconds}s"
        )
    lines.append("```")
    return "\n".join(lines) + "\n"


class Summary:
    """The step summary file ($GITHUB_STEP_SUMMARY), appended to as results come in."""

    def __init__(self, path: str | None):
        self.path = path

    def write(self, text: str) -> None:
        if self.path:
            with open(self.path, "a", encoding="utf-8") as handle:
                handle.write(text)


# --- the shard: every file in order, cancelled cleanly --------------------------------


CANCEL_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class Cancelled(Exception):
    """The job is being stopped (SIGTERM from the runner, or Ctrl-C)."""


def raise_cancelled(signum: int, frame: object) -> None:
    """Stop the shard once: later signals are ignored so the clean-up is not cut short."""
    for sig in CANCEL_SIGNALS:
        signal.signal(sig, signal.SIG_IGN)
    raise Cancelled(signal.Signals(signum).name)


def run_shard(
    suite: str,
    shard: int,
    files: Sequence[PlannedFile],
    settings: RunSettings,
    results_path: str | None,
    summary: Summary,
) -> ShardReport:
    """Preflight, then the files in order; without keep_going, stop at the first that does not pass."""
    report = ShardReport(suite, shard, time.time(), pool=settings.pool)
    try:
        report.preflight = health.check_health(settings.preflight)
    except Cancelled:
        report.cancelled = True
    if report.preflight.status == "failed":
        report.drain = health.fail_unhealthy(settings.preflight, report.preflight, None)
    write_results(results_path, report)
    summary.write(summary_header(suite, shard, len(files), report.preflight))
    stop = report.preflight.status == "failed"
    for number, planned in enumerate(files, start=1):
        if stop or report.cancelled:
            result = FileResult(planned.path, "not-run")
        else:
            try:
                result = run_file(planned, f"({number}/{len(files)})", settings)
            except Cancelled:
                report.cancelled = True
                result = FileResult(planned.path, "not-run")
            annotate(result)
            stop = not result.passed and not settings.keep_going
        report.results.append(result)
        summary.write(summary_row(result))
        write_results(results_path, report)
    fault = output_fault(report)
    if fault is not None:
        report.drain = health.fail_unhealthy(settings.preflight, fault, None)
    report.finished = time.time()
    write_results(results_path, report)
    summary.write(summary_footer(report))
    return report


def output_fault(report: ShardReport) -> health.Health | None:
    """A machine fault a test's output showed (CUDA could not initialise, the GPU fell
    off the bus...) in a shard that ends as infra: it fails that probe, as the preflight
    would have, and drains the runner."""
    if report.exit_status != EXIT_INFRA or report.preflight.status == "failed":
        return None
    for result in report.results:
        last = result.attempts[-1] if result.attempts else None
        if result.result_class == "infra" and last is not None and last.probe:
            reason = f"{result.path}: {last.reason}"
            return health.Health("failed", reason, probe=last.probe)
    return None


def annotate(result: FileResult) -> None:
    """A GitHub annotation for a failed or flaky file, so it shows on the run's page."""
    if result.result_class == "flaky":
        print(
            f"::warning title=flaky::{result.path} passed on attempt {len(result.attempts)}",
            flush=True,
        )
    elif not result.passed:
        reason = (
            result.attempts[-1].reason if result.attempts else "the file does not exist"
        )
        print(
            f"::error title={result.result_class}::{result.path}: {reason}", flush=True
        )


# --- command line: the plan file, options, main ---------------------------------------


def plan_files(path: str, suite: str, shard: int) -> list[PlannedFile]:
    """suites[suite].shards[shard].files of the plan file (read by plan_file)."""
    try:
        suites = plan_file.read(path).suites
    except plan_file.PlanFileError as error:
        raise health.UsageError(str(error)) from None
    if suite not in suites:
        known = ", ".join(sorted(suites)) or "none"
        raise health.UsageError(
            f"{path}: plan-no-suite: suite {suite!r} is not in the plan (suites: {known})"
        )
    shards = suites[suite]
    if not 0 <= shard < len(shards):
        raise health.UsageError(
            f"{path}: plan-no-shard: suite {suite!r} has {len(shards)} shard(s) "
            f"(0-{len(shards) - 1}), not {shard}"
        )
    return [PlannedFile(f.path, f.est_seconds) for f in shards[shard].files]


def json_files(text: str) -> list[PlannedFile]:
    try:
        files = json.loads(text)
    except ValueError as error:
        raise health.UsageError(
            f"--files-json: bad-files-json: not JSON: {error}"
        ) from None
    if (
        not isinstance(files, list)
        or not files
        or not all(isinstance(f, str) and f for f in files)
    ):
        raise health.UsageError(
            "--files-json: bad-files-json: expected a non-empty JSON list of file paths"
        )
    return [PlannedFile(f) for f in files]


DESCRIPTION = "Run one CI shard's test files (cigen's runner)."


def non_negative(kind: Callable[[str], float]) -> Callable[[str], float]:
    return health.number(kind, 0)


SECONDS = health.number(float, 0.1)


def class_list(text: str) -> list[str]:
    """An argparse type: a comma-separated list of RETRIABLE_CLASSES (test failures never retry)."""
    names = [name.strip() for name in text.split(",")]
    unknown = [name for name in names if name not in RETRIABLE_CLASSES]
    if unknown or len(set(names)) != len(names):
        raise argparse.ArgumentTypeError(
            f"expected distinct names among {', '.join(RETRIABLE_CLASSES)}, got {text!r}"
        )
    return names


def build_parser() -> argparse.ArgumentParser:
    parser = health.OneLineParser(
        prog="run_shard.py",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="Run one shard's files.")
    run.add_argument("--suite", required=True, help="The suite.")
    run.add_argument(
        "--shard",
        required=True,
        type=non_negative(int),
        help="The shard's index in its suite.",
    )
    source = run.add_mutually_exclusive_group(required=True)
    source.add_argument(
        "--plan", help="Plan file: runs suites[SUITE].shards[SHARD].files."
    )
    source.add_argument(
        "--files-json", help="The files as a JSON list, e.g. '[\"test/a.py\"]'."
    )
    run.add_argument(
        "--per-file-timeout",
        type=SECONDS,
        help="Seconds each attempt may run (default: sglang's max(1.5 x est, est + 1800) from the plan).",
    )
    run.add_argument(
        "--retries",
        type=non_negative(int),
        default=1,
        help="Extra attempts for failures of --retry-classes, never test (default %(default)s, as sglang).",
    )
    run.add_argument(
        "--retry-classes",
        type=class_list,
        default=list(RETRIABLE_CLASSES),
        help="The failure classes --retries applies to, comma-separated "
        "(default: flaky-accuracy,infra,timeout, as sglang).",
    )
    run.add_argument(
        "--retry-wait",
        type=non_negative(float),
        default=SGLANG_RETRY_WAIT_SECONDS,
        help="Seconds between attempts (default %(default)s, as sglang).",
    )
    run.add_argument(
        "--keep-going",
        action="store_true",
        help="Run every file even after one fails (default: stop).",
    )
    run.add_argument(
        "--keep-going-on",
        action="append",
        default=[],
        metavar="EVENT",
        help="--keep-going when $GITHUB_EVENT_NAME is EVENT (repeatable; sglang: schedule).",
    )
    run.add_argument(
        "--python",
        default="python3",
        help="Interpreter that runs each file (default python3).",
    )
    run.add_argument(
        "--test-arg",
        action="append",
        default=[],
        help="Argument after the file, repeatable (sglang passes -f).",
    )
    run.add_argument(
        "--root", default=".", help="Folder the files are relative to (default .)."
    )
    run.add_argument(
        "--workdir",
        default=".",
        help="Folder each test runs in, relative to --root (sglang: test).",
    )
    run.add_argument(
        "--results", help="Results JSON to write (rewritten after each file)."
    )
    run.add_argument(
        "--summary",
        default=os.environ.get("GITHUB_STEP_SUMMARY"),
        help="Markdown summary to append to.",
    )
    run.add_argument("--pool", help="The pool this runner serves (recorded).")
    health.add_health_options(run, gpus_default=0)
    return parser


def run_command(options: argparse.Namespace) -> int:
    files = (
        plan_files(options.plan, options.suite, options.shard)
        if options.plan
        else json_files(options.files_json)
    )
    if options.per_file_timeout is None:
        unestimated = [f.path for f in files if f.est_seconds is None]
        if unestimated:
            raise health.UsageError(
                f"--per-file-timeout: missing-timeout: required when a file has no est_seconds ({unestimated[0]})"
            )
    if not os.path.isdir(os.path.join(options.root, options.workdir)):
        raise health.UsageError(
            f"--workdir: no-workdir: {os.path.join(options.root, options.workdir)} is not a folder"
        )
    preflight = health.settings_from(options)
    settings = RunSettings(
        options.root,
        options.workdir,
        options.python,
        tuple(options.test_arg),
        options.per_file_timeout,
        options.retries,
        options.retry_wait,
        options.keep_going
        or os.environ.get("GITHUB_EVENT_NAME") in options.keep_going_on,
        preflight,
        options.pool,
        tuple(options.retry_classes),
    )
    in_main_thread = threading.current_thread() is threading.main_thread()
    previous = (
        {sig: signal.signal(sig, raise_cancelled) for sig in CANCEL_SIGNALS}
        if in_main_thread
        else {}
    )
    try:
        report = run_shard(
            options.suite,
            options.shard,
            files,
            settings,
            options.results,
            Summary(options.summary),
        )
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    print(timings_block(report.results), end="", flush=True)
    passed = sum(r.passed for r in report.results)
    print(
        f"{options.suite} shard {options.shard}: {passed} of {len(report.results)} files passed",
        file=sys.stderr,
        flush=True,
    )
    return report.exit_status


def main(argv: Sequence[str] | None = None) -> int:
    """The command line (`run`); usage mistakes print one line and return 2."""
    try:
        options = build_parser().parse_args(
            list(sys.argv[1:] if argv is None else argv)
        )
        return run_command(options)
    except health.UsageError as error:
        print(error, file=sys.stderr, flush=True)
        return EXIT_USAGE


if __name__ == "__main__":
    sys.exit(main())
