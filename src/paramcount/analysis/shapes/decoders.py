"""Dataflow of transformers' decoder-only language models: Llama and its relatives (one dataflow per
layer layout, registered per family prefix), GPT-2, BLOOM, Falcon, GPT-J, GPT-NeoX, OPT, GPT-1 and DeepSeek's
latent attention. Conventions in ``transformers.py``."""

from __future__ import annotations

from paramcount.analysis.shapes import transformers
from paramcount.analysis.shapes.common import NotModelledError, elements
from paramcount.analysis.shapes.flow import (
    Step,
    Tally,
    add,
    also,
    attention,
    chain,
    child_of,
    dataflow,
    dropout,
    in_order,
    last_size,
    multiply,
    positions,
    run,
    squeeze,
)
from paramcount.analysis.shapes.layers import RULES as _LAYER_RULES
from paramcount.analysis.shapes.types import Flow, Outcome

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Final

    from paramcount.analysis.shapes.flow import Values
    from paramcount.analysis.shapes.types import Call, Rule

__all__ = ["RULES", "TOKEN_INPUTS"]


# --- decoders (llama and its relatives) ------------------------------------------------------------------------


def _rotary_model(embed: str, layers: str, *final: Step) -> Rule:
    """Token embeddings, the rotary table of the positions, the layers, then the final norm(s)."""
    return dataflow(
        transformers.tokens(),
        run(embed, "x0", "x"),
        positions(),
        run("rotary_emb", "positions", "rotary"),
        chain(layers, checkpointed=True),
        *final,
    )


def _learned_positions_model(embed: str, table: str, layers: str, *final: Step) -> Rule:
    """Token embeddings plus a learned position table (which must hold every position), the layers, the final
    norm."""
    return dataflow(
        transformers.tokens(),
        transformers.fits(table),
        run(embed, "x0", "x"),
        positions(),
        run(table, "positions", "p"),
        add("x", "x", "p", what="add the position embeddings"),
        chain(layers, checkpointed=True),
        *final,
    )


_DECODER_MODEL: Final = _rotary_model(
    "embed_tokens", "layers", run("norm", optional=True), run("final_layernorm", optional=True)
)
_CAUSAL_LM: Final = dataflow(transformers.tokens(), run("model"), run("lm_head"))
_TRANSFORMER_LM: Final = dataflow(transformers.tokens(), run("transformer"), run("lm_head"))


def _llama_layer(mlp: str) -> Rule:
    return transformers.pre_norm_layer("input_layernorm", "self_attn", "post_attention_layernorm", mlp)


_PRE_NORM_LAYER: Final = _llama_layer("mlp")
_SANDWICH_LAYER: Final = transformers.pre_norm_layer(
    "input_layernorm", "self_attn", "pre_feedforward_layernorm", "mlp",
    after=("post_attention_layernorm", "post_feedforward_layernorm"),
    note="Gemma 2/3: each sublayer's output is normalised before its residual",
)  # fmt: skip
_PARALLEL_LAYER: Final = transformers.parallel_layer(
    ("input_layernorm", "input_layernorm"), "self_attn", "mlp",
    note="Phi, Cohere: attention and MLP read the same normalised input; both outputs and the input are summed",
)  # fmt: skip
_POST_NORM_LAYER: Final = transformers.pre_norm_layer(
    "", "self_attn", "", "mlp", after=("post_attention_layernorm", "post_feedforward_layernorm"),
    note="OLMo 2: each sublayer reads the raw residual stream; its output is normalised before the residual",
)  # fmt: skip
_GLM4_LAYER: Final = transformers.pre_norm_layer(
    "input_layernorm", "self_attn", "post_attention_layernorm", "mlp",
    after=("post_self_attn_layernorm", "post_mlp_layernorm"),
    note="GLM-4: pre-norm sublayers whose outputs are normalised again before the residual",
)  # fmt: skip


