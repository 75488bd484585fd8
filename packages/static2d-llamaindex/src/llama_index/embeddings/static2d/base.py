"""`Static2DEmbedding`: a LlamaIndex `BaseEmbedding` over `static2d.load`."""

from __future__ import annotations

import asyncio
import os
from typing import Any

import numpy as np
from llama_index.core.base.embeddings.base import BaseEmbedding, Embedding
from llama_index.core.bridge.pydantic import Field, PrivateAttr, SecretStr

import static2d
from static2d.adapters import EncoderMixin, check_text, check_texts, unknown_option_message

# LlamaIndex hands `_get_text_embeddings` chunks of `embed_batch_size` texts (its default is 10). 2048 is the most
# `BaseEmbedding` allows, and what `VectorStoreIndex` inserts at a time, so the core sees whole batches and does
# its own batching (`batch_size`) inside.
MAX_EMBED_BATCH_SIZE = 2048


_OPTIONS = {option.name: option for option in static2d.OPTIONS}


def _option(name: str, **kwargs: Any) -> Any:  # noqa: ANN401 - a pydantic field, typed by its annotation
    """The frozen pydantic field of static2d option `name`, its default and doc from the core's registry."""
    option = _OPTIONS[name]
    return Field(default=option.default, description=option.doc, frozen=True, **kwargs)


