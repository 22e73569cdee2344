"""Dataflow of transformers' encoders with their own attention: DeBERTa-v2/v3 (disentangled attention over relative
positions), MPNet (a relative position bias) and ModernBERT (rotary positions, alternating global and sliding-window
attention, a gated MLP). Bidirectional attention over every position; conventions in ``transformers.py``.

DeBERTa adds two products to each layer's attention scores (``modeling_deberta_v2.py``,
``disentangled_attention_bias``): the encoder's relative embeddings (``rel_embeddings.weight``, 2·``position_buckets``
rows, through its LayerNorm) are projected by the attention's own ``query_proj``/``key_proj`` (``share_att_key``) or
by ``pos_query_proj``/``pos_key_proj``, once per layer for the whole batch, then content-to-position
(``c2p``: query · pos_keyᵀ) and position-to-content (``p2c``: key · pos_queryᵀ) are batched matrix products over
all 2·``position_buckets`` relative positions, gathered afterwards: each costs batch·L·2·buckets·hidden MACs, more
than QKᵀ itself below 512 tokens. ModernBERT's sliding-window layers mask the full L×L product in eager attention,
so they count as global ones.
"""

from __future__ import annotations

from paramcount._record import replace
from paramcount.analysis.shapes import encoders, transformers
from paramcount.analysis.shapes.common import NotModelledError, int_arg
from paramcount.analysis.shapes.flow import (
    Step,
    Tally,
    add,
    also,
    attention,
    chain,
    child_of,
    dataflow,
    in_order,
    member,
    multiply,
    param_sizes,
    positions,
    run,
    scores,
    select,
    transpose,
)
from paramcount.analysis.shapes.types import Flow, Outcome, format_shape

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Final

    from paramcount.analysis.shapes.flow import Values
    from paramcount.analysis.shapes.types import Call, Rule

__all__ = ["RELATIVE_EMBEDDINGS", "RULES", "TOKEN_INPUTS"]

RELATIVE_EMBEDDINGS: Final = "rel_embeddings"
"""The name under which a DeBERTa layer's flow carries the encoder's relative embeddings (``Flow.context``)."""


def _summed_embeddings(offset: int) -> Rule:
    """Word embeddings plus, when the model has them, position embeddings (positions from ``offset``) and token type
    embeddings (ids all zero); ``embed_proj`` when the embedding width differs from the hidden size; LayerNorm."""

    def rule(call: Call, flow: Flow) -> Outcome:
        steps: list[Step] = [transformers.fits("position_embeddings", offset), run("word_embeddings", "x0", "x")]
        if child_of(call.module, "position_embeddings") is not None:
            steps += [
                positions(),
                run("position_embeddings", "positions", "p"),
                add("x", "x", "p", what="add the position embeddings"),
            ]
        if child_of(call.module, "token_type_embeddings") is not None:
            steps += [
                run("token_type_embeddings", "x0", "t"),
                add("x", "x", "t", what="add the token type embeddings"),
            ]
        return dataflow(*steps, run("embed_proj", optional=True), run("LayerNorm"))(call, flow)

    return rule


# --- DeBERTa-v2 / v3 ------------------------------------------------------------------------------------------


class _Relative(Step):
    """``rel_embeddings[0 : 2·att_span].unsqueeze(0)``: every relative position, (1, 2·buckets, hidden)."""

    def apply(self, call: Call, values: Values, tally: Tally) -> None:
        flow = values["x0"]
        shape = None if flow is None else dict(flow.context).get(RELATIVE_EMBEDDINGS)
        values["r"] = None if shape is None else Flow((1, *shape), grad=True)


def _disentangled_attention(call: Call, flow: Flow) -> Outcome:
    """``DisentangledSelfAttention``: q, k, v projections and bidirectional attention, plus, with relative
    embeddings in the flow, their projections and the ``c2p``/``p2c`` score products of ``pos_att_type``."""
    attributes = dict(call.module.attributes)
    shared, types = attributes.get("share_att_key"), attributes.get("pos_att_type")
    if not isinstance(shared, bool) or not isinstance(types, tuple):
        raise NotModelledError("its share_att_key and pos_att_type are not known")
    steps: list[Step] = [run("query_proj", "x0", "q"), run("key_proj", "x0", "k"), run("value_proj", "x0", "v")]
    if RELATIVE_EMBEDDINGS in dict(flow.context):
        steps.append(_Relative())
        if shared:  # both projections of the relative embeddings, whichever scores use them
            steps += [run("query_proj", "r", "pos_q"), run("key_proj", "r", "pos_k")]
        else:
            steps += [
                run("pos_key_proj", "r", "pos_k", optional=True),
                run("pos_query_proj", "r", "pos_q", optional=True),
            ]
        if "c2p" in types:
            steps.append(scores("q", "pos_k", what="c2p: query·pos_keyᵀ"))
        if "p2c" in types:
            steps.append(scores("k", "pos_q", what="p2c: key·pos_queryᵀ"))
    note = "the relative embeddings' projections run once per layer, on (1, 2·buckets, hidden), for every sequence"
    return dataflow(*steps, attention(causal=False), note=note if len(steps) > 3 else "")(call, flow)


