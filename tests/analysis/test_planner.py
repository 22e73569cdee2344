"""The memory planner: KV cache, activations, parallelism, fit, dtype defaults and bad options, each figure
derived by hand next to the test (the optimizer/torch oracle lives in test_memory.py)."""

from __future__ import annotations

import re

import pytest

import paramcount
from paramcount.analysis.memory import Assumption
from paramcount.analysis.planner import (
    ACCELERATORS,
    MemoryPlan,
    PlanOptions,
    TransformerDims,
    accelerator,
    kv_cache,
    plan_memory,
    transformer_activations,
    transformer_dimensions,
    weights_in_format,
)
from paramcount.api import from_config
from paramcount.errors import ArgumentError, UnknownNameError
from paramcount.render.assumptions import assumption_text, dtype_reason
from paramcount.tree import Module

GIB = 2**30
MIB = 2**20


def _said(plan: MemoryPlan) -> list[str]:
    """The plan's assumptions as the renderers write them."""
    return [assumption_text(a) for a in plan.assumptions]


def _llama_8b() -> Module:
    return from_config("meta-llama/Llama-3.1-8B").tree


# --- KV cache --------------------------------------------------------------------------------------------------


def test_kv_cache_llama_3_8b_at_8192_tokens_is_one_gib() -> None:
    # 2 (keys and values) · 32 layers · 8 kv heads · 128 head_dim · 2 bytes (bf16) · 8,192 tokens
    # = 2 · 32 · 8 · 128 · 2 · 8192 = 1,073,741,824 bytes = 1 GiB exactly.
    cache = kv_cache(batch=1, seq_len=8192, layers=32, kv_heads=8, head_dim=128, bits=16)
    assert cache.bytes == 2 * 32 * 8 * 128 * 2 * 8192 == GIB


def test_kv_cache_from_the_config_tree() -> None:
    # The same sizes found in the tree (q_proj 32·128, k_proj 8·128), bf16 from the config's torch_dtype.
    plan = plan_memory(_llama_8b(), None, PlanOptions(seq_len=8192))
    assert plan.dims == TransformerDims(
        hidden=4096,
        layers=32,
        heads=32,
        kv_heads=8,
        head_dim=128,
        key_width=1024,
        value_width=1024,
        vocab=128256,
        stack="model.layers",
    )
    assert plan.dtype == "bfloat16"
    assert dtype_reason(plan.dtype_choice) == "bfloat16: the dtype the config stores"
    assert sum(item.bytes for item in plan.items if item.category == "kv_cache") == GIB


def test_kv_cache_mha_gqa_mqa_follow_kv_heads() -> None:
    # batch 2, 1,000 tokens, 10 layers, head_dim 64, fp16: 2 · 2 · 1000 · 10 · kv_heads · 64 · 2 bytes
    for kv_heads in (16, 4, 1):  # MHA (kv = heads = 16), GQA (4 groups), MQA (1)
        cache = kv_cache(batch=2, seq_len=1000, layers=10, kv_heads=kv_heads, head_dim=64, bits=16)
        assert cache.bytes == 2 * 2 * 1000 * 10 * kv_heads * 64 * 2


def test_sliding_window_caps_the_tokens_of_its_layers() -> None:
    # Gemma 2 style: 42 layers alternating local and global, a 4,096-token window, 8 kv heads · 256, bf16, 16k tokens.
    # Global layers: 21 · 16,384 tokens; local layers: 21 · min(16,384, 4,096 − 1) = 21 · 4,095 tokens (transformers'
    # DynamicSlidingWindowLayer keeps window − 1; tests/analysis/test_kv_cache.py measures it).
    layer_types = ("sliding_attention", "full_attention") * 21
    cache = kv_cache(
        batch=1,
        seq_len=16384,
        layers=42,
        kv_heads=8,
        head_dim=256,
        bits=16,
        sliding_window=4096,
        layer_types=layer_types,
    )
    assert cache.bytes == 2 * 8 * 256 * 2 * (21 * 16384 + 21 * 4095)
    said = " ".join(map(assumption_text, cache.assumptions))
    assert "21 layers attend within a sliding window of 4,096 tokens and keep" in said


