"""The trade-off tool: quality, speed and size of a model over a layers x dims grid, on the user's own data.

`tradeoff(model, data)` reads scored pairs (STS-style: two texts and a score) or retrieval pairs (a query and
its answer, with an optional corpus of distractors), embeds every distinct text once per depth grid (one
transformer pass per text with `Encoder.encode_grid`), scores each (layers, dims) setting, times the depths in
interleaved rounds (dims do not change the compute), and answers which settings are the cheapest within 1%, 5% and
10% of full quality. The result prints as a table, saves as CSV or JSON, and draws as a PNG heatmap (matplotlib,
extra `static2d-core[plot]`).
"""

from __future__ import annotations

import math
import os
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt

from static2d._checks import check_sizes
from static2d._encoder import Encoder, load
from static2d._options import OPTIONS, Backend, Dtype, Option, Quantize
from static2d._peers import refuses_unknown_options
from static2d._tradeoff.data import read_task, score
from static2d._tradeoff.result import Tradeoff
from static2d._vectors import normalize_rows

# The options of `static2d.load` that `tradeoff` does not take, and why: every other one it takes, under the same
# name, type and default (the command line's flags are made from the same list).
NOT_TRADEOFF_OPTIONS = {
    "model": "the model measured is tradeoff's first argument",
    "dims": "the grid's sizes are tradeoff's `dims`, a list",
    "layers": "the grid's depths are tradeoff's `layers`, a list",
    "normalize": "quality is scored by cosine, which the scale does not change",
    "precision": "the grid is measured on float32 vectors (the bytes per vector column counts float32)",
}
TRADEOFF_OPTIONS: tuple[Option, ...] = tuple(o for o in OPTIONS if o.name not in NOT_TRADEOFF_OPTIONS)
"""The options of `static2d.load` that `tradeoff` (and `python -m static2d tradeoff`) takes, in registry order."""


def check_output(path: str | os.PathLike[str], option: str) -> Path:
    """Refuse, before anything is measured, an output file that could not be written once it is.

    A path that is a folder, a folder that is a file, or a folder this process cannot write to (tried by creating
    and removing a temporary file there: what a read-only folder or file system refuses, even to root).

    Args:
        path: Where the result will be written (missing folders are made then).
        option: How the user named it, for the message (e.g. "--csv").

    Returns:
        The path.

    Raises:
        ValueError: The path is a folder, or a folder on its way is a file.
        PermissionError: The file or its folder cannot be written.

    Example:
        >>> check_output("out/grid.csv", "--csv")  # doctest: +SKIP
        PosixPath('out/grid.csv')
    """
    out = Path(path)
    if out.is_dir():
        msg = f"{option} {str(out)!r} is a folder; give the path of a file in it, such as {str(out / out.name)!r}."
        raise ValueError(msg)
    folder = out.parent
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    if not folder.is_dir():
        msg = f"{option} {str(out)!r} cannot be written: {str(folder)!r} is a file, not a folder. Choose another path."
        raise ValueError(msg)
    try:
        if out.exists():
            with out.open("ab"):  # opened for writing, nothing written
                pass
        else:
            with tempfile.TemporaryFile(dir=folder):
                pass
    except OSError as e:
        msg = (
            f"{option} {str(out)!r} cannot be written ({e.strerror or e}): choose a file in a folder you can write "
            "to. Nothing was measured yet."
        )
        raise PermissionError(msg) from e
    return out


def _default_layers(max_layers: int) -> list[int]:
    """Every depth up to 12 layers; deeper models: eight evenly spaced depths, the full one included."""
    if max_layers <= 12:
        return list(range(max_layers, 0, -1))
    return sorted({max_layers, *(round(max_layers * k / 8) for k in range(1, 8))}, reverse=True)


def _default_dims(max_dims: int) -> list[int]:
    """The full size, then powers of two below it down to 32 (or to the full size, if smaller)."""
    return sorted({max_dims, *(2**k for k in range(5, 14) if 2**k < max_dims)}, reverse=True)


def _sizes(given: Sequence[int] | None, name: str, maximum: int, default: list[int]) -> list[int]:
    """Validated, distinct, largest first, always with the full size (the reference every cell is compared to)."""
    if given is None:
        return default
    return sorted({maximum, *check_sizes(given, name, maximum)}, reverse=True)


