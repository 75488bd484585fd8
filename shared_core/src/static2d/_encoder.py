"""`static2d.load` and the `Encoder` it returns: prompts, batching and normalisation.

The model is described by `_model` and run by an engine from `_engines`.
"""

from __future__ import annotations

import os
import threading
import weakref
from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from static2d import _engines, _fingerprint, _precision
from static2d._cells import Cell
from static2d._checks import check_size, check_sizes, check_texts
from static2d._device import place
from static2d._engines import Engine
from static2d._model.describe import ModelDescription, describe
from static2d._model.files import check_transformer_files
from static2d._model.hub import is_local, locate
from static2d._model.limits import check_max_length
from static2d._options import OPTIONS, Backend, Dtype, Options, Quantize, check_options, refuse_inapplicable
from static2d._peers import refuses_unknown_options
from static2d._precision import Precision

# int8 / uint8 ranges, computed once per loaded model and settings (dims, normalize, prompts), whichever encoder or
# adapter asks first; forgotten with the model.
_RANGES: weakref.WeakKeyDictionary[Engine, dict[tuple[object, ...], npt.NDArray[np.float32]]] = (
    weakref.WeakKeyDictionary()
)


class _Loaded:
    """What an Encoder knows once its model is loaded."""

    def __init__(self, engine: Engine, description: ModelDescription, options: Options, max_dims: int) -> None:
        self.engine = engine
        self.description = description
        self.max_dims = max_dims
        self.dims = options.dims if options.dims is not None else max_dims
        self.batch_size = options.batch_size or engine.default_batch_size

        def prompt_for(given: str | None, names: tuple[str, ...]) -> str:
            if given is not None:
                return given
            return next((description.prompts[n] for n in names if n in description.prompts), "")

        self.query_prompt = prompt_for(options.query_prompt, ("query",))
        self.document_prompt = prompt_for(options.document_prompt, ("document", "passage", "corpus"))
        name = description.default_prompt_name
        self.default_prompt = description.prompts.get(name, "") if name else ""
        self.ranges: npt.NDArray[np.float32] | None = None  # int8 / uint8: computed once, from calibration text


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

    def __init__(self, options: Options, description: ModelDescription | None = None) -> None:
        self._options = options
        self._description = description
        self._loaded: _Loaded | None = None
        self._lock = threading.Lock()

    def __reduce__(self) -> tuple[type[Encoder], tuple[Options]]:
        # Pickles as its options, never a token: unpickled, it is lazy, loads (or reuses) the shared model on
        # first use, and a model that needs a token reads it from the environment (HF_TOKEN) there.
        return (Encoder, (self._options.without_secrets(),))

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
                    self._loaded = _load(self._options, self._description)
                loaded = self._loaded
        return loaded

    @property
    def options(self) -> dict[str, object]:
        """The options this encoder was made with (as given to `load`; a token shows as "***", never its value)."""
        return self._options.public()

    def same_model(self, other: Encoder) -> bool:
        """Whether both encoders run the very same loaded model (loading both if need be).

        Encoders of one model, revision, depth, device and backend share one loaded model, whatever their `dims`
        and prompts.
        """
        return self._get().engine is other._get().engine

    @property
    def model(self) -> str:
        """The model as it was given to `load` (hub id or path)."""
        return self._options.model

    @property
    def kind(self) -> Literal["static", "transformer"]:
        """`"static"` or `"transformer"`."""
        return self._get().description.kind

    @property
    def backend(self) -> Literal["numpy", "torch", "onnx"]:
        """What runs the model: "numpy" (static), "torch" or "onnx" (what `backend="auto"` chose)."""
        return self._get().engine.runtime

    @property
    def device(self) -> str:
        """Where the model runs: a torch device ("cuda:0", "mps", "cpu", ...), ONNX Runtime's ("cpu", "cuda:0"), "cpu".

        For `device=None`, the best accelerator torch sees, else the CPU.
        """
        return self._get().engine.device

    @property
    def dtype(self) -> str:
        """The precision the transformer runs in: "float32", "bfloat16" or "float16" (static and ONNX: float32)."""
        return self._options.dtype

    @property
    def dims(self) -> int:
        """Output dimensions."""
        return self._get().dims

    @property
    def embedding_dim(self) -> int:
        """The size of the vectors `encode` returns: size a vector store with it.

        `dims` (or the model's full size when `dims` is None), and ceil(dims / 8) for the packed `precision`s
        "binary" / "ubinary".

        Known before the model loads: read from the model's configs (a hub model is looked up, not loaded); the model
        is loaded only when its configs do not tell.
        """
        return _precision.vector_length(self._output_dims(), self._options.precision)

    def _output_dims(self) -> int:
        if self._loaded is not None:
            return self._loaded.dims
        if self._options.dims is not None:
            return self._options.dims
        if self._description is None:
            self._description = _describe(self._options)
        if self._description.max_dims is not None:
            return self._description.max_dims
        return self._get().dims

    @property
    def max_dims(self) -> int:
        """The model's full output size."""
        return self._get().max_dims

    @property
    def layers(self) -> int | None:
        """Transformer layers run (None for a static model)."""
        return self._get().engine.layers

    @property
    def max_layers(self) -> int | None:
        """The model's full depth (None for a static model)."""
        return self._get().engine.max_layers

    @property
    def max_length(self) -> int | None:
        """Tokens kept per text (None: no limit)."""
        return self._get().engine.max_length

    @property
    def normalize(self) -> bool:
        """Whether embeddings are scaled to unit length."""
        return self._options.normalize

    @property
    def batch_size(self) -> int:
        """Texts per batch, at most (the torch engine also holds each batch to `max_batch_tokens` padded tokens)."""
        return self._get().batch_size

    @property
    def query_prompt(self) -> str:
        """The prompt `encode_query` puts before each query ("" for none)."""
        return self._get().query_prompt

    @property
    def document_prompt(self) -> str:
        """The prompt `encode_document` puts before each document ("" for none)."""
        return self._get().document_prompt

    @property
    def precision(self) -> str:
        """What each number of an embedding is: "float32", "int8", "uint8", "binary" or "ubinary"."""
        return self._options.precision

    @property
    def ranges(self) -> npt.NDArray[np.float32] | None:
        """int8 / uint8 only: each dimension's [low, high] (shape (2, dims)), from static2d's calibration text."""
        if self.precision not in ("int8", "uint8"):
            return None
        loaded = self._get()
        if loaded.ranges is None:
            known = _RANGES.setdefault(loaded.engine, {})
            key = (loaded.dims, self.normalize, loaded.document_prompt, loaded.query_prompt)
            if key not in known:
                texts = _precision.calibration_texts()
                prompts = (loaded.document_prompt, loaded.query_prompt)
                known[key] = _precision.ranges_of(np.vstack([self._floats(loaded, texts, p, False) for p in prompts]))
            loaded.ranges = known[key]
        return loaded.ranges

    @property
    def fingerprint(self) -> str:
        """A short stable string naming everything that determines the vectors (see `describe()`)."""
        return self.describe()["fingerprint"]

    def describe(self) -> dict[str, str]:
        """The fingerprint and the readable fields it is made from, all str: store them with an index.

        `static2d.check_fingerprint(stored, encoder)` compares them before a query and says what changed.

        Example:
            >>> enc = static2d.load("sentence-transformers/static-retrieval-mrl-en-v1", dims=64)  # doctest: +SKIP
            >>> enc.describe()["dims"], enc.describe()["fingerprint"][:5]  # doctest: +SKIP
            ('64', 's2d1-')
        """
        loaded = self._get()
        return _fingerprint.describe_fields(
            model=_fingerprint.model_identity(loaded.description.folder, hub=not is_local(self.model)),
            source=self.model,
            kind=loaded.description.kind,
            layers=loaded.engine.layers,
            dims=loaded.dims,
            normalize=self.normalize,
            query_prompt=loaded.query_prompt,
            document_prompt=loaded.document_prompt,
            max_length=loaded.engine.max_length,
            quantize=self._options.quantize,
            precision=self.precision,
            ranges=_precision.ranges_id(self.ranges),
            dtype=self.dtype,
            device=loaded.engine.device,
            backend=loaded.engine.runtime,
            kernel=loaded.engine.kernel,
        )

    def __repr__(self) -> str:
        if self._loaded is None:
            return f"Encoder({self.model!r}, dims={self._options.dims}, layers={self._options.layers}, not loaded)"
        layers = f", layers={self.layers}/{self.max_layers}" if self.kind == "transformer" else ""
        return f"Encoder({self.model!r}, kind={self.kind!r}, dims={self.dims}/{self.max_dims}{layers})"

    def encode(
        self, texts: Sequence[str], *, prompt: str | None = None, show_progress_bar: bool = False
    ) -> npt.NDArray[Any]:
        """Embed texts: a float32 array of shape (len(texts), dims), rows of unit length if `normalize`.

        With a `precision` other than "float32", the array is int8 / uint8 (shape (len(texts), embedding_dim)).

        Args:
            texts: The texts, a list of str. Any length works; a transformer truncates to its max length.
            prompt: Text put before each input; None uses the model's default prompt, if it saved one.
            show_progress_bar: Show a tqdm progress bar over the batches.
        """
        items = check_texts(texts)
        loaded = self._get()
        return self._encode(loaded, items, loaded.default_prompt if prompt is None else prompt, show_progress_bar)

    def encode_query(self, texts: Sequence[str], *, show_progress_bar: bool = False) -> npt.NDArray[Any]:
        """Embed search queries, with the query prompt (the model's saved one unless `query_prompt` was given)."""
        items = check_texts(texts)
        loaded = self._get()
        return self._encode(loaded, items, loaded.query_prompt, show_progress_bar)

    def encode_document(self, texts: Sequence[str], *, show_progress_bar: bool = False) -> npt.NDArray[Any]:
        """Embed documents, with the document prompt (saved with the model unless `document_prompt` was given)."""
        items = check_texts(texts)
        loaded = self._get()
        return self._encode(loaded, items, loaded.document_prompt, show_progress_bar)

    def encode_grid(
        self,
        texts: Sequence[str],
        *,
        layers: Sequence[int],
        dims: Sequence[int],
        prompt: str | None = None,
        show_progress_bar: bool = False,
    ) -> dict[tuple[int, int], npt.NDArray[np.float32]]:
        """Embed texts at every (layers, dims) of a grid, running the transformer once per text.

        Each entry equals `static2d.load(model, layers=l, dims=d).encode(texts)` (same prompt, pooling, Dense
        heads, normalisation) within 1e-4: layer l's output is taken from the one pass and finished as a model
        cut at l finishes it (ModernBERT's final norm included). Load the encoder at full depth, or at least at
        the deepest `layers` asked for; its own `dims` does not limit the grid's.

        Args:
            texts: The texts, a list of str.
            layers: Depths, each from 1 to this encoder's `layers`.
            dims: Output sizes, each from 1 to `max_dims`.
            prompt: Text put before each input; None uses the model's default prompt, if it saved one.
            show_progress_bar: Show a tqdm progress bar over the batches.

        Returns:
            {(l, d): float32 array of shape (len(texts), d)} for every l in `layers` and d in `dims`.

        Raises:
            ValueError: A static model (it has no layers), or a depth or size out of range.
            TypeError: texts, layers or dims of the wrong type.

        Example:
            >>> import static2d
            >>> enc = static2d.load("sentence-transformers/all-MiniLM-L6-v2")  # doctest: +SKIP
            >>> grid = enc.encode_grid(["a panda eats bamboo"], layers=[3, 6], dims=[64, 384])  # doctest: +SKIP
            >>> sorted(grid), grid[3, 64].shape  # doctest: +SKIP
            ([(3, 64), (3, 384), (6, 64), (6, 384)], (1, 64))
        """
        items = check_texts(texts)
        loaded = self._get()
        prompt = loaded.default_prompt if prompt is None else prompt
        return self._encode_grid(
            loaded, items, layers=layers, dims=dims, prompt=prompt, show_progress_bar=show_progress_bar
        )

    def encode_query_grid(
        self, texts: Sequence[str], *, layers: Sequence[int], dims: Sequence[int], show_progress_bar: bool = False
    ) -> dict[tuple[int, int], npt.NDArray[np.float32]]:
        """`encode_grid` with the query prompt: each entry equals a cut encoder's `encode_query(texts)`."""
        items = check_texts(texts)
        loaded = self._get()
        return self._encode_grid(
            loaded, items, layers=layers, dims=dims, prompt=loaded.query_prompt, show_progress_bar=show_progress_bar
        )

    def encode_document_grid(
        self, texts: Sequence[str], *, layers: Sequence[int], dims: Sequence[int], show_progress_bar: bool = False
    ) -> dict[tuple[int, int], npt.NDArray[np.float32]]:
        """`encode_grid` with the document prompt: each entry equals a cut encoder's `encode_document(texts)`."""
        items = check_texts(texts)
        loaded = self._get()
        return self._encode_grid(
            loaded, items, layers=layers, dims=dims, prompt=loaded.document_prompt, show_progress_bar=show_progress_bar
        )

    def _encode_grid(
        self,
        loaded: _Loaded,
        texts: list[str],
        *,
        layers: Sequence[int],
        dims: Sequence[int],
        prompt: str,
        show_progress_bar: bool,
    ) -> dict[tuple[int, int], npt.NDArray[np.float32]]:
        engine = loaded.engine
        if loaded.description.kind == "static" or engine.layers is None:
            msg = (
                f"encode_grid() needs a transformer, but {self.model!r} is a static embedding model: static models "
                "have no layers. For several dims, encode once and keep the first d columns of each row "
                "(then re-normalise), or call static2d.load(..., dims=d) per size."
            )
            raise ValueError(msg)
        if self.precision != "float32":
            msg = (
                f"encode_grid() returns float32 vectors, but this encoder was loaded with precision="
                f"{self.precision!r} (whose ranges depend on each layers and dims). Call encode_grid on an encoder "
                "with precision='float32' (the default), or load one encoder per cell with that precision."
            )
            raise ValueError(msg)
        hint = (
            f"This encoder runs {engine.layers} of {engine.max_layers} layers: load it with layers=None "
            "(full depth) or at least the deepest depth of the grid."
        )
        depths = check_sizes(layers, "layers", engine.layers, hint=hint)
        sizes = check_sizes(dims, "dims", loaded.max_dims)
        cells = [(depth, d) for depth in depths for d in sizes]
        return self._cells(loaded, texts, prompt, cells, show_progress_bar, "Encoding grid")

    def _encode(self, loaded: _Loaded, texts: list[str], prompt: str, show_progress_bar: bool) -> npt.NDArray[Any]:
        vectors = self._floats(loaded, texts, prompt, show_progress_bar)
        if self.precision == "float32":
            return vectors
        return _precision.quantize(vectors, self.precision, self.ranges)

    def _floats(
        self, loaded: _Loaded, texts: list[str], prompt: str, show_progress_bar: bool
    ) -> npt.NDArray[np.float32]:
        cell = (loaded.engine.layers or 0, loaded.dims)
        return self._cells(loaded, texts, prompt, [cell], show_progress_bar, "Encoding")[cell]

    def _cells(  # noqa: PLR0917 - private
        self,
        loaded: _Loaded,
        texts: list[str],
        prompt: str,
        cells: list[Cell],
        show_progress_bar: bool,
        what: str,
    ) -> dict[Cell, npt.NDArray[np.float32]]:
        """The engine's vectors at each (layers, dims) cell, normalised if `normalize` (`Engine.encode`)."""
        bar = None
        if show_progress_bar and texts:
            from tqdm.auto import tqdm

            bar = tqdm(total=len(texts), desc=what, unit="text")
        try:
            return loaded.engine.encode(
                texts,
                prompt,
                cells,
                normalize=self._options.normalize,
                batch_size=loaded.batch_size,
                progress=None if bar is None else bar.update,
            )
        except (TypeError, ValueError) as e:  # the tokenizer's words for text that is not valid Unicode
            _refuse_invalid_unicode([prompt], "the prompt", e)
            _refuse_invalid_unicode(texts, "item", e)
            raise
        finally:
            if bar is not None:
                bar.close()


