"""Activation memory per operation against what autograd saves in the real transformers model (CPU, bfloat16).

For each family, attention implementation and checkpointing setting the test measures the saved tensors of
one forward pass at 2 and 3 layers (``activation_oracle.saved_bytes``): the difference is one layer, which
must equal our per-layer bytes exactly, and the 2-layer total must equal ours exactly. Our side is computed
from the paramcount tree of the same cut config, with ``kernels="cpu"`` (dropout masks in the input dtype,
LayerNorm statistics in the input dtype, SDPA with dropout on the math kernel: see the module docstring).
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from activation_oracle import EAGER_ONLY, FAMILIES, real_model, saved_bytes, tiny_config
from paramcount.analysis.flops import image_positions
from paramcount.analysis.planner import PlanOptions, plan_memory, transformer_dimensions
from paramcount.analysis.planner.activations import ActivationPlan, activation_items, activation_plan
from paramcount.api import from_config
from paramcount.render.assumptions import assumption_text
from paramcount.sources.hf import build_config_tree

BATCH, SEQ = 2, 16
NOT_CHECKPOINTABLE = {"albert", "mpnet", "openai_gpt"}
"""Families whose layers transformers cannot checkpoint (``activation_checkpointing_enable`` raises)."""


def _ours(
    family: str,
    layers: int,
    attention: str,
    checkpointing: bool,
    batch: int,
    seq: int,
    dtype: str = "bfloat16",
    source: int | None = None,
) -> ActivationPlan:
    config, architecture = tiny_config(family, layers)
    return _plan_of(config, architecture, attention, checkpointing, batch, seq, dtype, source)


def _plan_of(
    config: dict[str, Any],
    architecture: str,
    attention: str = "sdpa",
    checkpointing: bool = False,
    batch: int = BATCH,
    seq: int = SEQ,
    dtype: str = "bfloat16",
    source: int | None = None,
) -> ActivationPlan:
    """Our plan for the model ``config`` builds, as the CPU kernels run it."""
    tree = build_config_tree(config, architecture=architecture)
    dims = transformer_dimensions(tree)
    assert dims is not None
    plan = activation_plan(
        tree,
        dims,
        batch=batch,
        seq_len=seq,
        dtype=dtype,
        attention=attention,  # type: ignore[arg-type]
        kernels="cpu",
        checkpointing=checkpointing,
        source_len=source,
    )
    assert plan is not None, f"{architecture}: layer not recognised"
    return plan


def _measured(
    family: str, layers: int, attention: str, checkpointing: bool, batch: int, seq: int, *, half: bool = True
) -> int:
    config, architecture = tiny_config(family, layers)
    return saved_bytes(real_model(config, architecture, attention, checkpointing, half=half), batch, seq)


def _shipped_plan(hub_id: str, **options: Any) -> ActivationPlan | None:
    """Our plan for a shipped config (CUDA kernels unless ``options`` say otherwise), None where not modelled."""
    tree = from_config(hub_id).tree
    dims = transformer_dimensions(tree)
    assert dims is not None
    return activation_plan(tree, dims, **options)


def _shipped(hub_id: str, **options: Any) -> ActivationPlan:
    """``_shipped_plan``, which must be modelled."""
    plan = _shipped_plan(hub_id, **options)
    assert plan is not None
    return plan


def _plan_equal_to_autograd(
    config: dict[str, Any], architecture: str, attention: str = "sdpa", batch: int = BATCH, seq: int = SEQ
) -> ActivationPlan:
    """The plan of a tiny config changed by a test (stored, CPU kernels), checked equal to autograd's."""
    measured = saved_bytes(real_model(config, architecture, attention, False), batch, seq)
    plan = _plan_of(config, architecture, attention, batch=batch, seq=seq)
    assert measured == plan.saved_bytes, f"measured {measured:,} B, ours {plan.saved_bytes:,} B"
    return plan


@pytest.mark.parametrize("checkpointing", [False, True], ids=["stored", "checkpointed"])
@pytest.mark.parametrize("attention", ["eager", "sdpa"])
@pytest.mark.parametrize("family", list(FAMILIES))
def test_saved_bytes_equal_autograd(family: str, attention: str, checkpointing: bool) -> None:
    if checkpointing and family in NOT_CHECKPOINTABLE:
        pytest.skip("transformers cannot checkpoint these layers: test_transformers_cannot_checkpoint")
    # transformers refuses sdpa for some (gpt-oss's sinks, Gemma 2's softcapping, BLOOM …): the plan for sdpa is
    # eager's and says so
    runs = "eager" if family in EAGER_ONLY else attention
    two, three = (_measured(family, layers, runs, checkpointing, BATCH, SEQ) for layers in (2, 3))
    ours = _ours(family, 2, attention, checkpointing, BATCH, SEQ)
    assert ours.attention == runs
    assert any("cannot run sdpa" in assumption_text(note) for note in ours.assumptions) == (runs != attention)
    stacks = (ours, ours.encoder) if ours.encoder is not None else (ours,)  # BART, T5: one more of each
    per_layer = sum(stack.layer_input.bytes if checkpointing else stack.per_layer_bytes for stack in stacks)
    assert three - two == per_layer, f"one layer: measured {three - two:,} B, ours {per_layer:,} B"
    assert two == ours.saved_bytes, f"2 layers: measured {two:,} B, ours {ours.saved_bytes:,} B"


@settings(max_examples=4)
@given(batch=st.integers(1, 3), seq=st.integers(8, 40), family=st.sampled_from(["llama", "gpt2", "bert"]))
def test_saved_bytes_follow_batch_and_sequence(batch: int, seq: int, family: str) -> None:
    # The symbols b and s enter every rule: random (batch, seq) in the cheapest families, sdpa (the default).
    assert _measured(family, 2, "sdpa", False, batch, seq) == _ours(family, 2, "sdpa", False, batch, seq).saved_bytes


ENCODER_FAMILIES = [
    *("roberta", "roberta_causal", "xlm_roberta", "electra", "distilbert", "albert", "mpnet", "vit", "dinov2"),
    "clip_vision",
    "siglip_vision",
]


@settings(max_examples=6)
@given(batch=st.integers(1, 3), seq=st.integers(8, 40), family=st.sampled_from(ENCODER_FAMILIES))
def test_encoders_follow_batch_and_sequence(batch: int, seq: int, family: str) -> None:
    # b and s in the encoders' own rules (RoBERTa's b·s position ids, MPNet's s·s buckets, ELECTRA's b·s·w, the
    # causal LM's labels shifted into a new tensor or, with one sequence, a view of the padded ones); a
    # vision transformer's s is its image's tokens whatever seq says, so only b varies there.
    assert _measured(family, 2, "sdpa", False, batch, seq) == _ours(family, 2, "sdpa", False, batch, seq).saved_bytes


LLAMA_LIKE = [
    *("starcoder2", "stablelm", "olmo", "olmo2", "cohere", "cohere2", "glm4", "glm4_moe", "granitemoe", "gpt_oss")
]
"""The Llama-like families whose layers differ from Llama's (``DECODERS``)."""


@settings(max_examples=6)
@given(
    batch=st.integers(1, 3),
    seq=st.integers(8, 40),
    family=st.sampled_from(LLAMA_LIKE),
    attention=st.sampled_from(["eager", "sdpa"]),
)
def test_llama_like_saved_bytes_follow_batch_and_sequence(batch: int, seq: int, family: str, attention: str) -> None:
    # Their own rules (partial rotary tables at s·p, gpt-oss's s + 1 softmax columns, the routed pairs b·s·r …) at
    # random (batch, seq); gpt-oss measured eager whatever is asked, as transformers runs it.
    measured = _measured(family, 2, "eager" if family in EAGER_ONLY else attention, False, batch, seq)
    assert measured == _ours(family, 2, attention, False, batch, seq).saved_bytes


@settings(max_examples=3, deadline=None)
@given(
    batch=st.integers(1, 3),
    seq=st.integers(2, 40),
    family=st.sampled_from(["marian_causal", "mbart_causal", "pegasus_causal"]),
    attention=st.sampled_from(["eager", "sdpa"]),
)
def test_decoder_alone_follows_batch_and_sequence(batch: int, seq: int, family: str, attention: str) -> None:
    # The ForCausalLM classes run BART's decoder without an encoder: no cross-attention tensor, the loss on the
    # labels as given.
    ours = _ours(family, 2, attention, False, batch, seq)
    assert ours.encoder is None
    assert not any(tensor.key.startswith("encoder_attn") for tensor in ours.per_layer)
    assert any("decoder alone" in assumption_text(note) for note in ours.assumptions)
    assert _measured(family, 2, attention, False, batch, seq) == ours.saved_bytes


