"""Gemma 3: the text model (``gemma3_text``, a row of the shared llama-style shape in ``_llama_style.py``) and the
model with images (``gemma3``): a SigLIP vision tower and a projector in front of that text model.

Mirrors ``transformers`` 5.24 (``models/gemma3/modeling_gemma3.py``, ``models/siglip/modeling_siglip.py``).
Gemma 3 keeps one pair of rotary buffers per attention type in use (sliding and full). The published multimodal
configs omit even the sizes of their nested ``text_config`` and ``vision_config``: like every key left out, those
take transformers' defaults when the config is read (``_defaults.py``).
"""

from __future__ import annotations

from paramcount._record import replace
from paramcount.sources.hf._config import Config
from paramcount.sources.hf._registry import model_type
from paramcount.sources.hf.builders._common import (
    check_divisible,
    class_names,
    embedding,
    head_classes,
    kvq_attention,
    layer_norm,
    linear,
    linear_head,
    lm_head,
    module,
    multihead_attention,
    patchify,
    position_ids,
    rms_norm,
    stack,
)
from paramcount.sources.hf.builders._llama_style import (
    TASK_HEADS,
    Sizes,
    base_model,
    read_sizes,
    register_family,
    switch,
)
from paramcount.sources.hf.builders.decoders import GEMMA2
from paramcount.tree import Dim, Module, Param

__all__: list[str] = []


# --- Gemma 3 text (model_type "gemma3_text") -----------------------------------------------------------------


def _rotary_prefixes(config: Config, layers: int) -> list[str]:
    """One ``inv_freq``/``original_inv_freq`` pair per attention type in use, prefixed by the type's name."""
    listed = config.raw("layer_types")
    if isinstance(listed, list) and all(isinstance(item, str) for item in listed):
        layer_types = sorted(set(listed))
    else:
        pattern = config.size("sliding_window_pattern", 6)
        layer_types = sorted(
            {"sliding_attention" if (index + 1) % pattern else "full_attention" for index in range(layers)}
        )
    return [f"{layer_type}_" for layer_type in layer_types]


_GEMMA3_TEXT = replace(
    GEMMA2,
    name="gemma3_text",
    prefix="Gemma3",
    classes=(
        ("Gemma3TextModel", "base"),
        ("Gemma3ForCausalLM", "causal_lm"),
        ("Gemma3TextForSequenceClassification", "sequence_classification"),
    ),
    qk_norm=True,
    rotary_prefixes=_rotary_prefixes,
)
"""Gemma 3's text model: Gemma 2's (``decoders.GEMMA2``) with q/k norms and a rotary table per attention type."""

register_family(_GEMMA3_TEXT)


# --- Gemma 3 with its SigLIP vision tower (model_type "gemma3") -----------------------------------------------


def _siglip_vision_tower(config: Config) -> Module:
    """``SiglipVisionModel``: patch embedding, pre-norm encoder layers, post-norm, optional attention-pooling head."""
    if config.text("model_type", "siglip_vision_model") != "siglip_vision_model":
        raise config.fail("model_type", f"'{config.path('model_type')}' must be 'siglip_vision_model' for gemma3")
    hidden = Dim.of(config.size("hidden_size"), "hidden_size")
    heads = Dim.of(config.size("num_attention_heads"), "num_attention_heads")
    check_divisible(config, hidden, heads)
    width = Dim.of(config.size("intermediate_size"), "intermediate_size")
    patch = Dim.of(config.size("patch_size"), "patch_size")
    side = config.size("image_size") // patch.value
    positions = Dim.of(side * side, "(image_size/patch_size)²")
    channels = Dim.of(config.size("num_channels"), "num_channels")
    embeddings = module(
        "embeddings",
        "SiglipVisionEmbeddings",
        patchify("patch_embedding", channels, hidden, patch, bias=True, padding="valid"),
        embedding("position_embedding", positions, hidden),
        buffers=(position_ids(positions),),
    )
    layers = stack("layers", _siglip_layer(hidden, width), config.layers("num_hidden_layers"))
    encoder = module("encoder", "SiglipEncoder", layers)
    children = [embeddings, encoder, layer_norm("post_layernorm", hidden)]
    if switch(config, "vision_use_head", True):
        children.append(_siglip_pooling_head(hidden, heads, width))
    return module("vision_tower", "SiglipVisionModel", *children)


