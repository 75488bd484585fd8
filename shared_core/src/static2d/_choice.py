"""Which engine runs a model: the one place that knows what backend="auto" means.

A static model runs in numpy. A transformer runs where its device sends it (`static2d._device.place`: a device
other than the CPU runs on torch, or on ONNX Runtime's CUDA provider where only that can use it), on ONNX Runtime
when asked (backend="onnx"), or, for "auto", only on a machine without an accelerator: when the device is the CPU
(given, or None where torch sees no accelerator), the dtype is float32, onnxruntime is installed, ONNX can run
every module of the model, and the cut graph is cached or can be exported; torch otherwise (on the best
accelerator torch sees, for device=None). A model that "auto" found ONNX cannot run (an export it cannot make) is
remembered, and runs on torch without trying again.
"""

from __future__ import annotations

import importlib.util
import threading
from typing import Literal

from static2d._device import accelerator, place
from static2d._export.onnx import can_export
from static2d._model.describe import ModelDescription, TransformerDescription
from static2d._onnx.cache import entry_path, source_of
from static2d._onnx.load import onnx_refusal
from static2d._options import Options

Runtime = Literal["numpy", "torch", "onnx"]

_REFUSED: set[tuple[str, int]] = set()  # (folder, layers) that "auto" found ONNX cannot run in this process
_LOCK = threading.Lock()


def choose(options: Options, description: ModelDescription, layers: int) -> Runtime:  # noqa: PLR0911 - the rules
    """The runtime for this model and these options."""
    if description.kind == "static":
        return "numpy"
    placement = place(  # the device's rule: a backend it forces (or refuses), or None: "auto" decides below
        options.device,
        backend=options.backend,
        quantize=options.quantize,  # quantize: ONNX or a clear error, never torch
        dtype=options.dtype,
        kind="transformer",
        model=options.model,
    )
    if placement.runtime is not None:
        return placement.runtime
    if options.dtype != "float32":
        return "torch"
    if options.device is None and accelerator() is not None:  # never the CPU where there is a GPU
        return "torch"
    if importlib.util.find_spec("onnxruntime") is None or onnx_refusal(description) is not None:
        return "torch"
    with _LOCK:
        if (str(description.folder), layers) in _REFUSED:
            return "torch"
    return "onnx" if can_export() or (entry_path(description, source_of(description, layers))).is_dir() else "torch"


def refuse_onnx(description: TransformerDescription, layers: int) -> None:
    """Remember that ONNX cannot run this model at this depth: "auto" then runs torch without trying again."""
    with _LOCK:
        _REFUSED.add((str(description.folder), layers))
