"""Configs that leave keys out count as transformers builds them: the defaults table (generated from transformers'
config classes by tools/generate_hf_defaults.py) is current, and for every supported ``model_type`` a config of
that type alone, configs that set sizes through ``attribute_map`` aliases, and LLaVA with every text tower all
equal the model transformers builds on the meta device."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import pytest

from hf_oracle import assert_same_model, transformers_model
from paramcount.errors import ConfigError
from paramcount.sources.hf import build_config_tree, supported_model_types
from paramcount.sources.hf._defaults import DEFAULTS
from paramcount.sources.hf._registry import spec_for
from paramcount.tree import parameter_count

TOOL = Path(__file__).parents[3] / "tools" / "generate_hf_defaults.py"


def test_defaults_table_is_generated_from_the_pinned_transformers() -> None:
    spec = importlib.util.spec_from_file_location("generate_hf_defaults", TOOL)
    assert spec is not None
    assert spec.loader is not None
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    assert DEFAULTS.read_text(encoding="utf-8") == tool.render(tool.generate()), "run tools/generate_hf_defaults.py"


# CLIPConfig holds its towers' sizes in text_config / vision_config: transformers builds CLIPTextModel from a
# CLIPTextConfig (clip_text_model, tested below), not from a CLIPConfig, which has no hidden_size.
_NOT_BUILT_BY_TRANSFORMERS = {("clip", name) for name in spec_for("clip").architectures if name != "CLIPModel"}

ALONE = [
    (kind, architecture)
    for kind in supported_model_types()
    for architecture in spec_for(kind).architectures
    if (kind, architecture) not in _NOT_BUILT_BY_TRANSFORMERS
]


@pytest.mark.parametrize(("kind", "architecture"), ALONE, ids=[f"{k}-{a}" for k, a in ALONE])
def test_model_type_alone_is_transformers_default_model(kind: str, architecture: str) -> None:
    assert_same_model({"model_type": kind}, architecture)


ALIASES = [
    # GPT2Config.attribute_map: hidden_size → n_embd, num_attention_heads → n_head, num_hidden_layers → n_layer,
    # max_position_embeddings → n_positions.
    (
        {"model_type": "gpt2", "hidden_size": 256, "num_attention_heads": 4, "num_hidden_layers": 3},
        "GPT2LMHeadModel",
    ),
    ({"model_type": "gpt2", "max_position_embeddings": 64}, "GPT2Model"),
    # T5Config: hidden_size → d_model, num_attention_heads → num_heads, num_hidden_layers → num_layers, head_dim → d_kv.
    (
        {"model_type": "t5", "hidden_size": 128, "num_attention_heads": 4, "num_hidden_layers": 2, "head_dim": 32},
        "T5ForConditionalGeneration",
    ),
    # BartConfig / WhisperConfig: hidden_size → d_model, num_hidden_layers → encoder_layers, heads → encoder heads.
    ({"model_type": "bart", "hidden_size": 128, "num_hidden_layers": 2, "num_attention_heads": 4}, "BartModel"),
    ({"model_type": "whisper", "hidden_size": 192, "num_hidden_layers": 2}, "WhisperForConditionalGeneration"),
    # DeepseekV3Config: num_local_experts → n_routed_experts.
    ({"model_type": "deepseek_v3", "num_local_experts": 8, "num_hidden_layers": 4}, "DeepseekV3ForCausalLM"),
]


@pytest.mark.parametrize(("config", "architecture"), ALIASES, ids=[str(c["model_type"]) for c, _ in ALIASES])
def test_sizes_given_through_an_alias_win_over_the_default(config: dict[str, Any], architecture: str) -> None:
    assert_same_model(config, architecture)


def _text_towers() -> list[str]:
    """Every supported type with a language-model head, as LLaVA's ``text_config``."""
    return [
        kind
        for kind in supported_model_types()
        if any(name.endswith(("ForCausalLM", "LMHeadModel")) for name in spec_for(kind).architectures)
    ]


# transformers 5.24 ties LLaVA's lm_head to language_model.embed_tokens: it fails on these towers, whose class ties
# by default and names the embedding otherwise (wte, word_embeddings, embed_tokens under a decoder).
UNTIEABLE = {
    "bert", "bloom", "electra", "falcon", "gpt2", "gpt_bigcode", "gpt_neo", "mamba", "marian", "mbart", "mpt",
    "openai-gpt", "opt", "pegasus", "roberta", "xlm-roberta",
}  # fmt: skip


@pytest.mark.parametrize("kind", [kind for kind in _text_towers() if kind not in UNTIEABLE])
def test_llava_text_tower_keeps_its_own_class_defaults(kind: str) -> None:
    """``tie_word_embeddings`` left out of the text_config is the text class's default (True for Gemma):
    LlavaConfig takes it, so the head is tied (counted once), as in transformers."""
    assert_same_model({"model_type": "llava", "text_config": {"model_type": kind}}, "LlavaForConditionalGeneration")


@pytest.mark.parametrize("kind", sorted(UNTIEABLE))
def test_llava_refuses_to_tie_what_transformers_cannot(kind: str) -> None:
    config: dict[str, Any] = {"model_type": "llava", "text_config": {"model_type": kind}}
    with pytest.raises(AttributeError, match="has no attribute `embed_tokens`"):
        transformers_model(config, "LlavaForConditionalGeneration")
    with pytest.raises(ConfigError, match="cannot tie LLaVA's lm_head") as caught:
        build_config_tree(config)
    assert caught.value.key_path == "text_config.tie_word_embeddings"
    untied = {"model_type": "llava", "text_config": {"model_type": kind, "tie_word_embeddings": False}}
    assert_same_model(untied, "LlavaForConditionalGeneration")
    assert_same_model(config, "LlavaModel")


def test_llava_gemma_text_tower_ties_its_head() -> None:
    """The reported miscount: a Gemma text tower without ``tie_word_embeddings`` got an untied lm_head."""
    text = {"model_type": "gemma", "hidden_size": 1024, "intermediate_size": 4096, "num_hidden_layers": 4}
    config = {"model_type": "llava", "text_config": text}
    theirs = transformers_model(config, "LlavaForConditionalGeneration")
    ours = build_config_tree(config)
    assert parameter_count(ours) == sum(p.numel() for p in theirs.parameters())
    untied = parameter_count(build_config_tree({**config, "text_config": {**text, "tie_word_embeddings": False}}))
    assert untied - parameter_count(ours) == 256_000 * 1024  # Gemma's vocab_size × hidden_size: one lm_head
