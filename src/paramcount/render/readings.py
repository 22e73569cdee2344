"""The plain-language reading of a layer: one paragraph per case of ``analysis.readings.Reading``, the
numbers taken from its facts."""

from __future__ import annotations

from paramcount._words import noun

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

    from paramcount.analysis.readings import Reading

__all__ = ["reading_text"]


def _n(value: object) -> str:
    return f"{value:,}" if isinstance(value, int) and not isinstance(value, bool) else str(value)


def _count(value: object, singular: str, plural: str = "") -> str:
    """``"1 output"``, ``"512 outputs"`` (a value that is not a number, such as ``?``, takes the plural)."""
    number = value if isinstance(value, int) and not isinstance(value, bool) else 0
    return f"{_n(value)} {plural if plural and number != 1 else noun(number, singular)}"


def _each(value: object, singular: str) -> str:
    """``"each of the 512 outputs"``, or ``"the single output"`` for one (to start a sentence, capitalise it)."""
    return f"the single {singular}" if value == 1 else f"each of the {_count(value, singular)}"


def _shape(values: object) -> str:
    sizes = values if isinstance(values, tuple) else ()
    return "(" + ", ".join(str(v) for v in sizes) + ("," if len(sizes) == 1 else "") + ")"


def _bias_clause(r: Reading, what: str) -> str:
    return f", with one bias per {what}" if r.fact("bias") else ", with no bias"


def _linear(r: Reading) -> str:
    out, inp = r.fact("out_features"), r.fact("in_features")
    inputs = "the single input" if inp == 1 else f"all {_count(inp, 'input')}"
    return (
        f"{_each(out, 'output').capitalize()} is a weighted sum of {inputs}: one row of {_count(inp, 'weight')} "
        f"per output{_bias_clause(r, 'output')}. A fully connected layer's count grows with the "
        f"product of its input and output sizes."
    )


def _bilinear(r: Reading) -> str:
    return (
        f"{_each(r.fact('out_features'), 'output').capitalize()} is x1ᵀ·A·x2 with its own "
        f"({_n(r.fact('in1_features'))}, {_n(r.fact('in2_features'))}) matrix A{_bias_clause(r, 'output')}."
    )


def _conv(r: Reading) -> str:
    kernel = r.fact("kernel")
    sizes = kernel if isinstance(kernel, tuple) else ()
    groups = r.fact("groups")
    per_group = (
        f" — one {'×'.join(str(size) for size in sizes[1:])} filter for each input channel"
        if groups == 1
        else f" (with groups={groups}, each filter sees only {_n(sizes[0])} of the input channels)"
    )
    return (
        f"{_each(r.fact('out_channels'), 'filter').capitalize()} is a {_shape(kernel)} kernel{per_group}"
        f"{_bias_clause(r, 'filter')}. "
        f"The same weights slide over every position, so the count does not depend on the input size."
    )


def _conv_transpose(r: Reading) -> str:
    weight = r.fact("weight")
    kernel = weight[1:] if isinstance(weight, tuple) else ()
    return (
        f"A transposed convolution stores its weight as (in_channels, out_channels/groups, kernel…) = "
        f"{_shape(weight)}: {_each(r.fact('in_channels'), 'input channel')} spreads a "
        f"{_shape(kernel)} kernel over the output{_bias_clause(r, 'output channel')}. "
        f"The count does not depend on the input size."
    )


def _embedding(r: Reading) -> str:
    table = (
        f"A lookup table: one row of {_count(r.fact('embedding_dim'), 'number')} for "
        f"{_each(r.fact('num_embeddings'), 'token')}. Only the rows of the tokens in a batch are read, but all rows "
        "are stored"
    )
    if "padding_row" not in dict(r.facts):
        return f"{table} and trained."
    return (
        f"{table} and counted. Row {_n(r.fact('padding_row'))} (padding_idx={r.fact('padding_idx')}) starts as "
        "zeros and always gets a zero gradient (torch's backward skips it), so training leaves it at zero; the "
        f"other {_count(r.fact('trained_rows'), 'row')} {'is' if r.fact('trained_rows') == 1 else 'are'} trained."
    )