HEADS = ["bert_base", "bert_causal", "bert_classification", "bert_tokens", "bert_qa", "bart_classification", "mbart_qa"]


@settings(max_examples=4, deadline=None)
@given(
    batch=st.integers(1, 3),
    seq=st.integers(4, 40),
    family=st.sampled_from(HEADS),
    attention=st.sampled_from(["eager", "sdpa"]),
)
def test_task_heads_follow_batch_and_sequence(batch: int, seq: int, family: str, attention: str) -> None:
    # The heads' b·h, b·s·c and b·s terms and the losses' b targets (b·s for token classification, s+1 for a causal
    # LM's one sequence) at random sizes; the plan says which head it lists.
    ours = _ours(family, 2, attention, False, batch, seq)
    assert "no output head" not in assumption_text(ours.assumptions[0]) or family == "bert_base"
    assert _measured(family, 2, attention, False, batch, seq) == ours.saved_bytes


GPT_STYLE = [
    "opt",
    "opt_post_norm",
    "gpt_neox",
    "gptj",
    "codegen",
    "phi",
    "falcon",
    "falcon_new",
    "gpt_neo",
    "gpt_bigcode",
    "bloom",
    "mpt",
    "openai_gpt",
]


@settings(max_examples=6)
@given(batch=st.integers(1, 3), seq=st.integers(8, 40), family=st.sampled_from(GPT_STYLE))
def test_gpt_style_saved_bytes_follow_batch_and_sequence(batch: int, seq: int, family: str) -> None:
    # The GPT-style decoders at random (batch, seq): OPT's b·s position ids, the rotary tables of s·p (shared, or
    # four per layer in GPT-J and CodeGen), MPT's b·s·s bool mask, the loss's shifted labels at b = 1.
    runs = "eager" if family in EAGER_ONLY else "sdpa"
    assert _measured(family, 2, runs, False, batch, seq) == _ours(family, 2, "sdpa", False, batch, seq).saved_bytes


@pytest.mark.parametrize(
    ("family", "change", "batch", "seq"),
    [
        # one sequence: the query a view of the fused projection's output (kept whole), key and value the KV
        # cache's copies; GPT-BigCode's one key and value head stays a view repeated to every head
        ("gpt2", {}, 1, 9),
        ("bloom", {}, 1, 9),
        ("gpt_bigcode", {}, 1, 9),
        ("mpt", {"use_cache": True}, 1, 9),
        ("gpt_bigcode", {"multi_query": False}, 1, 9),
        # no cache (MPT's configs, OpenAI GPT): query, key and value all views of that one output
        ("mpt", {}, 1, 9),
        ("openai_gpt", {}, 1, 9),
        ("gpt2", {"use_cache": False}, 1, 9),
        ("gpt_bigcode", {"use_cache": False}, 1, 9),
        # one head: batch and heads fold as a view at any batch
        ("gpt2", {"n_head": 1}, 2, 5),
        ("gpt_bigcode", {"n_head": 1}, 2, 5),
        # one token: BLOOM's heads hold their q, k, v side by side, so they fold as a view; GPT-2's do not
        ("bloom", {}, 2, 1),
        ("gpt_bigcode", {"multi_query": False}, 2, 1),
        ("gpt2", {}, 2, 1),
        # one key head repeated (multi-query Llama-likes, Gemma-2B): a view of that head at one sequence
        ("llama", {"num_key_value_heads": 1}, 1, 9),
        ("gemma", {"num_key_value_heads": 1}, 1, 9),
        ("llama", {"num_key_value_heads": 1}, 2, 9),
    ],
)
def test_eager_matmul_folds_views(family: str, change: dict[str, object], batch: int, seq: int) -> None:
    # Eager attention's torch.matmul (BLOOM's own reshape) folds (batch, heads) into one dim with reshape, which
    # is a view where the strides chain (_folds_as_view), else a copy of b·a·s·d: the view keeps its whole storage.
    config, architecture = tiny_config(family, 2)
    _plan_equal_to_autograd({**config, **change}, architecture, "eager", batch, seq)


@pytest.mark.parametrize(
    ("family", "change", "attention", "batch", "seq"),
    [
        # no KV cache copies the value, a view of the fused projection's output: sdpa keeps it as it is at any
        # batch, eager's matmul where its fold is a view (one sequence, or one token: each head's q, k, v side by
        # side), so that whole b·s·3h output
        *(
            (family, {}, attention, batch, seq)
            for family in ("gpt_neox", "codegen")
            for attention in ("eager", "sdpa")
            for batch, seq in ((1, 9), (2, 9), (2, 1))
        ),
        # CodeGen's mp_num = 4 groups of (query, value, key): with 8 heads the value's reshape copies it
        ("codegen", {"n_head": 8}, "sdpa", 1, 9),
        ("codegen", {"n_head": 8}, "eager", 1, 9),
    ],
)
def test_parallel_layers_without_cache_keep_the_fused_value_whole(
    family: str, change: dict[str, object], attention: str, batch: int, seq: int
) -> None:
    config, architecture = tiny_config(family, 2)
    ours = _plan_equal_to_autograd({**config, **change, "use_cache": False}, architecture, attention, batch, seq)
    value = next(tensor for tensor in ours.per_layer if tensor.key in ("attention.value", "attn.value"))
    whole = change != {"n_head": 8} and (attention == "sdpa" or batch == 1 or seq == 1)
    assert value.elements == batch * seq * 64 * (3 if whole else 1)  # h = 64: b·s·3h whole, else b·a·s·d


@pytest.mark.parametrize("batch", [1, 2])
@pytest.mark.parametrize("family", ["phi3", "gpt_neox", "phi", "stablelm", "glm4", "deepseek_v3"])
def test_one_token_attention_output_is_the_output_projection_input(family: str, batch: int) -> None:
    # The CPU flash kernel writes its output as (batch, heads, tokens, head_dim) where the query is a fused
    # projection's slice or concatenated after partial rotary; transpose(1, 2).contiguous() copies it for the output
    # projection, but at one token the transposed (batch, 1, heads, head_dim) is contiguous already, so the
    # projection's input is the kernel's output, one b·s·h storage less per layer (DeepSeek: values as wide as keys,
    # so sdpa runs flash).
    config, architecture = tiny_config(family, 2)
    if family == "deepseek_v3":
        config["v_head_dim"] = 24
    ours = _plan_equal_to_autograd(config, architecture, "sdpa", batch, 1)
    assert ours.kernel == "flash"
    assert "self_attn.o_proj.input" not in {tensor.key for tensor in ours.per_layer}
    assert "attention.dense.input" not in {tensor.key for tensor in ours.per_layer}


def test_whisper_decoder_at_one_target_token_keeps_no_output_copy() -> None:
    # Whisper's query is laid out like a fused projection's slice (see above): at one target token the decoder's
    # attention output is its out_proj's input.
    _source_and_target("whisper", "sdpa", False, BATCH, 16, 1)


def test_bloom_560m_at_one_sequence_keeps_each_fused_output() -> None:
    # bloom-560m, one sequence of 2048 tokens: each of its 24 layers keeps query_key_value's output (b·s·3h) for
    # the query instead of a b·s·h copy, 2 × 1024 × 2048 × 2 B = 8 MiB more than half of two sequences' (201 MB
    # in all).
    one, two = (
        _shipped("bigscience/bloom-560m", batch=batch, seq_len=2048, dtype="bfloat16", attention="eager")
        for batch in (1, 2)
    )
    assert one.per_layer_bytes - two.per_layer_bytes // 2 == 2 * 1024 * 2048 * 2
    assert one.layers == 24
    query = next(tensor for tensor in one.per_layer if tensor.key == "self_attention.query")
    assert (query.shape, query.module) == ("b·s·(3·h)", "self_attention.query_key_value")


