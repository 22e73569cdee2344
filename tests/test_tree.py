"""A Dim keeps how it was made; its arithmetic with numbers is derived from that, never stored as text."""

from __future__ import annotations

from paramcount._record import replace
from paramcount.tree import Dim


def test_arithmetic_is_derived_from_the_operands() -> None:
    hidden, heads = Dim.of(4096, "hidden_size"), Dim.of(32, "num_attention_heads")
    head_dim = hidden // heads
    fused = (heads + 2 * Dim.of(8, "num_key_value_heads")) * head_dim
    assert (fused.value, fused.symbol) == (
        (32 + 2 * 8) * 128,
        "(num_attention_heads + 2·num_key_value_heads)·hidden_size/num_attention_heads",
    )
    assert fused.arithmetic == "(32 + 2·8)·4096/32"
    # the right operand of "/" and "-" binds tighter: brackets even at equal precedence
    assert (hidden // (heads * 2)).arithmetic == "4096/(32·2)"
    assert (hidden - (heads + 1)).symbol == "hidden_size - (num_attention_heads + 1)"


def test_powers_and_a_named_number() -> None:
    patches = (Dim.of(224, "image_size") // Dim.of(16, "patch_size")).squared()
    assert (patches.value, patches.symbol, patches.arithmetic) == (196, "(image_size/patch_size)²", "(224/16)²")
    divided = Dim.of(64, "in_features") // Dim(1, "div_value", number=2.5) ** 2
    assert (divided.symbol, divided.arithmetic) == ("in_features/div_value^2", "64/2.5^2")
    # the value a layer sets afterwards (torch's own rounding) leaves the arithmetic as it was written
    assert replace(divided, value=10).arithmetic == "64/2.5^2"


def test_a_named_dimension_is_its_value() -> None:
    assert Dim.of(512, "out_channels").arithmetic == "512"
    assert Dim.constant(3).symbol == "3"
    assert not hasattr(Dim.of(512, "out_channels"), "numbers")
