"""Hub ids beyond the shipped configs: the local Hugging Face cache (offline), then, with huggingface_hub, the
config.json and safetensors headers from a hub, here a local fake one (tests/fake_hub.py): no network, and every
request counted, so the tests see that no weights move."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import torch

import paramcount
from fake_hub import FakeHub, Repo, safetensors_bytes
from hf_oracle import transformers_model
from paramcount.errors import ConfigError, UnknownNameError
from paramcount.sources.hf.hub import cached_config, is_hub_id
from paramcount.sources.hf.remote import FIRST_RANGE, safetensors_headers

TINY = {
    "model_type": "llama",
    "architectures": ["LlamaForCausalLM"],
    "hidden_size": 64,
    "intermediate_size": 128,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "vocab_size": 1000,
}
COMMIT = "0123456789abcdef0123456789abcdef01234567"
NEW_ARCH = {"model_type": "brand_new_arch", "architectures": ["BrandNewForCausalLM"], "hidden_size": 64}
"""A config of an architecture paramcount has no formulas for."""


def tiny_total() -> int:
    return sum(p.numel() for p in transformers_model(TINY, "LlamaForCausalLM").parameters())


def put_in_cache(root: Path, repo_id: str, config: dict[str, object], ref: str = "main") -> Path:
    """The layout huggingface_hub writes: refs/<ref> holds the commit, snapshots/<commit>/ the files."""
    folder = root / f"models--{repo_id.replace('/', '--')}"
    (folder / "refs").mkdir(parents=True)
    (folder / "refs" / ref).write_text(COMMIT)
    snapshot = folder / "snapshots" / COMMIT
    snapshot.mkdir(parents=True)
    (snapshot / "config.json").write_text(json.dumps(config))
    return snapshot / "config.json"


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "hub-cache"
    root.mkdir()
    monkeypatch.setenv("HF_HUB_CACHE", str(root))
    return root


def served(hub: FakeHub) -> list[str]:
    """The file requests (huggingface_hub also asks ``/api/agent-harnesses`` once a day for its user agent)."""
    return [
        f"{r.method} {r.path.split('/resolve/')[1]} {r.range or ''}".strip()
        for r in hub.requests
        if "/resolve/" in r.path
    ]


@pytest.mark.parametrize("text", ["org/name", "Org-1/Name_2.5@v1", "a/b@refs/pr/1"])
def test_hub_ids_are_recognised(text: str) -> None:
    assert is_hub_id(text)


@pytest.mark.parametrize("text", ["resnet50", "org/", "/name", "org/name/x", "org/name.json", "org/na me", "o/n@"])
def test_other_texts_are_not_hub_ids(text: str) -> None:
    assert not is_hub_id(text)


# --- the local cache, offline ----------------------------------------------------------------------------------


def test_a_cached_hub_id_counts_offline_as_transformers(cache: Path) -> None:
    put_in_cache(cache, "someone/tiny-llama", TINY)
    result = paramcount.count("someone/tiny-llama", offline=True)
    assert result.total == tiny_total()
    assert result.provenance.location == "someone/tiny-llama"
    assert paramcount.count("SOMEONE/Tiny-Llama", offline=True).total == result.total  # the hub ignores case


def test_a_revision_is_a_ref_or_a_commit(cache: Path) -> None:
    put_in_cache(cache, "someone/tiny-llama", TINY, ref="v1.0")
    assert cached_config("someone/tiny-llama") is None  # no refs/main
    assert cached_config("someone/tiny-llama", "v1.0") == cached_config("someone/tiny-llama", COMMIT)
    assert paramcount.count(f"someone/tiny-llama@{COMMIT}", offline=True).total == tiny_total()


def test_hf_home_locates_the_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HF_HUB_CACHE")
    monkeypatch.setenv("HF_HOME", str(tmp_path))
    put_in_cache(tmp_path / "hub", "someone/tiny-llama", TINY)
    assert paramcount.count("someone/tiny-llama").total == tiny_total()


def test_a_partial_cached_config_takes_transformers_defaults(cache: Path) -> None:
    put_in_cache(cache, "someone/default-llama", {"model_type": "llama"})
    expected = sum(p.numel() for p in transformers_model({"model_type": "llama"}, "LlamaForCausalLM").parameters())
    assert paramcount.count("someone/default-llama").total == expected == 6_738_415_616


def test_not_cached_and_offline_is_one_line_naming_close_shipped_ids(cache: Path) -> None:
    with pytest.raises(UnknownNameError) as caught:
        paramcount.count("meta-llama/Llama-3.1-8C")
    assert str(caught.value) == (
        "meta-llama/Llama-3.1-8C: not a shipped hub id nor in the local Hugging Face cache, and offline; "
        "did you mean 'meta-llama/Llama-3.1-8B', 'meta-llama/Llama-3.1-405B' or 'meta-llama/Llama-3.2-1B'?"
    )


# --- a hub, with huggingface_hub ------------------------------------------------------------------------------


@pytest.fixture
def hub(cache: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeHub]:
    shards = {
        "model-00001-of-00002.safetensors": safetensors_bytes({"model.embed_tokens.weight": ("BF16", [1000, 64])}),
        "model-00002-of-00002.safetensors": safetensors_bytes({"lm_head.weight": ("BF16", [1000, 64])}),
    }
    index = {"metadata": {}, "weight_map": {"model.embed_tokens.weight": "model-00001-of-00002.safetensors"}}
    index["weight_map"]["lm_head.weight"] = "model-00002-of-00002.safetensors"
    repos = {
        "someone/tiny-llama": Repo(
            {"config.json": json.dumps(TINY).encode(), "model.safetensors.index.json": json.dumps(index).encode()}
            | shards
        ),
        "someone/gated": Repo({"config.json": json.dumps(TINY).encode()}, token="hf_secret"),  # noqa: S106  (a test token)
        "someone/new-arch": Repo(
            {"config.json": json.dumps(NEW_ARCH).encode(), "model.safetensors.index.json": json.dumps(index).encode()}
            | shards
        ),
        "someone/new-arch-bin": Repo({"config.json": json.dumps(NEW_ARCH).encode(), "pytorch_model.bin": b"PK"}),
        "someone/long-header": Repo(
            {
                "config.json": json.dumps(TINY).encode(),
                "model.safetensors": safetensors_bytes({f"t{i:05d}": ("F32", [8, 8]) for i in range(3000)}),
            }
        ),
    }
    server = FakeHub(repos).start()
    monkeypatch.setenv("HF_ENDPOINT", server.endpoint)
    monkeypatch.delenv("HF_HUB_OFFLINE")
    yield server
    server.stop()


def test_a_hub_id_fetches_config_json_and_headers_then_answers_from_the_cache(hub: FakeHub, cache: Path) -> None:
    assert paramcount.count("someone/tiny-llama").total == tiny_total()
    assert served(hub) == [
        *["HEAD main/config.json"] * 2,  # paramcount's request (not retried), then hf_hub_download's
        "GET main/config.json",
        *[f"HEAD {COMMIT}/model.safetensors.index.json"] * 2,
        f"GET {COMMIT}/model.safetensors.index.json",
        *(f"GET {COMMIT}/model-0000{i}-of-00002.safetensors bytes=0-{FIRST_RANGE}" for i in (1, 2)),
    ]
    assert cached_config("someone/tiny-llama") is not None
    before = len(hub.requests)
    assert paramcount.count("someone/tiny-llama").total == tiny_total()
    assert paramcount.count("someone/tiny-llama", offline=True).total == tiny_total()
    assert len(hub.requests) == before


def test_safetensors_headers_come_by_range_requests_never_the_data(hub: FakeHub) -> None:
    found = safetensors_headers("someone/tiny-llama")
    files = hub.repos["someone/tiny-llama"].files
    assert found.commit == COMMIT
    assert found.index == files["model.safetensors.index.json"]
    for name, header in found.headers:
        length = int.from_bytes(files[name][:8], "little")
        assert header == files[name][: 8 + length]
    assert [line for line in served(hub) if ".safetensors " in line or line.endswith(".safetensors")] == [
        f"GET {COMMIT}/model-0000{i}-of-00002.safetensors bytes=0-{FIRST_RANGE}" for i in (1, 2)
    ]
    before = len(hub.requests)
    assert safetensors_headers("someone/tiny-llama", offline=True) == found  # kept: no request at all
    assert len(hub.requests) == before


def test_a_long_header_takes_a_second_range_request(hub: FakeHub) -> None:
    found = safetensors_headers("someone/long-header")
    payload = hub.repos["someone/long-header"].files["model.safetensors"]
    length = int.from_bytes(payload[:8], "little")
    assert length > FIRST_RANGE
    assert found.headers == (("model.safetensors", payload[: 8 + length]),)
    ranges = [r.range for r in hub.requests if r.path.endswith("/model.safetensors")]
    assert ranges == [f"bytes=0-{FIRST_RANGE}", f"bytes={FIRST_RANGE + 1}-{length + 7}"]
    assert sum(r.sent for r in hub.requests if r.path.endswith("/model.safetensors")) == 8 + length


def test_a_missing_model_is_one_line(hub: FakeHub) -> None:
    with pytest.raises(
        UnknownNameError, match=r"^someone/nothing: no such model on the hub \(or a private one: set HF_TOKEN\)$"
    ):
        paramcount.count("someone/nothing")


def test_a_missing_revision_is_one_line(hub: FakeHub) -> None:
    with pytest.raises(UnknownNameError, match=r"^someone/tiny-llama@v9: no such revision on the hub$"):
        paramcount.count("someone/tiny-llama@v9")


def test_a_gated_model_needs_hf_token(hub: FakeHub, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(
        ConfigError, match=r"^someone/gated: a gated model; accept its terms on the hub and set HF_TOKEN"
    ):
        paramcount.count("someone/gated")
    monkeypatch.setenv("HF_TOKEN", "hf_secret")
    assert paramcount.count("someone/gated").total == tiny_total()


def test_an_unreachable_hub_is_one_line_at_once(
    hub: FakeHub, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Without huggingface_hub's five retries (about 23 seconds, each logged): nothing waits, and the CLI writes
    the one line alone."""
    import time

    from paramcount.cli import main
    from paramcount.web.pages import WEB_OPTIONS

    waits: list[float] = []
    monkeypatch.setattr(time, "sleep", waits.append)
    hub.stop()
    message = "someone/tiny-llama: cannot reach the hub (ConnectError); use a cached model or "
    with pytest.raises(ConfigError) as raised:
        paramcount.count("someone/tiny-llama")
    assert str(raised.value) == message + "offline=True"  # the keyword argument of count()
    assert main(["someone/tiny-llama"]) == 2
    captured = capsys.readouterr()
    assert (captured.out, captured.err.splitlines()) == ("", [f"paramcount: error: {message}--offline"])
    assert raised.value.to_dict(WEB_OPTIONS)["message"] == message.removesuffix("; use a cached model or ")
    assert waits == []