@pytest.mark.parametrize("family", ["mixtral", "qwen2_moe", "deepseek_v2", "deepseek_v3", "glm4_moe"])
def test_moe_saved_bytes_hold_for_any_routing(family: str) -> None:
    # The routing controlled: random router weights spread the b·s·2 (token, expert) pairs over the 4 experts;
    # zero weights give equal logits, so every token picks the same two experts (the worst imbalance: two experts
    # get every pair, two none). grouped_mm keeps each tensor over all the pairs, so both equal the plan.
    import torch

    config, architecture = tiny_config(family, 2)
    model = real_model(config, architecture, "sdpa", False)
    ours = _ours(family, 2, "sdpa", False, BATCH, SEQ)
    routers = [layer.mlp.gate for layer in model.model.layers if hasattr(layer.mlp, "experts")]  # DeepSeek: 1 dense
    chosen: list[torch.Tensor] = []
    for router in routers:
        router.register_forward_hook(lambda _module, _input, output: chosen.append(output[2]))
    assert saved_bytes(model, BATCH, SEQ) == ours.saved_bytes
    assert all(len(set(indices.flatten().tolist())) == 4 for indices in chosen)
    chosen.clear()
    with torch.no_grad():
        for router in routers:
            router.weight.zero_()
    assert saved_bytes(model, BATCH, SEQ) == ours.saved_bytes
    assert all(len(set(indices.flatten().tolist())) == 2 for indices in chosen)


def test_glm_4_5_air_runs_deepseek_v3_routing_on_llama_attention() -> None:
    # GLM-4.5-Air, bf16, b=1, s=1,024: one dense layer then 45 sparse ones of 128 experts, 8 per token; the router
    # keeps V3's float32 sigmoid scores over every expert, the ids of the 8 chosen and their renormalised weights.
    s = 1024
    plan = _shipped("zai-org/GLM-4.5-Air", batch=1, seq_len=s, dtype="bfloat16")
    assert plan.kinds == (("dense", 1), ("sparse", 45))
    by_key = {tensor.key: tensor.bytes for tensor in plan.per_layer}
    assert (by_key["mlp.gate.scores"], by_key["mlp.gate.top_indices"]) == (4 * s * 128, 8 * s * 8)
    assert {"mlp.gate.top_sum", "mlp.shared_experts.down_proj.input"} <= by_key.keys()


def test_moe_plan_spans_the_routed_pairs() -> None:
    # Mixtral-8x7B, bf16, b=1, s=4,096, r=2 of e=8 experts of width i=14,336: the experts' SwiGLU keeps
    # (h + 2i + i + i + h)·2 bytes per routed pair, 2·s pairs; the router its float32 softmax over 8 experts.
    s, h, i = 4096, 4096, 14_336
    plan = _shipped("mistralai/Mixtral-8x7B-v0.1", batch=1, seq_len=s, dtype="bfloat16")
    by_key = {tensor.key: tensor.bytes for tensor in plan.per_layer}
    experts = [key for key in by_key if key.startswith("mlp.experts.") and key.endswith(("input", "output"))]
    assert sum(by_key[key] for key in experts) == 2 * s * (2 * h + 4 * i) * 2
    assert by_key["mlp.gate.probabilities"] == 4 * s * 8
    assert by_key["mlp.experts.routing_weights"] == 4 * 2 * s  # Mixtral's router returns them in float32
    assert any("any routing" in assumption_text(note) for note in plan.assumptions)


def test_albert_runs_its_shared_layer_each_time() -> None:
    # albert-base-v2: one layer's weights (the tree's stack holds one group of one layer) run 12 times, each run
    # keeping its own tensors: 12 layers in the plan.
    dims = transformer_dimensions(from_config("albert/albert-base-v2").tree)
    assert dims is not None
    assert dims.layers == 1
    assert _shipped("albert/albert-base-v2", batch=1, seq_len=64, dtype="bfloat16").layers == 12


@pytest.mark.parametrize("family", sorted(NOT_CHECKPOINTABLE))
def test_transformers_cannot_checkpoint(family: str) -> None:
    # transformers refuses to checkpoint ALBERT's, MPNet's and OpenAI GPT's layers (and MPNet and OpenAI GPT cannot
    # run sdpa): the plans say so.
    import transformers

    config, architecture = tiny_config(family, 2)
    with pytest.raises(ValueError, match="does not support activation checkpointing"):
        real_model(config, architecture, "eager", True)
    plan = _ours(family, 2, "sdpa", True, BATCH, SEQ)
    assert any("not checkpointable" in assumption_text(note) for note in plan.assumptions)
    sdpa = getattr(transformers, architecture)._supports_sdpa
    assert (plan.attention == "sdpa") == sdpa
    assert any("cannot run sdpa" in assumption_text(note) for note in plan.assumptions) != sdpa


@pytest.mark.parametrize(("family", "key"), [("distilbert", "activation"), ("electra", "hidden_act")])
def test_relu_result_is_the_next_input_in_layers_and_head(family: str, key: str) -> None:
    # DistilBERT names its activation function `activation`. With ReLU the result is also the next operation's
    # input, one storage: lin2's in the layers, in the head the LayerNorm's (DistilBERT) or dense_prediction's
    # (ELECTRA, whose head has no LayerNorm).
    config, architecture = tiny_config(family, 2)
    config[key] = "relu"
    plan = _plan_equal_to_autograd(config, architecture)
    keys = {tensor.key for tensor in (*plan.per_layer, *plan.model)}
    assert not keys & {"ffn.lin2.input", "output.dense.input", "vocab_layer_norm.input"}
    assert "discriminator_predictions.dense_prediction.input" not in keys


def test_vit_runs_the_image_patches_whatever_the_sequence() -> None:
    # vit-base-patch16-224: a 224 × 224 RGB image in 16 × 16 patches, 196 patches and the class token: s = 197
    # whatever the sequence asked for; the patch convolution keeps the image, 3·224·224 values.
    plan = _shipped("google/vit-base-patch16-224-in21k", batch=2, seq_len=64, dtype="bfloat16")
    assert plan.seq_len == 197
    by_key = {tensor.key: tensor for tensor in (*plan.per_layer, *plan.model)}
    assert by_key["embeddings.patch_embeddings.projection.input"].bytes == 2 * 2 * 3 * 224 * 224
    assert by_key["mlp.fc1.input"].bytes == 2 * 2 * 197 * 768


@pytest.mark.parametrize("seq", [None, 64])
def test_clip_vision_runs_the_image_positions_whatever_the_sequence(seq: int | None) -> None:
    # clip-vit-base-patch32's vision tower, read from the CLIP config's vision_config: a 224 × 224 image in 32 × 32
    # patches, 49 patches and the class token, s = 50 whatever the sequence asked for, or with none asked; its
    # quick_gelu (the vision_config's hidden_act) keeps two b·s·i tensors, post_layernorm one mean per image.
    tree = from_config("openai/clip-vit-base-patch32", architecture="CLIPVisionModel").tree
    plan = plan_memory(tree, None, PlanOptions(optimizer="sgd", seq_len=seq, batch=2, mixed_precision="bf16"))
    assert plan.activations is not None
    assert (plan.activations.seq_len, plan.activations.structure) == (50, "vit")
    by_key = {tensor.key: tensor for tensor in (*plan.activations.per_layer, *plan.activations.model)}
    assert by_key["embeddings.patch_embedding.input"].bytes == 2 * 2 * 3 * 224 * 224
    assert by_key["mlp.activation_fn.saved1"].bytes == 2 * 2 * 50 * 3072
    assert by_key["post_layernorm.mean"].bytes == 4 * 2
    assert not any(note.kind == "activations-layout" for note in plan.assumptions)


@pytest.mark.parametrize("seq", [None, 64])
def test_siglip_vision_runs_its_patches_whatever_the_sequence(seq: int | None) -> None:
    # google/siglip-base-patch16-224's vision tower: a 224 × 224 image in 16 × 16 patches, s = 196 and no class
    # token, whatever seq_len asks, or none; its pooling head's keys and values (b·s·2h, one storage) and its
    # softmax over the 196 tokens for one probe per image.
    config = {"model_type": "siglip_vision_model", "patch_size": 16}  # its vision_config
    tree = build_config_tree(config, architecture="SiglipVisionModel")
    plan = plan_memory(tree, None, PlanOptions(optimizer="sgd", seq_len=seq, batch=2, mixed_precision="bf16"))
    assert plan.activations is not None
    assert (plan.activations.seq_len, plan.activations.structure) == (196, "vit")
    by_key = {tensor.key: tensor for tensor in (*plan.activations.per_layer, *plan.activations.model)}
    assert by_key["embeddings.patch_embedding.input"].bytes == 2 * 2 * 3 * 224 * 224
    assert by_key["head.attention.key_value"].bytes == 2 * 2 * 196 * 2 * 768
    assert by_key["head.attention.weights"].bytes == 2 * 2 * 12 * 196
    notes = [assumption_text(note) for note in plan.assumptions]
    assert not any(note.kind == "activations-layout" for note in plan.assumptions)
    assert any("s=196 tokens, the image's 196 patches, no class token, from an image of n=150,528" in n for n in notes)
    # the token estimate of FLOPs runs the same positions, all of them patches (it said 195 and a class token)
    assert image_positions(tree) == (196, 196)


