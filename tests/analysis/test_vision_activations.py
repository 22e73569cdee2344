"""The activation estimate of vision-language models covers their image towers' layers, each tower on its own line.

Expected sizes come from transformers' config objects (defaults filled in) and a derivation per family, written
below: the tower's layers, its width, and the tokens one image gives it at the configured image size, one image per
text sequence.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hf_oracle import shipped, transformers_config
from paramcount._record import replace
from paramcount.analysis.memory import Assumption, MemoryItem
from paramcount.analysis.planner import PlanOptions, plan_memory, transformer_dimensions
from paramcount.analysis.planner.plan import MemoryPlan
from paramcount.analysis.planner.transformer import VisionLayers, transformer_activations
from paramcount.analysis.planner.weights import parameter_uses
from paramcount.api import from_config
from paramcount.tree import Module

BATCH, SEQ = 2, 4096
QWEN_IMAGE = 448  # the shapes package's Qwen-VL image (qwen_vl.IMAGE_SIDE): 448² pixels in patch² patches


def _grid(vision: Any) -> int:
    return int((vision.image_size // vision.patch_size) ** 2)


# name: (layers, hidden, tokens per sequence, sequences, heads the tree records) from the vision config ``v``.
DERIVATIONS: dict[str, Callable[[Any], tuple[int, int, int, int, int | None]]] = {
    # CLIP ViT-L/14 at 336²: 24² patches and the class token, one sequence per image; every layer runs
    "llava-hf/llava-1.5-7b-hf": lambda v: (v.num_hidden_layers, v.hidden_size, _grid(v) + 1, BATCH, None),
    # AnyRes: a 336² image fits every pinpoint whole; 336×672 (the first) wastes least: the base tile and a 1×2 grid
    "llava-hf/llava-v1.6-mistral-7b-hf": lambda v: (v.num_hidden_layers, v.hidden_size, _grid(v) + 1, 3 * BATCH, None),
    # SigLIP: grid² patches, no class token
    "google/paligemma-3b-pt-224": lambda v: (v.num_hidden_layers, v.hidden_size, _grid(v), BATCH, None),
    "google/gemma-3-4b-it": lambda v: (v.num_hidden_layers, v.hidden_size, _grid(v), BATCH, None),
    "HuggingFaceM4/Idefics3-8B-Llama3": lambda v: (v.num_hidden_layers, v.hidden_size, _grid(v), BATCH, None),
    # Pixtral: every image's patches as one sequence (block-diagonal mask)
    "mistralai/Mistral-Small-3.1-24B-Instruct-2503": lambda v: (
        v.num_hidden_layers,
        v.hidden_size,
        BATCH * _grid(v),
        1,
        None,
    ),
    # Qwen2-VL's tower: every image's patches as one sequence (patches, embed_dim)
    "Qwen/Qwen2-VL-7B-Instruct": lambda v: (v.depth, v.embed_dim, BATCH * (QWEN_IMAGE // v.patch_size) ** 2, 1, None),
    # Llama 4: the class token too; its attention's shapes record the head count
    "meta-llama/Llama-4-Scout-17B-16E-Instruct": lambda v: (
        v.num_hidden_layers,
        v.hidden_size,
        _grid(v) + 1,
        BATCH,
        v.num_attention_heads,
    ),
}


def _activations(plan: MemoryPlan) -> list[MemoryItem]:
    return [item for item in plan.items if item.category == "activations"]


def _outside(tree: Module, note: Assumption) -> str:
    """A name of Linear layers outside the tower (the language model's, or the projector's) and none inside."""
    linear = [use for use in parameter_uses(tree) if use.is_linear_weight]
    inside = f"{dict(note.values)['stack']}."
    names = {use.module_name for use in linear}
    return min(names - {use.module_name for use in linear if use.module_path.startswith(inside)})


@pytest.mark.parametrize("name", list(DERIVATIONS))
def test_vision_tower_layers_are_their_own_line(name: str) -> None:
    vision = transformers_config(shipped(f"{name.replace('/', '--')}.json")).vision_config
    layers, hidden, tokens, sequences, heads = DERIVATIONS[name](vision)
    tree = from_config(name).tree
    plan = plan_memory(tree, None, PlanOptions(optimizer="adamw", seq_len=SEQ, batch=BATCH))
    note = next(note for note in plan.assumptions if note.kind == "activations-vision")
    values = dict(note.values)
    found = (values["layers"], values["hidden"], values["seq_len"], values["batch"], values["heads"])
    assert found == (layers, hidden, tokens, sequences, heads)
    e = dict(next(note for note in plan.assumptions if note.kind == "activations-korthikanti").values)["element_bytes"]
    assert isinstance(e, int)
    line = next(item for item in plan.items if " vision layers × " in item.label)
    assert line.label.startswith(f"activations: {layers} vision layers × sbh(")
    assert line.bytes == layers * tokens * sequences * hidden * (16 * e + 2)  # sdpa: no s × s scores
    # adapters on Linear layers of a name the tower lacks leave it frozen: it keeps nothing and its line, alone, goes
    lora = PlanOptions(optimizer="adamw", seq_len=SEQ, batch=BATCH, lora_rank=8, lora_targets=_outside(tree, note))
    others = [item for item in _activations(plan) if item is not line]
    assert _activations(plan_memory(tree, None, lora)) == others
    # so do weights without requires_grad (the tower's, the rest trained in full)
    options = PlanOptions(optimizer="adamw", seq_len=SEQ, batch=BATCH)
    assert _activations(plan_memory(_freeze(tree, str(values["stack"])), None, options)) == others


def _freeze(module: Module, path: str, here: str = "") -> Module:
    """``module`` with the parameters under ``path`` frozen."""
    frozen = here.startswith(path)
    params = tuple(replace(param, trainable=False) for param in module.params) if frozen else module.params
    children = tuple(_freeze(child, path, f"{here}.{child.name}" if here else child.name) for child in module.children)
    return replace(module, params=params, children=children)


def test_llama4_eager_vision_line_keeps_the_scores() -> None:
    vision = transformers_config(shipped("meta-llama--Llama-4-Scout-17B-16E-Instruct.json")).vision_config
    s, h, a, layers = _grid(vision) + 1, vision.hidden_size, vision.num_attention_heads, vision.num_hidden_layers
    tree = from_config("meta-llama/Llama-4-Scout-17B-16E-Instruct").tree
    plan = plan_memory(tree, None, PlanOptions(optimizer="adamw", seq_len=SEQ, attention="eager"))
    line = next(item for item in plan.items if " vision layers × " in item.label)
    assert line.bytes == layers * (34 * s * h + 5 * a * s * s)  # sbh(34 + 5as/h), b = 1, bfloat16


def test_onevision_language_model_is_the_text_stack_beside_a_larger_tower() -> None:
    # LLaVA-OneVision-0.5B: SigLIP (400M) is larger than Qwen2-0.5B's layers; the cache and the estimate are the
    # language model's, whose width the output head reads
    text = transformers_config(shipped("llava-hf--llava-onevision-qwen2-0.5b-ov-hf.json")).text_config
    dims = transformer_dimensions(from_config("llava-hf/llava-onevision-qwen2-0.5b-ov-hf").tree)
    assert dims is not None
    assert (dims.stack, dims.layers, dims.hidden) == (
        "model.language_model.layers",
        text.num_hidden_layers,
        text.hidden_size,
    )


@given(
    towers=st.lists(
        st.builds(
            VisionLayers,
            stack=st.just("tower"),
            layers=st.integers(1, 40),
            seq_len=st.integers(1, 5000),
            batch=st.integers(1, 8),
            hidden=st.integers(1, 2048),
            heads=st.none() | st.integers(1, 32),
        ),
        max_size=2,
    ),
    e=st.sampled_from([2, 4]),
    tp=st.integers(1, 8),
    sequence_parallel=st.booleans(),
    recompute=st.sampled_from(["none", "selective", "full"]),
    scores=st.booleans(),
)
def test_each_tower_is_the_estimate_of_a_stack_of_its_sizes(
    towers: list[VisionLayers], e: int, tp: int, sequence_parallel: bool, recompute: Any, scores: bool
) -> None:
    def estimate(stack: VisionLayers, vision: tuple[VisionLayers, ...] = ()) -> tuple[MemoryItem, ...]:
        return transformer_activations(
            seq_len=stack.seq_len,
            batch=stack.batch,
            hidden=stack.hidden,
            heads=stack.heads,
            layers=stack.layers,
            scores=scores,
            element_bytes=e,
            tp=tp,
            sequence_parallel=sequence_parallel,
            recompute=recompute,
            vision=vision,
        ).items

    text = VisionLayers("text", layers=12, seq_len=1024, batch=2, hidden=512, heads=8)
    alone, both = estimate(text), estimate(text, tuple(towers))
    stacks = [estimate(tower) for tower in towers]
    if recompute == "full":  # each stack's inputs; the largest layer once
        assert [item.bytes for item in both[:-1]] == [alone[0].bytes] + [items[0].bytes for items in stacks]
        assert both[-1].bytes == max(items[-1].bytes for items in [alone, *stacks])
    else:
        assert [item.bytes for item in both] == [alone[0].bytes] + [items[0].bytes for items in stacks]
