"""Dataflow of transformers' speech encoders: wav2vec 2.0 and HuBERT (``modeling_wav2vec2.py``,
``modeling_hubert.py``, transformers 5.24). Conventions in ``transformers.py``.

Input convention: the raw waveform, ``input_values`` of shape (batch, samples), as the feature extractor hands it to
``forward`` (16,000 samples a second for the shipped models: ``--input 1,16000`` is one second). The convolutional
feature encoder turns it into frames, ⌊(samples - kernel)/stride⌋ + 1 per layer (49 frames a second for the base
models' seven layers; 400 samples at least), which the Transformer encoder attends over. A forward pass in
evaluation mode: in training, LayerDrop (``layerdrop``) skips each encoder layer at random and SpecAugment replaces
masked frames (no products), and the first convolution's input requires a gradient (the feature encoder sets it for
gradient checkpointing), which the backward count includes.

The heads' own products: the x-vector head's TDNN layers are dilated convolutions over time (``F.conv1d`` with
their ``kernel`` Linear's weight); its statistics pooling (mean and standard deviation over frames) and the
pre-training quantizer's codevector selection (a one-hot choice per group, by argmax in evaluation and by a hard
Gumbel-softmax sample in training, multiplied elementwise into the codebook) multiply no matrices. The pre-training
model's contrastive logits (cosine similarities, elementwise) run only when ``sampled_negative_indices`` is given.
"""

from __future__ import annotations

