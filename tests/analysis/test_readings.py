"""The plain-language readings say what torch does: each claim about training is checked with real torch.
The analysis gives the case and its numbers; ``render.readings`` writes the sentence from them."""

from __future__ import annotations

import pytest

from paramcount.analysis.readings import reading
from paramcount.layers import build
from paramcount.render.readings import reading_text


@pytest.mark.parametrize("kind", ["Embedding", "EmbeddingBag"])
@pytest.mark.parametrize(("padding_idx", "row"), [(0, 0), (3, 3), (-1, 9)])
def test_padding_row_reading_matches_torch(kind: str, padding_idx: int, row: int) -> None:
    import torch

    found = reading(build(kind, (10, 3), [("padding_idx", padding_idx)]))
    assert (found.case, found.fact("padding_row"), found.fact("trained_rows")) == ("embedding", row, 9)
    text = reading_text(found)
    assert f"Row {row} (padding_idx={padding_idx}) starts as zeros and always gets a zero gradient" in text
    assert "the other 9 rows are trained" in text
    # torch: the padding row is zero after construction, and every token (the padding one included) is
    # looked up, yet the padding row's gradient is zero while every other row's is not.
    torch.manual_seed(0)
    layer = getattr(torch.nn, kind)(10, 3, padding_idx=padding_idx)
    assert torch.equal(layer.weight[row], torch.zeros(3))
    tokens = torch.arange(10).reshape(1, 10)
    layer(tokens).pow(2).sum().backward()  # squared, so the gradient of a non-zero row is non-zero
    gradient = layer.weight.grad
    assert gradient is not None
    assert torch.equal(gradient[row], torch.zeros(3))
    assert all(gradient[other].abs().sum() > 0 for other in range(10) if other != row)


def test_embedding_without_padding_trains_every_row() -> None:
    found = reading(build("Embedding", (10, 3)))
    assert "padding_row" not in dict(found.facts)
    assert reading_text(found).endswith("all rows are stored and trained.")


@pytest.mark.parametrize(
    ("kind", "arguments", "phrase"),
    [
        ("Linear", (1, 1), "The single output is a weighted sum of the single input: one row of 1 weight per output"),
        ("Linear", (1, 3), "Each of the 3 outputs is a weighted sum of the single input: one row of 1 weight"),
        ("Linear", (4, 3), "Each of the 3 outputs is a weighted sum of all 4 inputs: one row of 4 weights"),
        ("Bilinear", (2, 2, 1), "The single output is x1ᵀ·A·x2 with its own (2, 2) matrix A"),
        ("Conv2d", (1, 1, 1), "The single filter is a (1, 1, 1) kernel"),
        ("ConvTranspose2d", (1, 2, 3), "(1, 2, 3, 3): the single input channel spreads a (2, 3, 3) kernel"),
        ("Embedding", (1, 1), "A lookup table: one row of 1 number for the single token."),
        ("Embedding", (5, 2), "A lookup table: one row of 2 numbers for each of the 5 tokens."),
        ("LSTM", (1, 1), "each have 4·1 = 4 rows, one block per gate."),
        ("LSTM", (1, 1), "The stack is 1 layer deep, in one direction."),
    ],
)
def test_a_count_of_one_reads_in_the_singular(kind: str, arguments: tuple[int, ...], phrase: str) -> None:
    assert phrase in " ".join(reading_text(reading(build(kind, arguments))).split())


def test_one_trained_row_and_one_child_read_in_the_singular() -> None:
    # Embedding(2, 3, padding_idx=0): row 0 is the padding row, so 2 - 1 = 1 row is trained.
    padded = reading_text(reading(build("Embedding", (2, 3), [("padding_idx", 0)])))
    assert padded.endswith("the other 1 row is trained.")
    import paramcount

    one = paramcount.count("nn.Sequential(nn.Linear(2, 2))").report().reading
    assert one is not None
    assert "(1 of its 1 direct child holds parameters)" in reading_text(one)
