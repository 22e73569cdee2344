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


def saved_bytes(name: str, shape: tuple[int, ...], classes: int = 1000, *, half: bool = False) -> int:
    """Bytes of the distinct storages autograd saves in one training forward of ``torchvision.models.<name>()``
    on a random ``shape`` input, with the cross-entropy loss on its logits; parameters and buffers aside.

    The model is built on meta, moved to the CPU with ``to_empty`` (no initialisation cost) and given small
    random weights (what is saved does not depend on the values); ``half``: the model and input in bfloat16."""
    import torch

    model = torchvision_model(name).to_empty(device="cpu").train()
    generator = torch.Generator().manual_seed(sum(shape))
    with torch.no_grad():
        for tensor in (*model.parameters(), *model.buffers()):
            if tensor.is_floating_point():
                tensor.normal_(0, 0.02, generator=generator)
    for module in model.modules():  # Swin's integer index buffers, which normal_ does not fill
        define = getattr(module, "define_relative_position_index", None)
        if callable(define):
            define()
    if half:
        model.bfloat16()
    image = torch.randn(shape, generator=generator).to(torch.bfloat16 if half else torch.float32)
    held = {tensor.untyped_storage().data_ptr() for tensor in (*model.parameters(), *model.buffers())}
    seen: dict[int, int] = {}

    def pack(tensor: torch.Tensor) -> torch.Tensor:
        storage = tensor.untyped_storage()
        if storage.data_ptr() not in held:
            seen.setdefault(storage.data_ptr(), storage.nbytes())
        return tensor

    labels = torch.randint(0, classes, shape[:1], generator=generator)
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda tensor: tensor):
        torch.nn.functional.cross_entropy(model(image), labels)
    return sum(seen.values())
