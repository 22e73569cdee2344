"""The memory planner and shapes through the web: /api/memory, /api/flops, the planner page, memory and
output-size answer pages and their slugs. The numbers are the library's; these tests check the wiring."""

from __future__ import annotations

import re
from collections.abc import Callable
from html import unescape

import pytest
from fastapi.testclient import TestClient
from hypothesis import given, reject
from hypothesis import strategies as st

import paramcount
from paramcount.analysis.planner import ACCELERATORS, OPTIMIZERS, PlanOptions
from paramcount.render.json import report_dict
from paramcount.render.units import binary_size, decimal_size
from paramcount.web.curated import MEMORY_PLANS, curated
from paramcount.web.slugs import hub_slug
from paramcount.web.targets import memory_slug, output_slug, target_for

Text = Callable[[str, str], str]
LLAMA = "meta-llama/Llama-3.1-8B"
TRAINING = PlanOptions(optimizer="adamw", mixed_precision="bf16", seq_len=2048, gpu="H100-80GB")
TRAINING_SLUG = "memory-meta-llama-llama-3.1-8b-with-optimizer-adamw-mixed-precision-bf16-seq-len-2048-gpu-h100-80gb"
OUTPUT_SLUG = "output-conv2d-3-64-kernel-3-input-1x3x256x256"


def test_memory_api_is_the_report_with_a_plan(client: TestClient) -> None:
    fields: dict[str, str | int] = {
        "q": LLAMA,
        "optimizer": "adamw",
        "mixed_precision": "bf16",
        "seq_len": 2048,
        "gpu": "H100-80GB",
    }
    expected = report_dict(paramcount.count(LLAMA).report(TRAINING, sections=()))
    assert client.get("/api/memory", params=fields).json() == expected
    assert client.post("/api/memory", json=fields).json() == expected
    assert expected["memory"]["plan"] is not None


def test_memory_api_defaults_to_inference(client: TestClient) -> None:
    response = client.get("/api/memory", params={"q": "Linear(4096, 4096)"})
    assert response.json() == report_dict(paramcount.count("Linear(4096, 4096)").report(PlanOptions(), sections=()))


@pytest.mark.parametrize(
    ("fields", "error_type", "message"),
    [
        (
            {"optimizer": "adamx"},
            "UnknownNameError",
            "optimizer: unknown optimizer 'adamx'; did you mean 'adamax', 'adam' or 'radam'?",
        ),
        ({"seq_len": -1}, "ArgumentError", "seq_len: must be a positive integer, got -1"),
        ({"zero": 5}, "ArgumentError", "zero: must be 0, 1, 2 or 3 (FSDP full sharding is 3), got 5"),
    ],
)
def test_memory_api_rejects_bad_options(
    client: TestClient, fields: dict[str, str | int], error_type: str, message: str
) -> None:
    response = client.get("/api/memory", params={"q": LLAMA, **fields})
    assert response.status_code == 400
    assert response.json() == {"query": LLAMA, "error": {"type": error_type, "message": message, "column": None}}


def test_memory_api_validates_types(client: TestClient) -> None:
    assert client.get("/api/memory", params={"q": LLAMA, "zero": "three"}).status_code == 422
    assert client.post("/api/memory", json={"q": LLAMA, "zero": False}).status_code == 422


def test_flops_api(client: TestClient) -> None:
    response = client.get("/api/flops", params={"q": "Conv2d(3, 64, 3)", "input": "1,3,256,256"})
    conv = paramcount.count("Conv2d(3, 64, 3)")
    assert response.json() == report_dict(conv.report(None, (1, 3, 256, 256), sections=()))
    tokens = client.post("/api/flops", json={"q": "gpt2", "seq_len": 1024, "batch": 8}).json()
    assert tokens == report_dict(paramcount.count("gpt2").report(PlanOptions(seq_len=1024, batch=8), sections=()))


