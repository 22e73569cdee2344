"""The catalog's shared machinery: the ``Registry`` table (layers, zoo, model types) and ``build``'s refusal of
tensors torch cannot allocate, whose bytes per element come from ``dtypes.BITS``."""

from __future__ import annotations

import pytest

from paramcount._registry import Registry
from paramcount.errors import ArgumentError, UnknownNameError
from paramcount.layers import build
from paramcount.tree import Ref


def test_a_registry_loads_its_builders_once_and_refuses_a_second_entry() -> None:
    loads: list[int] = []
    table: Registry[int] = Registry("widget", lambda: loads.append(1))
    table.add("Widget", 1)
    with pytest.raises(RuntimeError, match=r"^widget 'Widget' registered twice$"):
        table.add("Widget", 2)
    assert table.find("Widget") == 1
    assert loads == []  # registered: nothing to load
    assert table.find("Gadget") is None
    assert table.find("Gizmo") is None
    assert table.names() == ("Widget",)
    assert loads == [1]


def test_an_unknown_name_offers_the_closest_names_the_same_word_in_another_case_first() -> None:
    table: Registry[int] = Registry("layer", lambda: None)
    for number, name in enumerate(("Conv1d", "Conv2d", "Conv3d", "Linear")):
        table.add(name, number)
    with pytest.raises(UnknownNameError) as caught:
        table.lookup("Conv2D")
    assert str(caught.value) == "unknown layer 'Conv2D'; did you mean 'Conv2d', 'Conv3d' or 'Conv1d'?"
    assert caught.value.suggestions == ("Conv2d", "Conv3d", "Conv1d")
    assert table.close_names("conv2d") == ("Conv2d", "Conv3d", "Conv1d")  # difflib: ties in reverse order
    assert table.close_names("Embedding") == ()


# torch.nn.Linear(2**30, out, bias=False, device="meta", dtype=...) in torch 2.13: refused ("Storage size
# calculation overflowed") from 2**63 bytes, i.e. out = 2**36 / bits; one row fewer is built.
@pytest.mark.parametrize(
    ("dtype", "bits"), [("float64", 64), ("float32", 32), ("float16", 16), ("bfloat16", 16), ("float8_e4m3fn", 8)]
)
def test_a_weight_of_2_63_bytes_is_refused_as_torch_refuses_it(dtype: str, bits: int) -> None:
    out = 2**36 // bits
    keywords = (("bias", False), ("dtype", Ref(f"torch.{dtype}")))
    assert build("Linear", (2**30, out - 1), keywords).params[0].count == 2**30 * (out - 1)
    with pytest.raises(ArgumentError, match=r"would take 9,223,372,036,854,775,808 bytes; torch refuses"):
        build("Linear", (2**30, out), keywords)


def test_the_storage_limit_matches_torch() -> None:
    torch = pytest.importorskip("torch")
    for dtype, bits in (("float64", 64), ("float16", 16), ("float8_e4m3fn", 8)):
        out = 2**36 // bits
        torch.nn.Linear(2**30, out - 1, bias=False, device="meta", dtype=getattr(torch, dtype))
        with pytest.raises(RuntimeError, match="Storage size calculation overflowed"):
            torch.nn.Linear(2**30, out, bias=False, device="meta", dtype=getattr(torch, dtype))
