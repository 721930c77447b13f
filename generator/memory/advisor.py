"""Model x card x `--mem-fraction-static` -> the GPU memory a model test has left, and a verdict.

sglang's split, with m = --mem-fraction-static (README, "GPU-memory advisor", has the derivation):
  P  = free memory the server measures after its CUDA context, before loading weights
  m*P             weights + KV pool (the static pool)
  P*(1-m)         everything else: the server's CUDA graphs, workspaces and buffers (runtime),
                  the test client's CUDA context, and whatever the test allocates (its peak)
  headroom(m) = P*(1-m) - runtime - client context; the test fits when headroom >= peak + margin.
The default m is sglang's own formula for the card. Standard library only: the composite action
imports this module with whatever Python the runner has.
"""

from __future__ import annotations

import math
import shlex
from dataclasses import dataclass
from functools import cache

from generator.errors import UserError
from generator.memory.hfmodel import ModelShape, TensorShape, load_model

MIB = 1 << 20
GIB_MIB = 1024

# Measured or stated in shared/notes/weight-checker-memory.md:
SERVER_CONTEXT_MIB = 620.0  # the server's own CUDA context (measured on an H100)
CLIENT_CONTEXT_MIB = 560.0  # the test process's CUDA context on the same GPU (0.5-0.6 GiB)
DRIVER_RESERVED_MIB = 512.0  # nvidia-smi total minus what an idle card has free, when free is unknown
MARGIN_MIB = 512.0  # safety margin on top of the test's peak
CHECKER_CHUNK_NUMEL = 1 << 26  # sglang's chunked weight checker works on 64M elements at a time

# The one real data point, used to calibrate the runtime: Qwen3-0.6B, TP1, on an RTX 5090
# (32607 MiB) at the default fraction, only ~207 MiB were free once the server was up and
# the test client held its CUDA context.
CALIBRATION_MODEL = "Qwen3-0.6B"
CALIBRATION_CARD_MIB = 32607.0
CALIBRATION_FREE_MIB = 207.0


@dataclass(frozen=True)
class Tier:
    """sglang's capacity defaults for cards below `below_gib` (None: every larger card)."""

    below_gib: float | None
    chunked_prefill_size: int
    decode_max_bs: int
    decode_max_bs_tp4: int  # with tp >= 4


@dataclass(frozen=True)
class SglangDefaults:
    """One sglang version's capacity tiers; the reserve formula is the same in all of them."""

    name: str
    tiers: tuple[Tier, ...]

    def tier(self, gpu_mib: float) -> Tier:
        return next(t for t in self.tiers if t.below_gib is None or gpu_mib < t.below_gib * GIB_MIB)


# "fix-time": the code the 5090 OOM and its fix were measured on (the notes' tiers; the
# 20/60/160+ GiB tiers as in 0.5.23). "0.5.23": read from the wheel's arg_groups/memory_hook.py,
# which raised the 20-35 GiB tier to chunked prefill 4096 and decode max bs 48.
SGLANG_DEFAULTS = {
    "fix-time": SglangDefaults(
        "fix-time",
        (
            Tier(20, 2048, 8, 8),
            Tier(35, 2048, 24, 80),
            Tier(60, 4096, 32, 160),
            Tier(90, 8192, 256, 512),
            Tier(160, 8192, 256, 512),
            Tier(None, 16384, 512, 512),
        ),
    ),
    "0.5.23": SglangDefaults(
        "0.5.23",
        (
            Tier(20, 2048, 8, 8),
            Tier(35, 4096, 48, 160),
            Tier(60, 4096, 32, 160),
            Tier(90, 8192, 256, 512),
            Tier(160, 8192, 256, 512),
            Tier(None, 16384, 512, 512),
        ),
    ),
}
DEFAULT_SGLANG = "fix-time"
CHECKER_CODES = ("unchunked", "chunked")
DEFAULT_CHECKER = "unchunked"


def prefill_graph_sizes(max_tokens: int) -> list[int]:
    """sglang's prefill CUDA-graph token counts up to `max_tokens` (its chunked prefill size)."""
    sizes = (
        list(range(4, 33, 4))
        + list(range(48, 257, 16))
        + list(range(288, 513, 32))
        + list(range(576, 1025, 64))
        + list(range(1280, 4097, 256))
        + list(range(4608, max_tokens + 1, 512))
    )
    return [size for size in sizes if size <= max_tokens]