BART_KEYS = ("encoder_attn.value", "self_attn.q_proj/k_proj/v_proj.input")
T5_KEYS = ("layer.1.EncDecAttention.value", "layer.0.SelfAttention.q/k/v.input")
SEQ2SEQ_KEYS = {
    # family: (cross-attention's value, self-attention's projections' input)
    **dict.fromkeys(["bart", "mbart", "pegasus", "marian", "whisper"], BART_KEYS),
    **dict.fromkeys(["t5", "umt5"], T5_KEYS),
}


def _source_and_target(family: str, attention: str, checkpointing: bool, batch: int, source: int, target: int) -> None:
    # The encoder's layers at the source length s, the decoder's at the target length t, cross-attention's keys
    # and values (and its b·a·t·s scores) at s; T5's relative position buckets at s·s in the encoder and t·t in
    # the decoder. Whisper's source is its fixed window (24 positions in the tiny config), whatever source is
    # asked for.
    config, architecture = tiny_config(family, 2)
    measured = saved_bytes(real_model(config, architecture, attention, checkpointing), batch, source, target)
    ours = _ours(family, 2, attention, checkpointing, batch, target, source=source)
    assert ours.encoder is not None
    window = config["max_source_positions"] if family == "whisper" else source
    assert (ours.encoder.seq_len, ours.seq_len) == (window, target)
    assert measured == ours.saved_bytes, f"measured {measured:,} B, ours {ours.saved_bytes:,} B"
    shapes = {tensor.key: tensor.shape for tensor in ours.per_layer}
    value, projections = SEQ2SEQ_KEYS[family]
    assert shapes[value].endswith("·s·d")  # b·a·s·d, or b·k·s·d as the flash kernel keeps it
    assert shapes[projections] == "b·t·h"


@pytest.mark.parametrize("checkpointing", [False, True], ids=["stored", "checkpointed"])
@pytest.mark.parametrize("attention", ["eager", "sdpa"])
@pytest.mark.parametrize("family", list(SEQ2SEQ_KEYS))
def test_encoder_decoder_source_and_target_lengths(family: str, attention: str, checkpointing: bool) -> None:
    # 16 source tokens and 8 target tokens.
    _source_and_target(family, attention, checkpointing, BATCH, 16, 8)


@settings(max_examples=5, deadline=None)
@given(
    family=st.sampled_from(["bart", "mbart", "pegasus", "marian", "whisper"]),
    batch=st.integers(1, 3),
    source=st.integers(4, 40),
    target=st.integers(2, 40),
)
def test_encoder_decoder_lengths_follow_batch_source_and_target(
    family: str, batch: int, source: int, target: int
) -> None:
    _source_and_target(family, "sdpa", False, batch, source, target)


def test_whisper_encoder_runs_its_fixed_window() -> None:
    # whisper-tiny, bf16, b=1, t=448 target tokens: the encoder runs its 1,500 positions whatever the target, from
    # 80 mel bins × 3,000 frames. The front-end keeps the features (2·80·3,000 bytes), conv1's GELU input and
    # conv2's input (2·384·3,000 each) and conv2's GELU input (2·384·1,500); each layer's q/k/v input is
    # 2·1,500·384 bytes in the encoder and 2·448·384 in the decoder, whose cross-attention keys span 1,500.
    plan = plan_memory(
        from_config("openai/whisper-tiny").tree,
        None,
        PlanOptions(optimizer="adamw", mixed_precision="bf16", seq_len=448),
    )
    by_label = {item.label.split(":")[0]: item.bytes for item in plan.items if item.category == "activations"}
    assert by_label["model.encoder.conv1.input"] == 2 * 80 * 3000
    assert by_label["model.encoder.conv1.gelu.input"] == by_label["model.encoder.conv2.input"] == 2 * 384 * 3000
    assert by_label["model.encoder.conv2.gelu.input"] == 2 * 384 * 1500
    assert by_label["encoder 4 layers × self_attn.q_proj/k_proj/v_proj.input"] == 4 * 2 * 1500 * 384
    assert by_label["decoder 4 layers × self_attn.q_proj/k_proj/v_proj.input"] == 4 * 2 * 448 * 384
    assert by_label["decoder 4 layers × encoder_attn.key"] == 4 * 2 * 1500 * 384
    assert by_label["proj_out.input"] == 2 * 448 * 384


SPEECH_VARIANTS: dict[str, dict[str, object]] = {
    "shipped": {},
    # an odd positional kernel (GELU's input not one frame longer), the CTC loss averaged (its divisor kept) and
    # SpecAugment's channel mask beside its frame mask
    "odd-mean-channels": {
        "num_conv_pos_embeddings": 5,
        "ctc_loss_reduction": "mean",
        "mask_feature_prob": 0.2,
        "mask_feature_length": 4,
    },
    "no-dropout": dict.fromkeys(
        ["hidden_dropout", "final_dropout", "feat_proj_dropout", "attention_dropout", "activation_dropout"], 0.0
    ),
}


@settings(max_examples=4, deadline=None)
@given(
    family=st.sampled_from(["wav2vec2", "wav2vec2_stable", "hubert"]),
    variant=st.sampled_from(list(SPEECH_VARIANTS)),
    batch=st.integers(1, 3),
    samples=st.integers(9, 48),
    attention=st.sampled_from(["eager", "sdpa"]),
)
def test_speech_encoders_follow_batch_and_samples(
    family: str, variant: str, batch: int, samples: int, attention: str
) -> None:
    # The sequence is the waveform's samples; the tiny feature encoder makes (samples - 1)//2 - 2 frames of them
    # (at least 2: SpecAugment's spans are 2 frames long).
    config, architecture = tiny_config(family, 2)
    config.update(SPEECH_VARIANTS[variant])
    measured = saved_bytes(real_model(config, architecture, attention, False), batch, samples)
    ours = _plan_of(config, architecture, attention, batch=batch, seq=samples)
    assert ours.seq_len == (samples - 1) // 2 - 2
    assert measured == ours.saved_bytes, f"measured {measured:,} B, ours {ours.saved_bytes:,} B"


def test_speech_sequence_counts_samples() -> None:
    # wav2vec2-base-960h, bf16, one second (16,000 samples): its 7 convolutions (kernels 10, 3, 3, 3, 3, 2, 2;
    # strides 5, 2, 2, 2, 2, 2, 2) make 3,199, 1,599, 799, 399, 199, 99 and 49 frames; the first keeps the
    # waveform, its GroupNorm the 512 channels × 3,199 frames; the layers run 49 frames.
    plan = _shipped("facebook/wav2vec2-base-960h", batch=1, seq_len=16000, dtype="bfloat16")
    assert plan.seq_len == 49
    by_key = {tensor.key: tensor.bytes for tensor in (*plan.per_layer, *plan.model)}
    extractor = "wav2vec2.feature_extractor.conv_layers"
    assert by_key[f"{extractor}.0.conv.input"] == 2 * 16000
    assert by_key[f"{extractor}.0.layer_norm.input"] == 2 * 512 * 3199
    assert by_key[f"{extractor}.6.activation.input"] == 2 * 512 * 49
    assert by_key["attention.q_proj/k_proj/v_proj.input"] == 2 * 49 * 768
    assert by_key["loss.log_alpha"] == 4 * 49 * (2 * 49 + 1)
    notes = [assumption_text(note) for note in plan.assumptions]
    assert any("counts samples of the raw waveform (16,000" in note and "s=49 frames" in note for note in notes)


@pytest.mark.parametrize(("family", "encoder_layers", "decoder_layers"), [("t5", 4, 2), ("umt5", 1, 2), ("bart", 4, 2)])
def test_encoder_and_decoder_of_different_depths(family: str, encoder_layers: int, decoder_layers: int) -> None:
    # transformer_dimensions takes the stack with more parameters, the encoder's for 4 encoder and 2 decoder
    # layers: the plan still lists the decoder's layers at the target length, the encoder's at the source length.
    config, architecture = tiny_config(family, decoder_layers)
    config["encoder_layers" if family == "bart" else "num_layers"] = encoder_layers
    measured = saved_bytes(real_model(config, architecture, "sdpa", False), BATCH, SEQ, 8)
    tree = build_config_tree(config, architecture=architecture)
    dims = transformer_dimensions(tree)
    assert dims is not None
    plan = activation_plan(tree, dims, batch=BATCH, seq_len=8, dtype="bfloat16", kernels="cpu", source_len=SEQ)
    assert plan is not None
    assert plan.encoder is not None
    assert (plan.encoder.layers, plan.layers) == (encoder_layers, decoder_layers)
    assert measured == plan.saved_bytes


