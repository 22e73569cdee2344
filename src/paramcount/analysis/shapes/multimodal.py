"""Dataflow of transformers' vision towers and vision-language models: CLIP and SigLIP (a text tower and a vision
tower, scored against each other), LLaVA (a CLIP vision tower, a projector, a Llama decoder) and Gemma 3 with
images (a SigLIP tower, a pooling projector, the Gemma 3 text decoder). Conventions in ``transformers.py``.

The input is token ids, (batch, sequence), as ``input_ids`` reaches ``forward``; each sequence comes with one
image at the vision tower's configured size, (batch, channels, side, side), where ``side`` is the tower's
position grid times its patch size (``image_size`` when it is a multiple of ``patch_size``; otherwise the
convolution floors it to the same patches, and the same FLOPs); SigLIP 2's as its NaFlex processor hands it at
the default ``num_patches``, a square grid of that many flattened patches, (batch, patches, channels·patch²).
CLIP and SigLIP (1 and 2) score the ``batch`` texts against the ``batch`` images. LLaVA and Gemma 3 put the
image's tokens inside the sequence, as their processors do (one placeholder token per image feature, replaced by
the projected features): the decoder runs
over all ``sequence`` tokens, of which the image takes LLaVA's grid² patches (one 336² image: 24² = 576; the
class token too with ``vision_feature_select_strategy="full"``) or Gemma 3's ``mm_tokens_per_image`` (256),
so the sequence must hold at least that many.
"""

from __future__ import annotations

from math import isqrt

from paramcount._record import replace
from paramcount.analysis.flops import macs_step
from paramcount.analysis.shapes import decoders
from paramcount.analysis.shapes.common import NotModelledError, int_arg
from paramcount.analysis.shapes.flow import (
    Step,
    add,
    also,
    chain,
    child_of,
    dataflow,
    in_order,
    member,
    param_sizes,
    positions,
    prepend,
    run,
    select,
    table_positions,
    to_tokens,
)
from paramcount.analysis.shapes.layers import RULES as _LAYER_RULES
from paramcount.analysis.shapes.transformers import fits, pre_norm_layer, self_attention
from paramcount.analysis.shapes.types import NO_GRADIENT, Flow, Outcome, format_shape
from paramcount.tree import Module

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Final

    from paramcount.analysis.shapes.types import Call, Rule

__all__ = ["RULES", "TEXT_AND_IMAGE_INPUTS", "TOKEN_INPUTS", "detach_unread_layers"]


# --- the image a tower reads ---------------------------------------------------------------------------------


def _embeddings(tower: Module) -> Module:
    embeddings = child_of(tower, "embeddings")
    if embeddings is None:
        raise NotModelledError(f"its vision tower {tower.name!r} has no member 'embeddings'")
    return embeddings


def image_shape(tower: Module, batch: int) -> tuple[int, ...]:
    """The pixel values a CLIP or SigLIP vision tower reads at its configured size: its position table holds the
    grid² patches (and CLIP's class token), each ``patch_embedding``'s kernel wide; SigLIP 2's, whose
    ``patch_embedding`` is a Linear, as the NaFlex processor hands them: (batch, grid² patches, channels·patch²)."""
    embeddings = _embeddings(tower)
    table, patches = child_of(embeddings, "position_embedding"), child_of(embeddings, "patch_embedding")
    if table is None or patches is None:
        raise NotModelledError(f"its vision tower {tower.name!r} has no position_embedding or patch_embedding")
    rows = int_arg(table, "num_embeddings") - any(param.name == "class_embedding" for param in embeddings.params)
    sizes = param_sizes(patches, "weight")
    grid = isqrt(rows)
    if grid * grid != rows:
        raise NotModelledError(f"its vision tower's {rows} patch positions are not a square grid")
    if len(sizes) == 2:
        return (batch, rows, sizes[1])
    _, channels, height, width = sizes
    return (batch, channels, grid * height, grid * width)


def _tokens(call: Call, flow: Flow) -> None:
    if len(flow.shape) != 2:
        raise call.fail(f"expects token ids of shape (batch, sequence), got {format_shape(flow.shape)}")


def _pooled(flow: Flow | None) -> Flow | None:
    """A tower's ``pooler_output``."""
    if flow is None:
        return None
    shape = dict(flow.others).get("pooler_output")
    return None if shape is None else Flow(shape, grad=flow.grad)


