"""The torchvision oracle: the zoo's reference models, built on the meta device (no weights allocated).

torchvision's PyPI wheel is a CUDA build whose C operators do not load beside the CPU torch of the tests; its
model builders are pure Python and work once ``torchvision._meta_registrations`` (which registers meta kernels
for those C operators at import) is kept from importing. Nothing here uses a torchvision C operator.
``tests/conftest.py`` does this first, because transformers imports torchvision whenever it is installed.
"""

from __future__ import annotations

import sys
import types

TYPE_CHECKING = False
if TYPE_CHECKING:
    import torch


def keep_torchvision_ops_out() -> None:
    """Stand an empty module in for ``torchvision._meta_registrations``, so that ``import torchvision`` (by a
    test, or by transformers, which imports it whenever it is installed) does not fail on the missing C ops."""
    sys.modules.setdefault("torchvision._meta_registrations", types.ModuleType("torchvision._meta_registrations"))


def torchvision_model(name: str, **keywords: object) -> torch.nn.Module:
    """``torchvision.models.<name>(**keywords)`` on the meta device, in eval mode. GoogLeNet's and Inception
    v3's notice that their default initialisation will change (a FutureWarning when ``init_weights`` is left
    out) is silenced: initialisation changes no name or shape. RegNet's ``BlockParams.from_init_params``
    computes the stage widths with torch tensors and ``.tolist()``, which meta tensors cannot give, so it runs
    on the CPU."""
    keep_torchvision_ops_out()
    import warnings
    from unittest import mock

    import torch
    import torchvision
    from torchvision.models import regnet

    from_init_params = regnet.BlockParams.from_init_params.__func__  # type: ignore[attr-defined]

    def on_cpu(cls: type, /, *args: object, **kwargs: object) -> object:
        with torch.device("cpu"):
            return from_init_params(cls, *args, **kwargs)

    with (
        mock.patch.object(regnet.BlockParams, "from_init_params", classmethod(on_cpu)),
        torch.device("meta"),
        warnings.catch_warnings(),
    ):
        warnings.filterwarnings("ignore", "The default weight initialization", FutureWarning)
        model: torch.nn.Module = getattr(torchvision.models, name)(**keywords)
    return model.eval()
