"""The torch engine's batches: texts sorted by length, tokenized on a CPU thread ahead of the device, cut by tokens.

A `Prefetcher` thread takes the texts longest first (by characters, as sentence-transformers sorts them), in windows
that start small (the device starts early) and grow; tokenizes each window (the Hugging Face tokenizer runs its own
threads without holding the GIL); sorts the window by token count; and cuts it into batches of at most
`max_tokens` padded tokens (rows x longest row) and at most `max_rows` rows. The last, partly filled batch of a
window waits for the next window's texts. Each batch is padded as sentence-transformers pads it, in pinned memory
when the device is a CUDA GPU (so its copy to the device does not block), and queued, a few batches ahead of the
device. So the device's memory holds one batch's activations, of at most `max_tokens` tokens, however many texts
are encoded.
"""

from __future__ import annotations

import contextlib
import queue
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from static2d._tokens.ids import Tokens
from static2d._tokens.transformer import Layout, TextTokenizer

_FIRST_WINDOW = 256  # texts tokenized before the first batch: small, so the device starts early
_LARGEST_WINDOW = 16384  # windows double up to this many texts
_AHEAD = 4  # batches prepared ahead of the device


@dataclass(frozen=True)
class Batch:
    """One batch, ready for the device: its rows (indices into the texts) and its tensors (on the CPU)."""

    rows: npt.NDArray[np.intp]
    inputs: dict[str, Any]  # input_ids, attention_mask (and token_type_ids), int64 tensors (rows, width)
    pool_mask: Any  # the attention mask less the prompt's tokens (a pooling that leaves the prompt out), or None
    padded: bool  # whether a row is shorter than the batch (its attention mask is not all ones)
    tokens: int  # rows x width: the padded tokens the device runs