def test_offline_never_asks_the_hub(hub: FakeHub, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(UnknownNameError, match=r"and offline$"):
        paramcount.count("someone/tiny-llama", offline=True)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(UnknownNameError, match=r"and offline$"):
        paramcount.count("someone/tiny-llama")
    assert hub.requests == []


def test_the_web_door_never_fetches(hub: FakeHub, cache: Path) -> None:
    """``paths=False`` (the web app's untrusted queries) reads neither the cache nor the network."""
    put_in_cache(cache, "someone/cached", TINY)
    for text in ("someone/tiny-llama", "someone/cached"):
        with pytest.raises(UnknownNameError):
            paramcount.count(text, paths=False)
    assert hub.requests == []


def test_the_cli_offline_flag(hub: FakeHub, capsys: pytest.CaptureFixture[str]) -> None:
    from paramcount.cli import main

    assert main(["--offline", "someone/tiny-llama"]) == 2
    assert "not a shipped hub id nor in the local Hugging Face cache, and offline" in capsys.readouterr().err
    assert hub.requests == []


def test_a_fetched_config_counts_every_class_as_transformers(hub: FakeHub) -> None:
    result = paramcount.count("someone/tiny-llama", architecture="LlamaModel")
    assert result.total == sum(p.numel() for p in transformers_model(TINY, "LlamaModel").parameters())
    # the weights are the config's own class's (another class differs by design): not fetched, not compared
    assert served(hub) == ["HEAD main/config.json", "HEAD main/config.json", "GET main/config.json"]
    assert "weights_agree" not in dict(result.provenance.facts())


# --- an architecture without formulas: counted from the weights' headers ---------------------------------------


def test_an_unknown_architecture_is_counted_from_its_safetensors_headers(hub: FakeHub) -> None:
    result = paramcount.count("someone/new-arch")
    assert (result.origin, result.provenance.location) == ("safetensors", "someone/new-arch")
    assert result.total == 1000 * 64 + 1000 * 64  # the two tensors the headers declare
    assert [(row.name, row.shape, row.dtype) for row in result.counts.parameters] == [
        ("model.embed_tokens.weight", (1000, 64), "bfloat16"),
        ("lm_head.weight", (1000, 64), "bfloat16"),
    ]
    facts = dict(result.provenance.facts())
    assert facts["config_model_type"] == "brand_new_arch"
    assert facts["formulas"] == "unavailable for model_type 'brand_new_arch': counted exactly from the weights"
    weights = [r.range for r in hub.requests if r.path.endswith(".safetensors")]
    assert weights == [f"bytes=0-{FIRST_RANGE}"] * 2  # one range request per shard: headers only, never the data
    before = len(hub.requests)
    assert paramcount.count("someone/new-arch", offline=True).total == result.total  # from the caches
    assert len(hub.requests) == before


def test_an_unknown_architecture_without_safetensors_offers_via_transformers(hub: FakeHub) -> None:
    with pytest.raises(UnknownNameError) as caught:
        paramcount.count("someone/new-arch-bin")
    assert "model_type 'brand_new_arch' is not supported" in str(caught.value)
    assert "via_transformers=True" in str(caught.value)
    assert not [r for r in hub.requests if r.path.endswith(".bin")]  # the weights are never fetched


def test_an_unknown_architecture_in_the_cache_is_counted_from_its_files(cache: Path) -> None:
    from safetensors.torch import save_file

    snapshot = put_in_cache(cache, "someone/new-arch", NEW_ARCH).parent
    with pytest.raises(UnknownNameError, match="via_transformers=True"):
        paramcount.count("someone/new-arch", offline=True)  # no weights at hand, offline
    model = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Linear(8, 2))
    save_file(model.state_dict(), str(snapshot / "model.safetensors"))
    result = paramcount.count("someone/new-arch", offline=True)
    assert result.total == sum(p.numel() for p in model.parameters())
    assert (result.origin, result.provenance.location) == ("safetensors", "someone/new-arch")
    assert dict(result.provenance.facts())["config_model_type"] == "brand_new_arch"