@settings(max_examples=4)
@given(
    batch=st.integers(1, 3),
    source=st.integers(2, 40),
    target=st.integers(1, 24),
    family=st.sampled_from(["t5", "flan_t5", "umt5"]),
    attention=st.sampled_from(["eager", "sdpa"]),
)
def test_t5_saved_bytes_follow_batch_source_and_target(
    batch: int, source: int, target: int, family: str, attention: str
) -> None:
    # Random lengths: the s·s and t·t bucket indices, the t·t causal pattern (none for one target token) and the
    # b·a·t·s cross-attention.
    config, architecture = tiny_config(family, 2)
    measured = saved_bytes(real_model(config, architecture, attention, False), batch, source, target)
    assert measured == _ours(family, 2, attention, False, batch, target, source=source).saved_bytes


@pytest.mark.parametrize("attention", ["eager", "sdpa"])
def test_t5_in_float32_keeps_no_input_copy(attention: str) -> None:
    # T5LayerNorm in float32: x.to(float32) is x, so each norm keeps x, rstd and x·rstd, not bf16's fourth tensor.
    ours = _ours("t5", 2, attention, False, BATCH, SEQ, dtype="float32")
    assert "layer.0.layer_norm.input" not in {tensor.key for tensor in ours.per_layer}
    assert _measured("t5", 2, attention, False, BATCH, SEQ, half=False) == ours.saved_bytes


def test_t5_on_cuda_runs_the_memory_efficient_kernel() -> None:
    # Flan-T5-base, bf16, b=1, s=t=512 on CUDA: sdpa gets the relative position bias as attn_mask, which flash
    # kernels do not take, so the memory-efficient kernel runs and keeps each layer's a·s·s bias (12 heads) and
    # the b·a·s·d output, the output projection's input; no b·a·s·s probabilities. T5 has no flash attention in
    # transformers, and in float16 it keeps wo in float32: both fall back to the estimate.
    tree = from_config("google/flan-t5-base").tree
    dims = transformer_dimensions(tree)
    assert dims is not None
    plan = activation_plan(tree, dims, batch=1, seq_len=512, dtype="bfloat16")
    assert plan is not None
    assert plan.encoder is not None
    assert plan.kernel == "memory-efficient"
    by_key = {tensor.key: tensor.bytes for tensor in plan.encoder.per_layer}
    assert by_key["layer.0.SelfAttention.attn_bias"] == 2 * 12 * 512 * 512
    assert "layer.0.SelfAttention.o.input" not in by_key
    assert not any(key.endswith(("softmax", "probabilities")) for key in by_key)
    assert any("memory-efficient" in assumption_text(note) for note in plan.assumptions)
    for attention, dtype in (("flash", "bfloat16"), ("sdpa", "float16")):
        assert activation_plan(tree, dims, batch=1, seq_len=512, dtype=dtype, attention=attention) is None  # type: ignore[arg-type]


def test_recomputed_layer_is_one_stored_layer() -> None:
    # With checkpointing the plan keeps each layer's input and, during backward, one layer's full set.
    stored = _ours("llama", 2, "sdpa", False, BATCH, SEQ)
    checkpointed = _ours("llama", 2, "sdpa", True, BATCH, SEQ)
    items = activation_items(checkpointed)
    assert items[0].bytes == 2 * BATCH * SEQ * 64 * 2  # 2 layers × b·s·h in bfloat16
    assert sum(item.bytes for item in items if item.label.startswith("recomputed layer")) == stored.per_layer_bytes


def test_llama_3_8b_at_4096_tokens_keeps_what_flash_attention_keeps() -> None:
    # Per layer, bf16, b=1, s=4,096, h=4,096, 32 heads, 8 kv heads, d=128, i=14,336 (sdpa → flash on CUDA):
    # two RMSNorms 2·(4 + 2)·sh + 2·4·s; q/k/v and gate/up inputs 2·2·sh; query 2·sh, key and value 2·2·s·1,024,
    # output 2·sh, logsumexp 4·32·s; SwiGLU 4 · 2·s·14,336. No s × s term.
    s, h, i = 4096, 4096, 14_336
    per_layer = 2 * (6 * s * h + 4 * s) + 4 * s * h + 2 * s * h + 4 * s * 1024 + 2 * s * h + 4 * 32 * s + 8 * s * i
    plan = plan_memory(
        from_config("meta-llama/Llama-3.1-8B").tree,
        None,
        PlanOptions(optimizer="adamw", mixed_precision="bf16", seq_len=s),
    )
    layers = [item for item in plan.items if item.category == "activations" and item.label.startswith("32 layers")]
    assert sum(item.bytes for item in layers) == 32 * per_layer
    # Outside the layers: the float32 log_softmax of the logits, 4·s·128,256, is the largest.
    by_label = {item.label.split(":")[0]: item.bytes for item in plan.items if item.category == "activations"}
    assert by_label["loss.log_softmax"] == 4 * s * 128_256


def test_eager_attention_keeps_the_scores() -> None:
    # eager: the float32 softmax (4·b·a·s²) and the bf16 probabilities (2·b·a·s²) per layer, which sdpa has not.
    eager, sdpa = (_ours("llama", 2, attention, False, 1, 1024) for attention in ("eager", "sdpa"))
    keys = {tensor.key for tensor in eager.per_layer} - {tensor.key for tensor in sdpa.per_layer}
    assert {"self_attn.softmax", "self_attn.probabilities"} <= keys
    scores = {t.key: t.bytes for t in eager.per_layer}
    assert scores["self_attn.softmax"] == 4 * 4 * 1024 * 1024
    assert scores["self_attn.probabilities"] == 2 * 4 * 1024 * 1024


def test_tensor_and_sequence_parallel_split() -> None:
    # Korthikanti Table 2: with t=4 the heads and MLP width split, norms and column-parallel inputs do not,
    # unless sequence parallelism splits them too.
    plan = _ours("llama", 2, "sdpa", False, BATCH, SEQ)
    whole = sum(item.bytes for item in activation_items(plan))
    split = sum(item.bytes for item in activation_items(plan, tp=4))
    sequence = sum(item.bytes for item in activation_items(plan, tp=4, sequence_parallel=True))
    assert whole > split > sequence
    replicated = sum(t.bytes for t in plan.per_layer if t.split == "sequence") * plan.layers
    assert not any(item.exact for item in activation_items(plan, tp=4))
    assert split - sequence == replicated - replicated // 4 + sum(
        t.bytes - -(-t.bytes // 4) for t in plan.model if t.split == "sequence"
    )


def test_unrecognised_layers_fall_back_to_the_estimate() -> None:
    # Falcon with ALiBi (falcon-rw's) is not one of the modelled layouts: the Korthikanti estimate, labelled as one.
    config, architecture = tiny_config("falcon", 2)
    tree = build_config_tree({**config, "alibi": True}, architecture=architecture)
    dims = transformer_dimensions(tree)
    assert dims is not None
    assert activation_plan(tree, dims, batch=1, seq_len=16, dtype="bfloat16") is None
    plan = plan_memory(tree, None, PlanOptions(optimizer="sgd", seq_len=16))
    assert any(note.kind == "activations-korthikanti" for note in plan.assumptions)


@pytest.mark.parametrize("attention", ["eager", "sdpa"])
def test_float32_activations_have_no_upcast_copies(attention: str) -> None:
    # In float32 x.to(float32) and softmax(dtype=float32).to(dtype) copy nothing: one tensor where bf16 has two.
    ours = _ours("llama", 2, attention, False, BATCH, SEQ, dtype="float32")
    assert "self_attn.probabilities" not in {tensor.key for tensor in ours.per_layer}
    assert _measured("llama", 2, attention, False, BATCH, SEQ, half=False) == ours.saved_bytes


