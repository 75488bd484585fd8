"""Assembling the ONNX engine: whether ONNX Runtime can run a transformer, and its graph from the cache or built.

The graph is built (by the caller's `build`: `static2d._export.onnx.builder`, with torch) only when it is not
cached yet; a cached graph runs with onnxruntime, tokenizers and numpy alone. Nothing here imports torch.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from static2d._extras import install_hint
from static2d._model.describe import TransformerDescription
from static2d._onnx.cache import CutModel, get_or_build, source_of
from static2d._onnx.head import dense_refusal
from static2d._onnx.quantize import quantized
from static2d._onnx.runtime import OnnxEngine, OnnxUnsupportedError
from static2d._options import Options


def onnx_refusal(description: TransformerDescription) -> str | None:
    """Why ONNX Runtime cannot run this transformer, from its description alone (None: it can try)."""
    pipeline = description.pipeline
    if pipeline.first_module != "Transformer":
        return f"{description.name!r} starts with a {pipeline.first_module} module, not a Transformer"
    others = [kind for kind in pipeline.modules if kind not in ("Pooling", "Dense", "Normalize")]
    if others:
        return (
            f"{description.name!r} has a {others[0]} module, which backend='onnx' does not run (it runs Transformer, "
            "Pooling, Dense and Normalize)"
        )
    for dense in pipeline.dense:
        why = dense_refusal(dense)
        if why is not None:
            return f"{description.name!r} has {why}"
    if not (pipeline.tf_dir / "tokenizer.json").is_file():
        return f"{description.name!r} has no tokenizer.json in {pipeline.tf_dir} (ONNX needs a fast tokenizer's file)"
    return None


Build = Callable[[Path], tuple[list[str], dict[str, Any]]]
"""Writes the cut graph into a folder of the cache; returns its input names and extra record fields."""


def load_onnx(
    description: TransformerDescription, options: Options, layers: int, build: Build, device: str = "cpu"
) -> OnnxEngine:
    """Run the cut graph (built by `build` and cached first if need be) on ONNX Runtime, on "cpu" or "cuda:N".

    The device was checked by `static2d._device.place` when the encoder was made.
    """
    try:
        import onnxruntime  # noqa: F401 - checked before any export
    except ImportError:
        hint = install_hint("onnx")
        msg = f"backend='onnx' needs onnxruntime, which is not installed: {hint} (or use backend='torch')."
        raise ImportError(msg) from None
    why = onnx_refusal(description)
    if why is not None:
        msg = f"{why}. Use backend='torch'."
        raise OnnxUnsupportedError(msg)

    if options.quantize is None:
        cut = get_or_build(description, source_of(description, layers), build)
    else:

        def float_graph() -> CutModel:
            return get_or_build(description, source_of(description, layers), build)

        cut = quantized(description, layers, options.quantize, float_graph)
    model = cut.model if isinstance(cut.model, bytes) else str(cut.model)
    return OnnxEngine(
        description, model=model, inputs=cut.inputs, layers=layers, max_length=options.max_length, device=device
    )
