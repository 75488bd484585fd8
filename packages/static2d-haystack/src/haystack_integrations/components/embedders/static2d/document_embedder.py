"""`Static2DDocumentEmbedder`: embeds Haystack Documents with a static2d model."""

import asyncio
from dataclasses import replace
from typing import Any

from haystack import Document, component, default_to_dict
from haystack.utils import ComponentDevice, Secret
from haystack_integrations.components.embedders.static2d._shared import (
    COMMON_OPTIONS,
    DEFAULT_MODEL,
    DEFAULT_TOKEN,
    Static2DComponent,
    document_options,
)

import static2d


@component
class Static2DDocumentEmbedder(Static2DComponent):
    """Embeds Documents with a static or 2D-Matryoshka model through static2d, for indexing pipelines.

    Returns new Documents with `embedding` set (the input Documents are left as they were). The text embedded
    for each Document is `prefix + separator.join([*meta values, content]) + suffix`, with the document prompt
    put before it. `dims` keeps the first dimensions of each embedding (then re-normalises); `layers` runs only
    the first transformer layers. Static models need no torch; transformers need the `transformers` extra.

    The options are checked when the component is made (against the model's configs too, for a local
    directory; a hub model is looked up on `warm_up()`). The model loads on `warm_up()` (or on the first `run`)
    and is shared with every other static2d embedder of the same model in the process.

    Example:
        ```python
        from haystack import Document
        from haystack_integrations.components.embedders.static2d import Static2DDocumentEmbedder

        embedder = Static2DDocumentEmbedder(dims=256, meta_fields_to_embed=["title"])
        embedder.warm_up()
        docs = [Document(content="Pandas eat bamboo.", meta={"title": "Pandas"})]
        result = embedder.run(docs)
        print(len(result["documents"][0].embedding))  # 256
        ```
    """

    def __init__(  # noqa: D417 - the static2d options' docs are written in from the core's registry
        self,
        model: str = DEFAULT_MODEL,
        *,
        dims: int | None = None,
        layers: int | None = None,
        normalize: bool = True,
        batch_size: int | None = None,
        query_prompt: str | None = None,
        document_prompt: str | None = None,
        device: ComponentDevice | None = None,
        revision: str | None = None,
        cache_folder: str | None = None,
        local_files_only: bool = False,
        trust_remote_code: bool = False,
        max_length: int | None = None,
        backend: static2d.Backend = "auto",
        quantize: static2d.Quantize = None,
        dtype: static2d.Dtype = "float32",
        precision: static2d.Precision = "float32",
        token: Secret | None = DEFAULT_TOKEN,
        prefix: str = "",
        suffix: str = "",
        meta_fields_to_embed: list[str] | None = None,
        embedding_separator: str = "\n",
        show_progress_bar: bool = False,
    ) -> None:
        """Create the embedder; the model itself is loaded by `warm_up()` or the first `run`.

        Args:
            device: Transformer only: the one device to run on (a device map is refused), checked when the
                component is made. None: the best accelerator torch sees (a GPU if any), else the CPU.
            token: Hugging Face token for private or gated models (default: HF_API_TOKEN or HF_TOKEN, if set).
            prefix: A string put before each document's text (after the document prompt).
            suffix: A string put after each document's text.
            meta_fields_to_embed: Meta fields whose values are embedded along with the content, in this order.
            embedding_separator: What joins the meta values and the content.
            show_progress_bar: Show a progress bar while embedding.

        Raises:
            TypeError: An option of the wrong type (e.g. `dims=2.5`, a str `device` or `token`).
            ValueError: An option out of range (e.g. `dims=0`), a local directory that is not a model, or
                `layers` for a static model.
        """
        # (not super(): Haystack's @component makes a new class of this one)
        Static2DComponent.__init__(self, **{name: value for name, value in locals().items() if name in COMMON_OPTIONS})
        self.prefix = prefix
        self.suffix = suffix
        self.meta_fields_to_embed = meta_fields_to_embed or []
        self.embedding_separator = embedding_separator
        self.show_progress_bar = show_progress_bar

    def to_dict(self) -> dict[str, Any]:
        """Serialise the component; the token is written as a `Secret` (an env var name), never its value.

        Returns:
            The component as a dictionary.
        """
        return default_to_dict(
            self,
            **self._options_dict(),
            prefix=self.prefix,
            suffix=self.suffix,
            meta_fields_to_embed=self.meta_fields_to_embed,
            embedding_separator=self.embedding_separator,
            show_progress_bar=self.show_progress_bar,
        )

    def _text_to_embed(self, document: Document) -> str:
        meta = [str(document.meta[key]) for key in self.meta_fields_to_embed if document.meta.get(key) is not None]
        return self.prefix + self.embedding_separator.join([*meta, document.content or ""]) + self.suffix

    @component.output_types(documents=list[Document])
    def run(self, documents: list[Document]) -> dict[str, Any]:
        """Embed Documents, with the document prompt, meta fields, `prefix` and `suffix`.

        Args:
            documents: The Documents to embed.

        Returns:
            `{"documents": [...]}`: new Documents, in the same order, with `embedding` set (length `dims`).

        Raises:
            TypeError: `documents` is not a list of Documents.
        """
        if not isinstance(documents, list) or not all(isinstance(doc, Document) for doc in documents):
            msg = (
                "Static2DDocumentEmbedder expects a list of Documents as input. "
                "In case you want to embed a string, please use the Static2DTextEmbedder."
            )
            raise TypeError(msg)
        texts = [self._text_to_embed(doc) for doc in documents]
        vectors = self._encoder.encode_document(texts, show_progress_bar=self.show_progress_bar).tolist()
        return {"documents": [replace(doc, embedding=vec) for doc, vec in zip(documents, vectors, strict=True)]}

    @component.output_types(documents=list[Document])
    async def run_async(self, documents: list[Document]) -> dict[str, Any]:
        """Embed Documents like `run`, in a worker thread so the event loop keeps running.

        Args:
            documents: The Documents to embed.

        Returns:
            `{"documents": [...]}`: new Documents, in the same order, with `embedding` set (length `dims`).

        Raises:
            TypeError: `documents` is not a list of Documents.
        """
        return await asyncio.to_thread(self.run, documents)


document_options(Static2DDocumentEmbedder.__init__)
