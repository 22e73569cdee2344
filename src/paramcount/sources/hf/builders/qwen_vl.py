"""Qwen2-VL, Qwen2.5-VL and Qwen3-VL: a native-resolution vision transformer (a 3-D patch convolution over
``temporal_patch_size`` frames, 2-D rotary buffers, a patch merger that maps ``spatial_merge_size²`` patches into
the text width; Qwen3-VL adds learned position embeddings and one "deepstack" merger per listed layer) in front of
the family's own text model (Qwen2's layout with multimodal RoPE; Qwen3's with q/k norms).

Each builder mirrors the modelling code of transformers 5.24 (``models/<type>/modeling_<type>.py``): module names,
registration order, buffers and the tied head, checked against transformers on the meta device. The published
Qwen2-VL and Qwen2.5-VL configs are flat: the text model's sizes sit at the top level, and the config class moves
them into ``text_config`` (``_defaults.complete``'s ``from_parent``). The head ties when ``tie_word_embeddings`` is
set at the top level or, for Qwen2-VL and Qwen2.5-VL, in the text config (their config classes take it from there).
"""

from __future__ import annotations

from paramcount._record import Record, replace
from paramcount.sources.hf._config import Config
from paramcount.sources.hf._registry import model_type
from paramcount.sources.hf.builders._common import (
    conv,
    embedding,
    layer_norm,
    linear,
    module,
    path_dim,
    rms_norm,
    stack,
)
from paramcount.sources.hf.builders._llama_style import (
    Family,
    Sizes,
    base_model,
    gated_mlp,
    read_sizes,
)
from paramcount.sources.hf.builders.vision_language import _sub_config, language_head
from paramcount.tree import Buffer, Dim, Module

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Final

__all__ = ["qwen2_5_vl", "qwen2_vl", "qwen3_vl"]


def _qwen2_mlp(family: Family, config: Config, sizes: Sizes, kind: str) -> Module:
    """The text MLP: transformers reuses ``Qwen2MLP`` in Qwen2-VL and Qwen2.5-VL."""
    return gated_mlp("mlp", "Qwen2MLP", sizes.hidden, sizes.intermediate)


class _Layout(Record):
    """How a Qwen VL family builds its towers."""

    prefix: str
    """Class-name prefix of the composite classes: ``Qwen2VL`` → ``Qwen2VLModel``."""
    text: Family
    """The text model as a llama-style row; its name is the text config's type."""
    vision_type: str
    tie_from_text: bool
    """Whether the config class takes ``tie_word_embeddings`` from the text config (Qwen2-VL, Qwen2.5-VL)."""


# The text models as llama-style rows, never registered: each is built only under its vision-language model.
_QWEN2_VL: Final = _Layout(
    "Qwen2VL",
    Family("qwen2_vl_text", "Qwen2VL", (("Qwen2VLTextModel", "base"),), mlp=_qwen2_mlp, qkv_bias=True),
    "qwen2_vl_vision",
    tie_from_text=True,
)
_QWEN2_5_VL: Final = _Layout(
    "Qwen2_5_VL",
    Family(
        "qwen2_5_vl_text",
        "Qwen2_5_VL",
        (("Qwen2_5_VLTextModel", "base"),),
        mlp=_qwen2_mlp,
        qkv_bias=True,
    ),
    "qwen2_5_vl_vision",
    tie_from_text=True,
)
_QWEN3_VL: Final = _Layout(
    "Qwen3VL",
    Family("qwen3_vl_text", "Qwen3VLText", (("Qwen3VLTextModel", "base"),), qk_norm=True),
    "qwen3_vl_vision",
    tie_from_text=False,
)


# --- the vision towers -------------------------------------------------------------------------------------------


def _patch_embed(config: Config, kind: str, width: Dim, *, bias: bool) -> Module:
    """A ``Conv3d`` over ``temporal_patch_size`` frames of ``patch_size²`` pixels, stride equal to the kernel."""
    frames, patch = path_dim(config, "temporal_patch_size"), path_dim(config, "patch_size")
    kernel = (frames.value, patch.value, patch.value)
    projection = conv(
        "proj", "Conv3d", path_dim(config, "in_channels"), width, (frames, patch, patch), bias=bias, stride=kernel
    )
    return module("patch_embed", kind, projection)