_LLAMA_ATTENTION: Final = transformers.self_attention(
    "q_proj", "k_proj", "v_proj", "o_proj", norms=("q_norm", "k_norm")
)
_PHI_ATTENTION: Final = transformers.self_attention(
    "q_proj", "k_proj", "v_proj", "dense", norms=("q_layernorm", "k_layernorm")
)
_OLMO2_ATTENTION: Final = dataflow(
    run("q_proj", "x0", "q"),
    run("q_norm", "q"),
    run("k_proj", "x0", "k"),
    run("k_norm", "k"),
    run("v_proj", "x0", "v"),
    attention(causal=True),
    run("o_proj"),
    note="OLMo 2, OLMoE: q_norm and k_norm normalise the whole projection (all heads together) before the heads split",
)
_PHI3_ATTENTION: Final = transformers.fused_attention("qkv_proj", "o_proj", first_from="o_proj")
_GATED_MLP: Final = dataflow(
    run("gate_proj", "x0", "gate"),
    run("up_proj", "x0", "up"),
    multiply("x", "gate", "up"),
    run("down_proj"),
    note="act(gate_proj(x)) · up_proj(x), then down_proj",
)
_PHI3_MLP: Final = dataflow(
    run("gate_up_proj"), transformers.split("x", "gate", "up"), multiply("x", "gate", "up"), run("down_proj"),
    note="gate_up_proj's output chunked in two: act(gate) · up, then down_proj",
)  # fmt: skip


class _SharedGate(Step):
    """``sigmoid(shared_expert_gate(x)) * shared_expert(x)`` when the block has that gate (Qwen2-MoE, Qwen3-Next)."""

    def apply(self, call: Call, values: Values, tally: Tally) -> None:
        if child_of(call.module, "shared_expert_gate") is not None:
            run("shared_expert_gate", "x", "shared_gate").apply(call, values, tally)
            multiply("shared", "shared_gate", "shared").apply(call, values, tally)


_SPARSE_MOE: Final = dataflow(
    transformers.Flat(),
    run("gate", "x", "router_logits"),
    run("experts", "x", "routed"),
    run("shared_expert", "x", "shared", optional=True),
    _SharedGate(),
    transformers.Unflat(),
    note="hidden states flattened to (tokens, hidden); the router picks the experts",
)
_GRANITE_MOE: Final = dataflow(
    transformers.Flat(),
    run("router", "x", "router_logits"),
    run("experts", "x", "routed"),
    transformers.Unflat(),
    note="hidden states flattened to (tokens, hidden); the router picks the experts",
)

_DECODER_PREFIXES: Final = (
    "Llama", "Mistral", "Mixtral", "Qwen2", "Qwen2Moe", "Qwen3", "Qwen3Moe", "Gemma", "Gemma2", "Gemma3", "Phi",
    "Phi3", "DeepseekV3", "Olmo", "Olmo2", "Granite", "SmolLM3", "Starcoder2", "StableLm", "Cohere", "Cohere2",
    "Glm4", "Olmoe", "GraniteMoe", "DeepseekV2", "Glm4Moe", "GptOss", "Llama4Text",
)  # fmt: skip
_SANDWICH: Final = frozenset({"Gemma2", "Gemma3"})
_LAYERS: Final[dict[str, Rule]] = {
    "Phi": _PARALLEL_LAYER, "Cohere": _PARALLEL_LAYER, "Cohere2": _PARALLEL_LAYER, "Olmo2": _POST_NORM_LAYER,
    "Glm4": _GLM4_LAYER, "GraniteMoe": _llama_layer("block_sparse_moe"), "Llama4Text": _llama_layer("feed_forward"),
}  # fmt: skip
_ATTENTIONS: Final[dict[str, Rule]] = {
    "Phi": _PHI_ATTENTION, "Phi3": _PHI3_ATTENTION, "Olmo2": _OLMO2_ATTENTION, "Olmoe": _OLMO2_ATTENTION,
}  # fmt: skip
_MLPS: Final[dict[str, Rule]] = {
    "Phi": in_order, "Phi3": _PHI3_MLP, "Starcoder2": in_order, "Glm4": _PHI3_MLP, "GptOss": _GRANITE_MOE,
}  # fmt: skip


_MODEL_SPANS: Final = frozenset({"Mistral", "Mixtral", "Qwen2Moe"})
"""The families whose question-answering model names its base ``model``; the others' is ``transformer``."""
_LLAMA_HEADS: Final = {
    "ForSequenceClassification": transformers.LAST_TOKEN_SCORE,
    "ForTokenClassification": (run("score"),),
}


