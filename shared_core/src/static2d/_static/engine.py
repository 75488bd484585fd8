"""The static encoder: tokenize, gather token vectors, mean-pool. numpy, tokenizers, safetensors (and tokie).

How a batch runs: it is cut into pieces; `threads` workers (static2d's thread limit: the CPUs this process may use)
each take the next piece, tokenize it and pool it into the output. The compiled kernel (`kernel.py`) looks up the
word cache's pieces and pools with the GIL released, as tokie and Hugging Face tokenize (numpy's gathering and
summing, where the kernel is off, release it too), so the workers keep every core busy. Each text is tokenized by
the fastest path proven exact for it (`exact`): the word cache where the tokenizer's layout lets a space cut its
tokens (its new pieces of printable ASCII tokenized by tokie where tokie is proven for the tokenizer), else tokie
for a printable-ASCII text where it is proven and Hugging Face `tokenizers` for the others (texts joined where that
is proven, else text by text). On English text the word cache, once it knows most words, is well ahead of tokie on
whole texts, and close to it on a first pass (docs/performance.md); on the numpy path (no kernel: the word cache's
dictionaries) tokie takes the printable-ASCII texts ahead of it.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Sequence
from typing import Literal

import numpy as np
import numpy.typing as npt
from tokenizers import Tokenizer

from static2d import _threads
from static2d._cells import Cell, chunks, finish
from static2d._model.describe import StaticDescription
from static2d._model.files import read_tokenizer
from static2d._static import kernel
from static2d._static.joiner import Joiner
from static2d._static.pool import kernel_for as pool_kernel
from static2d._static.pool import mean_rows, pool
from static2d._static.table import load_table
from static2d._static.wordcache import WordCache
from static2d._tokens.ids import Tokens, drop, from_rows
from static2d._tokens.tokie import FastTokenizer, split

# A batch of more than this many texts is cut into pieces of this many, tokenized and pooled by the workers.
_PIECE = 4096
# At most this many texts are encoded text by text by Hugging Face where no faster path is proven (less work
# around each than the block pooling).
_FEW = 16


class StaticEngine:
    """A loaded static embedding model, shared by every encoder that asks for it (read-only after load)."""

    kind: Literal["static"] = "static"
    runtime: Literal["numpy"] = "numpy"
    device = "cpu"
    dtype = "float32"
    default_batch_size = 16384

    def __init__(self, files: StaticDescription, max_length: int | None) -> None:
        # float32; memory-mapped from the file (shared between processes) where it is stored as it is used
        self.table = load_table(files.static_dir, files.name)
        self.max_dims = int(self.table.shape[1])
        self.max_layers: int | None = None
        self.layers: int | None = None
        self.tokenizer = read_tokenizer(files.static_dir / "tokenizer.json", files.name)
        self.tokenizer.no_padding()
        vocab_size = self.tokenizer.get_vocab_size()
        if vocab_size > self.table.shape[0]:
            msg = (
                f"Static model {files.name!r}: the tokenizer has {vocab_size} tokens but the embedding table only "
                f"{self.table.shape[0]} rows. The model files do not belong together: download the model again."
            )
            raise ValueError(msg)
        # The format's own way of encoding, as its reader describes it (model2vec: unknown tokens dropped, text cut
        # to its max_length tokens after a cheap cut to max_length * median token length characters; sentence-
        # transformers StaticEmbedding: no limit of its own, the tokenizer's saved one applies). A max_length given
        # by the user applies to every format.
        if max_length is None:
            max_length = files.static_max_length
        self._unk_id = _unk_token_id(self.tokenizer) if files.drops_unknown else None
        self._char_cap: int | None = None
        if files.caps_characters and max_length is not None:
            vocab = self.tokenizer.get_vocab()
            median = int(np.median([len(t) for t in vocab]))
            self._char_cap = int(max_length) * median
        if max_length is not None:
            self.tokenizer.enable_truncation(int(max_length))
        elif not files.tokenizer_truncation:
            self.tokenizer.no_truncation()
        self.max_length = max_length
        # The fastest paths proven to give this tokenizer's ids (module docstring): the word cache, tokie for whole
        # printable-ASCII texts where there is no cache or no kernel (`_whole_text_tokie`), Hugging Face.
        path = files.static_dir / "tokenizer.json"
        self._cache = WordCache.make(self.tokenizer, path)
        self._fast = None
        if self._cache is None or kernel.native() is None:
            self._fast = FastTokenizer.make(self.tokenizer, path)
        self._joiner = None if self._cache is not None else Joiner.make(self.tokenizer)

    @property
    def kernel(self) -> str:
        """Which kernel pools (`kernel.py`): "C" (compiled) or "numpy"."""
        return "C" if pool_kernel(self.table) is not None else "numpy"

    @property
    def tokenizer_path(self) -> str:
        """Which tokenizers run (`tokenize`).

        "word cache + tokie", "word cache", "tokie + word cache", "tokie + tokenizers" or "tokenizers".
        """
        exact = "word cache" if self._cache is not None else "tokenizers"
        if self._whole_text_tokie() is not None:
            return f"tokie + {exact}"
        return "word cache + tokie" if self._cache is not None and self._cache.tokie is not None else exact

    def _whole_text_tokie(self) -> FastTokenizer | None:
        """The tokie for printable-ASCII texts ahead of the exact way, or None where the exact way takes them all.

        The word cache takes every text with the kernel's table (well ahead of tokie on whole texts once it knows
        most words); on the numpy path (its Python dictionaries) tokie takes the printable-ASCII texts.
        """
        if self._cache is not None and kernel.native() is not None:
            return None
        return self._fast

    def tokenize(self, texts: Sequence[str]) -> Tokens:
        """Token ids of the texts as the model's own library makes them (`Tokens`: flat ids, tokens per text).

        A token the model drops (model2vec drops the unknown token) is removed, and not counted.
        """
        return drop(self._tokenize(texts), self._unk_id)

    def _tokenize(self, texts: Sequence[str]) -> Tokens:
        """`tokenize` with the token the model drops still there (pooling leaves it out: `pool(skip=)`)."""
        texts = self._capped(texts)
        exact = self._tokenizers if self._cache is None else self._cache.tokenize
        fast = self._whole_text_tokie()
        if fast is None:
            return exact(texts)
        native = kernel.native()  # which texts tokie gets, at ~30 ns a text (map(accepted) costs ~350)
        mine = None if native is None else np.frombuffer(native.printable_ascii(texts), dtype=np.bool_)
        return split(texts, fast.tokenize, exact, mine)

    def _capped(self, texts: Sequence[str]) -> Sequence[str]:
        """The texts cut to the format's character cap, where it has one (model2vec's), before tokenizing."""
        if self._char_cap is not None and kernel.longest(texts) > self._char_cap:
            cap = self._char_cap
            return [t[:cap] for t in texts]
        return texts

    def _tokenizers(self, texts: Sequence[str]) -> Tokens:
        """Tokens by Hugging Face (texts joined where proven)."""
        if self._joiner is not None and len(texts) > 1:
            return self._joiner.tokenize(texts)
        return from_rows([e.ids for e in self.tokenizer.encode_batch_fast(list(texts), add_special_tokens=False)])

    def pool(
        self, tokens: Tokens, dims: int, threads: int = 1, *, out: npt.NDArray[np.float32] | None = None
    ) -> npt.NDArray[np.float32]:
        """Mean of the first `dims` components of each text's token vectors (`pool.pool`, by up to `threads`)."""
        return pool(self.table, tokens.ids, tokens.lengths, dims, threads, out=out, skip=self._unk_id)

    def encode(
        self,
        texts: Sequence[str],
        prompt: str,
        cells: Sequence[Cell],
        *,
        normalize: bool,
        batch_size: int,
        progress: Callable[[int], object] | None = None,
    ) -> dict[Cell, npt.NDArray[np.float32]]:
        """The texts' vectors at each (0, dims) cell (a static model has no layers), `batch_size` texts at a time."""
        width = max(d for _, d in cells)
        out = np.empty((len(texts), width), dtype=np.float32)  # each chunk's vectors pooled where they belong
        for start, chunk in chunks(texts, batch_size, progress):
            self.encode_batch(chunk, width, prompt, batch_size, out=out[start : start + len(chunk)])
        return finish(dict.fromkeys({depth for depth, _ in cells}, out), cells, normalize=normalize)

    def encode_batch(
        self,
        texts: Sequence[str],
        dims: int,
        prompt: str,
        batch_size: int,
        *,
        out: npt.NDArray[np.float32] | None = None,
    ) -> npt.NDArray[np.float32]:
        """Encode one batch of texts (the prompt, if any, is prepended as sentence-transformers does), into `out`.

        A large batch is cut into pieces that the workers (one per CPU this process may use) tokenize and pool,
        each the next piece as it is done with the last, writing into the output (module docstring).
        """
        del batch_size  # the caller's batch is this batch
        if prompt:
            texts = [prompt + t for t in texts]
        n = len(texts)
        if n <= _FEW and self._fast is None and self._cache is None:
            vectors = self._encode_few(texts, dims)
            if out is None:
                return vectors
            out[:] = vectors
            return out
        threads = _threads.limit()
        if n <= _PIECE:
            return self.pool(self._tokenize(texts), dims, threads, out=out)
        if out is None:
            out = np.empty((n, dims), dtype=np.float32)
        into = out
        starts = iter(range(0, n, _PIECE))
        lock = threading.Lock()
        errors: list[BaseException] = []

        def work() -> None:
            try:
                while not errors:
                    with lock:
                        start = next(starts, None)
                    if start is None:
                        return
                    end = min(n, start + _PIECE)
                    self.pool(self._tokenize(texts[start:end]), dims, out=into[start:end])
            except BaseException as e:  # handed to the caller
                errors.append(e)

        workers = min(threads, -(-n // _PIECE))
        helpers = [threading.Thread(target=work, name="static2d-encode", daemon=True) for _ in range(workers - 1)]
        for h in helpers:
            h.start()
        work()
        for h in helpers:
            h.join()
        if errors:
            raise errors[0]
        return out

    def _encode_few(self, texts: Sequence[str], dims: int) -> npt.NDArray[np.float32]:
        """`pool(tokenize(texts), dims)` for a handful of texts, text by text (the same sums in the same order)."""
        texts = self._capped(texts)
        out = np.zeros((len(texts), dims), dtype=np.float32)
        unk = self._unk_id
        for i, encoding in enumerate(self.tokenizer.encode_batch_fast(list(texts), add_special_tokens=False)):
            ids = encoding.ids
            if unk is not None and unk in ids:
                ids = [t for t in ids if t != unk]
            if ids:
                out[i] = mean_rows(self.table, np.array(ids, dtype=np.intp), dims)
        return out


def _unk_token_id(tokenizer: Tokenizer) -> int | None:
    """The unknown token's id, which model2vec drops before pooling (as model2vec finds it)."""
    model = tokenizer.model
    if hasattr(model, "unk_token"):
        token = model.unk_token
        return None if token is None else tokenizer.token_to_id(token)
    unk = json.loads(tokenizer.to_str())["model"].get("unk_id")
    return None if unk is None else int(unk)
