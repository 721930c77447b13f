"""cigen's runner health check: is this machine fit to run a GPU job?

Standard library only, Python >= 3.9: cigen copies this file verbatim into the
repository it writes CI for (`.github/cigen/health.py`). It runs in two places, with
one implementation of every probe:

- the shard runner's preflight (`run_shard.py` imports it) before a shard's first file;
- the runner's job-started hook (ACTIONS_RUNNER_HOOK_JOB_STARTED, docs/runners.md),
  before any job at all:

    python3 health.py check --gpus 8 --min-disk-free-gib 50 \\
        --drain-marker /var/lib/cigen/drained --record /var/log/cigen/health.json

Probes, in order; the first that fails ends the check (the rest are `skipped`):
  drained     the drain marker (--drain-marker) is absent: a drained runner stays out
  nvidia-smi  answers within --timeout and lists the GPUs (CUDA_VISIBLE_DEVICES's)
  gpu-count   at least --gpus of them
  gpu-memory  none holds memory (used < --max-used-mib, free >= --min-free-mib),
              waiting up to --wait-seconds for a stray process to let go (as sglang)
  disk        free space of --disk-path >= --min-disk-free-gib (`df -P -k` on PATH,
              else os.statvfs: a stand-in `df` first on PATH injects a full disk)
  NAME        each --probe NAME=COMMAND (and each of $CIGEN_HEALTH_PROBES, a JSON
              object name -> command): the shell command exits 0 within
              --probe-timeout

On a failure the job ends as `infra`: an ::error annotation names the runner and the
probe, the runner is drained (--drain-command, default $CIGEN_DRAIN_COMMAND, runs with
CIGEN_RUNNER_NAME,
CIGEN_HEALTH_PROBE and CIGEN_HEALTH_REASON set; --drain-marker is written, and the
next `check` or `drained` refuses), and a health record (JSON) is written to --record.

Exit status: 0 healthy (or nothing to probe), 2 a usage mistake, 3 unhealthy (infra;
the runner was drained where configured). `drained --drain-marker PATH` exits 1 while
the marker exists (for a service's ExecStartPre), else 0.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone

# --- Exit statuses and limits ---------------------------------------------------------

EXIT_HEALTHY = 0
EXIT_DRAINED = 1
EXIT_USAGE = 2
EXIT_UNHEALTHY = 3  # the shard runner's EXIT_INFRA

NVIDIA_SMI_QUERY = (
    "nvidia-smi",
    "--query-gpu=index,uuid,memory.used,memory.free,memory.total",
    "--format=csv,noheader,nounits",
)
# sglang's GPU-idle gate before each setUpClass (test_utils.py): used < 2 GiB, 30 s,
# polled every 2 s.
SGLANG_IDLE_USED_MIB = 2048
SGLANG_IDLE_WAIT_SECONDS = 30.0
SGLANG_IDLE_POLL_SECONDS = 2.0
DEFAULT_TIMEOUT_SECONDS = 15.0
DEFAULT_PROBE_TIMEOUT_SECONDS = 60.0
DRAIN_TIMEOUT_SECONDS = 60.0
REAP_SECONDS = 2.0  # a process stuck in the driver may not die: stop waiting for it
BUILTIN_PROBES = ("drained", "nvidia-smi", "gpu-count", "gpu-memory", "disk")
# Set by the generated shard step (commands stay out of the shell line) or by the hook.
DRAIN_COMMAND_ENV = "CIGEN_DRAIN_COMMAND"
PROBES_ENV = "CIGEN_HEALTH_PROBES"
PROBE_NAME = re.compile(r"[a-z][a-z0-9-]{0,39}\Z")
MAX_REASON = 300


class UsageError(Exception):
    """A mistake in the options (the shard runner's too) or the plan file: one line on
    stderr, exit 2."""


@dataclass(frozen=True)
class Finished:
    """How a bounded command ended: its exit status (None: killed at the timeout)."""

    exit_status: int | None
    output: str
    seconds: float


# --- Bounded commands and the GPU listing ---------------------------------------------


def run_bounded(
    command: Sequence[str], timeout_seconds: float, env: dict | None = None
) -> Finished:
    """Run a command in its own process group for at most `timeout_seconds`; on the
    timeout the group is killed and, since a process stuck in the driver may not die,
    waited for only briefly. OSError when it cannot start."""
    start = time.monotonic()
    process = subprocess.Popen(
        list(command),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
        env=env,
    )
    try:
        output, _ = process.communicate(timeout=timeout_seconds)
    except subprocess.TimeoutExpired:
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        try:
            process.communicate(timeout=REAP_SECONDS)
        except subprocess.TimeoutExpired:
            pass
        return Finished(None, "", time.monotonic() - start)
    text = output.decode("utf-8", "replace").strip()
    return Finished(process.returncode, text, time.monotonic() - start)


@dataclass(frozen=True)
class Gpu:
    """One GPU as nvidia-smi reports it."""

    index: int
    uuid: str
    used_mib: int
    free_mib: int
    total_mib: int

    def describe(self) -> str:
        return f"GPU {self.index}: {self.used_mib} MiB used, {self.free_mib} MiB free"


class GpuProblem(Exception):
    """nvidia-smi hung, failed or printed something unexpected."""


def query_gpus(timeout_seconds: float) -> list[Gpu]:
    """The GPUs this job may use (CUDA_VISIBLE_DEVICES), from nvidia-smi on PATH."""
    try:
        finished = run_bounded(NVIDIA_SMI_QUERY, timeout_seconds)
    except OSError as error:
        raise GpuProblem(f"cannot run nvidia-smi: {error.strerror or error}") from None
    if finished.exit_status is None:
        raise GpuProblem(f"nvidia-smi did not answer within {timeout_seconds:g} s")
    if finished.exit_status != 0:
        first_line = finished.output.splitlines()[0] if finished.output else "no output"
        raise GpuProblem(f"nvidia-smi exited {finished.exit_status}: {first_line}")
    gpus = parse_gpus(finished.output)
    return visible_gpus(gpus, os.environ.get("CUDA_VISIBLE_DEVICES"))


def parse_gpus(text: str) -> list[Gpu]:
    gpus = []
    for line in text.splitlines():
        fields = [f.strip() for f in line.split(",")]
        numbers = (fields[0], *fields[2:]) if fields else ()
        if len(fields) != 5 or not all(f.isdigit() for f in numbers):
            raise GpuProblem(f"unexpected nvidia-smi output: {line.strip()[:200]!r}")
        index, uuid, used, free, total = fields
        gpus.append(Gpu(int(index), uuid, int(used), int(free), int(total)))
    return gpus


def visible_gpus(gpus: list[Gpu], visible: str | None) -> list[Gpu]:
    """The GPUs CUDA_VISIBLE_DEVICES names, by index or UUID; all when it is unset or
    matches none (as sglang)."""
    if visible is None:
        return gpus
    entries = [e.strip() for e in visible.split(",") if e.strip()]
    if not entries:
        return []
    chosen = [
        g
        for g in gpus
        if str(g.index) in entries or any(g.uuid.startswith(e) for e in entries)
    ]
    return chosen or gpus


# --- What is checked, and what a check found ------------------------------------------


@dataclass(frozen=True)
class HealthSettings:
    """What the machine must show before a job; zero or empty turns a probe off."""

    gpus: int = 0
    timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS
    max_used_mib: int = SGLANG_IDLE_USED_MIB
    min_free_mib: int = 0
    wait_seconds: float = SGLANG_IDLE_WAIT_SECONDS
    poll_seconds: float = SGLANG_IDLE_POLL_SECONDS
    disk_path: str = "."
    min_disk_free_gib: float = 0.0
    probes: tuple[tuple[str, str], ...] = ()  # (name, shell command)
    probe_timeout_seconds: float = DEFAULT_PROBE_TIMEOUT_SECONDS
    drain_command: str | None = None
    drain_marker: str | None = None

    def busy(self, gpus: Sequence[Gpu]) -> list[Gpu]:
        return [
            g
            for g in gpus
            if g.used_mib >= self.max_used_mib or g.free_mib < self.min_free_mib
        ]

    def memory_rule(self) -> str:
        rule = f"used < {self.max_used_mib} MiB"
        return rule + (
            f", free >= {self.min_free_mib} MiB" if self.min_free_mib else ""
        )

    @property
    def probes_anything(self) -> bool:
        return bool(
            self.gpus > 0
            or self.min_disk_free_gib > 0
            or self.probes
            or self.drain_marker
        )


@dataclass(frozen=True)
class ProbeResult:
    """One probe's verdict."""

    name: str
    status: str  # passed | failed | skipped
    reason: str
    seconds: float = 0.0

    def as_json(self) -> dict:
        return {
            "name": self.name,
            "status": self.status,
            "reason": self.reason,
            "seconds": round(self.seconds, 3),
        }


@dataclass(frozen=True)
class Health:
    """The check's verdict: the first failing probe's reason, or every GPU when healthy."""

    status: str  # passed | failed | skipped
    reason: str
    seconds: float = 0.0
    waited_seconds: float = 0.0
    gpus: tuple[Gpu, ...] = ()
    probe: str = ""  # the failing probe
    probes: tuple[ProbeResult, ...] = ()

    def as_json(self) -> dict:
        return {
            "status": self.status,
            "reason": self.reason,
            "probe": self.probe,
            "seconds": round(self.seconds, 3),
            "waited_seconds": round(self.waited_seconds, 3),
            "gpus": [asdict(g) for g in self.gpus],
            "probes": [p.as_json() for p in self.probes],
        }


def say(message: str) -> None:
    print(f"[cigen] {message}", flush=True)


@dataclass
class _Check:
    """The probes' results so far, and what the GPU probes saw."""

    settings: HealthSettings
    start: float = field(default_factory=time.monotonic)
    results: list[ProbeResult] = field(default_factory=list)
    gpus: list[Gpu] = field(default_factory=list)
    waited_seconds: float = 0.0

    def add(self, name: str, reason: str | None, started: float) -> bool:
        """Record a probe (reason None: passed); True when it passed."""
        status = "passed" if reason is None else "failed"
        seconds = time.monotonic() - started
        self.results.append(ProbeResult(name, status, reason or "ok", seconds))
        return reason is None


# --- The probes, in order -------------------------------------------------------------


def check_health(settings: HealthSettings) -> Health:
    """Every probe in order until one fails. Bounded: the nvidia-smi timeout, the memory
    wait plus one short query, the df timeout, and each extra probe's timeout."""
    if not settings.probes_anything:
        return Health(
            "skipped", "nothing to probe (--gpus 0, no disk floor, no probes)"
        )
    check = _Check(settings)
    steps: list[tuple[str, Callable[[_Check], str | None]]] = [
        ("drained", probe_drained)
    ]
    if settings.gpus > 0:
        steps += [
            ("nvidia-smi", probe_nvidia_smi),
            ("gpu-count", probe_gpu_count),
            ("gpu-memory", probe_gpu_memory),
        ]
    if settings.min_disk_free_gib > 0:
        steps.append(("disk", probe_disk))
    for name, command in settings.probes:
        steps.append((name, lambda c, command=command: probe_command(c, command)))
    failed: ProbeResult | None = None
    for name, probe in steps:
        if failed is not None:
            check.results.append(ProbeResult(name, "skipped", f"{failed.name} failed"))
            continue
        if not check.add(name, probe(check), time.monotonic()):
            failed = check.results[-1]
    seconds = time.monotonic() - check.start
    gpus = tuple(check.gpus)
    results = tuple(check.results)
    if failed is not None:
        return Health(
            "failed",
            failed.reason,
            seconds,
            check.waited_seconds,
            gpus,
            failed.name,
            results,
        )
    passed = "; ".join(g.describe() for g in gpus) or "; ".join(
        f"{r.name}: {r.reason}" for r in results
    )
    return Health("passed", passed, seconds, check.waited_seconds, gpus, "", results)


def probe_drained(check: _Check) -> str | None:
    marker = check.settings.drain_marker
    if not marker or not os.path.exists(marker):
        return None
    return f"drained earlier ({marker}): {marker_reason(marker)}"


def marker_reason(marker: str) -> str:
    """What a drain marker says, in one line (it may be hand-made)."""
    try:
        with open(marker, encoding="utf-8") as handle:
            data = json.load(handle)
        return f"probe {data['probe']}: {data['reason']}"[:MAX_REASON]
    except (OSError, ValueError, KeyError, TypeError):
        return "remove the marker once the machine is fixed"


def probe_nvidia_smi(check: _Check) -> str | None:
    try:
        check.gpus = query_gpus(check.settings.timeout_seconds)
    except GpuProblem as problem:
        return str(problem)
    return None


def probe_gpu_count(check: _Check) -> str | None:
    expected = check.settings.gpus
    if len(check.gpus) >= expected:
        return None
    shown = "; ".join(g.describe() for g in check.gpus) or "none"
    return f"expected {expected} GPU(s), nvidia-smi shows {len(check.gpus)} ({shown})"


def probe_gpu_memory(check: _Check) -> str | None:
    """Busy memory is waited for, as sglang waits before setUpClass: a server of the
    previous job may still be exiting."""
    settings = check.settings
    wait_start = time.monotonic()
    deadline = wait_start + settings.wait_seconds
    while settings.busy(check.gpus):
        busy = "; ".join(g.describe() for g in settings.busy(check.gpus))
        if time.monotonic() >= deadline:
            waited = f"{settings.wait_seconds:g}"
            return f"GPU memory still in use after waiting {waited} s: {busy}"
        say(f"waiting for GPU memory ({settings.memory_rule()}): {busy}")
        time.sleep(max(0.0, min(settings.poll_seconds, deadline - time.monotonic())))
        left = deadline - time.monotonic()
        try:
            check.gpus = query_gpus(max(1.0, min(settings.timeout_seconds, left)))
        except GpuProblem as problem:
            check.waited_seconds = time.monotonic() - wait_start
            return str(problem)
        check.waited_seconds = time.monotonic() - wait_start
    return None


def disk_free_bytes(path: str, timeout_seconds: float) -> int:
    """Free bytes for unprivileged users at `path`: `df -P -k` (found on PATH, bounded:
    a dead network mount hangs it), else os.statvfs. OSError or ValueError when unknown.
    """
    try:
        finished = run_bounded(["df", "-P", "-k", path], timeout_seconds)
    except FileNotFoundError:
        stat = os.statvfs(path)
        return stat.f_bavail * stat.f_frsize
    if finished.exit_status is None:
        raise OSError(f"df did not answer within {timeout_seconds:g} s")
    lines = finished.output.splitlines()
    if finished.exit_status != 0 or len(lines) < 2:
        raise ValueError(f"df exited {finished.exit_status}: {finished.output[:200]!r}")
    fields = lines[-1].split()
    if len(fields) < 4 or not fields[3].isdigit():
        raise ValueError(f"unexpected df output: {lines[-1][:200]!r}")
    return int(fields[3]) * 1024


def probe_disk(check: _Check) -> str | None:
    settings = check.settings
    try:
        free = disk_free_bytes(settings.disk_path, settings.timeout_seconds)
    except (OSError, ValueError) as error:
        return f"cannot read free space of {settings.disk_path}: {error}"
    free_gib = free / 2**30
    if free_gib >= settings.min_disk_free_gib:
        return None
    floor = f"{settings.min_disk_free_gib:g}"
    return (
        f"{settings.disk_path}: {free_gib:.1f} GiB free, below the floor of {floor} GiB"
    )


def probe_command(check: _Check, command: str) -> str | None:
    timeout = check.settings.probe_timeout_seconds
    try:
        finished = run_bounded(["/bin/sh", "-c", command], timeout)
    except OSError as error:
        return f"cannot run /bin/sh: {error.strerror or error}"
    if finished.exit_status is None:
        return f"`{command}` did not finish within {timeout:g} s"
    if finished.exit_status != 0:
        last = finished.output.splitlines()[-1] if finished.output else "no output"
        return f"`{command}` exited {finished.exit_status}: {last[:200]}"
    return None


# --- Draining the runner, and the health record ---------------------------------------


def runner_name() -> str:
    """The runner's name as GitHub shows it (RUNNER_NAME), else the host's."""
    import socket  # here: `cigen render` imports this module for its defaults only

    return os.environ.get("RUNNER_NAME") or socket.gethostname()


def now_iso() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class Drain:
    """What draining the runner did."""

    command: str | None
    exit_status: int | None  # None: not run, or killed at its timeout
    output: str
    marker: str | None

    @property
    def drained(self) -> bool:
        return self.exit_status == 0 or self.marker is not None

    def as_json(self) -> dict:
        return {
            "drained": self.drained,
            "command": self.command,
            "exit_status": self.exit_status,
            "output": self.output,
            "marker": self.marker,
        }


NOT_DRAINED = Drain(None, None, "", None)


def drain(settings: HealthSettings, health: Health, runner: str) -> Drain:
    """Take the runner out of the pool: write the marker the next check refuses (kept
    when there is one), then run the drain command (bounded; again on a runner that is
    still taking jobs). Neither failing stops the other."""
    marker = None
    if settings.drain_marker and os.path.exists(settings.drain_marker):
        marker = settings.drain_marker  # drained before: its first reason stays
    elif settings.drain_marker:
        try:
            write_json(settings.drain_marker, marker_record(health, runner))
            marker = settings.drain_marker
        except OSError as error:
            say(f"cannot write the drain marker {settings.drain_marker}: {error}")
    if not settings.drain_command:
        return Drain(None, None, "", marker)
    env = dict(os.environ)
    env.update(
        CIGEN_RUNNER_NAME=runner,
        CIGEN_HEALTH_PROBE=health.probe,
        CIGEN_HEALTH_REASON=health.reason,
    )
    say(f"draining runner {runner}: {settings.drain_command}")
    try:
        command = ["/bin/sh", "-c", settings.drain_command]
        finished = run_bounded(command, DRAIN_TIMEOUT_SECONDS, env)
    except OSError as error:
        return Drain(settings.drain_command, None, str(error), marker)
    return Drain(
        settings.drain_command,
        finished.exit_status,
        finished.output[-MAX_REASON:],
        marker,
    )


def marker_record(health: Health, runner: str) -> dict:
    return {
        "runner": runner,
        "probe": health.probe,
        "reason": health.reason,
        "at": now_iso(),
    }


def health_record(health: Health, drained: Drain, runner: str) -> dict:
    """The JSON a check leaves behind (--record), for the operator and the fleet report."""
    return {
        "version": 1,
        "kind": "cigen-health",
        "runner": {"name": runner, "os": os.environ.get("RUNNER_OS", sys.platform)},
        "at": now_iso(),
        "health": health.as_json(),
        "drain": drained.as_json(),
        "github": github_ids(),
    }


GITHUB_IDS = ("GITHUB_RUN_ID", "GITHUB_RUN_ATTEMPT", "GITHUB_JOB", "GITHUB_REPOSITORY")


def github_ids() -> dict:
    return {
        key[len("GITHUB_") :].lower(): os.environ[key]
        for key in GITHUB_IDS
        if key in os.environ
    }


def write_json(path: str, data: dict) -> None:
    """Atomically: a reader never sees half a file."""
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    temporary = f"{path}.tmp{os.getpid()}"
    with open(temporary, "w", encoding="utf-8") as handle:
        json.dump(data, handle, indent=1)
        handle.write("\n")
    os.replace(temporary, path)


def command_data(text: str) -> str:
    """Text as a workflow command's message: %, CR and LF escaped as GitHub requires."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def annotation(health: Health, runner: str) -> str:
    """The ::error line naming the runner and the probe (the job shows it on top)."""
    message = f"runner {runner}, probe {health.probe}: {health.reason}"
    return f"::error title=Unhealthy runner (infra)::{command_data(message)}"


def fail_unhealthy(
    settings: HealthSettings, health: Health, record: str | None
) -> Drain:
    """Annotate, drain, record: what every failed check does, hook or shard runner."""
    runner = runner_name()
    print(annotation(health, runner), flush=True)
    drained = drain(settings, health, runner)
    if record:
        try:
            write_json(record, health_record(health, drained, runner))
        except OSError as error:
            say(f"cannot write the health record {record}: {error}")
    return drained


# --- Options (shared with the shard runner) -------------------------------------------

DESCRIPTION = "Check that this runner is fit for a GPU job (cigen's health probes)."


class OneLineParser(argparse.ArgumentParser):
    """argparse with one-line errors (exit 2 through UsageError) instead of the usage dump."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(f"{self.prog}: {message}")


def number(kind: Callable[[str], float], minimum: float) -> Callable[[str], float]:
    """An argparse type: `kind(text)`, at least `minimum`."""

    def parse(text: str) -> float:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"expected a number, got {text!r}"
            ) from None
        if value < minimum:
            raise argparse.ArgumentTypeError(
                f"must be at least {minimum:g}, got {text!r}"
            )
        return value

    parse.__name__ = kind.__name__
    return parse


