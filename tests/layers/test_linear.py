from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from oracle import assert_matches_torch, assert_signature_matches
from paramcount.errors import ArgumentError
from paramcount.layers import build

sizes = st.integers(min_value=0, max_value=4096)


@given(inp=sizes, out=sizes, bias=st.booleans())
def test_linear_matches_torch(inp: int, out: int, bias: bool) -> None:
    assert_matches_torch("Linear", (inp, out), {"bias": bias})


@given(in1=sizes, in2=sizes, out=sizes, bias=st.booleans())
def test_bilinear_matches_torch(in1: int, in2: int, out: int, bias: bool) -> None:
    assert_matches_torch("Bilinear", (in1, in2, out), {"bias": bias})


@given(inp=st.integers(-5, 5), out=st.integers(-5, 5))
def test_linear_rejects_what_torch_rejects(inp: int, out: int) -> None:
    assert_matches_torch("Linear", (inp, out))


def test_identity_ignores_arguments() -> None:
    assert_matches_torch("Identity", (3, 4))


def test_linear_huge_sizes_count_without_allocating() -> None:
    # 2**20 · 2**20 weights + 2**20 biases, derived by hand.
    module = build("Linear", (2**20, 2**20))
    assert sum(p.count for p in module.params) == 2**40 + 2**20


def test_linear_negative_size_message() -> None:
    with pytest.raises(ArgumentError, match=re.escape("Linear: out_features must be non-negative, got -1")) as info:
        build("Linear", (3, -1))
    assert info.value.argument == "out_features"


@pytest.mark.parametrize("kind", ["Linear", "Bilinear", "Identity"])
def test_signature_is_torchs(kind: str) -> None:
    assert_signature_matches(kind)
