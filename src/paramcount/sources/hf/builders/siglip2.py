"""SigLIP 2 (``siglip2``) and its standalone towers.

Mirrors ``transformers`` 5.24 (``models/siglip2/modeling_siglip2.py``), checked against it on the meta device.
SigLIP 2 keeps SigLIP's text tower, encoder layers, attention-pooling head and logit scale and bias (built here by
SigLIP's builder, its classes renamed ``Siglip2…``); only the vision embeddings differ, for images of any aspect
ratio: the patch embedding is an ``nn.Linear`` over ``num_channels·patch_size²`` flattened pixels, and the
learned position table has ``num_patches`` rows (256 by default), resized to the patch grid in ``forward``, with
no ``position_ids`` buffer.
"""

from __future__ import annotations

from paramcount._record import replace
from paramcount.sources.hf._config import Config
from paramcount.sources.hf.builders._common import embedding, linear, module, path_dim
from paramcount.sources.hf.builders.vision import _siglip_text, _siglip_vision, register_siglip
from paramcount.tree import Module

__all__: list[str] = []


def _renamed(tree: Module) -> Module:
    """SigLIP's modules under SigLIP 2's class names (``SiglipMLP`` → ``Siglip2MLP``)."""
    kind = f"Siglip2{tree.kind.removeprefix('Siglip')}" if tree.kind.startswith("Siglip") else tree.kind
    return replace(tree, kind=kind, children=tuple(_renamed(child) for child in tree.children))


def _vision(config: Config, name: str) -> Module:
    """``Siglip2VisionModel``: SigLIP's vision tower with ``Siglip2VisionEmbeddings``."""
    hidden = path_dim(config, "hidden_size")
    patch = path_dim(config, "patch_size")
    pixels = path_dim(config, "num_channels") * patch * patch
    embeddings = module(
        "embeddings",
        "Siglip2VisionEmbeddings",
        linear("patch_embedding", pixels, hidden, bias=True),
        embedding("position_embedding", path_dim(config, "num_patches"), hidden),
    )
    # SigLIP's tower sizes its (replaced) position table from image_size, which SigLIP 2 does not have: one patch.
    sized = Config({**config.data, "image_size": patch.value}, config.model_type, config.source, config.prefix)
    tower = _renamed(_siglip_vision(sized, name))
    return replace(tower, children=(embeddings, *tower.children[1:]))


def _text(config: Config, name: str) -> Module:
    """``Siglip2TextModel``: SigLIP's text tower under SigLIP 2's class names."""
    return _renamed(_siglip_text(config, name))


register_siglip("Siglip2", _text, _vision)
