"""Hub ids: a model in the local Hugging Face cache against a shipped one, and the cost of a cold hub id.

Measures, for Llama-3.1-8B's published config (shipped with paramcount, copied into a temporary Hugging Face
cache under another id so that it resolves through the cache):
  - in-process: ``paramcount.count(shipped id)`` vs ``paramcount.count(cached id)``, best and median;
  - whole process: ``paramcount ID --json`` for each, round-robin;
  - cold: a local fake hub (tests/fake_hub.py) serving that config, ``model.safetensors.index.json`` and four
    shards whose headers list Llama-3.1-8B's real tensor names and shapes; the HTTP requests and the bytes
    received by ``count`` (config.json, the index and every header, compared with the config), then the same
    again, answered from the caches. Round trips and bytes, not network time; then the in-process time of
    that answer from the caches (the 291 tensors' headers read and compared).
Run: python benchmarks/hub.py [--runs N]  (needs huggingface_hub: pip install -e '.[hub]')
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parents[1] / "tests"))  # the fake hub the tests use

import paramcount
from fake_hub import FakeHub, Repo
from paramcount.sources.hf.hub import hub_config_path
from paramcount.tree import iter_params

SHIPPED = "meta-llama/Llama-3.1-8B"
CACHED = "someone/llama-3.1-8b-copy"
COMMIT = "0123456789abcdef0123456789abcdef01234567"


def _cache(root: Path, repo_id: str, config: bytes) -> None:
    folder = root / f"models--{repo_id.replace('/', '--')}"
    (folder / "refs").mkdir(parents=True)
    (folder / "refs" / "main").write_text(COMMIT)
    (folder / "snapshots" / COMMIT).mkdir(parents=True)
    (folder / "snapshots" / COMMIT / "config.json").write_bytes(config)


def _in_process(runs: int) -> None:
    for text in (SHIPPED, CACHED):
        paramcount.count(text)
    samples: dict[str, list[float]] = {SHIPPED: [], CACHED: []}
    for _ in range(runs * 20):
        for text, kept in samples.items():
            start = time.perf_counter()
            paramcount.count(text)
            kept.append(time.perf_counter() - start)
    print("in-process paramcount.count(...)              best       median")
    for text, kept in samples.items():
        print(f"  {text:<42}{min(kept) * 1e3:7.3f} ms {statistics.median(kept) * 1e3:7.3f} ms")


def _whole_process(runs: int) -> None:
    script = shutil.which("paramcount") or sys.exit("install paramcount first: pip install -e .")
    samples: dict[str, list[float]] = {SHIPPED: [], CACHED: []}
    for _ in range(runs):
        for text, kept in samples.items():
            start = time.perf_counter()
            subprocess.run([script, text, "--json", "--offline"], check=True, capture_output=True)
            kept.append(time.perf_counter() - start)
    print("whole process: paramcount ID --json --offline (median)")
    for text, kept in samples.items():
        print(f"  {text:<42}{statistics.median(kept) * 1e3:7.1f} ms")


def _shards() -> dict[str, bytes]:
    """Four shards whose headers are Llama-3.1-8B's in bf16 (its tensors' names, shapes and data offsets), with the
    index mapping them: consecutive quarters of the model, each sorted by name, as ``save_pretrained`` and
    safetensors write them; each served file holds its header and 64 bytes of data, not the 16 GB."""
    tree = paramcount.from_config(hub_config_path(SHIPPED) or "").tree
    names = [(name, list(param.sizes)) for name, param in iter_params(tree)]
    files: dict[str, bytes] = {}
    weight_map: dict[str, str] = {}
    for part in range(4):
        file = f"model-0000{part + 1}-of-00004.safetensors"
        header: dict[str, object] = {"__metadata__": {"format": "pt"}}
        offset = 0
        for name, shape in sorted(names[part * len(names) // 4 : (part + 1) * len(names) // 4]):
            size = 2 * math.prod(shape)
            header[name] = {"dtype": "BF16", "shape": shape, "data_offsets": [offset, offset + size]}
            offset += size
            weight_map[name] = file
        body = json.dumps(header).encode()
        files[file] = len(body).to_bytes(8, "little") + body + bytes(64)  # the data's first bytes, not the rest
    files["model.safetensors.index.json"] = json.dumps({"metadata": {}, "weight_map": weight_map}).encode()
    return files


def _cold(runs: int) -> None:
    config = hub_config_path(SHIPPED).read_bytes()  # type: ignore[union-attr]
    hub = FakeHub({"someone/cold-llama": Repo({"config.json": config, **_shards()})}).start()
    os.environ["HF_ENDPOINT"] = hub.endpoint
    try:
        steps: list[tuple[str, Callable[[], object]]] = [
            ("count (config, index, 4 headers), cold", lambda: paramcount.count("someone/cold-llama")),
            ("count again (from the caches)", lambda: paramcount.count("someone/cold-llama")),
        ]
        print("cold hub id (a local fake hub)                  requests  bytes received   files asked")
        for label, step in steps:
            before = len(hub.requests)
            step()
            made = hub.requests[before:]
            files = sorted({r.path.rsplit("/", 1)[-1] for r in made if "/resolve/" in r.path})
            print(f"  {label:<46}{len(made):>8}{sum(r.sent for r in made):>16,}   {', '.join(files) or '-'}")
        sizes = sum(len(v) for k, v in hub.repos["someone/cold-llama"].files.items() if k.endswith(".safetensors"))
        print(f"  (the served shards hold {sizes:,} bytes; the real ones 16,060,522,496 of bf16 weights)")
        facts = dict(paramcount.count("someone/cold-llama").provenance.facts())
        print(f"  weights agree with the config: {facts['weights_agree']}")
        kept = []
        for _ in range(runs * 20):
            start = time.perf_counter()
            paramcount.count("someone/cold-llama")
            kept.append(time.perf_counter() - start)
        best, median = min(kept) * 1e3, statistics.median(kept) * 1e3
        print(f"  count from the caches, compared: best {best:.3f} ms, median {median:.3f} ms")
    finally:
        hub.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=11)
    arguments = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        os.environ["HF_HUB_CACHE"] = folder
        os.environ.pop("HF_HUB_OFFLINE", None)
        _cache(Path(folder), CACHED, hub_config_path(SHIPPED).read_bytes())  # type: ignore[union-attr]
        if paramcount.count(CACHED).total != paramcount.count(SHIPPED).total:
            raise SystemExit("the cached copy does not count as the shipped config")
        _in_process(arguments.runs)
        _whole_process(arguments.runs)
        _cold(arguments.runs)


if __name__ == "__main__":
    main()
