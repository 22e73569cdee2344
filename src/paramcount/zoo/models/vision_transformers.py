"""Vision transformers of torchvision: ViT, Swin (v1 and v2), and ConvNeXt.

Module and tensor names are torchvision's (``torchvision/models/vision_transformer.py``,
``swin_transformer.py``, ``convnext.py``), so ``iter_params`` gives what ``named_parameters()`` gives:
``encoder.layers.encoder_layer_11.self_attention.in_proj_weight``,
``features.1.0.attn.relative_position_bias_table``, ``features.1.0.layer_scale``.

torchvision's own module classes (``EncoderBlock``, ``ShiftedWindowAttention``, ``CNBlock`` …) are tree
nodes of that kind, holding their own tensors and catalog layers as children. Identical blocks are built
once and the frozen node is reused under each name.
"""

from __future__ import annotations

import math
from functools import partial

from paramcount._record import replace
from paramcount.errors import short_repr
from paramcount.layers._arguments import Arguments
from paramcount.layers._registry import build
from paramcount.layers._signature import signature
from paramcount.tree import Buffer, Dim, Module, Param
from paramcount.zoo._registry import model
from paramcount.zoo.models._blocks import read_num_classes, read_probability

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Final

    from paramcount.tree import Value

__all__: list[str] = []

_ONE = Dim.constant(1)


def _layer(kind: str, name: str, *positional: Value, **keywords: Value) -> Module:
    """The catalog's ``torch.nn.<kind>(*positional, **keywords)`` adopted under ``name``."""
    return build(kind, positional, tuple(keywords.items())).renamed(name)


def _numbered(name: str, kind: str, children: tuple[Module, ...], args: tuple[tuple[str, Value], ...] = ()) -> Module:
    """A ``Sequential`` (or a torchvision subclass of it) whose children are named ``"0"``, ``"1"`` …, equal
    neighbours stored once with ``repeat`` as the catalog's Sequential stores them. (The children here are
    distinct objects without ties, so the catalog's tie bookkeeping, a walk of every subtree, is skipped.)"""
    members: list[Module] = []
    for index, child in enumerate(children):
        if members and replace(members[-1], name=child.name, repeat=1) == child:
            members[-1] = replace(members[-1], repeat=members[-1].repeat + 1)
        else:
            members.append(child.renamed(str(index)))
    return Module(name, kind, args=args, children=tuple(members))


def _named(name: str, children: tuple[Module, ...]) -> Module:
    """``nn.Sequential(OrderedDict(...))``: the children keep their own names."""
    return Module(name, "Sequential", children=children)


def _gelu_mlp(kind: str, width: int, hidden: int, dropout: float, args: tuple[tuple[str, Value], ...]) -> Module:
    """torchvision's ``MLP(width, [hidden, width], activation_layer=nn.GELU, dropout=dropout)`` named ``mlp``
    (ViT's ``MLPBlock`` is one): Linear, GELU, Dropout, Linear, Dropout; ``args`` as the class takes them."""
    layers = (
        _layer("Linear", "", width, hidden),
        _layer("GELU", ""),
        _layer("Dropout", "", dropout),
        _layer("Linear", "", hidden, width),
        _layer("Dropout", "", dropout),
    )
    return _numbered("mlp", kind, layers, args)


# --- ViT ---------------------------------------------------------------------------------------------------


def _encoder_block(heads: int, hidden: int, mlp: int, dropout: float, attention_dropout: float) -> Module:
    """torchvision's ``EncoderBlock``: ln_1, self_attention, dropout, ln_2, mlp (an ``MLPBlock``)."""
    args = (("in_dim", hidden), ("mlp_dim", mlp), ("dropout", dropout))
    mlp_block = _gelu_mlp("MLPBlock", hidden, mlp, dropout, args)
    return Module(
        "",
        "EncoderBlock",
        args=(
            ("num_heads", heads),
            ("hidden_dim", hidden),
            ("mlp_dim", mlp),
            ("dropout", dropout),
            ("attention_dropout", attention_dropout),
        ),
        children=(
            _layer("LayerNorm", "ln_1", hidden, eps=1e-6),
            _layer("MultiheadAttention", "self_attention", hidden, heads, dropout=attention_dropout, batch_first=True),
            _layer("Dropout", "dropout", dropout),
            _layer("LayerNorm", "ln_2", hidden, eps=1e-6),
            mlp_block,
        ),
    )


