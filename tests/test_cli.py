"""The command line: exit codes, stdout (data only) and stderr (errors only), each output format."""

from __future__ import annotations

import io
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from paramcount.cli import FLAGS, _parser, _quick_arguments, main


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_text_answer(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "Conv2d(256, 512, 3)")
    assert (code, err) == (0, "")
    assert out.startswith("Conv2d(256, 512, 3)\n  1,180,160 parameters")
    assert "  weight     = 512 × 256/1 × 3 × 3 = 512 × 256 × 3 × 3 = 1,179,648\n" in out


def test_words_are_joined(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "--json", "Linear(3,", "4)")
    assert code == 0
    assert json.loads(out)["total"] == 16  # 4·3 weights + 4 biases


def test_json_schema(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "--json", "nn.Sequential(nn.Linear(2, 3), nn.BatchNorm1d(3))")
    data = json.loads(out)
    assert code == 0
    assert data["schema_version"] == 1
    assert {key: data[key] for key in ("kind", "total", "trainable", "non_trainable", "buffers")} == {
        # Linear(2, 3): 3·2 + 3 = 9; BatchNorm1d(3): weight 3 + bias 3 = 6 → 15; buffers 3 + 3 + 1 = 7.
        "kind": "Sequential",
        "total": 15,
        "trainable": 15,
        "non_trainable": 0,
        "buffers": 7,
    }
    assert [p["name"] for p in data["parameters"]] == ["0.weight", "0.bias", "1.weight", "1.bias"]
    assert data["parameters"][0] == {
        "name": "0.weight",
        "shape": [3, 2],
        "count": 6,
        "dtype": "float32",
        "trainable": True,
    }
    assert [b["name"] for b in data["buffer_tensors"]] == [
        "1.running_mean",
        "1.running_var",
        "1.num_batches_tracked",
    ]
    assert set(data) >= {"explanation", "memory", "variants", "related", "modules", "code", "tied", "query"}


def test_markdown(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "--markdown", "Linear(4096, 4096)")
    assert code == 0
    assert out.startswith("# Linear(4096, 4096)\n")
    assert "| float32 | 67,125,248 B | 67.13 MB | 64.02 MiB |" in out  # 16,781,312 · 4 bytes


def test_bad_expression_exits_2_with_one_line_on_stderr(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "Conv2D(3, 4, 3)")
    assert (code, out) == (2, "")
    assert err == "paramcount: error: column 1: unknown layer 'Conv2D'; did you mean 'Conv2d', 'Conv3d' or 'Conv1d'?\n"