def _image(call: Call, batch: int, name: str) -> Flow:
    tower = child_of(call.module, name)
    if tower is None:
        raise NotModelledError(f"it has no member {name!r}")
    return Flow(image_shape(tower, batch))


# --- CLIP and SigLIP towers ------------------------------------------------------------------------------------

_PRE_NORM_LAYER: Final = pre_norm_layer("layer_norm1", "self_attn", "layer_norm2", "mlp")
# CLIP's text tower masks causally; eager attention multiplies every position either way.
_ATTENTION: Final = self_attention("q_proj", "k_proj", "v_proj", "out_proj", causal=False)
_TEXT_EMBEDDINGS: Final = dataflow(
    fits("position_embedding"),
    run("token_embedding", "x0", "x"),
    positions(),
    run("position_embedding", "positions", "p"),
    add("x", "x", "p", what="add the position embeddings"),
)
_ENCODER: Final = dataflow(chain("layers", checkpointed=True))

_CLIP_TEXT: Final = dataflow(
    run("embeddings"),
    run("encoder"),
    run("final_layer_norm"),
    select("x", "pooled"),
    also("pooler_output", "pooled"),
    note="pooler_output: the hidden state of each sequence's end-of-text token",
)
_CLIP_VISION: Final = dataflow(
    run("embeddings"),
    run("pre_layrnorm"),
    run("encoder"),
    select("x", "pooled"),
    run("post_layernorm", "pooled"),
    also("pooler_output", "pooled"),
    note="pooler_output: the class token, normalised",
)


def _vision_embeddings(*class_token: Step) -> Rule:
    """The patches as tokens, (CLIP's class token prepended), then every row of the position table added."""
    return dataflow(
        run("patch_embedding"),
        to_tokens(),
        *class_token,
        table_positions("position_embedding"),
        run("position_embedding", "positions", "p"),
        add("x", "x", "p", what="add the position embeddings"),
    )


def _resized_positions(call: Call, flow: Flow) -> Outcome:
    """``Siglip2VisionEmbeddings``: ``patch_embedding`` on each patch's flattened pixels, plus the position table
    resized to the image's patch grid. transformers 5.24 resizes it (``F.interpolate``'s antialiased bilinear
    weights, computed elementwise) as one product, ``weights @ table``: (batch, patches, rows) by (rows, width)."""
    if len(flow.shape) != 3:
        raise call.fail(f"expects patches (batch, patches, channels·patch²), got {format_shape(flow.shape)}")
    table = child_of(call.module, "position_embedding")
    if table is None:
        raise NotModelledError("it has no member 'position_embedding'")
    embedded = call.child("patch_embedding", flow)
    call.skip("position_embedding", "its weight is resized whole to the patch grid (a product), not looked up")
    if embedded is None:
        return Outcome(None)
    rows, width = param_sizes(table, "weight")
    batch, patches, _ = flow.shape
    macs, step = macs_step(("batch", "patches", "positions", "width"), (batch, patches, rows, width))
    note = f"the {rows}-row position table resized to each image's grid of {patches} patches"
    steps = (replace(step, name="MACs (resize weights · position table)"),)
    # The backward multiplies the gradient into the table's (the weights need none).
    return Outcome(Flow(embedded.shape, grad=True), macs, steps, note, backward_macs=macs)


_SIGLIP_TEXT: Final = dataflow(
    run("embeddings"),
    run("encoder"),
    run("final_layer_norm"),
    select("x", "pooled"),
    run("head", "pooled"),
    also("pooler_output", "pooled"),
    note="pooler_output: head(the last token's hidden state)",
)
_SIGLIP_VISION_LAYERS: Final = dataflow(run("embeddings"), run("encoder"), run("post_layernorm"))


_POOLER_UNUSED: Final = "pooler_output unused"
"""How an image classifier calls its SigLIP tower: it reads the hidden states, never ``pooler_output``."""


def _siglip_vision(call: Call, flow: Flow) -> Outcome:
    """embeddings, encoder, post_layernorm; then the attention-pooling ``head`` (``vision_use_head``) gives
    ``pooler_output``; without it there is none (Gemma 3's tower). Under an image classifier, which reads only the
    hidden states, the head still runs but no gradient reaches it."""
    hidden = _SIGLIP_VISION_LAYERS(call, flow).output
    if hidden is None or child_of(call.module, "head") is None:
        return Outcome(hidden)
    pooled = call.child("head", hidden, options=frozenset({NO_GRADIENT} if _POOLER_UNUSED in call.options else ()))
    others = () if pooled is None else (("pooler_output", pooled.shape),)
    return Outcome(replace(hidden, others=others), note="pooler_output: the attention-pooling head's output")


