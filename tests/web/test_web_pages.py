"""The pages through the app factory: answer numbers by stable ids, links, twins, redirects, 404s, sitemap."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient

import paramcount
from paramcount.render.json import report_dict
from paramcount.web.curated import curated

Text = Callable[[str, str], str]
CONV = "/answers/parameters-conv2d-256-512-kernel-3"


def test_answer_page_numbers(client: TestClient, element_text: Text) -> None:
    response = client.get(CONV)
    assert response.status_code == 200
    page = response.text
    # Conv2d(256, 512, 3): weight 512 × 256 × 3 × 3 = 1,179,648, bias 512 → 1,180,160 parameters;
    # float32: 1,180,160 × 4 B = 4,720,640 B = 4.72 MB (10^6) = 4.50 MiB (2^20).
    assert element_text(page, "total") == "1,180,160"
    assert element_text(page, "headline-total") == "1,180,160"
    assert element_text(page, "parameter-bytes") == "4,720,640 bytes"
    assert element_text(page, "parameter-decimal") == "4.72 MB"
    assert element_text(page, "parameter-binary") == "4.50 MiB"
    report = paramcount.count("Conv2d(256, 512, 3)").report()
    assert element_text(page, "training-bytes") == f"{report.training[0].bytes:,} bytes"
    assert element_text(page, "question") == "How many parameters does Conv2d(256, 512, 3) have?"
    assert "<title>How many parameters does Conv2d(256, 512, 3) have? — paramcount</title>" in page
    assert '<link rel="canonical" href="https://params.example.org/answers/parameters-conv2d-256-512-kernel-3">' in page
    assert re.search(r'<meta name="description" content="Conv2d\(256, 512, 3\) has 1,180,160 parameters', page)


def test_answer_page_sections(client: TestClient, element_text: Text) -> None:
    page = client.get(CONV).text
    for key in ("tensors", "formula", "memory", "training", "appears", "variants", "code", "related"):
        assert f'id="section-{key}"' in page
    assert "1,179,648" in element_text(page, "section-tensors")
    assert "4.50 MiB" in element_text(page, "section-memory")
    assert "vgg16" in element_text(page, "section-appears")
    assert "bias=False" in element_text(page, "section-variants")
    assert "nn.Conv2d(256, 512, 3)" in element_text(page, "section-code")


def test_answer_page_links_resolve(client: TestClient) -> None:
    page = client.get(CONV).text
    links = set(re.findall(r'href="(/answers/[^"]+)"', page))
    assert "/answers/parameters-conv2d-256-512-kernel-3-no-bias" in links  # a variant
    assert "/answers/parameters-conv2d-512-512-kernel-3" in links  # a related question
    assert "/answers/parameters-vgg16" in links  # where the layer appears
    for link in sorted(links):
        assert client.get(link).status_code == 200, link


@pytest.mark.parametrize(
    ("slug", "query"),
    [
        ("parameters-conv2d-256-512-kernel-3", "Conv2d(256, 512, 3)"),
        ("parameters-lstm-512-1024-num-layers-2-bidirectional", "LSTM(512, 1024, num_layers=2, bidirectional=True)"),
        ("parameters-resnet50", "resnet50()"),
        ("parameters-meta-llama-llama-3.1-8b", "meta-llama/Llama-3.1-8B"),
    ],
)
def test_json_twin_is_the_report(client: TestClient, element_text: Text, slug: str, query: str) -> None:
    twin = client.get(f"/answers/{slug}.json")
    assert twin.status_code == 200
    assert twin.json() == report_dict(paramcount.count(query).report())
    page = client.get(f"/answers/{slug}").text
    assert element_text(page, "total") == f"{twin.json()['total']:,}"
    assert f'href="/answers/{slug}.json"' in page


def test_model_pages(client: TestClient, element_text: Text) -> None:
    page = client.get("/answers/parameters-resnet50").text
    assert element_text(page, "question") == "How many parameters does resnet50 have?"
    assert element_text(page, "total") == "25,557,032"  # torchvision's published count for resnet50
    hub = client.get("/answers/parameters-meta-llama-llama-3.1-8b").text
    assert element_text(hub, "question") == "How many parameters does meta-llama/Llama-3.1-8B have?"
    assert element_text(hub, "total") == "8,030,261,248"  # Meta's model card: 8.03 B


def test_pages_name_no_command_line_flags(client: TestClient) -> None:
    # The module table stops at the server's depth (3); a web reader has no --depth or --json to pass.
    page = client.get("/answers/parameters-resnet50").text
    assert "Deeper modules hidden (depth 3)" in page
    assert "--depth" not in page
    assert "--json" not in page


@pytest.mark.parametrize(
    ("slug", "canonical"),
    [
        ("parameters-conv2d-256-512-3", "parameters-conv2d-256-512-kernel-3"),
        ("parameters-conv2d-256-512-kernel-3-stride-1", "parameters-conv2d-256-512-kernel-3"),
        ("parameters-linear-4096-4096-bias-true", "parameters-linear-4096-4096"),
    ],
)
def test_non_canonical_slugs_redirect(client: TestClient, slug: str, canonical: str) -> None:
    page = client.get(f"/answers/{slug}", follow_redirects=False)
    assert (page.status_code, page.headers["location"]) == (301, f"/answers/{canonical}")
    twin = client.get(f"/answers/{slug}.json", follow_redirects=False)
    assert (twin.status_code, twin.headers["location"]) == (301, f"/answers/{canonical}.json")


@pytest.mark.parametrize(
    ("slug", "canonical"),
    [
        ("Parameters-Conv2d-256-512-kernel-3", "parameters-conv2d-256-512-kernel-3"),
        ("PARAMETERS-CONV2D-256-512-3", "parameters-conv2d-256-512-kernel-3"),
        ("parameters-meta-llama-Llama-3.1-8B", "parameters-meta-llama-llama-3.1-8b"),
        ("parameters-ResNet50", "parameters-resnet50"),
        (
            "Memory-meta-llama-llama-3.1-8b-with-optimizer-AdamW-gpu-H100-80GB",
            "memory-meta-llama-llama-3.1-8b-with-optimizer-adamw-gpu-h100-80gb",
        ),
        ("output-Conv2d-3-64-kernel-3-input-1x3x256x256", "output-conv2d-3-64-kernel-3-input-1x3x256x256"),
    ],
)
def test_upper_case_slugs_redirect_to_the_lower_case_canonical(client: TestClient, slug: str, canonical: str) -> None:
    page = client.get(f"/answers/{slug}", follow_redirects=False)
    assert (page.status_code, page.headers["location"]) == (301, f"/answers/{canonical}")
    twin = client.get(f"/answers/{slug}.json", follow_redirects=False)
    assert (twin.status_code, twin.headers["location"]) == (301, f"/answers/{canonical}.json")
    assert client.get(f"/answers/{canonical}", follow_redirects=False).status_code == 200


@pytest.mark.parametrize(
    ("slug", "message"),
    [
        ("no-such-page", "answers/no-such-page: no answer page has this name"),
        ("parameters-conv2d-256-512-kernel-3-unknown-1", "no answer page has this name"),
        (
            "parameters-conv2d-10-4-kernel-3-groups-3",
            "answers/parameters-conv2d-10-4-kernel-3-groups-3: Conv2d: in_channels must be divisible by groups "
            "(in_channels=10, groups=3)",
        ),
    ],
)
def test_unknown_slugs_are_404(client: TestClient, element_text: Text, slug: str, message: str) -> None:
    page = client.get(f"/answers/{slug}")
    assert page.status_code == 404
    assert message in element_text(page.text, "problem-message")
    twin = client.get(f"/answers/{slug}.json")
    assert twin.status_code == 404
    assert twin.json()["error"]["type"] == "NotFound"
    assert message in twin.json()["error"]["message"]


def test_unknown_page_is_html_404(client: TestClient) -> None:
    response = client.get("/no/such/page")
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("text/html")


def test_counter_page_without_query(client: TestClient) -> None:
    response = client.get("/")
    assert response.status_code == 200
    assert '<form id="counter" class="counter" action="/" method="get" role="search">' in response.text
    assert '<script src="/static/fragments.js" defer></script>\n<script src="/static/counter.js" defer></script>' in (
        response.text
    )


def test_counter_page_renders_the_answer_without_javascript(client: TestClient, element_text: Text) -> None:
    response = client.get("/", params={"q": "nn.Linear(784, 256)"})
    assert response.status_code == 200
    assert element_text(response.text, "total") == f"{784 * 256 + 256:,}"  # weight out × in + bias out
    assert element_text(response.text, "q") == "nn.Linear(784, 256)"
    assert 'href="/answers/parameters-linear-784-256"' in response.text
    assert '<link rel="canonical" href="https://params.example.org/answers/parameters-linear-784-256">' in response.text


def test_counter_page_shows_errors_inline(client: TestClient, element_text: Text) -> None:
    response = client.get("/", params={"q": "nn.Linear(3, 4).__class__"})
    assert response.status_code == 400
    assert element_text(response.text, "error-message") == "column 17: dunder name '__class__' is not allowed"
    assert element_text(response.text, "error-caret") == "nn.Linear(3, 4).__class__\n" + " " * 16 + "^"


def test_counter_escapes_what_it_echoes(client: TestClient) -> None:
    response = client.get("/", params={"q": "<script>alert(1)</script>"})
    assert response.status_code == 400
    assert "<script>alert" not in response.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in response.text


def test_fragment_answers_and_errors(client: TestClient, element_text: Text) -> None:
    answer = client.get("/fragments/answer", params={"q": "Embedding(50257, 768)"})
    assert answer.status_code == 200
    assert element_text(answer.text, "total") == f"{50257 * 768:,}"
    error = client.get("/fragments/answer", params={"q": "Linear(3, 4"})
    assert error.status_code == 200  # shown inline by the counter
    assert 'data-state="error" data-type="ExpressionError" data-column="7"' in error.text
    posted = client.post("/fragments/answer", json={"q": "Linear(3, 4)"})
    assert element_text(posted.text, "total") == "16"


def test_multi_line_error_caret_points_into_its_line(client: TestClient, element_text: Text) -> None:
    query = "nn.Sequential(\n  nn.Linear(2, 3),\n  nn.Foo(3))"
    text = client.get("/fragments/answer", params={"q": query}).text
    assert element_text(text, "error-caret") == "  nn.Foo(3))\n     ^"


def test_answers_index_and_sitemap(client: TestClient) -> None:
    index = client.get("/answers")
    assert index.status_code == 200
    assert 'href="/answers/parameters-resnet50"' in index.text
    sitemap = client.get("/sitemap.xml")
    assert sitemap.headers["content-type"] == "application/xml"
    locations = re.findall(r"<loc>([^<]+)</loc>", sitemap.text)
    assert len(locations) == len(curated()) + 3  # the counter, the planner, the list of answers
    assert "https://params.example.org/answers/parameters-conv2d-256-512-kernel-3" in locations
    assert client.get("/robots.txt").text.endswith("Sitemap: https://params.example.org/sitemap.xml\n")


def test_static_files_are_served_by_the_app(client: TestClient) -> None:
    for path, kind in [
        ("/static/style.css", "text/css"),
        ("/static/counter.js", "javascript"),
        ("/static/fragments.js", "javascript"),
        ("/static/planner.js", "javascript"),
        ("/static/favicon.svg", "image/svg+xml"),
        ("/favicon.ico", "image/svg+xml"),
    ]:
        response = client.get(path)
        assert response.status_code == 200
        assert kind in response.headers["content-type"]
    page = client.get(CONV).text
    assert "http://" not in page.replace("http://www.w3.org", "")
    assert "https://" not in page.replace("https://params.example.org", "")


def test_no_inline_script_or_style(client: TestClient) -> None:
    for path in ["/", CONV, "/answers", "/?q=Linear(3,%204"]:
        page = client.get(path).text
        assert "<script>" not in page
        assert "<style" not in page
        assert " style=" not in page
        assert " on" + "click" not in page


def test_counter_summary_uses_the_dtype_the_config_stores(client: TestClient, element_text: Text) -> None:
    # Llama 3.1 8B's config stores bfloat16: 8,030,261,248 parameters × 2 bytes, as the CLI and the plan say.
    page = client.get("/", params={"q": "meta-llama/Llama-3.1-8B"}).text
    assert element_text(page, "parameter-bytes") == f"{2 * 8_030_261_248:,} bytes"
    assert "Stored as bfloat16 (the dtype the config stores), the parameters take" in page
    assert "Stored as float32" not in page


LLAMA = "meta-llama/Llama-3.1-8B"


def test_counter_controls_render_their_plan_on_the_server(client: TestClient, element_text: Text) -> None:
    """``/?q=…&dtype=…``: the memory controls in the URL render that state without JavaScript: the controls as the
    plan spells them, the plan's sentence and chart with /api/memory's bytes for the same options, and the JSON
    link to /api/memory."""
    options = {"dtype": "bf16", "optimizer": "AdamW", "seq_len": "2048", "gpu": "h100"}
    page = client.get("/", params={"q": LLAMA, **options, "batch": ""}).text  # blank: not given
    for name, value in [("dtype", "bfloat16"), ("optimizer", "adamw"), ("gpu", "H100-80GB")]:
        assert re.search(rf'<select id="{name}" name="{name}">.*?<option value="{value}" selected>', page, re.S), name
    assert re.search(r'<input id="seq_len" name="seq_len" type="number" [^>]*value="2048">', page)
    assert re.search(r'<input id="batch" name="batch" type="number" [^>]*value="">', page)
    plan = client.get("/api/memory", params={"q": LLAMA, **options}).json()["memory"]["plan"]
    assert element_text(page, "memory-total-bytes") == f"{plan['total_bytes']:,} bytes"
    assert f'id="memory-chart" data-bytes="{plan["per_device_bytes"]}"' in page
    assert f'<li data-category="capacity" data-bytes="{plan["fit"]["memory_bytes"]}">' in page
    assert "to train with AdamW in bfloat16, sequence length 2,048" in element_text(page, "memory-answer")
    assert element_text(page, "total") == "8,030,261,248"  # the count is the same with or without a plan
    json_url = "/api/memory?q=meta-llama%2FLlama-3.1-8B&amp;dtype=bfloat16&amp;optimizer=adamw&amp;seq_len=2048"
    assert f'id="json-link" href="{json_url}&amp;gpu=h100-80gb"' in page
    plain = client.get("/", params={"q": LLAMA}).text  # no control: a model's own plan, inference in its dtype
    assert element_text(plain, "memory-answer").endswith("to run in bfloat16: weights 16.06 GB, buffers 256 B.")
    layer = client.get("/", params={"q": "Linear(3, 4)"}).text  # no control, no plan: the first training recipe
    assert 'id="memory-answer"' not in layer
    # 16 parameters × 4 bytes × 4 (weights, gradients, AdamW's 2 moments) + a 4-byte step for each of 2 tensors
    assert "<figcaption>Training memory with AdamW, float32: 264 bytes" in layer


def test_counter_controls_errors_show_inline(client: TestClient, element_text: Text) -> None:
    page = client.get("/", params={"q": "Linear(3, 4)", "seq_len": "many"})
    assert page.status_code == 400
    assert element_text(page.text, "error-message") == "seq_len: must be an integer, got 'many'"
    assert re.search(r'<input id="seq_len" name="seq_len" type="number" [^>]*value="many">', page.text)
    empty = client.get("/", params={"dtype": "float16"}).text  # no query yet: the controls keep their values
    assert '<option value="float16" selected>' in empty


def test_planner_selects_names_in_any_case(client: TestClient) -> None:
    """A memory answer's "Change it in the planner" link spells names in lower case (gpu=h100-80gb); the
    planner's select shows that accelerator."""
    slug = "memory-meta-llama-llama-3.1-8b-with-optimizer-adamw-mixed-precision-bf16-seq-len-2048-gpu-h100-80gb"
    link = re.search(r'id="counter-link" href="([^"]+)"', client.get(f"/answers/{slug}").text)
    assert link is not None
    assert "&amp;gpu=h100-80gb" in link[1]
    planner = client.get(link[1].replace("&amp;", "&")).text
    assert re.search(r'<select id="gpu" name="gpu">.*?<option value="H100-80GB" selected>', planner, re.S)
