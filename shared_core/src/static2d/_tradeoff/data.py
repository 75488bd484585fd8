"""Reading the trade-off tool's data (scored pairs or retrieval pairs, from CSV, TSV, JSON or JSONL) and scoring it."""

from __future__ import annotations

import csv
import io
import json
import math
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import numpy.typing as npt

from static2d._checks import check_size

Metric = Literal["spearman", "mrr@10"]
METRIC_NAMES = {"spearman": "Spearman x100 (cosine vs gold score)", "mrr@10": "MRR@10 x100 (answer among corpus)"}
METRIC_SHORT = {"spearman": "Spearman x100", "mrr@10": "MRR@10 x100"}
_FORMATS = (".csv", ".tsv", ".jsonl", ".json")
# Column names read from the data file (lower-cased), in order of preference.
_PAIR_COLUMNS = (("sentence1", "sentence2"), ("text1", "text2"), ("text_a", "text_b"), ("sentence_a", "sentence_b"))
_SCORE_COLUMNS = ("score", "label", "similarity")
_QUERY_COLUMNS = ("query", "question")
_EXPECTED = (
    "scored pairs (columns sentence1, sentence2, score; or text1, text2, score) or retrieval pairs (columns "
    "query or question, and answer, or answer_id with a corpus file of id and text)"
)


@dataclass(frozen=True)
class Task:
    """What to embed and how to score it: distinct texts, and index arrays into them."""

    metric: Metric
    source: str
    n_pairs: int
    queries: list[str]  # STS: every distinct text; retrieval: every distinct query
    documents: list[str]  # retrieval: the corpus (answers and distractors); STS: empty
    left: npt.NDArray[np.intp]  # STS: first text of each pair; retrieval: the query of each pair
    right: npt.NDArray[np.intp]  # STS: second text; retrieval: the answer's position in `documents`
    gold: npt.NDArray[np.float64]  # STS only


def _csv_rows(text: str, delimiter: str, where: str) -> list[object]:
    reader = csv.DictReader(io.StringIO(text, newline=""), delimiter=delimiter)
    rows: list[object] = []
    # csv refuses a field over 131,072 characters by default; a text of any length is read, as from JSON Lines
    # (the limit is the module's, so it is raised for this read and put back)
    limit = csv.field_size_limit()
    csv.field_size_limit(max(limit, len(text) + 1))
    try:
        for row in reader:
            if None in row or None in row.values():
                msg = (
                    f"{where}, line {reader.line_num}: {len(reader.fieldnames or [])} columns expected (as in the "
                    f"header: {', '.join(reader.fieldnames or [])}), found a row with "
                    f"{'more' if None in row else 'fewer'}. Quote fields that hold the delimiter."
                )
                raise ValueError(msg)
            rows.append(row)
    except csv.Error as e:
        msg = f"{where}, line {reader.line_num} is not valid CSV ({e})."
        raise ValueError(msg) from None
    finally:
        csv.field_size_limit(limit)
    return rows


def _json_rows(text: str, lines: bool, where: str) -> list[object]:
    if lines:
        rows: list[object] = []
        for number, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError as e:
                msg = f"{where}, line {number} is not valid JSON ({e.msg}): {line[:80]!r}"
                raise ValueError(msg) from None
        return rows
    try:
        loaded = json.loads(text)
    except json.JSONDecodeError as e:
        msg = f"{where} is not valid JSON ({e.msg}, line {e.lineno}). Expected a list of objects."
        raise ValueError(msg) from None
    if not isinstance(loaded, list):
        msg = f"{where} holds a JSON {type(loaded).__name__}; expected a list of objects."
        raise ValueError(msg)
    return loaded