def test_flops_api_says_why_a_model_that_reads_no_tokens_has_no_token_estimate(client: TestClient) -> None:
    """resnet50 reads images: seq_len is no D for 2·N·D, so compute is empty and the notes say why."""
    answer = client.get("/api/flops", params={"q": "resnet50", "seq_len": "10"}).json()
    assert answer == report_dict(paramcount.count("resnet50").report(PlanOptions(seq_len=10), sections=()))
    assert answer["compute"] == []
    assert answer["notes"][0].startswith("no token estimate: ResNet reads an image")


@pytest.mark.parametrize(
    ("fields", "error_type", "message"),
    [
        ({}, "QueryError", "flops: give input (a shape such as 1,3,224,224) or seq_len (tokens per sequence)"),
        (
            {"input": "1,3,a"},
            "ShapeError",
            "input shape size 3 is 'a'; sizes are non-negative integers separated by commas, e.g. 1,3,224,224",
        ),
    ],
)
def test_flops_api_errors(client: TestClient, fields: dict[str, str], error_type: str, message: str) -> None:
    response = client.get("/api/flops", params={"q": "Conv2d(3, 64, 3)", **fields})
    assert response.status_code == 400
    assert response.json()["error"] == {"type": error_type, "message": message, "column": None}


def test_memory_answer_page(client: TestClient, element_text: Text) -> None:
    report = paramcount.count(LLAMA).report(TRAINING)
    assert report.plan is not None
    page = client.get(f"/answers/{TRAINING_SLUG}")
    assert page.status_code == 200
    text = page.text
    assert element_text(text, "question") == (
        "How much memory does meta-llama/Llama-3.1-8B need to train with AdamW in bf16 mixed precision, "
        "sequence length 2,048?"
    )
    assert element_text(text, "memory-total-bytes") == f"{report.plan.total_bytes:,} bytes"
    assert element_text(text, "memory-total-decimal") == decimal_size(report.plan.total_bytes)
    assert element_text(text, "memory-total-binary") == binary_size(report.plan.total_bytes)
    assert 'id="memory-chart"' in text
    assert 'id="section-plan"' in text
    assert 'href="/planner?q=meta-llama%2FLlama-3.1-8B&amp;optimizer=adamw' in text
    twin = client.get(f"/answers/{TRAINING_SLUG}.json").json()
    assert twin == report_dict(report)


def test_memory_slug_of_a_non_canonical_spelling_redirects(client: TestClient) -> None:
    slug = "memory-meta-llama-llama-3.1-8b-with-seq-len-2048-optimizer-adamw-mixed-precision-bf16-gpu-h100-80gb"
    response = client.get(f"/answers/{slug}", follow_redirects=False)
    assert (response.status_code, response.headers["location"]) == (301, f"/answers/{TRAINING_SLUG}")


@pytest.mark.parametrize(
    "slug",
    [
        "memory-meta-llama-llama-3.1-8b-with-optimizer-adamx",
        "memory-meta-llama-llama-3.1-8b-with-seq-len",
        "memory-meta-llama-llama-3.1-8b-with-zero-7",
        "memory-no-such-model",
        "output-conv2d-3-64-kernel-3-input-1xAx2",
        "output-conv2d-3-64-kernel-3",
    ],
)
def test_bad_memory_and_output_slugs_are_404(client: TestClient, slug: str) -> None:
    assert client.get(f"/answers/{slug}").status_code == 404
    assert client.get(f"/answers/{slug}.json").status_code == 404


def test_output_answer_page(client: TestClient, element_text: Text) -> None:
    text = client.get(f"/answers/{OUTPUT_SLUG}").text
    assert element_text(text, "question") == "What does Conv2d(3, 64, 3) output for a 1×3×256×256 input?"
    # H_out = floor((256 + 2·0 − 1·(3 − 1) − 1)/1) + 1 = 254, and the same for W.
    assert element_text(text, "output-shape") == "(1, 64, 254, 254)"
    # one multiply-accumulate per output element per kernel weight: 1·64·254·254 · 3·3·3
    assert element_text(text, "macs") == f"{64 * 254 * 254 * 27:,}"
    assert element_text(text, "flops") == f"{2 * 64 * 254 * 254 * 27:,}"
    assert 'id="section-shapes"' in text


