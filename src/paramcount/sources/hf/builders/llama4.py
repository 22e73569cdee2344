"""Llama 4: the text model (``llama4_text``), a llama-style row whose layers differ in their feed-forward (dense,
or a mixture of experts with a shared expert, by ``moe_layers``) and in their RoPE (``no_rope_layers``: a layer
without RoPE has no q/k norm), and the image-text model (``llama4``): its own ViT with an unfold patch embedding,
a pixel-shuffle adapter, a projector and the text model.

Mirrors ``transformers`` 5.24 (``models/llama4/modeling_llama4.py``). Defaults are ``Llama4TextConfig``'s and
``Llama4VisionConfig``'s: every layer is MoE unless ``moe_layers`` or ``interleave_moe_layer_step`` says
otherwise; every fourth layer skips RoPE (``no_rope_layer_interval``).
"""

from __future__ import annotations

from paramcount._record import replace
from paramcount.sources.hf._config import Config
from paramcount.sources.hf._registry import model_type, spec_for
from paramcount.sources.hf.builders import _common as common
from paramcount.sources.hf.builders._llama_style import Family, Sizes, gated_mlp, register_family, standard_attention
from paramcount.sources.hf.builders.vision_language import _prefix_ties
from paramcount.tree import Buffer, Dim, Module, Param

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterator

__all__: list[str] = []


def _flags(config: Config, key: str, default: list[int], *, empty_is_absent: bool = False) -> list[int]:
    """A list of layer indices or flags; null takes ``default``, and so does ``[]`` where transformers tests
    truth (``no_rope_layers``) rather than ``is None`` (``moe_layers``)."""
    flags = config.raw(key)
    if flags is None or (empty_is_absent and flags == []):
        flags = default
    if not isinstance(flags, list) or any(isinstance(flag, bool) or not isinstance(flag, int) for flag in flags):
        raise config.fail(key, f"'{config.path(key)}' must be a list of integers, got {flags!r:.40}")
    return flags


def _layer_kinds(config: Config, count: int) -> Iterator[str]:
    """``"<rope or nope> <moe or dense>"`` per layer."""
    step = config.size("interleave_moe_layer_step", 1)
    moe = set(_flags(config, "moe_layers", list(range(step - 1, count, step))))
    interval = config.size("no_rope_layer_interval", 4)
    default = [int((index + 1) % interval != 0) for index in range(count)]
    rope = _flags(config, "no_rope_layers", default, empty_is_absent=True)
    if len(rope) < count:
        raise config.fail(
            "no_rope_layers", f"'{config.path('no_rope_layers')}' lists {len(rope)} layers but there are {count}"
        )
    for index in range(count):
        yield f"{'rope' if rope[index] else 'nope'} {'moe' if index in moe else 'dense'}"


def _attention(family: Family, config: Config, sizes: Sizes, kind: str) -> Module:
    """llama's attention; a layer with RoPE and ``use_qk_norm`` adds the parameter-free L2 ``qk_norm``."""
    attention = standard_attention(family, config, sizes)
    if kind.startswith("rope") and config.flag("use_qk_norm", True):
        return replace(attention, children=(*attention.children, common.module("qk_norm", "Llama4TextL2Norm")))
    return attention


def _feed_forward(family: Family, config: Config, sizes: Sizes, kind: str) -> Module:
    """Dense: an MLP of ``intermediate_size_mlp``. MoE: experts stored (E, hidden, 2·width), an ``nn.Linear`` router
    and a shared expert of ``intermediate_size``."""
    if kind.endswith("dense"):
        width = Dim.of(config.size("intermediate_size_mlp", 16384), "intermediate_size_mlp")
        return gated_mlp("feed_forward", "Llama4TextMLP", sizes.hidden, width)
    count = Dim.of(config.layers("num_local_experts", 16), "num_local_experts")
    width = sizes.intermediate
    weights = (
        Param("gate_up_proj", (count, sizes.hidden, 2 * width)),
        Param("down_proj", (count, width, sizes.hidden)),
    )
    return common.module(
        "feed_forward",
        "Llama4TextMoe",
        common.experts(
            common.module("experts", "Llama4TextExperts", params=weights),
            count.value,
            config.layers("num_experts_per_tok", 1),
        ),
        common.linear("router", sizes.hidden, count, bias=False, kind="Llama4Router"),
        gated_mlp("shared_expert", "Llama4TextMLP", sizes.hidden, width),
    )


