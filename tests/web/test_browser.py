"""The interactive counter in a real browser: Debian's Chromium driven by Playwright's Python package.

Playwright cannot download its own browser here, so the tests launch ``/usr/bin/chromium`` (installed by
``.ci/run``) and skip, saying why, only when it is absent. The app runs under uvicorn in a background
thread on a free loopback port.
"""

from __future__ import annotations

import re
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Literal
from urllib.parse import quote, urlencode

import pytest

from paramcount.web.app import create_app
from paramcount.web.server import PROTOCOL
from paramcount.web.settings import Settings

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin/chromium (.ci/run installs it)"
    ),
]

if CHROMIUM.exists():
    from playwright.sync_api import Browser, ConsoleMessage, Page, expect, sync_playwright


@pytest.fixture(scope="module")
def server_url() -> Iterator[str]:
    import uvicorn

    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    config = uvicorn.Config(create_app(Settings()), http=PROTOCOL, log_level="warning", lifespan="off")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [listener]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(10)
    listener.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    """A fresh page that records console errors and uncaught exceptions; the test fails on any."""
    context = browser.new_context()
    opened = context.new_page()
    problems: list[str] = []

    def on_console(message: ConsoleMessage) -> None:
        if message.type in ("error", "warning"):
            problems.append(f"console {message.type}: {message.text}")

    opened.on("console", on_console)
    opened.on("pageerror", lambda error: problems.append(f"page error: {error}"))
    yield opened
    context.close()
    assert problems == []


def test_typing_shows_the_total(page: Page, server_url: str) -> None:
    page.goto(f"{server_url}/")
    page.locator("#q").press_sequentially("Conv2d(256, 512, 3)")
    # weight 512 × 256 × 3 × 3 = 1,179,648 plus bias 512
    expect(page.locator("#total")).to_have_text("1,180,160")
    expect(page.locator("#parameter-binary")).to_have_text("4.50 MiB")
    expect(page).to_have_url(re.compile(r"/\?q=Conv2d\(256%2C%20512%2C%203\)$"))  # the URL is shareable
    page.locator("#q").fill("")
    page.locator("#q").press_sequentially("nn.Linear(784, 256)")
    expect(page.locator("#total")).to_have_text(f"{784 * 256 + 256:,}")
    expect(page.locator("#answer-link")).to_have_attribute("href", "/answers/parameters-linear-784-256")


def test_bad_expression_shows_the_error_at_its_column(page: Page, server_url: str) -> None:
    page.goto(f"{server_url}/")
    page.locator("#q").press_sequentially("nn.Linear(3, 4).__class__")
    expect(page.locator("#error-message")).to_have_text("column 17: dunder name '__class__' is not allowed")
    caret = page.locator("#error-caret").inner_text()
    assert caret.split("\n")[1].index("^") == 16  # under the 17th character
    expect(page.locator("#q")).to_have_attribute("aria-invalid", "true")
    page.locator("#q").press("Backspace")  # still an error: a different column and message
    expect(page.locator("#error-message")).to_contain_text("column 17:")
    page.locator("#q").fill("Linear(3, 4)")
    expect(page.locator("#total")).to_have_text("16")
    expect(page.locator("#q")).to_have_attribute("aria-invalid", "false")


def test_answer_page_numbers_and_links(page: Page, server_url: str) -> None:
    page.goto(f"{server_url}/answers/parameters-conv2d-256-512-kernel-3")
    expect(page).to_have_title("How many parameters does Conv2d(256, 512, 3) have? — paramcount")
    expect(page.locator("#total")).to_have_text("1,180,160")
    expect(page.locator("#parameter-decimal")).to_have_text("4.72 MB")
    page.locator("#section-related a", has_text="Conv2d(512, 512, 3)").click()
    expect(page).to_have_url(f"{server_url}/answers/parameters-conv2d-512-512-kernel-3")
    expect(page.locator("#total")).to_have_text(f"{512 * 512 * 9 + 512:,}")
    page.locator("#counter-link").click()
    expect(page.locator("#q")).to_have_value("Conv2d(512, 512, 3)")
    expect(page.locator("#total")).to_have_text(f"{512 * 512 * 9 + 512:,}")