from paramcount._record import replace
from paramcount.analysis.flops import macs_step
from paramcount.analysis.shapes import seq2seq
from paramcount.analysis.shapes.common import NotModelledError, int_arg
from paramcount.analysis.shapes.conv import RULES as _CONV_RULES
from paramcount.analysis.shapes.flow import (
    Step,
    Tally,
    activation,
    add,
    also,
    chain,
    child_of,
    dataflow,
    in_order,
    member,
    param_sizes,
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
    from paramcount.tree import Module

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


class _StatisticsPooling(Step):
    """``torch.cat([x.mean(dim=1), x.std(dim=1)], dim=-1)``: each utterance's mean and standard deviation over
    frames side by side (no MACs)."""

    def apply(self, call: Call, values: Values, tally: Tally) -> None:
        flow = values["x"]
        if flow is not None:
            if len(flow.shape) != 3:
                raise call.fail(f"pools (batch, frames, width) over frames, got {format_shape(flow.shape)}")
            values["x"] = Flow((flow.shape[0], 2 * flow.shape[2]), grad=flow.grad)


class _Skip(Step):
    """A member the forward does not call for the inputs modelled (a loss that needs labels)."""

    child: str
    reason: str

    def apply(self, call: Call, values: Values, tally: Tally) -> None:
        call.skip(self.child, self.reason)


def _fact(module: Module, name: str) -> int:
    value = dict(module.attributes).get(name)
    if not isinstance(value, int):
        raise NotModelledError(f"its {name} is not known")
    return value


def _time_delay(call: Call, flow: Flow) -> Outcome:
    """``TDNNLayer``: ``F.conv1d`` over time with ``kernel``'s weight viewed as (out, in, kernel_size) and its
    ``dilation`` (no padding: ``dilation·(kernel_size-1)`` frames fewer), then ReLU. ``kernel`` itself is never
    called; its weight's products are counted here."""
    kernel = child_of(call.module, "kernel")
    if kernel is None:
        raise NotModelledError("it has no member 'kernel'")
    size, dilation = _fact(call.module, "kernel_size"), _fact(call.module, "dilation")
    stacked, out = int_arg(kernel, "in_features"), int_arg(kernel, "out_features")
    width = stacked // size
    if len(flow.shape) != 3 or flow.shape[2] != width:
        raise call.fail(f"expects frames (batch, frames, {width}), got {format_shape(flow.shape)}")
    batch, frames, _ = flow.shape
    kept = frames - dilation * (size - 1)
    if kept < 1:
        raise call.fail(f"convolves {frames} frames with a kernel of {size} at dilation {dilation}, which needs "
                        f"{dilation * (size - 1) + 1}")  # fmt: skip
    call.skip("kernel", "its weight is convolved over time by the TDNN layer (F.conv1d), counted there")
    macs, step = macs_step(("batch", "frames_out", "out", "in", "kernel_size"), (batch, kept, out, width, size))
    weights = any(param.trainable for param in kernel.params)
    note = f"frames_out = {frames} - {dilation}·({size}-1) = {kept}"
    steps = (replace(step, name="MACs (conv1d with kernel.weight)"),)
    backward = macs * (int(weights) + int(flow.grad))
    return Outcome(Flow((batch, kept, out), grad=flow.grad or weights), macs, steps, note, backward_macs=backward)


def _gumbel_quantizer(call: Call, flow: Flow) -> Outcome:
    """``Wav2Vec2GumbelVectorQuantizer``: ``weight_proj`` scores each frame against every codevector of each of the
    ``num_codevector_groups`` groups; one codevector per group is chosen (a one-hot row: argmax in evaluation, a
    hard Gumbel-softmax sample in training), multiplied elementwise into ``codevectors`` and summed, and the groups'
    choices concatenated: (batch, frames, codevector_dim). The perplexity beside it is a scalar."""
    groups = _fact(call.module, "num_codevector_groups")
    _, entries, width = param_sizes(call.module, "codevectors")
    scores = call.child("weight_proj", flow)
    if scores is None:
        return Outcome(None)
    if len(scores.shape) != 3 or scores.shape[2] != entries:
        raise call.fail(f"expects frames (batch, frames, …) scored against {entries} codevectors")
    shape = (scores.shape[0], scores.shape[1], groups * width)
    note = "one codevector per group chosen (one-hot) and gathered elementwise (no MACs)"
    return Outcome(Flow(shape, (("codevector_perplexity", ()),), grad=True), note=note)


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
            run("feature_projection", "x", "h"),
            run("encoder", "h"),
            run("adapter", "h", optional=True),
            *((also("extract_features", "x", "h"),) if kind == "Wav2Vec2" else ()),
            output="h",
            note="input_values: the raw waveform (batch, samples); the encoder attends over the feature frames",
        ),
        f"{kind}FeatureEncoder": dataflow(_Waveform(), chain("conv_layers", checkpointed=True)),
        f"{kind}GroupNormConvLayer": dataflow(run("conv"), run("layer_norm"), activation()),
        f"{kind}NoLayerNormConvLayer": dataflow(run("conv"), activation()),
        f"{kind}LayerNormConvLayer": dataflow(run("conv"), transpose(), run("layer_norm"), transpose(), activation()),
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
    "Wav2Vec2ForXVector": dataflow(
        run("wav2vec2"),
        member(""),
        run("projector"),
        chain("tdnn"),
        _StatisticsPooling(),
        run("feature_extractor"),
        run("classifier"),
        _Skip("objective", "the AM-softmax loss runs only with labels"),
        note="x-vectors: TDNN layers over the frames, each utterance's mean and standard deviation, two Linears",
    ),
    "TDNNLayer": _time_delay,
    "Wav2Vec2ForPreTraining": dataflow(
        run("wav2vec2"),
        member("extract_features", "x", "features"),
        member(""),
        run("project_hid"),
        run("quantizer", "features", "q"),
        member("", "q", "q"),
        run("project_q", "q"),
        also("projected_quantized_states", "q"),
        note="projected_states, then projected_quantized_states: the feature projection's normalised features "
        "(extract_features) quantized and projected. The contrastive loss (cosine similarities, elementwise) runs only "
        "with sampled_negative_indices.",
    ),
    "Wav2Vec2GumbelVectorQuantizer": _gumbel_quantizer,
    "ParametrizedConv1d": _weight_normed_convolution,
}
"""Shape rules of transformers' wav2vec 2.0 and HuBERT classes, by kind."""