def test_planner_page(client: TestClient, element_text: Text) -> None:
    empty = client.get("/planner")
    assert empty.status_code == 200
    assert '<form id="planner"' in empty.text
    assert '<option value="adamw">' in empty.text
    fields = {"q": LLAMA, "optimizer": "adamw", "mixed_precision": "bf16", "seq_len": "2048", "gpu": "H100-80GB"}
    page = client.get("/planner", params={**fields, "lora_rank": "", "dtype": ""})  # blank fields: not given
    assert page.status_code == 200
    report = paramcount.count(LLAMA).report(TRAINING)
    assert report.plan is not None
    assert element_text(page.text, "memory-total-bytes") == f"{report.plan.total_bytes:,} bytes"
    assert '<option value="adamw" selected>' in page.text
    assert f'href="/answers/{TRAINING_SLUG}"' in page.text


def test_planner_form_holds_the_lora_targets(client: TestClient, element_text: Text) -> None:
    """Every option of /api/memory is a field of the form, so a planner address shows all it plans for and the
    form (or its script) sends it on: the LoRA targets are text (module names, or all-linear)."""
    empty = client.get("/planner").text
    assert '<input id="lora_targets" name="lora_targets" type="text"' in empty
    assert 'placeholder="peft&#39;s default" value="">' in empty
    fields = {"q": LLAMA, "optimizer": "adamw", "lora_rank": "16", "lora_targets": "all-linear", "seq_len": "2048"}
    page = client.get("/planner", params=fields).text
    assert 'placeholder="peft&#39;s default" value="all-linear">' in page
    options = PlanOptions(optimizer="adamw", lora_rank=16, lora_targets="all-linear", seq_len=2048)
    plan = paramcount.count(LLAMA).report(options).plan
    assert plan is not None
    assert element_text(page, "memory-total-bytes") == f"{plan.total_bytes:,} bytes"


def test_planner_page_shows_option_errors_inline(client: TestClient, element_text: Text) -> None:
    page = client.get("/planner", params={"q": LLAMA, "seq_len": "many"})
    assert page.status_code == 400
    assert element_text(page.text, "error-message") == "seq_len: must be an integer, got 'many'"


def test_memory_fragment(client: TestClient, element_text: Text) -> None:
    fragment = client.get("/fragments/answer", params={"q": "Linear(4096, 4096)", "view": "memory", "optimizer": "sgd"})
    report = paramcount.count("Linear(4096, 4096)").report(PlanOptions(optimizer="sgd"))
    assert report.plan is not None
    assert element_text(fragment.text, "memory-total-bytes") == f"{report.plan.total_bytes:,} bytes"
    assert 'href="/api/memory?q=Linear%284096%2C+4096%29&amp;optimizer=sgd"' in fragment.text


def test_output_fragment_needs_an_input_as_its_json_does(client: TestClient, element_text: Text) -> None:
    """The output view asks /api/flops's question: without an input shape or a sequence length it is /api/flops's
    error, inline (it answered "was given no input shape" with a JSON link to that 400)."""
    message = "flops: give input (a shape such as 1,3,224,224) or seq_len (tokens per sequence)"
    bare = client.get("/fragments/answer", params={"q": "gpt2", "view": "output"})
    assert bare.status_code == 200
    assert element_text(bare.text, "error-message") == message
    assert client.get("/api/flops", params={"q": "gpt2"}).json()["error"]["message"] == message
    shaped = client.get("/fragments/answer", params={"q": "Conv2d(3, 64, 3)", "view": "output", "input": "1,3,8,8"})
    assert element_text(shaped.text, "output-shape") == "(1, 64, 6, 6)"  # 8 − 3 + 1 = 6
    json_url = re.search(r'id="json-link" href="([^"]+)"', shaped.text)
    assert json_url is not None
    assert client.get(unescape(json_url[1])).status_code == 200