def _attention_pooling(call: Call, flow: Flow) -> Outcome:
    """``SiglipMultiheadAttentionPoolingHead``: the learned ``probe`` (one query per image) attends over the
    hidden states (``attention(probe, h, h)``), then ``x + mlp(layernorm(x))``; the first (only) query's row."""
    if len(flow.shape) != 3:
        raise call.fail(f"expects hidden states (batch, patches, width), got {format_shape(flow.shape)}")
    batch, _, width = flow.shape
    probe = Flow((batch, 1, width), context=(("key_value", flow.shape),), grad=True)
    attended = call.child("attention", probe)
    if attended is None:
        return Outcome(None)
    attended = Flow(attended.shape, grad=True)
    normed = call.child("layernorm", attended)
    call.child("mlp", normed)
    note = "probe (batch, 1, width) as the query, the hidden states as keys and values"
    return Outcome(Flow((batch, width), grad=True), note=note)


def _image_classifier(pooling: str) -> Rule:
    """``<Siglip>ForImageClassification``: the tower's hidden states pooled over the patches (``pooling`` says how),
    then ``classifier``."""
    note = f"{pooling}; the tower's pooling head runs, its output unused"
    return dataflow(run("vision_model", options=_POOLER_UNUSED), member(""), select(), run("classifier"), note=note)


def _contrastive(projections: bool) -> Rule:
    def rule(call: Call, flow: Flow) -> Outcome:
        """Images through the vision tower, texts through the text tower, then ``text_embeds @
        image_embeds.T``: every text scored against every image of the batch."""
        _tokens(call, flow)
        batch = flow.shape[0]
        image = _image(call, batch, "vision_model")
        vision = call.child("vision_model", image)
        images = _pooled(vision)
        if vision is not None and images is None:
            raise call.fail("scores the vision tower's pooler_output, which a SigLIP tower without its head "
                            "(vision_use_head=false) does not return; transformers fails the same way")  # fmt: skip
        texts = _pooled(call.child("text_model", flow))
        if projections:
            images = call.child("visual_projection", images)
            texts = call.child("text_projection", texts)
        if images is None or texts is None:
            return Outcome(None)
        width = texts.shape[-1]
        if images.shape[-1] != width:
            raise call.fail(f"scores text embeddings of width {width} against image embeddings of width "
                            f"{images.shape[-1]}")  # fmt: skip
        macs, step = macs_step(("texts", "embed_dim", "images"), (batch, width, batch))
        logits = (batch, batch)
        others = (("logits_per_text", logits), ("text_embeds", texts.shape), ("image_embeds", images.shape))
        note = (f"one image per sequence at the vision tower's configured size, {format_shape(image.shape)}; "
                "logits_per_image, then logits_per_text and the normalised embeddings")  # fmt: skip
        backward = macs * (int(texts.grad) + int(images.grad))
        steps = (replace(step, name="MACs (text_embeds·image_embedsᵀ)"),)
        return Outcome(Flow(logits, others, grad=True), macs, steps, note, backward_macs=backward)

    return rule


# --- LLaVA and Gemma 3 ---------------------------------------------------------------------------------------


def _with_image(
    call: Call, flow: Flow, image: Flow, image_tokens: Flow | None, detail: str = "", language: str = "language_model"
) -> Outcome:
    """The language model (child ``language``) over the whole sequence, whose first positions the image's tokens
    take (where they stand changes no count); the sequence must hold them, as transformers checks."""
    count = "?"
    if image_tokens is not None:
        count = str(image_tokens.shape[1])
        if image_tokens.shape[1] > flow.shape[1]:
            raise call.fail(f"puts the image's {count} tokens in the sequence, which holds {flow.shape[1]}; give a "
                            f"sequence of at least {count} tokens (the image's, then the text's)")  # fmt: skip
    output = call.child(language, flow)
    note = f"one {format_shape(image.shape[1:])} image per sequence, {count} of its tokens{detail} among the sequence's"
    return Outcome(output, note=note)


