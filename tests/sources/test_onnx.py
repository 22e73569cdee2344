"""The ONNX door against the real library: models exported by torch and built with ``onnx.helper`` give the
initializers ``onnx.load`` gives (names, dims, element types); external data is described and never opened;
hostile files (negative dims, external data outside the folder, wrong lengths, deep nesting) are refused
with one line; arbitrary bytes never raise anything but a ``ParamcountError``."""

from __future__ import annotations

import io
import struct
import warnings
from pathlib import Path

import numpy as np
import onnx
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from onnx import TensorProto, helper, numpy_helper

import paramcount
from paramcount.dtypes import BITS
from paramcount.errors import CheckpointError, LimitError, ParamcountError
from paramcount.render.text import render_plain
from paramcount.sources.checkpoint import tree_from_entries
from paramcount.sources.onnx import DATA_TYPES, read_onnx, read_onnx_model

ONNX_IDS = {name: type_id for type_id, name in DATA_TYPES.items()}


SUB_BYTE_BITS = {21: 4, 22: 4, 23: 4, 25: 2, 26: 2, 27: 6, 28: 6}
"""UINT4, INT4, FLOAT4E2M1, UINT2, INT2, FLOAT6E2M3, FLOAT6E3M2: bits per element (onnx.proto, IR.md)."""


def test_data_types_are_onnx_s() -> None:
    names = {value: key for key, value in TensorProto.DataType.items()}
    assert set(DATA_TYPES) == set(names) - {0, 8}  # UNDEFINED and STRING hold no numbers
    for type_id, ours in DATA_TYPES.items():  # the element size numpy gives onnx's type is ours
        bits = SUB_BYTE_BITS.get(type_id, 8 * helper.tensor_dtype_to_np_dtype(type_id).itemsize)
        assert BITS[ours] == bits, names[type_id]


def exported(path: Path) -> torch.nn.Module:
    model = torch.nn.Sequential(
        torch.nn.Conv2d(3, 8, 3), torch.nn.ReLU(), torch.nn.Flatten(), torch.nn.Linear(8 * 6 * 6, 10)
    ).eval()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the TorchScript exporter announces its deprecation
        torch.onnx.export(model, (torch.zeros(1, 3, 8, 8),), str(path), dynamo=False)
    return model


def test_exported_model_matches_onnx_load(tmp_path: Path) -> None:
    path = tmp_path / "model.onnx"
    model = exported(path)
    theirs = [(t.name, tuple(t.dims), t.data_type) for t in onnx.load(str(path)).graph.initializer]
    checkpoint = read_onnx(path)
    assert [(e.name, e.shape, ONNX_IDS[e.dtype]) for e in checkpoint.entries] == theirs
    assert paramcount.from_file(path).total == sum(p.numel() for p in model.parameters())


def branch(name: str) -> onnx.GraphProto:
    return helper.make_graph(
        [helper.make_node("Identity", [f"{name}.table"], [f"{name}.y"])],
        name,
        [],
        [helper.make_tensor_value_info(f"{name}.y", TensorProto.FLOAT, [6])],
        [numpy_helper.from_array(np.zeros(6, np.float32), f"{name}.table")],
    )


def helper_model() -> onnx.ModelProto:
    weight = numpy_helper.from_array(np.zeros((4, 3), dtype=np.float16), "encoder.weight")
    codes = numpy_helper.from_array(np.zeros((2, 5), dtype=np.int8), "encoder.codes")
    bias = helper.make_tensor("encoder.bias", TensorProto.BFLOAT16, [4], [0.0] * 4)
    folded = numpy_helper.from_array(np.zeros((2, 4), np.float32))
    nodes = [
        helper.make_node("Constant", [], ["head.weight"], value=folded),
        helper.make_node("Constant", [], ["shape"], value=numpy_helper.from_array(np.array([1, 4], np.int64))),
        helper.make_node("Constant", [], ["eps"], value=numpy_helper.from_array(np.array(1e-5, np.float32))),
        helper.make_node("If", ["cond"], ["z"], then_branch=branch("then"), else_branch=branch("else")),
    ]
    condition = numpy_helper.from_array(np.array(True), "cond")
    output = helper.make_tensor_value_info("z", TensorProto.FLOAT, [6])
    return helper.make_model(helper.make_graph(nodes, "main", [], [output], [weight, codes, bias, condition]))


