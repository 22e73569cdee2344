"""What the web accepts as a query: no path ever reaches the library, bare names never look at the disk."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from hypothesis import given, settings
from hypothesis import strategies as st

import paramcount
from paramcount.errors import ParamcountError, QueryError
from paramcount.layers._registry import known_layers
from paramcount.provenance import FromConfig
from paramcount.render.json import report_dict
from paramcount.sources.hf.hub import hub_config_path
from paramcount.web.queries import one_layer, resolve


def _resolve(text: str, architecture: str | None = None) -> paramcount.Result:
    return resolve(text, architecture=architecture, max_query_chars=10_000, max_config_chars=60_000)


def _folder_with_a_config(root: Path, name: str) -> None:
    source = hub_config_path("gpt2")
    assert source is not None
    (root / name).mkdir()
    (root / name / "config.json").write_text(source.read_text(encoding="utf-8"), encoding="utf-8")


def test_a_bare_name_never_opens_a_folder_of_that_name(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    _folder_with_a_config(tmp_path, "resnet50")
    monkeypatch.chdir(tmp_path)
    assert paramcount.count("resnet50").origin == "config"  # the library reads the folder: the CLI's door
    result = _resolve("resnet50")
    assert (result.origin, result.total) == ("zoo", 25_557_032)  # the web answers the zoo model
    assert report_dict(result.report()) == report_dict(paramcount.count("resnet50()").report()) | {"query": "resnet50"}


def test_a_folder_name_that_is_not_a_name_is_refused(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    _folder_with_a_config(tmp_path, "my-model")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(paramcount.UnknownNameError, match=r"^unknown model 'my-model': not a zoo model"):
        _resolve("my-model")  # a model name, not a path: never read
    with pytest.raises(QueryError):
        _resolve("./my-model")
    with pytest.raises(QueryError):
        _resolve("my-model/config.json")


def test_pasted_config(client: TestClient) -> None:
    source = hub_config_path("meta-llama/Llama-3.1-8B")
    assert source is not None
    text = source.read_text(encoding="utf-8")
    result = _resolve(text, "LlamaModel")
    provenance = result.provenance
    assert isinstance(provenance, FromConfig)
    assert (provenance.location, provenance.architecture) == (None, "LlamaModel")  # read from no location
    assert result.total == paramcount.count("meta-llama/Llama-3.1-8B", architecture="LlamaModel").total
    response = client.post("/api/count", json={"q": text, "architecture": "LlamaModel"})
    assert response.json()["total"] == result.total


def test_pasted_config_over_the_limit() -> None:
    text = json.dumps({"model_type": "gpt2", "padding": "x" * 100})
    assert len(text) == 137
    with pytest.raises(paramcount.LimitError, match=r"^pasted config\.json is 137 characters; the limit is 100 "):
        resolve(text, max_query_chars=10_000, max_config_chars=100)


def _tensors(result: paramcount.Result) -> int:
    return len(result.counts.parameters) + len(result.counts.buffer_tensors)


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(known_layers()), st.lists(st.integers(0, 999_999_999), max_size=2), st.sampled_from(["", " "]))
def test_what_one_layer_admits_is_bounded_whatever_its_numbers(kind: str, numbers: list[int], space: str) -> None:
    """The event loop's rule: an admitted query builds at most as many tensors as ``nn.Transformer``'s defaults (the
    largest catalog layer), so its cost does not grow with its numbers."""
    text = f"{space}{kind}({space}{', '.join(map(str, numbers))})"
    assert one_layer(text)
    try:
        result = _resolve(text)
    except ParamcountError:
        return  # torch refuses those numbers; the error is as quick
    assert _tensors(result) <= _tensors(_resolve("Transformer()")) == 184


@pytest.mark.parametrize(
    "text",
    [
        "resnet50",
        "resnet50()",
        "meta-llama/Llama-3.1-8B",
        "LSTM(9, 9, 9999)",
        "Transformer(64, 8, 1000)",
        "Sequential(*[Linear(9, 9)] * 19)",
        "Sequential(Linear(9, 9))",
        "Linear(9, 9, bias=False)",
        "Linear(9, 9, True)",
        "Linear(-1, 9)",
        "Linear(1234567890, 9)",
        "Linear(\u0663, 9)",
        "linear(9, 9)",
        "NotALayer(9, 9)",
        '{"model_type": "gpt2"}',
    ],
)
def test_one_layer_refuses_what_may_cost_more(text: str) -> None:
    assert not one_layer(text)