FOCUSED = """() => {
  const element = document.activeElement;
  const style = getComputedStyle(element);
  return {
    id: element.id,
    tag: element.tagName.toLowerCase(),
    text: element.textContent.trim().slice(0, 40),
    outline: style.outlineStyle !== "none" && parseFloat(style.outlineWidth) >= 2,
  };
}"""
"""What has the focus, and whether it shows it (an outline of 2 px or more: ``:focus-visible``)."""


def _press_until(page: Page, key: str, selector: str, limit: int = 150) -> None:
    """Press ``key`` (Tab or Shift+Tab) until the element ``selector`` has the focus; every element passed on the
    way must show its focus."""
    passed: list[str] = []
    for _ in range(limit):
        page.keyboard.press(key)
        focused = page.evaluate(FOCUSED)
        passed.append(f"{focused['tag']}#{focused['id']} {focused['text']!r}")
        assert focused["outline"], f"no visible focus on {passed[-1]}"
        if page.evaluate("(selector) => document.activeElement.matches(selector)", selector):
            return
    raise AssertionError(f"{key} × {limit} did not reach {selector}; passed {passed[-10:]}")


@pytest.mark.parametrize("width", [360, 1440], ids=["phone", "desktop"])
def test_keyboard_only(browser: Browser, server_url: str, width: int) -> None:
    """The counter with the keyboard alone: type a query, change controls, fold and unfold the module tree and the
    tensor rows, copy the JSON and the code; every element the focus passes shows it (on a phone, tables and
    code that scroll sideways take the focus too)."""
    context = browser.new_context(
        permissions=["clipboard-read", "clipboard-write"], viewport={"width": width, "height": 900}
    )
    page = context.new_page()
    page.goto(f"{server_url}/")
    page.keyboard.press("Tab")
    expect(page.locator(".skip")).to_be_focused()
    _press_until(page, "Tab", "#q")
    page.keyboard.type("meta-llama/Llama-3.1-8B")
    page.keyboard.press("Enter")
    expect(page.locator("#total")).to_have_text("8,030,261,248")  # Meta's model card: 8.03 B
    _press_until(page, "Tab", "#gpu")
    page.keyboard.press("ArrowDown")  # from "none" to the first accelerator
    expect(page.locator("#gpu")).to_have_value("H100-80GB")
    expect(page.locator("#memory-chart li[data-category='capacity']")).to_contain_text("H100-80GB memory")
    _press_until(page, "Shift+Tab", "#seq_len")
    page.keyboard.type("2048")
    expect(page.locator("#memory-answer")).to_contain_text("to run in bfloat16, sequence length 2,048")
    expect(page).to_have_url(re.compile(r"\?q=meta-llama%2FLlama-3\.1-8B&seq_len=2048&gpu=H100-80GB$"))
    _press_until(page, "Tab", "button.copy")  # the first copy button: the JSON's, under the answer's links
    expect(page.locator(":focus")).to_have_text("Copy JSON")
    page.keyboard.press("Enter")
    expect(page.locator(".page-links + .copy-line .copy-status")).to_have_text("Copied")
    tree = page.locator("#section-modules details")
    _press_until(page, "Tab", "#section-modules summary")
    page.keyboard.press("Enter")
    expect(tree).not_to_have_attribute("open", "")
    page.keyboard.press("Space")
    expect(tree).to_have_attribute("open", "")
    every = page.locator("#tensors-all")
    _press_until(page, "Tab", "#tensors-all summary")
    page.keyboard.press("Enter")
    expect(every.locator("td", has_text="model.layers.31.mlp.down_proj.weight")).to_be_visible()
    _press_until(page, "Tab", "#section-code button.copy")
    page.keyboard.press("Space")
    expect(page.locator("#section-code .copy-status")).to_have_text("Copied")
    assert page.evaluate("navigator.clipboard.readText()") == page.locator("#section-code pre.code").inner_text()
    context.close()


