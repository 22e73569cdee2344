"""Speech encoders: wav2vec 2.0 and HuBERT.

Each builder mirrors ``transformers`` 5.24 (``models/<type>/modeling_<type>.py``): a convolutional feature encoder
over the raw waveform (``conv_dim``/``conv_kernel``/``conv_stride``, one entry per layer), a projection to
``hidden_size``, a convolutional relative position embedding, and BERT-sized encoder layers (post-norm, or pre-norm
with ``do_stable_layer_norm``).

The position convolution is weight-normalised with ``torch.nn.utils.parametrizations.weight_norm(conv, dim=2)``,
as transformers does when torch offers it: the module becomes torch's ``ParametrizedConv1d``, whose ``weight`` is
computed from two parameters, ``parametrizations.weight.original0`` (the norm ``g``, shape ``(1, 1, kernel)``) and
``original1`` (the direction ``v``, the weight's own shape), listed after the convolution's ``bias`` as
``named_parameters()`` lists them. We count those two, not a plain ``weight``: that is what is trained and saved
by transformers 5 (older checkpoints name them ``weight_g``/``weight_v``; same shapes).
"""

from __future__ import annotations

import itertools

from paramcount._record import Record, replace
from paramcount.sources.hf._config import Config
from paramcount.sources.hf._registry import model_type
from paramcount.sources.hf.builders._common import (
    catalog_layer,
    check_divisible,
    config_dim,
    config_flag,
    config_layers,
    conv,
    kvq_attention,
    layer_norm,
    linear,
    module,
    num_labels,
    stack,
)
from paramcount.tree import Dim, Module, Param

__all__: list[str] = []


class _Speech(Record):
    prefix: str
    """The base model's attribute in the heads (``wav2vec2``, ``hubert``)."""
    kind: str
    """The class-name stem: ``Wav2Vec2``, ``Hubert``."""
    adapters: bool
    """wav2vec 2.0's ``add_adapter`` (a strided convolutional adapter after the encoder)."""
    switches: bool
    """HuBERT's ``feat_proj_layer_norm`` (default true) and ``conv_pos_batch_norm`` (default false)."""


_WAV2VEC2 = _Speech("wav2vec2", "Wav2Vec2", adapters=True, switches=False)
_HUBERT = _Speech("hubert", "Hubert", adapters=False, switches=True)


def _conv_sizes(config: Config) -> list[tuple[Dim, Dim, Dim, int]]:
    """``(in, out, kernel, stride)`` of each feature-encoder layer; the three lists must be equally long, as
    ``validate_architecture`` requires."""
    dims, kernels, strides = config.sizes("conv_dim"), config.sizes("conv_kernel"), config.sizes("conv_stride")
    if not len(dims) == len(kernels) == len(strides) or not dims:
        raise config.fail(
            "conv_dim",
            f"'{config.path('conv_dim')}', '{config.path('conv_kernel')}' and '{config.path('conv_stride')}' must "
            f"be non-empty and equally long, got {len(dims)}, {len(kernels)} and {len(strides)}",
        )
    if min(dims + kernels + strides) < 1:
        raise config.fail("conv_dim", f"'{config.path('conv_dim')}' and its kernels and strides must be positive")
    sizes = []
    for index, (out, kernel, stride) in enumerate(zip(dims, kernels, strides, strict=True)):
        inputs = Dim.of(dims[index - 1], f"conv_dim[{index - 1}]") if index else Dim.constant(1)
        sizes.append((inputs, Dim.of(out, f"conv_dim[{index}]"), Dim.of(kernel, f"conv_kernel[{index}]"), stride))
    return sizes


