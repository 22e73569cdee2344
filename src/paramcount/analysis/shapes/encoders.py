"""Dataflow of transformers' encoders: BERT, RoBERTa, DistilBERT and ViT, bidirectional attention over every
position. Conventions in ``transformers.py``."""

from __future__ import annotations

from paramcount.analysis.shapes.flow import (
    add,
    add_param,
    attention,
    chain,
    child_of,
    dataflow,
    in_order,
    positions,
    prepend,
    run,
    select,
    to_tokens,
)
from paramcount.analysis.shapes.transformers import fits, tokens
from paramcount.analysis.shapes.types import Flow, Outcome, format_shape

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Final

    from paramcount.analysis.shapes.types import Call, Rule

__all__ = ["RULES", "TOKEN_INPUTS"]


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


_MASKED_LM: Final = {
    "BertForMaskedLM": dataflow(tokens(), run("bert"), run("cls")),
    "BertOnlyMLMHead": in_order,
    "BertLMPredictionHead": dataflow(run("transform"), run("decoder")),
    "BertPredictionHeadTransform": in_order,
    "RobertaForMaskedLM": dataflow(tokens(), run("roberta"), run("lm_head")),
    "RobertaLMHead": in_order,
}


RULES: Final[dict[str, Rule]] = {**_bert_rules(), **_MASKED_LM, **_DISTILBERT, **_VIT}
"""Shape rules of transformers' encoder classes, by kind."""

TOKEN_INPUTS: Final = frozenset(
    {kind for kind in RULES if kind.endswith("ForMaskedLM")} | {"BertModel", "RobertaModel", "DistilBertModel"}
)
"""Encoder kinds whose forward reads token ids (batch, sequence)."""
