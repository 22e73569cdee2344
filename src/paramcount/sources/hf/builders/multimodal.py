"""Encoder-decoder and multimodal families: T5, BART, Whisper, ViT, CLIP and LLaVA.

Each builder mirrors the modelling code of transformers 5.24 (``models/<type>/modeling_<type>.py``): the same
module names, the same registration order (so ``iter_params`` lists what ``named_parameters()`` lists) and the
same ties. Facts of that version worth knowing, each checked against transformers on the meta device:

- ``T5Config`` forces ``tie_word_embeddings=True`` whatever the file says, so ``lm_head`` and both
  ``embed_tokens`` are always the ``shared`` embedding (flan-t5's ``"tie_word_embeddings": false`` only turns
  off the output rescaling now);
- T5's ``relative_attention_bias`` lives in the first block of each stack only, so a stack is block ``0`` plus
  block ``1`` repeated ``num_layers - 1`` times;
- BART's learned positions hold ``max_position_embeddings + 2`` rows (the fairseq offset);
- Whisper's encoder positions are sinusoidal and frozen (a parameter with ``requires_grad=False``);
- LLaVA keeps every vision layer (``vision_feature_layer`` selects a hidden state at run time; nothing is
  dropped in 5.24) and reads ``len(vision_feature_layer)`` stacked features when it is a list.

Sizes a model is defined by are required at the top level. Sub-configs of composite models (CLIP's
``text_config``/``vision_config``, LLaVA's) of type ``clip_text_model``, ``clip_vision_model`` or ``llama`` take
the defaults transformers gives them, because published configs rely on them (llava-1.5's ``text_config`` omits
``hidden_size``); a sub-config of any other type states its sizes like a top-level config.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from paramcount.errors import ConfigError, UnknownNameError
from paramcount.sources.hf._config import Config
from paramcount.sources.hf._registry import model_type, spec_for
from paramcount.sources.hf.builders._common import layer_norm, linear, module, rms_norm, stack, tied_linear
from paramcount.tree import Buffer, Dim, Module, Param

__all__ = ["bart", "clip", "clip_text_model", "clip_vision_model", "llava", "t5", "vit", "whisper"]


# --- small helpers ---------------------------------------------------------------------------------------------


def _dim(config: Config, key: str, default: int | None = None) -> Dim:
    """A size key as a Dim whose symbol is the key's path (``d_model``, ``text_config.hidden_size``)."""
    value = config.size(key) if default is None else config.size(key, default)
    return Dim.of(value, config.path(key))


def _layers(config: Config, key: str, default: int | None = None) -> int:
    return config.layers(key) if default is None else config.layers(key, default)


def _divisible(config: Config, width: Dim, heads: Dim, heads_key: str) -> None:
    """transformers refuses attention whose width is not a multiple of its head count; so do we."""
    if width.value % heads.value:
        raise config.fail(
            heads_key,
            f"'{width.symbol}' ({width.value:,}) must be divisible by '{heads.symbol}' ({heads.value:,})",
        )


def _embedding(
    name: str, count: Dim, width: Dim, *, kind: str = "Embedding", tied_to: str | None = None, trainable: bool = True
) -> Module:
    return Module(name=name, kind=kind, params=(Param("weight", (count, width), tied_to=tied_to, trainable=trainable),))


def _conv(name: str, kind: str, inputs: Dim, outputs: Dim, kernel: tuple[Dim, ...], *, bias: bool) -> Module:
    """``nn.Conv1d``/``nn.Conv2d``: weight (outputs, inputs, *kernel), bias (outputs,)."""
    params = [Param("weight", (outputs, inputs, *kernel))]
    if bias:
        params.append(Param("bias", (outputs,)))
    return Module(name=name, kind=kind, params=tuple(params))


def _position_ids(count: Dim) -> Buffer:
    """The non-persistent ``position_ids`` buffer, ``arange(count)`` of shape (1, count)."""
    return Buffer("position_ids", (Dim.constant(1), count), dtype="int64", persistent=False)