def _siglip_layer(hidden: Dim, width: Dim) -> Module:
    """Pre-norm encoder layer; SigLIP's attention registers k, v, q, then out."""
    return module(
        "0",
        "SiglipEncoderLayer",
        layer_norm("layer_norm1", hidden),
        kvq_attention("self_attn", "SiglipAttention", hidden),
        layer_norm("layer_norm2", hidden),
        _siglip_mlp(hidden, width),
    )


def _siglip_mlp(hidden: Dim, width: Dim) -> Module:
    return module("mlp", "SiglipMLP", linear("fc1", hidden, width, bias=True), linear("fc2", width, hidden, bias=True))


def _siglip_pooling_head(hidden: Dim, heads: Dim, width: Dim) -> Module:
    """A learned probe attending over the patches with ``nn.MultiheadAttention`` (packed q/k/v)."""
    attention = multihead_attention("attention", hidden, heads)
    probe = Param("probe", (Dim.constant(1), Dim.constant(1), hidden))
    return module(
        "head",
        "SiglipMultiheadAttentionPoolingHead",
        attention,
        layer_norm("layernorm", hidden),
        _siglip_mlp(hidden, width),
        params=(probe,),
    )


def _gemma3_multimodal(config: Config, kind: str) -> tuple[Module, Sizes]:
    """``Gemma3Model``: vision tower, projector into the text width, the Gemma 3 text model."""
    text = config.sub("text_config", "gemma3_text")  # both completed with their classes' defaults when read
    vision = config.sub("vision_config", "siglip_vision_model")
    sizes = read_sizes(_GEMMA3_TEXT, text)
    tower = _siglip_vision_tower(vision)
    vision_hidden = Dim.of(vision.size("hidden_size"), "vision_config.hidden_size")
    text_hidden = Dim.of(sizes.hidden.value, "text_config.hidden_size")
    projector = module(
        "multi_modal_projector",
        "Gemma3MultiModalProjector",
        rms_norm("mm_soft_emb_norm", vision_hidden, "Gemma3RMSNorm"),
        params=(Param("mm_input_projection_weight", (vision_hidden, text_hidden)),),
    )
    # The image's tokens after pooling: no count changes, the shapes and FLOPs read it.
    projector = replace(projector, attributes=(("mm_tokens_per_image", config.size("mm_tokens_per_image")),))
    language = base_model(_GEMMA3_TEXT, text, sizes, "Gemma3TextModel").renamed("language_model")
    return module("model", kind, tower, projector, language), sizes


_GEMMA3_CLASSES = head_classes(
    "Gemma3", ("causal_lm", "sequence_classification"), causal_lm="Gemma3ForConditionalGeneration"
)


@model_type("gemma3", architectures=class_names(_GEMMA3_CLASSES), default="Gemma3ForConditionalGeneration")
def gemma3(config: Config, architecture: str) -> Module:
    """Gemma 3 with images (``Gemma3ForConditionalGeneration``); text-only checkpoints use ``gemma3_text``."""
    head = dict(_GEMMA3_CLASSES)[architecture]
    base, sizes = _gemma3_multimodal(config, "Gemma3Model")
    if head == "base":
        return base
    if head != "causal_lm":
        return module("", architecture, base, linear_head(TASK_HEADS[head], config, sizes.hidden))
    # Gemma3Config: tie_word_embeddings is ``bool | None``, null unties.
    language = lm_head(config, sizes.hidden, sizes.vocab, "model.language_model.embed_tokens.weight", tie_default=True)
    return module("", architecture, base, language)
