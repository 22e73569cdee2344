"""Loss family: the losses that own parameters (torch 2.13).

Sources: torch/nn/modules/adaptive.py (``AdaptiveLogSoftmaxWithLoss``) and torch/nn/modules/loss.py
(``LinearCrossEntropyLoss``). Both hold their parameters in ``nn.Linear`` children, built here through the
catalog's own Linear entry so the children carry Linear's arguments, then given readable dimensions.
"""

from __future__ import annotations

from paramcount._record import replace
from paramcount.errors import short_repr
from paramcount.layers._arguments import Arguments
from paramcount.layers._registry import Parts, build, layer
from paramcount.layers._signature import signature
from paramcount.limits import MAX_INT_BITS
from paramcount.tree import Dim, Module, Param

TYPE_CHECKING = False
if TYPE_CHECKING:
    from paramcount.tree import Value


def _linear(name: str, inp: Dim, out: Dim, *, bias: bool, a: Arguments) -> Module:
    """``nn.Linear(inp, out, bias=bias, dtype=dtype)`` named ``name``, its shapes in our symbols."""
    child = build("Linear", (inp.value, out.value), (("bias", bias), ("dtype", a.raw("dtype"))))
    params = [Param("weight", (out, inp))]
    if bias:
        params.append(Param("bias", (out,)))
    return replace(child.renamed(name), params=tuple(params))


def _integers(value: Value) -> tuple[int, ...] | None:
    """``value`` if it is a tuple (or list) of ints, else None; bools are not sizes."""
    if not isinstance(value, tuple):
        return None
    items = tuple(item for item in value if isinstance(item, int) and not isinstance(item, bool))
    return items if len(items) == len(value) else None


def _cutoffs(a: Arguments, classes: int) -> tuple[int, ...]:
    """``cutoffs`` checked as ``AdaptiveLogSoftmaxWithLoss.__init__`` does, one message per rule.

    Torch lets an integral float such as ``2.0`` through its check, but it then reaches ``Linear`` as a
    float size (the head's ``cutoffs[0] + n_clusters`` or a cluster's width) and fails there."""
    value = a.raw("cutoffs")
    cutoffs = _integers(value)
    if cutoffs is None:
        raise a.fail(f"cutoffs must be a sequence of integers, got {short_repr(value)}", "cutoffs")
    if not cutoffs:
        raise a.fail("cutoffs must not be empty", "cutoffs")
    if list(cutoffs) != sorted(cutoffs):
        raise a.fail(f"cutoffs must be sorted in increasing order, got {short_repr(value)}", "cutoffs")
    if len(set(cutoffs)) != len(cutoffs):
        raise a.fail(f"cutoffs must be unique, got {short_repr(value)}", "cutoffs")
    if cutoffs[0] <= 0:
        raise a.fail(f"cutoffs must be positive, got {short_repr(value)}", "cutoffs")
    if cutoffs[-1] > classes - 1:
        raise a.fail(
            f"cutoffs must be smaller than n_classes (cutoffs={short_repr(value)}, n_classes={classes})",
            "cutoffs",
        )
    return cutoffs


def _div_value(a: Arguments) -> int | float:
    """``div_value`` as given: an int stays an int so ``in_features // div_value**k`` stays exact."""
    value = a.raw("div_value")
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise a.fail(f"div_value must be a number, got {short_repr(value)}", "div_value")
    return value