def _num_labels(config: Config, default: int = 2) -> Dim:
    """transformers' ``config.num_labels``: the ``num_labels`` key when given (it wins over ``id2label``), else
    ``len(id2label)``, else the config class's default (2; BartConfig says 3)."""
    if config.has("num_labels"):
        return Dim.of(config.size("num_labels", minimum=0), config.path("num_labels"))
    labels = config.raw("id2label")
    if labels is not None:
        if not isinstance(labels, dict):
            raise config.fail("id2label", f"'{config.path('id2label')}' must be an object, got {labels!r:.40}")
        return Dim.of(len(labels), f"len({config.path('id2label')})")
    return Dim.of(config.size("num_labels", default, minimum=0), config.path("num_labels"))


def _sub_config(parent: Config, key: str, model_type: str, defaults: Mapping[str, Any], raw: object = None) -> Config:
    """The nested config ``parent[key]`` (or ``raw`` when given), absent or partial ones completed by
    ``defaults``; nulls count as absent, as they do for transformers' config classes."""
    raw = parent.raw(key) if raw is None else raw
    if raw is None:
        data: dict[str, Any] = {}
    elif isinstance(raw, dict):
        data = {name: value for name, value in raw.items() if value is not None}
    else:
        raise parent.fail(key, f"'{parent.path(key)}' must be an object, got {raw!r:.40}")
    return Config({**defaults, **data}, model_type, parent.source, f"{parent.path(key)}.")


def _prefix_ties(tree: Module, prefix: str) -> Module:
    """Re-root ``tied_to`` paths of a sub-model built on its own when it is placed under ``prefix``."""
    params = tuple(
        replace(param, tied_to=f"{prefix}{param.tied_to}") if param.tied_to else param for param in tree.params
    )
    children = tuple(_prefix_ties(child, prefix) for child in tree.children)
    return replace(tree, params=params, children=children)


def _sub_model(config: Config, name: str, path: str) -> Module:
    """The base model of a sub-config's own ``model_type`` (what ``AutoModel.from_config`` builds), as ``name``."""
    spec = spec_for(config.model_type)  # known: _llava_sub refused unsupported types with their key path
    base = spec.architectures[0]
    tree = spec.builder(config, base)
    return replace(_prefix_ties(tree, path), name=name, kind=base)


# --- T5 ----------------------------------------------------------------------------------------------------------


def _t5_feed_forward(config: Config, d_model: Dim, d_ff: Dim) -> Module:
    projection = config.text("feed_forward_proj", "relu")
    parts = projection.split("-")
    if (len(parts) > 1 and parts[0] != "gated") or len(parts) > 2:
        raise config.fail(
            "feed_forward_proj",
            f"'{config.path('feed_forward_proj')}' must be 'gated-<activation>' or '<activation>', "
            f"got {projection!r:.40}",
        )
    if parts[0] == "gated":
        dense = module(
            "DenseReluDense",
            "T5DenseGatedActDense",
            linear("wi_0", d_model, d_ff, bias=False),
            linear("wi_1", d_model, d_ff, bias=False),
            linear("wo", d_ff, d_model, bias=False),
        )
    else:
        dense = module(
            "DenseReluDense",
            "T5DenseActDense",
            linear("wi", d_model, d_ff, bias=False),
            linear("wo", d_ff, d_model, bias=False),
        )
    return dense


def _t5_attention(name: str, d_model: Dim, inner: Dim, relative_bias: Module | None) -> Module:
    children = [
        linear("q", d_model, inner, bias=False),
        linear("k", d_model, inner, bias=False),
        linear("v", d_model, inner, bias=False),
        linear("o", inner, d_model, bias=False),
    ]
    if relative_bias is not None:
        children.append(relative_bias)
    return module(name, "T5Attention", *children)