def probe_option(text: str) -> tuple[str, str]:
    """--probe NAME=COMMAND."""
    name, equals, command = text.partition("=")
    if not equals or not PROBE_NAME.match(name) or not command.strip():
        raise argparse.ArgumentTypeError(
            f"expected NAME=COMMAND with a lowercase name, got {text!r}"
        )
    if name in BUILTIN_PROBES:
        raise argparse.ArgumentTypeError(f"{name!r} is a built-in probe's name")
    return name, command


def add_health_options(parser: argparse.ArgumentParser, gpus_default: int) -> None:
    """The probes' options, shared with the shard runner's `run`."""
    gpu = parser.add_argument_group("health probes")
    gpu.add_argument(
        "--gpus",
        type=number(int, 0),
        default=gpus_default,
        help=f"GPUs the job needs (default {gpus_default}; 0: no GPU probes).",
    )
    gpu.add_argument(
        "--preflight-timeout",
        "--timeout",
        dest="preflight_timeout",
        type=number(float, 0.1),
        default=DEFAULT_TIMEOUT_SECONDS,
        help="Seconds nvidia-smi (and df) may take (default %(default)s).",
    )
    gpu.add_argument(
        "--max-used-mib",
        type=number(int, 0),
        default=SGLANG_IDLE_USED_MIB,
        help="A GPU is busy at this much used memory (default %(default)s, sglang's gate).",
    )
    gpu.add_argument(
        "--min-free-mib",
        type=number(int, 0),
        default=0,
        help="A GPU is busy below this much free memory (default %(default)s).",
    )
    gpu.add_argument(
        "--gpu-wait-seconds",
        type=number(float, 0),
        default=SGLANG_IDLE_WAIT_SECONDS,
        help="How long to wait for busy GPU memory to be released (default %(default)s).",
    )
    gpu.add_argument(
        "--gpu-poll-seconds",
        type=number(float, 0),
        default=SGLANG_IDLE_POLL_SECONDS,
        help="Seconds between memory checks (default %(default)s, as sglang).",
    )
    gpu.add_argument(
        "--disk-path",
        default=".",
        help="Where free disk space is measured (default .).",
    )
    gpu.add_argument(
        "--min-disk-free-gib",
        type=number(float, 0),
        default=0.0,
        help="Free space the disk must have (default %(default)s: no disk probe).",
    )
    gpu.add_argument(
        "--probe",
        type=probe_option,
        action="append",
        default=[],
        help="An extra probe, NAME=COMMAND (shell; healthy when it exits 0); repeatable.",
    )
    gpu.add_argument(
        "--probe-timeout",
        type=number(float, 0.1),
        default=DEFAULT_PROBE_TIMEOUT_SECONDS,
        help="Seconds each extra probe may take (default %(default)s).",
    )
    gpu.add_argument(
        "--drain-command",
        default=os.environ.get(DRAIN_COMMAND_ENV) or None,
        help="Shell command that takes this runner out of the pool when a probe fails"
        f" (default: ${DRAIN_COMMAND_ENV}).",
    )
    gpu.add_argument(
        "--drain-marker",
        help="File written when a probe fails; while it exists every check fails.",
    )


