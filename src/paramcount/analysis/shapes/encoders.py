"""Dataflow of transformers' encoders: BERT, RoBERTa, XLM-RoBERTa, ELECTRA, ALBERT, DistilBERT, ViT and DINOv2,
bidirectional attention over every position. Conventions in ``transformers.py``."""

from __future__ import annotations

import math

from paramcount.analysis.shapes import decoders, transformers
from paramcount.analysis.shapes.common import NotModelledError
from paramcount.analysis.shapes.flow import (
    Step,
    Tally,
    add,
    add_param,
    also,
    attention,
    chain,
    child_of,
    concat,
    dataflow,
    in_order,
    member,
    multiply_param,
    param_sizes,
    positions,
    prepend,
    run,
    select,
    squeeze,
    to_tokens,
)
from paramcount.analysis.shapes.types import Flow, Outcome, format_shape

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Final

    from paramcount.analysis.shapes.flow import Values
    from paramcount.analysis.shapes.types import Call, Rule

__all__ = ["CLASSIFICATION_HEAD", "HEADS", "RULES", "TOKEN_INPUTS"]


# --- BERT and RoBERTa -----------------------------------------------------------------------------------------


def _bert_embeddings(offset: int) -> Rule:
    """word + position (+ token type, ids all zero) embeddings, summed, then LayerNorm. RoBERTa's positions
    start after its padding index (``padding_idx + 1``, 2 for the shipped configs)."""
    return dataflow(
        transformers.fits("position_embeddings", offset),
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


_ELECTRA_MODEL: Final = dataflow(
    transformers.tokens(), run("embeddings"), run("embeddings_project", optional=True), run("encoder"),
    note="ELECTRA: embeddings_project maps the embedding width to the hidden width when they differ",
)  # fmt: skip


def _bert_rules() -> dict[str, Rule]:
    rules: dict[str, Rule] = {}
    for prefix, offset in (("Bert", 0), ("Roberta", 2), ("XLMRoberta", 2), ("Electra", 0)):
        rules |= {
            f"{prefix}Model": _ELECTRA_MODEL if prefix == "Electra" else _bert_model,
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


# --- ALBERT ---------------------------------------------------------------------------------------------------


def _albert_model(call: Call, flow: Flow) -> Outcome:
    """embeddings, encoder, then (when the model has one) ``pooler_activation(pooler(hidden[:, 0]))``."""
    if len(flow.shape) != 2:
        raise call.fail(f"expects token ids of shape (batch, sequence), got {format_shape(flow.shape)}")
    hidden = call.child("encoder", call.child("embeddings", flow))
    if child_of(call.module, "pooler") is None or hidden is None:
        return Outcome(hidden)
    pooled = call.child("pooler", Flow((hidden.shape[0], hidden.shape[-1]), grad=hidden.grad))
    others = () if pooled is None else (("pooler_output", pooled.shape),)
    return Outcome(Flow(hidden.shape, others, grad=hidden.grad), note="the pooler reads the first token")


def _albert_transformer(call: Call, flow: Flow) -> Outcome:
    """``embedding_hidden_mapping_in``, then ``num_hidden_layers`` steps, step ``i`` running the shared layer
    group ``int(i / (num_hidden_layers / num_hidden_groups))``: each group runs several times in a row, its rows
    standing for every call (``times``)."""
    layers = dict(call.module.attributes).get("num_hidden_layers")
    groups = child_of(call.module, "albert_layer_groups")
    if not isinstance(layers, int) or groups is None:
        raise NotModelledError("its num_hidden_layers (the steps over the shared layer groups) is not known")
    count = sum(child.repeat for child in groups.children)
    calls = [0] * count
    for step in range(layers):
        calls[int(step / (layers / count))] += 1
    hidden = call.child("embedding_hidden_mapping_in", flow)
    output = call.chain("albert_layer_groups", hidden, calls=tuple(calls))
    note = f"{layers} steps over {count} shared layer group{'s' if count > 1 else ''}"
    return Outcome(output, note=note)


_ALBERT: Final[dict[str, Rule]] = {
    "AlbertModel": _albert_model,
    "AlbertEmbeddings": _bert_embeddings(0),
    "AlbertTransformer": _albert_transformer,
    "AlbertLayerGroup": dataflow(chain("albert_layers")),
    "AlbertLayer": dataflow(
        run("attention"),
        *transformers.post_norm(("ffn", "ffn_output", "full_layer_layer_norm")),
        note="full_layer_layer_norm(ffn_output(act(ffn(a))) + a), a the attention's output",
    ),
    "AlbertAttention": dataflow(
        run("query", "x0", "q"),
        run("key", "x0", "k"),
        run("value", "x0", "v"),
        attention(causal=False),
        run("dense"),
        add("x", "x", "x0", what="add the residual"),
        run("LayerNorm"),
    ),
    "AlbertForMaskedLM": dataflow(transformers.tokens(), run("albert"), run("predictions")),
    "AlbertMLMHead": dataflow(
        run("dense"), run("LayerNorm"), run("decoder"), note="dense, activation, LayerNorm, decoder"
    ),
}


# --- ELECTRA and XLM-RoBERTa heads -----------------------------------------------------------------------------

_ELECTRA_HEADS: Final[dict[str, Rule]] = {
    "ElectraForPreTraining": dataflow(transformers.tokens(), run("electra"), run("discriminator_predictions")),
    "ElectraDiscriminatorPredictions": dataflow(
        run("dense"), run("dense_prediction"), squeeze(), note="one logit per token (squeezed): original or replaced"
    ),
    "ElectraForMaskedLM": dataflow(
        transformers.tokens(), run("electra"), run("generator_predictions"), run("generator_lm_head")
    ),
    "ElectraGeneratorPredictions": dataflow(run("dense"), run("LayerNorm"), note="dense, activation, LayerNorm"),
    "XLMRobertaForMaskedLM": dataflow(transformers.tokens(), run("roberta"), run("lm_head")),
    "XLMRobertaLMHead": in_order,
}


# --- DistilBERT, ViT ------------------------------------------------------------------------------------------

_ENCODER_ATTENTION: Final = transformers.self_attention("q_proj", "k_proj", "v_proj", "o_proj", causal=False)

_DISTILBERT: Final[dict[str, Rule]] = {
    "DistilBertForMaskedLM": dataflow(
        transformers.tokens(),
        run("distilbert"),
        run("vocab_transform"),
        run("vocab_layer_norm"),
        run("vocab_projector"),
    ),
    "DistilBertModel": dataflow(transformers.tokens(), run("embeddings"), run("transformer")),
    "Embeddings": dataflow(
        transformers.fits("position_embeddings"),
        run("word_embeddings", "x0", "x"),
        positions(),
        run("position_embeddings", "positions", "p"),
        add("x", "x", "p", what="add the position embeddings"),
        run("LayerNorm"),
    ),
    "Transformer": dataflow(chain("layer", checkpointed=True)),
    "TransformerBlock": dataflow(*transformers.post_norm(("attention", "sa_layer_norm"), ("ffn", "output_layer_norm"))),
    "DistilBertSelfAttention": transformers.self_attention("q_lin", "k_lin", "v_lin", "out_lin", causal=False),
    "FFN": in_order,
}


class _ImageFits(Step):
    """``ViTPatchEmbeddings``' check: the image holds as many patches as ``position_embeddings`` has rows besides
    the class token's (transformers: "Input image size … doesn't match model"; ``interpolate_pos_encoding``,
    which this rule does not model, would resize the table instead)."""

    def apply(self, call: Call, values: Values, tally: Tally) -> None:
        pixels, tokens = values["x0"], values["x"]
        embeddings = child_of(call.module, "patch_embeddings")
        projection = None if embeddings is None else child_of(embeddings, "projection")
        if pixels is None or tokens is None or projection is None or len(pixels.shape) != 4:
            return
        patches = param_sizes(call.module, "position_embeddings")[1] - 1
        if tokens.shape[1] - 1 != patches:
            patch, side = param_sizes(projection, "weight")[-1], math.isqrt(patches)
            image = f" (a {side * patch}×{side * patch} image)" if side * side == patches else ""
            raise call.fail(f"reads {patches} patches of {patch}×{patch}{image}: position_embeddings holds a row for "
                            f"each and one for the class token; got a {pixels.shape[2]}×{pixels.shape[3]} image "
                            f"({tokens.shape[1] - 1} patches)")  # fmt: skip


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
        _ImageFits(),
        add_param("position_embeddings"),
        note="the class token prepended to the patches, then the position embeddings added",
    ),
    "ViTPatchEmbeddings": dataflow(run("projection"), to_tokens()),
    "ViTLayer": transformers.pre_norm_layer("layernorm_before", "attention", "layernorm_after", "mlp"),
    "ViTAttention": _ENCODER_ATTENTION,
    "ViTMLP": in_order,
    "ViTPooler": _BERT_POOLER,
}


