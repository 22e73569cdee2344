"""Answer-page slugs: the documented examples, reversibility for generated layers, and hostile slugs."""

from __future__ import annotations

import contextlib
import re

import pytest
from hypothesis import given, reject
from hypothesis import strategies as st

import paramcount
from paramcount.render.code import expression_text
from paramcount.sources.hf.hub import shipped_hub_ids
from paramcount.web.curated import TYPICAL, curated
from paramcount.web.slugs import hub_slug, query_for, slug_for, slugs_by_query
from paramcount.web.targets import target_for
from paramcount.zoo import known_models

SLUG_CHARACTERS = re.compile(r"[a-z0-9._+-]+")

EXAMPLES = [
    ("Conv2d(256, 512, 3)", "parameters-conv2d-256-512-kernel-3"),
    ("Linear(4096, 4096)", "parameters-linear-4096-4096"),
    ("LSTM(512, 1024, num_layers=2, bidirectional=True)", "parameters-lstm-512-1024-num-layers-2-bidirectional"),
    ("Conv2d(64, 64, (3, 1), bias=False)", "parameters-conv2d-64-64-kernel-3x1-no-bias"),
    ("Embedding(10, 3, padding_idx=-1)", "parameters-embedding-10-3-padding-idx-minus-1"),
    ("LayerNorm(768, eps=1e-12)", "parameters-layernorm-768-eps-1e-12"),
    ("Conv2d(3, 3, 3, padding='same')", "parameters-conv2d-3-3-kernel-3-padding-same"),
    ("Linear(2, 3, dtype=torch.bfloat16)", "parameters-linear-2-3-dtype-torch.bfloat16"),
    ("BatchNorm2d(64, momentum=None)", "parameters-batchnorm2d-64-momentum-none"),
    ("Bilinear(10, 20, 30)", "parameters-bilinear-10-20-out-features-30"),
    ("LayerNorm((768,))", "parameters-layernorm-768x"),
    ("Conv1d(1, 1, (3,))", "parameters-conv1d-1-1-kernel-3x"),
    ("resnet50()", "parameters-resnet50"),
    ("vit_b_16(image_size=384)", "parameters-vit-b-16-image-size-384"),
    ("resnext50_32x4d(num_classes=10)", "parameters-resnext50-32x4d-num-classes-10"),
]


@pytest.mark.parametrize(("expression", "slug"), EXAMPLES)
def test_slug_examples(expression: str, slug: str) -> None:
    call = paramcount.count(expression).report().expression
    assert not isinstance(call, str)
    assert expression_text(call) == expression  # the examples are canonical
    assert slug_for(expression) == slug
    assert query_for(slug) == expression
    assert slug_for(expression, call) == slug  # encoded from the call the text was written from: the same slug
    assert slugs_by_query([call]) == {expression: slug}


def test_a_call_gets_no_slug_for_another_text() -> None:
    """A slug is handed out only when it decodes to exactly the text asked about, whatever call came with it."""
    call = paramcount.count("Linear(2, 4)").report().expression
    assert not isinstance(call, str)
    assert slug_for("Linear(2, 3)", call) is None
    assert "Linear(2, 3)" not in slugs_by_query([call])


def test_hub_slugs() -> None:
    assert hub_slug("meta-llama/Llama-3.1-8B") == "parameters-meta-llama-llama-3.1-8b"
    assert hub_slug("llama-3.1-8b") == "parameters-meta-llama-llama-3.1-8b"  # the id without its organisation
    assert query_for("parameters-meta-llama-llama-3.1-8b") == "meta-llama/Llama-3.1-8B"
    assert hub_slug("not/shipped") is None


def test_every_shipped_hub_id_has_its_own_slug() -> None:
    hub_ids = sorted(set(shipped_hub_ids()))
    slugs = {hub_slug(hub_id) for hub_id in hub_ids}
    assert len(slugs) == len(hub_ids)
    for hub_id in hub_ids:
        slug = hub_slug(hub_id)
        assert slug is not None
        assert SLUG_CHARACTERS.fullmatch(slug)
        assert query_for(slug) == hub_id


