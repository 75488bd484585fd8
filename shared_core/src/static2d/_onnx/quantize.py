"""quantize="int8": the cut graph with int8 weights, made by ONNX Runtime from the float graph, checked, cached.

The method was chosen by measurement on all-MiniLM-L6-v2 (benchmarks/bench_onnx.py; docs/performance.md):
dynamic quantization with per-channel int8 weights (activations quantized per batch at run time) is the fastest
of ONNX Runtime's int8 methods on an AVX2 CPU that keeps the vectors close to float; per-tensor weights bend some
vectors (min cosine to float ~0.78), and static QDQ quantization needs calibration texts and was slower here.

Only the MatMuls with a weight are quantized (the embedding Gathers stay float: they cost no time, and
quantizing them bends the vectors). Dynamic quantization turns each activation into uint8 over one range per
batch; where a few features are far larger than the rest, the others lose their precision. BERT-family models
keep such outliers in the input of the feed-forward down-projection (the MatMul after the activation), in their
later layers most: all-mpnet-base-v2's int8 graph gave vectors down to cosine 0.72 against its float graph on
the calibration text, and 0.972 with those 12 MatMuls left in float (all-MiniLM-L6-v2: 0.986 with none left).

So every int8 graph is checked against its float graph when it is built: both embed static2d's calibration text
and the least cosine between a text's two vectors is the graph's agreement. The quantization is tried with
nothing left in float, then with the down-projections in float, then with the whole feed-forward in float; the
first that agrees to `AGREEMENT` is kept. One that never does is refused (`Int8DisagreementError`, naming the
agreement measured and what to use instead); the result is kept with the cache entry either way, so a refused
model is refused again at once, and a kept one says how close it is (`CutModel.check`).

int8 numerics differ by CPU: ONNX Runtime picks its int8 kernels by the CPU's vector extensions (min cosine 0.97
on an AVX-512 VNNI CPU, 0.07-0.2 on an AVX2-only one for the same graph). So the verdict belongs to a kind of CPU
(`cpu_kind`: the architecture and the vector extensions that select those kernels): it is part of the int8
entry's source and recorded in its check, and on a CPU of another kind the int8 graph is built and checked again,
in an entry of its own (a cache shared between machines keeps one per kind).

Quantizing needs the `onnx` package (extra `static2d-core[onnx-export]`); running the cached int8 graph needs
onnxruntime alone.
"""

from __future__ import annotations

import functools
import importlib
import importlib.util
import logging
import platform
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from static2d._extras import install_hint
from static2d._model.describe import TransformerDescription
from static2d._onnx.cache import CutModel, get_or_build, source_of
from static2d._onnx.runtime import OnnxEngine
from static2d._precision import calibration_texts
from static2d._vectors import normalize_rows

METHODS = {"int8": "dynamic-qint8-per-channel-matmul-checked"}
AGREEMENT = 0.95
"""The least cosine, on every calibration text, between an int8 graph's vector and its float graph's."""
# What stays float32, tried in turn: nothing; the feed-forward down-projections; the whole feed-forward.
LADDER: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("nothing", ()),
    ("the feed-forward down-projections", ("down",)),
    ("the feed-forward MatMuls", ("down", "up")),
)
_CHECK_BATCH = 32

logger = logging.getLogger("static2d")

# The vector extensions that select ONNX Runtime's int8 kernels (MLAS), as /proc/cpuinfo spells them.
CPU_FEATURES = (
    "avx2",
    "fma",
    "avx512f",
    "avx512bw",
    "avx512vl",
    "avx512_vnni",
    "avx_vnni",
    "avx512_bf16",
    "amx_tile",
    "amx_int8",
    "amx_bf16",
    "asimd",
    "asimddp",
    "i8mm",
    "sve",
    "sve2",
)
# numpy's names of those it detects (where there is no /proc/cpuinfo: macOS, Windows).
_NUMPY_FEATURES = {
    "AVX2": "avx2",
    "FMA3": "fma",
    "AVX512F": "avx512f",
    "AVX512BW": "avx512bw",
    "AVX512VL": "avx512vl",
    "AVX512VNNI": "avx512_vnni",
    "AVX512BF16": "avx512_bf16",
    "ASIMD": "asimd",
    "ASIMDDP": "asimddp",
    "SVE": "sve",
}


