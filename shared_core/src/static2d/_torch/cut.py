"""Cutting a Hugging Face transformer to its first `layers` layers, and loading it quietly (torch imported lazily)."""

from __future__ import annotations

import gc
from typing import Any

from static2d._extras import install_hint
from static2d._model.weights import find_layer_list


def import_sentence_transformers() -> Any:  # noqa: ANN401 - the module object
    try:
        import sentence_transformers
    except ImportError:
        msg = (
            "This model is a transformer; running it needs torch and sentence-transformers, which are not installed. "
            f"Install the extra: {install_hint('transformers')} (static models need neither)."
        )
        raise ImportError(msg) from None
    return sentence_transformers


def truncate_layers(auto_model: Any, layers: int) -> None:  # noqa: ANN401 - any torch module
    """Keep the first `layers` transformer layers and drop the others from the module (and from memory)."""
    import torch

    parent, attr = find_layer_list(auto_model)
    kept = torch.nn.ModuleList(list(getattr(parent, attr))[:layers])
    setattr(parent, attr, kept)
    config = getattr(auto_model, "config", None)
    if config is not None:
        config.num_hidden_layers = layers
        layer_types = getattr(config, "layer_types", None)
        if isinstance(layer_types, list):
            config.layer_types = layer_types[:layers]
    gc.collect()
