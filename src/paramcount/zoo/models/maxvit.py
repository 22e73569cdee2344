"""MaxViT-T of torchvision (``torchvision/models/maxvit.py``).

Module and tensor names are torchvision's, so ``iter_params`` gives what ``named_parameters()`` gives:
``blocks.2.layers.4.layers.grid_attention.attn_layer.1.relative_position_bias_table``. ``MaxVitBlock``,
``MaxVitLayer``, MaxViT's ``MBConv`` (told from EfficientNet's by its ``proj`` child),
``PartitionAttentionLayer``, ``RelativePositionalMultiHeadAttention``, ``WindowPartition``,
``WindowDepartition`` and ``SwapAxes`` are tree nodes of that kind.

Every layer holds its own stochastic-depth probability (``np.linspace(0, stochastic_depth_prob, layers)``), so
no two layers are equal; a layer whose probability is 0 has an ``nn.Identity`` in ``MBConv.stochastic_depth``.
The partition layers keep the feature-map size they were built for (``grid_size``, from ``input_size``).
"""

from __future__ import annotations

from paramcount.errors import short_repr
from paramcount.layers._arguments import Arguments
from paramcount.layers._signature import signature
from paramcount.tree import Buffer, Dim, Module, Param
from paramcount.zoo._registry import model
from paramcount.zoo.models._blocks import (
    BATCH_NORM_TF,
    cached,
    layer,
    new,
    numbered,
    read_num_classes,
    read_probability,
    squeeze_excitation,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from paramcount.zoo.models._blocks import Keywords

__all__: list[str] = []


def _conv_output(size: tuple[int, int]) -> tuple[int, int]:
    """``_get_conv_output_shape(size, kernel_size=3, stride=2, padding=1)``."""
    return ((size[0] - 1) // 2 + 1, (size[1] - 1) // 2 + 1)


def _batch_norm(channels: int) -> Module:
    """``partial(nn.BatchNorm2d, eps=1e-3, momentum=0.01)``."""
    return cached("BatchNorm2d", (channels,), BATCH_NORM_TF)


def _conv_norm_gelu(in_channels: int, out_channels: int, kernel: int, stride: int, groups: int = 1) -> Module:
    """``Conv2dNormActivation`` with MaxViT's batch norm and ``nn.GELU()`` (``inplace=None``)."""
    args: Keywords = (("in_channels", in_channels), ("out_channels", out_channels), ("kernel_size", kernel),
                      ("stride", stride), ("groups", groups))  # fmt: skip
    conv = new("Conv2d", in_channels, out_channels, kernel, stride, (kernel - 1) // 2, groups=groups, bias=False)
    return numbered("", [conv, _batch_norm(out_channels), new("GELU")], "Conv2dNormActivation", args)


def _mbconv(in_channels: int, out_channels: int, stride: int, ratios: tuple[float, float], p: float) -> Module:
    """MaxViT's ``MBConv``: ``proj`` (3×3 average pool of stride 2 then a biased 1×1 convolution, where the width
    or stride changes, else ``nn.Identity``), ``stochastic_depth`` and ``layers`` (pre-norm, 1×1 expansion,
    depthwise 3×3, squeeze-excitation with SiLU, biased 1×1 projection)."""
    expansion, squeeze = ratios
    if stride != 1 or in_channels != out_channels:
        conv = new("Conv2d", in_channels, out_channels, kernel_size=1, stride=1, bias=True)
        pooled = [new("AvgPool2d", kernel_size=3, stride=stride, padding=1)] if stride == 2 else []
        proj = numbered("proj", [*pooled, conv])
    else:
        proj = layer("proj", "Identity")
    if p:
        stochastic_depth = Module("stochastic_depth", "StochasticDepth", args=(("p", p), ("mode", "row")))
    else:
        stochastic_depth = layer("stochastic_depth", "Identity")
    mid, squeezed = int(out_channels * expansion), int(out_channels * squeeze)
    body = (
        _batch_norm(in_channels).renamed("pre_norm"),
        _conv_norm_gelu(in_channels, mid, 1, 1).renamed("conv_a"),
        _conv_norm_gelu(mid, mid, 3, stride, groups=mid).renamed("conv_b"),
        squeeze_excitation(mid, squeezed, new("SiLU"), new("Sigmoid")).renamed("squeeze_excitation"),
        layer("conv_c", "Conv2d", mid, out_channels, kernel_size=1, bias=True),
    )
    args: Keywords = (("in_channels", in_channels), ("out_channels", out_channels), ("stride", stride))
    layers = Module("layers", "Sequential", children=body)
    return Module("MBconv", "MBConv", args=args, children=(proj, stochastic_depth, layers))


def _partition_attention(
    channels: int, head_dim: int, partition: int, kind: str, grid: tuple[int, int], options: tuple[int, float, float],
    p: float,
) -> Module:  # fmt: skip
    """``PartitionAttentionLayer``: window (``p`` = partition size) or grid (``p`` = grid size / partition size)
    partitioning, relative-position attention over each partition's tokens, then an MLP, each with a residual."""
    mlp_ratio, mlp_dropout, attention_dropout = options
    heads = channels // head_dim
    size = Dim.of(partition, "partition_size")
    attention = Module(
        "",
        "RelativePositionalMultiHeadAttention",
        args=(("feat_dim", channels), ("head_dim", head_dim), ("max_seq_len", partition**2)),
        params=(Param("relative_position_bias_table", ((2 * size - 1) * (2 * size - 1), Dim.of(heads, "n_heads"))),),
        buffers=(Buffer("relative_position_index", (size * size, size * size), dtype="int64"),),
        children=(
            layer("to_qkv", "Linear", channels, heads * head_dim * 3),
            layer("merge", "Linear", head_dim * heads, channels),
        ),
    )
    swap = Module("", "SwapAxes", args=(("a", -2), ("b", -3))) if kind == "grid" else new("Identity")
    children = (
        Module("partition_op", "WindowPartition"),
        Module("departition_op", "WindowDepartition"),
        swap.renamed("partition_swap"),
        swap.renamed("departition_swap"),
        numbered("attn_layer", [new("LayerNorm", channels), attention, new("Dropout", attention_dropout)]),
        numbered(
            "mlp_layer",
            [
                new("LayerNorm", channels),
                new("Linear", channels, channels * mlp_ratio),
                new("GELU"),
                new("Linear", channels * mlp_ratio, channels),
                new("Dropout", mlp_dropout),
            ],
        ),
        Module("stochastic_dropout", "StochasticDepth", args=(("p", p), ("mode", "row"))),
    )
    step = partition if kind == "window" else grid[0] // partition
    args: Keywords = (("in_channels", channels), ("head_dim", head_dim), ("partition_size", partition),
                      ("partition_type", kind), ("grid_size", grid), ("p", step))  # fmt: skip
    return Module("", "PartitionAttentionLayer", args=args, children=children)


_STEM, _CHANNELS, _LAYERS, _HEAD_DIM, _PARTITION = 64, (64, 128, 256, 512), (2, 2, 5, 2), 32, 7
"""maxvit_t's settings (torchvision's builder)."""


def _input_size(a: Arguments) -> tuple[int, int]:
    value = a.raw("input_size")
    if isinstance(value, tuple) and len(value) == 2:
        height, width = value
        if isinstance(height, int) and isinstance(width, int) and min(height, width) > 0:
            return height, width
    raise a.fail(f"input_size must be a pair of positive ints, got {short_repr(value)}", "input_size")


@model(
    "maxvit_t",
    signature(
        kw_num_classes=1000,
        kw_input_size=(224, 224),
        kw_squeeze_ratio=0.25,
        kw_expansion_ratio=4,
        kw_mlp_ratio=4,
        kw_mlp_dropout=0.0,
        kw_attention_dropout=0.0,
    ),
)
def maxvit_t(a: Arguments) -> Module:
    classes, size = read_num_classes(a), _input_size(a)
    ratios = (float(a.real("expansion_ratio")), float(a.real("squeeze_ratio")))
    options = (a.integer("mlp_ratio", minimum=1), read_probability(a, "mlp_dropout"),
               read_probability(a, "attention_dropout"))  # fmt: skip
    grid = _conv_output(size)
    sizes = []
    for index in range(len(_CHANNELS)):
        grid = _conv_output(grid)
        sizes.append(grid)
        if grid[0] % _PARTITION or grid[1] % _PARTITION:
            raise a.fail(f"input_size {size}: block {index}'s input {grid} is not divisible by partition size "
                         f"{_PARTITION}", "input_size")  # fmt: skip
    total = sum(_LAYERS)
    step = 0.2 / (total - 1)  # np.linspace(0, stochastic_depth_prob, total): i·step, the last exactly 0.2
    probabilities = [0.2 if index == total - 1 else index * step for index in range(total)]
    stem = numbered(
        "stem",
        [
            _conv_norm_gelu(3, _STEM, 3, 2),
            numbered("", [new("Conv2d", _STEM, _STEM, 3, 1, 1, bias=True)], "Conv2dNormActivation",
                     (("in_channels", _STEM), ("out_channels", _STEM), ("kernel_size", 3), ("stride", 1),
                      ("groups", 1))),
        ],
    )  # fmt: skip
    blocks = []
    in_channels = _STEM
    first = 0
    for out_channels, count, grid in zip(_CHANNELS, _LAYERS, sizes, strict=True):
        layers = []
        for index in range(count):
            p = probabilities[first + index]
            body = (
                _mbconv(in_channels if index == 0 else out_channels, out_channels, 2 if index == 0 else 1, ratios, p),
                *(_partition_attention(out_channels, _HEAD_DIM, _PARTITION, kind, grid, options, p)
                  .renamed(f"{kind}_attention") for kind in ("window", "grid")),
            )  # fmt: skip
            layers.append(Module("", "MaxVitLayer", children=(Module("layers", "Sequential", children=body),)))
        first += count
        blocks.append(Module("", "MaxVitBlock", children=(numbered("layers", layers, "ModuleList"),)))
        in_channels = out_channels
    last = _CHANNELS[-1]
    classifier = numbered(
        "classifier",
        [
            new("AdaptiveAvgPool2d", 1),
            new("Flatten"),
            new("LayerNorm", last),
            new("Linear", last, last),
            new("Tanh"),
            new("Linear", last, classes, bias=False),
        ],
    )
    return Module("", "MaxVit", children=(stem, numbered("blocks", blocks, "ModuleList"), classifier))