def _cpuinfo_flags() -> set[str] | None:
    """The first CPU's flags from /proc/cpuinfo ("flags" on x86, "Features" on ARM), or None without it."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            for line in f:
                key, _, value = line.partition(":")
                if key.strip().lower() in ("flags", "features"):
                    return set(value.split())
    except OSError:
        return None
    return None


def _numpy_flags() -> set[str]:
    features: dict[str, bool] = {}
    for name in ("numpy._core._multiarray_umath", "numpy.core._multiarray_umath"):  # numpy 2, numpy 1
        try:
            features = dict(importlib.import_module(name).__cpu_features__)
            break
        except (ImportError, AttributeError):
            continue
    return {ours for theirs, ours in _NUMPY_FEATURES.items() if features.get(theirs)}


@functools.lru_cache(maxsize=1)
def cpu_kind() -> str:
    """This CPU's kind, as int8 numerics depend on it: the architecture and its int8-relevant vector extensions.

    Example:
        >>> cpu_kind()  # doctest: +SKIP
        'x86_64: avx2 avx512_vnni avx512bw avx512f avx512vl avx_vnni fma'
    """
    flags = _cpuinfo_flags()
    found = sorted((flags if flags is not None else _numpy_flags()) & set(CPU_FEATURES))
    machine = platform.machine().lower() or "unknown"
    return f"{machine}: {' '.join(found) or 'none of ' + ', '.join(CPU_FEATURES)}"


class Int8DisagreementError(ValueError):
    """The int8 graph's vectors are too far from the float graph's on the calibration text: int8 is refused."""


def _weight_matmuls(graph: Path) -> dict[str, list[str]]:
    """The MatMuls with a 2-D weight, by shape: "down" maps more features to fewer, "up" fewer to more."""
    import onnx

    model = onnx.load(str(graph), load_external_data=False)
    shapes = {t.name: tuple(t.dims) for t in model.graph.initializer}
    out: dict[str, list[str]] = {"down": [], "up": [], "square": []}
    for node in model.graph.node:
        shape = shapes.get(node.input[1]) if node.op_type == "MatMul" and len(node.input) == 2 else None
        if shape is not None and len(shape) == 2:
            rows, cols = shape
            out["down" if rows > cols else "up" if rows < cols else "square"].append(node.name)
    return out


def _vectors(description: TransformerDescription, model: bytes | str, inputs: Sequence[str], layers: int) -> Any:  # noqa: ANN401 - float32 array
    engine = OnnxEngine(description, model=model, inputs=inputs, layers=layers, max_length=None)
    depth = engine.layers or 0
    return normalize_rows(engine.encode_layers(calibration_texts(), "", [depth], _CHECK_BATCH)[depth], eps=1e-12)


def _build_checked(
    description: TransformerDescription, layers: int, source: CutModel, graph: Path, dest: Path
) -> dict[str, Any]:
    """Quantize `graph` into `dest`, rung by rung of LADDER until it agrees with the float graph; its check."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    reference = _vectors(description, str(graph), source.inputs, layers)
    matmuls = _weight_matmuls(graph)
    best: dict[str, Any] = {}
    tries: list[dict[str, Any]] = []
    for kept, kinds in LADDER:
        excluded = [name for kind in kinds for name in matmuls[kind]]
        if kinds and not excluded:
            continue  # no such MatMuls: the same graph as the rung before
        out = dest.with_name(f"try-{len(excluded)}.onnx")
        previous = logging.root.manager.disable
        logging.disable(logging.WARNING)  # onnxruntime's root-logger advice about pre-processing, not for users
        try:
            quantize_dynamic(
                str(graph),
                str(out),
                weight_type=QuantType.QInt8,
                per_channel=True,
                op_types_to_quantize=["MatMul"],
                nodes_to_exclude=excluded,
            )
        finally:
            logging.disable(previous)
        cosine = float((reference * _vectors(description, str(out), source.inputs, layers)).sum(axis=1).min())
        logger.info("int8 graph of %s with %s in float32: min cosine %.4f", description.name, kept, cosine)
        tries.append({"float32": kept, "min_cosine": round(cosine, 4)})
        if not best or cosine > best["min_cosine"]:
            out.replace(dest)
            best = {"min_cosine": round(cosine, 4), "float32": kept}
        else:
            out.unlink()
        if cosine >= AGREEMENT:
            break
    return {
        "measure": "least cosine to the float graph's vectors on static2d's calibration text",
        "cpu": cpu_kind(),
        "texts": len(calibration_texts()),
        "threshold": AGREEMENT,
        **best,
        "passed": best["min_cosine"] >= AGREEMENT,
        "tries": tries,
    }


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
        The verified quantized graph, whose `check` holds its agreement with the float graph on this kind of CPU.

    Raises:
        Int8DisagreementError: (a ValueError) Its vectors are not within `AGREEMENT` of the float graph's.

    Example:
        >>> quantized(description, 6, "int8", lambda: get_or_build(...)).check["min_cosine"]  # doctest: +SKIP
        0.9862
    """
    method = METHODS[quantize]

    def build(dest: Path) -> tuple[list[str], dict[str, Any]]:
        if importlib.util.find_spec("onnx") is None:
            msg = (
                f"No int8 graph of {description.name!r} at these layers is cached, and making one needs the `onnx` "
                f"package, which is not installed. Install it once with {install_hint('onnx-export')} (later loads "
                "then need onnxruntime only), or leave quantize unset."
            )
            raise ImportError(msg)
        source = float_graph()
        with tempfile.TemporaryDirectory(prefix="static2d-quantize-") as tmp:
            if isinstance(source.model, bytes):
                path = Path(tmp) / "float.onnx"
                path.write_bytes(source.model)
            else:
                path = source.model
            check = _build_checked(description, layers, source, path, dest)
        return list(source.inputs), check

    graph = {"quantize": quantize, "method": method, "cpu": cpu_kind()}  # measured again on another kind of CPU
    cut = get_or_build(description, source_of(description, layers, graph), build)
    check = cut.check
    if not check.get("passed"):
        where = f" (kept in {cut.entry}, so it is not measured again on this kind of CPU)" if cut.entry else ""
        tried = "; ".join(f"{t.get('float32')}: {t.get('min_cosine')}" for t in check.get("tries") or [])
        msg = (
            f"quantize='int8' is refused for {description.name!r} at {layers} layer(s): its int8 graph's vectors "
            f"agree with the float graph's only to a cosine of {check.get('min_cosine')} on static2d's calibration "
            f"text ({check.get('texts')} texts) on this kind of CPU ({check.get('cpu')}), below the {AGREEMENT} "
            "static2d requires, however much of it stays in float32 (least cosine with each left in float32: "
            f"{tried}){where}. int8 would bend this model's vectors too far: use quantize=None (the float32 ONNX "
            "graph) or backend='torch'."
        )
        raise Int8DisagreementError(msg)
    return cut
