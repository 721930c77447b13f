"""A stand-in for `python -m sglang.launch_server` on CPU: sglang's weight-checker protocol on real tensors.

Launched with sglang's flags (--model-path, --host, --port, --mem-fraction-static and any others,
which it logs), it holds the model's parameters in sglang's fused names and shapes (random bf16,
from the config via generator.hfmodel) and answers what the weight-checker e2e test asks, with
sglang 0.5.23's semantics:
  GET  /health                      200 once serving
  POST /weights_checker             {"action": "snapshot" | "compare" | "reset_tensors" | "checksum"};
                                    a failed check answers 400 {"success": false, "message": ...}
  POST /update_weights_from_tensor  {"serialized_named_tensors": [base64 ForkingPickler payload]}
Requests are served one at a time (like sglang's scheduler); the log goes to stdout.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import pickle
import sys
import threading
import time
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import torch  # noqa: E402
import torch.multiprocessing  # noqa: E402,F401 - registers the tensor reductions the payloads use

from generator.memory.hfmodel import load_model  # noqa: E402

CHUNK_NUMEL = 64 * 1024 * 1024  # sglang compares 64M elements at a time
NON_PERSISTENT = ("cos_sin_cache", "inv_freq", "freqs_cis", "_weight_fp32")
MAX_BODY_BYTES = 64 * 1024 * 1024


def log(message: str) -> None:
    print(f"[standin {time.strftime('%H:%M:%S')}] {message}", flush=True)


class Model:
    """The parameters and buffers a Qwen3-style sglang model runner holds, by name."""

    def __init__(self, model_path: str):
        shape = load_model(model_path)
        self.intermediate = shape.intermediate_size
        self.q_rows, self.kv_rows = shape.num_heads * shape.head_dim, shape.num_kv_heads * shape.head_dim
        generator = torch.Generator().manual_seed(0)
        self.tensors = {t.name: torch.randn(t.shape, generator=generator).to(torch.bfloat16) for t in shape.tensors()}
        self.tensors["model.layers.0.self_attn.rotary_emb.cos_sin_cache"] = torch.randn(
            (64, shape.head_dim), generator=generator
        )
        self.snapshot: dict[str, torch.Tensor] | None = None

    def target(self, name: str) -> torch.Tensor:
        """The slice an HF-style (unfused) name writes into, as sglang's stacked_params_mapping does."""
        layer, _, leaf = name.rpartition(".")[0].rpartition(".")
        fused = {
            "gate_proj": ("mlp.gate_up_proj", 0, self.intermediate),
            "up_proj": ("mlp.gate_up_proj", self.intermediate, 2 * self.intermediate),
            "q_proj": ("self_attn.qkv_proj", 0, self.q_rows),
            "k_proj": ("self_attn.qkv_proj", self.q_rows, self.q_rows + self.kv_rows),
            "v_proj": ("self_attn.qkv_proj", self.q_rows + self.kv_rows, self.q_rows + 2 * self.kv_rows),
        }
        if leaf in fused and name.endswith(".weight"):
            module, start, stop = fused[leaf]
            base = layer.rsplit(".", 1)[0]  # model.layers.N
            return self.tensors[f"{base}.{module}.weight"][start:stop]
        if name not in self.tensors:
            raise KeyError(f"unknown parameter '{name}'")
        return self.tensors[name]

    def check(self, action: str) -> dict | None:
        if action == "snapshot":
            self.snapshot = {name: tensor.clone() for name, tensor in self.tensors.items()}
            return None
        if action == "compare":
            if self.snapshot is None:
                raise RuntimeError("compare needs a snapshot first")
            errors = [line for name in self.tensors if (line := self._differs(name)) and not _non_persistent(name)]
            self.snapshot = None  # sglang 0.5.23: a compare consumes its snapshot
            if errors:
                raise RuntimeError("check tensor equality failed:\n" + "\n".join(errors))
            return None
        if action == "reset_tensors":
            for name, tensor in self.tensors.items():
                if not _non_persistent(name):
                    tensor.copy_(torch.rand(tensor.shape))
            return None
        if action == "checksum":
            checksums = {
                name: hashlib.sha256(_raw_bytes(t)).hexdigest()[:16]
                for name, t in self.tensors.items()
                if not _non_persistent(name)
            }
            overall = hashlib.sha256("".join(name + checksums[name] for name in sorted(checksums)).encode()).hexdigest()
            placement = dict(tp_rank=0, tp_size=1, dp_rank=0, dp_size=1, pp_rank=0, pp_size=1, rank=0, size=1)
            return {"checksums": checksums, "per_gpu_checksum": overall, "parallelism_info": placement}
        raise ValueError(f"Unsupported action={action!r}")

    def _differs(self, name: str) -> str | None:
        """sglang's chunked compare of one tensor: None when equal, else its error line."""
        expect, actual = self.snapshot[name].reshape(-1), self.tensors[name].reshape(-1)
        max_err, total_err, exceed = 0.0, 0.0, 0
        for start in range(0, actual.numel(), CHUNK_NUMEL):
            diff = (actual[start : start + CHUNK_NUMEL].float() - expect[start : start + CHUNK_NUMEL].float()).abs()
            max_err = max(max_err, diff.max().item())
            total_err += diff.sum().item()
            exceed += int((diff > 0).sum())
        if exceed == 0:
            return None
        shape, dtype = tuple(self.tensors[name].shape), self.tensors[name].dtype
        return (
            f"name={name} max_abs_err={max_err} mean_abs_err={total_err / actual.numel()} num_exceed={exceed} "
            f"expect=raw(shape={shape} dtype={dtype}) actual=raw(shape={shape} dtype={dtype}) "
        )

    def update(self, payloads: list[str]) -> None:
        named_tensors = pickle.loads(base64.b64decode(payloads[0], validate=True))
        for name, tensor in named_tensors:
            target = self.target(name)
            if tuple(target.shape) != tuple(tensor.shape):
                raise ValueError(
                    f"shape mismatch for {name}: param {tuple(target.shape)}, loaded {tuple(tensor.shape)}"
                )
            target.copy_(tensor.to(device="cpu", dtype=target.dtype))


