"""Exporting a transformer cut to its first `layers` layers as an ONNX graph: torch, once per model and depth.

The graph is checked against torch on a batch of another shape than the one traced; an architecture whose graph
does not generalise is refused with `OnnxUnsupportedError` (backend="auto" then runs torch).
"""

from __future__ import annotations

import importlib.util
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from static2d._extras import install_hint
from static2d._model.describe import TransformerDescription
from static2d._model.weights import check_transformer_weights, quiet_transformers
from static2d._onnx.cache import OPSET, cache_root, disk_full
from static2d._onnx.runtime import OnnxUnsupportedError, batch_arrays, output_name, pad_id, transformer_tokenizer
from static2d._torch.cut import truncate_layers
from static2d._torch.tap import SELF_CHECK_ATOL, LayerTap

_TOOLS = ("torch", "transformers", "onnx")


def can_export() -> bool:
    """Whether torch, transformers and onnx are installed (without importing them)."""
    return all(importlib.util.find_spec(m) is not None for m in _TOOLS)


def require_export_tools(name: str) -> None:
    """Raise an ImportError naming the extra when torch, transformers or onnx is missing."""
    missing = [m for m in _TOOLS if importlib.util.find_spec(m) is None]
    if missing:
        msg = (
            f"No cut ONNX model of {name!r} at these layers is cached ({cache_root()}), and exporting one needs "
            f"{', '.join(missing)}, which {'is' if len(missing) == 1 else 'are'} not installed. Install them once "
            f"with {install_hint('onnx-export')} (later loads then need onnxruntime only), or use backend='torch'."
        )
        raise ImportError(msg)


def builder(
    description: TransformerDescription, layers: int, *, trust_remote_code: bool
) -> Callable[[Path], tuple[list[str], dict[str, Any]]]:
    """What writes the graph of `description` cut to `layers` into a cache folder (`static2d._onnx.load.Build`)."""

    def build(dest: Path) -> tuple[list[str], dict[str, Any]]:
        require_export_tools(description.name)
        # before anything is exported or cached: weights that do not fit would export random layers
        tf_dir = description.pipeline.tf_dir
        check_transformer_weights(tf_dir, description.name, layers, trust_remote_code=trust_remote_code)
        return export(description, layers, dest, trust_remote_code=trust_remote_code), {}

    return build


def export(description: TransformerDescription, layers: int, dest: Path, *, trust_remote_code: bool) -> list[str]:
    """Export the Hugging Face model cut to `layers` to `dest` (dynamic batch and sequence), and check it.

    The graph's output (last_hidden_state) is compared with torch's on a batch of another shape than the one
    traced; an architecture whose graph does not generalise is refused with OnnxUnsupportedError.
    """
    import inspect

    import torch
    from transformers import AutoModel

    pipeline = description.pipeline
    try:
        with quiet_transformers():
            model = AutoModel.from_pretrained(
                str(pipeline.tf_dir),
                use_safetensors=True,
                local_files_only=True,
                trust_remote_code=trust_remote_code,
                attn_implementation="eager",
                dtype=torch.float32,
            )
    except (ValueError, TypeError) as e:
        msg = (
            f"Cannot load {description.name!r} ({description.architecture}) for ONNX export: {e}. Use backend='torch'."
        )
        raise OnnxUnsupportedError(msg) from e
    model.eval()
    if description.max_layers is not None and 0 < layers < description.max_layers:
        truncate_layers(model, layers)
    accepted = inspect.signature(model.forward).parameters
    inputs = [n for n in ("input_ids", "attention_mask", "token_type_ids") if n in accepted]
    if inputs[:2] != ["input_ids", "attention_mask"]:
        msg = f"{description.architecture} takes no input_ids / attention_mask; backend='onnx' cannot run it."
        raise OnnxUnsupportedError(msg)

    tokenizer = transformer_tokenizer(pipeline)
    pad = pad_id(pipeline, tokenizer)
    traced = _sample(tokenizer, ["a panda eats bamboo in the forest", "hello"], inputs, pad)
    check = _sample(tokenizer, ["the river bank", "x", "what is the capital city of a country? " * 3], inputs, pad)
    with torch.no_grad(), LayerTap(model) as tap:
        expected = model(**{k: torch.from_numpy(v) for k, v in check.items()}).last_hidden_state
        # Each shallower layer's output too, finished as a model cut there finishes it (encode_grid reads them;
        # encode fetches last_hidden_state alone), when the model's output is known from its last layer's.
        extra = list(range(1, len(tap.layers))) if tap.error(expected) <= SELF_CHECK_ATOL else []
        expected = expected.numpy()
        outputs = ["last_hidden_state", *(output_name(d, len(tap.layers)) for d in extra)]
        dynamic = {n: {0: "batch", 1: "sequence"} for n in [*inputs, *outputs]}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # tracer and deprecation warnings, about torch's code, not ours
            try:
                torch.onnx.export(
                    tap.module(model, inputs, extra),
                    tuple(torch.from_numpy(traced[n]) for n in inputs),
                    str(dest),
                    input_names=inputs,
                    output_names=outputs,
                    dynamic_axes=dynamic,
                    opset_version=OPSET,
                    do_constant_folding=True,
                    dynamo=False,
                )
            except Exception as e:  # the exporter raises many kinds; all mean the same here, but a full disk
                if disk_full(e):
                    raise  # the cache says so (static2d._onnx.cache.CacheFullError), not "cannot export"
                msg = f"torch cannot export {description.architecture} to ONNX: {e}. Use backend='torch'."
                raise OnnxUnsupportedError(msg) from e
    import onnxruntime

    try:
        session = onnxruntime.InferenceSession(str(dest), providers=["CPUExecutionProvider"])
        got = session.run(["last_hidden_state"], check)[0]
    except Exception as e:  # onnxruntime's errors have no common base but Exception
        msg = (
            f"The ONNX export of {description.architecture} does not run on inputs of another shape than the traced "
            f"one ({e}). static2d cannot run it on ONNX Runtime: use backend='torch'."
        )
        raise OnnxUnsupportedError(msg) from e
    mask = check["attention_mask"][:, :, None].astype(bool)
    error = float(np.abs(np.where(mask, got - expected, 0)).max())
    if not error <= 1e-3 * max(1.0, float(np.abs(expected).max())):
        msg = (
            f"The ONNX export of {description.architecture} does not reproduce torch on inputs of another shape than "
            f"the traced one (max difference {error:.3g}): its graph depends on the traced shape, so static2d "
            "cannot run it on ONNX Runtime. Use backend='torch'."
        )
        raise OnnxUnsupportedError(msg)
    return inputs


def _sample(tokenizer: Any, texts: list[str], inputs: list[str], pad: int) -> dict[str, Any]:  # noqa: ANN401
    encodings = tokenizer.encode_batch(texts)
    arrays = batch_arrays(encodings, range(len(encodings)), pad)
    return {k: arrays[k] for k in inputs}
