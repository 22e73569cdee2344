"""Dataflow of transformers' encoder-decoders (BART, mBART, Marian, Pegasus, T5, mT5, UMT5, Whisper): the encoder
reads the source tokens (Whisper: log-mel features), the decoder the target tokens with cross-attention to the
encoder's output. Marian's, mBART's and Pegasus' ``*ForCausalLM`` run the decoder alone, its layers skipping their
cross-attention. Conventions in ``transformers.py``.

Input conventions: a text encoder-decoder reads (batch, source) token ids, the decoder as many, or (batch,
source, target). Whisper reads (batch, target) decoder token ids: its encoder only accepts its fixed 30 s window
(transformers refuses any other length), so the encoder's input is implied, the log-mel features
(batch, num_mel_bins, 2·max_source_positions) = (batch, 80 or 128, 3000)."""

from __future__ import annotations

from paramcount._record import replace
from paramcount.analysis.shapes import transformers
from paramcount.analysis.shapes.common import NotModelledError, int_arg
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
    to_tokens,
)
from paramcount.analysis.shapes.types import Flow, Outcome, format_shape

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Final

    from paramcount.analysis.shapes.flow import Values
    from paramcount.analysis.shapes.types import Call, Rule
    from paramcount.tree import Module

__all__ = ["CROSS", "ENCODER_STATES", "RULES", "SOURCE_AND_TARGET_INPUTS", "SPEECH_INPUTS", "TOKEN_INPUTS"]


# --- encoder-decoders: BART, mBART, Marian, Pegasus, T5, mT5, UMT5, Whisper -----------------------------------

ENCODER_STATES: Final = "encoder_hidden_states"
CAUSAL_MASK: Final = "attention_mask"
"""``Flow.context`` key of a decoder run alone (the ``*ForCausalLM``): its layers' causal mask, and no encoder
output."""
CROSS: Final = "cross"
"""How a decoder layer calls its cross-attention (``FlowLink.options``): queries from the decoder, keys and values
from the encoder's output."""


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


class _SpeechAndTarget(Step):
    """Whisper's input: (batch, target) decoder token ids; the encoder reads the log-mel features of its fixed
    window, (batch, conv1's in_channels, embed_positions' rows · both convolutions' strides)."""

    def apply(self, call: Call, values: Values, tally: Tally) -> None:
        flow = values["x0"]
        if flow is None:
            values["source"] = values["target"] = None
            return
        if len(flow.shape) != 2:
            raise call.fail(f"expects (batch, target) decoder token ids (the encoder reads its fixed 30 s window of "
                            f"log-mel features), got {format_shape(flow.shape)}")  # fmt: skip
        encoder = child_of(call.module, "encoder")
        if encoder is None:
            raise NotModelledError("it has no member 'encoder'")
        values["source"] = Flow((flow.shape[0], *_features(encoder)))
        values["target"] = flow


def _features(encoder: Module) -> tuple[int, int]:
    """(mel bins, frames) that Whisper's encoder accepts: ``max_source_positions · conv1.stride · conv2.stride``
    frames, as ``WhisperEncoder.forward`` requires."""
    convs = [child_of(encoder, name) for name in ("conv1", "conv2")]
    table = child_of(encoder, "embed_positions")
    if convs[0] is None or convs[1] is None or table is None:
        raise NotModelledError("its encoder lacks conv1, conv2 or embed_positions")
    frames = int_arg(table, "num_embeddings") * int_arg(convs[0], "stride") * int_arg(convs[1], "stride")
    return int_arg(convs[0], "in_channels"), frames


class _Frames(Step):
    def apply(self, call: Call, values: Values, tally: Tally) -> None:
        flow = values["x0"]
        if flow is None:
            return
        mels, frames = _features(call.module)
        if len(flow.shape) != 3 or flow.shape[1:] != (mels, frames):
            raise call.fail(f"expects log-mel features (batch, {mels}, {frames}) (Whisper pads every input to its "
                            f"{frames}-frame window), got {format_shape(flow.shape)}")  # fmt: skip


class _Positions(Step):
    """The position ids a position table is called with: ``arange(L)`` of shape (L,) for a (batch, L, …) input,
    or, with ``every``, all the table's rows (Whisper's encoder adds ``embed_positions(arange(rows))``)."""

    source: str
    target: str
    every: bool

    def apply(self, call: Call, values: Values, tally: Tally) -> None:
        flow = values[self.source]
        if flow is None:
            values[self.target] = None
        elif self.every:
            table = child_of(call.module, "embed_positions")
            if table is None:
                raise NotModelledError("it has no member 'embed_positions'")
            values[self.target] = Flow((int_arg(table, "num_embeddings"),))
        else:
            values[self.target] = Flow((flow.shape[1],))


