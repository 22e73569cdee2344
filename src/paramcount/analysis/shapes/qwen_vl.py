"""Dataflow of Qwen2-VL, Qwen2.5-VL, Qwen3-VL and Llama 4 with images (``Llama4ForConditionalGeneration``), as
``transformers/models/<family>/modeling_<family>.py`` (transformers 5.24) computes them. Conventions in
``transformers.py``; the input convention of the vision-language models in ``multimodal.py``.

The input is token ids, (batch, sequence); each sequence comes with one image, whose tokens sit inside the
sequence as the processor places them (one placeholder token per image feature).

Qwen-VL reads no image tensor of a fixed size: its processor cuts an image of any size into patches and hands
the vision tower their pixels flattened, (patches, channels·temporal_patch_size·patch_size²), with ``grid_thw``
saying each image's grid. The image here is 448×448 pixels (``IMAGE_SIDE``), resized as the processor's
``smart_resize`` does to a multiple of patch_size·spatial_merge_size (448 already is for all three shipped
configs), one frame (a still image is its frame repeated temporal_patch_size times, grid t = 1): Qwen2-VL and
Qwen2.5-VL 32×32 patches of 14 pixels, 256 image tokens after the 2×2 patch merger; Qwen3-VL 28×28 patches of 16
pixels, 196 tokens. The tower's attention runs within each image (``cu_seqlens``), and Qwen2.5-VL's windowed
blocks within each window of ``window_size`` pixels (8×8 patches: 16 windows of 64 patches), the others
(``fullatt_block_indexes``) over the image. Multimodal RoPE (M-RoPE, the 3-D positions) and the vision towers'
2-D rotary embeddings multiply elementwise: no products. Qwen3-VL adds its learned position table
interpolated bilinearly (four looked-up rows per patch, weighted and summed: no products) and "deepstack"
mergers, each merging the hidden states of one block (``deepstack_visual_indexes``) into features added to the
first decoder layers' outputs (additions).

Llama 4 reads one image tile at the vision config's ``image_size`` (336², 24² patches of 14 pixels and a class
token); its pixel-shuffle adapter folds 2×2 patches into one (``pixel_shuffle_ratio`` 0.5), so the image is 144
tokens of the sequence.

Inside the towers the tensors have torch's shapes: Qwen-VL's hidden states are (patches of every image, width),
one row per patch; the context entry ``grid_thw`` handed to the tower holds the values of one image's grid row
(t, h, w) (every image the same), and the entries the tower hands its blocks hold the lengths of the attention
chunks of one image (``cu_seqlens`` as lengths) and, for Qwen2.5-VL, of its windows, with the block's index.
"""

from __future__ import annotations

from collections import Counter
from math import isqrt

from paramcount._record import replace
from paramcount.analysis.shapes import decoders
from paramcount.analysis.shapes.common import NotModelledError, elements, int_arg
from paramcount.analysis.shapes.flow import (
    Step,
    Tally,
    add_param,
    attention,
    chain,
    child_of,
    concat,
    dataflow,
    in_order,
    last_size,
    param_sizes,
    run,
)
from paramcount.analysis.shapes.transformers import in_features, pre_norm_layer, self_attention, split, tokens
from paramcount.analysis.shapes.types import Flow, Outcome, format_shape
from paramcount.tree import Module

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Final

    from paramcount.analysis.shapes.flow import Values
    from paramcount.analysis.shapes.types import Call, Rule, Shape

__all__ = ["IMAGE_SIDE", "RULES", "TOKEN_INPUTS"]

IMAGE_SIDE: Final = 448
"""The side in pixels of the square image a Qwen-VL model reads with each sequence (before ``smart_resize``)."""

_GRID: Final = "grid_thw"
_FULL: Final = "cu_seqlens"
_WINDOWS: Final = "cu_window_seqlens"
_FULL_BLOCKS: Final = "fullatt_block_indexes"
_BLOCK: Final = "block"


def _tokens(call: Call, flow: Flow) -> int:
    if len(flow.shape) != 2:
        raise call.fail(f"expects token ids of shape (batch, sequence), got {format_shape(flow.shape)}")
    return flow.shape[0]


def _member(module: Module, *names: str) -> Module:
    current = module
    for name in names:
        found = child_of(current, name)
        if found is None:
            raise NotModelledError(f"it has no member {'.'.join(names)!r}")
        current = found
    return current


