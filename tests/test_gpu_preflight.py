"""GPU preflight before the first file, with fake `nvidia-smi` scripts first on PATH."""

from __future__ import annotations

import json
import re

from generator.shipped.health import Gpu, parse_gpus, visible_gpus
from generator.shipped.run_shard import build_parser
from tests.support.files import write_files
from tests.support.run_shard import PASS, fake_nvidia_smi, gpu_line, run_runner, shard_args

HANGS = "sleep 30\n"
NO_DEVICES = "echo 'No devices were found'\nexit 6\n"
EMPTY = "exit 0\n"


def one_gpu(used_mib: int) -> str:
    return f"echo '{gpu_line(0, used_mib)}'\n"


def busy_then_free(counter, busy_calls: int) -> str:
    """Reports 30 GiB used for the first `busy_calls` calls, then 300 MiB: a server releasing memory."""
    return (
        f"echo x >> '{counter}'\n"
        f"if [ $(wc -l < '{counter}') -le {busy_calls} ]; then echo '{gpu_line(0, 30000)}'; "
        f"else echo '{gpu_line(0, 300)}'; fi\n"
    )


def preflight_run(tmp_path, nvidia_smi: str, *extra: str):
    """A one-file GPU shard (--gpus 1 unless extra says otherwise); returns the run and its results."""
    root = write_files(tmp_path / "repo", {"t/test_a.py": PASS})
    results, summary = tmp_path / "results.json", tmp_path / "summary.md"
    env = {**fake_nvidia_smi(tmp_path / "bin", nvidia_smi), "RUNNER_NAME": "gpu-runner-7"}
    args = shard_args(
        root, ["t/test_a.py"], "--results", str(results), "--summary", str(summary), "--gpus", "1", *extra
    )
    run = run_runner(*args, env=env)
    return run, json.loads(results.read_text()), summary.read_text()


def test_a_hanging_nvidia_smi_ends_the_shard_as_infra_within_the_preflight_timeout(tmp_path):
    run, results, summary = preflight_run(tmp_path, HANGS, "--preflight-timeout", "1")
    assert run.exit_code == 3
    assert 1 <= run.seconds < 4, run.seconds
    preflight = results["preflight"]
    assert (preflight["status"], preflight["reason"]) == ("failed", "nvidia-smi did not answer within 1 s")
    assert 1 <= preflight["seconds"] < 3
    assert [(f["path"], f["class"], f["attempts"]) for f in results["files"]] == [("t/test_a.py", "not-run", [])]
    assert summary.splitlines()[2].startswith("GPU preflight failed in 1.")
    assert summary.splitlines()[2].endswith(" s: nvidia-smi did not answer within 1 s")
    assert summary.splitlines()[4] == "The shard ends as `infra` (exit 3): no file ran."
    annotation = "::error title=Unhealthy runner (infra)::runner gpu-runner-7, probe nvidia-smi: nvidia-smi did not"
    assert f"{annotation} answer within 1 s" in run.stdout.splitlines()
    assert (preflight["probe"], results["runner"]) == ("nvidia-smi", {"name": "gpu-runner-7"})
    assert results["drain"] == {"drained": False, "command": None, "exit_status": None, "output": "", "marker": None}
    assert "[cigen] (1/1)" not in run.stdout  # no test file ran


def test_the_default_preflight_fails_well_within_a_minute():
    options = build_parser().parse_args(
        ["run", "--suite", "s", "--shard", "0", "--files-json", '["a.py"]', "--gpus", "1"]
    )
    # nvidia-smi's timeout, the memory wait, then at most one more query cut short at 1 s past the wait
    worst_seconds = options.preflight_timeout + options.gpu_wait_seconds + 1
    assert worst_seconds <= 46
    assert (options.preflight_timeout, options.gpu_wait_seconds, options.max_used_mib) == (15.0, 30.0, 2048)


