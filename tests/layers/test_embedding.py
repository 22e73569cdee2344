from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from oracle import assert_matches_torch, assert_signature_matches
from paramcount.errors import ArgumentError
from paramcount.layers import build
from paramcount.tree import Ref, parameter_count

TYPE_CHECKING = False
if TYPE_CHECKING:
    from paramcount.tree import Value

sizes = st.integers(min_value=0, max_value=64)
dtypes = st.sampled_from([None, Ref("torch.bfloat16"), Ref("torch.float16")])


@st.composite
def padding_indices(draw: st.DrawFn, num_embeddings: int) -> int | None:
    """None, or a valid row index (negative ones count from the end); no index exists without rows."""
    if num_embeddings == 0:
        return None
    return draw(st.one_of(st.none(), st.integers(-num_embeddings, num_embeddings - 1)))


@st.composite
def norm_options(draw: st.DrawFn) -> dict[str, Value]:
    """Arguments both classes store for forward only: torch accepts any of these values."""
    return {
        "max_norm": draw(st.one_of(st.none(), st.floats(0.5, 10.0))),
        "norm_type": draw(st.sampled_from([1.0, 2.0, 3])),
        "scale_grad_by_freq": draw(st.booleans()),
        "sparse": draw(st.booleans()),
        "dtype": draw(dtypes),
    }


@given(data=st.data(), rows=sizes, width=sizes)
def test_embedding_matches_torch(data: st.DataObject, rows: int, width: int) -> None:
    keywords = data.draw(norm_options())
    keywords["padding_idx"] = data.draw(padding_indices(rows))
    keywords["_freeze"] = data.draw(st.booleans())
    assert_matches_torch("Embedding", (rows, width), keywords)


@given(data=st.data(), rows=sizes, width=sizes)
def test_embedding_bag_matches_torch(data: st.DataObject, rows: int, width: int) -> None:
    keywords = data.draw(norm_options())
    keywords["padding_idx"] = data.draw(padding_indices(rows))
    keywords["mode"] = data.draw(st.sampled_from(["sum", "mean", "max"]))
    keywords["include_last_offset"] = data.draw(st.booleans())
    assert_matches_torch("EmbeddingBag", (rows, width), keywords)


@pytest.mark.parametrize("kind", ["Embedding", "EmbeddingBag"])
@given(
    rows=st.integers(-3, 6),
    width=st.integers(-3, 6),
    padding_idx=st.one_of(st.none(), st.integers(-8, 8)),
)
def test_embedding_rejects_what_torch_rejects(kind: str, rows: int, width: int, padding_idx: int | None) -> None:
    assert_matches_torch(kind, (rows, width), {"padding_idx": padding_idx})


@pytest.mark.parametrize("kind", ["Embedding", "EmbeddingBag"])
def test_signature_is_torchs(kind: str) -> None:
    assert_signature_matches(kind)


def test_frozen_embedding_weight_is_not_trainable() -> None:
    # weight: num_embeddings × embedding_dim = 1,000 × 64 = 64,000, all frozen by _freeze=True.
    module = build("Embedding", (1000, 64), [("_freeze", True)])
    assert [dim.symbol for dim in module.params[0].shape] == ["num_embeddings", "embedding_dim"]
    assert parameter_count(module) == 64_000
    assert parameter_count(module, trainable=True) == 0


@pytest.mark.parametrize(
    ("kind", "positional", "keywords", "message", "argument"),
    [
        (
            "Embedding",
            (5, 3),
            [("padding_idx", 5)],
            "Embedding: padding_idx must be within num_embeddings (padding_idx=5, num_embeddings=5)",
            "padding_idx",
        ),
        (
            # Torch's asserts let 0 through; weight[0].fill_(0) then fails on a table with no rows.
            "EmbeddingBag",
            (0, 3),
            [("padding_idx", 0)],
            "EmbeddingBag: padding_idx must be within num_embeddings (padding_idx=0, num_embeddings=0)",
            "padding_idx",
        ),
        (
            "Embedding",
            (5, 3),
            [("_weight", 1.0)],
            "Embedding: _weight must be None; tensors cannot be given in an expression",
            "_weight",
        ),
        (
            # Torch stores any mode; F.embedding_bag refuses it on every forward.
            "EmbeddingBag",
            (5, 3),
            [("mode", "median")],
            "EmbeddingBag: mode must be one of 'sum', 'mean', 'max', got 'median'",
            "mode",
        ),
        ("Embedding", (5, -3), [], "Embedding: embedding_dim must be non-negative, got -3", "embedding_dim"),
    ],
)
def test_rejection_messages(
    kind: str, positional: tuple[Value, ...], keywords: list[tuple[str, Value]], message: str, argument: str
) -> None:
    with pytest.raises(ArgumentError, match=re.escape(message)) as info:
        build(kind, positional, keywords)
    assert info.value.argument == argument