def _encoder_decoder(*, skip: str = "", head: str = "", inputs: Step | None = None, after: Step | None = None) -> Rule:
    """``shared`` is the token table the encoder and decoder call as their ``embed_tokens`` (one tensor): the
    model's forward never calls it by that name. ``after``: a step on the head's output."""
    steps = [
        inputs or _SourceAndTarget(),
        run("encoder", "source", "encoded"),
        _WithEncoderStates(),
        run("decoder", "target", "x"),
    ]
    rule = dataflow(*steps, *([run(head)] if head else []), *([after] if after else []))

    def with_shared(call: Call, flow: Flow) -> Outcome:
        if skip and child_of(call.module, skip) is not None:
            call.skip(skip, "the encoder and the decoder call this table as their embed_tokens")
        return _without_context(rule(call, flow))

    return with_shared


def _without_context(outcome: Outcome) -> Outcome:
    """The outcome of a model whose decoder's flow carried a context: the context stays inside the decoder."""
    output = outcome.output
    return outcome if output is None else replace(outcome, output=replace(output, context=()))


class _CausalMask(Step):
    """A decoder run alone (no encoder output): its (batch, L) token ids, carrying the causal mask
    (batch, 1, L, L) that ``create_causal_mask`` builds and every layer's self-attention reads."""

    def apply(self, call: Call, values: Values, tally: Tally) -> None:
        flow = values["x0"]
        if flow is not None:
            batch, length = flow.shape[0], flow.shape[-1]
            values["x"] = replace(flow, context=((CAUSAL_MASK, (batch, 1, length, length)),))


_DECODER_ALONE: Final = dataflow(
    _CausalMask(),
    run("decoder"),
    note="the ForCausalLM calls model.decoder directly, as this wrapper's forward does",
)


def _decoder_wrapper(call: Call, flow: Flow) -> Outcome:
    """``*DecoderWrapper``: the decoder without encoder states, so each layer skips its cross-attention."""
    return _without_context(_DECODER_ALONE(call, flow))


def _decoder_only(prefix: str) -> dict[str, Rule]:
    """``{prefix}ForCausalLM``, the decoder of a BART-style model alone: ``lm_head(model.decoder(input_ids)[0])``
    on (batch, sequence) token ids, no ``final_logits_bias``."""
    return {
        f"{prefix}ForCausalLM": dataflow(transformers.tokens(), run("model"), run("lm_head")),
        f"{prefix}DecoderWrapper": _decoder_wrapper,
    }


class _CrossKeys(Step):
    """Keys and values read the encoder's output (the flow's ``encoder_hidden_states``)."""

    def apply(self, call: Call, values: Values, tally: Tally) -> None:
        flow = values["x0"]
        states = dict(flow.context).get(ENCODER_STATES) if flow is not None else None
        if flow is not None and states is None:
            raise call.fail("is a cross-attention without the encoder's output to attend to")
        values["memory"] = None if states is None else Flow(states, grad=True)


def _kv_attention(query: str, key: str, value: str, output: str, *, bias: str = "") -> Rule:
    """Self-attention (causal in a decoder, which is where the flow carries a context: the encoder's states, or
    the causal mask of a decoder alone) or, when the parent calls it with ``cross``, attention from the input's
    queries to the encoder's keys and values."""
    self_causal = transformers.self_attention(query, key, value, output)
    self_full = transformers.self_attention(query, key, value, output, causal=False)
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
        if CROSS in call.options:
            return cross(call, flow)
        return (self_causal if flow.context else self_full)(call, flow)

    return rule


_BART_ATTENTION: Final = _kv_attention("q_proj", "k_proj", "v_proj", "out_proj")
_BART_CODER: Final = dataflow(
    transformers.fits("embed_positions", 2),
    run("embed_tokens", "x0", "x"),
    run("embed_positions", "x0", "p"),
    add("x", "x", "p", what="add the position embeddings"),
    run("layernorm_embedding"),
    chain("layers", checkpointed=True),
    run("layer_norm", optional=True),
)
_POST_NORM_SELF: Final = transformers.post_norm(("self_attn", "self_attn_layer_norm"))
_POST_NORM_FEED_FORWARD: Final = transformers.post_norm(("fc1", "fc2", "final_layer_norm"))
_BART_ENCODER_LAYER: Final = dataflow(*_POST_NORM_SELF, *_POST_NORM_FEED_FORWARD)


