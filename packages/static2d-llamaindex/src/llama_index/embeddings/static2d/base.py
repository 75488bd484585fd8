"""`Static2DEmbedding`: a LlamaIndex `BaseEmbedding` over `static2d.load`."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Mapping, Sequence
from typing import Any, Literal

import numpy as np
from llama_index.core.base.embeddings.base import BaseEmbedding, Embedding
from llama_index.core.bridge.pydantic import Field, PrivateAttr, SecretStr

import static2d
from static2d._checks import check_text, check_texts

# LlamaIndex hands `_get_text_embeddings` chunks of `embed_batch_size` texts (its default is 10). 2048 is the most
# `BaseEmbedding` allows, and what `VectorStoreIndex` inserts at a time, so the core sees whole batches and does
# its own batching (`batch_size`) inside.
MAX_EMBED_BATCH_SIZE = 2048
# Other embedders' names for static2d's options: refused with the name to use instead (never taken and ignored).
PEER_NAMES = {
    "truncate_dim": "dims",
    "dim": "dims",
    "dimensions": "dims",
    "output_dimensionality": "dims",
    "query_instruction": "query_prompt",
    "text_instruction": "document_prompt",
    "document_instruction": "document_prompt",
    "model_name": "model",
    "model_name_or_path": "model",
    "cache_dir": "cache_folder",
    "max_seq_length": "max_length",
    "normalize_embeddings": "normalize",
    "hf_token": "token",
    "use_auth_token": "token",
}


class Static2DEmbedding(BaseEmbedding):
    """LlamaIndex embeddings from a static (model2vec / StaticEmbedding) or 2D-Matryoshka transformer model.

    Set `dims` to keep fewer output dimensions (Matryoshka truncation, re-normalised) and, for a 2D-Matryoshka
    transformer, `layers` to run fewer layers. The options are checked when the embedder is made (a bad `dims`
    raises at once); the model itself loads on `warm_up()` or on the first embedding, and is shared with every
    other static2d embedder of the same model in the process. Queries get the query prompt, texts (documents)
    the document prompt.

    The model options are frozen: make a new embedder to change them (loading is shared, so that is cheap).

    Example:
        >>> from llama_index.core import Settings
        >>> from llama_index.embeddings.static2d import Static2DEmbedding
        >>> Settings.embed_model = Static2DEmbedding("sentence-transformers/static-retrieval-mrl-en-v1", dims=256)
    """

    model: str = Field(
        default=static2d.DEFAULT_MODEL,
        frozen=True,
        description=(
            "Hugging Face hub id or local directory of a static model (model2vec, or sentence-transformers "
            "StaticEmbedding) or a sentence-transformers / Hugging Face 2D-Matryoshka transformer."
        ),
    )
    dims: int | None = Field(
        default=None,
        frozen=True,
        description="Keep the first `dims` output dimensions (Matryoshka), then re-normalise. None: all.",
    )
    layers: int | None = Field(
        default=None,
        frozen=True,
        description="Transformer only: run only the first `layers` layers. None: all. Static models have none.",
    )
    normalize: bool = Field(default=True, frozen=True, description="Scale each embedding to unit length.")
    batch_size: int | None = Field(
        default=None,
        frozen=True,
        description="Texts per batch inside static2d. None: static2d's default for the kind of model.",
    )
    query_prompt: str | None = Field(
        default=None,
        frozen=True,
        description="Put before each query. None: the model's saved 'query' prompt, if any.",
    )
    document_prompt: str | None = Field(
        default=None,
        frozen=True,
        description="Put before each text (document). None: the model's saved document prompt, if any.",
    )
    device: str | None = Field(
        default=None,
        frozen=True,
        description="Transformer only: torch device ('cpu', 'cuda', ...). Static models run on the CPU.",
    )
    revision: str | None = Field(default=None, frozen=True, description="Hub branch, tag or commit.")
    cache_folder: str | None = Field(
        default=None, frozen=True, description="Where hub downloads are cached. None: the Hugging Face cache."
    )
    local_files_only: bool = Field(default=False, frozen=True, description="Never download; use the cache only.")
    trust_remote_code: bool = Field(
        default=False, frozen=True, description="Allow a transformer's own modelling code from the hub to run."
    )
    show_progress_bar: bool = Field(default=False, description="Show static2d's progress bar over its batches.")
    max_length: int | None = Field(
        default=None, frozen=True, description="Tokens kept per text. None: the model's own setting."
    )
    backend: Literal["auto", "torch", "onnx"] = Field(
        default="auto",
        frozen=True,
        description="Transformer only: 'torch' (sentence-transformers), 'onnx' (ONNX Runtime on a graph cut to "
        "`layers`), or 'auto' (ONNX where onnxruntime is installed, else torch).",
    )
    quantize: Literal["int8"] | None = Field(
        default=None,
        frozen=True,
        description="Transformer on ONNX Runtime only: 'int8' runs the cut graph with int8 weights (faster, within "
        "a fraction of a point of float quality). None: float32.",
    )
    precision: Literal["float32", "int8", "uint8", "binary", "ubinary"] = Field(
        default="float32",
        frozen=True,
        description=(
            "'float32' (default), or quantized as sentence-transformers' quantize_embeddings: 'int8' / 'uint8' "
            "(ranges fixed per model and settings), 'binary' / 'ubinary' (packed bits: dims / 8 numbers)."
        ),
    )
    embed_batch_size: int = Field(
        default=MAX_EMBED_BATCH_SIZE,
        gt=0,
        le=MAX_EMBED_BATCH_SIZE,
        description=(
            "Texts LlamaIndex passes to the model per call. 2048 (the most LlamaIndex allows) rather than its "
            "default of 10, so static2d gets whole batches; static2d batches inside by `batch_size`."
        ),
    )

    token: SecretStr | None = Field(
        default=None,
        frozen=True,
        description="Hugging Face token for a private or gated model. None: the logged-in one, or HF_TOKEN. Never "
        "written by to_dict(), repr() or pickle (an unpickled embedder reads HF_TOKEN).",
        exclude=True,
        repr=False,
    )

    _encoder: static2d.Encoder = PrivateAttr()

    def __init__(
        self,
        model: str | os.PathLike[str] = static2d.DEFAULT_MODEL,
        *,
        dims: int | None = None,
        layers: int | None = None,
        normalize: bool = True,
        batch_size: int | None = None,
        query_prompt: str | None = None,
        document_prompt: str | None = None,
        device: str | None = None,
        revision: str | None = None,
        cache_folder: str | os.PathLike[str] | None = None,
        local_files_only: bool = False,
        trust_remote_code: bool = False,
        show_progress_bar: bool = False,
        max_length: int | None = None,
        backend: Literal["auto", "torch", "onnx"] = "auto",
        token: str | SecretStr | None = None,
        quantize: Literal["int8"] | None = None,
        precision: Literal["float32", "int8", "uint8", "binary", "ubinary"] = "float32",
        embed_batch_size: int = MAX_EMBED_BATCH_SIZE,
        **kwargs: Any,  # noqa: ANN401 - the other BaseEmbedding fields (callback_manager, num_workers, ...)
    ) -> None:
        _check_base_options(kwargs)
        secret = _secret(token)
        encoder = static2d.load(
            model,
            dims=dims,
            layers=layers,
            normalize=normalize,
            batch_size=batch_size,
            device=device,
            revision=revision,
            cache_folder=cache_folder,
            local_files_only=local_files_only,
            trust_remote_code=trust_remote_code,
            query_prompt=query_prompt,
            document_prompt=document_prompt,
            max_length=max_length,
            backend=backend,
            token=None if secret is None else secret.get_secret_value(),
            quantize=quantize,
            precision=precision,
            lazy=True,
        )
        # `model_name` is BaseEmbedding's; here it is always `model` (it comes back from `to_dict()`).
        if kwargs.get("model_name", encoder.model) != encoder.model:
            msg = (
                f"Static2DEmbedding takes the model as `model`, not `model_name`: use the static2d option "
                f"model={kwargs['model_name']!r} instead."
            )
            raise ValueError(msg)
        kwargs.pop("model_name", None)
        options = encoder.options  # as static2d took them: paths as str, sizes as int
        fields: dict[str, Any] = {
            "model": encoder.model,
            "model_name": encoder.model,
            "dims": options["dims"],
            "layers": options["layers"],
            "normalize": normalize,
            "batch_size": batch_size,
            "query_prompt": query_prompt,
            "document_prompt": document_prompt,
            "device": device,
            "revision": revision,
            "cache_folder": options["cache_folder"],
            "local_files_only": local_files_only,
            "trust_remote_code": trust_remote_code,
            "show_progress_bar": show_progress_bar,
            "max_length": max_length,
            "backend": backend,
            "token": secret,
            "quantize": quantize,
            "precision": precision,
            "embed_batch_size": embed_batch_size,
        }
        super().__init__(**fields, **kwargs)
        self._encoder = encoder

    @classmethod
    def class_name(cls) -> str:
        """The name LlamaIndex stores with the serialised embedder."""
        return "Static2DEmbedding"

    @property
    def encoder(self) -> static2d.Encoder:
        """The static2d encoder behind this embedder (e.g. `embed_model.encoder.dims`, `.loaded`, `.same_model`)."""
        return self._encoder

    def __getstate__(self) -> dict[str, Any]:
        """Pickle without the token (an unpickled embedder reads HF_TOKEN from its environment, if it needs one)."""
        state: dict[str, Any] = super().__getstate__()
        return {**state, "__dict__": {**state["__dict__"], "token": None}}

    @property
    def embedding_dim(self) -> int:
        """The size of the vectors this embedder returns (`dims`, or the model's full size); known before loading."""
        return self._encoder.embedding_dim

    def warm_up(self) -> Static2DEmbedding:
        """Load the model now rather than on the first embedding (once; later calls return at once).

        Returns:
            This embedder.

        Raises:
            ValueError: The model cannot be found or read, or `dims` / `layers` do not fit it.
            OSError: The model is not cached and cannot be downloaded.
        """
        self._encoder.warm_up()
        return self

    @property
    def fingerprint(self) -> str:
        """A short stable string naming everything that determines the vectors (loads the model).

        The same options give the same fingerprint in the core and in every static2d adapter, in any process.
        """
        return self._encoder.fingerprint

    def describe(self) -> dict[str, str]:
        """The fingerprint and the readable fields it is made from (all str): save them with the index."""
        return self._encoder.describe()

    def check_fingerprint(self, stored: str | Mapping[str, object]) -> None:
        """Refuse to query an index built by another embedder: `stored` is what `describe()` gave at indexing.

        Raises:
            static2d.FingerprintMismatchError: (a ValueError) The vectors would differ; says what changed.
        """
        static2d.check_fingerprint(stored, self)

    def get_query_embedding(self, query: str) -> Embedding:
        """Embed one query, with the query prompt (a str; anything else is a TypeError)."""
        return super().get_query_embedding(_check_text(query, "get_query_embedding"))

    async def aget_query_embedding(self, query: str) -> Embedding:
        """Embed one query like `get_query_embedding`, without blocking the event loop."""
        return await super().aget_query_embedding(_check_text(query, "aget_query_embedding"))

    def get_text_embedding(self, text: str) -> Embedding:
        """Embed one text (document), with the document prompt (a str; anything else is a TypeError)."""
        return super().get_text_embedding(_check_text(text, "get_text_embedding"))

    async def aget_text_embedding(self, text: str) -> Embedding:
        """Embed one text like `get_text_embedding`, without blocking the event loop."""
        return await super().aget_text_embedding(_check_text(text, "aget_text_embedding"))

    def get_text_embedding_batch(self, texts: list[str], show_progress: bool = False, **kwargs: Any) -> list[Embedding]:  # noqa: ANN401
        """Embed texts (documents), with the document prompt: a list of str (a single str is a TypeError)."""
        return super().get_text_embedding_batch(
            _check_texts(texts, "get_text_embedding_batch"), show_progress, **kwargs
        )

    async def aget_text_embedding_batch(
        self,
        texts: list[str],
        show_progress: bool = False,
        **kwargs: Any,  # noqa: ANN401
    ) -> list[Embedding]:
        """Embed texts like `get_text_embedding_batch`, without blocking the event loop."""
        items = _check_texts(texts, "aget_text_embedding_batch")
        return await super().aget_text_embedding_batch(items, show_progress, **kwargs)

    def get_agg_embedding_from_queries(self, queries: list[str], agg_fn: Any = None) -> Embedding:  # noqa: ANN401
        """The mean (or `agg_fn`) of the queries' embeddings: a list of str."""
        return super().get_agg_embedding_from_queries(_check_texts(queries, "get_agg_embedding_from_queries"), agg_fn)

    async def aget_agg_embedding_from_queries(self, queries: list[str], agg_fn: Any = None) -> Embedding:  # noqa: ANN401
        """The mean (or `agg_fn`) of the queries' embeddings, without blocking the event loop."""
        items = _check_texts(queries, "aget_agg_embedding_from_queries")
        return await super().aget_agg_embedding_from_queries(items, agg_fn)

    def _get_query_embedding(self, query: str) -> Embedding:
        """Embed one query, with the query prompt."""
        vectors = self._encoder.encode_query([query], show_progress_bar=self.show_progress_bar)
        embedding: Embedding = vectors[0].astype(np.float32, copy=False).tolist()  # floats, whatever the precision
        return embedding

    def _get_text_embedding(self, text: str) -> Embedding:
        """Embed one text, with the document prompt."""
        return self._get_text_embeddings([text])[0]

    def _get_text_embeddings(self, texts: list[str]) -> list[Embedding]:
        """Embed texts in one call into static2d, with the document prompt."""
        vectors = self._encoder.encode_document(texts, show_progress_bar=self.show_progress_bar)
        embeddings: list[Embedding] = vectors.astype(np.float32, copy=False).tolist()
        return embeddings

    async def _aget_query_embedding(self, query: str) -> Embedding:
        """Embed one query in a worker thread, leaving the event loop free."""
        return await asyncio.to_thread(self._get_query_embedding, query)

    async def _aget_text_embedding(self, text: str) -> Embedding:
        """Embed one text in a worker thread, leaving the event loop free."""
        return await asyncio.to_thread(self._get_text_embedding, text)

    async def _aget_text_embeddings(self, texts: list[str]) -> list[Embedding]:
        """Embed texts in a worker thread, leaving the event loop free."""
        return await asyncio.to_thread(self._get_text_embeddings, texts)


def _check_base_options(kwargs: dict[str, Any]) -> None:
    """Refuse options that are neither static2d's nor LlamaIndex BaseEmbedding's: they would be taken and ignored."""
    for name, value in kwargs.items():
        if name == "model_name" or name in BaseEmbedding.model_fields:
            continue
        if name in PEER_NAMES:
            msg = (
                f"Static2DEmbedding has no option {name!r} (another embedder's name): use the static2d option "
                f"{PEER_NAMES[name]}={value!r} instead."
            )
        else:
            known = sorted({*Static2DEmbedding.model_fields} - {"model_name"})
            msg = f"Static2DEmbedding got an unknown option {name!r}. Its options are: {', '.join(known)}."
        raise TypeError(msg)


def _secret(token: object) -> SecretStr | None:
    """The token as a SecretStr (never shown, dumped or pickled); a value of another type is a TypeError."""
    if token is None or isinstance(token, SecretStr):
        return token
    if isinstance(token, str):
        return SecretStr(token)
    msg = f"token must be a str, a pydantic SecretStr or None, got a {type(token).__name__}."
    raise TypeError(msg)


def _check_text(text: object, method: str) -> str:
    if isinstance(text, (bytes, bytearray)):
        return check_text(text, method)  # says bytes are not text, and to decode them
    if not isinstance(text, str):
        msg = f"{method}() takes one text (a str), got {type(text).__name__} ({text!r:.60})."
        if isinstance(text, (list, tuple)):
            msg += " For several texts use get_text_embedding_batch(texts)."
        raise TypeError(msg)
    return text


def _check_texts(texts: object, method: str) -> list[str]:
    """The texts of a batch call as a list of str; a single str, bytes, None, a number or a generator is a TypeError."""
    if isinstance(texts, str):
        msg = (
            f"{method}() takes a list of texts, got a single str (it would be embedded character by character). "
            f"Wrap it in a list: {method}([text])."
        )
        raise TypeError(msg)
    if not isinstance(texts, Sequence):
        msg = f"{method}() takes a list of str, got {type(texts).__name__} ({texts!r:.60})."
        if texts is not None and hasattr(texts, "__iter__"):
            msg += " Pass list(texts)."
        raise TypeError(msg)
    return list(check_texts(texts, method))
