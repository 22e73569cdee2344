from __future__ import annotations

import re
from typing import Any

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from oracle import assert_matches_torch, assert_signature_matches, our_tensors, torch_tensors
from paramcount.errors import ArgumentError
from paramcount.layers import build
from paramcount.tree import Module, Ref, iter_modules, iter_params, parameter_count

TYPE_CHECKING = False
if TYPE_CHECKING:
    from paramcount.tree import Value

# TransformerEncoder warns (does not refuse) when its nested-tensor fast path cannot be used.
nested_tensor_warning = pytest.mark.filterwarnings("ignore:enable_nested_tensor is True:UserWarning")

GELU = Ref("torch.nn.functional.gelu")
activations: st.SearchStrategy[Value] = st.sampled_from(["relu", "gelu", GELU, Ref("torch.nn.functional.relu")])


@st.composite
def layer_keywords(draw: st.DrawFn) -> dict[str, Value]:
    """A random valid TransformerEncoderLayer / TransformerDecoderLayer configuration (sizes ≤ 32)."""
    nhead = draw(st.integers(1, 4))
    return {
        "d_model": nhead * draw(st.integers(1, 8)),
        "nhead": nhead,
        "dim_feedforward": draw(st.integers(0, 32)),
        "dropout": draw(st.sampled_from([0.0, 0.1, 1.0])),
        "activation": draw(activations),
        "layer_norm_eps": draw(st.sampled_from([1e-5, 1e-6])),
        "batch_first": draw(st.booleans()),
        "norm_first": draw(st.booleans()),
        "bias": draw(st.booleans()),
    }


def torch_keywords(keywords: dict[str, Value]) -> dict[str, Any]:
    return {
        name: getattr(torch.nn.functional, value.path.rsplit(".", 1)[1]) if isinstance(value, Ref) else value
        for name, value in keywords.items()
    }


def assert_same_tensors(ours: Module, theirs: torch.nn.Module) -> None:
    """Names, shapes, trainability, buffers and total as the oracle checks them, plus torch's order."""
    assert our_tensors(ours) == torch_tensors(theirs)
    assert [name for name, _ in iter_params(ours)] == [name for name, _ in theirs.named_parameters()]
    assert parameter_count(ours) == sum(p.numel() for p in theirs.parameters())


@settings(max_examples=25)
@pytest.mark.parametrize("kind", ["TransformerEncoderLayer", "TransformerDecoderLayer"])
@given(keywords=layer_keywords())
def test_layer_matches_torch(kind: str, keywords: dict[str, Value]) -> None:
    assert_matches_torch(kind, (), keywords)
    with torch.device("meta"):
        theirs = getattr(torch.nn, kind)(**torch_keywords(keywords))
    assert_same_tensors(build(kind, (), list(keywords.items())), theirs)


# Values torch refuses, per argument; each example corrupts at most one argument of a valid configuration.
REFUSED: dict[str, list[Value]] = {
    "d_model": [0, -4, 7],  # 7 is divisible only by nhead 1 and 7
    "nhead": [0, -1, 3],
    "dim_feedforward": [-1],
    "dropout": [-0.1, 1.5, "0.1"],
    "activation": ["tanh", "GELU"],
}


@st.composite
def maybe_refused(draw: st.DrawFn) -> dict[str, Value]:
    keywords = draw(layer_keywords())
    corrupt = draw(st.sampled_from([None, *REFUSED]))
    if corrupt is not None:
        keywords[corrupt] = draw(st.sampled_from(REFUSED[corrupt]))
    return keywords


@pytest.mark.parametrize("kind", ["TransformerEncoderLayer", "TransformerDecoderLayer"])
@given(keywords=maybe_refused())
def test_layer_rejects_what_torch_rejects(kind: str, keywords: dict[str, Value]) -> None:
    assert_matches_torch(kind, (), keywords)


@pytest.mark.parametrize("kind", ["TransformerEncoderLayer", "TransformerDecoderLayer"])
def test_module_activation_is_a_child(kind: str) -> None:
    # A Module activation is registered as the last child "activation" (here one with parameters).
    ours = build(kind, (8, 2, 16), [("activation", build("Linear", (16, 16)))])
    with torch.device("meta"):
        theirs = getattr(torch.nn, kind)(8, 2, 16, activation=torch.nn.Linear(16, 16))
    assert_same_tensors(ours, theirs)
    assert ours.children[-1].name == "activation"


