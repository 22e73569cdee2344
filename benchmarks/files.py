"""Counting a checkpoint from its headers: a 141 GB sharded safetensors checkpoint against a 22 kB file, and
paramcount against the format's own library, in one run.

The big checkpoint is Llama 3.1 70B's tensor layout (``meta-llama/Llama-3.1-70B`` config: hidden 8192,
intermediate 28672, 80 layers, 8 KV heads, vocabulary 128256, untied head) in bfloat16, as 8 shards plus
``model.safetensors.index.json`` — written as sparse files (each header, then ``truncate`` to its full size),
so it takes no disk space. The same 723 tensor names with every size 1 (a few kB of data) separate what the
header costs from what the file's size could cost. The small file is a two-layer MLP of 22 kB.

Timed (median of ``--runs``, in-process, files already in the page cache after a warm-up):
  - ``paramcount.from_file(path).total``: read and validate every header, build the tree, count;
  - the same plus ``.report()`` (the whole answer: module table, memory plan …);
  - safetensors' ``safe_open`` on every shard, reading each tensor's shape (``get_slice(name).get_shape()``):
    the library's own header-only way to list a checkpoint.

Run: python benchmarks/files.py [--runs N]
"""

from __future__ import annotations

import argparse
import json
import statistics
import struct
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import paramcount

HIDDEN, INTERMEDIATE, LAYERS, KV, HEAD_DIM, VOCAB = 8192, 28672, 80, 8, 128, 128256
SHARDS = 8


def llama_70b_tensors() -> list[tuple[str, list[int]]]:
    tensors = [("model.embed_tokens.weight", [VOCAB, HIDDEN])]
    for layer in range(LAYERS):
        prefix = f"model.layers.{layer}."
        tensors += [
            (prefix + "input_layernorm.weight", [HIDDEN]),
            (prefix + "self_attn.q_proj.weight", [HIDDEN, HIDDEN]),
            (prefix + "self_attn.k_proj.weight", [KV * HEAD_DIM, HIDDEN]),
            (prefix + "self_attn.v_proj.weight", [KV * HEAD_DIM, HIDDEN]),
            (prefix + "self_attn.o_proj.weight", [HIDDEN, HIDDEN]),
            (prefix + "post_attention_layernorm.weight", [HIDDEN]),
            (prefix + "mlp.gate_proj.weight", [INTERMEDIATE, HIDDEN]),
            (prefix + "mlp.up_proj.weight", [INTERMEDIATE, HIDDEN]),
            (prefix + "mlp.down_proj.weight", [HIDDEN, INTERMEDIATE]),
        ]
    return [*tensors, ("model.norm.weight", [HIDDEN]), ("lm_head.weight", [VOCAB, HIDDEN])]


def write_sparse_shard(path: Path, tensors: list[tuple[str, list[int]]]) -> int:
    """A safetensors file whose header is real and whose data is a hole of the right size; returns its size."""
    header: dict[str, object] = {"__metadata__": {"format": "pt"}}
    offset = 0
    for name, shape in tensors:
        size = 2
        for dim in shape:
            size *= dim
        header[name] = {"dtype": "BF16", "shape": shape, "data_offsets": [offset, offset + size]}
        offset += size
    raw = json.dumps(header, separators=(",", ":")).encode()
    raw += b" " * (-len(raw) % 8)  # safetensors pads its header to 8 bytes
    with path.open("wb") as stream:
        stream.write(struct.pack("<Q", len(raw)) + raw)
        stream.truncate(8 + len(raw) + offset)
    return 8 + len(raw) + offset


