"""A Hugging Face `config.json` -> the tensors an sglang server holds per GPU.

Only the shapes matter here: the memory advisor sizes the weights, the KV cache per token
and the weight checker's temporaries (which scale with the largest tensor). Names follow
sglang's fused layout (`qkv_proj`, `gate_up_proj`, `experts.w13_weight`), so they match what
`/weights_checker` reports. Standard library only: the composite action imports this too.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from generator.errors import UserError

VOCAB_PADDING = 64  # sglang pads the vocab-parallel embedding and lm_head to a multiple of 64
FLOAT_BYTES = 2  # sglang serves bf16/fp16 (fp32 checkpoints too, by default)
DEFAULT_CONTEXT_LEN = 2048  # sglang's get_context_length when the config names none
CONTEXT_LENGTH_KEYS = (
    "max_sequence_length",
    "seq_length",
    "max_seq_len",
    "model_max_length",
    "max_position_embeddings",
)


@dataclass(frozen=True)
class TensorShape:
    """One parameter as a single GPU holds it."""

    name: str
    shape: tuple[int, ...]

    @property
    def numel(self) -> int:
        count = 1
        for size in self.shape:
            count *= size
        return count


@dataclass(frozen=True)
class ModelShape:
    """The fields of a decoder-only transformer's config that decide its GPU memory."""

    name: str
    source: str  # "built-in" or the config.json it was read from
    vocab_size: int
    hidden_size: int
    intermediate_size: int
    num_layers: int
    num_heads: int
    num_kv_heads: int
    head_dim: int
    tie_word_embeddings: bool
    qk_norm: bool = False
    num_experts: int = 0
    moe_intermediate_size: int = 0
    dtype_bytes: int = FLOAT_BYTES
    context_len: int = DEFAULT_CONTEXT_LEN  # sglang's model_config.context_len (from the config)

    def tensors(self, tp: int = 1) -> tuple[TensorShape, ...]:
        """Every parameter on one of `tp` GPUs, in sglang's names and fused shapes."""
        hidden, head_dim = self.hidden_size, self.head_dim
        vocab = -(-_round_up(self.vocab_size, VOCAB_PADDING) // tp)
        heads = -(-self.num_heads // tp)
        kv_heads = max(1, self.num_kv_heads // tp)  # replicated once tp exceeds the kv heads
        tensors = [TensorShape("model.embed_tokens.weight", (vocab, hidden))]
        for layer in range(self.num_layers):
            prefix = f"model.layers.{layer}"
            tensors += [
                TensorShape(f"{prefix}.input_layernorm.weight", (hidden,)),
                TensorShape(f"{prefix}.self_attn.qkv_proj.weight", ((heads + 2 * kv_heads) * head_dim, hidden)),
                TensorShape(f"{prefix}.self_attn.o_proj.weight", (hidden, heads * head_dim)),
                TensorShape(f"{prefix}.post_attention_layernorm.weight", (hidden,)),
            ]
            if self.qk_norm:
                tensors += [
                    TensorShape(f"{prefix}.self_attn.q_norm.weight", (head_dim,)),
                    TensorShape(f"{prefix}.self_attn.k_norm.weight", (head_dim,)),
                ]
            if self.num_experts:
                inter = -(-self.moe_intermediate_size // tp)
                tensors += [
                    TensorShape(f"{prefix}.mlp.gate.weight", (self.num_experts, hidden)),
                    TensorShape(f"{prefix}.mlp.experts.w13_weight", (self.num_experts, 2 * inter, hidden)),
                    TensorShape(f"{prefix}.mlp.experts.w2_weight", (self.num_experts, hidden, inter)),
                ]
            else:
                inter = -(-self.intermediate_size // tp)
                tensors += [
                    TensorShape(f"{prefix}.mlp.gate_up_proj.weight", (2 * inter, hidden)),
                    TensorShape(f"{prefix}.mlp.down_proj.weight", (hidden, inter)),
                ]
        tensors.append(TensorShape("model.norm.weight", (hidden,)))
        if not self.tie_word_embeddings:
            tensors.append(TensorShape("lm_head.weight", (vocab, hidden)))
        return tuple(tensors)

    def largest_tensor(self, tp: int = 1) -> TensorShape:
        """The tensor the weight checker's temporaries scale with (first of equals)."""
        return max(self.tensors(tp), key=lambda t: t.numel)

    def weights_bytes(self, tp: int = 1) -> int:
        return sum(t.numel for t in self.tensors(tp)) * self.dtype_bytes

    def kv_heads(self, tp: int = 1) -> int:
        return max(1, self.num_kv_heads // tp)

    def kv_buffer_shape(self, tokens: int, tp: int = 1) -> tuple[int, int, int]:
        """One layer's K (or V) buffer in sglang's MHATokenToKVPool: size + page_size (1) token slots."""
        return (tokens + 1, self.kv_heads(tp), self.head_dim)

    def kv_bytes_per_token(self, tp: int = 1) -> int:
        """K and V of every layer for one token on one GPU."""
        return 2 * self.num_layers * self.kv_heads(tp) * self.head_dim * self.dtype_bytes

    def activation_bytes_per_token(self, tp: int = 1) -> int:
        """The widest point of one layer's forward for one token: gate_up, its product, the residual."""
        inter = self.moe_intermediate_size if self.num_experts else self.intermediate_size
        inter = -(-inter // tp)
        return (3 * inter + 2 * self.hidden_size) * self.dtype_bytes


def _round_up(value: int, multiple: int) -> int:
    return -(-value // multiple) * multiple


def builtin_model_names() -> list[str]:
    folder = resources.files("generator").joinpath("data/models")
    return sorted(entry.name[: -len(".json")] for entry in folder.iterdir() if entry.name.endswith(".json"))


def _builtin_name(spec: str) -> str | None:
    """'Qwen3-0.6B', 'qwen3-0.6b' or 'Qwen/Qwen3-0.6B' -> 'Qwen3-0.6B'."""
    wanted = spec.rstrip("/").rsplit("/", 1)[-1].lower()
    return next((name for name in builtin_model_names() if name.lower() == wanted), None)


def load_model(spec: str, root: Path | None = None) -> ModelShape:
    """A config.json path (or a folder holding one), else a built-in name, else a UserError."""
    path = Path(spec)
    if root is not None and not path.is_absolute():
        path = root / path
    if path.is_dir():
        path = path / "config.json"
    if path.is_file():
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
            raise UserError(str(path), 0, "bad-model-config", f"cannot read model config: {error}") from None
        return model_from_config(data, name=model_name(path, spec), source=str(path))
    name = _builtin_name(spec)
    if name is None:
        raise UserError(
            spec,
            0,
            "unknown-model",
            f"no config.json at '{spec}' and no built-in model of that name",
            help=f"built-in: {', '.join(builtin_model_names())}; or pass a Hugging Face config.json",
        )
    text = resources.files("generator").joinpath(f"data/models/{name}.json").read_text(encoding="utf-8")
    return model_from_config(json.loads(text), name=name, source="built-in")


def model_name(path: Path, spec: str) -> str:
    """A Hugging Face folder's config.json is named after its folder; any other file after itself."""
    if path.name == "config.json":
        return path.parent.name or spec
    return path.stem


def model_from_config(data: object, name: str, source: str) -> ModelShape:
    """Read the fields sglang's memory depends on; a missing or bad field is a UserError."""
    if isinstance(data, dict) and "hidden_size" not in data and isinstance(data.get("text_config"), dict):
        data = data["text_config"]  # multimodal configs nest the language model's fields
    if not isinstance(data, dict):
        raise UserError(source, 0, "bad-model-config", "a model config must be a JSON object")

    def integer(key: str, default: int | None = None) -> int:
        value = data.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise UserError(source, 0, "bad-model-config", f"'{key}' must be a non-negative integer, got {value!r}")
        return value

    heads = integer("num_attention_heads")
    hidden = integer("hidden_size")
    num_experts = integer("num_experts", integer("num_local_experts", 0))
    return ModelShape(
        name=name,
        source=source,
        vocab_size=integer("vocab_size"),
        hidden_size=hidden,
        intermediate_size=integer("intermediate_size"),
        num_layers=integer("num_hidden_layers"),
        num_heads=heads,
        num_kv_heads=integer("num_key_value_heads", heads),
        head_dim=integer("head_dim", hidden // heads if heads else 0),
        tie_word_embeddings=bool(data.get("tie_word_embeddings", False)),
        qk_norm=str(data.get("model_type", "")).startswith("qwen3"),
        num_experts=num_experts,
        moe_intermediate_size=integer("moe_intermediate_size", 0) if num_experts else 0,
        context_len=_context_len(data, source),
    )


def _context_len(data: dict, source: str) -> int:
    """sglang's get_context_length: the first length key, times a rope scaling factor that extends it."""
    rope = data.get("rope_scaling")
    factor = 1.0
    if isinstance(rope, dict) and "original_max_position_embeddings" not in rope and rope.get("rope_type") != "llama3":
        factor = rope.get("factor", 1)
        if isinstance(factor, bool) or not isinstance(factor, (int, float)) or factor <= 0:
            message = f"'rope_scaling.factor' must be a positive number, got {factor!r}"
            raise UserError(source, 0, "bad-model-config", message)
    for key in CONTEXT_LENGTH_KEYS:
        value = data.get(key)
        if value is not None:
            if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                raise UserError(source, 0, "bad-model-config", f"'{key}' must be a positive integer, got {value!r}")
            return int(factor * value)
    return DEFAULT_CONTEXT_LEN
