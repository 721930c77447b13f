#!/usr/bin/env python3
"""Proof on a real GPU: where does the weight checker run out of memory, and did the advisor say so?

No sglang: the server's memory state is rebuilt with torch alone, in the order the server builds it:
  1. the card: an RTX 5090 emulated on a larger GPU with torch.cuda.set_per_process_memory_fraction
     (cap = 32607 - 512 MiB driver reserve), or the GPU as it is;
  2. the server's CUDA context (620 MiB; a placeholder under the cap, the real one uncapped);
     P = what is free now, as sglang measures it;
  3. Qwen3-0.6B-shaped weights: random bf16 tensors with the config's (fused) shapes;
  4. the KV pool, sized so weights + pool = m * P, as sglang's profile_max_num_token does;
  5. the server's runtime outside the pool (CUDA graphs, workspaces, buffers): the advisor's
     calibrated figure, as one allocation;
  6. the test client's CUDA context (560 MiB; a placeholder under the cap, a real second process
     uncapped);
then runs the weight checker's own torch ops on the embedding (compare of a tensor that differs,
and reset; the unchunked code at the time of the fix and sglang 0.5.23's chunked code). It sweeps
m, bisects the largest m that still succeeds, and prints it next to the advisor's prediction
(`max_fit_mem_fraction`: headroom == peak, no margin).

What this measures for real: the checker's peak on a real caching allocator, the pool and headroom
arithmetic with real allocations, P under the cap and (uncapped) the real contexts. What it takes
from the advisor: the runtime figure (calibrated on the one 5090 data point) and, under the cap,
the two context sizes.

`--device cpu` runs the same flow with a cap that counts live tensor bytes (for tests; no caching
allocator there). Writes a text report and JSON into --out.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
import weakref
from collections import defaultdict
from pathlib import Path

for _base in (Path(__file__).resolve().parent, Path(__file__).resolve().parent.parent):
    if (_base / "generator" / "memory.py").is_file():
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
    SERVER_CONTEXT_MIB,
    Card,
    advise,
    weight_checker_peak,
)
from generator.memory.hfmodel import ModelShape, load_model  # noqa: E402

RTX_5090_MIB = 32607.0


# --- the weight checker's allocations, as sglang's code makes them ---------------------------


def compare_unchunked(actual: torch.Tensor, snapshot: torch.Tensor, to_device) -> float:
    """sglang at the time of the fix: fp32 of both sides and their difference, whole tensor."""
    actual_f = actual.float()  # the first request: 4N bytes (594 MiB for the embedding)
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
    """This GPU; with `cap_mib`, a smaller card emulated by the allocator's per-process limit."""

    def __init__(self, cap_mib: float | None):
        torch.cuda.init()
        torch.empty(1, device="cuda")  # create this process's context now
        self.device = torch.device("cuda")
        self.total_bytes = torch.cuda.get_device_properties(0).total_memory
        self.cap_bytes = None if cap_mib is None else int(cap_mib * MIB)
        if self.cap_bytes is not None:
            torch.cuda.set_per_process_memory_fraction(self.cap_bytes / self.total_bytes)

    def free_mib(self) -> float:
        torch.cuda.synchronize()
        if self.cap_bytes is not None:
            return (self.cap_bytes - torch.cuda.memory_reserved()) / MIB
        return torch.cuda.mem_get_info()[0] / MIB

    def release(self) -> None:
        torch.cuda.synchronize()
        torch.cuda.empty_cache()

    def to_device(self, tensor: torch.Tensor) -> torch.Tensor:
        return tensor.to(self.device)

    def host_copy(self, tensor: torch.Tensor) -> torch.Tensor:
        """The snapshot: sglang keeps it in host memory."""
        return tensor.cpu()

    def measure_peak(self, fn) -> float:
        """MiB the call allocated above what was live before it."""
        self.release()
        before = torch.cuda.memory_allocated()
        torch.cuda.reset_peak_memory_stats()
        fn()
        torch.cuda.synchronize()
        return (torch.cuda.max_memory_allocated() - before) / MIB


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

    def __init__(self, cap_mib: float):
        self.device = torch.device("cpu")
        self.cap_bytes = int(cap_mib * MIB)
        self.total_bytes = self.cap_bytes
        self.mode = _LiveBytes(self.cap_bytes)
        self.mode.__enter__()

    def free_mib(self) -> float:
        return (self.cap_bytes - self.mode.live) / MIB

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

    def measure_peak(self, fn) -> float:
        before = self.mode.live
        self.mode.peak = before
        fn()
        return (self.mode.peak - before) / MIB


