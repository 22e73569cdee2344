"""The KV cache: the plan's bytes against the cache transformers 5.24 builds after a prefill.

Each shipped config is cut to a few small layers (keeping its pattern of sliding, chunked, full, state-space and
hybrid layers, with the window or chunk shrunk to 5 tokens), built with real transformers on the meta device, given
storage with ``to_empty(device="cpu")`` (the values do not matter, only the shapes the cache keeps), cast to
bfloat16 or float32, and run on a prefill of S tokens with ``use_cache=True``. The cache it returns
(``output.cache``, one ``DynamicLayer`` or ``DynamicSlidingWindowLayer`` per layer with ``keys`` and ``values``, a
``LinearAttentionLayer`` with ``conv_states`` and ``recurrent_states`` per state-space layer, both in a hybrid
layer) is measured tensor by tensor; the plan for the same config, batch, tokens and dtype must equal it to the
byte. S runs below, at and above the window (and the conv kernel). The formulas with no runtime to measure
(tensor/pipeline splits, the expanded latent form, kv_dtype, what fits on a GPU) are checked against the
derivations written beside them.
"""

from __future__ import annotations

from typing import Any

import pytest
import torch
import transformers
from hypothesis import given, settings
from hypothesis import strategies as st

from hf_oracle import shipped
from paramcount.analysis.planner import KVCache, MemoryPlan, PlanOptions, kv_cache, latent_cache, plan_memory
from paramcount.analysis.planner.kv import StateShapes, kv_capacity, tokens_kept
from paramcount.errors import ArgumentError, UnknownNameError
from paramcount.sources.hf import build_config_tree

WINDOW = 5
SMALL = {"hidden_size": 32, "intermediate_size": 48, "vocab_size": 64, "num_attention_heads": 4, "head_dim": 8}
TOKENS = {"pad_token_id": 0, "bos_token_id": 0, "eos_token_id": 0}  # inside the small vocabulary

CUTS: dict[str, dict[str, Any]] = {
    # GQA: 4 query heads share 2 key/value heads
    "llama": shipped("meta-llama--Llama-3.2-1B.json") | SMALL | {"num_hidden_layers": 3, "num_key_value_heads": 2},
    # Mistral v0.1: every layer slides
    "mistral": shipped("mistralai--Mistral-7B-v0.1.json")
    | SMALL
    | {"num_hidden_layers": 3, "num_key_value_heads": 2, "sliding_window": WINDOW},
    # Qwen2 with use_sliding_window: layers from max_window_layers on slide
    "qwen2": shipped("Qwen--Qwen2.5-7B.json")
    | SMALL
    | {"num_hidden_layers": 4, "num_key_value_heads": 2, "use_sliding_window": True, "max_window_layers": 2}
    | {"sliding_window": WINDOW},
    "qwen3": shipped("Qwen--Qwen3-8B.json")
    | SMALL
    | {"num_hidden_layers": 3, "num_key_value_heads": 1, "use_sliding_window": True, "max_window_layers": 1}
    | {"sliding_window": WINDOW},
    # Gemma 2: alternating local (sliding) and global layers
    "gemma2": shipped("google--gemma-2-9b.json")
    | SMALL
    | {"num_hidden_layers": 4, "num_key_value_heads": 2, "sliding_window": WINDOW},
    # Gemma 3 text: five local layers to one global, and MQA (one key/value head)
    "gemma3_text": shipped("google--gemma-3-1b-it.json")
    | SMALL
    | {"num_hidden_layers": 7, "num_key_value_heads": 1, "sliding_window": WINDOW},
    # Phi-3 mini: a window on every layer
    "phi3": shipped("microsoft--Phi-3-mini-4k-instruct.json")
    | SMALL
    | {"num_hidden_layers": 2, "num_key_value_heads": 4, "sliding_window": WINDOW}
    | TOKENS,
    # MQA through a fused projection (falcon-7b's multi_query)
    "falcon": shipped("tiiuae--falcon-7b.json")
    | {"hidden_size": 32, "num_attention_heads": 4, "num_hidden_layers": 2, "vocab_size": 64}
    | TOKENS,
    "gpt2": shipped("gpt2.json")
    | {"n_embd": 32, "n_head": 4, "n_layer": 2, "vocab_size": 64, "n_positions": 64}
    | TOKENS,
    # gpt-oss: sliding and full layers alternate (its layer_types), attention sinks (no cache), 2 of 4 experts
    "gpt_oss": shipped("openai--gpt-oss-20b.json")
    | SMALL
    | {"num_hidden_layers": 4, "num_key_value_heads": 2, "sliding_window": WINDOW, "num_local_experts": 4}
    | {"num_experts_per_tok": 2, "experts_per_token": 2}
    | {"layer_types": shipped("openai--gpt-oss-20b.json")["layer_types"][:4]}
    | TOKENS,
    # Multi-head latent attention, with a dense first layer and small MoE layers after it
    # Llama 4's text model: layers with rotary positions attend within chunks (kept as a window), every 4th (NoPE)
    # is full attention; MoE on alternate layers
    "llama4_text": shipped("meta-llama--Llama-4-Scout-17B-16E-Instruct.json")["text_config"]
    | SMALL
    | {"architectures": ["Llama4ForCausalLM"], "num_hidden_layers": 4, "num_key_value_heads": 2}
    | {"intermediate_size_mlp": 64, "num_local_experts": 2, "moe_layers": [1, 3], "attention_chunk_size": WINDOW}
    | {
        "no_rope_layers": shipped("meta-llama--Llama-4-Scout-17B-16E-Instruct.json")["text_config"]["no_rope_layers"][
            :4
        ]
    }
    | TOKENS,
    # Mamba: conv states [batch, intermediate, conv_kernel], SSM states [batch, intermediate, state_size]
    "mamba": shipped("state-spaces--mamba-130m-hf.json")
    | {"hidden_size": 32, "d_model": 32, "intermediate_size": 64, "d_inner": 64, "num_hidden_layers": 2}
    | {"n_layer": 2, "vocab_size": 64, "state_size": 4, "time_step_rank": 4}
    | TOKENS,
    # Mamba-2: conv states over intermediate + 2·groups·state channels, SSM states [batch, heads, head_dim, state]
    "mamba2": shipped("mistralai--Mamba-Codestral-7B-v0.1.json")
    | {"hidden_size": 32, "intermediate_size": 64, "num_heads": 8, "head_dim": 8, "n_groups": 2, "state_size": 4}
    | {"num_hidden_layers": 2, "vocab_size": 64, "time_step_rank": 4, "chunk_size": 4}
    | TOKENS,
    # Jamba: Mamba layers and attention layers alternating (attention on the odd ones), MoE on the odd ones
    "jamba": shipped("ai21labs--AI21-Jamba-1.5-Mini.json")
    | SMALL
    | {"num_key_value_heads": 2, "num_hidden_layers": 4, "attn_layer_period": 2, "attn_layer_offset": 1}
    | {"expert_layer_period": 2, "expert_layer_offset": 1, "num_experts": 4, "mamba_d_state": 4, "mamba_dt_rank": 4}
    | TOKENS,
    # Falcon-H1: a Mamba-2 mixer and attention in every layer (hybrid cache layers)
    "falcon_h1": shipped("tiiuae--Falcon-H1-0.5B-Base.json")
    | SMALL
    | {"num_key_value_heads": 2, "num_hidden_layers": 2, "mamba_d_ssm": 48, "mamba_d_state": 4}
    | {"mamba_n_heads": 6, "mamba_d_head": 8, "mamba_n_groups": 2, "mamba_chunk_size": 4}
    | TOKENS,
    # Qwen3-Next: three gated delta net layers (conv and recurrent states) to one full-attention layer
    "qwen3_next": shipped("Qwen--Qwen3-Next-80B-A3B-Instruct.json")
    | SMALL
    | {"num_key_value_heads": 2, "num_hidden_layers": 4, "linear_key_head_dim": 8, "linear_value_head_dim": 6}
    | {"linear_num_key_heads": 2, "linear_num_value_heads": 4, "num_experts": 4, "num_experts_per_tok": 2}
    | {"moe_intermediate_size": 8, "shared_expert_intermediate_size": 8}
    | TOKENS,
    "deepseek_v3": shipped("deepseek-ai--DeepSeek-V3.json")
    | {"hidden_size": 32, "intermediate_size": 48, "moe_intermediate_size": 8, "num_hidden_layers": 2}
    | {"num_attention_heads": 4, "num_key_value_heads": 4, "kv_lora_rank": 16, "q_lora_rank": 24}
    | {"qk_nope_head_dim": 8, "qk_rope_head_dim": 4, "v_head_dim": 6, "vocab_size": 64, "first_k_dense_replace": 1}
    | {"n_routed_experts": 4, "num_experts_per_tok": 2, "n_group": 1, "topk_group": 1, "quantization_config": None}
    | TOKENS,
}


