"""The questions the site publishes: what the sitemap lists, the home page links and the static export writes.

Four groups, each in a stable order: typical layer sizes people ask about, the distinct layer
configurations of the zoo models (the most widely used first, capped), every zoo model, and every
shipped hub id. Every query here is already in canonical form (a test checks it), so its slug comes
from the text alone, without counting.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from paramcount.analysis.planner import PlanOptions
from paramcount.layers import known_layers
from paramcount.sources.hf.hub import shipped_hub_ids
from paramcount.web.planning import option_fields
from paramcount.web.slugs import hub_slug, slug_for
from paramcount.web.targets import memory_slug, output_slug
from paramcount.zoo import known_models
from paramcount.zoo_index import load_index

__all__ = ["MAX_ZOO_LAYERS", "MEMORY_MODELS", "MEMORY_PLANS", "OUTPUT_SIZES", "TYPICAL", "Question", "curated"]

MAX_ZOO_LAYERS = 300
"""Most distinct zoo layer configurations published (the zoo has several hundred)."""

TYPICAL = (
    # Linear: MLP heads, transformer projections (BERT-base, GPT-2, Llama-3-8B)
    "Linear(784, 128)",
    "Linear(128, 10)",
    "Linear(512, 10)",
    "Linear(2048, 1000)",
    "Linear(768, 768)",
    "Linear(768, 3072)",
    "Linear(3072, 768)",
    "Linear(1024, 1024)",
    "Linear(1024, 4096)",
    "Linear(4096, 4096)",
    "Linear(4096, 4096, bias=False)",
    "Linear(4096, 14336, bias=False)",
    "Linear(14336, 4096, bias=False)",
    # Convolutions
    "Conv2d(1, 32, 3)",
    "Conv2d(3, 32, 3)",
    "Conv2d(3, 64, 3)",
    "Conv2d(32, 64, 3)",
    "Conv2d(64, 64, 3)",
    "Conv2d(64, 128, 3)",
    "Conv2d(128, 128, 3)",
    "Conv2d(128, 256, 3)",
    "Conv2d(256, 256, 3)",
    "Conv2d(256, 512, 3)",
    "Conv2d(256, 512, 3, bias=False)",
    "Conv2d(512, 512, 3)",
    "Conv2d(256, 512, 1)",
    "Conv2d(256, 256, 3, groups=256)",
    "Conv2d(3, 64, 7, stride=2, padding=3, bias=False)",
    "Conv1d(1, 16, 3)",
    "Conv1d(128, 128, 3)",
    "Conv3d(3, 64, 3)",
    "ConvTranspose2d(256, 128, 2, stride=2)",
    # Embeddings: word2vec-sized, BERT, GPT-2, Llama-2, Llama-3
    "Embedding(10000, 300)",
    "Embedding(30522, 768)",
    "Embedding(50257, 768)",
    "Embedding(32000, 4096)",
    "Embedding(128256, 4096)",
    # Recurrent
    "RNN(128, 256)",
    "LSTM(128, 256)",
    "LSTM(256, 512, num_layers=2)",
    "LSTM(300, 512, batch_first=True)",
    "LSTM(512, 1024, num_layers=2, bidirectional=True)",
    "GRU(256, 512)",
    "GRU(512, 512, num_layers=2, bidirectional=True)",
    # Attention and transformer blocks
    "MultiheadAttention(512, 8)",
    "MultiheadAttention(768, 12)",
    "MultiheadAttention(1024, 16)",
    "MultiheadAttention(4096, 32)",
    "TransformerEncoderLayer(512, 8)",
    "TransformerEncoderLayer(768, 12)",
    "TransformerDecoderLayer(512, 8)",
    # Normalisation
    "LayerNorm(768)",
    "LayerNorm(4096)",
    "RMSNorm(4096)",
    "BatchNorm2d(64)",
    "BatchNorm2d(256)",
    "GroupNorm(32, 256)",
)


MEMORY_MODELS = (
    "meta-llama/Llama-3.1-8B",
    "meta-llama/Llama-3.2-1B",
    "mistralai/Mistral-7B-v0.1",
    "Qwen/Qwen2.5-7B",
    "google/gemma-7b",
    "microsoft/Phi-3-mini-4k-instruct",
)
"""Models whose memory questions are published (inference, full fine-tuning, LoRA, QLoRA)."""

MEMORY_PLANS = (
    PlanOptions(),
    PlanOptions(seq_len=8192),
    PlanOptions(optimizer="adamw", mixed_precision="bf16", seq_len=2048, gradient_checkpointing=True),
    PlanOptions(optimizer="adamw", mixed_precision="bf16", seq_len=2048, gpu="H100-80GB"),
    PlanOptions(optimizer="adamw", lora_rank=16, seq_len=2048),
    PlanOptions(optimizer="adamw", quantization="nf4", lora_rank=16, seq_len=2048),
)
"""Inference (weights; with an 8k-token KV cache), full fine-tuning with AdamW in bf16 mixed precision (with
recomputation; without, against an H100), LoRA and QLoRA at rank 16."""

OUTPUT_SIZES = (
    ("Conv2d(3, 64, 3)", (1, 3, 224, 224)),
    ("Conv2d(3, 64, 3)", (1, 3, 256, 256)),
    ("Conv2d(3, 64, 3, padding=1)", (1, 3, 224, 224)),
    ("Conv2d(3, 64, 7, stride=2, padding=3)", (1, 3, 224, 224)),
    ("Conv2d(3, 96, 11, stride=4)", (1, 3, 227, 227)),
    ("Conv2d(1, 32, 3)", (1, 1, 28, 28)),
    ("Conv2d(3, 32, 3)", (1, 3, 32, 32)),
    ("Conv2d(3, 64, 5)", (1, 3, 32, 32)),
    ("Conv2d(3, 16, 3, dilation=2)", (1, 3, 64, 64)),
    ("Conv2d(64, 128, 3, stride=2, padding=1)", (1, 64, 56, 56)),
    ("ConvTranspose2d(256, 128, 2, stride=2)", (1, 256, 14, 14)),
    ("Conv1d(1, 16, 3)", (1, 1, 100)),
    ("MaxPool2d(2)", (1, 64, 112, 112)),
)
"""Output-size questions: common first convolutions at common image sizes, and a few neighbours."""


@dataclass(frozen=True, slots=True)
class Question:
    slug: str
    query: str
    group: str
    """``layer`` (typical sizes), ``zoo-layer``, ``model``, ``hub``, ``memory`` or ``output``."""
    label: str = ""
    """How the list of answers names it (the query when empty)."""


def _zoo_layers() -> list[str]:
    models: dict[str, set[str]] = {}
    for kind in known_layers():
        for entry in load_index(kind):
            models.setdefault(entry.expression, set()).add(entry.model)
    ranked = sorted(models, key=lambda expression: (-len(models[expression]), expression))
    return ranked


def _describe(options: PlanOptions) -> str:
    """``optimizer adamw, lora rank 16, seq len 2048`` — the options that differ from the defaults."""
    fields = option_fields(options)
    words = [name.replace("_", " ") + ("" if value == "true" else f" {value}") for name, value in fields.items()]
    return ", ".join(words) or "inference"


@cache
def curated() -> tuple[Question, ...]:
    """Every published question once, typical sizes first."""
    found: dict[str, Question] = {}

    def add(slug: str | None, query: str, group: str, label: str = "") -> None:
        if slug is not None and slug not in found:
            found[slug] = Question(slug, query, group, label)

    for query in TYPICAL:
        add(slug_for(query), query, "layer")
    zoo_layers = 0
    for query in _zoo_layers():
        if zoo_layers >= MAX_ZOO_LAYERS:
            break
        slug = slug_for(query)
        if slug is not None and slug not in found:
            zoo_layers += 1
        add(slug, query, "zoo-layer")
    for model in known_models():
        add(slug_for(f"{model}()"), f"{model}()", "model")
    for hub_id in sorted(set(shipped_hub_ids()), key=str.lower):
        add(hub_slug(hub_id), hub_id, "hub")
    for hub_id in MEMORY_MODELS:
        base = hub_slug(hub_id)
        for options in MEMORY_PLANS:
            add(memory_slug(base, options) if base else None, hub_id, "memory", f"{hub_id}: {_describe(options)}")
    for query, shape in OUTPUT_SIZES:
        base = slug_for(query)
        add(output_slug(base, shape) if base else None, query, "output", f"{query} on {'×'.join(map(str, shape))}")
    return tuple(found.values())
