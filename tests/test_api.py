"""The public API and the invariants every report must satisfy (torchinfo's best idea, kept)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import paramcount
from paramcount.dtypes import BITS, bytes_for
from paramcount.errors import ArgumentError
from paramcount.limits import MAX_EXPRESSION_CHARS
from paramcount.render.json import report_dict
from paramcount.report import SECTIONS

EXPRESSIONS = [
    "Conv2d(256, 512, 3)",
    "nn.LSTM(512, 1024, num_layers=2, bidirectional=True)",
    "torch.nn.MultiheadAttention(768, 12, kdim=512)",
    "nn.Sequential(nn.Conv2d(3, 16, 3), nn.BatchNorm2d(16), nn.ReLU(), nn.Flatten(), nn.Linear(14400, 10))",
    "nn.TransformerEncoder(nn.TransformerEncoderLayer(64, 4, 128), num_layers=3)",
    "nn.Sequential(*[nn.Linear(64, 64)] * 4)",
    "nn.Linear(64, 64, dtype=torch.bfloat16)",
    "nn.Embedding(10**9, 4096)",
]


@pytest.mark.parametrize("expression", EXPRESSIONS)
def test_report_invariants(expression: str) -> None:
    report = paramcount.count(expression).report()
    counts = report.counts
    assert counts.trainable + counts.non_trainable == counts.total
    assert sum(row.count for row in counts.parameters) == counts.total
    assert sum(row.count for row in counts.buffer_tensors) == counts.buffers
    assert report.explanation is not None
    assert report.explanation.total == counts.total
    assert report.modules[0].total == counts.total
    assert report.stored_parameter_bytes == sum(bytes_for(row.count, BITS[row.dtype]) for row in counts.parameters)
    for memory in report.parameter_memory:
        assert memory.bytes == bytes_for(counts.total, memory.bits)
    for plan in report.training:
        assert plan.bytes == sum(item.bytes for item in plan.items)
    data = report_dict(report)
    assert data["total"] == counts.total
    assert sum(p["count"] for p in data["parameters"]) == data["total"]


def test_count_result_fields() -> None:
    # Conv2d(256, 512, 3): weight 512·256·3·3 = 1,179,648 plus bias 512 (DESIGN.md, facts to get right).
    result = paramcount.count("Conv2d(256, 512, 3)")
    assert (result.total, result.trainable, result.non_trainable, result.buffers) == (
        1_180_160,
        1_180_160,
        0,
        0,
    )


def test_public_names_are_pinned() -> None:
    assert set(paramcount.__all__) == {
        "ArgumentError",
        "CheckpointError",
        "ConfigError",
        "ExpressionError",
        "LimitError",
        "ParamcountError",
        "PlanOptions",
        "QueryError",
        "Report",
        "Result",
        "ShapeError",
        "UnknownNameError",
        "__version__",
        "count",
        "from_config",
        "from_config_text",
        "from_file",
        "from_module",
        "parse",
        "summary",
    }


def test_every_public_name_resolves() -> None:
    # paramcount and its planner load their names on first use (PEP 562): each listed name must load.
    import paramcount.analysis.planner as planner

    for package in (paramcount, planner):
        missing = [name for name in package.__all__ if getattr(package, name, None) is None]
        assert missing == [], package.__name__
    with pytest.raises(AttributeError, match="has no attribute 'nosuch'"):
        _ = paramcount.nosuch  # type: ignore[attr-defined]


def test_errors_are_value_errors_with_one_line_messages() -> None:
    with pytest.raises(paramcount.ParamcountError) as info:
        paramcount.count("Conv2d(10, 20, 3, groups=3)")
    assert isinstance(info.value, ValueError)
    assert "\n" not in str(info.value)


def test_paths_false_never_reads_the_filesystem(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / "resnet50").mkdir()
    (tmp_path / "resnet50" / "config.json").write_text('{"model_type": "gpt2", "n_embd": "wide"}')
    monkeypatch.chdir(tmp_path)
    # torchvision ResNet50_Weights.IMAGENET1K_V1: 25,557,032 parameters.
    assert paramcount.count("resnet50", paths=False).total == 25_557_032
    with pytest.raises(paramcount.ConfigError):  # the CLI's door reads the folder's (invalid) config
        paramcount.count("resnet50")


def test_an_empty_query_is_an_expression_error_not_the_current_folder(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    (tmp_path / "config.json").write_text('{"model_type": "gpt2"}')
    monkeypatch.chdir(tmp_path)
    with pytest.raises(paramcount.ExpressionError):
        paramcount.count("")


def test_from_config_names_a_hub_id_it_does_not_read(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """from_config reads shipped hub ids and files only: another hub id is said to be one (it was 'cannot be read
    (No such file or directory)'), with count() named as the door that reads the cache and the hub."""
    monkeypatch.chdir(tmp_path)
    with pytest.raises(paramcount.UnknownNameError) as info:
        paramcount.from_config("Qwen/Qwen2.5-Coder-7B-Instruct")
    assert str(info.value) == (
        "Qwen/Qwen2.5-Coder-7B-Instruct: not a shipped hub id nor a file or folder; count() reads other hub ids "
        "from the local cache or the hub; did you mean 'Qwen/Qwen2.5-VL-7B-Instruct' or 'Qwen/Qwen2-VL-7B-Instruct'?"
    )


def test_count_refuses_file_and_class_saying_why(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """The command line's FILE.py:CLASS runs the user's file; count() does not (it was 'column 7: invalid syntax')."""
    (tmp_path / "net.py").write_text("raise SystemExit('imported')\n")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(paramcount.ArgumentError) as info:
        paramcount.count("net.py:Net")
    assert str(info.value) == (
        "net.py:Net: count() never imports your code: build the module and pass it to paramcount.summary()"
    )


def test_shipped_hub_ids_are_listed_once() -> None:
    from paramcount.sources.hf.hub import shipped_hub_ids

    ids = shipped_hub_ids()
    assert len(ids) == len(set(ids))
    assert "meta-llama/Llama-3.1-8B" in ids


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "nn.Linear(2**64, 2)",
            {"type": "LimitError", "message": "column 11: integer 2**64 exceeds the limit of 63 bits", "column": 11},
        ),
        (
            "nn.Conv2D(1, 2, 3)",
            {
                "type": "UnknownNameError",
                "message": "column 4: unknown layer 'Conv2D'; did you mean 'Conv2d', 'Conv3d' or 'Conv1d'?",
                "column": 4,
            },
        ),
        (
            "Linear(1, -2)",
            {"type": "ArgumentError", "message": "Linear: out_features must be non-negative, got -2", "column": None},
        ),
    ],
)
def test_every_error_has_one_dictionary_shape(text: str, expected: dict[str, object]) -> None:
    with pytest.raises(paramcount.ParamcountError) as info:
        paramcount.count(text)
    assert info.value.to_dict() == expected