@dataclass(frozen=True)
class Reserve:
    """What sglang sets aside outside the static pool when it picks the default fraction."""

    activations_mib: float  # 1.5 x max(chunked prefill, 2048)
    parallel_mib: float  # 128 x tp x pp
    decode_graphs_mib: float  # 2 x decode max bs
    prefill_graphs_mib: float  # 8 x number of prefill graph sizes
    floor_mib: float  # 10240 on cards over 60 GiB
    constant_mib: float = 512.0

    @property
    def total_mib(self) -> float:
        parts = self.constant_mib + self.activations_mib + self.parallel_mib
        return max(parts + self.decode_graphs_mib + self.prefill_graphs_mib, self.floor_mib)


def sglang_reserve(gpu_mib: float, tp: int = 1, pp: int = 1, defaults: str = DEFAULT_SGLANG) -> Reserve:
    """sglang's `reserved_mem` for a card of `gpu_mib` (nvidia-smi memory.total)."""
    tier = SGLANG_DEFAULTS[defaults].tier(gpu_mib)
    decode_max_bs = tier.decode_max_bs if tp < 4 else tier.decode_max_bs_tp4
    return Reserve(
        activations_mib=1.5 * max(tier.chunked_prefill_size, 2048),
        parallel_mib=128.0 * tp * pp,
        decode_graphs_mib=2.0 * decode_max_bs,
        prefill_graphs_mib=8.0 * len(prefill_graph_sizes(tier.chunked_prefill_size)),
        floor_mib=10240.0 if gpu_mib > 60 * GIB_MIB else 0.0,
    )


def default_mem_fraction(gpu_mib: float, tp: int = 1, defaults: str = DEFAULT_SGLANG) -> float:
    """sglang's `--mem-fraction-static` when the flag is absent: (total - reserve) / total, 3 decimals."""
    return round((gpu_mib - sglang_reserve(gpu_mib, tp, 1, defaults).total_mib) / gpu_mib, 3)


@dataclass(frozen=True)
class Runtime:
    """The server's own memory outside the static pool once it serves: graphs, workspaces, buffers."""

    fixed_mib: float  # workspaces and buffers of any card, calibrated on the 5090 data point
    graphs_mib: float  # sglang's per-graph estimates for the card's decode and prefill graphs
    activations_mib: float  # the model's widest per-token activation x chunked prefill tokens
    parallel_mib: float  # sglang's 128 MiB per extra GPU of tp

    @property
    def total_mib(self) -> float:
        return self.fixed_mib + self.graphs_mib + self.activations_mib + self.parallel_mib


def _variable_runtime(model: ModelShape, gpu_mib: float, tp: int, defaults: str, fixed_mib: float) -> Runtime:
    tier = SGLANG_DEFAULTS[defaults].tier(gpu_mib)
    reserve = sglang_reserve(gpu_mib, tp, 1, defaults)
    return Runtime(
        fixed_mib=fixed_mib,
        graphs_mib=reserve.decode_graphs_mib + reserve.prefill_graphs_mib,
        activations_mib=model.activation_bytes_per_token(tp) * tier.chunked_prefill_size / MIB,
        parallel_mib=128.0 * (tp - 1),
    )


@cache
def runtime_fixed_mib() -> float:
    """The fixed runtime that makes the calibration point come out: 207 MiB free on the 5090 at the default."""
    model = load_model(CALIBRATION_MODEL)
    server_free = CALIBRATION_CARD_MIB - DRIVER_RESERVED_MIB - SERVER_CONTEXT_MIB
    outside = server_free * (1 - default_mem_fraction(CALIBRATION_CARD_MIB, 1, "fix-time"))
    variable = _variable_runtime(model, CALIBRATION_CARD_MIB, 1, "fix-time", 0.0).total_mib
    return outside - CLIENT_CONTEXT_MIB - CALIBRATION_FREE_MIB - variable


def server_runtime(model: ModelShape, gpu_mib: float, tp: int = 1, defaults: str = DEFAULT_SGLANG) -> Runtime:
    return _variable_runtime(model, gpu_mib, tp, defaults, runtime_fixed_mib())


@dataclass(frozen=True)
class CheckerPeak:
    """The weight checker's GPU temporaries for the model's largest tensor, per action."""

    code: str  # "unchunked" (sglang at the time of the fix) or "chunked" (later sglang)
    tensor: TensorShape
    compare_mib: float
    reset_mib: float

    @property
    def peak_mib(self) -> float:
        return max(self.compare_mib, self.reset_mib)

    @property
    def peak_action(self) -> str:
        return "compare" if self.compare_mib >= self.reset_mib else "reset"