def _feature_encoder(config: Config, speech: _Speech) -> Module:
    """``<kind>FeatureEncoder``: with ``feat_extract_norm`` "group" a GroupNorm after the first convolution only,
    with "layer" a LayerNorm after each; consecutive identical layers are one repeated child."""
    norm = config.text("feat_extract_norm", "group")
    if norm not in ("group", "layer"):
        raise config.fail("feat_extract_norm", f"'{config.path('feat_extract_norm')}' must be 'group' or 'layer'")
    bias = config_flag(config, "conv_bias", False)
    layers = []
    for index, (inputs, outputs, kernel, stride) in enumerate(_conv_sizes(config)):
        convolution = conv("conv", "Conv1d", inputs, outputs, (kernel,), bias=bias, stride=stride)
        if norm == "layer":
            layers.append(
                module("0", f"{speech.kind}LayerNormConvLayer", convolution, layer_norm("layer_norm", outputs))
            )
        elif index == 0:
            group = catalog_layer(
                "layer_norm", "GroupNorm", outputs, outputs, names=("num_groups", "num_channels"), affine=True
            )
            layers.append(module("0", f"{speech.kind}GroupNormConvLayer", convolution, group))
        else:
            layers.append(module("0", f"{speech.kind}NoLayerNormConvLayer", convolution))
    children, start = [], 0
    for layer, run in itertools.groupby(layers):
        count = sum(1 for _ in run)
        children.append(replace(layer, name=str(start), repeat=count))
        start += count
    conv_layers = Module(name="conv_layers", kind="ModuleList", children=tuple(children))
    return module("feature_extractor", f"{speech.kind}FeatureEncoder", conv_layers)


def _position_convolution(config: Config, speech: _Speech, hidden: Dim) -> Module:
    """``<kind>PositionalConvEmbedding``: a grouped convolution over time, weight-normalised over its kernel axis
    (HuBERT's ``conv_pos_batch_norm`` puts a BatchNorm1d after it and leaves the weight plain)."""
    kernel = config_dim(config, "num_conv_pos_embeddings")
    groups = config_dim(config, "num_conv_pos_embedding_groups")
    check_divisible(config, hidden, groups)
    convolution = conv(
        "conv", "Conv1d", hidden, hidden, (kernel,), bias=True, padding=kernel.value // 2, groups=groups.value
    )
    kind = f"{speech.kind}PositionalConvEmbedding"
    if speech.switches and config_flag(config, "conv_pos_batch_norm", False):
        batch_norm = catalog_layer("batch_norm", "BatchNorm1d", hidden, names=("num_features",))
        return module("pos_conv_embed", kind, convolution, batch_norm)
    weight = next(param for param in convolution.params if param.name == "weight")
    one = Dim.constant(1)
    parametrization = module(
        "weight",
        "ParametrizationList",
        module("0", "_WeightNorm"),
        params=(Param("original0", (one, one, kernel)), replace(weight, name="original1")),
    )
    normalised = replace(
        convolution,
        kind="ParametrizedConv1d",
        params=tuple(param for param in convolution.params if param.name != "weight"),
        children=(module("parametrizations", "ModuleDict", parametrization),),
    )
    return module("pos_conv_embed", kind, normalised)


def _encoder(config: Config, speech: _Speech, hidden: Dim) -> Module:
    check_divisible(config, hidden, config_dim(config, "num_attention_heads"))
    intermediate = config_dim(config, "intermediate_size")
    stable = config_flag(config, "do_stable_layer_norm", False)
    feed_forward = module(
        "feed_forward",
        f"{speech.kind}FeedForward",
        linear("intermediate_dense", hidden, intermediate, bias=True),
        linear("output_dense", intermediate, hidden, bias=True),
    )
    parts = [
        kvq_attention("attention", f"{speech.kind}Attention", hidden),
        layer_norm("layer_norm", hidden),
        feed_forward,
        layer_norm("final_layer_norm", hidden),
    ]
    if stable and config.has("adapter_attn_dim"):
        width = config_dim(config, "adapter_attn_dim")
        parts.append(
            module(
                "adapter_layer",
                f"{speech.kind}AttnAdapterLayer",
                layer_norm("norm", hidden),
                linear("linear_1", hidden, width, bias=True),
                linear("linear_2", width, hidden, bias=True),
            )
        )
    layer = module("0", f"{speech.kind}EncoderLayer{'StableLayerNorm' if stable else ''}", *parts)
    return module(
        "encoder",
        f"{speech.kind}Encoder{'StableLayerNorm' if stable else ''}",
        _position_convolution(config, speech, hidden),
        layer_norm("layer_norm", hidden),
        stack("layers", layer, config_layers(config, "num_hidden_layers")),
    )


