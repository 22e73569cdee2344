"""Which layers attend within a sliding window: the door's ``layer_types``/``sliding_window`` root attributes against
the cache layers transformers 5.24 gives a config (``cache_utils.get_layer_types_and_kwargs`` on
``AutoConfig.for_model(...).get_text_config(decoder=True)``, what ``DynamicCache(config=...)`` builds)."""

from __future__ import annotations

from typing import Any

import pytest
import transformers
from hypothesis import given, reject, settings
from hypothesis import strategies as st
from transformers.cache_utils import get_layer_types_and_kwargs

from hf_oracle import shipped
from paramcount.errors import ConfigError
from paramcount.sources.hf import build_config_tree
from paramcount.sources.hf._attention_layers import attention_layers

FAMILIES = ("mistral", "mixtral", "phi3", "qwen2", "qwen3", "qwen2_moe", "qwen3_moe", "gemma2", "gemma3_text", "llama")
ABSENT = object()


def theirs(config: dict[str, Any]) -> tuple[tuple[str, ...], tuple[int | None, ...]]:
    """Each layer's cache type and window as transformers builds the cache (None: a full-attention layer)."""
    settings = {key: value for key, value in config.items() if key != "architectures"}
    try:
        text = transformers.AutoConfig.for_model(**settings).get_text_config(decoder=True)
    except TypeError:  # gemma3_text halves a window of None under use_bidirectional_attention
        reject()
    try:
        types, kwargs = get_layer_types_and_kwargs(text)
    except AttributeError:  # sliding layers in a family without a window attribute (llama): no cache to compare
        reject()
    return tuple(types), tuple(entry.get("sliding_window") for entry in kwargs)


WINDOWED = ("sliding_attention", "chunked_attention")


def ours(config: dict[str, Any], layers: int) -> tuple[tuple[str, ...], tuple[int | None, ...]]:
    found = dict(attention_layers(config, config["model_type"], "config.json"))
    types = found.get("layer_types", ("full_attention",) * layers)
    assert isinstance(types, tuple)
    window = found.get("sliding_window", found.get("attention_chunk_size"))
    assert window is None or isinstance(window, int)
    return tuple(str(kind) for kind in types), tuple(window if kind in WINDOWED else None for kind in types)


@st.composite
def window_configs(draw: st.DrawFn) -> dict[str, Any]:
    layers = draw(st.integers(1, 8))
    config: dict[str, Any] = {"model_type": draw(st.sampled_from(FAMILIES)), "num_hidden_layers": layers}
    optional = {
        "sliding_window": st.one_of(st.none(), st.integers(1, 64)),
        "use_sliding_window": st.booleans(),
        "max_window_layers": st.integers(0, 8),
        "layer_types": st.lists(st.sampled_from(["full_attention", "sliding_attention"]), min_size=layers).map(
            lambda kinds: kinds[:layers]
        ),
    }
    if config["model_type"] == "gemma3_text":
        optional |= {"sliding_window_pattern": st.integers(1, 4), "use_bidirectional_attention": st.booleans()}
    return with_some(draw, config, optional)


def with_some(draw: st.DrawFn, config: dict[str, Any], optional: dict[str, Any]) -> dict[str, Any]:
    """``config`` with some of the ``optional`` keys, each drawn from its strategy."""
    for key, values in optional.items():
        value = draw(st.one_of(st.just(ABSENT), values))
        if value is not ABSENT:
            config[key] = value
    return config


def assert_cached_as_transformers(config: dict[str, Any]) -> None:
    expected, layers = theirs(config), config["num_hidden_layers"]
    # A sliding (or chunked) layer without a window cannot run in transformers (DynamicSlidingWindowLayer(None));
    # the door then records no such layers, as the cache cannot be built.
    if any(kind in WINDOWED and window is None for kind, window in zip(*expected, strict=True)):
        assert ours(config, layers) == (("full_attention",) * layers, (None,) * layers)
        return
    assert ours(config, layers) == expected


@settings(max_examples=40)
@given(config=window_configs())
def test_layer_types_and_window_are_what_transformers_caches(config: dict[str, Any]) -> None:
    assert_cached_as_transformers(config)