def _decoder_layer(self_attention: tuple[Step, ...], cross: tuple[Step, ...], feed_forward: tuple[Step, ...]) -> Rule:
    """A decoder layer: its self-attention, ``cross``-attention and feed-forward blocks on a flow that carries the
    encoder's output; without one (a decoder run alone, the ``*ForCausalLM``) its forward skips the
    cross-attention block, norm included: the encoder layer's steps, with causal self-attention."""
    with_cross = dataflow(*self_attention, *cross, *feed_forward)
    alone = dataflow(*self_attention, *feed_forward)

    def rule(call: Call, flow: Flow) -> Outcome:
        if ENCODER_STATES in dict(flow.context):
            return with_cross(call, flow)
        for name in ("encoder_attn_layer_norm", "encoder_attn"):
            call.skip(name, "the layer runs its cross-attention block only on encoder_hidden_states, given none")
        return alone(call, flow)

    return rule


_BART_DECODER_LAYER: Final = _decoder_layer(
    _POST_NORM_SELF,
    (
        run("encoder_attn", "x", "c", options=CROSS),
        add("x", "x", "c", what="add the residual"),
        run("encoder_attn_layer_norm"),
    ),
    _POST_NORM_FEED_FORWARD,
)
_PRE_NORM_SELF: Final = transformers.pre_norm(("self_attn_layer_norm", "self_attn"))
_PRE_NORM_FEED_FORWARD: Final = transformers.pre_norm(("final_layer_norm", "fc1", "fc2"))
_PRE_NORM_ENCODER_LAYER: Final = dataflow(*_PRE_NORM_SELF, *_PRE_NORM_FEED_FORWARD)
"""mBART's, Pegasus' and Whisper's layers normalise each sublayer's input (the BART layers, their outputs)."""
_PRE_NORM_DECODER_LAYER: Final = _decoder_layer(
    _PRE_NORM_SELF,
    (
        run("encoder_attn_layer_norm", "x", "y"),
        run("encoder_attn", "y", options=CROSS),
        add("x", "x", "y", what="add the residual"),
    ),
    _PRE_NORM_FEED_FORWARD,
)
_SINUSOIDAL_CODER: Final = dataflow(
    transformers.fits("embed_positions"),
    run("embed_tokens", "x0", "x"),
    _Positions("x0", "p", every=False),
    run("embed_positions", "p", "p"),
    add("x", "x", "p", what="add the position embeddings"),
    chain("layers", checkpointed=True),
    run("layer_norm", optional=True),
)
"""Marian's and Pegasus' stacks: ``embed_positions`` is a fixed sinusoidal table looked up at ``arange(L)``."""
_WHISPER_ENCODER: Final = dataflow(
    _Frames(),
    run("conv1"),
    run("conv2"),
    to_tokens(),
    _Positions("x0", "p", every=True),
    run("embed_positions", "p", "p"),
    add("x", "x", "p", what="add the position embeddings"),
    chain("layers", checkpointed=True),
    run("layer_norm"),
    note="gelu(conv1(features)), gelu(conv2(·)) (stride 2), then (batch, positions, width) plus every position",
)
_WHISPER_DECODER: Final = dataflow(
    transformers.fits("embed_positions"),
    run("embed_tokens", "x0", "x"),
    run("embed_positions", "x0", "p"),
    add("x", "x", "p", what="add the position embeddings"),
    chain("layers", checkpointed=True),
    run("layer_norm"),
)


def _table_rows(call: Call, flow: Flow) -> Outcome:
    """``WhisperPositionalEmbedding``: ``weight[:L]`` for (batch, L) token ids, (L, width); a slice, no MACs."""
    if len(flow.shape) != 2:
        raise call.fail(f"expects (batch, sequence) token ids, got {format_shape(flow.shape)}")
    return Outcome(Flow((flow.shape[1], int_arg(call.module, "embedding_dim"))), 0, (), "rows 0 to L-1 of its weight")


