from __future__ import annotations

import re
from collections.abc import Sequence

import pytest
from hypothesis import given
from hypothesis import strategies as st

from oracle import assert_matches_torch, assert_signature_matches, build_torch, to_torch_value
from paramcount.errors import ArgumentError
from paramcount.layers import build
from paramcount.tree import iter_params, parameter_count

TYPE_CHECKING = False
if TYPE_CHECKING:
    from paramcount.tree import Value


def assert_matches_torch_in_order(
    kind: str, positional: Sequence[Value] = (), keywords: dict[str, Value] | None = None
) -> None:
    """assert_matches_torch, plus torch's named_parameters() order (the oracle compares dicts)."""
    keywords = keywords or {}
    assert_matches_torch(kind, positional, keywords)
    torch_keywords = {name: to_torch_value(value) for name, value in keywords.items()}
    theirs = build_torch(kind, [to_torch_value(value) for value in positional], torch_keywords)
    ours = build(kind, positional, list(keywords.items()))
    assert [name for name, _ in iter_params(ours)] == [name for name, _ in theirs.named_parameters()]


optional_dims = st.none() | st.integers(0, 24)


@given(
    heads=st.integers(1, 8),
    head_dim=st.integers(1, 8),
    kdim=optional_dims,
    vdim=optional_dims,
    same_as_embed=st.booleans(),
    bias=st.booleans(),
    add_bias_kv=st.booleans(),
    add_zero_attn=st.booleans(),
    batch_first=st.booleans(),
)
def test_multihead_attention_matches_torch(
    heads: int,
    head_dim: int,
    kdim: int | None,
    vdim: int | None,
    same_as_embed: bool,
    bias: bool,
    add_bias_kv: bool,
    add_zero_attn: bool,
    batch_first: bool,
) -> None:
    embed = heads * head_dim
    if same_as_embed:  # kdim == vdim == embed_dim given explicitly still means one in_proj_weight
        kdim = vdim = embed
    keywords: dict[str, Value] = {
        "bias": bias,
        "add_bias_kv": add_bias_kv,
        "add_zero_attn": add_zero_attn,
        "kdim": kdim,
        "vdim": vdim,
        "batch_first": batch_first,
    }
    assert_matches_torch_in_order("MultiheadAttention", (embed, heads), keywords)


@given(
    embed=st.integers(-2, 12),
    heads=st.integers(-1, 5),
    kdim=st.none() | st.integers(-1, 3),
    vdim=st.none() | st.integers(-1, 3),
    dropout=st.sampled_from([0.0, 0.5, 2.0]),
)
def test_multihead_attention_rejects_what_torch_rejects(
    embed: int, heads: int, kdim: int | None, vdim: int | None, dropout: float
) -> None:
    keywords: dict[str, Value] = {"kdim": kdim, "vdim": vdim, "dropout": dropout}
    assert_matches_torch("MultiheadAttention", (embed, heads), keywords)


def test_multihead_attention_signature_is_torchs() -> None:
    assert_signature_matches("MultiheadAttention")


def test_multihead_attention_hand_derived() -> None:
    # MultiheadAttention(512, 8): in_proj_weight 3·512·512 = 786,432, in_proj_bias 3·512 = 1,536,
    # out_proj 512·512 + 512 = 262,656; total 1,050,624 = 4·512² + 4·512.
    module = build("MultiheadAttention", (512, 8))
    assert parameter_count(module) == 1_050_624
    shapes = {name: [dim.symbol for dim in param.shape] for name, param in iter_params(module)}
    assert shapes == {
        "in_proj_weight": ["3·embed_dim", "embed_dim"],
        "in_proj_bias": ["3·embed_dim"],
        "out_proj.weight": ["out_features", "in_features"],
        "out_proj.bias": ["out_features"],
    }


def test_separate_projections_when_kdim_differs() -> None:
    module = build("MultiheadAttention", (8, 2), [("vdim", 3), ("add_bias_kv", True)])
    shapes = {name: [dim.symbol for dim in param.shape] for name, param in iter_params(module)}
    assert shapes["k_proj_weight"] == ["embed_dim", "embed_dim"]
    assert shapes["v_proj_weight"] == ["embed_dim", "vdim"]
    assert shapes["bias_k"] == ["1", "1", "embed_dim"]
    assert module.children[0].kind == "Linear"


def test_divisibility_message() -> None:
    message = "MultiheadAttention: embed_dim must be divisible by num_heads (embed_dim=10, num_heads=3)"
    with pytest.raises(ArgumentError, match=re.escape(message)) as info:
        build("MultiheadAttention", (10, 3))
    assert info.value.argument == "num_heads"