def _t5_stack(config: Config, name: str, count: int, *, decoder: bool, shared: str) -> Module:
    d_model, d_ff = _dim(config, "d_model"), _dim(config, "d_ff")
    heads = _dim(config, "num_heads")
    inner = heads * _dim(config, "d_kv")
    buckets = _dim(config, "relative_attention_num_buckets", 32)
    dense = _t5_feed_forward(config, d_model, d_ff)

    def block(first: bool) -> Module:
        bias = _embedding("relative_attention_bias", buckets, heads) if first else None
        norm = rms_norm("layer_norm", d_model, "T5LayerNorm")
        layers = [module("0", "T5LayerSelfAttention", _t5_attention("SelfAttention", d_model, inner, bias), norm)]
        if decoder:
            cross = _t5_attention("EncDecAttention", d_model, inner, None)
            layers.append(module("1", "T5LayerCrossAttention", cross, norm))
        layers.append(module(str(len(layers)), "T5LayerFF", dense, norm))
        return module("0", "T5Block", module("layer", "ModuleList", *layers))

    # Only block 0 owns relative_attention_bias (transformers: has_relative_attention_bias=bool(i == 0)).
    blocks = [block(first=True)] if count else []
    if count > 1:
        blocks.append(replace(block(first=False), name="1", repeat=count - 1))
    return module(
        name,
        "T5Stack",
        _embedding("embed_tokens", _dim(config, "vocab_size"), d_model, tied_to=shared),
        module("block", "ModuleList", *blocks),
        rms_norm("final_layer_norm", d_model, "T5LayerNorm"),
    )


@model_type(
    "t5",
    architectures=("T5Model", "T5ForConditionalGeneration", "T5EncoderModel"),
    default="T5ForConditionalGeneration",
)
def t5(config: Config, architecture: str) -> Module:
    """T5 and T5 v1.1 / Flan-T5 (``feed_forward_proj="gated-gelu"``): a shared embedding, two T5Stacks."""
    vocab, d_model = _dim(config, "vocab_size"), _dim(config, "d_model")
    encoder_layers = _layers(config, "num_layers")
    children = [
        _embedding("shared", vocab, d_model),
        _t5_stack(config, "encoder", encoder_layers, decoder=False, shared="shared.weight"),
    ]
    if architecture != "T5EncoderModel":
        decoder_layers = _layers(config, "num_decoder_layers", encoder_layers)
        children.append(_t5_stack(config, "decoder", decoder_layers, decoder=True, shared="shared.weight"))
    if architecture == "T5ForConditionalGeneration":
        # T5Config (transformers 5) sets tie_word_embeddings=True unconditionally: lm_head is always `shared`.
        children.append(tied_linear("lm_head", d_model, vocab, "shared.weight"))
    return module("", architecture, *children)


# --- BART and Whisper (the fairseq-style encoder-decoder layers) ---------------------------------------------------


def _attention(name: str, kind: str, width: Dim, *, key_bias: bool = True) -> Module:
    """BartAttention / WhisperAttention: k, v, q, out projections in that order (Whisper's k has no bias)."""
    return module(
        name,
        kind,
        linear("k_proj", width, width, bias=key_bias),
        linear("v_proj", width, width, bias=True),
        linear("q_proj", width, width, bias=True),
        linear("out_proj", width, width, bias=True),
    )


def _encoder_layer(kind: str, attention: Module, width: Dim, ffn: Dim) -> Module:
    return module(
        "0",
        kind,
        attention,
        layer_norm("self_attn_layer_norm", width),
        linear("fc1", width, ffn, bias=True),
        linear("fc2", ffn, width, bias=True),
        layer_norm("final_layer_norm", width),
    )


def _decoder_layer(kind: str, attention: Module, cross: Module, width: Dim, ffn: Dim) -> Module:
    return module(
        "0",
        kind,
        attention,
        layer_norm("self_attn_layer_norm", width),
        cross,
        layer_norm("encoder_attn_layer_norm", width),
        linear("fc1", width, ffn, bias=True),
        linear("fc2", ffn, width, bias=True),
        layer_norm("final_layer_norm", width),
    )


def _heads(config: Config, width: Dim, key: str) -> Dim:
    heads = _dim(config, key)
    _divisible(config, width, heads, key)
    return heads