def built(config: dict[str, Any], dtype: torch.dtype) -> torch.nn.Module:
    """The real model of ``config`` (its ``architectures[0]``), eager attention, with storage but no init."""
    settings = {key: value for key, value in config.items() if key not in ("architectures", "transformers_version")}
    settings = {key: value for key, value in settings.items() if value is not None or key == "sliding_window"}
    hf_config = transformers.AutoConfig.for_model(**settings)
    hf_config._attn_implementation = "eager"
    with torch.device("meta"):
        model: torch.nn.Module = getattr(transformers, config["architectures"][0])(hf_config)
    return model.to_empty(device="cpu").to(dtype).eval()


def prefill(model: torch.nn.Module, batch: int, tokens: int) -> Any:
    """The cache after one forward pass over ``batch`` × ``tokens`` token ids."""
    ids = torch.zeros((batch, tokens), dtype=torch.long)
    with torch.no_grad():
        return model(input_ids=ids, use_cache=True).cache


def layer_tensors(layer: Any) -> list[torch.Tensor]:
    """The tensors one cache layer holds: keys and values, conv and recurrent states (a hybrid layer: all four)."""
    found = [getattr(layer, name, None) for name in ("keys", "values")]
    for name in ("conv_states", "recurrent_states"):
        found.extend(getattr(layer, name, {}).values())
    return [tensor for tensor in found if isinstance(tensor, torch.Tensor)]


def cache_bytes(cache: Any) -> int:
    """Bytes of every tensor the cache holds."""
    return sum(tensor.numel() * tensor.element_size() for layer in cache.layers for tensor in layer_tensors(layer))


def cache_of(plan: MemoryPlan) -> KVCache:
    assert plan.kv_cache is not None
    return plan.kv_cache


def planned(config: dict[str, Any], batch: int, tokens: int, dtype: str) -> Any:
    return plan_memory(build_config_tree(config), options=PlanOptions(dtype=dtype, seq_len=tokens, batch=batch))


