"""The GPU-memory advisor's arithmetic against cases computed by hand (derivations inline)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from generator.errors import UserError
from generator.memory.advisor import (
    NCCL_MIB,
    Card,
    advise,
    checker_allocator_mib,
    default_mem_fraction,
    max_running_requests,
    prefill_graph_sizes,
    runtime_fixed_mib,
    server_pools,
    sglang_reserve,
    weight_checker_peak,
    weights_reserved_mib,
)
from generator.memory.allocator import reserved_for, round_request, segment_size
from generator.memory.hfmodel import builtin_model_names, load_model, model_from_config

MIB = 1 << 20
REPO = Path(__file__).resolve().parent.parent
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


def test_allocator_rules():
    # 10 MiB and more: a segment of its own, rounded up to 2 MiB
    assert segment_size(470 * MIB - 1) == 470 * MIB and segment_size(469 * MIB) == 470 * MIB
    assert reserved_for([469 * MIB] * 3) == 3 * 470 * MIB
    # over 1 MiB, under 10: shared 20 MiB segments, split while more than 1 MiB would remain
    assert reserved_for([3 * MIB] * 6) == 20 * MIB  # 18 MiB used, the 2 MiB rest is split off
    assert reserved_for([3 * MIB] * 7) == 40 * MIB
    assert reserved_for([int(6.8 * MIB)] * 4) == 40 * MIB  # two per segment, 6.4 MiB of each segment lost
    # 1 MiB or less: shared 2 MiB segments; requests round up to 512 bytes
    assert reserved_for([100] * 4096) == 2 * MIB and round_request(100) == 512
    # the rest of a large segment (over 1 MiB) serves a later medium request
    assert reserved_for([int(10.5 * MIB), int(1.2 * MIB)]) == 12 * MIB  # the 1.5 MiB rest takes the 1.2
    # Qwen3-0.6B's 226 tensors in order: 1196 MiB for 1136.9 MiB of bf16 (measured on an H200: 1196.0)
    assert weights_reserved_mib(QWEN) == 1196.0


def test_context_length_as_sglang_reads_it():
    llama = load_model("Llama-3.1-8B-Instruct")
    assert (QWEN.context_len, llama.context_len) == (40960, 131072)  # llama3 rope scaling: not multiplied
    base = {"vocab_size": 8, "hidden_size": 8, "intermediate_size": 8, "num_hidden_layers": 1, "num_attention_heads": 1}
    assert model_from_config(base, "m", "t").context_len == 2048
    yarn = {**base, "max_position_embeddings": 32768, "rope_scaling": {"rope_type": "yarn", "factor": 4.0}}
    assert model_from_config(yarn, "m", "t").context_len == 131072
    assert model_from_config({**base, "seq_length": 4096, "max_position_embeddings": 8}, "m", "t").context_len == 4096
    with pytest.raises(UserError) as error:
        model_from_config({**yarn, "rope_scaling": {"factor": "big"}}, "m", "cfg.json")
    assert (
        error.value.problem.format()
        == "cfg.json: bad-model-config: 'rope_scaling.factor' must be a positive number, got 'big'"
    )


def test_server_pools_are_sglangs():
    # KV budget 26313.15 MiB (the 5090 at 0.874): 240577 tokens of 114688 B; 56 buffers of 240578 slots
    # (469.88 MiB, 470 MiB segments); requests min(max(240577 / 40960 * 512, 2048), 4096) = 3007 ->
    # table 3008 x 40964 x 4 B = 470.04 MiB (a 472 MiB segment)
    pools = server_pools(QWEN, 0.874 * 31475 - 1196)
    assert (pools.kv_tokens, pools.kv_buffers, pools.kv_buffer_bytes) == (240577, 56, 240578 * 8 * 128 * 2)
    assert max_running_requests(240577, 40960) == 3007 and pools.req_to_token_bytes == 3008 * 40964 * 4
    assert pools.reserved_mib == 56 * 470 + 472
    assert max_running_requests(10, 40960) == 2048 and max_running_requests(10**7, 40960) == 4096


def test_calibration_point_reproduced():
    # P = 32607 - 512 (driver) - 620 (server context) = 31475; at 0.874 the weights (1196), the KV
    # buffers (26320) and the table (472) leave 31475 - 27988 = 3487; less graphs (48 + 336), the
    # activations (44: 22528 B x 2048 tokens) and the client (560): 2499, of which 207 were seen free.
    assert runtime_fixed_mib() == 2499 - 207
    advice = advise(QWEN, Card("RTX 5090", 32607))
    assert advice.server_free_mib == 31475
    assert advice.runtime.total_mib == 2292 + 384 + 44
    assert advice.headroom_mib(0.874) == 207


def test_5090_default_does_not_fit_and_0_7_does():
    advice = advise(QWEN, Card("RTX 5090", 32607))
    assert advice.default_mem_fraction == 0.874
    assert not advice.fits(0.874)
    assert advice.fits(0.7)
    # at 0.7: budget 20836.5 MiB -> 190505 tokens, 56 buffers of 372.08 MiB (374 MiB segments), 2381
    # requests -> a 374 MiB table: 31475 - 1196 - 20944 - 374 - 2720 - 560
    assert advice.headroom_mib(0.7) == 5681
    # the need: the unchunked compare (14 x 155,582,464 B = 2077.25 MiB) + the allocation slack (42)
    assert advice.need_mib == 2077.25 + 42
    # largest fit from the worst headroom: P(1-m) - table(m) = 2119.25 + 2720 + 560 + 114 (2 MiB for
    # each of 56 buffers and the table) + 0.11 (a token) -> m = 0.81103 (table 434.6 MiB there)
    assert advice.max_fit_mem_fraction == pytest.approx(0.81103, abs=2e-5)
    assert advice.worst_headroom_mib(advice.max_fit_mem_fraction) >= advice.need_mib
    assert advice.worst_headroom_mib(advice.max_fit_mem_fraction + 2e-5) < advice.need_mib
    assert advice.recommended_mem_fraction == 0.79  # the largest safe, 0.79504, floored
    # with the chunked checker code: 1152 + 42 + 0.56 x 256 (fragmentation) = 1337.36 MiB
    assert advise(QWEN, Card("RTX 5090", 32607), checker="chunked").recommended_mem_fraction == 0.81


def test_worst_headroom_bounds_the_exact_one_and_the_largest_fraction_is_safe():
    shapes = ((QWEN, 32607), (load_model("Qwen3-8B"), 32607), (load_model("Qwen3-30B-A3B"), 143771))
    for model, card in ((model, Card("card", mib)) for model, mib in shapes):
        advice = advise(model, card)
        for step in range(1, 1000):
            fraction = step / 1000
            assert advice.headroom_mib(fraction) >= advice.worst_headroom_mib(fraction), (model.name, fraction)
        largest = advice.max_fit_mem_fraction
        for step in range(200):
            fraction = largest * (1 - step / 1000)
            if advice.kv_budget_mib(fraction) > 0:  # below that the server does not start at all
                assert advice.headroom_mib(fraction) >= advice.need_mib, (model.name, fraction)


def test_fitted_allocator_terms():
    # the chunked compare of a tensor of several 2^26-element chunks: slack + 0.56 x 256 MiB
    assert checker_allocator_mib(QWEN, 1, "chunked", "compare") == pytest.approx(42 + 0.56 * 256)
    assert checker_allocator_mib(QWEN, 1, "unchunked", "compare") == 42
    assert checker_allocator_mib(QWEN, 1, "chunked", "reset") == 42
    tiny = load_model("tests/e2e/tiny-qwen3", root=REPO)  # largest tensor 4096 x 256: one chunk
    assert checker_allocator_mib(tiny, 1, "chunked", "compare") == 42
    # the need follows the action that needs the most: Qwen3-8B's chunked reset (1571 + 42) beats its
    # chunked compare (1152 + 185.36)
    assert advise(load_model("Qwen3-8B"), Card("5090", 32607), checker="chunked").peak_action == "reset"


def test_tp_over_one_gpu_takes_nccl_from_p():
    advice = advise(load_model("Qwen3-8B"), Card("H200", 143771), tp=2)
    assert advice.server_free_mib == 143771 - 512 - 620 - NCCL_MIB == 141800
    assert NCCL_MIB == 839  # measured on an H200 pair: 143156 free at start, P 141697 (benchmarks/results/gpu_sweep)


def test_h100_and_h200_fit_by_default():
    h100 = advise(QWEN, Card("H100", 81559))
    # runtime = 2292 + (512 + 464) graphs + 176 activations (22528 B x 8192)
    assert h100.runtime.total_mib == 3444
    # at 0.83: 599391 tokens (56 x 1171 MiB segments), 4096 requests (a 642 MiB table)
    assert h100.headroom_mib(0.830) == 80427 - 1196 - 56 * 1172 - 642 - 3444 - 560 == 8953
    assert h100.fits(0.830)
    assert h100.recommended_mem_fraction == 0.830
    h200 = advise(QWEN, Card("H200", 143771))
    assert h200.recommended_mem_fraction == 0.903
    assert h200.headroom_mib(0.903) == 9117


def test_24gb_card_needs_a_lower_fraction():
    advice = advise(QWEN, Card("RTX 4090", 24564))
    # reserve 4096 -> default (24564 - 4096) / 24564 = 0.8333; P = 23432
    assert advice.default_mem_fraction == 0.833
    assert advice.headroom_mib(0.833) == 260
    assert advice.recommended_mem_fraction == 0.72  # largest safe 0.72919


def test_free_memory_of_a_busy_card_lowers_p():
    busy = advise(QWEN, Card("H100", 81559, free_mib=20000))
    # P = 20000 - 620 = 19380: at 0.830 the pools alone leave less than the runtime and client need
    assert busy.server_free_mib == 19380
    assert busy.headroom_mib(0.830) == -1038
    assert busy.recommended_mem_fraction == 0.63  # largest safe 0.63521


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
            "vocab_size": 32000,
            "hidden_size": 8192,
            "intermediate_size": 8192,
            "num_hidden_layers": 185,
            "num_attention_heads": 64,
            "num_key_value_heads": 8,
            "head_dim": 128,
            "model_type": "llama",
        },
        name="big",
        source="test",
    )
    assert big.weights_bytes() == 2 * 65_706_811_392
    advice = advise(big, Card("H200", 143771), extra_peak=0.0, margin_mib=0.0)
    assert advice.weights_reserved_mib == 125326  # each of the 185 layers' 64 MiB tensors rounds to 2 MiB already
    assert advice.min_mem_fraction == pytest.approx((125326 + 5920) / 142639)
    assert advice.recommended_mem_fraction == 0.93


def test_configured_peak_and_evaluated_fraction_in_json():
    data = advise(QWEN, Card("RTX 5090", 32607), extra_peak=100.0, mem_fraction=0.85).to_json()
    assert data["extra_peak_source"] == "configured"
    assert data["mem_fraction"] == 0.85
    # 233670 tokens: 56 x 458 MiB segments and a 458 MiB table (2920 requests)
    assert (data["kv_tokens"], data["req_to_token_mib"]) == (233670, 456.5)
    assert data["headroom_mib"] == 31475 - 1196 - 56 * 458 - 458 - 2720 - 560 == 893
    assert data["allocator_term_mib"] == 42  # the slack applies to a configured peak too
    assert data["fits"] is True  # 893 >= 100 + 42 + 512
    assert data["fits_at_default"] is False
    assert data["static_pool_mib"] == round(0.85 * 31475, 1)
    assert json.loads(json.dumps(data)) == data


def test_bad_inputs_are_user_errors(tmp_path):
    with pytest.raises(UserError) as error:
        load_model("Nope-1B")
    assert error.value.problem.format() == (
        "Nope-1B: unknown-model: no config.json at 'Nope-1B' and no built-in model of that name\n"
        "  help: built-in: Llama-3.1-8B-Instruct, Qwen3-0.6B, Qwen3-30B-A3B, Qwen3-8B; "
        "or pass a Hugging Face config.json"
    )
    (tmp_path / "config.json").write_text('{"hidden_size": "big"}')
    with pytest.raises(UserError) as error:
        load_model(str(tmp_path))
    assert (
        error.value.problem.format()
        == f"{tmp_path}/config.json: bad-model-config: 'num_attention_heads' must be a non-negative integer, got None"
    )
    with pytest.raises(UserError) as error:
        advise(QWEN, Card("x", 32607), mem_fraction=1.5)
    assert (
        error.value.problem.format()
        == "--mem-fraction: bad-mem-fraction: --mem-fraction-static must be between 0 and 1, got 1.5"
    )
