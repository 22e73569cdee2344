"""Dataflow of torchvision's blocks and models (the zoo's ``ResNet``, ``Bottleneck``, ``InvertedResidual``,
``VisionTransformer``, ``SwinTransformerBlock`` …), each as its ``forward`` in ``torchvision/models/*.py``
(torchvision 0.28) reads.

Residual additions, concatenations, class tokens, position embeddings, layer scales, permutes and stochastic
depth multiply no matrices: only the children (convolutions, linear layers, attention) and the attention
products of Swin's windows count MACs.
"""

from __future__ import annotations

from paramcount.analysis.shapes.common import int_arg, int_tuple_arg
from paramcount.analysis.shapes.flow import (
    Step,
    Tally,
    add,
    add_param,
    chain,
    child_of,
    concat,
    dataflow,
    flatten,
    global_pool,
    in_order,
    multiply,
    multiply_param,
    pool,
    prepend,
    run,
    select,
    to_tokens,
)
from paramcount.analysis.shapes.transformers import fused_attention, residual
from paramcount.analysis.shapes.types import Flow, Outcome, ShapeStep, format_shape

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Final

    from paramcount.analysis.shapes.flow import Values
    from paramcount.analysis.shapes.types import Call, Rule

__all__ = ["RULES"]


def _preserving(call: Call, flow: Flow) -> Outcome:
    return Outcome(Flow(flow.shape, grad=flow.grad))


def _permute(call: Call, flow: Flow) -> Outcome:
    """torchvision.ops.misc.Permute: ``torch.permute(x, dims)``."""
    value = call.module.arg("dims")
    dims = tuple(item for item in value if isinstance(item, int)) if isinstance(value, tuple) else ()
    shape = flow.shape
    if sorted(dims) != list(range(len(shape))):
        raise call.fail(f"permutes dims {dims}, which does not fit a {len(shape)}-D input {format_shape(shape)}")
    return Outcome(Flow(tuple(shape[dim] for dim in dims), grad=flow.grad))


def _layer_norm_2d(call: Call, flow: Flow) -> Outcome:
    """ConvNeXt's ``LayerNorm2d``: permute to channels-last, ``F.layer_norm`` over the channels, permute back."""
    channels = call.module.arg("normalized_shape")
    size = channels[0] if isinstance(channels, tuple) else channels
    if len(flow.shape) != 4 or flow.shape[1] != size:
        raise call.fail(f"expects a (N, {size}, H, W) input (normalized_shape over channels), got "
                        f"{format_shape(flow.shape)}")  # fmt: skip
    return Outcome(Flow(flow.shape, grad=flow.grad))


# --- ResNet, DenseNet --------------------------------------------------------------------------------------

_CLASSIFIER_TAIL: Final = (flatten(), run("fc"))

_RESNET: Final = dataflow(
    *(run(name) for name in ("conv1", "bn1", "relu", "maxpool", "layer1", "layer2", "layer3", "layer4")),
    run("avgpool"),
    *_CLASSIFIER_TAIL,
)
_BASIC_BLOCK: Final = dataflow(
    *(run(name) for name in ("conv1", "bn1", "relu", "conv2", "bn2")),
    run("downsample", "x0", optional=True),
    add("x", "x", "x0", what="add the residual"),
    run("relu"),
)
_BOTTLENECK: Final = dataflow(
    *(run(name) for name in ("conv1", "bn1", "relu", "conv2", "bn2", "relu", "conv3", "bn3")),
    run("downsample", "x0", optional=True),
    add("x", "x", "x0", what="add the residual"),
    run("relu"),
)
_DENSE_LAYER: Final = dataflow(*(run(name) for name in ("norm1", "relu1", "conv1", "norm2", "relu2", "conv2")))
_DENSENET: Final = dataflow(run("features"), global_pool(), flatten(), run("classifier"),
                            note="F.relu and F.adaptive_avg_pool2d(x, (1, 1)) after the features")  # fmt: skip