def _truncate(vectors: npt.NDArray[np.float32], dims: int) -> npt.NDArray[np.float32]:
    """The first `dims` columns, re-normalised (a copy): what `static2d.load(..., dims=dims)` returns."""
    return normalize_rows(np.array(vectors[:, :dims], dtype=np.float32))


_SAMPLE_SECONDS = 0.02  # a timed sample repeats a call that is quicker than this, so timer noise does not count


def _speeds(
    encoders: dict[int | None, Encoder], texts: list[str], min_seconds: float, rounds: int, progress: bool
) -> tuple[dict[int | None, float], float]:
    """Sentences/s of each encoder on `texts`, and how far its repeated timings spread.

    The encoders are timed in interleaved rounds (each once per round, every other round in reverse order), so
    a burst of load from elsewhere hits every depth alike instead of one, and the ordering of the depths holds.
    Each gets at least `rounds` timed samples and `min_seconds` of them; its best sample counts. A sample repeats
    the call enough times to last `_SAMPLE_SECONDS` (a static model embeds a few hundred texts in a millisecond).
    The spread is the largest (median / best - 1) over the encoders: near 0 on a quiet machine.
    """
    repeats: dict[int | None, int] = {}
    for key, encoder in encoders.items():
        encoder.encode(texts[:8])  # warm-up: first-call costs (allocations, caches) are not speed
        began = time.perf_counter()
        encoder.encode(texts)
        repeats[key] = max(1, math.ceil(_SAMPLE_SECONDS / max(time.perf_counter() - began, 1e-9)))
    times: dict[int | None, list[float]] = {key: [] for key in encoders}
    spent = dict.fromkeys(encoders, 0.0)
    order = list(encoders)
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=rounds * len(order), desc="Timing each depth (interleaved rounds)", unit="sample")
    done = 0
    while done < rounds or min(spent.values()) < min_seconds:
        for key in order if done % 2 == 0 else order[::-1]:
            began = time.perf_counter()
            for _ in range(repeats[key]):
                encoders[key].encode(texts)
            elapsed = time.perf_counter() - began
            spent[key] += elapsed
            times[key].append(elapsed / repeats[key])
            if bar is not None and done < rounds:  # the rounds planned; more only until min_seconds are spent
                bar.update()
        done += 1
    if bar is not None:
        bar.close()
    speeds = {key: len(texts) / max(min(t), 1e-9) for key, t in times.items()}
    spread = max(float(np.median(t)) / max(min(t), 1e-9) - 1 for t in times.values())
    return speeds, spread


