"""Adapters: each framework adapter's overhead over the core, static model."""

from __future__ import annotations

import argparse

from _common import best_times, repeated, static_model, sts_sentences, table

ORDER = 30
TITLE = "adapters: overhead over the core, static model"


def run(args: argparse.Namespace) -> str:
    import static2d
    from haystack import Document
    from haystack_integrations.components.embedders.static2d import Static2DDocumentEmbedder
    from langchain_static2d import Static2DEmbeddings
    from llama_index.embeddings.static2d import Static2DEmbedding

    n = 2_000 if args.quick else 10_000
    texts = repeated(sts_sentences(), n)
    docs = [Document(content=t) for t in texts]
    path = str(static_model())
    core = static2d.load(path)
    lc = Static2DEmbeddings(model=path)
    li = Static2DEmbedding(model=path)
    hs = Static2DDocumentEmbedder(model=path)
    hs.warm_up()
    contenders = {
        "core: encode_document": lambda: core.encode_document(texts),
        "core: encode_document + .tolist()": lambda: core.encode_document(texts).tolist(),
        "LangChain Static2DEmbeddings.embed_documents": lambda: lc.embed_documents(texts),
        "LlamaIndex Static2DEmbedding.get_text_embedding_batch": lambda: li.get_text_embedding_batch(texts),
        "Haystack Static2DDocumentEmbedder.run": lambda: hs.run(documents=docs),
    }
    best = best_times(contenders, args.rounds)
    base, listed = best["core: encode_document"], best["core: encode_document + .tolist()"]
    rows = [[name, n / t, f"{t / base - 1:+.1%}", f"{t / listed - 1:+.1%}"] for name, t in best.items()]
    return table(
        ["", "texts/s", "over core", "over core + tolist"],
        rows,
        f"{n:,} STS-B dev sentences per call; the adapters return Python lists (LangChain, LlamaIndex) or "
        "Documents (Haystack),\nso `.tolist()` of the core's array is the least any of them can cost",
    )