def _hidden_size(a: Arguments, inp: Dim, power: int) -> Dim:
    """Width of tail cluster ``power - 1``: torch's ``int(in_features // (div_value ** power))``, computed
    with the same Python arithmetic so it rounds, overflows and divides by zero the same way."""
    divisor = _div_value(a)
    try:
        hidden = int(inp.value // (divisor**power))
    except (ZeroDivisionError, OverflowError, ValueError):
        raise a.fail(
            f"div_value gives no finite size for tail cluster {power - 1} "
            f"(in_features={inp.value}, div_value={short_repr(divisor)})",
            "div_value",
        ) from None
    if hidden < 0:
        # A negative hidden size reaches Linear, which cannot allocate it.
        raise a.fail(f"div_value must be positive when in_features > 0, got {short_repr(divisor)}", "div_value")
    if hidden >= 2**MAX_INT_BITS:
        # A tiny float div_value turns into a size no torch tensor can hold (torch: "Storage size
        # calculation overflowed"); expression integers are capped the same way.
        raise a.fail(
            f"div_value makes tail cluster {power - 1} too large for a torch tensor "
            f"(in_features // div_value^{power} = {hidden:.3g})",
            "div_value",
        )
    # The placeholder value 1 only carries the symbol and the number; the quotient's value is torch's, set
    # just after.
    divided_by = Dim(1, "div_value", number=divisor)
    quotient = inp // (divided_by if power == 1 else divided_by**power)
    return replace(quotient, value=hidden)


@layer(
    "AdaptiveLogSoftmaxWithLoss",
    signature("in_features", "n_classes", "cutoffs", div_value=4.0, head_bias=False, device=None, dtype=None),
)
def adaptive_log_softmax_with_loss(a: Arguments) -> Parts:
    classes = a.integer("n_classes")
    cutoffs = _cutoffs(a, classes)
    inp = a.dim("in_features")
    edges = [Dim.of(cutoff, f"cutoffs[{index}]") for index, cutoff in enumerate(cutoffs)]
    edges.append(Dim.of(classes, "n_classes"))
    # The head predicts the shortlist (the first cutoffs[0] classes) plus one logit per tail cluster.
    head_size = edges[0] + Dim.of(len(cutoffs), "len(cutoffs)")
    head = _linear("head", inp, head_size, bias=a.flag("head_bias"), a=a)
    clusters = []
    for index in range(len(cutoffs)):
        hidden = _hidden_size(a, inp, index + 1)
        width = edges[index + 1] - edges[index]
        projection = (
            _linear("0", inp, hidden, bias=False, a=a),
            _linear("1", hidden, width, bias=False, a=a),
        )
        clusters.append(Module(name=str(index), kind="Sequential", children=projection))
    tail = Module(name="tail", kind="ModuleList", children=tuple(clusters))
    return Parts(children=(head, tail))


def _class_outputs(a: Arguments) -> Dim:
    """``math.prod(out_features, start=num_classes)``: the rows of the flattened Linear weight.

    Only the product reaches ``Linear``, so torch accepts negative factors whose product is non-negative."""
    value = a.raw("out_features")
    factors = _integers(value)
    if factors is None:
        raise a.fail(f"out_features must be a tuple of ints, got {short_repr(value)}", "out_features")
    if not factors:
        return a.dim("num_classes")
    total = Dim.of(a.integer("num_classes"), "num_classes")
    for index, size in enumerate(factors):
        total = total * Dim.of(size, f"out_features[{index}]")
    if total.value < 0:
        raise a.fail(
            f"num_classes·prod(out_features) must be non-negative, got {total.value} "
            f"(num_classes={a.raw('num_classes')}, out_features={short_repr(value)})",
            "out_features",
        )
    return total


@layer(
    "LinearCrossEntropyLoss",
    signature(
        "in_features",
        "num_classes",
        kw_out_features=(),
        kw_bias=False,
        kw_device=None,
        kw_dtype=None,
        kw_reduction="mean",
        kw_weight=None,
        kw_ignore_index=None,
        kw_label_smoothing=0.0,
        kw_options=None,
    ),
)
def linear_cross_entropy_loss(a: Arguments) -> Parts:
    # weight is a class-weight tensor, registered as a buffer when given; an expression cannot hold one.
    if not a.is_none("weight"):
        raise a.fail(
            "weight takes a tensor and tensors cannot be given in an expression, "
            f"got {short_repr(a.raw('weight'))}; leave it as None",
            "weight",
        )
    # torch raises for label_smoothing outside [0, 1]; reduction, ignore_index and options are only stored.
    a.number("label_smoothing", minimum=0.0, maximum=1.0)
    outputs = _class_outputs(a)
    inp = a.dim("in_features")
    return Parts(children=(_linear("linear", inp, outputs, bias=a.flag("bias"), a=a),))
