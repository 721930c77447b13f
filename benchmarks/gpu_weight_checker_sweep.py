#!/usr/bin/env python3
"""Proof on a real GPU: where does the weight checker run out of memory, and did the advisor say so?

No sglang: the server's memory state is rebuilt with torch alone, in the order the server builds it:
  1. the card: a smaller card emulated with torch.cuda.set_per_process_memory_fraction (cap = total
     - 512 MiB driver reserve), or the GPU as it is;
  2. the server's CUDA context (a placeholder of the advisor's 620 MiB under the cap, the real one
     uncapped) and, with --tp > 1, NCCL's communicators (real: one process per GPU, an all-reduce;
     under the cap a placeholder of what they took uncapped); P = what is free now;
  3. the weights of this GPU's shard: one torch.empty per parameter in the config's (fused) shapes,
     filled in place with random bf16, as sglang allocates and then loads them;
  4. sglang's KV budget from the free memory measured after loading: rest = free - P * (1 - m); its
     request-to-token table (int32, (reqs + 1) x (context + 4)) and 2 x layers K/V buffers of
     rest // bytes-per-token + 1 slots (sglang's sizes; real allocations);
  5. the server's runtime outside the pool (CUDA graphs, workspaces, buffers): the advisor's figure,
     as one allocation;
  6. the test client's CUDA context (the advisor's 560 MiB under the cap; a real second process
     uncapped);
then runs the weight checker's own torch ops on the largest tensor (compare of a tensor that differs,
and reset; the unchunked code at the time of the fix and sglang 0.5.23's chunked code). It sweeps
m, bisects the largest m that still succeeds, and prints it next to the advisor's prediction
(`largest_fraction`: headroom == the checker's peak + the allocator term, no margin).

Measured for real: P, the weights' and the pools' allocator segments, the checker's peaks on a real
caching allocator, the contexts (uncapped) and NCCL (uncapped, tp > 1). Taken from the advisor, and
named in every row: the runtime figure (calibrated on the one 5090 data point) and, under the cap,
the context sizes. Before the sweep it measures the allocator facts the advisor's rounding rules
and fitted term come from (weights built two ways, KV pools of several sizes).

`--device cpu` runs the same flow with a cap that counts live tensor bytes (for tests; no caching
allocator there, so no rounding). Writes NAME.txt and NAME.json into --out.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
import weakref
from collections import defaultdict
from dataclasses import replace
from pathlib import Path

for _base in (Path(__file__).resolve().parent, Path(__file__).resolve().parent.parent):
    if (_base / "generator" / "memory" / "advisor.py").is_file():
        sys.path.insert(0, str(_base))
        break

import torch  # noqa: E402
from torch.utils._python_dispatch import TorchDispatchMode, _disable_current_modes  # noqa: E402
from torch.utils._pytree import tree_flatten  # noqa: E402

from generator.memory.advisor import (  # noqa: E402
    CHECKER_CHUNK_NUMEL,
    CLIENT_CONTEXT_MIB,
    DRIVER_RESERVED_MIB,
    MIB,
    NCCL_MIB,
    SERVER_CONTEXT_MIB,
    Advice,
    Card,
    advise,
    checker_allocator_mib,
    max_running_requests,
    server_pools,
    weight_checker_peak,
)
from generator.memory.hfmodel import ModelShape, load_model  # noqa: E402

RTX_5090_MIB = 32607.0


# --- the weight checker's allocations, as sglang's code makes them ---------------------------


def compare_unchunked(actual: torch.Tensor, snapshot: torch.Tensor, to_device) -> float:
    """sglang at the time of the fix: fp32 of both sides and their difference, whole tensor."""
    actual_f = actual.float()  # the first request: 4N bytes (594 MiB for Qwen3-0.6B's embedding)
    expect = to_device(snapshot)
    expect_f = expect.float()
    diff = actual_f - expect_f  # live: 4N + 2N + 4N + 4N = 14N
    del actual_f, expect_f
    return diff.abs().max().item()


def _chunks(tensor: torch.Tensor, to_device):
    flat = tensor.reshape(-1)
    for start in range(0, flat.numel(), CHECKER_CHUNK_NUMEL):
        yield to_device(flat[start : start + CHECKER_CHUNK_NUMEL])


def compare_chunked(actual: torch.Tensor, snapshot: torch.Tensor, to_device) -> float:
    """sglang 0.5.23's compare_weights on raw tensors: 64M elements at a time."""
    max_err = 0.0
    for expect_dq, actual_dq in zip(_chunks(snapshot, to_device), _chunks(actual, lambda t: t)):
        abs_diff = (actual_dq.float() - expect_dq.float()).abs()  # the previous abs_diff is still alive
        if torch.all(abs_diff == 0):
            continue
        max_err = max(max_err, abs_diff.max().item())
        int((~(abs_diff <= 0.0)).sum())
    return max_err


