"""A plain-language reading of a layer's shapes, one paragraph per layer family.

Dispatch is a registry lookup by ``kind``; a kind without a reading gets the generic sentence about its
tensors. Numbers come from the bound arguments and the tree, never typed by hand.
"""

from __future__ import annotations

from paramcount.tree import Module, parameter_count

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

    from paramcount.tree import Value

__all__ = ["reading"]


def _n(value: Value) -> str:
    return f"{value:,}" if isinstance(value, int) and not isinstance(value, bool) else str(value)


def _shape(values: tuple[int, ...]) -> str:
    return "(" + ", ".join(str(v) for v in values) + ("," if len(values) == 1 else "") + ")"


def _bias_clause(module: Module, what: str) -> str:
    return f", with one bias per {what}" if any(p.name == "bias" for p in module.params) else ", with no bias"


def _linear(m: Module) -> str:
    out, inp = m.arg("out_features"), m.arg("in_features")
    return (
        f"Each of the {_n(out)} outputs is a weighted sum of all {_n(inp)} inputs: one row of {_n(inp)} "
        f"weights per output{_bias_clause(m, 'output')}. A fully connected layer's count grows with the "
        f"product of its input and output sizes."
    )


def _conv(m: Module) -> str:
    weight = next(p for p in m.params if p.name == "weight")
    out, groups = m.arg("out_channels"), m.arg("groups")
    kernel = weight.sizes[1:]
    spatial = "×".join(str(size) for size in kernel[1:])
    per_group = (
        f" — one {spatial} filter for each input channel"
        if groups == 1
        else f" (with groups={groups}, each filter sees only {_n(kernel[0])} of the input channels)"
    )
    return (
        f"Each of the {_n(out)} filters is a {_shape(kernel)} kernel{per_group}{_bias_clause(m, 'filter')}. "
        f"The same weights slide over every position, so the count does not depend on the input size."
    )


def _conv_transpose(m: Module) -> str:
    weight = next(p for p in m.params if p.name == "weight")
    return (
        f"A transposed convolution stores its weight as (in_channels, out_channels/groups, kernel…) = "
        f"{_shape(weight.sizes)}: each of the {_n(m.arg('in_channels'))} input channels spreads a "
        f"{_shape(weight.sizes[1:])} kernel over the output{_bias_clause(m, 'output channel')}. "
        f"The count does not depend on the input size."
    )


def _embedding(m: Module) -> str:
    rows = m.arg("num_embeddings")
    table = (
        f"A lookup table: one row of {_n(m.arg('embedding_dim'))} numbers for each of the {_n(rows)} tokens. "
        "Only the rows of the tokens in a batch are read, but all rows are stored"
    )
    padding = dict(m.args).get("padding_idx")
    if not isinstance(padding, int) or isinstance(padding, bool) or not isinstance(rows, int):
        return f"{table} and trained."
    row = padding + rows if padding < 0 else padding  # torch's own normalisation of a negative index
    return (
        f"{table} and counted. Row {_n(row)} (padding_idx={padding}) starts as zeros and always gets a zero "
        f"gradient (torch's backward skips it), so training leaves it at zero; the other {_n(rows - 1)} rows "
        "are trained."
    )


def _batch_norm(m: Module) -> str:
    affine = "a learned scale (weight) and shift (bias) per channel" if m.params else "no learned parameters"
    stats = (
        "; the running mean and variance (and the num_batches_tracked counter) are buffers, saved with the "
        "model but not trained"
        if m.buffers
        else ""
    )
    return f"Normalisation with {affine}{stats}."


def _layer_norm(m: Module) -> str:
    if not m.params:
        return "Normalisation over the last dimensions with no learned parameters (elementwise_affine=False)."
    names = " and ".join("a scale (weight)" if p.name == "weight" else "a shift (bias)" for p in m.params)
    return f"Normalisation over the normalized shape with {names} per normalised element; no buffers."