def test_helper_model_constants_subgraphs_and_types(tmp_path: Path) -> None:
    path = tmp_path / "model.onnx"
    model = helper_model()
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    checkpoint = read_onnx(path)
    # nodes come first in the file (field 1 of GraphProto), initializers after (field 5)
    assert [(e.name, e.shape, e.dtype) for e in checkpoint.entries] == [
        ("head.weight", (2, 4), "float32"),  # a floating Constant with dimensions is a weight …
        ("else.table", (6,), "float32"),  # … the shape and the scalar epsilon are not; subgraphs are walked
        ("then.table", (6,), "float32"),  # (onnx.helper writes a node's attributes sorted by name)
        ("encoder.weight", (4, 3), "float16"),
        ("encoder.codes", (2, 5), "int8"),
        ("encoder.bias", (4,), "bfloat16"),
        ("cond", (), "bool"),
    ]
    assert dict(checkpoint.facts)["constant_weights"] == 1


def test_external_data_is_described_and_never_opened(tmp_path: Path) -> None:
    model = helper_model()
    onnx.external_data_helper.convert_model_to_external_data(
        model, all_tensors_to_one_file=True, location="weights.bin", size_threshold=0, convert_attribute=False
    )
    onnx.save(model, str(tmp_path / "model.onnx"))
    (tmp_path / "weights.bin").unlink()  # nothing reads it
    checkpoint = read_onnx(tmp_path / "model.onnx")
    loaded = onnx.load(str(tmp_path / "model.onnx"), load_external_data=False)
    graphs = [loaded.graph, *(a.g for node in loaded.graph.node for a in node.attribute if a.HasField("g"))]
    lengths = [
        int(dict((e.key, e.value) for e in tensor.external_data)["length"])
        for graph in graphs
        for tensor in graph.initializer
        if tensor.data_location == TensorProto.EXTERNAL
    ]
    assert len(lengths) == 5  # one in each branch, and three of the four main ones (the bias, written as typed
    # values rather than raw bytes, stays inside the model)
    assert dict(checkpoint.facts)["external_data"] == f"weights.bin ({sum(lengths):,} B)"
    assert len(checkpoint.entries) == 7
    # the text says so too: "1 file of 1,024 B" alone hid where the tensor data is
    text = render_plain(paramcount.count(str(tmp_path / "model.onnx")).report())
    size = (tmp_path / "model.onnx").stat().st_size
    facts = next(line.strip() for line in text.splitlines() if line.strip().startswith("onnx checkpoint"))
    assert facts == f"onnx checkpoint, 1 file of {size:,} B; tensor data outside it: weights.bin ({sum(lengths):,} B)"


def raw_tensor(name: str, dims: list[int], data_type: int = TensorProto.FLOAT, raw: bytes | None = None) -> TensorProto:
    tensor = TensorProto(name=name, data_type=data_type)
    tensor.dims.extend(dims)
    if raw is not None:
        tensor.raw_data = raw
    return tensor


def model_bytes(*initializers: TensorProto, nodes: list[onnx.NodeProto] | None = None) -> bytes:
    graph = helper.make_graph(nodes or [], "g", [], [], list(initializers))
    serialized: bytes = helper.make_model(graph).SerializeToString()
    return serialized


def external(location: str) -> TensorProto:
    tensor = raw_tensor("w", [2])
    tensor.data_location = TensorProto.EXTERNAL
    entry = tensor.external_data.add()
    entry.key, entry.value = "location", location
    return tensor


def nested_if(depth: int) -> onnx.NodeProto:
    graph = helper.make_graph([], "leaf", [], [])
    for level in range(depth):
        node = helper.make_node("If", ["c"], [f"o{level}"], then_branch=graph, else_branch=graph)
        graph = helper.make_graph([node], f"g{level}", [], [])
    return node


