"""Counting a whole model from its config: paramcount against transformers on the meta device.

Measures, in one run, for Llama-3.1-405B's published config (shipped with paramcount):
  - in-process: ``paramcount.from_config(path)`` vs ``LlamaForCausalLM(config)`` under ``torch.device("meta")``
    followed by ``sum(p.numel() for p in model.parameters())``;
  - whole process: ``paramcount meta-llama/Llama-3.1-405B --json`` vs a python process that imports
    transformers and does the same;
  - memory: peak traced allocation while counting (tracemalloc) for 8B and 405B, to show it is flat in
    the model size (repeated blocks are counted, not materialised).
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
from paramcount.sources.hf.hub import hub_config_path

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


if __name__ == "__main__":
    main()
