"""Build the RAG corpus used by the integration tests and the examples, from the STS-B dev split.

    python integration_tests/make_corpus.py   # writes data/rag-corpus.jsonl and data/rag-questions.jsonl

Each STS-B dev pair scored >= 4.0 (near paraphrases) gives a question (`sentence1`) and its answer document
(`sentence2`). Distractor documents are the sentences of the other pairs, in file order, up to `--documents`
documents in all. Texts are compared case- and space-insensitively (the models are uncased): no two documents
are the same text, no question is a document, and each question has exactly one answer. Deterministic: the
same input gives the same files, byte for byte.
"""

from __future__ import annotations

import argparse
import csv
import json
from pathlib import Path

DATA = Path(__file__).resolve().parents[1] / "data"
MIN_SCORE = 4.0


def _key(text: str) -> str:
    return " ".join(text.lower().split())


def build(rows: list[dict[str, str]], n_documents: int) -> tuple[list[dict[str, str]], list[dict[str, str]]]:
    """Return (documents, questions) from STS-B rows (`sentence1`, `sentence2`, `score`)."""
    pairs = [(r["sentence1"].strip(), r["sentence2"].strip()) for r in rows if float(r["score"]) >= MIN_SCORE]
    # A sentence that is a question in one pair and a document in another would be found by itself: drop it.
    questions_seen: set[str] = set()
    answers_seen: set[str] = set()
    kept: list[tuple[str, str]] = []
    for question, answer in pairs:
        q, a = _key(question), _key(answer)
        if q == a or q in questions_seen or a in answers_seen or q in answers_seen or a in questions_seen:
            continue
        questions_seen.add(q)
        answers_seen.add(a)
        kept.append((question, answer))
    documents: list[dict[str, str]] = []
    questions: list[dict[str, str]] = []
    for question, answer in kept:
        doc_id = f"d{len(documents):04d}"
        documents.append({"id": doc_id, "text": answer})
        questions.append({"id": f"q{len(questions):03d}", "question": question, "answer_id": doc_id})
    taken = questions_seen | answers_seen
    for row in rows:
        if float(row["score"]) >= MIN_SCORE:
            continue
        for text in (row["sentence1"].strip(), row["sentence2"].strip()):
            if len(documents) >= n_documents:
                break
            if _key(text) not in taken:
                taken.add(_key(text))
                documents.append({"id": f"d{len(documents):04d}", "text": text})
    return documents, questions


def _write_jsonl(path: Path, records: list[dict[str, str]]) -> None:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--source", type=Path, default=DATA / "sts-dev.csv")
    parser.add_argument("--out", type=Path, default=DATA)
    parser.add_argument("--documents", type=int, default=600, help="documents in all, answers included")
    args = parser.parse_args()
    with args.source.open(newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    documents, questions = build(rows, args.documents)
    _write_jsonl(args.out / "rag-corpus.jsonl", documents)
    _write_jsonl(args.out / "rag-questions.jsonl", questions)
    print(f"{len(documents)} documents ({len(questions)} answers), {len(questions)} questions -> {args.out}")


if __name__ == "__main__":
    main()
