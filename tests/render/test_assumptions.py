"""Assumptions are data (a kind and its values); the renderer writes the sentence and the JSON data."""

from __future__ import annotations

import paramcount
from hf_oracle import shipped
from paramcount.analysis.memory import Assumption
from paramcount.analysis.planner import PlanOptions, plan_memory
from paramcount.analysis.planner.kv import (
    TRANSFORMERS,
    CrossAttention,
    cross_attention_cache,
    expanded_latent_cache,
    kv_cache,
    latent_cache,
)
from paramcount.render.assumptions import TEMPLATES, assumption_data, assumption_text, dtype_reason


def test_numbers_are_formatted_by_the_renderer() -> None:
    frozen = Assumption.of("frozen", frozen=1234567)
    assert frozen.values == (("frozen", 1234567),)
    assert assumption_text(frozen) == (
        "1,234,567 frozen parameters are held as weights only (no gradients or optimizer states)"
    )


def test_names_are_joined_and_inner_assumptions_written_out() -> None:
    sizes = Assumption.of(
        "transformer-sizes", stack="", notes=(Assumption.of("several-stacks", path=""), Assumption.of("fused-qkv"))
    )
    assert assumption_text(sizes) == (
        "transformer sizes from the tree (root): several stacks of blocks; using the root (the largest of those as "
        "wide as the output head's inputs, else the largest); "
        "fused query/key/value projection split in three equal parts (multi-head attention assumed)"
    )
    assert assumption_data(sizes) == {
        "kind": "transformer-sizes",
        "values": {
            "stack": "",
            "notes": [{"kind": "several-stacks", "values": {"path": ""}}, {"kind": "fused-qkv", "values": {}}],
        },
    }
    unmodelled = Assumption.of("per-operation-unmodelled", kinds=("PReLU", "GLU"))
    assert assumption_text(unmodelled) == "saved tensors per operation not modelled for: PReLU, GLU"


def test_every_assumption_of_a_plan_has_a_sentence() -> None:
    tree = paramcount.from_config("meta-llama/Llama-3.1-8B").tree
    options = PlanOptions(optimizer="adamw", mixed_precision="bf16", seq_len=512, tp=2, zero=1, gpus=4, gpu="H100")
    plan = plan_memory(tree, None, options)
    kinds = [a.kind for a in plan.assumptions]
    assert {
        "dtype",
        "mixed-precision",
        "optimizer",
        "activations-dtype",
        "zero",
        "model-parallel",
        "tp-scalars",
    } <= set(kinds)
    assert all(a.kind in TEMPLATES for a in plan.assumptions)
    said = [assumption_text(a) for a in plan.assumptions]
    assert said[0] == "dtype bfloat16: the dtype the config stores" == f"dtype {dtype_reason(plan.dtype_choice)}"
    assert (
        "ZeRO-1 shards the optimizer states over 2 data-parallel devices (Rajbhandari et al. 2020) as torch's FSDP2 "
        "(fully_shard) does, in per-parameter shards whose states torch.optim keeps: each tensor's dim 0 in chunks of "
        "⌈rows / 2⌉ (torch.chunk: the last devices get fewer), so the figure is the first device's, the largest "
        "(DeepSpeed's flat partitions would be even to within padding), each tensor in its own dtype; lines of "
        "quantised weights or under tensor or pipeline parallelism are split evenly (an estimate)"
    ) in said