def _refuse_invalid_unicode(texts: Sequence[str], what: str, error: Exception) -> None:
    """Name the first text holding a lone surrogate (not valid Unicode, so no tokenizer can read it), if any."""
    for i, text in enumerate(texts):
        try:
            text.encode("utf-8")
        except UnicodeEncodeError as e:
            where = f"{what} {i}" if what == "item" else what
            msg = (
                f"{where} holds {text[e.start : e.end]!r} at character {e.start}, a lone surrogate: not valid Unicode "
                "text, so it cannot be tokenized. Repair or drop it before embedding (for instance "
                "text.encode('utf-8', 'replace').decode('utf-8'))."
            )
            raise ValueError(msg) from error


@refuses_unknown_options("static2d.load")
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
    backend: Backend = "auto",
    quantize: Quantize = None,
    dtype: Dtype = "float32",
    precision: Precision = "float32",
    lazy: bool = False,
) -> Encoder:
    """Load a static or 2D-Matryoshka embedding model, cut to `layers` and `dims`.

    Every keyword but `lazy` is an option of the registry `static2d.OPTIONS` (its doc is the Args section below,
    written from the registry). `lazy=True` checks the options now (against the model's configs too, for a local
    directory), but loads the model on `warm_up()` or first use.

    Returns:
        An `Encoder`.

    Raises:
        TypeError: An option of the wrong type (e.g. `dims=2.5`, `layers=True`), or one `load` does not take
            (`dimension=256`: the message names the closest option, here dims=256).
        ValueError: An option out of range, an unknown model id or path, or model files static2d cannot read.
        OSError: The model is not cached and cannot be downloaded (offline).
        ImportError: A transformer model without the `transformers` extra installed (`static2d-core[transformers]`,
            or the adapter's, e.g. `static2d-langchain[transformers]`; the message names the one in use), or, with
            backend="onnx", without `static2d-core[onnx]` (or `[onnx-export]` for a graph not yet cached).

    Example:
        >>> import static2d
        >>> enc = static2d.load("mixedbread-ai/mxbai-embed-2d-large-v1", layers=16, dims=512)  # doctest: +SKIP
        >>> enc.encode_query(["what is a panda?"]).shape  # doctest: +SKIP
        (1, 512)
    """
    given = locals()
    # Cheap checks first: nothing is read or downloaded for an option that cannot work.
    options = check_options(**{option.name: given[option.name] for option in OPTIONS})
    # A local model is checked now, lazy or not (its configs are at hand); a hub model is looked up on loading.
    description = _describe(options) if is_local(options.model) else None
    if description is None:  # the device against this machine now; against the model's kind once it is found
        _place(options, None)
    encoder = Encoder(options, description)
    return encoder if lazy else encoder.warm_up()


