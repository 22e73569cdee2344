"""Vision-language families built around another model's text tower: LLaVA-NeXT and LLaVA-OneVision (LLaVA with an
``image_newline`` vector), PaliGemma (SigLIP, one projection), Idefics3 and SmolVLM (their own SigLIP-like vision
encoder and a pixel-shuffle connector) and Mistral 3 (a Pixtral vision tower, a patch merger); and Pixtral's vision
tower itself (``pixtral``), which Mistral 3 builds through ``AutoModel`` as LLaVA builds its towers.

Each builder mirrors the modelling code of transformers 5.24 (``models/<type>/modeling_<type>.py``): the same module
names, registration order and ties, checked against transformers on the meta device. The text tower is the base
model of the text config's own ``model_type`` (``AutoModel.from_config``), built by that type's registered builder;
the sub-configs are completed with their classes' defaults when the config is read (``_defaults.py``), under each
parent's own defaults for an absent sub-config (PaliGemma's Gemma 2B, Mistral 3's 24B text model).

Gemma 3n is not here: its vision tower is timm's MobileNetV5 (``TimmWrapperModel``), which transformers 5.24 cannot
build without timm, so there is nothing to check a count against.
"""

from __future__ import annotations

from paramcount._record import replace
from paramcount.sources.hf._config import Config
from paramcount.sources.hf._defaults import attribute
from paramcount.sources.hf._registry import model_type
from paramcount.sources.hf.builders._common import (
    embedding,
    layer_norm,
    linear,
    module,
    patchify,
    path_dim,
    rms_norm,
    stack,
)
from paramcount.sources.hf.builders._llama_style import gated_mlp
from paramcount.sources.hf.builders.vision_language import (
    LlavaLayout,
    _feature_layers,
    _llava_sub,
    _sub_config,
    _sub_model,
    clip_encoder,
    feature_layer_fact,
    language_head,
    llava_model,
)
from paramcount.tree import Buffer, Dim, Module

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Final

    from paramcount.tree import Value

__all__ = ["idefics3", "llava_next", "llava_onevision", "mistral3", "paligemma", "pixtral", "smolvlm"]


def _classes(prefix: str) -> tuple[str, str]:
    return f"{prefix}Model", f"{prefix}ForConditionalGeneration"


def _assemble(
    config: Config,
    architecture: str,
    prefix: str,
    text: Config,
    parts: Callable[[str], tuple[Module, ...]],
    *,
    language: str = "language_model",
    family: str,
) -> Module:
    """``<prefix>Model`` of the modules ``parts(path)`` builds (the language model last; ``path`` is where the base
    model sits: ``""`` or ``"model."``), with ``lm_head`` under ``<prefix>ForConditionalGeneration``, tied by the
    config's own ``tie_word_embeddings`` (these config classes do not take the text config's)."""
    base_kind = f"{prefix}Model"
    path = "" if architecture == base_kind else "model."
    children = parts(path)
    base = module("model" if path else "", base_kind, *children)
    if not path:
        return base
    width = path_dim(text, attribute(text.model_type, "hidden_size"))
    tie = config.flag("tie_word_embeddings", False)
    return module("", architecture, base, language_head(text, children[-1], width, tie, f"model.{language}", family))


# --- LLaVA-NeXT and LLaVA-OneVision ------------------------------------------------------------------------------

_LLAVA_NEXT = LlavaLayout("LlavaNext", "clip_vision_model", "llama", newline=True, tie_from_text=False)
_LLAVA_ONEVISION = LlavaLayout("LlavaOnevision", "siglip_vision_model", "qwen2", newline=True)
# The config classes' image_grid_pinpoints when a file leaves them out (set in their __post_init__, so not in the
# defaults table): LlavaNextConfig's five resolutions, LlavaOnevisionConfig's 6 × 6 multiples of 384 pixels.
_NEXT_PINPOINTS: Final = ((336, 672), (672, 336), (672, 672), (1008, 336), (336, 1008))
_ONEVISION_PINPOINTS: Final = tuple((384 * rows, 384 * columns) for rows in range(1, 7) for columns in range(1, 7))


def _anyres(tree: Module, config: Config, default: tuple[tuple[int, int], ...], *read: str) -> Module:
    """The base model (the tree, or its ``model``) with the AnyRes facts its shapes read and its tensors do not show:
    ``image_grid_pinpoints`` (the resolutions an image is tiled to), the tile size ``vision_config.image_size`` (the
    tower's patches floor it) and the text keys ``read``; one written in another form than transformers reads is
    left out (the shapes are then not modelled; the count is unchanged)."""
    vision = config.raw("vision_config")
    side = vision.get("image_size") if isinstance(vision, dict) else None
    raw = config.raw("image_grid_pinpoints")
    pinpoints: tuple[tuple[int, int], ...] | None = default if raw is None else None
    if isinstance(raw, list) and all(
        isinstance(pair, list) and len(pair) == 2 and all(type(size) is int and size > 0 for size in pair)
        for pair in raw
    ):
        pinpoints = tuple((pair[0], pair[1]) for pair in raw)
    facts: list[tuple[str, str | int]] = [(key, value) for key in read if isinstance(value := config.raw(key), str)]
    if type(side) is int and side > 0:
        facts.append(("vision_config.image_size", side))
    return _with_facts(tree, (*facts, *((("image_grid_pinpoints", pinpoints),) if pinpoints else ())))


