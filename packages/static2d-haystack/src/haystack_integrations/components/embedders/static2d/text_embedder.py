"""`Static2DTextEmbedder`: embeds a query string with a static2d model."""

import asyncio
from typing import Any

from haystack import component, default_to_dict
from haystack.utils import ComponentDevice, Secret
from haystack_integrations.components.embedders.static2d._shared import (
    COMMON_OPTIONS,
    DEFAULT_MODEL,
    DEFAULT_TOKEN,
    Static2DComponent,
    document_options,
)

import static2d
from static2d.adapters import check_text


@component
class Static2DTextEmbedder(Static2DComponent):
    """Embeds a string (usually a query) with a static or 2D-Matryoshka model through static2d.

    Static models (model2vec, sentence-transformers `StaticEmbedding`) embed on the CPU with numpy, no torch
    needed; 2D-Matryoshka transformers need the `transformers` extra. `dims` keeps the first dimensions of each
    embedding (then re-normalises); `layers` runs only the first transformer layers. Use the same `model`,
    `dims` and `layers` as the `Static2DDocumentEmbedder` that embedded the documents.

    The options are checked when the component is made (against the model's configs too, for a local
    directory; a hub model is looked up on `warm_up()`). The model loads on `warm_up()` (or on the first `run`)
    and is shared with every other static2d embedder of the same model in the process.

    Example:
        ```python
        from haystack_integrations.components.embedders.static2d import Static2DTextEmbedder

        embedder = Static2DTextEmbedder(model="sentence-transformers/static-retrieval-mrl-en-v1", dims=256)
        embedder.warm_up()
        result = embedder.run("What do pandas eat?")
        print(len(result["embedding"]))  # 256
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
        show_progress_bar: bool = False,
    ) -> None:
        """Create the embedder; the model itself is loaded by `warm_up()` or the first `run`.

        Args:
            device: Transformer only: the one device to run on (a device map is refused), checked when the
                component is made. None: the best accelerator torch sees (a GPU if any), else the CPU.
            token: Hugging Face token for private or gated models (default: HF_API_TOKEN or HF_TOKEN, if set).
            prefix: A string put before the text (after the query prompt).
            suffix: A string put after the text.
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
            show_progress_bar=self.show_progress_bar,
        )

    @component.output_types(embedding=list[float])
    def run(self, text: str) -> dict[str, Any]:
        """Embed one string, with the query prompt, `prefix` and `suffix` around it.

        Args:
            text: The text to embed.

        Returns:
            `{"embedding": list[float]}`, of length `dims`.

        Raises:
            TypeError: `text` is not a string.
        """
        _check_text(text)
        vectors = self._encoder.encode_query(
            [self.prefix + text + self.suffix], show_progress_bar=self.show_progress_bar
        )
        return {"embedding": vectors[0].tolist()}

    @component.output_types(embedding=list[float])
    async def run_async(self, text: str) -> dict[str, Any]:
        """Embed one string like `run`, in a worker thread so the event loop keeps running.

        Args:
            text: The text to embed.

        Returns:
            `{"embedding": list[float]}`, of length `dims`.

        Raises:
            TypeError: `text` is not a string.
        """
        return await asyncio.to_thread(self.run, text)


def _check_text(text: object) -> None:
    if isinstance(text, (bytes, bytearray)):
        check_text(text, "Static2DTextEmbedder.run")  # says bytes are not text, and to decode them
    if not isinstance(text, str):
        msg = (
            "Static2DTextEmbedder expects a string as input. "
            "In case you want to embed a list of Documents, please use the Static2DDocumentEmbedder."
        )
        raise TypeError(msg)


document_options(Static2DTextEmbedder.__init__)