def test_zoo_and_hub_slugs_are_disjoint() -> None:
    zoo = {slug_for(f"{name}()") for name in known_models()}
    hubs = {hub_slug(hub_id) for hub_id in shipped_hub_ids()}
    assert None not in zoo
    assert zoo.isdisjoint(hubs)


@pytest.mark.parametrize(
    "expression",
    [
        "Sequential(Linear(2, 3), ReLU())",
        "Linear(2, 3).requires_grad_(False)",
        "Linear(2, 3).to(torch.float16)",
        "Conv2d(3, 3, 3, padding_mode='Zeros')",
        "not an expression (",
    ],
)
def test_slug_absent_when_the_grammar_cannot_say_it(expression: str) -> None:
    assert slug_for(expression) is None
    with contextlib.suppress(paramcount.ParamcountError):
        call = paramcount.count(expression).report().expression
        assert not isinstance(call, str)
        assert slug_for(expression_text(call), call) is None
        assert slugs_by_query([call]) == {}


@pytest.mark.parametrize(
    ("slug", "query"),
    [
        ("parameters-conv2d-256-512-3", "Conv2d(256, 512, 3)"),  # all positionals bare: read, then redirected
        ("parameters-conv2d-256-512-kernel-3-stride-1", "Conv2d(256, 512, 3, stride=1)"),
        ("parameters-conv2d-256-512-kernel-size-3", "Conv2d(256, 512, 3)"),
        ("parameters-lstm-512-1024-bidirectional-true", "LSTM(512, 1024, bidirectional=True)"),
        ("parameters-linear-4096-4096-bias-false", "Linear(4096, 4096, bias=False)"),
    ],
)
def test_non_canonical_slugs_still_decode(slug: str, query: str) -> None:
    assert query_for(slug) == query


@pytest.mark.parametrize(
    "slug",
    [
        "parameters-",
        "parameters-nosuchlayer-1-2",
        "parameters-conv2d-256--512",
        "parameters-conv2d-256-512-",
        "parameters-conv2d-256-512-kernel",  # a label with no value is True, and kernel_size=True ...
        "parameters-conv2d-256-512-stride-1-stride-2",
        "parameters-conv2d-256-512-unknown-3",
        "parameters-linear-1-2-no",
        "parameters-linear-minus",
        "parameters-linear-minus-2x2",
        "parameters-../../etc/passwd",
        "conv2d-256-512-kernel-3",
        "parameters-" + "1-" * 200,
    ],
)
def test_bad_slugs(slug: str) -> None:
    query = query_for(slug)
    if query is not None:  # decodable but wrong: the library refuses it with its own message
        with pytest.raises(paramcount.ParamcountError):
            paramcount.count(query)


def test_curated_queries_are_canonical() -> None:
    """The sitemap computes slugs without counting, which is right only if the texts are canonical."""
    for query in TYPICAL:
        assert expression_text(paramcount.count(query).report().expression) == query
    questions = curated()
    assert len({question.slug for question in questions}) == len(questions)
    for question in questions:
        target = target_for(question.slug)
        assert target is not None
        assert target.query == question.query


# ---- round trip for generated layer configurations

SIZES = st.integers(min_value=1, max_value=4096)
SMALL = st.integers(min_value=1, max_value=16)
FLAGS = st.booleans()
EPS = st.sampled_from([1e-5, 1e-6, 1e-12, 0.001]) | st.floats(min_value=1e-12, max_value=1.0)


@st.composite
def convolutions(draw: st.DrawFn) -> str:
    dims = draw(st.sampled_from([1, 2, 3]))
    transposed = draw(st.booleans())
    groups = draw(SMALL)
    kernel: object = draw(SMALL) if draw(FLAGS) else tuple(draw(st.lists(SMALL, min_size=dims, max_size=dims)))
    arguments = [str(groups * draw(SMALL)), str(groups * draw(SMALL)), repr(kernel)]
    if draw(FLAGS):
        arguments.append(f"stride={draw(SMALL)}")
    if draw(FLAGS):
        arguments.append(f"dilation={draw(SMALL)}")
    if groups > 1:
        arguments.append(f"groups={groups}")
    if draw(FLAGS):
        arguments.append(f"bias={draw(FLAGS)}")
    if not transposed and draw(FLAGS):
        arguments.append(f"padding_mode={draw(st.sampled_from(['zeros', 'reflect', 'replicate', 'circular']))!r}")
    return f"{'ConvTranspose' if transposed else 'Conv'}{dims}d({', '.join(arguments)})"


