"""The safetensors door against the real library: files written by safetensors and transformers, read
header-only, give the names, shapes and dtypes ``safe_open`` gives; every malformed header is refused with
its own one-line message, and arbitrary bytes never raise anything but a ``ParamcountError``."""

from __future__ import annotations

import io
import json
import re
import struct
from pathlib import Path
from typing import Any

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from safetensors import safe_open
from safetensors.torch import save_file

import paramcount
from hf_oracle import transformers_model
from paramcount.cli import main
from paramcount.errors import CheckpointError, LimitError, ParamcountError
from paramcount.sources.checkpoint import Checkpoint, tree_from_entries
from paramcount.sources.safetensors import read_safetensors, read_safetensors_header, read_safetensors_index
from paramcount.tree import iter_buffers, iter_params

TORCH_NAMES = {torch.float32: "float32", torch.bfloat16: "bfloat16", torch.float16: "float16", torch.int64: "int64",
               torch.int8: "int8", torch.uint8: "uint8", torch.bool: "bool", torch.float8_e4m3fn: "float8_e4m3fn",
               torch.int16: "int16", torch.float64: "float64", torch.int32: "int32"}  # fmt: skip


def library_tensors(paths: list[Path]) -> dict[str, tuple[tuple[int, ...], str]]:
    """Every tensor's shape and dtype as the safetensors library reads them (it loads each tensor)."""
    found = {}
    for path in paths:
        with safe_open(str(path), framework="pt") as handle:
            for name in handle.keys():  # noqa: SIM118 (a safe_open handle is not a dict)
                tensor = handle.get_tensor(name)
                found[name] = (tuple(tensor.shape), TORCH_NAMES[tensor.dtype])
    return found


def our_tensors(checkpoint: Checkpoint, label: str) -> dict[str, tuple[tuple[int, ...], str]]:
    tree = tree_from_entries(checkpoint, label=label)
    found = {name: (param.sizes, param.dtype) for name, param in iter_params(tree)}
    found.update({name: (buffer.sizes, buffer.dtype) for name, buffer in iter_buffers(tree)})
    return found


def test_single_file_matches_the_library(tmp_path: Path) -> None:
    tensors = {
        "encoder.0.weight": torch.zeros(8, 4, dtype=torch.bfloat16),
        "encoder.0.bias": torch.zeros(8, dtype=torch.float16),
        "encoder.1.running_mean": torch.zeros(8),
        "encoder.1.num_batches_tracked": torch.zeros((), dtype=torch.int64),
        "mask": torch.zeros(3, 5, dtype=torch.bool),
        "codes": torch.zeros(2, 0, 7, dtype=torch.int8),
        "scale": torch.zeros(16, dtype=torch.float8_e4m3fn),
        "deep.a.b.c.d": torch.zeros(1, 1, 1, 1, 1, dtype=torch.float64),
    }
    path = tmp_path / "model.safetensors"
    save_file(tensors, str(path), metadata={"format": "pt"})
    checkpoint = read_safetensors(path)
    assert our_tensors(checkpoint, path.name) == library_tensors([path])
    facts = dict(checkpoint.facts)
    assert facts["file_bytes"] == path.stat().st_size
    # the data is what is left after the 8-byte length and the header, and the entries' bytes add up to it
    assert sum(entry.num_bytes for entry in checkpoint.entries) == path.stat().st_size - int(facts["header_bytes"])
    tree = tree_from_entries(checkpoint, label=path.name)
    assert {name for name, _ in iter_buffers(tree)} == {"encoder.1.running_mean", "encoder.1.num_batches_tracked"}


def tiny_llama_config() -> dict[str, Any]:
    """Llama 3.2 1B's shipped config, shrunk (tied embeddings, grouped-query attention kept)."""
    shipped = Path(paramcount.__file__).parent / "sources" / "hf" / "configs" / "meta-llama--Llama-3.2-1B.json"
    config: dict[str, Any] = json.loads(shipped.read_text())
    config.update(hidden_size=64, intermediate_size=96, num_hidden_layers=3, num_attention_heads=4,
                  num_key_value_heads=2, head_dim=16, vocab_size=100)  # fmt: skip
    config.pop("rope_scaling", None)
    return config


