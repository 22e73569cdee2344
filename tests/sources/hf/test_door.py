"""The config door itself: reading bounds, hub ids, choosing the class, counting through transformers."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

import paramcount
from hf_oracle import CONFIGS, shipped, transformers_model
from paramcount.analysis.shapes.propagate import propagate
from paramcount.errors import ConfigError, LimitError, UnknownNameError
from paramcount.layers import build, known_layers
from paramcount.limits import MAX_CONFIG_BYTES, MAX_CONFIG_DEPTH
from paramcount.provenance import FromConfig
from paramcount.sources.hf import build_config_tree
from paramcount.sources.hf._config import parse_config_text
from paramcount.sources.hf._registry import spec_for
from paramcount.sources.hf.hub import hub_config_path, shipped_hub_ids
from paramcount.tree import iter_modules, iter_modules_collapsed, iter_params

LLAMA = {
    "model_type": "llama",
    "hidden_size": 64,
    "intermediate_size": 128,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "num_key_value_heads": 2,
    "vocab_size": 100,
}


@pytest.mark.parametrize(
    ("text", "error", "message"),
    [
        ("[1, 2]", ConfigError, "config.json: the top level must be a JSON object, got list"),
        ('{"a": NaN}', ConfigError, "config.json: NaN is not valid JSON; use a number"),
        ('{"a": Infinity}', ConfigError, "config.json: Infinity is not valid JSON; use a number"),
        ('{"a": ' * 40 + "1" + "}" * 40, ConfigError, f"config.json: nested more than {MAX_CONFIG_DEPTH} levels deep"),
        ("[" * 100_000 + "]" * 100_000, LimitError, "config.json is 200,000 bytes; the limit is 4,000,000 bytes"),
        ('{"a": ', ConfigError, "config.json: not valid JSON (Expecting value: line 1 column 7 (char 6))"),
    ],
)
def test_bad_config_text(text: str, error: type[Exception], message: str) -> None:
    if error is LimitError:
        text = " " * (MAX_CONFIG_BYTES + 1)
        message = f"config.json is {MAX_CONFIG_BYTES + 1:,} bytes; the limit is {MAX_CONFIG_BYTES:,} bytes"
    with pytest.raises(error, match=re.escape(message)):
        parse_config_text(text)


def test_deeply_nested_arrays_are_refused_not_crashed() -> None:
    # json.loads recurses: 100,000 nested arrays raise RecursionError inside it, which we convert.
    with pytest.raises(ConfigError, match=re.escape(f"nested more than {MAX_CONFIG_DEPTH} levels deep")):
        parse_config_text("[" * 100_000 + "]" * 100_000)


@pytest.mark.parametrize(
    ("change", "message", "key_path"),
    [
        ({"model_type": None}, "config.json: key 'model_type' is missing or not a string", "model_type"),
        ({"hidden_size": True}, "config.json: 'hidden_size' must be an integer, got True", "hidden_size"),
        ({"hidden_size": -64}, "config.json: 'hidden_size' must be a positive integer, got -64", "hidden_size"),
        ({"vocab_size": "100"}, "config.json: 'vocab_size' must be an integer, got '100'", "vocab_size"),
        (
            {"hidden_size": 2**60},
            "config.json: 'hidden_size' is 1,152,921,504,606,846,976; the limit is",
            "hidden_size",
        ),
        ({"num_hidden_layers": 10**6}, "config.json: 'num_hidden_layers' is 1,000,000; the limit is 100,000", None),
    ],
)
def test_bad_values_name_the_key(change: dict[str, object], message: str, key_path: str | None) -> None:
    config = {**LLAMA, **change}
    with pytest.raises(ConfigError, match=re.escape(message)) as info:
        build_config_tree(config)
    if key_path is not None:
        assert info.value.key_path == key_path


def test_unknown_model_type_lists_the_supported_ones() -> None:
    with pytest.raises(UnknownNameError) as info:
        build_config_tree({**LLAMA, "model_type": "lama"})
    message = str(info.value)
    assert message.startswith(
        "config.json: model_type 'lama' is not supported; if transformers knows it, add via_transformers=True to "
        "count it there; supported: albert, bart, bert,"
    )  # the test environment has torch and transformers: no installation hint
    assert message.endswith("whisper, xlm-roberta; did you mean 'llama', 'llama4' or 'llava'?")


def test_unknown_model_type_names_the_file_and_the_offer_works(tmp_path: Path) -> None:
    import torch
    import transformers

    # XLNet has no builder here; transformers knows it.
    sizes = {"d_model": 64, "n_head": 4, "d_inner": 96, "n_layer": 2, "vocab_size": 100}
    path = tmp_path / "xlnet" / "config.json"
    path.parent.mkdir()
    path.write_text(json.dumps({"model_type": "xlnet", "architectures": ["XLNetLMHeadModel"], **sizes}))
    for source in (str(path), str(path.parent)):
        with pytest.raises(UnknownNameError) as info:
            paramcount.count(source)
        assert str(info.value).startswith(
            f"{path}: model_type 'xlnet' is not supported; if transformers knows it, add via_transformers=True"
        )
    counted = paramcount.count(str(path), via_transformers=True)
    with torch.device("meta"):
        model = transformers.XLNetLMHeadModel(
            transformers.XLNetConfig(d_model=64, n_head=4, d_inner=96, n_layer=2, vocab_size=100)
        )
    assert counted.total == sum(parameter.numel() for parameter in model.parameters())


def test_an_unknown_model_type_without_transformers_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("paramcount.sources.hf.via_transformers.available", lambda: False)
    with pytest.raises(UnknownNameError, match=re.escape(
        "if transformers knows it, add via_transformers=True to count it there (needs torch and transformers "
        "installed);"
    )):  # fmt: skip
        build_config_tree({**LLAMA, "model_type": "xlnet"})


def test_each_surface_names_the_offer_of_transformers_its_own_way(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``str(error)`` names ``count()``'s keyword argument, the command line its flag (text and JSON); the web,
    which has no such option, leaves the offer out (``tests/web``)."""
    from paramcount.cli import main

    path = tmp_path / "config.json"
    path.write_text(json.dumps({**LLAMA, "model_type": "lama"}))
    head, tail = f"{path}: model_type 'lama' is not supported; if transformers knows it, add ", " to count it there;"
    with pytest.raises(UnknownNameError) as info:
        paramcount.count(str(path))
    assert str(info.value).startswith(f"{head}via_transformers=True{tail} supported: albert,")
    assert main([str(path)]) == 2
    assert capsys.readouterr().err.startswith(f"paramcount: error: {head}--via-transformers{tail} supported: albert,")
    assert main(["--json", str(path)]) == 2
    message = json.loads(capsys.readouterr().out)["error"]["message"]
    assert message.startswith(f"{head}--via-transformers{tail} supported: albert,")