_T5_STACK: Final = dataflow(run("embed_tokens"), chain("block", checkpointed=True), run("final_layer_norm"))
_T5_SELF: Final = dataflow(*transformers.pre_norm(("layer_norm", "SelfAttention")))
_T5_CROSS: Final = dataflow(
    run("layer_norm", "x0", "y"),
    run("EncDecAttention", "y", options=CROSS),
    add("x", "x0", "y", what="add the residual"),
)
_T5_FF: Final = dataflow(*transformers.pre_norm(("layer_norm", "DenseReluDense")))
_T5_GATED: Final = dataflow(
    run("wi_0", "x0", "gate"), run("wi_1", "x0", "up"), multiply("x", "gate", "up"), run("wo"),
    note="act(wi_0(x)) · wi_1(x), then wo",
)  # fmt: skip


def _t5_family(prefix: str) -> dict[str, Rule]:
    """T5's classes under ``prefix`` (mT5 copies them; UMT5's attention has its own relative bias in every
    self-attention, which the rule reads from the child's presence)."""
    return {
        f"{prefix}ForConditionalGeneration": _encoder_decoder(skip="shared", head="lm_head"),
        f"{prefix}Model": _encoder_decoder(skip="shared"),
        f"{prefix}Stack": _T5_STACK,
        f"{prefix}Block": dataflow(chain("layer")),
        f"{prefix}LayerSelfAttention": _T5_SELF,
        f"{prefix}LayerCrossAttention": _T5_CROSS,
        f"{prefix}LayerFF": _T5_FF,
        f"{prefix}Attention": _kv_attention("q", "k", "v", "o", bias="relative_attention_bias"),
        f"{prefix}DenseActDense": in_order,
        f"{prefix}DenseGatedActDense": _T5_GATED,
        f"{prefix}LayerNorm": transformers.rms_norm,
    }


def _bart_family(prefix: str, coder: Rule, encoder_layer: Rule, decoder_layer: Rule) -> dict[str, Rule]:
    """BART's classes under ``prefix`` (mBART, Marian, Pegasus copy them, with their own stacks and layers)."""
    return {
        f"{prefix}Model": _encoder_decoder(skip="shared"),
        f"{prefix}Encoder": coder,
        f"{prefix}Decoder": coder,
        f"{prefix}EncoderLayer": encoder_layer,
        f"{prefix}DecoderLayer": decoder_layer,
        f"{prefix}Attention": _BART_ATTENTION,
    }


class _EndOfSequence(Step):
    """``hidden[input_ids.eq(eos_token_id)].view(batch, -1, width)[:, -1]``: the decoder's state at each
    sequence's last end-of-sequence token, which the source marks, so source and target have one length."""

    def apply(self, call: Call, values: Values, tally: Tally) -> None:
        flow, ids = values["x"], values["x0"]
        if flow is None or ids is None:
            return
        if len(ids.shape) == 3 and ids.shape[1] != ids.shape[2]:
            raise call.fail(f"finds the source's end-of-sequence tokens in the decoder's states: source and target "
                            f"must have one length, got {format_shape(ids.shape)}")  # fmt: skip
        values["x"] = Flow((flow.shape[0], flow.shape[-1]), grad=flow.grad)


def _t5_encoder(call: Call, flow: Flow) -> Outcome:
    """``T5EncoderModel``: the encoder stack on the token ids (``shared`` is its ``embed_tokens``)."""
    if child_of(call.module, "shared") is not None:
        call.skip("shared", "the encoder calls this table as its embed_tokens")
    return _T5_ENCODER(call, flow)


_T5_ENCODER: Final = dataflow(transformers.tokens(), run("encoder"))


def _seq2seq_heads(prefix: str, base: str) -> dict[str, Rule]:
    """Sequence classification (the decoder's state at the last end-of-sequence token) and question answering on
    the decoder's states."""
    return {
        f"{prefix}ForSequenceClassification": dataflow(
            run(base), _EndOfSequence(), run("classification_head"), note="dense, tanh, out_proj"
        ),
        f"{prefix}ClassificationHead": in_order,
        f"{prefix}ForQuestionAnswering": dataflow(run(base), *transformers.ANSWER_SPAN),
    }


def _t5_heads(prefix: str) -> dict[str, Rule]:
    """mT5 and UMT5's heads: the encoder alone, token classification on it, and (on the whole model)
    sequence classification and question answering (``qa_outputs`` on the decoder's states)."""
    return {
        **_seq2seq_heads(prefix, "transformer"),
        f"{prefix}ForQuestionAnswering": _encoder_decoder(
            skip="shared", head="qa_outputs", after=transformers.start_end()
        ),
        f"{prefix}EncoderModel": _t5_encoder,
        **transformers.heads(prefix, "transformer", ForTokenClassification=transformers.TOKEN_CLASSIFIER),
    }


