"""Memory: peak resident memory while encoding many short texts with a static model, against the output size."""

from __future__ import annotations

import argparse

from _common import RSS_SNIPPET, mib, run_child, static_model, table

ORDER = 50
TITLE = "memory: peak RSS growth while encoding many short texts (static model, 256 dims)"

CHILD = """
import csv, gc, json, os, sys
{rss}
def peak_reset():
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")  # resets VmHWM, the peak resident size
def peak():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
with open({sts!r}, encoding="utf-8") as f:
    rows = list(csv.DictReader(f))
base = [r["sentence1"] for r in rows] + [r["sentence2"] for r in rows]
texts = [base[i % len(base)] for i in range({n})]
{load}
encode(texts[:1000])
gc.collect()
before = rss()
peak_reset()
out = encode(texts)
print(json.dumps({{"before": before, "peak": peak(), "after": rss(), "out": out.nbytes}}))
"""

LOADERS = {
    "static2d": "import static2d\nenc = static2d.load({path!r}{batch})\nencode = enc.encode",
    "model2vec": "from model2vec import StaticModel\nencode = StaticModel.from_pretrained({path!r}).encode",
}


def run(args: argparse.Namespace) -> str:
    path = str(static_model())
    sts = str(args.root / "data" / "sts-dev.csv")
    big = 100_000 if args.quick else 1_000_000
    cases = [
        ("static2d", big // 4, None),
        ("static2d", big, None),
        ("static2d", big, 4096),
        ("static2d", big, 1024),
        ("model2vec", big, None),
    ]
    rows = []
    for who, n, batch in cases:
        load = LOADERS[who].format(path=path, batch="" if batch is None else f", batch_size={batch}")
        r = run_child(CHILD.format(rss=RSS_SNIPPET, sts=sts, n=n, load=load))
        growth = r["peak"] - r["before"]
        label = f"{who}, batch {batch or 'default'}"
        rows.append([label, n, mib(r["out"]), mib(growth), mib(growth - r["out"]), f"{growth / r['out']:.2f}x"])
    return table(
        ["", "texts", "output array", "peak RSS growth", "beyond the output", "growth / output"],
        rows,
        "fresh process per row; texts built before the baseline; peak = VmHWM after resetting it before encode",
    )
