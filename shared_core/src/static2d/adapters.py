"""What every static2d adapter is built from, framework-free: the plumbing of LangChain, LlamaIndex and Haystack.

A user of the core needs none of this (`static2d.load` and the `Encoder` are the core's API); an adapter takes:

- `EncoderMixin`: the common block of every adapter's embedder: the lazy core encoder it holds (`encoder`),
  `embedding_dim`, `warm_up()`, `fingerprint`, `describe()`, `check_fingerprint()`, and pickling without the token;
- `check_texts` / `check_text`: the one check of input texts, so every surface refuses a bad input with the same
  words;
- `PEER_OPTIONS` / `peer_option_message` / `unknown_option_message`: other embedders' option names, and the one
  refusal of an option name an adapter does not take (the static2d option to use instead, or "did you mean").

Example:
    >>> import static2d
    >>> from static2d.adapters import EncoderMixin
    >>> class MyEmbedder(EncoderMixin):  # a framework's embedder
    ...     def __init__(self, model: str, dims: int | None = None) -> None:
    ...         self._encoder = static2d.load(model, dims=dims, lazy=True)  # options checked now, model loaded later
    >>> MyEmbedder(static2d.DEFAULT_MODEL, dims=256).embedding_dim  # doctest: +SKIP
    256
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from static2d._checks import check_text, check_texts
from static2d._encoder import Encoder
from static2d._fingerprint import check_fingerprint
from static2d._peers import PEER_OPTIONS, peer_option_message, unknown_option_message

__all__ = [
    "PEER_OPTIONS",
    "EncoderMixin",
    "check_text",
    "check_texts",
    "peer_option_message",
    "unknown_option_message",
]

_E = TypeVar("_E", bound="EncoderMixin")


class EncoderMixin:
    """The common block of every adapter's embedder, written once: it forwards to the core encoder it holds.

    The adapter sets `self._encoder` (a lazy `static2d.load(...)`, checked when the embedder is made) and keeps
    each static2d option as an attribute of the option's name, `token` included. It adds only its framework's
    own code (fields, serialisation, the framework's embed methods).
    """

    __slots__ = ()  # adds no instance layout: it sits beside pydantic models and plain classes alike

    _encoder: Encoder  # set by the adapter

    @property
    def encoder(self) -> Encoder:
        """The static2d encoder behind this embedder (e.g. `embedder.encoder.dims`, `.loaded`, `.same_model`)."""
        return self._encoder

    @property
    def embedding_dim(self) -> int:
        """The size of the vectors this embedder returns (`dims`, or the model's full size); known before loading."""
        return self._encoder.embedding_dim

    def warm_up(self: _E) -> _E:
        """Load the model now rather than on the first embedding (once; later calls return at once).

        The model is shared with every other static2d embedder of the same model in the process.

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
        check_fingerprint(stored, self)

    def __getstate__(self) -> dict[str, Any]:
        """Pickle without the token's value: `token` is pickled as `_token_to_pickle()` gives it.

        None by default: an unpickled embedder reads HF_TOKEN from its environment, if it needs a token.
        """
        base = getattr(super(), "__getstate__", None)  # object has none before Python 3.11
        state: dict[str, Any] = dict((base() if base is not None else self.__dict__) or {})
        if isinstance(state.get("__dict__"), Mapping):  # a pydantic model keeps its fields under "__dict__"
            state["__dict__"] = {**state["__dict__"], "token": self._token_to_pickle()}
        else:  # a plain object's state is its attributes (and a copy here: never the live __dict__)
            state["token"] = self._token_to_pickle()
        return state

    def _token_to_pickle(self) -> object:
        """What a pickle keeps of `token`: nothing.

        An adapter whose token may be only a reference to a secret (the name of an environment variable) keeps that.
        """
        return None