def reset_unchunked(param: torch.Tensor, snapshot: torch.Tensor, to_device) -> float:
    """Earlier reset: one fp32 random tensor the size of the parameter, cast, copied in."""
    param.copy_(torch.rand(param.shape, device=param.device, dtype=torch.float32).to(param.dtype))
    return 0.0


def reset_chunked(param: torch.Tensor, snapshot: torch.Tensor, to_device) -> float:
    """sglang 0.5.23's _random_like: a new tensor filled 64M elements at a time, copied in."""
    out = torch.empty_like(param)
    for chunk in out.view(-1).split(CHECKER_CHUNK_NUMEL):
        chunk.copy_(torch.rand(chunk.shape, device=param.device, dtype=torch.float32).to(param.dtype))
    param.copy_(out)
    return 0.0


CASES = (  # name, checker code, action, op
    ("unchunked compare", "unchunked", "compare", compare_unchunked),
    ("unchunked reset", "unchunked", "reset", reset_unchunked),
    ("chunked compare", "chunked", "compare", compare_chunked),
    ("chunked reset", "chunked", "reset", reset_chunked),
)


# --- cards -----------------------------------------------------------------------------------


class CudaCard:
    """This GPU; with a cap, a smaller card emulated by the allocator's per-process limit."""

    def __init__(self, index: int = 0):
        torch.cuda.init()
        torch.cuda.set_device(index)
        self.device = torch.device("cuda", index)
        torch.empty(1, device=self.device)  # create this process's context now
        self.total_bytes = torch.cuda.get_device_properties(index).total_memory
        self.cap_bytes: int | None = None

    def set_cap(self, cap_mib: float | None) -> None:
        self.release()
        self.cap_bytes = None if cap_mib is None else int(cap_mib * MIB)
        torch.cuda.set_per_process_memory_fraction(1.0 if cap_mib is None else self.cap_bytes / self.total_bytes)

    def free_mib(self) -> float:
        torch.cuda.synchronize()
        if self.cap_bytes is not None:
            return (self.cap_bytes - torch.cuda.memory_reserved()) / MIB
        return torch.cuda.mem_get_info()[0] / MIB

    def reserved_mib(self) -> float:
        return torch.cuda.memory_reserved() / MIB

    def release(self) -> None:
        torch.cuda.synchronize()
        torch.cuda.empty_cache()

    def to_device(self, tensor: torch.Tensor) -> torch.Tensor:
        return tensor.to(self.device)

    def host_copy(self, tensor: torch.Tensor) -> torch.Tensor:
        """The snapshot: sglang keeps it in host memory."""
        return tensor.cpu()

    def measure_peak(self, fn) -> tuple[float, float]:
        """MiB the call allocated, and reserved, above what was there before it (from an emptied cache)."""
        self.release()
        allocated, reserved = torch.cuda.memory_allocated(), torch.cuda.memory_reserved()
        torch.cuda.reset_peak_memory_stats()
        fn()
        torch.cuda.synchronize()
        return (torch.cuda.max_memory_allocated() - allocated) / MIB, (
            torch.cuda.max_memory_reserved() - reserved
        ) / MIB


class _LiveBytes(TorchDispatchMode):
    """Counts the bytes of live tensor storages created under it; past the cap, raises OOM."""

    def __init__(self, cap_bytes: int):
        super().__init__()
        self.cap_bytes = cap_bytes
        self.live = 0
        self.peak = 0
        self._refs: dict[int, int] = defaultdict(int)
        self._sizes: dict[int, int] = {}
        self.host_storages: set[int] = set()  # host memory (the snapshot): views of it are not counted

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        grew = 0
        for tensor in tree_flatten(out)[0]:
            if isinstance(tensor, torch.Tensor):
                grew += self._track(tensor)
        self.peak = max(self.peak, self.live)
        if grew and self.live > self.cap_bytes:
            raise torch.OutOfMemoryError(f"CPU cap: tried to allocate {grew / MIB:.2f} MiB")
        return out

    def _track(self, tensor: torch.Tensor) -> int:
        storage = tensor.untyped_storage()
        key, size = storage.data_ptr(), storage.nbytes()
        if size == 0 or key in self.host_storages:
            return 0
        new = key not in self._sizes
        if new:
            self._sizes[key] = size
            self.live += size
        self._refs[key] += 1
        weakref.finalize(tensor, self._drop, key)
        return size if new else 0

    def _drop(self, key: int) -> None:
        self._refs[key] -= 1
        if self._refs[key] == 0:
            self.live -= self._sizes.pop(key)
            del self._refs[key]


