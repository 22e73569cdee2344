"""Vision and vision-language families: ViT, CLIP (and its standalone towers) and LLaVA.

Each builder mirrors the modelling code of transformers 5.24 (``models/<type>/modeling_<type>.py``): the same
module names, the same registration order (so ``iter_params`` lists what ``named_parameters()`` lists) and the
same ties, each checked against transformers on the meta device. LLaVA keeps every vision layer
(``vision_feature_layer`` selects a hidden state at run time; nothing is dropped in 5.24) and reads
``len(vision_feature_layer)`` stacked features when it is a list.

Keys a config leaves out, at the top level and in the sub-configs of composite models (CLIP's
``text_config``/``vision_config``, LLaVA's), hold the defaults of their transformers config class when a builder
reads them: ``build_config_tree`` completes the config first (``_defaults.py``); llava-1.5's ``text_config`` omits
``hidden_size``, and a Gemma text tower ties its head unless it says otherwise.
"""

from __future__ import annotations

from paramcount._record import Record, replace
from paramcount.errors import ConfigError, UnknownNameError
from paramcount.sources.hf._config import Config
from paramcount.sources.hf._defaults import attribute, complete
from paramcount.sources.hf._registry import activation_settings, model_type, spec_for
from paramcount.sources.hf.builders import _common as common
from paramcount.tree import Dim, Module, Param

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Final

__all__ = [
    "LlavaLayout",
    "clip",
    "clip_text_model",
    "clip_vision_model",
    "feature_layer_fact",
    "language_head",
    "llava",
    "llava_model",
    "vit",
]


# --- sub-configs and sub-models ----------------------------------------------------------------------------------


def _sub_config(parent: Config, key: str, model_type: str) -> Config:
    """The nested config ``parent[key]``, already completed with its class's defaults (``_defaults.complete``);
    nulls count as absent."""
    raw = parent.raw(key)
    if raw is None:
        data: dict[str, Any] = {}
    elif isinstance(raw, dict):
        data = {name: value for name, value in raw.items() if value is not None}
    else:
        raise parent.fail(key, f"'{parent.path(key)}' must be an object, got {raw!r:.40}")
    return Config(data, model_type, parent.source, f"{parent.path(key)}.")


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


# --- ViT ---------------------------------------------------------------------------------------------------------


def _pair(config: Config, key: str, default: int) -> tuple[Dim, Dim]:
    """``image_size``/``patch_size``: an int (square) or a [height, width] list."""
    if isinstance(config.raw(key), list):
        values = config.sizes(key)
        if len(values) != 2 or min(values) < 1:
            raise config.fail(key, f"'{config.path(key)}' must be a positive integer or two, got {values!r:.40}")
        return Dim.of(values[0], f"{config.path(key)}[0]"), Dim.of(values[1], f"{config.path(key)}[1]")
    side = common.path_dim(config, key, default)
    return side, side