def test_cli_attention_and_sequence_parallel(capsys: pytest.CaptureFixture[str]) -> None:
    from paramcount.cli import main

    args = ["gpt2", "--json", "--optimizer", "adamw", "--seq-len", "64", "--attention", "eager"]
    assert main(args) == 0
    plan = json.loads(capsys.readouterr().out)["memory"]["plan"]
    assert plan["activations"]["attention"] == "eager"
    # GPT-2's config states no dtype: float32 activations; eager keeps the softmax of 12 heads, 4·12·64² bytes
    softmax = next(t for t in plan["activations"]["tensors"] if t["key"] == "attn.softmax")
    assert (softmax["shape"], softmax["bytes"]) == ("b·a·s·s", 4 * 12 * 64 * 64)
    assert main([*args, "--sequence-parallel"]) == 2
    error = json.loads(capsys.readouterr().out)["error"]
    assert error["message"] == "sequence_parallel: splits activations over tensor-parallel devices; set tp > 1"


@pytest.mark.parametrize("activation_dropout", [0.0, 0.1])
def test_relu_result_is_the_next_linear_input(activation_dropout: float) -> None:
    # Pegasus's ReLU keeps its result, and fc2 keeps the same storage as its input unless activation dropout
    # comes between (the shipped config has 0.1): b·s·i once per layer, not twice.
    config, architecture = tiny_config("pegasus", 2)
    config["activation_dropout"] = activation_dropout
    plan = _plan_equal_to_autograd(config, architecture)
    assert ("fc2.input" in {tensor.key for tensor in plan.per_layer}) == (activation_dropout > 0)


@pytest.mark.parametrize("attention", ["eager", "sdpa"])
@pytest.mark.parametrize("parallel", [True, False])
def test_gpt_neox_residual_in_parallel_or_in_sequence(parallel: bool, attention: str) -> None:
    # use_parallel_residual: both LayerNorms read the layer input (one storage, kept once), or the second reads
    # the attention's residual sum, its own b·s·h; with hidden and attention dropout, the masks of the embedding
    # and of both residuals (and on CPU sdpa's math kernel).
    config, architecture = tiny_config("gpt_neox", 2)
    config.update(use_parallel_residual=parallel, hidden_dropout=0.1, attention_dropout=0.1)
    plan = _plan_equal_to_autograd(config, architecture, attention)
    keys = {tensor.key for tensor in plan.per_layer}
    assert ("post_attention_layernorm.input" in keys) != parallel
    assert {"post_attention_dropout.mask", "post_mlp_dropout.mask"} <= keys
    assert "gpt_neox.emb_dropout.mask" in {tensor.key for tensor in plan.model}


@pytest.mark.parametrize(("batch", "seq"), [(1, 9), (2, 9), (2, 1)])
def test_falcon_multi_query_sdpa_runs_the_math_kernel(batch: int, seq: int) -> None:
    # Falcon-7B's one key/value head reaches sdpa without enable_gqa: no fused kernel takes it, so the math kernel
    # runs, in float32, its key and value expanded to every head unless one sequence keeps the fold a view of that
    # head; 40B's new decoder architecture broadcasts them to every head itself and runs flash, keeping the causal
    # mask Falcon always builds.
    for family, kernel in (("falcon", "math (float32)"), ("falcon_new", "flash")):
        config, architecture = tiny_config(family, 2)
        plan = _plan_equal_to_autograd(config, architecture, "sdpa", batch, seq)
        assert plan.kernel == kernel
        key = next(tensor for tensor in plan.per_layer if tensor.key == "self_attention.key")
        assert key.elements == batch * seq * 16 * (1 if family == "falcon" and batch == 1 else 4)
        assert ("self_attention.mask" in {tensor.key for tensor in plan.per_layer}) == (kernel == "flash")


def test_falcon_shipped_layouts_are_modelled() -> None:
    # falcon-7b (one LayerNorm, multi-query) and falcon-40b (ln_attn and ln_mlp, 8 key/value groups broadcast to
    # its 128 heads): per operation, not the estimate.
    seven, forty = (
        _shipped(name, batch=1, seq_len=2048, dtype="bfloat16") for name in ("tiiuae/falcon-7b", "tiiuae/falcon-40b")
    )
    assert (seven.kernel, forty.kernel) == ("math (float32)", "flash")
    assert {tensor.module for tensor in forty.per_layer} >= {"ln_attn", "ln_mlp"}


def test_gpt_neox_20b_fast_gelu_keeps_seven_tensors() -> None:
    # GPT-NeoX-20B's gelu_fast, 0.5·x·(1 + tanh(0.7978845608·x·(1 + 0.044715·x·x))) in Python: x, 0.044715·x,
    # 1 + 0.044715·x·x, 0.7978845608·x, tanh's result, 0.5·x and 1 + tanh, each b·s·i.
    config, architecture = tiny_config("gpt_neox", 2)
    config["hidden_act"] = "gelu_fast"
    plan = _plan_equal_to_autograd(config, architecture)
    assert sum(tensor.key.startswith("mlp.act.saved") for tensor in plan.per_layer) == 7


def test_bloom_dropout_masks() -> None:
    # BLOOM's dropout_add after the attention and after the MLP, and eager attention's dropout (the shipped
    # configs have none): three more masks per layer, in the dtype on CPU.
    config, architecture = tiny_config("bloom", 2)
    config.update(hidden_dropout=0.1, attention_dropout=0.1)
    plan = _plan_equal_to_autograd(config, architecture, "eager")
    keys = {tensor.key for tensor in plan.per_layer}
    assert {"self_attention.dropout_add.mask", "mlp.dropout_add.mask", "self_attention.dropout_mask"} <= keys


def test_stablelm_per_head_layer_norms_fall_back_to_the_estimate() -> None:
    # StableLM's qk_layernorm puts a LayerNorm per head on the query and the key: not modelled, so no plan
    # (the plan without it is proven in test_saved_bytes_equal_autograd).
    config, architecture = tiny_config("stablelm", 2)
    for qk_layernorm, modelled in ((False, True), (True, False)):
        tree = build_config_tree({**config, "qk_layernorm": qk_layernorm}, architecture=architecture)
        dims = transformer_dimensions(tree)
        assert dims is not None
        plan = activation_plan(tree, dims, batch=BATCH, seq_len=SEQ, dtype="bfloat16")
        assert (plan is not None) == modelled


def test_gpt_oss_runs_eager_attention_with_sinks() -> None:
    # gpt-oss-20b, bf16, b=1, s=256: transformers has no sdpa for the sinks, so the default plan is eager's, with
    # the softmax over s + 1 columns (2·64 heads·s·(s+1) bytes); its 32 experts of width 2,880 (stored transposed,
    # hidden × 2·width) run r=4 per token, each clamped-SwiGLU tensor 2·4·s·2,880 bytes. The flash kernels with
    # sinks are not modelled: no plan.
    s = 256
    plan = _shipped("openai/gpt-oss-20b", batch=1, seq_len=s, dtype="bfloat16")
    assert plan is not None
    assert (plan.attention, plan.kernel) == ("eager", "eager")
    by_key = {tensor.key: tensor.bytes for tensor in plan.per_layer}
    assert by_key["self_attn.softmax"] == 2 * 64 * s * (s + 1)
    assert by_key["mlp.experts.glu"] == by_key["mlp.experts.down.input"] == 2 * 4 * s * 2880
    assert any("cannot run sdpa" in assumption_text(note) for note in plan.assumptions)
    assert any("clamped to swiglu_limit" in assumption_text(note) for note in plan.assumptions)
    assert _shipped_plan("openai/gpt-oss-20b", batch=1, seq_len=s, dtype="bfloat16", attention="flash") is None


@pytest.mark.parametrize("attention", ["eager", "sdpa"])
def test_bert_relu_result_is_the_next_input(attention: str) -> None:
    # BERT with hidden_act="relu": ReLU keeps its result, which is also what reads it next keeps (one storage):
    # output.dense's input in each layer, and the MLM head's LayerNorm's input after transform.dense.
    config, architecture = tiny_config("bert", 2)
    config["hidden_act"] = "relu"
    measured = saved_bytes(real_model(config, architecture, attention, False), BATCH, SEQ)
    plan = _plan_of(config, architecture, attention)
    assert measured == plan.saved_bytes, f"measured {measured:,} B, ours {plan.saved_bytes:,} B"
    keys = {tensor.key for tensor in (*plan.per_layer, *plan.model)}
    assert not {"output.dense.input", "cls.predictions.transform.LayerNorm.input"} & keys
    assert "cls.predictions.transform.transform_act_fn.output" in keys


