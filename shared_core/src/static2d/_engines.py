"""Loading the engine that runs a model, once per configuration, shared by every encoder in the process.

An engine is a loaded model: `StaticEngine` (numpy), `TorchEngine` (sentence-transformers) or `OnnxEngine`
(ONNX Runtime). Each implements `Engine.encode`: the model's own output at (layers, dims) cells, cut and normalised
once (`static2d._cells`, or on the device for torch).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from typing import Literal, Protocol

import numpy as np
import numpy.typing as npt

from static2d._cells import Cell
from static2d._choice import Runtime, choose, refuse_onnx
from static2d._device import is_cpu, onnx_device, resolve_device
from static2d._export.onnx import builder
from static2d._model.describe import ModelDescription, StaticDescription, TransformerDescription
from static2d._onnx.load import load_onnx
from static2d._onnx.runtime import OnnxUnsupportedError
from static2d._options import Options
from static2d._static.engine import StaticEngine
from static2d._torch.engine import TorchEngine

logger = logging.getLogger("static2d")


class Engine(Protocol):
    """What every engine offers the encoder: a loaded model that embeds texts at (layers, dims) cells."""

    @property
    def kind(self) -> Literal["static", "transformer"]: ...

    @property
    def runtime(self) -> Runtime: ...

    @property
    def kernel(self) -> str:
        """What pools a static model's tokens: "C" (compiled) or "numpy"; "none" for a transformer."""
        ...

    device: str  # where it runs: "cpu", "cuda:0", ...
    dtype: str  # the precision the model runs in
    default_batch_size: int  # texts per batch where the user gave no batch_size
    max_dims: int
    max_layers: int | None
    layers: int | None
    max_length: int | None

    def encode(
        self,
        texts: Sequence[str],
        prompt: str,
        cells: Sequence[Cell],
        *,
        normalize: bool,
        batch_size: int,
        progress: Callable[[int], object] | None = None,
    ) -> dict[Cell, npt.NDArray[np.float32]]:
        """The texts' vectors (the prompt put before each) at each (layers, dims) cell, rows in order.

        Each cell's vectors are the first `dims` columns of the model's output at depth `layers` (0 for a static
        model), scaled to unit length if `normalize`; every depth comes from one pass per batch. `progress` is
        called with the number of texts done, as they are done.
        """
        ...


_ENGINES: dict[tuple[object, ...], Engine] = {}
_LOCK = threading.Lock()
_KEY_LOCKS: dict[tuple[object, ...], threading.Lock] = {}


def load_engine(options: Options, description: ModelDescription) -> Engine:
    """The engine for this model and these options (loaded once; later calls get the same object)."""
    if description.kind == "static":  # on the CPU: any other device was refused when the encoder was made
        key: tuple[object, ...] = ("numpy", str(description.folder), options.max_length)
        return _shared(key, lambda: _announced(_static(description, options.max_length), description))
    depth = options.layers if options.layers is not None else description.max_layers or 0
    runtime: Runtime = choose(options, description, depth)
    if runtime == "onnx":
        try:
            device = onnx_device(options.device)  # "cpu", or "cuda:N" (CUDAExecutionProvider)
            key = ("onnx", str(description.folder), depth, device, options.trust_remote_code, options.max_length)
            return _shared(
                (*key, options.quantize),
                lambda: _announced(_onnx(description, options, depth, device), description),
            )
        except ImportError as e:
            if options.backend == "onnx" or options.quantize is not None:
                raise
            logger.info("backend='auto' runs %s with torch: %s", description.name, e)
        except ValueError as e:
            if options.backend == "onnx" or options.quantize is not None or not isinstance(e, OnnxUnsupportedError):
                raise
            logger.info("backend='auto' runs %s with torch: %s", description.name, e)
            refuse_onnx(description, depth)
    # None: the best accelerator torch sees, else the CPU ("cpu:0" is "cpu")
    device = resolve_device("cpu" if is_cpu(options.device) else options.device)
    key = ("torch", str(description.folder), depth, device, options.dtype, options.trust_remote_code)
    return _shared(
        (*key, options.max_length), lambda: _announced(_torch(description, options, depth, device), description)
    )


def _static(description: StaticDescription, max_length: int | None) -> Engine:
    return StaticEngine(description, max_length)


def _onnx(description: TransformerDescription, options: Options, layers: int, device: str) -> Engine:
    build = builder(description, layers, trust_remote_code=options.trust_remote_code)
    return load_onnx(description, options, layers, build, device)


def _torch(description: TransformerDescription, options: Options, layers: int, device: str) -> Engine:
    return TorchEngine(
        description,
        layers=layers,
        device=device,
        dtype=options.dtype,
        trust_remote_code=options.trust_remote_code,
        max_length=options.max_length,
    )


def _announced(engine: Engine, description: ModelDescription) -> Engine:
    """Log, once per loaded model, where it runs and on what (INFO on the "static2d" logger)."""
    how = engine.runtime if engine.runtime != "torch" else f"torch, {engine.dtype}"
    logger.info("%s runs on %s (%s)", description.name, engine.device, how)
    return engine


def _shared(key: tuple[object, ...], make: Callable[[], Engine]) -> Engine:
    """The engine for `key`, loading it once even when several threads ask at the same time."""
    with _LOCK:
        if key in _ENGINES:
            return _ENGINES[key]
        key_lock = _KEY_LOCKS.setdefault(key, threading.Lock())
    with key_lock:
        with _LOCK:
            if key in _ENGINES:
                return _ENGINES[key]
        engine = make()
        with _LOCK:
            _ENGINES[key] = engine
            _KEY_LOCKS.pop(key, None)
        return engine


def clear() -> None:
    """Forget every loaded engine (each is freed once no encoder holds it)."""
    with _LOCK:
        _ENGINES.clear()
