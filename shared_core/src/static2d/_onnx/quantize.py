"""quantize="int8": the cut graph with int8 weights, made by ONNX Runtime from the float graph, cached beside it.

The method was chosen by measurement on all-MiniLM-L6-v2 (benchmarks/bench_onnx.py; docs/performance.md):
dynamic quantization with per-channel int8 weights (activations quantized per batch at run time) is the fastest
of ONNX Runtime's int8 methods on an AVX2 CPU that keeps the vectors close to float; per-tensor weights bend some
vectors (min cosine to float ~0.78), and static QDQ quantization needs calibration texts and was slower here.
Quantizing needs the `onnx` package (extra `static2d-core[onnx-export]`); running the cached int8 graph needs
onnxruntime alone.
"""

from __future__ import annotations

import importlib.util
import logging
import tempfile
from collections.abc import Callable
from pathlib import Path

from static2d._extras import install_hint
from static2d._model.describe import TransformerDescription
from static2d._onnx.cache import CutModel, get_or_build, source_of

METHODS = {"int8": "dynamic-qint8-per-channel"}


def quantized(
    description: TransformerDescription, layers: int, quantize: str, float_graph: Callable[[], CutModel]
) -> CutModel:
    """The cached int8 graph of `description` cut to `layers`; made from `float_graph()` (and cached) if need be.

    Args:
        description: The transformer.
        layers: Its depth in the graph.
        quantize: "int8".
        float_graph: Gives the float graph (from the cache, exported first if need be); called only to build.

    Returns:
        The verified quantized graph.

    Example:
        >>> cut = quantized(description, 6, "int8", lambda: get_or_build(...))  # doctest: +SKIP
    """
    method = METHODS[quantize]

    def build(dest: Path) -> list[str]:
        if importlib.util.find_spec("onnx") is None:
            msg = (
                f"No int8 graph of {description.name!r} at these layers is cached, and making one needs the `onnx` "
                f"package, which is not installed. Install it once with {install_hint('onnx-export')} (later loads "
                "then need onnxruntime only), or leave quantize unset."
            )
            raise ImportError(msg)
        from onnxruntime.quantization import QuantType, quantize_dynamic

        source = float_graph()
        with tempfile.TemporaryDirectory(prefix="static2d-quantize-") as tmp:
            if isinstance(source.model, bytes):
                path = Path(tmp) / "float.onnx"
                path.write_bytes(source.model)
            else:
                path = source.model
            previous = logging.root.manager.disable
            logging.disable(logging.WARNING)  # onnxruntime's root-logger advice about pre-processing, not for users
            try:
                quantize_dynamic(str(path), str(dest), weight_type=QuantType.QInt8, per_channel=True)
            finally:
                logging.disable(previous)
        return list(source.inputs)

    return get_or_build(description, source_of(description, layers, {"quantize": quantize, "method": method}), build)
