"""Counting a whole model from its config: paramcount against transformers on the meta device.

Measures, in one run, for Llama-3.1-405B's published config (shipped with paramcount):
  - in-process: ``paramcount.from_config(path)`` vs ``LlamaForCausalLM(config)`` under ``torch.device("meta")``
    followed by ``sum(p.numel() for p in model.parameters())``;
  - whole process: ``paramcount meta-llama/Llama-3.1-405B --json`` vs a python process that imports
    transformers and does the same;
  - memory: peak traced allocation while counting (tracemalloc) for 8B and 405B, to show it is flat in
    the model size (repeated blocks are counted, not materialised);
  - shapes and FLOPs (``propagate``) for Llama-3.1-405B at 8,192 tokens and for resnet152 at 224×224, against
    ``torch.utils.flop_counter.FlopCounterMode`` over a forward pass of the real model built on the meta device
    (transformers' ``LlamaForCausalLM`` with eager attention; torchvision's ``resnet152``), checking that both
    give the same FLOPs.
Prints medians and ratios. Run: python benchmarks/models.py [--runs N]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import time
import tracemalloc

import paramcount
from paramcount.analysis.shapes.propagate import propagate
from paramcount.sources.hf.hub import hub_config_path
from paramcount.zoo._registry import build_model

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

    from paramcount.tree import Module

MODEL = "meta-llama/Llama-3.1-405B"

TRANSFORMERS_PROGRAM = """
import json, sys, torch, transformers
config = json.load(open(sys.argv[1]))
config = transformers.AutoConfig.for_model(**{k: v for k, v in config.items() if k != "architectures"})
with torch.device("meta"):
    model = transformers.LlamaForCausalLM(config)
print(sum(p.numel() for p in model.parameters()))
"""


def _median(samples: list[float]) -> float:
    return statistics.median(samples)


def _time_process(command: list[str], runs: int) -> tuple[float, str]:
    outputs = []
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        done = subprocess.run(command, check=True, capture_output=True, text=True)
        samples.append(time.perf_counter() - start)
        outputs.append(done.stdout)
    return _median(samples), outputs[-1]


def _in_process_transformers(path: str) -> tuple[float, int]:
    import json

    import torch
    import transformers

    with open(path, encoding="utf-8") as stream:
        data = json.load(stream)
    settings = {k: v for k, v in data.items() if k not in ("architectures", "model_type")}
    config = transformers.LlamaConfig(**settings)
    start = time.perf_counter()
    with torch.device("meta"):
        model = transformers.LlamaForCausalLM(config)
    total = sum(p.numel() for p in model.parameters())
    return time.perf_counter() - start, total


def _flop_counter_llama(path: str, tokens: int) -> tuple[float, int]:
    """Build the model on meta and count one forward pass with FlopCounterMode (eager attention)."""
    import json

    import torch
    import transformers
    from torch.utils.flop_counter import FlopCounterMode

    with open(path, encoding="utf-8") as stream:
        data = json.load(stream)
    config = transformers.LlamaConfig(**{k: v for k, v in data.items() if k not in ("architectures", "model_type")})
    config._attn_implementation = "eager"
    start = time.perf_counter()
    with torch.device("meta"):
        model = transformers.LlamaForCausalLM(config)
    with FlopCounterMode(display=False) as counter:
        model(input_ids=torch.zeros((1, tokens), dtype=torch.long, device="meta"))
    return time.perf_counter() - start, int(counter.get_total_flops())


def _flop_counter_resnet(name: str) -> tuple[float, int]:
    """torchvision's model built on meta, one forward pass under FlopCounterMode (its C ops kept out, as in
    tests/vision_oracle.py: the PyPI wheel's do not load beside CPU torch)."""
    import types

    sys.modules.setdefault("torchvision._meta_registrations", types.ModuleType("torchvision._meta_registrations"))
    import torch
    import torchvision
    from torch.utils.flop_counter import FlopCounterMode

    start = time.perf_counter()
    with torch.device("meta"):
        model = getattr(torchvision.models, name)().eval()
    with FlopCounterMode(display=False) as counter:
        model(torch.empty((1, 3, 224, 224), device="meta"))
    return time.perf_counter() - start, int(counter.get_total_flops())


