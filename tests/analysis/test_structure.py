"""Whole-model analyses on hand-built trees, every expected number derived in a comment."""

from __future__ import annotations

import pytest

from hf_oracle import CONFIGS, counted_class, shipped, transformers_model
from paramcount.analysis.context import index_entries, occurrences
from paramcount.analysis.structure import EMBEDDING_KINDS, active_parameters, blocks, embedding_parameters, module_table
from paramcount.layers import build
from paramcount.sources.hf import build_config_tree
from paramcount.sources.hf.builders._common import embedding, experts, linear, module, stack, tied_linear
from paramcount.tree import Dim, Module, parameter_count

H, F, E, V = Dim.of(8, "hidden_size"), Dim.of(16, "intermediate_size"), Dim.of(4, "num_experts"), Dim.of(10, "vocab")


def _moe_model(layers: int, experts_count: int, per_token: int) -> Module:
    expert = module("0", "Expert", linear("up", H, F, bias=False), linear("down", F, H, bias=False))
    expert_list = experts(stack("experts", expert, experts_count), experts_count, per_token)
    block = module("0", "Block", linear("gate", H, Dim.of(experts_count, "num_experts"), bias=False), expert_list)
    body = module("model", "Body", embedding("embed", V, H), stack("layers", block, layers))
    return module("", "Model", body, tied_linear("head", H, V, "model.embed.weight"))


def test_active_parameters_of_a_mixture_of_experts() -> None:
    # Per layer: router 4·8 = 32; each expert 8·16 + 16·8 = 256, 4 experts = 1,024. Embedding 10·8 = 80;
    # the head is tied (0 more). Total = 80 + 2·(32 + 1,024) = 2,192.
    # Two of the four experts run per token: inactive 2·2·256 = 1,024, so active = 2,192 - 1,024 = 1,168.
    model = _moe_model(layers=2, experts_count=4, per_token=2)
    assert parameter_count(model) == 2_192
    assert active_parameters(model) == 1_168


def test_dense_models_have_no_active_figure() -> None:
    assert active_parameters(build("Linear", (3, 4))) is None


def test_embeddings_counted_once_when_tied() -> None:
    # The 10·8 = 80 embedding weights; the tied head adds nothing.
    assert embedding_parameters(_moe_model(layers=2, experts_count=4, per_token=2)) == 80


def test_module_table_collapses_repeated_blocks() -> None:
    rows = {row.path: row for row in module_table(_moe_model(layers=3, experts_count=4, per_token=1))}
    assert rows["model.layers.0-2"].times == 3
    assert rows["model.layers.0-2"].total == 32 + 1_024  # per copy
    assert rows["model.layers.0-2.experts.0-3"].times == 12  # 3 layers × 4 experts
    assert rows[""].total == 80 + 3 * 1_056


def test_blocks_open_the_dominant_child() -> None:
    # "model" holds everything (the head is tied), so the picture shows its parts.
    found = blocks(_moe_model(layers=2, experts_count=4, per_token=2))
    assert [(b.path, b.parameters, b.times) for b in found] == [
        ("model.embed", 80, 1),
        ("model.layers", 2 * 1_056, 2),
        ("head", 0, 1),
    ]


def test_occurrences_separate_exact_and_bias_mismatch() -> None:
    with_bias = build("Conv2d", (256, 512, 3), [("padding", 1)])
    without_bias = build("Conv2d", (256, 512, 3), [("stride", 2), ("bias", False)])
    models = [("a", module("", "A", with_bias.renamed("conv"))), ("b", module("", "B", without_bias.renamed("c")))]
    entries = index_entries(models, lambda layer: layer.kind)
    found = occurrences(build("Conv2d", (256, 512, 3)), entries)
    # 512·256·3·3 = 1,179,648 weights; with the bias 512 more.
    assert [(o.entry.model, o.entry.path, o.exact, o.entry.total) for o in found] == [
        ("a", "conv", True, 1_180_160),
        ("b", "c", False, 1_179_648),
    ]


def test_totals_of_a_tied_repeated_partly_frozen_model() -> None:
    # The MoE model above (total 2,192, the head tied to the 80-element embedding) with the router of every
    # layer frozen: 2 layers · 32 = 64 frozen, 2,192 - 64 = 2,128 trainable; tied elements counted once.
    from paramcount._record import replace
    from paramcount.analysis.counts import totals
    from paramcount.layers._registry import set_trainable

    model = _moe_model(layers=2, experts_count=4, per_token=2)
    body, head = model.children
    embed, layers = body.children
    block = layers.children[0]
    frozen_block = replace(block, children=(set_trainable(block.children[0], False), *block.children[1:]))
    frozen = replace(model, children=(replace(body, children=(embed, replace(layers, children=(frozen_block,)))), head))
    found = totals(frozen)
    assert (found.total, found.trainable, found.non_trainable, found.tied) == (2_192, 2_128, 64, 80)
    assert found.total == parameter_count(frozen)
    assert found.trainable == parameter_count(frozen, trainable=True)


CONFIG_NAMES = sorted(path.name for path in CONFIGS.glob("*.json"))


@pytest.mark.parametrize("name", CONFIG_NAMES)
def test_excluding_embeddings_matches_transformers(name: str) -> None:
    # transformers' num_parameters(exclude_embeddings=True) leaves out the weight of every module that is an
    # nn.Embedding, subclasses included (Gemma's scaled embedding, BART's and OPT's learned positions).
    config = shipped(name)
    architecture = counted_class(config)
    import transformers

    model = transformers_model(config, architecture)
    assert isinstance(model, transformers.PreTrainedModel)
    expected = model.num_parameters(exclude_embeddings=True)
    tree = build_config_tree(config, architecture=architecture)
    assert parameter_count(tree) - embedding_parameters(tree) == expected


# Where transformers 5.24 defines each nn.Embedding subclass the HF door builds.
EMBEDDING_SUBCLASS_MODULES = {
    "BartLearnedPositionalEmbedding": "bart",
    "BartScaledWordEmbedding": "bart",
    "GemmaTextScaledWordEmbedding": "gemma",
    "Gemma2TextScaledWordEmbedding": "gemma2",
    "Gemma3TextScaledWordEmbedding": "gemma3",
    "MarianSinusoidalPositionalEmbedding": "marian",
    "MBartLearnedPositionalEmbedding": "mbart",
    "MBartScaledWordEmbedding": "mbart",
    "OPTLearnedPositionalEmbedding": "opt",
    "PegasusSinusoidalPositionalEmbedding": "pegasus",
    "WhisperPositionalEmbedding": "whisper",
}


def test_embedding_kinds_are_embedding_subclasses() -> None:
    # Each kind the analysis treats as an embedding table is nn.Embedding, torch's EmbeddingBag, or a
    # transformers subclass of nn.Embedding (which num_parameters(exclude_embeddings=True) excludes).
    import importlib

    import torch

    assert set(EMBEDDING_SUBCLASS_MODULES) == EMBEDDING_KINDS - {"Embedding", "EmbeddingBag"}
    for kind, family in EMBEDDING_SUBCLASS_MODULES.items():
        module = importlib.import_module(f"transformers.models.{family}.modeling_{family}")
        assert issubclass(getattr(module, kind), torch.nn.Embedding), kind
