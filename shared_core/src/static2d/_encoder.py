"""`static2d.load` and the `Encoder` it returns: validation, prompts, batching, dims and normalisation."""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

import numpy as np
import numpy.typing as npt

from static2d import _onnx
from static2d._resolve import ModelFiles, inspect_folder, is_local, locate

logger = logging.getLogger("static2d")

_DEFAULT_BATCH_SIZE = {"static": 16384, "transformer": 32}
# The transformer path hands sentence-transformers this many batches at once, so it can sort them by length.
_TRANSFORMER_CHUNK_BATCHES = 16
_BACKENDS = _onnx.BACKENDS


class _Backend(Protocol):
    kind: str
    runtime: str  # what runs the model: "numpy", "torch" or "onnx"
    max_dims: int
    max_layers: int | None
    layers: int | None
    max_length: int | None

    def encode_batch(
        self, texts: Sequence[str], dims: int, prompt: str, batch_size: int
    ) -> npt.NDArray[np.float32]: ...


# One loaded model per configuration, shared by every Encoder (and so every adapter) in the process.
_CACHE: dict[tuple[object, ...], _Backend] = {}
_CACHE_LOCK = threading.Lock()
_KEY_LOCKS: dict[tuple[object, ...], threading.Lock] = {}


def check_size(value: object, name: str, maximum: int | None) -> int | None:
    """Validate `dims` / `layers`: None (full size) or an int in 1..maximum; bools and floats are refused."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        msg = f"{name} must be a whole number (int) or None for full size, got {value!r} ({type(value).__name__})."
        raise TypeError(msg)
    value = int(value)
    if value < 1 or (maximum is not None and value > maximum):
        upper = f"{maximum}" if maximum is not None else "the model's size"
        msg = f"{name}={value} is out of range: this model takes {name} from 1 to {upper} (or None for {upper})."
        raise ValueError(msg)
    return value


def check_texts(texts: object) -> list[str]:
    """Validate the input of `encode`: a list (or other sequence) of str."""
    if isinstance(texts, str):
        msg = "encode() takes a list of texts, got a single str. Wrap it in a list: encode([text])."
        raise TypeError(msg)
    if not isinstance(texts, Sequence) and not isinstance(texts, np.ndarray):
        msg = f"encode() takes a list of str, got {type(texts).__name__}. Pass list(texts)."
        raise TypeError(msg)
    items = texts if type(texts) is list else list(texts)  # a list is read, not copied
    if not all(type(t) is str for t in items):
        for i, t in enumerate(items):
            if not isinstance(t, str):
                msg = f"encode() takes a list of str, but item {i} is a {type(t).__name__} ({t!r:.60}). Pass text only."
                raise TypeError(msg)
    return items


def truncate_normalize(vectors: npt.NDArray[np.float32], dims: int, normalize: bool) -> npt.NDArray[np.float32]:
    """Keep the first `dims` components and, if asked, scale each row to unit length (zero rows stay zero)."""
    out = np.ascontiguousarray(vectors[:, :dims], dtype=np.float32)
    if normalize and out.size:
        norms = np.sqrt(np.einsum("ij,ij->i", out, out))
        np.divide(out, norms[:, None], out=out, where=norms[:, None] > 0)
    return out


def _check_option(value: object, name: str, kinds: tuple[type, ...], what: str) -> None:
    if value is not None and ((isinstance(value, bool) and bool not in kinds) or not isinstance(value, kinds)):
        msg = f"{name} must be {what}, got {value!r} ({type(value).__name__})."
        raise TypeError(msg)


@dataclass(frozen=True)
class _Options:
    model: str
    dims: int | None
    layers: int | None
    normalize: bool
    batch_size: int | None
    device: str | None
    revision: str | None
    cache_folder: str | None
    local_files_only: bool
    trust_remote_code: bool
    query_prompt: str | None
    document_prompt: str | None
    max_length: int | None
    token: str | bool | None
    backend: str = "auto"


class _Loaded:
    """What an Encoder knows once its model is loaded."""

    def __init__(self, backend: _Backend, files: ModelFiles, options: _Options) -> None:
        self.backend = backend
        self.files = files
        self.dims = options.dims if options.dims is not None else backend.max_dims
        self.batch_size = options.batch_size or _DEFAULT_BATCH_SIZE[files.kind]

        def prompt_for(given: str | None, names: tuple[str, ...]) -> str:
            if given is not None:
                return given
            return next((files.prompts[n] for n in names if n in files.prompts), "")

        self.query_prompt = prompt_for(options.query_prompt, ("query",))
        self.document_prompt = prompt_for(options.document_prompt, ("document", "passage", "corpus"))
        name = files.default_prompt_name
        self.default_prompt = files.prompts.get(name, "") if name else ""


class Encoder:
    """Encodes texts with a static or 2D-Matryoshka model at the chosen `dims` (and `layers`).

    Made by `static2d.load`. The loaded model behind it is shared with every other encoder of the same model,
    revision, layers and device in the process (whatever their `dims`), and it is safe to call from several
    threads. A lazy encoder (`load(..., lazy=True)`) has checked its options but loads the model on
    `warm_up()` or on first use.

    Example:
        >>> import static2d
        >>> enc = static2d.load("sentence-transformers/static-retrieval-mrl-en-v1", dims=256)  # doctest: +SKIP
        >>> enc.encode(["hello world"]).shape  # doctest: +SKIP
        (1, 256)
    """

    def __init__(self, options: _Options, files: ModelFiles | None = None) -> None:
        self._options = options
        self._files = files
        self._loaded: _Loaded | None = None
        self._lock = threading.Lock()

    def __reduce__(self) -> tuple[type[Encoder], tuple[_Options]]:
        # Pickles as its options: unpickled, it is lazy, and loads (or reuses) the shared model on first use.
        return (Encoder, (self._options,))

    def warm_up(self) -> Encoder:
        """Load the model now (once; later calls return at once). Returns the encoder."""
        self._get()
        return self

    @property
    def loaded(self) -> bool:
        """Whether the model is loaded."""
        return self._loaded is not None

    def _get(self) -> _Loaded:
        loaded = self._loaded
        if loaded is None:
            with self._lock:
                if self._loaded is None:
                    self._loaded = _load_model(self._options, self._files)
                loaded = self._loaded
        return loaded

    @property
    def options(self) -> dict[str, object]:
        """The options this encoder was made with (as given to `load`; a token shows as "***", never its value)."""
        options = dict(self._options.__dict__)
        if isinstance(options["token"], str):
            options["token"] = "***"  # noqa: S105 - a mask, not a password
        return options

    @property
    def model(self) -> str:
        """The model as it was given to `load` (hub id or path)."""
        return self._options.model

    @property
    def kind(self) -> Literal["static", "transformer"]:
        """`"static"` or `"transformer"`."""
        return self._get().files.kind

    @property
    def backend(self) -> Literal["numpy", "torch", "onnx"]:
        """What runs the model: "numpy" (static), "torch" or "onnx" (what `backend="auto"` chose)."""
        runtime = self._get().backend.runtime
        assert runtime in ("numpy", "torch", "onnx")  # noqa: S101 - set by the three backend classes
        return runtime  # type: ignore[return-value]

    @property
    def dims(self) -> int:
        """Output dimensions."""
        return self._get().dims

    @property
    def max_dims(self) -> int:
        """The model's full output size."""
        return self._get().backend.max_dims

    @property
    def layers(self) -> int | None:
        """Transformer layers run (None for a static model)."""
        return self._get().backend.layers

    @property
    def max_layers(self) -> int | None:
        """The model's full depth (None for a static model)."""
        return self._get().backend.max_layers

    @property
    def max_length(self) -> int | None:
        """Tokens kept per text (None: no limit)."""
        return self._get().backend.max_length

    @property
    def normalize(self) -> bool:
        """Whether embeddings are scaled to unit length."""
        return self._options.normalize

    @property
    def batch_size(self) -> int:
        """Texts per batch."""
        return self._get().batch_size

    @property
    def query_prompt(self) -> str:
        """The prompt `encode_query` puts before each query ("" for none)."""
        return self._get().query_prompt

    @property
    def document_prompt(self) -> str:
        """The prompt `encode_document` puts before each document ("" for none)."""
        return self._get().document_prompt

    def __repr__(self) -> str:
        if self._loaded is None:
            return f"Encoder({self.model!r}, dims={self._options.dims}, layers={self._options.layers}, not loaded)"
        layers = f", layers={self.layers}/{self.max_layers}" if self.kind == "transformer" else ""
        return f"Encoder({self.model!r}, kind={self.kind!r}, dims={self.dims}/{self.max_dims}{layers})"

    def encode(
        self, texts: Sequence[str], *, prompt: str | None = None, show_progress_bar: bool = False
    ) -> npt.NDArray[np.float32]:
        """Embed texts: a float32 array of shape (len(texts), dims), rows of unit length if `normalize`.

        Args:
            texts: The texts, a list of str. Any length works; a transformer truncates to its max length.
            prompt: Text put before each input; None uses the model's default prompt, if it saved one.
            show_progress_bar: Show a tqdm progress bar over the batches.
        """
        items = check_texts(texts)
        loaded = self._get()
        return self._encode(loaded, items, loaded.default_prompt if prompt is None else prompt, show_progress_bar)

    def encode_query(self, texts: Sequence[str], *, show_progress_bar: bool = False) -> npt.NDArray[np.float32]:
        """Embed search queries, with the query prompt (the model's saved one unless `query_prompt` was given)."""
        items = check_texts(texts)
        loaded = self._get()
        return self._encode(loaded, items, loaded.query_prompt, show_progress_bar)

    def encode_document(self, texts: Sequence[str], *, show_progress_bar: bool = False) -> npt.NDArray[np.float32]:
        """Embed documents, with the document prompt (saved with the model unless `document_prompt` was given)."""
        items = check_texts(texts)
        loaded = self._get()
        return self._encode(loaded, items, loaded.document_prompt, show_progress_bar)

    def _encode(
        self, loaded: _Loaded, texts: list[str], prompt: str, show_progress_bar: bool
    ) -> npt.NDArray[np.float32]:
        n, dims, batch_size = len(texts), loaded.dims, loaded.batch_size
        out = np.empty((n, dims), dtype=np.float32)
        step = batch_size * (_TRANSFORMER_CHUNK_BATCHES if loaded.files.kind == "transformer" else 1)
        starts: Iterable[int] = range(0, n, step)
        if show_progress_bar and n > step:
            from tqdm.auto import tqdm

            starts = tqdm(starts, total=-(-n // step), desc="Encoding", unit="batch")
        for start in starts:
            batch = texts[start : start + step]
            vectors = loaded.backend.encode_batch(batch, dims, prompt, batch_size)
            out[start : start + len(batch)] = truncate_normalize(vectors, dims, self._options.normalize)
        return out


def load(
    model: str | os.PathLike[str],
    *,
    dims: int | None = None,
    layers: int | None = None,
    normalize: bool = True,
    batch_size: int | None = None,
    device: str | None = None,
    revision: str | None = None,
    cache_folder: str | os.PathLike[str] | None = None,
    local_files_only: bool = False,
    trust_remote_code: bool = False,
    query_prompt: str | None = None,
    document_prompt: str | None = None,
    max_length: int | None = None,
    token: str | bool | None = None,
    backend: Literal["auto", "torch", "onnx"] = "auto",
    lazy: bool = False,
) -> Encoder:
    """Load a static or 2D-Matryoshka embedding model, cut to `layers` and `dims`.

    Args:
        model: A Hugging Face hub id or a local directory: a model2vec model, a sentence-transformers model
            whose first module is `StaticEmbedding`, or a sentence-transformers / Hugging Face transformer.
        dims: Keep the first `dims` output dimensions (Matryoshka), then re-normalise. None: all.
        layers: Transformer only: run (and keep in memory) only the first `layers` layers. None: all.
        normalize: Scale each embedding to unit length.
        batch_size: Texts per batch (default 16384 for static models, 32 for transformers).
        device: Transformer only: torch device ("cpu", "cuda", ...). Static models run on the CPU with numpy.
        revision: Hub branch, tag or commit.
        cache_folder: Where hub downloads are cached (default: the Hugging Face cache).
        local_files_only: Never touch the network; use the cache only.
        trust_remote_code: Allow a transformer's own modelling code from the hub to run.
        query_prompt: Put before queries by `encode_query`; None: the model's saved "query" prompt.
        document_prompt: Put before documents by `encode_document`; None: the model's saved document prompt.
        max_length: Tokens kept per text; None: the model's own setting (model2vec: its max_length;
            StaticEmbedding: no limit; transformer: its max_seq_length).
        token: Hugging Face token for a private or gated model (default: the logged-in one, if any).
        backend: Transformer only (static models ignore it): "torch" runs sentence-transformers; "onnx" runs
            ONNX Runtime on the CPU, on a graph holding only the first `layers` layers (exported once with torch,
            then cached under ~/.cache/static2d/onnx or $STATIC2D_ONNX_CACHE, where it needs no torch); "auto"
            uses ONNX when onnxruntime is installed and the cut graph is cached or can be exported, else torch.
        lazy: Check the options now (against the model's configs too, for a local directory), but load the
            model on `warm_up()` or first use.

    Returns:
        An `Encoder`.

    Raises:
        TypeError: An option of the wrong type (e.g. `dims=2.5`, `layers=True`).
        ValueError: An option out of range, an unknown model id or path, or model files static2d cannot read.
        OSError: The model is not cached and cannot be downloaded (offline).
        ImportError: A transformer model without the `static2d-core[transformers]` extra installed (or, with
            backend="onnx", without `static2d-core[onnx]`, or `[onnx-export]` for a graph not yet cached).

    Example:
        >>> import static2d
        >>> enc = static2d.load("mixedbread-ai/mxbai-embed-2d-large-v1", layers=16, dims=512)  # doctest: +SKIP
        >>> enc.encode_query(["what is a panda?"]).shape  # doctest: +SKIP
        (1, 512)
    """
    # Cheap checks first: nothing is read or downloaded for an option that cannot work.
    check_size(dims, "dims", None)
    check_size(layers, "layers", None)
    check_size(max_length, "max_length", None)
    check_size(batch_size, "batch_size", None)
    _check_option(normalize, "normalize", (bool,), "True or False")
    _check_option(device, "device", (str,), 'a torch device name such as "cpu" or "cuda", or None')
    _check_option(revision, "revision", (str,), "a branch, tag or commit, or None")
    _check_option(query_prompt, "query_prompt", (str,), "a str or None")
    _check_option(document_prompt, "document_prompt", (str,), "a str or None")
    _check_option(cache_folder, "cache_folder", (str, os.PathLike), "a directory path or None")
    for flag, flag_name in ((local_files_only, "local_files_only"), (trust_remote_code, "trust_remote_code")):
        _check_option(flag, flag_name, (bool,), "True or False")
    if backend not in _BACKENDS:
        msg = f"backend must be one of {', '.join(map(repr, _BACKENDS))}, got {backend!r}."
        raise (ValueError if isinstance(backend, str) else TypeError)(msg)
    if not isinstance(model, (str, os.PathLike)) or not os.fspath(model).strip():
        msg = (
            "model must be a Hugging Face hub id (like 'sentence-transformers/static-retrieval-mrl-en-v1') "
            f"or a local directory, got {model!r}."
        )
        raise ValueError(msg)
    options = _Options(
        model=os.fspath(model),
        dims=None if dims is None else int(dims),
        layers=None if layers is None else int(layers),
        normalize=normalize,
        batch_size=batch_size,
        device=device,
        revision=revision,
        cache_folder=None if cache_folder is None else os.fspath(cache_folder),
        local_files_only=local_files_only,
        trust_remote_code=trust_remote_code,
        query_prompt=query_prompt,
        document_prompt=document_prompt,
        max_length=max_length,
        token=token,
        backend=backend,
    )
    # A local model is checked now, lazy or not (its configs are at hand); a hub model is looked up on loading.
    files = _inspect(options) if is_local(options.model) else None
    encoder = Encoder(options, files)
    return encoder if lazy else encoder.warm_up()


def _inspect(o: _Options) -> ModelFiles:
    """Find the model's files and check the options against its configs; reads JSON and headers, no weights."""
    folder = locate(
        o.model,
        revision=o.revision,
        cache_folder=o.cache_folder,
        local_files_only=o.local_files_only,
        trust_remote_code=o.trust_remote_code,
        token=o.token,
    )
    files = inspect_folder(folder, o.model)
    if files.kind == "static" and o.layers is not None:
        msg = (
            f"layers={o.layers} was given, but {o.model!r} is a static embedding model: static models have no "
            "layers (they are a token-embedding table). Leave layers unset, or use a 2D-Matryoshka transformer."
        )
        raise ValueError(msg)
    check_size(o.layers, "layers", files.max_layers)
    check_size(o.dims, "dims", files.max_dims)
    return files


def _load_model(o: _Options, files: ModelFiles | None) -> _Loaded:
    if files is None:
        files = _inspect(o)
    folder = files.folder
    backend: _Backend
    if files.kind == "static":
        if o.device not in (None, "cpu"):
            logger.warning("device=%r is ignored: static models run on the CPU with numpy.", o.device)
        max_length = o.max_length
        backend = _cached(("static", str(folder), max_length), lambda: _load_static(files, max_length))
    else:
        depth = o.layers if o.layers is not None else files.max_layers or 0
        onnx = _load_onnx(o, files, depth) if _onnx.wanted(o.backend, files, depth, o.device, o.max_length) else None
        if onnx is not None:
            backend = onnx
        else:
            key = ("transformer", str(folder), depth, o.device, o.trust_remote_code, o.max_length)
            backend = _cached(key, lambda: _load_transformer(files, depth, o.device, o.trust_remote_code, o.max_length))
    check_size(o.dims, "dims", backend.max_dims)
    return _Loaded(backend, files, o)


def _load_static(files: ModelFiles, max_length: int | None) -> _Backend:
    from static2d._static import StaticBackend

    return StaticBackend(files, max_length)


def _load_transformer(
    files: ModelFiles, layers: int, device: str | None, trust_remote_code: bool, max_length: int | None
) -> _Backend:
    from static2d._transformer import TransformerBackend

    return TransformerBackend(
        files, layers=layers, device=device, trust_remote_code=trust_remote_code, max_length=max_length
    )


def _load_onnx(o: _Options, files: ModelFiles, depth: int) -> _Backend | None:
    """The ONNX Runtime backend; None when backend="auto" finds that ONNX cannot run this model (then torch)."""
    from static2d._onnx import OnnxBackend

    key = ("onnx", str(files.folder), depth, o.trust_remote_code, o.max_length)
    try:
        return _cached(
            key,
            lambda: OnnxBackend(
                files, layers=depth, device=o.device, trust_remote_code=o.trust_remote_code, max_length=o.max_length
            ),
        )
    except (_onnx.OnnxUnsupportedError, ImportError) as e:
        if o.backend == "onnx":
            raise
        logger.info("backend='auto' runs %s with torch: %s", files.name, e)
        if isinstance(e, _onnx.OnnxUnsupportedError):
            _onnx.refuse(files, depth)
        return None


def _cached(key: tuple[object, ...], make: Callable[[], _Backend]) -> _Backend:
    """The loaded model for `key`, loading it once even when several threads ask at the same time."""
    with _CACHE_LOCK:
        if key in _CACHE:
            return _CACHE[key]
        key_lock = _KEY_LOCKS.setdefault(key, threading.Lock())
    with key_lock:
        with _CACHE_LOCK:
            if key in _CACHE:
                return _CACHE[key]
        backend = make()
        with _CACHE_LOCK:
            _CACHE[key] = backend
            _KEY_LOCKS.pop(key, None)
        return backend


def clear_cache() -> None:
    """Forget every loaded model (each is freed once no encoder holds it)."""
    with _CACHE_LOCK:
        _CACHE.clear()