class CpuCard:
    """The same flow on CPU: a byte-counting cap stands in for the GPU allocator (tests only)."""

    def __init__(self):
        self.device = torch.device("cpu")
        self.cap_bytes = 0
        self.mode = _LiveBytes(0)
        self.mode.__enter__()

    def set_cap(self, cap_mib: float | None) -> None:
        self.cap_bytes = self.mode.cap_bytes = int(cap_mib * MIB)

    def free_mib(self) -> float:
        return (self.cap_bytes - self.mode.live) / MIB

    def reserved_mib(self) -> float:
        return self.mode.live / MIB

    def release(self) -> None:
        pass

    def to_device(self, tensor: torch.Tensor) -> torch.Tensor:
        return tensor.clone()

    def host_copy(self, tensor: torch.Tensor) -> torch.Tensor:
        """The snapshot lives in host memory, outside the card: not counted."""
        with _disable_current_modes():
            copy = tensor.clone()
        self.mode.host_storages.add(copy.untyped_storage().data_ptr())
        return copy

    def measure_peak(self, fn) -> tuple[float, float]:
        before = self.mode.live
        self.mode.peak = before
        fn()
        peak = (self.mode.peak - before) / MIB
        return peak, peak


# --- the server's state ----------------------------------------------------------------------


def allocate_mib(card, mib: float) -> torch.Tensor:
    return torch.empty(max(0, int(mib * MIB)), dtype=torch.uint8, device=card.device)


def build_weights(card, model: ModelShape, tp: int) -> dict[str, torch.Tensor]:
    """sglang's way: every parameter allocated with torch.empty at its shape, then filled in place (no temporaries)."""
    generator = torch.Generator(device=card.device).manual_seed(0)
    weights = {}
    for t in model.tensors(tp):
        weights[t.name] = torch.empty(t.shape, dtype=torch.bfloat16, device=card.device).normal_(generator=generator)
    return weights


def build_weights_via_fp32(card, model: ModelShape, tp: int) -> dict[str, torch.Tensor]:
    """This script's earlier way: an fp32 random tensor per parameter, cast to bf16 (big ones chunk by chunk)."""
    generator = torch.Generator(device=card.device).manual_seed(0)
    weights = {}
    for t in model.tensors(tp):
        if t.numel <= CHECKER_CHUNK_NUMEL:
            weights[t.name] = torch.randn(t.shape, generator=generator, device=card.device).to(torch.bfloat16)
            continue
        out = torch.empty(t.shape, dtype=torch.bfloat16, device=card.device)
        for chunk in out.view(-1).split(CHECKER_CHUNK_NUMEL):
            chunk.copy_(torch.randn(chunk.shape, generator=generator, device=card.device))
        weights[t.name] = out
    return weights


def allocate_pools(card, model: ModelShape, tp: int, kv_budget_mib: float) -> tuple[list[torch.Tensor], dict]:
    """sglang's init_memory_pool for a KV budget: the request table, then every K buffer, then every V buffer."""
    pools = server_pools(model, kv_budget_mib, tp)
    before = card.reserved_mib()
    reqs = max_running_requests(pools.kv_tokens, model.context_len)
    held = [torch.empty((reqs + 1, model.context_len + 4), dtype=torch.int32, device=card.device)]
    shape = model.kv_buffer_shape(pools.kv_tokens, tp)
    held += [torch.empty(shape, dtype=torch.bfloat16, device=card.device) for _ in range(pools.kv_buffers)]
    info = {
        "kv_budget_mib": round(kv_budget_mib, 1),
        "kv_tokens": pools.kv_tokens,
        "kv_buffer_mib": round(pools.kv_buffer_bytes / MIB, 4),
        "kv_buffers": pools.kv_buffers,
        "req_to_token_mib": round(pools.req_to_token_bytes / MIB, 3),
        "bytes_mib": round((pools.kv_bytes + pools.req_to_token_bytes) / MIB, 3),
        "reserved_mib_measured": round(card.reserved_mib() - before, 3),
        "reserved_mib_advisor": round(pools.reserved_mib, 3),
    }
    return held, info