def _decoder_rules() -> dict[str, Rule]:
    rules: dict[str, Rule] = {}
    for prefix in _DECODER_PREFIXES:
        layer = _LAYERS.get(prefix, _SANDWICH_LAYER if prefix in _SANDWICH else _PRE_NORM_LAYER)
        attention_rule = _ATTENTIONS.get(prefix, _LLAMA_ATTENTION)
        rules |= {
            **transformers.heads(prefix, "model", **_LLAMA_HEADS),
            **transformers.heads(
                prefix,
                "model" if prefix in _MODEL_SPANS else "transformer",
                ForQuestionAnswering=transformers.ANSWER_SPAN,
            ),
            f"{prefix}ForCausalLM": _CAUSAL_LM,
            f"{prefix}Model": _DECODER_MODEL,
            f"{prefix}DecoderLayer": layer,
            f"{prefix}Attention": attention_rule,
            f"{prefix}MLP": _MLPS.get(prefix, _GATED_MLP),
            f"{prefix}RMSNorm": transformers.rms_norm,
            f"{prefix}RotaryEmbedding": transformers.rotary,
            f"{prefix}TextScaledWordEmbedding": transformers.embedding_subclass,
            f"{prefix}SparseMoeBlock": _SPARSE_MOE,
            f"{prefix}Experts": transformers.experts,
            f"{prefix}TopKRouter": transformers.router,
        }
    rules["GraniteMoeMoE"] = _GRANITE_MOE
    rules["OlmoLayerNorm"] = transformers.parameterless_norm
    rules["CohereLayerNorm"] = rules["Cohere2LayerNorm"] = transformers.rms_norm  # a LayerNorm: elementwise, no MACs
    rules["Gemma3TextModel"] = _DECODER_MODEL  # Gemma 3's language model (Gemma3Model is the multimodal one)
    rules |= transformers.heads("Gemma3Text", "model", ForSequenceClassification=transformers.LAST_TOKEN_SCORE)
    return rules


# --- GPT-2 ----------------------------------------------------------------------------------------------------

_GPT2_MODEL: Final = _learned_positions_model("wte", "wpe", "h", run("ln_f"))
_GPT2_BLOCK: Final = transformers.pre_norm_layer("ln_1", "attn", "ln_2", "mlp")
_GPT2_ATTENTION: Final = transformers.fused_attention("c_attn", "c_proj")


def _dropout_mlp(first: str, second: str) -> Rule:
    """``dropout(second(act(first(x))))``, the dropout's probability the config's ``resid_pdrop`` (GPT-2's,
    CodeGen's, GPT-J's and GPT-BigCode's MLP)."""
    return dataflow(run(first), run(second), dropout("resid_pdrop"))


# --- other decoders: BLOOM, Falcon, GPT-J, GPT-NeoX, OPT, GPT-1, DeepSeek-V3 ----------------------------------


def _gathered_rotary(call: Call, flow: Flow) -> Outcome:
    """GPT-J's rotary embedding: ``embed_positions[position_ids]``, a lookup of precomputed sin/cos (no MACs)."""
    shape = (*flow.shape, last_size(call.module, "embed_positions"))
    return Outcome(Flow(shape), 0, (), "sin and cos looked up from embed_positions")


_BLOOM_MODEL: Final = dataflow(
    transformers.tokens(), run("word_embeddings", "x0", "x"), run("word_embeddings_layernorm"),
    chain("h", checkpointed=True), run("ln_f"), note="ALiBi biases are added to the attention scores (no product)",
)  # fmt: skip
_BLOOM_BLOCK: Final = transformers.pre_norm_layer(
    "input_layernorm", "self_attention", "post_attention_layernorm", "mlp",
    note="the residuals are added inside self_attention and mlp (dropout_add)",
)  # fmt: skip
_FUSED_ATTENTION: Final = transformers.fused_attention(
    "query_key_value", "dense", first_from="dense",
    note="query_key_value's output split into query, key and value (key/value heads shared by the query heads)",
)  # fmt: skip
_FALCON_MODEL: Final = _rotary_model("word_embeddings", "h", run("ln_f"))
_FALCON_LAYER: Final = transformers.parallel_layer(
    ("input_layernorm", "input_layernorm"),
    "self_attention",
    "mlp",
    note="parallel attention and MLP on input_layernorm's output",
)
_FALCON_NEW_LAYER: Final = transformers.parallel_layer(
    ("ln_attn", "ln_mlp"), "self_attention", "mlp", norms_first=True,
    note="new_decoder_architecture: parallel attention and MLP, each with its own LayerNorm",
)  # fmt: skip