def _bart_model(config: Config, prefix: str) -> Module:
    vocab, width = _dim(config, "vocab_size"), _dim(config, "d_model")
    _heads(config, width, "encoder_attention_heads")
    _heads(config, width, "decoder_attention_heads")
    # BartLearnedPositionalEmbedding: "if padding_idx is specified then offset the embedding ids by 2".
    positions = _dim(config, "max_position_embeddings") + 2
    tied = f"{prefix}shared.weight" if config.flag("tie_word_embeddings", True) else None
    encoder_layer = _encoder_layer(
        "BartEncoderLayer", _attention("self_attn", "BartAttention", width), width, _dim(config, "encoder_ffn_dim")
    )
    decoder_layer = _decoder_layer(
        "BartDecoderLayer",
        _attention("self_attn", "BartAttention", width),
        _attention("encoder_attn", "BartAttention", width),
        width,
        _dim(config, "decoder_ffn_dim"),
    )

    def half(name: str, kind: str, layer: Module, count: int) -> Module:
        return module(
            name,
            kind,
            _embedding("embed_tokens", vocab, width, kind="BartScaledWordEmbedding", tied_to=tied),
            _embedding("embed_positions", positions, width, kind="BartLearnedPositionalEmbedding"),
            stack("layers", layer, count),
            layer_norm("layernorm_embedding", width),
        )

    return module(
        "model",
        "BartModel",
        _embedding("shared", vocab, width, kind="BartScaledWordEmbedding"),
        half("encoder", "BartEncoder", encoder_layer, _layers(config, "encoder_layers")),
        half("decoder", "BartDecoder", decoder_layer, _layers(config, "decoder_layers")),
    )


@model_type(
    "bart",
    architectures=("BartModel", "BartForConditionalGeneration", "BartForSequenceClassification"),
    default="BartForConditionalGeneration",
)
def bart(config: Config, architecture: str) -> Module:
    """BART: shared token embedding, learned positions (+2 offset), and ``final_logits_bias`` on the LM head."""
    if architecture == "BartModel":
        return replace(_bart_model(config, ""), name="")
    base = _bart_model(config, "model.")
    width = _dim(config, "d_model")
    if architecture == "BartForSequenceClassification":
        head = module(
            "classification_head",
            "BartClassificationHead",
            linear("dense", width, width, bias=True),
            linear("out_proj", width, _num_labels(config, default=3), bias=True),
        )
        return module("", architecture, base, head)
    vocab = _dim(config, "vocab_size")
    if config.flag("tie_word_embeddings", True):
        lm_head = tied_linear("lm_head", width, vocab, "model.shared.weight")
    else:
        lm_head = linear("lm_head", width, vocab, bias=False)
    bias = Buffer("final_logits_bias", (Dim.constant(1), vocab))
    return module("", architecture, base, lm_head, buffers=(bias,))


def _whisper_model(config: Config) -> Module:
    width = _dim(config, "d_model")
    _heads(config, width, "encoder_attention_heads")
    _heads(config, width, "decoder_attention_heads")
    three = (Dim.constant(3),)
    encoder = module(
        "encoder",
        "WhisperEncoder",
        _conv("conv1", "Conv1d", _dim(config, "num_mel_bins"), width, three, bias=True),
        _conv("conv2", "Conv1d", width, width, three, bias=True),
        # Sinusoidal positions, frozen: embed_positions.requires_grad_(False).
        _embedding("embed_positions", _dim(config, "max_source_positions", 1500), width, trainable=False),
        stack(
            "layers",
            _encoder_layer(
                "WhisperEncoderLayer",
                _attention("self_attn", "WhisperAttention", width, key_bias=False),
                width,
                _dim(config, "encoder_ffn_dim"),
            ),
            _layers(config, "encoder_layers"),
        ),
        layer_norm("layer_norm", width),
    )
    decoder = module(
        "decoder",
        "WhisperDecoder",
        _embedding("embed_tokens", _dim(config, "vocab_size"), width),
        _embedding(
            "embed_positions", _dim(config, "max_target_positions", 448), width, kind="WhisperPositionalEmbedding"
        ),
        stack(
            "layers",
            _decoder_layer(
                "WhisperDecoderLayer",
                _attention("self_attn", "WhisperAttention", width, key_bias=False),
                _attention("encoder_attn", "WhisperAttention", width, key_bias=False),
                width,
                _dim(config, "decoder_ffn_dim"),
            ),
            _layers(config, "decoder_layers"),
        ),
        layer_norm("layer_norm", width),
    )
    return module("model", "WhisperModel", encoder, decoder)


