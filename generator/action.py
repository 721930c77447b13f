"""The steps of action.yml, each `python generator/action.py STEP`: the shell stays thin, the logic is here.

Inputs reach this module only as CIGEN_* environment variables set in each step's `env:`.
Steps share one folder (CIGEN_ACTION_DIR, made by `prepare` under RUNNER_TEMP), which is also
the uploaded artifact: gpu.json, plan.json, result.json, test.log, server.log, the nvidia-smi
snapshots, summary.md, and `pgids` (the process groups this action started; `cleanup` kills
only those, and only processes that carry this run's token). Standard library only: it runs
under whatever Python the runner has.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shlex
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

if __package__ in (None, ""):  # run as a file by action.yml: import the package beside it
    sys.path[0] = str(Path(__file__).resolve().parents[1])

from generator.errors import UserError  # noqa: E402
from generator.memory.advisor import MEM_FLAG, Card, advise, mem_fraction, pinned_mem_fraction  # noqa: E402
from generator.memory.hfmodel import load_model  # noqa: E402
from generator.shipped import process_group  # noqa: E402
from generator.shipped.step_files import StepFileError, append_summary, check_line, one_line, write_lines  # noqa: E402

TOKEN_VARIABLE = "CIGEN_ACTION_TOKEN"
KILL_GRACE_SECONDS = 10
NVIDIA_SMI_QUERY = ["nvidia-smi", "--query-gpu=index,name,memory.total,memory.free", "--format=csv,noheader,nounits"]


class ActionError(Exception):
    """A problem the step reports as a GitHub error annotation and exit 1."""


def env(name: str, default: str = "") -> str:
    return os.environ.get(name, default).strip()


def state_dir() -> Path:
    folder = env("CIGEN_ACTION_DIR")
    if not folder or not Path(folder).is_dir():
        raise ActionError("CIGEN_ACTION_DIR is not set to the folder the prepare step made")
    return Path(folder)


def read_json(path: Path) -> dict | None:
    return json.loads(path.read_text()) if path.is_file() else None


def write_json(path: Path, data: dict) -> None:
    path.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")


def set_outputs(**values: object) -> None:
    """Step outputs through GITHUB_OUTPUT: one `name=value` line each, every value checked to be
    one line before any is written (a line break would let a value set other outputs)."""
    named = {name.replace("_", "-"): str(value) for name, value in values.items()}
    try:
        lines = [check_line(name, value) for name, value in named.items()]
        output = env("GITHUB_OUTPUT")
        if output:
            write_lines(output, named)
    except StepFileError as error:
        raise ActionError(f"output {error}; no output was written") from None
    for line in lines:
        print(f"output {line}")


def echo(text: str) -> None:
    """A job-log line holding input: its line breaks escaped, so no input starts a workflow command."""
    print(one_line(text), flush=True)


def annotate(level: str, message: str) -> None:
    """A GitHub annotation; `%`, CR and LF are escaped as the runner expects."""
    escaped = message.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    print(f"::{level}::{escaped}", flush=True)


# --- prepare / detect / install ----------------------------------------------------------------


def prepare() -> None:
    """Make the state folder and this run's token."""
    parent = Path(env("RUNNER_TEMP") or tempfile.gettempdir())
    folder = Path(tempfile.mkdtemp(prefix="cigen-weight-checker-", dir=parent))
    (folder / "token").write_text(uuid.uuid4().hex + "\n")
    set_outputs(dir=folder)


def parse_gpus(text: str) -> list[dict]:
    """`nvidia-smi --query-gpu=index,name,memory.total,memory.free` CSV -> one dict per GPU."""
    gpus = []
    for line in text.strip().splitlines():
        parts = [part.strip() for part in line.split(",")]
        if len(parts) != 4:
            raise ActionError(f"unexpected nvidia-smi line: {line!r}")
        index, name, total, free = parts
        try:
            gpus.append({"index": int(index), "name": name, "total_mib": float(total), "free_mib": float(free)})
        except ValueError:
            raise ActionError(f"unexpected nvidia-smi line: {line!r}") from None
    if not gpus:
        raise ActionError("nvidia-smi listed no GPU")
    return gpus