def test_no_gpu_ends_the_shard_as_infra(tmp_path):
    run, results, _ = preflight_run(tmp_path, NO_DEVICES)
    assert (run.exit_code, results["preflight"]["reason"]) == (3, "nvidia-smi exited 6: No devices were found")
    assert run.seconds < 3
    run, results, _ = preflight_run(tmp_path, EMPTY)
    assert (run.exit_code, results["preflight"]["reason"]) == (3, "expected 1 GPU(s), nvidia-smi shows 0 (none)")
    run, results, _ = preflight_run(tmp_path, one_gpu(0), "--gpus", "2")
    assert (run.exit_code, results["preflight"]["reason"]) == (
        3,
        "expected 2 GPU(s), nvidia-smi shows 1 (GPU 0: 0 MiB used, 81559 MiB free)",
    )


def test_no_nvidia_smi_at_all_is_infra(tmp_path):
    root = write_files(tmp_path / "repo", {"t/test_a.py": PASS})
    results = tmp_path / "results.json"
    (tmp_path / "empty").mkdir()
    run = run_runner(
        *shard_args(root, ["t/test_a.py"], "--gpus", "1", "--results", str(results)),
        env={"PATH": str(tmp_path / "empty")},
    )
    assert run.exit_code == 3
    assert json.loads(results.read_text())["preflight"]["reason"] == "cannot run nvidia-smi: No such file or directory"


def test_busy_memory_that_frees_is_waited_for_then_the_files_run(tmp_path):
    counter = tmp_path / "calls"
    run, results, summary = preflight_run(
        tmp_path, busy_then_free(counter, 2), "--gpu-poll-seconds", "0.3", "--gpu-wait-seconds", "10"
    )
    assert run.exit_code == 0, run.stdout
    assert counter.read_text() == "x\nx\nx\n"
    preflight = results["preflight"]
    assert (preflight["status"], preflight["reason"]) == ("passed", "GPU 0: 300 MiB used, 81259 MiB free")
    assert 0.6 <= preflight["waited_seconds"] < 3
    assert preflight["gpus"] == [
        {
            "index": 0,
            "uuid": "GPU-00000000-aaaa-bbbb-cccc-dddddddddddd",
            "used_mib": 300,
            "free_mib": 81259,
            "total_mib": 81559,
        }
    ]
    waits = [line for line in run.stdout.splitlines() if line.startswith("[cigen] waiting")]
    assert waits == ["[cigen] waiting for GPU memory (used < 2048 MiB): GPU 0: 30000 MiB used, 51559 MiB free"] * 2
    assert re.fullmatch(
        r"GPU preflight passed in \d\.\d s, waited \d s for memory: GPU 0: 300 MiB used, 81259 MiB free",
        summary.splitlines()[2],
    )
    assert results["files"][0]["class"] == "passed"


def test_memory_that_stays_busy_ends_the_shard_as_infra_after_the_wait(tmp_path):
    run, results, _ = preflight_run(tmp_path, one_gpu(30000), "--gpu-poll-seconds", "0.2", "--gpu-wait-seconds", "1")
    assert run.exit_code == 3
    assert 1 <= run.seconds < 4
    assert (
        results["preflight"]["reason"]
        == "GPU memory still in use after waiting 1 s: GPU 0: 30000 MiB used, 51559 MiB free"
    )
    assert results["files"][0]["class"] == "not-run"


def test_min_free_mib_is_a_second_bar(tmp_path):
    run, results, _ = preflight_run(tmp_path, one_gpu(300), "--min-free-mib", "90000", "--gpu-wait-seconds", "0")
    assert (run.exit_code, results["preflight"]["reason"]) == (
        3,
        "GPU memory still in use after waiting 0 s: GPU 0: 300 MiB used, 81259 MiB free",
    )
    run, results, _ = preflight_run(tmp_path, one_gpu(300), "--min-free-mib", "80000", "--gpu-wait-seconds", "0")
    assert run.exit_code == 0


def test_cpu_jobs_never_call_nvidia_smi(tmp_path):
    run, results, summary = preflight_run(tmp_path, HANGS, "--gpus", "0")
    assert (run.exit_code, results["preflight"]["status"]) == (0, "skipped")
    assert run.seconds < 3
    assert not summary.splitlines()[2].startswith("GPU preflight")