_LM_HEAD: Final = dataflow(run("model"), run("lm_head"))
"""``lm_head(model(…)[0])``, plus ``final_logits_bias`` where the class has it (a broadcast add, no MACs)."""

_ENCODER_DECODERS: Final[dict[str, Rule]] = {
    "BartForConditionalGeneration": _LM_HEAD,
    **_bart_family("Bart", _BART_CODER, _BART_ENCODER_LAYER, _BART_DECODER_LAYER),
    "BartScaledWordEmbedding": transformers.embedding_subclass,
    "BartLearnedPositionalEmbedding": transformers.embedding_subclass,
    "MBartForConditionalGeneration": _LM_HEAD,
    **_bart_family("MBart", _BART_CODER, _PRE_NORM_ENCODER_LAYER, _PRE_NORM_DECODER_LAYER),
    "MBartScaledWordEmbedding": transformers.embedding_subclass,
    "MBartLearnedPositionalEmbedding": transformers.embedding_subclass,
    **_decoder_only("MBart"),
    "MarianMTModel": _LM_HEAD,
    **_bart_family("Marian", _SINUSOIDAL_CODER, _BART_ENCODER_LAYER, _BART_DECODER_LAYER),
    "MarianSinusoidalPositionalEmbedding": transformers.embedding_subclass,
    **_decoder_only("Marian"),
    "PegasusForConditionalGeneration": _LM_HEAD,
    **_bart_family("Pegasus", _SINUSOIDAL_CODER, _PRE_NORM_ENCODER_LAYER, _PRE_NORM_DECODER_LAYER),
    "PegasusSinusoidalPositionalEmbedding": transformers.embedding_subclass,
    **_decoder_only("Pegasus"),
    **_t5_family("T5"),
    **_t5_family("MT5"),
    **_t5_family("UMT5"),
    "T5EncoderModel": _t5_encoder,
    **_t5_heads("MT5"),
    **_t5_heads("UMT5"),
    "BartForSequenceClassification": _seq2seq_heads("Bart", "model")["BartForSequenceClassification"],
    "BartClassificationHead": in_order,
    **_seq2seq_heads("MBart", "model"),
    "WhisperForConditionalGeneration": dataflow(run("model"), run("proj_out")),
    "WhisperModel": _encoder_decoder(inputs=_SpeechAndTarget()),
    "WhisperEncoder": _WHISPER_ENCODER,
    "WhisperDecoder": _WHISPER_DECODER,
    "WhisperEncoderLayer": _PRE_NORM_ENCODER_LAYER,
    "WhisperDecoderLayer": _PRE_NORM_DECODER_LAYER,
    "WhisperAttention": _BART_ATTENTION,
    "WhisperPositionalEmbedding": _table_rows,
}


RULES: Final[dict[str, Rule]] = _ENCODER_DECODERS
"""Shape rules of transformers' encoder-decoder classes, by kind."""

SOURCE_AND_TARGET_INPUTS: Final = frozenset(
    {
        *(f"{prefix}Model" for prefix in ("Bart", "MBart", "Marian", "Pegasus", "T5", "MT5", "UMT5")),
        *(f"{prefix}ForConditionalGeneration" for prefix in ("Bart", "MBart", "Pegasus", "T5", "MT5", "UMT5")),
        "MarianMTModel",
        "BartForSequenceClassification",
        *(
            f"{prefix}For{head}"
            for prefix in ("MBart", "MT5", "UMT5")
            for head in ("SequenceClassification", "QuestionAnswering")
        ),
    }
)
"""Kinds that read (batch, source) or (batch, source, target) token ids."""

TOKEN_INPUTS: Final = frozenset(
    {
        *("T5EncoderModel", "MT5EncoderModel", "UMT5EncoderModel", "MT5ForTokenClassification"),
        *("UMT5ForTokenClassification", "MarianForCausalLM", "MBartForCausalLM", "PegasusForCausalLM"),
    }
)
"""The encoders of T5's family alone and the decoders of Marian, mBART and Pegasus alone, which read (batch,
sequence) token ids."""

SPEECH_INPUTS: Final = frozenset({"WhisperModel", "WhisperForConditionalGeneration"})
"""Kinds that read (batch, target) decoder token ids, the encoder at its fixed window of log-mel features."""
