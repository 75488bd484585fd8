"""The torch engine's tokenizer: sentence-transformers' very ids, from the fastest tokenizer proven to give them.

sentence-transformers tokenizes a batch with its Hugging Face tokenizer (padded, truncated to the model's max
length), after a step that depends on its version (sentence-transformers 5 and older strip each text, and lower-case
it when the module says `do_lower_case`; 6 passes it as it is). The engine tokenizes texts on a CPU thread ahead of
the device, so it needs the ids without sentence-transformers' per-batch tensors. It tries candidates, fastest first,
and keeps the first that gives sentence-transformers' own ids, token type ids and lengths on every probe text at load
(awkward whitespace, case, Unicode, special-token strings, a text past the max length):

1. tokie for the texts of printable ASCII and the Hugging Face tokenizer below for the others, where the model's
   tokenizer is of a layout tokie is proven for (`static2d._tokens.tokie`: BERT's WordPiece, byte-level BPE). It
   must give sentence-transformers' ids (special tokens and truncation included) on the probe texts
   (`static2d._tokens.exact.probe_texts`, every pair of printable-ASCII characters among them);
2. the Hugging Face `tokenizers` tokenizer the model loaded (its tokenizer.json), with the model's truncation, on
   the texts as this sentence-transformers passes them (each way of stripping / lower-casing tried);
3. sentence-transformers' own preprocessing, window by window: exact by construction, slower.

Padding is not the tokenizer's business here: the batches are padded by `pipeline.assemble`, on the side and with
the pad ids sentence-transformers used on the probe.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from functools import partial
from itertools import chain
from typing import Any, Protocol

import numpy as np

from static2d._tokens.exact import probe_texts, same
from static2d._tokens.ids import Tokens
from static2d._tokens.tokie import encode, load_tokie, split


class TextTokenizer(Protocol):
    """What the pipeline needs of a tokenizer: the ids of texts (special tokens added, truncated), unpadded."""

    name: str

    def tokenize(self, texts: Sequence[str]) -> Tokens:
        """The texts' ids, as sentence-transformers' tokenizer gives them (without the padding)."""
        ...


@dataclass(frozen=True)
class Layout:
    """How sentence-transformers lays a batch out, as observed on the probe: padding side, pad ids, inputs."""

    pad_id: int
    pad_type_id: int
    left: bool  # padded on the left
    type_ids: bool  # the model takes token_type_ids


class HuggingFaceTokenizer:
    """A Hugging Face `tokenizers` tokenizer (a copy of the model's), with the model's truncation and no padding."""

    def __init__(self, backend: Any, *, strip: bool, lower: bool, type_ids: bool) -> None:  # noqa: ANN401 - tokenizers'
        self.backend = backend
        self._strip = strip
        self._lower = lower
        self.type_ids = type_ids
        self.name = "tokenizers" + (" (stripped)" if strip else "") + (" (lower-cased)" if lower else "")

    def prepare(self, texts: Sequence[str]) -> list[str]:
        """The texts as this sentence-transformers hands them to its tokenizer (stripped, lower-cased)."""
        items = list(texts)
        if self._strip:
            items = [t.strip() for t in items]
        if self._lower:
            items = [t.lower() for t in items]
        return items

    def tokenize(self, texts: Sequence[str]) -> Tokens:
        """The ids of `texts` (encode_batch_fast: threads of its own, without holding the GIL)."""
        return self.encode(self.prepare(texts))

    def encode(self, items: Sequence[str]) -> Tokens:
        """The ids of texts already prepared (`prepare`)."""
        encodings = self.backend.encode_batch_fast(list(items))
        lengths = np.fromiter(map(len, encodings), dtype=np.intp, count=len(encodings))
        total = int(lengths.sum())
        ids = np.fromiter(chain.from_iterable(e.ids for e in encodings), dtype=np.intp, count=total)
        types = None
        if self.type_ids:
            types = np.fromiter(chain.from_iterable(e.type_ids for e in encodings), dtype=np.intp, count=total)
        return Tokens(ids, lengths, types)


class TokieTokenizer:
    """tokie for the texts of printable ASCII, a Hugging Face tokenizer (proven exact) for every other text."""

    def __init__(self, fast: Any, exact: HuggingFaceTokenizer) -> None:  # noqa: ANN401 - tokie's
        self._fast = fast
        self._exact = exact
        self.name = f"tokie + {exact.name}"

    @classmethod
    def make(cls, exact: HuggingFaceTokenizer) -> TokieTokenizer | None:
        """A tokie tokenizer ahead of `exact` (still to be proven on the probes).

        None where `exact`'s tokenizer is not of a layout tokie is proven for, or tokie is not installed or cannot
        read it. tokie reads the tokenizer's own JSON, and gets its truncation.
        """
        fast = load_tokie(exact.backend)
        if fast is None:
            return None
        return cls(fast, exact)

    def tokenize(self, texts: Sequence[str], one_by_one: bool | None = None) -> Tokens:
        """The ids of `texts`: those of printable ASCII (as prepared) by tokie, the others by Hugging Face (`split`).

        tokie runs on threads of its own, or text by text in this thread (`one_by_one`, `tokie.encode` of
        `static2d._tokens`). A text alone gets token type ids of 0 (the probes check it).
        """
        return split(self._exact.prepare(texts), partial(self._tokie, one_by_one=one_by_one), self._exact.encode)

    def _tokie(self, items: Sequence[str], one_by_one: bool | None) -> Tokens:
        """The ids tokie gives printable-ASCII texts (as prepared), special tokens added; type ids of 0 if taken."""
        tokens = encode(self._fast, items, special=True, one_by_one=one_by_one)
        if not self._exact.type_ids:
            return tokens
        return Tokens(tokens.ids, tokens.lengths, np.zeros(len(tokens.ids), dtype=np.intp))


class SentenceTransformersTokenizer:
    """sentence-transformers' own preprocessing (`preprocess`), unpadded again."""

    name = "sentence-transformers"

    def __init__(self, model: Any, *, type_ids: bool) -> None:  # noqa: ANN401 - a SentenceTransformer
        self._preprocess: Callable[[list[str]], dict[str, Any]] = model.preprocess
        self._type_ids = type_ids

    def features(self, texts: Sequence[str]) -> dict[str, Any]:
        """sentence-transformers' padded tensors for `texts`."""
        return self._preprocess(list(texts))

    def tokenize(self, texts: Sequence[str]) -> Tokens:
        """The ids of `texts`, read back from sentence-transformers' padded batch through its attention mask."""
        if not texts:
            empty = np.zeros(0, dtype=np.intp)
            return Tokens(empty, empty, empty if self._type_ids else None)
        features = self.features(texts)
        mask = features["attention_mask"].bool()
        types = features.get("token_type_ids")
        return Tokens(
            features["input_ids"][mask].numpy().astype(np.intp),
            mask.sum(dim=1).numpy().astype(np.intp),
            types[mask].numpy().astype(np.intp) if self._type_ids and types is not None else None,
        )


class PromptLength:
    """Tokens of a prompt as sentence-transformers counts them (where its Pooling leaves them out), once a prompt."""

    def __init__(self, count: Callable[[str], int]) -> None:
        self._count = count
        self._known: dict[str, int] = {}

    def __call__(self, prompt: str) -> int:
        if not prompt:
            return 0
        known = self._known.get(prompt)
        if known is None:
            known = self._known[prompt] = int(self._count(prompt))
        return known


def exact_tokenizer(
    model: Any,  # noqa: ANN401 - a SentenceTransformer
    forward_inputs: frozenset[str],
) -> tuple[TextTokenizer, Layout]:
    """The fastest tokenizer that gives sentence-transformers' ids on every probe text, and the batch layout.

    Args:
        model: The loaded SentenceTransformer (its max length already set).
        forward_inputs: The names the transformer's forward takes (token_type_ids is passed only if it does).

    Returns:
        (tokenizer, layout): the tokenizer chosen, and how sentence-transformers pads a batch.
    """
    probes = probe_texts(_truncation_length(model, model.tokenizer))
    reference = SentenceTransformersTokenizer(model, type_ids=True)
    features = reference.features(probes)
    mask = features["attention_mask"].bool()
    ids = features["input_ids"]
    types = features.get("token_type_ids")
    type_ids = types is not None and "token_type_ids" in forward_inputs
    padded = ~mask
    layout = Layout(
        pad_id=int(ids[padded][0]) if bool(padded.any()) else 0,
        pad_type_id=int(types[padded][0]) if types is not None and type_ids and bool(padded.any()) else 0,
        left=bool((~mask[:, 0]).any()),
        type_ids=type_ids,
    )
    reference = SentenceTransformersTokenizer(model, type_ids=type_ids)
    expected = reference.tokenize(probes)
    for candidate in _fast_candidates(model, type_ids):
        try:
            got = candidate.tokenize(probes)
        except (TypeError, ValueError, RuntimeError, AttributeError):
            continue
        if same(got, expected):
            return _with_tokie(candidate, probes, expected) or candidate, layout
    return reference, layout


def _with_tokie(exact: HuggingFaceTokenizer, probes: list[str], expected: Tokens) -> TokieTokenizer | None:
    """`TokieTokenizer` ahead of `exact`, where it is proven; else None.

    Proven: sentence-transformers' ids (special tokens and truncation included) on every probe text
    (`static2d._tokens.exact`, every pair of printable-ASCII characters among them), both ways tokie may run.
    """
    fast = TokieTokenizer.make(exact)
    if fast is None:
        return None
    try:  # both ways tokie may run
        agreed = all(same(fast.tokenize(probes, way), expected) for way in (False, True))
    except (TypeError, ValueError, RuntimeError, AttributeError):
        return None
    return fast if agreed else None


def _fast_candidates(model: Any, type_ids: bool) -> Iterator[HuggingFaceTokenizer]:  # noqa: ANN401
    """Hugging Face tokenizers faster than sentence-transformers' preprocessing, each still to be proven.

    tokie is put ahead of the one proven (`_with_tokie`).
    """
    tokenizer = getattr(model, "tokenizer", None)
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is None or not hasattr(backend, "encode_batch_fast"):
        return
    max_length = _truncation_length(model, tokenizer)
    lower = bool(getattr(model[0], "do_lower_case", False))
    for strip in (False, True):
        for lowered in (False, True) if lower else (False,):
            copy = type(backend).from_str(backend.to_str())  # the model's own tokenizer stays as it is
            copy.no_padding()
            if max_length is None:
                copy.no_truncation()
            else:
                direction = str(getattr(tokenizer, "truncation_side", "right"))
                copy.enable_truncation(max_length, strategy="longest_first", direction=direction)
            yield HuggingFaceTokenizer(copy, strip=strip, lower=lowered, type_ids=type_ids)


def _truncation_length(model: Any, tokenizer: Any) -> int | None:  # noqa: ANN401
    """The length sentence-transformers truncates to: its max_seq_length, else the tokenizer's own limit."""
    given = getattr(model, "max_seq_length", None)
    if given is not None:
        return int(given)
    limit = getattr(tokenizer, "model_max_length", None)
    return int(limit) if isinstance(limit, int) and limit < 10**20 else None