def _time_propagate(tree: Module, shape: tuple[int, ...], runs: int) -> tuple[float, int]:
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        report = propagate(tree, shape)
        samples.append(time.perf_counter() - start)
    return _median(samples), report.total_flops


def _compute(runs: int) -> None:
    """Shapes and FLOPs: paramcount's propagation against FlopCounterMode on the real model, same FLOPs."""
    tokens = 8192
    llama = paramcount.from_config(MODEL).tree
    resnet = build_model("resnet152")
    cases: tuple[tuple[str, Module, tuple[int, ...], Callable[[], tuple[float, int]]], ...] = (
        (
            f"{MODEL}, {tokens:,} tokens",
            llama,
            (1, tokens),
            lambda: _flop_counter_llama(str(hub_config_path(MODEL)), tokens),
        ),
        ("resnet152, 1×3×224×224", resnet, (1, 3, 224, 224), lambda: _flop_counter_resnet("resnet152")),
    )
    for label, tree, shape, counted in cases:
        ours_seconds, ours_flops = _time_propagate(tree, shape, runs * 20)
        theirs_seconds, theirs_flops = counted()
        if ours_flops != theirs_flops:
            raise SystemExit(f"disagreement on {label}: paramcount {ours_flops:,} vs FlopCounterMode {theirs_flops:,}")
        print(f"{label}: {ours_flops:,} FLOPs per forward pass (both agree)")
        print(f"{'  shapes + FLOPs, paramcount propagate':<44}{ours_seconds * 1e3:10.2f} ms")
        ratio = theirs_seconds / ours_seconds
        print(f"{'  meta build + FlopCounterMode forward':<44}{theirs_seconds * 1e3:10.1f} ms   {ratio:,.0f}× slower")


def _peak_bytes(hub_id: str) -> int:
    tracemalloc.start()
    paramcount.from_config(hub_id).report()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    arguments = parser.parse_args()
    path = str(hub_config_path(MODEL))
    script = shutil.which("paramcount")
    if script is None:
        raise SystemExit("install paramcount first: pip install -e .")

    paramcount.from_config(MODEL)  # warm imports, as the in-process transformers timing is after import
    ours = []
    for _ in range(arguments.runs * 20):
        start = time.perf_counter()
        total = paramcount.from_config(MODEL).total
        ours.append(time.perf_counter() - start)
    theirs_seconds, theirs_total = _in_process_transformers(path)
    if total != theirs_total:
        raise SystemExit(f"disagreement: paramcount {total:,} vs transformers {theirs_total:,}")

    cli_seconds, cli_output = _time_process([script, MODEL, "--json"], arguments.runs)
    if f'"total": {total},' not in cli_output:
        raise SystemExit("the CLI's JSON does not carry the same total")
    hf_seconds, hf_output = _time_process(
        [sys.executable, "-c", TRANSFORMERS_PROGRAM, path], max(1, arguments.runs // 2)
    )
    if int(hf_output) != total:
        raise SystemExit(f"disagreement: paramcount {total:,} vs transformers {hf_output}")

    print(f"{MODEL}: {total:,} parameters (both agree)")
    print(f"{'in-process paramcount.from_config':<44}{_median(ours) * 1e3:10.2f} ms")
    ratio = theirs_seconds / _median(ours)
    print(f"{'in-process transformers on meta':<44}{theirs_seconds * 1e3:10.1f} ms   {ratio:,.0f}× slower")
    print(f"{'whole process: paramcount --json':<44}{cli_seconds * 1e3:10.1f} ms")
    ratio = hf_seconds / cli_seconds
    print(f"{'whole process: python + transformers':<44}{hf_seconds * 1e3:10.1f} ms   {ratio:,.1f}× slower")
    for hub_id in ("meta-llama/Llama-3.2-1B", "meta-llama/Llama-3.1-8B", MODEL):
        print(f"{'peak memory, count + report: ' + hub_id:<60}{_peak_bytes(hub_id) / 1e6:8.2f} MB")
    _compute(arguments.runs)


if __name__ == "__main__":
    main()
