"""The GPU-memory advisor's arithmetic against cases computed by hand (derivations inline)."""

from __future__ import annotations

import json

import pytest

from generator.errors import UserError
from generator.memory.advisor import (
    CLIENT_CONTEXT_MIB,
    Card,
    advise,
    default_mem_fraction,
    prefill_graph_sizes,
    runtime_fixed_mib,
    sglang_reserve,
    weight_checker_peak,
)
from generator.memory.hfmodel import builtin_model_names, load_model, model_from_config

MIB = 1 << 20
N_EMBED = 151936 * 1024  # Qwen3-0.6B's largest tensor: 155,582,464 elements
QWEN = load_model("Qwen3-0.6B")


def test_builtin_models_and_name_forms():
    assert builtin_model_names() == ["Llama-3.1-8B-Instruct", "Qwen3-0.6B", "Qwen3-30B-A3B", "Qwen3-8B"]
    assert load_model("Qwen/Qwen3-0.6B") == QWEN
    assert load_model("qwen3-0.6b") == QWEN
    assert QWEN.source == "built-in"


def test_qwen3_weights_and_largest_tensor():
    # per layer: 2 norms (2048) + qkv (16+8+8)*128 x 1024 (4,194,304) + o 1024 x 2048 (2,097,152)
    # + q/k norms (256) + gate_up 6144 x 1024 (6,291,456) + down 1024 x 3072 (3,145,728) = 15,730,944
    # 28 layers + embedding 155,582,464 + final norm 1024 (lm_head tied) = 596,049,920 params
    assert sum(t.numel for t in QWEN.tensors()) == 596_049_920
    assert QWEN.weights_bytes() == 2 * 596_049_920
    largest = QWEN.largest_tensor()
    assert (largest.name, largest.shape) == ("model.embed_tokens.weight", (151936, 1024))
    assert QWEN.kv_bytes_per_token() == 2 * 28 * 8 * 128 * 2
    assert QWEN.activation_bytes_per_token() == (3 * 3072 + 2 * 1024) * 2


def test_tensor_parallel_shards_and_moe_experts():
    qwen8b = load_model("Qwen3-8B")
    assert qwen8b.largest_tensor(tp=2).shape == (75968, 4096)  # vocab-parallel: 151936 / 2
    assert "lm_head.weight" in {t.name for t in qwen8b.tensors()}
    moe = load_model("Qwen3-30B-A3B")
    largest = moe.largest_tensor()
    assert (largest.name, largest.shape) == ("model.layers.0.mlp.experts.w13_weight", (128, 1536, 2048))
    assert moe.largest_tensor(tp=4).shape == (128, 384, 2048)


def test_prefill_graph_counts():
    assert len(prefill_graph_sizes(2048)) == 42  # 8 + 14 + 8 + 8 + 4 (1280..2048 step 256)
    assert len(prefill_graph_sizes(4096)) == 50
    assert len(prefill_graph_sizes(8192)) == 58  # + 4608..8192 step 512


def test_sglang_default_fractions_from_the_notes():
    # 5090: 512 + 1.5*2048 + 128 + 2*24 + 8*42 = 4096 -> (32607 - 4096) / 32607 = 0.8744
    assert sglang_reserve(32607).total_mib == 4096
    assert default_mem_fraction(32607) == 0.874
    # H100: 512 + 1.5*8192 + 128 + 2*256 + 8*58 = 13904 -> (81559 - 13904) / 81559 = 0.8295
    assert sglang_reserve(81559).total_mib == 13904
    assert default_mem_fraction(81559) == 0.830
    assert default_mem_fraction(143771) == 0.903  # H200: (143771 - 13904) / 143771
    # sglang 0.5.23 raised the 20-35 GiB tier: 512 + 1.5*4096 + 128 + 2*48 + 8*50 = 7280
    assert sglang_reserve(32607, defaults="0.5.23").total_mib == 7280
    assert default_mem_fraction(32607, defaults="0.5.23") == 0.777
    # tp=4 on an H100: 512 + 12288 + 128*4 + 2*512 + 464 = 14800
    assert sglang_reserve(81559, tp=4).total_mib == 14800


def test_weight_checker_peaks_match_the_notes():
    unchunked = weight_checker_peak(QWEN, code="unchunked")
    assert unchunked.compare_mib == 14 * N_EMBED / MIB == 2077.25  # notes: 2078 (measured 2079)
    assert unchunked.reset_mib == 6 * N_EMBED / MIB == 890.25  # notes: 891
    chunked = weight_checker_peak(QWEN, code="chunked")
    assert chunked.compare_mib == 18 * 2**26 / MIB == 1152  # notes: 1152
    assert chunked.reset_mib == (2 * N_EMBED + 6 * 2**26) / MIB == 680.75  # notes: 681
    assert (unchunked.peak_action, chunked.peak_action) == ("compare", "compare")


def test_calibration_point_reproduced():
    # P = 32607 - 512 (driver) - 620 (server context) = 31475; outside the pool at 0.874: 3965.85;
    # minus the client context (560) and the 207 MiB seen free = 3198.85 of server runtime, of
    # which 48 + 336 are sglang's graph terms and 44 the activations (22528 B x 2048 tokens).
    assert runtime_fixed_mib() == pytest.approx(3198.85 - 384 - 44)
    advice = advise(QWEN, Card("RTX 5090", 32607))
    assert advice.server_free_mib == 31475
    assert advice.runtime.total_mib == pytest.approx(3198.85)
    assert advice.headroom_mib(0.874) == pytest.approx(207)