def test_each_surface_names_counting_through_transformers_without_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from paramcount.cli import main
    from paramcount.web.pages import WEB_OPTIONS

    monkeypatch.setattr("paramcount.sources.hf.via_transformers.available", lambda: False)
    path = _write(LLAMA)
    needs = " needs torch and transformers installed (pip install transformers torch)"
    with pytest.raises(ConfigError) as info:
        paramcount.count(path, via_transformers=True)
    assert str(info.value) == f"via_transformers=True{needs}"
    assert main(["--via-transformers", path]) == 2
    assert capsys.readouterr().err == f"paramcount: error: --via-transformers{needs}\n"
    assert info.value.to_dict(WEB_OPTIONS)["message"] == f"counting with transformers{needs}"  # the web never asks


def test_a_shipped_config_is_named_by_its_hub_id() -> None:
    with pytest.raises(ConfigError) as info:
        paramcount.count("meta-llama/Llama-3.1-8B", architecture="BertModel")
    assert str(info.value).startswith("meta-llama/Llama-3.1-8B: architecture 'BertModel' is not supported")


def test_architecture_choice_and_the_offer_of_others() -> None:
    # LlamaModel has no lm_head: 100·64 fewer parameters than LlamaForCausalLM (untied by default).
    causal = paramcount.from_config(Path(_write(LLAMA)))
    base = paramcount.from_config(Path(_write(LLAMA)), architecture="LlamaModel")
    assert causal.total - base.total == 100 * 64
    provenance = causal.report().provenance
    assert isinstance(provenance, FromConfig)
    assert provenance.architecture == "LlamaForCausalLM"
    assert "LlamaModel" in provenance.other_classes
    with pytest.raises(
        ConfigError, match=re.escape("architecture 'BertModel' is not supported for model_type 'llama'")
    ):
        paramcount.from_config(Path(_write(LLAMA)), architecture="BertModel")