STICKING_OUT = """() => {
  const found = [];
  for (const element of document.querySelectorAll("body *")) {
    const box = element.getBoundingClientRect();
    const parent = element.parentElement;
    const style = getComputedStyle(parent);
    if (box.width === 0 || getComputedStyle(element).position === "absolute" || style.overflowX !== "visible") {
      continue;  // hidden, placed on purpose (the skip link), or inside a box that scrolls or clips
    }
    const right = parent.getBoundingClientRect().right - parseFloat(style.borderRightWidth);
    if (box.right > right + 0.5) {
      found.push(`${element.tagName}.${element.className} "${element.textContent.slice(0, 40)}"`);
    }
  }
  return found;
}"""
"""Elements that stick out of their parent's box where nothing scrolls or clips them."""

HIDDEN_BEHIND_SCROLL = """() => Array.from(document.querySelectorAll("pre.lines"))
  .filter((element) => element.scrollWidth > element.clientWidth)
  .map((element) => `${element.closest("section").id}: ${element.scrollWidth} > ${element.clientWidth}`)"""
"""Explanations, plans and notes (``pre.lines``) that do not wrap inside their box."""

LONG_LINES = [
    "/?q=meta-llama/Llama-3.1-8B",  # "How it adds up" for a Llama
    "/?q=nn.LSTM(512,%201024,%20num_layers=2,%20bidirectional=True)",
    "/answers/parameters-resnet50",
    "/answers/parameters-meta-llama-llama-3.1-8b",
    "/answers/memory-meta-llama-llama-3.1-8b-with-optimizer-adamw-mixed-precision-bf16-seq-len-2048-gpu-h100-80gb",
    "/planner?q=meta-llama%2FLlama-3.1-8B&optimizer=adamw&mixed_precision=bf16&seq_len=2048",
]
"""Pages with long lines: formulas, training-memory notes (the activation estimate's source runs to 500
characters), the memory plan."""


@pytest.mark.parametrize("width", [360, 1440], ids=["phone", "desktop"])
def test_long_lines_stay_inside_their_boxes(browser: Browser, server_url: str, width: int) -> None:
    """No sideways scroll of the page; text wraps in its box (tables and code may scroll inside theirs)."""
    context = browser.new_context(viewport={"width": width, "height": 900})
    page = context.new_page()
    for path in LONG_LINES:
        page.goto(f"{server_url}{path}")
        expect(page.locator(".answer-section").first).to_be_visible()
        assert page.evaluate("document.documentElement.scrollWidth") <= width, path
        assert page.evaluate(STICKING_OUT) == [], path
        assert page.evaluate(HIDDEN_BEHIND_SCROLL) == [], path
    context.close()


def test_works_without_javascript(browser: Browser, server_url: str) -> None:
    context = browser.new_context(java_script_enabled=False)
    plain = context.new_page()
    plain.goto(f"{server_url}/")
    plain.locator("#q").fill("Embedding(50257, 768)")
    plain.locator("button[type=submit]").click()
    expect(plain.locator("#total")).to_have_text(f"{50257 * 768:,}")
    assert "?q=Embedding" in plain.url
    plain.locator("#dtype").select_option("bfloat16")
    plain.locator("button[type=submit]").click()  # the controls are the same form: a GET gives the same page
    expect(plain.locator("#dtype")).to_have_value("bfloat16")
    # 50257 × 768 weights × 2 bytes in bfloat16, for inference (no optimizer)
    expect(plain.locator("#memory-chart")).to_have_attribute("data-bytes", str(2 * 50257 * 768))
    assert "&dtype=bfloat16&optimizer=&" in plain.url
    context.close()


