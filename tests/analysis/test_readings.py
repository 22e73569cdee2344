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