def save_tiny_llama(folder: Path, config: dict[str, Any]) -> Any:
    """A real LlamaForCausalLM in bfloat16, saved by ``save_pretrained`` in shards of 20 kB."""
    import transformers

    library: Any = transformers
    settings = {key: value for key, value in config.items() if key not in ("architectures", "transformers_version")}
    model = library.LlamaForCausalLM(library.AutoConfig.for_model(**settings)).to(torch.bfloat16)
    model.save_pretrained(folder, max_shard_size="20KB")
    return model


def test_sharded_checkpoint_from_save_pretrained(tmp_path: Path) -> None:
    config = tiny_llama_config()
    model = save_tiny_llama(tmp_path, config)
    shards = sorted(tmp_path.glob("*.safetensors"))
    assert len(shards) > 3  # small shards: the index joins several files

    checkpoint = read_safetensors_index(tmp_path / "model.safetensors.index.json")
    assert our_tensors(checkpoint, "index") == library_tensors(shards)
    assert dict(checkpoint.facts)["files"] == len(shards)

    result = paramcount.from_file(tmp_path)  # the folder: weights and config.json
    assert result.total == model.num_parameters() == sum(p.numel() for p in model.parameters())
    facts = dict(result.provenance.header)  # type: ignore[attr-defined]
    assert facts["config_parameters"] == result.total
    assert facts["config_agrees"] == "yes"
    # save_pretrained writes the tied lm_head once; the folder's tree lists the tie as transformers holds it
    assert [(t.name, t.tied_to) for t in result.counts.tied_tensors] == [
        ("lm_head.weight", "model.embed_tokens.weight")
    ]
    assert {name for name, _ in model.named_parameters()} == {row.name for row in result.counts.parameters}
    # 3 identical decoder layers are one repeated block
    layers = next(child for child in result.tree.children[0].children if child.name == "layers")
    assert [(child.name, child.repeat) for child in layers.children] == [("0", 3)]


def differences(result: paramcount.Result) -> list[tuple[object, ...]]:
    rows = result.report().to_dict()["checkpoint"]["config_differences"]
    return [
        (row["name"], row["difference"], row["config_shape"], row["weights_shape"], row["weights_dtype"])
        for row in rows
    ]


def shapes(model: torch.nn.Module) -> dict[str, list[int]]:
    return {name: list(p.shape) for name, p in model.named_parameters(remove_duplicate=False)}


