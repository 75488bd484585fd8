"""Import: a fresh process imports an adapter, loads a static model and embeds; how long, and is torch loaded."""

from __future__ import annotations

import argparse

from _common import run_child, static_model, table

ORDER = 40
TITLE = "import: fresh process, import + load a static model + embed one text"

CASES = {
    "static2d (core)": ("import static2d", "static2d.load(P).encode(['hello world'])"),
    "langchain_static2d": (
        "from langchain_static2d import Static2DEmbeddings",
        "Static2DEmbeddings(model=P).embed_documents(['hello world'])",
    ),
    "llama_index.embeddings.static2d": (
        "from llama_index.embeddings.static2d import Static2DEmbedding",
        "Static2DEmbedding(model=P).get_text_embedding('hello world')",
    ),
    "haystack static2d embedder": (
        "from haystack_integrations.components.embedders.static2d import Static2DTextEmbedder",
        "e = Static2DTextEmbedder(model=P); e.warm_up(); e.run(text='hello world')",
    ),
    "framework alone: langchain_core.embeddings": ("import langchain_core.embeddings", "pass"),
    "framework alone: llama_index.core": ("import llama_index.core", "pass"),
    "framework alone: haystack": ("import haystack", "pass"),
    "peer: model2vec": (
        "from model2vec import StaticModel",
        "StaticModel.from_pretrained(P).encode(['hello world'])",
    ),
    "peer: sentence-transformers": (
        "from sentence_transformers import SentenceTransformer",
        "SentenceTransformer(P_ST, device='cpu').encode(['hello world'])",
    ),
}


def run(args: argparse.Namespace) -> str:
    paths = {"P": str(static_model("model2vec")), "P_ST": str(static_model("sentence-transformers"))}
    repeats = 1 if args.quick else 3
    rows = []
    for name, (imports, embed) in CASES.items():
        code = f"""
import time
t0 = time.perf_counter()
{imports}
t1 = time.perf_counter()
P, P_ST = {paths["P"]!r}, {paths["P_ST"]!r}
{embed}
t2 = time.perf_counter()
import json, sys
print(json.dumps({{"import": t1 - t0, "total": t2 - t0, "torch": "torch" in sys.modules,
                  "modules": len(sys.modules)}}))
"""
        results = [run_child(code) for _ in range(repeats)]
        best = min(results, key=lambda r: r["process_s"])
        rows.append(
            [
                name,
                f"{best['import']:.2f} s",
                f"{best['total']:.2f} s",
                f"{best['process_s']:.2f} s",
                best["torch"],
                best["modules"],
            ]
        )
    return table(
        ["", "import", "import+load+embed", "whole process", "torch imported", "modules"],
        rows,
        f"best of {repeats} fresh processes; whole process includes interpreter start-up; 'framework alone' rows "
        "import only the framework (no model)",
    )
