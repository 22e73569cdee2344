"""Dataflow of transformers' speech encoders: wav2vec 2.0 and HuBERT (``modeling_wav2vec2.py``,
``modeling_hubert.py``, transformers 5.24). Conventions in ``transformers.py``.

Input convention: the raw waveform, ``input_values`` of shape (batch, samples), as the feature extractor hands it to
``forward`` (16,000 samples a second for the shipped models: ``--input 1,16000`` is one second). The convolutional
feature encoder turns it into frames, ⌊(samples - kernel)/stride⌋ + 1 per layer (49 frames a second for the base
models' seven layers; 400 samples at least), which the Transformer encoder attends over. A forward pass in
evaluation mode: in training, LayerDrop (``layerdrop``) skips each encoder layer at random and SpecAugment replaces
masked frames (no products), and the first convolution's input requires a gradient (the feature encoder sets it for
gradient checkpointing), which the backward count includes.
"""

from __future__ import annotations

from paramcount.analysis.shapes import seq2seq
from paramcount.analysis.shapes.common import NotModelledError
from paramcount.analysis.shapes.conv import RULES as _CONV_RULES
from paramcount.analysis.shapes.flow import (
    Step,
    Tally,
    add,
    chain,
    child_of,
    dataflow,
    in_order,
    run,
    transpose,
)
from paramcount.analysis.shapes.transformers import post_norm, pre_norm
from paramcount.analysis.shapes.types import Flow, Outcome, format_shape

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Final

    from paramcount.analysis.shapes.flow import Values
    from paramcount.analysis.shapes.types import Call, Rule

__all__ = ["RULES"]


class _Waveform(Step):
    """``input_values[:, None]``: the (batch, samples) waveform as one channel, (batch, 1, samples); in training the
    feature encoder makes it require a gradient."""

    def apply(self, call: Call, values: Values, tally: Tally) -> None:
        flow = values["x0"]
        if flow is None:
            return
        if len(flow.shape) != 2:
            raise call.fail(f"expects raw audio of shape (batch, samples), got {format_shape(flow.shape)}")
        values["x"] = Flow((flow.shape[0], 1, flow.shape[1]), grad=True)


class _SamePad(Step):
    """``<kind>SamePadLayer``: the position convolution pads kernel//2 on each side, so an even kernel gives one
    frame too many, which is dropped (``hidden_states[:, :, :-1]``)."""

    def apply(self, call: Call, values: Values, tally: Tally) -> None:
        flow, conv = values["x"], child_of(call.module, "conv")
        if flow is None or conv is None:
            return
        kernel = conv.arg("kernel_size")
        if not isinstance(kernel, tuple) or not kernel or not isinstance(kernel[0], int):
            raise NotModelledError("its conv's kernel_size is not known")
        if kernel[0] % 2 == 0:
            values["x"] = Flow((*flow.shape[:-1], flow.shape[-1] - 1), grad=flow.grad)