@model_type(
    "whisper",
    architectures=("WhisperModel", "WhisperForConditionalGeneration"),
    default="WhisperForConditionalGeneration",
)
def whisper(config: Config, architecture: str) -> Module:
    """Whisper: a Conv1d front-end over mel bins, a BART-like encoder-decoder, ``proj_out`` tied to the tokens."""
    base = _whisper_model(config)
    if architecture == "WhisperModel":
        return replace(base, name="")
    width, vocab = _dim(config, "d_model"), _dim(config, "vocab_size")
    if config.flag("tie_word_embeddings", True):
        head = tied_linear("proj_out", width, vocab, "model.decoder.embed_tokens.weight")
    else:
        head = linear("proj_out", width, vocab, bias=False)
    return module("", architecture, base, head)


# --- ViT ---------------------------------------------------------------------------------------------------------


def _pair(config: Config, key: str, default: int) -> tuple[Dim, Dim]:
    """``image_size``/``patch_size``: an int (square) or a [height, width] list."""
    if isinstance(config.raw(key), list):
        values = config.sizes(key)
        if len(values) != 2 or min(values) < 1:
            raise config.fail(key, f"'{config.path(key)}' must be a positive integer or two, got {values!r:.40}")
        return Dim.of(values[0], f"{config.path(key)}[0]"), Dim.of(values[1], f"{config.path(key)}[1]")
    side = _dim(config, key, default)
    return side, side


