"""Speech encoders (wav2vec 2.0, HuBERT), checked against transformers on the meta device.

Each shipped config (sources in src/paramcount/sources/hf/configs/SOURCES.audio.md) is compared for the class it
names, parameters and buffers, and its total is pinned; every other class of the family is compared on the same
config. Hypothesis perturbs tiny configs (feature-encoder layers and norms, biases, stable layer norm, position
convolution, SpecAugment's masking vector, adapters, weighted layer sums, the x-vector and quantizer sizes).
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_encoders import labels

from hf_oracle import assert_same_model, other_classes, shipped, transformers_model
from paramcount.errors import ConfigError
from paramcount.sources.hf import build_config_tree
from paramcount.sources.hf._registry import spec_for
from paramcount.tree import iter_params, parameter_count

SHIPPED = {
    "facebook--wav2vec2-base-960h.json": 94_396_320,
    "facebook--hubert-base-ls960.json": 94_371_712,
}
"""Each config and its total as transformers 5.24 builds it (checked in the test), which agrees with the size its
publisher states (SOURCES.audio.md)."""


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_config_matches_transformers(name: str) -> None:
    config = shipped(name)
    tree = build_config_tree(config)
    assert_same_model(config, tree.kind)
    assert parameter_count(tree) == SHIPPED[name]


@pytest.mark.parametrize(("name", "architecture"), other_classes(tuple(SHIPPED)))
def test_other_classes_match_transformers(name: str, architecture: str) -> None:
    assert_same_model(shipped(name), architecture)


def test_position_convolution_is_weight_normalised_as_torch_parametrizes_it() -> None:
    # weight_norm(conv, dim=2): g is (1, 1, kernel), v the weight's (hidden, hidden/groups, kernel); no plain weight.
    tree = build_config_tree(shipped("facebook--wav2vec2-base-960h.json"))
    shapes = {path: param.sizes for path, param in iter_params(tree)}
    prefix = "wav2vec2.encoder.pos_conv_embed.conv"
    assert shapes[f"{prefix}.parametrizations.weight.original0"] == (1, 1, 128)
    assert shapes[f"{prefix}.parametrizations.weight.original1"] == (768, 768 // 16, 128)
    assert f"{prefix}.weight" not in shapes


def test_classifiers_refuse_adapters_as_transformers_does() -> None:
    config = {"model_type": "wav2vec2", "add_adapter": True}
    with pytest.raises(ConfigError, match="does not support adapters") as caught:
        build_config_tree(config, architecture="Wav2Vec2ForSequenceClassification")
    assert caught.value.key_path == "add_adapter"


@pytest.mark.parametrize(
    ("settings", "architecture", "key"),
    [
        ({"hidden_size": 768, "num_conv_pos_embedding_groups": 10}, "Wav2Vec2Model", "num_conv_pos_embedding_groups"),
        ({"codevector_dim": 256, "num_codevector_groups": 3}, "Wav2Vec2ForPreTraining", "num_codevector_groups"),
    ],
)
def test_sizes_transformers_cannot_build_are_refused(settings: dict[str, Any], architecture: str, key: str) -> None:
    config = {"model_type": "wav2vec2", **settings}
    with pytest.raises(ValueError, match="divisible"):
        transformers_model(config, architecture)
    with pytest.raises(ConfigError, match="must be divisible by") as caught:
        build_config_tree(config, architecture=architecture)
    assert caught.value.key_path == key


def test_unequal_convolution_lists_are_refused() -> None:
    with pytest.raises(ConfigError, match="equally long") as caught:
        build_config_tree({"model_type": "hubert", "conv_dim": [8, 8], "conv_kernel": [3], "conv_stride": [1, 1]})
    assert caught.value.key_path == "conv_dim"


# --- random configs --------------------------------------------------------------------------------------------


def _speech_sizes(draw: st.DrawFn, model_type: str) -> dict[str, Any]:
    heads = draw(st.integers(1, 3))
    groups = draw(st.integers(1, 2))
    hidden = heads * groups * draw(st.integers(1, 3))
    count = draw(st.integers(1, 3))
    dims = draw(st.lists(st.integers(1, 5), min_size=count, max_size=count))
    return {
        "model_type": model_type,
        "hidden_size": hidden,
        "num_attention_heads": heads,
        "num_hidden_layers": draw(st.integers(0, 2)),
        "intermediate_size": draw(st.integers(1, 8)),
        "vocab_size": draw(st.integers(1, 12)),
        "conv_dim": dims,
        "conv_kernel": draw(st.lists(st.integers(1, 4), min_size=count, max_size=count)),
        "conv_stride": draw(st.lists(st.integers(1, 3), min_size=count, max_size=count)),
        "feat_extract_norm": draw(st.sampled_from(["group", "layer"])),
        "conv_bias": draw(st.booleans()),
        "num_conv_pos_embeddings": draw(st.integers(1, 6)),
        "num_conv_pos_embedding_groups": groups,
        "do_stable_layer_norm": draw(st.booleans()),
        "mask_time_prob": draw(st.sampled_from([0.0, 0.05])),
        "mask_feature_prob": draw(st.sampled_from([0.0, 0.1])),
        "use_weighted_layer_sum": draw(st.booleans()),
        "classifier_proj_size": draw(st.integers(1, 6)),
        **labels(draw),
    }


@st.composite
def wav2vec2_configs(draw: st.DrawFn) -> dict[str, Any]:
    config = _speech_sizes(draw, "wav2vec2")
    groups = draw(st.integers(1, 3))
    tdnn = draw(st.integers(1, 3))
    config |= {
        "num_codevector_groups": groups,
        "num_codevectors_per_group": draw(st.integers(1, 4)),
        "codevector_dim": groups * draw(st.integers(1, 3)),
        "proj_codevector_dim": draw(st.integers(1, 5)),
        "tdnn_dim": draw(st.lists(st.integers(1, 5), min_size=tdnn, max_size=tdnn)),
        "tdnn_kernel": draw(st.lists(st.integers(1, 3), min_size=tdnn, max_size=tdnn)),
        "tdnn_dilation": [1] * tdnn,
        "xvector_output_dim": draw(st.integers(1, 5)),
    }
    if draw(st.booleans()):
        config["adapter_attn_dim"] = draw(st.integers(1, 4))
    return config


@st.composite
def hubert_configs(draw: st.DrawFn) -> dict[str, Any]:
    config = _speech_sizes(draw, "hubert")
    return config | {"feat_proj_layer_norm": draw(st.booleans()), "conv_pos_batch_norm": draw(st.booleans())}


@st.composite
def adapter_configs(draw: st.DrawFn) -> dict[str, Any]:
    """wav2vec 2.0 with ``add_adapter``: its base model and CTC head (the classifiers refuse adapters)."""
    config = _speech_sizes(draw, "wav2vec2")
    return config | {
        "add_adapter": True,
        "output_hidden_size": draw(st.sampled_from([None, config["hidden_size"], draw(st.integers(1, 5))])),
        "num_adapter_layers": draw(st.integers(0, 2)),
        "adapter_kernel_size": draw(st.integers(1, 3)),
        "adapter_stride": draw(st.integers(1, 2)),
    }


FAMILIES = {"wav2vec2": wav2vec2_configs(), "hubert": hubert_configs()}


@pytest.mark.parametrize("family", FAMILIES)
@settings(max_examples=15)
@given(data=st.data())
def test_random_config_matches_transformers(family: str, data: st.DataObject) -> None:
    config = data.draw(FAMILIES[family], label="config")
    architecture = data.draw(st.sampled_from(spec_for(config["model_type"]).architectures), label="architecture")
    assert_same_model(config, architecture)


@settings(max_examples=10)
@given(config=adapter_configs(), architecture=st.sampled_from(["Wav2Vec2Model", "Wav2Vec2ForCTC"]))
def test_random_adapter_config_matches_transformers(config: dict[str, Any], architecture: str) -> None:
    assert_same_model(config, architecture)