def test_the_kv_cache_states_its_assumptions_as_data() -> None:
    # Two of four layers slide over a 4,096-token window: they keep min(16,384, 4,096 − 1) tokens.
    layer_types = ("sliding_attention", "full_attention") * 2
    cache = kv_cache(
        batch=2, seq_len=16384, layers=4, kv_heads=8, head_dim=256, value_head_dim=128, sliding_window=4096,
        layer_types=layer_types,
    )  # fmt: skip
    assert [assumption_data(a) for a in cache.assumptions] == [
        {
            "kind": "kv-cache",
            "values": {
                "runtime": TRANSFORMERS,
                "batch": 2,
                "seq_len": 16384,
                "layers": 4,
                "kv_heads": 8,
                "head_dim": 256,
                "value_head_dim": 128,
                "bits": 16,
                "dtype": "bfloat16",
            },
        },
        {
            "kind": "kv-window",
            "values": {
                "layers": 2,
                "layer_type": "sliding_attention",
                "window": 4096,
                "seq_len": 16384,
                "tokens": 4095,
            },
        },
    ]
    assert [assumption_text(a) for a in cache.assumptions] == [
        f"KV cache as {TRANSFORMERS}: keys and values · batch 2 · 16,384 tokens · 4 layers · 8 kv heads · head_dim 256 "
        "(values 128) · 16-bit bfloat16",
        "2 layers attend within a sliding window of 4,096 tokens and keep min(16,384, window − 1) = 4,095 tokens, as "
        "transformers' DynamicSlidingWindowLayer does after a prefill (vLLM and SGLang keep the window's tokens, "
        "rounded up to whole blocks)",
    ]
    cross = cross_attention_cache(cache, CrossAttention(6, 512, 512, None), kv_heads=8).assumptions[-1]
    assert cross.kind == "kv-cross"
    assert dict(cross.values)["source_given"] is False
    assert assumption_text(cross).endswith(
        "batch 2 · 16,384 source positions · 6 decoder layers · 512 + 512 elements per position (the source as long "
        "as the target: give --input batch,source,target for another)"
    )
    latent = latent_cache(batch=1, seq_len=4096, layers=61, kv_lora_rank=512, qk_rope_head_dim=64)
    assert assumption_text(latent.assumptions[0]).endswith(
        ": batch 1 · 4,096 tokens · 61 layers · (kv_lora_rank 512 + qk_rope_head_dim 64) · 16-bit bfloat16; one copy "
        "on each tensor-parallel device"
    )
    expanded = expanded_latent_cache(batch=1, seq_len=4096, layers=61, heads=128, key_head_dim=192, value_head_dim=128)
    assert [a.kind for a in expanded.assumptions] == ["kv-expanded"]
    assert assumption_text(expanded.assumptions[0]).endswith(
        ": 128 heads · (keys 192 + values 128) per token per layer"
    )


def _activation_assumptions(hub: str, options: PlanOptions) -> dict[str, dict[str, object]]:
    """The activation walk's assumptions of a plan by kind, each kind once (what measured activations replace)."""
    plan = plan_memory(paramcount.from_config(hub).tree, None, options)
    found = [a for a in plan.assumptions if a.kind.startswith("activations")]
    assert len({a.kind for a in found}) == len(found)
    return {a.kind: dict(a.values) for a in found}


def test_the_activation_walk_states_its_assumptions_as_data() -> None:
    config = shipped("meta-llama--Llama-3.2-1B.json")
    found = _activation_assumptions("meta-llama/Llama-3.2-1B", PlanOptions(optimizer="adamw", seq_len=300, batch=2))
    assert list(found) == ["activations-layers", "activations-function", "activations-flash-rng", "activations-dtype"]
    layers = found["activations-layers"]
    assert (layers["structure"], layers["attention"], layers["kernel"]) == ("llama", "sdpa", "flash")
    assert (layers["batch"], layers["seq_len"]) == (2, 300)
    sizes = ("hidden_size", "num_attention_heads", "num_key_value_heads", "head_dim", "intermediate_size")
    assert [layers[name] for name in ("hidden", "heads", "kv_heads", "head_dim", "width")] == [config[k] for k in sizes]
    assert (layers["head"], layers["outputs"]) == ("output", config["vocab_size"])
    function = found["activations-function"]
    assert (function["function"], function["attention_dropout"]) == (config["hidden_act"], config["attention_dropout"])
    assert function["bool_masks"] is False
    said = assumption_text(Assumption.of("activations-layers", **layers))
    assert said.endswith(f"b=2, s=300, h=2,048, a=32, k=8 kv heads, d=64, i=8,192, v={config['vocab_size']:,}")


def test_an_encoder_decoder_states_its_activations_as_data() -> None:
    config = shipped("t5-small.json")
    found = _activation_assumptions("t5-small", PlanOptions(optimizer="adamw", seq_len=300))
    assert list(found) == [
        "activations-layers",
        "activations-function",
        "activations-encoder-decoder",
        "activations-t5-memory-efficient",
        "activations-dtype",
    ]
    layers = found["activations-layers"]
    assert (layers["structure"], layers["kernel"], layers["dtype"]) == ("t5", "memory-efficient", "float32")
    assert [layers[name] for name in ("hidden", "heads", "head_dim", "width")] == [
        config[name] for name in ("d_model", "num_heads", "d_kv", "d_ff")
    ]
    function = found["activations-function"]
    assert (function["function"], function["hidden_dropout"], function["bool_masks"]) == (
        "relu",
        config["dropout_rate"],
        True,
    )
    encoder = found["activations-encoder-decoder"]
    assert encoder == {
        "encoder_layers": config["num_layers"],
        "source": 300,
        "mel_bins": 0,
        "target": 300,
        "source_given": False,
    }
    assert assumption_text(Assumption.of("activations-encoder-decoder", **encoder)) == (
        "encoder-decoder: 6 encoder layers at the source length s=300 (as long as the target: give --input "
        "batch,source,target for another) and the decoder's at the target length t=300; cross-attention's keys and "
        "values span s"
    )