def test_curated_memory_and_output_pages_exist(client: TestClient) -> None:
    questions = [question for question in curated() if question.group in ("memory", "output")]
    assert len([q for q in questions if q.group == "memory"]) == 6 * len(MEMORY_PLANS)
    for question in questions[:: max(1, len(questions) // 8)]:
        assert client.get(f"/answers/{question.slug}").status_code == 200, question.slug


@given(
    optimizer=st.none() | st.sampled_from([spec.name for spec in OPTIMIZERS]),
    mixed_precision=st.none() | st.sampled_from(["bf16", "fp16"]),
    lora_rank=st.none() | st.integers(min_value=1, max_value=512),
    quantization=st.none() | st.sampled_from(["nf4", "gptq-g128", "Q4_K_M", "llm.int8", "int8"]),
    gradient_checkpointing=st.booleans(),
    zero=st.sampled_from([0, 1, 2, 3]),
    tp=st.sampled_from([1, 2, 8]),
    gpus=st.none() | st.sampled_from([8, 16, 64]),
    seq_len=st.none() | st.integers(min_value=1, max_value=2**17),
    batch=st.integers(min_value=1, max_value=64),
    gpu=st.none() | st.sampled_from([device.name for device in ACCELERATORS]),
)
def test_memory_slug_round_trip(**fields: object) -> None:
    try:
        options = PlanOptions(**fields)  # type: ignore[arg-type]
    except paramcount.ParamcountError:
        reject()
    base = hub_slug(LLAMA)
    assert base is not None
    slug = memory_slug(base, options)
    assert slug is not None
    target = target_for(slug)
    assert target is not None
    assert (target.kind, target.query, target.plan) == ("memory", LLAMA, options)


@given(shape=st.lists(st.integers(min_value=0, max_value=1024), min_size=1, max_size=4).map(tuple))
def test_output_slug_round_trip(shape: tuple[int, ...]) -> None:
    slug = output_slug("parameters-conv2d-3-64-kernel-3", shape)
    assert slug is not None
    target = target_for(slug)
    assert target is not None
    assert (target.kind, target.query, target.input_shape) == ("output", "Conv2d(3, 64, 3)", shape)


def test_attention_and_kv_dtype_reach_the_planner(client: TestClient) -> None:
    """The planner's form and /api/memory take attention and kv_dtype, as PlanOptions does."""
    eager = {"q": LLAMA, "optimizer": "adamw", "seq_len": "4096", "attention": "eager"}
    expected = paramcount.count(LLAMA).report(
        PlanOptions(optimizer="adamw", seq_len=4096, attention="eager"), sections=()
    )
    assert client.get("/api/memory", params=eager).json() == expected.to_dict()
    assert expected.to_dict()["memory"]["plan"]["activations"]["attention"] == "eager"
    page = client.get("/planner", params={"q": LLAMA, "seq_len": "4096", "kv_dtype": "int8"}).text
    assert '<option value="int8" selected>' in page
    plan = paramcount.count(LLAMA).report(PlanOptions(seq_len=4096, kv_dtype="int8"), sections=()).plan
    assert plan is not None
    assert plan.kv_cache is not None
    # int8: 1 byte per element; 32 layers × 2 (keys, values) × 8 kv heads × 128 head_dim × 4,096 tokens
    assert plan.kv_cache.bytes == 32 * 2 * 8 * 128 * 4096
    assert f"{plan.kv_cache.bytes:,}" in page


def test_planner_page_says_a_torch_decoder_keeps_no_cache(client: TestClient) -> None:
    """torch's nn.TransformerDecoder takes no past keys and values: the page plans no cache and says why."""
    query = "TransformerDecoder(TransformerDecoderLayer(512, 8), 6)"
    page = unescape(client.get("/planner", params={"q": query, "seq_len": "512"}).text)
    assert "no KV cache: the forward of torch.nn's TransformerDecoderLayer takes no past keys and values" in page
    assert "KV cache keys" not in page
