"""The options: the one registry (`Options`), their types and checks, and `OPTIONS` derived from it.

Adding an option takes one field of `Options` (type, default, doc, check), one keyword of `load`, and one typed
declaration per adapter; `load`'s signature and every adapter are tested against `OPTIONS` in name, type (Literal
values included), default and doc.
"""

from __future__ import annotations

import os
import textwrap
import types
from collections.abc import Callable
from dataclasses import dataclass, field, fields, replace
from typing import Any, Literal, Union, get_args, get_origin, get_type_hints

from static2d._checks import check_size
from static2d._device import check_spelling
from static2d._peers import unknown_option_message
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


def _device(value: object, name: str) -> object:
    # The spelling only (a torch device type, an optional index); where it can run is `static2d._device.place`'s.
    return check_spelling(value, name)


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


def _precision(value: object, name: str) -> object:
    del name  # check_precision names the option itself
    return check_precision(value)


def _option(
    default: object,
    doc: str,
    check: Callable[[object, str], object],
    *,
    applies_to: tuple[ModelKind, ...] = _BOTH,
    why_not: str = "",
) -> Any:  # noqa: ANN401 - a dataclass field, typed by its annotation
    """One option of the registry.

    Args:
        default: Its default.
        doc: What it does (the docs, `load`'s docstring, the adapters' fields and the CLI's help are made from it).
        check: Checks a value (type and range), and returns it as the encoder keeps it.
        applies_to: The model kinds it applies to. Set to anything but its default for a model of another kind, it
            is refused (`refuse_inapplicable`; device by its own rule, `static2d._device.place`).
        why_not: Why it does not apply to the other kind of model (the refusal's middle part).
    """
    metadata = {"doc": doc, "check": check, "applies_to": applies_to, "why_not": why_not}
    return field(default=default, metadata=metadata)


@dataclass(frozen=True)
class Options:
    """The registry of static2d's options, and the checked options of one encoder (paths as str, sizes as int).

    Each field is one option: its annotation is the option's type, its default the option's default, and its
    metadata the doc, the check and the model kinds it applies to. `OPTIONS` lists them for `load`, the adapters
    and the docs. The token never shows in the repr.
    """

    model: str = _option(
        DEFAULT_MODEL,
        "A Hugging Face hub id or a local directory: a model2vec model, a sentence-transformers model whose first "
        "module is StaticEmbedding, or a sentence-transformers / Hugging Face (2D-Matryoshka) transformer.",
        _model,
    )
    dims: int | None = _option(
        None,
        "Keep the first `dims` output dimensions (Matryoshka), then re-normalise. None: all.",
        _size("number of output dimensions"),
    )
    layers: int | None = _option(
        None,
        "Transformer only: run (and keep in memory) only the first `layers` layers. None: all.",
        _size("number of transformer layers"),
        applies_to=_TRANSFORMER,
        why_not="static models have no layers (they are a token-embedding table)",
    )
    normalize: bool = _option(
        True,
        "Scale each embedding to unit length.",
        _flag,
    )
    batch_size: int | None = _option(
        None,
        "Texts per batch, at most. None: static2d's default for the kind of model (16384 static, 32 transformer "
        "on ONNX, 4096 on torch, whose batches also hold at most 65,536 padded tokens on an accelerator, 1,024 on "
        "the CPU).",
        _size("number of texts"),
    )
    device: str | None = _option(
        None,
        "Transformer only: where it runs: 'cpu', or a device this machine has ('cuda', 'cuda:1', 'mps', 'xpu', "
        "...). None: the best accelerator torch sees (cuda, mps, ...), else the CPU (with backend='onnx': the "
        "CPU). backend='onnx' runs on 'cuda' / 'cuda:N' only with onnxruntime-gpu (its CUDAExecutionProvider); "
        "'auto' takes the backend that can use the device. A device that cannot be used here is refused when the "
        "encoder is made; a static model runs on the CPU with numpy (any other device is refused).",
        _device,
        applies_to=_TRANSFORMER,  # refused on a static model by static2d._device.place (`_PLACED`)
    )
    revision: str | None = _option(
        None,
        "Hub branch, tag or commit.",
        _of_type((str,), "a branch, tag or commit, or None"),
    )
    cache_folder: str | None = _option(
        None,
        "Where hub downloads are cached. None: the Hugging Face cache.",
        _path("a directory path or None"),
    )
    local_files_only: bool = _option(
        False,
        "Never touch the network; use cached files only.",
        _flag,
    )
    trust_remote_code: bool = _option(
        False,
        "Transformer only: allow its own modelling code from the hub to run.",
        _flag,
        applies_to=_TRANSFORMER,
        why_not="a static model is a table and a tokenizer, with no code of its own to run",
    )
    query_prompt: str | None = _option(
        None,
        "Put before each query by encode_query. None: the model's saved 'query' prompt, if any.",
        _of_type((str,), "a str or None"),
    )
    document_prompt: str | None = _option(
        None,
        "Put before each document by encode_document. None: the model's saved document prompt, if any.",
        _of_type((str,), "a str or None"),
    )
    max_length: int | None = _option(
        None,
        "Tokens kept per text. None: the model's own setting (model2vec: its max_length; StaticEmbedding: no "
        "limit; transformer: its max_seq_length).",
        _size("number of tokens"),
    )
    token: str | bool | None = _option(
        None,
        "Hugging Face token for a private or gated model. None: the logged-in one (HF_TOKEN), if any. Never "
        "shown, logged, pickled or serialised.",
        _token,
    )
    backend: Backend = _option(
        "auto",
        "Transformer only: 'torch' (sentence-transformers' modules, run by static2d), 'onnx' (ONNX Runtime on the "
        "CPU, on a graph cut to `layers`), or 'auto' (torch on a machine with an accelerator, or with a device or "
        "dtype that needs it; else ONNX where onnxruntime is installed and the graph is cached or can be exported, "
        "else torch).",
        _backend,
        applies_to=_TRANSFORMER,
        why_not="a static model always runs in numpy (backend is what runs a transformer)",
    )
    quantize: Quantize = _option(
        None,
        "Transformer on ONNX Runtime only: 'int8' runs the cut graph with int8 weights (ONNX Runtime's dynamic "
        "quantization, per channel), built from the float graph and cached beside it; faster, within a fraction "
        "of a point of float quality. None: float32.",
        _quantize,
        applies_to=_TRANSFORMER,
        why_not="quantize is for transformers on ONNX Runtime (a static model is a table lookup, already fast)",
    )
    dtype: Dtype = _option(
        "float32",
        "Transformer on torch only: the precision the transformer runs in. 'float32': sentence-transformers' own "
        "vectors; 'bfloat16' / 'float16': several times faster on a GPU, within cosine 0.999 of float32's "
        "(pooling, Dense heads and normalisation stay float32). Refused with backend='onnx', a static model, or "
        "a device that cannot run it. Part of the fingerprint.",
        _dtype,
        applies_to=_TRANSFORMER,
        why_not=(
            "dtype is the precision a transformer runs in on torch (a static model is a float32 table lookup in numpy)"
        ),
    )
    precision: Precision = _option(
        "float32",
        "What each number of an embedding is, as sentence-transformers' quantize_embeddings: 'float32', 'int8' / "
        "'uint8' (each dimension's range fixed per model and settings from static2d's calibration text, never by "
        "the batch), 'binary' / 'ubinary' (1 bit a dimension, packed: embedding_dim = ceil(dims / 8)).",
        _precision,
    )

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


