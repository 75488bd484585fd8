"""The static encoder: tokenize, gather token vectors, mean-pool. numpy, tokenizers and safetensors only."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Sequence
from itertools import chain
from pathlib import Path

import numpy as np
import numpy.typing as npt
from safetensors import SafetensorError, safe_open
from tokenizers import Tokenizer

from static2d._resolve import ModelFiles

_Tokens = tuple[npt.NDArray[np.intp], npt.NDArray[np.intp], npt.NDArray[np.intp]]

# model2vec's default when a model's config names no max_length.
_MODEL2VEC_DEFAULT_MAX_LENGTH = 512
# Pooling gathers the token vectors of a group of texts (sorted by length, padded to the longest of the group)
# into one block of at most this many bytes, so the block stays in cache and memory does not grow with the input.
_BLOCK_BYTES = 1 << 22
# A batch of at least two pieces of this many texts is tokenized a piece ahead of pooling, in a helper thread.
_PIECE = 1024


class StaticBackend:
    """A loaded static embedding model, shared by every encoder that asks for it (read-only after load)."""

    kind = "static"

    def __init__(self, files: ModelFiles, max_length: int | None) -> None:
        assert files.static_dir is not None  # noqa: S101 - inspect_folder guarantees it for static models
        # The table, float32, with one zero row after it: padding and dropped (unknown) tokens point at that row.
        self._padded = _load_table(files.static_dir, files.name)
        self._pad = self._padded.shape[0] - 1
        self.table = self._padded[:-1]
        self.max_dims = int(self.table.shape[1])
        self.max_layers: int | None = None
        self.layers: int | None = None
        self.tokenizer = Tokenizer.from_file(str(files.static_dir / "tokenizer.json"))
        self.tokenizer.no_padding()
        vocab_size = self.tokenizer.get_vocab_size()
        if vocab_size > self.table.shape[0]:
            msg = (
                f"Static model {files.name!r}: the tokenizer has {vocab_size} tokens but the embedding table only "
                f"{self.table.shape[0]} rows. The model files do not belong together: download the model again."
            )
            raise ValueError(msg)
        self._unk_id: int | None = None
        self._char_cap: int | None = None
        if files.format == "model2vec":
            # As model2vec.StaticModel.encode: unknown tokens are dropped, and text is cut to max_length tokens
            # (after a cheap cut to max_length * median token length characters, which model2vec also makes).
            cfg_path = files.static_dir / "config.json"
            config = json.loads(cfg_path.read_text(encoding="utf-8")) if cfg_path.is_file() else {}
            if max_length is None:
                max_length = config.get("max_length", _MODEL2VEC_DEFAULT_MAX_LENGTH)
            self._unk_id = _unk_token_id(self.tokenizer)
            if max_length is not None:
                vocab = self.tokenizer.get_vocab()
                median = int(np.median([len(t) for t in vocab]))
                self._char_cap = int(max_length) * median
        # sentence-transformers StaticEmbedding has no length limit of its own (the tokenizer's, if it was saved
        # with one, applies as there); max_length given by the user applies to both formats.
        if max_length is not None:
            self.tokenizer.enable_truncation(int(max_length))
        elif files.format == "model2vec":
            self.tokenizer.no_truncation()
        self.max_length = max_length

    def tokenize(self, texts: Sequence[str]) -> _Tokens:
        """Token ids of the texts as the model's own library makes them: (flat ids, slots per text, tokens per text).

        A token the model drops (model2vec drops the unknown token) keeps its slot, as the id of the zero row past
        the table, so it adds nothing to the sum; it is not counted in the mean.
        """
        if self._char_cap is not None:
            cap = self._char_cap
            texts = [t[:cap] for t in texts]
        rows = [e.ids for e in self.tokenizer.encode_batch_fast(texts, add_special_tokens=False)]
        slots = np.fromiter(map(len, rows), dtype=np.intp, count=len(rows))
        flat = np.fromiter(chain.from_iterable(rows), dtype=np.intp, count=int(slots.sum()))
        counts = slots
        if self._unk_id is not None:
            dropped = np.flatnonzero(flat == self._unk_id)
            if dropped.size:
                flat[dropped] = self._pad
                owner = np.searchsorted(np.cumsum(slots), dropped, side="right")
                counts = slots - np.bincount(owner, minlength=len(slots))
        return flat, slots, counts

    def pool(
        self, flat: npt.NDArray[np.intp], slots: npt.NDArray[np.intp], counts: npt.NDArray[np.intp], dims: int
    ) -> npt.NDArray[np.float32]:
        """Mean of the first `dims` components of each text's token vectors; a text without tokens gives zeros.

        Texts are sorted by length and summed a block at a time: the ids of a group of texts padded to the longest
        of them (padding points at the zero row), gathered into one (texts, length, dims) block and summed.
        """
        n = len(slots)
        table = self._padded if dims == self.max_dims else self._padded[:, :dims]
        out = np.zeros((n, dims), dtype=np.float32)
        if flat.size == 0:
            return out
        if n == 1:
            out[0] = _sum_rows(table, flat, dims)
        else:
            starts = np.cumsum(slots) - slots
            order = np.argsort(slots, kind="stable")
            lengths, starts = slots[order], starts[order]
            ids = np.append(flat, self._pad)  # ids[flat.size] is the padding id
            budget = max(1, _BLOCK_BYTES // (4 * dims))  # token vectors per block
            s = int(np.searchsorted(lengths, 1))  # texts without slots stay zero
            while s < n and lengths[s] <= budget:
                stop = min(n, s + budget // int(lengths[s]))
                # the most texts from s whose block (texts x longest length) fits the budget
                fits = np.arange(1, stop - s + 1) * lengths[s:stop] <= budget
                e = s + int(np.count_nonzero(fits))
                width = np.arange(int(lengths[e - 1]))
                where = np.where(width < lengths[s:e, None], starts[s:e, None] + width, flat.size)
                out[order[s:e]] = table[ids[where]].sum(axis=1)
                s = e
            for i in range(s, n):  # a text longer than a whole block: summed a piece at a time
                start, length = int(starts[i]), int(lengths[i])
                out[order[i]] = _sum_rows(table, flat[start : start + length], dims)
        nonzero = counts > 0
        out /= np.where(nonzero, counts, 1).astype(np.float32)[:, None]
        return out

    def encode_batch(self, texts: Sequence[str], dims: int, prompt: str, batch_size: int) -> npt.NDArray[np.float32]:
        """Encode one batch of texts (the prompt, if any, is prepended as sentence-transformers does).

        A large batch is cut into pieces, and each piece is tokenized in a helper thread while the one before it
        is pooled here: the tokenizer releases the GIL, so pooling costs (almost) no time of its own.
        """
        del batch_size  # the caller's batch is this batch
        if prompt:
            texts = [prompt + t for t in texts]
        n = len(texts)
        if n < 2 * _PIECE:
            return self.pool(*self.tokenize(texts), dims)
        out = np.empty((n, dims), dtype=np.float32)
        starts = range(0, n, _PIECE)
        ahead = _Ahead(self.tokenize, texts[:_PIECE])
        for start in starts:
            tokens = ahead.result()
            if start + _PIECE < n:
                ahead = _Ahead(self.tokenize, texts[start + _PIECE : start + 2 * _PIECE])
            out[start : start + _PIECE] = self.pool(*tokens, dims)
        return out


class _Ahead(threading.Thread):
    """Runs `work(texts)` in a thread of its own; `result()` waits for it (and raises what it raised)."""

    def __init__(self, work: Callable[[Sequence[str]], _Tokens], texts: Sequence[str]) -> None:
        super().__init__(name="static2d-tokenize", daemon=True)
        self._work, self._texts = work, texts
        self._value: _Tokens | None = None
        self._error: BaseException | None = None
        self.start()

    def run(self) -> None:
        try:
            self._value = self._work(self._texts)
        except BaseException as e:  # handed to the caller
            self._error = e

    def result(self) -> _Tokens:
        self.join()
        if self._error is not None:
            raise self._error
        assert self._value is not None  # noqa: S101
        return self._value


def _sum_rows(table: npt.NDArray[np.float32], ids: npt.NDArray[np.intp], dims: int) -> npt.NDArray[np.float32]:
    """Sum of the table rows `ids`, a block at a time."""
    step = max(1, _BLOCK_BYTES // (4 * dims))
    total = np.zeros(dims, dtype=np.float32)
    for p in range(0, len(ids), step):
        total += table[ids[p : p + step]].sum(axis=0)
    return total


def _load_table(folder: Path, name: str) -> npt.NDArray[np.float32]:
    """The embedding table as float32 with one zero row after it, model2vec's token mapping and weights folded in."""
    path = folder / "model.safetensors"
    try:
        with safe_open(str(path), framework="numpy") as f:
            keys = set(f.keys())
            if "embedding.weight" in keys:
                table = f.get_tensor("embedding.weight")
                mapping = weights = None
            elif "embeddings" in keys:
                table = f.get_tensor("embeddings")
                mapping = f.get_tensor("mapping") if "mapping" in keys else None
                weights = f.get_tensor("weights") if "weights" in keys else None
            else:
                msg = (
                    f"Static model {name!r}: {path} has tensors {sorted(keys)}, but a static model needs "
                    "'embeddings' (model2vec) or 'embedding.weight' (sentence-transformers StaticEmbedding)."
                )
                raise ValueError(msg)
    except (SafetensorError, OSError) as e:  # a truncated or foreign file
        msg = f"Static model {name!r}: cannot read {path} ({e}). The file looks damaged: download the model again."
        raise ValueError(msg) from e
    if table.ndim != 2 or not np.issubdtype(table.dtype, np.floating):
        msg = (
            f"Static model {name!r}: the embedding table has shape {table.shape} and dtype {table.dtype}; "
            "expected a 2-D float matrix."
        )
        raise ValueError(msg)
    if mapping is not None:
        table = table[mapping.astype(np.int64)]
    # float32 (whatever the file holds), C-contiguous, with one zero row after the table's rows
    padded = np.zeros((table.shape[0] + 1, table.shape[1]), dtype=np.float32)
    padded[:-1] = table
    if weights is not None:
        padded[:-1] *= weights.astype(np.float32)[:, None]
    return padded


def _unk_token_id(tokenizer: Tokenizer) -> int | None:
    """The unknown token's id, which model2vec drops before pooling (as model2vec finds it)."""
    model = tokenizer.model
    if hasattr(model, "unk_token"):
        token = model.unk_token
        return None if token is None else tokenizer.token_to_id(token)
    unk = json.loads(tokenizer.to_str())["model"].get("unk_id")
    return None if unk is None else int(unk)
