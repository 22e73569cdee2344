"""Dataflow of Hugging Face transformers' model classes, each as its ``forward`` in
``transformers/models/<family>/modeling_<family>.py`` (transformers 5.24) reads, for a forward pass without a
cache (a prefill, or a training step): the input is token ids of shape (batch, sequence).

Attention is counted as the eager implementation computes it (``attn_implementation="eager"``): ``Q·Kᵀ`` and
``attention·V`` as matrix products over every query and key position, with key/value heads expanded to the
query heads (``repeat_kv``); a causal or sliding-window mask is applied to the full product, so it changes no
count (``ShapeReport.masked_macs`` says how much of it falls on causally masked positions). Rotary embeddings
multiply elementwise in 5.24 (no matrix product). Mixture-of-experts layers count each token through its
``num_experts_per_tok`` routed experts (transformers' eager experts loop runs each expert on its own tokens
only), plus the router's logits and any shared expert.

Kinds are registered per family prefix: transformers copies one class per family (``LlamaAttention``,
``Qwen2Attention`` …), and the families that share a computation share a dataflow here.
"""

from __future__ import annotations

from paramcount._record import replace
from paramcount.analysis.flops import macs_step
from paramcount.analysis.shape_common import NotModelledError, elements, int_arg
from paramcount.analysis.shape_flow import (
    Step,
    Tally,
    add,
    add_param,
    attention,
    chain,
    child_of,
    dataflow,
    in_order,
    last_size,
    merge_heads,
    multiply,
    param_sizes,
    positions,
    prepend,
    run,
    select,
    split_heads,
    to_tokens,
)
from paramcount.analysis.shape_layers import RULES as _LAYER_RULES
from paramcount.analysis.shape_types import Flow, Outcome, format_shape

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Final

    from paramcount.analysis.shape_flow import Values
    from paramcount.analysis.shape_types import Call, Rule

__all__ = ["RULES", "SEQUENCE_INPUTS", "TOKEN_INPUTS"]


# --- steps of the transformers models ------------------------------------------------------------------------


class _Tokens(Step):
    def apply(self, call: Call, values: Values, tally: Tally) -> None:
        flow = values["x0"]
        if flow is not None and len(flow.shape) != 2:
            raise call.fail(f"expects token ids of shape (batch, sequence), got {format_shape(flow.shape)}")


def tokens() -> Step:
    """The model's input is token ids, (batch, sequence)."""
    return _Tokens()


class _Fits(Step):
    table: str
    offset: int

    def apply(self, call: Call, values: Values, tally: Tally) -> None:
        flow, table = values["x0"], child_of(call.module, self.table)
        if flow is None or table is None or len(flow.shape) < 2:
            return
        rows = int_arg(table, "num_embeddings")
        length = flow.shape[1]
        if length + self.offset > rows:
            offset = f" + {self.offset} (the offset of its positions)" if self.offset else ""
            raise call.fail(f"reads positions 0 to {length - 1}{offset} from {self.table}, which has {rows} rows; "
                            f"the sequence length {length} is too long")  # fmt: skip


def fits(table: str, offset: int = 0) -> Step:
    """A learned position table (``wpe``, ``position_embeddings``) must hold every position of the sequence:
    torch's embedding lookup refuses an index past its rows."""
    return _Fits(table, offset)


