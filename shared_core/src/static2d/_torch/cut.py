"""Cutting a Hugging Face transformer to its first `layers` layers, and loading it quietly (torch imported lazily)."""

from __future__ import annotations

import contextlib
import gc
import importlib
from collections.abc import Iterator
from typing import Any

from static2d._extras import install_hint

# Where each encoder family keeps its list of layers, relative to the Hugging Face base model.
# BERT / RoBERTa / XLM-R / MPNet / E5 / BGE: encoder.layer; DistilBERT: transformer.layer; ModernBERT: layers.
_LAYER_PATHS = (("encoder", "layer"), ("transformer", "layer"), ("layers",), ("encoder", "layers"), ("layer",))


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


@contextlib.contextmanager
def quiet_transformers() -> Iterator[None]:
    """Load without transformers' per-load progress bar and load report (kept for errors only)."""
    hf_logging: Any = importlib.import_module("transformers.utils.logging")  # untyped in places
    verbosity, bars = hf_logging.get_verbosity(), hf_logging.is_progress_bar_enabled()
    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        hf_logging.set_verbosity(verbosity)
        if bars:
            hf_logging.enable_progress_bar()


def find_layer_list(auto_model: Any) -> tuple[Any, str]:  # noqa: ANN401 - any torch module
    """Return (parent module, attribute name) of the model's list of transformer layers."""
    import torch

    for path in _LAYER_PATHS:
        parent = auto_model
        for attr in path[:-1]:
            parent = getattr(parent, attr, None)
        if parent is not None and isinstance(getattr(parent, path[-1], None), torch.nn.ModuleList):
            return parent, path[-1]
    arch = type(auto_model).__name__
    msg = (
        f"Cannot cut layers of a {arch}: static2d finds the layer list at encoder.layer (BERT, RoBERTa, XLM-R), "
        f"transformer.layer (DistilBERT) or layers (ModernBERT), and {arch} has none of them. Load it without "
        "`layers` to use all of its layers."
    )
    raise ValueError(msg)


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
