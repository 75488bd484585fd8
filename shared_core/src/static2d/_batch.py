"""`BatchEncoder`: embed a text column of a batch (dict of arrays, pandas, pyarrow) for bulk jobs such as Ray Data."""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Callable, Mapping
from typing import Any, Literal, TypeVar, cast

import numpy as np
import numpy.typing as npt

from static2d import _threads
from static2d._checks import check_size
from static2d._encoder import Encoder, load
from static2d._options import OPTIONS

Batch = TypeVar("Batch")
_KINDS = ("document", "query", "plain")
# The options BatchEncoder hands to static2d.load (it is always lazy).
_LOAD_OPTIONS = tuple(option.name for option in OPTIONS if option.name != "model")


class BatchEncoder:
    """Adds an embedding column to a batch of texts: for Ray Data's `map_batches`, or plain pandas / pyarrow.

    Options are checked when it is made (the same options as `static2d.load`, against the model's configs for a
    local model), so a bad one fails before a job starts. It pickles as its options, and loads the model on
    its first batch, once per process (every encoder of the same model in a process shares it). It then caps
    the threads static2d, the tokenizer, torch and ONNX Runtime run to the CPUs Ray gave the actor (or to
    `threads`), so N actors on N cores do not each start N threads.

    A batch is a dict of numpy arrays or lists (Ray's "numpy" format), a pandas DataFrame or a pyarrow Table;
    the same type comes back, with `output_column` holding one float32 vector per row (a 2-D array in a dict,
    one array per row in a DataFrame, a fixed-size list in a Table). The input batch is not modified.

    Args:
        model: A hub id or local directory, as for `static2d.load`.
        column: The column holding the texts (str; a missing text is an error, never a silent zero vector).
        output_column: The column to write the embeddings to (replaced if the batch has it already).
        kind: "document" (`encode_document`, the model's document prompt), "query" (`encode_query`) or "plain"
            (`encode`, the model's default prompt).
        threads: Threads to use in this process; None: the CPUs Ray assigned to the actor (in a Ray worker),
            else the libraries' own defaults.
        **options: Any option of `static2d.load` (`dims`, `layers`, `batch_size`, `backend`, ...).

    Example:
        >>> import pandas as pd
        >>> import static2d
        >>> enc = static2d.BatchEncoder("sentence-transformers/static-retrieval-mrl-en-v1", dims=256)  # doctest: +SKIP
        >>> enc(pd.DataFrame({"text": ["a panda eats bamboo"]}))["embedding"][0].shape  # doctest: +SKIP
        (256,)

        On Ray Data, one model per actor, two actors:

        >>> ds.map_batches(  # doctest: +SKIP
        ...     static2d.BatchEncoder,
        ...     fn_constructor_kwargs={"model": "sentence-transformers/static-retrieval-mrl-en-v1", "dims": 256},
        ...     concurrency=2,
        ...     batch_size=4096,
        ... )
    """

    def __init__(
        self,
        model: str | os.PathLike[str],
        *,
        column: str = "text",
        output_column: str = "embedding",
        kind: Literal["document", "query", "plain"] = "document",
        threads: int | None = None,
        **options: object,
    ) -> None:
        for value, name in ((column, "column"), (output_column, "output_column")):
            if not isinstance(value, str) or not value:
                msg = f"{name} must be a column name (a non-empty str), got {value!r} ({type(value).__name__})."
                raise TypeError(msg)
        if kind not in _KINDS:
            msg = (
                f"kind must be one of {', '.join(map(repr, _KINDS))} (encode_document, encode_query or encode), "
                f"got {kind!r}."
            )
            raise (ValueError if isinstance(kind, str) else TypeError)(msg)
        check_size(threads, "threads", None, what="number of threads")
        unknown = sorted(set(options) - set(_LOAD_OPTIONS))
        if unknown:
            msg = (
                f"BatchEncoder got unknown option(s) {', '.join(map(repr, unknown))}. It takes column, "
                f"output_column, kind, threads and the options of static2d.load: {', '.join(_LOAD_OPTIONS)}."
            )
            raise TypeError(msg)
        lazy_load: Callable[..., Encoder] = load
        self._encoder: Encoder = lazy_load(model, lazy=True, **options)
        self._column = column
        self._output_column = output_column
        self._kind = kind
        self._threads = threads
        self._ready = False
        self._lock = threading.Lock()

    @property
    def encoder(self) -> Encoder:
        """The `static2d.Encoder` behind it (lazy until the first batch)."""
        return self._encoder

    def __getstate__(self) -> dict[str, object]:
        state = dict(self.__dict__)
        del state["_lock"]
        state["_ready"] = False  # a copy in another process loads (or finds) its model there
        return state

    def __setstate__(self, state: dict[str, object]) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return (
            f"BatchEncoder({self._encoder!r}, column={self._column!r}, output_column={self._output_column!r}, "
            f"kind={self._kind!r})"
        )

    def _start(self) -> None:
        """Cap this process's threads, then load the model (once: every later batch finds it loaded)."""
        with self._lock:
            if self._ready:
                return
            threads = self._threads or _threads.ray_cpus()
            if threads is not None:
                _threads.set_limit(threads)
            self._encoder.warm_up()
            if threads is not None:
                _threads.set_limit(threads)  # again: loading may have imported torch, with a thread per core
            self._ready = True

    def embed(self, texts: list[str]) -> npt.NDArray[np.float32]:
        """Embed a list of texts as this encoder's `kind` says: float32, shape (len(texts), dims).

        Example:
            >>> enc = static2d.BatchEncoder("sentence-transformers/static-retrieval-mrl-en-v1")  # doctest: +SKIP
            >>> enc.embed(["a panda eats bamboo"]).shape  # doctest: +SKIP
            (1, 1024)
        """
        if not self._ready:
            self._start()
        encoder = self._encoder
        encode = {"document": encoder.encode_document, "query": encoder.encode_query, "plain": encoder.encode}
        try:
            return encode[self._kind](texts)
        except TypeError as e:
            column = self._column
            msg = (
                f"BatchEncoder: column {column!r} must hold text only: {e} Drop or fill the rows without text "
                f"first (pandas: df.dropna(subset=[{column!r}]); Ray Data: ds.filter(...))."
            )
            raise TypeError(msg) from None

    def __call__(self, batch: Batch) -> Batch:
        """Embed `batch[column]` and return the batch (same type, not modified in place) with `output_column`."""
        pandas, pyarrow = sys.modules.get("pandas"), sys.modules.get("pyarrow")  # imported only if already in use
        if pandas is not None and isinstance(batch, pandas.DataFrame):
            vectors = self.embed(self._texts(batch, list(batch.columns), lambda c: batch[c].tolist()))
            return cast("Batch", batch.assign(**{self._output_column: list(vectors)}))
        if pyarrow is not None and isinstance(batch, pyarrow.Table):
            vectors = self.embed(self._texts(batch, batch.column_names, lambda c: batch.column(c).to_pylist()))
            column = pyarrow.FixedSizeListArray.from_arrays(pyarrow.array(vectors.reshape(-1)), vectors.shape[1])
            if self._output_column in batch.column_names:
                index = batch.column_names.index(self._output_column)
                return cast("Batch", batch.set_column(index, self._output_column, column))
            return cast("Batch", batch.append_column(self._output_column, column))
        if isinstance(batch, Mapping):

            def column_texts(name: str) -> object:
                values = batch[name]
                return values.tolist() if isinstance(values, np.ndarray) else values

            vectors = self.embed(self._texts(batch, list(batch), column_texts))
            return cast("Batch", {**batch, self._output_column: vectors})
        msg = (
            f"BatchEncoder takes a batch as a dict of arrays, a pandas DataFrame or a pyarrow Table, got "
            f"{type(batch).__module__}.{type(batch).__name__}. In Ray Data, use map_batches' batch_format "
            '"numpy", "pandas" or "pyarrow".'
        )
        raise TypeError(msg)

    def _texts(self, batch: object, columns: list[Any], read: Callable[[str], object]) -> list[str]:
        """The texts of `column`, as a list (its items are checked by `embed`)."""
        if self._column not in columns:
            msg = (
                f"BatchEncoder: the batch has no column {self._column!r} (it has {', '.join(map(repr, columns))}). "
                "Name the text column with BatchEncoder(..., column=...)."
            )
            raise ValueError(msg)
        if columns.count(self._column) > 1:
            msg = (
                f"BatchEncoder: the {type(batch).__name__} batch has {columns.count(self._column)} columns named "
                f"{self._column!r}, so which holds the text is unclear. Rename or drop the others first (pandas: "
                "df.loc[:, ~df.columns.duplicated()])."
            )
            raise ValueError(msg)
        texts = read(self._column)
        if not isinstance(texts, list):
            msg = (
                f"BatchEncoder: column {self._column!r} of the {type(batch).__name__} batch is a "
                f"{type(texts).__name__}; expected a numpy array or list of str."
            )
            raise TypeError(msg)
        return texts