@dataclass(frozen=True)
class Option:
    """One option of `static2d.load`, taken under the same name, type, default and doc by every adapter.

    Example:
        >>> dims = next(o for o in static2d.OPTIONS if o.name == "dims")  # doctest: +SKIP
        >>> dims.annotation, dims.default  # doctest: +SKIP
        (int | None, None)
    """

    name: str
    annotation: Any  # the type, e.g. `int | None` or `Literal["auto", "torch", "onnx"]`
    default: object
    doc: str
    applies_to: tuple[ModelKind, ...]
    check: Callable[[object, str], object]

    @property
    def type(self) -> str:
        """The type as the docs spell it: `int | None`, `Literal['auto', 'torch', 'onnx']`."""
        return _spell(self.annotation)

    def args_entry(self, indent: str) -> str:
        """The option's line of a Google-style Args section ("name: doc"), wrapped at 116 columns.

        No break at a hyphen: "sentence-transformers" stays one word, and the doc reads back word for word.
        """
        wrap = textwrap.TextWrapper(
            width=116, initial_indent=indent, subsequent_indent=indent + "    ", break_on_hyphens=False
        )
        return wrap.fill(f"{self.name}: {self.doc}")


def _spell(annotation: object) -> str:
    if get_origin(annotation) is Literal:
        return f"Literal[{', '.join(repr(a) for a in get_args(annotation))}]"
    if isinstance(annotation, types.UnionType) or get_origin(annotation) is Union:
        return " | ".join(_spell(a) for a in get_args(annotation))
    return "None" if annotation is type(None) else getattr(annotation, "__name__", str(annotation))


_HINTS = get_type_hints(Options)
OPTIONS: tuple[Option, ...] = tuple(
    Option(f.name, _HINTS[f.name], f.default, f.metadata["doc"], f.metadata["applies_to"], f.metadata["check"])
    for f in fields(Options)
)
"""Every option of `static2d.load` (but `lazy`), in signature order: the adapters take these same names."""


def check_options(**given: object) -> Options:
    """Check every option (type and range that need no model), before anything is read or downloaded."""
    known = {o.name: o for o in OPTIONS}
    values = {}
    for name, value in given.items():
        option = known.get(name)
        if option is None:
            raise TypeError(unknown_option_message("static2d.load", name, known, value))
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
    return Options(**values)  # type: ignore[arg-type]  # each value was checked against its field's type


_KIND_NAMES: dict[str, str] = {"static": "a static embedding model", "transformer": "a transformer"}
# Options refused on a model they do not apply to by the device rule (static2d._device.place), not here: it runs
# first, when the encoder is made, and its refusal says more (why a static model runs on the CPU; 'cpu' is fine).
_PLACED = frozenset({"device"})


def refuse_inapplicable(options: Options, kind: ModelKind) -> None:
    """Refuse every option that does not apply to a model of `kind` and is set to anything but its default.

    The one policy for `applies_to`: `layers=12` on a static model is an error, not a setting silently dropped.
    device is the device rule's (`_PLACED`).

    Raises:
        ValueError: What was given, why it does not apply to this model, and the fix.
    """
    for f in fields(Options):
        if kind in f.metadata["applies_to"] or f.name in _PLACED:
            continue
        value = getattr(options, f.name)
        if value == f.default:
            continue
        fits = " or ".join(_KIND_NAMES[k] for k in f.metadata["applies_to"])
        msg = (
            f"{f.name}={value!r} was given, but {options.model!r} is {_KIND_NAMES[kind]}: {f.metadata['why_not']}. "
            f"Leave {f.name} unset, or load {fits}."
        )
        raise ValueError(msg)
