"""`Static2DEmbeddings`: LangChain embeddings backed by static2d (static and 2D-Matryoshka models)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import numpy as np
import static2d
from langchain_core.embeddings import Embeddings
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from static2d.adapters import EncoderMixin, unknown_option_message

_OPTIONS = {option.name: option for option in static2d.OPTIONS}


def _option(name: str, **kwargs: Any) -> Any:  # noqa: ANN401 - a pydantic field, typed by its annotation
    """The pydantic field of static2d option `name`, its default and doc from the core's registry.

    Ints and bools are strict: `dims=2.5` or `normalize="yes"` is refused, never coerced.
    """
    option = _OPTIONS[name]
    if option.annotation in (bool, int | None):
        kwargs["strict"] = True
    return Field(default=option.default, description=option.doc, **kwargs)


class Static2DEmbeddings(EncoderMixin, BaseModel, Embeddings):
    """Fast static (model2vec / StaticEmbedding) and 2D-Matryoshka embeddings, with `dims` and `layers` knobs.

    `dims` keeps the first `dims` output dimensions (Matryoshka truncation, then re-normalisation); `layers` runs
    only the first `layers` layers of a 2D-Matryoshka transformer. The options are checked when the object is
    built; the model itself is loaded on `warm_up()` or on the first embedding, and shared with every other
    static2d embedder of the same model in the process, whatever its `dims`.

    Setup:
        Install `static2d-langchain`; add the `transformers` extra for transformer models (it brings torch).

        ```bash
        pip install -U static2d-langchain
        pip install -U "static2d-langchain[transformers]"  # for 2D-Matryoshka transformers
        ```

    Key init args — embedding params:
        model: str
            Hugging Face hub id or local directory of the model.
        dims: int | None
            Output dimensions kept (None: all).
        layers: int | None
            Transformer layers run (None: all; static models have none).

    Key init args — client params:
        batch_size: int | None
            Texts per batch.
        device: str | None
            Where a transformer runs ('cpu', 'cuda', ...), checked when the embedder is made.

    See the fields below for every option.

    Instantiate:
        ```python
        from langchain_static2d import Static2DEmbeddings

        embed = Static2DEmbeddings(model="sentence-transformers/static-retrieval-mrl-en-v1", dims=256)
        ```

    Embed single text:
        ```python
        vector = embed.embed_query("What is the capital of France?")
        len(vector)  # 256
        ```

    Embed multiple texts:
        ```python
        vectors = embed.embed_documents(["Paris is the capital of France.", "Berlin is in Germany."])
        len(vectors), len(vectors[0])  # (2, 256)
        ```

    Async:
        ```python
        vector = await embed.aembed_query("What is the capital of France?")
        vectors = await embed.aembed_documents(["Paris is the capital of France."])
        ```

    The async methods run the embedding in a worker thread, so they never block the event loop.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, protected_namespaces=())

    # static2d's options: each declared once here, typed; default and description come from the core's registry.
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
    token: SecretStr | None = _option("token", exclude=True, repr=False)  # never in a repr, a dump or a pickle
    backend: static2d.Backend = _option("backend")
    quantize: static2d.Quantize = _option("quantize")
    dtype: static2d.Dtype = _option("dtype")
    precision: static2d.Precision = _option("precision")
    # LangChain's own
    show_progress_bar: bool = Field(default=False, strict=True, description="Show a progress bar while embedding.")

    _encoder: static2d.Encoder = PrivateAttr()

    def __init__(self, **data: Any) -> None:  # noqa: ANN401 - the fields, each of its own type
        """Check the options with static2d; its own error is raised as it is, not inside a ValidationError."""
        try:
            super().__init__(**data)
        except ValidationError as e:
            error = _static2d_error(e)
            if error is None:
                raise
            raise error from None  # one message, static2d's: pydantic's wrapping adds nothing to it

    @model_validator(mode="before")
    @classmethod
    def _refuse_unknown_options(cls, data: Any) -> Any:  # noqa: ANN401 - the raw input, as pydantic gives it
        """An option this class does not take is a TypeError naming the one to use, not pydantic's extra_forbidden.

        Another embedder's option name (`model_kwargs`, `model_name`, ...) gets the static2d option to use; any
        other the closest option ("did you mean dims=256?").
        """
        if isinstance(data, Mapping):
            takes = list(cls.model_fields)
            for name, value in data.items():
                if name not in cls.model_fields:
                    raise TypeError(unknown_option_message(cls.__name__, str(name), takes, value))
        return data

    @field_validator("model", "cache_folder", mode="before")
    @classmethod
    def _path_to_str(cls, value: object) -> object:
        """Accept `pathlib.Path` (any `os.PathLike`) for paths; they are kept as str."""
        return os.fspath(value) if isinstance(value, os.PathLike) else value

    @model_validator(mode="after")
    def _make_encoder(self) -> Static2DEmbeddings:
        """Check the options with static2d now; the model is loaded on first use."""
        options = {option.name: getattr(self, option.name) for option in static2d.OPTIONS}
        options["token"] = None if self.token is None else self.token.get_secret_value()
        self._encoder = static2d.load(**options, lazy=True)
        return self

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        """Embed documents, with the document prompt.

        Args:
            texts: The documents.

        Returns:
            One embedding (a list of `dims` floats) per document.
        """
        vectors = self._encoder.encode_document(texts, show_progress_bar=self.show_progress_bar)
        out: list[list[float]] = vectors.astype(np.float32, copy=False).tolist()  # floats, whatever the precision
        return out

    def embed_query(self, text: str) -> list[float]:
        """Embed a search query, with the query prompt.

        Args:
            text: The query.

        Returns:
            Its embedding, a list of `dims` floats.
        """
        vectors = self._encoder.encode_query([text], show_progress_bar=self.show_progress_bar)
        out: list[float] = vectors[0].astype(np.float32, copy=False).tolist()
        return out


def _static2d_error(error: ValidationError) -> Exception | None:
    """static2d's own error, when it is the only thing pydantic wrapped (a ValueError raised checking the options)."""
    errors = error.errors()
    if len(errors) != 1 or errors[0]["type"] != "value_error":
        return None
    wrapped = errors[0].get("ctx", {}).get("error")
    return wrapped if isinstance(wrapped, Exception) else None