def test_5090_default_does_not_fit_and_0_7_does():
    advice = advise(QWEN, Card("RTX 5090", 32607))
    assert advice.default_mem_fraction == 0.874
    assert not advice.fits(0.874)
    assert advice.fits(0.7)
    assert advice.headroom_mib(0.7) == pytest.approx(31475 * 0.3 - 3198.85 - CLIENT_CONTEXT_MIB)  # 5683.65
    # largest safe: 1 - (3198.85 + 560 + 2077.25 + 512) / 31475 = 0.79831 -> 0.79
    assert advice.max_safe_mem_fraction == pytest.approx(1 - 6348.1 / 31475)
    assert advice.max_fit_mem_fraction == pytest.approx(1 - 5836.1 / 31475)
    assert advice.recommended_mem_fraction == 0.79
    # with the chunked checker code: 1 - (3198.85 + 560 + 1152 + 512) / 31475 = 0.82771 -> 0.82
    assert advise(QWEN, Card("RTX 5090", 32607), checker="chunked").recommended_mem_fraction == 0.82


def test_h100_and_h200_fit_by_default():
    h100 = advise(QWEN, Card("H100", 81559))
    # P = 80427; runtime = 2770.85 + (512 + 464) graphs + 176 activations (22528 B x 8192) = 3922.85
    assert h100.runtime.total_mib == pytest.approx(3922.85)
    assert h100.headroom_mib(0.830) == pytest.approx(80427 * 0.17 - 3922.85 - 560)  # 9189.74
    assert h100.fits(0.830)
    assert h100.recommended_mem_fraction == 0.830
    h200 = advise(QWEN, Card("H200", 143771))
    assert h200.recommended_mem_fraction == 0.903
    assert h200.headroom_mib(0.903) == pytest.approx(142639 * 0.097 - 3922.85 - 560)


def test_24gb_card_needs_a_lower_fraction():
    advice = advise(QWEN, Card("RTX 4090", 24564))
    # reserve 4096 -> default (24564 - 4096) / 24564 = 0.8333; P = 23432
    assert advice.default_mem_fraction == 0.833
    assert advice.headroom_mib(0.833) == pytest.approx(23432 * 0.167 - 3198.85 - 560)  # 154.3
    assert advice.recommended_mem_fraction == 0.72  # 1 - 6348.1 / 23432 = 0.7291


def test_free_memory_of_a_busy_card_lowers_p():
    busy = advise(QWEN, Card("H100", 81559, free_mib=20000))
    # P = 20000 - 620 = 19380; at 0.830: 19380 * 0.17 - 3922.85 - 560 = -1188.25
    assert busy.headroom_mib(0.830) == pytest.approx(-1188.25)
    # 1 - (3922.85 + 560 + 2077.25 + 512) / 19380 = 0.63508 -> 0.63
    assert busy.recommended_mem_fraction == 0.63


def test_nothing_fits_when_the_weights_do_not():
    qwen8b = load_model("Qwen3-8B")  # 8,190,735,360 params = 15622.6 MiB of weights
    assert qwen8b.weights_bytes() == 2 * 8_190_735_360
    assert advise(qwen8b, Card("16 GiB", 16384)).recommended_mem_fraction is None


def test_fraction_raised_when_weights_need_more_than_the_default_pool():
    # 185 layers of hidden 8192: 352,337,920 params each + 2 x 32000 x 8192 + 8192 = 65,706,811,392
    # -> 125,325.8 MiB; KV for 8192 tokens: 2*185*8*128*2 B x 8192 = 5920 MiB; on an H200 P = 142639
    # -> the pool must be >= 131245.8 / 142639 = 0.92013 of P, above the 0.903 default.
    big = model_from_config(
        {
            "vocab_size": 32000, "hidden_size": 8192, "intermediate_size": 8192, "num_hidden_layers": 185,
            "num_attention_heads": 64, "num_key_value_heads": 8, "head_dim": 128, "model_type": "llama",
        },
        name="big",
        source="test",
    )
    assert big.weights_bytes() == 2 * 65_706_811_392
    advice = advise(big, Card("H200", 143771), extra_peak=0.0, margin_mib=0.0)
    assert advice.min_mem_fraction == pytest.approx((125325.8046875 + 5920) / 142639)
    assert advice.recommended_mem_fraction == 0.93


def test_configured_peak_and_evaluated_fraction_in_json():
    data = advise(QWEN, Card("RTX 5090", 32607), extra_peak=100.0, mem_fraction=0.85).to_json()
    assert data["extra_peak_source"] == "configured"
    assert data["mem_fraction"] == 0.85
    assert data["headroom_mib"] == round(31475 * 0.15 - 3198.85 - 560, 1)  # 962.4
    assert data["fits"] is True  # 962.4 >= 100 + 512
    assert data["fits_at_default"] is False
    assert data["static_pool_mib"] == round(0.85 * 31475, 1)
    assert json.loads(json.dumps(data)) == data


def test_bad_inputs_are_user_errors(tmp_path):
    with pytest.raises(UserError) as error:
        load_model("Nope-1B")
    assert error.value.problem.format() == (
        "Nope-1B: unknown-model: no config.json at 'Nope-1B' and no built-in model of that name\n"
        "  help: built-in: Llama-3.1-8B-Instruct, Qwen3-0.6B, Qwen3-30B-A3B, Qwen3-8B; or pass a Hugging Face config.json"
    )
    (tmp_path / "config.json").write_text('{"hidden_size": "big"}')
    with pytest.raises(UserError) as error:
        load_model(str(tmp_path))
    assert error.value.problem.format() == f"{tmp_path}/config.json: bad-model-config: 'num_attention_heads' must be a non-negative integer, got None"
    with pytest.raises(UserError) as error:
        advise(QWEN, Card("x", 32607), mem_fraction=1.5)
    assert error.value.problem.format() == "--mem-fraction: bad-mem-fraction: --mem-fraction-static must be between 0 and 1, got 1.5"