def _vision_transformer(a: Arguments, patch: int, layers: int, heads: int, hidden: int, mlp: int) -> Module:
    """torchvision's ``VisionTransformer`` (no conv stem, LayerNorm(eps=1e-6))."""
    image = a.integer("image_size", minimum=1)
    if image % patch:
        raise a.fail(
            f"image_size must be divisible by the patch size (image_size={image}, patch_size={patch})", "image_size"
        )
    classes = read_num_classes(a)
    representation = None if a.is_none("representation_size") else a.integer("representation_size", minimum=0)
    dropout = read_probability(a, "dropout")
    attention_dropout = float(a.real("attention_dropout"))  # stored unchecked by nn.MultiheadAttention

    hidden_dim = Dim.of(hidden, "hidden_dim")
    patches = (Dim.of(image, "image_size") // Dim.of(patch, "patch_size")).squared()
    seq_length = patches + 1

    block = _encoder_block(heads, hidden, mlp, dropout, attention_dropout)
    encoder = Module(
        "encoder",
        "Encoder",
        args=(
            ("seq_length", seq_length.value),
            ("num_layers", layers),
            ("num_heads", heads),
            ("hidden_dim", hidden),
            ("mlp_dim", mlp),
            ("dropout", dropout),
            ("attention_dropout", attention_dropout),
        ),
        params=(Param("pos_embedding", (_ONE, seq_length, hidden_dim)),),
        children=(
            _layer("Dropout", "dropout", dropout),
            _named("layers", tuple(block.renamed(f"encoder_layer_{index}") for index in range(layers))),
            _layer("LayerNorm", "ln", hidden, eps=1e-6),
        ),
    )
    if representation is None:
        head_layers: tuple[Module, ...] = (_layer("Linear", "head", hidden, classes),)
    else:
        head_layers = (
            _layer("Linear", "pre_logits", hidden, representation),
            _layer("Tanh", "act"),
            _layer("Linear", "head", representation, classes),
        )
    return Module(
        "",
        "VisionTransformer",
        params=(Param("class_token", (_ONE, _ONE, hidden_dim)),),
        children=(
            _layer("Conv2d", "conv_proj", 3, hidden, patch, stride=patch),
            encoder,
            _named("heads", head_layers),
        ),
    )


_VIT = signature(
    kw_image_size=224,
    kw_num_classes=1000,
    kw_representation_size=None,
    kw_dropout=0.0,
    kw_attention_dropout=0.0,
)


_VITS: Final = (
    # name, patch, layers, heads, hidden, mlp (torchvision's vit_* functions)
    ("vit_b_16", 16, 12, 12, 768, 3072),
    ("vit_b_32", 32, 12, 12, 768, 3072),
    ("vit_l_16", 16, 24, 16, 1024, 4096),
    ("vit_l_32", 32, 24, 16, 1024, 4096),
    ("vit_h_14", 14, 32, 16, 1280, 5120),
)
for _name, _patch, _layers, _heads, _hidden, _mlp in _VITS:
    _vit = partial(_vision_transformer, patch=_patch, layers=_layers, heads=_heads)
    model(_name, _VIT)(partial(_vit, hidden=_hidden, mlp=_mlp))


# --- Swin --------------------------------------------------------------------------------------------------


def _stochastic_depth(p: float) -> Module:
    """torchvision.ops.StochasticDepth(p, "row"): no tensors."""
    return Module("stochastic_depth", "StochasticDepth", args=(("p", p), ("mode", "row")))


def _with_stochastic_depth(block: Module, p: float) -> Module:
    """``block`` with its ``stochastic_depth_prob`` argument and its ``StochasticDepth`` child set to ``p``."""
    args = tuple((key, p if key == "stochastic_depth_prob" else value) for key, value in block.args)
    children = tuple(_stochastic_depth(p) if child.kind == "StochasticDepth" else child for child in block.children)
    return replace(block, args=args, children=children)


def _permute(name: str, dims: tuple[int, ...]) -> Module:
    """torchvision.ops.misc.Permute: no tensors."""
    return Module(name, "Permute", args=(("dims", dims),))


def _shifted_window_attention(
    dim: int, window: int, shift: int, heads: int, dropouts: tuple[float, float], v2: bool
) -> Module:
    """torchvision's ``ShiftedWindowAttention``: its relative position bias table (a parameter) and index
    (an int64 buffer), then qkv and proj. ``ShiftedWindowAttentionV2`` replaces the table by a continuous
    bias: ``logit_scale`` (a parameter), ``relative_coords_table`` (a float32 buffer registered before the
    index) and ``cpb_mlp`` (Linear(2, 512), ReLU, Linear(512, num_heads, bias=False)) after qkv and proj."""
    attention_dropout, dropout = dropouts
    window_h, window_w = Dim.of(window, "window_size[0]"), Dim.of(window, "window_size[1]")
    heads_dim = Dim.of(heads, "num_heads")
    index = Buffer("relative_position_index", (window_h * window_w * window_h * window_w,), dtype="int64")
    children: tuple[Module, ...] = (_layer("Linear", "qkv", dim, dim * 3), _layer("Linear", "proj", dim, dim))
    buffers: tuple[Buffer, ...]
    if v2:
        params = (Param("logit_scale", (heads_dim, _ONE, _ONE)),)
        coords = Buffer("relative_coords_table", (_ONE, 2 * window_h - 1, 2 * window_w - 1, Dim.constant(2)))
        buffers = (coords, index)
        cpb_mlp = _numbered(
            "cpb_mlp",
            "Sequential",
            (
                _layer("Linear", "", 2, 512),
                _layer("ReLU", "", inplace=True),
                _layer("Linear", "", 512, heads, bias=False),
            ),
        )
        children = (*children, cpb_mlp)
    else:
        params = (Param("relative_position_bias_table", ((2 * window_h - 1) * (2 * window_w - 1), heads_dim)),)
        buffers = (index,)
    return Module(
        "attn",
        "ShiftedWindowAttentionV2" if v2 else "ShiftedWindowAttention",
        args=(
            ("dim", dim),
            ("window_size", (window, window)),
            ("shift_size", (shift, shift)),
            ("num_heads", heads),
            ("qkv_bias", True),
            ("proj_bias", True),
            ("attention_dropout", attention_dropout),
            ("dropout", dropout),
        ),
        params=params,
        buffers=buffers,
        children=children,
    )


def _swin_block(dim: int, heads: int, window: int, shift: int, options: tuple[float, float, float], v2: bool) -> Module:
    """torchvision's ``SwinTransformerBlock`` (or ``SwinTransformerBlockV2``, the same children): norm1, attn,
    stochastic_depth, norm2, mlp (an ``MLP``), with stochastic depth 0 (see ``_with_stochastic_depth``)."""
    ratio, dropout, attention_dropout = options
    hidden = int(dim * ratio)
    args = (("in_channels", dim), ("hidden_channels", (hidden, dim)), ("dropout", dropout))
    mlp = _gelu_mlp("MLP", dim, hidden, dropout, args)
    return Module(
        "",
        "SwinTransformerBlockV2" if v2 else "SwinTransformerBlock",
        args=(
            ("dim", dim),
            ("num_heads", heads),
            ("window_size", (window, window)),
            ("shift_size", (shift, shift)),
            ("mlp_ratio", ratio),
            ("dropout", dropout),
            ("attention_dropout", attention_dropout),
            ("stochastic_depth_prob", 0.0),
        ),
        children=(
            _layer("LayerNorm", "norm1", dim),
            _shifted_window_attention(dim, window, shift, heads, (attention_dropout, dropout), v2),
            _stochastic_depth(0.0),
            _layer("LayerNorm", "norm2", dim),
            mlp,
        ),
    )


def _swin_transformer(
    a: Arguments,
    embed_dim: int,
    depths: tuple[int, ...],
    heads: tuple[int, ...],
    stochastic_depth_prob: float,
    *,
    v2: bool = False,
) -> Module:
    """torchvision's ``SwinTransformer`` with patch 4 and LayerNorm(eps=1e-5): v1 with window 7, or v2
    (``SwinTransformerBlockV2``, ``PatchMergingV2``) with window 8."""
    patch, window = 4, 8 if v2 else 7
    classes = read_num_classes(a)
    ratio = a.real("mlp_ratio")
    if not math.isfinite(ratio) or ratio < 0:
        raise a.fail(f"mlp_ratio must be a non-negative number, got {short_repr(ratio)}", "mlp_ratio")
    # dropout reaches nn.Dropout (checked); attention_dropout is only stored by ShiftedWindowAttention.
    options = (float(ratio), read_probability(a, "dropout"), float(a.real("attention_dropout")))
    layers: list[Module] = [
        _numbered(
            "",
            "Sequential",
            (
                _layer("Conv2d", "", 3, embed_dim, (patch, patch), stride=(patch, patch)),
                _permute("", (0, 2, 3, 1)),
                _layer("LayerNorm", "", embed_dim),
            ),
        )
    ]
    total_blocks = sum(depths)
    block_id = 0
    for stage, (depth, stage_heads) in enumerate(zip(depths, heads, strict=True)):
        dim = embed_dim * 2**stage
        # Blocks alternate between shift 0 and window/2; within a stage they differ only in that and
        # in their stochastic depth, so two blocks are built and each position takes its probability.
        shapes = [_swin_block(dim, stage_heads, window, shift, options, v2) for shift in (0, window // 2)[:depth]]
        blocks = []
        for index in range(depth):
            sd_prob = stochastic_depth_prob * float(block_id) / (total_blocks - 1)
            blocks.append(_with_stochastic_depth(shapes[index % 2], sd_prob))
            block_id += 1
        layers.append(_numbered("", "Sequential", tuple(blocks)))
        if stage < len(depths) - 1:
            # PatchMergingV2 normalises after the reduction, so its norm has 2·dim features.
            layers.append(
                Module(
                    "",
                    "PatchMergingV2" if v2 else "PatchMerging",
                    args=(("dim", dim),),
                    children=(
                        _layer("Linear", "reduction", 4 * dim, 2 * dim, bias=False),
                        _layer("LayerNorm", "norm", (2 if v2 else 4) * dim),
                    ),
                )
            )
    features = embed_dim * 2 ** (len(depths) - 1)
    return Module(
        "",
        "SwinTransformer",
        children=(
            _numbered("features", "Sequential", tuple(layers)),
            _layer("LayerNorm", "norm", features),
            _permute("permute", (0, 3, 1, 2)),
            _layer("AdaptiveAvgPool2d", "avgpool", 1),
            _layer("Flatten", "flatten", 1),
            _layer("Linear", "head", features, classes),
        ),
    )


_SWIN = signature(kw_num_classes=1000, kw_mlp_ratio=4.0, kw_dropout=0.0, kw_attention_dropout=0.0)


_SWINS: Final = (
    # name, embed_dim, depths, heads, stochastic_depth_prob, v2 (torchvision's swin_* functions)
    ("swin_t", 96, (2, 2, 6, 2), (3, 6, 12, 24), 0.2, False),
    ("swin_s", 96, (2, 2, 18, 2), (3, 6, 12, 24), 0.3, False),
    ("swin_b", 128, (2, 2, 18, 2), (4, 8, 16, 32), 0.5, False),
    ("swin_v2_t", 96, (2, 2, 6, 2), (3, 6, 12, 24), 0.2, True),
    ("swin_v2_s", 96, (2, 2, 18, 2), (3, 6, 12, 24), 0.3, True),
    ("swin_v2_b", 128, (2, 2, 18, 2), (4, 8, 16, 32), 0.5, True),
)
for _name, _embed_dim, _depths, _swin_heads, _depth_prob, _v2 in _SWINS:
    _swin = partial(_swin_transformer, embed_dim=_embed_dim, depths=_depths, heads=_swin_heads)
    model(_name, _SWIN)(partial(_swin, stochastic_depth_prob=_depth_prob, v2=_v2))


# --- ConvNeXt ----------------------------------------------------------------------------------------------


def _layer_norm_2d(name: str, channels: int) -> Module:
    """torchvision's ``LayerNorm2d`` (an ``nn.LayerNorm`` over channels-first input), eps=1e-6."""
    return replace(_layer("LayerNorm", name, channels, eps=1e-6), kind="LayerNorm2d")


def _cn_block(dim: int, layer_scale: float) -> Module:
    """torchvision's ``CNBlock``: ``layer_scale`` (dim, 1, 1), ``block`` (depthwise conv, LayerNorm, two
    Linear layers), stochastic_depth 0 (see ``_with_stochastic_depth``)."""
    block = _numbered(
        "block",
        "Sequential",
        (
            _layer("Conv2d", "", dim, dim, 7, padding=3, groups=dim, bias=True),
            _permute("", (0, 2, 3, 1)),
            _layer("LayerNorm", "", dim, eps=1e-6),
            _layer("Linear", "", dim, 4 * dim, bias=True),
            _layer("GELU", ""),
            _layer("Linear", "", 4 * dim, dim, bias=True),
            _permute("", (0, 3, 1, 2)),
        ),
    )
    return Module(
        "",
        "CNBlock",
        args=(("dim", dim), ("layer_scale", layer_scale), ("stochastic_depth_prob", 0.0)),
        params=(Param("layer_scale", (Dim.of(dim, "dim"), _ONE, _ONE)),),
        children=(block, _stochastic_depth(0.0)),
    )


def _convnext(a: Arguments, settings: tuple[tuple[int, int | None, int], ...]) -> Module:
    """torchvision's ``ConvNeXt`` from ``CNBlockConfig(input_channels, out_channels, num_layers)`` rows."""
    stochastic_depth_prob = read_probability(a, "stochastic_depth_prob")
    layer_scale = a.real("layer_scale")
    classes = read_num_classes(a)
    first = settings[0][0]
    stem = _numbered(
        "",
        "Conv2dNormActivation",
        (
            _layer("Conv2d", "", 3, first, 4, stride=4, padding=0, dilation=1, groups=1, bias=True),
            _layer_norm_2d("", first),
        ),
        (
            ("in_channels", 3),
            ("out_channels", first),
            ("kernel_size", 4),
            ("stride", 4),
            ("padding", 0),
            ("bias", True),
        ),
    )
    layers = [stem]
    total_blocks = sum(num_layers for _, _, num_layers in settings)
    block_id = 0
    for channels, out_channels, num_layers in settings:
        shape = _cn_block(channels, float(layer_scale))
        blocks = []
        for _ in range(num_layers):
            sd_prob = stochastic_depth_prob * block_id / (total_blocks - 1.0)
            blocks.append(_with_stochastic_depth(shape, sd_prob))
            block_id += 1
        layers.append(_numbered("", "Sequential", tuple(blocks)))
        if out_channels is not None:
            layers.append(
                _numbered(
                    "",
                    "Sequential",
                    (_layer_norm_2d("", channels), _layer("Conv2d", "", channels, out_channels, 2, stride=2)),
                )
            )
    last_in, last_out, _ = settings[-1]
    last = last_out if last_out is not None else last_in
    classifier = _numbered(
        "classifier",
        "Sequential",
        (_layer_norm_2d("", last), _layer("Flatten", "", 1), _layer("Linear", "", last, classes)),
    )
    return Module(
        "",
        "ConvNeXt",
        children=(
            _numbered("features", "Sequential", tuple(layers)),
            _layer("AdaptiveAvgPool2d", "avgpool", 1),
            classifier,
        ),
    )


_CONVNEXTS: Final = (
    # name, stochastic_depth_prob, CNBlockConfig rows (torchvision's convnext_* functions)
    ("convnext_tiny", 0.1, ((96, 192, 3), (192, 384, 3), (384, 768, 9), (768, None, 3))),
    ("convnext_small", 0.4, ((96, 192, 3), (192, 384, 3), (384, 768, 27), (768, None, 3))),
    ("convnext_base", 0.5, ((128, 256, 3), (256, 512, 3), (512, 1024, 27), (1024, None, 3))),
    ("convnext_large", 0.5, ((192, 384, 3), (384, 768, 3), (768, 1536, 27), (1536, None, 3))),
)
for _name, _depth_prob, _settings in _CONVNEXTS:
    _signature = signature(kw_stochastic_depth_prob=_depth_prob, kw_layer_scale=1e-6, kw_num_classes=1000)
    model(_name, _signature)(partial(_convnext, settings=_settings))