# --- DINOv2 ---------------------------------------------------------------------------------------------------


class _Channels(Step):
    def apply(self, call: Call, values: Values, tally: Tally) -> None:
        flow = values["x0"]
        projection = child_of(call.module, "projection")
        if flow is None or projection is None:
            return
        channels = param_sizes(projection, "weight")[1]
        if len(flow.shape) != 4 or flow.shape[1] != channels:
            raise call.fail(f"expects pixel values (batch, {channels}, height, width), got {format_shape(flow.shape)}")


class _InterpolatedPositions(Step):
    def apply(self, call: Call, values: Values, tally: Tally) -> None:
        flow = values["x"]
        if flow is None:
            return
        width = param_sizes(call.module, "position_embeddings")[-1]
        if len(flow.shape) != 3 or flow.shape[-1] != width:
            raise call.fail(f"adds position embeddings of width {width} to {format_shape(flow.shape)}")
        values["x"] = Flow(flow.shape, grad=True)
        rows = param_sizes(call.module, "position_embeddings")[1]
        if flow.shape[1] != rows:
            tally.note(f"the {rows - 1} patch position embeddings are interpolated (bicubic, no MACs) to the "
                       f"{flow.shape[1] - 1} patches of this image size")  # fmt: skip


_DINOV2: Final[dict[str, Rule]] = {
    "Dinov2Model": dataflow(
        run("embeddings"),
        run("encoder"),
        run("layernorm"),
        select("x", "pooled"),
        also("pooler_output", "pooled"),
        note="pixel values (batch, channels, height, width); pooler_output is the class token",
    ),
    "Dinov2Embeddings": dataflow(
        run("patch_embeddings"),
        prepend("cls_token"),
        _InterpolatedPositions(),
        note="the class token prepended to the patches, then the position embeddings added (interpolated when the "
        "image holds another number of patches than the table)",
    ),
    "Dinov2PatchEmbeddings": dataflow(_Channels(), run("projection"), to_tokens()),
    "Dinov2Encoder": dataflow(chain("layer", checkpointed=True)),
    "Dinov2Layer": dataflow(
        *transformers.pre_norm(("norm1", "attention", "layer_scale1"), ("norm2", "mlp", "layer_scale2"))
    ),
    "Dinov2Attention": _ENCODER_ATTENTION,
    "Dinov2LayerScale": dataflow(multiply_param("lambda1"), note="x · lambda1 (no MACs)"),
    "Dinov2MLP": in_order,
    "Dinov2SwiGLUFFN": decoders.RULES["LlamaMLP"],  # down_proj(silu(gate_proj(x)) · up_proj(x))
}


