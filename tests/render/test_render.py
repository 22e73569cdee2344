"""Exact renders of representative answers (the numbers in them are proven by the oracle tests)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

import paramcount
from paramcount.render.json import render_json, report_dict
from paramcount.render.markdown import render_markdown
from paramcount.render.sections import CLI_HINTS
from paramcount.render.text import render_plain
from paramcount.render.units import byte_sizes, sizes_equal

GOLDEN_CASES = {
    "conv2d": "Conv2d(256, 512, 3)",
    "lstm": "nn.LSTM(512, 1024, num_layers=2, bidirectional=True)",
    "sequential": "nn.Sequential(nn.Conv2d(3, 16, 3), nn.BatchNorm2d(16), nn.ReLU(), nn.Linear(16, 10))",
}


@pytest.mark.parametrize("name", list(GOLDEN_CASES))
def test_plain_text(name: str, golden: Callable[[str, str], None]) -> None:
    golden(f"{name}.txt", render_plain(paramcount.count(GOLDEN_CASES[name]).report(), width=100))


def test_markdown(golden: Callable[[str, str], None]) -> None:
    golden("conv2d.md", render_markdown(paramcount.count("Conv2d(256, 512, 3)").report()))


def test_json_is_report_dict() -> None:
    import json

    report = paramcount.count("Linear(3, 4)").report()
    assert json.loads(render_json(report)) == report_dict(report)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        # 1,180,160 · 4 = 4,720,640 B; / 10^6 = 4.72 MB; / 2^20 = 4.502… MiB
        # (the reference page's "4.50 MB" is really MiB).
        (4_720_640, ("4,720,640 B", "4.72 MB", "4.50 MiB")),
        (999, ("999 B", "999 B", "999 B")),
        (1_000, ("1,000 B", "1.00 kB", "1,000 B")),
        (2**30, ("1,073,741,824 B", "1.07 GB", "1.00 GiB")),
        (8 * 10**12, ("8,000,000,000,000 B", "8.00 TB", "7.28 TiB")),
    ],
)
def test_byte_units_are_named_right(value: int, expected: tuple[str, str, str]) -> None:
    assert byte_sizes(value) == expected
    assert sizes_equal(value) == " = ".join(dict.fromkeys(expected))


def test_a_size_is_said_once_in_each_form_that_differs() -> None:
    assert [sizes_equal(value) for value in (54, 1_000, 4_720_640)] == [
        "54 B",
        "1,000 B = 1.00 kB",
        "4,720,640 B = 4.72 MB = 4.50 MiB",
    ]
    # Linear(2, 2) under AdamW: 6 float32 weights, 6 gradients, exp_avg and exp_avg_sq, 2 step scalars = 104 B
    report = paramcount.count("Linear(2, 2)").report(paramcount.PlanOptions(optimizer="adamw"))
    totals = [line.split() for line in render_plain(report, 100, 3).splitlines() if line.split()[:1] == ["total"]]
    assert ["total", "104", "B"] in totals


@pytest.mark.parametrize(
    ("query", "headline"),
    [
        # weight 1 × 1, no bias: one parameter; no buffers
        ("Linear(1, 1, bias=False)", "1 parameter  (1 trainable · 0 frozen)  ·  0 buffer elements"),
        # weight and bias 2 × 1; running_mean 2, running_var 2, num_batches_tracked 1
        ("BatchNorm1d(2)", "4 parameters  (4 trainable · 0 frozen)  ·  5 buffer elements"),
    ],
)
def test_headline_agrees_in_number(query: str, headline: str) -> None:
    assert render_plain(paramcount.count(query).report()).splitlines()[1].strip() == headline


def test_rich_sink_writes_the_same_words() -> None:
    import io

    from paramcount.render.text import write_rich

    report = paramcount.count("Linear(3, 4)").report()
    stream = io.StringIO()
    write_rich(report, stream, width=100)
    plain_words = render_plain(report, width=100).split()
    assert stream.getvalue().split() == plain_words


def _section(text: str, title: str) -> list[str]:
    """The lines of one section of a plain render (up to the blank line that ends it)."""
    lines = text.split("\n")
    start = lines.index(title) + 1
    end = lines.index("", start)
    return lines[start:end]


def test_formula_columns_line_up_with_the_root_label() -> None:
    # "(root) (MultiheadAttention)" is the longest label; each formula starts two spaces after it.
    text = render_plain(paramcount.count("MultiheadAttention(768, 12)").report(), width=200)
    lines = _section(text, "How it adds up")
    assert lines[0].startswith("  (root) (MultiheadAttention)  3·embed_dim")
    assert lines[1].startswith("  out_proj (Linear)            out_features")
    assert lines[0].index("3·embed_dim") == lines[1].index("out_features")


def test_every_table_labels_the_root_alike() -> None:
    report = paramcount.count("nn.Sequential(nn.Linear(4, 8), nn.ReLU())").report(input_shape=(1, 4))
    text = render_plain(report, width=200)
    assert _section(text, "Modules")[1].split()[0] == "(root)"
    shapes = _section(text, "Shapes and compute for input (1, 4)")
    assert [line.split()[0] for line in shapes[1:4]] == ["(root)", "0", "1"]


def test_a_count_of_one_is_singular_in_every_renderer() -> None:
    """nn.PReLU() holds one parameter (torch: weight of shape (1,)), the module below one buffer element:
    "1 parameter", "1 buffer element", never "1 parameters"."""
    from paramcount.render.html import answer_text

    report = paramcount.count("nn.PReLU()").report(sections=())
    assert "\n  1 parameter  (1 trainable · 0 frozen)  ·  0 buffer elements\n" in render_plain(report)
    assert "\n1 parameter  (1 trainable · 0 frozen)  ·  0 buffer elements\n" in render_markdown(report)
    assert answer_text(report).startswith("PReLU() has 1 parameter: weight 1.")
    import torch

    with torch.device("meta"):
        scaled = torch.nn.Module()
        scaled.register_buffer("scale", torch.ones(1))
    buffer = paramcount.from_module(scaled).report(sections=())
    assert "\n  0 parameters  (0 trainable · 0 frozen)  ·  1 buffer element\n" in render_plain(buffer)


def test_the_flop_convention_is_a_sentence_of_its_own() -> None:
    """The convention (a clause in the JSON's ``shapes.convention``) follows "per forward pass." as a sentence
    that starts with a capital, for the modelled shapes and for a live module's measured ones."""
    import torch

    modelled = render_plain(paramcount.count("Linear(3, 4)").report(input_shape=(2, 3)), width=1000)
    assert "FLOPs per forward pass. Matmul FLOPs (the torch.utils.flop_counter.FlopCounterMode convention)" in modelled
    with torch.device("meta"):
        layer = torch.nn.Linear(3, 4)
    measured = render_plain(paramcount.summary(layer, input_size=(2, 3)), width=1000)
    assert "FLOPs per forward pass. Measured with torch.utils.flop_counter.FlopCounterMode during" in measured


@pytest.mark.parametrize("query", ["Sequential()", "Linear(2, 2)", "meta-llama/Llama-3.1-8B"])
def test_a_wrapped_line_never_starts_with_a_unit(query: str) -> None:
    """A size's unit stays on its number's line at every width ('parameters 0⏎B' was possible)."""
    units = {"B", "kB", "MB", "GB", "TB", "KiB", "MiB", "GiB", "TiB"}
    report = paramcount.count(query).report()
    for width in range(40, 121):
        starts = [
            line.split()[0].rstrip(".,;:)") for line in render_plain(report, width, 3).splitlines() if line.strip()
        ]
        assert units.isdisjoint(starts), width


def test_each_surface_names_its_own_way_to_what_is_left_out() -> None:
    # torchvision resnet18: 62 parameter tensors (more than the 40 rows the text lists) and modules deeper than 3.
    report = paramcount.count("resnet18").report()
    assert len(report.counts.parameters) == 62
    library, cli = render_plain(report), render_plain(report, hints=CLI_HINTS)
    assert "  Deeper modules hidden (depth=3); " in library
    assert "  … and 22 more tensors (report.to_dict() lists them all)\n" in library
    assert "  Deeper modules hidden (--depth 3); " in cli
    assert "  … and 22 more tensors (--json lists them all)\n" in cli
    assert library.replace("(depth=3)", "(--depth 3)").replace("report.to_dict()", "--json") == cli
    notebook = report._repr_html_()
    assert "Deeper modules hidden (depth=3)" in notebook
    assert "--depth" not in notebook
    assert "--json" not in notebook


def test_each_surface_names_its_own_way_to_another_class_of_a_config() -> None:
    # A Python user was told "also countable with --architecture", a flag of the command line only.
    report = paramcount.count("meta-llama/Llama-3.1-8B").report(sections=())
    others = "LlamaModel, LlamaForSequenceClassification, LlamaForTokenClassification, LlamaForQuestionAnswering"
    assert f"\n  also countable with architecture=: {others}\n" in render_plain(report)
    assert f"\n  also countable with --architecture: {others}\n" in render_plain(report, hints=CLI_HINTS)
    assert "--architecture" not in report._repr_html_()