def _read_rows(path: Path, what: str) -> list[dict[str, object]]:
    """Rows of a CSV / TSV (with a header) or JSON Lines / JSON (a list of objects) file, keys lower-cased."""
    suffix, where, formats = path.suffix.lower(), f"{what} {str(path)!r}", ", ".join(_FORMATS)
    if suffix not in _FORMATS:
        msg = f"{where} has an unknown format ({suffix or 'no extension'}): use a {formats} file."
        raise ValueError(msg)
    try:
        text = path.read_text(encoding="utf-8-sig")  # a byte-order mark (Excel's "CSV UTF-8") is not data
    except FileNotFoundError:
        msg = f"{where} does not exist. Give the path of a {formats} file."
        raise FileNotFoundError(msg) from None
    except UnicodeDecodeError as e:
        msg = f"{where} is not UTF-8 text ({e.reason} at byte {e.start}). Save it as UTF-8."
        raise ValueError(msg) from None
    if suffix in (".csv", ".tsv"):
        rows = _csv_rows(text, "\t" if suffix == ".tsv" else ",", where)
    else:
        rows = _json_rows(text, suffix == ".jsonl", where)
    out: list[dict[str, object]] = []
    for number, row in enumerate(rows, 1):
        if not isinstance(row, dict):
            msg = f"{where}, record {number} is a {type(row).__name__}, not an object with named fields."
            raise ValueError(msg)
        out.append({str(k).strip().lower(): v for k, v in row.items()})
    if not out:
        msg = f"{where} has no rows. It needs {_EXPECTED}."
        raise ValueError(msg)
    return out


def _text(row: Mapping[str, object], column: str, number: int, source: str) -> str:
    value = row[column]
    if not isinstance(value, str):
        msg = f"{source}, record {number}: {column} must be text, got {value!r} ({type(value).__name__})."
        raise ValueError(msg)
    return value


def _index(texts: Iterable[str], where: dict[str, int]) -> npt.NDArray[np.intp]:
    return np.array([where.setdefault(t, len(where)) for t in texts], dtype=np.intp)


def read_task(data: object, corpus: str | os.PathLike[str] | None = None, *, limit: int | None = None) -> Task:
    """Read scored pairs or retrieval pairs (and a corpus) into a `Task`; every problem is a clear error."""
    if not isinstance(data, (str, os.PathLike)):
        msg = f"data must be the path of a {', '.join(_FORMATS)} file, got {type(data).__name__}."
        raise TypeError(msg)
    check_size(limit, "limit", None)
    path = Path(data)
    source = str(path)
    rows = _read_rows(path, "data file")[:limit]
    columns = set(rows[0])
    pair = next((p for p in _PAIR_COLUMNS if set(p) <= columns), None)
    score = next((c for c in _SCORE_COLUMNS if c in columns), None)
    query = next((c for c in _QUERY_COLUMNS if c in columns), None)
    if pair is not None and score is not None:
        if corpus is not None:
            msg = f"corpus was given, but {source!r} holds scored pairs ({', '.join(pair)}, {score}): drop corpus."
            raise ValueError(msg)
        where: dict[str, int] = {}
        firsts, seconds, gold = [], [], []
        for number, row in enumerate(rows, 1):
            missing = [c for c in (*pair, score) if c not in row]
            if missing:
                msg = f"{source}, record {number} has no {', '.join(missing)} (the first record has them)."
                raise ValueError(msg)
            value = row[score]
            try:
                number_value = float(value) if isinstance(value, (str, int, float)) and value is not True else math.nan
            except ValueError:
                number_value = math.nan
            if not math.isfinite(number_value) or isinstance(value, bool):
                msg = f"{source}, record {number}: {score} must be a number, got {value!r}."
                raise ValueError(msg)
            firsts.append(_text(row, pair[0], number, source))
            seconds.append(_text(row, pair[1], number, source))
            gold.append(number_value)
        if len(rows) < 3 or len(set(gold)) < 2:
            msg = (
                f"{source} has {len(rows)} pair(s) with {len(set(gold))} distinct score(s): a rank correlation "
                "needs at least 3 pairs and 2 different scores."
            )
            raise ValueError(msg)
        left, right = _index(firsts, where), _index(seconds, where)
        return Task("spearman", source, len(rows), list(where), [], left, right, np.array(gold, dtype=np.float64))
    if query is not None and ("answer" in columns or "answer_id" in columns):
        return _retrieval_task(rows, query, "answer_id" if "answer_id" in columns else "answer", source, corpus)
    msg = f"{source} has columns {', '.join(sorted(columns))}; the trade-off tool reads {_EXPECTED}."
    raise ValueError(msg)