class ServerState:
    """Weights stay; pools, runtime and client context are rebuilt for each fraction tried."""

    def __init__(self, card, model: ModelShape, tp: int, runtime_mib: float, client_mib: float, server_free_mib: float):
        self.card, self.model, self.tp = card, model, tp
        self.runtime_mib, self.client_mib, self.server_free_mib = runtime_mib, client_mib, server_free_mib
        self.weights = build_weights(card, model, tp)
        self.weights_mib = sum(w.numel() * w.element_size() for w in self.weights.values()) / MIB
        self.param = self.weights[model.largest_tensor(tp).name]
        self.snapshot = card.host_copy(self.param)
        self.param.view(-1)[0] += 1  # the update the test made: compare must find a difference
        card.release()
        self.free_after_weights_mib = card.free_mib()  # sglang's available_gpu_memory (after empty_cache)

    def attempt(self, fraction: float, op) -> tuple[bool, float, str, dict]:
        """Run `op` with the server at `fraction`: (succeeded, free MiB before it, OOM message, pool facts)."""
        budget = self.free_after_weights_mib - self.server_free_mib * (1 - fraction)
        if server_pools(self.model, budget, self.tp).kv_tokens <= 0:
            return False, 0.0, "no memory for the KV cache: the server would not start", {}
        held: list[torch.Tensor] = []
        try:
            held, info = allocate_pools(self.card, self.model, self.tp, budget)
            held.append(allocate_mib(self.card, self.runtime_mib))
            if self.client_mib:
                held.append(allocate_mib(self.card, self.client_mib))
        except torch.OutOfMemoryError:
            held.clear()
            self.card.release()
            return False, 0.0, "the server's own state does not fit", {}
        free = self.card.free_mib()
        try:
            op(self.param, self.snapshot, self.card.to_device)
            return True, free, "", info
        except torch.OutOfMemoryError as error:
            return False, free, str(error).split("\n")[0][:160], info
        finally:
            held.clear()
            self.card.release()


def fits_at(state: ServerState, op, fraction: float) -> bool:
    return state.attempt(fraction, op)[0]


def threshold_on_grid(state: ServerState, op, grid: list[float], resolution: float) -> tuple[float | None, str]:
    """The first failure from below, to `resolution`: the grid's first '.' after a '+', then bisection.

    Returns (the largest m found to succeed there, the grid's marks); None when no grid point succeeds.
    """
    passes = [fits_at(state, op, m) for m in grid]
    marks = "".join("+" if ok else "." for ok in passes)
    if True not in passes:
        return None, marks
    first = passes.index(True)
    failed = next((i for i in range(first, len(grid)) if not passes[i]), None)
    if failed is None:
        return grid[-1], marks
    low, high = grid[failed - 1], grid[failed]
    while high - low > resolution:
        middle = (low + high) / 2
        if fits_at(state, op, middle):
            low = middle
        else:
            high = middle
    return low, marks


# --- allocator facts (the data of the advisor's rounding rules) --------------------------------


def allocator_facts(report, card, model: ModelShape, tp: int) -> dict:
    """Weights built two ways, and KV pools of several sizes: segments reserved vs bytes, measured and modelled."""
    from generator.memory.advisor import weights_reserved_mib

    facts: dict = {"n_tensors": len(model.tensors(tp)), "weights_mib": round(model.weights_bytes(tp) / MIB, 3)}
    for style, build in (("fp32_then_cast", build_weights_via_fp32), ("sglang", build_weights)):
        card.release()
        before = card.reserved_mib()
        weights = build(card, model, tp)
        card.release()
        facts[f"weights_reserved_mib_{style}"] = round(card.reserved_mib() - before, 3)
        del weights
        card.release()
    facts["weights_reserved_mib_advisor"] = round(weights_reserved_mib(model, tp), 3)
    facts["pools"] = []
    free = card.free_mib()
    for budget in (40.0, 400.0, 2000.0, 7000.0, 15000.0, 26000.0):
        if budget + 2000 > free:
            continue
        held, info = allocate_pools(card, model, tp, budget)
        facts["pools"].append(info)
        del held
        card.release()
    report.say(
        f"allocator facts ({model.name}, tp={tp}, {facts['n_tensors']} "
        f"tensors, {facts['weights_mib']:.1f} MiB of bf16): "
        f"weights reserve {facts['weights_reserved_mib_sglang']:.1f} MiB built as sglang does (advisor "
        f"{facts['weights_reserved_mib_advisor']:.1f}), "
        f"{facts['weights_reserved_mib_fp32_then_cast']:.1f} MiB built via fp32 "
        f"and cast (this script's earlier way); KV pools, measured/advisor MiB: "
        + ", ".join(
            f"{p['kv_tokens']} tokens {p['reserved_mib_measured']:.1f}/{p['reserved_mib_advisor']:.1f}"
            for p in facts["pools"]
        )
    )
    return facts


