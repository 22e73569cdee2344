"""Dataflow of transformers' vision-language models built around another model's text tower: LLaVA-NeXT and
LLaVA-OneVision (AnyRes tiles), PaliGemma (SigLIP, one projection, Gemma), Idefics3 and SmolVLM (a SigLIP-like
encoder, a pixel-shuffle connector) and Mistral 3 (Pixtral's tower with 2-D rotary positions, a patch merger).
Conventions in ``transformers.py``; the input convention in ``multimodal.py``: token ids (batch, sequence), each
sequence with one image, whose tokens the sequence holds as the processor places them. The image, per family:

- LLaVA-NeXT and LLaVA-OneVision: one image at the vision tower's configured size (side × side). AnyRes tiles it as
  the processor does: ``select_best_resolution`` picks the resolution of ``image_grid_pinpoints`` that holds the
  image with the least padding, the tower runs on the base tile (the whole image at side²) and on the grid's
  tiles, and the image's tokens are the base tile's features, then the grid's features cropped back to the image's
  aspect ratio (``unpad_image``; OneVision then shrinks a grid larger than ``anyres_max_N`` tiles, bilinearly),
  with one ``image_newline`` per row. LLaVA-NeXT's 336² image: 336×672, 3 tiles, 576 + 24·(24 + 1) = 1,176 tokens;
  OneVision's 384²: 384×384, 2 tiles, 729 + 27·(27 + 1) = 1,485.
- PaliGemma: one image at the SigLIP tower's size, grid² tokens (224² in 14² patches: 256). transformers makes the
  attention over the image and the prefix bidirectional when ``token_type_ids`` are given (prefix-LM); eager
  attention multiplies every position either way, so the masked share is reported as causal.
- Idefics3 and SmolVLM: one frame at the vision encoder's configured size (the processor without image splitting;
  with splitting, each tile and the downscaled whole image are one frame each), its grid² patches pixel-shuffled
  to grid²/scale_factor² tokens (Idefics3's 364²: 26² patches, 169 tokens).
- Mistral 3: one image at Pixtral's ``image_size`` (the processor's longest edge), its patches merged
  ``spatial_merge_size``² to one token (1540² in 14² patches: 110² patches, 55² = 3,025 tokens). Pixtral runs all
  the images' patches as one sequence with a block-diagonal mask; eager attention multiplies all
  (images · patches)² positions.
"""

from __future__ import annotations

from math import isqrt, sqrt

from paramcount.analysis.shapes import decoders, multimodal
from paramcount.analysis.shapes.common import NotModelledError, int_arg
from paramcount.analysis.shapes.flow import child_of, dataflow, in_order, param_sizes, run
from paramcount.analysis.shapes.multimodal import _image, _llava_features, _tokens, _with_image, detach_unread_layers
from paramcount.analysis.shapes.transformers import pre_norm_layer, rms_norm, self_attention
from paramcount.analysis.shapes.types import Flow, Outcome, format_shape

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Final

    from paramcount.analysis.shapes.types import Call, Rule
    from paramcount.tree import Value

__all__ = ["RULES", "TOKEN_INPUTS"]

_CAUSAL_LM: Final = decoders.RULES["LlamaForCausalLM"]  # model, then lm_head over every position


# --- LLaVA-NeXT and LLaVA-OneVision ----------------------------------------------------------------------------


def _best_resolution(height: int, width: int, pinpoints: tuple[tuple[int, int], ...]) -> tuple[int, int]:
    """transformers' ``select_best_resolution``: the (height, width) that shows most of the image, then wastes least."""
    best, most, least = pinpoints[0], 0, float("inf")
    for option_height, option_width in pinpoints:
        scale = min(option_width / width, option_height / height)
        effective = min(int(width * scale) * int(height * scale), width * height)
        wasted = option_width * option_height - effective
        if effective > most or (effective == most and wasted < least):
            best, most, least = (option_height, option_width), effective, wasted
    return best


