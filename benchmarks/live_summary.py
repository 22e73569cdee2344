"""``paramcount.summary()`` of live models against torchinfo 1.8's ``summary()``, in the same run.

Models, each with an input (the forward pass runs):
  - ResNet-50, built here from torch layers (torchvision's layout: Bottleneck blocks [3, 4, 6, 3], 25,557,032
    parameters), real weights on the CPU, input (1, 3, 224, 224);
  - GPT-2 (transformers, from the config shipped with paramcount), real weights on the CPU, 128 tokens;
  - Llama-3-70B (transformers' LlamaForCausalLM from the published Meta-Llama-3-70B config values) built on the
    meta device, 128 tokens: torchinfo needs real tensors, so it cannot run it here (140 GB of bf16 weights).
paramcount runs on meta (a meta copy of a CPU model); torchinfo runs the real forward on the CPU.
Prints medians and ratios. Run: python benchmarks/live_summary.py [--runs N]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable
from typing import Any

import paramcount
from paramcount.sources.hf.hub import hub_config_path

LLAMA_3_70B = {  # meta-llama/Meta-Llama-3-70B config.json (published values)
    "hidden_size": 8192,
    "intermediate_size": 28672,
    "num_hidden_layers": 80,
    "num_attention_heads": 64,
    "num_key_value_heads": 8,
    "vocab_size": 128256,
    "rope_theta": 500000.0,
    "max_position_embeddings": 8192,
}


def resnet50() -> Any:
    """torchvision's ResNet-50, written with torch layers (torchvision may be absent or mismatched)."""
    import torch
    from torch import nn

    class Bottleneck(nn.Module):
        def __init__(self, inputs: int, width: int, stride: int) -> None:
            super().__init__()
            outputs = 4 * width
            self.conv1, self.bn1 = nn.Conv2d(inputs, width, 1, bias=False), nn.BatchNorm2d(width)
            self.conv2, self.bn2 = nn.Conv2d(width, width, 3, stride, 1, bias=False), nn.BatchNorm2d(width)
            self.conv3, self.bn3 = nn.Conv2d(width, outputs, 1, bias=False), nn.BatchNorm2d(outputs)
            self.relu = nn.ReLU(inplace=True)
            self.downsample = (
                nn.Sequential(nn.Conv2d(inputs, outputs, 1, stride, bias=False), nn.BatchNorm2d(outputs))
                if stride != 1 or inputs != outputs
                else None
            )

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            out = self.relu(self.bn1(self.conv1(x)))
            out = self.relu(self.bn2(self.conv2(out)))
            out = self.bn3(self.conv3(out))
            identity = x if self.downsample is None else self.downsample(x)
            result: torch.Tensor = self.relu(out + identity)
            return result

    class ResNet50(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv1, self.bn1 = nn.Conv2d(3, 64, 7, 2, 3, bias=False), nn.BatchNorm2d(64)
            self.relu, self.maxpool = nn.ReLU(inplace=True), nn.MaxPool2d(3, 2, 1)
            inputs, stages = 64, []
            for width, blocks, stride in ((64, 3, 1), (128, 4, 2), (256, 6, 2), (512, 3, 2)):
                layers = [Bottleneck(inputs, width, stride)] + [
                    Bottleneck(4 * width, width, 1) for _ in range(blocks - 1)
                ]
                stages.append(nn.Sequential(*layers))
                inputs = 4 * width
            self.layer1, self.layer2, self.layer3, self.layer4 = stages
            self.avgpool, self.fc = nn.AdaptiveAvgPool2d(1), nn.Linear(2048, 1000)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
            x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
            result: torch.Tensor = self.fc(torch.flatten(self.avgpool(x), 1))
            return result

    return ResNet50()


def median_seconds(action: Callable[[], object], runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        action()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def compare(name: str, model: Any, input_size: tuple[int, ...], dtypes: list[Any], runs: int) -> None:
    import torchinfo

    ours = median_seconds(lambda: paramcount.summary(model, input_size=input_size, dtypes=dtypes), runs)
    theirs = median_seconds(
        lambda: torchinfo.summary(model, input_size=input_size, dtypes=dtypes, verbose=0, device="cpu"), runs
    )
    report = paramcount.summary(model, input_size=input_size, dtypes=dtypes)
    if report.activations is None:
        raise SystemExit(f"{name}: no activations measured")
    print(
        f"{name}: paramcount.summary {ours * 1000:.0f} ms, torchinfo.summary {theirs * 1000:.0f} ms "
        f"(torchinfo / paramcount = {theirs / ours:.2f}); {report.counts.total:,} parameters, "
        f"activations {report.activations.saved_bytes:,} B measured vs torchinfo "
        f"{report.activations.torchinfo_bytes:,} B"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=3)
    runs = parser.parse_args().runs
    import torch
    import transformers

    torch.manual_seed(0)
    compare("ResNet-50 (1, 3, 224, 224)", resnet50(), (1, 3, 224, 224), [torch.float32], runs)
    path = hub_config_path("openai-community/gpt2")
    if path is None:
        raise SystemExit("the shipped GPT-2 config is missing")
    with open(path, encoding="utf-8") as stream:
        settings = {k: v for k, v in json.load(stream).items() if k != "architectures"}
    gpt2_config: Any = transformers.AutoConfig.for_model(**settings)
    gpt2 = transformers.GPT2LMHeadModel(gpt2_config)
    compare("GPT-2 (1, 128) tokens", gpt2, (1, 128), [torch.long], runs)
    with torch.device("meta"):
        config: Any = transformers.AutoConfig.for_model("llama", **LLAMA_3_70B)
        llama: Any = transformers.LlamaForCausalLM(config)
        llama.to(torch.bfloat16)  # as published: bfloat16 weights
    start = time.perf_counter()
    report = paramcount.summary(llama, input_size=(1, 128), dtypes=[torch.long])
    seconds = time.perf_counter() - start
    if report.activations is None or report.shapes is None:
        raise SystemExit("Llama-3-70B: no forward measured")
    print(
        f"Llama-3-70B on meta (1, 128) tokens: paramcount.summary {seconds:.2f} s (one run), "
        f"{report.counts.total:,} parameters, {report.shapes.total_macs:,} MACs, activations "
        f"{report.activations.saved_bytes:,} B; torchinfo: cannot run (needs the weights allocated)"
    )


if __name__ == "__main__":
    main()
