"""Reading a PyTorch checkpoint's tensors: paramcount's header-only reader against ``torch.load``.

Writes, with ``torch.save``, a Llama-shaped state dict of ``torch.empty`` bfloat16 tensors at three total
sizes (the smallest the shapes allow, 40 kB; 10 MB; ``--gigabytes``), in the zip format and, for the largest
size, in the legacy format too, then times in-process (the files are in the page cache after writing;
nothing here drops it):

  - ``read_torch_file(path)``: names, shapes, dtypes and storages, never the tensor data;
  - ``torch.load(path, mmap=True, weights_only=True)``: torch's safest and fastest way to open the file
    (the zip format's storages are mapped, not read; the legacy format cannot be mapped, so it is read);

and prints medians and ratios. The point: the reader's time follows the number of tensors, not the bytes.
``measure()`` returns the rows, for a benchmark script that compares several formats.

Run: python benchmarks/torch_file.py [--gigabytes 1.0] [--runs 5] [--directory DIR]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from paramcount.sources.torch_file import read_torch_file

TYPE_CHECKING = False
if TYPE_CHECKING:
    import torch

PROCESSES = {
    "paramcount": "import sys\nfrom paramcount.sources.torch_file import read_torch_file\nread_torch_file(sys.argv[1])",
    "torch": "import sys, torch\ntorch.load(sys.argv[1], mmap=True, weights_only=True)",
}
"""Whole processes that open the file: what a user waits for from the command line."""

LAYERS = 8
"""Decoder layers of the saved state dict (9 tensors each, plus the embedding, the final norm and the head)."""


def state_dict(hidden: int) -> dict[str, torch.Tensor]:
    """A Llama-shaped state dict of uninitialised bfloat16 tensors with ``hidden`` features."""
    import torch

    vocabulary, intermediate = 4 * hidden, 3 * hidden
    tensors: dict[str, torch.Tensor] = {
        "model.embed_tokens.weight": torch.empty(vocabulary, hidden, dtype=torch.bfloat16)
    }
    for layer in range(LAYERS):
        prefix = f"model.layers.{layer}"
        for name, shape in [
            ("self_attn.q_proj.weight", (hidden, hidden)),
            ("self_attn.k_proj.weight", (hidden // 4, hidden)),
            ("self_attn.v_proj.weight", (hidden // 4, hidden)),
            ("self_attn.o_proj.weight", (hidden, hidden)),
            ("mlp.gate_proj.weight", (intermediate, hidden)),
            ("mlp.up_proj.weight", (intermediate, hidden)),
            ("mlp.down_proj.weight", (hidden, intermediate)),
            ("input_layernorm.weight", (hidden,)),
            ("post_attention_layernorm.weight", (hidden,)),
        ]:
            tensors[f"{prefix}.{name}"] = torch.empty(shape, dtype=torch.bfloat16)
    tensors["model.norm.weight"] = torch.empty(hidden, dtype=torch.bfloat16)
    tensors["lm_head.weight"] = torch.empty(vocabulary, hidden, dtype=torch.bfloat16)
    return tensors


def _hidden_for(total_bytes: float) -> int:
    """The hidden size (a multiple of 8) whose state dict is closest to ``total_bytes``: 2 bytes per element,
    2·4h² (embedding and head) + LAYERS·(2.5h² + 9h²) elements, ignoring the norms."""
    per_square = 2 * (2 * 4 + LAYERS * 11.5)
    root: float = (total_bytes / per_square) ** 0.5
    return max(8, 8 * round(root / 8))


def _median_seconds(action: Callable[[], object], runs: int) -> float:
    action()  # the first call pays for imports; users pay it once per process
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        action()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def measure(directory: Path, sizes: list[float], runs: int) -> list[tuple[str, int, int, float, float]]:
    """(file, bytes, tensors, paramcount seconds, torch.load seconds) in-process for each size and layout,
    and a last row for whole processes opening the largest zip file."""
    import torch

    rows = []
    for index, total in enumerate(sizes):
        largest = index == len(sizes) - 1
        for layout in ["zip", "legacy"] if largest else ["zip"]:
            path = directory / f"model-{index}-{layout}.pt"
            torch.save(state_dict(_hidden_for(total)), path, _use_new_zipfile_serialization=layout == "zip")
            size, tensors = path.stat().st_size, len(read_torch_file(path).tensors)
            label = f"{layout}, {size / 1e6:,.2f} MB"
            mapped = layout == "zip"  # torch cannot map the legacy format

            def ours(path: Path = path) -> object:
                return read_torch_file(path)

            def theirs(path: Path = path, mapped: bool = mapped) -> object:
                return torch.load(path, mmap=mapped, weights_only=True)  # noqa: TID251 - the baseline, on a file written here

            rows.append((label, size, tensors, _median_seconds(ours, runs), _median_seconds(theirs, runs)))
            if largest and layout == "zip":
                processes = [_median_seconds(_process(program, path), runs) for program in PROCESSES.values()]
                rows.append((f"whole process, {label}", size, tensors, processes[0], processes[1]))
            path.unlink()
    return rows


def _process(program: str, path: Path) -> Callable[[], object]:
    return lambda: subprocess.run([sys.executable, "-c", program, str(path)], check=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--gigabytes", type=float, default=1.0, help="size of the largest file (GB = 10^9 bytes)")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--directory", type=Path, default=None, help="where to write the files (default: a temp dir)")
    options = parser.parse_args()
    directory = Path(tempfile.mkdtemp(dir=options.directory))
    free = shutil.disk_usage(directory).free
    if free < 3 * options.gigabytes * 1e9:
        parser.error(f"{directory} has {free / 1e9:.1f} GB free; use a smaller --gigabytes")
    try:
        rows = measure(directory, [22e3, 10e6, options.gigabytes * 1e9], options.runs)
    finally:
        shutil.rmtree(directory)
    print("| file | tensors | paramcount `read_torch_file` | `torch.load(mmap=True, weights_only=True)` | ratio |")
    print("|---|---:|---:|---:|---:|")
    for label, _, tensors, ours, theirs in rows:
        label = label if "legacy" not in label else label + " (`mmap=False`: it cannot be mapped)"
        print(f"| {label} | {tensors} | {ours * 1e3:,.2f} ms | {theirs * 1e3:,.2f} ms | {theirs / ours:,.1f}× |")


if __name__ == "__main__":
    main()
