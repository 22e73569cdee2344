"""Vision encoders: SigLIP (and its standalone towers) and DINOv2.

Each builder mirrors the modelling code of transformers 5.24 (``models/<type>/modeling_<type>.py``): the same
module names and registration order, each checked against transformers on the meta device.

SigLIP is CLIP's layout with a sigmoid loss: biased patch convolution, no class token, a text ``head`` to
``projection_size``, an attention-pooling ``head`` on the vision tower (``vision_use_head``), and
``logit_scale`` plus ``logit_bias``. Its sub-configs take SiglipTextConfig's and SiglipVisionConfig's defaults,
as published configs rely on them (``google/siglip-base-patch16-224`` states little more than the patch size).
DINOv2 is ViT with a mask token, per-layer LayerScale and an MLP sized by ``mlp_ratio`` (or a SwiGLU FFN).
"""

from __future__ import annotations

from paramcount._record import replace
from paramcount.sources.hf._config import Config
from paramcount.sources.hf._registry import model_type
from paramcount.sources.hf.builders import _common as common
from paramcount.sources.hf.builders.vision_language import _sub_config, clip_encoder, patch_embeddings, text_embeddings
from paramcount.tree import Dim, Module, Param

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import TypeAlias

__all__ = ["dinov2", "register_siglip", "siglip_model"]

if TYPE_CHECKING:
    Tower: TypeAlias = Callable[[Config, str], Module]
    """A tower's builder: its config and the name it takes in the model."""

_ONE = Dim.constant(1)


# --- SigLIP ------------------------------------------------------------------------------------------------------


def _siglip_encoder(config: Config, hidden: Dim) -> Module:
    return clip_encoder(config, hidden, "Siglip", norms_first=True)


def _siglip_text(config: Config, name: str) -> Module:
    hidden = common.path_dim(config, "hidden_size")
    embeddings = text_embeddings(config, "Siglip", hidden)
    projection = common.path_dim(config, "projection_size") if config.has("projection_size") else hidden
    return common.module(
        name,
        "SiglipTextModel",
        embeddings,
        _siglip_encoder(config, hidden),
        common.layer_norm("final_layer_norm", hidden),
        common.linear("head", hidden, projection, bias=True),
    )


