"""The shipped zoo index equals a fresh computation (``pytest --update-golden`` rewrites it)."""

from __future__ import annotations

from pathlib import Path

import pytest

from paramcount.zoo_index import INDEX_PATH, compute_index, dump_index, load_index


def test_shipped_index_is_current(request: pytest.FixtureRequest) -> None:
    current = dump_index(compute_index())
    if request.config.getoption("--update-golden"):
        Path(INDEX_PATH).write_text(current, encoding="utf-8")
    assert Path(INDEX_PATH).read_text(encoding="utf-8") == current


def test_loaded_entries_round_trip() -> None:
    computed = [entry for entry in compute_index() if entry.kind == "Conv2d"]
    assert list(load_index("Conv2d")) == computed
    assert load_index("NoSuchKind") == ()


def test_entries_like_a_layer_are_its_exact_and_near_matches() -> None:
    everything = load_index("Conv2d")
    like = (("weight", (64, 64, 3, 3)), ("bias", (64,)))
    chosen = load_index("Conv2d", like)
    assert chosen == tuple(entry for entry in everything if entry.shapes[:1] == (("weight", (64, 64, 3, 3)),))
    # exact matches (VGG's biased convolutions) and near ones (ResNet's bias=False)
    assert {entry.shapes for entry in chosen} == {like, (("weight", (64, 64, 3, 3)),)}