class _Split(Step):
    source: str
    targets: tuple[str, ...]
    first_from: str
    """A child that reads the first part: its width is the first part's (Phi-3's ``o_proj`` gives the query
    width, DeepSeek's ``kv_a_layernorm`` the compressed key/value width); the rest is split evenly. Empty:
    every part is equal."""

    def apply(self, call: Call, values: Values, tally: Tally) -> None:
        flow = values[self.source]
        if flow is None:
            values.update(dict.fromkeys(self.targets))
            return
        width = flow.shape[-1]
        parts = len(self.targets)
        if self.first_from:
            first = _in_features(call, self.first_from)
            rest, remainder = divmod(width - first, parts - 1)
            widths = (first, *(rest for _ in range(parts - 1)))
        else:
            widths = tuple(width // parts for _ in range(parts))
            remainder = width % parts
        if remainder or min(widths) < 0:
            raise call.fail(f"cannot split width {width} into {', '.join(self.targets)}")
        for target, size in zip(self.targets, widths, strict=True):
            values[target] = Flow((*flow.shape[:-1], size), grad=flow.grad)


def split(source: str, *targets: str, first_from: str = "") -> Step:
    """``source.split(…, dim=-1)`` (a fused q/k/v projection) or ``.chunk(n, dim=-1)``."""
    return _Split(source, targets, first_from)


def _in_features(call: Call, name: str) -> int:
    """The width child ``name`` reads: a linear layer's ``in_features``, a norm's weight size."""
    child = child_of(call.module, name)
    if child is None:
        raise NotModelledError(f"it has no member {name!r}")
    return int_arg(child, "in_features") if child.args else last_size(child)


class _Last(Step):
    def apply(self, call: Call, values: Values, tally: Tally) -> None:
        flow = values["x"]
        if flow is not None:
            if len(flow.shape) != 3:
                raise call.fail(f"pools the last token of a (batch, sequence, labels) output, got {flow.shape}")
            values["x"] = Flow((flow.shape[0], flow.shape[2]), grad=flow.grad)


def last_token() -> Step:
    """``logits[arange(batch), last_non_pad_token]``: a sequence classifier scores every token, keeps one."""
    return _Last()


# --- rules of leaves that the modelling code defines ------------------------------------------------------------


def _rms_norm(call: Call, flow: Flow) -> Outcome:
    """``LlamaRMSNorm`` and its copies (Gemma's ``1 + weight``, T5's ``T5LayerNorm``): normalise the last
    dimension, the size of ``weight``."""
    size = last_size(call.module)
    if not flow.shape or flow.shape[-1] != size:
        raise call.fail(f"normalises a last dimension of {size} (its weight), got {format_shape(flow.shape)}")
    return Outcome(Flow(flow.shape, grad=flow.grad))


def _conv1d(call: Call, flow: Flow) -> Outcome:
    """GPT-2's ``Conv1D``: ``addmm(bias, x.view(-1, nx), weight)`` with weight (nx, nf) — a linear layer with
    the weight transposed."""
    inputs, outputs = param_sizes(call.module, "weight")
    if not flow.shape or flow.shape[-1] != inputs:
        raise call.fail(f"expects {inputs} input features (nx, the last dimension), got {format_shape(flow.shape)}")
    rows = elements(flow.shape[:-1])
    macs, step = macs_step(("rows", "nx", "nf"), (rows, inputs, outputs))
    return Outcome(Flow((*flow.shape[:-1], outputs)), macs, (step,), "rows = product of the leading dimensions")


def _rotary(call: Call, flow: Flow) -> Outcome:
    """``LlamaRotaryEmbedding.forward``: ``position_ids[..., None] * inv_freq``, concatenated with itself, cos
    and sin: (1, L, 2·len(inv_freq)) each; elementwise, no MACs."""
    frequencies = [buffer for buffer in call.module.buffers if buffer.name.endswith("inv_freq")]
    if not frequencies:
        raise NotModelledError("it has no inv_freq buffer")
    shape = (*flow.shape, 2 * frequencies[0].sizes[0])
    return Outcome(Flow(shape, (("sin", shape),)), 0, (), "cos and sin of the positions times inv_freq")


def _experts(call: Call, flow: Flow) -> Outcome:
    """Fused experts (``MixtralExperts`` and its copies): each of the T tokens runs through ``experts_per_token``
    experts, each ``gate_up_proj`` (2·I × H) then ``down_proj`` (H × I); transformers' eager loop gathers each
    expert's tokens, so exactly T·k token-expert pairs are multiplied."""
    attributes = dict(call.module.attributes)
    count, active = attributes.get("num_experts"), attributes.get("experts_per_token")
    if not isinstance(count, int) or not isinstance(active, int):
        raise NotModelledError("its num_experts and experts_per_token are not known")
    experts, double_width, hidden = param_sizes(call.module, "gate_up_proj")
    if len(flow.shape) != 2 or flow.shape[1] != hidden:
        raise call.fail(f"expects (tokens, {hidden}) hidden states, got {format_shape(flow.shape)}")
    width = double_width // 2
    rows = flow.shape[0]
    macs, step = macs_step(
        ("tokens", "experts_per_token", "(2·intermediate·hidden + hidden·intermediate)"),
        (rows, active, 3 * width * hidden),
    )
    note = f"{active} of {experts} experts per token (the active count)"
    return Outcome(Flow(flow.shape), macs, (replace(step, name="MACs (routed experts)"),), note)


def _router(call: Call, flow: Flow) -> Outcome:
    """A top-k router: ``F.linear(hidden_states, weight)`` gives the logits (T, experts); the top-k choice and
    its weights are not products."""
    experts, hidden = param_sizes(call.module, "weight")
    if not flow.shape or flow.shape[-1] != hidden:
        raise call.fail(f"expects {hidden} features, got {format_shape(flow.shape)}")
    rows = elements(flow.shape[:-1])
    macs, step = macs_step(("tokens", "hidden", "experts"), (rows, hidden, experts))
    return Outcome(Flow((*flow.shape[:-1], experts)), macs, (replace(step, name="MACs (router logits)"),))


class _Flat(Step):
    def apply(self, call: Call, values: Values, tally: Tally) -> None:
        flow = values["x"]
        if flow is not None:
            values["x"] = Flow((elements(flow.shape[:-1]), flow.shape[-1]), grad=flow.grad)


def _unflat(call: Call, values: Values) -> None:
    flow, shape = values["x"], values["x0"]
    if flow is not None and shape is not None:
        values["x"] = Flow(shape.shape, grad=flow.grad)


class _Unflat(Step):
    def apply(self, call: Call, values: Values, tally: Tally) -> None:
        _unflat(call, values)


# --- decoders (llama and its relatives) ------------------------------------------------------------------------

_DECODER_MODEL: Final = dataflow(
    tokens(),
    run("embed_tokens", "x0", "x"),
    positions(),
    run("rotary_emb", "positions", "rotary"),
    chain("layers", checkpointed=True),
    run("norm", optional=True),
    run("final_layernorm", optional=True),
)
_CAUSAL_LM: Final = dataflow(tokens(), run("model"), run("lm_head"))
_SEQUENCE_CLASSIFIER: Final = dataflow(tokens(), run("model"), run("score"), last_token())
_TOKEN_CLASSIFIER: Final = dataflow(tokens(), run("model"), run("score"))


def _question_answering(call: Call, flow: Flow) -> Outcome:
    """``qa_outputs`` scores every token (…, 2), split into start and end logits (batch, sequence) each."""
    base = "transformer" if child_of(call.module, "transformer") is not None else "model"
    output = call.child("qa_outputs", call.child(base, flow))
    if output is None:
        return Outcome(None)
    shape = output.shape[:-1]
    return Outcome(Flow(shape, (("end_logits", shape),)), note="start and end logits")


def _pre_norm_layer(mlp: str) -> Rule:
    return dataflow(
        run("input_layernorm"),
        run("self_attn"),
        add("x", "x", "x0", what="add the residual"),
        run("post_attention_layernorm", "x", "y"),
        run(mlp, "y"),
        add("x", "x", "y", what="add the residual"),
    )


_PRE_NORM_LAYER: Final = _pre_norm_layer("mlp")
_SANDWICH_LAYER: Final = dataflow(
    run("input_layernorm"),
    run("self_attn"),
    run("post_attention_layernorm"),
    add("x", "x", "x0", what="add the residual"),
    run("pre_feedforward_layernorm", "x", "y"),
    run("mlp", "y"),
    run("post_feedforward_layernorm", "y"),
    add("x", "x", "y", what="add the residual"),
    note="Gemma 2/3: each sublayer's output is normalised before its residual",
)
_PARALLEL_LAYER: Final = dataflow(
    run("input_layernorm", "x0", "h"),
    run("self_attn", "h", "a"),
    run("mlp", "h", "m"),
    add("x", "a", "m"),
    add("x", "x", "x0", what="add the residual"),
    note="Phi, Cohere: attention and MLP read the same normalised input; both outputs and the input are summed",
)
_POST_NORM_LAYER: Final = dataflow(
    run("self_attn"),
    run("post_attention_layernorm"),
    add("x", "x", "x0", what="add the residual"),
    run("mlp", "x", "y"),
    run("post_feedforward_layernorm", "y"),
    add("x", "x", "y", what="add the residual"),
    note="OLMo 2: each sublayer reads the raw residual stream; its output is normalised before the residual",
)
_GLM4_LAYER: Final = dataflow(
    run("input_layernorm"),
    run("self_attn"),
    run("post_self_attn_layernorm"),
    add("x", "x", "x0", what="add the residual"),
    run("post_attention_layernorm", "x", "y"),
    run("mlp", "y"),
    run("post_mlp_layernorm", "y"),
    add("x", "x", "y", what="add the residual"),
    note="GLM-4: pre-norm sublayers whose outputs are normalised again before the residual",
)


def _self_attention(query: str, key: str, value: str, output: str, *, norms: tuple[str, str] = ("", "")) -> Rule:
    """q, k, v projections of the input (per-head norms when the module has them), causal attention, output
    projection."""
    steps: list[Step] = [run(query, "x0", "q"), run(key, "x0", "k"), run(value, "x0", "v")]
    for name, tensor in zip(norms, ("q", "k"), strict=True):
        if name:
            steps += [split_heads(tensor, name), run(name, tensor, optional=True), merge_heads(tensor, name)]
    return dataflow(*steps, attention(causal=True), run(output))


_LLAMA_ATTENTION: Final = _self_attention("q_proj", "k_proj", "v_proj", "o_proj", norms=("q_norm", "k_norm"))
_PHI_ATTENTION: Final = _self_attention("q_proj", "k_proj", "v_proj", "dense", norms=("q_layernorm", "k_layernorm"))
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
_PHI3_ATTENTION: Final = dataflow(
    run("qkv_proj"), split("x", "q", "k", "v", first_from="o_proj"), attention(causal=True), run("o_proj")
)
_GATED_MLP: Final = dataflow(
    run("gate_proj", "x0", "gate"),
    run("up_proj", "x0", "up"),
    multiply("x", "gate", "up"),
    run("down_proj"),
    note="act(gate_proj(x)) · up_proj(x), then down_proj",
)
_PHI3_MLP: Final = dataflow(
    run("gate_up_proj"), split("x", "gate", "up"), multiply("x", "gate", "up"), run("down_proj"),
    note="gate_up_proj's output chunked in two: act(gate) · up, then down_proj",
)  # fmt: skip
_SPARSE_MOE: Final = dataflow(
    _Flat(),
    run("gate", "x", "router_logits"),
    run("experts", "x", "routed"),
    run("shared_expert", "x", "shared", optional=True),
    run("shared_expert_gate", "x", "shared_gate", optional=True),
    _Unflat(),
    note="hidden states flattened to (tokens, hidden); the router picks the experts",
)
_GRANITE_MOE: Final = dataflow(
    _Flat(),
    run("router", "x", "router_logits"),
    run("experts", "x", "routed"),
    _Unflat(),
    note="Granite MoE: hidden states flattened to (tokens, hidden); the router picks the experts",
)

_DECODER_PREFIXES: Final = (
    "Llama", "Mistral", "Mixtral", "Qwen2", "Qwen2Moe", "Qwen3", "Qwen3Moe", "Gemma", "Gemma2", "Gemma3", "Phi",
    "Phi3", "DeepseekV3", "Olmo", "Olmo2", "Granite", "SmolLM3", "Starcoder2", "StableLm", "Cohere", "Cohere2",
    "Glm4", "Olmoe", "GraniteMoe",
)  # fmt: skip
_SANDWICH: Final = frozenset({"Gemma2", "Gemma3"})
_LAYERS: Final[dict[str, Rule]] = {
    "Phi": _PARALLEL_LAYER, "Cohere": _PARALLEL_LAYER, "Cohere2": _PARALLEL_LAYER, "Olmo2": _POST_NORM_LAYER,
    "Glm4": _GLM4_LAYER, "GraniteMoe": _pre_norm_layer("block_sparse_moe"),
}  # fmt: skip
_ATTENTIONS: Final[dict[str, Rule]] = {
    "Phi": _PHI_ATTENTION, "Phi3": _PHI3_ATTENTION, "Olmo2": _OLMO2_ATTENTION, "Olmoe": _OLMO2_ATTENTION,
}  # fmt: skip
_MLPS: Final[dict[str, Rule]] = {"Phi": in_order, "Phi3": _PHI3_MLP, "Starcoder2": in_order, "Glm4": _PHI3_MLP}


def _decoder_rules() -> dict[str, Rule]:
    rules: dict[str, Rule] = {}
    for prefix in _DECODER_PREFIXES:
        layer = _LAYERS.get(prefix, _SANDWICH_LAYER if prefix in _SANDWICH else _PRE_NORM_LAYER)
        attention_rule = _ATTENTIONS.get(prefix, _LLAMA_ATTENTION)
        rules |= {
            f"{prefix}ForCausalLM": _CAUSAL_LM,
            f"{prefix}ForSequenceClassification": _SEQUENCE_CLASSIFIER,
            f"{prefix}ForTokenClassification": _TOKEN_CLASSIFIER,
            f"{prefix}ForQuestionAnswering": _question_answering,
            f"{prefix}Model": _DECODER_MODEL,
            f"{prefix}DecoderLayer": layer,
            f"{prefix}Attention": attention_rule,
            f"{prefix}MLP": _MLPS.get(prefix, _GATED_MLP),
            f"{prefix}RMSNorm": _rms_norm,
            f"{prefix}RotaryEmbedding": _rotary,
            f"{prefix}TextScaledWordEmbedding": _embedding_subclass,
            f"{prefix}SparseMoeBlock": _SPARSE_MOE,
            f"{prefix}Experts": _experts,
            f"{prefix}TopKRouter": _router,
        }
    rules["GraniteMoeMoE"] = _GRANITE_MOE
    rules["OlmoLayerNorm"] = _parameterless_norm
    rules["CohereLayerNorm"] = rules["Cohere2LayerNorm"] = _rms_norm  # a LayerNorm: elementwise, no MACs
    rules["Gemma3TextModel"] = _DECODER_MODEL  # Gemma 3's language model (Gemma3Model is the multimodal one)
    return rules


def _parameterless_norm(call: Call, flow: Flow) -> Outcome:
    """``OlmoLayerNorm``: ``F.layer_norm`` without weight or bias over the last dimension; no MACs."""
    return Outcome(Flow(flow.shape, grad=flow.grad))


def _embedding_subclass(call: Call, flow: Flow) -> Outcome:
    """A subclass of ``nn.Embedding`` (Gemma's scaled embedding multiplies by a scalar: no MACs)."""
    return Outcome(Flow((*flow.shape, int_arg(call.module, "embedding_dim"))), 0, (), "the input holds token ids")


# --- GPT-2 ----------------------------------------------------------------------------------------------------

_GPT2_MODEL: Final = dataflow(
    tokens(),
    fits("wpe"),
    run("wte", "x0", "x"),
    positions(),
    run("wpe", "positions", "p"),
    add("x", "x", "p", what="add the position embeddings"),
    chain("h", checkpointed=True),
    run("ln_f"),
)
_GPT2_BLOCK: Final = dataflow(
    run("ln_1"),
    run("attn"),
    add("x", "x", "x0", what="add the residual"),
    run("ln_2", "x", "y"),
    run("mlp", "y"),
    add("x", "x", "y", what="add the residual"),
)
_GPT2_ATTENTION: Final = dataflow(run("c_attn"), split("x", "q", "k", "v"), attention(causal=True), run("c_proj"))


# --- other decoders: BLOOM, Falcon, GPT-J, GPT-NeoX, OPT, GPT-1, DeepSeek-V3 ----------------------------------


def _gathered_rotary(call: Call, flow: Flow) -> Outcome:
    """GPT-J's rotary embedding: ``embed_positions[position_ids]``, a lookup of precomputed sin/cos (no MACs)."""
    shape = (*flow.shape, last_size(call.module, "embed_positions"))
    return Outcome(Flow(shape), 0, (), "sin and cos looked up from embed_positions")


_BLOOM_MODEL: Final = dataflow(
    tokens(), run("word_embeddings", "x0", "x"), run("word_embeddings_layernorm"), chain("h", checkpointed=True),
    run("ln_f"), note="ALiBi biases are added to the attention scores (no product)",
)  # fmt: skip
_BLOOM_BLOCK: Final = dataflow(
    run("input_layernorm"),
    run("self_attention"),
    add("x", "x", "x0", what="add the residual"),
    run("post_attention_layernorm", "x", "y"),
    run("mlp", "y"),
    add("x", "x", "y", what="add the residual"),
    note="the residuals are added inside self_attention and mlp (dropout_add)",
)
_FUSED_ATTENTION: Final = dataflow(
    run("query_key_value"), split("x", "q", "k", "v", first_from="dense"), attention(causal=True), run("dense"),
    note="query_key_value's output split into query, key and value (key/value heads shared by the query heads)",
)  # fmt: skip
_FALCON_MODEL: Final = dataflow(
    tokens(),
    run("word_embeddings", "x0", "x"),
    positions(),
    run("rotary_emb", "positions", "rotary"),
    chain("h", checkpointed=True),
    run("ln_f"),
)
_FALCON_LAYER: Final = dataflow(
    run("input_layernorm", "x0", "a"),
    run("self_attention", "a", "h"),
    run("mlp", "a", "f"),
    add("x", "h", "f"),
    add("x", "x", "x0", what="add the residual"),
    note="parallel attention and MLP on input_layernorm's output",
)
_FALCON_NEW_LAYER: Final = dataflow(
    run("ln_attn", "x0", "a"),
    run("ln_mlp", "x0", "m"),
    run("self_attention", "a", "h"),
    run("mlp", "m", "f"),
    add("x", "h", "f"),
    add("x", "x", "x0", what="add the residual"),
    note="new_decoder_architecture: parallel attention and MLP, each with its own LayerNorm",
)


def _falcon_layer(call: Call, flow: Flow) -> Outcome:
    new = child_of(call.module, "ln_attn") is not None
    return (_FALCON_NEW_LAYER if new else _FALCON_LAYER)(call, flow)


_GPTJ_MODEL: Final = dataflow(
    tokens(),
    run("wte", "x0", "x"),
    positions(),
    run("rotary_emb", "positions", "rotary"),
    chain("h", checkpointed=True),
    run("ln_f"),
)
_GPTJ_BLOCK: Final = dataflow(
    run("ln_1", "x0", "h"),
    run("attn", "h", "a"),
    run("mlp", "h", "m"),
    add("x", "a", "m"),
    add("x", "x", "x0", what="add the residual"),
    note="attention and MLP in parallel on ln_1's output",
)
_NEOX_MODEL: Final = dataflow(
    tokens(),
    run("embed_in", "x0", "x"),
    positions(),
    run("rotary_emb", "positions", "rotary"),
    chain("layers", checkpointed=True),
    run("final_layer_norm"),
)
_NEOX_LAYER: Final = dataflow(
    run("input_layernorm", "x0", "h"),
    run("attention", "h", "a"),
    run("post_attention_layernorm", "x0", "g"),
    run("mlp", "g", "m"),
    add("x", "a", "m"),
    add("x", "x", "x0", what="add the residual"),
    note="use_parallel_residual (both shipped configs): x + attention(ln1(x)) + mlp(ln2(x)); the sequential "
    "form has the same shapes and products",
)
_OPT_DECODER: Final = dataflow(
    tokens(),
    fits("embed_positions", 2),
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
    run("self_attn_layer_norm"),
    run("self_attn"),
    add("x", "x", "x0", what="add the residual"),
    run("final_layer_norm", "x", "y"),
    run("fc1", "y"),
    run("fc2", "y"),
    add("x", "x", "y", what="add the residual"),
    note="do_layer_norm_before; OPT-350m normalises after each residual instead: the same shapes and products",
)
_QKV_OUT_ATTENTION: Final = _self_attention("q_proj", "k_proj", "v_proj", "out_proj")
_GPT1_MODEL: Final = dataflow(
    tokens(),
    fits("positions_embed"),
    run("tokens_embed", "x0", "x"),
    positions(),
    run("positions_embed", "positions", "p"),
    add("x", "x", "p", what="add the position embeddings"),
    chain("h", checkpointed=True),
)
_GPT1_BLOCK: Final = dataflow(
    run("attn"),
    add("x", "x", "x0", what="add the residual"),
    run("ln_1"),
    run("mlp", "x", "y"),
    add("x", "x", "y", what="add the residual"),
    run("ln_2"),
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
        split("kv", "kv", "rope", first_from="kv_a_layernorm"),
        run("kv_a_layernorm", "kv"),
        run("kv_b_proj", "kv"),
    ]
    for step in steps:
        step.apply(call, values, tally)
    query, expanded = values["q"], values["kv"]
    if query is None or expanded is None:
        call.child("o_proj", None)
        return Outcome(None)
    value_width = _in_features(call, "o_proj")
    values["k"] = Flow(query.shape, grad=True)
    values["v"] = Flow((*expanded.shape[:-1], value_width), grad=True)
    for step in (attention(causal=True), run("o_proj")):
        step.apply(call, values, tally)
    note = "keys as wide as the queries (heads·qk_head_dim), values heads·v_head_dim. " + " ".join(tally.notes)
    return Outcome(values["x"], tally.macs, tuple(tally.steps), note, backward_macs=tally.backward,
                   masked_macs=tally.masked)  # fmt: skip


_DEEPSEEK_MOE: Final = dataflow(
    _Flat(),
    run("gate", "x", "router_logits"),
    run("experts", "x", "routed"),
    _Unflat(),
    run("shared_experts", "x0", "shared"),
    add("x", "x", "shared"),
    note="routed experts on the flattened tokens, plus the shared experts",
)

_OTHER_DECODERS: Final[dict[str, Rule]] = {
    "BloomForCausalLM": dataflow(tokens(), run("transformer"), run("lm_head")),
    "BloomModel": _BLOOM_MODEL,
    "BloomBlock": _BLOOM_BLOCK,
    "BloomAttention": _FUSED_ATTENTION,
    "BloomMLP": in_order,
    "FalconForCausalLM": dataflow(tokens(), run("transformer"), run("lm_head")),
    "FalconModel": _FALCON_MODEL,
    "FalconDecoderLayer": _falcon_layer,
    "FalconAttention": _FUSED_ATTENTION,
    "FalconMLP": in_order,
    "FalconLinear": _LAYER_RULES["Linear"],  # a subclass of nn.Linear (input @ weight.T)
    "FalconRotaryEmbedding": _rotary,
    "GPTJForCausalLM": dataflow(tokens(), run("transformer"), run("lm_head")),
    "GPTJModel": _GPTJ_MODEL,
    "GPTJBlock": _GPTJ_BLOCK,
    "GPTJAttention": _QKV_OUT_ATTENTION,
    "GPTJMLP": in_order,
    "GPTJRotaryEmbedding": _gathered_rotary,
    "GPTNeoXForCausalLM": dataflow(
        tokens(), run("gpt_neox"), run("embed_out", optional=True), run("lm_head", optional=True)
    ),
    "GPTNeoXModel": _NEOX_MODEL,
    "GPTNeoXLayer": _NEOX_LAYER,
    "GPTNeoXAttention": _FUSED_ATTENTION,
    "GPTNeoXMLP": in_order,
    "GPTNeoXRotaryEmbedding": _rotary,
    "OPTForCausalLM": dataflow(tokens(), run("model"), run("lm_head")),
    "OPTModel": dataflow(run("decoder")),
    "OPTDecoder": _OPT_DECODER,
    "OPTDecoderLayer": _OPT_LAYER,
    "OPTAttention": _QKV_OUT_ATTENTION,
    "OPTLearnedPositionalEmbedding": _embedding_subclass,
    "OpenAIGPTLMHeadModel": dataflow(tokens(), run("transformer"), run("lm_head")),
    "OpenAIGPTModel": _GPT1_MODEL,
    "Block": _GPT1_BLOCK,
    "Attention": _GPT2_ATTENTION,
    "DeepseekV3Attention": _mla,
    "DeepseekV3MoE": _DEEPSEEK_MOE,
    "DeepseekV3TopkRouter": _router,
}


# --- BERT and RoBERTa -----------------------------------------------------------------------------------------


def _bert_embeddings(offset: int) -> Rule:
    """word + position (+ token type, ids all zero) embeddings, summed, then LayerNorm. RoBERTa's positions
    start after its padding index (``padding_idx + 1``, 2 for the shipped configs)."""
    return dataflow(
        fits("position_embeddings", offset),
        run("word_embeddings", "x0", "x"),
        positions(),
        run("position_embeddings", "positions", "p"),
        run("token_type_embeddings", "x0", "t", optional=True),
        add("x", "x", "p", what="add the position embeddings"),
        add("x", "x", "t", what="add the token type embeddings"),
        run("LayerNorm"),
    )


_BERT_SELF_ATTENTION: Final = dataflow(
    run("query", "x0", "q"), run("key", "x0", "k"), run("value", "x0", "v"), attention(causal=False)
)
_RESIDUAL_OUTPUT: Final = dataflow(
    run("dense"), run("LayerNorm"), note="LayerNorm(dense(x) + the sublayer's input): the residual is added inside"
)
_BERT_ATTENTION: Final = dataflow(run("self"), run("output"))
_BERT_LAYER: Final = dataflow(run("attention"), run("intermediate"), run("output"))
_BERT_POOLER: Final = dataflow(select(), run("dense"), note="the first token's hidden state, dense, tanh")


def _bert_model(call: Call, flow: Flow) -> Outcome:
    """embeddings, encoder, then the pooler (when the model has one) on the first token."""
    if len(flow.shape) != 2:
        raise call.fail(f"expects token ids of shape (batch, sequence), got {format_shape(flow.shape)}")
    hidden = call.child("encoder", call.child("embeddings", flow))
    if child_of(call.module, "pooler") is not None:
        pooled = call.child("pooler", hidden)
        if hidden is not None and pooled is not None:
            return Outcome(Flow(hidden.shape, (("pooler_output", pooled.shape),), grad=hidden.grad))
    return Outcome(hidden)


def _bert_rules() -> dict[str, Rule]:
    rules: dict[str, Rule] = {}
    for prefix, offset in (("Bert", 0), ("Roberta", 2)):
        rules |= {
            f"{prefix}Model": _bert_model,
            f"{prefix}Embeddings": _bert_embeddings(offset),
            f"{prefix}Encoder": dataflow(chain("layer", checkpointed=True)),
            f"{prefix}Layer": _BERT_LAYER,
            f"{prefix}Attention": _BERT_ATTENTION,
            f"{prefix}SelfAttention": _BERT_SELF_ATTENTION,
            f"{prefix}SelfOutput": _RESIDUAL_OUTPUT,
            f"{prefix}Intermediate": in_order,
            f"{prefix}Output": _RESIDUAL_OUTPUT,
            f"{prefix}Pooler": _BERT_POOLER,
        }
    return rules


# --- DistilBERT, ViT ------------------------------------------------------------------------------------------

_DISTILBERT: Final[dict[str, Rule]] = {
    "DistilBertForMaskedLM": dataflow(
        tokens(), run("distilbert"), run("vocab_transform"), run("vocab_layer_norm"), run("vocab_projector")
    ),
    "DistilBertModel": dataflow(tokens(), run("embeddings"), run("transformer")),
    "Embeddings": dataflow(
        fits("position_embeddings"),
        run("word_embeddings", "x0", "x"),
        positions(),
        run("position_embeddings", "positions", "p"),
        add("x", "x", "p", what="add the position embeddings"),
        run("LayerNorm"),
    ),
    "Transformer": dataflow(chain("layer", checkpointed=True)),
    "TransformerBlock": dataflow(
        run("attention"),
        add("x", "x", "x0", what="add the residual"),
        run("sa_layer_norm"),
        run("ffn", "x", "y"),
        add("x", "x", "y", what="add the residual"),
        run("output_layer_norm"),
    ),
    "DistilBertSelfAttention": dataflow(
        run("q_lin", "x0", "q"),
        run("k_lin", "x0", "k"),
        run("v_lin", "x0", "v"),
        attention(causal=False),
        run("out_lin"),
    ),
    "FFN": in_order,
}

_VIT: Final[dict[str, Rule]] = {
    "ViTModel": dataflow(
        run("embeddings"),
        chain("layers", checkpointed=True),
        run("layernorm"),
        run("pooler", "x", "pooled", optional=True),
        note="pixel values (batch, channels, height, width) at the configured image size",
    ),
    "ViTEmbeddings": dataflow(
        run("patch_embeddings"),
        prepend("cls_token"),
        add_param("position_embeddings"),
        note="the class token prepended to the patches, then the position embeddings added",
    ),
    "ViTPatchEmbeddings": dataflow(run("projection"), to_tokens()),
    "ViTLayer": dataflow(
        run("layernorm_before"),
        run("attention"),
        add("x", "x", "x0", what="add the residual"),
        run("layernorm_after", "x", "y"),
        run("mlp", "y"),
        add("x", "x", "y", what="add the residual"),
    ),
    "ViTAttention": dataflow(
        run("q_proj", "x0", "q"),
        run("k_proj", "x0", "k"),
        run("v_proj", "x0", "v"),
        attention(causal=False),
        run("o_proj"),
    ),
    "ViTMLP": in_order,
    "ViTPooler": _BERT_POOLER,
}


# --- encoder-decoders: BART, T5 -------------------------------------------------------------------------------

ENCODER_STATES: Final = "encoder_hidden_states"


class _SourceAndTarget(Step):
    """An encoder-decoder's input: (batch, source) token ids for the encoder and as many for the decoder, or
    (batch, source, target) for a decoder sequence of another length."""

    def apply(self, call: Call, values: Values, tally: Tally) -> None:
        flow = values["x0"]
        if flow is None:
            values["source"] = values["target"] = None
            return
        if len(flow.shape) not in (2, 3):
            raise call.fail(f"expects (batch, source) or (batch, source, target) token counts, got "
                            f"{format_shape(flow.shape)}")  # fmt: skip
        batch, source = flow.shape[:2]
        values["source"] = Flow((batch, source))
        values["target"] = Flow((batch, flow.shape[-1]))


class _WithEncoderStates(Step):
    """The decoder's token ids, carrying the encoder's output for its cross-attention."""

    def apply(self, call: Call, values: Values, tally: Tally) -> None:
        target, encoded = values["target"], values["encoded"]
        if target is not None and encoded is not None:
            values["target"] = replace(target, context=((ENCODER_STATES, encoded.shape),))


def _encoder_decoder(*, skip: str, head: str = "") -> Rule:
    """``shared`` is the token table the encoder and decoder call as their ``embed_tokens`` (one tensor): the
    model's forward never calls it by that name."""
    steps = [
        _SourceAndTarget(),
        run("encoder", "source", "encoded"),
        _WithEncoderStates(),
        run("decoder", "target", "x"),
    ]
    rule = dataflow(*steps, *([run(head)] if head else []))

    def with_shared(call: Call, flow: Flow) -> Outcome:
        if child_of(call.module, skip) is not None:
            call.skip(skip, "the encoder and the decoder call this table as their embed_tokens")
        outcome = rule(call, flow)
        output = outcome.output
        return outcome if output is None else replace(outcome, output=replace(output, context=()))

    return with_shared


class _CrossKeys(Step):
    """Keys and values read the encoder's output (the flow's ``encoder_hidden_states``)."""

    def apply(self, call: Call, values: Values, tally: Tally) -> None:
        flow = values["x0"]
        states = dict(flow.context).get(ENCODER_STATES) if flow is not None else None
        if flow is not None and states is None:
            raise call.fail("is a cross-attention without the encoder's output to attend to")
        values["memory"] = None if states is None else Flow(states, grad=True)


def _kv_attention(query: str, key: str, value: str, output: str, *, bias: str = "") -> Rule:
    """Self-attention (causal in a decoder, which is where the flow carries encoder states) or, when the
    parent calls it with ``cross``, attention from the input's queries to the encoder's keys and values."""
    self_causal = dataflow(
        run(query, "x0", "q"), run(key, "x0", "k"), run(value, "x0", "v"), attention(causal=True), run(output)
    )
    self_full = dataflow(
        run(query, "x0", "q"), run(key, "x0", "k"), run(value, "x0", "v"), attention(causal=False), run(output)
    )
    cross = dataflow(
        _CrossKeys(),
        run(query, "x0", "q"),
        run(key, "memory", "k"),
        run(value, "memory", "v"),
        attention(causal=False),
        run(output),
    )

    def rule(call: Call, flow: Flow) -> Outcome:
        if bias and child_of(call.module, bias) is not None:
            # T5's relative position bias: the bucket of each (query, key) pair looked up, (L, S, heads).
            length = flow.shape[-2] if len(flow.shape) >= 2 else 0
            call.child(bias, Flow((length, length)))
        if "cross" in call.options:
            return cross(call, flow)
        return (self_causal if flow.context else self_full)(call, flow)

    return rule


_BART_ATTENTION: Final = _kv_attention("q_proj", "k_proj", "v_proj", "out_proj")
_BART_CODER: Final = dataflow(
    fits("embed_positions", 2),
    run("embed_tokens", "x0", "x"),
    run("embed_positions", "x0", "p"),
    add("x", "x", "p", what="add the position embeddings"),
    run("layernorm_embedding"),
    chain("layers", checkpointed=True),
    run("layer_norm", optional=True),
)
_BART_ENCODER_LAYER: Final = dataflow(
    run("self_attn"),
    add("x", "x", "x0", what="add the residual"),
    run("self_attn_layer_norm"),
    run("fc1", "x", "y"),
    run("fc2", "y"),
    add("x", "x", "y", what="add the residual"),
    run("final_layer_norm"),
)
_BART_DECODER_LAYER: Final = dataflow(
    run("self_attn"),
    add("x", "x", "x0", what="add the residual"),
    run("self_attn_layer_norm"),
    run("encoder_attn", "x", "c", options="cross"),
    add("x", "x", "c", what="add the residual"),
    run("encoder_attn_layer_norm"),
    run("fc1", "x", "y"),
    run("fc2", "y"),
    add("x", "x", "y", what="add the residual"),
    run("final_layer_norm"),
)
_T5_STACK: Final = dataflow(run("embed_tokens"), chain("block", checkpointed=True), run("final_layer_norm"))
_T5_SELF: Final = dataflow(
    run("layer_norm", "x0", "y"), run("SelfAttention", "y"), add("x", "x0", "y", what="add the residual")
)
_T5_CROSS: Final = dataflow(
    run("layer_norm", "x0", "y"),
    run("EncDecAttention", "y", options="cross"),
    add("x", "x0", "y", what="add the residual"),
)
_T5_FF: Final = dataflow(
    run("layer_norm", "x0", "y"), run("DenseReluDense", "y"), add("x", "x0", "y", what="add the residual")
)
_T5_GATED: Final = dataflow(
    run("wi_0", "x0", "gate"), run("wi_1", "x0", "up"), multiply("x", "gate", "up"), run("wo"),
    note="act(wi_0(x)) · wi_1(x), then wo",
)  # fmt: skip

_ENCODER_DECODERS: Final[dict[str, Rule]] = {
    "BartForConditionalGeneration": dataflow(run("model"), run("lm_head")),
    "BartModel": _encoder_decoder(skip="shared"),
    "BartEncoder": _BART_CODER,
    "BartDecoder": _BART_CODER,
    "BartEncoderLayer": _BART_ENCODER_LAYER,
    "BartDecoderLayer": _BART_DECODER_LAYER,
    "BartAttention": _BART_ATTENTION,
    "BartScaledWordEmbedding": _embedding_subclass,
    "BartLearnedPositionalEmbedding": _embedding_subclass,
    "T5ForConditionalGeneration": _encoder_decoder(skip="shared", head="lm_head"),
    "T5Model": _encoder_decoder(skip="shared"),
    "T5Stack": _T5_STACK,
    "T5Block": dataflow(chain("layer")),
    "T5LayerSelfAttention": _T5_SELF,
    "T5LayerCrossAttention": _T5_CROSS,
    "T5LayerFF": _T5_FF,
    "T5Attention": _kv_attention("q", "k", "v", "o", bias="relative_attention_bias"),
    "T5DenseActDense": in_order,
    "T5DenseGatedActDense": _T5_GATED,
    "T5LayerNorm": _rms_norm,
}


_MASKED_LM: Final = {
    "BertForMaskedLM": dataflow(tokens(), run("bert"), run("cls")),
    "BertOnlyMLMHead": in_order,
    "BertLMPredictionHead": dataflow(run("transform"), run("decoder")),
    "BertPredictionHeadTransform": in_order,
    "RobertaForMaskedLM": dataflow(tokens(), run("roberta"), run("lm_head")),
    "RobertaLMHead": in_order,
}

RULES: Final[dict[str, Rule]] = {
    **_decoder_rules(),
    **_OTHER_DECODERS,
    "Conv1D": _conv1d,
    "GPT2LMHeadModel": dataflow(tokens(), run("transformer"), run("lm_head")),
    "GPT2Model": _GPT2_MODEL,
    "GPT2Block": _GPT2_BLOCK,
    "GPT2Attention": _GPT2_ATTENTION,
    "GPT2MLP": in_order,
    **_bert_rules(),
    **_MASKED_LM,
    **_DISTILBERT,
    **_VIT,
    **_ENCODER_DECODERS,
}
"""Shape rules of transformers' model classes, by kind."""

_HEADS: Final = ("Model", "ForCausalLM", "ForSequenceClassification", "ForTokenClassification", "ForQuestionAnswering")
TOKEN_INPUTS: Final = frozenset(
    {f"{prefix}{head}" for prefix in _DECODER_PREFIXES for head in _HEADS}
    | {kind for kind in RULES if kind.endswith(("ForCausalLM", "LMHeadModel", "ForMaskedLM"))}
    | {
        *("Gemma3TextModel", "GPT2Model", "BertModel", "RobertaModel", "DistilBertModel", "BloomModel"),
        *("FalconModel", "GPTJModel", "GPTNeoXModel", "OPTModel", "OpenAIGPTModel"),
    }
)
"""Kinds whose forward reads token ids (batch, sequence): a tree rooted at one reports per-token figures."""

SEQUENCE_INPUTS: Final = TOKEN_INPUTS | {
    "BartModel", "BartForConditionalGeneration", "T5Model", "T5ForConditionalGeneration",
}  # fmt: skip
"""Kinds whose input is token ids: the language models, and the encoder-decoders, which read (batch, source)
or (batch, source, target)."""