@pytest.mark.parametrize("dtype", ["bfloat16", "float32"])
@pytest.mark.parametrize("family", list(CUTS))
def test_kv_bytes_equal_the_cache_transformers_builds(family: str, dtype: str) -> None:
    config = {key: value for key, value in CUTS[family].items() if value is not None}
    model = built(CUTS[family], getattr(torch, dtype))
    for batch, tokens in ((1, WINDOW - 2), (2, WINDOW - 1), (1, WINDOW), (2, 2 * WINDOW + 1)):
        plan = planned(config, batch, tokens, dtype)
        measured = cache_bytes(prefill(model, batch, tokens))
        assert plan.kv_cache.bytes == measured, f"{family} {dtype} batch {batch}, {tokens} tokens"
        kv_items = sum(item.bytes for item in plan.items if item.category == "kv_cache")
        assert kv_items == measured


def test_the_cut_configs_keep_their_layer_pattern() -> None:
    # The cuts above exercise the patterns they were chosen for: gemma2 alternates, gemma3 has one global layer
    # in six (the 6th), qwen2 slides from max_window_layers on, Mistral and Phi-3 slide everywhere.
    # Llama 4 chunks all but every 4th layer; Mamba's layers keep states only (linear), Falcon-H1's both (hybrid)
    def types(family: str) -> tuple[str, ...]:
        dims = planned(CUTS[family], 1, 1, "float32").dims
        return tuple(kind[0] for kind in dims.layer_types) or ("f",) * dims.layers

    assert types("gemma2") == ("s", "f", "s", "f")
    assert types("gemma3_text") == ("s", "s", "s", "s", "s", "f", "s")
    assert types("qwen2") == ("f", "f", "s", "s")
    assert types("mistral") == ("s", "s", "s")
    assert types("phi3") == ("s", "s")
    assert types("llama") == ("f", "f", "f")
    assert types("gpt_oss") == ("s", "f", "s", "f")
    assert types("llama4_text") == ("c", "c", "c", "f")
    assert types("mamba") == types("mamba2") == ("l", "l")
    assert types("jamba") == ("l", "f", "l", "f")
    assert types("falcon_h1") == ("h", "h")
    assert types("qwen3_next") == ("l", "l", "l", "f")


def test_the_gqa_and_mqa_cuts_cache_their_kv_heads() -> None:
    # keys [batch, kv_heads, tokens, head_dim]: llama 2 kv heads of 8, gemma3 1 (MQA), falcon-7b 1 of 8 (MQA)
    for family, kv_heads, head_dim in (("llama", 2, 8), ("gemma3_text", 1, 8), ("falcon", 1, 8)):
        layer = prefill(built(CUTS[family], torch.float32), 1, 3).layers[0]
        assert tuple(layer.keys.shape) == (1, kv_heads, 3, head_dim)
        dims = planned(CUTS[family], 1, 3, "float32").dims
        assert (dims.kv_heads, dims.head_dim) == (kv_heads, head_dim)


def test_latent_attention_caches_the_latent_and_the_expanded_form_is_what_expand_kv_makes() -> None:
    # transformers 5.24 caches [batch, 1, tokens, kv_lora_rank] and [batch, 1, tokens, qk_rope_head_dim];
    # the expanded form is what DeepseekV3Attention.expand_kv builds from them: per head, keys of
    # qk_nope + qk_rope = 12 and values of v_head_dim = 6.
    model = built(CUTS["deepseek_v3"], torch.bfloat16)
    cache = prefill(model, 2, 7)
    assert tuple(cache.layers[0].keys.shape) == (2, 1, 7, 16)
    assert tuple(cache.layers[0].values.shape) == (2, 1, 7, 4)
    expanded = 0
    for index, layer in enumerate(cache.layers):
        attention: Any = model.get_submodule(f"model.layers.{index}.self_attn")
        keys, values = attention.expand_kv(layer.keys, layer.values)
        assert (tuple(keys.shape), tuple(values.shape)) == ((2, 4, 7, 12), (2, 4, 7, 6))
        expanded += keys.numel() * keys.element_size() + values.numel() * values.element_size()
    plan = planned(CUTS["deepseek_v3"], 2, 7, "bfloat16")
    assert plan.kv_cache.form == "latent"
    assert plan.kv_cache_expanded is not None
    assert plan.kv_cache_expanded.bytes == expanded


STATE_FAMILIES = ["mamba", "mamba2", "jamba", "falcon_h1", "qwen3_next"]


@pytest.mark.parametrize("family", STATE_FAMILIES)
def test_states_have_the_shapes_and_dtypes_transformers_keeps(family: str) -> None:
    # each state-space layer keeps a conv state [batch, channels, conv_kernel] in the model's dtype (3 tokens: left-
    # padded to the kernel of 4; 9 tokens: the last 4) and a recurrent state in float32, whatever the tokens
    model = built(CUTS[family], torch.bfloat16)
    for tokens in (3, 9):
        layers = [layer for layer in prefill(model, 2, tokens).layers if getattr(layer, "conv_states", None)]
        (state,) = cache_of(planned(CUTS[family], 2, tokens, "bfloat16")).states
        assert state.layers == len(layers) > 0
        for layer in layers:
            conv, recurrent = layer.conv_states[0], layer.recurrent_states[0]
            assert (tuple(conv.shape), conv.dtype) == (state.conv.shape, torch.bfloat16)
            assert (tuple(recurrent.shape), recurrent.dtype) == (state.recurrent.shape, torch.float32)
        assert (state.conv.dtype, state.recurrent.dtype) == ("bfloat16", "float32")