# --- the report --------------------------------------------------------------------------------


def nvidia_smi(index: int) -> dict | None:
    try:
        out = subprocess.run(
            [
                "nvidia-smi",
                f"--id={index}",
                "--query-gpu=name,memory.total,memory.used,memory.free",
                "--format=csv,noheader,nounits",
            ],
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        ).stdout.splitlines()[0]
    except (OSError, subprocess.SubprocessError, IndexError):
        return None
    name, total, used, free = (part.strip() for part in out.split(","))
    return {"name": name, "total_mib": float(total), "used_mib": float(used), "free_mib": float(free)}


class Report:
    def __init__(self, out_dir: Path, name: str):
        self.lines: list[str] = []
        self.data: dict = {"cards": []}
        self.out_dir, self.name = out_dir, name

    def say(self, line: str = "") -> None:
        print(line, flush=True)
        self.lines.append(line)

    def save(self) -> None:
        self.out_dir.mkdir(parents=True, exist_ok=True)
        (self.out_dir / f"{self.name}.txt").write_text("\n".join(self.lines) + "\n")
        (self.out_dir / f"{self.name}.json").write_text(json.dumps(self.data, indent=2) + "\n")


def start_client_context(visible_devices: str | None) -> tuple[subprocess.Popen, float]:
    """A real second process holding a CUDA context on this GPU: (process, MiB it took)."""
    before = torch.cuda.mem_get_info()[0]
    env = dict(os.environ) if visible_devices is None else {**os.environ, "CUDA_VISIBLE_DEVICES": visible_devices}
    client = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, torch; torch.empty(1, device='cuda'); print('ready', flush=True); sys.stdin.read()",
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert client.stdout.readline().strip() == "ready"
    time.sleep(0.5)
    return client, (before - torch.cuda.mem_get_info()[0]) / MIB


def advisor_inputs(advice: Advice, capped: bool, nccl_placeholder: float) -> str:
    """The figures this row takes from the advisor rather than from the GPU."""
    r = advice.runtime
    parts = [
        f"runtime {r.total_mib:.0f} (fixed {r.fixed_mib:.0f} calibrated, graphs {r.graphs_mib:.0f}, "
        f"activations {r.activations_mib:.0f}, tp {r.parallel_mib:.0f})"
    ]
    if capped:
        parts.append(f"contexts {SERVER_CONTEXT_MIB:.0f}+{CLIENT_CONTEXT_MIB:.0f}")
        if nccl_placeholder:
            parts.append(f"NCCL {nccl_placeholder:.0f}")
    return "; ".join(parts)