def _dense_block(call: Call, flow: Flow) -> Outcome:
    """``_DenseBlock.forward``: each layer reads the concatenation of the input and every earlier layer's
    output (along the channels) and the block returns the concatenation of all of them."""
    features = [flow]
    for child in call.module.children:
        joined = _concatenated(call, features)
        output = call.child(child.name, joined)
        if output is None or joined is None:
            features = []
            continue
        features.append(output)
    return Outcome(_concatenated(call, features) if features else None)


def _concatenated(call: Call, flows: list[Flow]) -> Flow | None:
    if not flows:
        return None
    values: dict[str, Flow | None] = {str(index): flow for index, flow in enumerate(flows)}
    concat("all", *values).apply(call, values, Tally())
    return values["all"]


# --- MobileNet, EfficientNet -------------------------------------------------------------------------------

_GLOBAL_POOL_TAIL: Final = dataflow(run("features"), global_pool(), flatten(), run("classifier"),
                                    note="F.adaptive_avg_pool2d(x, (1, 1)) after the features")  # fmt: skip
_POOLED_TAIL: Final = dataflow(run("features"), run("avgpool"), flatten(), run("classifier"))


def _residual_if(call: Call, flow: Flow, body: str, same: bool) -> Outcome:
    output = call.child(body, flow)
    if child_of(call.module, "stochastic_depth") is not None:
        if same:
            output = call.child("stochastic_depth", output)
        else:
            call.skip("stochastic_depth", "MBConv.forward applies it only with the residual")
    if not same or output is None:
        return Outcome(output, note="" if same else "no residual: the stride or the width changes")
    values: dict[str, Flow | None] = {"x": output, "x0": flow}
    add("x", "x", "x0", what="add the residual").apply(call, values, Tally())
    return Outcome(values["x"], note="residual: the block's input is added to its output")


def _inverted_residual(call: Call, flow: Flow) -> Outcome:
    """MobileNetV2's and V3's ``InvertedResidual``: ``x + body(x)`` when the stride is 1 and the width is kept
    (``use_res_connect``), else ``body(x)``; the body is ``conv`` (V2) or ``block`` (V3). ShuffleNet V2's class
    of that name (children ``branch1``, ``branch2``) is ``_shuffle_unit``."""
    module = call.module
    if child_of(module, "branch2") is not None:
        return _shuffle_unit(call, flow)
    if child_of(module, "conv") is not None:
        same = int_arg(module, "stride") == 1 and int_arg(module, "inp") == int_arg(module, "oup")
        return _residual_if(call, flow, "conv", same)
    same = int_arg(module, "stride") == 1 and int_arg(module, "input_channels") == int_arg(module, "out_channels")
    return _residual_if(call, flow, "block", same)


