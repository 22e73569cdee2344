"""``POST /api/file`` and ``/fragments/file``: a checkpoint's first bytes (header only, never the weights) counted
from memory, against ``paramcount.from_file`` of the whole file written by the format's own library."""

from __future__ import annotations

import struct
from pathlib import Path
from typing import Any

import gguf
import numpy as np
import pytest
import torch
from fastapi.testclient import TestClient
from safetensors.torch import save_file

import paramcount
import paramcount.api
from paramcount.limits import MAX_UPLOAD_BYTES
from paramcount.render.json import report_dict
from paramcount.web.app import create_app
from paramcount.web.settings import Settings


def safetensors_file(path: Path) -> int:
    """A small safetensors file; returns where its header ends (the format: 8-byte length, then the JSON)."""
    tensors = {
        "embed.weight": torch.zeros(10, 8),
        "layers.0.proj.weight": torch.zeros(8, 8, dtype=torch.bfloat16),
        "layers.0.proj.bias": torch.zeros(8, dtype=torch.bfloat16),
        "head.weight": torch.zeros(3, 8, dtype=torch.float16),
    }
    save_file(tensors, str(path))
    return 8 + int(struct.unpack("<Q", path.read_bytes()[:8])[0])


def gguf_file(path: Path) -> int:
    """A small GGUF file written by gguf's writer; returns where its data section starts (gguf's own reader)."""
    writer = gguf.GGUFWriter(str(path), "llama")
    writer.add_block_count(1)
    writer.add_token_list(["a", "b", "cc"])
    writer.add_tensor("token_embd.weight", np.zeros((10, 32), dtype=np.float32))
    writer.add_tensor("blk.0.attn_q.weight", np.zeros((32, 32), dtype=np.float16))
    _, size = gguf.GGML_QUANT_SIZES[gguf.GGMLQuantizationType.Q4_0]
    writer.add_tensor(
        "blk.0.ffn_up.weight", np.zeros((4, size), dtype=np.uint8), raw_dtype=gguf.GGMLQuantizationType.Q4_0
    )
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return int(gguf.GGUFReader(str(path)).data_offset)


WRITERS = {"model.safetensors": safetensors_file, "model.gguf": gguf_file}


def safetensors_header(path: Path) -> bytes:
    """The header bytes of the small safetensors file, written at ``path``."""
    end = safetensors_file(path)
    return path.read_bytes()[:end]


def without_file_facts(report: dict[str, Any]) -> dict[str, Any]:
    """The report less what only the whole file tells: its path and its size on disk."""
    kept = {key: value for key, value in report.items() if key not in ("query", "location")}
    kept["facts"] = {key: value for key, value in report["facts"].items() if key not in ("file_bytes", "files")}
    return kept