def _unpadded(height: int, width: int, rows: int, columns: int) -> tuple[int, int]:
    """``unpad_image``: the (rows, columns) grid of features cropped back to a height × width image's aspect ratio."""
    if width / height > columns / rows:
        padding = (rows - int(round(height * (columns / width), 7))) // 2
        return rows - 2 * padding, columns
    padding = (columns - int(round(width * (rows / height), 7))) // 2
    return rows, columns - 2 * padding


def _pinpoints(value: Value) -> tuple[tuple[int, int], ...]:
    """The ``image_grid_pinpoints`` attribute: (height, width) resolutions."""
    pairs: list[tuple[int, int]] = []
    for pair in value if isinstance(value, tuple) else ():
        if isinstance(pair, tuple) and len(pair) == 2:
            height, width = pair
            if isinstance(height, int) and isinstance(width, int):
                pairs.append((height, width))
                continue
        pairs.clear()
        break
    if not pairs:
        raise NotModelledError("its image_grid_pinpoints are not known")
    return tuple(pairs)


def _anyres_max(text: str) -> int:
    """``int(vision_aspect_ratio.strip("anyres_max_"))``, as LLaVA-OneVision reads its largest grid in tiles."""
    try:
        return int(text.strip("anyres_max_"))  # noqa: B005 (a character set, as transformers strips it)
    except ValueError:
        raise NotModelledError(f"its vision_aspect_ratio {text!r} names no number of tiles") from None