class Static2DEmbedding(EncoderMixin, BaseEmbedding):
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

    # static2d's options: each declared once here, typed; default and description come from the core's registry.
    # Frozen: make a new embedder to change one (loading is shared, so that is cheap).
    model: str = _option("model")
    dims: int | None = _option("dims")
    layers: int | None = _option("layers")
    normalize: bool = _option("normalize")
    batch_size: int | None = _option("batch_size")
    device: str | None = _option("device")
    revision: str | None = _option("revision")
    cache_folder: str | None = _option("cache_folder")
    local_files_only: bool = _option("local_files_only")
    trust_remote_code: bool = _option("trust_remote_code")
    query_prompt: str | None = _option("query_prompt")
    document_prompt: str | None = _option("document_prompt")
    max_length: int | None = _option("max_length")
    token: SecretStr | None = _option("token", exclude=True, repr=False)  # never in to_dict(), a repr or a pickle
    backend: static2d.Backend = _option("backend")
    quantize: static2d.Quantize = _option("quantize")
    dtype: static2d.Dtype = _option("dtype")
    precision: static2d.Precision = _option("precision")
    # LlamaIndex's own
    show_progress_bar: bool = Field(default=False, description="Show static2d's progress bar over its batches.")
    embed_batch_size: int = Field(
        default=MAX_EMBED_BATCH_SIZE,
        gt=0,
        le=MAX_EMBED_BATCH_SIZE,
        description=(
            "Texts LlamaIndex passes to the model per call. 2048 (the most LlamaIndex allows) rather than its "
            "default of 10, so static2d gets whole batches; static2d batches inside by `batch_size`."
        ),
    )

    _encoder: static2d.Encoder = PrivateAttr()

    def __init__(
        self,
        model: str | os.PathLike[str] = static2d.DEFAULT_MODEL,
        **kwargs: Any,  # noqa: ANN401 - the static2d options (fields above) and BaseEmbedding's own fields
    ) -> None:
        _check_base_options(kwargs)
        given = {name: kwargs.pop(name) for name in _OPTIONS if name in kwargs and name != "model"}
        secret = _secret(given.pop("token", None))
        encoder = static2d.load(
            model, **given, token=None if secret is None else secret.get_secret_value(), lazy=True
        )  # checks every option now; the model loads on first use
        # `model_name` is BaseEmbedding's; here it is always `model` (it comes back from `to_dict()`).
        if kwargs.get("model_name", encoder.model) != encoder.model:
            msg = (
                f"Static2DEmbedding takes the model as `model`, not `model_name`: use the static2d option "
                f"model={kwargs['model_name']!r} instead."
            )
            raise ValueError(msg)
        kwargs.pop("model_name", None)
        checked: dict[str, Any] = {
            **encoder.options,
            "token": secret,
        }  # as static2d took them: paths as str, sizes as int
        kwargs.setdefault("embed_batch_size", MAX_EMBED_BATCH_SIZE)
        super().__init__(**checked, model_name=encoder.model, **kwargs)
        self._encoder = encoder

    @classmethod
    def class_name(cls) -> str:
        """The name LlamaIndex stores with the serialised embedder."""
        return "Static2DEmbedding"

    # LlamaIndex's public methods reach the single-text hooks below with the input as given (they check it, and
    # name the public method); these four would iterate a str character by character (or fail on a generator
    # with LlamaIndex's own words) before any hook sees it, so they check the list first.

    def get_text_embedding_batch(self, texts: list[str], show_progress: bool = False, **kwargs: Any) -> list[Embedding]:  # noqa: ANN401
        """Embed texts (documents), with the document prompt: a list of str (a single str is a TypeError)."""
        items = check_texts(texts, "get_text_embedding_batch")
        return super().get_text_embedding_batch(items, show_progress, **kwargs)

    async def aget_text_embedding_batch(
        self,
        texts: list[str],
        show_progress: bool = False,
        **kwargs: Any,  # noqa: ANN401
    ) -> list[Embedding]:
        """Embed texts like `get_text_embedding_batch`, without blocking the event loop."""
        items = check_texts(texts, "aget_text_embedding_batch")
        return await super().aget_text_embedding_batch(items, show_progress, **kwargs)

    def get_agg_embedding_from_queries(self, queries: list[str], agg_fn: Any = None) -> Embedding:  # noqa: ANN401
        """The mean (or `agg_fn`) of the queries' embeddings: a list of str."""
        items = check_texts(queries, "get_agg_embedding_from_queries")
        return super().get_agg_embedding_from_queries(items, agg_fn)

    async def aget_agg_embedding_from_queries(self, queries: list[str], agg_fn: Any = None) -> Embedding:  # noqa: ANN401
        """The mean (or `agg_fn`) of the queries' embeddings, without blocking the event loop."""
        items = check_texts(queries, "aget_agg_embedding_from_queries")
        return await super().aget_agg_embedding_from_queries(items, agg_fn)

    def _get_query_embedding(self, query: str) -> Embedding:
        """Embed one query, with the query prompt (`get_query_embedding`'s hook: a str; anything else a TypeError)."""
        return self._embed_query(check_text(query, "get_query_embedding"))

    def _get_text_embedding(self, text: str) -> Embedding:
        """Embed one text, with the document prompt (`get_text_embedding`'s hook: a str; anything else a TypeError)."""
        return self._get_text_embeddings([check_text(text, "get_text_embedding")])[0]

    def _get_text_embeddings(self, texts: list[str]) -> list[Embedding]:
        """Embed texts in one call into static2d, with the document prompt."""
        vectors = self._encoder.encode_document(texts, show_progress_bar=self.show_progress_bar)
        embeddings: list[Embedding] = vectors.astype(np.float32, copy=False).tolist()
        return embeddings

    async def _aget_query_embedding(self, query: str) -> Embedding:
        """Embed one query in a worker thread, leaving the event loop free."""
        return await asyncio.to_thread(self._embed_query, check_text(query, "aget_query_embedding"))

    async def _aget_text_embedding(self, text: str) -> Embedding:
        """Embed one text in a worker thread, leaving the event loop free."""
        return (await self._aget_text_embeddings([check_text(text, "aget_text_embedding")]))[0]

    async def _aget_text_embeddings(self, texts: list[str]) -> list[Embedding]:
        """Embed texts in a worker thread, leaving the event loop free."""
        return await asyncio.to_thread(self._get_text_embeddings, texts)

    def _embed_query(self, query: str) -> Embedding:
        vectors = self._encoder.encode_query([query], show_progress_bar=self.show_progress_bar)
        embedding: Embedding = vectors[0].astype(np.float32, copy=False).tolist()  # floats, whatever the precision
        return embedding


def _check_base_options(kwargs: dict[str, Any]) -> None:
    """Refuse options that are neither static2d's nor LlamaIndex BaseEmbedding's: they would be taken and ignored.

    Another embedder's name (`model_kwargs`, `truncate_dim`, ...) gets the static2d option to use instead, any
    other the closest option ("did you mean dims=256?").
    """
    known = {*Static2DEmbedding.model_fields}
    listed = sorted(known - {"model_name"})
    for name, value in kwargs.items():
        if name not in known:
            raise TypeError(unknown_option_message("Static2DEmbedding", name, known, value, listed=listed))


def _secret(token: object) -> SecretStr | None:
    """The token as a SecretStr (never shown, dumped or pickled); a value of another type is a TypeError."""
    if token is None or isinstance(token, SecretStr):
        return token
    if isinstance(token, str):
        return SecretStr(token)
    msg = f"token must be a str, a pydantic SecretStr or None, got a {type(token).__name__}."
    raise TypeError(msg)
