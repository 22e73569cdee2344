"""Hub ids: a model in the local Hugging Face cache against a shipped one, and the cost of a cold hub id.

Measures, for Llama-3.1-8B's published config (shipped with paramcount, copied into a temporary Hugging Face
cache under another id so that it resolves through the cache):
  - in-process: ``paramcount.count(shipped id)`` vs ``paramcount.count(cached id)``, best and median;
  - whole process: ``paramcount ID --json`` for each, round-robin;
  - cold: a local fake hub (tests/fake_hub.py) serving that config, ``model.safetensors.index.json`` and four
    shards whose headers list Llama-3.1-8B's real tensor names and shapes; the HTTP requests and the bytes
    received by ``count`` (config.json alone) and by ``remote.safetensors_headers`` (the index and every
    header), then the same again, answered from the caches. Round trips and bytes, not network time.
Run: python benchmarks/hub.py [--runs N]  (needs huggingface_hub: pip install -e '.[hub]')
"""

from __future__ import annotations

import argparse
import json
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
from fake_hub import FakeHub, Repo, safetensors_bytes
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
    """Four shards whose headers name Llama-3.1-8B's tensors (bf16), with the index mapping them."""
    tree = paramcount.from_config(hub_config_path(SHIPPED) or "").tree
    names = [(name, list(param.sizes)) for name, param in iter_params(tree)]
    files: dict[str, bytes] = {}
    weight_map: dict[str, str] = {}
    for part in range(4):
        file = f"model-0000{part + 1}-of-00004.safetensors"
        chosen = names[part::4]
        header = safetensors_bytes({name: ("BF16", [1]) for name, _ in chosen})  # small data, real header shapes
        text = json.loads(header[8 : 8 + int.from_bytes(header[:8], "little")])
        for (name, shape), entry in zip(chosen, (text[name] for name, _ in chosen), strict=True):
            entry["shape"] = shape
            weight_map[name] = file
        body = json.dumps(text).encode()
        files[file] = len(body).to_bytes(8, "little") + body + bytes(64)
    files["model.safetensors.index.json"] = json.dumps({"metadata": {}, "weight_map": weight_map}).encode()
    return files


def _cold() -> None:
    from paramcount.sources.hf.remote import safetensors_headers

    config = hub_config_path(SHIPPED).read_bytes()  # type: ignore[union-attr]
    hub = FakeHub({"someone/cold-llama": Repo({"config.json": config, **_shards()})}).start()
    os.environ["HF_ENDPOINT"] = hub.endpoint
    try:
        steps: list[tuple[str, Callable[[], object]]] = [
            ("count (config.json alone), cold", lambda: paramcount.count("someone/cold-llama")),
            ("safetensors headers (index + 4 files), cold", lambda: safetensors_headers("someone/cold-llama")),
            ("count again (from the cache)", lambda: paramcount.count("someone/cold-llama")),
            ("safetensors headers again (from the caches)", lambda: safetensors_headers("someone/cold-llama")),
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
        _cold()


if __name__ == "__main__":
    main()