def write_checkpoint(folder: Path, *, tiny: bool = False) -> tuple[Path, int]:
    """The 70B layout as 8 shards and an index; ``tiny``: the same names with every size 1 (the same number of
    tensors and header fields, a few kilobytes of data), to separate the cost of the header from the file's size."""
    tensors = [(name, [1] * len(shape)) if tiny else (name, shape) for name, shape in llama_70b_tensors()]
    per_shard = -(-len(tensors) // SHARDS)
    weight_map: dict[str, str] = {}
    total = 0
    for index in range(SHARDS):
        part = tensors[index * per_shard : (index + 1) * per_shard]
        name = f"model-{index + 1:05d}-of-{SHARDS:05d}.safetensors"
        total += write_sparse_shard(folder / name, part)
        weight_map.update(dict.fromkeys((tensor for tensor, _ in part), name))
    index_path = folder / "model.safetensors.index.json"
    index_path.write_text(json.dumps({"metadata": {"total_size": total}, "weight_map": weight_map}))
    return index_path, total


def write_small(path: Path) -> int:
    import torch
    from safetensors.torch import save_file

    model = torch.nn.Sequential(torch.nn.Linear(64, 64), torch.nn.ReLU(), torch.nn.Linear(64, 20))
    save_file(model.state_dict(), str(path))
    return path.stat().st_size


def library_shapes(paths: list[Path]) -> int:
    from safetensors import safe_open

    elements = 0
    for path in paths:
        with safe_open(str(path), framework="pt") as handle:
            for name in handle.keys():  # noqa: SIM118 (a safe_open handle is not a dict)
                count = 1
                for dim in handle.get_slice(name).get_shape():
                    count *= dim
                elements += count
    return elements


def median_ms(action: Callable[[], object], runs: int) -> float:
    action()  # warm-up: imports, page cache
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        action()
        times.append(time.perf_counter() - start)
    return 1000 * statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=21)
    runs = parser.parse_args().runs
    with tempfile.TemporaryDirectory() as directory:
        folder = Path(directory)
        index, big_bytes = write_checkpoint(folder)
        (folder / "tiny").mkdir()
        tiny_index, tiny_bytes = write_checkpoint(folder / "tiny", tiny=True)
        small = folder / "small" / "model.safetensors"
        small.parent.mkdir()
        small_bytes = write_small(small)
        shards = sorted(folder.glob("model-*.safetensors"))
        big_total = paramcount.from_file(index).total
        if big_total != library_shapes(shards):
            raise SystemExit("paramcount and safetensors disagree on the 70B checkpoint")
        tiny_shards = sorted((folder / "tiny").glob("model-*.safetensors"))
        ours, theirs = "paramcount from_file().total", "safetensors safe_open, every shape"
        cases: list[tuple[str, str, int, Callable[[], object]]] = [
            (ours, "small", small_bytes, lambda: paramcount.from_file(small).total),
            (ours, "70B", big_bytes, lambda: paramcount.from_file(index).total),
            (ours, "70B, size 1", tiny_bytes, lambda: paramcount.from_file(tiny_index).total),
            ("paramcount from_file().report()", "small", small_bytes, lambda: paramcount.from_file(small).report()),
            ("paramcount from_file().report()", "70B", big_bytes, lambda: paramcount.from_file(index).report()),
            (theirs, "small", small_bytes, lambda: library_shapes([small])),
            (theirs, "70B", big_bytes, lambda: library_shapes(shards)),
            (theirs, "70B, size 1", tiny_bytes, lambda: library_shapes(tiny_shards)),
        ]
        rows = [(what, which, size, median_ms(action, runs)) for what, which, size, action in cases]
    print(f"Llama-3.1-70B layout: {big_total:,} parameters, {big_bytes:,} bytes in {SHARDS} shards (sparse)")
    print(f"{'what':<36} {'checkpoint':<12} {'bytes':>17} {'median ms':>10}")
    for what, which, size, milliseconds in rows:
        print(f"{what:<36} {which:<12} {size:>17,} {milliseconds:>10.2f}")
    ours_small, ours_big, ours_tiny = rows[0][3], rows[1][3], rows[2][3]
    print(f"paramcount's count, 70B / the same header with size-1 tensors: {ours_big / ours_tiny:.2f}×")
    print(f"paramcount's count, 70B (723 tensors) / small file (4 tensors): {ours_big / ours_small:.1f}×")


if __name__ == "__main__":
    main()