def test_no_expression_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys)
    assert (code, out) == (2, "")
    assert err.endswith('paramcount: error: give an expression, e.g. paramcount "Conv2d(256, 512, 3)"\n')


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["gpt2", "--zero", "5"], "argument --zero: invalid choice: 5 (choose from 0, 1, 2, 3)"),
        (["gpt2", "--depth", "x"], "argument --depth: invalid int value: 'x'"),
        (["gpt2", "--frobnicate"], "unrecognized arguments: --frobnicate"),
        (["--list"], "argument --list: expected one argument"),
        (["gpt2", "--batch-size", "x"], "argument --batch-size: invalid int value: 'x'"),  # not --batch's JSON
    ],
)
def test_an_option_argparse_refuses_is_one_line(
    capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    """Not argparse's usage block (a dozen lines) before its message: one line, as every other refusal."""
    code, out, err = run(capsys, *argv)
    assert (code, out) == (2, "")
    assert err == f"paramcount: error: {message}; paramcount --help lists the options\n"
    code, out, err = run(capsys, "--json", *argv)
    assert (code, err) == (2, "")
    assert json.loads(out)["error"] == {
        "type": "QueryError",
        "message": f"{message}; paramcount --help lists the options",
        "column": None,
    }


@pytest.mark.parametrize("query", ["unet.py", "models/unet.py:", " unet.py "])
def test_a_python_file_without_its_class_says_how_to_name_it(capsys: pytest.CaptureFixture[str], query: str) -> None:
    file = query.strip().removesuffix(":")
    assert run(capsys, query) == (
        2,
        "",
        f"paramcount: error: {file}: name the nn.Module class to count after a colon: {file}:CLASS\n",
    )


def test_batch_goes_on_after_a_failing_line(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    batch = tmp_path / "layers.txt"
    batch.write_text("Linear(10, 20)\n\n# a comment\nLinear(1, -2)\nConv2d(3, 64, 7)\n")
    code, out, err = run(capsys, "--json", "--batch", str(batch))
    lines = [json.loads(line) for line in out.splitlines()]
    assert (code, err) == (2, "")
    assert [line.get("total") for line in lines] == [220, None, 9_472]  # 20·10 + 20; 64·3·7·7 + 64
    assert lines[1] == {
        "query": "Linear(1, -2)",
        "error": {
            "type": "ArgumentError",
            "message": "Linear: out_features must be non-negative, got -2",
            "column": None,
        },
    }


BATCH_QUERIES = ["meta-llama/Llama-3.1-8B", "Conv2d(3, 8, 3)", "resnet18", "Linar(3, 4)"]


@pytest.mark.parametrize(
    "options",
    [
        ["--optimizer", "adamw", "--mixed-precision", "bf16", "--seq-len", "2048"],
        ["--dtype", "bfloat16", "--gpu", "H100-80GB", "--batch-size", "4"],
        ["--input", "2,3,32,32"],
        ["--architecture", "LlamaModel", "--lora-rank", "8", "--optimizer", "adamw"],
        ["--via-transformers"],
    ],
    ids=["training", "inference", "input", "architecture", "via-transformers"],
)
def test_batch_lines_get_every_option_as_a_single_query_does(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, options: list[str]
) -> None:
    singles = []
    for query in BATCH_QUERIES:
        code, out, _ = run(capsys, "--json", query, *options)
        singles.append(json.loads(out))
        assert code == (0 if "error" not in singles[-1] else 2)
    monkeypatch.setattr("sys.stdin", io.StringIO("".join(f"{query}\n" for query in BATCH_QUERIES)))
    code, out, err = run(capsys, "--batch", "-", *options)
    assert (code, err) == (2, "")  # Linar(3, 4) fails (and in some option sets, the lines that are not configs)
    assert [json.loads(line) for line in out.splitlines()] == singles


def test_batch_with_training_options_plans_training(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    # The example: the plan was an inference plan without the options.
    batch = tmp_path / "models.txt"
    batch.write_text("meta-llama/Llama-3.1-8B\n")
    code, out, _ = run(capsys, "--batch", str(batch), "--optimizer", "adamw", "--mixed-precision", "bf16")
    plan = json.loads(out)["memory"]["plan"]
    # as in test_memory_plan_flags: 16 bytes per parameter, AdamW's step per tensor, the bf16 rotary buffer
    assert (code, plan["mode"], plan["total_bytes"]) == (0, "training", 16 * 8_030_261_248 + 4 * 291 + 2 * 128)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--markdown"], "--markdown: --batch writes one JSON object per line"),
        (["--width", "80"], "--width: wraps text output only, not --batch"),
        (["--depth", "2"], "--depth: limits the module table of text and --markdown, not --batch"),
        (["Linear(1, 2)"], "--batch: reads the queries from its file; give no query beside it"),
        (["--optimizer", "adamm"], "optimizer: unknown optimizer 'adamm'; did you mean 'adam', 'radam' or 'nadam'?"),
        (["--input", "1,x"], "input shape size 2 is 'x'; sizes are non-negative integers separated by commas, e.g. "
         "1,3,224,224"),
    ],
)  # fmt: skip
def test_batch_refuses_what_cannot_apply_before_reading_a_line(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, argv: list[str], message: str
) -> None:
    batch = tmp_path / "layers.txt"
    batch.write_text("Linear(10, 20)\n")
    code, out, err = run(capsys, "--batch", str(batch), *argv)
    assert (code, err) == (2, "")
    assert json.loads(out)["query"] is None
    assert json.loads(out)["error"]["message"] == message


def test_batch_length_cap_is_on_the_line_as_written(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    line = " " * 500_000 + "nn.Linear(1, 1)" + " " * 500_000
    batch = tmp_path / "padded.txt"
    batch.write_text(f"{line}\n  nn.Linear(1, 1)\n")
    code, out, _ = run(capsys, "--batch", str(batch))
    first, second = (json.loads(text) for text in out.splitlines())
    assert code == 2
    assert first["error"] == {
        "type": "LimitError",
        "message": "expression is 1,000,015 characters; the limit is 10,000 characters",
        "column": None,
    }
    assert (second["query"], second["total"]) == ("  nn.Linear(1, 1)", 2)  # 1·1 weight + 1 bias


def test_json_errors_are_json_on_stdout(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "--json", "Linar(3,4)")
    assert (code, err) == (2, "")
    assert json.loads(out) == {
        "query": "Linar(3,4)",
        "error": {
            "type": "UnknownNameError",
            "message": "column 1: unknown layer 'Linar'; did you mean 'Linear' or 'Bilinear'?",
            "column": 1,
        },
    }


@pytest.mark.parametrize(
    ("query", "message"),
    [
        (
            "llama-3-8b",
            "unknown model 'llama-3-8b': not a zoo model nor a shipped hub id; for any model, give the path to its "
            "config.json (or its folder); did you mean 'meta-llama/Llama-3.1-8B', 'meta-llama/Llama-3.2-1B' or "
            "'meta-llama/Llama-3.1-405B'?",
        ),
        (
            "mixtral",
            "unknown model 'mixtral': not a zoo model nor a shipped hub id; for any model, give the path to its "
            "config.json (or its folder); did you mean 'mistralai/Mixtral-8x7B-v0.1'?",
        ),
        (
            "Qwen/Qwen2.5-8B",
            "Qwen/Qwen2.5-8B: not a shipped hub id nor in the local Hugging Face cache, and offline; "
            "did you mean 'Qwen/Qwen2.5-7B' or 'Qwen/Qwen3-8B'?",
        ),
        (
            "resnet51",
            "unknown model 'resnet51': not a zoo model nor a shipped hub id; for any model, give the path to its "
            "config.json (or its folder); did you mean 'resnet50', 'resnet18' or 'resnet152'?",
        ),
        # expression mistakes keep the expression reader's messages
        ("Linar(3,4)", "column 1: unknown layer 'Linar'; did you mean 'Linear' or 'Bilinear'?"),
        ("Linear", "column 1: Linear is a layer class; call it to build a layer, as in Linear(...)"),
        ("nn.Linaer", "column 4: unknown layer 'Linaer'; did you mean 'Linear'?"),
        ("True", "column 1: expression is True, not a layer; write a layer call such as nn.Linear(64, 128)"),
    ],
)
def test_a_model_name_gets_a_message_about_models(capsys: pytest.CaptureFixture[str], query: str, message: str) -> None:
    code, out, err = run(capsys, query)
    assert (code, out, err) == (2, "", f"paramcount: error: {message}\n")


@pytest.mark.parametrize("path", ["./llama", "/nowhere/llama", "models/Llama-3.2-1B/", "models/meta/llama"])
def test_a_missing_path_is_said_to_be_missing(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path, path: str
) -> None:
    """Not 'unknown model …; give the path to its config.json (or its folder)', which is what the user did."""
    monkeypatch.chdir(tmp_path)
    code, out, err = run(capsys, path)
    assert (code, out, err) == (2, "", f"paramcount: error: no such file or folder: {path!r}\n")


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--depth", "-1", "resnet18"], "--depth: must be 0 (the root alone) or more, got -1"),
        (["--width", "0", "Linear(3, 4)"], "--width: must be at least 40 columns, got 0"),
        (["--width", "39", "Linear(3, 4)"], "--width: must be at least 40 columns, got 39"),
        (["--json", "--width", "80", "Linear(3, 4)"], "--width: wraps text output only, not --json"),
        (["--markdown", "--width", "80", "Linear(3, 4)"], "--width: wraps text output only, not --markdown"),
        (["--json", "--depth", "1", "resnet18"], "--depth: limits the module table of text and --markdown, not --json"),
        (["--list", "models", "resnet"], "--list: lists what paramcount knows; give it no query"),
        (["--list", "models", "--markdown"], "--list: lists what paramcount knows; give it no --markdown"),
        (["--list", "layers", "--depth", "0"], "--list: lists what paramcount knows; give it no --depth"),
        (["--list", "configs", "--batch", "-"], "--list: lists what paramcount knows; give it no --batch"),
        (
            ["--architecture", "LlamaModel", "Linear(3, 4)"],
            "architecture: applies only to a model config (a shipped hub id or a config.json), not to 'Linear(3, 4)'",
        ),
        (
            ["--architecture", "ResNet", "resnet50"],
            "architecture: applies only to a model config (a shipped hub id or a config.json), not to 'resnet50'",
        ),
        (
            ["--via-transformers", "Linear(3, 4)"],
            "via_transformers: applies only to a model config (a shipped hub id or a config.json), not to "
            "'Linear(3, 4)'",
        ),
    ],
)
def test_options_that_cannot_apply_are_refused(
    capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    code, out, err = run(capsys, *argv)
    if "--json" in argv or "--batch" in argv:  # JSON output: the error is JSON too
        assert (code, err, json.loads(out)["error"]["message"]) == (2, "", message)
    else:
        assert (code, out, err) == (2, "", f"paramcount: error: {message}\n")


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ["--architecture", "LlamaModel", "tiny-llama"],  # a folder: its weights are counted, not its config
            "architecture: applies only to a model config (a shipped hub id or a config.json), not to 'tiny-llama'",
        ),
        (
            ["--via-transformers", "tiny.safetensors"],
            "via_transformers: applies only to a model config (a shipped hub id or a config.json), not to "
            "'tiny.safetensors'",
        ),
        (
            ["--architecture", "LlamaModel", "model.py:Net"],  # refused before the file is imported
            "architecture: applies only to a model config (a shipped hub id or a config.json), not to 'model.py:Net'",
        ),
    ],
)
def test_config_options_are_refused_for_checkpoints_and_files(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, argv: list[str], message: str
) -> None:
    monkeypatch.chdir(Path(__file__).parent / "data" / "checkpoints")
    code, out, err = run(capsys, *argv)
    assert (code, out, err) == (2, "", f"paramcount: error: {message}\n")