@pytest.mark.parametrize(
    ("content", "error", "message"),
    [
        (model_bytes(raw_tensor("w", [-1, 4])), CheckpointError, "tensor 'w' has a negative dimension: [-1, 4]"),
        (model_bytes(external("../../etc/passwd")), CheckpointError,
         "initializer 'w' keeps its data in '../../etc/passwd', outside the model's folder"),
        (model_bytes(external("/etc/passwd")), CheckpointError,
         "initializer 'w' keeps its data in '/etc/passwd', outside the model's folder"),
        (model_bytes(external("C:\\weights.bin")), CheckpointError,
         "initializer 'w' keeps its data in 'C:\\\\weights.bin', outside the model's folder"),
        (model_bytes(raw_tensor("w", [2, 2], raw=bytes(8))), CheckpointError,
         "tensor 'w' has 8 bytes of raw_data but its shape [2, 2] of float32 needs 16"),
        (model_bytes(raw_tensor("w", [2], data_type=99)), CheckpointError, "tensor 'w' has unknown data_type 99"),
        (model_bytes(raw_tensor("w", [1]), raw_tensor("w", [1])), CheckpointError,
         "tensor name 'w' appears more than once"),
        (model_bytes(raw_tensor("w", [2**40, 2**40])), CheckpointError,
         "tensor 'w' has more than 4,611,686,018,427,387,904 elements"),
        (model_bytes(nodes=[nested_if(10)]), LimitError, "nesting of graphs is 9; the limit is 8"),
        (b"\x3a\x05abc", CheckpointError, "field 7 of the model (5 bytes) runs past the end of the model"),
        (b"\x0b", CheckpointError, "field 1 of the model has wire type 3, which ONNX does not use"),
        (b"\x08" + b"\xff" * 11, CheckpointError, "field 1 of the model is a varint longer than 10 bytes"),
        (b"\x08\x01", CheckpointError, "not an ONNX model (no graph)"),
    ],
)  # fmt: skip
def test_malformed_models_are_refused(tmp_path: Path, content: bytes, error: type[Exception], message: str) -> None:
    path = tmp_path / "model.onnx"
    path.write_bytes(content)
    with pytest.raises(error) as raised:
        read_onnx(path)
    assert type(raised.value) is error
    assert str(raised.value) == f"model.onnx: {message}"


def test_onnx_itself_accepts_the_negative_dimension_we_refuse() -> None:
    """Why our own check: onnx parses (and its checker passes) a tensor of shape (-1, 4)."""
    model = onnx.load_from_string(model_bytes(raw_tensor("w", [-1, 4])))
    assert list(model.graph.initializer[0].dims) == [-1, 4]


def read_or_refuse(data: bytes) -> None:
    try:
        checkpoint = read_onnx_model(io.BytesIO(data), label="fuzz", size=len(data))
        tree_from_entries(checkpoint, label="fuzz")
    except ParamcountError:
        pass


SEED = model_bytes(raw_tensor("a.weight", [2, 3], raw=bytes(24)), raw_tensor("a.bias", [2], raw=bytes(8)))


@settings(max_examples=200)
@given(st.binary(max_size=512))
def test_random_bytes_never_escape(data: bytes) -> None:
    read_or_refuse(data)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_mutated_models_never_escape(data: st.DataObject) -> None:
    content = bytearray(SEED)
    for _ in range(data.draw(st.integers(1, 4))):
        position = data.draw(st.integers(0, len(content) - 1))
        action = data.draw(st.sampled_from(["flip", "truncate", "insert", "huge"]))
        if action == "flip":
            content[position] = data.draw(st.integers(0, 255))
        elif action == "truncate":
            del content[position:]
            if not content:
                break
        elif action == "insert":
            content[position:position] = data.draw(st.binary(min_size=1, max_size=8))
        else:
            content[position:position] = b"\xff" * 9 + b"\x01"  # a 2**63-ish varint
    read_or_refuse(bytes(content))


def test_the_fuzz_seed_reads() -> None:
    checkpoint = read_onnx_model(io.BytesIO(SEED), label="seed", size=len(SEED))
    assert [(e.name, e.shape) for e in checkpoint.entries] == [("a.weight", (2, 3)), ("a.bias", (2,))]
    assert struct.calcsize("<Q") == 8
