"""The options: the one registry (`Options`), their types and checks, and `OPTIONS` derived from it.

Adding an option takes one field of `Options` (type, default, doc, check), one keyword of `load`, and one typed
declaration per adapter; `load`'s signature and every adapter are tested against `OPTIONS` in name, type (Literal
values included), default and doc.
"""

from __future__ import annotations

import os
import textwrap
import types
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field, fields, replace
from typing import Any, Literal, Union, get_args, get_origin, get_type_hints

from static2d._checks import check_size
from static2d._device import check_spelling
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
) -> Any:  # noqa: ANN401 - a dataclass field, typed by its annotation
    return field(default=default, metadata={"doc": doc, "check": check, "applies_to": applies_to})


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
        applies_to=_TRANSFORMER,
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
        "Allow a transformer's own modelling code from the hub to run.",
        _flag,
        applies_to=_TRANSFORMER,
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
    )
    quantize: Quantize = _option(
        None,
        "Transformer on ONNX Runtime only: 'int8' runs the cut graph with int8 weights (ONNX Runtime's dynamic "
        "quantization, per channel), built from the float graph and cached beside it; faster, within a fraction "
        "of a point of float quality. None: float32.",
        _quantize,
        applies_to=_TRANSFORMER,
    )
    dtype: Dtype = _option(
        "float32",
        "Transformer on torch only: the precision the transformer runs in. 'float32': sentence-transformers' own "
        "vectors; 'bfloat16' / 'float16': several times faster on a GPU, within cosine 0.999 of float32's "
        "(pooling, Dense heads and normalisation stay float32). Refused with backend='onnx', a static model, or "
        "a device that cannot run it. Part of the fingerprint.",
        _dtype,
        applies_to=_TRANSFORMER,
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
            msg = peer_option_message("static2d", name, value, known) or (
                f"Unknown option {name!r}. static2d takes: {', '.join(known)}."
            )
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
    return Options(**values)  # type: ignore[arg-type]  # each value was checked against its field's type


# ---- Other embedders' option names ----
# Users arrive from LangChain's HuggingFaceEmbeddings, LlamaIndex's HuggingFaceEmbedding and Haystack's
# SentenceTransformers(Text|Document)Embedder, all over sentence-transformers, and bring their option names. Every
# adapter refuses such a name with the static2d option to use instead (never takes it and ignores it): the names
# live here, once, and `peer_option_message` writes the refusal for each adapter.

_LANGCHAIN = "LangChain's HuggingFaceEmbeddings"
_LLAMAINDEX = "LlamaIndex's HuggingFaceEmbedding"
_HAYSTACK = "Haystack's SentenceTransformers embedders"
_ST = "sentence-transformers"
_PROMPTS = ("query_prompt", "document_prompt")
_ONE_PROCESS = (
    "static2d embeds in one process: a static model embeds tens of thousands of texts a second on one CPU core, "
    "and a transformer runs on every core (or on `device`). To spread a large corpus over processes or machines, "
    "use static2d.BatchEncoder with Ray Data or pandas."
)
_SAVED_PROMPTS = (
    "static2d puts the model's saved 'query' prompt before queries and its document prompt before documents; set "
    "query_prompt / document_prompt to use others."
)
_POOLING = "static2d reads the pooling (and the rest of the pipeline) from the model's own files."
_NO_DICT = "static2d takes each setting as an option of its own"


@dataclass(frozen=True)
class PeerOption:
    """Another embedder's option: whose it is, and the static2d option(s) to use instead (or why there is none)."""

    origin: str
    use: tuple[str, ...] = ()
    why: str = ""
    holds_options: bool = False  # a dict of sentence-transformers / transformers arguments (model_kwargs, ...)


PEER_OPTIONS: dict[str, PeerOption] = {
    "model_name": PeerOption(f"{_LANGCHAIN} and {_LLAMAINDEX}", ("model",)),
    "model_name_or_path": PeerOption(f"{_HAYSTACK} before 2.3", ("model",)),
    "repo_id": PeerOption("LangChain's HuggingFaceEndpointEmbeddings", ("model",)),
    "truncate_dim": PeerOption(f"{_ST} and {_HAYSTACK}", ("dims",)),
    "dim": PeerOption("other embedders", ("dims",)),
    "dimensions": PeerOption("OpenAI-style embedders", ("dims",)),
    "output_dimensionality": PeerOption("Google's embedders", ("dims",)),
    "normalize_embeddings": PeerOption(f"{_HAYSTACK} and {_ST}' encode()", ("normalize",)),
    "show_progress": PeerOption(_LANGCHAIN, ("show_progress_bar",)),
    "progress_bar": PeerOption(_HAYSTACK, ("show_progress_bar",)),
    "multi_process": PeerOption(_LANGCHAIN, why=_ONE_PROCESS),
    "parallel_process": PeerOption(_LLAMAINDEX, why=_ONE_PROCESS),
    "target_devices": PeerOption(_LLAMAINDEX, why=_ONE_PROCESS),
    "query_instruction": PeerOption(_LLAMAINDEX, ("query_prompt",)),
    "text_instruction": PeerOption(_LLAMAINDEX, ("document_prompt",)),
    "embed_instruction": PeerOption("LangChain's instruct embeddings", ("document_prompt",)),
    "document_instruction": PeerOption("other embedders", ("document_prompt",)),
    "prefix": PeerOption(_HAYSTACK, _PROMPTS),
    "prompts": PeerOption(_ST, _PROMPTS),
    "prompt_name": PeerOption(f"{_ST}' encode()", why=_SAVED_PROMPTS),
    "default_prompt_name": PeerOption(_ST, why=_SAVED_PROMPTS),
    "cache_dir": PeerOption("transformers", ("cache_folder",)),
    "max_seq_length": PeerOption(_ST, ("max_length",)),
    "embed_batch_size": PeerOption("LlamaIndex", ("batch_size",)),
    "hf_token": PeerOption("other embedders", ("token",)),
    "use_auth_token": PeerOption("older Hugging Face libraries", ("token",)),
    "auth_token": PeerOption("other embedders", ("token",)),
    "huggingfacehub_api_token": PeerOption("LangChain's Hugging Face endpoints", ("token",)),
    "pooling": PeerOption(_LLAMAINDEX, why=_POOLING),
    "tokenizer_name": PeerOption(_LLAMAINDEX, why=_POOLING),
    "torch_dtype": PeerOption("transformers", ("dtype",)),
    "model_kwargs": PeerOption(f"{_LANGCHAIN} and {_HAYSTACK}", holds_options=True),
    "encode_kwargs": PeerOption(f"{_LANGCHAIN} and {_HAYSTACK}", holds_options=True),
    "query_encode_kwargs": PeerOption(_LANGCHAIN, holds_options=True),
    "tokenizer_kwargs": PeerOption(_HAYSTACK, holds_options=True),
    "config_kwargs": PeerOption(_HAYSTACK, holds_options=True),
}
"""Other embedders' option names, each with the static2d option(s) to use instead, or why static2d has none."""

# What the dict options above hold (sentence-transformers' constructor and encode() arguments, transformers'
# from_pretrained ones), with static2d's option for each.
_PEER_KEYS: dict[str, tuple[str, ...]] = {
    "device": ("device",),
    "trust_remote_code": ("trust_remote_code",),
    "revision": ("revision",),
    "token": ("token",),
    "use_auth_token": ("token",),
    "local_files_only": ("local_files_only",),
    "cache_folder": ("cache_folder",),
    "cache_dir": ("cache_folder",),
    "backend": ("backend",),
    "precision": ("precision",),
    "batch_size": ("batch_size",),
    "normalize_embeddings": ("normalize",),
    "truncate_dim": ("dims",),
    "show_progress_bar": ("show_progress_bar",),
    "max_seq_length": ("max_length",),
    "model_max_length": ("max_length",),
    "max_length": ("max_length",),
    "torch_dtype": ("dtype",),
    "dtype": ("dtype",),
}
_QUERY_PROMPT_NAMES = ("query", "search_query", "question")


def _prompt_options(prompts: object) -> dict[str, object]:
    """sentence-transformers' `prompts` dict as static2d's query_prompt / document_prompt."""
    if not isinstance(prompts, Mapping):
        return {}
    found: dict[str, object] = {}
    for key, prompt in prompts.items():
        option = "query_prompt" if str(key) in _QUERY_PROMPT_NAMES else "document_prompt"
        found.setdefault(option, prompt)
    return found


def _translate(name: str, value: object, takes: Collection[str]) -> tuple[dict[str, object], list[str]]:
    """The static2d options a peer's option (or dict of options) stands for, and the keys that have none."""
    peer = PEER_OPTIONS[name]
    if peer.holds_options:
        if not isinstance(value, Mapping):
            return {}, []
        options: dict[str, object] = {}
        missing: list[str] = []
        for given, item in value.items():
            key = str(given)
            if key == "prompts":
                options.update(_prompt_options(item))
            elif key == "prompt":
                options.update(dict.fromkeys(("query_prompt",) if name == "query_encode_kwargs" else _PROMPTS, item))
            elif key in _PEER_KEYS and all(option in takes for option in _PEER_KEYS[key]):
                options.update(dict.fromkeys(_PEER_KEYS[key], item))
            elif key == "model_kwargs" and isinstance(item, Mapping):  # sentence-transformers' own, for transformers
                inner, lost = _translate("model_kwargs", item, takes)
                options.update(inner)
                missing += lost
            else:
                missing.append(key)
        return options, missing
    if name == "prompts":
        return _prompt_options(value), []
    if peer.use and all(option in takes for option in peer.use):
        return dict.fromkeys(peer.use, value), []
    return {}, [name] if peer.use else []


def _dtype_name(value: object) -> str:
    """A torch dtype (torch.bfloat16, as transformers takes it) written as the dtype option's value ('bfloat16')."""
    return repr(value if isinstance(value, str) else str(value).removeprefix("torch."))


def peer_option_message(
    owner: str,
    name: str,
    value: object,
    takes: Collection[str],
    spell: Mapping[str, Callable[[object], str]] | None = None,
) -> str | None:
    """The refusal of another embedder's option `name=value` by `owner`, naming the static2d option(s) to use.

    Args:
        owner: The class refusing it, e.g. "Static2DEmbeddings".
        name: The option given.
        value: Its value (a dict option is translated entry by entry).
        takes: Every option `owner` takes: a name it takes is not refused, and only these are suggested.
        spell: How `owner` writes the value of an option, where it is not the plain value (Haystack's
            `device=ComponentDevice.from_str('cuda')`). A token's value is never written.

    Returns:
        The message of the TypeError to raise, or None when `name` is not another embedder's option name (or is
        one that `owner` takes too).

    Example:
        >>> print(peer_option_message("Static2DEmbeddings", "truncate_dim", 128, ["dims"]))
        Static2DEmbeddings has no option 'truncate_dim' (an option of sentence-transformers and Haystack's \
SentenceTransformers embedders): use the static2d option dims=128 instead.
    """
    spelling = {"token": lambda _: "<your token>", "dtype": _dtype_name, **(spell or {})}
    peer = PEER_OPTIONS.get(name)
    if peer is None or name in takes:
        return None
    head = f"{owner} has no option {name!r} (an option of {peer.origin})"
    options, missing = _translate(name, value, takes)
    shown = ", ".join(f"{option}={spelling.get(option, repr)(item)}" for option, item in options.items())
    if options:
        msg = f"{head}: use the static2d option{'s' if len(options) > 1 else ''} {shown} instead."
        if missing:
            msg += f" {', '.join(missing)}: no static2d equivalent; leave {'them' if len(missing) > 1 else 'it'} out."
    elif peer.holds_options and missing:
        msg = f"{head}: {', '.join(missing)} {'have' if len(missing) > 1 else 'has'} no static2d equivalent; leave "
        msg += f"{name} out (static2d's options: {', '.join(sorted(takes))})."
    elif peer.holds_options:
        msg = f"{head}: {_NO_DICT} ({', '.join(sorted(takes))}); leave {name} out."
    elif peer.why:
        msg = f"{head}: {peer.why}"
    else:
        msg = f"{head}, and static2d has no {', '.join(peer.use)} option here; leave it out."
    return msg