def _write(config: dict[str, object], folder: list[Path] = []) -> str:  # noqa: B006 - a per-module temp folder
    import tempfile

    if not folder:
        folder.append(Path(tempfile.mkdtemp()))
    path = folder[0] / "config.json"
    path.write_text(json.dumps(config))
    return str(path)


def test_hub_ids_resolve_with_and_without_the_organisation() -> None:
    assert hub_config_path("meta-llama/Llama-3.1-8B") == hub_config_path("llama-3.1-8b")
    assert "meta-llama/Llama-3.1-8B" in shipped_hub_ids()
    # Llama-3.1-8B: the figure Meta publishes and transformers builds (tests/sources/hf/test_decoders.py).
    assert paramcount.count("llama-3.1-8b").total == 8_030_261_248


def test_counting_through_transformers_itself(tmp_path: Path) -> None:
    import torch
    import transformers

    config = {
        "model_type": "gpt_bigcode",
        "n_embd": 64,
        "n_layer": 2,
        "n_head": 4,
        "vocab_size": 100,
        "n_positions": 32,
        "architectures": ["GPTBigCodeForCausalLM"],
    }
    (tmp_path / "config.json").write_text(json.dumps(config))
    result = paramcount.count(str(tmp_path), via_transformers=True)
    same = transformers.GPTBigCodeConfig(n_embd=64, n_layer=2, n_head=4, vocab_size=100, n_positions=32)
    with torch.device("meta"):
        model = transformers.GPTBigCodeForCausalLM(same)
    assert result.total == sum(p.numel() for p in model.parameters())
    assert dict(result.provenance.facts())["counted_by"] == "transformers"


def test_counting_through_transformers_refuses_odd_class_names(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text(json.dumps({**LLAMA, "architectures": ["os.system"]}))
    with pytest.raises(ConfigError, match=re.escape("config.json: 'os.system' is not a class name")):
        paramcount.count(str(tmp_path), via_transformers=True)


def test_a_class_transformers_cannot_import_here_is_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A torchvision built for another torch makes transformers' lazy import of a model class fail; the user got
    its ModuleNotFoundError traceback ("Could not import module 'GPT2LMHeadModel'. Are this object's requirements
    defined correctly? …"), the cause two exceptions down."""
    transformers = pytest.importorskip("transformers")
    lookup = type(transformers).__getattr__

    def broken(module: object, name: str) -> object:
        if name == "GPT2LMHeadModel":
            raise ModuleNotFoundError(f"Could not import module {name!r}.") from RuntimeError(
                "operator torchvision::nms does not exist"
            )
        return lookup(module, name)

    monkeypatch.delattr(transformers, "GPT2LMHeadModel", raising=False)
    monkeypatch.setattr(type(transformers), "__getattr__", broken)
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "gpt2", "architectures": ["GPT2LMHeadModel"]}))
    with pytest.raises(ConfigError) as raised:
        paramcount.count(str(tmp_path), via_transformers=True)
    assert str(raised.value) == (
        f"{tmp_path / 'config.json'}: transformers cannot import GPT2LMHeadModel here "
        "(RuntimeError: operator torchvision::nms does not exist)"
    )


_NOT_CATALOG = ("Sequential", "ModuleList", "ModuleDict", "Transformer")
"""Containers (built by the door from their members), and DistilBERT's own ``Transformer`` class, which shares
``torch.nn.Transformer``'s name."""