def test_planner_updates_as_options_change(page: Page, server_url: str) -> None:
    page.goto(f"{server_url}/planner")
    page.locator("#q").fill("meta-llama/Llama-3.1-8B")
    expect(page.locator("#memory-chart")).to_be_visible()  # inference by default
    inference = page.locator("#memory-total-bytes").inner_text()
    page.locator("#optimizer").select_option("adamw")
    page.locator("#mixed_precision").select_option("bf16")
    page.locator("#seq_len").fill("2048")
    page.locator("#gpu").select_option("H100-80GB")
    expect(page.locator("#answer")).to_contain_text(
        "to train with AdamW in bf16 mixed precision, sequence length 2,048"
    )
    expect(page.locator("#fit")).to_be_visible()
    assert page.locator("#memory-total-bytes").inner_text() != inference
    expect(page).to_have_url(re.compile(r"/planner\?q=meta-llama%2FLlama-3\.1-8B&optimizer=adamw&"))


def test_memory_and_output_pages(page: Page, server_url: str) -> None:
    slug = "memory-meta-llama-llama-3.1-8b-with-optimizer-adamw-lora-rank-16-quantization-nf4-seq-len-2048"
    page.goto(f"{server_url}/answers/{slug}")
    expect(page.locator("#question")).to_contain_text("need to fine-tune with QLoRA (nf4, rank 16) and AdamW")
    expect(page.locator("#memory-chart")).to_be_visible()
    page.locator("#counter-link").click()
    expect(page.locator("#quantization")).to_have_value("nf4")
    expect(page.locator("#lora_rank")).to_have_value("16")
    page.goto(f"{server_url}/answers/output-conv2d-3-64-kernel-7-stride-2-padding-3-input-1x3x224x224")
    # floor((224 + 2·3 − 1·(7 − 1) − 1)/2) + 1 = 112
    expect(page.locator("#output-shape")).to_have_text("(1, 64, 112, 112)")


def _chart_bytes(page: Page) -> list[tuple[str, int]]:
    """The memory chart's legend: (category, bytes) in order, as the page shows them (in words and data-bytes)."""
    found = []
    for item in page.locator("#memory-chart li").all():
        category, size = item.get_attribute("data-category") or "", int(item.get_attribute("data-bytes") or -1)
        assert f"{size:,} bytes" in item.inner_text()  # the words say the same bytes
        found.append((category, size))
    return found


def _by_category(items: list[dict[str, object]]) -> list[tuple[str, int]]:
    found: dict[str, int] = {}
    for item in items:
        found[str(item["category"])] = found.get(str(item["category"]), 0) + int(str(item["bytes"]))
    return list(found.items())


def test_memory_chart_shows_the_jsons_bytes(page: Page, server_url: str) -> None:
    """Every answer page has the stacked memory bar, labelled with the bytes of its JSON twin."""
    slug = "parameters-conv2d-256-512-kernel-3"
    page.goto(f"{server_url}/answers/{slug}")
    twin = page.request.get(f"{server_url}/answers/{slug}.json").json()
    recipe = twin["memory"]["training"][0]  # no plan asked: the first training recipe (AdamW), item by item
    expect(page.locator("#memory-chart svg")).to_have_attribute("role", "img")
    shown = _chart_bytes(page)
    assert [size for _, size in shown] == [item["bytes"] for item in recipe["items"]]
    for item, label in zip(recipe["items"], page.locator("#memory-chart li").all_inner_texts(), strict=True):
        assert label.startswith(item["label"])
    # weights = gradients = 1,180,160 × 4 bytes; AdamW's two moments the same, and a float32 step per tensor
    assert shown == [("weights", 4_720_640), ("gradients", 4_720_640)] + [("optimizer", 8)] + 2 * [
        ("optimizer", 4_720_640)
    ]
    expect(page.locator("#memory-chart figcaption")).to_contain_text(f"{recipe['bytes']:,} bytes")
    slug = "memory-meta-llama-llama-3.1-8b-with-optimizer-adamw-mixed-precision-bf16-seq-len-2048-gpu-h100-80gb"
    page.goto(f"{server_url}/answers/{slug}")
    plan = page.request.get(f"{server_url}/answers/{slug}.json").json()["memory"]["plan"]
    assert _chart_bytes(page) == _plan_legend(plan)
    expect(page.locator("#memory-chart")).to_have_attribute("data-bytes", str(plan["per_device_bytes"]))


