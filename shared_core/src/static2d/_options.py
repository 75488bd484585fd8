"""The options: one typed description of each, their checks, and the validated `Options` of an encoder.

Each `Option` has a name, type, default, doc, the model kinds it applies to, and its check.

`static2d.load`'s signature and every adapter's fields are tested against `OPTIONS`, so an option is added here
first, and the adapters follow.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from dataclasses import dataclass, fields, replace
from typing import Literal

from static2d._checks import check_size
from static2d._precision import Precision, check_precision

DEFAULT_MODEL = "sentence-transformers/static-retrieval-mrl-en-v1"
BACKENDS = ("auto", "torch", "onnx")
Backend = Literal["auto", "torch", "onnx"]
QUANTIZE = (None, "int8")
Quantize = Literal["int8"] | None
DTYPES = ("float32", "bfloat16", "float16")
Dtype = Literal["float32", "bfloat16", "float16"]
ModelKind = Literal["static", "transformer"]
_BOTH: tuple[ModelKind, ...] = ("static", "transformer")
_TRANSFORMER: tuple[ModelKind, ...] = ("transformer",)


def _of_type(kinds: tuple[type, ...], what: str) -> Callable[[object, str], object]:
    def check(value: object, name: str) -> object:
        if value is not None and ((isinstance(value, bool) and bool not in kinds) or not isinstance(value, kinds)):
            msg = f"{name} must be {what}, got {value!r} ({type(value).__name__})."
            raise TypeError(msg)
        return value

    return check


def _flag(value: object, name: str) -> object:
    if not isinstance(value, bool):
        msg = f"{name} must be True or False, got {value!r} ({type(value).__name__})."
        raise TypeError(msg)
    return value


def _path(what: str) -> Callable[[object, str], object]:
    base = _of_type((str, os.PathLike), what)

    def check(value: object, name: str) -> object:
        base(value, name)
        return os.fspath(value) if isinstance(value, (str, os.PathLike)) else None

    return check


def _model(value: object, name: str) -> object:
    if not isinstance(value, (str, os.PathLike)) or not os.fspath(value).strip():
        msg = f"{name} must be a Hugging Face hub id (like {DEFAULT_MODEL!r}) or a local directory, got {value!r}."
        raise ValueError(msg)
    return os.fspath(value)


def _size(what: str) -> Callable[[object, str], object]:
    return lambda value, name: check_size(value, name, None, what=what)


def _backend(value: object, name: str) -> object:
    if value not in BACKENDS:
        msg = f"{name} must be one of {', '.join(map(repr, BACKENDS))}, got {value!r}."
        raise (ValueError if isinstance(value, str) else TypeError)(msg)
    return value


# torch's device types (torch.device accepts these, with an optional ":index").
DEVICE_TYPES = ("cpu", "cuda", "mps", "xpu", "npu", "hpu", "xla", "meta", "mtia", "ipu", "maia", "privateuseone")
_DEVICE = re.compile(rf"^({'|'.join(DEVICE_TYPES)})(:\d+)?$")


def _device(value: object, name: str) -> object:
    _of_type((str,), 'a torch device name such as "cpu" or "cuda", or None')(value, name)
    if isinstance(value, str) and not _DEVICE.match(value):
        msg = (
            f"{name}={value!r} is not a torch device: use 'cpu', 'cuda', 'cuda:1', 'mps', 'xpu' (a device type "
            f"from {', '.join(DEVICE_TYPES)}, with an optional ':index'), or None for the default."
        )
        raise ValueError(msg)
    return value


def _quantize(value: object, name: str) -> object:
    if value not in QUANTIZE:
        msg = f"{name} must be None (float32) or 'int8' (backend='onnx'), got {value!r}."
        raise (ValueError if isinstance(value, str) else TypeError)(msg)
    return value


def _dtype(value: object, name: str) -> object:
    if value not in DTYPES:
        msg = (
            f"{name} must be one of {', '.join(map(repr, DTYPES))} (the transformer's precision on torch), "
            f"got {value!r}."
        )
        raise (ValueError if isinstance(value, str) else TypeError)(msg)
    return value


def _token(value: object, name: str) -> object:
    if value is not None and not isinstance(value, (str, bool)):
        msg = f"{name} must be a Hugging Face token (str), True / False, or None, got a {type(value).__name__}."
        raise TypeError(msg)
    return value


@dataclass(frozen=True)
class Option:
    """One option of `static2d.load`, taken under the same name by every adapter."""

    name: str
    type: str  # as the signature spells it
    default: object
    doc: str
    applies_to: tuple[ModelKind, ...]
    check: Callable[[object, str], object]


OPTIONS: tuple[Option, ...] = (
    Option(
        "model",
        "str | os.PathLike[str]",
        DEFAULT_MODEL,
        "A Hugging Face hub id or a local directory: a model2vec model, a sentence-transformers model whose first "
        "module is StaticEmbedding, or a sentence-transformers / Hugging Face (2D-Matryoshka) transformer.",
        _BOTH,
        _model,
    ),
    Option(
        "dims",
        "int | None",
        None,
        "Keep the first `dims` output dimensions (Matryoshka), then re-normalise. None: all.",
        _BOTH,
        _size("number of output dimensions"),
    ),
    Option(
        "layers",
        "int | None",
        None,
        "Transformer only: run (and keep in memory) only the first `layers` layers. None: all.",
        _TRANSFORMER,
        _size("number of transformer layers"),
    ),
    Option("normalize", "bool", True, "Scale each embedding to unit length.", _BOTH, _flag),
    Option(
        "batch_size",
        "int | None",
        None,
        "Texts per batch. None: static2d's default for the kind of model (16384 static, 32 transformer).",
        _BOTH,
        _size("number of texts"),
    ),
    Option(
        "device",
        "str | None",
        None,
        "Transformer only: torch device ('cpu', 'cuda', ...). None: the best accelerator torch sees (cuda, mps, "
        "...), else the CPU. Static models run on the CPU with numpy.",
        _TRANSFORMER,
        _device,
    ),
    Option(
        "revision",
        "str | None",
        None,
        "Hub branch, tag or commit.",
        _BOTH,
        _of_type((str,), "a branch, tag or commit, or None"),
    ),
    Option(
        "cache_folder",
        "str | None",
        None,
        "Where hub downloads are cached. None: the Hugging Face cache.",
        _BOTH,
        _path("a directory path or None"),
    ),
    Option("local_files_only", "bool", False, "Never touch the network; use cached files only.", _BOTH, _flag),
    Option(
        "trust_remote_code",
        "bool",
        False,
        "Allow a transformer's own modelling code from the hub to run.",
        _TRANSFORMER,
        _flag,
    ),
    Option(
        "query_prompt",
        "str | None",
        None,
        "Put before each query by encode_query. None: the model's saved 'query' prompt, if any.",
        _BOTH,
        _of_type((str,), "a str or None"),
    ),
    Option(
        "document_prompt",
        "str | None",
        None,
        "Put before each document by encode_document. None: the model's saved document prompt, if any.",
        _BOTH,
        _of_type((str,), "a str or None"),
    ),
    Option(
        "max_length",
        "int | None",
        None,
        "Tokens kept per text. None: the model's own setting (model2vec: its max_length; StaticEmbedding: no "
        "limit; transformer: its max_seq_length).",
        _BOTH,
        _size("number of tokens"),
    ),
    Option(
        "token",
        "str | bool | None",
        None,
        "Hugging Face token for a private or gated model. None: the logged-in one (HF_TOKEN), if any. Never "
        "shown, logged, pickled or serialised.",
        _BOTH,
        _token,
    ),
    Option(
        "backend",
        "Literal['auto', 'torch', 'onnx']",
        "auto",
        "Transformer only: 'torch' (sentence-transformers' modules, run by static2d), 'onnx' (ONNX Runtime on the "
        "CPU, on a graph cut to `layers`), or 'auto' (torch on a machine with an accelerator, or with a device or "
        "dtype that needs it; else ONNX where onnxruntime is installed and the graph is cached or can be exported, "
        "else torch).",
        _TRANSFORMER,
        _backend,
    ),
    Option(
        "quantize",
        "Literal['int8'] | None",
        None,
        "Transformer on ONNX Runtime only: 'int8' runs the cut graph with int8 weights (ONNX Runtime's dynamic "
        "quantization, per channel), built from the float graph and cached beside it; faster, within a fraction "
        "of a point of float quality. None: float32.",
        _TRANSFORMER,
        _quantize,
    ),
    Option(
        "precision",
        "Literal['float32', 'int8', 'uint8', 'binary', 'ubinary']",
        "float32",
        "What each number of an embedding is, as sentence-transformers' quantize_embeddings: 'float32', 'int8' / "
        "'uint8' (each dimension's range fixed per model and settings from static2d's calibration text, never by "
        "the batch), 'binary' / 'ubinary' (1 bit a dimension, packed: embedding_dim = ceil(dims / 8)).",
        _BOTH,
        lambda value, name: check_precision(value),
    ),
    Option(
        "dtype",
        "Literal['float32', 'bfloat16', 'float16']",
        "float32",
        "Transformer on torch only: the precision the transformer runs in. 'float32': sentence-transformers' own "
        "vectors; 'bfloat16' / 'float16': several times faster on a GPU, within cosine 0.999 of float32's "
        "(pooling, Dense heads and normalisation stay float32). Refused with backend='onnx', a static model, or "
        "a device that cannot run it. Part of the fingerprint.",
        _TRANSFORMER,
        _dtype,
    ),
)
"""Every option of `static2d.load` (but `lazy`), in signature order: the adapters take these same names."""


@dataclass(frozen=True)
class Options:
    """The checked options of one encoder (paths as str, sizes as int). The token never shows in its repr."""

    model: str
    dims: int | None = None
    layers: int | None = None
    normalize: bool = True
    batch_size: int | None = None
    device: str | None = None
    revision: str | None = None
    cache_folder: str | None = None
    local_files_only: bool = False
    trust_remote_code: bool = False
    query_prompt: str | None = None
    document_prompt: str | None = None
    max_length: int | None = None
    token: str | bool | None = None
    backend: Backend = "auto"
    quantize: Quantize = None
    precision: Precision = "float32"
    dtype: Dtype = "float32"

    def __repr__(self) -> str:
        shown = ", ".join(f"{k}={v!r}" for k, v in self.public().items())
        return f"Options({shown})"

    def public(self) -> dict[str, object]:
        """The options as a dict, with a token shown as "***" (never its value)."""
        out = {f.name: getattr(self, f.name) for f in fields(self)}
        if isinstance(out["token"], str):
            out["token"] = "***"  # noqa: S105 - a mask, not a password
        return out

    def without_secrets(self) -> Options:
        """These options with a str token dropped (the other side of a pickle reads HF_TOKEN instead)."""
        return replace(self, token=None) if isinstance(self.token, str) else self


def check_options(**given: object) -> Options:
    """Check every option (type and range that need no model), before anything is read or downloaded."""
    known = {o.name: o for o in OPTIONS}
    values = {}
    for name, value in given.items():
        option = known.get(name)
        if option is None:
            msg = f"Unknown option {name!r}. static2d takes: {', '.join(known)}."
            raise TypeError(msg)
        values[name] = option.check(value, name)
    if values.get("quantize") is not None and values.get("backend") == "torch":
        msg = (
            f"quantize={values['quantize']!r} runs on ONNX Runtime, but backend='torch' was given. Use "
            "backend='onnx' (or 'auto') with quantize, or leave quantize unset for torch."
        )
        raise ValueError(msg)
    dtype = values.get("dtype", "float32")
    if dtype != "float32" and (values.get("backend") == "onnx" or values.get("quantize") is not None):
        onnx = "backend='onnx'" if values.get("backend") == "onnx" else f"quantize={values['quantize']!r}"
        msg = (
            f"dtype={dtype!r} runs the transformer on torch, but {onnx} runs it on ONNX Runtime (in float32, or "
            "int8 with quantize='int8'). Use backend='torch' (or 'auto') with dtype, or leave dtype='float32' "
            "for ONNX."
        )
        raise ValueError(msg)
    return Options(**values)  # type: ignore[arg-type]