_MASKED_LM: Final = {
    "BertForMaskedLM": dataflow(transformers.tokens(), run("bert"), run("cls")),
    "BertOnlyMLMHead": in_order,
    "BertLMPredictionHead": dataflow(run("transform"), run("decoder")),
    "BertPredictionHeadTransform": in_order,
    "RobertaForMaskedLM": dataflow(transformers.tokens(), run("roberta"), run("lm_head")),
    "RobertaLMHead": in_order,
}


# --- task heads -----------------------------------------------------------------------------------------------

CLASSIFICATION_HEAD: Final = dataflow(
    select(), run("dense"), run("out_proj"), note="the first token's hidden state: dense, activation, out_proj"
)
"""RoBERTa's ``ClassificationHead`` and its copies (XLM-RoBERTa, ELECTRA, MPNet)."""
_FIRST_TOKEN_CLASSIFIER: Final = (select(), run("pre_classifier"), run("classifier"))
"""DistilBERT's: ``classifier(dropout(relu(pre_classifier(hidden[:, 0]))))``."""
_COMMON_HEADS: Final = {
    "ForTokenClassification": transformers.TOKEN_CLASSIFIER,
    "ForQuestionAnswering": transformers.ANSWER_SPAN,
}
_PRE_TRAINING_HEADS: Final = dataflow(
    member("pooler_output", "x", "pooled"),
    member(""),
    run("predictions"),
    run("seq_relationship", "pooled", "pooled"),
    also("seq_relationship_logits", "pooled"),
    note="the masked-LM scores of every token; is-next scores of the pooled first token",
)


