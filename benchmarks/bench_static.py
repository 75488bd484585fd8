"""Static encoder: static2d (fast tokenizer path and Hugging Face path) vs model2vec vs sentence-transformers
StaticEmbedding vs the tokenizers alone; where the time goes (tokenizing vs pooling)."""

from __future__ import annotations

import argparse
import copy
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
from _common import best_times, keep_tokenizers_parallelism, ratio, repeated, static_model, sts_sentences, table

ORDER = 10
TITLE = "static: one static model (distilled from all-MiniLM-L6-v2, 256 dims), same sentences"
SIZES = (1, 10, 100, 1000, 10_000, 30_000)


def hf_path(path: Path) -> Callable[[Sequence[str]], np.ndarray]:
    """static2d's encode on the same model with Hugging Face `tokenizers` (the path every model took before tokie)."""
    from static2d._model.describe import describe
    from static2d._static.engine import StaticEngine, _Joiner
    from static2d._vectors import normalize_rows

    engine = StaticEngine(describe(path, str(path)), None)
    engine._fast, engine._joiner = None, _Joiner.make(engine.tokenizer)
    return lambda texts: normalize_rows(engine.encode_batch(texts, engine.max_dims, "", len(texts)))


def run(args: argparse.Namespace) -> str:
    import model2vec
    import static2d
    import tokie
    from sentence_transformers import SentenceTransformer

    n = 3_000 if args.quick else 30_000
    texts = repeated(sts_sentences(), n)
    m2v_path, st_path = static_model("model2vec"), static_model("sentence-transformers")
    ours = static2d.load(m2v_path)
    ours_st = static2d.load(st_path)
    m2v = model2vec.StaticModel.from_pretrained(str(m2v_path))
    m2v_encode = keep_tokenizers_parallelism(m2v.encode)
    st = SentenceTransformer(str(st_path), device="cpu")
    tokenizer = m2v.tokenizer  # the model's tokenizer, with model2vec's truncation to max_length
    engine = ours._get().engine
    fast = tokie.Tokenizer.from_json(str(m2v_path / "tokenizer.json"))
    if engine.max_length is not None:
        fast.enable_truncation(engine.max_length)
    ours_hf = hf_path(m2v_path)

    contenders = {
        f"static2d (model2vec files), {engine.tokenizer_path}": lambda: ours.encode(texts),
        f"static2d (StaticEmbedding files), {ours_st._get().engine.tokenizer_path}": lambda: ours_st.encode(texts),
        "static2d, tokenizers path (as before)": lambda: ours_hf(texts),
        "model2vec StaticModel.encode": lambda: m2v_encode(texts),
        "sentence-transformers StaticEmbedding": lambda: st.encode(texts, convert_to_numpy=True),
        "HF tokenizer alone (encode_batch_fast)": lambda: tokenizer.encode_batch_fast(texts, add_special_tokens=False),
        "tokie alone (encode_batch_flat)": lambda: fast.encode_batch_flat(texts, add_special_tokens=False),
    }
    best = best_times(contenders, args.rounds)
    m2v_t, tok_t = best["model2vec StaticModel.encode"], best["HF tokenizer alone (encode_batch_fast)"]
    rows = [[name, n / t, ratio(m2v_t / t), ratio(tok_t / t)] for name, t in best.items()]
    out = [
        table(
            ["encoder", "sentences/s", "vs model2vec", "vs HF tokenizer ceiling"],
            rows,
            f"{n:,} STS-B dev sentences (3,000 repeated), one encode call each; default settings of each library",
        )
    ]

    # Where the time goes, one thread, no overlap: tokenize the call, then pool it.
    tokens = engine.tokenize(texts)
    parts = best_times(
        {"tokenize": lambda: engine.tokenize(texts), "pool": lambda: engine.pool(*tokens, engine.max_dims)},
        args.rounds,
    )
    whole = parts["tokenize"] + parts["pool"]
    out.append(
        f"time split (fast path, {n:,} texts, serial): tokenizing {parts['tokenize'] / whole:.0%}, "
        f"pooling {parts['pool'] / whole:.0%} ({n / parts['pool']:,.0f} texts/s pooled)"
    )

    # Same vectors: model2vec on the same table read as float32 (its own output is float16).
    m32 = copy.copy(m2v)
    m32.embedding = m2v.embedding.astype(np.float32)
    sample = texts[:3000]
    diff = float(np.abs(ours.encode(sample) - keep_tokenizers_parallelism(m32.encode)(sample)).max())
    out.append(f"parity: max |static2d - model2vec (float32 table)| over 3,000 sentences = {diff:.1e}")
    paths = float(np.abs(ours.encode(texts) - ours_hf(texts)).max())
    out.append(f"parity: max |fast path - tokenizers path| over {n:,} sentences = {paths:.1e}")

    out.append("")
    out.append(sweep(args, texts, ours.encode, m2v_encode, tokenizer, ours_hf))
    return "\n".join(out)


def sweep(args: argparse.Namespace, texts: list[str], ours, m2v_encode, tokenizer, before) -> str:  # noqa: ANN001
    """Sentences/s at each call size: many calls of `size` texts, until about 3,000 texts (or one call)."""
    rows = []
    for size in SIZES:
        if size > len(texts):
            continue
        calls = max(1, (300 if args.quick else 3_000) // size)
        batches = [texts[i * size % len(texts) :][:size] for i in range(calls)]
        batches = [b if len(b) == size else texts[:size] for b in batches]

        def each(fn, batches=batches):  # noqa: ANN001, ANN202
            return lambda: [fn(b) for b in batches]

        best = best_times(
            {
                "static2d": each(ours),
                "before": each(before),
                "model2vec": each(m2v_encode),
                "tokenizer": each(lambda b: tokenizer.encode_batch_fast(b, add_special_tokens=False)),
            },
            args.rounds,
        )
        done = calls * size
        rows.append(
            [
                size,
                calls,
                done / best["static2d"],
                done / best["model2vec"],
                ratio(best["model2vec"] / best["static2d"]),
                ratio(best["before"] / best["static2d"]),
                ratio(best["tokenizer"] / best["static2d"]),
            ]
        )
    return table(
        [
            "texts per call",
            "calls",
            "static2d sent/s",
            "model2vec sent/s",
            "static2d / model2vec",
            "vs tokenizers path",
            "vs HF tokenizer",
        ],
        rows,
        "call-size sweep (same sentences)",
    )


if __name__ == "__main__":
    t0 = time.perf_counter()
    print(run(argparse.Namespace(quick=True, rounds=2)))