def sweep_card(
    report: Report,
    card,
    label: str,
    advisor_card: Card,
    model: ModelShape,
    tp: int,
    grid: list[float],
    resolution: float,
    nccl_placeholder: float = 0.0,
    start_client=None,
    nccl_measured: float = 0.0,
) -> dict:
    """Build the state on `card`, sweep and bisect every case, print measured vs predicted.

    Under a cap the contexts (and NCCL) are placeholders; uncapped (`start_client` given) they are real:
    a client process is started once the server state is built.
    """
    capped = card.cap_bytes is not None
    held = []
    if capped:
        held.append(allocate_mib(card, SERVER_CONTEXT_MIB))
        if nccl_placeholder:
            held.append(allocate_mib(card, nccl_placeholder))
    server_free = card.free_mib()
    advice = advise(model, advisor_card, tp)
    client_placeholder = CLIENT_CONTEXT_MIB if capped else 0.0
    state = ServerState(card, model, tp, advice.runtime.total_mib, client_placeholder, server_free)
    measured: dict = {}
    if start_client is not None:
        measured["server_context_mib"] = round(advisor_card.start_free_mib - server_free - nccl_measured, 1)
        measured["client_context_mib"] = round(start_client(), 1)
        report.say(
            f"\nreal server CUDA context: {measured['server_context_mib']:.0f} "
            f"MiB (advisor assumes {SERVER_CONTEXT_MIB:.0f}); "
            f"real second-process CUDA context: {measured['client_context_mib']:.0f} "
            f"MiB (advisor assumes {CLIENT_CONTEXT_MIB:.0f})"
        )
    # the advisor given what was measured here: P, and uncapped the real client context
    measured_card = Card(
        advisor_card.name, advisor_card.total_mib, server_free + advice.server_context_mib + (NCCL_MIB if tp > 1 else 0)
    )
    client_mib = measured.get("client_context_mib", CLIENT_CONTEXT_MIB)
    weights_reserved = server_free - state.free_after_weights_mib
    report.say(f"\n## {label}")
    report.say(
        f"P (free after the server's context{' and NCCL' if tp > 1 else ''}) measured {server_free:.0f} MiB, advisor "
        f"{advice.server_free_mib:.0f} MiB; weights {state.weights_mib:.1f} "
        f"MiB in {len(state.weights)} tensors reserve "
        f"{weights_reserved:.1f} MiB (advisor {advice.weights_reserved_mib:.1f}); "
        "KV pool and request table: sglang's sizes "
        f"from the free memory measured after loading, real allocations; client context "
        f"{'a real second process' if start_client else f'placeholder {CLIENT_CONTEXT_MIB:.0f} MiB'}"
    )
    inputs = advisor_inputs(advice, capped, nccl_placeholder)
    entry = {
        "label": label,
        "capped": capped,
        "card_mib": advisor_card.total_mib,
        "tp": tp,
        "server_free_mib": round(server_free, 1),
        "advisor_server_free_mib": round(advice.server_free_mib, 1),
        "weights_mib": round(state.weights_mib, 1),
        "weights_reserved_mib": round(weights_reserved, 1),
        "advisor_weights_reserved_mib": round(advice.weights_reserved_mib, 1),
        "runtime_mib": round(advice.runtime.total_mib, 1),
        "advisor_inputs": inputs,
        "nccl_placeholder_mib": nccl_placeholder,
        "default_mem_fraction": advice.default_mem_fraction,
        **measured,
        "cases": [],
    }
    ok, free, message, _ = state.attempt(advice.default_mem_fraction, compare_unchunked)
    report.say(
        f"at sglang's default {advice.default_mem_fraction}: {free:.0f} MiB free before the checker; "
        f"unchunked compare {'succeeds' if ok else 'fails: ' + message}"
    )
    entry["at_default"] = {"free_mib": round(free, 1), "unchunked_compare_ok": ok, "message": message}
    rows = []
    for name, code, action, op in CASES:
        peak = weight_checker_peak(model, tp, code)
        peak_mib = peak.compare_mib if action == "compare" else peak.reset_mib
        try:
            allocated, reserved = card.measure_peak(lambda op=op: op(state.param, state.snapshot, card.to_device))
        except torch.OutOfMemoryError:  # not even with no KV pool: every grid point fails too
            allocated = reserved = float("nan")
            card.release()
        state.param.view(-1)[0] = state.snapshot.view(-1)[0] + 1  # keep it differing after a reset
        term = checker_allocator_mib(model, tp, code, action)
        predicted = advice.largest_fraction(peak_mib + term)
        from_measured = replace(advise(model, measured_card, tp), client_context_mib=client_mib).largest_fraction(
            peak_mib + term
        )
        threshold, marks = threshold_on_grid(state, op, grid, resolution)
        at_threshold = {} if threshold is None else state.attempt(threshold, op)
        above = None if threshold is None else state.attempt(threshold + resolution, op)
        diff = None if threshold is None else threshold - predicted
        rows.append((name, peak_mib, allocated, reserved, term, threshold, predicted, diff, marks))
        print(
            f"  {name}: threshold {threshold}, predicted {predicted:.4f} "
            f"(from the measured P and contexts: {from_measured:.4f}), "
            f"peak allocated {allocated:.1f} reserved {reserved:.1f} MiB",
            flush=True,
        )
        entry["cases"].append(
            {
                "case": name,
                "code": code,
                "action": action,
                "largest_tensor": peak.tensor.name,
                "numel": peak.tensor.numel,
                "peak_mib_advisor": round(peak_mib, 2),
                "peak_mib_measured": None if allocated != allocated else round(allocated, 2),
                "peak_reserved_mib_measured": None if reserved != reserved else round(reserved, 2),
                "allocator_term_mib": round(term, 2),
                "threshold_measured": None if threshold is None else round(threshold, 5),
                "threshold_predicted": round(predicted, 5),
                "threshold_predicted_from_measured_state": round(from_measured, 5),
                "difference": None if diff is None else round(diff, 5),
                "grid_pass": marks,
                "free_before_op_at_threshold_mib": None if threshold is None else round(at_threshold[1], 1),
                "pools_at_threshold": None if threshold is None else at_threshold[3],
                "above_threshold": None
                if above is None
                else {
                    "fraction": round(threshold + resolution, 5),
                    "ok": above[0],
                    "free_before_op_mib": round(above[1], 1),
                    "message": above[2],
                },
            }
        )
    report.say(
        f"grid: m = {grid[0]:.2f} .. {grid[-1]:.2f} step "
        f"{grid[1] - grid[0]:.2f}; '+' = the checker's op succeeded, '.' = OOM"
    )
    report.say(
        "| case | peak MiB (advisor) | peak MiB (measured: allocated / reserved) | allocator term MiB (advisor) | "
        "threshold m (measured) | predicted m (advisor) | measured - predicted | grid | advisor's inputs |"
    )
    report.say("|---|---|---|---|---|---|---|---|---|")
    for name, peak_mib, allocated, reserved, term, threshold, predicted, diff, marks in rows:
        shown = "none" if threshold is None else f"{threshold:.4f}"
        delta = "n/a" if diff is None else f"{diff:+.4f}"
        report.say(
            f"| {name} | {peak_mib:.1f} | {allocated:.1f} / {reserved:.1f} "
            f"| {term:.1f} | {shown} | {predicted:.4f} | {delta} | "
            f"`{marks}` | {inputs} |"
        )
    report.data["cards"].append(entry)
    return entry  # the state goes with this frame; the next set_cap empties the cache


