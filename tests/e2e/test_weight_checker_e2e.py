"""Weight checker end to end: sglang's /weights_checker on a launched server (nightly, one GPU).

Launches the server for the model with server args from the environment (default
`--mem-fraction-static 0.7`: sglang's default leaves ~200 MiB on a 32 GB RTX 5090 and the compare
needs ~2 GB; action.yml passes the advisor's value), then checks snapshot/compare on equal weights,
compare after a real update through /update_weights_from_tensor (HTTP 400) and after the same
bytes again, checksum, and snapshot/reset/compare (the embedding round trip that OOMed). The server
runs in its own process group, which is always killed.

Environment (all optional):
  CIGEN_E2E_MODEL           model path or Hugging Face id (default Qwen/Qwen3-0.6B)
  CIGEN_E2E_SERVER_ARGS     extra server flags (default --mem-fraction-static 0.7)
  CIGEN_E2E_LAUNCH          the server command before its flags (default: python -m sglang.launch_server)
  CIGEN_E2E_BASE_URL        test a server that is already running instead
  CIGEN_E2E_LOG_DIR         folder for server.log (default: a temporary folder)
  CIGEN_E2E_PGID_FILE       the server's process group id is appended here (action.yml's cleanup)
  CIGEN_E2E_LAUNCH_TIMEOUT  seconds to wait for /health (default 600)
  CIGEN_E2E_REQUIRE         1: fail instead of skipping (action.yml sets it: a skip there is a broken runner)
Without sglang and a CUDA GPU, and with neither CIGEN_E2E_LAUNCH nor CIGEN_E2E_BASE_URL, it skips.
"""

import base64
import io
import json
import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest
from pathlib import Path

try:
    from sglang.test.ci.ci_register import register_cuda_ci
except Exception:  # collected on machines without sglang: the marker is a no-op anyway

    def register_cuda_ci(*args, **kwargs):
        return None


register_cuda_ci(est_time=150, suite="nightly-1-gpu", nightly=True)

DEFAULT_MODEL = "Qwen/Qwen3-0.6B"
DEFAULT_SERVER_ARGS = "--mem-fraction-static 0.7"
REQUEST_TIMEOUT_SECONDS = 120
STOP_TIMEOUT_SECONDS = 30


def skip_reason():
    """Why this machine cannot run the test, or None."""
    if os.environ.get("CIGEN_E2E_LAUNCH") or os.environ.get("CIGEN_E2E_BASE_URL"):
        return None
    try:
        import sglang  # noqa: F401
    except Exception as error:
        return (
            f"needs sglang and a CUDA GPU: import sglang failed ({type(error).__name__}: {error}); "
            "set CIGEN_E2E_LAUNCH to use another server"
        )
    try:
        import torch
    except Exception as error:
        return f"needs torch and a CUDA GPU: import torch failed ({type(error).__name__})"
    if not torch.cuda.is_available():
        return "needs a CUDA GPU: torch.cuda.is_available() is False; set CIGEN_E2E_LAUNCH to use another server"
    return None


def free_port() -> int:
    """An ephemeral port on 127.0.0.1, free when asked (the server binds it right after)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def post(url: str, payload: dict):
    import requests

    return requests.post(url, json=payload, timeout=REQUEST_TIMEOUT_SECONDS)


def serialize_named_tensors(named_tensors) -> str:
    """What sglang's MultiprocessingSerializer.serialize(..., output_str=True) sends: ForkingPickler, base64."""
    try:
        from sglang.srt.utils import MultiprocessingSerializer

        return MultiprocessingSerializer.serialize(named_tensors, output_str=True)
    except Exception:  # no (importable) sglang: the same bytes, built here
        from multiprocessing.reduction import ForkingPickler

        import torch.multiprocessing

        if any(not tensor.is_cuda for _, tensor in named_tensors):
            # CPU tensors cross to an unrelated process through named shared memory
            torch.multiprocessing.set_sharing_strategy("file_system")
        buffer = io.BytesIO()
        ForkingPickler(buffer).dump(named_tensors)
        return base64.b64encode(buffer.getvalue()).decode()


