"""What the plain-language reading of a layer says, as data: which paragraph applies and the numbers in it.

Dispatch is a registry lookup by ``kind``; a kind without a reading gets the generic case about its
tensors. Numbers come from the bound arguments and the tree, never typed by hand; the words are
``render.readings``'s.
"""

from __future__ import annotations

from paramcount._record import Record
from paramcount.tree import Module, parameter_count

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import TypeAlias

    from paramcount.tree import Value

    Fact: TypeAlias = Value
    """A value a reading quotes: an argument, a count, a flag, a shape, or (name, shape) pairs."""

__all__ = ["GATES", "Reading", "reading"]


class Reading(Record):
    """The paragraph ``case`` (``"linear"``, ``"conv"``, ``"recurrent"`` … or ``"generic"``) for a module of
    class ``kind``, with the ``facts`` it quotes by name (``("out_channels", 512)``, ``("kernel", (256, 3, 3))``).
    """

    case: str
    kind: str
    facts: tuple[tuple[str, Fact], ...] = ()

    def fact(self, name: str) -> Fact:
        """The fact called ``name`` (``KeyError`` when this case does not quote it)."""
        return dict(self.facts)[name]


GATES = {"LSTM": 4, "GRU": 3, "RNN": 1, "LSTMCell": 4, "GRUCell": 3, "RNNCell": 1}
"""Gate blocks stacked in a recurrent layer's weights (torch/nn/modules/rnn.py: ``gate_size``)."""


def _has_bias(module: Module) -> bool:
    return any(p.name == "bias" for p in module.params)


def _linear(m: Module) -> tuple[tuple[str, Fact], ...]:
    return (("out_features", m.arg("out_features")), ("in_features", m.arg("in_features")), ("bias", _has_bias(m)))


def _bilinear(m: Module) -> tuple[tuple[str, Fact], ...]:
    return (
        ("out_features", m.arg("out_features")),
        ("in1_features", m.arg("in1_features")),
        ("in2_features", m.arg("in2_features")),
        ("bias", _has_bias(m)),
    )


def _conv(m: Module) -> tuple[tuple[str, Fact], ...]:
    weight = next(p for p in m.params if p.name == "weight")
    return (
        ("out_channels", m.arg("out_channels")),
        ("groups", m.arg("groups")),
        ("kernel", weight.sizes[1:]),
        ("bias", _has_bias(m)),
    )


def _conv_transpose(m: Module) -> tuple[tuple[str, Fact], ...]:
    weight = next(p for p in m.params if p.name == "weight")
    return (("weight", weight.sizes), ("in_channels", m.arg("in_channels")), ("bias", _has_bias(m)))


def _embedding(m: Module) -> tuple[tuple[str, Fact], ...]:
    rows = m.arg("num_embeddings")
    facts: tuple[tuple[str, Fact], ...] = (("embedding_dim", m.arg("embedding_dim")), ("num_embeddings", rows))
    padding = dict(m.args).get("padding_idx")
    if not isinstance(padding, int) or isinstance(padding, bool) or not isinstance(rows, int):
        return facts
    row = padding + rows if padding < 0 else padding  # torch's own normalisation of a negative index
    return (*facts, ("padding_idx", padding), ("padding_row", row), ("trained_rows", rows - 1))


def _batch_norm(m: Module) -> tuple[tuple[str, Fact], ...]:
    return (("affine", bool(m.params)), ("running_stats", bool(m.buffers)))


def _layer_norm(m: Module) -> tuple[tuple[str, Fact], ...]:
    return (("parameters", tuple(p.name for p in m.params)),)


def _recurrent(m: Module) -> tuple[tuple[str, Fact], ...]:
    gates = GATES[m.kind]
    hidden = m.arg("hidden_size")
    arguments = dict(m.args)
    facts: tuple[tuple[str, Fact], ...] = (
        ("gates", gates),
        ("hidden_size", hidden),
        ("rows", gates * hidden if isinstance(hidden, int) else None),
        ("bias", arguments.get("bias") is not False),
    )
    if m.kind.endswith("Cell"):
        return facts
    return (
        *facts,
        ("num_layers", arguments.get("num_layers", 1)),
        ("bidirectional", arguments.get("bidirectional") is True),
    )


def _attention(m: Module) -> tuple[tuple[str, Fact], ...]:
    return (("embed_dim", m.arg("embed_dim")), ("num_heads", m.arg("num_heads")))


def _prelu(m: Module) -> tuple[tuple[str, Fact], ...]:
    return (("num_parameters", m.arg("num_parameters")),)


def _container(m: Module) -> tuple[tuple[str, Fact], ...]:
    owners = sum(1 for child in m.children if parameter_count(child))
    return (("owners", owners), ("children", len(m.children)))


def _nothing(m: Module) -> tuple[tuple[str, Fact], ...]:
    return ()


_CASES: dict[str, tuple[str, Callable[[Module], tuple[tuple[str, Fact], ...]]]] = {
    "Linear": ("linear", _linear),
    "Bilinear": ("bilinear", _bilinear),
    **dict.fromkeys(("Conv1d", "Conv2d", "Conv3d"), ("conv", _conv)),
    **dict.fromkeys(("ConvTranspose1d", "ConvTranspose2d", "ConvTranspose3d"), ("conv_transpose", _conv_transpose)),
    **dict.fromkeys(("Embedding", "EmbeddingBag"), ("embedding", _embedding)),
    **dict.fromkeys(
        (
            "BatchNorm1d",
            "BatchNorm2d",
            "BatchNorm3d",
            "SyncBatchNorm",
            "InstanceNorm1d",
            "InstanceNorm2d",
            "InstanceNorm3d",
            "GroupNorm",
        ),
        ("batch_norm", _batch_norm),
    ),
    **dict.fromkeys(("LayerNorm", "RMSNorm"), ("layer_norm", _layer_norm)),
    **dict.fromkeys(tuple(GATES), ("recurrent", _recurrent)),
    "MultiheadAttention": ("attention", _attention),
    **dict.fromkeys(("TransformerEncoderLayer", "TransformerDecoderLayer"), ("transformer", _nothing)),
    "PReLU": ("prelu", _prelu),
    **dict.fromkeys(("Sequential", "ModuleList", "ModuleDict"), ("container", _container)),
}


def reading(module: Module) -> Reading:
    """What the plain-language paragraph about ``module`` says: its case and the facts it quotes."""
    special = _CASES.get(module.kind)
    if special is not None:
        case, facts = special
        try:
            return Reading(case, module.kind, facts(module))
        except (KeyError, StopIteration):
            pass  # a tree from another door may lack an argument; fall back to the generic reading
    if not module.params and not module.children:
        return Reading("stateless", module.kind)
    return Reading("generic", module.kind, (("tensors", tuple((p.name, p.sizes) for p in module.params)),))