def _siglip_vision(config: Config, name: str) -> Module:
    hidden = common.path_dim(config, "hidden_size")
    image, patch = common.path_dim(config, "image_size"), common.path_dim(config, "patch_size")
    positions = (image // patch) * (image // patch)
    channels = common.path_dim(config, "num_channels")
    embeddings = common.module(
        "embeddings",
        "SiglipVisionEmbeddings",
        common.patchify("patch_embedding", channels, hidden, patch, bias=True),
        common.embedding("position_embedding", positions, hidden),
        buffers=(common.position_ids(positions),),
    )
    children = [embeddings, _siglip_encoder(config, hidden), common.layer_norm("post_layernorm", hidden)]
    if config.flag("vision_use_head", True):
        head = common.module(
            "head",
            "SiglipMultiheadAttentionPoolingHead",
            common.multihead_attention("attention", hidden, common.path_dim(config, "num_attention_heads")),
            common.layer_norm("layernorm", hidden),
            common.mlp("mlp", "SiglipMLP", hidden, common.path_dim(config, "intermediate_size")),
            params=(Param("probe", (_ONE, _ONE, hidden)),),
        )
        children.append(head)
    return common.module(name, "SiglipVisionModel", *children)


def siglip_model(config: Config, architecture: str, prefix: str, text_tower: Tower, vision_tower: Tower) -> Module:
    """``<prefix>Model`` and ``<prefix>ForImageClassification`` as SigLIP lays them out (SigLIP 2 too): text and
    vision towers from ``text_config``/``vision_config`` (with the defaults of model types ``siglip_text_model`` and
    ``siglip_vision_model``, or SigLIP 2's), ``logit_scale`` and ``logit_bias``; the image classifier is the vision
    tower and ``image_classifier`` on its sub-config's ``hidden_size`` (an ``Identity`` for ``num_labels`` 0)."""
    text = _sub_config(config, "text_config", f"{prefix.lower()}_text_model")
    vision = _sub_config(config, "vision_config", f"{prefix.lower()}_vision_model")
    if architecture == f"{prefix}ForImageClassification":
        classifier = common.image_classifier(config, common.path_dim(vision, "hidden_size"))
        return common.module("", architecture, vision_tower(vision, "vision_model"), classifier)
    scale = (Param("logit_scale", (_ONE,)), Param("logit_bias", (_ONE,)))
    return common.module(
        "", architecture, text_tower(text, "text_model"), vision_tower(vision, "vision_model"), params=scale
    )


def register_siglip(prefix: str, text_tower: Tower, vision_tower: Tower) -> None:
    """Register a SigLIP-style family: ``<prefix>Model`` and ``<prefix>ForImageClassification`` (``siglip_model``)
    under the model type ``prefix.lower()`` (``siglip``), and each tower alone under that type's ``_text_model``
    and ``_vision_model`` (``siglip_vision_model``: PaliGemma's vision config is one).

    The tower classes are counted from a tower's own config only: transformers 5.24 cannot build them from the
    family's full config."""
    name = prefix.lower()

    def model(config: Config, architecture: str) -> Module:
        return siglip_model(config, architecture, prefix, text_tower, vision_tower)

    classes = (f"{prefix}Model", f"{prefix}ForImageClassification")
    model_type(name, architectures=classes, default=classes[0])(model)
    for part, tower in (("Text", text_tower), ("Vision", vision_tower)):
        alone = f"{prefix}{part}Model"
        model_type(f"{name}_{part.lower()}_model", architectures=(alone,), default=alone)(_alone(tower))


def _alone(tower: Tower) -> Tower:
    """The builder of a tower given its own config: the tower is the whole model, so it has no name."""

    def build(config: Config, architecture: str) -> Module:
        return tower(config, "")

    return build


register_siglip("Siglip", _siglip_text, _siglip_vision)


# --- DINOv2 ------------------------------------------------------------------------------------------------------


def _dinov2_mlp(config: Config, hidden: Dim) -> Module:
    """``Dinov2MLP`` of ``int(hidden_size · mlp_ratio)`` features, or ``Dinov2SwiGLUFFN`` (``use_swiglu_ffn``)
    whose width is that times 2/3 rounded up to a multiple of 8."""
    ratio = common.path_dim(config, "mlp_ratio", 4)
    features = hidden.value * ratio.value
    if not config.flag("use_swiglu_ffn", False):
        width = hidden * ratio
        return common.module(
            "mlp",
            "Dinov2MLP",
            common.linear("fc1", hidden, width, bias=True),
            common.linear("fc2", width, hidden, bias=True),
        )
    width = Dim.of((int(features * 2 / 3) + 7) // 8 * 8, "swiglu_hidden_features")
    return common.module(
        "mlp",
        "Dinov2SwiGLUFFN",
        common.linear("gate_proj", hidden, width, bias=True),
        common.linear("up_proj", hidden, width, bias=True),
        common.linear("down_proj", width, hidden, bias=True),
    )


def _dinov2_model(config: Config, name: str) -> Module:
    hidden = common.path_dim(config, "hidden_size")
    heads = common.path_heads(config, hidden, "num_attention_heads")
    inner = heads * (hidden // heads)
    qkv_bias = config.flag("qkv_bias", True)
    patcher, patches = patch_embeddings(config, "Dinov2PatchEmbeddings", hidden, 14)
    tokens = [Param("cls_token", (_ONE, _ONE, hidden))]
    if config.flag("use_mask_token", True):
        tokens.append(Param("mask_token", (_ONE, hidden)))
    tokens.append(Param("position_embeddings", (_ONE, patches + 1, hidden)))
    embeddings = common.module(
        "embeddings",
        "Dinov2Embeddings",
        patcher,
        params=tuple(tokens),
    )
    scale = common.module("layer_scale1", "Dinov2LayerScale", params=(Param("lambda1", (hidden,)),))
    layer = common.module(
        "0",
        "Dinov2Layer",
        common.layer_norm("norm1", hidden),
        common.module(
            "attention",
            "Dinov2Attention",
            *common.qkv_projections(hidden, inner, inner, bias=qkv_bias),
            common.linear("o_proj", inner, hidden, bias=True),
        ),
        scale,
        common.layer_norm("norm2", hidden),
        _dinov2_mlp(config, hidden),
        replace(scale, name="layer_scale2"),
    )
    encoder = common.module(
        "encoder", "Dinov2Encoder", common.stack("layer", layer, config.layers("num_hidden_layers"))
    )
    return common.module(name, "Dinov2Model", embeddings, encoder, common.layer_norm("layernorm", hidden))


@model_type("dinov2", architectures=("Dinov2Model", "Dinov2ForImageClassification"), default="Dinov2Model")
def dinov2(config: Config, architecture: str) -> Module:
    """DINOv2: the classifier reads the class token and the mean patch token, so it is ``2·hidden_size`` wide."""
    if architecture == "Dinov2Model":
        return _dinov2_model(config, "")
    classifier = common.image_classifier(config, common.path_dim(config, "hidden_size") * 2)
    return common.module("", architecture, _dinov2_model(config, "dinov2"), classifier)