def _with_facts(tree: Module, facts: tuple[tuple[str, Value], ...]) -> Module:
    """The tree with ``facts`` added to its base model's attributes (the tree, or its ``model``)."""
    if tree.kind.endswith("ForConditionalGeneration"):
        base, *rest = tree.children
        return replace(tree, children=(replace(base, attributes=(*base.attributes, *facts)), *rest))
    return replace(tree, attributes=(*tree.attributes, *facts))


@model_type("llava_next", architectures=_classes("LlavaNext"), default="LlavaNextForConditionalGeneration")
def llava_next(config: Config, architecture: str) -> Module:
    """LLaVA-NeXT (LLaVA 1.6): LLaVA with ``image_newline`` (one text-width vector); its config class does not take
    ``tie_word_embeddings`` from the text config."""
    return _anyres(llava_model(config, architecture, _LLAVA_NEXT), config, _NEXT_PINPOINTS)


@model_type(
    "llava_onevision", architectures=_classes("LlavaOnevision"), default="LlavaOnevisionForConditionalGeneration"
)
def llava_onevision(config: Config, architecture: str) -> Module:
    """LLaVA-OneVision: LLaVA-NeXT's layout with a SigLIP tower and a Qwen2 text model by default."""
    tree = llava_model(config, architecture, _LLAVA_ONEVISION)
    return _anyres(tree, config, _ONEVISION_PINPOINTS, "vision_aspect_ratio")


# --- PaliGemma ---------------------------------------------------------------------------------------------------


@model_type("paligemma", architectures=_classes("PaliGemma"), default="PaliGemmaForConditionalGeneration")
def paligemma(config: Config, architecture: str) -> Module:
    """PaliGemma: a SigLIP tower, one biased projection to the top-level ``projection_dim`` (PaliGemmaConfig sets the
    vision config's ``projection_dim`` from it), a Gemma (or Gemma 2) text model; the head ties by default."""
    vision = _llava_sub(config, "vision_config", "siglip_vision_model")
    text = _llava_sub(config, "text_config", "gemma")

    def parts(path: str) -> tuple[Module, ...]:
        width = path_dim(vision, "hidden_size")
        projection = linear("linear", width, path_dim(config, "projection_dim"), bias=True)
        return (
            _sub_model(vision, "vision_tower", f"{path}vision_tower."),
            module("multi_modal_projector", "PaliGemmaMultiModalProjector", projection),
            _sub_model(text, "language_model", f"{path}language_model."),
        )

    return _assemble(config, architecture, "PaliGemma", text, parts, family="PaliGemma")


# --- Idefics3 and SmolVLM ----------------------------------------------------------------------------------------


def _idefics3_vision(config: Config, prefix: str) -> Module:
    """``<prefix>VisionTransformer``: SigLIP's patch embedding without ``position_ids``, CLIP's encoder layer order,
    a final LayerNorm."""
    hidden = path_dim(config, "hidden_size")
    patch = path_dim(config, "patch_size")
    side = path_dim(config, "image_size") // patch
    embeddings = module(
        "embeddings",
        f"{prefix}VisionEmbeddings",
        patchify("patch_embedding", path_dim(config, "num_channels"), hidden, patch, bias=True, padding="valid"),
        embedding("position_embedding", side * side, hidden),
    )
    encoder = clip_encoder(config, hidden, prefix, part="Vision")
    return module(
        "vision_model", f"{prefix}VisionTransformer", embeddings, encoder, layer_norm("post_layernorm", hidden)
    )


def _idefics3_like(config: Config, architecture: str, prefix: str, vision_type: str) -> Module:
    """Idefics3 / SmolVLM: the vision encoder, a connector whose one bias-free projection reads ``scale_factor²``
    shuffled patches, the text model as ``text_model``."""
    vision = _sub_config(config, "vision_config", vision_type)
    text = _llava_sub(config, "text_config", "llama")

    def parts(path: str) -> tuple[Module, ...]:
        scale = path_dim(config, "scale_factor")
        width = path_dim(vision, "hidden_size") * (scale * scale)
        projection = linear("proj", width, path_dim(text, attribute(text.model_type, "hidden_size")), bias=False)
        connector = module(
            "connector", f"{prefix}Connector", module("modality_projection", f"{prefix}SimpleMLP", projection)
        )
        return (_idefics3_vision(vision, prefix), connector, _sub_model(text, "text_model", f"{path}text_model."))

    return _assemble(config, architecture, prefix, text, parts, language="text_model", family=prefix)