def test_kv_cache_splits_heads_over_tensor_parallel_and_layers_over_stages() -> None:
    # tp=4: 8 kv heads → 2 per device; pp=4: 32 layers → 8 per stage: 1 GiB / 16 per device.
    cache = kv_cache(batch=1, seq_len=8192, layers=32, kv_heads=8, head_dim=128, bits=16, tp=4, pp=4)
    assert cache.bytes == GIB // 16
    # tp=16 exceeds 8 kv heads: each device keeps ⌈8/16⌉ = 1 head (replicated)
    assert kv_cache(batch=1, seq_len=8192, layers=32, kv_heads=8, head_dim=128, tp=16).bytes == GIB // 8


# --- activations -----------------------------------------------------------------------------------------------


def test_activations_korthikanti_formula_by_hand() -> None:
    # s=128, b=2, h=256, a=4, L=3, 16-bit: per layer sbh(34 + 5as/h) = 34·sbh + 5·a·s²·b
    # sbh = 128·2·256 = 65,536; 34·65,536 = 2,228,224; 5·4·128²·2 = 655,360 → 2,883,584 per layer, × 3 layers.
    part = transformer_activations(seq_len=128, batch=2, hidden=256, heads=4, layers=3)
    assert part.bytes == 3 * (34 * 65_536 + 5 * 4 * 128 * 128 * 2) == 8_650_752
    assert not part.exact


def test_activations_with_full_recomputation_keep_two_sbh_per_layer() -> None:
    # Full recomputation stores each layer's 16-bit input: 2·sbh per layer, plus one layer being recomputed.
    part = transformer_activations(seq_len=128, batch=2, hidden=256, heads=4, layers=3, recompute="full")
    assert [item.bytes for item in part.items] == [3 * 2 * 65_536, 34 * 65_536 + 5 * 4 * 128 * 128 * 2]


def test_activations_with_tensor_parallelism() -> None:
    # Korthikanti Table 2: sbh(10 + 24/t + 5as/(ht)) with t=4: 10·sbh + 6·sbh + 5as²b/4.
    part = transformer_activations(seq_len=128, batch=2, hidden=256, heads=4, layers=1, tp=4)
    assert part.bytes == 10 * 65_536 + 24 * 65_536 // 4 + 5 * 4 * 128 * 128 * 2 // 4


def test_training_plan_adds_activations_and_logits() -> None:
    # A tiny torch transformer (not a layout modelled per operation: the Korthikanti estimate): d_model 32,
    # 4 heads, 2 layers, float32 → 4-byte elements: sbh(16·4 + 2) + as²b(2·4 + 1) per layer with eager
    # attention, without the s² term under sdpa (the default); s=10, b=3: sbh = 960.
    result = paramcount.count("TransformerEncoder(TransformerEncoderLayer(32, 4), 2, enable_nested_tensor=False)")
    for attention, scores in (("sdpa", 0), ("eager", 4 * 10 * 10 * 3 * 9)):
        options = PlanOptions(optimizer="sgd", seq_len=10, batch=3, attention=attention)  # type: ignore[arg-type]
        plan = plan_memory(result.tree, result.counts, options)
        activations = [item for item in plan.items if item.category == "activations"]
        assert [item.bytes for item in activations] == [2 * (960 * 66 + scores)]
        assert not plan.exact


# --- parallelism and fit ---------------------------------------------------------------------------------------


def test_zero_3_over_8_gpus_divides_weights_gradients_and_states_by_8() -> None:
    # Llama 3.1 8B, AdamW in bf16 mixed precision: 8,030,261,248 parameters × 16 bytes in all; ZeRO-3 over 8
    # devices holds ⌈bytes / 8⌉ of each of weights, gradients, master weights and both moments.
    tree = _llama_8b()
    parameters = 8_030_261_248
    plan = plan_memory(tree, None, PlanOptions(optimizer="adamw", mixed_precision="bf16", zero=3, gpus=8))
    by_label = {item.label: item.bytes for item in plan.per_device}
    assert by_label["weights (bfloat16)"] == 2 * parameters // 8
    assert by_label["gradients (bfloat16)"] == 2 * parameters // 8
    assert by_label["master weights (float32)"] == 4 * parameters // 8
    assert by_label["optimizer state exp_avg"] == 4 * parameters // 8
    assert plan.devices == 8
    zero_1 = plan_memory(tree, None, PlanOptions(optimizer="adamw", mixed_precision="bf16", zero=1, gpus=8))
    by_label = {item.label: item.bytes for item in zero_1.per_device}
    assert by_label["weights (bfloat16)"] == 2 * parameters  # stage 1 shards only the optimizer states
    assert by_label["master weights (float32)"] == 4 * parameters // 8


