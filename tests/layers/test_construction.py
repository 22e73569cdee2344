"""What builds a module again, as data: the catalog decides the arguments and the sharing, render writes
them (the text is checked against torch by tests/render/test_code.py)."""

from __future__ import annotations

import paramcount
from paramcount.calls import Call, Construction, Container, Name, NewTensor, Repeated
from paramcount.layers.construction import call_of, construction_of


def test_call_keeps_required_arguments_positional_and_others_only_when_not_default() -> None:
    call = call_of(paramcount.parse("nn.Conv2d(256, 512, kernel_size=3, stride=1, bias=False)"))
    assert call == Call("Conv2d", (256, 512, 3), (("bias", False),))


def test_call_records_a_cast_and_frozen_parameters() -> None:
    call = call_of(paramcount.parse("nn.Linear(4, 4).to(torch.float16).requires_grad_(False)"))
    assert call == Call("Linear", (4, 4), cast="float16", frozen=True)


def test_one_object_used_four_times_is_assigned_once() -> None:
    # torch holds one Linear four times and counts 64·64 + 64 = 4,160 parameters, not four times that
    construction = construction_of(paramcount.parse("nn.Sequential(*[nn.Linear(64, 64)] * 4)"))
    linear = Call("Linear", (64, 64))
    assert construction == Construction(
        (("linear", linear),), Container("Sequential", (("0", Repeated(Name("linear"), 4)),))
    )
    assert call_of(paramcount.parse("nn.Sequential(*[nn.Linear(64, 64)] * 4)")) == Container(
        "Sequential", tuple((str(index), linear) for index in range(4))
    )


def test_one_parameter_held_twice_is_repeated() -> None:
    construction = construction_of(paramcount.parse("nn.ParameterList([nn.Parameter(torch.randn(3))] * 2)"))
    parameter = NewTensor("randn", (3,), parameter=True)
    assert construction == Construction(
        (("parameter", parameter),), Call("ParameterList", keywords=(("values", (Repeated(Name("parameter"), 2),)),))
    )