def _falcon_layer(call: Call, flow: Flow) -> Outcome:
    new = child_of(call.module, "ln_attn") is not None
    return (_FALCON_NEW_LAYER if new else _FALCON_LAYER)(call, flow)


_GPTJ_MODEL: Final = _rotary_model("wte", "h", run("ln_f"))
_GPTJ_BLOCK: Final = transformers.parallel_layer(
    ("ln_1", "ln_1"), "attn", "mlp", note="attention and MLP in parallel on ln_1's output"
)
_NEOX_MODEL: Final = _rotary_model("embed_in", "layers", run("final_layer_norm"))
_NEOX_LAYER: Final = transformers.parallel_layer(
    ("input_layernorm", "post_attention_layernorm"),
    "attention",
    "mlp",
    note="use_parallel_residual (both shipped configs): x + attention(ln1(x)) + mlp(ln2(x)); the sequential "
    "form has the same shapes and products",
)
_OPT_DECODER: Final = dataflow(
    transformers.tokens(),
    transformers.fits("embed_positions", 2),
    run("embed_tokens", "x0", "x"),
    run("project_in", optional=True),
    run("embed_positions", "x0", "p"),
    add("x", "x", "p", what="add the position embeddings"),
    chain("layers", checkpointed=True),
    run("final_layer_norm", optional=True),
    run("project_out", optional=True),
    note="positions from the attention mask's cumulative sum, offset by 2",
)
_OPT_LAYER: Final = dataflow(
    *transformers.pre_norm(("self_attn_layer_norm", "self_attn"), ("final_layer_norm", "fc1", "fc2")),
    note="do_layer_norm_before; OPT-350m normalises after each residual instead: the same shapes and products",
)
_QKV_OUT_ATTENTION: Final = transformers.self_attention("q_proj", "k_proj", "v_proj", "out_proj")
_GPT1_MODEL: Final = _learned_positions_model("tokens_embed", "positions_embed", "h")
_GPT1_BLOCK: Final = dataflow(
    *transformers.post_norm(("attn", "ln_1"), ("mlp", "ln_2")),
    note="post-norm: ln_1(x + attn(x)), then ln_2(n + mlp(n))",
)


def _mla(call: Call, flow: Flow) -> Outcome:
    """DeepSeek's multi-head latent attention as transformers computes it: the query through its low-rank
    ``q_a_proj → q_a_layernorm → q_b_proj`` (or ``q_proj``); ``kv_a_proj_with_mqa`` gives the compressed
    key/value (``kv_lora_rank``) and the shared rotary key part; ``kv_b_proj`` expands the compressed part to
    every head's non-rotary key and value. Keys are the non-rotary part with the rotary part appended, as wide
    as the query (heads·qk_head_dim); values are heads·v_head_dim, ``o_proj``'s input."""
    values: Values = {"x0": flow, "x": flow}
    tally = Tally()
    if child_of(call.module, "q_proj") is not None:
        steps: list[Step] = [run("q_proj", "x0", "q")]
    else:
        steps = [run("q_a_proj", "x0", "q"), run("q_a_layernorm", "q"), run("q_b_proj", "q")]
    steps += [
        run("kv_a_proj_with_mqa", "x0", "kv"),
        transformers.split("kv", "kv", "rope", first_from="kv_a_layernorm"),
        run("kv_a_layernorm", "kv"),
        run("kv_b_proj", "kv"),
    ]
    for step in steps:
        step.apply(call, values, tally)
    query, expanded = values["q"], values["kv"]
    if query is None or expanded is None:
        call.child("o_proj", None)
        return Outcome(None)
    value_width = transformers.in_features(call, "o_proj")
    values["k"] = Flow(query.shape, grad=True)
    values["v"] = Flow((*expanded.shape[:-1], value_width), grad=True)
    for step in (attention(causal=True), run("o_proj")):
        step.apply(call, values, tally)
    note = "keys as wide as the queries (heads·qk_head_dim), values heads·v_head_dim. " + " ".join(tally.notes)
    return Outcome(values["x"], tally.macs, tuple(tally.steps), note, backward_macs=tally.backward,
                   masked_macs=tally.masked)  # fmt: skip