LLAMA = "meta-llama/Llama-3.1-8B"
CONTROLS: list[tuple[str, str]] = [
    ("dtype", "bfloat16"),
    ("optimizer", "adamw"),
    ("seq_len", "2048"),
    ("batch", "2"),
    ("gpu", "H100-80GB"),
]
"""The counter's memory controls, each changed in turn (each change adds to the ones before)."""

LEGEND = """() => Array.from(document.querySelectorAll("#memory-chart li"), (item) => [item.dataset.category,
  Number(item.dataset.bytes)])"""


def _plan_legend(plan: dict[str, object]) -> list[tuple[str, int]]:
    """What the chart's legend must say for a plan of the JSON API: bytes per device by category, then the
    accelerator's memory when one was named."""
    items = plan["per_device"]
    assert isinstance(items, list)
    found = _by_category(items)
    fit = plan["fit"]
    if isinstance(fit, dict):
        found.append(("capacity", int(fit["memory_bytes"])))
    return found


def test_counter_controls_update_the_chart_and_the_url(page: Page, server_url: str) -> None:
    """Each memory control redraws the chart without a page load, with the bytes /api/memory gives for the same
    options; the URL holds every control, and opening it renders the same state on the server."""
    page.goto(f"{server_url}/?q={quote(LLAMA)}")
    page.evaluate("window.loadedOnce = true")  # gone if the page loads again
    given: dict[str, str] = {}
    for name, value in CONTROLS:
        field = page.locator(f"#{name}")
        if field.evaluate("(element) => element.tagName") == "SELECT":
            field.select_option(value)
        else:
            field.fill(value)
        given[name] = value
        plan = page.request.get(f"{server_url}/api/memory", params={"q": LLAMA, **given}).json()["memory"]["plan"]
        expected = _plan_legend(plan)
        page.wait_for_function(f"(expected) => JSON.stringify(({LEGEND})()) === JSON.stringify(expected)", arg=expected)
        assert _chart_bytes(page) == expected, name  # the words say the same bytes
        expect(page.locator("#memory-chart")).to_have_attribute("data-bytes", str(plan["per_device_bytes"]))
        expect(page).to_have_url(f"{server_url}/?q={quote(LLAMA, safe='')}&{urlencode(given)}")
        assert page.evaluate("window.loadedOnce") is True, name
    expect(page.locator("#memory-answer")).to_contain_text(
        "to train with AdamW in bfloat16, sequence length 2,048 × batch 2"
    )
    shared = page.url
    page.goto(shared)  # a new page load: the server renders that state
    for name, value in CONTROLS:
        expect(page.locator(f"#{name}")).to_have_value(value)
    assert _chart_bytes(page) == expected
    expect(page.locator("#q")).to_have_value(LLAMA)
    page.wait_for_timeout(400)  # longer than the counter's delay: loading the page must not ask again
    expect(page).to_have_url(shared)


def test_repeated_layers_fold_and_unfold(page: Page, server_url: str) -> None:
    page.goto(f"{server_url}/answers/parameters-meta-llama-llama-3.1-8b")
    folded = page.locator("#tensors-folded")
    q_proj = folded.locator("tr", has_text="model.layers.0-31.self_attn.q_proj.weight ×32")
    expect(q_proj).to_contain_text(f"{4096 * 4096:,}")  # one copy: out × in
    expect(q_proj).to_contain_text(f"{32 * 4096 * 4096:,}")  # all 32 layers
    every = page.locator("#tensors-all")
    expect(every.locator("td", has_text="model.layers.31.mlp.down_proj.weight")).to_be_hidden()
    every.locator("summary").click()
    expect(every.locator("td", has_text="model.layers.31.mlp.down_proj.weight")).to_be_visible()
    expect(page.locator("#section-modules details")).to_have_attribute("open", "")
    shares = page.locator("#section-blocks tr[data-parameters]")
    expect(shares.filter(has_text="model.layers ×32")).to_contain_text("6,979,584,000")