def _language(call: Call, flow: Flow, per_image: int, image: str) -> Outcome:
    """The language model over the whole sequence, whose first positions the image's ``per_image`` tokens take;
    the sequence must hold them, as transformers checks."""
    if per_image > flow.shape[1]:
        raise call.fail(f"puts the image's {per_image} tokens in the sequence, which holds {flow.shape[1]}; give a "
                        f"sequence of at least {per_image} tokens (the image's, then the text's)")  # fmt: skip
    output = call.child("language_model", flow)
    return Outcome(output, note=f"one {image} image per sequence, {per_image} of its tokens among the sequence's")


# --- Qwen-VL: the model with its image -----------------------------------------------------------------------------


def _merge_area(tower: Module) -> int:
    """``spatial_merge_size²``: the merger's first linear reads that many patches side by side."""
    merger = _member(tower, "merger")
    first = child_of(merger, "linear_fc1") or _member(merger, "mlp", "0")
    width = param_sizes(_member(tower, "patch_embed", "proj"), "weight")[0]
    area, remainder = divmod(int_arg(first, "in_features"), width)
    if remainder or isqrt(area) ** 2 != area:
        raise NotModelledError(f"its merger reads {int_arg(first, 'in_features')} features, not a square of patches")
    return area


def _qwen_vl_model(call: Call, flow: Flow) -> Outcome:
    """``Qwen2VLModel`` and its copies: the image's patches through ``visual``, whose ``pooler_output`` (the merged
    tokens) replaces the image's placeholder tokens; then the language model over the sequence."""
    batch = _tokens(call, flow)
    tower = _member(call.module, "visual")
    _, channels, frames, patch, _ = param_sizes(_member(tower, "patch_embed", "proj"), "weight")
    merge = isqrt(_merge_area(tower))
    factor = patch * merge
    side = max(factor, round(IMAGE_SIDE / factor) * factor)  # smart_resize: the nearest multiple of the factor
    grid = side // patch
    pixels = Flow((batch * grid * grid, channels * frames * patch * patch), context=((_GRID, (1, grid, grid)),))
    vision = call.child("visual", pixels)
    per_image = (grid // merge) ** 2
    if vision is not None:
        merged = dict(vision.others).get("pooler_output")
        if merged is None or merged[0] != batch * per_image:
            raise call.fail(f"expects {batch * per_image} merged image tokens from visual")
    return _language(call, flow, per_image, f"{side}×{side}")


def _qwen_vl_tower(call: Call, flow: Flow) -> Outcome:
    """The vision tower (``Qwen2VisionTransformerPretrainedModel``, ``Qwen2_5_VisionTransformerPretrainedModel``,
    ``Qwen3VLVisionModel``): patch embedding, (Qwen3-VL: the interpolated position table added), rotary table,
    the blocks (attention within each image, or each window), the merger; Qwen3-VL's deepstack mergers on the
    blocks' hidden states. ``last_hidden_state`` (patches, width), ``pooler_output`` the merged tokens."""
    grid = dict(flow.context).get(_GRID)
    if grid is None or len(flow.shape) != 2:
        raise NotModelledError("it reads the flattened patches of images whose grid_thw its model gives")
    frames, height, width = grid
    rows = flow.shape[0]
    if rows % (frames * height * width):
        raise call.fail(f"reads {rows} patches, not whole images of {frames}·{height}·{width} patches")
    hidden = call.child("patch_embed", Flow(flow.shape))
    if child_of(call.module, "pos_embed") is not None:
        call.child("pos_embed", Flow((rows, 4)))  # four bilinear taps per patch, weighted and summed
    call.child("rotary_pos_emb", Flow((rows, 2)))  # (row, column) per patch
    attributes = dict(call.module.attributes)
    context: tuple[tuple[str, Shape], ...] = ((_FULL, (height * width,) * frames),)
    window = attributes.get("window_size")
    full_blocks = attributes.get(_FULL_BLOCKS)
    if isinstance(window, int) and isinstance(full_blocks, tuple):
        windows = _window_lengths(call, frames, height, width, window)
        indexes = tuple(index for index in full_blocks if isinstance(index, int))
        context += ((_WINDOWS, windows), (_FULL_BLOCKS, indexes), (_BLOCK, (0,)))
    if hidden is not None:
        hidden = replace(hidden, context=context)
    hidden = call.chain("blocks", hidden, checkpointed=True)
    if hidden is not None:
        hidden = replace(hidden, context=())
    merged = call.child("merger", hidden)
    taps = attributes.get("deepstack_visual_indexes")
    if isinstance(taps, tuple):
        depth = sum(child.repeat for child in _member(call.module, "blocks").children)
        called = sum(isinstance(index, int) and index < depth for index in taps)
        if called == len(taps) > 0:
            # Each merger reads the hidden states after its block: the same shape as the last block's output.
            call.each("deepstack_merger_list", hidden)
        elif called == 0:
            call.skip("deepstack_merger_list", "no deepstack index names a block: no merger is called")
        else:
            raise NotModelledError("some of its deepstack indexes name no block (those mergers are never called)")
    if hidden is None or merged is None:
        return Outcome(None)
    note = "pooler_output: the merged image tokens"
    return Outcome(replace(hidden, others=(("pooler_output", merged.shape),)), note=note)


def _window_lengths(call: Call, frames: int, height: int, width: int, window: int) -> tuple[int, ...]:
    """``get_vision_window_index``: the merged grid cut into windows of window_size/merge/patch merged tokens a
    side (the last ones shorter), each window's patches in a row."""
    embed = param_sizes(_member(call.module, "patch_embed", "proj"), "weight")
    area = _merge_area(call.module)
    merge = isqrt(area)
    side = window // merge // embed[-1]
    if side < 1:
        raise call.fail(f"cuts windows of {window} pixels, less than one merged patch")
    rows, columns = height // merge, width // merge

    def spans(size: int) -> list[int]:
        return [min(side, size - start) for start in range(0, size, side)]

    per_frame = tuple(area * across * down for across in spans(rows) for down in spans(columns))
    return per_frame * frames


def _patch_embed(call: Call, flow: Flow) -> Outcome:
    """``PatchEmbed``: the flattened patches viewed as (patches, channels, temporal_patch_size, patch, patch),
    ``proj`` (a Conv3d whose stride is its kernel: one output per patch), viewed as (patches, width)."""
    out, channels, frames, height, width = param_sizes(_member(call.module, "proj"), "weight")
    pixels = channels * frames * height * width
    if len(flow.shape) != 2 or flow.shape[1] != pixels:
        raise call.fail(f"expects flattened patches (patches, {pixels}), got {format_shape(flow.shape)}")
    patches = flow.shape[0]
    embedded = call.child("proj", Flow((patches, channels, frames, height, width)))
    return Outcome(None if embedded is None else Flow((patches, out), grad=embedded.grad))


def _rotary_2d(call: Call, flow: Flow) -> Outcome:
    """The towers' 2-D rotary embedding: (patches, 2) positions times ``inv_freq``, height and width side by
    side, twice: cos and sin (patches, 4·len(inv_freq)) each; elementwise, no MACs."""
    frequencies = param_sizes(call.module, "inv_freq")[0]
    shape = (flow.shape[0], 4 * frequencies)
    return Outcome(Flow(shape, (("sin", shape),)), note="cos and sin of each patch's row and column positions")


def _chunks(call: Call, flow: Flow) -> tuple[int, ...]:
    """The lengths of the attention chunks of one image in this block: its windows in a windowed block of
    Qwen2.5-VL, else the image (one chunk per frame)."""
    context = dict(flow.context)
    full = context.get(_FULL)
    if full is None:
        raise NotModelledError("its tower gives no cu_seqlens")
    block, windows = context.get(_BLOCK), context.get(_WINDOWS)
    if block is not None and windows is not None and block[0] not in context.get(_FULL_BLOCKS, ()):
        return windows
    return full


def _packed_attention(call: Call, flow: Flow) -> Outcome:
    """The towers' attention (``VisionAttention`` and its copies): ``qkv`` split into query, key and value, each
    (patches, width); the rows split into chunks (``cu_seqlens``) and attention run within each chunk; ``proj``.
    Chunks of one length are counted together, as (chunks, length, width)."""
    values: Values = {"x0": flow, "x": flow}
    tally = Tally()
    for step in (run("qkv"), split("x", "q", "k", "v")):
        step.apply(call, values, tally)
    query, key, value = values["q"], values["k"], values["v"]
    if query is None or key is None or value is None:
        call.child("proj", None)
        return Outcome(None)
    lengths = _chunks(call, flow)
    rows, width = query.shape
    images, remainder = divmod(rows, sum(lengths))
    if remainder:
        raise call.fail(f"splits {rows} patches into chunks of {sum(lengths)} per image")
    for length, count in sorted(Counter(lengths).items()):
        values["q"], values["k"], values["v"] = (
            Flow((images * count, length, width), grad=part.grad) for part in (query, key, value)
        )
        attention(target="a", causal=False).apply(call, values, tally)
    values["x"] = Flow((rows, width), grad=True)
    run("proj").apply(call, values, tally)
    shown = ", ".join(f"{count}×{length}" for length, count in sorted(Counter(lengths).items()))
    note = f"attention within each image's chunks ({shown} patches per image), never across them"
    return Outcome(values["x"], tally.macs, tuple(tally.steps), note, backward_macs=tally.backward)


_PRE_NORM_BLOCK: Final = pre_norm_layer("norm1", "attn", "norm2", "mlp")


def _vision_block(call: Call, flow: Flow) -> Outcome:
    """``x + attn(norm1(x))``, then ``x + mlp(norm2(x))``; in Qwen2.5-VL the next block reads the next index (its
    tower chooses full or windowed attention by index)."""
    outcome = _PRE_NORM_BLOCK(call, flow)
    output, context = outcome.output, dict(flow.context)
    block = context.get(_BLOCK)
    if output is None or block is None:
        return outcome
    context[_BLOCK] = (block[0] + 1,)
    return replace(outcome, output=replace(output, context=tuple(context.items())))


class _Merge(Step):
    """``x.view(-1, hidden_size)``: spatial_merge_size² neighbouring patches side by side, as wide as ``reader``
    reads."""

    reader: str

    def apply(self, call: Call, values: Values, tally: Tally) -> None:
        flow = values["x"]
        if flow is None:
            return
        merged = int_arg(_member(call.module, *self.reader.split(".")), "in_features")
        count = elements(flow.shape)
        if count % merged:
            raise call.fail(f"views {format_shape(flow.shape)} as rows of {merged} features, which fails")
        values["x"] = Flow((count // merged, merged), grad=flow.grad)


def _merger(call: Call, flow: Flow) -> Outcome:
    """The patch mergers: Qwen2-VL's and Qwen2.5-VL's ``ln_q`` then ``mlp`` (Linear, GELU, Linear) on the merged
    rows; Qwen3-VL's ``norm`` before the merge (the main merger) or after it (the deepstack mergers, their norm as
    wide as the merged rows), then ``linear_fc1``, GELU, ``linear_fc2``."""
    if child_of(call.module, "ln_q") is not None:
        return dataflow(run("ln_q"), _Merge("mlp.0"), run("mlp"))(call, flow)
    if last_size(_member(call.module, "norm")) == in_features(call, "linear_fc1"):
        steps: tuple[Step, ...] = (_Merge("linear_fc1"), run("norm"))
    else:
        steps = (run("norm"), _Merge("linear_fc1"))
    return dataflow(*steps, run("linear_fc1"), run("linear_fc2"), note="linear_fc2(GELU(linear_fc1(x)))")(call, flow)


class _MropePositions(Step):
    """The position ids (3, batch, sequence): temporal, height and width per token (M-RoPE)."""

    def apply(self, call: Call, values: Values, tally: Tally) -> None:
        flow = values["x0"]
        values["positions"] = None if flow is None else Flow((3, *flow.shape[:2]))


def _mrope(call: Call, flow: Flow) -> Outcome:
    """The text models' M-RoPE: (3, batch, L) positions times ``inv_freq``, the sections of the three axes
    recombined, concatenated with itself: cos and sin (batch, L, 2·len(inv_freq)) each; elementwise, no MACs."""
    shape = (*flow.shape[1:], 2 * param_sizes(call.module, "inv_freq")[0])
    return Outcome(Flow(shape, (("sin", shape),)), note="cos and sin of the 3-D (temporal, height, width) positions")


_TEXT_MODEL: Final = dataflow(
    tokens(),
    run("embed_tokens", "x0", "x"),
    _MropePositions(),
    run("rotary_emb", "positions", "rotary"),
    chain("layers", checkpointed=True),
    run("norm"),
)


# --- Llama 4 with images -----------------------------------------------------------------------------------------


def _llama4_image(tower: Module, batch: int) -> tuple[int, int, int, int]:
    """The pixel values the tower reads: one tile at the size of its position table (grid² patches and the class
    token), of ``patch_size`` pixels a side."""
    table = param_sizes(tower, "positional_embedding_vlm")[0] - 1
    patches = _member(tower, "patch_embedding")
    patch = dict(patches.attributes).get("patch_size")
    grid = isqrt(table)
    if not isinstance(patch, int) or grid * grid != table:
        raise NotModelledError("its patch size or its square position grid is not known")
    channels = int_arg(_member(patches, "linear"), "in_features") // (patch * patch)
    return (batch, channels, grid * patch, grid * patch)


def _llama4_model(call: Call, flow: Flow) -> Outcome:
    """``Llama4ForConditionalGeneration``: the vision model on the tile, its features flattened through the
    projector into the text width, replacing the image's placeholder tokens; then ``language_model`` (a
    ``Llama4ForCausalLM``) over the sequence."""
    batch = _tokens(call, flow)
    image = _llama4_image(_member(call.module, "vision_model"), batch)
    features = call.child("vision_model", Flow(image))
    per_image = 0
    if features is not None:
        per_image = features.shape[1]
        features = Flow((elements(features.shape[:-1]), features.shape[-1]), grad=features.grad)
    call.child("multi_modal_projector", features)
    return _language(call, flow, per_image, f"{image[2]}×{image[3]}")


def _unfold_patches(call: Call, flow: Flow) -> Outcome:
    """``Llama4UnfoldConvolution``: ``nn.Unfold`` (kernel = stride = patch) gives (batch, channels·patch²,
    patches), permuted to (batch, patches, channels·patch²), then ``linear``."""
    patch = dict(call.module.attributes).get("patch_size")
    if not isinstance(patch, int):
        raise NotModelledError("its patch_size is not known")
    if len(flow.shape) != 4:
        raise call.fail(f"expects pixel values (batch, channels, height, width), got {format_shape(flow.shape)}")
    batch, channels, height, width = flow.shape
    patches = (height // patch) * (width // patch)
    return Outcome(call.child("linear", Flow((batch, patches, channels * patch * patch))))


class _DropLast(Step):
    def apply(self, call: Call, values: Values, tally: Tally) -> None:
        flow = values["x"]
        if flow is not None:
            values["x"] = Flow((flow.shape[0], flow.shape[1] - 1, *flow.shape[2:]), grad=flow.grad)


class _ClassToken(Step):
    def apply(self, call: Call, values: Values, tally: Tally) -> None:
        flow = values["x"]
        values["class"] = None if flow is None else Flow((flow.shape[0], 1, flow.shape[2]), grad=True)


_LLAMA4_VISION: Final = dataflow(
    run("patch_embedding"),
    _ClassToken(),
    concat("x", "x", "class"),
    add_param("positional_embedding_vlm"),
    run("layernorm_pre"),
    run("rotary_embedding", "x0", "freqs_ci"),
    run("model"),
    run("layernorm_post"),
    _DropLast(),
    run("vision_adapter"),
    note="the class token appended after the patches, dropped before the adapter",
)


def _freqs(call: Call, flow: Flow) -> Outcome:
    """``Llama4VisionRotaryEmbedding``: its precomputed ``freqs_ci`` table, returned as is."""
    return Outcome(Flow(param_sizes(call.module, "freqs_ci")))


def _pixel_shuffle(call: Call, flow: Flow) -> Outcome:
    """``Llama4VisionPixelShuffleMLP``: the (batch, grid², width) patches as their square grid, ``pixel_shuffle``
    folding ratio⁻¹×ratio⁻¹ neighbours into one (width/ratio² features, as many as ``mlp.fc1`` reads), then
    ``mlp``."""
    mlp = _member(call.module, "mlp")
    folded = int_arg(_member(mlp, "fc1"), "in_features")
    if len(flow.shape) != 3 or folded % flow.shape[2]:
        raise call.fail(f"folds patches into rows of {folded} features, got {format_shape(flow.shape)}")
    batch, patches, width = flow.shape
    fold = folded // width
    side, per_side = isqrt(patches), isqrt(fold)
    if side * side != patches or per_side * per_side != fold or side % per_side:
        raise call.fail(f"pixel-shuffles {patches} patches by {fold}, not a square grid of whole squares")
    shuffled = call.child("mlp", Flow((batch, patches // fold, folded), grad=flow.grad))
    return Outcome(shuffled, note=f"{side}×{side} patches folded {per_side}×{per_side} into {patches // fold} tokens")


_LLAMA4: Final[dict[str, Rule]] = {
    "Llama4ForConditionalGeneration": _llama4_model,
    "Llama4VisionModel": _LLAMA4_VISION,
    "Llama4UnfoldConvolution": _unfold_patches,
    "Llama4VisionRotaryEmbedding": _freqs,
    "Llama4VisionEncoder": dataflow(chain("layers", checkpointed=True)),
    "Llama4VisionEncoderLayer": pre_norm_layer("input_layernorm", "self_attn", "post_attention_layernorm", "mlp"),
    "Llama4VisionAttention": self_attention("q_proj", "k_proj", "v_proj", "o_proj", causal=False),
    "Llama4VisionMLP": in_order,
    "Llama4VisionMLP2": in_order,
    "Llama4VisionPixelShuffleMLP": _pixel_shuffle,
    "Llama4MultiModalProjector": in_order,
}


def _qwen_rules() -> dict[str, Rule]:
    rules: dict[str, Rule] = {}
    towers = {
        "Qwen2VL": ("Qwen2VisionTransformerPretrainedModel", "PatchEmbed", "Qwen2VLVisionRotaryEmbedding"),
        "Qwen2_5_VL": (
            "Qwen2_5_VisionTransformerPretrainedModel",
            "Qwen2_5_VisionPatchEmbed",
            "Qwen2_5_VLVisionRotaryEmbedding",
        ),
        "Qwen3VL": ("Qwen3VLVisionModel", "Qwen3VLVisionPatchEmbed", "Qwen3VLVisionRotaryEmbedding"),
    }
    texts = {"Qwen2VL": "Qwen2VL", "Qwen2_5_VL": "Qwen2_5_VL", "Qwen3VL": "Qwen3VLText"}
    for prefix, (tower, patches, rotary) in towers.items():
        text = texts[prefix]
        rules |= {
            f"{prefix}ForConditionalGeneration": decoders.RULES["LlamaForCausalLM"],
            f"{prefix}Model": _qwen_vl_model,
            tower: _qwen_vl_tower,
            patches: _patch_embed,
            rotary: _rotary_2d,
            f"{prefix}TextModel": _TEXT_MODEL,
            f"{text}DecoderLayer": decoders.RULES["LlamaDecoderLayer"],
            f"{text}Attention": decoders.RULES["LlamaAttention"],
            f"{text}RMSNorm": decoders.RULES["LlamaRMSNorm"],
            f"{text}RotaryEmbedding": _mrope,
        }
    for block in ("Qwen2VLVisionBlock", "Qwen2_5_VLVisionBlock", "Qwen3VLVisionBlock"):
        rules[block] = _vision_block
    for kind in ("VisionAttention", "Qwen2_5_VLVisionAttention", "Qwen3VLVisionAttention"):
        rules[kind] = _packed_attention
    for kind in ("PatchMerger", "Qwen2_5_VLPatchMerger", "Qwen3VLVisionPatchMerger"):
        rules[kind] = _merger
    rules["VisionMlp"] = rules["Qwen3VLVisionMLP"] = in_order
    # Qwen2.5-VL's vision MLP (biased) and Qwen3-VL's text MLP: act(gate_proj(x))·up_proj(x), then down_proj.
    rules["Qwen2_5_VLMLP"] = rules["Qwen3VLTextMLP"] = decoders.RULES["LlamaMLP"]
    return rules


RULES: Final[dict[str, Rule]] = {**_qwen_rules(), **_LLAMA4}
"""Shape rules of Qwen-VL's and Llama 4's vision-language classes, by kind."""

TOKEN_INPUTS: Final = frozenset(
    {
        f"{prefix}{head}"
        for prefix in ("Qwen2VL", "Qwen2_5_VL", "Qwen3VL")
        for head in ("Model", "ForConditionalGeneration")
    }
    | {"Llama4ForConditionalGeneration"}
)
"""Kinds whose forward reads token ids (batch, sequence), the image's tokens among them: per-token figures count
every position of the sequence."""