def _anyres_model(call: Call, flow: Flow) -> Outcome:
    """``LlavaNextModel`` / ``LlavaOnevisionModel``: the image at the tower's size, tiled by AnyRes (the base tile
    and the grid of the best pinpoint), the tiles' features (``_llava_features``), packed: the base tile's, then
    the grid's cropped to the image's aspect ratio with one ``image_newline`` per row; then the language model over
    the sequence."""
    _tokens(call, flow)
    attributes = dict(call.module.attributes)
    pinpoints = _pinpoints(attributes.get("image_grid_pinpoints"))
    aspect, side = attributes.get("vision_aspect_ratio"), attributes.get("vision_config.image_size")
    if not isinstance(side, int):
        raise NotModelledError("its vision_config.image_size is not known")
    batch = flow.shape[0]
    channels = _image(call, batch, "vision_tower").shape[1]
    image = Flow((batch, channels, side, side))
    best_height, best_width = _best_resolution(side, side, pinpoints)
    rows, columns = best_height // side, best_width // side
    tiles = 1 + -(-best_height // side) * -(-best_width // side)  # image_size_to_num_patches: base + ⌈h/side⌉·⌈w/side⌉
    features, strategy = _llava_features(call, Flow((batch * tiles, channels, side, side)))
    if features is None:
        return _with_image(call, flow, image, None)
    grid = side // _patch_size(call, "vision_tower")
    per_tile = features.shape[1]
    if per_tile != grid * grid or rows * columns != tiles - 1:
        raise call.fail(f"lays each tile's {per_tile} features out as a {grid}×{grid} grid and its {tiles - 1} grid "
                        f"tiles as {rows}×{columns}, which fails (transformers fails the same way)")  # fmt: skip
    height, width = _unpadded(side, side, rows * grid, columns * grid)
    shrunk = ""
    if isinstance(aspect, str):  # LLaVA-OneVision
        most = _anyres_max(aspect)
        ratio = sqrt(height * width / (most * grid**2))
        if ratio > 1.1:
            height, width = int(height // ratio), int(width // ratio)
            shrunk = f", shrunk to at most {most} tiles' worth"
    image_tokens = Flow((batch, per_tile + height * (width + 1), features.shape[2]), grad=True)
    detail = (f" (AnyRes: {best_height}×{best_width}, {tiles} tiles of {side}²: the base tile's {per_tile} features, "
              f"the grid's {rows * grid}×{columns * grid} cropped to {height}×{width}{shrunk}, {height} image_newline; "
              f"vision_feature_select_strategy={strategy!r})")  # fmt: skip
    return _with_image(call, flow, image, image_tokens, detail)


def _patch_size(call: Call, tower_name: str) -> int:
    """The patch side of a CLIP or SigLIP tower (its ``patch_embedding``'s kernel)."""
    tower = child_of(call.module, tower_name)
    embeddings = None if tower is None else child_of(tower, "embeddings")
    patches = None if embeddings is None else child_of(embeddings, "patch_embedding")
    if patches is None:
        raise NotModelledError(f"its {tower_name} has no embeddings.patch_embedding")
    return param_sizes(patches, "weight")[-1]


# --- Idefics3 and SmolVLM --------------------------------------------------------------------------------------


def _idefics3_model(call: Call, flow: Flow) -> Outcome:
    """``Idefics3Model`` / ``SmolVLMModel``: one frame per sequence at the encoder's configured size (pixel values
    (batch, 1, channels, side, side), viewed as (batch, channels, side, side)), the encoder, the connector, then the
    text model over the sequence."""
    _tokens(call, flow)
    image = _image(call, flow.shape[0], "vision_model")
    image_tokens = call.child("connector", call.child("vision_model", image))
    return _with_image(call, flow, image, image_tokens, " (one frame: no image splitting)", language="text_model")


def _navit_embeddings(call: Call, flow: Flow) -> Outcome:
    """``Idefics3VisionEmbeddings``: the patches as tokens, plus the position embedding of each patch's position id
    (batch, patches), bucketed from its fractional place in the image's grid, so any image size fits the table."""
    patches = call.child("patch_embedding", flow)
    if patches is None:
        return Outcome(None)
    batch, width, *grid = patches.shape
    count = grid[0] * grid[1]
    positions = call.child("position_embedding", Flow((batch, count)))
    if positions is not None and positions.shape != (batch, count, width):
        raise call.fail(f"adds position embeddings {format_shape(positions.shape)} to patches of width {width}")
    return Outcome(Flow((batch, count, width), grad=True), note="position ids bucketed from each patch's place")


def _pixel_shuffle(call: Call, flow: Flow) -> Outcome:
    """``Idefics3Connector``: ``pixel_shuffle`` folds each scale_factor × scale_factor block of the square patch grid
    into one token of scale_factor² times the width (scale_factor² = the projection's input width / the encoder's),
    then ``modality_projection``."""
    projection = child_of(call.module, "modality_projection")
    linear = None if projection is None else child_of(projection, "proj")
    if linear is None:
        raise NotModelledError("it has no modality_projection.proj")
    if len(flow.shape) != 3:
        raise call.fail(f"expects encoder states (batch, patches, width), got {format_shape(flow.shape)}")
    batch, patches, width = flow.shape
    folded = int_arg(linear, "in_features")
    scale = isqrt(folded // width) if width and folded % width == 0 else 0
    if scale == 0 or scale * scale * width != folded:
        raise call.fail(f"folds states of width {width} into modality_projection's {folded} features")
    side = isqrt(patches)
    if side * side != patches or side % scale:
        raise call.fail(f"pixel-shuffles {patches} patches by scale_factor {scale}, which needs a square grid whose "
                        "side is a multiple of it; transformers fails the same way")  # fmt: skip
    tokens = patches // (scale * scale)
    output = call.child("modality_projection", Flow((batch, tokens, folded), grad=flow.grad))
    note = f"{side}×{side} patches pixel-shuffled {scale}×{scale}: {tokens} tokens of {scale}²·{width} features"
    return Outcome(output, note=note)


def _idefics3_rules(prefix: str) -> dict[str, Rule]:
    return {
        f"{prefix}ForConditionalGeneration": _CAUSAL_LM,
        f"{prefix}Model": _idefics3_model,
        # embeddings, encoder, post_layernorm: SigLIP's vision tower without its head
        f"{prefix}VisionTransformer": multimodal.RULES["SiglipVisionModel"],
        f"{prefix}VisionEmbeddings": _navit_embeddings,
        f"{prefix}Encoder": multimodal.RULES["SiglipEncoder"],
        f"{prefix}EncoderLayer": multimodal.RULES["SiglipEncoderLayer"],
        f"{prefix}VisionAttention": multimodal.RULES["SiglipAttention"],
        f"{prefix}VisionMLP": in_order,
        f"{prefix}Connector": _pixel_shuffle,
        f"{prefix}SimpleMLP": in_order,
    }


# --- Pixtral and Mistral 3 -------------------------------------------------------------------------------------

IMAGE_GRID: Final = "image_grid"
"""``Flow.context`` key: (images, rows, columns), the patch grid of each image (``image_sizes // patch_size``), which
Mistral 3's projector reads beside the features to merge each image's patches."""


def _pixtral(call: Call, flow: Flow) -> Outcome:
    """``PixtralVisionModel``: the patch convolution; every image's patches in one sequence (1, images·patches,
    hidden); ``ln_pre``; the 2-D rotary embedding of each patch's (row, column); the layers over that sequence."""
    if len(flow.shape) != 4:
        raise call.fail(f"expects pixel values (batch, channels, height, width), got {format_shape(flow.shape)}")
    patches = call.child("patch_conv", flow)
    if patches is None:
        return Outcome(None)
    images, width, rows, columns = patches.shape
    count = images * rows * columns
    hidden = call.child("ln_pre", Flow((1, count, width), grad=True))
    call.child("patch_positional_embedding", Flow((count, 2)))
    note = (f"{images} image(s) of {rows}×{columns} patches as one sequence, masked block-diagonally per image; eager "
            "attention multiplies all its positions")  # fmt: skip
    return Outcome(call.child("transformer", hidden), note=note)


def _axial_rotary(call: Call, flow: Flow) -> Outcome:
    """``PixtralVisionRotaryEmbedding``: each patch's (row, column) times the frequencies, recomposed row-column, cos
    and sin: (patches, 2·len(inv_freq)) each; elementwise, no MACs."""
    frequencies = param_sizes(call.module, "inv_freq")
    shape = (*flow.shape[:-1], 2 * frequencies[0])
    return Outcome(Flow(shape, (("sin", shape),)), note="cos and sin of each patch's row and column positions")


def _mistral3_model(call: Call, flow: Flow) -> Outcome:
    """``Mistral3Model``: one image per sequence at Pixtral's ``image_size``, the tower, its hidden states
    (``len(vision_feature_layer)`` side by side, without the leading 1) with each image's patch grid into the
    projector, then the language model over the sequence."""
    _tokens(call, flow)
    tower = child_of(call.module, "vision_tower")
    projector = child_of(call.module, "multi_modal_projector")
    convolution = None if tower is None else child_of(tower, "patch_conv")
    first = None if projector is None else child_of(projector, "linear_1")
    side = None if tower is None else dict(tower.attributes).get("image_size")
    if convolution is None or first is None or not isinstance(side, int):
        raise NotModelledError("its vision_tower.patch_conv, its image_size or its multi_modal_projector.linear_1 is "
                               "not known")  # fmt: skip
    batch = flow.shape[0]
    _, channels, patch, _ = param_sizes(convolution, "weight")
    image = Flow((batch, channels, side, side))
    detach_unread_layers(call, "vision_tower", "transformer", "layers")
    hidden = call.child("vision_tower", image)
    features = None
    if hidden is not None:
        grid = side // patch
        context = ((IMAGE_GRID, (batch, grid, grid)),)
        features = Flow((hidden.shape[1], int_arg(first, "in_features")), grad=hidden.grad, context=context)
    projected = call.child("multi_modal_projector", features)
    image_tokens = None if projected is None else Flow((batch, projected.shape[0] // batch, projected.shape[1]))
    return _with_image(call, flow, image, image_tokens)


def _patch_merger(call: Call, flow: Flow) -> Outcome:
    """``Mistral3PatchMerger``: each image's patch grid unfolded in spatial_merge_size² blocks (the kernel and
    stride; merging_layer's input width / the features' width = spatial_merge_size²), one row per block, then
    ``merging_layer``."""
    grid = dict(flow.context).get(IMAGE_GRID)
    linear = child_of(call.module, "merging_layer")
    if grid is None or linear is None:
        raise NotModelledError("the patch grid of its images or its merging_layer is not known")
    images, rows, columns = grid
    width = flow.shape[-1]
    if len(flow.shape) != 2 or flow.shape[0] != images * rows * columns:
        raise call.fail(f"expects the {images}·{rows}·{columns} patches' features, got {format_shape(flow.shape)}")
    folded = int_arg(linear, "in_features")
    merge = isqrt(folded // width) if folded % width == 0 else 0
    if merge == 0 or merge * merge * width != folded:
        raise call.fail(f"merges features of width {width} into merging_layer's {folded} features")
    tokens = images * (rows // merge) * (columns // merge)
    output = call.child("merging_layer", Flow((tokens, folded), grad=flow.grad))
    note = f"{rows}×{columns} patches per image unfolded {merge}×{merge}: {tokens} tokens of {merge}²·{width} features"
    return Outcome(output, note=note)


_PIXTRAL: Final[dict[str, Rule]] = {
    "PixtralVisionModel": _pixtral,
    "PixtralTransformer": multimodal.RULES["CLIPEncoder"],
    "PixtralAttentionLayer": pre_norm_layer("attention_norm", "attention", "ffn_norm", "feed_forward"),
    "PixtralAttention": self_attention("q_proj", "k_proj", "v_proj", "o_proj", causal=False),
    "PixtralMLP": decoders.RULES["LlamaMLP"],
    "PixtralRMSNorm": rms_norm,
    "PixtralVisionRotaryEmbedding": _axial_rotary,
}

RULES: Final[dict[str, Rule]] = {
    "LlavaNextForConditionalGeneration": _CAUSAL_LM,
    "LlavaNextModel": _anyres_model,
    "LlavaNextMultiModalProjector": in_order,
    "LlavaOnevisionForConditionalGeneration": _CAUSAL_LM,
    "LlavaOnevisionModel": _anyres_model,
    "LlavaOnevisionMultiModalProjector": in_order,
    "PaliGemmaForConditionalGeneration": _CAUSAL_LM,
    # the SigLIP tower on the image, the projector, the language model: Gemma 3's dataflow
    "PaliGemmaModel": multimodal.RULES["Gemma3Model"],
    "PaliGemmaMultiModalProjector": in_order,
    **_idefics3_rules("Idefics3"),
    **_idefics3_rules("SmolVLM"),
    **_PIXTRAL,
    "Mistral3ForConditionalGeneration": _CAUSAL_LM,
    "Mistral3Model": _mistral3_model,
    # norm, patch_merger, linear_1, linear_2, the image grid carried along
    "Mistral3MultiModalProjector": dataflow(run("norm"), run("patch_merger"), run("linear_1"), run("linear_2")),
    "Mistral3PatchMerger": _patch_merger,
    "Mistral3RMSNorm": rms_norm,
}
"""Shape rules of these vision-language classes and Pixtral's tower, by kind."""

TOKEN_INPUTS: Final = frozenset(
    f"{prefix}{suffix}"
    for prefix in ("LlavaNext", "LlavaOnevision", "PaliGemma", "Idefics3", "SmolVLM", "Mistral3")
    for suffix in ("Model", "ForConditionalGeneration")
)
"""Kinds whose forward reads token ids (batch, sequence), the image's tokens among them."""