# --- the server's state ----------------------------------------------------------------------


def allocate_mib(card, mib: float) -> torch.Tensor:
    return torch.empty(max(0, int(mib * MIB)), dtype=torch.uint8, device=card.device)


def build_weights(card, model: ModelShape) -> dict[str, torch.Tensor]:
    generator = torch.Generator(device=card.device).manual_seed(0)
    return {
        t.name: torch.randn(t.shape, generator=generator, device=card.device, dtype=torch.float32).to(torch.bfloat16)
        if t.numel <= CHECKER_CHUNK_NUMEL
        else _randn_chunked(t.shape, generator, card.device)
        for t in model.tensors()
    }


def _randn_chunked(shape, generator, device) -> torch.Tensor:
    out = torch.empty(shape, dtype=torch.bfloat16, device=device)
    for chunk in out.view(-1).split(CHECKER_CHUNK_NUMEL):
        chunk.copy_(torch.randn(chunk.shape, generator=generator, device=device, dtype=torch.float32))
    return out


class ServerState:
    """Weights stay; pool, runtime and client context are rebuilt for each fraction tried."""

    def __init__(self, card, model: ModelShape, runtime_mib: float, client_context, server_free_mib: float):
        self.card, self.runtime_mib, self.client_context = card, runtime_mib, client_context
        self.server_free_mib = server_free_mib
        self.weights = build_weights(card, model)
        self.weights_mib = sum(w.numel() * w.element_size() for w in self.weights.values()) / MIB
        largest = model.largest_tensor()
        self.param = self.weights[largest.name]
        self.snapshot = card.host_copy(self.param)
        self.param.view(-1)[0] += 1  # the update the test made: compare must find a difference
        card.release()

    def attempt(self, fraction: float, op) -> tuple[bool, float, str]:
        """Run `op` with the server at `fraction`: (succeeded, free MiB before it, OOM message)."""
        held = []
        try:
            held.append(allocate_mib(self.card, fraction * self.server_free_mib - self.weights_mib))
            held.append(allocate_mib(self.card, self.runtime_mib))
            if self.client_context:
                held.append(allocate_mib(self.card, self.client_context))
        except torch.OutOfMemoryError:
            held.clear()
            self.card.release()
            return False, 0.0, "the server's own state does not fit"
        free = self.card.free_mib()
        try:
            op(self.param, self.snapshot, self.card.to_device)
            return True, free, ""
        except torch.OutOfMemoryError as error:
            return False, free, str(error).split("\n")[0][:160]
        finally:
            held.clear()
            self.card.release()


def fits_at(state: ServerState, op, fraction: float) -> bool:
    return state.attempt(fraction, op)[0]


def bisect_threshold(state: ServerState, op, low: float, high: float, resolution: float) -> float | None:
    """The largest fraction (to `resolution`) at which `op` succeeds; None if it fails at `low`."""
    if not fits_at(state, op, low):
        return None
    if fits_at(state, op, high):
        return high
    while high - low > resolution:
        middle = (low + high) / 2
        if fits_at(state, op, middle):
            low = middle
        else:
            high = middle
    return low


# --- the report --------------------------------------------------------------------------------


def nvidia_smi() -> dict | None:
    try:
        out = subprocess.run(
            ["nvidia-smi", "--query-gpu=name,memory.total,memory.used,memory.free", "--format=csv,noheader,nounits"],
            capture_output=True, text=True, timeout=30, check=True,
        ).stdout.splitlines()[0]  # fmt: skip
    except (OSError, subprocess.SubprocessError, IndexError):
        return None
    name, total, used, free = (part.strip() for part in out.split(","))
    return {"name": name, "total_mib": float(total), "used_mib": float(used), "free_mib": float(free)}


class Report:
    def __init__(self, out_dir: Path):
        self.lines: list[str] = []
        self.data: dict = {"cards": []}
        self.out_dir = out_dir

    def say(self, line: str = "") -> None:
        print(line, flush=True)
        self.lines.append(line)

    def save(self) -> None:
        self.out_dir.mkdir(parents=True, exist_ok=True)
        (self.out_dir / "gpu_weight_checker_sweep.txt").write_text("\n".join(self.lines) + "\n")
        (self.out_dir / "gpu_weight_checker_sweep.json").write_text(json.dumps(self.data, indent=2) + "\n")