def test_the_length_cap_applies_before_a_hub_id_is_looked_up() -> None:
    text = " " * MAX_EXPRESSION_CHARS + "gpt2"
    with pytest.raises(paramcount.LimitError, match=re.escape("expression is 10,004 characters; the limit is 10,000")):
        paramcount.count(text)
    assert paramcount.count(" gpt2 ").total == paramcount.count("gpt2").total


def test_report_computes_only_the_sections_asked_for() -> None:
    result = paramcount.count("Conv2d(256, 512, 3)")
    whole = result.report()
    assert whole.sections == SECTIONS
    assert whole.training
    assert whole.variants
    assert whole.related
    assert whole.appears_in
    bare = result.report(sections=())
    assert (bare.training, bare.variants, bare.related, bare.appears_in) == ((), (), (), ())
    assert (bare.explanation, bare.reading, bare.modules, bare.blocks, bare.program) == (None, None, (), (), None)
    assert bare.sections == ()
    data = bare.to_dict()
    assert {"explanation", "modules", "blocks", "code", "variants", "related", "appears_in"}.isdisjoint(data)
    assert "training" not in data["memory"]
    assert "How it adds up" in str(whole)
    assert "How it adds up" not in str(bare)
    assert f"{whole.counts.total:,}" in str(bare)
    shown = result.report(sections=("explanation", "modules", "code")).to_dict()
    assert shown == {key: value for key, value in whole.to_dict().items() if key in shown} | {"memory": data["memory"]}
    assert {"explanation", "modules", "blocks", "code"} <= set(shown)
    assert data == {key: value for key, value in whole.to_dict().items() if key in data} | {"memory": data["memory"]}
    some = result.report(sections=("related", "training"))
    assert some.sections == ("training", "related")  # in SECTIONS' order
    assert some.related == whole.related
    assert some.training == whole.training
    assert some.variants == ()
    with pytest.raises(ArgumentError, match="sections: unknown section 'trainig'; known: explanation, modules, "):
        result.report(sections=("trainig",))


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        # each was an error from inside: AttributeError: 'dict' object has no attribute 'seq_len'
        (
            {"plan": {"optimizer": "adamw"}},
            "plan: must be a paramcount.PlanOptions, got dict {'optimizer': 'adamw'}; "
            "build one: paramcount.PlanOptions(optimizer='adamw', seq_len=2048)",
        ),
        (
            {"plan": "adamw"},
            "plan: must be a paramcount.PlanOptions, got str 'adamw'; "
            "build one: paramcount.PlanOptions(optimizer='adamw', seq_len=2048)",
        ),
        # TypeError: 'int' object is not iterable; a string was read as its characters: got ('1', ',', '4')
        ({"input_shape": 4}, "input shape must be a tuple of integers, got 4"),
        ({"input_shape": "1,4"}, "input shape must be a tuple of integers, got '1,4'"),
        # TypeError: 'NoneType' object is not iterable; a string was read as its letters: unknown section 'c'
        ({"sections": None}, "sections: must be a collection of section names, got None"),
        ({"sections": "code"}, "sections: must be a collection of section names, got 'code'; for one, write ('code',)"),
    ],
)
def test_report_refuses_arguments_of_another_type_in_one_line(arguments: dict[str, object], message: str) -> None:
    with pytest.raises(paramcount.ParamcountError) as raised:
        paramcount.count("Linear(4, 2)").report(**arguments)  # type: ignore[arg-type]
    assert str(raised.value) == message