class _Halve(Step):
    """``nn.functional.glu(x, dim=1)``: half of the channels gates the other half (no MACs)."""

    def apply(self, call: Call, values: Values, tally: Tally) -> None:
        flow = values["x"]
        if flow is not None:
            if len(flow.shape) < 2 or flow.shape[1] % 2:
                raise call.fail(f"halves an even number of channels (dim 1) with a GLU, got {format_shape(flow.shape)}")
            values["x"] = Flow((flow.shape[0], flow.shape[1] // 2, *flow.shape[2:]), grad=flow.grad)


class _MeanOverFrames(Step):
    """``hidden_states.mean(dim=1)``: one vector per utterance (no MACs)."""

    def apply(self, call: Call, values: Values, tally: Tally) -> None:
        flow = values["x"]
        if flow is not None:
            if len(flow.shape) != 3:
                raise call.fail(f"averages (batch, frames, width) over frames, got {format_shape(flow.shape)}")
            values["x"] = Flow((flow.shape[0], flow.shape[2]), grad=flow.grad)


def _weight_normed_convolution(call: Call, flow: Flow) -> Outcome:
    """torch's ``ParametrizedConv1d`` (``weight_norm(conv, dim=2)``): the weight is computed from ``original0`` (g)
    and ``original1`` (v) as g·v/‖v‖, elementwise, then the convolution runs as Conv1d."""
    call.skip("parametrizations", "computes the convolution's weight, g·v/‖v‖, from its two parameters (elementwise)")
    return _CONV_RULES["Conv1d"](call, flow)


_ATTENTION: Final = seq2seq.RULES["BartAttention"]  # q_proj, k_proj, v_proj, bidirectional attention, out_proj
_POST_NORM_LAYER: Final = dataflow(*post_norm(("attention", "layer_norm"), ("feed_forward", "final_layer_norm")))
_STABLE_SUBLAYERS: Final = pre_norm(("layer_norm", "attention"), ("final_layer_norm", "feed_forward"))
_STABLE_NOTE: Final = "do_stable_layer_norm: each sublayer's input is normalised (pre-norm)"
_STABLE_LAYER: Final = dataflow(*_STABLE_SUBLAYERS, note=_STABLE_NOTE)
_ADAPTED_STABLE_LAYER: Final = dataflow(
    *_STABLE_SUBLAYERS,
    run("adapter_layer", "x", "y"),
    add("x", "x", "y", what="add the adapter's output"),
    note=_STABLE_NOTE,
)


def _stable_layer(call: Call, flow: Flow) -> Outcome:
    """A pre-norm layer, plus ``x + adapter_layer(x)`` with ``adapter_attn_dim``."""
    adapted = child_of(call.module, "adapter_layer") is not None
    return (_ADAPTED_STABLE_LAYER if adapted else _STABLE_LAYER)(call, flow)


_POSITIONS: Final = dataflow(
    transpose(),
    run("batch_norm", optional=True),
    run("conv"),
    _SamePad(),
    transpose(),
    note="a grouped convolution over time (kernel num_conv_pos_embeddings), gelu; HuBERT's conv_pos_batch_norm first",
)


def _speech_family(kind: str, base: str) -> dict[str, Rule]:
    """The classes of one family (``Wav2Vec2``, ``Hubert``), its heads reading the base model ``base``."""
    return {
        f"{kind}Model": dataflow(
            run("feature_extractor"),
            transpose(),
            run("feature_projection"),
            run("encoder"),
            run("adapter", optional=True),
            note="input_values: the raw waveform (batch, samples); the encoder attends over the feature frames",
        ),
        f"{kind}FeatureEncoder": dataflow(_Waveform(), chain("conv_layers", checkpointed=True)),
        f"{kind}GroupNormConvLayer": in_order,
        f"{kind}NoLayerNormConvLayer": in_order,
        f"{kind}LayerNormConvLayer": dataflow(run("conv"), transpose(), run("layer_norm"), transpose()),
        f"{kind}FeatureProjection": in_order,
        f"{kind}Encoder": dataflow(
            run("pos_conv_embed", "x0", "p"),
            add("x", "x0", "p", what="add the position embeddings"),
            run("layer_norm"),
            chain("layers", checkpointed=True),
        ),
        f"{kind}EncoderStableLayerNorm": dataflow(
            run("pos_conv_embed", "x0", "p"),
            add("x", "x0", "p", what="add the position embeddings"),
            chain("layers", checkpointed=True),
            run("layer_norm"),
        ),
        f"{kind}PositionalConvEmbedding": _POSITIONS,
        f"{kind}EncoderLayer": _POST_NORM_LAYER,
        f"{kind}EncoderLayerStableLayerNorm": _stable_layer,
        f"{kind}Attention": _ATTENTION,
        f"{kind}FeedForward": in_order,
        f"{kind}AttnAdapterLayer": in_order,
        f"{kind}ForCTC": dataflow(run(base), run("lm_head"), note="CTC logits for every frame"),
        f"{kind}ForSequenceClassification": dataflow(
            run(base),
            run("projector"),
            _MeanOverFrames(),
            run("classifier"),
            note="the projected frames averaged over time, then classified (use_weighted_layer_sum: no products)",
        ),
    }


RULES: Final[dict[str, Rule]] = {
    **_speech_family("Wav2Vec2", "wav2vec2"),
    **_speech_family("Hubert", "hubert"),
    "Wav2Vec2ForAudioFrameClassification": dataflow(run("wav2vec2"), run("classifier"), note="logits for every frame"),
    "Wav2Vec2Adapter": dataflow(
        run("proj", optional=True),
        run("proj_layer_norm", optional=True),
        transpose(),
        chain("layers"),
        transpose(),
        note="add_adapter: num_adapter_layers strided convolutions over time (adapter_stride), each with a GLU",
    ),
    "Wav2Vec2AdapterLayer": dataflow(run("conv"), _Halve(), note="conv then a GLU over the channels"),
    "ParametrizedConv1d": _weight_normed_convolution,
}
"""Shape rules of transformers' wav2vec 2.0 and HuBERT classes, by kind."""