def visible_gpus(gpus: list[dict]) -> list[dict]:
    """The GPUs CUDA_VISIBLE_DEVICES leaves (numeric form), in its order."""
    visible = env("CUDA_VISIBLE_DEVICES")
    if not visible or not all(part.strip().isdigit() for part in visible.split(",")):
        return gpus
    by_index = {gpu["index"]: gpu for gpu in gpus}
    return [by_index[int(part)] for part in visible.split(",") if int(part) in by_index]


def detect() -> None:
    """GPU name, total and free memory; the tightest of the first tp visible GPUs is the one that counts."""
    folder = state_dir()
    try:
        query = subprocess.run(NVIDIA_SMI_QUERY, capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as error:
        raise ActionError(f"cannot run nvidia-smi: {error}") from None
    if query.returncode != 0:
        raise ActionError(f"nvidia-smi failed (exit {query.returncode}): {query.stderr.strip()}")
    tp = int(env("CIGEN_TP", "1") or "1")
    gpus = visible_gpus(parse_gpus(query.stdout))[:tp]
    if len(gpus) < tp:
        raise ActionError(f"tp={tp} needs {tp} GPUs; {len(gpus)} visible")
    gpu = min(gpus, key=lambda g: (g["free_mib"], g["index"]))
    write_json(folder / "gpu.json", {**gpu, "count": len(gpus)})
    snapshot_nvidia_smi(folder / "nvidia-smi-start.txt")
    print(f"GPU {gpu['index']}: {gpu['name']}, {gpu['total_mib']:.0f} MiB total, {gpu['free_mib']:.0f} MiB free")
    set_outputs(gpu_name=gpu["name"], gpu_total_mib=f"{gpu['total_mib']:.0f}", gpu_free_mib=f"{gpu['free_mib']:.0f}")


def snapshot_nvidia_smi(path: Path) -> None:
    try:
        result = subprocess.run(["nvidia-smi"], capture_output=True, text=True, timeout=60)
        path.write_text(result.stdout + result.stderr)
    except (OSError, subprocess.TimeoutExpired) as error:
        path.write_text(f"nvidia-smi could not run: {error}\n")


def install() -> None:
    """`install: none` (the runner has sglang) or pip arguments, e.g. `sglang[all]==0.5.23`."""
    spec = env("CIGEN_INSTALL", "none")
    if spec in ("", "none"):
        print("install: none (using the Python environment as it is)")
        return
    command = [env("CIGEN_PYTHON", sys.executable), "-m", "pip", "install", *shlex.split(spec)]
    echo(f"$ {shlex.join(command)}")
    if subprocess.run(command).returncode != 0:
        raise ActionError(f"installing failed: {shlex.join(command)}")


# --- plan ----------------------------------------------------------------------------------------


def strip_mem_flag(server_args: str) -> list[str]:
    """The server args without any --mem-fraction-static (the plan adds the chosen one)."""
    words, kept, skip = shlex.split(server_args), [], False
    for word in words:
        if skip:
            skip = False
        elif word == MEM_FLAG:
            skip = True
        elif not word.startswith(MEM_FLAG + "="):
            kept.append(word)
    return kept


def explicit_fraction(value: str, server_args: str) -> float | None:
    """The mem-fraction-static input or one pinned in server-args; None for `auto`."""
    try:
        pinned = pinned_mem_fraction(server_args)
    except ValueError as error:
        raise ActionError(f"server-args: {error}") from None
    if value in ("", "auto"):
        return pinned
    try:
        fraction = mem_fraction(value, "mem-fraction-static")
    except ValueError:
        raise ActionError(f"mem-fraction-static must be 'auto' or a number between 0 and 1, got '{value}'") from None
    if pinned is not None and pinned != fraction:
        raise ActionError(
            f"mem-fraction-static is {value} but server-args pins {MEM_FLAG} {pinned:g}; give one of them"
        )
    return fraction


def plan() -> None:
    """Choose --mem-fraction-static (the advisor's when `auto`), refuse when the GPU cannot fit the test."""
    folder = state_dir()
    gpu = read_json(folder / "gpu.json")
    if gpu is None:
        raise ActionError("no gpu.json: the detect step did not run")
    server_args = env("CIGEN_SERVER_ARGS")
    if any(one_line(word) != word for word in shlex.split(server_args)):
        raise ActionError("server-args: an argument holds a line break or control character")
    explicit = explicit_fraction(env("CIGEN_MEM_FRACTION", "auto"), server_args)
    model_spec = env("CIGEN_MODEL_CONFIG") or env("CIGEN_MODEL")
    extra = env("CIGEN_EXTRA_PEAK", "weight-checker") or "weight-checker"
    record = {"model": env("CIGEN_MODEL"), "model_config": model_spec, "explicit": explicit, "gpu": gpu}
    try:
        model = load_model(model_spec, Path.cwd())
        advice = advise(
            model,
            Card(gpu["name"], gpu["total_mib"], gpu["free_mib"]),
            tp=int(env("CIGEN_TP", "1") or "1"),
            extra_peak=extra if extra == "weight-checker" else float(extra),
            mem_fraction=explicit,
        )
    except (UserError, ValueError) as error:
        if explicit is None:
            write_json(folder / "plan.json", {**record, "refused": f"cannot size the model: {error}"})
            raise ActionError(
                f"mem-fraction-static is auto but the model cannot be sized: {error}; set model-config"
            ) from None
        annotate("warning", f"cannot size the model ({error}); running with the explicit {MEM_FLAG} {explicit:g}")
        advice = None
    recommended = advice.recommended_mem_fraction if advice else None
    if advice is not None and recommended is None:
        message = (
            f"{model.name} cannot fit {gpu['name']} ({gpu['free_mib']:.0f} of {gpu['total_mib']:.0f} MiB free) "
            f"at any {MEM_FLAG}: the pool needs {advice.weights_mib:.0f} MiB of weights plus KV cache, "
            f"the test {advice.need_mib:.0f} + {advice.margin_mib:.0f} MiB margin outside it; nothing was run"
        )
        write_json(folder / "plan.json", {**record, "refused": message, "advice": advice.to_json()})
        raise ActionError(message)
    chosen = explicit if explicit is not None else recommended
    if advice is not None and explicit is not None and not advice.fits(explicit):
        annotate(
            "warning",
            f"{MEM_FLAG} {explicit:g} leaves {advice.headroom_mib(explicit):.0f} MiB; "
            f"the test needs {advice.need_mib:.0f} + "
            f"{advice.margin_mib:.0f} MiB margin (the advisor recommends {recommended:g}); running it as asked",
        )
    final_args = shlex.join([*strip_mem_flag(server_args), MEM_FLAG, f"{chosen:g}"])
    write_json(
        folder / "plan.json",
        {
            **record,
            "source": "explicit" if explicit is not None else "auto",
            "mem_fraction_static": chosen,
            "server_args": final_args,
            "advice": advice.to_json() if advice else None,
            "predicted_headroom_mib": round(advice.headroom_mib(chosen), 1) if advice else None,
        },
    )
    echo(f"{MEM_FLAG} {chosen:g} ({'explicit' if explicit is not None else 'auto'}); server args: {final_args}")
    set_outputs(mem_fraction_static=f"{chosen:g}", server_args=final_args)


# --- run / cleanup -------------------------------------------------------------------------------


class DeadlinePassed(Exception):
    """The test's time is up (SIGALRM from `deadline`)."""


@contextlib.contextmanager
def deadline(seconds: float):
    """Raise DeadlinePassed in this thread after `seconds`: an interval timer, so its SIGALRM is the
    one event that ends the wait (tests send that signal themselves instead of waiting for the clock)."""

    def expire(signum, frame):
        raise DeadlinePassed

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def run() -> None:
    """The test in its own process group, with a timeout; output to the log and to the job log."""
    folder = state_dir()
    planned = read_json(folder / "plan.json") or {}
    if "server_args" not in planned:
        raise ActionError("no plan: the plan step did not finish")
    test_file = env("CIGEN_TEST_FILE")
    if not test_file or not Path(test_file).is_file():
        raise ActionError(f"test-file '{test_file}' is not a file")
    timeout_seconds = float(env("CIGEN_TIMEOUT_MINUTES", "30") or "30") * 60
    child_env = {
        **os.environ,
        "CIGEN_E2E_MODEL": env("CIGEN_MODEL"),
        "CIGEN_E2E_SERVER_ARGS": planned["server_args"],
        "CIGEN_E2E_LOG_DIR": str(folder),
        "CIGEN_E2E_PGID_FILE": str(folder / "pgids"),
        "CIGEN_E2E_REQUIRE": "1",  # a skip (no sglang, no GPU) is a failure here
        "PYTHONUNBUFFERED": "1",
        TOKEN_VARIABLE: (folder / "token").read_text().strip(),
    }
    command = [env("CIGEN_PYTHON", sys.executable), "-u", test_file]
    echo(f"$ {shlex.join(command)}  (timeout {timeout_seconds / 60:g} min)")
    started = time.monotonic()
    with open(folder / "test.log", "wb") as log:
        process = subprocess.Popen(
            command, env=child_env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True
        )
        with open(folder / "pgids", "a") as pgids:
            pgids.write(f"{process.pid}\n")
        copier = threading.Thread(target=_copy_output, args=(process.stdout, log), daemon=True)
        copier.start()
        try:
            with deadline(timeout_seconds):
                exit_code = process.wait()
            result = "passed" if exit_code == 0 else "failed"
        except DeadlinePassed:
            annotate("error", f"{test_file} did not finish in {timeout_seconds / 60:g} min; its processes were killed")
            kill_started_groups(folder)
            exit_code = process.wait(timeout=KILL_GRACE_SECONDS * 3)
            result = "timeout"
        copier.join(timeout=KILL_GRACE_SECONDS)
    duration = time.monotonic() - started
    write_json(
        folder / "result.json",
        {
            "result": result,
            "exit_code": exit_code,
            "duration_seconds": round(duration, 1),
            "timeout_minutes": timeout_seconds / 60,
        },
    )
    print(f"result: {result} (exit {exit_code}) in {duration:.1f} s")
    if result != "passed":
        raise ActionError(f"{test_file} {result} (exit {exit_code}); server.log and test.log are in the artifact")


def _copy_output(stream, log) -> None:
    for line in iter(stream.readline, b""):
        log.write(line)
        log.flush()
        sys.stdout.buffer.write(line)
        sys.stdout.flush()


def kill_started_groups(folder: Path) -> list[int]:
    """SIGTERM, then SIGKILL, the process groups in `pgids` that still hold processes with our token."""
    pgids_file, token = folder / "pgids", (folder / "token").read_text().strip()
    if not pgids_file.is_file():
        return []
    ours = f"{TOKEN_VARIABLE}={token}".encode()
    killed = []
    for pgid in sorted({int(line) for line in pgids_file.read_text().split() if line.isdigit()}):

        def still_running(pgid: int = pgid) -> bool:
            return bool(process_group.members(pgid, ours))

        def announce(sig: signal.Signals, pgid: int = pgid) -> None:
            print(f"cleanup: {sig.name} to process group {pgid}", flush=True)

        if process_group.end(pgid, KILL_GRACE_SECONDS, still_running, announce):
            killed.append(pgid)
    return killed


def cleanup() -> None:
    """Always: kill what this action started and is still running; a last nvidia-smi snapshot."""
    folder = state_dir()
    killed = kill_started_groups(folder)
    print(f"cleanup: {'killed process groups ' + ', '.join(map(str, killed)) if killed else 'nothing left running'}")
    snapshot_nvidia_smi(folder / "nvidia-smi-end.txt")


# --- summary -------------------------------------------------------------------------------------


def slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-").lower() or "x"


def summary() -> None:
    """Always: the step summary, the action's outputs and the artifact's name."""
    folder = state_dir()
    gpu, planned, outcome = (
        read_json(folder / "gpu.json"),
        read_json(folder / "plan.json"),
        read_json(folder / "result.json"),
    )
    if outcome:
        result = outcome["result"]
    elif planned and planned.get("refused"):
        result = "refused"
    else:
        result = "error"
    test_file = env("CIGEN_TEST_FILE")
    text = render_summary(test_file, result, gpu, planned, outcome)
    (folder / "summary.md").write_text(text)
    step_summary = env("GITHUB_STEP_SUMMARY")
    if step_summary:
        append_summary(step_summary, text)
    name = env("CIGEN_ARTIFACT_NAME") or "-".join(
        slug(part)
        for part in (
            "weight-checker",
            Path(test_file).stem,
            env("GITHUB_JOB", "job"),
            gpu["name"] if gpu else "no-gpu",
            env("RUNNER_NAME", "runner"),
            env("GITHUB_RUN_ATTEMPT", "1"),
        )
    )
    chosen = planned.get("mem_fraction_static") if planned else None
    set_outputs(result=result, mem_fraction_static="" if chosen is None else f"{chosen:g}", artifact_name=name)


def render_summary(test_file: str, result: str, gpu: dict | None, planned: dict | None, outcome: dict | None) -> str:
    rows = [("test", f"`{test_file}`")]
    if gpu:
        rows.append(
            ("GPU", f"{gpu['name']}: {gpu['total_mib']:.0f} MiB total, {gpu['free_mib']:.0f} MiB free at start")
        )
    else:
        rows.append(("GPU", "not detected"))
    advice = (planned or {}).get("advice")
    if planned:
        sized = f" (sized as {advice['model']}, {advice['model_source']})" if advice else " (not sized)"
        rows.append(("model", f"{planned['model']}{sized}"))
    if advice:
        verdict = "fits" if advice["fits_at_default"] else "does not fit"
        rows.append(
            (
                "sglang's default --mem-fraction-static",
                f"{advice['default_mem_fraction']:g}: headroom {advice['headroom_at_default_mib']:.0f} MiB, {verdict}",
            )
        )
    if planned and "mem_fraction_static" in planned:
        rows.append(("chosen --mem-fraction-static", f"{planned['mem_fraction_static']:g} ({planned['source']})"))
        rows.append(("server args", f"`{planned['server_args']}`"))
    if advice and planned and planned.get("predicted_headroom_mib") is not None:
        need = (
            f"a {advice['extra_peak_mib']:.0f} MiB peak + {advice['allocator_term_mib']:.0f} MiB allocator term"
            f" + {advice['margin_mib']:.0f} MiB margin"
        )
        rows.append(("predicted headroom", f"{planned['predicted_headroom_mib']:.0f} MiB for {need}"))
    if planned and planned.get("refused"):
        rows.append(("refused", planned["refused"]))
    if outcome:
        rows.append(
            (
                "result",
                f"{outcome['result']} (exit {outcome['exit_code']}) in {outcome['duration_seconds']:.1f} s "
                f"(timeout {outcome['timeout_minutes']:g} min)",
            )
        )
    else:
        rows.append(("result", result))
    lines = [f"### Weight-checker e2e: {result}", "", "| | |", "|---|---|"]
    lines += [f"| {key} | {one_line(value).replace('|', '/')} |" for key, value in rows]
    return "\n".join(lines) + "\n\nLogs: the artifact holds server.log, test.log and nvidia-smi at start and end.\n"


STEPS = {
    "prepare": prepare,
    "detect": detect,
    "install": install,
    "plan": plan,
    "run": run,
    "cleanup": cleanup,
    "summary": summary,
}


def main(argv: list[str]) -> int:
    if len(argv) != 1 or argv[0] not in STEPS:
        print(f"usage: action.py {{{','.join(STEPS)}}}", file=sys.stderr)
        return 2
    try:
        STEPS[argv[0]]()
    except ActionError as error:
        annotate("error", str(error))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
