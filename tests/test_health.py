"""The runner health check (generator/shipped/health.py) as the job-started hook runs it: every probe
against stand-in `nvidia-smi` and `df` scripts first on PATH, the drain (command, marker), the record."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from generator.shipped import health
from generator.shipped.run_shard import FAILURE_CLASSES
from tests.support.run_shard import gpu_line

HEALTH = Path(health.__file__)
TWO_IDLE = f"echo '{gpu_line(0, 10)}'\necho '{gpu_line(1, 10)}'\n"


def stand_ins(folder: Path, nvidia_smi: str = TWO_IDLE, df_available_kib: int | None = None) -> dict:
    """`nvidia-smi` (and `df`, printing POSIX output with this much available) first on PATH."""
    folder.mkdir(parents=True, exist_ok=True)
    scripts = {"nvidia-smi": nvidia_smi}
    if df_available_kib is not None:
        scripts["df"] = (
            "echo 'Filesystem 1024-blocks Used Available Capacity Mounted on'\n"
            f"echo '/dev/sda1 1000000000 999 {df_available_kib} 99% /'\n"
        )
    for name, body in scripts.items():
        (folder / name).write_text("#!/bin/sh\n" + body)
        (folder / name).chmod(0o755)
    return {"PATH": f"{folder}{os.pathsep}{os.environ['PATH']}", "RUNNER_NAME": "gpu-h100-7"}


def check(tmp_path: Path, *args: str, env: dict | None = None) -> tuple[subprocess.CompletedProcess, dict]:
    """`python3 health.py check ARGS --record R`; the run and the record."""
    record = tmp_path / "record.json"
    full_env = {k: v for k, v in os.environ.items() if not k.startswith(("CIGEN_", "GITHUB_"))}
    full_env.update(env or stand_ins(tmp_path / "bin"))
    done = subprocess.run(
        [sys.executable, str(HEALTH), "check", *args, "--record", str(record)],
        capture_output=True,
        text=True,
        env=full_env,
        timeout=60,
    )
    return done, json.loads(record.read_text()) if record.exists() else {}


def failed_probe(record: dict) -> tuple[str, str]:
    return record["health"]["probe"], record["health"]["reason"]


def test_a_healthy_runner_passes_every_probe_and_records_them(tmp_path):
    env = stand_ins(tmp_path / "bin", df_available_kib=200 * 2**20)
    done, record = check(tmp_path, "--gpus", "2", "--min-disk-free-gib", "100", "--probe", "ib=true", env=env)
    assert (done.returncode, done.stderr) == (0, "")
    assert done.stdout.startswith("[cigen] runner gpu-h100-7 healthy: GPU 0: 10 MiB used")
    probes = [(p["name"], p["status"]) for p in record["health"]["probes"]]
    assert probes == [(name, "passed") for name in ("drained", "nvidia-smi", "gpu-count", "gpu-memory", "disk", "ib")]
    assert (record["runner"]["name"], record["drain"]["drained"]) == ("gpu-h100-7", False)


@pytest.mark.parametrize(
    "fault, args, nvidia_smi, df_kib, probe, reason",
    [
        ("hung nvidia-smi", ["--timeout", "1"], "sleep 30\n", None, "nvidia-smi",
         "nvidia-smi did not answer within 1 s"),
        ("no GPU", [], "echo 'No devices were found'\nexit 6\n", None, "nvidia-smi",
         "nvidia-smi exited 6: No devices were found"),
        ("fewer GPUs", [], f"echo '{gpu_line(0, 10)}'\n", None, "gpu-count",
         "expected 2 GPU(s), nvidia-smi shows 1 (GPU 0: 10 MiB used, 81549 MiB free)"),
        ("stray memory", ["--gpu-wait-seconds", "1", "--gpu-poll-seconds", "0.3"],
         f"echo '{gpu_line(0, 10)}'\necho '{gpu_line(1, 30000)}'\n", None, "gpu-memory",
         "GPU memory still in use after waiting 1 s: GPU 1: 30000 MiB used, 51559 MiB free"),
        ("full disk", ["--min-disk-free-gib", "50", "--disk-path", "/data"], TWO_IDLE, 1024 * 1024, "disk",
         "/data: 1.0 GiB free, below the floor of 50 GiB"),
        ("extra probe", ["--probe", "rdma=echo port down; exit 4"], TWO_IDLE, None, "rdma",
         "`echo port down; exit 4` exited 4: port down"),
    ],
)  # fmt: skip
def test_each_fault_fails_its_probe_drains_and_records(tmp_path, fault, args, nvidia_smi, df_kib, probe, reason):
    env = stand_ins(tmp_path / "bin", nvidia_smi, df_kib)
    drained = tmp_path / "drained.log"
    marker = tmp_path / "state" / "drained"
    drain = f'echo "$CIGEN_RUNNER_NAME $CIGEN_HEALTH_PROBE" >> {drained}'
    done, record = check(
        tmp_path, "--gpus", "2", *args, "--drain-command", drain, "--drain-marker", str(marker), env=env
    )
    assert done.returncode == health.EXIT_UNHEALTHY, fault
    assert failed_probe(record) == (probe, reason)
    annotation = f"::error title=Unhealthy runner (infra)::runner gpu-h100-7, probe {probe}: {reason}"
    assert done.stdout.splitlines()[-2:] == [annotation, f"[cigen] draining runner gpu-h100-7: {drain}"]
    assert drained.read_text() == f"gpu-h100-7 {probe}\n"
    assert record["drain"] == {"drained": True, "command": drain, "exit_status": 0, "output": "", "marker": str(marker)}
    assert json.loads(marker.read_text())["probe"] == probe
    statuses = [p["status"] for p in record["health"]["probes"]]
    assert statuses.count("failed") == 1 and statuses[statuses.index("failed") + 1 :] == ["skipped"] * (
        len(statuses) - statuses.index("failed") - 1
    )


def test_a_drained_runner_refuses_every_later_check_and_its_service_start(tmp_path):
    marker = tmp_path / "drained"
    first, _ = check(tmp_path, "--gpus", "1", "--probe", "bad=false", "--drain-marker", str(marker))
    assert first.returncode == 3 and marker.exists()
    again, record = check(tmp_path, "--gpus", "1", "--drain-marker", str(marker))
    assert (again.returncode, record["health"]["probe"]) == (3, "drained")
    assert record["health"]["reason"] == f"drained earlier ({marker}): probe bad: `false` exited 1: no output"
    refused = subprocess.run(
        [sys.executable, str(HEALTH), "drained", "--drain-marker", str(marker)], capture_output=True, text=True
    )
    assert (refused.returncode, refused.stderr) == (1, f"drained ({marker}): probe bad: `false` exited 1: no output\n")
    marker.unlink()
    fixed = subprocess.run([sys.executable, str(HEALTH), "drained", "--drain-marker", str(marker)], capture_output=True)
    assert fixed.returncode == 0


def test_probes_and_the_drain_command_come_from_the_env_as_the_shard_step_passes_them(tmp_path):
    env = {
        **stand_ins(tmp_path / "bin"),
        "CIGEN_HEALTH_PROBES": json.dumps({"scratch": "test -d /nonexistent-cigen"}),
        "CIGEN_DRAIN_COMMAND": f"touch {tmp_path / 'drained'}",
    }
    done, record = check(tmp_path, env=env)
    assert done.returncode == 3
    assert failed_probe(record) == ("scratch", "`test -d /nonexistent-cigen` exited 1: no output")
    assert (tmp_path / "drained").exists()
    env["CIGEN_HEALTH_PROBES"] = '{"disk": "true"}'
    done, _ = check(tmp_path, env=env)
    assert (done.returncode, done.stderr) == (2, "CIGEN_HEALTH_PROBES: 'disk' is a built-in probe's name\n")


def test_a_hung_probe_and_a_hung_drain_are_bounded(tmp_path):
    done, record = check(tmp_path, "--probe", "nfs=sleep 30", "--probe-timeout", "0.5")
    assert done.returncode == 3
    assert failed_probe(record) == ("nfs", "`sleep 30` did not finish within 0.5 s")
    assert record["health"]["seconds"] < 5


def test_nothing_to_probe_is_healthy_and_never_runs_nvidia_smi(tmp_path):
    env = stand_ins(tmp_path / "bin", "sleep 30\n")
    done, record = check(tmp_path, env=env)
    assert (done.returncode, record["health"]["status"]) == (0, "skipped")


def test_statvfs_measures_the_disk_when_df_is_not_on_path(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))  # no df there
    free = health.disk_free_bytes(str(tmp_path), 5)
    stat = os.statvfs(tmp_path)
    assert free == stat.f_bavail * stat.f_frsize


def test_annotations_escape_what_would_end_the_workflow_command():
    unhealthy = health.Health("failed", "100% busy\nsecond line", probe="gpu-memory")
    assert health.annotation(unhealthy, "r1") == (
        "::error title=Unhealthy runner (infra)::runner r1, probe gpu-memory: 100%25 busy%0Asecond line"
    )


def test_usage_mistakes_are_one_line():
    for args, message in [
        (["check", "--probe", "Bad=true"], "expected NAME=COMMAND with a lowercase name, got 'Bad=true'"),
        (["check", "--probe", "disk=true"], "'disk' is a built-in probe's name"),
        (["check", "--gpus", "-1"], "must be at least 0, got '-1'"),
    ]:
        done = subprocess.run([sys.executable, str(HEALTH), *args], capture_output=True, text=True)
        assert done.returncode == 2 and done.stderr.endswith(f"{message}\n") and done.stderr.count("\n") == 1


def test_the_shard_runner_and_the_health_check_share_the_probe_code():
    from generator.render.shipping import sibling_imports
    from generator.shipped import run_shard

    source = Path(run_shard.__file__).read_text()
    assert "--query-gpu" not in source and "def query_gpus" not in source and "def parse_gpus" not in source
    assert "health" in sibling_imports("run_shard")
    assert health.BUILTIN_PROBES == ("drained", "nvidia-smi", "gpu-count", "gpu-memory", "disk")
    assert "infra" in FAILURE_CLASSES


CUDA_INIT = "import sys\nprint('RuntimeError: CUDA error: initialization error')\nsys.exit(1)\n"


def shard_run(tmp_path: Path, test: str, nvidia_smi: str, *extra: str) -> tuple[int, dict, list[str]]:
    """The shard runner on one file with a drain command that appends to drained.log."""
    from tests.support.files import write_files
    from tests.support.run_shard import run_runner, shard_args

    root = write_files(tmp_path / "repo", {"t/test_a.py": test})
    results = tmp_path / "results.json"
    drain = f'echo "$CIGEN_RUNNER_NAME $CIGEN_HEALTH_PROBE" >> {tmp_path / "drained.log"}'
    args = shard_args(root, ["t/test_a.py"], "--gpus", "1", "--pool", "1-gpu-h100", "--results", str(results), *extra)
    run = run_runner(*args, "--drain-command", drain, env=stand_ins(tmp_path / "bin", nvidia_smi))
    log = tmp_path / "drained.log"
    return run.exit_code, json.loads(results.read_text()), log.read_text().splitlines() if log.exists() else []


def test_a_cuda_init_error_in_a_tests_output_is_infra_and_drains_the_runner(tmp_path):
    exit_code, results, drained = shard_run(tmp_path, CUDA_INIT, TWO_IDLE, "--retries", "1")
    assert exit_code == 3
    [entry] = results["files"]
    assert [a["class"] for a in entry["attempts"]] == ["infra", "infra"]  # retried once, as sglang retries infra
    assert entry["attempts"][-1]["probe"] == "cuda-init"
    assert drained == ["gpu-h100-7 cuda-init"]
    assert results["drain"]["drained"] is True and results["runner"] == {"name": "gpu-h100-7", "pool": "1-gpu-h100"}


def test_a_failed_preflight_drains_the_runner_before_any_file(tmp_path):
    exit_code, results, drained = shard_run(tmp_path, CUDA_INIT, "sleep 30\n", "--preflight-timeout", "0.5")
    assert (exit_code, results["preflight"]["probe"], drained) == (3, "nvidia-smi", ["gpu-h100-7 nvidia-smi"])
    assert results["files"][0]["class"] == "not-run"


def test_a_test_failure_or_a_timeout_never_drains(tmp_path):
    failing = "import sys\nprint('AssertionError: 0.5 != 0.7 expected')\nsys.exit(1)\n"
    exit_code, results, drained = shard_run(tmp_path, failing, TWO_IDLE, "--retries", "1")
    assert (exit_code, results["files"][0]["class"], drained) == (1, "flaky-accuracy", [])
    assert "drain" not in results
    exit_code, results, drained = shard_run(
        tmp_path, "import time\ntime.sleep(30)\n", TWO_IDLE, "--per-file-timeout", "0.5", "--retries", "0"
    )
    assert (exit_code, results["files"][0]["class"], drained) == (1, "timeout", [])


def test_the_runner_hook_of_a_pool_runs_its_probes_and_drains(tmp_path):
    """`cigen runner-hook POOL` for the golden config's 8-GPU pool, installed beside the shipped copy
    of health.py, run as the runner runs a job-started hook (bash -e FILE)."""
    from click.testing import CliRunner

    from generator.cli import cli
    from generator.render.shipping import copy_text

    golden = Path(__file__).parent / "golden" / "tree"
    hook = CliRunner().invoke(cli, ["runner-hook", "8-gpu-h200", "--root", str(golden)])
    assert hook.exit_code == 0, hook.output
    script = hook.output.replace("sudo systemd-run --on-active=30 systemctl stop", f"echo stop >> {tmp_path}/log;true")
    script = script.replace("/var/lib/cigen/drained", str(tmp_path / "drained"))
    folder = tmp_path / "hooks"
    folder.mkdir()
    (folder / "job-started.sh").write_text(script)
    (folder / "health.py").write_text(copy_text("health", "cigen render"))
    eight = "".join(f"echo '{gpu_line(i, 10)}'\n" for i in range(8))
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("CIGEN_")},
        **stand_ins(tmp_path / "bin", eight, df_available_kib=300 * 2**20),
        "CIGEN_HEALTH_RECORDS": str(tmp_path / "records"),
        "GITHUB_RUN_ID": "77",
        "GITHUB_JOB": "nightly",
    }

    def run_hook() -> subprocess.CompletedProcess:
        return subprocess.run(["bash", "-e", str(folder / "job-started.sh")], env=env, capture_output=True, text=True)

    done = run_hook()
    assert done.returncode == 3  # the rdma probe's ibv_devinfo is not on this machine
    record = json.loads((tmp_path / "records" / "health-77-nightly.json").read_text())
    assert record["health"]["probe"] == "rdma" and record["drain"]["drained"] is True
    assert (tmp_path / "drained").exists() and (tmp_path / "log").read_text() == "stop\n"
    (tmp_path / "bin" / "ibv_devinfo").write_text("#!/bin/sh\necho 'state: PORT_ACTIVE'\n")
    (tmp_path / "bin" / "ibv_devinfo").chmod(0o755)
    assert run_hook().returncode == 3  # drained: refused until the operator removes the marker
    (tmp_path / "drained").unlink()
    done = run_hook()
    assert (done.returncode, done.stderr) == (0, ""), done.stdout
    assert "--gpus 8" in hook.output and "--min-disk-free-gib 200" in hook.output