def test_a_timeout_while_the_gpu_stops_answering_is_infra(tmp_path):
    """nvidia-smi answers the preflight; the test then 'loses' the GPU and hangs: its timeout is infra."""
    lost = tmp_path / "gpu-lost"
    nvidia_smi = f"if [ -e '{lost}' ]; then sleep 30; fi\n" + one_gpu(0)
    root = write_files(
        tmp_path / "repo", {"t/test_a.py": f"import time\nopen({str(lost)!r}, 'w').close()\ntime.sleep(60)\n"}
    )
    results = tmp_path / "results.json"
    args = shard_args(
        root, ["t/test_a.py"], "--gpus", "1", "--per-file-timeout", "0.5", "--preflight-timeout", "1", "--retries", "0"
    )
    run = run_runner(*args, "--results", str(results), env=fake_nvidia_smi(tmp_path / "bin", nvidia_smi))
    assert run.exit_code == 3
    [attempt] = json.loads(results.read_text())["files"][0]["attempts"]
    assert (attempt["class"], attempt["reason"]) == (
        "infra",
        "timed out with the GPU unresponsive: nvidia-smi did not answer within 1 s",
    )
    assert run.seconds < 5


def test_a_timeout_with_a_healthy_gpu_is_a_timeout(tmp_path):
    root = write_files(tmp_path / "repo", {"t/test_a.py": "import time\ntime.sleep(60)\n"})
    results = tmp_path / "results.json"
    args = shard_args(
        root, ["t/test_a.py"], "--gpus", "1", "--per-file-timeout", "0.5", "--retries", "0", "--results", str(results)
    )
    run = run_runner(*args, env=fake_nvidia_smi(tmp_path / "bin", one_gpu(0)))
    assert run.exit_code == 1
    assert json.loads(results.read_text())["files"][0]["class"] == "timeout"


def test_real_nvidia_smi_output_parses():
    """Printed by the runner's query on a 2 x H200 host, verbatim."""
    text = (
        "0, GPU-f83c7cd7-3093-163a-622a-113e3e13cbe5, 0, 143156, 143771\n"
        "1, GPU-dde0cf30-1929-5304-c51f-f4ee6ed7e123, 0, 143156, 143771\n"
    )
    assert parse_gpus(text.strip()) == [
        Gpu(0, "GPU-f83c7cd7-3093-163a-622a-113e3e13cbe5", 0, 143156, 143771),
        Gpu(1, "GPU-dde0cf30-1929-5304-c51f-f4ee6ed7e123", 0, 143156, 143771),
    ]


def test_unexpected_nvidia_smi_output_is_a_problem(tmp_path):
    run, results, _ = preflight_run(tmp_path, "echo '0, GPU-x, [N/A], [N/A], 81559'\n")
    assert (run.exit_code, results["preflight"]["reason"]) == (
        3,
        "unexpected nvidia-smi output: '0, GPU-x, [N/A], [N/A], 81559'",
    )


def test_cuda_visible_devices_picks_the_jobs_gpus():
    gpus = parse_gpus("\n".join(gpu_line(i, 100 * i) for i in range(4)))
    assert [g.index for g in visible_gpus(gpus, None)] == [0, 1, 2, 3]
    assert [g.index for g in visible_gpus(gpus, "2,3")] == [2, 3]
    assert [g.index for g in visible_gpus(gpus, "GPU-00000001")] == [1]
    assert visible_gpus(gpus, "") == []
    assert [g.index for g in visible_gpus(gpus, "MIG-x")] == [0, 1, 2, 3]  # unknown ids: all, as sglang
    assert gpus[1] == Gpu(1, "GPU-00000001-aaaa-bbbb-cccc-dddddddddddd", 100, 81459, 81559)


def test_only_the_jobs_gpus_must_be_free(tmp_path):
    nvidia_smi = f"echo '{gpu_line(0, 70000)}'\necho '{gpu_line(1, 10)}'\n"
    run, results, _ = preflight_run(tmp_path, nvidia_smi, "--gpu-wait-seconds", "0")
    assert run.exit_code == 3
    root = tmp_path / "repo"
    args = shard_args(root, ["t/test_a.py"], "--gpus", "1", "--gpu-wait-seconds", "0")
    env = {**fake_nvidia_smi(tmp_path / "bin", nvidia_smi), "CUDA_VISIBLE_DEVICES": "1"}
    assert run_runner(*args, env=env).exit_code == 0