def _batch_norm(r: Reading) -> str:
    affine = "a learned scale (weight) and shift (bias) per channel" if r.fact("affine") else "no learned parameters"
    stats = (
        "; the running mean and variance (and the num_batches_tracked counter) are buffers, saved with the "
        "model but not trained"
        if r.fact("running_stats")
        else ""
    )
    return f"Normalisation with {affine}{stats}."


def _layer_norm(r: Reading) -> str:
    found = r.fact("parameters")
    names = [name for name in found if isinstance(name, str)] if isinstance(found, tuple) else []
    if not names:
        return "Normalisation over the last dimensions with no learned parameters (elementwise_affine=False)."
    words = " and ".join("a scale (weight)" if name == "weight" else "a shift (bias)" for name in names)
    return f"Normalisation over the normalized shape with {words} per normalised element; no buffers."


_GATE_WORDS = {4: "4 gates (input, forget, cell, output)", 3: "3 gates (reset, update, new)", 1: "one gate"}


def _recurrent(r: Reading) -> str:
    gates, rows = r.fact("gates"), r.fact("rows")
    biases = (
        " Each of them comes with its own bias vector (bias_ih and bias_hh: two per layer, as cuDNN has)."
        if r.fact("bias")
        else " bias=False drops both bias vectors."
    )
    stack = ""
    if "num_layers" in dict(r.facts):
        directions = "both directions" if r.fact("bidirectional") else "one direction"
        stack = f" The stack is {_count(r.fact('num_layers'), 'layer')} deep, in {directions}."
    return (
        f"{_GATE_WORDS[gates if isinstance(gates, int) else 1]} × hidden_size rows: the input-to-hidden weight "
        f"(weight_ih) and the hidden-to-hidden weight (weight_hh) each have {gates}·{_n(r.fact('hidden_size'))} = "
        f"{_count('?' if rows is None else rows, 'row')}, one block per gate.{biases}{stack}"
    )


def _attention(r: Reading) -> str:
    return (
        f"Queries, keys and values are projections of embed_dim={_n(r.fact('embed_dim'))} "
        f"(packed into one in_proj_weight when their input sizes match), split across "
        f"{_n(r.fact('num_heads'))} heads, followed by the output projection out_proj. The number of heads "
        f"changes how the projections are split, not the count."
    )


def _transformer(r: Reading) -> str:
    return (
        "A transformer block: a multi-head attention sub-layer and a two-layer feed-forward network "
        "(linear1 → activation → linear2), each with a LayerNorm; dropout layers hold no parameters."
    )


def _prelu(r: Reading) -> str:
    return f"One learned negative slope per channel ({_n(r.fact('num_parameters'))} in all)."


def _container(r: Reading) -> str:
    return (
        f"A container: its count is the sum of its children's ({r.fact('owners')} of its "
        f"{_count(r.fact('children'), 'direct child', 'direct children')} "
        f"{'holds' if r.fact('owners') == 1 else 'hold'} parameters); shared modules are counted once, as torch "
        "counts them."
    )


def _stateless(r: Reading) -> str:
    return f"{r.kind} has no learnable parameters: it computes a fixed function of its input."


def _generic(r: Reading) -> str:
    found = r.fact("tensors")
    pairs = found if isinstance(found, tuple) else ()
    tensors = ", ".join(f"{pair[0]} {_shape(pair[1])}" for pair in pairs if isinstance(pair, tuple))
    own = f"its own tensors are {tensors}; " if tensors else ""
    return f"{r.kind}: {own}the total is the sum over all its tensors, each the product of its shape."


_PARAGRAPHS: dict[str, Callable[[Reading], str]] = {
    "linear": _linear,
    "bilinear": _bilinear,
    "conv": _conv,
    "conv_transpose": _conv_transpose,
    "embedding": _embedding,
    "batch_norm": _batch_norm,
    "layer_norm": _layer_norm,
    "recurrent": _recurrent,
    "attention": _attention,
    "transformer": _transformer,
    "prelu": _prelu,
    "container": _container,
    "stateless": _stateless,
    "generic": _generic,
}


def reading_text(reading: Reading) -> str:
    """One paragraph reading the module's shapes in plain language."""
    return _PARAGRAPHS[reading.case](reading)