@pytest.mark.parametrize("name", sorted(WRITERS))
def test_header_bytes_count_as_the_whole_file(client: TestClient, tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    header_end = WRITERS[name](path)
    data = path.read_bytes()
    assert header_end < len(data)  # the tensor data is left out of the upload
    response = client.post("/api/file", params={"name": name}, content=data[:header_end])
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    expected = report_dict(paramcount.from_file(path).report(sections=()))
    assert without_file_facts(response.json()) == without_file_facts(expected)
    assert response.json()["total"] == expected["total"] > 0


def test_more_bytes_than_the_header_are_accepted(client: TestClient, tmp_path: Path) -> None:
    """The browser sends a GGUF's first bytes up to the cap: part of the data may follow the header."""
    path = tmp_path / "model.gguf"
    header_end = gguf_file(path)
    data = path.read_bytes()
    response = client.post("/api/file", params={"name": "model.gguf"}, content=data[: header_end + 100])
    assert response.json()["total"] == paramcount.from_file(path).totals.total


def test_sections_are_computed_when_asked(client: TestClient, tmp_path: Path) -> None:
    path = tmp_path / "model.safetensors"
    data = safetensors_header(path)
    plain = client.post("/api/file", params={"name": path.name}, content=data).json()
    full = client.post("/api/file", params={"name": path.name, "sections": "training"}, content=data).json()
    assert full == report_dict(paramcount.api.from_header(data, path.name).report(sections=("training",)))
    assert plain != full


def test_a_cut_header_is_one_line_400(client: TestClient, tmp_path: Path) -> None:
    path = tmp_path / "model.safetensors"
    data = safetensors_header(path)[:-1]
    response = client.post("/api/file", params={"name": "model.safetensors"}, content=data)
    assert response.status_code == 400
    body = response.json()
    assert body["query"] == "model.safetensors"
    assert body["error"]["type"] == "CheckpointError"
    assert body["error"]["message"].startswith("model.safetensors: truncated: the header needs")
    assert "\n" not in body["error"]["message"]


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("model.gguf", b"GGUF\x07\x00\x00\x00", "model.gguf: GGUF version 7 is not supported"),
        ("model.gguf", b"PK\x03\x04 not gguf", "model.gguf: not a GGUF file (it does not start with 'GGUF')"),
        ("model.safetensors", struct.pack("<Q", 2) + b"[]", "model.safetensors: the header must be a JSON object"),
        (  # a hostile count is refused before any work
            "model.gguf",
            b"GGUF" + struct.pack("<IQQ", 3, 2**62, 0),
            "model.gguf: the tensor count is 4,611,686,018,427,387,904; the limit is 262,144",
        ),
        ("model.bin", b"\x80\x02", "'model.bin': give the first bytes of a .safetensors or .gguf file"),
    ],
)
def test_malformed_uploads_are_400(client: TestClient, name: str, content: bytes, message: str) -> None:
    response = client.post("/api/file", params={"name": name}, content=content)
    assert response.status_code == 400
    assert response.json()["error"]["message"].startswith(message)


def test_a_body_over_the_cap_is_413() -> None:
    with TestClient(create_app(Settings(max_upload_bytes=1_000))) as small:
        response = small.post("/api/file", params={"name": "model.gguf"}, content=b"G" * 1_001)
    assert response.status_code == 413
    assert response.json() == {
        "query": None,
        "error": {
            "type": "RequestTooLarge",
            "message": "request body is 1,001 bytes; the limit is 1,000 bytes",
            "column": None,
        },
    }


def test_the_upload_cap_is_the_library_limit_and_other_paths_keep_theirs(client: TestClient) -> None:
    assert Settings().max_upload_bytes == MAX_UPLOAD_BYTES == 64 * 2**20
    body = b"x" * (Settings().max_body_bytes + 1)  # over the JSON routes' cap, far under the upload's
    assert client.post("/api/count", content=body).status_code == 413
    assert client.post("/api/file", params={"name": "m.gguf"}, content=body).status_code == 400


def test_the_fragment_is_the_counters_answer_block(client: TestClient, tmp_path: Path) -> None:
    path = tmp_path / "model.safetensors"
    data = safetensors_header(path)
    total = paramcount.from_file(path).totals.total
    response = client.post("/fragments/file", params={"name": path.name}, content=data)
    assert response.status_code == 200
    assert f'<strong id="total">{total}</strong>' in response.text  # 176: no thousands separator
    error = client.post("/fragments/file", params={"name": path.name}, content=data[:-1])
    assert error.status_code == 200
    assert 'data-state="error"' in error.text
    assert "model.safetensors: truncated" in error.text


@pytest.mark.parametrize("path", ["/api/file", "/fragments/file"])
def test_an_empty_body_is_400(client: TestClient, path: str) -> None:
    response = client.post(path, params={"name": "model.gguf"})
    assert response.status_code == 400
    assert response.json()["error"] == {
        "type": "BadRequest",
        "message": "the request body is empty; send the file's first bytes (its header)",
        "column": None,
    }


def test_the_counters_cap_is_the_servers() -> None:
    """counter.js slices a GGUF at the server's cap (it cannot import it): the two numbers must agree."""
    from importlib.resources import files

    script = files("paramcount.web").joinpath("static", "counter.js").read_text()
    assert "const MAX_UPLOAD_BYTES = 64 * 1024 * 1024;" in script
    assert MAX_UPLOAD_BYTES == 64 * 1024 * 1024
