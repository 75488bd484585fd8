"""The static encoder: tokenize, gather token vectors, mean-pool. numpy, tokenizers and safetensors only."""

from __future__ import annotations

import json
from collections.abc import Sequence
from itertools import chain
from pathlib import Path

import numpy as np
import numpy.typing as npt
from safetensors import SafetensorError, safe_open
from tokenizers import Tokenizer

from static2d._resolve import ModelFiles

# model2vec's default when a model's config names no max_length.
_MODEL2VEC_DEFAULT_MAX_LENGTH = 512


class StaticBackend:
    """A loaded static embedding model, shared by every encoder that asks for it (read-only after load)."""

    kind = "static"

    def __init__(self, files: ModelFiles, max_length: int | None) -> None:
        assert files.static_dir is not None  # noqa: S101 - inspect_folder guarantees it for static models
        self.table = _load_table(files.static_dir, files.name)
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

    def token_ids(self, texts: Sequence[str]) -> list[list[int]]:
        """Token ids of each text, as the model's own library makes them."""
        if self._char_cap is not None:
            cap = self._char_cap
            texts = [t[:cap] for t in texts]
        encodings = self.tokenizer.encode_batch_fast(texts, add_special_tokens=False)
        ids = [e.ids for e in encodings]
        if self._unk_id is not None:
            unk = self._unk_id
            ids = [[i for i in row if i != unk] if unk in row else row for row in ids]
        return ids

    def pool(self, ids: list[list[int]], dims: int) -> npt.NDArray[np.float32]:
        """Mean of the first `dims` components of each text's token vectors; a text without tokens gives zeros."""
        n = len(ids)
        lengths = np.fromiter(map(len, ids), dtype=np.int64, count=n)
        out = np.zeros((n, dims), dtype=np.float32)
        total = int(lengths.sum())
        if total == 0:
            return out
        flat = np.fromiter(chain.from_iterable(ids), dtype=np.int64, count=total)
        vectors = self.table[flat, :dims] if dims < self.max_dims else self.table[flat]
        nonempty = lengths > 0
        starts = np.cumsum(lengths) - lengths
        sums = np.add.reduceat(vectors, starts[nonempty], axis=0)
        out[nonempty] = sums / lengths[nonempty, None].astype(np.float32)
        return out

    def encode_batch(self, texts: Sequence[str], dims: int, prompt: str, batch_size: int) -> npt.NDArray[np.float32]:
        """Encode one batch of texts (the prompt, if any, is prepended as sentence-transformers does)."""
        del batch_size  # the caller's batch is this batch
        if prompt:
            texts = [prompt + t for t in texts]
        return self.pool(self.token_ids(texts), dims)


def _load_table(folder: Path, name: str) -> npt.NDArray[np.float32]:
    """Read the embedding table as float32, folding model2vec's token mapping and per-token weights into it."""
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
    table = table.astype(np.float32, copy=False)
    if mapping is not None:
        table = table[mapping.astype(np.int64)]
    if weights is not None:
        table = table * weights.astype(np.float32)[:, None]
    return np.ascontiguousarray(table, dtype=np.float32)


def _unk_token_id(tokenizer: Tokenizer) -> int | None:
    """The unknown token's id, which model2vec drops before pooling (as model2vec finds it)."""
    model = tokenizer.model
    if hasattr(model, "unk_token"):
        token = model.unk_token
        return None if token is None else tokenizer.token_to_id(token)
    unk = json.loads(tokenizer.to_str())["model"].get("unk_id")
    return None if unk is None else int(unk)