@pytest.mark.parametrize(
    ("family", "classifier_dropout"),
    [("bart_classification", 0.1), ("bert_classification", 0.0), ("bert_tokens", 0.0), ("bert_qa", 0.0)],
)
def test_classifier_dropout(family: str, classifier_dropout: float) -> None:
    # The shipped configs: BART's classifier_dropout 0.0 (the Linears read the eos row and the tanh result), BERT's
    # unset (hidden_dropout_prob, 0.1). Switched: dropout masks and the dropped tensors as the Linears' inputs, or
    # without dropout (an identity) the tensors before it; the QA head has no dropout and must not change.
    config, architecture = tiny_config(family, 2)
    config["classifier_dropout"] = classifier_dropout
    measured = saved_bytes(real_model(config, architecture, "sdpa", False), BATCH, SEQ)
    plan = _plan_of(config, architecture)
    assert measured == plan.saved_bytes, f"measured {measured:,} B, ours {plan.saved_bytes:,} B"
    heads = ("classifier", "classification_head")
    masks = [t.key for t in plan.model if t.key.startswith(heads) and t.key.endswith("dropout.mask")]
    assert len(masks) == (2 if family.startswith("bart") else 1) * (classifier_dropout > 0)


@pytest.mark.parametrize(
    ("architecture", "change"),
    [
        ("BertForSequenceClassification", {"num_labels": 1}),  # regression: MSELoss
        ("BertForSequenceClassification", {"num_labels": 3, "problem_type": "multi_label_classification"}),
        ("BertForMultipleChoice", {}),  # one logit per choice, (batch, choices, tokens) inputs
        ("BertForPreTraining", {}),  # next-sentence prediction beside the masked LM
    ],
)
def test_heads_not_modelled_fall_back(architecture: str, change: dict[str, object]) -> None:
    config, _ = tiny_config("bert", 2)
    config.update(change, architectures=[architecture])
    tree = build_config_tree(config, architecture=architecture)
    dims = transformer_dimensions(tree)
    assert dims is not None
    assert activation_plan(tree, dims, batch=BATCH, seq_len=SEQ, dtype="bfloat16") is None
    for kept in ("BertForSequenceClassification", "BertForQuestionAnswering", "BertForTokenClassification"):
        config.pop("problem_type", None)
        config.update(num_labels=2, architectures=[kept])
        _plan_of(config, kept)


# State-space and hybrid stacks: every layer in the estimate. Per token, each mixer keeps its projections' inputs and
# its in-projections' outputs (m, from the config): Mamba in_proj h → 2i, x_proj i → r + 2n, dt_proj r → i, out_proj
# i → h: m = h + i + r + i + 2i; Mamba-2 (Falcon-H1) in_proj h → 2·d_ssm + 2·g·n + heads, out_proj d_ssm → h; the
# gated delta net in_proj_qkvz h → 2·kh·kd + 2·vh·vd, in_proj_ba h → 2·vh, out_proj vh·vd → h. Korthikanti §4.1
# splits the 34·sbh of a 16-bit layer into attention 11, MLP 19 and layer norms 4: a state-space layer with a
# feed-forward keeps 19 + 4 = 23·sbh (e = 2), a Mamba block (one norm, no MLP) e·sbh.
HYBRIDS = {
    # name: (e, h, heads, attention layers, state-space layers, their per-layer bytes over s·b by hand)
    "ai21labs/AI21-Jamba-1.5-Mini": (2, 4096, 32, 4, 28, 23 * 4096 + 2 * (4096 + 8192 + 256 + 8192 + 2 * 8192)),
    "state-spaces/mamba-130m-hf": (4, 768, None, 0, 24, 4 * 768 + 4 * (768 + 1536 + 48 + 1536 + 2 * 1536)),
    "tiiuae/Falcon-H1-0.5B-Base": (2, 1024, 8, 36, 36, 34 * 1024 + 2 * (1024 + 1536 + 2 * 1536 + 2 * 128 + 24)),
    "Qwen/Qwen3-Next-80B-A3B-Instruct": (
        2,
        2048,
        16,
        12,
        36,
        23 * 2048 + 2 * (2 * 2048 + 32 * 128 + 2 * 16 * 128 + 2 * 32 * 128 + 2 * 32),
    ),
}


@pytest.mark.parametrize("name", list(HYBRIDS))
def test_state_space_layers_are_all_in_the_estimate(name: str) -> None:
    e, h, heads, attention, count, per_token = HYBRIDS[name]
    s = 1024
    tree = from_config(name).tree
    plan = plan_memory(tree, None, PlanOptions(optimizer="adamw", seq_len=s))
    layers = [item for item in plan.items if item.category == "activations" and "layers" in item.label]
    korthikanti = dict(next(note for note in plan.assumptions if note.kind == "activations-korthikanti").values)
    assert (korthikanti["heads"], korthikanti["layers"]) == (heads, attention)
    hybrid = name.startswith("tiiuae")  # each Falcon-H1 layer has attention and a Mamba-2 mixer side by side
    if attention and not hybrid:
        assert layers[0].label.startswith(f"activations: {attention} attention layers × sbh(34 + 5as/h)")
        assert layers[0].bytes == attention * 34 * s * h  # sdpa: no s × s scores
    assert layers[-1].label.startswith(f"activations: {count} ")
    assert layers[-1].bytes == count * s * per_token
    every = count + (0 if hybrid else attention)
    assert sum(int(item.label.split()[1]) for item in layers) == every
    assert any(note.kind == "activations-mixers" for note in plan.assumptions)
    checkpointed = plan_memory(tree, None, PlanOptions(optimizer="adamw", seq_len=s, gradient_checkpointing=True))
    kept = next(item for item in checkpointed.items if item.label.startswith("layer inputs kept"))
    assert kept.bytes == every * e * s * h


@pytest.mark.parametrize("attention", ["eager", "sdpa"])
@pytest.mark.parametrize("family", ["gemma3", "mistral", "starcoder2"])
def test_sliding_window_shorter_than_the_sequence(family: str, attention: str) -> None:
    # A window of 8 over 16 tokens: transformers builds the sliding layers' mask, and sdpa given a mask gets the keys
    # and values repeated to every head (no GQA) and keeps the mask, per sliding layer; Gemma 3's full layer (the
    # second of each pair) keeps neither, Mistral's and StarCoder2's layers all slide. Eager keeps the same either
    # way.
    configs = [tiny_config(family, layers) for layers in (2, 3)]
    for config, _ in configs:
        config["sliding_window"] = 8
    two, three = (saved_bytes(real_model(*config, attention, False), BATCH, SEQ) for config in configs)
    ours = _plan_of(*configs[0], attention)
    measured = [two, three]
    assert measured[0] == ours.saved_bytes
    assert measured[1] - measured[0] == ours.per_layer_bytes  # the third layer slides
    masked = {tensor.key for tensor in ours.per_layer if tensor.only == "sliding_attention"}
    assert masked == (
        {"self_attn.key_repeated", "self_attn.value_repeated", "self_attn.mask"} if attention == "sdpa" else set()
    )


@pytest.mark.parametrize(
    ("change", "attention", "checkpointing"),
    [
        # a half-window of 8 over 16 tokens: sdpa gets the sliding layers' mask, each keeps it; eager keeps none
        ({"local_attention": 16}, "sdpa", False),
        ({"local_attention": 16}, "eager", False),
        ({"local_attention": 16}, "sdpa", True),
        # the attention's dropout (the math kernel on CPU, and Wo's output), the MLP's and the embeddings'
        ({"attention_dropout": 0.1, "local_attention": 16}, "sdpa", False),
        ({"mlp_dropout": 0.1, "embedding_dropout": 0.1}, "eager", False),
        # every layer global; SiLU in the MLP, ReLU in the head
        ({"global_attn_every_n_layers": 1}, "sdpa", False),
        ({"hidden_activation": "silu", "classifier_activation": "relu"}, "eager", False),
    ],
)
@pytest.mark.parametrize(("batch", "seq"), [(1, 9), (3, 20)])
def test_modernbert_follows_its_config(
    change: dict[str, object], attention: str, checkpointing: bool, batch: int, seq: int
) -> None:
    # ModernBERT's first layer has no attention norm, a kind of its own; the layers after it slide or not
    configs = [tiny_config("modernbert", layers) for layers in (2, 4)]
    for config, _ in configs:
        config.update(change)
    for config, architecture in configs:
        measured = saved_bytes(real_model(config, architecture, attention, checkpointing), batch, seq)
        ours = _plan_of(config, architecture, attention, checkpointing, batch, seq)
        assert measured == ours.saved_bytes, f"measured {measured:,} B, ours {ours.saved_bytes:,} B"
    masked = {tensor.key for tensor in ours.per_layer if tensor.only == "sliding_attention"}
    flash = attention == "sdpa" and "attention_dropout" not in change  # the math kernel adds the mask, keeps none
    assert ("attn.mask" in masked) == ("local_attention" in change and flash)
    assert ours.kinds[0] == ("first", 1)


