"""Embedding family: Embedding and EmbeddingBag (torch/nn/modules/sparse.py, torch 2.13).

Both hold one ``weight`` of shape (num_embeddings, embedding_dim). ``_weight`` takes a ready tensor in
torch; an expression cannot write one, so anything but None is refused.
"""

from __future__ import annotations

from paramcount.layers._arguments import Arguments
from paramcount.layers._registry import Parts, layer
from paramcount.layers._signature import signature
from paramcount.tree import Param

_BAG_MODES = ("sum", "mean", "max")


def _check_padding_index(a: Arguments, num_embeddings: int) -> None:
    """``padding_idx`` is None or an index into the rows, negative counting from the end.

    Torch asserts ``padding_idx < num_embeddings`` and ``padding_idx >= -num_embeddings``; with no rows at
    all, ``padding_idx=0`` passes those asserts and fails in ``weight[padding_idx].fill_(0)`` instead, so
    the allowed range ``-num_embeddings <= padding_idx < num_embeddings`` covers both."""
    if a.is_none("padding_idx"):
        return
    index = a.integer("padding_idx")
    if not -num_embeddings <= index < num_embeddings:
        values = f"padding_idx={index}, num_embeddings={num_embeddings}"
        raise a.fail(f"padding_idx must be within num_embeddings ({values})", "padding_idx")


def _check_no_tensor(a: Arguments) -> None:
    if not a.is_none("_weight"):
        raise a.fail("_weight must be None; tensors cannot be given in an expression", "_weight")


def _check_norm_options(a: Arguments) -> None:
    # Stored as given by torch and only used in forward; we still insist on numbers and flags.
    if not a.is_none("max_norm"):
        a.number("max_norm")
    a.number("norm_type")
    a.flag("scale_grad_by_freq")
    a.flag("sparse")


def _weight(a: Arguments, *, trainable: bool = True) -> Param:
    rows = a.dim("num_embeddings")  # a negative size fails in torch.empty
    width = a.dim("embedding_dim")
    _check_padding_index(a, rows.value)
    _check_no_tensor(a)
    _check_norm_options(a)
    return Param("weight", (rows, width), trainable=trainable)


@layer(
    "Embedding",
    signature(
        "num_embeddings",
        "embedding_dim",
        padding_idx=None,
        max_norm=None,
        norm_type=2.0,
        scale_grad_by_freq=False,
        sparse=False,
        _weight=None,
        _freeze=False,
        device=None,
        dtype=None,
    ),
)
def embedding(a: Arguments) -> Parts:
    # Embedding.__init__: Parameter(..., requires_grad=not _freeze).
    return Parts(params=(_weight(a, trainable=not a.flag("_freeze")),))


@layer(
    "EmbeddingBag",
    signature(
        "num_embeddings",
        "embedding_dim",
        max_norm=None,
        norm_type=2.0,
        scale_grad_by_freq=False,
        mode="mean",
        sparse=False,
        _weight=None,
        include_last_offset=False,
        padding_idx=None,
        device=None,
        dtype=None,
    ),
)
def embedding_bag(a: Arguments) -> Parts:
    # Torch stores any mode and F.embedding_bag raises "mode has to be one of sum, mean or max" on every
    # forward; refusing it here names the mistake where it was made.
    a.choice("mode", _BAG_MODES)
    a.flag("include_last_offset")
    return Parts(params=(_weight(a),))
