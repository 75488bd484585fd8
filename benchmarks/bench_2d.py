"""2D-Matryoshka encoder: static2d vs sentence-transformers cut to the same depth, speed and memory."""

from __future__ import annotations

import argparse

from _common import RSS_SNIPPET, STS, best_times, mib, minilm, ratio, run_child, st_cut, sts_sentences, table

ORDER = 20
TITLE = "2D: all-MiniLM-L6-v2 cut to 6, 3, 1 layers, static2d vs sentence-transformers"
DEPTHS = (6, 3, 1)
BATCH = 32


def run(args: argparse.Namespace) -> str:
    import static2d

    path = str(minilm())
    texts = sts_sentences()[: 200 if args.quick else 1_000]
    extra = {"backend": "torch"}  # the sentence-transformers path (ONNX has its own section)
    rows = []
    speeds: dict[str, dict[int, float]] = {"static2d": {}, "st": {}}
    for layers in DEPTHS:
        ours = static2d.load(path, layers=layers, batch_size=BATCH, **extra)
        theirs = st_cut(path, layers)
        best = best_times(
            {
                "static2d": lambda ours=ours: ours.encode(texts),
                "st": lambda theirs=theirs: theirs.encode(texts, batch_size=BATCH, convert_to_numpy=True),
            },
            max(2, args.rounds - 2),
        )
        speeds["static2d"][layers] = len(texts) / best["static2d"]
        speeds["st"][layers] = len(texts) / best["st"]
        static2d.clear_cache()
        del ours, theirs
    for layers in DEPTHS:
        mem = {who: _memory(path, layers, who, extra) for who in ("static2d", "st")}
        rows.append(
            [
                layers,
                speeds["static2d"][layers],
                speeds["st"][layers],
                ratio(speeds["static2d"][layers] / speeds["st"][layers]),
                ratio(speeds["static2d"][layers] / speeds["static2d"][DEPTHS[0]]),
                f"{mib(mem['static2d']['loaded'])} / {mib(mem['static2d']['used'])}",
                f"{mib(mem['st']['loaded'])} / {mib(mem['st']['used'])}",
                mib(mem["static2d"]["layer_bytes"]),
                mib(mem["static2d"]["all_bytes"]),
            ]
        )
    out = table(
        [
            "layers",
            "static2d sent/s",
            "s-t sent/s",
            "static2d / s-t",
            "vs 6 layers",
            "static2d RSS load / used",
            "s-t RSS load / used",
            "layer weights",
            "all weights",
        ],
        rows,
        f"{len(texts):,} STS-B dev sentences, batch {BATCH}, CPU (static2d with {extra or 'its defaults'}); "
        "s-t = sentence-transformers with encoder.layer cut to the same depth",
    )
    return out + (
        "\nRSS: resident memory growth in a fresh process (torch and the libraries imported first), after loading "
        "and after\nthen encoding 64 sentences (weights are read lazily from the file, so only the second counts "
        "them all);\nlayer weights: bytes of the transformer layers the loaded model holds; all weights: every "
        "parameter."
    )


def _memory(path: str, layers: int, who: str, extra: dict[str, str]) -> dict[str, float]:
    if who == "static2d":
        load = (
            f"import static2d\nenc = static2d.load({path!r}, layers={layers}, batch_size={BATCH}, **{extra!r})\n"
            "model = enc._get().engine.model\nencode = enc.encode"
        )
    else:
        load = (
            f"import sentence_transformers\nmodel = sentence_transformers.SentenceTransformer({path!r}, device='cpu')"
            f"\nenc = model[0].auto_model.encoder\nenc.layer = enc.layer[:{layers}]"
            f"\nencode = lambda t: model.encode(t, batch_size={BATCH})"
        )
    code = f"""
import csv, gc, json
{RSS_SNIPPET}
import torch, sentence_transformers, static2d, static2d._torch.cut
with open({str(STS)!r}, encoding="utf-8") as f:
    texts = [r["sentence1"] for r in csv.DictReader(f)][:64]
gc.collect()
before = rss()
{load}
gc.collect()
loaded = rss()
encode(texts)
gc.collect()
used = rss()
inner = model[0].auto_model
layer_bytes = sum(p.numel() * p.element_size() for p in inner.encoder.layer.parameters())
all_bytes = sum(p.numel() * p.element_size() for p in model.parameters())
print(json.dumps({{"loaded": loaded - before, "used": used - before, "layer_bytes": layer_bytes,
                  "all_bytes": all_bytes}}))
"""
    return run_child(code)