def _vit_model(config: Config, name: str, *, pooler: bool) -> Module:
    hidden = _dim(config, "hidden_size")
    heads = _dim(config, "num_attention_heads")
    head_dim = _dim(config, "head_dim") if config.has("head_dim") else hidden // heads
    inner = heads * head_dim
    qkv_bias = config.flag("qkv_bias", True)
    image_h, image_w = _pair(config, "image_size", 224)
    patch_h, patch_w = _pair(config, "patch_size", 16)
    patches = (image_w // patch_w) * (image_h // patch_h)
    projection = _conv("projection", "Conv2d", _dim(config, "num_channels", 3), hidden, (patch_h, patch_w), bias=True)
    embeddings = module(
        "embeddings",
        "ViTEmbeddings",
        module("patch_embeddings", "ViTPatchEmbeddings", projection),
        params=(
            Param("cls_token", (Dim.constant(1), Dim.constant(1), hidden)),
            Param("position_embeddings", (Dim.constant(1), patches + 1, hidden)),
        ),
    )
    layer = module(
        "0",
        "ViTLayer",
        module(
            "attention",
            "ViTAttention",
            linear("q_proj", hidden, inner, bias=qkv_bias),
            linear("k_proj", hidden, inner, bias=qkv_bias),
            linear("v_proj", hidden, inner, bias=qkv_bias),
            linear("o_proj", inner, hidden, bias=True),
        ),
        layer_norm("layernorm_before", hidden),
        layer_norm("layernorm_after", hidden),
        module(
            "mlp",
            "ViTMLP",
            linear("fc1", hidden, _dim(config, "intermediate_size"), bias=True),
            linear("fc2", _dim(config, "intermediate_size"), hidden, bias=True),
        ),
    )
    children = [
        embeddings,
        stack("layers", layer, _layers(config, "num_hidden_layers")),
        layer_norm("layernorm", hidden),
    ]
    if pooler:
        width = _dim(config, "pooler_output_size") if config.has("pooler_output_size") else hidden
        children.append(module("pooler", "ViTPooler", linear("dense", hidden, width, bias=True)))
    return module(name, "ViTModel", *children)


@model_type("vit", architectures=("ViTModel", "ViTForImageClassification"), default="ViTModel")
def vit(config: Config, architecture: str) -> Module:
    """ViT: patch Conv2d, ``cls_token`` and ``position_embeddings``; ViTModel has a pooler, the classifier not."""
    if architecture == "ViTModel":
        return _vit_model(config, "", pooler=True)
    base = _vit_model(config, "vit", pooler=False)
    labels = _num_labels(config)
    # ViTForImageClassification: nn.Linear(hidden_size, num_labels) if num_labels > 0 else nn.Identity().
    if labels.value == 0:
        return module("", architecture, base, module("classifier", "Identity"))
    return module("", architecture, base, linear("classifier", _dim(config, "hidden_size"), labels, bias=True))


# --- CLIP --------------------------------------------------------------------------------------------------------

# CLIPTextConfig / CLIPVisionConfig defaults (transformers 5.24, configuration_clip.py).
_CLIP_TEXT_DEFAULTS: dict[str, Any] = {
    "vocab_size": 49408,
    "hidden_size": 512,
    "intermediate_size": 2048,
    "projection_dim": 512,
    "num_hidden_layers": 12,
    "num_attention_heads": 8,
    "max_position_embeddings": 77,
}
_CLIP_VISION_DEFAULTS: dict[str, Any] = {
    "hidden_size": 768,
    "intermediate_size": 3072,
    "projection_dim": 512,
    "num_hidden_layers": 12,
    "num_attention_heads": 12,
    "num_channels": 3,
    "image_size": 224,
    "patch_size": 32,
}


def _clip_encoder(config: Config, hidden: Dim) -> Module:
    heads = _dim(config, "num_attention_heads")
    _divisible(config, hidden, heads, "num_attention_heads")
    ffn = _dim(config, "intermediate_size")
    layer = module(
        "0",
        "CLIPEncoderLayer",
        _attention("self_attn", "CLIPAttention", hidden),
        layer_norm("layer_norm1", hidden),
        module("mlp", "CLIPMLP", linear("fc1", hidden, ffn, bias=True), linear("fc2", ffn, hidden, bias=True)),
        layer_norm("layer_norm2", hidden),
    )
    return module("encoder", "CLIPEncoder", stack("layers", layer, _layers(config, "num_hidden_layers")))


def _clip_text(config: Config, name: str) -> Module:
    hidden = _dim(config, "hidden_size")
    positions = _dim(config, "max_position_embeddings")
    embeddings = module(
        "embeddings",
        "CLIPTextEmbeddings",
        _embedding("token_embedding", _dim(config, "vocab_size"), hidden),
        _embedding("position_embedding", positions, hidden),
        buffers=(_position_ids(positions),),
    )
    return module(
        name, "CLIPTextModel", embeddings, _clip_encoder(config, hidden), layer_norm("final_layer_norm", hidden)
    )


def _clip_vision(config: Config, name: str) -> Module:
    hidden = _dim(config, "hidden_size")
    image, patch = _dim(config, "image_size"), _dim(config, "patch_size")
    positions = (image // patch) * (image // patch) + 1
    embeddings = module(
        "embeddings",
        "CLIPVisionEmbeddings",
        _conv("patch_embedding", "Conv2d", _dim(config, "num_channels"), hidden, (patch, patch), bias=False),
        _embedding("position_embedding", positions, hidden),
        params=(Param("class_embedding", (hidden,)),),
        buffers=(_position_ids(positions),),
    )
    return module(
        name,
        "CLIPVisionModel",
        embeddings,
        layer_norm("pre_layrnorm", hidden),
        _clip_encoder(config, hidden),
        layer_norm("post_layernorm", hidden),
    )


def _clip_tower(config: Config, architecture: str) -> Module:
    """CLIPTextModel / CLIPVisionModel and their ``…WithProjection`` variants, from a tower's own config."""
    tower = _clip_text if architecture.startswith("CLIPText") else _clip_vision
    if not architecture.endswith("WithProjection"):
        return tower(config, "")
    inner = "text_model" if tower is _clip_text else "vision_model"
    projection = "text_projection" if tower is _clip_text else "visual_projection"
    head = linear(projection, _dim(config, "hidden_size"), _dim(config, "projection_dim"), bias=False)
    return module("", architecture, tower(config, inner), head)


def _clip_sub(config: Config, key: str, sub_type: str, defaults: Mapping[str, Any]) -> Config:
    """CLIPConfig's sub-configs; a ``<key>_dict`` (older hub files) wins over ``<key>``, filled with defaults."""
    legacy = f"{key}_dict"
    if config.raw(legacy) is not None:
        return _sub_config(config, legacy, sub_type, defaults)
    return _sub_config(config, key, sub_type, defaults)


@model_type(
    "clip",
    architectures=(
        "CLIPModel",
        "CLIPTextModel",
        "CLIPVisionModel",
        "CLIPTextModelWithProjection",
        "CLIPVisionModelWithProjection",
    ),
    default="CLIPModel",
)
def clip(config: Config, architecture: str) -> Module:
    """CLIP: text and vision towers from ``text_config``/``vision_config``, two projections, ``logit_scale``."""
    text = _clip_sub(config, "text_config", "clip_text_model", _CLIP_TEXT_DEFAULTS)
    vision = _clip_sub(config, "vision_config", "clip_vision_model", _CLIP_VISION_DEFAULTS)
    if architecture != "CLIPModel":
        # The tower classes read their own sub-config (CLIPTextConfig.base_config_key = "text_config").
        return _clip_tower(text if architecture.startswith("CLIPText") else vision, architecture)
    projection = _dim(config, "projection_dim", 512)
    return module(
        "",
        architecture,
        _clip_text(text, "text_model"),
        _clip_vision(vision, "vision_model"),
        linear("visual_projection", _dim(vision, "hidden_size"), projection, bias=False),
        linear("text_projection", _dim(text, "hidden_size"), projection, bias=False),
        params=(Param("logit_scale", ()),),
    )


@model_type("clip_text_model", architectures=("CLIPTextModel", "CLIPTextModelWithProjection"), default="CLIPTextModel")
def clip_text_model(config: Config, architecture: str) -> Module:
    """A standalone CLIP text tower config (``model_type: clip_text_model``)."""
    return _clip_tower(_sub_defaults(config, _CLIP_TEXT_DEFAULTS), architecture)


@model_type(
    "clip_vision_model",
    architectures=("CLIPVisionModel", "CLIPVisionModelWithProjection"),
    default="CLIPVisionModel",
)
def clip_vision_model(config: Config, architecture: str) -> Module:
    """A standalone CLIP vision tower config (``model_type: clip_vision_model``), e.g. LLaVA's vision tower."""
    return _clip_tower(_sub_defaults(config, _CLIP_VISION_DEFAULTS), architecture)


def _sub_defaults(config: Config, defaults: Mapping[str, Any]) -> Config:
    data = {name: value for name, value in config.data.items() if value is not None}
    return Config({**defaults, **data}, config.model_type, config.source, config.prefix)


# --- LLaVA -------------------------------------------------------------------------------------------------------

# LlamaConfig defaults (transformers 5.24): llava-1.5's text_config relies on them.
_LLAMA_DEFAULTS: dict[str, Any] = {
    "vocab_size": 32000,
    "hidden_size": 4096,
    "intermediate_size": 11008,
    "num_hidden_layers": 32,
    "num_attention_heads": 32,
    "attention_bias": False,
    "mlp_bias": False,
    "tie_word_embeddings": False,
}
# Sub-config types whose transformers defaults we apply; any other type must state its sizes.
_SUB_DEFAULTS: dict[str, dict[str, Any]] = {
    "llama": _LLAMA_DEFAULTS,
    "clip_vision_model": _CLIP_VISION_DEFAULTS,
    "clip_text_model": _CLIP_TEXT_DEFAULTS,
}
# LlavaConfig's vision_config when the file has none (SubConfigSpec init_kwargs; CLIPVisionConfig fills the rest).
_LLAVA_VISION_WHEN_ABSENT: dict[str, Any] = {
    "intermediate_size": 4096,
    "hidden_size": 1024,
    "patch_size": 14,
    "image_size": 336,
    "num_hidden_layers": 24,
    "num_attention_heads": 16,
    "vocab_size": 32000,
    "projection_dim": 768,
}


def _llava_sub(config: Config, key: str, default_type: str) -> Config:
    """``vision_config``/``text_config`` typed by their own ``model_type`` (AutoConfig), as LlavaConfig does."""
    raw = config.raw(key)
    if raw is None and key == "vision_config":
        raw = _LLAVA_VISION_WHEN_ABSENT
    kind = raw.get("model_type", default_type) if isinstance(raw, dict) else default_type
    if not isinstance(kind, str):
        path = f"{config.path(key)}.model_type"
        raise ConfigError(f"{config.source}: '{path}' must be a string, got {kind!r:.40}", key_path=path)
    sub = _sub_config(config, key, kind, _SUB_DEFAULTS.get(kind, {}), raw)
    _supported(sub)
    return sub


def _supported(config: Config) -> None:
    """Refuse a sub-config whose ``model_type`` has no builder, naming the key."""
    try:
        spec_for(config.model_type)
    except UnknownNameError:
        raise ConfigError(
            f"{config.source}: '{config.path('model_type')}' is {config.model_type!r}, which is not supported",
            key_path=config.path("model_type"),
        ) from None


def _feature_layers(config: Config) -> Dim | None:
    """How many vision hidden states the projector concatenates: None for one (an int), else the list's length."""
    value = config.raw("vision_feature_layer", -2)
    if isinstance(value, int) and not isinstance(value, bool):
        return None
    if isinstance(value, list) and value and all(isinstance(v, int) and not isinstance(v, bool) for v in value):
        return Dim.of(len(value), f"len({config.path('vision_feature_layer')})")
    raise config.fail(
        "vision_feature_layer",
        f"'{config.path('vision_feature_layer')}' must be an integer or a list of integers, got {value!r:.40}",
    )


@model_type(
    "llava", architectures=("LlavaModel", "LlavaForConditionalGeneration"), default="LlavaForConditionalGeneration"
)
def llava(config: Config, architecture: str) -> Module:
    """LLaVA: a vision tower and a language model, each the base model of its own sub-config's type built by that
    type's registered builder (CLIP vision here, llama from ``decoders.py``), joined by a two-layer projector.
    All vision layers are kept; ``vision_feature_layer`` only widens the projector when it names several layers."""
    vision = _llava_sub(config, "vision_config", "clip_vision_model")
    text = _llava_sub(config, "text_config", "llama")
    prefix = "" if architecture == "LlavaModel" else "model."
    features = _feature_layers(config)
    vision_width = _dim(vision, "hidden_size") if features is None else _dim(vision, "hidden_size") * features
    text_width = _dim(text, "hidden_size")
    bias = config.flag("multimodal_projector_bias", True)
    projector = module(
        "multi_modal_projector",
        "LlavaMultiModalProjector",
        linear("linear_1", vision_width, text_width, bias=bias),
        linear("linear_2", text_width, text_width, bias=bias),
    )
    base = module(
        "model" if prefix else "",
        "LlavaModel",
        _sub_model(vision, "vision_tower", f"{prefix}vision_tower."),
        projector,
        _sub_model(text, "language_model", f"{prefix}language_model."),
    )
    if architecture == "LlavaModel":
        return base
    # LlavaConfig: tie_word_embeddings defaults to False and takes the text config's value when that is True.
    tie = config.flag("tie_word_embeddings", False) or text.flag("tie_word_embeddings", False)
    vocab = _dim(text, "vocab_size")
    if tie:
        head = tied_linear("lm_head", text_width, vocab, "model.language_model.embed_tokens.weight")
    else:
        head = linear("lm_head", text_width, vocab, bias=False)
    return module("", architecture, base, head)