_DEEPSEEK_MOE: Final = dataflow(
    transformers.Flat(),
    run("gate", "x", "router_logits"),
    run("experts", "x", "routed"),
    transformers.Unflat(),
    run("shared_experts", "x0", "shared"),
    add("x", "x", "shared"),
    note="routed experts on the flattened tokens, plus the shared experts",
)

# --- GPT-Neo, CodeGen, GPTBigCode (StarCoder), MPT ----------------------------------------------------------

_GPT_NEO_ATTENTION: Final = transformers.self_attention(
    "q_proj", "k_proj", "v_proj", "out_proj",
    note="GPT-Neo: a local layer masks all but the last window_size keys of the full L×L product (no fewer MACs)",
)  # fmt: skip
_CODEGEN_ATTENTION: Final = transformers.fused_attention(
    "qkv_proj", "out_proj", order="qvk",
    note="qkv_proj's output read as mp_num groups of (query, value, key): three equal widths",
)  # fmt: skip
_MULTI_QUERY_ATTENTION: Final = transformers.fused_attention(
    "c_attn", "c_proj", first_from="c_proj",
    note="c_attn's output split into the query and one key and value head (multi_query), or three equal widths",
)  # fmt: skip
_MPT_MODEL: Final = dataflow(
    transformers.tokens(), run("wte", "x0", "x"), chain("blocks", checkpointed=True), run("norm_f"),
    note="ALiBi biases are added to the attention scores (no product)",
)  # fmt: skip
_MPT_BLOCK: Final = transformers.pre_norm_layer(
    "norm_1", "attn", "norm_2", "ffn", note="the second residual is added inside ffn"
)
_MPT_ATTENTION: Final = transformers.fused_attention("Wqkv", "out_proj")

# --- Llama 4's language model ----------------------------------------------------------------------------------

_LLAMA4_ATTENTION: Final = dataflow(
    run("q_proj", "x0", "q"),
    run("k_proj", "x0", "k"),
    run("v_proj", "x0", "v"),
    run("qk_norm", "q", optional=True),
    attention(causal=True),
    run("o_proj"),
    note="Llama 4: qk_norm (an L2 norm without weights, no MACs) normalises the queries and the keys per head on "
    "the layers with rotary embeddings; the no-rope layers scale the queries instead. A chunked-attention layer "
    "masks all but the keys of the query's chunk of the full L×L product (no fewer MACs)",
)


def _llama4_moe(call: Call, flow: Flow) -> Outcome:
    """``Llama4TextMoe.forward``: the router scores the (T, hidden) tokens; ``hidden_states.repeat(E, 1)``, scaled
    by each expert's score, is the (E·T, hidden) input of the experts, which run every token through every expert;
    the shared expert reads the tokens; the experts' outputs are summed over the experts."""
    experts = child_of(call.module, "experts")
    count = None if experts is None else dict(experts.attributes).get("num_experts")
    if not isinstance(count, int):
        raise NotModelledError("its experts' num_experts is not known")
    flat = Flow((elements(flow.shape[:-1]), flow.shape[-1]), grad=flow.grad)
    call.child("router", flat)
    call.child("experts", Flow((count * flat.shape[0], flat.shape[1]), grad=flat.grad))
    shared = call.child("shared_expert", flat)
    output = None if shared is None else Flow(flow.shape, grad=shared.grad)  # the layer views it as its input
    return Outcome(output, note="every expert runs every token, weighted by the router's sigmoid score")


def _dense_experts(call: Call, flow: Flow) -> Outcome:
    """``Llama4TextExperts``: ``bmm`` of the (E, T, hidden) tokens with ``gate_up_proj`` (E, hidden, 2·I), then of
    ``up · act(gate)`` with ``down_proj`` (E, I, hidden): every expert multiplies every token, the experts not
    chosen with a score of 0."""
    attributes = dict(call.module.attributes)
    count, active = attributes.get("num_experts"), attributes.get("experts_per_token")
    macs, step = transformers.expert_products(call, flow, 1, "1", hidden_first=True)
    note = (f"rows = {count} experts × tokens: transformers' Llama4TextExperts multiplies every token by every "
            f"expert; at the active count ({active} of {count} per token) the experts' MACs would be "
            f"{active}/{count} of these")  # fmt: skip
    return Outcome(Flow(flow.shape, grad=flow.grad), macs, (step,), note)


