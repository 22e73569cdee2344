"""The GGUF door against the real library: files written by gguf's ``GGUFWriter`` read as ``GGUFReader``
reads them (names, shapes, types, element counts, bytes); the ggml type table agrees with gguf's
``GGML_QUANT_SIZES``; every malformed or hostile header is refused with its own one-line message, at once."""

from __future__ import annotations

import io
import re
import struct
from pathlib import Path

import gguf
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import paramcount
from paramcount.dtypes import GGML_TORCH_NAMES, GGML_TYPES, tensor_bytes
from paramcount.errors import CheckpointError, LimitError, ParamcountError
from paramcount.render.text import render_plain
from paramcount.sources.checkpoint import tree_from_entries
from paramcount.sources.gguf import read_gguf, read_gguf_header
from paramcount.tree import iter_params


def test_ggml_type_table_matches_gguf() -> None:
    theirs = {t.value: (t.name, *gguf.GGML_QUANT_SIZES[t]) for t in gguf.GGMLQuantizationType}
    ours = {type_id: (t.name, t.block, t.block_bytes) for type_id, t in GGML_TYPES.items()}
    assert ours == theirs


def test_ggml_formats_of_the_planner_agree_with_the_type_table() -> None:
    """dtypes.FORMATS describes some ggml types by their parts (values, scales); the bytes must be the same."""
    for fmt in paramcount.dtypes.FORMATS:
        if fmt.family == "gguf":
            assert fmt.tensor_bytes(4096, 1, 4096) == tensor_bytes(fmt.name, 4096), fmt.name


QUANTISED = [t for t in gguf.GGMLQuantizationType if gguf.GGML_QUANT_SIZES[t][0] > 1]