def detach_unread_layers(call: Call, tower: str, *stack: str) -> None:
    """transformers runs every layer of the vision tower ``tower`` (its layers the container at the path ``stack``
    inside it) and the projector reads the hidden states ``vision_feature_layer`` names (``hidden_states[i]``: the
    output of layer i - 1, 0 the embeddings'): the layers after the last one read reach no loss, so they are
    detached (``Call.detach``): no gradient goes through them, gradient checkpointing never recomputes them."""
    chosen = dict(call.module.attributes).get("vision_feature_layer")
    indexes = chosen if isinstance(chosen, tuple) else (chosen,)
    layers = child_of(call.module, tower)
    for name in stack:
        layers = None if layers is None else child_of(layers, name)
    if layers is None or not all(type(index) is int for index in indexes):
        raise NotModelledError(f"its vision_feature_layer or its {tower}'s layers are not known")
    count = sum(layer.repeat for layer in layers.children)
    states = [index for index in indexes if isinstance(index, int) and -count - 1 <= index <= count]
    if len(states) != len(indexes):
        raise call.fail(f"reads vision_feature_layer {chosen} of the {count + 1} hidden states of its {count}-layer "
                        "vision tower; transformers fails the same way")  # fmt: skip
    if chosen == 0:  # transformers 5.24 captures the hidden states vision_feature_layer names: 0 reads as none
        raise call.fail(f"reads vision_feature_layer 0, which transformers 5.24 takes for no hidden states and fails "
                        f"on; -{count + 1} names the same hidden state (the embeddings' output)")  # fmt: skip
    container = ".".join(part for part in (call.path, tower, *stack) if part)
    for index in range(max(index % (count + 1) for index in states), count):
        call.detach(f"{container}.{index}")


def _llava_model(call: Call, flow: Flow) -> Outcome:
    """The image's features (``_llava_features``), then the language model over the sequence."""
    _tokens(call, flow)
    image = _image(call, flow.shape[0], "vision_tower")
    image_tokens, strategy = _llava_features(call, image)
    return _with_image(call, flow, image, image_tokens, f" (vision_feature_select_strategy={strategy!r})")


def _llava_features(call: Call, image: Flow) -> tuple[Flow | None, str]:
    """The vision tower on ``image``; its hidden states without the class token (``"default"`` strategy) or with
    it (``"full"``), ``len(vision_feature_layer)`` of them side by side, through the projector: the projected
    features (images, tokens, text width), and the strategy."""
    strategy = dict(call.module.attributes).get("vision_feature_select_strategy")
    if not isinstance(strategy, str) or strategy not in ("default", "full"):
        raise NotModelledError("its vision_feature_select_strategy is not known")
    detach_unread_layers(call, "vision_tower", "encoder", "layers")
    hidden = call.child("vision_tower", image)
    projector = child_of(call.module, "multi_modal_projector")
    first = None if projector is None else child_of(projector, "linear_1")
    if first is None:
        raise NotModelledError("it has no multi_modal_projector.linear_1")
    features = None
    if hidden is not None:
        batch, count, width = hidden.shape
        count -= strategy == "default"
        stacked = int_arg(first, "in_features")
        if stacked % width:
            raise call.fail(f"stacks vision hidden states of width {width} into linear_1's {stacked} features")
        features = Flow((batch, count, stacked), grad=hidden.grad)
    return call.child("multi_modal_projector", features), strategy


def _gemma3_projector(call: Call, flow: Flow) -> Outcome:
    """``Gemma3MultiModalProjector``: the patches as their square grid, average-pooled to ``mm_tokens_per_image``
    tokens (kernel and stride = grid / tokens per side), ``mm_soft_emb_norm``, then ``@
    mm_input_projection_weight`` into the text width."""
    tokens = dict(call.module.attributes).get("mm_tokens_per_image")
    if not isinstance(tokens, int):
        raise NotModelledError("its mm_tokens_per_image is not known")
    width, text_width = param_sizes(call.module, "mm_input_projection_weight")
    if len(flow.shape) != 3 or flow.shape[-1] != width:
        raise call.fail(f"expects vision hidden states (batch, patches, {width}), got {format_shape(flow.shape)}")
    batch, patches, _ = flow.shape
    side, per_side = isqrt(patches), isqrt(tokens)
    if side * side != patches or per_side == 0 or side < per_side:
        raise call.fail(f"pools {patches} patches, not a square grid of at least {per_side}² patches")
    kernel = side // per_side
    pooled = (side - kernel) // kernel + 1
    normed = call.child("mm_soft_emb_norm", Flow((batch, pooled * pooled, width), grad=flow.grad))
    if normed is None:
        return Outcome(None)
    macs, step = macs_step(
        ("batch", "tokens", "vision_hidden", "text_hidden"), (batch, pooled * pooled, width, text_width)
    )
    note = f"{side}×{side} patches average-pooled {kernel}×{kernel} to {pooled}×{pooled} tokens per image"
    backward = macs * (1 + int(normed.grad))
    steps = (replace(step, name="MACs (· mm_input_projection_weight)"),)
    return Outcome(Flow((batch, pooled * pooled, text_width), grad=True), macs, steps, note, backward_macs=backward)