def _recurrent(m: Module) -> str:
    gates = {"LSTM": 4, "GRU": 3, "RNN": 1, "LSTMCell": 4, "GRUCell": 3, "RNNCell": 1}[m.kind]
    gate_words = {
        4: "4 gates (input, forget, cell, output)",
        3: "3 gates (reset, update, new)",
        1: "one gate",
    }
    hidden = m.arg("hidden_size")
    rows = f"{gates * hidden:,}" if isinstance(hidden, int) else "?"
    arguments = dict(m.args)
    biases = (
        " Each of them comes with its own bias vector (bias_ih and bias_hh: two per layer, as cuDNN has)."
        if arguments.get("bias") is not False
        else " bias=False drops both bias vectors."
    )
    stack = ""
    if not m.kind.endswith("Cell"):
        directions = "both directions" if arguments.get("bidirectional") is True else "one direction"
        stack = f" The stack is {_n(arguments.get('num_layers', 1))} layer(s) deep, in {directions}."
    return (
        f"{gate_words[gates]} × hidden_size rows: the input-to-hidden weight (weight_ih) and the "
        f"hidden-to-hidden weight (weight_hh) each have {gates}·{_n(hidden)} = {rows} rows, one block per "
        f"gate.{biases}{stack}"
    )


def _attention(m: Module) -> str:
    return (
        f"Queries, keys and values are projections of embed_dim={_n(m.arg('embed_dim'))} "
        f"(packed into one in_proj_weight when their input sizes match), split across "
        f"{_n(m.arg('num_heads'))} heads, followed by the output projection out_proj. The number of heads "
        f"changes how the projections are split, not the count."
    )


def _transformer(m: Module) -> str:
    return (
        "A transformer block: a multi-head attention sub-layer and a two-layer feed-forward network "
        "(linear1 → activation → linear2), each with a LayerNorm; dropout layers hold no parameters."
    )


def _prelu(m: Module) -> str:
    return f"One learned negative slope per channel ({_n(m.arg('num_parameters'))} in all)."


def _container(m: Module) -> str:
    owners = sum(1 for child in m.children if parameter_count(child))
    return (
        f"A container: its count is the sum of its children's ({owners} of its {len(m.children)} direct "
        f"children hold parameters); shared modules are counted once, as torch counts them."
    )


_READINGS: dict[str, Callable[[Module], str]] = {
    "Linear": _linear,
    "Bilinear": lambda m: (
        f"Each of the {_n(m.arg('out_features'))} outputs is x1ᵀ·A·x2 with its own "
        f"({_n(m.arg('in1_features'))}, {_n(m.arg('in2_features'))}) matrix A{_bias_clause(m, 'output')}."
    ),
    **dict.fromkeys(("Conv1d", "Conv2d", "Conv3d"), _conv),
    **dict.fromkeys(("ConvTranspose1d", "ConvTranspose2d", "ConvTranspose3d"), _conv_transpose),
    **dict.fromkeys(("Embedding", "EmbeddingBag"), _embedding),
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
        _batch_norm,
    ),
    **dict.fromkeys(("LayerNorm", "RMSNorm"), _layer_norm),
    **dict.fromkeys(("RNN", "LSTM", "GRU", "RNNCell", "LSTMCell", "GRUCell"), _recurrent),
    "MultiheadAttention": _attention,
    **dict.fromkeys(("TransformerEncoderLayer", "TransformerDecoderLayer"), _transformer),
    "PReLU": _prelu,
    **dict.fromkeys(("Sequential", "ModuleList", "ModuleDict"), _container),
}


def reading(module: Module) -> str:
    """One paragraph reading the module's shapes in plain language."""
    special = _READINGS.get(module.kind)
    if special is not None:
        try:
            return special(module)
        except (KeyError, StopIteration):
            pass  # a tree from another door may lack an argument; fall back to the generic reading
    if not module.params and not module.children:
        return f"{module.kind} has no learnable parameters: it computes a fixed function of its input."
    tensors = ", ".join(f"{p.name} {_shape(p.sizes)}" for p in module.params)
    own = f"its own tensors are {tensors}; " if tensors else ""
    return f"{module.kind}: {own}the total is the sum over all its tensors, each the product of its shape."