def weight_checker_peak(model: ModelShape, tp: int = 1, code: str = DEFAULT_CHECKER) -> CheckerPeak:
    """Compare of a tensor that differs, and reset, as the sglang code of `code` allocates them.

    unchunked: the snapshot copied back to the GPU (b*N) + fp32 of both sides (8N) + their
    difference (4N); reset draws an fp32 random tensor (4N) into a new one (b*N).
    chunked (64M elements, c = min(N, 2^26)): a snapshot chunk (b*c) + fp32 of both (8c) + the
    difference (4c), + the previous chunk's |difference| still alive (4c) when there are several
    chunks; reset keeps the new tensor (b*N) and one fp32 chunk with its cast (4c + b*c).
    """
    tensor = model.largest_tensor(tp)
    n, b = tensor.numel, model.dtype_bytes
    if code == "unchunked":
        compare, reset = (b + 12) * n, (b + 4) * n
    elif code == "chunked":
        c = min(n, CHECKER_CHUNK_NUMEL)
        previous = 4 * c if n > CHECKER_CHUNK_NUMEL else 0
        compare, reset = (b + 12) * c + previous, b * n + (4 + b) * c
    else:
        raise UserError("--checker", 0, "unknown-checker", f"unknown weight-checker code '{code}' (known: {', '.join(CHECKER_CODES)})")
    return CheckerPeak(code, tensor, compare / MIB, reset / MIB)


@dataclass(frozen=True)
class Card:
    """One GPU as nvidia-smi reports it."""

    name: str
    total_mib: float
    free_mib: float | None = None  # memory.free before the server starts; None: an idle card

    @property
    def start_free_mib(self) -> float:
        return self.free_mib if self.free_mib is not None else self.total_mib - DRIVER_RESERVED_MIB


@dataclass(frozen=True)
class Advice:
    """The verdict for one model on one card, at sglang's default and at a chosen fraction."""

    model: ModelShape
    card: Card
    tp: int
    sglang: str
    default_mem_fraction: float
    mem_fraction: float  # the fraction asked about (the default unless one was given)
    reserve: Reserve
    runtime: Runtime
    peak_mib: float  # what the test allocates on the GPU outside the pool while it runs
    peak_source: str
    margin_mib: float
    min_kv_mib: float  # the KV pool must hold at least one chunked prefill

    @property
    def server_free_mib(self) -> float:
        """P: what the server measures after its own CUDA context."""
        return self.card.start_free_mib - SERVER_CONTEXT_MIB

    @property
    def weights_mib(self) -> float:
        return self.model.weights_bytes(self.tp) / MIB

    def static_pool_mib(self, fraction: float) -> float:
        return fraction * self.server_free_mib

    def kv_pool_mib(self, fraction: float) -> float:
        return self.static_pool_mib(fraction) - self.weights_mib

    def headroom_mib(self, fraction: float) -> float:
        """Free GPU memory while the test runs, before its own peak."""
        return self.server_free_mib * (1 - fraction) - self.runtime.total_mib - CLIENT_CONTEXT_MIB

    def fits(self, fraction: float) -> bool:
        return self.headroom_mib(fraction) >= self.peak_mib + self.margin_mib and self.kv_pool_mib(fraction) >= self.min_kv_mib

    def _largest_fraction(self, margin_mib: float) -> float:
        return 1 - (self.runtime.total_mib + CLIENT_CONTEXT_MIB + self.peak_mib + margin_mib) / self.server_free_mib

    @property
    def max_fit_mem_fraction(self) -> float:
        """Where the headroom equals the peak exactly: the measured OOM threshold should sit here."""
        return self._largest_fraction(0.0)

    @property
    def max_safe_mem_fraction(self) -> float:
        """The largest fraction that keeps the margin on top of the peak."""
        return self._largest_fraction(self.margin_mib)

    @property
    def min_mem_fraction(self) -> float:
        """The smallest fraction whose pool holds the weights and the minimal KV cache."""
        return (self.weights_mib + self.min_kv_mib) / self.server_free_mib

    @property
    def recommended_mem_fraction(self) -> float | None:
        """sglang's default when it fits, else the safe value nearest to it in 0.01 (or 0.001) steps; None if none fits."""
        low, high = self.min_mem_fraction, self.max_safe_mem_fraction
        if low <= self.default_mem_fraction <= high:
            return self.default_mem_fraction
        if self.default_mem_fraction > high:  # the test needs more room: lower the fraction
            candidates = [math.floor(high * step) / step for step in (100, 1000)]
        else:  # the weights and KV cache need more room: raise it
            candidates = [math.ceil(low * step) / step for step in (100, 1000)]
        return next((value for value in candidates if low <= value <= high), None)

    def to_json(self) -> dict:
        fraction, recommended = self.mem_fraction, self.recommended_mem_fraction
        return {
            "model": self.model.name,
            "model_source": self.model.source,
            "gpu": self.card.name,
            "gpu_mem_mib": _mib(self.card.total_mib),
            "gpu_free_mib": _mib(self.card.start_free_mib),
            "tp": self.tp,
            "sglang_defaults": self.sglang,
            "default_mem_fraction": self.default_mem_fraction,
            "sglang_reserved_mib": _mib(self.reserve.total_mib),
            "server_free_mib": _mib(self.server_free_mib),
            "weights_mib": _mib(self.weights_mib),
            "runtime_outside_pool_mib": _mib(self.runtime.total_mib),
            "client_context_mib": _mib(CLIENT_CONTEXT_MIB),
            "extra_peak_mib": _mib(self.peak_mib),
            "extra_peak_source": self.peak_source,
            "margin_mib": _mib(self.margin_mib),
            "fits_at_default": self.fits(self.default_mem_fraction),
            "headroom_at_default_mib": _mib(self.headroom_mib(self.default_mem_fraction)),
            "mem_fraction": fraction,
            "static_pool_mib": _mib(self.static_pool_mib(fraction)),
            "kv_pool_mib": _mib(self.kv_pool_mib(fraction)),
            "headroom_mib": _mib(self.headroom_mib(fraction)),
            "fits": self.fits(fraction),
            "max_fit_mem_fraction": round(self.max_fit_mem_fraction, 4),
            "max_safe_mem_fraction": round(self.max_safe_mem_fraction, 4),
            "recommended_mem_fraction": recommended,
            "headroom_at_recommended_mib": None if recommended is None else _mib(self.headroom_mib(recommended)),
        }