def _retrieval_task(
    rows: list[dict[str, object]], query: str, answer: str, source: str, corpus: str | os.PathLike[str] | None
) -> Task:
    documents: dict[str, int] = {}
    ids: dict[str, str] = {}
    if corpus is not None:
        corpus_source = str(corpus)
        records = _read_rows(Path(corpus), "corpus file")
        key = "text" if "text" in records[0] else None
        if key is None:
            msg = f"corpus file {corpus_source!r} has columns {', '.join(sorted(records[0]))}; it needs text (and id)."
            raise ValueError(msg)
        for number, record in enumerate(records, 1):
            text = _text(record, "text", number, corpus_source)
            documents.setdefault(text, len(documents))
            if "id" in record:
                ids[str(record["id"])] = text
    elif answer == "answer_id":
        msg = f"{source} gives answers by answer_id: pass the corpus file (records with id and text) as corpus."
        raise ValueError(msg)
    where: dict[str, int] = {}
    queries, answers = [], []
    for number, row in enumerate(rows, 1):
        if query not in row or answer not in row:
            msg = f"{source}, record {number} has no {query if query not in row else answer}."
            raise ValueError(msg)
        queries.append(_text(row, query, number, source))
        if answer == "answer_id":
            if str(row[answer]) not in ids:
                msg = (
                    f"{source}, record {number}: answer_id {row[answer]!r} is not an id in the corpus file {corpus!s}."
                )
                raise ValueError(msg)
            answers.append(ids[str(row[answer])])
        else:
            answers.append(_text(row, answer, number, source))
    left, right = _index(queries, where), _index(answers, documents)
    if len(documents) < 2:
        msg = f"{source}: retrieval needs at least 2 documents to rank, found {len(documents)}. Add a corpus file."
        raise ValueError(msg)
    return Task("mrr@10", source, len(rows), list(where), list(documents), left, right, np.zeros(0))


def _ranks(x: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """Ranks from 0, ties given their average rank (as scipy.stats.rankdata - 1)."""
    order = np.argsort(x, kind="mergesort")
    ordered = x[order]
    starts = np.r_[0, np.flatnonzero(np.diff(ordered)) + 1]
    ends = np.r_[starts[1:], len(x)]
    ranks = np.empty(len(x), dtype=np.float64)
    ranks[order] = np.repeat((starts + ends - 1) / 2.0, ends - starts)
    return ranks


def spearman(a: npt.NDArray[np.float64], b: npt.NDArray[np.float64]) -> float:
    """Spearman rank correlation of two equal-length arrays; NaN if either is constant."""
    ra, rb = _ranks(np.asarray(a, dtype=np.float64)), _ranks(np.asarray(b, dtype=np.float64))
    ra -= ra.mean()
    rb -= rb.mean()
    denominator = math.sqrt(float(ra @ ra) * float(rb @ rb))
    return float(ra @ rb) / denominator if denominator > 0 else math.nan


def score(task: Task, queries: npt.NDArray[np.float32], documents: npt.NDArray[np.float32] | None) -> float:
    """Quality x100 of one setting, from unit vectors of `task.queries` (and `task.documents`)."""
    if task.metric == "spearman":
        cosine = np.einsum("ij,ij->i", queries[task.left], queries[task.right]).astype(np.float64)
        return 100 * spearman(cosine, task.gold)
    assert documents is not None  # noqa: S101 - retrieval tasks always embed their corpus
    scores = queries[task.left] @ documents.T  # (pairs, documents)
    answer = scores[np.arange(len(task.left)), task.right]
    rank = 1 + (scores > answer[:, None]).sum(axis=1)  # ties go the answer's way
    return 100 * float(np.where(rank <= 10, 1.0 / rank, 0.0).mean())