def _adapter(config: Config, hidden: Dim) -> Module:
    """``Wav2Vec2Adapter``: a projection to ``output_hidden_size`` when it differs, then ``num_adapter_layers``
    strided convolutions doubling the channels for a GLU."""
    width = config_dim(config, "output_hidden_size", default=hidden)
    parts = []
    if width.value != hidden.value:
        parts += [linear("proj", hidden, width, bias=True), layer_norm("proj_layer_norm", width)]
    kernel = config_dim(config, "adapter_kernel_size")
    stride = config.size("adapter_stride")
    convolution = conv("conv", "Conv1d", width, 2 * width, (kernel,), bias=True, stride=stride, padding=1)
    layer = module("0", "Wav2Vec2AdapterLayer", convolution)
    parts.append(stack("layers", layer, config.layers("num_adapter_layers")))
    return module("adapter", "Wav2Vec2Adapter", *parts)


def _adapted(config: Config, speech: _Speech) -> bool:
    return speech.adapters and config_flag(config, "add_adapter", False)


def _base(config: Config, speech: _Speech, name: str) -> Module:
    """``<kind>Model``: its ``masked_spec_embed`` (when SpecAugment masks time or features) before its modules."""
    hidden = config_dim(config, "hidden_size")
    last = _conv_sizes(config)[-1][1]
    projection = [linear("projection", last, hidden, bias=True)]
    if not speech.switches or config_flag(config, "feat_proj_layer_norm", True):
        projection.insert(0, layer_norm("layer_norm", last))
    masking = config.number("mask_time_prob", 0.05) > 0 or config.number("mask_feature_prob", 0.0) > 0
    children = [
        _feature_encoder(config, speech),
        module("feature_projection", f"{speech.kind}FeatureProjection", *projection),
        _encoder(config, speech, hidden),
    ]
    if _adapted(config, speech):
        children.append(_adapter(config, hidden))
    params = (Param("masked_spec_embed", (hidden,)),) if masking else ()
    return module(name, f"{speech.kind}Model", *children, params=params)


def _layer_weights(config: Config) -> tuple[Param, ...]:
    """``layer_weights``, one per hidden state (the layers and the input), with ``use_weighted_layer_sum``."""
    if not config_flag(config, "use_weighted_layer_sum", False):
        return ()
    states = config.layers("num_hidden_layers") + 1
    return (Param("layer_weights", (Dim.of(states, "num_hidden_layers+1"),)),)


def _refuse_adapters(config: Config, speech: _Speech, architecture: str) -> None:
    if _adapted(config, speech):
        raise config.fail("add_adapter", f"{architecture} does not support adapters ('add_adapter': true)")


def _speech_model(config: Config, speech: _Speech, architecture: str) -> Module:
    head = architecture.removeprefix(speech.kind)
    if head == "Model":
        return _base(config, speech, "")
    if head == "ForCTC":
        base = _base(config, speech, speech.prefix)
        hidden = config_dim(config, "hidden_size")
        width = config_dim(config, "output_hidden_size", default=hidden) if _adapted(config, speech) else hidden
        return module("", architecture, base, linear("lm_head", width, config_dim(config, "vocab_size"), bias=True))
    _refuse_adapters(config, speech, architecture)
    base = _base(config, speech, speech.prefix)
    hidden = config_dim(config, "hidden_size")
    weights = _layer_weights(config)
    if head == "ForSequenceClassification":
        projected = config_dim(config, "classifier_proj_size")
        projector = linear("projector", hidden, projected, bias=True)
        classifier = linear("classifier", projected, num_labels(config), bias=True)
        return module("", architecture, base, projector, classifier, params=weights)
    if head == "ForAudioFrameClassification":
        classifier = linear("classifier", hidden, num_labels(config), bias=True)
        return module("", architecture, base, classifier, params=weights)
    if head == "ForXVector":
        return _xvector(config, architecture, base, hidden, weights)
    return _pretraining(config, architecture, base, hidden)


