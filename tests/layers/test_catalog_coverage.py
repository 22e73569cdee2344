from __future__ import annotations

import torch

from paramcount.layers import known_layers

_LAZY = "parameters stay uninitialised until the first forward, so the constructor does not fix their shapes"

EXCLUDED: dict[str, str] = {
    "Module": "the base class: a bare Module holds nothing, and subclasses are user code",
    "Container": "deprecated base class (use Sequential)",
    "DataParallel": "a multi-GPU wrapper that needs CUDA to construct; count the module it wraps",
    **{f"Lazy{kind}{n}d": _LAZY for kind in ("Conv", "ConvTranspose", "BatchNorm", "InstanceNorm") for n in (1, 2, 3)},
    "LazyLinear": _LAZY,
}


def _torch_modules() -> set[str]:
    return {
        name
        for name, value in vars(torch.nn).items()
        if not name.startswith("_") and isinstance(value, type) and issubclass(value, torch.nn.Module)
    }


def test_every_torch_module_is_in_the_catalog_or_excluded() -> None:
    missing = _torch_modules() - set(known_layers()) - set(EXCLUDED)
    assert not missing, f"neither in the catalog nor excluded: {sorted(missing)}"


def test_exclusions_are_real_and_not_in_the_catalog() -> None:
    assert set(EXCLUDED) <= _torch_modules()
    assert not set(EXCLUDED) & set(known_layers())