def test_depth_zero_is_the_root_alone(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "--depth", "0", "resnet18")
    table = out.split("Modules\n", 1)[1].split("\n\n", 1)[0].splitlines()
    # torchvision resnet18: 11,689,512 parameters (ResNet18_Weights.IMAGENET1K_V1)
    assert code == 0
    assert re.fullmatch(r" +\(root\) +ResNet +11,689,512 +100\.0% +yes", table[1])
    assert table[2].strip().startswith("Deeper modules hidden (--depth 0)")


def test_help_names_the_web_commands(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    assert "paramcount serve " in out
    assert "paramcount site build " in out
    assert "pip install -e '.[web]'" in out


def test_help_says_the_dtype_default_the_plan_uses(capsys: pytest.CaptureFixture[str]) -> None:
    """A checkpoint's or a dtype= argument's tensors choose the default dtype before a config does."""
    with pytest.raises(SystemExit):
        main(["--help"])
    assert "(default: the tensors' or the config's, else float32)" in " ".join(capsys.readouterr().out.split())
    code, out, _ = run(capsys, "Linear(3, 4, dtype=torch.bfloat16)", "--optimizer", "adamw")
    assert (code, "Training in bfloat16 (bfloat16: the tensors' own dtype)." in out) == (0, True)


def test_batch_missing_file(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, out, err = run(capsys, "--batch", str(tmp_path / "missing.txt"))
    assert (code, out) == (2, "")
    assert err == f"paramcount: error: No such file or directory: {tmp_path / 'missing.txt'}\n"


def test_zoo_model(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "--json", "resnet50(num_classes=10)")
    data = json.loads(out)
    # torchvision ResNet50_Weights.IMAGENET1K_V1 lists 25,557,032; a 10-class head has 2048·990 + 990 fewer.
    assert (code, data["total"], data["origin"]) == (0, 25_557_032 - 2048 * 990 - 990, "zoo")
    assert data["expression"] == "resnet50(num_classes=10)"
    assert "torchvision.models.resnet50(num_classes=10)" in data["code"]


def test_zoo_model_text_shows_the_module_table_and_chart(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "--depth", "1", "resnet18")
    assert code == 0
    # torchvision's layer4 of resnet18: two BasicBlocks of 512 channels, 8,393,728 parameters.
    assert re.search(r"^ +layer4 +Sequential +8,393,728 +71.8% +yes$", out, re.MULTILINE)
    assert "Where the parameters are" in out
    assert "    layer4.0" not in out  # deeper than --depth 1


def test_list_models(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "--list", "models")
    assert code == 0
    assert {"resnet50", "vit_b_16", "efficientnet_b7", "swin_t"} <= set(out.split())


def test_memory_plan_flags(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(
        capsys, "--json", "meta-llama/Llama-3.1-8B", "--optimizer", "adamw", "--mixed-precision", "bf16",
        "--gpus", "8", "--zero", "3", "--gpu", "H100-80GB",
    )  # fmt: skip
    plan = json.loads(out)["memory"]["plan"]
    assert (code, plan["mode"], plan["devices"], plan["fit"]["accelerator"]) == (0, "training", 8, "H100-80GB")
    # bf16 weights + grads (2 + 2) and fp32 master, exp_avg, exp_avg_sq (4 + 4 + 4) per parameter,
    # plus AdamW's float32 step scalar for each of the 291 tensors and the 128 bf16 rotary buffer elements.
    expected = 16 * 8_030_261_248 + 4 * 291 + 2 * 128
    assert plan["total_bytes"] == expected
    assert plan["exact"] is True  # no --seq-len: no activation estimate


def test_every_surface_stores_a_config_in_the_dtype_it_names(capsys: pytest.CaptureFixture[str]) -> None:
    # Llama 3.1 8B's config.json stores "torch_dtype": "bfloat16": 8,030,261,248 × 2 bytes, plus the 128 rotary
    # buffer elements (inv_freq and original_inv_freq, head_dim 128 / 2 each), cast by module.to(torch.bfloat16).
    code, out, _ = run(capsys, "--json", "meta-llama/Llama-3.1-8B")
    memory = json.loads(out)["memory"]
    assert code == 0
    assert memory["stored"]["dtype"] == memory["plan"]["dtype"] == "bfloat16"
    assert memory["stored"]["dtype_reason"] == memory["plan"]["dtype_reason"] == "bfloat16: the dtype the config stores"
    assert (memory["stored"]["parameter_bytes"], memory["stored"]["buffer_bytes"]) == (2 * 8_030_261_248, 2 * 128)
    code, out, _ = run(capsys, "--no-color", "meta-llama/Llama-3.1-8B")
    assert "Stored in bfloat16 (the dtype the config stores): parameters 16,060,522,496 B" in out
    assert "float32" not in out.split("Stored in", 1)[1].split("\n")[0]


def test_memory_plan_bad_option(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "Linear(8, 8)", "--optimizer", "adamm")
    assert (code, out) == (2, "")
    assert err.startswith("paramcount: error: optimizer: unknown optimizer 'adamm'; did you mean 'adam'")


def test_kv_cache_for_inference(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "--json", "meta-llama/Llama-3.1-8B", "--seq-len", "8192")
    items = {item["label"]: item for item in json.loads(out)["memory"]["plan"]["items"]}
    kv = sum(item["bytes"] for label, item in items.items() if label.startswith("KV cache"))
    # 2 (K and V) · 32 layers · 8 kv heads · 128 head_dim · 2 bytes (bf16) · 8,192 tokens = 1 GiB exactly.
    assert (code, kv) == (0, 2 * 32 * 8 * 128 * 2 * 8192)


def test_input_shape_propagation(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "--json", "nn.Sequential(nn.Conv2d(3, 8, 3, stride=2, padding=1), nn.Flatten())",
                       "--input", "1,3,256,256")  # fmt: skip
    shapes = json.loads(out)["shapes"]
    # floor((256 + 2·1 - 1·(3 - 1) - 1)/2) + 1 = 128; MACs = 8·128·128·3·3·3 = 3,538,944; flattened 8·128·128.
    assert (code, shapes["output_shape"], shapes["total_macs"]) == (0, [1, 131_072], 3_538_944)
    assert shapes["total_flops"] == 2 * 3_538_944


def test_shape_error_names_the_module(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "nn.Sequential(nn.Linear(10, 4), nn.Linear(5, 2))", "--input", "3,10")
    assert code == 2
    assert err == "paramcount: error: 1: Linear expects 5 input features (the last dimension), got 4\n"


def test_training_flops_estimate(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "--json", "mixtral-8x7b-v0.1", "--seq-len", "4096", "--batch-size", "2")
    compute = {item["symbolic"]: item for item in json.loads(out)["compute"]}
    active = 12_879_925_248  # Mixtral's parameters active per token (2 of 8 experts), from the active figure
    embedding = 32_000 * 4_096  # embed_tokens: vocab_size × hidden_size, not in Kaplan et al.'s N
    assert (code, compute["6 · N · D"]["flops"]) == (0, 6 * (active - embedding) * 4096 * 2)
    assert compute["2 · N · D"]["flops"] == 2 * (active - embedding) * 4096 * 2
    assert "N = active non-embedding parameters" in compute["6 · N · D"]["label"]
    assert compute["6 · N_all · D"]["flops"] == 6 * active * 4096 * 2  # beside it, labelled
    assert "all active parameters, embeddings included" in compute["6 · N_all · D"]["label"]


def test_activations_from_shapes_for_a_convnet(capsys: pytest.CaptureFixture[str]) -> None:
    model = "nn.Sequential(nn.Conv2d(3, 16, 3, padding=1), nn.ReLU(), nn.Flatten(), nn.Linear(16 * 32 * 32, 10))"
    code, out, _ = run(capsys, "--json", model, "--input", "8,3,32,32", "--optimizer", "adamw")
    items = [item for item in json.loads(out)["memory"]["plan"]["items"] if item["category"] == "activations"]
    # What autograd saves: Conv2d its input, 8·3·32·32 = 24,576 floats; ReLU its result, 8·16·32·32 = 131,072,
    # which Flatten views and Linear saves again (one storage); the loss log_softmax's 8·10 result, the 8 int64
    # targets and the 0-d total weight. Exact.
    assert code == 0
    assert [(item["label"], item["bytes"], item["exact"]) for item in items] == [
        ("activations: Conv2d input (float32, 1 tensor)", 24_576 * 4, True),
        ("activations: ReLU result (float32, 1 tensor)", 131_072 * 4, True),
        ("activations: log_softmax result (float32, 1 tensor)", 80 * 4, True),
        ("activations: targets (int64, 1 tensor)", 8 * 8, True),
        ("activations: total weight, a 0-d tensor (float32, 1 tensor)", 4, True),
    ]


# --------------------------------------------------------------------- the argparse-free reading of argv
_WORDS = st.sampled_from(
    [
        *(flag.name for flag in FLAGS),
        *(f"{flag.name}=" for flag in FLAGS),
        "--mark", "--json=1", "-h", "--version", "--", "-", "-5", "",
        "Conv2d(256, 512, 3)", "Linear(3,", "4)", "resnet50", "a=b",
        "3", "٣", "x", "bf16", "fp16", "2", "7", "layers", "models", "1,3,224,224",
    ]
)  # fmt: skip


@given(st.lists(_WORDS, max_size=6))
@example(["Conv2d(256, 512, 3)", "--json"])
@example(["--json", "Linear(3,", "4)", "--depth", "2"])
@example(["a", "--json", "b"])
@example(["--zero=3", "--mixed-precision", "bf16", "x"])
def test_quick_reading_agrees_with_argparse(words: list[str]) -> None:
    quick = _quick_arguments(words)
    if quick is None:
        return  # argparse reads it (or reports the error)
    assert vars(quick) == vars(_parser().parse_args(words))


def test_plain_invocations_skip_argparse() -> None:
    for words in (["Conv2d(256, 512, 3)"], ["--json", "Linear(3,", "4)"], ["x", "--optimizer", "adamw", "--zero=2"]):
        assert _quick_arguments(words) is not None, words


# ------------------------------------------------------------------------------------ the command's process
def _command(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "paramcount", *argv], capture_output=True, text=True, check=False)


def test_the_process_answers_and_exits_like_main() -> None:
    # run() leaves the cyclic collector out of the one answer; output and status are main()'s.
    done = _command("--json", "Linear(3, 4)")
    assert (done.returncode, done.stderr) == (0, "")
    assert json.loads(done.stdout)["total"] == 16  # 4·3 weights + 4 biases
    refused = _command("Linear(3, 4")
    assert (refused.returncode, refused.stdout) == (2, "")
    assert refused.stderr == "paramcount: error: column 7: invalid syntax: '(' was never closed\n"


@pytest.mark.parametrize(
    ("argv", "collector"),
    [
        (["Linear(1, 2)"], "False True"),  # one answer: the collector is off and what was made is frozen
        (["--batch", "-"], "True False"),  # a batch can be long: the collector stays on
    ],
)
def test_only_a_single_answer_leaves_out_the_cycle_collector(argv: list[str], collector: str) -> None:
    code = (
        "import gc, io, sys\n"
        "from paramcount.cli import main\n"
        "sys.stdin = io.StringIO('Linear(1, 2)\\n'); sys.stdout = io.StringIO()\n"
        f"main({argv!r}, exiting=True)\n"
        "sys.stdout = sys.__stdout__; print(gc.isenabled(), gc.get_freeze_count() > 0)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == collector


README = Path(__file__).parents[1] / "README.md"


def _shown_names(option: str) -> set[str]:
    """Every value the --help text or the README shows for ``option``: the help's examples (after ': ', up to
    '…' or '('), the backticked names in the README's row for the option, and each ``option VALUE`` used."""
    flag = next(flag for flag in FLAGS if flag.name == option)
    listed = flag.help.split(": ", 1)[1].split("…")[0].split("(")[0]
    names = {name.strip() for name in listed.split(",") if name.strip()}
    readme = README.read_text(encoding="utf-8")
    row = next(line for line in readme.splitlines() if line.startswith(f"| `{option} "))
    cells = row.split("|")[2]
    names |= set(re.findall(r"`([^`\s]+)`", cells)) - {option}
    names |= set(re.findall(rf"{re.escape(option)}[ =]([\w.-]+)", readme))
    metavars = {other.metavar or other.dest.upper() for other in FLAGS}  # NAME, FORMAT …
    return names - metavars


@pytest.mark.parametrize("option", ["--quantization", "--dtype", "--gpu", "--optimizer"])
def test_every_name_the_help_or_readme_shows_works(option: str) -> None:
    from paramcount.analysis.planner import PlanOptions, plan_memory
    from paramcount.api import count

    names = _shown_names(option)
    assert len(names) >= 3
    tree = count("Sequential(Linear(256, 256), LayerNorm(256))").tree
    for name in sorted(names):
        field = option[2:].replace("-", "_")
        extra: dict[str, object] = {"optimizer": "adamw"} if field == "optimizer" else {}
        plan = plan_memory(tree, None, PlanOptions(**{field: name, **extra}))  # type: ignore[arg-type]
        assert plan.total_bytes > 0, name


def test_list_quantizations_names_each_format_with_its_aliases(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "--list", "quantizations")
    lines = {line.split()[0]: line for line in out.splitlines()}
    assert code == 0
    assert {"gptq-g128", "awq-g128", "nf4", "llm.int8", "Q4_K_M", "int8"} <= set(lines)
    assert "gptq-4bit-g128" in lines["gptq-g128"]
    assert "awq-4bit" in lines["awq-g128"]
    assert "bfloat16" not in lines  # plain dtypes are --dtype values


def test_list_gpus_gives_the_reported_memory(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "--list", "gpus")
    lines = {line.split()[0]: line for line in out.splitlines()}
    assert code == 0
    # nvidia-smi memory.total: T4 15,360 MiB, L4 23,034 MiB (github.com/modal-labs/modal-client/pull/2797)
    assert lines["T4-16GB"].startswith(f"T4-16GB  {15_360 * 2**20:,} B: 15,360 MiB: nvidia-smi memory.total")
    assert lines["L4-24GB"].startswith(f"L4-24GB  {23_034 * 2**20:,} B")


def test_a_quantised_config_is_stored_in_its_checkpoint_s_layout(capsys: pytest.CaptureFixture[str]) -> None:
    # DeepSeek-V3's quantization_config: fine-grained FP8 (128 × 128 tiles), the rest in the config's bfloat16;
    # gpt-oss-20b's: MXFP4 experts, the rest in bfloat16 (its config states no dtype). The bytes are checked against
    # transformers' own quantizers in tests/analysis/test_memory.py; here every surface says so.
    for hub_id, layout, rule in (
        ("deepseek-ai/DeepSeek-V3", "fp8-block128", "config-quantised"),
        ("openai/gpt-oss-20b", "mxfp4", "checkpoint-quantised"),
    ):
        code, out, _ = run(capsys, "--json", hub_id)
        memory = json.loads(out)["memory"]
        assert code == 0
        assert memory["stored"]["quantization"] == memory["plan"]["quantization"] == layout
        assert (memory["stored"]["dtype"], memory["stored"]["dtype_rule"]) == ("bfloat16", rule)
        weights = [item for item in memory["plan"]["items"] if item["label"].startswith("weights in")]
        assert [item["label"].split(" (")[0] for item in weights] == [f"weights in {layout}"]
        code, out, _ = run(capsys, "--no-color", hub_id)
        assert f"Stored in {layout} (as the config's quantization_config stores the weights) with the other" in out
        assert f"stored as {layout}" in out


def test_batch_goes_on_after_a_missing_checkpoint(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """A line naming a checkpoint that is not there is that line's error (the batch stopped there, the error on
    stderr: No such file or directory)."""
    batch = tmp_path / "files.txt"
    batch.write_text(f"{tmp_path / 'absent.safetensors'}\nLinear(10, 20)\n")
    code, out, err = run(capsys, "--batch", str(batch))
    first, second = (json.loads(line) for line in out.splitlines())
    assert (code, err, second["total"]) == (2, "", 220)  # 20·10 + 20
    assert first["error"] == {
        "type": "CheckpointError",
        "message": "absent.safetensors: cannot be read (No such file or directory)",
        "column": None,
    }


@pytest.mark.parametrize("source", ["file", "stdin"])
def test_a_batch_line_that_is_not_utf8_is_that_lines_error(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path, source: str
) -> None:
    """Bytes that are not UTF-8 fail their own line, shown as U+FFFD where they were, and the batch goes on (it was
    a UnicodeDecodeError traceback and nothing answered)."""
    data = b"Linear(10, 20)\nLinear(\xff, 2)\nLinear(1, 1)\n"
    (tmp_path / "latin.txt").write_bytes(data)
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(data), encoding="utf-8"))
    code, out, err = run(capsys, "--batch", str(tmp_path / "latin.txt") if source == "file" else "-")
    first, second, third = (json.loads(line) for line in out.splitlines())
    assert (code, err, first["total"], third["total"]) == (2, "", 220, 2)  # 20·10 + 20; 1·1 + 1
    assert second == {
        "query": "Linear(\ufffd, 2)",
        "error": {
            "type": "ExpressionError",
            "message": "column 8: invalid syntax: invalid character '\ufffd' (U+FFFD)",
            "column": 8,
        },
    }


def test_a_file_and_class_answer_echoes_the_query_as_given(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """`query` is the text given, as for every other line, so a batch's answers match their lines (it was the
    class's name alone: "Scaled")."""
    pytest.importorskip("torch")
    query = str(Path(__file__).parent / "data" / "live_model.py") + ":Scaled"
    monkeypatch.setattr("sys.stdin", io.StringIO(f"{query}\nLinear(3, 4)\n"))
    code, out, _ = run(capsys, "--batch", "-", "--args", "8")
    assert [json.loads(line)["query"] for line in out.splitlines()] == [query, "Linear(3, 4)"]
    assert json.loads(out.splitlines()[0])["total"] == 80  # Linear(8, 8): 8·8 + 8, and the gain's 8
    code, out, _ = run(capsys, "--json", query, "--args", "8")
    assert (code, json.loads(out)["query"]) == (0, query)
