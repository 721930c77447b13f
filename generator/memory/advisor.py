"""Model x card x `--mem-fraction-static` -> the GPU memory a model test has left, and a verdict.

sglang's split, with m = --mem-fraction-static (README, "GPU-memory advisor", has the derivation):
  P  = free memory the server measures after its CUDA context, before loading weights
  W  = what the weights take from the card (their allocator segments, not their byte count)
  rest(m) = (P - W) - P*(1-m)   sglang's KV budget, measured after loading (profile_max_num_token):
                  tokens = rest // bytes per token, in 2 x layers K/V buffers of tokens + 1 slots
  then, outside the KV budget: the request-to-token table (int32, (reqs + 1) x (context + 4)), the
  server's CUDA graphs, workspaces and buffers (runtime), and the test client's CUDA context
  headroom(m) = P - W - segments(KV buffers, table) - runtime - client context
              = P*(1-m) - table - (the allocator's rounding of the KV buffers) - runtime - client
The test fits when headroom >= its peak + the checker's allocator term + margin. The default m is
sglang's own formula for the card. Standard library only: the composite action imports this
module with whatever Python the runner has.
"""

from __future__ import annotations

import math
import shlex
from dataclasses import dataclass
from functools import cache, cached_property

from generator.errors import UserError
from generator.memory.allocator import MIN_LARGE_ALLOC, reserved_for
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
    """The fixed runtime that makes the calibration point come out: 207 MiB free on the 5090 at the default.

    The request-to-token table and the KV buffers' rounding are modelled on their own (they change
    with the model and the fraction), so they are taken out of what is calibrated here.
    """
    model = load_model(CALIBRATION_MODEL)
    card = Card("calibration", CALIBRATION_CARD_MIB)
    advice = _advice(model, card, 1, 0.0, "weight-checker", DEFAULT_CHECKER, MARGIN_MIB, "fix-time", None)
    return advice.headroom_mib(default_mem_fraction(CALIBRATION_CARD_MIB, 1, "fix-time")) - CALIBRATION_FREE_MIB


# sglang's request-to-token table (ReqToTokenPool, allocated after the KV budget is sized):
# int32 [max_num_reqs + 1, context_len + 4], max_num_reqs = min(max(tokens / context_len * 512, 2048), 4096).
MIN_RUNNING_REQUESTS, MAX_RUNNING_REQUESTS = 2048, 4096


def max_running_requests(kv_tokens: int, context_len: int) -> int:
    return min(max(int(kv_tokens / context_len * 512), MIN_RUNNING_REQUESTS), MAX_RUNNING_REQUESTS)


def req_to_token_bytes(model: ModelShape, kv_tokens: int) -> int:
    return (max_running_requests(kv_tokens, model.context_len) + 1) * (model.context_len + 4) * 4


@dataclass(frozen=True)
class ServerPools:
    """What sglang allocates at fraction m once the weights are loaded: its KV buffers and request table."""

    kv_tokens: int  # sglang's max_total_num_tokens: the KV budget // bytes per token (0: the server fails)
    kv_buffer_bytes: int  # one of the 2 x layers K/V buffers (tokens + 1 slots)
    kv_buffers: int
    req_to_token_bytes: int
    reserved_bytes: int  # the allocator's segments for all of them

    @property
    def kv_bytes(self) -> int:
        return self.kv_buffers * self.kv_buffer_bytes

    @property
    def reserved_mib(self) -> float:
        return self.reserved_bytes / MIB

    @property
    def rounding_mib(self) -> float:
        """What the segments take beyond the buffers' bytes."""
        return (self.reserved_bytes - self.kv_bytes - self.req_to_token_bytes) / MIB


