"""The HTML renderer: the same sections as the text renderer, escaped, with stable ids."""

from __future__ import annotations

import re
from html import unescape

import pytest

import paramcount
from paramcount.render.html import answer_html, answer_text, question, render_html, subject
from paramcount.render.sections import sections
from paramcount.render.text import render_plain

QUERIES = [
    "Conv2d(256, 512, 3)",
    "nn.Sequential(nn.Conv2d(3, 16, 3), nn.BatchNorm2d(16), nn.ReLU(), nn.Linear(16, 10))",
    "Linear(3, 4).requires_grad_(False)",
    "resnet18",
    "mistralai/Mixtral-8x7B-v0.1",
]


@pytest.mark.parametrize("query", QUERIES)
def test_html_has_the_text_renderers_sections_in_order(query: str) -> None:
    report = paramcount.count(query).report()
    keys = re.findall(r'<section class="answer-section" id="section-([a-z]+)"', render_html(report))
    assert keys == [section.key for section in sections(report)]


@pytest.mark.parametrize("query", QUERIES)
def test_html_shows_the_numbers_of_the_text(query: str) -> None:
    report = paramcount.count(query).report()
    page = unescape(re.sub(r"<[^>]+>", "", render_html(report)))
    for number in re.findall(r"\d{1,3}(?:,\d{3})+", render_plain(report)):
        assert number in page


def test_html_escapes_everything() -> None:
    report = paramcount.count("ModuleDict({'<b>&x': Linear(1, 1)})").report()
    html = render_html(report) + answer_html(report)
    assert "<b>" not in html
    assert "&lt;b&gt;&amp;x" in html


def test_answer_sentence() -> None:
    report = paramcount.count("Linear(3, 4).requires_grad_(False)").report()
    text = answer_text(report)
    assert text.startswith(
        "Linear(3, 4).requires_grad_(False) has 16 parameters (0 trainable, 16 frozen): weight 12 and bias 4."
    )
    assert "Training" not in text  # nothing to train
    assert unescape(re.sub(r"<[^>]+>", "", answer_html(report))) == text


def test_answer_sentence_names_the_training_recipe() -> None:
    # Linear(10, 5): 55 float32 parameters, 220 B; AdamW keeps the weights, gradients, exp_avg and exp_avg_sq
    # (4 × 220 B) and a float32 step per tensor (2 × 4 B): 888 B, the recipe torch calls "AdamW, float32".
    report = paramcount.count("Linear(10, 5)").report()
    assert report.training[0].name == "AdamW, float32"
    assert answer_text(report).endswith(
        " Training (AdamW, float32) holds 888 bytes (888 B, 888 B) of weights, gradients and optimizer states,"
        " before activations."
    )


def test_answer_sentence_agrees_in_number() -> None:
    # weight 1 × 1: one float32 parameter, 4 B; AdamW adds its gradient, exp_avg, exp_avg_sq and step: 20 B
    text = answer_text(paramcount.count("Linear(1, 1, bias=False)").report())
    assert text.startswith("Linear(1, 1, bias=False) has 1 parameter: weight 1. Stored as float32")
    assert ", the parameter takes 4 bytes (4 B, 4 B). Training (AdamW, float32) holds 20 bytes" in text


def test_answer_sentence_for_models() -> None:
    mixtral = paramcount.count("mistralai/Mixtral-8x7B-v0.1").report()
    assert subject(mixtral) == "mistralai/Mixtral-8x7B-v0.1 (MixtralForCausalLM)"
    assert question(mixtral) == "How many parameters does mistralai/Mixtral-8x7B-v0.1 have?"
    assert f"; {mixtral.active:,} active per token" in answer_text(mixtral)
    assert question(paramcount.count("resnet18").report()) == "How many parameters does resnet18 have?"


def test_links_only_where_asked() -> None:
    report = paramcount.count("Conv2d(256, 512, 3)").report()
    assert "<a " not in render_html(report)
    linked = render_html(report, href=lambda section, cell: f"/x/{section}" if section == "related" else None)
    assert linked.count('<a href="/x/related">') == len(report.related)
