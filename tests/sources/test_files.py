"""Checkpoint files and folders through every surface: ``count(path)``, ``from_file``, the CLI (text and
``--json``), a folder's weights and config.json; shards must lie in the index's folder."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

import paramcount
from paramcount.cli import main
from paramcount.errors import CheckpointError


def save_small(path: Path) -> torch.nn.Module:
    model = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.BatchNorm1d(8), torch.nn.Linear(8, 2, bias=False))
    state = {name: t.to(torch.bfloat16) if t.is_floating_point() else t for name, t in model.state_dict().items()}
    save_file(state, str(path))
    return model


def test_count_takes_a_file_path(tmp_path: Path) -> None:
    model = save_small(tmp_path / "model.safetensors")
    result = paramcount.count(str(tmp_path / "model.safetensors"))
    assert result.origin == "safetensors"
    assert result.total == sum(p.numel() for p in model.parameters()) == 40 + 16 + 16
    assert result.buffers == sum(b.numel() for b in model.buffers()) == 17


def test_count_takes_a_folder_of_weights_and_reads_no_config(tmp_path: Path) -> None:
    save_small(tmp_path / "model.safetensors")
    result = paramcount.count(str(tmp_path))
    assert (result.origin, result.total) == ("safetensors", 72)
    assert "config_parameters" not in dict(result.provenance.facts())


def test_a_folder_with_a_config_and_no_weights_is_still_a_config(tmp_path: Path) -> None:
    shipped = Path(paramcount.__file__).parent / "sources" / "hf" / "configs" / "gpt2.json"
    (tmp_path / "config.json").write_text(shipped.read_text())
    assert paramcount.count(str(tmp_path)).origin == "config"


def test_paths_false_never_reads_a_file(tmp_path: Path) -> None:
    save_small(tmp_path / "model.safetensors")
    with pytest.raises(paramcount.UnknownNameError, match="not a zoo model nor a shipped hub id"):
        paramcount.count(str(tmp_path / "model.safetensors"), paths=False)


def test_cli_text_and_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    save_small(tmp_path / "model.safetensors")
    assert main([str(tmp_path / "model.safetensors")]) == 0
    out = capsys.readouterr().out
    assert "safetensors checkpoint, 1 file of" in out
    rows = [line.split() for line in out.splitlines()]
    assert ["bfloat16", "7", "88", "176", "16"] in rows  # dtype, tensors, elements, bytes, bits per element
    assert main(["--json", str(tmp_path / "model.safetensors")]) == 0
    data = json.loads(capsys.readouterr().out)
    assert (data["origin"], data["total"], data["buffers"]) == ("safetensors", 72, 17)
    assert data["memory"]["by_dtype"] == [
        {"dtype": "bfloat16", "tensors": 7, "count": 88, "bytes": 176},
        {"dtype": "int64", "tensors": 1, "count": 1, "bytes": 8},
    ]
    assert data["facts"]["format"] == "safetensors"


def test_cli_malformed_file_is_one_line_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "broken.safetensors").write_bytes(b"\x00" * 3)
    assert main([str(tmp_path / "broken.safetensors")]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == (
        "paramcount: error: broken.safetensors: truncated: the header length needs 8 bytes at offset 0 but the "
        "file ends at byte 3\n"
    )


def _write_empty(path: Path) -> None:
    """A file of no tensors, by each format's own writer (a GGUF of metadata alone is a vocabulary-only file)."""
    if path.suffix == ".safetensors":
        save_file({}, str(path))
    elif path.suffix == ".gguf":
        import gguf

        writer = gguf.GGUFWriter(str(path), "llama")
        writer.write_header_to_file()
        writer.write_kv_data_to_file()
        writer.write_tensors_to_file()
        writer.close()
    elif path.suffix == ".onnx":
        import onnx

        onnx.save(onnx.helper.make_model(onnx.helper.make_graph([], "g", [], [])), str(path))
    else:
        torch.save({"epoch": 3, "name": "run", "lrs": [0.1, 0.01]}, path)  # a pickled dict of plain values


@pytest.mark.parametrize("name", ["empty.safetensors", "vocab.gguf", "graph.onnx", "plain.pt"])
def test_a_file_of_no_tensors_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str) -> None:
    """Nothing to count is said in one line, not a report of 0 parameters and an empty tensor table."""
    _write_empty(tmp_path / name)
    assert main([str(tmp_path / name)]) == 2
    assert capsys.readouterr() == ("", f"paramcount: error: {name}: holds no tensors, so there is nothing to count\n")


def test_cli_missing_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main([str(tmp_path / "absent.gguf")]) == 2
    assert capsys.readouterr().err == "paramcount: error: absent.gguf: cannot be read (No such file or directory)\n"


