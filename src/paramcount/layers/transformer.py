"""Transformer family: the encoder/decoder layers, their stacks and Transformer
(torch/nn/modules/transformer.py, torch 2.13)."""

from __future__ import annotations

from paramcount._record import replace
from paramcount.layers._arguments import Arguments
from paramcount.layers._registry import Parts, build, layer
from paramcount.layers._signature import signature
from paramcount.tree import Module, Ref

TYPE_CHECKING = False
if TYPE_CHECKING:
    from paramcount.tree import Value

_RELU = Ref("torch.nn.functional.relu")

# The layers' shared arguments after (d_model, nhead), in torch's order.
_LAYER_DEFAULTS: dict[str, object] = {
    "dim_feedforward": 2048,
    "dropout": 0.1,
    "activation": _RELU,
    "layer_norm_eps": 1e-5,
    "batch_first": False,
    "norm_first": False,
    "bias": True,
    "device": None,
    "dtype": None,
}


def _check_layer_arguments(a: Arguments) -> None:
    """What the children's constructors would refuse, reported with this layer's argument names."""
    d_model = a.integer("d_model", minimum=1)  # MultiheadAttention: embed_dim must be > 0
    nhead = a.integer("nhead", minimum=1)
    if d_model % nhead:
        raise a.fail(f"d_model must be divisible by nhead (d_model={d_model}, nhead={nhead})", "nhead")
    a.integer("dim_feedforward", minimum=0)  # Linear(d_model, dim_feedforward)
    a.number("dropout", minimum=0, maximum=1)  # Dropout(dropout) checks 0 <= p <= 1
    activation = a.raw("activation")
    # A string goes through _get_activation_fn (relu/gelu only); anything else is stored as is and a Module
    # becomes the child "activation".
    if isinstance(activation, str):
        a.choice("activation", ("relu", "gelu"))
    a.flag("bias")


def _sublayers(a: Arguments, attentions: tuple[str, ...], norms: int) -> Parts:
    """The children of TransformerEncoderLayer / TransformerDecoderLayer, in torch's registration order."""
    _check_layer_arguments(a)
    d_model, nhead, feedforward = a.raw("d_model"), a.raw("nhead"), a.raw("dim_feedforward")
    dropout, bias, eps = a.raw("dropout"), a.raw("bias"), a.raw("layer_norm_eps")
    children = [
        build(
            "MultiheadAttention",
            (d_model, nhead),
            [("dropout", dropout), ("bias", bias), ("batch_first", a.raw("batch_first"))],
        ).renamed(name)
        for name in attentions
    ]
    children += [
        build("Linear", (d_model, feedforward), [("bias", bias)]).renamed("linear1"),
        build("Dropout", (dropout,)).renamed("dropout"),
        build("Linear", (feedforward, d_model), [("bias", bias)]).renamed("linear2"),
    ]
    children += [
        build("LayerNorm", (d_model,), [("eps", eps), ("bias", bias)]).renamed(f"norm{index}")
        for index in range(1, norms + 1)
    ]
    children += [build("Dropout", (dropout,)).renamed(f"dropout{index}") for index in range(1, norms + 1)]
    activation = a.raw("activation")
    if isinstance(activation, Module):
        children.append(activation.renamed("activation"))
    return Parts(children=tuple(children))


@layer("TransformerEncoderLayer", signature("d_model", "nhead", **_LAYER_DEFAULTS))
def transformer_encoder_layer(a: Arguments) -> Parts:
    return _sublayers(a, ("self_attn",), norms=2)


@layer("TransformerDecoderLayer", signature("d_model", "nhead", **_LAYER_DEFAULTS))
def transformer_decoder_layer(a: Arguments) -> Parts:
    return _sublayers(a, ("self_attn", "multihead_attn"), norms=3)


def _stack(a: Arguments, layer_argument: str) -> Parts:
    """``layers = _get_clones(layer, num_layers)`` (a ModuleList of deep copies) and ``norm``."""
    template = a.module(layer_argument)
    count = a.integer("num_layers")
    # ``range(num_layers)`` makes an empty list for num_layers <= 0; torch accepts that.
    clones = (replace(template, name="0", repeat=count),) if count > 0 else ()
    children = [Module(name="layers", kind="ModuleList", children=clones)]
    norm = a.raw("norm")
    # Only a Module is registered as the child ``norm``; None (or any other value) is a plain attribute.
    if isinstance(norm, Module):
        children.append(norm.renamed("norm"))
    return Parts(children=tuple(children))


@layer(
    "TransformerEncoder",
    signature("encoder_layer", "num_layers", norm=None, enable_nested_tensor=True, mask_check=True),
)
def transformer_encoder(a: Arguments) -> Parts:
    # enable_nested_tensor only decides a fast path (and warns when it cannot be used); mask_check is stored.
    return _stack(a, "encoder_layer")


@layer("TransformerDecoder", signature("decoder_layer", "num_layers", norm=None))
def transformer_decoder(a: Arguments) -> Parts:
    return _stack(a, "decoder_layer")


def _side(a: Arguments, kind: str, layers_argument: str) -> Module:
    """Transformer's default encoder or decoder: the layer, stacked, with a final LayerNorm."""
    keywords: list[tuple[str, Value]] = [
        (name, a.raw(name)) for name in ("dim_feedforward", "dropout", "activation", "layer_norm_eps", "batch_first")
    ]
    keywords += [("norm_first", a.raw("norm_first")), ("bias", a.raw("bias"))]
    one = build(f"{kind}Layer", (a.raw("d_model"), a.raw("nhead")), keywords)
    norm = build("LayerNorm", (a.raw("d_model"),), [("eps", a.raw("layer_norm_eps")), ("bias", a.raw("bias"))])
    return build(kind, (one, a.raw(layers_argument), norm))


@layer(
    "Transformer",
    signature(
        d_model=512,
        nhead=8,
        num_encoder_layers=6,
        num_decoder_layers=6,
        dim_feedforward=2048,
        dropout=0.1,
        activation=_RELU,
        custom_encoder=None,
        custom_decoder=None,
        layer_norm_eps=1e-5,
        batch_first=False,
        norm_first=False,
        bias=True,
        device=None,
        dtype=None,
    ),
)
def transformer(a: Arguments) -> Parts:
    children = []
    for name, custom, kind, count in (
        ("encoder", "custom_encoder", "TransformerEncoder", "num_encoder_layers"),
        ("decoder", "custom_decoder", "TransformerDecoder", "num_decoder_layers"),
    ):
        value = a.raw(custom)
        if value is None:
            _check_layer_arguments(a)
            a.integer(count)
            children.append(_side(a, kind, count).renamed(name))
        elif isinstance(value, Module):
            children.append(value.renamed(name))
        # Any other value is stored by torch as a plain attribute: no child.
    return Parts(children=tuple(children))