def test_decoder_sparse_step_alternates_dense_and_sparse_layers() -> None:
    # decoder_sparse_step=2: layers 1 and 3 of 4 are sparse, 0 and 2 dense (Qwen2-MoE's rule (i + 1) % step == 0);
    # the dense ones run a gated MLP of intermediate_size (96), each tensor kept by its kind only.
    config, architecture = tiny_config("qwen2_moe", 4)
    config["decoder_sparse_step"] = 2
    measured = saved_bytes(real_model(config, architecture, "sdpa", False), BATCH, SEQ)
    ours = _plan_of(config, architecture)
    assert ours.kinds == (("dense", 2), ("sparse", 2))
    assert measured == ours.saved_bytes
    dense = {tensor.key: tensor.shape for tensor in ours.per_layer if tensor.only == "dense"}
    assert dense["mlp.down_proj.input"] == "b·s·f"
    assert any("f=96" in assumption_text(note) for note in ours.assumptions)


@pytest.mark.parametrize(
    ("family", "off", "gone"),
    [
        # Gemma 2 without softcapping: no tanh of the scores (eager) or of the logits
        (
            "gemma2",
            {"attn_logit_softcapping": None, "final_logit_softcapping": None},
            {"self_attn.softcap", "lm_head.softcap"},
        ),
        # Phi-3.5-MoE without input jitter: no noise tensors, the router reads the normalised hidden states
        ("phimoe", {"input_jitter_noise": 0.0}, {"mlp.jitter", "mlp.router.jitter"}),
        # DeepSeek-V3 without norm_topk_prob: the gathered scores are scaled only, nothing divides them
        ("deepseek_v3", {"norm_topk_prob": False}, {"mlp.gate.top_probabilities", "mlp.gate.top_sum"}),
    ],
)
def test_settings_switched_off_keep_less(family: str, off: dict[str, object], gone: set[str]) -> None:
    config, architecture = tiny_config(family, 2)
    config.update(off)
    measured = saved_bytes(real_model(config, architecture, "eager", False), BATCH, SEQ)
    ours = _plan_of(config, architecture, "eager")
    assert measured == ours.saved_bytes
    keys = {tensor.key for tensor in (*ours.per_layer, *ours.model)}
    assert not keys & gone
    default = _ours(family, 2, "eager", False, BATCH, SEQ)  # the shipped config has them on
    assert gone <= {tensor.key for tensor in (*default.per_layer, *default.model)}


@pytest.mark.parametrize("attention", ["eager", "sdpa"])
@pytest.mark.parametrize("family", ["deepseek_v2", "deepseek_v3"])
def test_latent_attention_in_float32(family: str, attention: str) -> None:
    # In float32 nothing is upcast: the router reads the block's input, one storage with the shared experts'
    # input, and the key/value latent's norm keeps its input as the slice it is, so kv_a_proj_with_mqa's whole
    # output, b·s·(c + p).
    ours = _ours(family, 2, attention, False, BATCH, SEQ, dtype="float32")
    keys = {tensor.key: tensor for tensor in ours.per_layer}
    assert "mlp.gate.input_float32" not in keys
    assert "mlp.shared_experts.gate_proj/up_proj.input" not in keys
    assert keys["self_attn.kv_a_layernorm.input_float32"].elements == BATCH * SEQ * (16 + 8)
    assert _measured(family, 2, attention, False, BATCH, SEQ, half=False) == ours.saved_bytes


def test_latent_attention_with_values_as_wide_as_keys_runs_flash() -> None:
    # v_head_dim = qk_nope_head_dim + qk_rope_head_dim = 24: sdpa runs the CPU flash kernel, which keeps the value
    # as the view of kv_b_proj's output it is, that whole output: b·s·a·(16 + 24) elements, not b·a·s·24.
    config, architecture = tiny_config("deepseek_v3", 2)
    config["v_head_dim"] = 24
    measured = saved_bytes(real_model(config, architecture, "sdpa", False), BATCH, SEQ)
    ours = _plan_of(config, architecture)
    assert ours.kernel == "flash"
    value = next(tensor for tensor in ours.per_layer if tensor.key == "self_attn.value")
    assert value.elements == BATCH * SEQ * 4 * (16 + 24)
    assert measured == ours.saved_bytes


def test_deepseek_v3_on_cuda_runs_the_memory_efficient_kernel() -> None:
    # DeepSeek-V3, bf16, b=1, s=4,096 on CUDA: query/key heads of 128 + 64 dims, values of 128, so sdpa runs the
    # memory-efficient kernel (flash kernels need equal head dims), keeping query and key (2·s·128·192 bytes), the
    # value's base, kv_b_proj's output (2·s·128·(128 + 128)), the output and logsumexp; the router's float32 input
    # (4·s·7,168) in the 58 sparse layers, the 3 dense ones a gated MLP of width 18,432; rotary tables of the 64
    # rope dims. flash_attention_2 is not modelled: the estimate.
    s = 4096
    plan = _shipped("deepseek-ai/DeepSeek-V3", batch=1, seq_len=s, dtype="bfloat16")
    assert plan is not None
    assert (plan.kernel, plan.kinds) == ("memory-efficient", (("dense", 3), ("sparse", 58)))
    by_key = {tensor.key: tensor.bytes for tensor in (*plan.per_layer, *plan.model)}
    assert by_key["self_attn.query"] == by_key["self_attn.key"] == 2 * s * 128 * 192
    assert by_key["self_attn.value"] == 2 * s * 128 * (128 + 128)
    assert by_key["self_attn.output"] == 2 * s * 128 * 128
    assert by_key["mlp.gate.input_float32"] == 4 * s * 7168
    assert by_key["mlp.down_proj.input"] == 2 * s * 18_432
    assert by_key["rotary.cos"] == by_key["rotary.sin"] == 2 * s * 64
    assert _shipped_plan("deepseek-ai/DeepSeek-V3", batch=1, seq_len=s, dtype="bfloat16", attention="flash") is None


@settings(max_examples=5)
@given(
    family=st.sampled_from(["deepseek_v2", "deepseek_v3"]),
    attention=st.sampled_from(["eager", "sdpa"]),
    batch=st.integers(1, 3),
    seq=st.integers(4, 24),
    latents=st.tuples(st.sampled_from([8, 16]), st.sampled_from([None, 8, 24])),
    heads=st.tuples(st.sampled_from([8, 16]), st.sampled_from([4, 8]), st.sampled_from([8, 12, 24])),
    routing=st.tuples(st.sampled_from([4, 8]), st.sampled_from([1, 2]), st.integers(1, 3), st.integers(1, 2)),
    switches=st.tuples(st.booleans(), st.booleans(), st.booleans()),
)
def test_latent_attention_follows_random_sizes(
    family: str,
    attention: str,
    batch: int,
    seq: int,
    latents: tuple[int, int | None],
    heads: tuple[int, int, int],
    routing: tuple[int, int, int, int],
    switches: tuple[bool, bool, bool],
) -> None:
    # Random latent ranks (V3 with or without a query latent), nope/rope/value head dims (values as wide as the
    # keys: sdpa's flash kernel), experts, groups (two experts each at least, as V3's group score needs), top-r,
    # shared experts, V2's greedy or group-limited routing, V3's norm_topk_prob and rope_interleave (the even and
    # odd rope dims rotated as pairs, or its two halves).
    (kv_rank, q_rank), (nope, rope, value), (experts, groups, top, shared), (grouped, renormalise, interleave) = (
        latents,
        heads,
        routing,
        switches,
    )
    config, architecture = tiny_config(family, 2)
    config.update(
        kv_lora_rank=kv_rank,
        qk_nope_head_dim=nope,
        qk_rope_head_dim=rope,
        v_head_dim=value,
        n_routed_experts=experts,
        n_group=groups,
        topk_group=1,
        num_experts_per_tok=min(top, experts // groups),
        n_shared_experts=shared,
    )
    if family == "deepseek_v3":
        config.update(q_lora_rank=q_rank, norm_topk_prob=renormalise, rope_interleave=interleave)
    else:
        config["topk_method"] = "group_limited_greedy" if grouped else "greedy"
    measured = saved_bytes(real_model(config, architecture, attention, False), batch, seq)
    assert measured == _plan_of(config, architecture, attention, batch=batch, seq=seq).saved_bytes
