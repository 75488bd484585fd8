"""backend="onnx": static2d on ONNX Runtime (depth cut in the graph) vs sentence-transformers cut to the same depth."""

from __future__ import annotations

import argparse
import os
import tempfile
import time

from _common import best_times, minilm, ratio, st_cut, sts_sentences, table

ORDER = 25
TITLE = "ONNX: all-MiniLM-L6-v2 at full and half depth, static2d backend='onnx' vs sentence-transformers"
DEPTHS = (6, 3)
BATCH = 32
TARGET = 1.5


def run(args: argparse.Namespace) -> str:
    import numpy as np
    import static2d

    path = str(minilm())
    texts = sts_sentences()[: 200 if args.quick else 1_024]
    rows = []
    # A fresh cache, so the one-off export is measured too (and no stale graph is timed).
    with tempfile.TemporaryDirectory(prefix="static2d-bench-onnx-") as cache:
        old = os.environ.get("STATIC2D_ONNX_CACHE")
        os.environ["STATIC2D_ONNX_CACHE"] = cache
        try:
            for layers in DEPTHS:
                static2d.clear_cache()
                start = time.perf_counter()
                ours = static2d.load(path, layers=layers, batch_size=BATCH, backend="onnx")
                export_s = time.perf_counter() - start
                static2d.clear_cache()
                start = time.perf_counter()
                ours = static2d.load(path, layers=layers, batch_size=BATCH, backend="onnx")
                cached_s = time.perf_counter() - start
                theirs = st_cut(path, layers)
                diff = float(
                    np.abs(ours.encode(texts[:64]) - theirs.encode(texts[:64], normalize_embeddings=True)).max()
                )
                best = best_times(
                    {
                        "onnx": lambda ours=ours: ours.encode(texts),
                        "st": lambda theirs=theirs: theirs.encode(texts, batch_size=BATCH, convert_to_numpy=True),
                    },
                    max(3, args.rounds),
                )
                onnx_speed, st_speed = len(texts) / best["onnx"], len(texts) / best["st"]
                speedup = onnx_speed / st_speed
                rows.append(
                    [
                        layers,
                        onnx_speed,
                        st_speed,
                        ratio(speedup),
                        "yes" if speedup >= TARGET else "NO",
                        f"{diff:.1e}",
                        export_s,
                        cached_s,
                    ]
                )
                del ours, theirs
        finally:
            static2d.clear_cache()
            if old is None:
                os.environ.pop("STATIC2D_ONNX_CACHE", None)
            else:
                os.environ["STATIC2D_ONNX_CACHE"] = old
    return table(
        ["layers", "onnx sent/s", "s-t sent/s", "onnx / s-t", f">= {TARGET}x", "max |diff|", "1st load s", "cached s"],
        rows,
        f"{len(texts):,} STS-B dev sentences, batch {BATCH}, CPU, best of {max(3, args.rounds)} interleaved rounds; "
        "s-t = sentence-transformers with encoder.layer cut to the same depth; 1st load exports the cut graph "
        "(torch), cached = a later load (onnxruntime only)",
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--rounds", type=int, default=5)
    print(run(parser.parse_args()))
