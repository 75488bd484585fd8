"""`tokie`, for the texts and tokenizers where it gives Hugging Face's very ids: printable ASCII text, two layouts.

Measured on the tokenizer families `tokenizers` trains, `tokie` gives the ids of
`Tokenizer.encode_batch_fast(..., add_special_tokens=False)` for WordPiece with the BERT normalizer and
pre-tokenizer (cased and uncased) and for byte-level BPE on ordinary text, 10x-30x faster, but not on every input:
its Unicode tables differ from Hugging Face's (DEL, CJK Extension ideographs, some Arabic and Telugu letters,
combining marks, format characters and unassigned code points inside a word get other ids). So it gets only texts
of printable ASCII (U+0020 to U+007E; decided per text, at no cost for an ASCII string): there every character's
class (letter, digit, punctuation, space) and lower case are the same in both, which the probes check for every
pair of such characters, and the probes check the model's algorithm. Every other text goes the exact way of the
engine (the word cache, or Hugging Face): `split` is that one split and the one reassembly, for every engine. It is
used only for those two layouts, only when tokie reads the file, and only once it agrees with Hugging Face on every
printable-ASCII probe text (`exact.proven`).
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from tokenizers import Tokenizer

from static2d import _threads
from static2d._tokens import exact
from static2d._tokens.ids import Tokens, assemble, from_rows

# (model type, allowed normalizer steps, allowed pre-tokenizer steps): the layouts proven exact.
_EXACT: tuple[tuple[str, frozenset[str], frozenset[str]], ...] = (
    ("WordPiece", frozenset({"BertNormalizer"}), frozenset({"BertPreTokenizer"})),
    ("BPE", frozenset(), frozenset({"ByteLevel"})),
)

# Up to this many texts are tokenized text by text (tokie's threads cost more than they save on a few texts).
_FEW = 32


def accepted(text: str) -> bool:
    """Whether a text may go to tokie: printable ASCII only (no control character, no DEL, nothing else)."""
    return text.isascii() and text.isprintable()


def split(
    texts: Sequence[str],
    fast: Callable[[Sequence[str]], Tokens],
    exact: Callable[[Sequence[str]], Tokens],
    mine: npt.NDArray[np.bool_] | None = None,
) -> Tokens:
    """The tokens of `texts`: the `accepted` ones by `fast` (tokie), every other by `exact`, put back in order.

    Where every text goes one way, that way gets `texts` as they are (no copy, nothing put back together). `mine`:
    which texts are `accepted`, where the caller found it out faster (the static kernel's `printable_ascii`).
    """
    if mine is None:
        mine = np.fromiter(map(accepted, texts), dtype=bool, count=len(texts))
    if mine.all():
        return fast(texts)
    if not mine.any():
        return exact(texts)
    rows, rest = np.flatnonzero(mine), np.flatnonzero(~mine)
    parts = [
        (rows, fast([texts[i] for i in rows.tolist()])),
        (rest, exact([texts[i] for i in rest.tolist()])),
    ]
    return assemble(len(texts), parts)


class FastTokenizer:
    """`tokie` reading the model's tokenizer.json, with the Hugging Face tokenizer's truncation.

    Only for texts `accepted` says yes to (the caller sends every other text the exact way).

    Example:
        >>> from tokenizers import Tokenizer
        >>> hf = Tokenizer.from_file("tokenizer.json")  # doctest: +SKIP
        >>> fast = FastTokenizer.make(hf, "tokenizer.json")  # None unless proven exact  # doctest: +SKIP
        >>> tokens = fast.tokenize(["a text", "another"])  # tokens.ids, tokens.lengths  # doctest: +SKIP
    """

    def __init__(self, tokenizer: Any, max_length: int | None, direction: str) -> None:  # noqa: ANN401 - tokie's
        self._tokenizer = tokenizer
        self.max_length = max_length
        self.direction = direction

    @classmethod
    def make(cls, tokenizer: Tokenizer, path: str | Path) -> FastTokenizer | None:
        """A fast tokenizer giving `tokenizer`'s ids for every accepted text, or None where that is not proven.

        Args:
            tokenizer: The Hugging Face tokenizer, with the truncation the model uses set on it.
            path: The tokenizer.json it was read from (tokie reads the same file).

        Returns:
            The fast tokenizer, or None when tokie is not installed, the layout is not one proven exact, or the two
            disagree on a probe text tokie would get.
        """
        fast = load_tokie(tokenizer, path)
        if fast is None:
            return None
        truncation = tokenizer.truncation
        if truncation is None:
            made = cls(fast, None, "right")
        else:
            made = cls(fast, int(truncation["max_length"]), str(truncation.get("direction", "right")))

        # both ways tokenize() may take, on the probes it may get
        return made if exact.proven(tokenizer, [made._flat, made._each], made.max_length, accepted) else None

    def tokenize(self, texts: Sequence[str]) -> Tokens:
        """The texts' Tokens, as Hugging Face gives them without special tokens.

        Every text must be `accepted`.
        """
        return encode(self._tokenizer, texts, special=False)

    def _flat(self, texts: Sequence[str]) -> Tokens:
        """All texts in one call, tokenized by tokie's own threads."""
        return encode(self._tokenizer, texts, special=False, one_by_one=False)

    def _each(self, texts: Sequence[str]) -> Tokens:
        """Text by text in this thread."""
        return encode(self._tokenizer, texts, special=False, one_by_one=True)


def encode(
    fast: Any,  # noqa: ANN401 - tokie's
    texts: Sequence[str],
    *,
    special: bool,
    one_by_one: bool | None = None,
) -> Tokens:
    """The Tokens tokie gives `texts`, with special tokens or not (no token type ids).

    In one call on tokie's own threads, or text by text in this thread (`one_by_one`; None: where the texts are few,
    or where static2d's thread limit is below the CPUs this process may run on: tokie starts a thread per CPU it
    sees, whatever the limit, and a Ray actor given one CPU must not run one per core).
    """
    if one_by_one is None:
        one_by_one = len(texts) <= _FEW or _threads.limit() < _threads.affinity_cpus()
    if one_by_one:
        return from_rows([fast.encode(t, add_special_tokens=special).ids for t in texts])
    ids, lengths = fast.encode_batch_flat(list(texts), add_special_tokens=special)
    return Tokens(ids.astype(np.intp), lengths.astype(np.intp))


def load_tokie(tokenizer: Tokenizer, path: str | Path | None = None) -> Any | None:  # noqa: ANN401 - tokie's
    """A tokie tokenizer reading `tokenizer`'s JSON, with its truncation and no padding (still to be proven).

    Args:
        tokenizer: The Hugging Face tokenizer, with the truncation the model uses set on it.
        path: The tokenizer.json it was read from; None: a temporary copy of `tokenizer.to_str()` is read.

    Returns:
        tokie's tokenizer, or None where the layout is not one tokie is proven for, or tokie is not installed or
        cannot read the file.
    """
    spec = tokenizer.to_str()
    if not supported(json.loads(spec)):
        return None
    try:
        import tokie  # an optional dependency: imported where it may be used
    except ImportError:
        return None
    with tempfile.TemporaryDirectory(prefix="static2d-") as folder:
        if path is None:
            path = Path(folder) / "tokenizer.json"
            path.write_text(spec, encoding="utf-8")
        try:
            fast = tokie.Tokenizer.from_json(str(path))
        except (tokie.TokieError, OSError, ValueError):  # a file tokie cannot read: Hugging Face reads it
            return None
    fast.no_padding()
    truncation = tokenizer.truncation
    if truncation is None:
        fast.no_truncation()
    else:
        fast.enable_truncation(int(truncation["max_length"]), direction=str(truncation.get("direction", "right")))
    return fast


def supported(spec: dict[str, Any]) -> bool:
    """Whether a tokenizer.json's model, normalizer and pre-tokenizer are of a layout proven exact with tokie."""
    model = (spec.get("model") or {}).get("type")
    for kind, normalizers, pre_tokenizers in _EXACT:
        steps_ok = _steps(spec.get("normalizer")) <= normalizers and _steps(spec.get("pre_tokenizer")) <= pre_tokenizers
        if model == kind and steps_ok:
            return True
    return False


def _steps(step: dict[str, Any] | None) -> set[str]:
    """The types of a normalizer / pre-tokenizer (each step of a Sequence)."""
    if step is None:
        return set()
    if step.get("type") == "Sequence":
        inner = step.get("normalizers") or step.get("pretokenizers") or []
        return set().union(*(_steps(s) for s in inner)) if isinstance(inner, list) else {"Sequence"}
    return {str(step.get("type"))}