def _vision_rotary(config: Config, kind: str, width: Dim) -> Module:
    """The 2-D rotary embedding: ``arange(0, head_dim // 2, 2)`` frequencies, ``head_dim`` the vision config's
    ``head_dim`` when it has one, else ``width // num_heads``."""
    has_head_dim = config.has("head_dim")
    head_dim = path_dim(config, "head_dim") if has_head_dim else width // path_dim(config, "num_heads")
    frequencies = Dim.of((head_dim.value // 2 + 1) // 2, "head_dim/4")
    buffers = tuple(Buffer(name, (frequencies,), persistent=False) for name in ("inv_freq", "original_inv_freq"))
    return module("rotary_pos_emb", kind, buffers=buffers)


def _merge_area(config: Config) -> Dim:
    """``spatial_merge_size²``: how many patches the merger joins into one token."""
    merge = path_dim(config, "spatial_merge_size")
    return merge * merge


def _attention(kind: str, width: Dim) -> Module:
    return module("attn", kind, linear("qkv", width, 3 * width, bias=True), linear("proj", width, width, bias=True))


def _merger_tower(
    config: Config, kinds: tuple[str, str, str, str], width: Dim, block: Module, norm: Module, outputs: Dim
) -> Module:
    """Qwen2-VL's and Qwen2.5-VL's tower (``kinds``: tower, patch embedding, rotary embedding, merger): the blocks,
    then a ``merger`` of ``norm`` and ``nn.Sequential(Linear, GELU, Linear)`` (the GELU at index 1 holds nothing)
    into ``outputs``."""
    tower, patch, rotary, merger = kinds
    merged = width * _merge_area(config)
    mlp = module("mlp", "Sequential", linear("0", merged, merged, bias=True), linear("2", merged, outputs, bias=True))
    return module(
        "visual",
        tower,
        _patch_embed(config, patch, width, bias=False),
        _vision_rotary(config, rotary, width),
        stack("blocks", block, config.layers("depth")),
        module("merger", merger, norm, mlp),
    )


def _qwen2_vl_vision(config: Config) -> Module:
    """``Qwen2VisionTransformerPretrainedModel``: ``embed_dim`` wide, LayerNorms, a ``mlp_ratio`` MLP; the merger
    maps into ``hidden_size`` (the text width)."""
    width = path_dim(config, "embed_dim")
    ffn = Dim.of(int(width.value * config.number("mlp_ratio")), f"{config.path('mlp_ratio')}·{width.symbol}")
    block = module(
        "0",
        "Qwen2VLVisionBlock",
        layer_norm("norm1", width),
        layer_norm("norm2", width),
        _attention("VisionAttention", width),
        module("mlp", "VisionMlp", linear("fc1", width, ffn, bias=True), linear("fc2", ffn, width, bias=True)),
    )
    kinds = ("Qwen2VisionTransformerPretrainedModel", "PatchEmbed", "Qwen2VLVisionRotaryEmbedding", "PatchMerger")
    return _merger_tower(config, kinds, width, block, layer_norm("ln_q", width), path_dim(config, "hidden_size"))


def _qwen2_5_vl_vision(config: Config) -> Module:
    """``Qwen2_5_VisionTransformerPretrainedModel``: ``hidden_size`` wide, RMSNorms, a biased gated MLP; the merger
    maps into ``out_hidden_size``."""
    width = path_dim(config, "hidden_size")
    block = module(
        "0",
        "Qwen2_5_VLVisionBlock",
        rms_norm("norm1", width, "Qwen2_5_VLRMSNorm"),
        rms_norm("norm2", width, "Qwen2_5_VLRMSNorm"),
        _attention("Qwen2_5_VLVisionAttention", width),
        gated_mlp("mlp", "Qwen2_5_VLMLP", width, path_dim(config, "intermediate_size"), bias=True),
    )
    kinds = (
        "Qwen2_5_VisionTransformerPretrainedModel",
        "Qwen2_5_VisionPatchEmbed",
        "Qwen2_5_VLVisionRotaryEmbedding",
        "Qwen2_5_VLPatchMerger",
    )
    norm = rms_norm("ln_q", width, "Qwen2_5_VLRMSNorm")
    tower = _merger_tower(config, kinds, width, block, norm, path_dim(config, "out_hidden_size"))
    # Which blocks attend within windows: shapes and FLOPs depend on it, the tensors do not show it.
    full = tuple(config.sizes("fullatt_block_indexes"))
    return replace(tower, attributes=(("window_size", config.size("window_size")), ("fullatt_block_indexes", full)))


def _qwen3_vl_merger(name: str, norm_width: Dim, merged: Dim, outputs: Dim) -> Module:
    """``Qwen3VLVisionPatchMerger``: the main merger normalises each patch, the deepstack ones the merged vector."""
    return module(
        name,
        "Qwen3VLVisionPatchMerger",
        layer_norm("norm", norm_width),
        linear("linear_fc1", merged, merged, bias=True),
        linear("linear_fc2", merged, outputs, bias=True),
    )


def _qwen3_vl_vision(config: Config) -> Module:
    """``Qwen3VLVisionModel``: a biased patch convolution, learned ``pos_embed``, LayerNorm blocks with a plain MLP,
    the merger and one deepstack merger per ``deepstack_visual_indexes`` entry."""
    width = path_dim(config, "hidden_size")
    ffn = path_dim(config, "intermediate_size")
    block = module(
        "0",
        "Qwen3VLVisionBlock",
        layer_norm("norm1", width),
        layer_norm("norm2", width),
        _attention("Qwen3VLVisionAttention", width),
        module(
            "mlp",
            "Qwen3VLVisionMLP",
            linear("linear_fc1", width, ffn, bias=True),
            linear("linear_fc2", ffn, width, bias=True),
        ),
    )
    merged = width * _merge_area(config)
    outputs = path_dim(config, "out_hidden_size")
    indexes = config.raw("deepstack_visual_indexes")
    if not isinstance(indexes, list):
        raise config.fail(
            "deepstack_visual_indexes",
            f"'{config.path('deepstack_visual_indexes')}' must be a list of layer indexes, got {indexes!r:.40}",
        )
    deepstack = stack("deepstack_merger_list", _qwen3_vl_merger("0", merged, merged, outputs), len(indexes))
    tower = module(
        "visual",
        "Qwen3VLVisionModel",
        _patch_embed(config, "Qwen3VLVisionPatchEmbed", width, bias=True),
        embedding("pos_embed", path_dim(config, "num_position_embeddings"), width),
        _vision_rotary(config, "Qwen3VLVisionRotaryEmbedding", width),
        stack("blocks", block, config.layers("depth")),
        _qwen3_vl_merger("merger", width, merged, outputs),
        deepstack,
    )
    # Which blocks' outputs the deepstack mergers read (an index past the last block: never called).
    taps = tuple(config.sizes("deepstack_visual_indexes"))
    return replace(tower, attributes=(("deepstack_visual_indexes", taps),))


# --- the models --------------------------------------------------------------------------------------------------


def _build(config: Config, architecture: str, layout: _Layout, vision_tower: Module) -> Module:
    text = _sub_config(config, "text_config", layout.text.name)
    sizes = read_sizes(layout.text, text)
    language = base_model(layout.text, text, sizes, layout.text.classes[0][0])
    base_kind = f"{layout.prefix}Model"
    if architecture == base_kind:
        return module("", base_kind, vision_tower, language.renamed("language_model"))
    language = language.renamed("language_model")
    base = module("model", base_kind, vision_tower, language)
    tie = config.flag("tie_word_embeddings", False) or (
        layout.tie_from_text and text.flag("tie_word_embeddings", False)
    )
    head = language_head(text, language, sizes.hidden, tie, "model.language_model", layout.prefix)
    return module("", architecture, base, head)


def _classes(prefix: str) -> tuple[str, str]:
    return f"{prefix}Model", f"{prefix}ForConditionalGeneration"


@model_type("qwen2_vl", architectures=_classes("Qwen2VL"), default="Qwen2VLForConditionalGeneration")
def qwen2_vl(config: Config, architecture: str) -> Module:
    """Qwen2-VL."""
    vision = _qwen2_vl_vision(_sub_config(config, "vision_config", _QWEN2_VL.vision_type))
    return _build(config, architecture, _QWEN2_VL, vision)


@model_type("qwen2_5_vl", architectures=_classes("Qwen2_5_VL"), default="Qwen2_5_VLForConditionalGeneration")
def qwen2_5_vl(config: Config, architecture: str) -> Module:
    """Qwen2.5-VL."""
    vision = _qwen2_5_vl_vision(_sub_config(config, "vision_config", _QWEN2_5_VL.vision_type))
    return _build(config, architecture, _QWEN2_5_VL, vision)


@model_type("qwen3_vl", architectures=_classes("Qwen3VL"), default="Qwen3VLForConditionalGeneration")
def qwen3_vl(config: Config, architecture: str) -> Module:
    """Qwen3-VL (dense; the MoE variant ``qwen3_vl_moe`` is not built here)."""
    vision = _qwen3_vl_vision(_sub_config(config, "vision_config", _QWEN3_VL.vision_type))
    return _build(config, architecture, _QWEN3_VL, vision)