@pytest.mark.parametrize(
    ("function", "arguments", "keywords", "message"),
    [
        # each was a TypeError or an AttributeError from inside (argument of type 'int' is not iterable,
        # 'int' object has no attribute 'lower', expected str, bytes or os.PathLike object, not NoneType)
        ("count", (5,), {}, "text: must be a string, got int 5"),
        ("count", (b"Linear(3, 4)",), {}, "text: must be a string, got bytes b'Linear(3, 4)'"),
        ("parse", (None,), {}, "text: must be a string, got NoneType None"),
        ("from_config", (None,), {}, "source: must be a string or a path, got NoneType None"),
        ("from_file", (3,), {}, "path: must be a string or a path, got int 3"),
        (
            "from_config_text",
            ({"model_type": "gpt2"},),
            {},
            "text: must be a string or bytes, got dict {'model_type': 'gpt2'}",
        ),
        (
            "count",
            ("meta-llama/Llama-3.1-8B",),
            {"architecture": 5},
            "architecture: must be a class name (a string), got int 5",
        ),
        (
            "from_config",
            ("gpt2",),
            {"architecture": ["GPT2Model"]},
            "architecture: must be a class name (a string), got list ['GPT2Model']",
        ),
        (
            "from_config_text",
            ('{"model_type": "gpt2"}',),
            {"architecture": 1},
            "architecture: must be a class name (a string), got int 1",
        ),
    ],
)
def test_entry_points_refuse_arguments_of_another_type_in_one_line(
    function: str, arguments: tuple[object, ...], keywords: dict[str, object], message: str
) -> None:
    with pytest.raises(ArgumentError) as raised:
        getattr(paramcount, function)(*arguments, **keywords)
    assert str(raised.value) == message


def test_count_of_a_module_names_the_door_for_modules() -> None:
    torch = pytest.importorskip("torch")
    with torch.device("meta"), pytest.raises(ArgumentError) as raised:
        paramcount.count(torch.nn.Linear(3, 4))
    message = "text: must be a string, got Linear Linear(in_features=3, out_features=4,...; "
    assert str(raised.value) == message + "for a torch.nn.Module, call paramcount.from_module() or paramcount.summary()"


@pytest.mark.parametrize(
    ("query", "shape", "batch", "seq_len"),
    [
        ("gpt2", (2, 16), 2, 16),  # (batch, sequence)
        ("t5-small", (2, 24, 7), 2, 7),  # (batch, source, target): the decoder's tokens are the target's
        ("t5-small", (3, 9), 3, 9),  # (batch, source): the decoder as long as the source
    ],
)
def test_token_ids_as_input_plan_as_seq_len_and_batch_do(
    query: str, shape: tuple[int, ...], batch: int, seq_len: int
) -> None:
    # The README: `--input 2,2048` is (batch, sequence), "or give --seq-len 2048 --batch-size 2". The memory plan
    # read neither from the input: no KV cache at inference, and in training the crude "outputs of N layers"
    # estimate instead of the tensors autograd saves, beside shapes of the same tokens.
    result = paramcount.count(query)
    for optimizer in (None, "adamw"):
        plan = None if optimizer is None else paramcount.PlanOptions(optimizer=optimizer)
        given = paramcount.PlanOptions(optimizer=optimizer, seq_len=seq_len, batch=batch)
        from_input = result.report(plan, shape, sections=())
        assert from_input.to_dict() == result.report(given, shape, sections=()).to_dict()
        assert from_input.plan is not None
        assert (from_input.plan.options.batch, from_input.plan.options.seq_len) == (batch, seq_len)


def test_gpt2_kv_cache_of_token_ids_given_as_input() -> None:
    # 12 layers · keys and values · batch 2 · 16 tokens · 12 kv heads · head_dim 64 · 4 bytes (float32), as
    # transformers' DynamicCache keeps them (test_kv_cache measures the same formula against it)
    plan = paramcount.count("gpt2").report(None, (2, 16), sections=()).plan
    assert plan is not None
    assert plan.kv_cache is not None
    assert plan.kv_cache.bytes == 12 * 2 * 2 * 16 * 12 * 64 * 4


@pytest.mark.parametrize(
    ("seq_len", "batch", "message"),
    [
        (32, 1, "seq_len: is 32, but the input (2, 16) has sequences of 16 tokens; give one of them"),
        (16, 4, "batch: is 4, but the input (2, 16) has a batch of 2 sequences; give one of them"),
    ],
)
def test_a_seq_len_or_batch_other_than_the_inputs_is_refused(seq_len: int, batch: int, message: str) -> None:
    # the shapes would follow the input and the KV cache the options: one report, two token counts
    options = paramcount.PlanOptions(seq_len=seq_len, batch=batch)
    with pytest.raises(ArgumentError) as caught:
        paramcount.count("gpt2").report(options, (2, 16), sections=())
    assert str(caught.value) == message