@settings(max_examples=12)
@given(
    family=st.sampled_from(["llama", "mistral", "qwen2", "gemma2", "gemma3_text"]),
    layers=st.integers(1, 5),
    kv_heads=st.sampled_from([1, 2, 4]),
    head_dim=st.sampled_from([4, 6, 8]),
    window=st.integers(1, 8),
    batch=st.integers(1, 3),
    tokens=st.integers(1, 12),
    dtype=st.sampled_from(["bfloat16", "float32"]),
)
def test_random_small_configs_match_transformers(
    family: str, layers: int, kv_heads: int, head_dim: int, window: int, batch: int, tokens: int, dtype: str
) -> None:
    config = CUTS[family] | {"num_hidden_layers": layers, "num_key_value_heads": kv_heads, "head_dim": head_dim}
    config |= {"sliding_window": window, "max_window_layers": layers // 2}
    config = {key: value for key, value in config.items() if key != "layer_types"}
    measured = cache_bytes(prefill(built(config, getattr(torch, dtype)), batch, tokens))
    assert planned(config, batch, tokens, dtype).kv_cache.bytes == measured


# --- the formulas no runtime measures here ---------------------------------------------------------------------


def test_a_sliding_layer_keeps_window_minus_one_tokens() -> None:
    # DynamicSlidingWindowLayer.update keeps full_states[:, :, -window + 1:, :]: Python's slice semantics
    assert [tokens_kept(tokens, "sliding_attention", 5) for tokens in (1, 4, 5, 9)] == [1, 4, 4, 4]
    assert tokens_kept(9, "sliding_attention", 1) == 9  # [-0:] keeps everything
    assert tokens_kept(9, "sliding_attention", 0) == 8  # [1:] drops the first token
    assert tokens_kept(9, "full_attention", 5) == 9


def test_a_chunked_layer_keeps_the_chunk_minus_one_tokens() -> None:
    # Llama 4 Scout at 10,000 tokens: 12 NoPE layers keep every token, 36 chunked layers the last 8,191 (chunks of
    # 8,192); 8 kv heads of 128, keys and values, 2 bytes each
    plan = plan_memory(
        build_config_tree(shipped("meta-llama--Llama-4-Scout-17B-16E-Instruct.json")),
        options=PlanOptions(seq_len=10_000),
    )
    assert cache_of(plan).bytes == (12 * 10_000 + 36 * 8_191) * 2 * 8 * 128 * 2
    assert cache_of(plan).window == 8192


def test_pipeline_stages_of_a_hybrid_take_the_stage_with_the_most_cache() -> None:
    # l l l f | f f l l over pp=2 at 100 tokens, 1 kv head of 4 in 16 bits (1,600 bytes of keys and values per full
    # layer), states of (8 × 4) conv elements in 16 bits and (8 × 2) float32: 64 + 64 = 128 bytes per layer: stage 1
    # keeps 1 · 1,600 + 3 · 128 = 1,984 bytes, stage 2 2 · 1,600 + 2 · 128 = 3,456
    linear, full = "linear_attention", "full_attention"
    shapes = StateShapes("MambaMixer", (8, 4), (8, 2), "SSM")
    layer_types = (linear, linear, linear, full, full, full, linear, linear)

    def cache(tp: int, pp: int) -> KVCache:
        return kv_cache(
            batch=1, seq_len=100, layers=8, kv_heads=1, head_dim=4, layer_types=layer_types, states=shapes, tp=tp, pp=pp
        )

    stage = cache(1, 2)
    assert (stage.bytes, stage.states[0].layers, stage.groups[0].layers) == (3_456, 2, 2)
    # tensor parallelism splits the channels and the state's heads: 4 of 8 on each of 2 devices, an estimate
    split = cache(2, 1)
    assert (split.states[0].conv.shape, split.states[0].recurrent.shape) == ((1, 4, 4), (1, 4, 2))
    assert not any(item.exact for item in split.states[0].items)


def test_pipeline_stages_take_the_stage_with_the_most_cache() -> None:
    # 6 layers s f s f s f over pp=2 stages of 3: stage 1 is s f s (1 full), stage 2 f s f (2 full). At 100 tokens,
    # window 11 (10 kept), 1 kv head of 4 in 16 bits: stage 2 keeps 2·100 + 10 tokens · 2 tensors · 4 · 2 bytes.
    layer_types = ("sliding_attention", "full_attention") * 3
    cache = kv_cache(
        batch=1, seq_len=100, layers=6, kv_heads=1, head_dim=4, sliding_window=11, layer_types=layer_types, pp=2
    )
    assert cache.bytes == (2 * 100 + 10) * 2 * 4 * 2


def test_latent_cache_is_rank_plus_rope_per_token_and_not_split_by_tp() -> None:
    # DeepSeek-V3: 61 layers · (512 + 64) elements · 2 bytes = 70,272 bytes per token (vLLM's 576-wide MLA cache)
    cache = latent_cache(batch=1, seq_len=1, layers=61, kv_lora_rank=512, qk_rope_head_dim=64)
    assert cache.bytes == 61 * 576 * 2
    plan = plan_memory(
        build_config_tree(shipped("deepseek-ai--DeepSeek-V3.json")), options=PlanOptions(seq_len=1000, tp=8, gpus=8)
    )
    per_device = sum(item.bytes for item in plan.per_device if item.category == "kv_cache")
    assert per_device == cache_of(plan).bytes == 1000 * 61 * 576 * 2
    # expanded: 128 heads · (128 + 64 keys + 128 values) per token per layer
    assert plan.kv_cache_expanded is not None
    assert plan.kv_cache_expanded.bytes == 1000 * 61 * 128 * (192 + 128) * 2


@pytest.mark.parametrize(
    ("name", "dtype", "bits"),
    [
        ("fp8", "float8_e4m3fn", 8),
        ("fp8_e5m2", "float8_e5m2", 8),
        ("int8", "int8", 8),
        ("bf16", "bfloat16", 16),
        ("fp16", "float16", 16),
        ("fp32", "float32", 32),
    ],
)
def test_kv_dtype_sets_the_cache_dtype(name: str, dtype: str, bits: int) -> None:
    # Llama-3.1-8B at 1,000 tokens: 32 layers · 2 · 8 kv heads · 128 elements per token, at `bits` each
    tree = build_config_tree(shipped("meta-llama--Llama-3.1-8B.json"))
    plan = plan_memory(tree, options=PlanOptions(seq_len=1000, kv_dtype=name))
    assert plan.options.kv_dtype == cache_of(plan).dtype == dtype
    assert cache_of(plan).bytes == 1000 * 32 * 2 * 8 * 128 * bits // 8
    assert any(item.label == "weights (bfloat16)" for item in plan.items)  # the weights keep the model's dtype


def test_kv_dtype_defaults_to_the_models_dtype() -> None:
    plan = plan_memory(build_config_tree(shipped("meta-llama--Llama-3.1-8B.json")), options=PlanOptions(seq_len=10))
    assert cache_of(plan).dtype == "bfloat16"


@pytest.mark.parametrize(
    ("options", "error", "message"),
    [
        (
            {"kv_dtype": "nf4"},
            ArgumentError,
            "kv_dtype: 'nf4' is not a KV cache dtype; use one of float32, bfloat16, float16, float8_e4m3fn, "
            "float8_e5m2, int8",
        ),
        ({"kv_dtype": "fp9"}, UnknownNameError, "kv_dtype: unknown KV cache dtype 'fp9'; did you mean 'fp8'?"),
        (
            {"kv_dtype": "fp8", "optimizer": "adamw"},
            ArgumentError,
            "kv_dtype: applies to inference (the KV cache); leave out the optimizer",
        ),
    ],
)
def test_bad_kv_dtypes_are_refused(options: dict[str, Any], error: type[Exception], message: str) -> None:
    with pytest.raises(error) as caught:
        PlanOptions(**options)
    assert str(caught.value) == message


def test_capacity_is_the_largest_context_and_batch_that_fit() -> None:
    # 1,000 bytes per token per sequence, 10,500 bytes free: 10 tokens for one sequence, 5 for two (batch 2 → 5
    # each); at 3 tokens each, 3 sequences.
    capacity = kv_capacity(
        accelerator="X",
        memory_bytes=12_000,
        other_bytes=1_500,
        batch=2,
        seq_len=3,
        cache_bytes=lambda batch, tokens: 1000 * batch * tokens,
    )
    assert (capacity.free_bytes, capacity.max_context, capacity.max_tokens, capacity.max_batch) == (10_500, 5, 10, 3)
    # nothing fits when the weights alone overflow
    short = kv_capacity(
        accelerator="X", memory_bytes=1, other_bytes=2, batch=1, seq_len=None, cache_bytes=lambda b, t: b * t
    )
    assert (short.max_context, short.max_batch) == (0, None)


def test_capacity_on_a_gpu_counts_the_weights_and_caps_sliding_layers() -> None:
    # Llama-3.1-8B in bf16 on an H100 (81,559 MiB reported): 131,072 bytes of cache per token (32 layers · 2 · 8 · 128
    # · 2 bytes); the context is the free memory over that, rounded down.
    tree = build_config_tree(shipped("meta-llama--Llama-3.1-8B.json"))
    plan = plan_memory(tree, options=PlanOptions(gpu="H100-80GB"))
    capacity = plan.kv_capacity
    assert capacity is not None
    assert capacity.other_bytes == plan.per_device_bytes
    assert capacity.max_context == (81_559 * 2**20 - plan.per_device_bytes) // 131_072
    # Mistral v0.1 slides on every layer: the cache stops growing at 4,095 tokens, so any context fits
    mistral = plan_memory(
        build_config_tree(shipped("mistralai--Mistral-7B-v0.1.json")), options=PlanOptions(gpu="H100")
    )
    assert mistral.kv_capacity is not None
    assert (mistral.kv_capacity.max_context, mistral.kv_capacity.bounded_by) == (None, ("window",))


def test_capacity_of_a_state_space_model_is_any_context_for_as_many_sequences_as_fit(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # mamba-130m (float32) keeps per sequence, whatever its length, 24 layers of a conv state of 1,536 × 4 and an SSM
    # state of 1,536 × 16, 4 bytes each: 24 · 1,536 · 20 · 4 = 2,949,120 bytes
    tree = build_config_tree(shipped("state-spaces--mamba-130m-hf.json"))
    plan = plan_memory(tree, options=PlanOptions(gpu="H100", seq_len=1000, batch=2))
    capacity = plan.kv_capacity
    assert capacity is not None
    assert cache_of(plan).bytes == 2 * 2_949_120
    assert capacity.free_bytes == 81_559 * 2**20 - (plan.per_device_bytes - 2 * 2_949_120)
    assert (capacity.max_context, capacity.bounded_by) == (None, ("states",))
    assert capacity.max_batch == capacity.free_bytes // 2_949_120
    # Falcon-H1 0.5B grows by 36 layers · 2 · 2 kv heads · 64 · 2 bytes = 18,432 bytes a token beside its states:
    # 36 · (1,792 · 4 · 2 + 24 · 64 · 128 · 4) = 28,827,648 bytes
    hybrid = plan_memory(
        build_config_tree(shipped("tiiuae--Falcon-H1-0.5B-Base.json")), options=PlanOptions(gpu="H100")
    )
    assert hybrid.kv_capacity is not None
    assert hybrid.kv_capacity.bounded_by == ("states",)
    assert hybrid.kv_capacity.max_context == (hybrid.kv_capacity.free_bytes - 28_827_648) // 18_432
    from paramcount.cli import main

    assert (
        main(["state-spaces/mamba-130m-hf", "--offline", "--gpu", "H100", "--seq-len", "1000", "--batch-size", "2"])
        == 0
    )
    said = " ".join(capsys.readouterr().out.split())
    assert (
        "any context fits for a batch of 2: every layer keeps fixed-size states, so the cache stops growing; "
        f"{capacity.max_batch:,} sequences of 1,000 tokens"
    ) in said


ENCODER_DECODERS: dict[str, dict[str, Any]] = {
    "bart": shipped("facebook--bart-base.json")
    | {"d_model": 32, "encoder_layers": 2, "decoder_layers": 3, "num_hidden_layers": 2, "encoder_attention_heads": 4}
    | {"decoder_attention_heads": 4, "encoder_ffn_dim": 48, "decoder_ffn_dim": 48, "vocab_size": 64}
    | TOKENS
    | {"decoder_start_token_id": 0},
    "t5": shipped("google-t5--t5-small.json")
    | {"d_model": 32, "d_kv": 8, "num_heads": 4, "d_ff": 48, "num_layers": 2, "num_decoder_layers": 3}
    | {"vocab_size": 64, "pad_token_id": 0, "eos_token_id": 0, "decoder_start_token_id": 0},
    # Whisper's encoder reads 2 · max_source_positions frames: a 16-position window keeps it small
    "whisper": shipped("openai--whisper-tiny.json")
    | {"d_model": 32, "encoder_layers": 2, "decoder_layers": 3, "num_hidden_layers": 2, "encoder_attention_heads": 4}
    | {"decoder_attention_heads": 4, "encoder_ffn_dim": 48, "decoder_ffn_dim": 48, "vocab_size": 64}
    | {"max_source_positions": 16, "num_mel_bins": 8}
    | TOKENS
    | {"decoder_start_token_id": 0},
}
# An encoder deeper than its decoder (distil-whisper: 32 and 2 layers): the decoder's layers make the cache
ENCODER_DECODERS["bart, deeper encoder"] = ENCODER_DECODERS["bart"] | {"encoder_layers": 5, "num_hidden_layers": 5}
ENCODER_DECODERS["whisper, deeper encoder"] = ENCODER_DECODERS["whisper"] | {
    "encoder_layers": 4,
    "num_hidden_layers": 4,
}
ENCODER_DECODERS["whisper, deeper encoder"] |= {"decoder_layers": 1}


def encoder_decoder_prefill(model: torch.nn.Module, config: dict[str, Any], shape: tuple[int, ...]) -> Any:
    """The ``EncoderDecoderCache`` after one forward pass: (batch, source, target) token ids, or Whisper's
    (batch, target) decoder tokens on the log-mel features of its window."""
    batch, target = shape[0], shape[-1]
    if config["model_type"] == "whisper":
        features = torch.zeros((batch, config["num_mel_bins"], 2 * config["max_source_positions"]))
        inputs = {"input_features": features.to(next(model.parameters()).dtype)}
    else:
        inputs = {"input_ids": torch.zeros((batch, shape[1]), dtype=torch.long)}
    with torch.no_grad():
        return model(**inputs, decoder_input_ids=torch.zeros((batch, target), dtype=torch.long), use_cache=True).cache


@pytest.mark.parametrize("dtype", ["bfloat16", "float32"])
@pytest.mark.parametrize("family", list(ENCODER_DECODERS))
def test_encoder_decoder_kv_bytes_equal_the_cache_transformers_builds(family: str, dtype: str) -> None:
    # EncoderDecoderCache: the decoder's self-attention cache holds the target tokens, the cross-attention cache
    # the encoder output's keys and values at the source length (Whisper: its 16 positions), per decoder layer.
    from paramcount.analysis.shapes.propagate import propagate

    config = ENCODER_DECODERS[family]
    model = built(config, getattr(torch, dtype))
    tree = build_config_tree(config)
    speech = config["model_type"] == "whisper"
    shapes = [(1, 1), (2, 5)] if speech else [(1, 4), (2, 3, 3), (2, 7, 2), (1, 2, 9)]
    for shape in shapes:
        given = propagate(tree, shape) if len(shape) == 3 else None  # --input batch,source,target
        options = PlanOptions(dtype=dtype, seq_len=shape[-1], batch=shape[0])
        plan = plan_memory(tree, options=options, shapes=given)
        cache = encoder_decoder_prefill(model, config, shape)
        parts = {"full_attention": cache.self_attention_cache, "cross_attention": cache.cross_attention_cache}
        assert {group.layer_type: group.bytes for group in cache_of(plan).groups} == {
            kind: cache_bytes(part) for kind, part in parts.items()
        }, f"{family} {dtype} {shape}"
        kv_items = sum(item.bytes for item in plan.items if item.category == "kv_cache")
        assert kv_items == cache_bytes(cache.self_attention_cache) + cache_bytes(cache.cross_attention_cache)
    labels = [item.label for item in plan.items if item.category == "kv_cache"]
    source = 16 if speech else shapes[-1][1]
    layers = "1 decoder layer" if config.get("decoder_layers") == 1 else "3 decoder layers"
    assert labels[2:] == [f"KV cache {tensor}, {layers} × {source} encoder positions (cross-attention)"
                          for tensor in ("keys", "values")]  # fmt: skip


DECODERS_ALONE = {
    "MarianForCausalLM": "Helsinki-NLP--opus-mt-en-de.json",
    "MBartForCausalLM": "facebook--mbart-large-50.json",
    "PegasusForCausalLM": "google--pegasus-xsum.json",
}


@pytest.mark.parametrize("dtype", ["bfloat16", "float32"])
@pytest.mark.parametrize("architecture", list(DECODERS_ALONE))
def test_a_decoder_alone_caches_its_self_attention_only(architecture: str, dtype: str) -> None:
    # The ForCausalLM runs its decoder without encoder states: a DynamicCache (config.is_encoder_decoder is False),
    # keys and values of its decoder_layers at decoder_attention_heads, no cross-attention cache. transformers
    # makes one cache layer per num_hidden_layers (the encoder's depth here, 3), the 3rd left empty; the
    # encoder's 2 heads would give a narrower head_dim.
    config = shipped(DECODERS_ALONE[architecture]) | {"architectures": [architecture], "d_model": 32}
    config |= {"num_hidden_layers": 3, "encoder_layers": 3, "decoder_layers": 2, "encoder_attention_heads": 2}
    config |= {"decoder_attention_heads": 4, "encoder_ffn_dim": 48, "decoder_ffn_dim": 40, "vocab_size": 64}
    config |= {"decoder_vocab_size": 64} | TOKENS | {"decoder_start_token_id": 0}
    model = built(config, getattr(torch, dtype))
    for batch, tokens in ((1, 4), (2, 7)):
        cache = prefill(model, batch, tokens)
        assert isinstance(cache, transformers.DynamicCache)
        plan = planned(config, batch, tokens, dtype)
        assert [(group.layer_type, group.bytes) for group in cache_of(plan).groups] == [
            ("full_attention", cache_bytes(cache))
        ]
        # 2 layers · keys and values · batch · tokens · 4 heads · head_dim 8
        assert cache_bytes(cache) == 2 * 2 * batch * tokens * 32 * getattr(torch, dtype).itemsize
    labels = [item.label for item in plan.items if item.category == "kv_cache"]
    assert labels == [f"KV cache {tensor}, 2 full-attention layers × 7 tokens" for tensor in ("keys", "values")]


@pytest.mark.parametrize(
    ("family", "architecture", "why"),
    [
        ("bert", None, "BertForMaskedLM, whose layers cache only as a decoder (is_decoder is false)"),
        ("roberta", None, "RobertaForMaskedLM, whose layers cache only as a decoder (is_decoder is false)"),
        ("electra", None, "ElectraForPreTraining, whose layers cache only as a decoder (is_decoder is false)"),
        ("distilbert", None, "DistilBertForMaskedLM, an encoder (it reads the whole sequence in one pass)"),
        ("albert", None, "AlbertForMaskedLM, an encoder (it reads the whole sequence in one pass)"),
        ("mpnet", None, "MPNetForMaskedLM, an encoder (it reads the whole sequence in one pass)"),
        ("openai_gpt", None, "OpenAIGPTLMHeadModel, whose attention takes no past keys and values"),
        ("t5", "T5EncoderModel", "T5EncoderModel, the encoder alone"),
        ("bert_causal", None, None),  # is_decoder: BertLMHeadModel caches its self-attention
    ],
)
def test_an_encoder_keeps_no_cache(family: str, architecture: str | None, why: str | None) -> None:
    # transformers 5.24 returns no cache from an encoder's forward with use_cache=True (BERT's layers only cache
    # with is_decoder; OpenAI GPT's attention takes none): the plan has no KV cache and says why, and "max tokens
    # that fit" is not offered; a BERT decoder's cache is the one transformers builds.
    from activation_oracle import real_model, tiny_config

    config, chosen = tiny_config(family, 2)
    chosen = architecture or chosen
    config["architectures"] = [chosen]
    model = real_model(config, chosen, "eager", False, half=False)
    asked = {} if chosen == "T5EncoderModel" else {"use_cache": True}  # T5's encoder refuses it (decoder only)
    with torch.no_grad():
        cache = model(input_ids=torch.ones((2, 7), dtype=torch.long), **asked).get("cache")
    tree = build_config_tree(config)
    plan = plan_memory(tree, options=PlanOptions(seq_len=7, batch=2, gpu="H100"))
    kv_items = sum(item.bytes for item in plan.items if item.category == "kv_cache")
    if why is None:
        assert cache is not None
        assert cache_of(plan).bytes == kv_items == cache_bytes(cache) > 0
        return
    assert cache is None
    assert (plan.kv_cache, plan.kv_capacity, kv_items) == (None, None, 0)
    assert [note.values for note in plan.assumptions if note.kind == "kv-none"] == [(("why", why),)]


class _Tagger(torch.nn.Module):
    """A live model whose stack sits inside torch's TransformerDecoder, under the user's own class."""

    def __init__(self) -> None:
        super().__init__()
        self.embedding = torch.nn.Embedding(64, 16)
        self.decoder = torch.nn.TransformerDecoder(torch.nn.TransformerDecoderLayer(16, 2, 32), 2)
        self.head = torch.nn.Linear(16, 64)


@pytest.mark.parametrize(
    ("model", "layer"),
    [
        ("nn.TransformerDecoder(nn.TransformerDecoderLayer(16, 2, 32), 2)", "TransformerDecoderLayer"),
        ("nn.TransformerEncoder(nn.TransformerEncoderLayer(16, 2, 32), 2)", "TransformerEncoderLayer"),
        ("nn.Transformer(16, 2, 2, 2, 32)", "TransformerDecoderLayer"),  # the decoder: the stack the cache would read
        ("nn.TransformerDecoderLayer(16, 2, 32)", "TransformerDecoderLayer"),  # one layer: no stack at all
        (
            "nn.Sequential(nn.Embedding(64, 16), nn.TransformerEncoder(nn.TransformerEncoderLayer(16, 2), 2))",
            "TransformerEncoderLayer",
        ),
        (_Tagger, "TransformerDecoderLayer"),  # a live module, through paramcount.summary
    ],
)
def test_torch_transformer_modules_keep_no_cache(model: str | type[torch.nn.Module], layer: str) -> None:
    # torch 2.13's nn.Transformer* forward takes no past keys and values (no cache argument in any signature) and
    # returns the output alone: every call recomputes every key and value, so a plan for them has no KV cache,
    # names the layer, and offers no "max tokens that fit".
    import inspect

    import paramcount

    for name in ("Transformer", "TransformerEncoder", "TransformerDecoder", layer):
        arguments = inspect.signature(getattr(torch.nn, name).forward).parameters
        assert not [argument for argument in arguments if "cache" in argument or "past" in argument]
    decoder = torch.nn.TransformerDecoder(torch.nn.TransformerDecoderLayer(16, 2, 32), 2).eval()
    with torch.no_grad():
        assert isinstance(decoder(torch.zeros(5, 1, 16), torch.zeros(3, 1, 16)), torch.Tensor)
    if isinstance(model, str):
        plan = paramcount.count(model).report(PlanOptions(seq_len=7, batch=2, gpu="H100"), sections=()).plan
    else:
        plan = paramcount.summary(model(), optimizer=None, seq_len=7, batch=2, gpu="H100").plan
    assert plan is not None
    kv_items = [item for item in plan.items if item.category == "kv_cache"]
    assert (plan.kv_cache, plan.kv_capacity, kv_items) == (None, None, [])
    assert [note.values for note in plan.assumptions if note.kind == "kv-none-torch"] == [(("modules", (layer,)),)]
    assert not any(note.kind in ("kv-cache", "kv-none", "kv-no-stack") for note in plan.assumptions)


@pytest.mark.parametrize(
    ("name", "limit"),
    [
        ("gpt2.json", 1024),  # wpe: n_positions = 1024 rows
        ("facebook--opt-1.3b.json", 2048),  # embed_positions: max_position_embeddings + 2 rows, read from offset 2
        ("openai--whisper-tiny.json", 448),  # the decoder's embed_positions: max_target_positions = 448 rows
        ("meta-llama--Llama-3.2-1B.json", None),  # rotary positions: no table to outgrow
    ],
)
def test_capacity_stops_at_the_learned_position_table(name: str, limit: int | None) -> None:
    # An H100 holds a cache of millions of tokens for these small models, but a model with learned positions cannot
    # read past its table (torch's embedding lookup refuses the index, as --seq-len does): the context is capped.
    plan = plan_memory(build_config_tree(shipped(name)), options=PlanOptions(gpu="H100"))
    capacity = plan.kv_capacity
    assert capacity is not None
    assert capacity.position_limit == limit
    if limit is None:
        assert capacity.max_context is not None
        assert capacity.max_context > 1_000_000
    else:
        assert capacity.max_context == limit


def test_labels_say_one_layer_one_token_one_head_in_the_singular() -> None:
    # Jamba-1.5-Mini: attention in 4 of its 32 layers, so each of 4 pipeline stages caches 1 attention layer; one
    # token; Falcon-7B's multi-query attention caches 1 key/value head.
    from paramcount.render.assumptions import assumption_text

    jamba = build_config_tree(shipped("ai21labs--AI21-Jamba-1.5-Mini.json"))
    plan = plan_memory(jamba, options=PlanOptions(seq_len=1, pp=4, gpus=4))
    assert [item.label for item in plan.per_device if item.category == "kv_cache"][:2] == [
        f"KV cache {tensor}, 1 full-attention layer × 1 token" for tensor in ("keys", "values")
    ]
    falcon = plan_memory(build_config_tree(shipped("tiiuae--falcon-7b.json")), options=PlanOptions(seq_len=1))
    said = [assumption_text(note) for note in falcon.assumptions if note.kind == "kv-cache"]
    assert said == [
        "KV cache as transformers 5.24 DynamicCache after a prefill: keys and values · batch 1 · 1 token · 32 layers · "
        "1 kv head · head_dim 64 · 16-bit bfloat16"
    ]


@pytest.mark.parametrize(
    "name", ["meta-llama--Llama-3.2-1B.json", "Qwen--Qwen3-30B-A3B.json", "gpt2.json", "facebook--opt-1.3b.json"]
)
def test_capacity_beyond_the_configured_context_says_so(name: str) -> None:
    # Rotary positions have no table to stop at, so the memory may hold more context than the config gives the
    # model (max_position_embeddings, what vLLM derives its default max_model_len from): the capacity says so.
    # A learned table caps the context first (GPT-2's n_positions, OPT's table), and then nothing more is said.
    config = shipped(name)
    plan = plan_memory(build_config_tree(config), options=PlanOptions(gpu="H100"))
    capacity = plan.kv_capacity
    assert capacity is not None
    assert capacity.max_context is not None
    if capacity.position_limit is not None:
        assert capacity.configured_context is None
    else:
        assert capacity.configured_context == config["max_position_embeddings"] < capacity.max_context