def probes_from_env(text: str | None) -> list[tuple[str, str]]:
    """${PROBES_ENV}: a JSON object, probe name -> shell command (what cigen renders)."""
    if not text:
        return []
    try:
        probes = json.loads(text)
    except ValueError:
        raise UsageError(f"{PROBES_ENV} is not JSON") from None
    if not isinstance(probes, dict):
        raise UsageError(f"{PROBES_ENV} must be a JSON object: name -> command")
    parsed = []
    for name, command in sorted(probes.items()):
        try:
            parsed.append(
                probe_option(f"{name}={command}" if isinstance(command, str) else "")
            )
        except argparse.ArgumentTypeError as error:
            raise UsageError(f"{PROBES_ENV}: {error}") from None
    return parsed


def settings_from(options: argparse.Namespace) -> HealthSettings:
    probes = dict(probes_from_env(os.environ.get(PROBES_ENV)))
    probes.update(
        options.probe
    )  # an option wins over the environment's probe of that name
    return HealthSettings(
        gpus=options.gpus,
        timeout_seconds=options.preflight_timeout,
        max_used_mib=options.max_used_mib,
        min_free_mib=options.min_free_mib,
        wait_seconds=options.gpu_wait_seconds,
        poll_seconds=options.gpu_poll_seconds,
        disk_path=options.disk_path,
        min_disk_free_gib=options.min_disk_free_gib,
        probes=tuple(sorted(probes.items())),
        probe_timeout_seconds=options.probe_timeout,
        drain_command=options.drain_command or None,
        drain_marker=options.drain_marker or None,
    )