def _xvector(config: Config, architecture: str, base: Module, hidden: Dim, weights: tuple[Param, ...]) -> Module:
    """``Wav2Vec2ForXVector``: a projection, TDNN layers (each a Linear over ``kernel`` stacked frames, its kernel
    size and ``tdnn_dilation`` kept as facts for the convolution it runs), statistics pooling (mean and deviation:
    twice the last width), two Linears and the AM-softmax weight."""
    dims, kernels = config.sizes("tdnn_dim"), config.sizes("tdnn_kernel")
    dilations = config.sizes("tdnn_dilation")
    if not dims or min(len(kernels), len(dilations)) < len(dims) or min(dims + kernels + dilations) < 1:
        raise config.fail(
            "tdnn_dim", f"'{config.path('tdnn_dim')}' needs a positive kernel and dilation in 'tdnn_kernel' and "
            "'tdnn_dilation' each"
        )  # fmt: skip
    tdnn = []
    for index, (width, kernel, dilation) in enumerate(zip(dims, kernels, dilations, strict=False)):
        inputs = Dim.of(dims[max(index - 1, 0)], f"tdnn_dim[{max(index - 1, 0)}]")
        stacked = inputs * Dim.of(kernel, f"tdnn_kernel[{index}]")
        layer = module(
            str(index), "TDNNLayer", linear("kernel", stacked, Dim.of(width, f"tdnn_dim[{index}]"), bias=True)
        )
        tdnn.append(replace(layer, attributes=(("kernel_size", kernel), ("dilation", dilation))))
    first, last = Dim.of(dims[0], "tdnn_dim[0]"), Dim.of(dims[-1], f"tdnn_dim[{len(dims) - 1}]")
    output = config_dim(config, "xvector_output_dim")
    objective = module("objective", "AMSoftmaxLoss", params=(Param("weight", (output, num_labels(config))),))
    return module(
        "",
        architecture,
        base,
        linear("projector", hidden, first, bias=True),
        Module(name="tdnn", kind="ModuleList", children=tuple(tdnn)),
        linear("feature_extractor", 2 * last, output, bias=True),
        linear("classifier", output, output, bias=True),
        objective,
        params=weights,
    )


def _pretraining(config: Config, architecture: str, base: Module, hidden: Dim) -> Module:
    """``Wav2Vec2ForPreTraining``: the Gumbel quantizer (``codevectors`` of ``num_codevector_groups`` ×
    ``num_codevectors_per_group`` entries, ``codevector_dim`` split across the groups) and the two projections."""
    groups = config_dim(config, "num_codevector_groups")
    entries = groups * config_dim(config, "num_codevectors_per_group")
    codes = config_dim(config, "codevector_dim")
    check_divisible(config, codes, groups)
    last = _conv_sizes(config)[-1][1]
    quantizer = module(
        "quantizer",
        "Wav2Vec2GumbelVectorQuantizer",
        linear("weight_proj", last, entries, bias=True),
        params=(Param("codevectors", (Dim.constant(1), entries, codes // groups)),),
    )
    quantizer = replace(quantizer, attributes=(("num_codevector_groups", groups.value),))
    projected = config_dim(config, "proj_codevector_dim")
    return module(
        "",
        architecture,
        base,
        quantizer,
        linear("project_hid", hidden, projected, bias=True),
        linear("project_q", codes, projected, bias=True),
    )


_WAV2VEC2_CLASSES = (
    "Wav2Vec2Model",
    "Wav2Vec2ForCTC",
    "Wav2Vec2ForSequenceClassification",
    "Wav2Vec2ForAudioFrameClassification",
    "Wav2Vec2ForXVector",
    "Wav2Vec2ForPreTraining",
)


@model_type("wav2vec2", architectures=_WAV2VEC2_CLASSES, default="Wav2Vec2Model")
def wav2vec2(config: Config, architecture: str) -> Module:
    """wav2vec 2.0 (``modeling_wav2vec2.py``): the CTC head for speech recognition, utterance and frame classifiers,
    the x-vector speaker head and the pre-training quantizer; ``add_adapter`` appends a convolutional adapter."""
    return _speech_model(config, _WAV2VEC2, architecture)


@model_type(
    "hubert", architectures=("HubertModel", "HubertForCTC", "HubertForSequenceClassification"), default="HubertModel"
)
def hubert(config: Config, architecture: str) -> Module:
    """HuBERT (``modeling_hubert.py``): wav2vec 2.0's encoder without the quantizer or adapters; the feature
    projection's LayerNorm only with ``feat_proj_layer_norm``; ``conv_pos_batch_norm`` replaces the position
    convolution's weight norm by a BatchNorm1d."""
    return _speech_model(config, _HUBERT, architecture)