@model_type("idefics3", architectures=_classes("Idefics3"), default="Idefics3ForConditionalGeneration")
def idefics3(config: Config, architecture: str) -> Module:
    """Idefics3 (Llama 3 text model by default)."""
    return _idefics3_like(config, architecture, "Idefics3", "idefics3_vision")


@model_type("smolvlm", architectures=_classes("SmolVLM"), default="SmolVLMForConditionalGeneration")
def smolvlm(config: Config, architecture: str) -> Module:
    """SmolVLM and SmolVLM2: Idefics3's layout under its own class names."""
    return _idefics3_like(config, architecture, "SmolVLM", "smolvlm_vision")


# --- Pixtral and Mistral 3 ---------------------------------------------------------------------------------------


@model_type("pixtral", architectures=("PixtralVisionModel",), default="PixtralVisionModel")
def pixtral(config: Config, architecture: str) -> Module:
    """Pixtral's vision encoder: a bias-free patch convolution, RMSNorms, gated MLPs, bias-free attention and a 2-D
    rotary embedding whose buffers hold ``head_dim/2`` frequencies (``head_dim = hidden_size // num_attention_heads``,
    which PixtralVisionConfig always derives)."""
    hidden = path_dim(config, "hidden_size")
    patch = path_dim(config, "patch_size")
    head_dim = hidden // path_dim(config, "num_attention_heads")
    attention = module(
        "attention",
        "PixtralAttention",
        *(linear(name, hidden, hidden, bias=False) for name in ("k_proj", "v_proj", "q_proj", "o_proj")),
    )
    layer = module(
        "0",
        "PixtralAttentionLayer",
        rms_norm("attention_norm", hidden, "PixtralRMSNorm"),
        gated_mlp("feed_forward", "PixtralMLP", hidden, path_dim(config, "intermediate_size")),
        attention,
        rms_norm("ffn_norm", hidden, "PixtralRMSNorm"),
    )
    frequencies = Dim.of((head_dim.value + 1) // 2, "head_dim/2")
    rotary = tuple(Buffer(name, (frequencies,), persistent=False) for name in ("inv_freq", "original_inv_freq"))
    # The image size its shapes assume (the processor's longest edge): no tensor shows it, the tower takes any size.
    side = config.raw("image_size")
    tower = module(
        "",
        architecture,
        patchify("patch_conv", path_dim(config, "num_channels"), hidden, patch, bias=False),
        rms_norm("ln_pre", hidden, "PixtralRMSNorm"),
        module("transformer", "PixtralTransformer", stack("layers", layer, config.layers("num_hidden_layers"))),
        module("patch_positional_embedding", "PixtralVisionRotaryEmbedding", buffers=rotary),
    )
    if type(side) is int and side > 0:
        return replace(tower, attributes=(("image_size", side),))
    return tower


@model_type("mistral3", architectures=_classes("Mistral3"), default="Mistral3ForConditionalGeneration")
def mistral3(config: Config, architecture: str) -> Module:
    """Mistral 3 (Mistral Small 3.1): a Pixtral tower, a projector that normalises, merges each
    ``spatial_merge_size²`` patches with one bias-free linear layer and maps them into the text width in two
    layers, and a Mistral text model; the head ties by default (Mistral3Config), published configs untie it."""
    vision = _llava_sub(config, "vision_config", "pixtral")
    text = _llava_sub(config, "text_config", "mistral")

    def parts(path: str) -> tuple[Module, ...]:
        width = path_dim(vision, "hidden_size")
        merge = path_dim(config, "spatial_merge_size")
        features = _feature_layers(config)
        text_width = path_dim(text, attribute(text.model_type, "hidden_size"))
        bias = config.flag("multimodal_projector_bias", False)
        merger = module(
            "patch_merger", "Mistral3PatchMerger", linear("merging_layer", width * (merge * merge), width, bias=False)
        )
        projector = module(
            "multi_modal_projector",
            "Mistral3MultiModalProjector",
            rms_norm("norm", width, "Mistral3RMSNorm"),
            merger,
            linear("linear_1", width if features is None else width * features, text_width, bias=bias),
            linear("linear_2", text_width, text_width, bias=bias),
        )
        return (
            _sub_model(vision, "vision_tower", f"{path}vision_tower."),
            projector,
            _sub_model(text, "language_model", f"{path}language_model."),
        )

    tree = _assemble(config, architecture, "Mistral3", text, parts, family="Mistral 3")
    return _with_facts(tree, (feature_layer_fact(config),))