# --- The command ----------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(prog="health.py", description=DESCRIPTION)
    commands = parser.add_subparsers(dest="command", required=True)
    check = commands.add_parser("check", help="Run the probes; drain on a failure.")
    add_health_options(check, gpus_default=0)
    check.add_argument("--record", help="Health record (JSON) to write.")
    drained = commands.add_parser(
        "drained", help="Exit 1 while the drain marker exists."
    )
    drained.add_argument("--drain-marker", required=True, help="The marker file.")
    return parser


def check_command(options: argparse.Namespace) -> int:
    settings = settings_from(options)
    health = check_health(settings)
    if health.status != "failed":
        say(f"runner {runner_name()} healthy: {health.reason}")
        if options.record:
            try:
                record = health_record(health, NOT_DRAINED, runner_name())
                write_json(options.record, record)
            except OSError as error:
                say(f"cannot write the health record {options.record}: {error}")
        return EXIT_HEALTHY
    fail_unhealthy(settings, health, options.record)
    return EXIT_UNHEALTHY


def main(argv: Sequence[str] | None = None) -> int:
    try:
        options = build_parser().parse_args(
            list(sys.argv[1:] if argv is None else argv)
        )
        if options.command == "drained":
            if os.path.exists(options.drain_marker):
                reason = marker_reason(options.drain_marker)
                print(f"drained ({options.drain_marker}): {reason}", file=sys.stderr)
                return EXIT_DRAINED
            return EXIT_HEALTHY
        return check_command(options)
    except UsageError as error:
        print(error, file=sys.stderr, flush=True)
        return EXIT_USAGE


if __name__ == "__main__":
    sys.exit(main())