def model_dims(model: str) -> tuple:
    """(intermediate_size, hidden_size): the shape of one layer's up_proj."""
    if os.path.isdir(model):
        config = json.loads((Path(model) / "config.json").read_text())
        return config["intermediate_size"], config["hidden_size"]
    from transformers import AutoConfig

    config = AutoConfig.from_pretrained(model)
    return config.intermediate_size, config.hidden_size


class ServerProcess:
    """The server under test, in its own process group; `stop` kills the whole group."""

    def __init__(self, model: str, server_args: str, log_dir: Path):
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        launch = os.environ.get("CIGEN_E2E_LAUNCH") or f"{shlex.quote(sys.executable)} -m sglang.launch_server"
        command = shlex.split(launch) + ["--model-path", model, "--host", "127.0.0.1", "--port", str(self.port)]
        command += shlex.split(server_args)
        log_dir.mkdir(parents=True, exist_ok=True)
        self.log_path = log_dir / "server.log"
        self.log = open(self.log_path, "ab")
        self.log.write(f"$ {shlex.join(command)}\n".encode())
        self.log.flush()
        self.process = subprocess.Popen(command, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)
        self.pgid = self.process.pid  # leader of its new session and process group
        pgid_file = os.environ.get("CIGEN_E2E_PGID_FILE")
        if pgid_file:
            with open(pgid_file, "a") as handle:
                handle.write(f"{self.pgid}\n")

    def wait_ready(self, timeout_seconds: float) -> None:
        import requests

        deadline = time.monotonic() + timeout_seconds
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"server exited with code {self.process.returncode} before it was ready\n{self.log_tail()}"
                )
            try:
                if requests.get(f"{self.base_url}/health", timeout=5).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(1)
        raise TimeoutError(f"server not ready after {timeout_seconds:g} s\n{self.log_tail()}")

    def log_tail(self, lines: int = 40) -> str:
        text = self.log_path.read_text(errors="replace").splitlines()
        return "\n".join(["--- last lines of server.log ---", *text[-lines:]])

    def stop(self) -> None:
        """SIGTERM to the group, SIGKILL after a grace period, then reap the leader."""
        for sig, grace in ((signal.SIGTERM, STOP_TIMEOUT_SECONDS), (signal.SIGKILL, STOP_TIMEOUT_SECONDS)):
            try:
                os.killpg(self.pgid, sig)
            except ProcessLookupError:
                break
            try:
                self.process.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                continue
            try:  # the leader is gone; its group may still hold children
                os.killpg(self.pgid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            break
        self.log.close()


class TestWeightCheckerE2E(unittest.TestCase):
    """All cases share one server. test_z_* randomizes the weights, so it sorts last."""

    @classmethod
    def setUpClass(cls):
        reason = skip_reason()
        if reason and os.environ.get("CIGEN_E2E_REQUIRE") == "1":
            raise RuntimeError(f"CIGEN_E2E_REQUIRE=1 but this machine cannot run the test: {reason}")
        if reason:
            raise unittest.SkipTest(reason)
        cls.model = os.environ.get("CIGEN_E2E_MODEL", DEFAULT_MODEL)
        cls.device = "cpu"
        try:
            import torch

            cls.device = "cuda" if torch.cuda.is_available() else "cpu"
        except ImportError:
            pass
        base_url = os.environ.get("CIGEN_E2E_BASE_URL")
        if base_url:
            cls.url = base_url.rstrip("/")
            return
        log_dir = Path(os.environ.get("CIGEN_E2E_LOG_DIR") or tempfile.mkdtemp(prefix="weight-checker-e2e-"))
        server = ServerProcess(cls.model, os.environ.get("CIGEN_E2E_SERVER_ARGS", DEFAULT_SERVER_ARGS), log_dir)
        cls.addClassCleanup(server.stop)  # runs even when the launch below fails
        server.wait_ready(float(os.environ.get("CIGEN_E2E_LAUNCH_TIMEOUT", "600")))
        cls.url = server.base_url

    def check(self, action: str):
        return post(f"{self.url}/weights_checker", {"action": action})

    def update(self, name: str, value: float):
        import torch

        tensor = torch.full(model_dims(self.model), value, device=self.device)
        payload = {"serialized_named_tensors": [serialize_named_tensors([(name, tensor)])], "flush_cache": True}
        return post(f"{self.url}/update_weights_from_tensor", payload)

    def assert_ok(self, response):
        self.assertEqual(response.status_code, 200, response.text)
        self.assertTrue(response.json()["success"], response.text)

    def assert_mismatch(self, response, names, only=False):
        """HTTP 400 naming `names` (and no other tensor when `only`)."""
        self.assertEqual(response.status_code, 400, response.text)
        body = response.json()
        self.assertFalse(body["success"])
        self.assertIn("max_abs_err", body["message"])
        reported = set(re.findall(r"name=(\S+) max_abs_err", body["message"]))
        if only:
            self.assertEqual(reported, set(names))
        else:
            self.assertLessEqual(set(names), reported)

    def test_a_snapshot_then_compare_unchanged_succeeds(self):
        self.assert_ok(self.check("snapshot"))
        self.assert_ok(self.check("compare"))

    def test_b_unknown_action_returns_400(self):
        response = self.check("nonsense_action")
        self.assertEqual(response.status_code, 400)
        self.assertIn("Unsupported", response.json()["message"])

    def test_c_update_with_diff_tensor_makes_compare_fail(self):
        self.assert_ok(self.check("snapshot"))
        self.assert_ok(self.update("model.layers.5.mlp.up_proj.weight", 1.5))
        # sglang reports the fused on-device name, not the upload alias
        self.assert_mismatch(self.check("compare"), ["model.layers.5.mlp.gate_up_proj.weight"], only=True)

    def test_d_update_with_same_tensor_keeps_compare_passing(self):
        self.assert_ok(self.update("model.layers.6.mlp.up_proj.weight", 0.25))
        self.assert_ok(self.check("snapshot"))
        self.assert_ok(self.update("model.layers.6.mlp.up_proj.weight", 0.25))
        self.assert_ok(self.check("compare"))

    def test_e_checksum_is_stable_skips_buffers_and_follows_updates(self):
        first = self.check("checksum")
        self.assert_ok(first)
        rank = first.json()["ranks"][0]
        placement = {"tp_rank", "tp_size", "dp_rank", "dp_size", "pp_rank", "pp_size", "rank", "size"}
        self.assertLessEqual(placement, set(rank["parallelism_info"]))
        self.assertTrue(all(len(value) == 16 and int(value, 16) >= 0 for value in rank["checksums"].values()))
        self.assertFalse([name for name in rank["checksums"] if "cos_sin_cache" in name or "inv_freq" in name])
        self.assertEqual(self.check("checksum").json()["ranks"], first.json()["ranks"])
        fused = "model.layers.7.mlp.gate_up_proj.weight"
        self.assert_ok(self.update("model.layers.7.mlp.up_proj.weight", 0.5))
        after = self.check("checksum").json()["ranks"][0]["checksums"]
        self.assertNotEqual(after[fused], rank["checksums"][fused])

    def test_z_snapshot_reset_compare_detects_diff(self):
        """Randomizes every weight; the compare then round-trips the vocab embedding (the 5090 OOM)."""
        self.assert_ok(self.check("snapshot"))
        self.assert_ok(self.check("reset_tensors"))
        self.assert_mismatch(self.check("compare"), ["model.embed_tokens.weight"])


if __name__ == "__main__":
    unittest.main()