def _deberta_encoder(call: Call, flow: Flow) -> Outcome:
    """``DebertaV2Encoder``: the relative embeddings (``get_rel_embedding``: the table's weight, through LayerNorm
    when ``norm_rel_ebd`` has one) handed to every layer; the layers; ``ConvLayer`` with ``conv_kernel_size``."""
    hidden: Flow | None = flow
    table = child_of(call.module, "rel_embeddings")
    if table is not None:
        call.skip("rel_embeddings", "its weight, every relative position, is read whole by get_rel_embedding")
        relative = Flow(param_sizes(table, "weight"), grad=True)
        if child_of(call.module, "LayerNorm") is not None:
            relative = call.child("LayerNorm", relative) or relative
        hidden = replace(flow, context=((RELATIVE_EMBEDDINGS, relative.shape),))
    note = ""
    if child_of(call.module, "conv") is not None:
        hidden = call.child("conv", hidden)
        note = ("ConvLayer (on the embeddings, added to the first layer's output) is listed before the layers: "
                "the same shapes and count")  # fmt: skip
    output = call.chain("layer", hidden, checkpointed=True)
    return Outcome(None if output is None else replace(output, context=()), note=note)


_DEBERTA: Final[dict[str, Rule]] = {
    "DebertaV2Model": dataflow(transformers.tokens(), run("embeddings"), run("encoder")),
    "DebertaV2Embeddings": _summed_embeddings(0),
    "DebertaV2Encoder": _deberta_encoder,
    "DebertaV2Layer": encoders.RULES["BertLayer"],
    "DebertaV2Attention": encoders.RULES["BertAttention"],
    "DisentangledSelfAttention": _disentangled_attention,
    "DebertaV2SelfOutput": encoders.RULES["BertSelfOutput"],
    "DebertaV2Intermediate": in_order,
    "DebertaV2Output": encoders.RULES["BertOutput"],
    "ConvLayer": dataflow(
        transpose("x0", "y"),
        run("conv", "y"),
        transpose("y"),
        add("x", "x0", "y", what="add the residual"),
        run("LayerNorm"),
        note="LayerNorm(residual + tanh(conv(x))) over time",
    ),
    "DebertaV2ForMaskedLM": dataflow(transformers.tokens(), run("deberta"), run("cls")),
    "LegacyDebertaV2OnlyMLMHead": in_order,
    "LegacyDebertaV2LMPredictionHead": in_order,
    "LegacyDebertaV2PredictionHeadTransform": in_order,
}


# --- MPNet ----------------------------------------------------------------------------------------------------