@st.composite
def recurrents(draw: st.DrawFn) -> str:
    kind = draw(st.sampled_from(["RNN", "LSTM", "GRU"]))
    hidden = draw(SIZES)
    arguments = [str(draw(SIZES)), str(hidden)]
    for name, value in [
        ("num_layers", draw(SMALL)),
        ("bias", draw(FLAGS)),
        ("batch_first", draw(FLAGS)),
        ("dropout", draw(st.sampled_from([0.0, 0.1, 0.5]))),
        ("bidirectional", draw(FLAGS)),
    ]:
        if draw(FLAGS):
            arguments.append(f"{name}={value!r}")
    if kind == "LSTM" and hidden > 1 and draw(FLAGS):
        arguments.append(f"proj_size={draw(st.integers(min_value=1, max_value=hidden - 1))}")
    if kind == "RNN" and draw(FLAGS):
        arguments.append("nonlinearity='relu'")
    return f"{kind}({', '.join(arguments)})"


@st.composite
def others(draw: st.DrawFn) -> str:
    choice = draw(st.sampled_from(["Linear", "Embedding", "MultiheadAttention", "LayerNorm", "BatchNorm", "zoo"]))
    if choice == "Linear":
        return f"Linear({draw(SIZES)}, {draw(SIZES)}, bias={draw(FLAGS)})"
    if choice == "Embedding":
        count = draw(SIZES)
        padding = draw(st.none() | st.integers(min_value=-count, max_value=count - 1))
        return f"Embedding({count}, {draw(SIZES)}, padding_idx={padding})"
    if choice == "MultiheadAttention":
        heads = draw(SMALL)
        kdim = draw(st.none() | SIZES)
        return f"MultiheadAttention({heads * draw(SMALL)}, {heads}, bias={draw(FLAGS)}, kdim={kdim}, vdim={kdim})"
    if choice == "LayerNorm":
        shape = draw(SIZES) if draw(FLAGS) else (draw(SIZES), draw(SIZES))
        return f"LayerNorm({shape!r}, eps={draw(EPS)!r}, elementwise_affine={draw(FLAGS)})"
    if choice == "BatchNorm":
        momentum = draw(st.none() | st.sampled_from([0.1, 0.01]))
        flags = f"affine={draw(FLAGS)}, track_running_stats={draw(FLAGS)}"
        return f"BatchNorm{draw(st.sampled_from([1, 2, 3]))}d({draw(SIZES)}, momentum={momentum}, {flags})"
    model = draw(st.sampled_from(["resnet18", "vgg11_bn", "mobilenet_v2", "alexnet"]))
    return f"{model}(num_classes={draw(SIZES)})"


@given(text=convolutions() | recurrents() | others())
def test_slug_round_trip(text: str) -> None:
    try:
        report = paramcount.count(text).report()
    except paramcount.ArgumentError:
        reject()
    assert not isinstance(report.expression, str)
    expression = expression_text(report.expression)
    slug = slug_for(expression)
    assert slug is not None, expression
    assert slug_for(expression, report.expression) == slug
    assert SLUG_CHARACTERS.fullmatch(slug)
    assert query_for(slug) == expression
    assert expression_text(paramcount.count(query_for(slug) or "").report().expression) == expression


@given(slug=st.text(max_size=80) | st.text(alphabet="abcdelinrstx0123456789-.", max_size=60).map("parameters-".__add__))
def test_decoding_never_raises(slug: str) -> None:
    query = query_for(slug)
    if query is not None:
        with contextlib.suppress(paramcount.ParamcountError):
            paramcount.count(query)
