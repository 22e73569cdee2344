"""Totals and per-tensor listings, in torch's ``named_parameters()`` / ``named_buffers()`` order."""

from __future__ import annotations

from paramcount._record import Record, field_values
from paramcount.tree import Module, Tensor, iter_modules

__all__ = ["Counts", "TensorRow", "TiedRow", "Totals", "count_tree", "totals"]


class TensorRow(Record):
    name: str
    shape: tuple[int, ...]
    symbols: tuple[str, ...]
    count: int
    trainable: bool
    dtype: str


class TiedRow(Record):
    name: str
    tied_to: str
    count: int


class Totals(Record):
    """The totals alone (``totals``: computed without expanding repeated blocks, microseconds for any model
    size)."""

    total: int
    trainable: int
    non_trainable: int
    buffers: int
    tied: int
    """Elements of tied (shared) tensors, counted once in ``total``; ``total + tied`` is the untied count."""


class Counts(Totals):
    """The totals and every tensor by name (``count_tree``: repeated blocks expanded)."""

    parameters: tuple[TensorRow, ...]
    buffer_tensors: tuple[TensorRow, ...]
    tied_tensors: tuple[TiedRow, ...]


def totals(root: Module) -> Totals:
    """One walk of the collapsed tree: each node once, weighted by its multiplicity."""
    trainable = non_trainable = buffers = tied = 0
    stack = [(root, 1)]
    while stack:
        module, times = stack.pop()
        for param in module.params:
            elements = times * param.count
            if param.tied_to is not None:
                tied += elements
            elif param.trainable:
                trainable += elements
            else:
                non_trainable += elements
        for buffer in module.buffers:
            if buffer.tied_to is None:
                buffers += times * buffer.count
        if module.children:
            stack.extend((child, times * child.repeat) for child in module.children)
    repeat = root.repeat  # parameter_count's convention: a repeated root counts its copies; ties do not
    return Totals(
        (trainable + non_trainable) * repeat, trainable * repeat, non_trainable * repeat, buffers * repeat, tied
    )


def count_tree(root: Module) -> Counts:
    """Totals plus every tensor by name (repeated blocks expanded), in one walk of the tree."""
    parameters: list[TensorRow] = []
    buffers: list[TensorRow] = []
    tied: list[TiedRow] = []
    shapes: dict[int, tuple[tuple[int, ...], tuple[str, ...], int]] = {}  # a repeated block's tensors, once

    def row(name: str, tensor: Tensor, trainable: bool) -> TensorRow:
        known = shapes.get(id(tensor))
        if known is None:
            known = shapes[id(tensor)] = (tensor.sizes, tuple(dim.symbol for dim in tensor.shape), tensor.count)
        return TensorRow(name, known[0], known[1], known[2], trainable, tensor.dtype)

    for path, module in iter_modules(root):
        prefix = f"{path}." if path else ""
        for param in module.params:
            if param.tied_to is None:
                parameters.append(row(prefix + param.name, param, param.trainable))
            else:
                tied.append(TiedRow(prefix + param.name, param.tied_to, param.count))
        buffers.extend(row(prefix + b.name, b, False) for b in module.buffers if b.tied_to is None)
    return Counts(
        **field_values(totals(root)),
        parameters=tuple(parameters),
        buffer_tensors=tuple(buffers),
        tied_tensors=tuple(tied),
    )
