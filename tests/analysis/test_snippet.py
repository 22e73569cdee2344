"""The generated PyTorch program runs under real torch and prints exactly the numbers we report."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import paramcount

EXPRESSIONS = [
    "Conv2d(256, 512, 3)",
    "nn.LSTM(512, 1024, num_layers=2, bidirectional=True)",
    "nn.BatchNorm2d(64)",
    "nn.Sequential(OrderedDict([('conv', nn.Conv2d(3, 8, 3)), ('act', nn.ReLU())]))",
    "nn.ModuleDict({'a': nn.Linear(3, 4), 'b': nn.LayerNorm(4)})",
    "nn.TransformerEncoder(nn.TransformerEncoderLayer(32, 4, 64, activation='gelu'), 2)",
    "nn.Sequential(nn.Linear(8, 8).requires_grad_(False), nn.Linear(8, 2))",
    "nn.Linear(16, 16, dtype=torch.bfloat16)",
]


def test_snippets_print_our_numbers(tmp_path: Path) -> None:
    reports = [paramcount.count(expression).report() for expression in EXPRESSIONS]
    files = []
    for index, report in enumerate(reports):
        path = tmp_path / f"snippet_{index}.py"
        path.write_text(report.code + 'print("---")\n')
        files.append(str(path))
    driver = "import runpy, sys\nfor path in sys.argv[1:]:\n    runpy.run_path(path)\n"
    output = subprocess.run([sys.executable, "-c", driver, *files], capture_output=True, text=True, check=True).stdout
    blocks = output.split("---\n")[: len(reports)]
    for report, block in zip(reports, blocks, strict=True):
        lines = block.strip().split("\n")
        counts = report.counts
        assert int(lines[0]) == counts.total, report.query
        assert int(lines[1]) == counts.trainable, report.query
        # torch prints the dict in named_parameters() order: the text equality checks order too.
        assert lines[2] == repr({row.name: row.shape for row in counts.parameters})
        if counts.buffer_tensors:
            assert lines[3] == repr({row.name: row.shape for row in counts.buffer_tensors})