def test_zero_s_per_device_figure_is_labelled_the_most_any_device_holds() -> None:
    # FSDP2 cuts each tensor's rows into ⌈rows / N⌉: GPT-2's 50,257-row embedding leaves the last device fewer, so
    # the per-device figure is the first device's, and the text and the web sentence say it is the most.
    import paramcount
    from paramcount.render.html import memory_answer_html

    zero = paramcount.count("gpt2").report(PlanOptions(optimizer="adamw", zero=3, gpus=8))
    assert "\n  Per device, on each of 8 devices (the most any one holds: ZeRO's shards can differ):\n" in str(zero)
    assert "Each of the 8 devices holds at most " in memory_answer_html(zero)
    split = paramcount.count("gpt2").report(PlanOptions(optimizer="adamw", tp=2, pp=4))
    assert "\n  Per device, on each of 8 devices:\n" in str(split)
    assert "Each of the 8 devices holds " in memory_answer_html(split)
    assert "at most" not in memory_answer_html(split)


def test_tensor_and_pipeline_parallel_split_the_model() -> None:
    # tp=2 × pp=4 = 8 devices: weights ⌈2 · 8,030,261,248 / 8⌉ per device, marked as an even-split estimate.
    plan = plan_memory(_llama_8b(), None, PlanOptions(tp=2, pp=4))
    weights = next(item for item in plan.per_device if item.category == "weights")
    assert weights.bytes == 2 * 8_030_261_248 // 8
    assert not weights.exact


# nvidia-smi memory.total as published (github.com/modal-labs/modal-client/pull/2797; RLinf/RLinf#255 for the
# RTX 4090), not the vendor's "GB" read as GiB.
REPORTED_MIB = {"T4": 15_360, "L4": 23_034, "A10": 23_028, "L40S": 46_068, "A100-40GB": 40_960, "A100-80GB": 81_920}
REPORTED_MIB |= {"H100": 81_559, "RTX4090": 24_564}


@pytest.mark.parametrize(("name", "mib"), REPORTED_MIB.items())
def test_accelerators_hold_the_memory_the_device_reports(name: str, mib: int) -> None:
    device = accelerator(name)
    assert device is not None
    assert device.memory_bytes == mib * MIB
    assert device.reported
    assert f"{mib}MiB" in device.source


def test_accelerators_without_a_report_say_so_and_use_the_vendors_decimal_figure() -> None:
    unreported = [device for device in ACCELERATORS if not device.reported]
    assert unreported  # H200, V100, MI300X … : no published nvidia-smi/rocm-smi total was found
    for device in unreported:
        gigabytes = int(device.name.rsplit("-", 1)[1].removesuffix("GB"))
        assert device.memory_bytes == gigabytes * 10**9
        assert "no published report" in device.basis
    # the decimal figure is a lower bound: every reported total exceeds the vendor's GB × 10^9
    for device in ACCELERATORS:
        if device.reported:
            assert device.memory_bytes > int(device.name.rsplit("-", 1)[1].removesuffix("GB")) * 10**9


def test_fit_and_devices_needed() -> None:
    # Llama 3.1 8B in bf16 for inference: 16,060,522,496 bytes of weights fit on an H100 (81,559 MiB reported).
    plan = plan_memory(_llama_8b(), None, PlanOptions(gpu="h100"))
    assert plan.fit is not None
    assert plan.fit.accelerator.memory_bytes == 81_559 * MIB
    assert plan.fit.fits
    assert plan.fit.headroom_bytes == 81_559 * MIB - plan.per_device_bytes
    # Full AdamW training in mixed precision: 16 bytes × 8.03e9 ≈ 119.7 GiB: not on one; ZeRO-3 needs 2.
    training = plan_memory(_llama_8b(), None, PlanOptions(optimizer="adamw", mixed_precision="bf16", gpu="H100-80GB"))
    assert training.fit is not None
    assert not training.fit.fits
    assert training.fit.devices_needed is None  # without ZeRO more data-parallel devices do not help
    assert training.fit.devices_needed_fully_sharded == 2