@refuses_unknown_options("static2d.tradeoff")
def tradeoff(  # noqa: D417 - the options' Args entries are written from the registry, below
    model: str | os.PathLike[str],
    data: str | os.PathLike[str],
    *,
    layers: Sequence[int] | None = None,
    dims: Sequence[int] | None = None,
    corpus: str | os.PathLike[str] | None = None,
    batch_size: int | None = None,
    device: str | None = None,
    revision: str | None = None,
    cache_folder: str | os.PathLike[str] | None = None,
    local_files_only: bool = False,
    trust_remote_code: bool = False,
    query_prompt: str | None = None,
    document_prompt: str | None = None,
    max_length: int | None = None,
    token: str | bool | None = None,
    backend: Backend = "auto",
    quantize: Quantize = None,
    dtype: Dtype = "float32",
    limit: int | None = None,
    speed_texts: int = 256,
    speed_seconds: float = 0.5,
    speed_rounds: int = 3,
    show_progress_bar: bool = True,
) -> Tradeoff:
    """Measure a model over a layers x dims grid on your own data: quality, speed and size of every setting.

    Every distinct text is embedded once for the whole grid (`Encoder.encode_grid`: the transformer runs once
    per text, and every depth and size is read from that pass); the depths are then timed on `speed_texts`
    of the texts in interleaved rounds, the best call counting (dims do not change the compute). Quality is
    relative to the full size, which is always part of the grid.

    Args:
        model: A local directory or hub id, as for `static2d.load`.
        data: A .csv, .tsv, .jsonl or .json file of scored pairs (columns sentence1, sentence2, score; or text1,
            text2, score), scored by the Spearman correlation of cosine and score, or of retrieval pairs
            (columns query or question, and answer, or answer_id into `corpus`), scored by MRR@10 of the
            answer among all documents.
        layers: Depths to measure (transformers only). None: every depth up to 12 layers, else eight.
        dims: Output sizes to measure. None: the full size and the powers of two from 32 below it.
        corpus: Retrieval only: more documents to rank the answers among (records with text, and id if the
            data gives answer_id).
        limit: Use only the first `limit` pairs of the data (a quicker, rougher answer).
        speed_texts: Texts timed per depth.
        speed_seconds: Least time spent timing each depth (the best call counts).
        speed_rounds: Least number of timed calls per depth. The depths are timed in interleaved rounds, so
            load from elsewhere hits them alike; how far the repeats spread is reported (`speed_spread`), and
            the table says when the machine was too busy for the speeds to be trusted.
        show_progress_bar: Show progress bars while embedding and timing.

    Returns:
        A `Tradeoff`: `.table()`, `.cheapest(0.05)`, `.save("grid.csv")`, `.plot("grid.png")`.

    Raises:
        TypeError: `layers` or `dims` not a list of whole numbers, an option of the wrong type, or an option
            `tradeoff` does not take (the message names the closest one it takes).
        ValueError: A data file static2d cannot read as pairs (the message says which record and why),
            `layers` on a static model, a size out of the model's range, or an option `static2d.load` refuses.
        FileNotFoundError: The data or corpus file does not exist.

    Example:
        >>> import static2d
        >>> result = static2d.tradeoff("my-2d-model", "my-pairs.csv", layers=[12, 6, 3])  # doctest: +SKIP
        >>> print(result.table())  # doctest: +SKIP
        >>> result.plot("out/tradeoff.png")  # doctest: +SKIP
    """
    given = locals()
    options = {option.name: given[option.name] for option in TRADEOFF_OPTIONS}
    # The options are checked (by load) before the data is read: a wrong option costs no reading.
    encoder = load(model, **options, lazy=True)
    task = read_task(data, corpus, limit=limit)
    encoder.warm_up()

    def at_depth(n: int) -> Encoder:  # the model cut to n layers (shared with any other encoder of that cut)
        return load(model, layers=n, **options)

    if encoder.kind == "static":
        if layers is not None:
            msg = (
                f"layers={list(layers)!r} was given, but {encoder.model!r} is a static embedding model: static "
                "models have no layers. Leave layers unset (the grid is over dims only)."
            )
            raise ValueError(msg)
        cuts: list[int] = []
    else:
        max_layers = encoder.max_layers or 1
        cuts = _sizes(layers, "layers", max_layers, _default_layers(max_layers))
    depths: list[int | None] = [*cuts] or [None]
    sizes = _sizes(dims, "dims", encoder.max_dims, _default_dims(encoder.max_dims))

    inputs: list[tuple[list[str], str | None]] = [
        (task.queries, encoder.query_prompt if task.metric == "mrr@10" else None)
    ]
    if task.metric == "mrr@10":
        inputs.append((task.documents, encoder.document_prompt))
    embedded: list[dict[tuple[int | None, int], npt.NDArray[np.float32]]] = []
    for texts, prompt in inputs:
        if cuts:
            grid = encoder.encode_grid(
                texts, layers=cuts, dims=sizes, prompt=prompt, show_progress_bar=show_progress_bar
            )
            embedded.append({(n, d): grid[n, d] for n in cuts for d in sizes})
        else:
            full = encoder.encode(texts, prompt=prompt, show_progress_bar=show_progress_bar)
            embedded.append({(None, d): _truncate(full, d) for d in sizes})
    quality = {
        (n, d): score(task, embedded[0][n, d], embedded[1][n, d] if len(embedded) > 1 else None)
        for n in depths
        for d in sizes
    }

    sample = (task.queries + task.documents)[: max(1, speed_texts)]
    encoders = {n: encoder if n is None else at_depth(n) for n in depths}
    speed, spread = _speeds(encoders, sample, speed_seconds, speed_rounds, show_progress_bar)
    return Tradeoff(
        model=encoder.model,
        kind=encoder.kind,
        backend=encoder.backend,
        data=task.source,
        metric=task.metric,
        n_pairs=task.n_pairs,
        n_texts=len(task.queries) + len(task.documents),
        layers=depths,
        dims=sizes,
        quality=quality,
        speed=speed,
        speed_rounds=max(speed_rounds, 1),
        speed_spread=spread,
    )


tradeoff.__doc__ = (tradeoff.__doc__ or "").replace(
    "        show_progress_bar: Show progress bars while embedding and timing.\n",
    "        show_progress_bar: Show progress bars while embedding and timing.\n"
    + "".join(f"{o.args_entry('        ')}\n" for o in TRADEOFF_OPTIONS),
    1,
)
