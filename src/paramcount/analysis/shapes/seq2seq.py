"""Dataflow of transformers' encoder-decoders (BART, T5): the encoder reads the source tokens, the decoder the
target tokens with cross-attention to the encoder's output. Conventions in ``transformers.py``."""

from __future__ import annotations

from paramcount._record import replace
from paramcount.analysis.shapes.flow import (
    Step,
    Tally,
    add,
    attention,
    chain,
    child_of,
    dataflow,
    in_order,
    multiply,
    run,
)
from paramcount.analysis.shapes.transformers import embedding_subclass, fits, rms_norm
from paramcount.analysis.shapes.types import Flow, Outcome, format_shape

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Final

    from paramcount.analysis.shapes.flow import Values
    from paramcount.analysis.shapes.types import Call, Rule

__all__ = ["ENCODER_STATES", "RULES", "SOURCE_AND_TARGET_INPUTS"]


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
    "BartScaledWordEmbedding": embedding_subclass,
    "BartLearnedPositionalEmbedding": embedding_subclass,
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
    "T5LayerNorm": rms_norm,
}


RULES: Final[dict[str, Rule]] = _ENCODER_DECODERS
"""Shape rules of transformers' encoder-decoder classes, by kind."""

SOURCE_AND_TARGET_INPUTS: Final = frozenset(
    {"BartModel", "BartForConditionalGeneration", "T5Model", "T5ForConditionalGeneration"}
)
"""Kinds that read (batch, source) or (batch, source, target) token ids."""