# --- weights, quantisation, dtype defaults ---------------------------------------------------------------------


def test_dtype_defaults_and_their_reasons() -> None:
    result = paramcount.count("Linear(4, 3)")
    assert (
        dtype_reason(plan_memory(result.tree).dtype_choice)
        == "float32: torch's default; neither the tensors nor a config state another"
    )
    given = plan_memory(result.tree, None, PlanOptions(dtype="fp16"))
    assert (given.dtype, dtype_reason(given.dtype_choice)) == ("float16", "float16: given as dtype")
    stored = paramcount.count("Linear(4, 3, dtype=torch.bfloat16)")
    assert dtype_reason(plan_memory(stored.tree).dtype_choice) == "bfloat16: the tensors' own dtype"
    assert plan_memory(stored.tree).dtype_choice.rule == "tensors"


def test_gguf_quantises_matrices_and_keeps_vectors_in_float32() -> None:
    # Linear(4096, 4096) in Q4_0: weight 16,777,216 · 18/32 bytes; the 4,096 bias in float32.
    breakdown = weights_in_format(paramcount.count("Linear(4096, 4096)").tree, "Q4_0")
    assert [item.bytes for item in breakdown.items] == [16_777_216 * 18 // 32, 4 * 4_096]


def test_bitsandbytes_keeps_the_output_head_unquantised() -> None:
    # Llama 3.2 1B (tied head): NF4 applies to the Linear layers of the blocks; the embedding stays bf16.
    tree = from_config("meta-llama/Llama-3.2-1B").tree
    plan = plan_memory(tree, None, PlanOptions(quantization="nf4"))
    quantised, other = (item for item in plan.items if item.category == "weights")
    embedding = 128256 * 2048
    assert other.count == embedding + 16 * 2 * 2048 + 2048  # embedding + 2 norms per layer + final norm
    assert other.bytes == 2 * other.count
    assert quantised.count + other.count == 1_235_814_400
    assert quantised.bytes == quantised.count // 2 + 4 * (quantised.count // 64)


def test_lora_targets_all_linear_excludes_the_head() -> None:
    # Llama 3.2 1B, r=16, all-linear: 7 Linear layers per block × 16 blocks, the head excluded:
    # r·(in + out) per Linear: q 2048+2048, k 2048+512, v 2048+512, o 2048+2048, gate and up 2048+8192 each,
    # down 8192+2048: 44,032 per block → 16 (r) · 16 (blocks) · 44,032 = 11,272,192 adapter parameters.
    tree = from_config("meta-llama/Llama-3.2-1B").tree
    plan = plan_memory(tree, None, PlanOptions(optimizer="adamw", lora_rank=16, lora_targets="all-linear"))
    adapters = next(item for item in plan.items if item.label.startswith("LoRA"))
    assert adapters.count == 16 * 16 * (4096 + 2560 + 2560 + 4096 + 3 * 10240) == 11_272_192


def test_lora_default_targets_are_peft_s_and_the_plan_names_them() -> None:
    # Llama 3.1 8B, r=16, peft's default q_proj and v_proj: 32 blocks × 16 · ((4096 + 4096) + (4096 + 1024))
    # = 6,815,744 adapter parameters in 64 Linear layers.
    plan = plan_memory(_llama_8b(), None, PlanOptions(optimizer="adamw", lora_rank=16))
    adapters = next(item for item in plan.items if item.label.startswith("LoRA"))
    assert adapters.count == 32 * 16 * (4096 + 4096 + 4096 + 1024) == 6_815_744
    assert (
        "LoRA r=16 on q_proj, v_proj (peft's default for model_type llama): 64 Linear layers adapted "
        "(q_proj ×32, v_proj ×32)"
    ) in " ".join(_said(plan))
    # the same as data: the numbers and names, the sentence written by the renderer
    lora = next(a for a in plan.assumptions if a.kind == "lora")
    assert dict(lora.values) == {
        "rank": 16,
        "targets": ("q_proj", "v_proj"),
        "targets_rule": "peft-default",
        "model_type": "llama",
        "layers": 64,
        "adapted": (("q_proj", 32), ("v_proj", 32)),
    }
    assert adapters.bytes == 4 * adapters.count


# --- options ---------------------------------------------------------------------------------------------------

BAD_OPTIONS: list[tuple[dict[str, object], type[Exception], str]] = [
    ({"tp": 0}, ArgumentError, "tp: must be a positive integer, got 0"),
    ({"batch": True}, ArgumentError, "batch: must be a positive integer, got True"),
    # the input's cap (MAX_INPUT_SIZE), named for the option rather than "input size 2"
    ({"seq_len": 2**31 + 1}, ArgumentError, "seq_len: must be at most 2,147,483,648, got 2,147,483,649"),
    ({"batch": 99_999_999_999}, ArgumentError, "batch: must be at most 2,147,483,648, got 99,999,999,999"),
    ({"zero": 4}, ArgumentError, "zero: must be 0, 1, 2 or 3 (FSDP full sharding is 3), got 4"),
    (
        {"optimizer": "adamm"},
        UnknownNameError,
        "optimizer: unknown optimizer 'adamm'; did you mean 'adam', 'radam' or 'nadam'?",
    ),
    ({"optimizer": "lbfgs"}, ArgumentError, "optimizer: 'lbfgs' is not modelled: LBFGS keeps a history"),
    ({"gpu": "H1000"}, UnknownNameError, "gpu: unknown accelerator 'H1000'; did you mean"),
    ({"dtype": "nf4"}, ArgumentError, "dtype: 'nf4' is a quantised storage format; pass it as quantization='nf4'"),
    ({"quantization": "bf16"}, ArgumentError, "quantization: 'bfloat16' is a plain dtype; pass it as dtype='bfloat16'"),
    ({"quantization": "q4_k_x"}, UnknownNameError, "quantization: unknown storage format 'q4_k_x'; did you mean"),
    (
        {"mixed_precision": "bf8", "optimizer": "adam"},
        UnknownNameError,
        "mixed_precision: unknown mixed precision 'bf8'",
    ),
    ({"lora_rank": 8}, ArgumentError, "lora_rank: applies to training; set an optimizer too"),
    ({"zero": 2}, ArgumentError, "zero: applies to training; set an optimizer too"),
    (
        {"optimizer": "adamw", "quantization": "nf4"},
        ArgumentError,
        "quantization: quantised weights are frozen; training them needs lora_rank (QLoRA)",
    ),
    ({"tp": 2, "pp": 2, "gpus": 6}, ArgumentError, "gpus: must be a multiple of tp · pp = 4 (tp=2, pp=2), got 6"),
    (
        {"optimizer": "adam", "mixed_precision": "bf16", "dtype": "float16"},
        ArgumentError,
        "dtype: 'float16' conflicts with mixed_precision='bf16'",
    ),
    ({"lora_targets": "q_proj"}, ArgumentError, "lora_targets: needs lora_rank"),
    # a notebook passes whatever it holds: a name option's value of another type is refused by the option's name
    # (each was an AttributeError from inside: 'int' object has no attribute 'strip')
    ({"dtype": 16}, ArgumentError, "dtype: must be a name (a string), got 16"),
    ({"optimizer": 5, "lora_rank": 8}, ArgumentError, "optimizer: must be a name (a string), got 5"),
    (
        {"optimizer": "adam", "mixed_precision": True},
        ArgumentError,
        "mixed_precision: must be a name (a string), got True",
    ),
    ({"quantization": 4}, ArgumentError, "quantization: must be a name (a string), got 4"),
    ({"gpu": 80}, ArgumentError, "gpu: must be a name (a string), got 80"),
    ({"kv_dtype": 8}, ArgumentError, "kv_dtype: must be a name (a string), got 8"),
    # it was a TypeError: 'int' object is not iterable
    (
        {"optimizer": "adam", "lora_rank": 8, "lora_targets": 5},
        ArgumentError,
        "lora_targets: must name Linear modules, got 5",
    ),
]


@pytest.mark.parametrize(("arguments", "error", "message"), BAD_OPTIONS)
def test_bad_options_name_the_option(arguments: dict[str, object], error: type[Exception], message: str) -> None:
    with pytest.raises(error, match="^" + re.escape(message)):
        PlanOptions(**arguments)  # type: ignore[arg-type]


def test_unknown_lora_target_suggests_the_linear_layers() -> None:
    tree = from_config("meta-llama/Llama-3.2-1B").tree
    with pytest.raises(
        ArgumentError, match=re.escape("lora_targets: 'q_prj' matches no Linear layer; did you mean 'q_proj'")
    ):
        plan_memory(tree, None, PlanOptions(optimizer="adamw", lora_rank=8, lora_targets=("q_prj",)))


def test_options_are_canonical() -> None:
    options = PlanOptions(dtype="BF16", optimizer="AdamW", gpu="h100", quantization=None, mixed_precision=None)
    assert (options.dtype, options.optimizer, options.gpu) == ("bfloat16", "adamw", "H100-80GB")


def test_changed_lists_the_options_that_differ_from_the_defaults_in_field_order() -> None:
    assert PlanOptions().changed() == ()
    assert PlanOptions(tp=1, batch=1, attention="sdpa").changed() == ()  # the defaults, given explicitly
    options = PlanOptions(tp=2, optimizer="AdamW", gradient_checkpointing=True, lora_rank=8, lora_targets="q,v")
    assert options.changed() == (
        ("optimizer", "adamw"),
        ("lora_rank", 8),
        ("lora_targets", ("q", "v")),
        ("gradient_checkpointing", True),
        ("tp", 2),
    )


# --- structure ---------------------------------------------------------------------------------------------------


def test_dimensions_of_torch_transformers_and_non_transformers() -> None:
    encoder = paramcount.count("TransformerEncoder(TransformerEncoderLayer(512, 8), 6, enable_nested_tensor=False)")
    dims = transformer_dimensions(encoder.tree)
    assert dims is not None
    assert (dims.hidden, dims.layers, dims.heads, dims.kv_heads, dims.head_dim) == (512, 6, 8, 8, 64)
    assert transformer_dimensions(paramcount.count("Sequential(Linear(3, 4), ReLU())").tree) is None
    # KV and activations are said to be missing rather than guessed
    plan = plan_memory(paramcount.count("Linear(3, 4)").tree, None, PlanOptions(seq_len=16))
    assert "KV cache not modelled: no stack of attention or state-space blocks found in the tree" in _said(plan)
    assert Assumption.of("kv-no-stack") in plan.assumptions


# --- quantised formats: overheads itemised, notes about the model at hand -------------------------------------


def test_llm_int8_itemises_its_row_scales() -> None:
    # Llama 3.1 8B, LLM.int8: each Linear of the 32 blocks stores int8 values (1 byte each) and a float32 scale
    # per output row (SCB): rows per block q 4096 + k 1024 + v 1024 + o 4096 + gate 14336 + up 14336 + down 4096
    # = 43,008, × 32 blocks = 1,376,256 scales × 4 bytes, on their own line.
    plan = plan_memory(_llama_8b(), None, PlanOptions(quantization="llm.int8"))
    values, scales, other = (item for item in plan.items if item.category == "weights")
    assert (values.bits, values.per, values.bytes) == (8, 1, values.count)  # count × 1 B = bytes, nothing folded in
    assert (scales.count, scales.bits, scales.bytes) == (43_008 * 32, 32, 4 * 43_008 * 32)
    assert "SCB" in scales.label
    assert values.count + other.count == 8_030_261_248


def test_gptq_itemises_its_g_idx() -> None:
    # GPTQ g128 on Linear(4096, 4096) inside a block: values 4 bits + per 128 inputs a float16 scale and a 4-bit
    # zero: 16,777,216 · (4 + 20/128)/8 = 8,716,288 bytes; g_idx: one int32 per input feature, 4 × 4,096 bytes.
    tree = paramcount.count("ModuleList([Linear(4096, 4096, bias=False)])").tree
    plan = plan_memory(tree, None, PlanOptions(quantization="gptq-4bit-g128"))
    values, g_idx = plan.items
    assert values.bytes == 16_777_216 * (4 * 128 + 20) // (8 * 128) == 8_716_288
    assert values.count * values.bits // (8 * values.per) == values.bytes
    assert (g_idx.count, g_idx.bytes) == (4_096, 4 * 4_096)


@pytest.mark.parametrize(
    ("spelling", "canonical"),
    [
        ("gptq-4bit-g128", "gptq-g128"),
        ("gptq-4bit", "gptq-g128"),
        ("awq-4bit-g128", "awq-g128"),
        ("awq-4bit", "awq-g128"),
        ("q4_k_m", "Q4_K_M"),
        ("NF4", "nf4"),
        ("llm-int8", "llm.int8"),
        ("bnb-8bit", "llm.int8"),
        ("fp8-b128", "fp8-block128"),
        ("fine-grained-fp8", "fp8-block128"),
        ("MXFP4", "mxfp4"),
    ],
)
def test_quantization_spellings_people_use(spelling: str, canonical: str) -> None:
    assert PlanOptions(quantization=spelling).quantization == canonical


def test_quantization_notes_concern_the_model_at_hand() -> None:
    # llama.cpp's per-tensor mix names transformer tensors (attn_v, ffn_down, output.weight): said for a Llama,
    # not for resnet50, which has none of them.
    resnet = paramcount.count("resnet50").tree
    for name in ("Q4_K_M", "Q4_0"):
        notes = " ".join(_said(plan_memory(resnet, None, PlanOptions(quantization=name))))
        assert "attn_v" not in notes
        assert "ffn_down" not in notes
        assert "output.weight" not in notes
    llama = " ".join(_said(plan_memory(_llama_8b(), None, PlanOptions(quantization="Q4_K_M"))))
    assert "Q6_K for half of attn_v and ffn_down" in llama


def test_plans_of_one_model_share_its_tree_facts() -> None:
    # A new plan for a known model (the planner's seq_len, optimizer) recomputes only the plan: the tensor
    # listing, module table, formula and transformer sizes are the tree's, computed once per tree.
    result = from_config("meta-llama/Llama-3.1-8B")
    first = result.report(PlanOptions(optimizer="adamw", seq_len=128), sections=("explanation", "modules"))
    second = result.report(PlanOptions(optimizer="sgd", seq_len=256), sections=("explanation", "modules"))
    assert first.counts is second.counts
    assert first.modules is second.modules
    assert first.modules
    assert first.explanation is second.explanation
    assert first.explanation is not None
    assert first.plan is not None
    assert second.plan is not None
    assert first.plan.dims is second.plan.dims
    assert first.plan.dims is not None
    assert first.plan.dims.layers == 32


def test_the_plan_s_token_cap_is_the_input_s() -> None:
    from paramcount.analysis.planner.options import MAX_TOKENS
    from paramcount.analysis.shapes.propagate import MAX_INPUT_SIZE

    assert MAX_TOKENS == MAX_INPUT_SIZE


@pytest.mark.parametrize(
    ("hub_id", "split", "message"),
    [
        # Llama-3.1-8B: 32 attention heads, 8 key/value heads, 32 layers (its config.json)
        (
            "meta-llama/Llama-3.1-8B",
            {"tp": 3},
            "tp: must divide the 32 attention heads (each device holds whole heads), got 3",
        ),
        (
            "meta-llama/Llama-3.1-8B",
            {"pp": 33},
            "pp: must be at most the 32 layers (a stage holds whole layers), got 33",
        ),
        # gpt2: 12 heads; Qwen2.5-7B: 28 heads, 4 key/value heads (tp=28 divides 28 but neither divides 4 nor 4 it)
        (
            "openai-community/gpt2",
            {"tp": 8},
            "tp: must divide the 12 attention heads (each device holds whole heads), got 8",
        ),
        (
            "Qwen/Qwen2.5-7B",
            {"tp": 14},
            "tp: must divide the 4 key/value heads or be a multiple of them (vLLM replicates them), got 14",
        ),
    ],
)
def test_a_split_megatron_and_vllm_cannot_make_is_refused(hub_id: str, split: dict[str, int], message: str) -> None:
    with pytest.raises(ArgumentError) as refused:
        plan_memory(from_config(hub_id).tree, None, PlanOptions(tp=split.get("tp", 1), pp=split.get("pp", 1)))
    assert str(refused.value) == message


def test_a_split_megatron_and_vllm_can_make_is_planned() -> None:
    llama = from_config("meta-llama/Llama-3.1-8B").tree
    for tp, pp in ((16, 1), (32, 32), (8, 4)):  # tp=16: 8 key/value heads, each on 2 devices
        assert plan_memory(llama, None, PlanOptions(tp=tp, pp=pp)).devices == tp * pp
    assert plan_memory(paramcount.count("resnet50").tree, None, PlanOptions(tp=3)).devices == 3  # no heads to split
