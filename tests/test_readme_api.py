"""The README's Python API examples run and print what their comments say, and its JSON schema tables name
every key the real output has, with its type, and no key it never has.

The examples are our own documentation, run with ``exec`` as a doctest would; nothing here runs user input.
"""

from __future__ import annotations

import contextlib
import io
import json
import re
from pathlib import Path
from typing import Any

import pytest

from paramcount.cli import main

README = Path(__file__).parents[1] / "README.md"
PRINT_WITH_RESULT = re.compile(r"^print\(.*\)\s+# (.*)$")
"""An example line that prints one line, with that line as its comment."""


def _section(title: str) -> tuple[str, int]:
    """The text of the README section whose heading starts with ``## title``, and its first line number."""
    text = README.read_text(encoding="utf-8")
    start = text.index(f"\n## {title}") + 1
    end = text.find("\n## ", start)
    return text[start : end if end != -1 else len(text)], text.count("\n", 0, start) + 1


# ---- the Python API examples


def _examples() -> list[Any]:
    section, first_line = _section("Python API")
    return [
        pytest.param(match.group(1), id=f"README.md:{first_line + section.count(chr(10), 0, match.start(1))}")
        for match in re.finditer(r"```python\n(.*?)```", section, re.DOTALL)
    ]


def test_the_python_api_section_has_examples() -> None:
    assert len(_examples()) >= 4


@pytest.mark.parametrize("code", _examples())
def test_python_example_prints_what_it_says(code: str, request: pytest.FixtureRequest) -> None:
    expected = [found.group(1) for found in map(PRINT_WITH_RESULT.match, code.splitlines()) if found]
    assert expected, "an example shows its results as comments on its print() lines"
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        exec(compile(code, request.node.callspec.id, "exec"), {"__name__": "readme_example"})  # noqa: S102
    assert printed.getvalue().splitlines() == expected


# ---- the JSON schema tables

ROW = re.compile(r"^\| (`[^|]+`) \| ([^|]+) \|", re.MULTILINE)


def _expand(path: str) -> list[str]:
    """``a.{b, c}[].d`` → ``a.b[].d``, ``a.c[].d`` (the README's shorthand for sibling keys)."""
    found = re.search(r"\{([^{}]+)\}", path)
    if found is None:
        return [path]
    return [
        expanded
        for key in found.group(1).split(", ")
        for expanded in _expand(path[: found.start()] + key + path[found.end() :])
    ]


def _documented(table: str) -> dict[str, set[str]]:
    """Each documented path and its types (``int or null`` → ``{"int", "null"}``)."""
    documented: dict[str, set[str]] = {}
    for keys, kind in ROW.findall(table):
        for key in re.findall(r"`([^`]+)`", keys):
            for path in _expand(key):
                assert path not in documented, f"{path} is documented twice"
                documented[path] = set(kind.strip().split(" or "))
    return documented


def _tables() -> tuple[dict[str, set[str]], dict[str, set[str]]]:
    section, _ = _section("JSON schema")
    report, errors = section.split("\nErrors ")
    return _documented(report), _documented(errors)


def _type(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, dict):
        return "object"
    if isinstance(value, list):
        kinds = {_type(item) for item in value}
        assert len(kinds) <= 1, f"a list mixes {kinds}"
        return f"list of {kinds.pop()}" if kinds else "list"
    return type(value).__name__  # bool, int, str (bool before int: its own name)


def _observe(value: object, path: str, seen: dict[str, set[str]]) -> None:
    """Every key path in ``value`` (an object) with the types it was seen with."""
    objects = [value] if isinstance(value, dict) else value if isinstance(value, list) else []
    for found in objects:
        if isinstance(found, dict):
            for key, item in found.items():
                inner = f"{path}.{key}" if path else key
                seen.setdefault(inner, set()).add(_type(item))
                _observe(item, f"{inner}[]" if isinstance(item, list) else inner, seen)


def _allowed(kind: str, documented: set[str]) -> bool:
    """An empty list has no element type: any documented list type allows it."""
    return kind in documented or (kind == "list" and any(k.startswith("list of") for k in documented))


def _compare(documented: dict[str, set[str]], seen: dict[str, set[str]]) -> None:
    free = [path.removesuffix(".*") for path in documented if path.endswith(".*")]  # an object with its own keys
    covered = {path for path in seen if any(path.startswith(f"{prefix}.") for prefix in free)}
    seen = {path: kinds for path, kinds in seen.items() if path not in covered}
    assert [prefix for prefix in free if not any(path.startswith(f"{prefix}.") for path in covered)] == []
    documented = {path: kinds for path, kinds in documented.items() if not path.endswith(".*")}
    assert sorted(set(seen) - set(documented)) == [], "keys in the output that the README does not document"
    assert sorted(set(documented) - set(seen)) == [], "documented keys that no output has"
    wrong = {
        path: (kinds, documented[path])
        for path, kinds in seen.items()
        if not all(_allowed(kind, documented[path]) for kind in kinds)
    }
    assert wrong == {}, "keys whose type is not the documented one: path: (seen, documented)"