def _mib(value: float) -> float:
    return round(value, 1)


def advise(
    model: ModelShape,
    card: Card,
    tp: int = 1,
    extra_peak: str | float = "weight-checker",
    checker: str = DEFAULT_CHECKER,
    margin_mib: float = MARGIN_MIB,
    sglang: str = DEFAULT_SGLANG,
    mem_fraction: float | None = None,
) -> Advice:
    """The verdict for `model` on `card`; `extra_peak` is 'weight-checker' or MiB."""
    if sglang not in SGLANG_DEFAULTS:
        raise UserError("--sglang", 0, "unknown-sglang-defaults", f"unknown sglang defaults '{sglang}' (known: {', '.join(SGLANG_DEFAULTS)})")
    if mem_fraction is not None and not 0 < mem_fraction < 1:
        raise UserError("--mem-fraction", 0, "bad-mem-fraction", f"--mem-fraction-static must be between 0 and 1, got {mem_fraction:g}")
    if extra_peak == "weight-checker":
        peak = weight_checker_peak(model, tp, checker)
        peak_mib = peak.peak_mib
        source = f"weight checker ({checker}): {peak.peak_action} of {peak.tensor.name} {list(peak.tensor.shape)}"
    else:
        peak_mib, source = float(extra_peak), "configured"
    default = default_mem_fraction(card.total_mib, tp, sglang)
    tier = SGLANG_DEFAULTS[sglang].tier(card.total_mib)
    return Advice(
        model=model,
        card=card,
        tp=tp,
        sglang=sglang,
        default_mem_fraction=default,
        mem_fraction=default if mem_fraction is None else mem_fraction,
        reserve=sglang_reserve(card.total_mib, tp, 1, sglang),
        runtime=server_runtime(model, card.total_mib, tp, sglang),
        peak_mib=peak_mib,
        peak_source=source,
        margin_mib=margin_mib,
        min_kv_mib=model.kv_bytes_per_token(tp) * tier.chunked_prefill_size / MIB,
    )


MEM_FLAG = "--mem-fraction-static"


def pinned_mem_fraction(server_args: str) -> float | None:
    """The `--mem-fraction-static` value in a server-args string, if any; a bad one is a ValueError."""
    words = shlex.split(server_args)
    value = None
    for index, word in enumerate(words):
        if word == MEM_FLAG:
            if index + 1 == len(words):
                raise ValueError(f"{MEM_FLAG} needs a value")
            value = words[index + 1]
        elif word.startswith(MEM_FLAG + "="):
            value = word.split("=", 1)[1]
    if value is None:
        return None
    return mem_fraction(value, MEM_FLAG)


def mem_fraction(value: str, name: str) -> float:
    """A mem-fraction given as text: a number strictly between 0 and 1, else a ValueError."""
    try:
        fraction = float(value)
    except ValueError:
        raise ValueError(f"{name} must be a number between 0 and 1, got '{value}'") from None
    if not 0 < fraction < 1:
        raise ValueError(f"{name} must be a number between 0 and 1, got '{value}'")
    return fraction