_LLAMA4_TEXT = Family(
    "llama4_text",
    "Llama4Text",
    common.head_classes("Llama4Text", ("causal_lm",), causal_lm="Llama4ForCausalLM"),
    mlp=_feed_forward,
    layer_kind=_layer_kinds,
    mixer=_attention,
    kv_heads_default=8,
    head_dim_default=128,
)
register_family(_LLAMA4_TEXT)


# --- the image-text model ----------------------------------------------------------------------------------------


def _vision_model(config: Config) -> Module:
    """``Llama4VisionModel``: an unfold patch embedding (one bias-free linear), a class embedding and positions for
    every patch and the class token, an axial RoPE table (complex64), pre/post LayerNorms, the encoder and the
    pixel-shuffle adapter."""
    hidden = Dim.of(config.size("hidden_size", 768), config.path("hidden_size"))
    heads = Dim.of(config.size("num_attention_heads", 16), config.path("num_attention_heads"))
    intermediate = Dim.of(config.size("intermediate_size", 5632), config.path("intermediate_size"))
    patch = config.size("patch_size", 14)
    side = config.size("image_size", 448) // patch
    patches = Dim.of(side * side + 1, f"({config.path('image_size')}/{config.path('patch_size')})²+1")
    pixels = Dim.of(config.size("num_channels", 3) * patch * patch, f"{config.path('num_channels')}·patch²")
    frequencies = hidden.value // heads.value // 2 // 2 * 2
    table = Buffer(
        "freqs_ci", (patches, Dim.constant(1), Dim.of(frequencies, "head_dim/4·2")), dtype="complex64", persistent=False
    )
    width = hidden // heads * heads
    projections = (
        *common.qkv_projections(hidden, width, width, bias=True),
        common.linear("o_proj", width, hidden, bias=True),
    )
    layer = common.module(
        "0",
        "Llama4VisionEncoderLayer",
        common.module("self_attn", "Llama4VisionAttention", *projections),
        common.mlp("mlp", "Llama4VisionMLP", hidden, intermediate),
        common.layer_norm("input_layernorm", hidden),
        common.layer_norm("post_attention_layernorm", hidden),
    )
    projector_in = Dim.of(config.size("projector_input_dim", 4096), config.path("projector_input_dim"))
    projector_out = Dim.of(config.size("projector_output_dim", 4096), config.path("projector_output_dim"))
    adapter = common.module(
        "mlp",
        "Llama4VisionMLP2",
        common.linear("fc1", intermediate, projector_in, bias=False),
        common.linear("fc2", projector_out, projector_out, bias=False),
    )
    return common.module(
        "vision_model",
        "Llama4VisionModel",
        replace(  # the unfold's kernel and stride: shapes depend on it, its linear shows only channels·patch²
            common.module(
                "patch_embedding", "Llama4UnfoldConvolution", common.linear("linear", pixels, hidden, bias=False)
            ),
            attributes=(("patch_size", patch),),
        ),
        common.module("rotary_embedding", "Llama4VisionRotaryEmbedding", buffers=(table,)),
        common.layer_norm("layernorm_pre", hidden),
        common.layer_norm("layernorm_post", hidden),
        common.module(
            "model", "Llama4VisionEncoder", common.stack("layers", layer, config.layers("num_hidden_layers", 34))
        ),
        common.module("vision_adapter", "Llama4VisionPixelShuffleMLP", adapter),
        params=(Param("class_embedding", (hidden,)), Param("positional_embedding_vlm", (patches, hidden))),
    )


_LLAMA4: tuple[tuple[str, common.Head], ...] = (("Llama4ForConditionalGeneration", "causal_lm"),)


@model_type("llama4", architectures=common.class_names(_LLAMA4), default="Llama4ForConditionalGeneration")
def llama4(config: Config, architecture: str) -> Module:
    """Llama 4 image-text (``Llama4ForConditionalGeneration``): the vision model, a bias-free projector from
    ``vision_output_dim`` to the text width, and the whole ``Llama4ForCausalLM`` as ``language_model`` (its head
    tied by ``text_config.tie_word_embeddings``)."""
    text = config.sub("text_config", "llama4_text")
    vision = config.sub("vision_config", "llama4_vision_model")
    causal_lm = spec_for("llama4_text").builder(text, "Llama4ForCausalLM")
    language = _prefix_ties(causal_lm, "language_model.")
    width = Dim.of(text.size("hidden_size"), text.path("hidden_size"))
    output = Dim.of(vision.size("vision_output_dim", 7680), vision.path("vision_output_dim"))
    projector = common.module(
        "multi_modal_projector", "Llama4MultiModalProjector", common.linear("linear_1", output, width, bias=False)
    )
    return common.module("", architecture, _vision_model(vision), projector, replace(language, name="language_model"))