@settings(max_examples=20)
@nested_tensor_warning
@pytest.mark.parametrize("side", ["Encoder", "Decoder"])
@given(
    keywords=layer_keywords(),
    num_layers=st.integers(-1, 3),
    with_norm=st.booleans(),
    nested=st.booleans(),
)
def test_stack_matches_torch(
    side: str, keywords: dict[str, Value], num_layers: int, with_norm: bool, nested: bool
) -> None:
    # range(num_layers) is empty for num_layers <= 0: torch builds an empty ModuleList, and so do we.
    d_model = keywords["d_model"]
    extra: dict[str, Value] = {"enable_nested_tensor": nested} if side == "Encoder" else {}
    ours = build(
        f"Transformer{side}",
        (build(f"Transformer{side}Layer", (), list(keywords.items())), num_layers),
        [("norm", build("LayerNorm", (d_model,)) if with_norm else None), *extra.items()],
    )
    with torch.device("meta"):
        one = getattr(torch.nn, f"Transformer{side}Layer")(**torch_keywords(keywords))
        norm = torch.nn.LayerNorm(d_model) if with_norm else None
        theirs = getattr(torch.nn, f"Transformer{side}")(one, num_layers, norm, **extra)
    assert_same_tensors(ours, theirs)


@settings(max_examples=20)
@nested_tensor_warning
@given(
    keywords=layer_keywords(),
    encoders=st.integers(0, 2),
    decoders=st.integers(0, 2),
)
def test_transformer_matches_torch(keywords: dict[str, Value], encoders: int, decoders: int) -> None:
    keywords.update(num_encoder_layers=encoders, num_decoder_layers=decoders)
    assert_matches_torch("Transformer", (), keywords)
    with torch.device("meta"):
        theirs = torch.nn.Transformer(**torch_keywords(keywords))
    assert_same_tensors(build("Transformer", (), list(keywords.items())), theirs)


@settings(max_examples=30)
@nested_tensor_warning
@given(keywords=maybe_refused(), encoders=st.integers(-1, 1))
def test_transformer_rejects_what_torch_rejects(keywords: dict[str, Value], encoders: int) -> None:
    # num_encoder_layers <= 0 builds an empty stack (range(num_layers)); torch accepts it.
    keywords.update(num_encoder_layers=encoders, num_decoder_layers=1)
    assert_matches_torch("Transformer", (), keywords)


@nested_tensor_warning
@pytest.mark.parametrize("custom", ["custom_encoder", "custom_decoder"])
def test_transformer_custom_side(custom: str) -> None:
    # The custom module becomes the child "encoder"/"decoder" whatever its kind; the other side is built.
    ours = build("Transformer", (16, 2, 1, 1, 8), [(custom, build("Linear", (16, 4)))])
    with torch.device("meta"):
        custom_module: dict[str, Any] = {custom: torch.nn.Linear(16, 4)}
        theirs = torch.nn.Transformer(16, 2, 1, 1, 8, **custom_module)
    assert_same_tensors(ours, theirs)


def test_transformer_default_hand_derived() -> None:
    # nn.Transformer(): d = 512, f = 2048, 6 encoder and 6 decoder layers, bias everywhere.
    # attention block: 4·d² + 4·d = 1,050,624; feed-forward: 2·d·f + f + d = 2,099,712; LayerNorm: 2·d = 1,024
    # encoder layer: 1,050,624 + 2,099,712 + 2·1,024 = 3,152,384
    # decoder layer: 2·1,050,624 + 2,099,712 + 3·1,024 = 4,204,032
    # total: 6·3,152,384 + 1,024 + 6·4,204,032 + 1,024 = 44,140,544
    module = build("Transformer")
    assert parameter_count(module) == 44_140_544
    paths = [path for path, _ in iter_modules(module)]
    assert "encoder.layers.5.self_attn.out_proj" in paths
    assert "decoder.layers.0.multihead_attn" in paths
    assert "decoder.norm" in paths
    layers = module.children[0].children[0]
    assert (layers.kind, layers.children[0].name, layers.children[0].repeat) == ("ModuleList", "0", 6)


@pytest.mark.parametrize(
    "kind",
    [
        "TransformerEncoderLayer",
        "TransformerDecoderLayer",
        "TransformerEncoder",
        "TransformerDecoder",
        "Transformer",
    ],
)
def test_signature_is_torchs(kind: str) -> None:
    assert_signature_matches(kind)


def test_activation_message() -> None:
    message = "TransformerEncoderLayer: activation must be one of 'relu', 'gelu', got 'tanh'"
    with pytest.raises(ArgumentError, match=re.escape(message)) as info:
        build("TransformerEncoderLayer", (8, 2), [("activation", "tanh")])
    assert info.value.argument == "activation"


def test_divisibility_message_names_transformer_arguments() -> None:
    message = "Transformer: d_model must be divisible by nhead (d_model=10, nhead=4)"
    with pytest.raises(ArgumentError, match=re.escape(message)) as info:
        build("Transformer", (10, 4))
    assert info.value.argument == "nhead"


def test_encoder_needs_a_module() -> None:
    with pytest.raises(ArgumentError, match=re.escape("TransformerEncoder: encoder_layer must be a module")):
        build("TransformerEncoder", (3, 2))