SCHEMA_QUERIES = [
    ["Conv2d(256, 512, 3)"],  # a layer: appears_in, variants, related
    ["nn.Sequential(nn.Linear(64, 64), nn.BatchNorm1d(64))"],  # a container with buffers
    ["nn.Sequential(*[nn.Linear(64, 64)] * 4)"],  # one module reused: tied
    ["resnet50"],  # a zoo model
    ["mistralai/Mixtral-8x7B-v0.1"],  # a config: facts, a default inference plan, active parameters
    [  # a plan with a fit and FLOPs per step
        "meta-llama/Llama-3.1-8B",
        *("--optimizer", "adamw", "--mixed-precision", "bf16", "--seq-len", "2048"),
        *("--gpus", "8", "--zero", "3", "--gpu", "H100-80GB"),
    ],
    # an inference plan with a latent KV cache, its expanded form, and what fits on a GPU
    ["deepseek-ai/DeepSeek-V3", "--seq-len", "1024", "--quantization", "Q4_K_M", "--gpu", "H100-80GB"],
    # a hybrid's cache: keys and values beside state-space layers' conv and SSM states
    ["tiiuae/Falcon-H1-0.5B-Base", "--seq-len", "1024", "--gpu", "H100-80GB"],
    ["Conv2d(3, 64, 3)", "--input", "1,3,32,32"],  # shapes with their arithmetic
    ["resnet18", "--input", "1,3,224,224"],  # whole-model shapes and FLOPs
    ["resnet18", "--input", "2,3,64,64", "--optimizer", "sgd"],  # activations per operation from the shapes
    ["gpt2", "--via-transformers"],  # counted by transformers
    # a user's own class, measured on meta: activations and a module with raw shapes
    [str(Path(__file__).parent / "data" / "live_model.py") + ":Scaled", "--args", "8", "--input", "2,8"],
]


def _json_output(arguments: list[str]) -> object:
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        assert main(["--json", *arguments]) == 0
    return json.loads(printed.getvalue())


def _checkpoints(folder: Path) -> list[list[str]]:
    """Checkpoint files for the schema: a PyTorch checkpoint with an optimizer's state and another entry; a
    folder whose config.json and weights differ (missing, extra, shape); one whose architecture has no formulas."""
    import torch
    from safetensors.torch import save_file

    model = torch.nn.Linear(3, 2)
    optimizer = torch.optim.Adam(model.parameters())
    model(torch.ones(1, 3)).sum().backward()
    optimizer.step()
    path = folder / "checkpoint.pth"
    torch.save({"model": model.state_dict(), "optimizer": optimizer.state_dict(), "ema": {"w": torch.ones(2)}}, path)
    config = {"model_type": "llama", "hidden_size": 8, "intermediate_size": 16, "num_hidden_layers": 1}
    config |= {"num_attention_heads": 2, "vocab_size": 10, "tie_word_embeddings": True}
    tensors = {"model.embed_tokens.weight": torch.zeros(10, 8), "model.norm.weight": torch.zeros(4)}
    tensors["extra.weight"] = torch.zeros(2)
    for name, files in (("differs", tensors), ("unknown", {"w": torch.zeros(2)})):
        (folder / name).mkdir()
        save_file(files, str(folder / name / "model.safetensors"))
        (folder / name / "config.json").write_text(json.dumps(config))
    (folder / "unknown" / "config.json").write_text(json.dumps({"model_type": "brand_new_arch"}))
    return [[str(path)], [str(folder / "differs")], [str(folder / "unknown")]]


def _hub_snapshots(folder: Path, monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    """Hub ids in a Hugging Face cache whose weights are compared with their config: the ``differs`` folder's
    files, and a malformed safetensors file (``facts.weights``: not compared)."""
    monkeypatch.setenv("HF_HUB_CACHE", str(folder / "hub"))
    for name, weights in (("differs", (folder / "differs" / "model.safetensors").read_bytes()), ("broken", b"{}")):
        snapshot = folder / "hub" / f"models--someone--{name}" / "snapshots" / "0"
        snapshot.mkdir(parents=True)
        (snapshot.parents[1] / "refs").mkdir()
        (snapshot.parents[1] / "refs" / "main").write_text("0")
        (snapshot / "config.json").write_bytes((folder / "differs" / "config.json").read_bytes())
        (snapshot / "model.safetensors").write_bytes(weights)
    return [["someone/differs"], ["someone/broken"]]


def test_the_json_schema_is_the_output(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("transformers")  # for --via-transformers
    seen: dict[str, set[str]] = {}
    for arguments in SCHEMA_QUERIES + _checkpoints(tmp_path) + _hub_snapshots(tmp_path, monkeypatch):
        _observe(_json_output(arguments), "", seen)
    _compare(_tables()[0], seen)


def test_the_error_schema_is_the_web_apis() -> None:
    from fastapi.testclient import TestClient

    from paramcount.web.app import create_app

    client = TestClient(create_app())
    seen: dict[str, set[str]] = {}
    located = client.get("/api/count", params={"q": "nn.Linear(3, 4).__class__"})
    assert located.json()["error"]["column"] == 17
    for response in (located, client.get("/api/count", params={"q": "resnet50(num_classes=0.5)"})):
        assert response.status_code == 400
        _observe(response.json(), "", seen)
    _observe(client.get("/api/nothing").json(), "", seen)
    _compare(_tables()[1], seen)


def test_the_schema_check_fails_on_a_gap() -> None:
    documented = {"total": {"int"}, "facts": {"object"}, "facts.zoo": {"str"}}
    seen: dict[str, set[str]] = {}
    _observe({"total": 3, "facts": {"zoo": "resnet50"}}, "", seen)
    _compare(documented, seen)
    for output in ({"total": 3, "facts": {"zoo": "x", "new": 1}}, {"total": 3, "facts": {}}, {"total": "3"}):
        gap: dict[str, set[str]] = {}
        _observe(output, "", gap)
        with pytest.raises(AssertionError):
            _compare(documented, gap)