def _non_persistent(name: str) -> bool:
    return any(pattern in name for pattern in NON_PERSISTENT)


def _raw_bytes(tensor: torch.Tensor) -> bytes:
    return tensor.contiguous().view(torch.uint8).numpy().tobytes()


class Handler(BaseHTTPRequestHandler):
    model: Model
    lock = threading.Lock()
    timeout = 60  # seconds a client may take to send its request

    def log_message(self, format: str, *args) -> None:
        log(format % args)

    def _reply(self, status: int, body: dict) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        if self.path in ("/health", "/health_generate"):
            self._reply(HTTPStatus.OK, {})
        else:
            self._reply(HTTPStatus.NOT_FOUND, {"message": f"no route {self.path}"})

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", "0"))
        if length > MAX_BODY_BYTES:
            self._reply(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, {"success": False, "message": "body too large"})
            return
        try:
            body = json.loads(self.rfile.read(length) or b"{}")
        except json.JSONDecodeError as error:
            self._reply(HTTPStatus.BAD_REQUEST, {"success": False, "message": f"bad JSON: {error}"})
            return
        with self.lock:
            if self.path == "/weights_checker":
                self._weights_checker(body.get("action", "checksum"))
            elif self.path == "/update_weights_from_tensor":
                self._update(body.get("serialized_named_tensors", []))
            else:
                self._reply(HTTPStatus.NOT_FOUND, {"success": False, "message": f"no route {self.path}"})

    def _weights_checker(self, action: str) -> None:
        try:
            rank = self.model.check(action)
        except Exception as error:  # sglang answers every failed check with 400 and the message
            log(f"weights_checker action={action}: {error}")
            self._reply(HTTPStatus.BAD_REQUEST, {"success": False, "message": str(error)})
            return
        body = {"success": True, "message": "Success."}
        if rank is not None:
            body["ranks"] = [rank]
        self._reply(HTTPStatus.OK, body)

    def _update(self, payloads: list[str]) -> None:
        try:
            self.model.update(payloads)
        except Exception as error:
            log(f"update_weights_from_tensor failed: {error}")
            self._reply(HTTPStatus.BAD_REQUEST, {"success": False, "message": str(error)})
            return
        self._reply(HTTPStatus.OK, {"success": True, "message": "Succeeded to update model weights."})


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model-path", required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=30000)
    parser.add_argument("--mem-fraction-static", type=float)
    parser.add_argument("--hang-before-ready", action="store_true", help="never start serving (tests of timeouts)")
    args, others = parser.parse_known_args(argv)
    log(f"model_path={args.model_path} mem_fraction_static={args.mem_fraction_static} other_args={others}")
    if args.hang_before_ready:
        log("hanging before ready, as asked")
        while True:
            time.sleep(60)
    Handler.model = Model(args.model_path)
    server = ThreadingHTTPServer((args.host, args.port), Handler)
    log(f"serving on http://{args.host}:{args.port}")
    server.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