@pytest.mark.parametrize("name", sorted(path.name for path in CONFIGS.glob("*.json")))
def test_every_torch_layer_of_a_config_is_the_catalogs_with_its_arguments(name: str) -> None:
    """Each ``torch.nn`` layer in the tree of every class a shipped config can count is built by the catalog:
    rebuilt from the arguments it carries, it has the same tensors (a layer without them cannot be rebuilt,
    nor its output shape worked out)."""
    data = shipped(name)
    catalog = set(known_layers()) - set(_NOT_CATALOG)
    for architecture in spec_for(data["model_type"]).architectures:
        tree = build_config_tree(data, architecture=architecture)
        layers = [(path, module) for path, module, _ in iter_modules_collapsed(tree) if module.kind in catalog]
        assert layers, architecture
        for path, module in layers:
            rebuilt = build(module.kind, (), module.args)
            ours = [(tensor, param.sizes) for tensor, param in iter_params(module, include_tied=True)]
            assert [(tensor, param.sizes) for tensor, param in iter_params(rebuilt)] == ours, (architecture, path)


@pytest.mark.parametrize(
    ("name", "architecture", "path", "shape"),
    [
        ("gpt2.json", "GPT2LMHeadModel", "transformer.wte", (2, 16)),
        ("gpt2.json", "GPT2LMHeadModel", "lm_head", (2, 16, 768)),
        ("openai--whisper-tiny.json", "WhisperModel", "encoder.conv1", (1, 80, 3000)),
        ("openai--whisper-tiny.json", "WhisperModel", "encoder.conv2", (1, 384, 3000)),
        (
            "google--vit-base-patch16-224-in21k.json",
            "ViTModel",
            "embeddings.patch_embeddings.projection",
            (1, 3, 224, 224),
        ),
        (
            "openai--clip-vit-base-patch32.json",
            "CLIPModel",
            "vision_model.embeddings.patch_embedding",
            (1, 3, 224, 224),
        ),
        ("facebook--opt-350m.json", "OPTModel", "decoder.layers.0.final_layer_norm", (2, 16, 1024)),
    ],
)
def test_config_layers_take_input_shapes_as_torch_does(
    name: str, architecture: str, path: str, shape: tuple[int, ...]
) -> None:
    """A layer of a config's tree propagates an input to the output shape transformers' own layer gives
    (so strides and paddings travel with the convolutions)."""
    import torch

    data = shipped(name)
    layer = dict(iter_modules(build_config_tree(data, architecture=architecture)))[path]
    report = propagate(layer, shape)
    dtype = torch.long if layer.kind == "Embedding" else torch.float32
    theirs = transformers_model(data, architecture).get_submodule(path)(torch.empty(shape, dtype=dtype, device="meta"))
    assert report.output_shape == tuple(theirs.shape)
    assert report.is_complete


FP8_BLOCK = {"quant_method": "fp8", "fmt": "e4m3", "weight_block_size": [128, 128], "activation_scheme": "dynamic"}
GPT_OSS_SKIPS = ["model.layers.*.self_attn", "model.layers.*.mlp.router", "model.embed_tokens", "lm_head"]


@pytest.mark.parametrize(
    ("settings", "layout"),
    [
        (FP8_BLOCK, "fp8-block128"),
        ({**FP8_BLOCK, "weight_block_size": [64, 64]}, None),  # another tile: another layout
        ({**FP8_BLOCK, "activation_scheme": "static"}, None),  # a float32 activation_scale per layer besides
        ({**FP8_BLOCK, "modules_to_not_convert": ["model.layers.0"]}, None),  # a skip list is not interpreted
        ({"quant_method": "mxfp4", "modules_to_not_convert": GPT_OSS_SKIPS}, "mxfp4"),
        ({"quant_method": "mxfp4"}, "mxfp4"),
        ({"quant_method": "mxfp4", "modules_to_not_convert": ["model.layers.*.mlp"]}, None),  # skips the experts
        ({"quant_method": "mxfp4", "modules_to_not_convert": ["model.layers.1[0-9]"]}, None),  # a pattern: refused
        ({"quant_method": "mxfp4", "dequantize": True}, None),
        ({"quant_method": "gptq", "bits": 4, "group_size": 128}, None),  # which layers depends on the tool
        ({"quant_method": "bitsandbytes", "load_in_4bit": True}, None),
        ("fp8", None),
    ],
)
def test_quantization_config_names_the_stored_layout_only_when_exact(settings: object, layout: str | None) -> None:
    tree = build_config_tree({**LLAMA, "torch_dtype": "bfloat16", "quantization_config": settings})
    assert dict(tree.attributes).get("quantization") == layout
    assert dict(tree.attributes)["torch_dtype"] == "bfloat16"
