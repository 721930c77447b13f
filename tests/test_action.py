"""action.yml driven end to end on CPU: its real steps, a fake nvidia-smi, the stand-in server.

The run step runs the real e2e test module (tests/e2e/test_weight_checker_e2e.py) against the
stand-in (tests/e2e/standin_server.py) on 127.0.0.1, so the test's own launch, protocol checks,
timeouts and process-group cleanup run for real, under the action's plan, timeout and cleanup.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from generator import action
from generator.shipped import step_files
from tests.support.action_runner import ARTIFACT_FILES, REPO, fake_nvidia_smi, processes_with, run_action

E2E = "tests/e2e/test_weight_checker_e2e.py"
TINY = "tests/e2e/tiny-qwen3"
STANDIN = f"{sys.executable} tests/e2e/standin_server.py"
RTX_5090 = (0, "NVIDIA GeForce RTX 5090", 32607, 32095)
H100 = (0, "NVIDIA H100 80GB HBM3", 81559, 81047)


def environment(tmp_path: Path, gpus, **extra: str) -> dict:
    path = f"{fake_nvidia_smi(tmp_path / 'bin', gpus)}{os.pathsep}{os.environ['PATH']}"
    base = {key: os.environ[key] for key in ("HOME", "LANG", "TMPDIR") if key in os.environ}
    return {**base, "PATH": path, "CIGEN_E2E_LAUNCH": STANDIN, "CIGEN_E2E_LAUNCH_TIMEOUT": "60", **extra}


def inputs(**overrides: str) -> dict:
    return {
        "test-file": E2E,
        "model": TINY,
        "model-config": "Qwen3-0.6B",
        "python": sys.executable,
        "timeout-minutes": "5",
        **overrides,
    }


def normalized(summary: str) -> str:
    return re.sub(r"in \d+\.\d s", "in N s", summary)


def test_passes_on_a_5090_with_the_advisors_fraction(tmp_path):
    run = run_action(inputs(), tmp_path / "runner", environment(tmp_path, [RTX_5090]))
    assert [(step.name, step.status) for step in run.steps] == [
        ("Prepare", "success"),
        ("Detect the GPU", "success"),
        ("Install", "success"),
        ("Choose the server args", "success"),
        ("Run the test", "success"),
        ("Clean up", "success"),
        ("Summarize", "success"),
        ("Upload the logs", "success"),
    ], run.step("Run the test").output
    assert run.outputs == {"mem-fraction-static": "0.79", "result": "passed"}
    folder = Path(run.step("Prepare").outputs["dir"])
    assert (
        "model_path=tests/e2e/tiny-qwen3 mem_fraction_static=0.79 other_args=[]" in (folder / "server.log").read_text()
    )
    assert "Ran 6 tests" in (folder / "test.log").read_text() and "OK" in (folder / "test.log").read_text()
    # P = 32095 - 620 = 31475: the largest safe fraction for 2077 + 42 + 512 MiB is 0.795 -> 0.79 (test_memory.py)
    assert normalized(run.summary) == (
        "### Weight-checker e2e: passed\n\n| | |\n|---|---|\n"
        f"| test | `{E2E}` |\n"
        "| GPU | NVIDIA GeForce RTX 5090: 32607 MiB total, 32095 MiB free at start |\n"
        "| model | tests/e2e/tiny-qwen3 (sized as Qwen3-0.6B, built-in) |\n"
        "| sglang's default --mem-fraction-static | 0.874: headroom 207 MiB, does not fit |\n"
        "| chosen --mem-fraction-static | 0.79 (auto) |\n"
        "| server args | `--mem-fraction-static 0.79` |\n"
        "| predicted headroom | 2831 MiB for a 2077 MiB peak + 42 MiB allocator term + 512 MiB margin |\n"
        "| result | passed (exit 0) in N s (timeout 5 min) |\n"
        "\nLogs: the artifact holds server.log, test.log and nvidia-smi at start and end.\n"
    )
    assert run.uploads == [
        {
            "uses": "actions/upload-artifact@ea165f8d65b6e75b540449e92b4886f43607fa02",
            "with": {
                "name": "weight-checker-test_weight_checker_e2e-weight-checker-nvidia-geforce-rtx-5090-local-runner-1",
                "path": str(folder),
                "if-no-files-found": "warn",
            },
            "files": ARTIFACT_FILES,
        }
    ]
    token = (folder / "token").read_text().strip()
    assert processes_with(f"{action.TOKEN_VARIABLE}={token}") == []


def test_h100_keeps_sglangs_default_and_explicit_values_win(tmp_path):
    run = run_action(inputs(), tmp_path / "a", environment(tmp_path, [H100]))
    assert run.outputs == {"mem-fraction-static": "0.83", "result": "passed"}
    # 0.85 pinned in server-args on a 5090: predicted to leave 893 MiB, so a warning; it still runs
    run = run_action(
        inputs(**{"server-args": "--mem-fraction-static 0.85 --log-level debug"}),
        tmp_path / "b",
        environment(tmp_path, [RTX_5090]),
    )
    assert run.outputs == {"mem-fraction-static": "0.85", "result": "passed"}
    assert (
        "::warning::--mem-fraction-static 0.85 leaves 893 MiB; the test needs 2119 + 512 MiB margin "
        "(the advisor recommends 0.79); running it as asked"
    ) in run.step("Choose the server args").output
    folder = Path(run.step("Prepare").outputs["dir"])
    assert "mem_fraction_static=0.85 other_args=['--log-level', 'debug']" in (folder / "server.log").read_text()


def test_refuses_early_when_the_free_memory_cannot_fit(tmp_path):
    pip_log = tmp_path / "pip.log"
    wrapper = tmp_path / "python"  # records pip calls instead of installing; otherwise the real python
    wrapper.write_text(
        f'#!/bin/sh\nif [ "$1 $2" = "-m pip" ]; then echo "$@" >> {pip_log}; exit 0; fi\nexec {sys.executable} "$@"\n'
    )
    wrapper.chmod(0o755)
    busy = (0, "NVIDIA GeForce RTX 5090", 32607, 3000)
    run = run_action(
        inputs(python=str(wrapper), install="sglang[all]==0.5.23 --no-cache-dir"),
        tmp_path / "r",
        environment(tmp_path, [busy]),
    )
    assert pip_log.read_text() == "-m pip install sglang[all]==0.5.23 --no-cache-dir\n"
    assert [step.status for step in run.steps] == [
        "success",
        "success",
        "success",
        "failure",
        "skipped",
        "success",
        "success",
        "success",
    ]
    assert run.outputs == {"mem-fraction-static": "", "result": "refused"}
    refusal = (
        "Qwen3-0.6B cannot fit NVIDIA GeForce RTX 5090 (3000 of 32607 MiB free) at any --mem-fraction-static: "
        "the pool needs 1137 MiB of weights plus KV cache, the test 2119 + 512 MiB margin outside it; nothing was run"
    )
    assert f"::error::{refusal}" in run.step("Choose the server args").output
    assert f"| refused | {refusal} |" in run.summary
    assert run.summary.startswith("### Weight-checker e2e: refused\n")
    assert "test.log" not in run.uploads[0]["files"]


def test_timeout_kills_only_what_the_action_started(tmp_path):
    """The deadline is an event, not a race with the clock: once the hanging server has printed its
    line, the test sends the run step the SIGALRM its deadline timer would send."""
    bystander = subprocess.Popen(["sleep", "120"], start_new_session=True)  # not the action's: must survive
    try:
        hang = f"{STANDIN} --hang-before-ready"
        runs: list = []
        action_thread = threading.Thread(
            target=lambda: runs.append(
                run_action(
                    inputs(**{"timeout-minutes": "5"}),
                    tmp_path / "t",
                    environment(tmp_path, [RTX_5090], CIGEN_E2E_LAUNCH=hang),
                )
            )
        )
        action_thread.start()
        server_log = wait_for(lambda: next((tmp_path / "t").rglob("server.log"), None))
        wait_for(lambda: "hanging before ready, as asked" in server_log.read_text())
        test_pid = int((server_log.parent / "pgids").read_text().split()[0])
        os.kill(parent_pid(test_pid), signal.SIGALRM)  # the run step: `action.py run`, the test's parent
        action_thread.join(timeout=120)
        (run,) = runs
        assert run.outputs == {"mem-fraction-static": "0.79", "result": "timeout"}
        output = run.step("Run the test").output
        assert f"::error::{E2E} did not finish in 5 min; its processes were killed" in output
        folder = Path(run.step("Prepare").outputs["dir"])
        assert folder == server_log.parent
        groups = [int(line) for line in (folder / "pgids").read_text().split()]
        assert len(groups) == 2  # the test's group, then the server's (written by the e2e test)
        assert [f"cleanup: SIGTERM to process group {pgid}" in output for pgid in groups] == [True, True]
        token = (folder / "token").read_text().strip()
        assert processes_with(f"{action.TOKEN_VARIABLE}={token}") == []
        assert bystander.poll() is None
        assert "| result | timeout (exit -15) in N s (timeout 5 min) |" in normalized(run.summary)
    finally:
        bystander.send_signal(signal.SIGKILL)
        bystander.wait()


def test_the_deadline_timer_ends_a_wait_and_is_cleared_after():
    child = subprocess.Popen(["sleep", "60"])
    try:
        with pytest.raises(action.DeadlinePassed):
            with action.deadline(0.05):
                child.wait()
        assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)
        with action.deadline(60):
            pass
        assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)
    finally:
        child.kill()
        child.wait()


def wait_for(condition, limit_seconds: float = 120):
    """Poll `condition` until it is truthy; the limit only bounds a broken run, it is never the event."""
    end = time.monotonic() + limit_seconds
    while time.monotonic() < end:
        value = condition()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"still waiting after {limit_seconds} s")


def parent_pid(pid: int) -> int:
    stat = Path(f"/proc/{pid}/stat").read_text()
    return int(stat[stat.rindex(")") + 2 :].split()[1])


def test_a_server_that_dies_fails_the_test_with_its_log(tmp_path):
    crash = f"{sys.executable} -c \"import sys; print('no GPU for you'); sys.exit(3)\""
    run = run_action(inputs(), tmp_path / "f", environment(tmp_path, [RTX_5090], CIGEN_E2E_LAUNCH=crash))
    assert run.outputs == {"mem-fraction-static": "0.79", "result": "failed"}
    folder = Path(run.step("Prepare").outputs["dir"])
    log = (folder / "test.log").read_text()
    assert "RuntimeError: server exited with code 3 before it was ready" in log
    assert "no GPU for you" in log  # the server log's tail is in the failure message
    assert (
        f"::error::{E2E} failed (exit 1); server.log and test.log are in the artifact"
        in run.step("Run the test").output
    )


def test_no_gpu_is_an_error_with_a_summary(tmp_path):
    run = run_action(inputs(), tmp_path / "n", environment(tmp_path, None))
    assert [step.status for step in run.steps][:3] == ["success", "failure", "skipped"]
    assert run.outputs == {"mem-fraction-static": "", "result": "error"}
    assert (
        "::error::nvidia-smi failed (exit 9): "
        "NVIDIA-SMI has failed because it could not communicate with the NVIDIA driver."
        in run.step("Detect the GPU").output
    )
    assert "| GPU | not detected |" in run.summary
    assert (
        run.uploads[0]["with"]["name"] == "weight-checker-test_weight_checker_e2e-weight-checker-no-gpu-local-runner-1"
    )


def test_the_e2e_test_fails_instead_of_skipping_under_the_action(tmp_path):
    env = environment(tmp_path, [RTX_5090])
    del env["CIGEN_E2E_LAUNCH"]  # no stand-in, and this venv cannot import sglang
    run = run_action(inputs(), tmp_path / "s", env)
    assert run.outputs["result"] == "failed"
    log = (Path(run.step("Prepare").outputs["dir"]) / "test.log").read_text()
    assert "RuntimeError: CIGEN_E2E_REQUIRE=1 but this machine cannot run the test: needs sglang and a CUDA GPU" in log


# --- the step functions alone --------------------------------------------------------------


def test_parse_gpus_and_visible_devices(monkeypatch):
    gpus = action.parse_gpus("0, NVIDIA H100 80GB HBM3, 81559, 81000\n1, NVIDIA H100 80GB HBM3, 81559, 1000\n")
    assert gpus[1] == {"index": 1, "name": "NVIDIA H100 80GB HBM3", "total_mib": 81559.0, "free_mib": 1000.0}
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "1")
    assert [g["index"] for g in action.visible_gpus(gpus)] == [1]
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "GPU-1234")  # UUIDs: not narrowed
    assert [g["index"] for g in action.visible_gpus(gpus)] == [0, 1]
    with pytest.raises(action.ActionError) as error:
        action.parse_gpus("0, H100, [N/A], 10\n")
    assert str(error.value) == "unexpected nvidia-smi line: '0, H100, [N/A], 10'"


def test_explicit_fraction_rules():
    assert action.explicit_fraction("auto", "--tp 1") is None
    assert action.explicit_fraction("auto", "--mem-fraction-static=0.7") == 0.7
    assert action.explicit_fraction("0.7", "--mem-fraction-static 0.7") == 0.7
    assert action.strip_mem_flag("--a 1 --mem-fraction-static 0.7 --mem-fraction-static=0.6 'b c'") == [
        "--a",
        "1",
        "b c",
    ]
    for value, args, message in [
        ("lots", "", "mem-fraction-static must be 'auto' or a number between 0 and 1, got 'lots'"),
        ("1.5", "", "mem-fraction-static must be 'auto' or a number between 0 and 1, got '1.5'"),
        (
            "0.7",
            "--mem-fraction-static 0.8",
            "mem-fraction-static is 0.7 but server-args pins --mem-fraction-static 0.8; give one of them",
        ),
        ("auto", "--mem-fraction-static", "server-args: --mem-fraction-static needs a value"),
    ]:
        with pytest.raises(action.ActionError) as error:
            action.explicit_fraction(value, args)
        assert str(error.value) == message


def test_step_usage_and_missing_state(monkeypatch, capsys):
    assert action.main(["nope"]) == 2
    monkeypatch.delenv("CIGEN_ACTION_DIR", raising=False)
    assert action.main(["plan"]) == 1
    assert capsys.readouterr().out == "::error::CIGEN_ACTION_DIR is not set to the folder the prepare step made\n"


def test_annotations_escape_newlines(capsys):
    action.annotate("error", "two\nlines 100%")
    assert capsys.readouterr().out == "::error::two%0Alines 100%25\n"


def test_action_file_runs_from_any_directory(tmp_path):
    """action.yml runs generator/action.py as a file, with the workspace (not the repo) as cwd."""
    prepare = [sys.executable, str(REPO / "generator" / "action.py"), "prepare"]
    env = {**os.environ, "RUNNER_TEMP": str(tmp_path), "GITHUB_OUTPUT": str(tmp_path / "out")}
    result = subprocess.run(prepare, cwd=tmp_path, capture_output=True, text=True, env=env)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "out").read_text().startswith(f"dir={tmp_path}/cigen-weight-checker-")


def wait_for_exec(pid: int, program: bytes, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[0] != program:
        assert time.monotonic() < deadline, f"process {pid} did not exec {program!r}"
        time.sleep(0.01)


def test_cleanup_kills_token_carrying_groups_and_spares_others(tmp_path, monkeypatch):
    folder = tmp_path / "state"
    folder.mkdir()
    (folder / "token").write_text("abc123\n")
    ours = subprocess.Popen(
        ["sleep", "120"], start_new_session=True, env={**os.environ, action.TOKEN_VARIABLE: "abc123"}
    )
    other = subprocess.Popen(
        ["sleep", "120"], start_new_session=True, env={**os.environ, action.TOKEN_VARIABLE: "someone-else"}
    )
    try:
        for process in (ours, other):  # until exec, /proc shows the parent's environment
            wait_for_exec(process.pid, b"sleep")
        (folder / "pgids").write_text(f"{ours.pid}\n{other.pid}\n")  # a recorded group that is not ours any more
        assert action.kill_started_groups(folder) == [ours.pid]
        assert ours.wait(timeout=10) == -signal.SIGTERM
        assert other.poll() is None
    finally:
        for process in (ours, other):
            if process.poll() is None:
                process.kill()
            process.wait()


# --- what reaches GITHUB_OUTPUT, the job log and the summary from an input -------------------


def test_a_line_break_in_an_input_cannot_forge_an_output(tmp_path):
    """Regression: artifact-name `x<LF>result=passed` added its own `result=passed` line."""
    run = run_action(inputs(**{"artifact-name": "x\nresult=passed"}), tmp_path / "f", environment(tmp_path, None))
    assert run.step("Summarize").status == "failure"
    assert run.step("Summarize").outputs == {}
    assert run.outputs == {"mem-fraction-static": "", "result": ""}
    assert run.uploads == []
    message = "output artifact-name: the value holds '\\n', which would start a line of its own; no output was written"
    assert f"::error::{message}" in run.step("Summarize").output.splitlines()


def test_a_line_break_inside_a_server_argument_is_refused(tmp_path):
    run = run_action(
        inputs(**{"server-args": "--x 'a\nresult=passed'"}), tmp_path / "g", environment(tmp_path, [RTX_5090])
    )
    plan = run.step("Choose the server args")
    assert (plan.status, plan.outputs) == ("failure", {})
    assert "::error::server-args: an argument holds a line break or control character" in plan.output.splitlines()
    assert run.outputs["result"] == "error"


def test_step_files_write_one_plain_line_per_value_or_nothing(tmp_path):
    path = tmp_path / "out"
    assert step_files.write_lines(path, {"a": "1", "b-c": "x y\t"}) == ["a=1", "b-c=x y\t"]
    for name, value, message in [
        ("ok", "x\rresult=passed", "ok: the value holds '\\r', which would start a line of its own"),
        ("ok", "x\u2028y", "ok: the value holds '\\u2028', which would start a line of its own"),
        ("ok", "x\x1b[31m", "ok: the value holds '\\x1b', which would start a line of its own"),
        ("a=b", "1", "'a=b' is not a plain output name"),
        ("a<<EOF", "1", "'a<<EOF' is not a plain output name"),
    ]:
        with pytest.raises(step_files.StepFileError) as error:
            step_files.write_lines(path, {"first": "fine", name: value})
        assert str(error.value) == message
    assert path.read_text() == "a=1\nb-c=x y\t\n"  # the refused writes wrote nothing, not even `first`
    assert step_files.one_line("a\nb\r\u2028\x00|`") == "a\\nb\\r\\u2028\\x00|`"


def test_summary_cells_stay_on_one_line():
    text = action.render_summary("t.py\n### Weight-checker e2e: passed", "error", None, None, None)
    assert text.splitlines()[:5] == [
        "### Weight-checker e2e: error",
        "",
        "| | |",
        "|---|---|",
        "| test | `t.py\\n### Weight-checker e2e: passed` |",
    ]