@pytest.mark.parametrize("name", ["absent.safetensors", "absent.gguf", "absent.onnx", "absent.pt", "absent"])
def test_a_missing_checkpoint_is_a_checkpoint_error(tmp_path: Path, name: str) -> None:
    """count() promises a ParamcountError for bad input, as a missing config.json is a ConfigError (it was a
    FileNotFoundError, which also stopped a --batch at that line)."""
    with pytest.raises(CheckpointError) as raised:
        paramcount.from_file(tmp_path / name)
    assert str(raised.value) == f"{name}: cannot be read (No such file or directory)"
    with pytest.raises(CheckpointError):
        paramcount.count(str(tmp_path / "absent.safetensors"))


def test_a_missing_folder_inside_a_folder_here_is_named_before_the_hub(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """``runs/last`` reads as a hub id (owner/name), but with a folder ``runs`` here it is a path that does not
    exist: the error said only that the hub could not be reached (or the id was not cached)."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "runs").mkdir()
    assert main(["runs/last", "--offline"]) == 2
    assert capsys.readouterr().err == (
        "paramcount: error: no such file or folder: 'runs/last' (runs/ holds no last); as a hub id, runs/last: not "
        "a shipped hub id nor in the local Hugging Face cache, and offline\n"
    )


def test_a_folder_with_two_weight_files_and_no_index_is_ambiguous(tmp_path: Path) -> None:
    save_small(tmp_path / "a.safetensors")
    save_small(tmp_path / "b.safetensors")
    with pytest.raises(CheckpointError) as raised:
        paramcount.from_file(tmp_path)
    assert str(raised.value) == (
        f"{tmp_path.name}: 2 safetensors files and no index to join them (a.safetensors, b.safetensors); give one file"
    )


def write_index(folder: Path, weight_map: dict[str, str]) -> Path:
    path = folder / "model.safetensors.index.json"
    path.write_text(json.dumps({"metadata": {"total_size": 0}, "weight_map": weight_map}))
    return path


@pytest.mark.parametrize(
    "shard", ["../outside.safetensors", "/etc/passwd", "sub/model.safetensors", "..", "C:model.safetensors"]
)
def test_index_naming_a_path_is_refused_before_anything_is_opened(tmp_path: Path, shard: str) -> None:
    folder = tmp_path / "model"
    folder.mkdir()
    save_small(tmp_path / "outside.safetensors")  # a valid file: reading it would have succeeded
    index = write_index(folder, {"0.weight": shard})
    with pytest.raises(CheckpointError) as raised:
        paramcount.from_file(index)
    assert str(raised.value) == (
        f"model.safetensors.index.json: shard {shard!r} is not a plain file name; shards must lie in the index's folder"
    )


def test_index_shard_that_links_out_of_the_folder_is_refused(tmp_path: Path) -> None:
    folder = tmp_path / "model"
    folder.mkdir()
    save_small(tmp_path / "outside.safetensors")
    os.symlink(tmp_path / "outside.safetensors", folder / "model-1.safetensors")
    index = write_index(folder, {"0.weight": "model-1.safetensors"})
    with pytest.raises(CheckpointError) as raised:
        paramcount.from_file(index)
    assert str(raised.value) == (
        "model.safetensors.index.json: shard 'model-1.safetensors' is a symbolic link to a file outside the index's "
        "folder"
    )


def test_index_and_shards_must_agree(tmp_path: Path) -> None:
    save_small(tmp_path / "model-1.safetensors")
    names = ["0.weight", "0.bias", "1.weight", "1.bias", "1.running_mean", "1.running_var", "1.num_batches_tracked"]
    index = write_index(tmp_path, dict.fromkeys(names, "model-1.safetensors"))
    with pytest.raises(CheckpointError) as raised:
        paramcount.from_file(index)
    assert (
        str(raised.value)
        == "model.safetensors.index.json: shard 'model-1.safetensors' holds tensor '2.weight', not in the index"
    )
    write_index(tmp_path, dict.fromkeys([*names, "2.weight", "3.weight"], "model-1.safetensors"))
    with pytest.raises(CheckpointError) as raised:
        paramcount.from_file(index)
    assert str(raised.value) == (
        "model.safetensors.index.json: the index places tensor '3.weight' in shard 'model-1.safetensors', which does "
        "not hold it"
    )
    write_index(tmp_path, {**dict.fromkeys(names, "model-1.safetensors"), "2.weight": "model-2.safetensors"})
    with pytest.raises(CheckpointError) as raised:
        paramcount.from_file(index)
    assert (
        str(raised.value) == "model.safetensors.index.json: shard 'model-2.safetensors' named by the index is missing"
    )
    save_small(tmp_path / "model-2.safetensors")
    with pytest.raises(CheckpointError) as raised:
        paramcount.from_file(index)
    assert str(raised.value) == (
        "model.safetensors.index.json: shard 'model-1.safetensors' holds tensor '2.weight', which the index places in "
        "shard 'model-2.safetensors'"
    )


def test_not_a_regular_file_is_refused(tmp_path: Path) -> None:
    fifo = tmp_path / "model.safetensors"
    os.mkfifo(fifo)
    with pytest.raises(CheckpointError) as raised:
        paramcount.from_file(fifo)
    assert str(raised.value) == "model.safetensors: not a regular file"


def test_a_file_of_another_name_is_recognised_by_its_first_bytes(tmp_path: Path) -> None:
    save_small(tmp_path / "weights.data")
    assert paramcount.from_file(tmp_path / "weights.data").total == 72
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(CheckpointError) as raised:
        paramcount.from_file(tmp_path / "notes.txt")
    assert str(raised.value) == "notes.txt: not a checkpoint format paramcount reads"


def cache_snapshot(root: Path, repo: str, files: dict[str, bytes]) -> Path:
    """The layout huggingface_hub writes: each file a blob under ``blobs/``, linked from
    ``snapshots/<commit>/<name>`` by the relative link ``../../blobs/<hash>``."""
    import hashlib

    folder = root / f"models--{repo.replace('/', '--')}"
    snapshot = folder / "snapshots" / ("0" * 40)
    (folder / "blobs").mkdir(parents=True)
    snapshot.mkdir(parents=True)
    for name, data in files.items():
        blob = hashlib.sha256(data).hexdigest()
        (folder / "blobs" / blob).write_bytes(data)
        os.symlink(f"../../blobs/{blob}", snapshot / name)
    return snapshot


def sharded_files(tmp_path: Path) -> dict[str, bytes]:
    """A small model saved in two shards with its index, as bytes."""
    model = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Linear(8, 2))
    state = model.state_dict()
    save_file({"0.weight": state["0.weight"], "0.bias": state["0.bias"]}, str(tmp_path / "a"))
    save_file({"1.weight": state["1.weight"], "1.bias": state["1.bias"]}, str(tmp_path / "b"))
    weight_map = {"0.weight": "model-1.safetensors", "0.bias": "model-1.safetensors"}
    weight_map |= {"1.weight": "model-2.safetensors", "1.bias": "model-2.safetensors"}
    return {
        "model.safetensors.index.json": json.dumps({"weight_map": weight_map}).encode(),
        "model-1.safetensors": (tmp_path / "a").read_bytes(),
        "model-2.safetensors": (tmp_path / "b").read_bytes(),
    }


def test_a_hugging_face_cache_snapshot_links_to_its_blobs(tmp_path: Path) -> None:
    snapshot = cache_snapshot(tmp_path / "hub", "org/tiny", sharded_files(tmp_path))
    assert os.readlink(snapshot / "model-1.safetensors").startswith("../../blobs/")
    assert paramcount.count(str(snapshot)).total == 4 * 8 + 8 + 8 * 2 + 2
    single = cache_snapshot(tmp_path / "hub", "org/single", {"model.safetensors": (tmp_path / "a").read_bytes()})
    assert paramcount.count(str(single)).total == 4 * 8 + 8


def test_a_cache_snapshot_link_leaving_its_models_folder_is_refused(tmp_path: Path) -> None:
    files = sharded_files(tmp_path)
    snapshot = cache_snapshot(tmp_path / "hub", "org/tiny", files)
    other = cache_snapshot(tmp_path / "hub", "org/other", {"stolen.safetensors": files["model-2.safetensors"]})
    (snapshot / "model-2.safetensors").unlink()
    os.symlink(os.path.relpath(other / "stolen.safetensors", snapshot), snapshot / "model-2.safetensors")
    assert (snapshot / "model-2.safetensors").resolve().is_file()  # a valid file: reading it would succeed
    with pytest.raises(CheckpointError) as raised:
        paramcount.count(str(snapshot))
    assert str(raised.value) == (
        "model.safetensors.index.json: shard 'model-2.safetensors' is a symbolic link to a file outside its Hugging "
        "Face cache folder"
    )


def test_a_folder_whose_weights_link_out_of_it_is_refused(tmp_path: Path) -> None:
    folder = tmp_path / "model"
    folder.mkdir()
    save_small(tmp_path / "outside.safetensors")
    os.symlink(tmp_path / "outside.safetensors", folder / "model.safetensors")
    with pytest.raises(CheckpointError) as raised:
        paramcount.count(str(folder))
    assert str(raised.value) == "model: 'model.safetensors' is a symbolic link to a file outside the folder"
    assert paramcount.count(str(folder / "model.safetensors")).total == 72  # a file named by the user is read


def test_a_folder_whose_architecture_has_no_formulas_is_counted_from_its_weights(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    model = save_small(tmp_path / "model.safetensors")
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "brand_new_arch", "hidden_size": 4}))
    result = paramcount.count(str(tmp_path))
    assert result.total == sum(p.numel() for p in model.parameters())
    facts = dict(result.provenance.facts())
    assert (facts["config_model_type"], facts["formulas"]) == (
        "brand_new_arch",
        "unavailable for model_type 'brand_new_arch': counted exactly from the weights",
    )
    assert main([str(tmp_path)]) == 0
    assert (
        "config.json: model_type 'brand_new_arch' has no formulas in paramcount; counted exactly from the weights"
    ) in capsys.readouterr().out
    (tmp_path / "model.safetensors").unlink()  # the config alone: the error offers via_transformers=True
    with pytest.raises(paramcount.UnknownNameError, match=r"is not supported.*via_transformers=True"):
        paramcount.count(str(tmp_path))