def grid_of(text: str) -> list[float]:
    start, stop, step = (float(x) for x in text.split(":"))
    return [round(start + i * step, 4) for i in range(int(round((stop - start) / step)) + 1)]


def init_nccl(rank: int, tp: int) -> tuple[float, object]:
    """One process per GPU: the process group and its communicators (an all-reduce). Returns (MiB they took, group)."""
    import torch.distributed as dist

    before = torch.cuda.mem_get_info()[0]
    dist.init_process_group("nccl", rank=rank, world_size=tp, device_id=torch.device("cuda", rank))
    tensor = torch.ones(1 << 20, device=torch.device("cuda", rank))
    dist.all_reduce(tensor)
    torch.cuda.synchronize()
    assert tensor[0].item() == tp
    del tensor
    torch.cuda.empty_cache()
    return (before - torch.cuda.mem_get_info()[0]) / MIB, dist


def run_one(args, model: ModelShape, rank: int, name: str) -> int:
    """One GPU (or one rank of tp): allocator facts, then every capped card, then the GPU as it is."""
    report = Report(args.out, name)
    started = time.time()
    tp = args.tp
    report.say(
        "# Weight checker on a real allocator: measured OOM threshold "
        f"vs cigen's advisor ({model.name}, tp={tp}, rank {rank})"
    )
    gpu_index = int(os.environ.get("CIGEN_GPU_INDEX", "0"))
    smi = nvidia_smi(gpu_index) if args.device == "cuda" else None  # before this process's context: free at start
    card = CudaCard(rank if tp > 1 else 0) if args.device == "cuda" else CpuCard()
    nccl_mib = 0.0
    if tp > 1 and args.device == "cuda":
        nccl_mib, _ = init_nccl(rank, tp)
        report.say(f"NCCL communicators (process group + an all-reduce), measured: {nccl_mib:.0f} MiB on this GPU")
    elif tp > 1:
        nccl_mib = NCCL_MIB  # no NCCL on CPU: the advisor's figure stands in
    if args.device == "cuda":
        report.say(
            f"device: {torch.cuda.get_device_name()} (index {gpu_index}); "
            f"nvidia-smi {json.dumps(smi)}; torch {torch.__version__}"
        )
    else:
        report.say(f"device: CPU with a byte-counting cap (test mode); torch {torch.__version__}")
    report.data.update(
        {
            "device": torch.cuda.get_device_name() if args.device == "cuda" else "cpu",
            "nvidia_smi": smi,
            "torch": torch.__version__,
            "model": model.name,
            "tp": tp,
            "rank": rank,
            "nccl_mib_measured": round(nccl_mib, 1),
        }
    )
    if args.device == "cuda" and not args.skip_facts:
        report.data["allocator_facts"] = allocator_facts(report, card, model, tp)
        report.save()
    for card_mib in (float(x) for x in args.card_mib.split(",") if x):
        cap_mib = card_mib - DRIVER_RESERVED_MIB
        card.set_cap(cap_mib)
        reserve = DRIVER_RESERVED_MIB
        label = f"Emulated card of {card_mib:.0f} MiB (cap {cap_mib:.0f} MiB = total - {reserve:.0f} driver reserve)"
        advice = advise(model, Card("emulated", card_mib), tp)
        if advice.min_mem_fraction >= 1:
            report.say(
                f"\n## {label}\nthe weights alone ({advice.weights_reserved_mib:.0f} "
                "MiB) exceed P: nothing fits (advisor: none)"
            )
            report.data["cards"].append(
                {
                    "label": label,
                    "capped": True,
                    "card_mib": card_mib,
                    "tp": tp,
                    "fits": False,
                    "advisor_min_mem_fraction": round(advice.min_mem_fraction, 4),
                }
            )
            continue
        sweep_card(
            report,
            card,
            label,
            Card("emulated", card_mib),
            model,
            tp,
            grid_of(args.grid),
            args.resolution,
            nccl_placeholder=NCCL_MIB if tp > 1 else 0.0,
        )
        report.save()  # what is measured so far survives a later failure
    if args.device == "cuda" and not args.skip_uncapped and smi is not None:
        card.set_cap(None)
        clients: list[subprocess.Popen] = []

        def start_client() -> float:
            client, mib = start_client_context(str(gpu_index) if tp > 1 else None)
            clients.append(client)
            return mib

        try:
            label = f"This GPU as it is ({smi['name']}, {smi['total_mib']:.0f} MiB; real server and client contexts)"
            advisor_card = Card(smi["name"], smi["total_mib"], smi["free_mib"])
            sweep_card(
                report,
                card,
                label,
                advisor_card,
                model,
                tp,
                grid_of(args.uncapped_grid),
                args.resolution,
                start_client=start_client,
                nccl_measured=nccl_mib,
            )
        finally:
            for client in clients:
                client.stdin.close()
                client.wait(timeout=60)
    report.say(f"\nwall time {time.time() - started:.0f} s")
    report.save()
    return 0


