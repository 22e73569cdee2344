"""The generated programs run under the real library and print exactly the numbers we report: PyTorch for
expressions (shared modules included), transformers for configs (tied embeddings included), torchvision for
zoo models where it is installed."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import paramcount
from hf_oracle import CONFIGS
from paramcount.render.code import program_text
from paramcount.report import Report

EXPRESSIONS = [
    "Conv2d(256, 512, 3)",
    "nn.LSTM(512, 1024, num_layers=2, bidirectional=True)",
    "nn.BatchNorm2d(64)",
    "nn.Sequential(OrderedDict([('conv', nn.Conv2d(3, 8, 3)), ('act', nn.ReLU())]))",
    "nn.ModuleDict({'a': nn.Linear(3, 4), 'b': nn.LayerNorm(4)})",
    "nn.TransformerEncoder(nn.TransformerEncoderLayer(32, 4, 64, activation='gelu'), 2)",
    "nn.Sequential(nn.Linear(8, 8).requires_grad_(False), nn.Linear(8, 2))",
    "nn.Linear(16, 16, dtype=torch.bfloat16)",
    "nn.Sequential(*[nn.Linear(8, 8) for i in range(3)])",
    # One module object used several times: torch counts it once.
    "nn.Sequential(*[nn.Linear(64, 64)] * 4)",
    "nn.ModuleList([nn.Linear(8, 8)] * 3)",
    "nn.Sequential(*[nn.Linear(8, 8), nn.ReLU()] * 2)",
    "nn.Sequential(nn.Linear(4, 8), *[nn.Linear(8, 8)] * 3, nn.Linear(8, 2))",
    "nn.ModuleList([nn.Sequential(*[nn.Linear(4, 4)] * 2)] * 3)",
    "nn.ModuleList([nn.Linear(4, 4), nn.BatchNorm1d(4)] * 2)",
    "nn.Sequential(*[nn.Sequential(nn.Linear(4, 4), nn.LayerNorm(4)).requires_grad_(False)] * 2, nn.Linear(4, 1))",
    "nn.Sequential(nn.ModuleList([nn.Linear(2, 2)] * 2), nn.ModuleList([nn.Linear(2, 2)] * 2))",
    "nn.ModuleDict({'a': nn.Sequential(*[nn.Conv2d(3, 3, 1)] * 2), 'b': nn.Linear(3, 3)})",
    # Parameter containers: plain tensors become new Parameters, one Parameter object held twice counts once.
    "nn.ParameterList([nn.Parameter(torch.randn(3, 4)), torch.zeros(5), nn.Parameter(torch.ones(2), False)])",
    "nn.ParameterList([nn.Parameter(torch.randn(3))] * 3)",
    "nn.ParameterList([nn.Parameter(torch.randn(3)), torch.rand(2)] * 2)",
    "nn.ParameterDict({'b': nn.Parameter(torch.randn(3, 4)), 'a': torch.empty(5, dtype=torch.float16)})",
    "nn.ParameterDict(OrderedDict([('b', torch.zeros(2, 2)), ('a', nn.Parameter(torch.ones(3), False))]))",
    "nn.Sequential(nn.Linear(3, 3), nn.ParameterList([torch.zeros(4)]))",
]


def _run_all(programs: list[str], tmp_path: Path) -> list[list[str]]:
    """Run each program in one fresh interpreter; the printed lines of each."""
    files = []
    for index, program in enumerate(programs):
        path = tmp_path / f"snippet_{index}.py"
        path.write_text(program + 'print("---")\n')
        files.append(str(path))
    driver = "import runpy, sys\nfor path in sys.argv[1:]:\n    runpy.run_path(path)\n"
    output = subprocess.run([sys.executable, "-c", driver, *files], capture_output=True, text=True, check=True).stdout
    return [block.strip().split("\n") for block in output.split("---\n")[: len(programs)]]


def _assert_totals(report: Report, lines: list[str]) -> None:
    assert int(lines[0]) == report.counts.total, report.query
    assert int(lines[1]) == report.counts.trainable, report.query


def test_snippets_print_our_numbers(tmp_path: Path) -> None:
    reports = [paramcount.count(expression).report() for expression in EXPRESSIONS]
    for report, lines in zip(reports, _run_all([program_text(report) for report in reports], tmp_path), strict=True):
        _assert_totals(report, lines)
        counts = report.counts
        # torch prints the dict in named_parameters() order: the text equality checks order too.
        assert lines[2] == repr({row.name: row.shape for row in counts.parameters}), report.query
        if counts.buffer_tensors:
            assert lines[3] == repr({row.name: row.shape for row in counts.buffer_tensors}), report.query


def test_shared_module_snippet_builds_one_object() -> None:
    code = program_text(paramcount.count("nn.Sequential(*[nn.Linear(64, 64)] * 4)").report())
    assert "    linear = nn.Linear(64, 64)  # one object, used more than once\n" in code
    assert "    layer = nn.Sequential(*[linear] * 4)\n" in code
    assert "# 4160\n" in code  # 64·64 + 64, once


def test_config_snippets_print_our_numbers(tmp_path: Path) -> None:
    # Every shipped config, read from its file (the snippet of a hub id differs only in the location);
    # gpt2 and others tie the output head to the token embedding, which transformers counts once.
    reports = [paramcount.count(str(path)).report() for path in sorted(CONFIGS.glob("*.json"))]
    for report, lines in zip(reports, _run_all([program_text(report) for report in reports], tmp_path), strict=True):
        _assert_totals(report, lines)


def test_hub_id_snippet_names_the_hub_id() -> None:
    by_id = program_text(paramcount.count("openai-community/gpt2").report())
    by_path = program_text(paramcount.count(str(CONFIGS / "openai-community--gpt2.json")).report())
    assert by_id == by_path.replace(repr(str(CONFIGS / "openai-community--gpt2.json")), "'openai-community/gpt2'")


ZOO_QUERIES = ["resnet50", "resnet18(num_classes=10)", "vit_b_16(image_size=384)", "mobilenet_v3_small", "swin_t"]


def test_zoo_snippets_print_our_numbers(tmp_path: Path) -> None:
    pytest.importorskip("torchvision")
    reports = [paramcount.count(query).report() for query in ZOO_QUERIES]
    for report, lines in zip(reports, _run_all([program_text(report) for report in reports], tmp_path), strict=True):
        _assert_totals(report, lines)