def server_pools(model: ModelShape, kv_budget_mib: float, tp: int = 1) -> ServerPools:
    """sglang's init_memory_pool for a KV budget of `kv_budget_mib` (its rest_memory)."""
    cell = model.kv_bytes_per_token(tp)
    tokens = max(0, int(kv_budget_mib * MIB // cell))
    shape = model.kv_buffer_shape(tokens, tp)
    buffer = shape[0] * shape[1] * shape[2] * model.dtype_bytes
    table = req_to_token_bytes(model, tokens)
    buffers = 2 * model.num_layers
    reserved = reserved_for([table] + [buffer] * buffers)  # the table first, then every K, then every V
    return ServerPools(tokens, buffer, buffers, table, reserved)


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

    def by_action(self) -> dict[str, float]:
        return {"compare": self.compare_mib, "reset": self.reset_mib}


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
        raise UserError(
            "--checker",
            0,
            "unknown-checker",
            f"unknown weight-checker code '{code}' (known: {', '.join(CHECKER_CODES)})",
        )
    return CheckerPeak(code, tensor, compare / MIB, reset / MIB)


# Fitted on a GPU (benchmarks/fit_memory_terms.py over benchmarks/results/gpu_sweep/fit/; the data and
# the fit are in benchmarks/results/memory_fit.json): what a test's allocations take from the card
# beyond their allocated peak. Each recorded threshold brackets that need: the op fitted at m and not
# at m + 0.0001, whose headrooms the allocator rules above give to the MiB. The constants are the
# smallest that cover every bracket's lower end, so the advisor errs safe on every recorded case.
ALLOCATION_SLACK_MIB = 42.0  # any test's allocations on a real (uncapped) card: seen up to 41.5 MiB
CHUNKED_COMPARE_FRAGMENTATION = 0.56  # x the fp32 bytes of one 2^26-element chunk (256 MiB): 143.4 MiB
NCCL_MIB = 839.0  # per GPU with tp > 1: torch's NCCL process group and an all-reduce, beyond the context


def checker_allocator_mib(model: ModelShape, tp: int, code: str, action: str) -> float:
    """What the checker's `action` takes from the card beyond its allocated peak.

    The chunked compare of a tensor of several chunks leaves segments partly used between chunks (a
    chunk's bf16 copy is cut from a freed fp32 block), which a new fp32 block cannot use.
    """
    numel = model.largest_tensor(tp).numel
    fragmented = code == "chunked" and action == "compare" and numel > CHECKER_CHUNK_NUMEL
    return ALLOCATION_SLACK_MIB + (CHUNKED_COMPARE_FRAGMENTATION * 4 * CHECKER_CHUNK_NUMEL / MIB if fragmented else 0.0)


@dataclass(frozen=True)
class Card:
    """One GPU as nvidia-smi reports it."""

    name: str
    total_mib: float
    free_mib: float | None = None  # memory.free before the server starts; None: an idle card

    @property
    def start_free_mib(self) -> float:
        return self.free_mib if self.free_mib is not None else self.total_mib - DRIVER_RESERVED_MIB


FRACTION_STEP = 1e-5  # the resolution of the largest fitting fraction


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
    weights_reserved_mib: float  # the weights' allocator segments
    allocator_mib: float = 0.0  # what the test's allocations take beyond their peak (fitted term)
    server_context_mib: float = SERVER_CONTEXT_MIB
    client_context_mib: float = CLIENT_CONTEXT_MIB
    checker: str | None = None  # the weight checker's code and the action its need comes from (None: a configured peak)
    peak_action: str | None = None

    @property
    def server_free_mib(self) -> float:
        """P: what the server measures after its own CUDA context (and, with tp > 1, its NCCL communicators)."""
        return self.card.start_free_mib - self.server_context_mib - (NCCL_MIB if self.tp > 1 else 0.0)

    @property
    def weights_mib(self) -> float:
        return self.model.weights_bytes(self.tp) / MIB

    @property
    def need_mib(self) -> float:
        """What the test takes from the headroom: its peak and the allocator's term on top."""
        return self.peak_mib + self.allocator_mib

    def static_pool_mib(self, fraction: float) -> float:
        return fraction * self.server_free_mib

    def kv_budget_mib(self, fraction: float) -> float:
        """sglang's rest_memory: free after loading the weights, less P * (1 - m)."""
        return self.server_free_mib - self.weights_reserved_mib - self.server_free_mib * (1 - fraction)

    def pools(self, fraction: float) -> ServerPools:
        return server_pools(self.model, self.kv_budget_mib(fraction), self.tp)

    def kv_pool_mib(self, fraction: float) -> float:
        return self.pools(fraction).kv_tokens * self.model.kv_bytes_per_token(self.tp) / MIB

    def headroom_mib(self, fraction: float) -> float:
        """Free GPU memory while the test runs, before its own peak."""
        outside = self.weights_reserved_mib + self.pools(fraction).reserved_mib + self.runtime.total_mib
        return self.server_free_mib - outside - self.client_context_mib

    def fits(self, fraction: float) -> bool:
        enough_kv = self.kv_pool_mib(fraction) >= self.min_kv_mib
        return self.headroom_mib(fraction) >= self.need_mib + self.margin_mib and enough_kv

    def _large_buffers_from(self) -> float:
        """The fraction from which the KV buffers reach 10 MiB (a segment each, rounded up by < 2 MiB)."""
        slot = self.model.kv_heads(self.tp) * self.model.head_dim * self.model.dtype_bytes
        tokens = max(0, -(-MIN_LARGE_ALLOC // slot) - 1)
        budget = tokens * self.model.kv_bytes_per_token(self.tp) / MIB
        return (budget + self.weights_reserved_mib) / self.server_free_mib

    def worst_headroom_mib(self, fraction: float) -> float:
        """The headroom with the KV pool's rounding at its worst.

        The exact headroom saws up and down by up to 2 MiB per KV buffer (they all cross a segment
        boundary together), and where it sits depends on P to the MiB, which no card's data gives; so
        the largest fractions are taken from this bound: the KV buffers hold their budget plus one
        token; each buffer's segment rounds it up by less than 2 MiB (buffers of 10 MiB and more)
        or 10/3 MiB (smaller ones share 20 MiB segments, plus one partly used), the table's by 2 MiB.
        It falls steadily with m, except for one step up where the buffers reach 10 MiB.
        """
        cell = self.model.kv_bytes_per_token(self.tp)
        budget = self.kv_budget_mib(fraction)
        table = req_to_token_bytes(self.model, max(0, int(budget * MIB // cell))) / MIB
        large = fraction >= self._large_buffers_from()
        rounding = 2 * self.model.num_layers * (2.0 if large else 10 / 3) + 2.0 + (0.0 if large else 20.0)
        outside = self.weights_reserved_mib + max(budget, 0.0) + cell / MIB + table + rounding + self.runtime.total_mib
        return self.server_free_mib - outside - self.client_context_mib

    def largest_fraction(self, need_mib: float) -> float:
        """The largest fraction (in FRACTION_STEP steps) below which the worst headroom leaves `need_mib`; 0 if none."""
        step_up = self._large_buffers_from()
        low, high = 0.0, 1.0
        if 0 < step_up < 1:  # the bound is monotone on each side of its one step up
            below = self.worst_headroom_mib(max(0.0, step_up - FRACTION_STEP / 4))
            low, high = (step_up, 1.0) if below >= need_mib else (0.0, step_up)
        if self.worst_headroom_mib(low) < need_mib:
            return 0.0
        while high - low > FRACTION_STEP / 4:
            middle = (low + high) / 2
            low, high = (middle, high) if self.worst_headroom_mib(middle) >= need_mib else (low, middle)
        return round(math.floor(low / FRACTION_STEP) * FRACTION_STEP, 5)

    @cached_property
    def max_fit_mem_fraction(self) -> float:
        """Where the headroom equals the test's need exactly: the measured OOM threshold should sit here."""
        return self.largest_fraction(self.need_mib)

    @cached_property
    def max_safe_mem_fraction(self) -> float:
        """The largest fraction that keeps the margin on top of the test's need."""
        return self.largest_fraction(self.need_mib + self.margin_mib)

    @property
    def min_mem_fraction(self) -> float:
        """The smallest fraction whose pool holds the weights and the minimal KV cache."""
        return (self.weights_reserved_mib + self.min_kv_mib) / self.server_free_mib

    @property
    def recommended_mem_fraction(self) -> float | None:
        """sglang's default when it fits, else the safe value nearest to it in 0.01 (or 0.001) steps.

        None if none fits.
        """
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
        pools = self.pools(fraction)
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
            "weights_reserved_mib": _mib(self.weights_reserved_mib),
            "runtime_outside_pool_mib": _mib(self.runtime.total_mib),
            "client_context_mib": _mib(self.client_context_mib),
            "extra_peak_mib": _mib(self.peak_mib),
            "extra_peak_source": self.peak_source,
            "allocator_term_mib": _mib(self.allocator_mib),
            "margin_mib": _mib(self.margin_mib),
            "fits_at_default": self.fits(self.default_mem_fraction),
            "headroom_at_default_mib": _mib(self.headroom_mib(self.default_mem_fraction)),
            "mem_fraction": fraction,
            "static_pool_mib": _mib(self.static_pool_mib(fraction)),
            "kv_pool_mib": _mib(self.kv_pool_mib(fraction)),
            "kv_tokens": pools.kv_tokens,
            "req_to_token_mib": _mib(pools.req_to_token_bytes / MIB),
            "pool_rounding_mib": _mib(pools.rounding_mib),
            "headroom_mib": _mib(self.headroom_mib(fraction)),
            "fits": self.fits(fraction),
            "max_fit_mem_fraction": round(self.max_fit_mem_fraction, 4),
            "max_safe_mem_fraction": round(self.max_safe_mem_fraction, 4),
            "recommended_mem_fraction": recommended,
            "headroom_at_recommended_mib": None if recommended is None else _mib(self.headroom_mib(recommended)),
        }


def _mib(value: float) -> float:
    return round(value, 1)


def weights_reserved_mib(model: ModelShape, tp: int = 1) -> float:
    """The weights as the allocator holds them: one tensor after another, in the model's order."""
    return reserved_for([t.numel * model.dtype_bytes for t in model.tensors(tp)]) / MIB


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
        raise UserError(
            "--sglang",
            0,
            "unknown-sglang-defaults",
            f"unknown sglang defaults '{sglang}' (known: {', '.join(SGLANG_DEFAULTS)})",
        )
    if mem_fraction is not None and not 0 < mem_fraction < 1:
        raise UserError(
            "--mem-fraction",
            0,
            "bad-mem-fraction",
            f"--mem-fraction-static must be between 0 and 1, got {mem_fraction:g}",
        )
    return _advice(model, card, tp, runtime_fixed_mib(), extra_peak, checker, margin_mib, sglang, mem_fraction)


def _advice(model, card, tp, fixed_mib, extra_peak, checker, margin_mib, sglang, mem_fraction) -> Advice:
    if extra_peak == "weight-checker":
        peak = weight_checker_peak(model, tp, checker)
        needs = {a: (mib, checker_allocator_mib(model, tp, checker, a)) for a, mib in peak.by_action().items()}
        action = max(needs, key=lambda a: sum(needs[a]))  # the action that needs the most, allocator term included
        peak_mib, allocator_mib = needs[action]
        source = f"weight checker ({checker}): {action} of {peak.tensor.name} {list(peak.tensor.shape)}"
    else:
        peak_mib, allocator_mib, source = float(extra_peak), ALLOCATION_SLACK_MIB, "configured"
        checker, action = None, None
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
        runtime=_variable_runtime(model, card.total_mib, tp, sglang, fixed_mib),
        peak_mib=peak_mib,
        peak_source=source,
        margin_mib=margin_mib,
        min_kv_mib=model.kv_bytes_per_token(tp) * tier.chunked_prefill_size / MIB,
        weights_reserved_mib=weights_reserved_mib(model, tp),
        allocator_mib=allocator_mib,
        checker=checker,
        peak_action=action,
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
