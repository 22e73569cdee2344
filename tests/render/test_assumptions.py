"""Assumptions are data (a kind and its values); the renderer writes the sentence and the JSON data."""

from __future__ import annotations

import paramcount
from paramcount.analysis.memory import Assumption
from paramcount.analysis.planner import PlanOptions, plan_memory
from paramcount.render.assumptions import TEMPLATES, assumption_data, assumption_text, dtype_reason


def test_numbers_are_formatted_by_the_renderer() -> None:
    frozen = Assumption.of("frozen", frozen=1234567)
    assert frozen.values == (("frozen", 1234567),)
    assert assumption_text(frozen) == (
        "1,234,567 frozen parameters are held as weights only (no gradients or optimizer states)"
    )


def test_names_are_joined_and_inner_assumptions_written_out() -> None:
    sizes = Assumption.of(
        "transformer-sizes", stack="", notes=(Assumption.of("several-stacks", path=""), Assumption.of("fused-qkv"))
    )
    assert assumption_text(sizes) == (
        "transformer sizes from the tree (root): several stacks of blocks; using the root (the largest of those as "
        "wide as the output head's inputs, else the largest); "
        "fused query/key/value projection split in three equal parts (multi-head attention assumed)"
    )
    assert assumption_data(sizes) == {
        "kind": "transformer-sizes",
        "values": {
            "stack": "",
            "notes": [{"kind": "several-stacks", "values": {"path": ""}}, {"kind": "fused-qkv", "values": {}}],
        },
    }
    unmodelled = Assumption.of("per-operation-unmodelled", kinds=("PReLU", "GLU"))
    assert assumption_text(unmodelled) == "saved tensors per operation not modelled for: PReLU, GLU"


def test_every_assumption_of_a_plan_has_a_sentence() -> None:
    tree = paramcount.from_config("meta-llama/Llama-3.1-8B").tree
    options = PlanOptions(optimizer="adamw", mixed_precision="bf16", seq_len=512, tp=2, zero=1, gpus=4, gpu="H100")
    plan = plan_memory(tree, None, options)
    kinds = [a.kind for a in plan.assumptions]
    assert {"dtype", "mixed-precision", "optimizer", "activations-dtype", "zero", "model-parallel"} <= set(kinds)
    assert all(a.kind in TEMPLATES for a in plan.assumptions)
    said = [assumption_text(a) for a in plan.assumptions]
    assert said[0] == "dtype bfloat16: the dtype the config stores" == f"dtype {dtype_reason(plan.dtype_choice)}"
    assert "ZeRO-1 shards the optimizer states over 2 data-parallel devices (Rajbhandari et al. 2020)" in said