def _head_rules() -> dict[str, Rule]:
    rules: dict[str, Rule] = {
        **transformers.heads(
            "Bert",
            "bert",
            ForSequenceClassification=transformers.POOLED_CLASSIFIER,
            ForMultipleChoice=transformers.POOLED_CLASSIFIER,
        ),
        **transformers.heads("Bert", "bert", ForNextSentencePrediction=(member("pooler_output"), run("cls"))),
        "BertLMHeadModel": _MASKED_LM["BertForMaskedLM"],  # a causal mask counts the same
        "BertForPreTraining": _MASKED_LM["BertForMaskedLM"],
        "BertPreTrainingHeads": _PRE_TRAINING_HEADS,
        "BertOnlyNSPHead": in_order,
        **transformers.heads(
            "Albert",
            "albert",
            ForSequenceClassification=transformers.POOLED_CLASSIFIER,
            ForMultipleChoice=transformers.POOLED_CLASSIFIER,
        ),
        "AlbertForPreTraining": dataflow(
            transformers.tokens(),
            run("albert"),
            member("pooler_output", "x", "pooled"),
            member(""),
            run("predictions"),
            run("sop_classifier", "pooled", "pooled"),
            also("sop_logits", "pooled"),
        ),
        "AlbertSOPHead": in_order,
        **transformers.heads("DistilBert", "distilbert", ForSequenceClassification=_FIRST_TOKEN_CLASSIFIER),
        **transformers.heads("DistilBert", "distilbert", ForMultipleChoice=_FIRST_TOKEN_CLASSIFIER),
        "ElectraForCausalLM": _ELECTRA_HEADS["ElectraForMaskedLM"],
        "ElectraForMultipleChoice": transformers.heads(
            "Electra", "electra", ForMultipleChoice=(run("sequence_summary"), run("classifier"))
        )["ElectraForMultipleChoice"],
        "ElectraSequenceSummary": dataflow(select(), run("summary"), note="the first token: summary, activation"),
        "RobertaForCausalLM": _MASKED_LM["RobertaForMaskedLM"],
        "ViTForImageClassification": dataflow(
            run("vit"), select(), run("classifier"), note="the class token's hidden state, classified"
        ),
        "Dinov2ForImageClassification": dataflow(
            run("dinov2"),
            member("pooler_output", "x", "cls"),
            select("x", "mean"),
            concat("x", "cls", "mean"),
            run("classifier"),
            note="the class token beside the mean of the patch tokens (no MACs), classified",
        ),
        "XLMRobertaForCausalLM": _ELECTRA_HEADS["XLMRobertaForMaskedLM"],
    }
    for prefix, base in (("Bert", "bert"), ("Albert", "albert"), ("DistilBert", "distilbert"), ("Electra", "electra")):
        rules |= transformers.heads(prefix, base, **_COMMON_HEADS)
    for prefix in ("Roberta", "XLMRoberta"):
        rules |= transformers.heads(
            prefix, "roberta", ForMultipleChoice=transformers.POOLED_CLASSIFIER, **_COMMON_HEADS
        )
    for prefix, base in (("Roberta", "roberta"), ("XLMRoberta", "roberta"), ("Electra", "electra")):
        rules |= transformers.heads(prefix, base, ForSequenceClassification=(run("classifier"),))
        rules[f"{prefix}ClassificationHead"] = CLASSIFICATION_HEAD
    return rules


RULES: Final[dict[str, Rule]] = {
    **_bert_rules(), **_MASKED_LM, **_DISTILBERT, **_VIT, **_ALBERT, **_ELECTRA_HEADS, **_DINOV2, **_head_rules()
}  # fmt: skip
"""Shape rules of transformers' encoder classes, by kind."""

HEADS: Final = (
    "ForMaskedLM", "ForPreTraining", "ForCausalLM", "LMHeadModel", "ForSequenceClassification", "ForMultipleChoice",
    "ForTokenClassification", "ForQuestionAnswering", "ForNextSentencePrediction",
)  # fmt: skip
"""The task heads of transformers' text encoders that read token ids."""
TOKEN_INPUTS: Final = frozenset(
    {kind for kind in RULES if kind.endswith(HEADS)}
    | {"BertModel", "RobertaModel", "XLMRobertaModel", "ElectraModel", "AlbertModel", "DistilBertModel"}
)
"""Encoder kinds whose forward reads token ids (batch, sequence)."""