def _gemma3_model(call: Call, flow: Flow) -> Outcome:
    """``Gemma3Model``: the SigLIP tower on the image, the projector, then Gemma 3's text model over the
    sequence."""
    _tokens(call, flow)
    image = _image(call, flow.shape[0], "vision_tower")
    image_tokens = call.child("multi_modal_projector", call.child("vision_tower", image))
    return _with_image(call, flow, image, image_tokens)


_CLIP: Final[dict[str, Rule]] = {
    "CLIPModel": _contrastive(projections=True),
    "CLIPTextModel": _CLIP_TEXT,
    "CLIPTextEmbeddings": _TEXT_EMBEDDINGS,
    "CLIPVisionModel": _CLIP_VISION,
    "CLIPVisionEmbeddings": _vision_embeddings(prepend("class_embedding")),
    "CLIPEncoder": _ENCODER,
    "CLIPEncoderLayer": _PRE_NORM_LAYER,
    "CLIPAttention": _ATTENTION,
    "CLIPMLP": in_order,
}
_SIGLIP: Final[dict[str, Rule]] = {
    "SiglipModel": _contrastive(projections=False),
    "SiglipTextModel": _SIGLIP_TEXT,
    "SiglipTextEmbeddings": _TEXT_EMBEDDINGS,
    "SiglipVisionModel": _siglip_vision,
    "SiglipVisionEmbeddings": _vision_embeddings(),
    "SiglipEncoder": _ENCODER,
    "SiglipEncoderLayer": _PRE_NORM_LAYER,
    "SiglipAttention": _ATTENTION,
    "SiglipMLP": in_order,
    "SiglipMultiheadAttentionPoolingHead": _attention_pooling,
    "SiglipForImageClassification": _image_classifier("the mean of the patch tokens (no MACs)"),
}
_TOWERS: Final[dict[str, Rule]] = {
    **_CLIP,
    **_SIGLIP,
    # SigLIP 2 (transformers' Siglip2* classes): SigLIP's computation, but for its vision embeddings.
    **{f"Siglip2{kind.removeprefix('Siglip')}": rule for kind, rule in _SIGLIP.items()},
    "Siglip2VisionEmbeddings": _resized_positions,
    "Siglip2ForImageClassification": _image_classifier(
        "the mean over each image's real patches (pixel_attention_mask: a masked sum over their count, no MACs)"
    ),
    "CLIPTextModelWithProjection": dataflow(run("text_model"), member("pooler_output"), run("text_projection")),
    "CLIPVisionModelWithProjection": dataflow(run("vision_model"), member("pooler_output"), run("visual_projection")),
    # torch's class of MultiheadAttention.out_proj, which the Hugging Face door keeps: a Linear.
    "NonDynamicallyQuantizableLinear": _LAYER_RULES["Linear"],
}
_CAUSAL_LM: Final = decoders.RULES["LlamaForCausalLM"]  # model, then lm_head over every position

RULES: Final[dict[str, Rule]] = {
    **_TOWERS,
    "LlavaForConditionalGeneration": _CAUSAL_LM,
    "LlavaModel": _llava_model,
    "LlavaMultiModalProjector": in_order,
    "Gemma3ForConditionalGeneration": _CAUSAL_LM,
    "Gemma3Model": _gemma3_model,  # the multimodal model (decoders.py's Gemma3Model rule is Gemma3TextModel's)
    "Gemma3MultiModalProjector": _gemma3_projector,
}
"""Shape rules of transformers' vision-tower and vision-language classes, by kind."""

TOKEN_INPUTS: Final = frozenset({"LlavaForConditionalGeneration", "LlavaModel", "Gemma3ForConditionalGeneration",
                                 "Gemma3Model"})  # fmt: skip
"""Vision-language kinds whose forward reads token ids (batch, sequence), the image's tokens among them: per-token
figures count every position of the sequence."""
TEXT_AND_IMAGE_INPUTS: Final = frozenset({"CLIPModel", "SiglipModel", "Siglip2Model"})
"""Kinds that read token ids (batch, sequence) and as many images: ``--seq-len`` gives their input, and no per-token
figure is reported (their cost is per text-image pair)."""