def run_ranks(args, argv: list[str], model: ModelShape, name: str) -> int:
    """tp > 1 on CUDA: one process per GPU (rank r on GPU r), then the thresholds' minimum over ranks."""
    env = {**os.environ, "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": os.environ.get("MASTER_PORT", "29517")}
    ranks = [
        subprocess.Popen(
            [sys.executable, __file__, *argv, "--rank", str(rank)], env={**env, "CIGEN_GPU_INDEX": str(rank)}
        )
        for rank in range(args.tp)
    ]
    codes = [rank.wait() for rank in ranks]
    results = [json.loads((args.out / f"{name}-rank{rank}.json").read_text()) for rank in range(args.tp)]
    report = Report(args.out, name)
    report.data = {"model": model.name, "tp": args.tp, "ranks": results}
    report.say(f"# {model.name}, tp={args.tp}: the threshold is the lowest over the ranks (exit codes {codes})")
    for index, card in enumerate(results[0]["cards"]):
        report.say(f"\n## {card['label']}")
        report.say("| case | threshold m per rank (measured) | lowest | predicted m (advisor) | measured - predicted |")
        report.say("|---|---|---|---|---|")
        for row, case in enumerate(card.get("cases", [])):
            values = [r["cards"][index]["cases"][row]["threshold_measured"] for r in results]
            low = None if None in values else min(values)
            shown = " / ".join("none" if v is None else f"{v:.4f}" for v in values)
            delta = "n/a" if low is None else f"{low - case['threshold_predicted']:+.4f}"
            report.say(
                f"| {case['case']} | {shown} | {'none' if low is None else f'{low:.4f}'} "
                f"| {case['threshold_predicted']:.4f} | {delta} |"
            )
    report.save()
    return max(codes)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="Qwen3-0.6B", help="built-in name or config.json")
    parser.add_argument(
        "--tp", type=int, default=1, help="tensor parallelism: one process per GPU on CUDA; rank 0's shard on CPU"
    )
    parser.add_argument("--rank", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--device", choices=["cuda", "cpu"], default="cuda")
    parser.add_argument(
        "--card-mib", default=str(RTX_5090_MIB), help="nvidia-smi totals of the cards to emulate, comma-separated"
    )
    parser.add_argument(
        "--grid", default="0.40:0.96:0.02", help="start:stop:step of the coarse sweep on the emulated cards"
    )
    parser.add_argument("--uncapped-grid", default="0.80:0.99:0.01", help="the same on the GPU as it is")
    parser.add_argument("--resolution", type=float, default=0.0001, help="bisection resolution in m")
    parser.add_argument("--skip-uncapped", action="store_true", help="only the emulated cards")
    parser.add_argument("--skip-facts", action="store_true", help="no allocator facts before the sweep")
    parser.add_argument("--out", type=Path, default=Path("."))
    parser.add_argument("--name", help="output file stem (default MODEL-tpN)")
    args = parser.parse_args(argv)
    model = load_model(args.model)
    name = args.name or f"{model.name}-tp{args.tp}"
    if args.tp > 1 and args.device == "cuda" and args.rank is None:
        return run_ranks(args, argv, model, name)
    return run_one(args, model, args.rank or 0, name if args.rank is None else f"{name}-rank{args.rank}")


if __name__ == "__main__":
    sys.exit(main())