def write_model(path: Path) -> None:
    writer = gguf.GGUFWriter(str(path), "llama")
    writer.add_block_count(2)
    writer.add_context_length(128)
    writer.add_embedding_length(256)
    writer.add_head_count(4)
    writer.add_head_count_kv(2)
    writer.add_token_list(["a", "b", "cc"])
    writer.add_array("test.nested", [[1, 2], [3]])
    writer.add_tensor("token_embd.weight", np.zeros((10, 256), dtype=np.float32))
    for block in range(2):
        writer.add_tensor(f"blk.{block}.attn_q.weight", np.zeros((256, 256), dtype=np.float16))
        writer.add_tensor(f"blk.{block}.attn_norm.weight", np.zeros(256, dtype=np.float32))
    for type_ in QUANTISED:  # every quantised ggml type, as raw blocks: 2 rows of 2 blocks
        block, size = gguf.GGML_QUANT_SIZES[type_]
        writer.add_tensor(f"quant.{type_.name}.weight", np.zeros((2, 2 * size), dtype=np.uint8), raw_dtype=type_)
    writer.add_tensor("misc.i32", np.zeros((3, 2), dtype=np.int32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()


def test_written_file_reads_as_the_library_reads_it(tmp_path: Path) -> None:
    path = tmp_path / "model.gguf"
    write_model(path)
    reader = gguf.GGUFReader(str(path))
    theirs = [
        (t.name, tuple(int(size) for size in reversed(t.shape)), t.tensor_type.name, int(t.n_elements), int(t.n_bytes))
        for t in reader.tensors
    ]
    checkpoint = read_gguf(path)
    ours = [(e.name, e.shape, e.dtype, e.num_bytes) for e in checkpoint.entries]
    torch_names = {value: key for key, value in GGML_TORCH_NAMES.items()}
    assert [
        (n, s, torch_names.get(d, d), c, b) for (n, s, d, b), (_, _, _, c, _) in zip(ours, theirs, strict=True)
    ] == [(n, s, t, c, b) for n, s, t, c, b in theirs]
    tree = tree_from_entries(checkpoint, label=path.name)
    assert {name: param.count for name, param in iter_params(tree)} == {t[0]: t[3] for t in theirs}
    facts = dict(checkpoint.facts)
    assert facts["architecture"] == "llama"
    assert facts["llama.block_count"] == 2
    assert facts["llama.attention.head_count_kv"] == 2
    assert facts["header_bytes"] == reader.data_offset
    assert facts["alignment"] == reader.alignment


def test_planner_uses_the_stored_bytes(tmp_path: Path) -> None:
    path = tmp_path / "model.gguf"
    write_model(path)
    reader = gguf.GGUFReader(str(path))
    report = paramcount.count(str(path)).report()
    plan = report.plan
    assert plan is not None
    weights = [item for item in plan.items if item.category == "weights"]
    assert [item.bytes for item in weights] == [sum(int(t.n_bytes) for t in reader.tensors)]
    assert report.stored_parameter_bytes == weights[0].bytes
    q4 = next(row for row in report.by_dtype if row.dtype == "Q4_K")
    assert (q4.count, q4.bytes) == (2 * 2 * 256, 2 * 2 * 144)  # 4.5 bits per weight
    rows = [line.split() for line in render_plain(report).splitlines()]
    # dtype, tensors, elements, bytes, bits per element: Q6_K is 210 bytes per 256 weights = 6.5625 bits, exactly
    assert ["Q6_K", "1", "1,024", "840", "6.5625"] in rows  # 2 rows of 2 blocks


def test_a_quantised_file_with_a_float16_tensor_plans_llama_cpp_float16(tmp_path: Path) -> None:
    """A Q4_K model whose output.weight is F16 (as llama.cpp's converters often leave it): float16 by the
    quantised rule, llama.cpp's KV cache default, not "the dtype of most parameters": 2·256 weights of 512 × 256
    are Q4_K, 64 × 256 of them float16."""
    path = tmp_path / "mixed.gguf"
    writer = gguf.GGUFWriter(str(path), "llama")
    block, size = gguf.GGML_QUANT_SIZES[gguf.GGMLQuantizationType.Q4_K]
    for name in ("blk.0.attn_q.weight", "blk.0.ffn_up.weight"):
        writer.add_tensor(
            name, np.zeros((256, 256 // block * size), dtype=np.uint8), raw_dtype=gguf.GGMLQuantizationType.Q4_K
        )
    writer.add_tensor("output.weight", np.zeros((64, 256), dtype=np.float16))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    report = paramcount.count(str(path)).report(sections=())
    assert (report.stored_dtype.dtype, report.stored_dtype.rule) == ("float16", "quantised")


def string(text: str | bytes) -> bytes:
    raw = text.encode() if isinstance(text, str) else text
    return struct.pack("<Q", len(raw)) + raw


def key_value(key: str, value_type: int, payload: bytes) -> bytes:
    return string(key) + struct.pack("<I", value_type) + payload


def tensor_info(name: str, ne: list[int], type_id: int = 0, offset: int = 0) -> bytes:
    return (
        string(name)
        + struct.pack("<I", len(ne))
        + b"".join(struct.pack("<Q", n) for n in ne)
        + struct.pack("<IQ", type_id, offset)
    )


def gguf_file(
    kvs: list[bytes] = (),  # type: ignore[assignment]
    tensors: list[bytes] = (),  # type: ignore[assignment]
    *,
    data: bytes = b"",
    version: int = 3,
    tensor_count: int | None = None,
    kv_count: int | None = None,
) -> bytes:
    head = b"GGUF" + struct.pack("<IQQ", version, len(tensors) if tensor_count is None else tensor_count,
                                 len(kvs) if kv_count is None else kv_count)  # fmt: skip
    header = head + b"".join(kvs) + b"".join(tensors)
    return header + bytes(-len(header) % 32) + data


U32, STRING, ARRAY = 4, 8, 9


def nested(depth: int) -> bytes:
    """An array of arrays … ``depth`` deep, the innermost empty."""
    payload = struct.pack("<IQ", U32, 0)
    for _ in range(depth - 1):
        payload = struct.pack("<IQ", ARRAY, 1) + payload
    return payload


SIXTY_BYTES = b"GGUF" + struct.pack("<IQQ", 3, 0, 2**62) + bytes(36)


@pytest.mark.parametrize(
    ("content", "error", "message"),
    [
        (b"GGML" + bytes(20), CheckpointError, "not a GGUF file (it does not start with 'GGUF')"),
        (b"GG", CheckpointError, "truncated: the magic number needs 4 bytes at offset 0 but the file ends at byte 2"),
        (gguf_file(version=1), CheckpointError, "GGUF version 1 is not supported (supported: 2 and 3, little-endian)"),
        (gguf_file(version=3 << 24), CheckpointError,
         "GGUF version 50,331,648 is not supported (supported: 2 and 3, little-endian)"),
        (gguf_file(tensor_count=2**62), LimitError,
         "the tensor count is 4,611,686,018,427,387,904; the limit is 262,144"),
        (SIXTY_BYTES, LimitError, "the metadata entry count is 4,611,686,018,427,387,904; the limit is 65,536"),
        (gguf_file(kv_count=1_000), CheckpointError,
         "truncated: the type of '' needs 4 bytes at offset 32 but the file ends at byte 32"),
        (gguf_file([struct.pack("<Q", 2**63)]), LimitError,
         "metadata key 0 is 9,223,372,036,854,775,808 bytes; the limit is 65,536 bytes"),
        (gguf_file([string(b"\xff") + struct.pack("<I", U32) + bytes(4)]), CheckpointError,
         "metadata key 0 is not valid UTF-8"),
        (gguf_file([key_value("a", ARRAY, struct.pack("<IQ", U32, 2**40))]), LimitError,
         "the length of array 'a' is 1,099,511,627,776; the limit is 1,048,576"),
        (gguf_file([key_value("a", ARRAY, nested(9))]), LimitError,
         "nesting of the arrays in 'a' is 9; the limit is 8"),
        (gguf_file([key_value("a", 13, b"")]), CheckpointError, "metadata 'a' has unknown value type 13"),
        (gguf_file([key_value("a", STRING, struct.pack("<Q", 2**60))]), LimitError,
         "the string value of 'a' is 1,152,921,504,606,846,976 bytes; the limit is 100,000,000 bytes"),
        (gguf_file([key_value("a", U32, bytes(4)), key_value("a", U32, bytes(4))]), CheckpointError,
         "metadata key 'a' appears more than once"),
        (gguf_file([key_value("general.alignment", U32, struct.pack("<I", 48))]), CheckpointError,
         "general.alignment must be a power of two, got 48"),
        (gguf_file([key_value("general.alignment", STRING, string("32"))]), CheckpointError,
         "general.alignment must be a uint32"),
        (gguf_file(tensors=[tensor_info("w", [4], 99)]), CheckpointError, "tensor 'w' has unknown ggml type 99"),
        (gguf_file(tensors=[tensor_info("w", [1, 1, 1, 1, 1])]), CheckpointError,
         "tensor 'w' has 5 dimensions; ggml allows at most 4"),
        (gguf_file(tensors=[tensor_info("w", [2**31, 2**31, 2**31])]), CheckpointError,
         "tensor 'w' has more than 4,611,686,018,427,387,904 elements"),
        (gguf_file(tensors=[tensor_info("w", [16, 2], 2)], data=bytes(64)), CheckpointError,
         "tensor 'w': its row of 16 elements is not a whole number of Q4_0 blocks (32 elements each)"),
        (gguf_file(tensors=[tensor_info("w", [1]), tensor_info("w", [1], offset=32)], data=bytes(64)), CheckpointError,
         "tensor name 'w' appears more than once"),
        (gguf_file(tensors=[tensor_info("a", [1]), tensor_info("b", [1], offset=4)], data=bytes(64)), CheckpointError,
         "tensor 'b' is at offset 4 of the data but the tensors before it end at 32 (each padded to 32 bytes)"),
        (gguf_file(tensors=[tensor_info("a", [64])], data=bytes(200)), CheckpointError,
         "the file ends 56 bytes before the end of tensor 'a' (an incomplete copy?)"),
    ],
)  # fmt: skip
def test_malformed_headers_are_refused(tmp_path: Path, content: bytes, error: type[Exception], message: str) -> None:
    path = tmp_path / "model.gguf"
    path.write_bytes(content)
    with pytest.raises(error) as raised:
        read_gguf(path)
    assert type(raised.value) is error
    assert str(raised.value) == f"model.gguf: {message}"


def test_the_sixty_byte_file_is_sixty_bytes() -> None:
    assert len(SIXTY_BYTES) == 60


def read_or_refuse(data: bytes) -> None:
    try:
        checkpoint = read_gguf_header(io.BytesIO(data), label="fuzz", size=len(data))
        tree_from_entries(checkpoint, label="fuzz")
    except ParamcountError:
        pass


def valid_file(path: Path) -> bytes:
    writer = gguf.GGUFWriter(str(path), "llama")
    writer.add_block_count(1)
    writer.add_token_list(["a", "bc"])
    writer.add_tensor("blk.0.attn_q.weight", np.zeros((2, 32), dtype=np.float16))
    writer.add_tensor("output.weight", np.zeros((1, 34), dtype=np.uint8), raw_dtype=gguf.GGMLQuantizationType.Q8_0)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path.read_bytes()


@pytest.fixture(scope="module")
def seed(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """A small valid file written by gguf, the starting point of the mutations."""
    return valid_file(tmp_path_factory.mktemp("gguf") / "seed.gguf")


def test_the_fuzz_seed_reads(seed: bytes) -> None:
    checkpoint = read_gguf_header(io.BytesIO(seed), label="seed", size=len(seed))
    assert [(e.name, e.shape, e.dtype) for e in checkpoint.entries] == [
        ("blk.0.attn_q.weight", (2, 32), "float16"),
        ("output.weight", (1, 32), "Q8_0"),
    ]


@settings(max_examples=200)
@given(st.binary(max_size=512))
def test_random_bytes_never_escape(data: bytes) -> None:
    read_or_refuse(b"GGUF" + data)


@settings(max_examples=300, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.data())
def test_mutated_headers_never_escape(seed: bytes, data: st.DataObject) -> None:
    content = bytearray(seed)
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
            content[position : position + 8] = struct.pack("<Q", data.draw(st.sampled_from([2**62, 2**63, 2**64 - 1])))
    read_or_refuse(bytes(content))


def test_unknown_type_message_is_one_line(tmp_path: Path) -> None:
    path = tmp_path / "x.gguf"
    path.write_bytes(gguf_file(tensors=[tensor_info("w", [4], 99)]))
    with pytest.raises(CheckpointError, match=re.escape("x.gguf: tensor 'w' has unknown ggml type 99")) as raised:
        read_gguf(path)
    assert raised.value.offset == 24  # the tensor info starts right after the 24-byte fixed header