def _shuffle_unit(call: Call, flow: Flow) -> Outcome:
    """ShuffleNet V2's ``InvertedResidual``: with stride 1, ``x.chunk(2, dim=1)`` and
    ``cat(x1, branch2(x2))``; else ``cat(branch1(x), branch2(x))``; then ``channel_shuffle`` (a view and a
    transpose: no MACs)."""
    shape = flow.shape
    if int_arg(call.module, "stride") == 1:
        if len(shape) < 2:
            raise call.fail(f"chunks dimension 1 of {format_shape(shape)}")
        half = -(-shape[1] // 2)
        values: dict[str, Flow | None] = {"x1": Flow((shape[0], half, *shape[2:]), grad=flow.grad)}
        call.skip("branch1", "with stride 1 the first half of the channels passes unchanged")
        values["x2"] = call.child("branch2", Flow((shape[0], shape[1] - half, *shape[2:]), grad=flow.grad))
    else:
        values = {"x1": call.child("branch1", flow), "x2": call.child("branch2", flow)}
    concat("x", "x1", "x2").apply(call, values, Tally())
    return Outcome(values["x"], note="the two branches concatenated, then their channels interleaved")


def _mnasnet_block(call: Call, flow: Flow) -> Outcome:
    """MNASNet's ``_InvertedResidual``: ``layers(x) + x`` when the stride is 1 and the width is kept
    (``apply_residual``), else ``layers(x)``."""
    module = call.module
    same = int_arg(module, "stride") == 1 and int_arg(module, "in_ch") == int_arg(module, "out_ch")
    return _residual_if(call, flow, "layers", same)


_FIRE: Final = dataflow(
    run("squeeze"),
    run("squeeze_activation"),
    run("expand1x1", "x", "a"),
    run("expand1x1_activation", "a"),
    run("expand3x3", "x", "b"),
    run("expand3x3_activation", "b"),
    concat("x", "a", "b"),
    note="the two expansions concatenated along the channels",
)


_MAXVIT_MBCONV: Final = dataflow(
    run("proj", "x0", "shortcut"),
    run("layers"),
    run("stochastic_depth"),
    add("x", "shortcut", "x", what="add the residual"),
    note="proj(x) + stochastic_depth(layers(x))",
)


def _mbconv(call: Call, flow: Flow) -> Outcome:
    """EfficientNet's ``MBConv`` and ``FusedMBConv``: ``stochastic_depth(block(x)) + x`` when the stride is 1
    and the width is kept, else ``block(x)``. MaxViT's ``MBConv`` (a ``proj`` child) is ``_MAXVIT_MBCONV``."""
    module = call.module
    if child_of(module, "proj") is not None:
        return _MAXVIT_MBCONV(call, flow)
    same = int_arg(module, "stride") == 1 and int_arg(module, "input_channels") == int_arg(module, "out_channels")
    return _residual_if(call, flow, "block", same)


_SQUEEZE_EXCITATION: Final = dataflow(
    *(run(name, "x0", "scale") if name == "avgpool" else run(name, "scale") for name in
      ("avgpool", "fc1", "activation", "fc2", "scale_activation")),
    multiply("x", "scale", "x0"),
    note="returns scale · input",
)  # fmt: skip


# --- MaxViT ------------------------------------------------------------------------------------------------


def _option(call: Call, name: str) -> int:
    """An integer the parent passes to ``forward`` beside the tensor (``partition_op(x, p)``), carried in the
    call's options as ``name=value``."""
    for option in call.options:
        key, _, value = option.partition("=")
        if key == name:
            return int(value)
    raise call.fail(f"is called without {name} (its parent passes it)")


def _window_partition(call: Call, flow: Flow) -> Outcome:
    """``WindowPartition.forward(x, p)``: (B, C, H, W) → (B, (H/p)·(W/p), p·p, C), a reshape and a permute."""
    p, shape = _option(call, "p"), flow.shape
    if len(shape) != 4 or shape[2] % p or shape[3] % p:
        raise call.fail(f"partitions {format_shape(shape)} into {p}×{p} windows, which do not tile it")
    batch, channels, height, width = shape
    return Outcome(Flow((batch, (height // p) * (width // p), p * p, channels), grad=flow.grad))


def _window_departition(call: Call, flow: Flow) -> Outcome:
    """``WindowDepartition.forward(x, p, h_partitions, w_partitions)``: (B, G, p·p, C) → (B, C, h·p, w·p)."""
    p, rows, columns, shape = _option(call, "p"), _option(call, "h"), _option(call, "w"), flow.shape
    if len(shape) != 4 or shape[1] != rows * columns or shape[2] != p * p:
        raise call.fail(f"expects (B, {rows}·{columns}, {p}·{p}, C), got {format_shape(shape)}")
    return Outcome(Flow((shape[0], shape[3], rows * p, columns * p), grad=flow.grad))


def _swap_axes(call: Call, flow: Flow) -> Outcome:
    """``torch.swapaxes(x, a, b)``."""
    shape = list(flow.shape)
    first, second = int_arg(call.module, "a") % len(shape), int_arg(call.module, "b") % len(shape)
    shape[first], shape[second] = shape[second], shape[first]
    return Outcome(Flow(tuple(shape), grad=flow.grad))


def _partition_attention(call: Call, flow: Flow) -> Outcome:
    """``PartitionAttentionLayer``: partition into windows (or a grid, with the two token axes swapped),
    ``x + stochastic_dropout(attn_layer(x))``, ``x + stochastic_dropout(mlp_layer(x))``, then back to
    (B, C, H, W). The layer was built for one feature-map size (``grid_size``)."""
    module, shape = call.module, flow.shape
    grid, p = int_tuple_arg(module, "grid_size", 2), int_arg(module, "p")
    if len(shape) != 4 or shape[2:] != grid:
        raise call.fail(f"was built for a {grid[0]}×{grid[1]} feature map (grid_size), got {format_shape(shape)}")
    partitioned = call.child("partition_op", flow, options=frozenset({f"p={p}"}))
    values: dict[str, Flow | None] = {"x": call.child("partition_swap", partitioned)}
    tally = Tally()
    for body in ("attn_layer", "mlp_layer"):
        values["y"] = call.child("stochastic_dropout", call.child(body, values["x"]))
        add("x", "x", "y", what="add the residual").apply(call, values, tally)
    swapped = call.child("departition_swap", values["x"])
    options = frozenset({f"p={p}", f"h={grid[0] // p}", f"w={grid[1] // p}"})
    return Outcome(call.child("departition_op", swapped, options=options), note="two residual sub-layers")


_RELATIVE_ATTENTION: Final = fused_attention("to_qkv", "merge", causal=False)
"""``RelativePositionalMultiHeadAttention`` on (B, G, P, D): ``to_qkv``, its three thirds as q, k, v, attention
over the P tokens of each partition (the relative position bias is added, no MACs), ``merge``."""


# --- GoogLeNet, Inception v3 ------------------------------------------------------------------------------


def _branches(*branches: tuple[str, ...], pooled: tuple[int, int, int] | None = None, pool_child: str = "") -> Rule:
    """An Inception block: each branch a chain of children on the block's input, an optional functional pool
    (kernel, stride, padding) before ``pool_child`` (or alone, as the last branch), then one concatenation."""
    steps: list[Step] = []
    names: list[str] = []
    for index, chain_ in enumerate(branches):
        name = f"b{index}"
        names.append(name)
        steps.append(run(chain_[0], "x0", name))
        steps.extend(run(child, name) for child in chain_[1:])
    if pooled is not None:
        names.append("pooled")
        steps.append(pool("x0", "pooled", *pooled))
        if pool_child:
            steps.append(run(pool_child, "pooled"))
    return dataflow(*steps, concat("x", *names), note="the branches concatenated along the channels")


def _split_branch(first: tuple[str, ...], left: str, right: str, target: str) -> tuple[Step, ...]:
    """InceptionE's split branch: a chain, then two convolutions of its output concatenated."""
    return (
        run(first[0], "x0", target),
        *(run(child, target) for child in first[1:]),
        run(left, target, f"{target}l"),
        run(right, target, f"{target}r"),
        concat(target, f"{target}l", f"{target}r"),
    )


_INCEPTION_E: Final = dataflow(
    run("branch1x1", "x0", "a"),
    *_split_branch(("branch3x3_1",), "branch3x3_2a", "branch3x3_2b", "b"),
    *_split_branch(("branch3x3dbl_1", "branch3x3dbl_2"), "branch3x3dbl_3a", "branch3x3dbl_3b", "c"),
    pool("x0", "d", 3, 1, 1),
    run("branch_pool", "d"),
    concat("x", "a", "b", "c", "d"),
    note="the branches concatenated along the channels",
)


def _without_aux(trunk: Rule, *heads: str) -> Rule:
    """GoogLeNet's and Inception3's ``forward``: the auxiliary classifiers run only in training mode (their
    outputs returned beside the logits), so an evaluation-mode pass skips them."""

    def rule(call: Call, flow: Flow) -> Outcome:
        for head in heads:
            if child_of(call.module, head) is not None:
                call.skip(head, "an auxiliary classifier: forward calls it only in training mode")
        return trunk(call, flow)

    return rule


_GOOGLENET: Final = _without_aux(
    dataflow(
        *(run(name) for name in ("conv1", "maxpool1", "conv2", "conv3", "maxpool2", "inception3a", "inception3b",
                                 "maxpool3", "inception4a", "inception4b", "inception4c", "inception4d",
                                 "inception4e", "maxpool4", "inception5a", "inception5b", "avgpool")),
        flatten(),
        run("dropout"),
        run("fc"),
        note="transform_input rescales the channels elementwise (no MACs)",
    ),
    "aux1",
    "aux2",
)  # fmt: skip
_INCEPTION3: Final = _without_aux(
    dataflow(
        *(run(name) for name in ("Conv2d_1a_3x3", "Conv2d_2a_3x3", "Conv2d_2b_3x3", "maxpool1", "Conv2d_3b_1x1",
                                 "Conv2d_4a_3x3", "maxpool2", "Mixed_5b", "Mixed_5c", "Mixed_5d", "Mixed_6a",
                                 "Mixed_6b", "Mixed_6c", "Mixed_6d", "Mixed_6e", "Mixed_7a", "Mixed_7b", "Mixed_7c",
                                 "avgpool", "dropout")),
        flatten(),
        run("fc"),
        note="transform_input rescales the channels elementwise (no MACs)",
    ),
    "AuxLogits",
)  # fmt: skip


# --- ViT, Swin, ConvNeXt -----------------------------------------------------------------------------------


class _ImageSize(Step):
    """``_process_input``'s assertions: the image is ``image_size`` pixels high and wide."""

    def apply(self, call: Call, values: Values, tally: Tally) -> None:
        flow = values["x"]
        side = int_arg(call.module, "image_size")
        if flow is not None and len(flow.shape) == 4 and flow.shape[2:] != (side, side):
            height, width = flow.shape[2:]
            raise call.fail(f"reads {side}×{side} images (image_size={side}), got {height}×{width}")


_VISION_TRANSFORMER: Final = dataflow(
    _ImageSize(),
    run("conv_proj"),
    to_tokens(),
    prepend("class_token"),
    run("encoder"),
    select(),
    run("heads"),
    note="_process_input: the patches as (N, (image_size/patch_size)², hidden_dim) tokens; the class token "
    "is prepended, and the head reads its output",
)
_VIT_ENCODER: Final = dataflow(add_param("pos_embedding"), run("dropout"), run("layers"), run("ln"))
_ENCODER_BLOCK: Final = dataflow(
    run("ln_1"),
    run("self_attention", options="need_weights=False"),
    run("dropout"),
    add("x", "x", "x0", what="add the residual"),
    run("ln_2", "x", "y"),
    run("mlp", "y"),
    add("x", "x", "y", what="add the residual"),
)


def _swin_block(*sublayers: tuple[str, str], note: str = "") -> Rule:
    """``x = x + stochastic_depth(second(first(x)))`` for each ``(first, second)`` in turn: the attention, then the
    MLP, each with its norm (before it in v1, after it in v2)."""
    steps = (step for first, second in sublayers for step in residual(first, second, "stochastic_depth"))
    return dataflow(*steps, note=note)


_SWIN_BLOCK: Final = _swin_block(("norm1", "attn"), ("norm2", "mlp"))


_WINDOW_ATTENTION: Final = fused_attention("qkv", "proj", causal=False)
"""``qkv``'s three thirds as q, k, v, attention within one window, ``proj``."""


def _windows(call: Call, flow: Flow) -> Outcome:
    """torchvision's ``shifted_window_attention`` (v1): pad H and W up to whole windows, attend within each
    window of ``window_size[0]·window_size[1]`` tokens (``qkv`` and ``proj`` applied per window), crop back.
    The shift (``torch.roll``, disabled where the window covers the padded size) moves no MACs."""
    module = call.module
    shape = flow.shape
    if len(shape) != 4:
        raise call.fail(f"expects a (N, H, W, C) input, got {format_shape(shape)}")
    batch, height, width, channels = shape
    if channels != int_arg(module, "dim"):
        raise call.fail(f"expects {int_arg(module, 'dim')} channels (dim, the last dimension), got {channels}")
    window_h, window_w = int_tuple_arg(module, "window_size", 2)
    padded_h, padded_w = -(-height // window_h) * window_h, -(-width // window_w) * window_w
    windows = (padded_h // window_h) * (padded_w // window_w)
    tokens = window_h * window_w
    steps = [
        ShapeStep("⌈H/window_size[0]⌉·⌈W/window_size[1]⌉", f"⌈{height}/{window_h}⌉·⌈{width}/{window_w}⌉", windows,
                  "windows"),
    ]  # fmt: skip
    inner = _WINDOW_ATTENTION(call, Flow((batch * windows, tokens, channels), grad=flow.grad))
    note = f"per window: {inner.note}"
    return Outcome(Flow(shape, grad=True), inner.macs, (*steps, *inner.steps), note, backward_macs=inner.backward_macs)


def _windows_v2(call: Call, flow: Flow) -> Outcome:
    """``ShiftedWindowAttentionV2``: ``cpb_mlp`` on the (1, 2·window_size[0]-1, 2·window_size[1]-1, 2)
    ``relative_coords_table`` gives the relative position bias, then the window attention of v1 (cosine
    attention: normalised q and k, scaled by ``logit_scale``, the same two products)."""
    window_h, window_w = int_tuple_arg(call.module, "window_size", 2)
    call.child("cpb_mlp", Flow((1, 2 * window_h - 1, 2 * window_w - 1, 2)))
    return _windows(call, flow)


def _patch_merging(call: Call, flow: Flow) -> Outcome:
    """torchvision's ``PatchMerging``: pad H and W to even sizes, concatenate each 2×2 neighbourhood's tokens
    (4·C channels at half the resolution), ``norm``, then ``reduction`` to 2·C; ``PatchMergingV2`` reduces
    first, then normalises."""
    shape = flow.shape
    if len(shape) < 3:
        raise call.fail(f"expects a (…, H, W, C) input, got {format_shape(shape)}")
    *leading, height, width, channels = shape
    merged = Flow((*leading, -(-height // 2), -(-width // 2), 4 * channels), grad=flow.grad)
    step = ShapeStep("4·C", f"4·{channels}", 4 * channels, "channels")
    if call.module.kind == "PatchMergingV2":
        output = call.child("norm", call.child("reduction", merged))
    else:
        output = call.child("reduction", call.child("norm", merged))
    return Outcome(output, 0, (step,), "2×2 neighbours concatenated (H and W padded to even sizes first)")


_SWIN_BLOCK_V2: Final = _swin_block(
    ("attn", "norm1"), ("mlp", "norm2"), note="v2 normalises after the attention and after the MLP"
)

_CN_BLOCK: Final = dataflow(
    run("block"),
    multiply_param("layer_scale"),
    run("stochastic_depth"),
    add("x", "x", "x0", what="add the residual"),
    note="layer_scale · block(x) (a broadcast product, no MACs), then the residual",
)

RULES: Final[dict[str, Rule]] = {
    "AlexNet": dataflow(run("features"), run("avgpool"), flatten(), run("classifier")),
    "VGG": dataflow(run("features"), run("avgpool"), flatten(), run("classifier")),
    "ResNet": _RESNET,
    "BasicBlock": _BASIC_BLOCK,
    "Bottleneck": _BOTTLENECK,
    "DenseNet": _DENSENET,
    "_DenseBlock": _dense_block,
    "_DenseLayer": _DENSE_LAYER,
    "_Transition": in_order,
    "Conv2dNormActivation": in_order,
    "SqueezeExcitation": _SQUEEZE_EXCITATION,
    "InvertedResidual": _inverted_residual,
    "MobileNetV2": _GLOBAL_POOL_TAIL,
    "MobileNetV3": _POOLED_TAIL,
    "EfficientNet": _POOLED_TAIL,
    "MBConv": _mbconv,
    "FusedMBConv": _mbconv,
    "StochasticDepth": _preserving,
    "ShuffleNetV2": dataflow(
        *(run(name) for name in ("conv1", "maxpool", "stage2", "stage3", "stage4", "conv5")),
        global_pool(),
        flatten(),
        run("fc"),
        note="x.mean([2, 3]) after conv5",
    ),
    "SqueezeNet": dataflow(run("features"), run("classifier"), flatten()),
    "Fire": _FIRE,
    "MNASNet": dataflow(
        run("layers"), global_pool(), flatten(), run("classifier"), note="x.mean([2, 3]) after the layers"
    ),
    "_InvertedResidual": _mnasnet_block,
    "RegNet": dataflow(run("stem"), run("trunk_output"), run("avgpool"), flatten(), run("fc")),
    "SimpleStemIN": in_order,
    "AnyStage": in_order,
    "BottleneckTransform": in_order,
    "ResBottleneckBlock": dataflow(
        run("proj", "x0", "shortcut", optional=True),
        run("f"),
        add("x", "shortcut", "x", what="add the residual"),
        run("activation"),
        note="proj(x) + f(x) where the width or the stride changes, else x + f(x)",
    ),
    "MaxVit": dataflow(run("stem"), chain("blocks"), run("classifier")),
    "MaxVitBlock": dataflow(chain("layers")),
    "MaxVitLayer": in_order,
    "PartitionAttentionLayer": _partition_attention,
    "RelativePositionalMultiHeadAttention": _RELATIVE_ATTENTION,
    "WindowPartition": _window_partition,
    "WindowDepartition": _window_departition,
    "SwapAxes": _swap_axes,
    "GoogLeNet": _GOOGLENET,
    "Inception3": _INCEPTION3,
    "BasicConv2d": dataflow(run("conv"), run("bn"), note="F.relu after the batch norm"),
    "Inception": _branches(("branch1",), ("branch2",), ("branch3",), ("branch4",)),
    "InceptionA": _branches(
        ("branch1x1",),
        ("branch5x5_1", "branch5x5_2"),
        ("branch3x3dbl_1", "branch3x3dbl_2", "branch3x3dbl_3"),
        pooled=(3, 1, 1),
        pool_child="branch_pool",
    ),
    "InceptionB": _branches(("branch3x3",), ("branch3x3dbl_1", "branch3x3dbl_2", "branch3x3dbl_3"), pooled=(3, 2, 0)),
    "InceptionC": _branches(
        ("branch1x1",),
        ("branch7x7_1", "branch7x7_2", "branch7x7_3"),
        tuple(f"branch7x7dbl_{index}" for index in range(1, 6)),
        pooled=(3, 1, 1),
        pool_child="branch_pool",
    ),
    "InceptionD": _branches(
        ("branch3x3_1", "branch3x3_2"), tuple(f"branch7x7x3_{index}" for index in range(1, 5)), pooled=(3, 2, 0)
    ),
    "InceptionE": _INCEPTION_E,
    "VisionTransformer": _VISION_TRANSFORMER,
    "Encoder": _VIT_ENCODER,
    "EncoderBlock": _ENCODER_BLOCK,
    "MLPBlock": in_order,
    "MLP": in_order,
    "SwinTransformer": in_order,
    "SwinTransformerBlock": _SWIN_BLOCK,
    "ShiftedWindowAttention": _windows,
    "PatchMerging": _patch_merging,
    "SwinTransformerBlockV2": _SWIN_BLOCK_V2,
    "ShiftedWindowAttentionV2": _windows_v2,
    "PatchMergingV2": _patch_merging,
    "Permute": _permute,
    "ConvNeXt": dataflow(run("features"), run("avgpool"), run("classifier")),
    "CNBlock": _CN_BLOCK,
    "LayerNorm2d": _layer_norm_2d,
}
"""Shape rules of torchvision's model and block classes, by kind."""
