"""Where a tree came from is a typed record on the Result and the Report, and nothing of it is in the tree."""

from __future__ import annotations

import json

import pytest
import torch
from torch import nn

import paramcount
from paramcount._record import replace
from paramcount.provenance import FromConfig, FromExpression, FromModule, FromZoo
from paramcount.render.json import render_json, report_dict
from paramcount.sources.hf.hub import hub_config_path

LLAMA_CLASSES = (
    "LlamaModel",
    "LlamaForSequenceClassification",
    "LlamaForTokenClassification",
    "LlamaForQuestionAnswering",
)
"""The classes the llama builder offers besides LlamaForCausalLM, the first entry of the config's
``architectures``."""


@pytest.mark.parametrize(
    ("query", "provenance"),
    [
        ("Conv2d(256, 512, 3)", FromExpression()),
        ("resnet50", FromZoo("resnet50")),
        ("resnet50(num_classes=10)", FromZoo("resnet50")),
        ("resnet50().half()", FromZoo("resnet50")),  # a method keeps the model
        (
            "meta-llama/Llama-3.1-8B",
            FromConfig("meta-llama/Llama-3.1-8B", "llama", "LlamaForCausalLM", LLAMA_CLASSES, "bfloat16"),
        ),
    ],
)
def test_each_door_gives_its_provenance(query: str, provenance: object) -> None:
    result = paramcount.count(query)
    assert result.provenance == provenance
    assert result.report().provenance == provenance
    # nothing about the source stays in the tree, only facts of the model that analyses read (its dtype, the
    # attention layout, activation and dropout settings)
    source_keys = {"zoo", "weights", "architecture", "other_classes", "counted_by", "location", "format"}
    assert not source_keys & {key for key, _ in result.tree.attributes}


def test_a_live_module_names_its_class() -> None:
    with torch.device("meta"):
        module = nn.Linear(3, 4)
    assert paramcount.from_module(module).provenance == FromModule("Linear")


def test_a_config_given_as_text_has_no_location() -> None:
    shipped = paramcount.count("gpt2")
    path = hub_config_path("gpt2")
    assert path is not None
    pasted = paramcount.from_config_text(path.read_text(encoding="utf-8"))
    assert pasted.total == shipped.total
    assert pasted.provenance == replace(shipped.provenance, location=None)
    assert json.loads(render_json(pasted.report()))["location"] is None


@pytest.mark.parametrize(
    ("query", "origin", "location", "facts"),
    [
        ("Linear(3, 4)", "expression", None, {}),
        ("resnet18(num_classes=10)", "zoo", None, {"zoo": "resnet18"}),
        (
            "meta-llama/Llama-3.1-8B",
            "config",
            "meta-llama/Llama-3.1-8B",
            {
                "model_type": "llama",
                "architecture": "LlamaForCausalLM",
                "other_classes": ", ".join(LLAMA_CLASSES),
                "torch_dtype": "bfloat16",
            },
        ),
    ],
)
def test_json_keeps_origin_and_facts_and_adds_the_location(
    query: str, origin: str, location: str | None, facts: dict[str, str]
) -> None:
    data = report_dict(paramcount.count(query).report())
    assert (data["origin"], data["location"], data["facts"]) == (origin, location, facts)