def test_a_checkpoint_file_sends_only_its_header(page: Page, server_url: str, tmp_path: Path) -> None:
    import struct

    import torch
    from safetensors.torch import save_file

    path = tmp_path / "model.safetensors"
    save_file({"proj.weight": torch.zeros(64, 32), "proj.bias": torch.zeros(64)}, str(path))
    header_end = 8 + struct.unpack("<Q", path.read_bytes()[:8])[0]
    page.goto(f"{server_url}/")
    with page.expect_request(re.compile(r"/fragments/file\?name=model\.safetensors$")) as sent:
        page.locator("#file").set_input_files(str(path))
    # the header's bytes, not the 8,448 bytes of weights after it (Playwright does not expose a Blob body)
    assert sent.value.all_headers()["content-length"] == str(header_end)
    expect(page.locator("#total")).to_have_text(f"{64 * 32 + 64:,}")
    page.locator("#file").set_input_files({"name": "model.gguf", "mimeType": "", "buffer": b"GGUF\x07\x00\x00\x00"})
    expect(page.locator("#error-message")).to_contain_text("model.gguf: GGUF version 7 is not supported")


@pytest.mark.parametrize(
    "path",
    ["/answers/parameters-conv2d-256-512-kernel-3", "/?q=Conv2d(256,%20512,%203)"],
    ids=["answer-page", "counter"],
)
def test_copy_buttons_copy_the_snippet_and_the_json(browser: Browser, server_url: str, path: str) -> None:
    context = browser.new_context(permissions=["clipboard-read", "clipboard-write"])
    page = context.new_page()
    page.goto(f"{server_url}{path}")
    snippet = page.locator("#section-code pre.code").inner_text()
    assert "Conv2d(256, 512, 3)" in snippet
    page.get_by_role("button", name="Copy code").click()
    expect(page.locator("#section-code .copy-status")).to_have_text("Copied")
    assert page.evaluate("navigator.clipboard.readText()") == snippet
    page.get_by_role("button", name="Copy JSON").click()
    expect(page.locator(".page-links + .copy-line .copy-status")).to_have_text("Copied")
    json_url = page.locator("#json-link").get_attribute("href")
    assert json_url is not None
    assert page.evaluate("navigator.clipboard.readText()") == page.request.get(f"{server_url}{json_url}").text()
    context.close()


AXE_PAGES = {
    "counter": "/?q=Conv2d(256,%20512,%203)",
    "planner": "/planner?q=meta-llama%2FLlama-3.1-8B&optimizer=adamw&mixed_precision=bf16&seq_len=2048",
    "answer-page": "/answers/memory-meta-llama-llama-3.1-8b-with-optimizer-adamw-mixed-precision-bf16-seq-len-2048"
    "-gpu-h100-80gb",
    "answers-index": "/answers",
}
"""The pages axe-core checks, each with an answer shown (its tables, sections and copy buttons)."""


@pytest.mark.parametrize("scheme", ["light", "dark"])
@pytest.mark.parametrize("path", AXE_PAGES.values(), ids=AXE_PAGES.keys())
def test_axe_finds_no_serious_violations(
    browser: Browser, server_url: str, path: str, scheme: Literal["light", "dark"]
) -> None:
    from axe_playwright_python.sync_playwright import Axe

    context = browser.new_context(color_scheme=scheme)
    page = context.new_page()
    page.goto(f"{server_url}{path}")
    expect(page.locator("main")).to_be_visible()
    if path != "/answers":
        expect(page.locator(".answer-section").first).to_be_visible()
    violations = Axe().run(page).response["violations"]
    found = [
        f"{violation['id']} ({violation['impact']}): {[node['target'] for node in violation['nodes']]}"
        for violation in violations
        if violation["impact"] in ("serious", "critical")
    ]
    assert found == []
    context.close()