def start_client_context() -> tuple[subprocess.Popen, float]:
    """A real second process holding a CUDA context on this GPU: (process, MiB it took)."""
    before = torch.cuda.mem_get_info()[0]
    client = subprocess.Popen(
        [sys.executable, "-c", "import sys, torch; torch.empty(1, device='cuda'); print('ready', flush=True); sys.stdin.read()"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert client.stdout.readline().strip() == "ready"
    time.sleep(0.5)
    return client, (before - torch.cuda.mem_get_info()[0]) / MIB


def sweep_card(report: Report, card, label: str, advisor_card: Card, model: ModelShape, client_mib_placeholder: float, grid: list[float], start_client=None) -> dict:
    """Build the state on `card`, sweep and bisect every case, print measured vs predicted.

    `start_client` (uncapped): starts a real client process once the server state is built and
    returns the MiB its context took; otherwise a placeholder of `client_mib_placeholder`.
    """
    capped = card.cap_bytes is not None if isinstance(card, CudaCard) else True
    if capped:
        server_context = allocate_mib(card, SERVER_CONTEXT_MIB)  # noqa: F841 - held for the whole sweep
    server_free = card.free_mib()
    advice = advise(model, advisor_card)
    state = ServerState(card, model, advice.runtime.total_mib, client_mib_placeholder, server_free)
    measured_context = {}
    if start_client is not None:
        measured_context["server_context_mib"] = round(advisor_card.start_free_mib - server_free, 1)
        report.say(f"\nreal server CUDA context (nvidia-smi free at start - P): {measured_context['server_context_mib']:.0f} MiB (advisor assumes {SERVER_CONTEXT_MIB:.0f})")
        measured_context["client_context_mib"] = round(start_client(), 1)
        report.say(f"\nreal second-process CUDA context: {measured_context['client_context_mib']:.0f} MiB (advisor assumes {CLIENT_CONTEXT_MIB:.0f})")
    report.say(f"\n## {label}")
    report.say(
        f"P (free after the server's context) measured {server_free:.0f} MiB, advisor {advice.server_free_mib:.0f} MiB; "
        f"weights {state.weights_mib:.1f} MiB ({len(state.weights)} tensors, random bf16); "
        f"runtime outside the pool {advice.runtime.total_mib:.1f} MiB (advisor, one allocation); "
        f"client context {f'placeholder {client_mib_placeholder:.0f} MiB' if client_mib_placeholder else 'a real second process'}"
    )
    entry = {"label": label, "server_free_mib": round(server_free, 1), "advisor_server_free_mib": round(advice.server_free_mib, 1),
             "weights_mib": round(state.weights_mib, 1), "runtime_mib": round(advice.runtime.total_mib, 1),
             "default_mem_fraction": advice.default_mem_fraction, **measured_context, "cases": []}  # fmt: skip
    ok, free, message = state.attempt(advice.default_mem_fraction, compare_unchunked)
    report.say(
        f"at sglang's default {advice.default_mem_fraction}: {free:.0f} MiB free before the checker; "
        f"unchunked compare {'succeeds' if ok else 'fails: ' + message}"
    )
    entry["at_default"] = {"free_mib": round(free, 1), "unchunked_compare_ok": ok, "message": message}
    rows = []
    for name, code, action, op in CASES:
        peak = weight_checker_peak(model, code=code)
        peak_mib = peak.compare_mib if action == "compare" else peak.reset_mib
        measured_peak = card.measure_peak(lambda op=op: op(state.param, state.snapshot, card.to_device))
        state.param.view(-1)[0] = state.snapshot.view(-1)[0] + 1  # keep it differing after a reset
        predicted = advise(model, advisor_card, extra_peak=peak_mib).max_fit_mem_fraction
        predicted_measured_p = 1 - (advice.runtime.total_mib + (client_mib_placeholder or measured_context.get("client_context_mib", CLIENT_CONTEXT_MIB)) + peak_mib) / server_free
        threshold = bisect_threshold(state, op, grid[0], grid[-1], 0.0005)
        marks = "".join("+" if fits_at(state, op, m) else "." for m in grid)
        diff = None if threshold is None else threshold - predicted
        rows.append((name, peak_mib, measured_peak, threshold, predicted, diff, marks))
        print(f"  {name}: threshold {threshold}, predicted {predicted:.4f} (from the measured P and contexts: {predicted_measured_p:.4f}), peak {measured_peak:.1f} MiB", flush=True)
        entry["cases"].append({"case": name, "peak_mib_advisor": round(peak_mib, 2), "peak_mib_measured": round(measured_peak, 2),
                               "threshold_measured": None if threshold is None else round(threshold, 4),
                               "threshold_predicted": round(predicted, 4),
                               "threshold_predicted_from_measured_state": round(predicted_measured_p, 4),
                               "difference": None if diff is None else round(diff, 4), "grid_pass": marks})  # fmt: skip
    report.say(f"grid: m = {grid[0]:.2f} .. {grid[-1]:.2f} step {grid[1] - grid[0]:.2f}; '+' = the checker's op succeeded, '.' = CUDA OOM")
    report.say("| case | peak MiB (advisor) | peak MiB (measured) | threshold m (measured) | predicted m (advisor) | measured - predicted | grid |")
    report.say("|---|---|---|---|---|---|---|")
    for name, peak_mib, measured_peak, threshold, predicted, diff, marks in rows:
        shown = "none" if threshold is None else f"{threshold:.4f}"
        delta = "n/a" if diff is None else f"{diff:+.4f}"
        report.say(f"| {name} | {peak_mib:.1f} | {measured_peak:.1f} | {shown} | {predicted:.4f} | {delta} | `{marks}` |")
    report.data["cards"].append(entry)
    return entry


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="Qwen3-0.6B", help="built-in name or config.json")
    parser.add_argument("--device", choices=["cuda", "cpu"], default="cuda")
    parser.add_argument("--card-mib", type=float, default=RTX_5090_MIB, help="nvidia-smi total of the card to emulate")
    parser.add_argument("--grid", default="0.70:0.95:0.01", help="start:stop:step of the coarse sweep")
    parser.add_argument("--skip-uncapped", action="store_true", help="only the emulated card")
    parser.add_argument("--out", type=Path, default=Path("."))
    args = parser.parse_args(argv)
    start, stop, step = (float(x) for x in args.grid.split(":"))
    grid = [round(start + i * step, 4) for i in range(int(round((stop - start) / step)) + 1)]
    model = load_model(args.model)
    report = Report(args.out)
    started = time.time()
    report.say("# Weight checker on a real allocator: measured OOM threshold vs cigen's advisor")
    smi = nvidia_smi() if args.device == "cuda" else None
    cap_mib = args.card_mib - DRIVER_RESERVED_MIB
    if args.device == "cuda":
        card = CudaCard(cap_mib)
        report.say(
            f"device: {torch.cuda.get_device_name(0)}; nvidia-smi {json.dumps(smi)}; CUDA total {card.total_bytes / MIB:.0f} MiB; "
            f"torch {torch.__version__}; model {model.name}"
        )
    else:
        card = CpuCard(cap_mib)
        report.say(f"device: CPU with a byte-counting cap (test mode); torch {torch.__version__}; model {model.name}")
    report.data.update({"device": torch.cuda.get_device_name(0) if args.device == "cuda" else "cpu", "nvidia_smi": smi,
                        "torch": torch.__version__, "model": model.name, "grid": grid})  # fmt: skip
    label = f"Emulated card of {args.card_mib:.0f} MiB (cap {cap_mib:.0f} MiB = total - {DRIVER_RESERVED_MIB:.0f} driver reserve)"
    sweep_card(report, card, label, Card("emulated", args.card_mib), model, CLIENT_CONTEXT_MIB, grid)
    report.save()  # what is measured so far survives a later failure
    if args.device == "cuda" and not args.skip_uncapped and smi is not None:
        torch.cuda.set_per_process_memory_fraction(1.0)
        card.cap_bytes = None
        card.release()
        clients: list[subprocess.Popen] = []

        def start_client() -> float:
            client, mib = start_client_context()
            clients.append(client)
            return mib

        try:
            label = f"This GPU as it is ({smi['name']}, {smi['total_mib']:.0f} MiB; real server and client contexts)"
            top = [round(0.80 + i * 0.01, 2) for i in range(20)]
            advisor_card = Card(smi["name"], smi["total_mib"], smi["free_mib"])
            sweep_card(report, card, label, advisor_card, model, 0.0, top, start_client)
        finally:
            for client in clients:
                client.stdin.close()
                client.wait(timeout=60)
    report.say(f"\nwall time {time.time() - started:.0f} s")
    report.save()
    return 0


if __name__ == "__main__":
    sys.exit(main())