def patch_embeddings(config: Config, kind: str, hidden: Dim, patch_default: int) -> tuple[Module, Dim]:
    """ViT's ``patch_embeddings`` (``kind``): a Conv2d from ``num_channels`` to ``hidden`` whose kernel and stride
    are ``patch_size``; and the patches an ``image_size`` image makes, counted as ``ViTPatchEmbeddings`` counts
    them. Either size is an int (square) or a [height, width] list."""
    image_h, image_w = _pair(config, "image_size", 224)
    patch_h, patch_w = _pair(config, "patch_size", patch_default)
    channels = common.path_dim(config, "num_channels", 3)
    stride = (patch_h.value, patch_w.value)
    projection = common.conv("projection", "Conv2d", channels, hidden, (patch_h, patch_w), bias=True, stride=stride)
    return common.module("patch_embeddings", kind, projection), (image_w // patch_w) * (image_h // patch_h)


def _vit_model(config: Config, name: str, *, pooler: bool) -> Module:
    hidden = common.path_dim(config, "hidden_size")
    heads = common.path_dim(config, "num_attention_heads")
    head_dim = common.path_dim(config, "head_dim") if config.has("head_dim") else hidden // heads
    inner = heads * head_dim
    qkv_bias = config.flag("qkv_bias", True)
    patcher, patches = patch_embeddings(config, "ViTPatchEmbeddings", hidden, 16)
    embeddings = common.module(
        "embeddings",
        "ViTEmbeddings",
        patcher,
        params=(
            Param("cls_token", (Dim.constant(1), Dim.constant(1), hidden)),
            Param("position_embeddings", (Dim.constant(1), patches + 1, hidden)),
        ),
    )
    layer = common.module(
        "0",
        "ViTLayer",
        common.module(
            "attention",
            "ViTAttention",
            *common.qkv_projections(hidden, inner, inner, bias=qkv_bias),
            common.linear("o_proj", inner, hidden, bias=True),
        ),
        common.layer_norm("layernorm_before", hidden),
        common.layer_norm("layernorm_after", hidden),
        common.mlp("mlp", "ViTMLP", hidden, common.path_dim(config, "intermediate_size")),
    )
    children = [
        embeddings,
        common.stack("layers", layer, config.layers("num_hidden_layers")),
        common.layer_norm("layernorm", hidden),
    ]
    if pooler:
        width = common.path_dim(config, "pooler_output_size") if config.has("pooler_output_size") else hidden
        children.append(common.module("pooler", "ViTPooler", common.linear("dense", hidden, width, bias=True)))
    return common.module(name, "ViTModel", *children)


@model_type("vit", architectures=("ViTModel", "ViTForImageClassification"), default="ViTModel")
def vit(config: Config, architecture: str) -> Module:
    """ViT: patch Conv2d, ``cls_token`` and ``position_embeddings``; ViTModel has a pooler, the classifier not."""
    if architecture == "ViTModel":
        return _vit_model(config, "", pooler=True)
    base = _vit_model(config, "vit", pooler=False)
    return common.module(
        "", architecture, base, common.image_classifier(config, common.path_dim(config, "hidden_size"))
    )


# --- CLIP --------------------------------------------------------------------------------------------------------


def clip_encoder(config: Config, hidden: Dim, prefix: str, *, norms_first: bool = False, part: str = "") -> Module:
    """CLIP's encoder, which SigLIP and Idefics3 copy: ``num_hidden_layers`` layers of k/v/q attention and an
    fc1/fc2 MLP, each with a LayerNorm before it (SigLIP's layer registers both norms first); ``part`` is the
    word between the prefix and ``Attention``/``MLP`` in the copy's class names (Idefics3's ``Vision``)."""
    common.path_heads(config, hidden, "num_attention_heads")
    attention = common.kvq_attention("self_attn", f"{prefix}{part}Attention", hidden)
    feed_forward = common.mlp("mlp", f"{prefix}{part}MLP", hidden, common.path_dim(config, "intermediate_size"))
    norm_1, norm_2 = common.layer_norm("layer_norm1", hidden), common.layer_norm("layer_norm2", hidden)
    children = (norm_1, attention, norm_2, feed_forward) if norms_first else (attention, norm_1, feed_forward, norm_2)
    layer = common.module("0", f"{prefix}EncoderLayer", *children)
    return common.module(
        "encoder", f"{prefix}Encoder", common.stack("layers", layer, config.layers("num_hidden_layers"))
    )


def text_embeddings(config: Config, prefix: str, hidden: Dim) -> Module:
    """CLIP's and SigLIP's text embeddings: token and learned position tables, and the ``position_ids``."""
    positions = common.path_dim(config, "max_position_embeddings")
    return common.module(
        "embeddings",
        f"{prefix}TextEmbeddings",
        common.embedding("token_embedding", common.path_dim(config, "vocab_size"), hidden),
        common.embedding("position_embedding", positions, hidden),
        buffers=(common.position_ids(positions),),
    )


def _clip_text(config: Config, name: str) -> Module:
    hidden = common.path_dim(config, "hidden_size")
    embeddings = text_embeddings(config, "CLIP", hidden)
    return common.module(
        name,
        "CLIPTextModel",
        embeddings,
        clip_encoder(config, hidden, "CLIP"),
        common.layer_norm("final_layer_norm", hidden),
    )


def _clip_vision(config: Config, name: str) -> Module:
    hidden = common.path_dim(config, "hidden_size")
    image, patch = common.path_dim(config, "image_size"), common.path_dim(config, "patch_size")
    positions = (image // patch) * (image // patch) + 1
    embeddings = common.module(
        "embeddings",
        "CLIPVisionEmbeddings",
        common.patchify("patch_embedding", common.path_dim(config, "num_channels"), hidden, patch, bias=False),
        common.embedding("position_embedding", positions, hidden),
        params=(Param("class_embedding", (hidden,)),),
        buffers=(common.position_ids(positions),),
    )
    return common.module(
        name,
        "CLIPVisionModel",
        embeddings,
        common.layer_norm("pre_layrnorm", hidden),
        clip_encoder(config, hidden, "CLIP"),
        common.layer_norm("post_layernorm", hidden),
    )


class _Tower(Record):
    """A CLIP tower class: the text tower (read from ``text_config``) or the vision tower, alone or under the
    ``projection`` of the ``…WithProjection`` classes."""

    text: bool
    projection: str = ""


_CLIP_TOWERS: Final = {
    "CLIPTextModel": _Tower(text=True),
    "CLIPVisionModel": _Tower(text=False),
    "CLIPTextModelWithProjection": _Tower(text=True, projection="text_projection"),
    "CLIPVisionModelWithProjection": _Tower(text=False, projection="visual_projection"),
}


def _clip_tower(config: Config, architecture: str) -> Module:
    """CLIPTextModel / CLIPVisionModel and their ``…WithProjection`` variants, from a tower's own config."""
    tower = _CLIP_TOWERS[architecture]
    build, inner = (_clip_text, "text_model") if tower.text else (_clip_vision, "vision_model")
    if not tower.projection:
        return build(config, "")
    head = common.linear(
        tower.projection, common.path_dim(config, "hidden_size"), common.path_dim(config, "projection_dim"), bias=False
    )
    return common.module("", architecture, build(config, inner), head)


def _clip_sub(config: Config, key: str, sub_type: str) -> Config:
    """CLIPConfig's sub-configs; a ``<key>_dict`` (older hub files) wins over ``<key>``, over the defaults of
    ``sub_type``'s class as CLIPConfig reads it (``CLIPTextConfig(**text_config_dict)``)."""
    legacy = f"{key}_dict"
    raw = config.raw(legacy)
    if raw is None:
        return _sub_config(config, key, sub_type)
    if not isinstance(raw, dict):
        raise config.fail(legacy, f"'{config.path(legacy)}' must be an object, got {raw!r:.40}")
    data = {name: value for name, value in raw.items() if value is not None}
    return Config(complete(data, sub_type), sub_type, config.source, f"{config.path(legacy)}.")


@model_type("clip", architectures=("CLIPModel", *_CLIP_TOWERS), default="CLIPModel")
def clip(config: Config, architecture: str) -> Module:
    """CLIP: text and vision towers from ``text_config``/``vision_config``, two projections, ``logit_scale``."""
    text = _clip_sub(config, "text_config", "clip_text_model")
    vision = _clip_sub(config, "vision_config", "clip_vision_model")
    if architecture != "CLIPModel":
        # The tower classes read their own sub-config (CLIPTextConfig.base_config_key = "text_config"), whose model
        # type and activation settings the tower's root carries (CLIPVisionModel's config is a CLIPVisionConfig).
        tower = text if _CLIP_TOWERS[architecture].text else vision
        found = _clip_tower(tower, architecture)
        own = (("model_type", tower.model_type), *activation_settings(tower.data))
        return replace(found, attributes=(*own, *found.attributes))
    projection = common.path_dim(config, "projection_dim", 512)
    return common.module(
        "",
        architecture,
        _clip_text(text, "text_model"),
        _clip_vision(vision, "vision_model"),
        common.linear("visual_projection", common.path_dim(vision, "hidden_size"), projection, bias=False),
        common.linear("text_projection", common.path_dim(text, "hidden_size"), projection, bias=False),
        params=(Param("logit_scale", ()),),
    )


@model_type(
    "clip_text_model",
    architectures=tuple(name for name, tower in _CLIP_TOWERS.items() if tower.text),
    default="CLIPTextModel",
)
def clip_text_model(config: Config, architecture: str) -> Module:
    """A standalone CLIP text tower config (``model_type: clip_text_model``)."""
    return _clip_tower(config, architecture)


@model_type(
    "clip_vision_model",
    architectures=tuple(name for name, tower in _CLIP_TOWERS.items() if not tower.text),
    default="CLIPVisionModel",
)
def clip_vision_model(config: Config, architecture: str) -> Module:
    """A standalone CLIP vision tower config (``model_type: clip_vision_model``), e.g. LLaVA's vision tower."""
    return _clip_tower(config, architecture)


# --- LLaVA -------------------------------------------------------------------------------------------------------


def _llava_sub(config: Config, key: str, default_type: str) -> Config:
    """``vision_config``/``text_config`` typed by their own ``model_type`` (AutoConfig), as LlavaConfig does."""
    raw = config.raw(key)
    kind = raw.get("model_type", default_type) if isinstance(raw, dict) else default_type
    if not isinstance(kind, str):
        path = f"{config.path(key)}.model_type"
        raise ConfigError(f"{config.source}: '{path}' must be a string, got {kind!r:.40}", key_path=path)
    sub = _sub_config(config, key, kind)
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


def feature_layer_fact(config: Config) -> tuple[str, int | tuple[int, ...] | None]:
    """The ``vision_feature_layer`` fact the shapes read (checked by ``_feature_layers``): which hidden states of
    the vision tower the projector reads; the layers after the last of them reach no loss, so get no gradient."""
    value = config.raw("vision_feature_layer", -2)
    if isinstance(value, list):
        return "vision_feature_layer", tuple(value)
    return "vision_feature_layer", value if isinstance(value, int) else None


class LlavaLayout(Record):
    """How a LLaVA-shaped family differs from LLaVA: its class-name prefix, its sub-configs' default types, whether
    the base model holds an ``image_newline`` vector (LLaVA-NeXT, LLaVA-OneVision), and whether the config class
    takes ``tie_word_embeddings`` from the text config when its own is false (LlavaConfig does, LlavaNextConfig not)."""

    prefix: str
    vision_default: str
    text_default: str
    newline: bool = False
    tie_from_text: bool = True


_LLAVA: Final = LlavaLayout("Llava", "clip_vision_model", "llama")


def llava_model(config: Config, architecture: str, layout: LlavaLayout) -> Module:
    """A LLaVA-shaped model: a vision tower and a language model, each the base model of its own sub-config's type
    built by that type's registered builder, joined by a two-layer projector. All vision layers are kept;
    ``vision_feature_layer`` only widens the projector when it names several layers."""
    vision = _llava_sub(config, "vision_config", layout.vision_default)
    text = _llava_sub(config, "text_config", layout.text_default)
    prefix = "" if architecture == f"{layout.prefix}Model" else "model."
    features = _feature_layers(config)
    vision_width = common.path_dim(vision, attribute(vision.model_type, "hidden_size"))  # GPT-2 calls it n_embd
    vision_width = vision_width if features is None else vision_width * features
    text_width = common.path_dim(text, attribute(text.model_type, "hidden_size"))
    bias = config.flag("multimodal_projector_bias", True)
    projector = common.module(
        "multi_modal_projector",
        f"{layout.prefix}MultiModalProjector",
        common.linear("linear_1", vision_width, text_width, bias=bias),
        common.linear("linear_2", text_width, text_width, bias=bias),
    )
    language_model = _sub_model(text, "language_model", f"{prefix}language_model.")
    newline = (Param("image_newline", (text_width,)),) if layout.newline else ()
    base = common.module(
        "model" if prefix else "",
        f"{layout.prefix}Model",
        _sub_model(vision, "vision_tower", f"{prefix}vision_tower."),
        projector,
        language_model,
        params=newline,
    )
    # Whether the image's tokens include the class token, which hidden states the projector reads: no count
    # changes, the shapes and FLOPs read them.
    strategy = ("vision_feature_select_strategy", config.text("vision_feature_select_strategy", "default"))
    base = replace(base, attributes=(strategy, feature_layer_fact(config)))
    if not prefix:
        return base
    # LlavaConfig: tie_word_embeddings defaults to False and takes the text config's value when that is True (the
    # text class's default when the file leaves it out: True for Gemma, GPT-2, Falcon, BLOOM …).
    tie = config.flag("tie_word_embeddings", False) or (
        layout.tie_from_text and text.flag("tie_word_embeddings", False)
    )
    return common.module(
        "", architecture, base, language_head(text, language_model, text_width, tie, "model.language_model")
    )


def language_head(
    text: Config, language_model: Module, width: Dim, tie: bool, owner: str, family: str = "LLaVA"
) -> Module:
    """``lm_head`` of a vision-language model (``family``), tied to ``<owner>.embed_tokens.weight`` when ``tie``
    (transformers' ``_tied_weights_keys``); a text model whose embedding is named otherwise cannot be tied, as in
    transformers."""
    vocab = common.path_dim(text, "vocab_size")
    if tie and not any(child.name == "embed_tokens" for child in language_model.children):
        # transformers ties lm_head to language_model.embed_tokens and fails on a tower that names it otherwise.
        raise text.fail(
            "tie_word_embeddings",
            f"transformers cannot tie {family}'s lm_head to a {text.model_type!r} text model (its embedding is not "
            f"'embed_tokens'); set '{text.path('tie_word_embeddings')}' to false",
        )
    if tie:
        return common.tied_linear("lm_head", width, vocab, f"{owner}.embed_tokens.weight")
    return common.linear("lm_head", width, vocab, bias=False)


@model_type(
    "llava", architectures=("LlavaModel", "LlavaForConditionalGeneration"), default="LlavaForConditionalGeneration"
)
def llava(config: Config, architecture: str) -> Module:
    """LLaVA: CLIP vision here, llama from ``decoders.py`` by default (``llava_model``)."""
    return llava_model(config, architecture, _LLAVA)
