"""`static2d.load` and the `Encoder` it returns: validation, prompts, batching, dims and normalisation."""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Iterable, Sequence
from typing import Literal, Protocol

import numpy as np
import numpy.typing as npt

from static2d._resolve import ModelFiles, inspect_folder, locate

logger = logging.getLogger("static2d")

_DEFAULT_BATCH_SIZE = {"static": 4096, "transformer": 32}
# The transformer path hands sentence-transformers this many batches at once, so it can sort them by length.
_TRANSFORMER_CHUNK_BATCHES = 16


class _Backend(Protocol):
    kind: str
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
    items = list(texts)
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
    if value is not None and (isinstance(value, bool) and bool not in kinds or not isinstance(value, kinds)):
        msg = f"{name} must be {what}, got {value!r} ({type(value).__name__})."
        raise TypeError(msg)


class Encoder:
    """Encodes texts with a static or 2D-Matryoshka model at the chosen `dims` (and `layers`).

    Made by `static2d.load`; the loaded model behind it is shared with every other encoder of the same model,
    revision, layers and device in the process, and it is safe to call from several threads.

    Example:
        >>> import static2d
        >>> enc = static2d.load("sentence-transformers/static-retrieval-mrl-en-v1", dims=256)  # doctest: +SKIP
        >>> enc.encode(["hello world"]).shape  # doctest: +SKIP
        (1, 256)
    """

    def __init__(
        self,
        backend: _Backend,
        files: ModelFiles,
        *,
        dims: int,
        normalize: bool,
        batch_size: int,
        query_prompt: str,
        document_prompt: str,
        default_prompt: str,
    ) -> None:
        self._backend = backend
        self._files = files
        self.dims = dims
        self.normalize = normalize
        self.batch_size = batch_size
        self.query_prompt = query_prompt
        self.document_prompt = document_prompt
        self.default_prompt = default_prompt

    @property
    def kind(self) -> Literal["static", "transformer"]:
        """`"static"` or `"transformer"`."""
        return self._files.kind

    @property
    def model(self) -> str:
        """The model as it was given to `load` (hub id or path)."""
        return self._files.name

    @property
    def max_dims(self) -> int:
        """The model's full output size."""
        return self._backend.max_dims

    @property
    def layers(self) -> int | None:
        """Transformer layers run (None for a static model)."""
        return self._backend.layers

    @property
    def max_layers(self) -> int | None:
        """The model's full depth (None for a static model)."""
        return self._backend.max_layers

    @property
    def max_length(self) -> int | None:
        """Tokens kept per text (None: no limit)."""
        return self._backend.max_length

    def __repr__(self) -> str:
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
        return self._encode(items, self.default_prompt if prompt is None else prompt, show_progress_bar)

    def encode_query(self, texts: Sequence[str], *, show_progress_bar: bool = False) -> npt.NDArray[np.float32]:
        """Embed search queries, with the query prompt (the model's saved one unless `query_prompt` was given)."""
        return self._encode(check_texts(texts), self.query_prompt, show_progress_bar)

    def encode_document(self, texts: Sequence[str], *, show_progress_bar: bool = False) -> npt.NDArray[np.float32]:
        """Embed documents, with the document prompt (saved with the model unless `document_prompt` was given)."""
        return self._encode(check_texts(texts), self.document_prompt, show_progress_bar)

    def _encode(self, texts: list[str], prompt: str, show_progress_bar: bool) -> npt.NDArray[np.float32]:
        n = len(texts)
        out = np.empty((n, self.dims), dtype=np.float32)
        step = self.batch_size * (_TRANSFORMER_CHUNK_BATCHES if self.kind == "transformer" else 1)
        starts: Iterable[int] = range(0, n, step)
        if show_progress_bar and n > step:
            from tqdm.auto import tqdm

            starts = tqdm(starts, total=-(-n // step), desc="Encoding", unit="batch")
        for start in starts:
            batch = texts[start : start + step]
            vectors = self._backend.encode_batch(batch, self.dims, prompt, self.batch_size)
            out[start : start + len(batch)] = truncate_normalize(vectors, self.dims, self.normalize)
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
) -> Encoder:
    """Load a static or 2D-Matryoshka embedding model, cut to `layers` and `dims`.

    Args:
        model: A Hugging Face hub id or a local directory: a model2vec model, a sentence-transformers model
            whose first module is `StaticEmbedding`, or a sentence-transformers / Hugging Face transformer.
        dims: Keep the first `dims` output dimensions (Matryoshka), then re-normalise. None: all.
        layers: Transformer only: run (and keep in memory) only the first `layers` layers. None: all.
        normalize: Scale each embedding to unit length.
        batch_size: Texts per batch (default 4096 for static models, 32 for transformers).
        device: Transformer only: torch device ("cpu", "cuda", ...). Static models run on the CPU with numpy.
        revision: Hub branch, tag or commit.
        cache_folder: Where hub downloads are cached (default: the Hugging Face cache).
        local_files_only: Never touch the network; use the cache only.
        trust_remote_code: Allow a transformer's own modelling code from the hub to run.
        query_prompt: Put before queries by `encode_query`; None: the model's saved "query" prompt.
        document_prompt: Put before documents by `encode_document`; None: the model's saved document prompt.
        max_length: Tokens kept per text; None: the model's own setting (model2vec: its max_length;
            StaticEmbedding: no limit; transformer: its max_seq_length).
        token: Hugging Face token for a private or gated model.

    Returns:
        An `Encoder`.

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
    for flag, name in ((local_files_only, "local_files_only"), (trust_remote_code, "trust_remote_code")):
        _check_option(flag, name, (bool,), "True or False")

    name = os.fspath(model) if isinstance(model, os.PathLike) else model
    folder = locate(
        model,
        revision=revision,
        cache_folder=cache_folder,
        local_files_only=local_files_only,
        trust_remote_code=trust_remote_code,
        token=token,
    )
    files = inspect_folder(folder, str(name))
    if files.kind == "static":
        if layers is not None:
            msg = (
                f"layers={layers} was given, but {name!r} is a static embedding model: static models have no "
                "layers (they are a token-embedding table). Leave layers unset, or use a 2D-Matryoshka transformer."
            )
            raise ValueError(msg)
        if device not in (None, "cpu"):
            logger.warning("device=%r is ignored: static models run on the CPU with numpy.", device)
        key: tuple[object, ...] = ("static", str(folder), max_length)
        backend = _cached(key, lambda: _load_static(files, max_length))
        check_size(dims, "dims", backend.max_dims)
    else:
        check_size(layers, "layers", files.max_layers)
        check_size(dims, "dims", files.max_dims)
        depth = layers if layers is not None else files.max_layers or 0
        key = ("transformer", str(folder), depth, device, trust_remote_code, max_length)
        backend = _cached(
            key,
            lambda: _load_transformer(files, depth, device, trust_remote_code, max_length),
        )
        check_size(dims, "dims", backend.max_dims)

    def prompt_for(given: str | None, names: tuple[str, ...]) -> str:
        if given is not None:
            return given
        return next((files.prompts[n] for n in names if n in files.prompts), "")

    default = files.prompts.get(files.default_prompt_name, "") if files.default_prompt_name else ""
    return Encoder(
        backend,
        files,
        dims=dims if dims is not None else backend.max_dims,
        normalize=normalize,
        batch_size=batch_size if batch_size is not None else _DEFAULT_BATCH_SIZE[files.kind],
        query_prompt=prompt_for(query_prompt, ("query",)),
        document_prompt=prompt_for(document_prompt, ("document", "passage", "corpus")),
        default_prompt=default,
    )


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
    """Forget every loaded model (they are freed once no encoder holds them)."""
    with _CACHE_LOCK:
        _CACHE.clear()