# --- config and weights compared, as a folder's are -------------------------------------------------------------


@pytest.fixture(scope="module")
def saved(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    """TINY as transformers saves it: ``save_pretrained``'s config.json, index and float32 shards of at most
    300 kB (each longer than the first range request), by file name."""
    import transformers

    library: Any = transformers
    folder = tmp_path_factory.mktemp("saved-llama")
    settings = {key: value for key, value in TINY.items() if key != "architectures"}
    model = library.LlamaForCausalLM(library.AutoConfig.for_model(**settings))
    model.save_pretrained(folder, max_shard_size="300KB")
    kept = (".json", ".safetensors")
    return {path.name: path.read_bytes() for path in sorted(folder.iterdir()) if path.suffix in kept}


def header_tensors(files: dict[str, bytes]) -> list[tuple[str, list[int], str]]:
    """Every tensor's name, shape and dtype as the files' own JSON headers list them, shards in name order."""
    found = []
    for name, data in sorted(files.items()):
        if name.endswith(".safetensors"):
            header = json.loads(data[8 : 8 + int.from_bytes(data[:8], "little")])
            found += [(key, value["shape"], value["dtype"]) for key, value in header.items() if key != "__metadata__"]
    return found


def shapes_of(config: dict[str, object]) -> dict[str, list[int]]:
    """What transformers builds from ``config``: every parameter's shape by name."""
    return {name: list(p.shape) for name, p in transformers_model(config, "LlamaForCausalLM").named_parameters()}


def put_weights(config: Path, files: dict[str, bytes]) -> None:
    """The weights beside a cached ``config.json`` as huggingface_hub lays them out: links to ``../../blobs/``."""
    blobs = config.parents[2] / "blobs"
    blobs.mkdir(exist_ok=True)
    for name, data in files.items():
        if name != "config.json":
            (blobs / name).write_bytes(data)
            (config.parent / name).symlink_to(Path("..", "..", "blobs", name))


def differences(result: paramcount.Result) -> list[tuple[object, ...]]:
    rows = result.report().to_dict()["checkpoint"]["config_differences"]
    return [(r["name"], r["difference"], r["config_shape"], r["weights_shape"], r["weights_dtype"]) for r in rows]


def test_a_cold_hub_id_is_compared_with_its_safetensors_headers(
    hub: FakeHub, saved: dict[str, bytes], capsys: pytest.CaptureFixture[str]
) -> None:
    hub.repos["someone/saved-llama"] = Repo(saved)
    shards = sorted(name for name in saved if name.endswith(".safetensors"))
    assert len(shards) == 3
    result = paramcount.count("someone/saved-llama")
    assert (result.origin, result.total) == ("config", tiny_total())  # the count is the config's, as before
    assert result.provenance.differences == ()  # type: ignore[attr-defined]
    in_files = sum(torch.Size(shape).numel() for _, shape, _ in header_tensors(saved))
    assert in_files == tiny_total()
    facts = dict(result.provenance.facts())
    assert (facts["weights_format"], facts["weights_files"]) == ("safetensors", "3")
    assert (facts["weights_parameters"], facts["weights_agree"]) == (str(in_files), "yes")
    assert result.report().to_dict()["checkpoint"] == {"sections": [], "config_differences": []}
    # config.json, the index, then one range request per shard: the headers, never the rest of the data
    assert served(hub) == [
        *["HEAD main/config.json"] * 2,  # paramcount's request (not retried), then hf_hub_download's
        "GET main/config.json",
        *[f"HEAD {COMMIT}/model.safetensors.index.json"] * 2,
        f"GET {COMMIT}/model.safetensors.index.json",
        *(f"GET {COMMIT}/{name} bytes=0-{FIRST_RANGE}" for name in shards),
    ]
    for name in shards:
        sent = sum(r.sent for r in hub.requests if r.path.endswith(f"/{name}"))
        assert sent == FIRST_RANGE + 1 < len(saved[name])
    before = len(hub.requests)
    assert paramcount.count("someone/saved-llama", offline=True) == result  # from the caches, compared again
    from paramcount.cli import main

    assert main(["someone/saved-llama"]) == 0
    assert len(hub.requests) == before
    out = capsys.readouterr().out
    assert f"\n  weights (safetensors, 3 files): {in_files:,} parameters; agree with config.json: yes\n" in out


def test_a_cached_snapshot_whose_config_has_a_layer_more_lists_the_missing_tensors(
    hub: FakeHub, cache: Path, saved: dict[str, bytes], capsys: pytest.CaptureFixture[str]
) -> None:
    config = {**TINY, "num_hidden_layers": 3}  # the weights were saved with 2
    put_weights(put_in_cache(cache, "someone/wrong-layers", config), saved)
    declared = shapes_of(config)
    expected = [(name, "missing", shape, None, None) for name, shape in declared.items() if ".layers.2." in name]
    assert len(expected) == 9  # q, k, v, o, gate, up, down and two norms
    result = paramcount.count("someone/wrong-layers")
    assert result.total == sum(p.numel() for p in transformers_model(config, "LlamaForCausalLM").parameters())
    assert differences(result) == expected
    fewer = result.total - tiny_total()  # the config's third layer
    assert dict(result.provenance.facts())["weights_agree"] == (
        f"no: the weights hold {fewer:,} parameters fewer than config.json; 9 tensor differences "
        "(9 missing, 0 extra, 0 of another shape)"
    )
    assert hub.requests == []  # a cached hub id stays offline: its snapshot's own files, header-only
    from paramcount.cli import main

    assert main(["someone/wrong-layers"]) == 0
    # in columns: names padded to the longest, model.layers.2.post_attention_layernorm.weight
    assert "\n    missing  model.layers.2.self_attn.q_proj.weight          config (64, 64)\n" in capsys.readouterr().out


def test_a_hub_config_with_a_layer_too_few_lists_the_extra_tensors(hub: FakeHub, saved: dict[str, bytes]) -> None:
    config = {**TINY, "num_hidden_layers": 1}
    hub.repos["someone/wrong-layers"] = Repo({**saved, "config.json": json.dumps(config).encode()})
    in_files = header_tensors(saved)
    assert {dtype for _, _, dtype in in_files} == {"F32"}  # torch's float32
    expected = [(name, "extra", None, shape, "float32") for name, shape, _ in in_files if ".layers.1." in name]
    assert len(expected) == 9
    result = paramcount.count("someone/wrong-layers")
    assert differences(result) == expected  # in the files' order
    assert dict(result.provenance.facts())["weights_agree"].endswith("(0 missing, 9 extra, 0 of another shape)")


def test_a_quantised_checkpoint_on_the_hub_differs_in_shapes_and_dtypes(
    hub: FakeHub, saved: dict[str, bytes], capsys: pytest.CaptureFixture[str]
) -> None:
    """bitsandbytes' NF4 layout: each linear weight of the decoder layers saved as uint8 holding two 4-bit codes
    per byte, shape (out·in/2, 1), beside ``weight.absmax`` (one float32 per block of 64 weights) and
    ``weight.quant_map`` (the 16 NF4 code values); the config keeps the model's own sizes."""
    from safetensors.torch import load, save

    state: dict[str, torch.Tensor] = {}
    for name, data in sorted(saved.items()):
        if name.endswith(".safetensors"):
            state.update(load(data))
    quantised: dict[str, torch.Tensor] = {}
    extras = []
    for name, tensor in state.items():
        if ".layers." in name and tensor.dim() == 2:
            count = tensor.numel()
            quantised |= {name: torch.zeros(count // 2, 1, dtype=torch.uint8)}
            quantised |= {f"{name}.absmax": torch.zeros(count // 64), f"{name}.quant_map": torch.zeros(16)}
            extras += [(f"{name}.absmax", "extra", None, [count // 64], "float32")]
            extras += [(f"{name}.quant_map", "extra", None, [16], "float32")]
        else:
            quantised[name] = tensor
    shapes = [  # in the config's order, as transformers builds it
        (name, "shape", shape, [shape[0] * shape[1] // 2, 1], "uint8")
        for name, shape in shapes_of(TINY).items()
        if ".layers." in name and len(shape) == 2
    ]
    config = {**TINY, "quantization_config": {"quant_method": "bitsandbytes", "load_in_4bit": True}}
    hub.repos["someone/tiny-llama-nf4"] = Repo(
        {"config.json": json.dumps(config).encode(), "model.safetensors": save(quantised)}
    )
    result = paramcount.count("someone/tiny-llama-nf4")
    assert result.total == tiny_total()  # the config's model, as transformers builds it
    assert len(shapes) == 7 * 2  # q, k, v, o, gate, up, down in 2 layers
    assert differences(result) == shapes + sorted(extras)  # extras in the file's order: safetensors sorts names
    packed = sum(p.numel() for p in quantised.values())
    facts = dict(result.provenance.facts())
    assert (facts["weights_files"], facts["weights_parameters"]) == ("1", str(packed))
    assert facts["weights_agree"] == (
        f"no: the weights hold {tiny_total() - packed:,} parameters fewer than config.json; 42 tensor differences "
        "(0 missing, 28 extra, 14 of another shape)"
    )
    assert [r.range for r in hub.requests if r.path.endswith("/model.safetensors")] == [f"bytes=0-{FIRST_RANGE}"]
    from paramcount.cli import main

    assert main(["someone/tiny-llama-nf4", "--offline"]) == 0
    out = capsys.readouterr().out
    # in columns: the config's shapes padded to the widest, config (128, 64)
    assert "\n    shape    model.layers.0.self_attn.q_proj.weight  config (64, 64)   weights (2048, 1) uint8\n" in out
    assert "\n    … 32 more (--json lists every one)\n" in out


def test_a_hub_model_without_safetensors_is_counted_from_its_config_alone(hub: FakeHub) -> None:
    hub.repos["someone/bin-only"] = Repo({"config.json": json.dumps(TINY).encode(), "pytorch_model.bin": b"PK"})
    result = paramcount.count("someone/bin-only")
    assert result.total == tiny_total()
    assert "weights_agree" not in dict(result.provenance.facts())
    assert result.report().to_dict()["checkpoint"] is None
    assert served(hub)[3:] == [  # after config.json: no index, no model.safetensors; the weights are never asked
        f"HEAD {COMMIT}/model.safetensors.index.json",
        f"GET {COMMIT}/model.safetensors bytes=0-{FIRST_RANGE}",
    ]


def test_a_cached_config_without_weights_never_asks_the_hub_for_them(hub: FakeHub, cache: Path) -> None:
    hub.repos["someone/config-only"] = Repo(
        {"config.json": json.dumps(TINY).encode()} | dict(hub.repos["someone/tiny-llama"].files)
    )
    put_in_cache(cache, "someone/config-only", TINY)  # as AutoConfig.from_pretrained leaves it
    result = paramcount.count("someone/config-only")
    assert result.total == tiny_total()
    assert "weights_agree" not in dict(result.provenance.facts())
    assert hub.requests == []


def test_weights_that_cannot_be_read_are_said_in_the_facts(hub: FakeHub, cache: Path) -> None:
    config = put_in_cache(cache, "someone/broken", TINY)
    (config.parent / "model.safetensors").write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json}")
    result = paramcount.count("someone/broken")
    assert result.total == tiny_total()
    assert dict(result.provenance.facts())["weights"].startswith("not compared: model.safetensors: ")
    assert result.provenance.differences == ()  # type: ignore[attr-defined]
