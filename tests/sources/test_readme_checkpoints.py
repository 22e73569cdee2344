"""The tiny checkpoints in ``tests/data/checkpoints`` (the README's "Checkpoint files" examples) are what the real
libraries write: rebuilt here with safetensors, gguf's ``GGUFWriter`` and transformers' own tensor names and shapes,
byte for byte; ``pytest --update-golden`` rewrites them. Their counts are checked against the libraries too."""

from __future__ import annotations

import json
from pathlib import Path

import gguf
import numpy as np
import pytest
import torch
from safetensors.torch import save_file

import paramcount
from hf_oracle import transformers_model

DATA = Path(__file__).parents[1] / "data" / "checkpoints"

TINY_LLAMA = {
    "architectures": ["LlamaForCausalLM"],
    "model_type": "llama",
    "hidden_size": 8,
    "intermediate_size": 16,
    "num_hidden_layers": 2,
    "num_attention_heads": 2,
    "num_key_value_heads": 1,
    "vocab_size": 64,
    "tie_word_embeddings": True,
    "torch_dtype": "bfloat16",
}
"""A Llama shrunk to 1,704 parameters: 3.4 kB of bfloat16."""


def tiny_mlp(folder: Path) -> dict[str, torch.Tensor]:
    """An embedding, two bfloat16 blocks and a head, saved by safetensors (zeros: the bytes never vary)."""
    tensors = {"embed.weight": torch.zeros(32, 8, dtype=torch.bfloat16)}
    for block in range(2):
        tensors[f"blocks.{block}.norm.weight"] = torch.zeros(8, dtype=torch.bfloat16)
        tensors[f"blocks.{block}.fc.weight"] = torch.zeros(8, 8, dtype=torch.bfloat16)
        tensors[f"blocks.{block}.fc.bias"] = torch.zeros(8, dtype=torch.bfloat16)
    tensors["head.weight"] = torch.zeros(10, 8, dtype=torch.bfloat16)
    save_file(tensors, str(folder / "tiny.safetensors"), metadata={"format": "pt"})
    return tensors


def tiny_gguf(folder: Path) -> None:
    """A 2-block llama-shaped GGUF (a few of its tensors): Q8_0 matrices (34 bytes per 32 weights: 8.5 bits per
    weight), float32 norms."""
    writer = gguf.GGUFWriter(str(folder / "tiny-q8_0.gguf"), "llama")
    writer.add_block_count(2)
    writer.add_context_length(128)
    writer.add_embedding_length(32)
    writer.add_feed_forward_length(32)
    writer.add_head_count(2)
    block, size = gguf.GGML_QUANT_SIZES[gguf.GGMLQuantizationType.Q8_0]
    q8_0 = gguf.GGMLQuantizationType.Q8_0
    writer.add_tensor("token_embd.weight", np.zeros((16, 32 // block * size), np.uint8), raw_dtype=q8_0)
    for index in range(2):
        writer.add_tensor(f"blk.{index}.attn_norm.weight", np.zeros(32, np.float32))
        for name in ("attn_q", "ffn_down"):
            writer.add_tensor(
                f"blk.{index}.{name}.weight", np.zeros((32, 32 // block * size), np.uint8), raw_dtype=q8_0
            )
    writer.add_tensor("output_norm.weight", np.zeros(32, np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()


def tiny_llama(folder: Path) -> torch.nn.Module:
    """A Hugging Face folder: config.json and model.safetensors with transformers' names and shapes
    (``save_pretrained`` writes the tied lm_head once, so it is left out), bfloat16 zeros."""
    model = transformers_model(TINY_LLAMA, "LlamaForCausalLM")
    state = {
        name: torch.zeros(tensor.shape, dtype=torch.bfloat16)
        for name, tensor in model.state_dict().items()
        if name != "lm_head.weight"
    }
    folder.mkdir(exist_ok=True)
    save_file(state, str(folder / "model.safetensors"), metadata={"format": "pt"})
    (folder / "config.json").write_text(json.dumps(TINY_LLAMA, indent=2) + "\n")
    return model


def test_the_readme_checkpoints_are_what_the_libraries_write(tmp_path: Path, request: pytest.FixtureRequest) -> None:
    tiny_mlp(tmp_path)
    tiny_gguf(tmp_path)
    tiny_llama(tmp_path / "tiny-llama")
    made = sorted(path.relative_to(tmp_path) for path in tmp_path.rglob("*") if path.is_file())
    if request.config.getoption("--update-golden"):
        for name in made:
            (DATA / name).parent.mkdir(parents=True, exist_ok=True)
            (DATA / name).write_bytes((tmp_path / name).read_bytes())
    assert sorted(path.relative_to(DATA) for path in DATA.rglob("*") if path.is_file()) == made
    for name in made:
        assert (DATA / name).read_bytes() == (tmp_path / name).read_bytes(), name
    assert sum((DATA / name).stat().st_size for name in made) < 20_000  # a few kB in the repository


def test_the_readme_checkpoints_count_as_the_libraries_do(tmp_path: Path) -> None:
    tensors = tiny_mlp(tmp_path)
    assert paramcount.count(str(DATA / "tiny.safetensors")).total == sum(t.numel() for t in tensors.values())
    reader = gguf.GGUFReader(str(DATA / "tiny-q8_0.gguf"))
    assert paramcount.count(str(DATA / "tiny-q8_0.gguf")).total == sum(int(t.n_elements) for t in reader.tensors)
    model = tiny_llama(tmp_path / "tiny-llama")
    result = paramcount.count(str(DATA / "tiny-llama"))
    assert result.total == sum(p.numel() for p in model.parameters()) == 1_704
    assert dict(result.provenance.facts())["config_agrees"] == "yes"