_OTHER_DECODERS: Final[dict[str, Rule]] = {
    "BloomForCausalLM": _TRANSFORMER_LM,
    "BloomModel": _BLOOM_MODEL,
    "BloomBlock": _BLOOM_BLOCK,
    "BloomAttention": _FUSED_ATTENTION,
    "BloomMLP": in_order,
    "FalconForCausalLM": _TRANSFORMER_LM,
    "FalconModel": _FALCON_MODEL,
    "FalconDecoderLayer": _falcon_layer,
    "FalconAttention": _FUSED_ATTENTION,
    "FalconMLP": in_order,
    "FalconLinear": _LAYER_RULES["Linear"],  # a subclass of nn.Linear (input @ weight.T)
    "FalconRotaryEmbedding": transformers.rotary,
    "GPTJForCausalLM": _TRANSFORMER_LM,
    "GPTJModel": _GPTJ_MODEL,
    "GPTJBlock": _GPTJ_BLOCK,
    "GPTJAttention": _QKV_OUT_ATTENTION,
    "GPTJMLP": _dropout_mlp("fc_in", "fc_out"),
    "GPTJRotaryEmbedding": _gathered_rotary,
    "GPTNeoXForCausalLM": dataflow(
        transformers.tokens(), run("gpt_neox"), run("embed_out", optional=True), run("lm_head", optional=True)
    ),
    "GPTNeoXModel": _NEOX_MODEL,
    "GPTNeoXLayer": _NEOX_LAYER,
    "GPTNeoXAttention": _FUSED_ATTENTION,
    "GPTNeoXMLP": in_order,
    "GPTNeoXRotaryEmbedding": transformers.rotary,
    "OPTForCausalLM": dataflow(transformers.tokens(), run("model"), run("lm_head")),
    "OPTModel": dataflow(run("decoder")),
    "OPTDecoder": _OPT_DECODER,
    "OPTDecoderLayer": _OPT_LAYER,
    "OPTAttention": _QKV_OUT_ATTENTION,
    "OPTLearnedPositionalEmbedding": transformers.embedding_subclass,
    "OpenAIGPTLMHeadModel": _TRANSFORMER_LM,
    "OpenAIGPTModel": _GPT1_MODEL,
    "Block": _GPT1_BLOCK,
    "Attention": _GPT2_ATTENTION,
    "GPTNeoForCausalLM": _TRANSFORMER_LM,
    "GPTNeoModel": _GPT2_MODEL,
    "GPTNeoBlock": _GPT2_BLOCK,
    "GPTNeoAttention": dataflow(run("attention")),
    "GPTNeoSelfAttention": _GPT_NEO_ATTENTION,
    "GPTNeoMLP": in_order,
    "CodeGenForCausalLM": _TRANSFORMER_LM,
    "CodeGenModel": _GPTJ_MODEL,
    "CodeGenBlock": _GPTJ_BLOCK,
    "CodeGenAttention": _CODEGEN_ATTENTION,
    "CodeGenMLP": _dropout_mlp("fc_in", "fc_out"),
    "CodeGenRotaryEmbedding": _gathered_rotary,
    "GPTBigCodeForCausalLM": _TRANSFORMER_LM,
    "GPTBigCodeModel": _GPT2_MODEL,
    "GPTBigCodeBlock": _GPT2_BLOCK,
    "GPTBigCodeAttention": _MULTI_QUERY_ATTENTION,
    "GPTBigCodeMLP": _dropout_mlp("c_fc", "c_proj"),
    "MptForCausalLM": _TRANSFORMER_LM,
    "MptModel": _MPT_MODEL,
    "MptBlock": _MPT_BLOCK,
    "MptAttention": _MPT_ATTENTION,
    "MptMLP": in_order,
    "DeepseekV3Attention": _mla,
    "DeepseekV3MoE": _DEEPSEEK_MOE,
    "DeepseekV3TopkRouter": transformers.router,
    "DeepseekV2Attention": _mla,
    "DeepseekV2Moe": _DEEPSEEK_MOE,
    "DeepseekV2TopkRouter": transformers.router,
    "Glm4MoeMoE": _DEEPSEEK_MOE,
    "Glm4MoeTopkRouter": transformers.router,
    "GptOssExperts": transformers.hidden_first_experts,
    "Llama4ForCausalLM": _CAUSAL_LM,
    "Llama4TextAttention": _LLAMA4_ATTENTION,
    "Llama4TextL2Norm": transformers.parameterless_norm,
    "Llama4TextMoe": _llama4_moe,
    "Llama4TextExperts": _dense_experts,
    "Llama4Router": transformers.router,
}