@st.composite
def chunked_configs(draw: st.DrawFn) -> dict[str, Any]:
    """Llama 4's text model: chunked layers where no_rope_layers says rotary (by default all but every 4th)."""
    layers = draw(st.integers(1, 8))
    config: dict[str, Any] = {"model_type": "llama4_text", "num_hidden_layers": layers}
    flags = st.lists(st.sampled_from([0, 1]), min_size=layers, max_size=layers)
    optional = {
        "attention_chunk_size": st.one_of(st.none(), st.integers(1, 64)),
        "no_rope_layers": st.one_of(st.just([]), flags),
        "no_rope_layer_interval": st.integers(1, 5),
        "layer_types": st.lists(st.sampled_from(["full_attention", "chunked_attention"]), min_size=layers).map(
            lambda kinds: kinds[:layers]
        ),
    }
    return with_some(draw, config, optional)


@settings(max_examples=30)
@given(config=chunked_configs())
def test_llama4_chunked_layers_are_what_transformers_caches(config: dict[str, Any]) -> None:
    # get_layer_types_and_kwargs gives a chunked layer a DynamicSlidingWindowLayer whose window is the chunk
    assert_cached_as_transformers(config)


def test_llama4_records_its_chunked_layers_on_the_composite_model() -> None:
    # Scout: 48 layers, every 4th NoPE (full attention), the rest attend within chunks of 8,192
    attributes = dict(build_config_tree(shipped("meta-llama--Llama-4-Scout-17B-16E-Instruct.json")).attributes)
    types = attributes["layer_types"]
    assert isinstance(types, tuple)
    assert (attributes["attention_chunk_size"], types.count("chunked_attention"), len(types)) == (8192, 36, 48)
    assert (types, {8192}) == (
        theirs(shipped("meta-llama--Llama-4-Scout-17B-16E-Instruct.json"))[0],
        {w for w in theirs(shipped("meta-llama--Llama-4-Scout-17B-16E-Instruct.json"))[1] if w is not None},
    )


@pytest.mark.parametrize(
    ("name", "window", "sliding"),
    [
        ("google--gemma-2-9b.json", 4096, 21),  # 42 layers, every other one local
        ("google--gemma-3-1b-it.json", 512, 22),  # 26 layers, 5 of every 6 local
        ("google--gemma-3-4b-it.json", 1024, 29),  # the text_config: 34 layers, 5 of every 6 local
        ("mistralai--Mistral-7B-v0.1.json", 4096, 32),  # every layer
        ("microsoft--Phi-3-mini-4k-instruct.json", 2047, 32),
    ],
)
def test_shipped_configs_record_their_sliding_layers(name: str, window: int, sliding: int) -> None:
    attributes = dict(build_config_tree(shipped(name)).attributes)
    types = attributes["layer_types"]
    assert isinstance(types, tuple)
    assert (attributes["sliding_window"], types.count("sliding_attention")) == (window, sliding)
    expected_types, windows = theirs(shipped(name))
    assert types == expected_types
    assert {w for w in windows if w is not None} == {window}


@pytest.mark.parametrize("name", ["Qwen--Qwen2.5-7B.json", "meta-llama--Llama-3.1-8B.json", "gpt2.json"])
def test_configs_without_sliding_layers_record_nothing(name: str) -> None:
    attributes = dict(build_config_tree(shipped(name)).attributes)
    assert "layer_types" not in attributes
    assert "sliding_window" not in attributes


@pytest.mark.parametrize(
    ("change", "message", "key"),
    [
        ({"sliding_window": "4k"}, "config.json: 'sliding_window' must be an integer, got '4k'", "sliding_window"),
        ({"layer_types": "sliding"}, "config.json: 'layer_types' must be a list of strings", "layer_types"),
        (
            {"layer_types": ["sliding_attention"] * 3},
            "config.json: 'layer_types' lists 3 layers but 'num_hidden_layers' is 32",
            "layer_types",
        ),
    ],
)
def test_bad_window_keys_are_refused(change: dict[str, Any], message: str, key: str) -> None:
    with pytest.raises(ConfigError) as caught:
        build_config_tree(shipped("mistralai--Mistral-7B-v0.1.json") | change)
    assert (str(caught.value), caught.value.key_path) == (message, key)