def _largest_bucket(length: int) -> int:
    """The largest bucket ``MPNetEncoder.relative_position_bucket`` gives the relative positions of ``length``
    tokens: it always buckets for 32 (``compute_position_bias``'s default, whatever
    ``relative_attention_num_buckets`` says) and max_distance 128; a key after the query takes 16 + the bucket of
    its distance n: n below 8, else 8 + ⌊log(n/8)/log(16)·8⌋ = 8 + ⌊log2(n²/64)⌋, at most 15."""
    if length < 2:
        return 0
    distance = length - 1
    bucket = distance if distance < 8 else min(8 + (distance * distance // 64).bit_length() - 1, 15)
    return 16 + bucket


def _mpnet_encoder(call: Call, flow: Flow) -> Outcome:
    """``MPNetEncoder``: ``relative_attention_bias`` looked up at the bucket of every (query, key) pair, (L, L),
    added to each layer's scores (no MACs); then the layers."""
    if len(flow.shape) != 3:
        raise call.fail(f"expects hidden states (batch, sequence, hidden), got {format_shape(flow.shape)}")
    length = flow.shape[1]
    table = child_of(call.module, "relative_attention_bias")
    largest = _largest_bucket(length)
    if table is not None and largest >= int_arg(table, "num_embeddings"):
        rows = int_arg(table, "num_embeddings")
        raise call.fail(f"looks up relative position bucket {largest} for {length} tokens (transformers buckets "
                        f"for 32 whatever relative_attention_num_buckets says) in relative_attention_bias, which "
                        f"has {rows} rows")  # fmt: skip
    call.child("relative_attention_bias", Flow((length, length)))
    return Outcome(call.chain("layer", flow), note="one position bias (batch, heads, L, L) for every layer")


_MPNET: Final[dict[str, Rule]] = {
    "MPNetModel": dataflow(
        transformers.tokens(),
        run("embeddings"),
        run("encoder"),
        run("pooler", "x", "pooled", optional=True),
        also("pooler_output", "pooled"),
    ),
    "MPNetEmbeddings": _summed_embeddings(2),
    "MPNetEncoder": _mpnet_encoder,
    "MPNetLayer": encoders.RULES["BertLayer"],
    "MPNetAttention": dataflow(*transformers.post_norm(("attn", "LayerNorm"))),
    "MPNetSelfAttention": transformers.self_attention("q", "k", "v", "o", causal=False),
    "MPNetIntermediate": in_order,
    "MPNetOutput": encoders.RULES["BertOutput"],
    "MPNetPooler": encoders.RULES["BertPooler"],
    "MPNetForMaskedLM": dataflow(transformers.tokens(), run("mpnet"), member(""), run("lm_head")),
    "MPNetLMHead": in_order,
}


# --- ModernBERT -----------------------------------------------------------------------------------------------


class _RotaryPerType(Step):
    """``self.rotary_emb(hidden_states, position_ids, layer_type)`` once per attention type in use (full and
    sliding: one ``<type>_inv_freq`` buffer each)."""

    def apply(self, call: Call, values: Values, tally: Tally) -> None:
        table = child_of(call.module, "rotary_emb")
        if table is None:
            raise NotModelledError("it has no member 'rotary_emb'")
        names = [buffer.name for buffer in table.buffers]
        for name in names:
            if name.endswith("_inv_freq") and not name.endswith("original_inv_freq"):
                values["rotary"] = call.child("rotary_emb", values["positions"])


_MODERNBERT: Final[dict[str, Rule]] = {
    "ModernBertModel": dataflow(
        transformers.tokens(),
        run("embeddings"),
        positions(),
        _RotaryPerType(),
        chain("layers", checkpointed=True),
        run("final_norm"),
    ),
    "ModernBertEmbeddings": in_order,
    "ModernBertEncoderLayer": dataflow(*transformers.pre_norm(("attn_norm", "attn"), ("mlp_norm", "mlp"))),
    "ModernBertAttention": transformers.fused_attention(
        "Wqkv",
        "Wo",
        causal=False,
        note="a sliding-window layer masks the full L×L product in eager attention: the same count as a global one",
    ),
    "ModernBertMLP": dataflow(
        run("Wi"),
        transformers.split("x", "input", "gate"),
        multiply("x", "input", "gate"),
        run("Wo"),
        note="Wi's output chunked in two: act(input) · gate, then Wo",
    ),
    "ModernBertForMaskedLM": dataflow(transformers.tokens(), run("model"), run("head"), run("decoder")),
    "ModernBertPredictionHead": in_order,
    "ModernBertRotaryEmbedding": transformers.rotary,
}


_SPANS: Final = {
    "ForTokenClassification": transformers.TOKEN_CLASSIFIER,
    "ForQuestionAnswering": transformers.ANSWER_SPAN,
}
_MODERNBERT_POOLED: Final = (select(), run("head"), run("classifier"))  # cls: hidden[:, 0]; mean: no product
_HEADS: Final[dict[str, Rule]] = {
    **transformers.heads(
        "DebertaV2", "deberta", ForSequenceClassification=(run("pooler"), run("classifier")), **_SPANS
    ),
    **transformers.heads("DebertaV2", "deberta", ForMultipleChoice=(run("pooler"), run("classifier"))),
    "ContextPooler": dataflow(select(), run("dense"), note="the first token: dense, activation"),
    **transformers.heads("MPNet", "mpnet", ForSequenceClassification=(run("classifier"),), **_SPANS),
    **transformers.heads("MPNet", "mpnet", ForMultipleChoice=transformers.POOLED_CLASSIFIER),
    "MPNetClassificationHead": encoders.CLASSIFICATION_HEAD,
    **transformers.heads(
        "ModernBert", "model", ForSequenceClassification=_MODERNBERT_POOLED, ForMultipleChoice=_MODERNBERT_POOLED
    ),
    **transformers.heads("ModernBert", "model", ForTokenClassification=(run("head"), run("classifier"))),
    **transformers.heads(
        "ModernBert", "model", ForQuestionAnswering=(run("head"), run("classifier"), transformers.start_end())
    ),
}

RULES: Final[dict[str, Rule]] = {**_DEBERTA, **_MPNET, **_MODERNBERT, **_HEADS}
"""Shape rules of transformers' DeBERTa-v2, MPNet and ModernBERT classes, by kind."""

TOKEN_INPUTS: Final = (
    frozenset(prefix + head for prefix in ("DebertaV2", "MPNet", "ModernBert") for head in ("Model", *encoders.HEADS))
    & RULES.keys()
)
"""Kinds whose forward reads token ids (batch, sequence)."""