def cut(lengths: npt.NDArray[np.intp], max_tokens: int, max_rows: int, min_rows: int = 1) -> list[int]:
    """Where batches end in texts sorted longest first: at most `max_tokens` padded tokens, `max_rows` rows each.

    A batch is as wide as its first (longest) text, and holds at least `min_rows` rows (then more than
    `max_tokens` tokens where its texts are long); a text longer than `max_tokens` is a batch of its own.

    Example:
        >>> cut(np.array([8, 4, 4, 4, 2, 2]), max_tokens=12, max_rows=4)
        [1, 4, 6]
    """
    ends = []
    start, n = 0, len(lengths)
    while start < n:
        width = max(1, int(lengths[start]))
        rows = max(1, min(max_rows, max(min_rows, max_tokens // width)))
        start = min(n, start + rows)
        ends.append(start)
    return ends


def assemble(tokens: Tokens, layout: Layout, prompt_tokens: int) -> dict[str, npt.NDArray[np.int64]]:
    """Pad the texts of `tokens` into a batch as sentence-transformers does (its pad ids, on its side).

    Returns input_ids, attention_mask (and token_type_ids when the model takes them), and pool_mask when
    `prompt_tokens` > 0: the attention mask with the first `prompt_tokens` real tokens of each row zeroed, as
    sentence-transformers' Pooling leaves a prompt out (`include_prompt=False`).
    """
    lengths = tokens.lengths
    width = int(lengths.max()) if len(lengths) else 0
    columns = np.arange(width)
    starts = (width - lengths)[:, None] if layout.left else np.zeros((len(lengths), 1), dtype=np.intp)
    mask = (columns >= starts) & (columns < starts + lengths[:, None])
    ids = np.full((len(lengths), width), layout.pad_id, dtype=np.int64)
    ids[mask] = tokens.ids  # row-major: each row's ids in order
    out = {"input_ids": ids, "attention_mask": mask.astype(np.int64)}
    if layout.type_ids:
        types = np.full((len(lengths), width), layout.pad_type_id, dtype=np.int64)
        types[mask] = tokens.type_ids if tokens.type_ids is not None else 0
        out["token_type_ids"] = types
    if prompt_tokens:
        out["pool_mask"] = (mask & (columns >= starts + prompt_tokens)).astype(np.int64)
    return out


class Prefetcher:
    """Batches of `texts` (each with `prompt` put before it), prepared on a thread of their own, a few ahead.

    Iterate to get `Batch`es; an error on the thread (a text the tokenizer cannot read) is raised by the
    iteration. `close()` (or leaving the `with` block) stops the thread.

    Example:
        >>> with Prefetcher(texts, "", tokenizer, layout, max_tokens=8192, max_rows=512) as batches:  # doctest: +SKIP
        ...     for batch in batches:
        ...         run(batch)
    """

    def __init__(  # noqa: PLR0917 - private, one caller
        self,
        texts: Sequence[str],
        prompt: str,
        tokenizer: TextTokenizer,
        layout: Layout,
        max_tokens: int,
        max_rows: int,
        *,
        min_rows: int = 1,
        prompt_tokens: int = 0,
        pin: bool = False,
    ) -> None:
        self._texts = texts
        self._prompt = prompt
        self._tokenizer = tokenizer
        self._layout = layout
        self._max_tokens = max_tokens
        self._max_rows = max_rows
        self._min_rows = min_rows
        self._prompt_tokens = prompt_tokens
        self._pin = pin
        self._queue: queue.Queue[Batch | BaseException | None] = queue.Queue(maxsize=_AHEAD)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="static2d-tokenize", daemon=True)
        self._thread.start()

    def __enter__(self) -> Prefetcher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __iter__(self) -> Iterator[Batch]:
        while True:
            item = self._queue.get()
            if item is None:
                return
            if isinstance(item, BaseException):
                raise item
            yield item

    def close(self) -> None:
        """Stop the thread (it finishes the window it is tokenizing) and wait for it."""
        self._stop.set()
        while self._thread.is_alive():
            with contextlib.suppress(queue.Empty):
                self._queue.get(timeout=0.05)  # unblock a put
        self._thread.join()

    def _put(self, item: Batch | BaseException | None) -> bool:
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.05)
                return True
            except queue.Full:
                continue
        return False

    def _run(self) -> None:
        try:
            for batch in self._batches():
                if not self._put(batch):
                    return
            self._put(None)
        except BaseException as e:  # handed to the iterating thread, which raises it
            self._put(e)

    def _batches(self) -> Iterator[Batch]:
        texts, prompt = self._texts, self._prompt
        order = np.argsort(np.fromiter(map(len, texts), dtype=np.intp, count=len(texts)) * -1, kind="stable")
        carried: tuple[npt.NDArray[np.intp], Tokens] | None = None
        start, size = 0, _FIRST_WINDOW
        while start < len(order) and not self._stop.is_set():
            rows = order[start : start + size]
            start, size = start + len(rows), min(size * 2, _LARGEST_WINDOW)
            tokens = self._tokenizer.tokenize([prompt + texts[i] for i in rows] if prompt else [texts[i] for i in rows])
            if carried is not None:
                rows, tokens = np.concatenate([carried[0], rows]), Tokens.join([carried[1], tokens])
            by_length = np.argsort(-tokens.lengths, kind="stable")
            rows, tokens = rows[by_length], tokens.take(by_length)
            ends = cut(tokens.lengths, self._max_tokens, self._max_rows, self._min_rows)
            last = len(ends) - 1 if start < len(order) else len(ends)  # the last batch waits for more texts
            begin = 0
            for end in ends[:last]:
                yield self._batch(rows[begin:end], tokens.take(np.arange(begin, end)))
                begin = end
            carried = (rows[begin:], tokens.take(np.arange(begin, len(rows)))) if begin < len(rows) else None

    def _batch(self, rows: npt.NDArray[np.intp], tokens: Tokens) -> Batch:
        import torch

        arrays = assemble(tokens, self._layout, self._prompt_tokens)
        pool = arrays.pop("pool_mask", None)
        tensors = {name: torch.from_numpy(a) for name, a in arrays.items()}
        pool_tensor = None if pool is None else torch.from_numpy(pool)
        if self._pin:
            tensors = {name: t.pin_memory() for name, t in tensors.items()}
            pool_tensor = None if pool_tensor is None else pool_tensor.pin_memory()
        shape = arrays["input_ids"].shape
        return Batch(
            rows=rows,
            inputs=tensors,
            pool_mask=pool_tensor,
            padded=bool(int(tokens.lengths.min()) < shape[1]) if len(rows) else False,
            tokens=int(shape[0] * shape[1]),
        )