def _describe(o: Options) -> ModelDescription:
    """Find the model's files, describe it, and check the options against it (reads configs, no weights)."""
    folder = locate(
        o.model,
        revision=o.revision,
        cache_folder=o.cache_folder,
        local_files_only=o.local_files_only,
        trust_remote_code=o.trust_remote_code,
        token=o.token,
    )
    description = describe(folder, o.model)
    _place(o, description.kind)
    refuse_inapplicable(o, description.kind)
    if description.kind == "transformer":
        check_size(o.layers, "layers", description.max_layers)
    check_max_length(o.max_length, description)
    if description.max_dims is not None:
        check_size(o.dims, "dims", description.max_dims)
    return description


def _place(o: Options, kind: Literal["static", "transformer"] | None) -> None:
    """Refuse a device this model, backend or machine cannot use (static2d._device.place: the one rule)."""
    place(o.device, backend=o.backend, quantize=o.quantize, dtype=o.dtype, kind=kind, model=o.model)


def _load(o: Options, description: ModelDescription | None) -> _Loaded:
    if description is None:
        description = _describe(o)
    if description.kind == "transformer":
        check_transformer_files(description)
    engine = _engines.load_engine(o, description)
    max_dims = description.max_dims
    if max_dims is None:  # configs that do not say (checked now, against the loaded model)
        max_dims = engine.max_dims
        check_size(o.dims, "dims", max_dims)
    return _Loaded(engine, description, o, max_dims)


def _args(indent: str = "        ") -> str:
    """The options as the Args section of a Google-style docstring, from the registry."""
    return "\n".join(option.args_entry(indent) for option in OPTIONS)


load.__doc__ = f"{load.__doc__}\n    Args:\n{_args()}\n        lazy: Check the options now, load on first use.\n"


def clear_cache() -> None:
    """Forget every loaded model (each is freed once no encoder holds it)."""
    _engines.clear()