def _double_heads(summary: str) -> dict[str, Rule]:
    """GPT-1 and GPT-2's ``DoubleHeadsModel``: the language model's logits, and ``multiple_choice_head`` (a
    ``SequenceSummary`` of the last token, ``mc_token_ids`` not given) squeezed as ``mc_logits``."""
    return {
        f"{summary}DoubleHeadsModel": dataflow(
            transformers.tokens(),
            run("transformer"),
            run("lm_head", "x", "logits"),
            run("multiple_choice_head", "x", "choice"),
            squeeze("choice"),
            also("mc_logits", "choice", "logits"),
            output="logits",
        ),
        f"{summary}SequenceSummary": dataflow(
            transformers.last_token(), run("summary"), note="the last token's hidden state, summary, activation"
        ),
    }


_SEQUENCE: Final = {"ForSequenceClassification": transformers.LAST_TOKEN_SCORE}
_TOKENS: Final = {"ForTokenClassification": transformers.TOKEN_CLASSIFIER}
_SPANS: Final = {"ForQuestionAnswering": transformers.ANSWER_SPAN}
_HEAD_RULES: Final[dict[str, Rule]] = {
    **transformers.heads("GPT2", "transformer", **_SEQUENCE, **_TOKENS, **_SPANS), **_double_heads("GPT2"),
    **transformers.heads("OpenAIGPT", "transformer", **_SEQUENCE), **_double_heads("OpenAIGPT"),
    **transformers.heads("GPTJ", "transformer", **_SEQUENCE, **_SPANS),
    **transformers.heads("GPTNeo", "transformer", **_SEQUENCE, **_TOKENS, **_SPANS),
    **transformers.heads("GPTNeoX", "gpt_neox", **_SEQUENCE, **_TOKENS, **_SPANS),
    **transformers.heads("GPTBigCode", "transformer", **_SEQUENCE, **_TOKENS),
    **transformers.heads("Bloom", "transformer", **_SEQUENCE, **_TOKENS, **_SPANS),
    **transformers.heads("Falcon", "transformer", **_SEQUENCE, **_TOKENS, **_SPANS),
    **transformers.heads("Mpt", "transformer", **_SEQUENCE, **_TOKENS, **_SPANS),
    **transformers.heads("OPT", "model", **_SEQUENCE, **_SPANS),
}  # fmt: skip


RULES: Final[dict[str, Rule]] = {
    **_decoder_rules(),
    **_OTHER_DECODERS,
    **_HEAD_RULES,
    "Conv1D": transformers.conv1d,
    "GPT2LMHeadModel": _TRANSFORMER_LM,
    "GPT2Model": _GPT2_MODEL,
    "GPT2Block": _GPT2_BLOCK,
    "GPT2Attention": _GPT2_ATTENTION,
    "GPT2MLP": _dropout_mlp("c_fc", "c_proj"),
}
"""Shape rules of transformers' decoder classes, by kind."""

_HEADS: Final = ("ForCausalLM", "LMHeadModel", "DoubleHeadsModel", *_LLAMA_HEADS, "ForQuestionAnswering")
TOKEN_INPUTS: Final = frozenset(
    {f"{prefix}Model" for prefix in _DECODER_PREFIXES}
    | {kind for kind in RULES if kind.endswith(_HEADS)}
    | {
        *("Gemma3TextModel", "GPT2Model", "BloomModel", "FalconModel", "GPTJModel", "GPTNeoXModel", "OPTModel"),
        *("OpenAIGPTModel", "GPTNeoModel", "CodeGenModel", "GPTBigCodeModel", "MptModel"),
    }
)
"""Decoder kinds whose forward reads token ids (batch, sequence): a tree rooted at one reports per-token
figures."""