def test_folder_whose_config_disagrees_lists_every_difference(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tiny_llama_config()
    save_tiny_llama(tmp_path, config)
    config["num_hidden_layers"] = 4  # one layer more than the weights hold
    (tmp_path / "config.json").write_text(json.dumps(config))
    declared = shapes(transformers_model(config, "LlamaForCausalLM"))  # what transformers builds from it
    expected = [(name, "missing", shape, None, None) for name, shape in declared.items() if ".layers.3." in name]
    per_layer = 4 * 64 * 16 * 2 + 2 * 64 * 16 * 2 + 3 * 64 * 96 + 2 * 64  # q, o; k, v; gate, up, down; 2 norms
    result = paramcount.from_file(tmp_path)
    assert differences(result) == expected
    assert len(expected) == 9
    assert dict(result.provenance.header)["config_agrees"] == (  # type: ignore[attr-defined]
        f"no: the weights hold {per_layer:,} parameters fewer than config.json; 9 tensor differences (9 missing, "
        "0 extra, 0 of another shape)"
    )
    assert main([str(tmp_path)]) == 0
    out = capsys.readouterr().out
    rows = [line for line in out.splitlines() if line.startswith("    missing  ")]
    assert len(rows) == 9
    assert {line.index("config (") for line in rows} == {4 + 7 + 2 + 46 + 2}  # in columns
    assert "    missing  model.layers.3.self_attn.q_proj.weight          config (64, 64)\n" in out  # 46 wide:
    assert "    missing  model.layers.3.post_attention_layernorm.weight  config (64,)\n" in out  # the longest name


def test_weights_that_hold_more_than_the_config_say_more_in_the_singular_where_one(tmp_path: Path) -> None:
    """One extra 1-element tensor beside a config's weights: "1 parameter more … 1 tensor difference", where the
    agreement read "+1 parameters more" (and a shortfall "-N parameters more")."""
    config = tiny_llama_config()
    save_tiny_llama(tmp_path / "weights", config)
    (tmp_path / "weights" / "config.json").write_text(json.dumps(config))
    shard = sorted((tmp_path / "weights").glob("model-*.safetensors"))[0]
    with safe_open(str(shard), "pt") as opened:
        first = {name: opened.get_tensor(name) for name in opened.keys()}  # noqa: SIM118
    save_file({**first, "extra": torch.zeros(1)}, str(shard))
    index = json.loads((tmp_path / "weights" / "model.safetensors.index.json").read_text())
    index["weight_map"]["extra"] = shard.name
    (tmp_path / "weights" / "model.safetensors.index.json").write_text(json.dumps(index))
    result = paramcount.from_file(tmp_path / "weights")
    assert dict(result.provenance.header)["config_agrees"] == (  # type: ignore[attr-defined]
        "no: the weights hold 1 parameter more than config.json; 1 tensor difference (0 missing, 1 extra, 0 of "
        "another shape)"
    )


def test_folder_whose_config_has_other_shapes(tmp_path: Path) -> None:
    config = tiny_llama_config()
    model = save_tiny_llama(tmp_path, config)
    config["intermediate_size"] = 128  # the weights were saved with 96
    (tmp_path / "config.json").write_text(json.dumps(config))
    declared, saved = shapes(transformers_model(config, "LlamaForCausalLM")), shapes(model)
    expected = [
        (name, "shape", shape, saved[name], "bfloat16") for name, shape in declared.items() if shape != saved[name]
    ]
    assert len(expected) == 3 * 3  # gate, up and down in each of 3 layers
    result = paramcount.from_file(tmp_path)
    assert differences(result) == expected
    assert dict(result.provenance.header)["config_agrees"].endswith(  # type: ignore[attr-defined]
        "9 tensor differences (0 missing, 0 extra, 9 of another shape)"
    )


def test_a_quantised_checkpoint_differs_from_its_config(tmp_path: Path) -> None:
    """bitsandbytes' NF4 layout: each linear weight of the decoder layers saved as uint8 holding two 4-bit codes
    per byte, shape (out·in/2, 1), beside ``weight.absmax`` (one float32 per block of 64 weights) and
    ``weight.quant_map`` (the 16 NF4 code values)."""
    config = tiny_llama_config()
    model = save_tiny_llama(tmp_path / "original", config)
    state = {name: tensor.contiguous() for name, tensor in model.state_dict().items() if name != "lm_head.weight"}
    quantised: dict[str, torch.Tensor] = {}
    expected_shapes, extras = [], []
    for name, tensor in state.items():
        if ".layers." in name and tensor.dim() == 2:
            count = tensor.numel()
            quantised[name] = torch.zeros(count // 2, 1, dtype=torch.uint8)
            quantised[f"{name}.absmax"] = torch.zeros(count // 64)
            quantised[f"{name}.quant_map"] = torch.zeros(16)
            expected_shapes.append((name, "shape", list(tensor.shape), [count // 2, 1], "uint8"))
            extras += [(f"{name}.absmax", "extra", None, [count // 64], "float32")]
            extras += [(f"{name}.quant_map", "extra", None, [16], "float32")]
        else:
            quantised[name] = tensor
    save_file(quantised, str(tmp_path / "model.safetensors"))
    (tmp_path / "config.json").write_text(json.dumps(config))
    result = paramcount.from_file(tmp_path)
    assert len(expected_shapes) == 7 * 3  # q, k, v, o, gate, up, down in 3 layers
    assert differences(result) == expected_shapes + sorted(
        extras
    )  # extras in the file's order: safetensors sorts names


def test_base_model_weights_match_a_causal_lm_config(tmp_path: Path) -> None:
    """Weights saved from ``LlamaModel`` (``layers.0…``) against a ``LlamaForCausalLM`` config
    (``model.layers.0…``, ``lm_head`` tied to the embeddings): transformers loads them by adding the
    ``model.`` prefix, so nothing differs."""
    import transformers

    config = tiny_llama_config()
    save_tiny_llama(tmp_path / "full", config)
    library: Any = transformers
    base = library.LlamaModel.from_pretrained(tmp_path / "full")
    save_file(
        {name: tensor.contiguous() for name, tensor in base.state_dict().items()}, str(tmp_path / "model.safetensors")
    )
    (tmp_path / "config.json").write_text(json.dumps(config))
    result = paramcount.from_file(tmp_path)
    assert differences(result) == []
    assert dict(result.provenance.header)["config_agrees"] == "yes"  # type: ignore[attr-defined]


def header_file(header: dict[str, Any] | bytes, data: bytes = b"", *, length: int | None = None) -> bytes:
    raw = header if isinstance(header, bytes) else json.dumps(header).encode()
    return struct.pack("<Q", len(raw) if length is None else length) + raw + data


F32 = "F32"
TWO = {
    "a": {"dtype": F32, "shape": [2], "data_offsets": [0, 8]},
    "b": {"dtype": F32, "shape": [2], "data_offsets": [8, 16]},
}


@pytest.mark.parametrize(
    ("content", "error", "message"),
    [
        (b"\x01\x02\x03", CheckpointError,
         "truncated: the header length needs 8 bytes at offset 0 but the file ends at byte 3"),
        (header_file(b"{}", length=2**40), LimitError,
         "header length is 1,099,511,627,776 bytes; the limit is 100,000,000 bytes"),
        (header_file(b"{}", length=1_000), CheckpointError, "header length is 1,000 bytes but only 2 bytes follow it"),
        (header_file(b' {"a": 1}'), CheckpointError, "the header must be a JSON object starting with '{'"),
        (header_file(b'{"\xff": 1}'), CheckpointError, "the header is not valid UTF-8 (byte 10)"),
        (header_file(b'{"a": '), CheckpointError, "not valid JSON (Expecting value: line 1 column 7 (char 6))"),
        (header_file(b'{"a": {"dtype": "F32", "shape": [0], "data_offsets": [0, 0]}, '
                     b'"a": {"dtype": "F32", "shape": [0], "data_offsets": [0, 0]}}'),
         CheckpointError, "key 'a' appears more than once"),
        (header_file({"a": {"dtype": "F128", "shape": [1], "data_offsets": [0, 16]}}, bytes(16)), CheckpointError,
         "tensor 'a' has unknown dtype 'F128'; known: BOOL, F4, F6_E2M3, F6_E3M2, U8, I8, F8_E5M2, F8_E4M3, "
         "F8_E4M3FNUZ, F8_E5M2FNUZ, F8_E8M0, I16, U16, F16, BF16, I32, U32, F32, C64, F64, I64, U64"),
        (header_file({"a": {"dtype": F32, "shape": [-1], "data_offsets": [0, 0]}}), CheckpointError,
         "the shape of tensor 'a' must not be negative, got [-1]"),
        (header_file({"a": {"dtype": F32, "shape": [True], "data_offsets": [0, 4]}}, bytes(4)), CheckpointError,
         "the shape of tensor 'a' must be a list of integers, got [True]"),
        (header_file({"a": {"dtype": F32, "shape": [2**40, 2**40], "data_offsets": [0, 0]}}), CheckpointError,
         "tensor 'a' has more than 4,611,686,018,427,387,904 elements"),
        (header_file({"a": {"dtype": F32, "shape": [2, 2], "data_offsets": [0, 8]}}, bytes(8)), CheckpointError,
         "tensor 'a' holds 8 bytes (data_offsets [0, 8]) but its shape [2, 2] of F32 needs 16"),
        (header_file({"a": {"dtype": F32, "shape": [2]}}), CheckpointError, "tensor 'a' has no data_offsets"),
        (header_file({"a": {"dtype": "F4", "shape": [3], "data_offsets": [0, 2]}}, bytes(2)), CheckpointError,
         "tensor 'a' has 3 elements of F4, which do not fill whole bytes"),
        (header_file({**TWO, "b": {"dtype": F32, "shape": [2], "data_offsets": [4, 12]}}, bytes(12)), CheckpointError,
         "tensor 'b' starts at byte 4 of the data, inside tensor 'a' (bytes 0 to 8)"),
        (header_file({**TWO, "b": {"dtype": F32, "shape": [2], "data_offsets": [12, 20]}}, bytes(20)), CheckpointError,
         "tensor 'a' ends at byte 8 but the next tensor 'b' starts at 12"),
        (header_file({"a": {"dtype": F32, "shape": [2], "data_offsets": [4, 12]}}, bytes(12)), CheckpointError,
         "the data starts at byte 0 but the next tensor 'a' starts at 4"),
        (header_file(TWO, bytes(10)), CheckpointError,
         "the file ends 6 bytes before the end of the last tensor (an incomplete copy?)"),
        (header_file(TWO, bytes(20)), CheckpointError, "4 bytes after the last tensor belong to no tensor"),
        (header_file({"__metadata__": {"a": 1}}), CheckpointError,
         "__metadata__ must map strings to strings, got {'a': 1}"),
        (header_file(b"[]"), CheckpointError, "the header must be a JSON object starting with '{'"),
        (header_file({"a": {"dtype": F32, "shape": [[1]], "data_offsets": [0, 4]}}), CheckpointError,
         "the shape of tensor 'a' must be a list of integers, got [[1]]"),
        (header_file(b'{"a":' + b"[" * 100_000 + b"]" * 100_000 + b"}"), CheckpointError, "nested too deeply"),
    ],
)  # fmt: skip
def test_malformed_headers_are_refused(tmp_path: Path, content: bytes, error: type[Exception], message: str) -> None:
    path = tmp_path / "model.safetensors"
    path.write_bytes(content)
    with pytest.raises(error) as raised:
        read_safetensors(path)
    assert type(raised.value) is error
    assert str(raised.value) == f"model.safetensors: {message}"
    if isinstance(raised.value, CheckpointError):
        assert raised.value.format == "safetensors"


def test_the_reference_reader_accepts_the_duplicate_key_we_refuse(tmp_path: Path) -> None:
    """Why our own check: the library keeps one of two entries with the same name without a word."""
    path = tmp_path / "model.safetensors"
    info = '{"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}'
    path.write_bytes(header_file(f'{{"a": {info}, "a": {info}}}'.encode(), bytes(4)))
    with safe_open(str(path), framework="pt") as handle:
        assert list(handle.keys()) == ["a"]
    with pytest.raises(CheckpointError, match=re.escape("model.safetensors: key 'a' appears more than once")):
        read_safetensors(path)


def test_a_huge_declared_header_allocates_nothing(tmp_path: Path) -> None:
    import tracemalloc

    path = tmp_path / "model.safetensors"
    path.write_bytes(header_file(b"{}", length=99_999_999))  # under the cap, far beyond the file
    tracemalloc.start()
    with pytest.raises(CheckpointError):
        read_safetensors(path)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 1_000_000


def valid_header() -> bytes:
    header = {
        "__metadata__": {"format": "pt"},
        "layers.0.weight": {"dtype": "BF16", "shape": [2, 3], "data_offsets": [0, 12]},
        "layers.1.weight": {"dtype": "BF16", "shape": [2, 3], "data_offsets": [12, 24]},
        "norm.running_mean": {"dtype": "F32", "shape": [2], "data_offsets": [24, 32]},
    }
    return header_file(header, bytes(32))


def read_or_refuse(data: bytes) -> None:
    """The property: a tree or a ParamcountError, nothing else."""
    try:
        entries, _, _ = read_safetensors_header(io.BytesIO(data), label="fuzz", size=len(data))
        tree_from_entries(Checkpoint("safetensors", entries), label="fuzz")
    except ParamcountError:
        pass


def test_the_valid_fuzz_seed_reads() -> None:
    entries, _, _ = read_safetensors_header(io.BytesIO(valid_header()), label="seed", size=len(valid_header()))
    assert [entry.name for entry in entries] == ["layers.0.weight", "layers.1.weight", "norm.running_mean"]


@settings(max_examples=200)
@given(st.binary(max_size=512))
def test_random_bytes_never_escape(data: bytes) -> None:
    read_or_refuse(data)


@settings(max_examples=300)
@given(st.data())
def test_mutated_headers_never_escape(data: st.DataObject) -> None:
    content = bytearray(valid_header())
    for _ in range(data.draw(st.integers(1, 4))):
        position = data.draw(st.integers(0, len(content) - 1))
        action = data.draw(st.sampled_from(["flip", "truncate", "insert", "length"]))
        if action == "flip":
            content[position] = data.draw(st.integers(0, 255))
        elif action == "truncate":
            del content[position:]
            if not content:
                break
        elif action == "insert":
            content[position:position] = data.draw(st.binary(min_size=1, max_size=8))
        else:
            content[0:8] = struct.pack("<Q", data.draw(st.sampled_from([0, 1, 2**63, 2**64 - 1, len(content)])))
    read_or_refuse(bytes(content))


def test_a_checkpoint_s_float32_is_its_own_dtype_not_torch_s_default(tmp_path: Path) -> None:
    """A header states every tensor's dtype, float32 included: 12 float32 and 3 float16 parameters are stored in
    float32, the dtype of most, where float32 counts as stated; elsewhere float32 is the tree's default."""
    save_file({"a": torch.zeros(12), "b": torch.zeros(3, dtype=torch.float16)}, str(tmp_path / "mixed.safetensors"))
    save_file({"a": torch.zeros(12)}, str(tmp_path / "f32.safetensors"))
    mixed = paramcount.count(str(tmp_path / "mixed.safetensors")).report().stored_dtype
    only = paramcount.count(str(tmp_path / "f32.safetensors")).report().stored_dtype
    assert (mixed.dtype, mixed.rule, only.dtype, only.rule) == ("float32", "tensors-most", "float32", "tensors")
    assert paramcount.count("Linear(3, 4)").report().stored_dtype.rule == "torch-default"


def test_a_plan_keeps_each_tensor_in_its_own_dtype_as_the_stored_line_does(tmp_path: Path) -> None:
    """A file of 12 float32 and 3 float16 values and one int64 scalar holds 12 × 4 + 3 × 2 + 8 = 62 bytes of
    tensor data (what safe_open reads back): the parameters' "Stored in" line and the plan's weights both say
    62 B, not 16 × 4 = 64 B; a dtype given casts every tensor as before (16 × 2 = 32 B)."""
    path = tmp_path / "mixed.safetensors"
    save_file({"a": torch.zeros(12), "b": torch.zeros(3, dtype=torch.float16), "c": torch.zeros((), dtype=torch.int64)},
              str(path))  # fmt: skip
    with safe_open(str(path), "pt") as opened:
        data = sum(opened.get_tensor(name).nbytes for name in opened.keys())  # noqa: SIM118
    report = paramcount.count(str(path)).report()
    assert report.plan is not None
    weights = report.plan.items[0]
    assert (data, report.stored_parameter_bytes, weights.bytes) == (62, 62, 62)
    assert weights.label == "weights as stored (float16, float32, int64)"
    assert "  Inference in float32 (float32: the dtype most of the tensors' parameters are stored in).\n" in str(report)
    cast = paramcount.count(str(path)).report(paramcount.PlanOptions(dtype="float16")).plan
    assert cast is not None
    assert cast.items[0].bytes == 32
