"""The trade-off tool: reading pairs, clear errors for bad files, the grid on the real MiniLM, the Pareto answer,
the table / CSV / JSON / PNG outputs and the command line."""

from __future__ import annotations

import argparse
import csv
import inspect
import json
import os
import subprocess
import sys
import typing
from pathlib import Path

import numpy as np
import pytest
import static2d
from conftest import REPO, sts_dev
from static2d._options import OPTIONS, Option
from static2d._tradeoff.data import read_task, spearman
from static2d._tradeoff.run import NOT_TRADEOFF_OPTIONS, TRADEOFF_OPTIONS
from static2d_testkit import bundled_transformer, make_static_model

DATA = REPO / "data"
STS = DATA / "sts-dev.csv"
N_PAIRS = 300  # STS-B dev pairs for the real-model grid: enough to separate depths, quick on 2 cores


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def tiny_static(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_static_model(tmp_path_factory.mktemp("static") / "m2v", dims=64)


@pytest.fixture(scope="module")
def minilm_grid() -> static2d.Tradeoff:
    return static2d.tradeoff(
        bundled_transformer(),
        STS,
        layers=[6, 3, 1],
        dims=[384, 128, 32],
        limit=N_PAIRS,
        backend="torch",
        speed_texts=32,
        speed_seconds=0.05,
        show_progress_bar=False,
    )


# ------------------------------------------------------------------------------------------------ reading


def test_reads_scored_pairs_csv_with_each_distinct_text_once(tmp_path: Path) -> None:
    path = write(tmp_path / "p.csv", "sentence1,sentence2,score\na cat,a dog,1.5\na dog,a fox,4\na cat,a fox,0\n")
    task = read_task(path)
    assert task.metric == "spearman"
    assert task.n_pairs == 3
    assert task.queries == ["a cat", "a dog", "a fox"]
    assert [task.queries[i] for i in task.left] == ["a cat", "a dog", "a cat"]
    assert [task.queries[i] for i in task.right] == ["a dog", "a fox", "a fox"]
    assert task.gold.tolist() == [1.5, 4.0, 0.0]


def test_reads_the_same_pairs_from_jsonl_json_and_tsv(tmp_path: Path) -> None:
    rows = [{"text1": "a cat", "text2": "a dog", "label": 1.5}, {"text1": "x", "text2": "y", "label": 3}]
    rows.append({"text1": "y", "text2": "z", "label": 0.5})
    jsonl = write(tmp_path / "p.jsonl", "\n".join(json.dumps(r) for r in rows) + "\n\n")
    as_json = write(tmp_path / "p.json", json.dumps(rows))
    tsv = write(
        tmp_path / "p.tsv",
        "TEXT1\ttext2\tlabel\n" + "".join(f"{r['text1']}\t{r['text2']}\t{r['label']}\n" for r in rows),
    )
    tasks = [read_task(p) for p in (jsonl, as_json, tsv)]
    for task in tasks:
        assert sorted(task.queries) == ["a cat", "a dog", "x", "y", "z"]  # each distinct text once
        pairs = [(task.queries[i], task.queries[j]) for i, j in zip(task.left, task.right, strict=True)]
        assert pairs == [("a cat", "a dog"), ("x", "y"), ("y", "z")]
        assert task.gold.tolist() == [1.5, 3.0, 0.5]


def test_reads_retrieval_pairs_with_answer_ids_into_a_corpus() -> None:
    task = read_task(DATA / "rag-questions.jsonl", DATA / "rag-corpus.jsonl")
    questions = [json.loads(line) for line in (DATA / "rag-questions.jsonl").read_text(encoding="utf-8").splitlines()]
    corpus = {
        d["id"]: d["text"]
        for d in map(json.loads, (DATA / "rag-corpus.jsonl").read_text(encoding="utf-8").splitlines())
    }
    assert task.metric == "mrr@10"
    assert task.n_pairs == len(questions) == 258
    assert len(task.documents) == len(set(corpus.values()))
    for k in (0, 100, 257):
        assert task.queries[task.left[k]] == questions[k]["question"]
        assert task.documents[task.right[k]] == corpus[questions[k]["answer_id"]]


def test_retrieval_pairs_with_answer_text_use_the_answers_as_corpus(tmp_path: Path) -> None:
    path = write(tmp_path / "r.csv", "query,answer\nwho?,a cat\nwhat?,a dog\nwhere?,a cat\n")
    task = read_task(path)
    assert (task.metric, task.queries, task.documents) == ("mrr@10", ["who?", "what?", "where?"], ["a cat", "a dog"])
    assert task.right.tolist() == [0, 1, 0]


def test_limit_keeps_the_first_pairs() -> None:
    task = read_task(STS, limit=10)
    _, second, gold = sts_dev()
    assert task.n_pairs == 10
    assert task.gold.tolist() == gold[:10].tolist()
    assert [task.queries[i] for i in task.right] == second[:10]


@pytest.mark.parametrize(
    ("name", "content", "error", "words"),
    [
        ("p.txt", "a,b,score\n", ValueError, ["unknown format (.txt)", ".csv", ".jsonl"]),
        ("p.csv", "foo,bar\n1,2\n", ValueError, ["has columns bar, foo", "sentence1, sentence2, score"]),
        ("p.csv", "sentence1,sentence2,score\na,b,1\nc,d,high\ne,f,2\n", ValueError, ["record 2", "'high'"]),
        ("p.csv", "sentence1,sentence2,score\na,b,1\nc,d\n", ValueError, ["line 3", "fewer"]),
        ("p.csv", "sentence1,sentence2,score\na,b,1\nc,d,nan\n", ValueError, ["record 2", "must be a number"]),
        ("p.csv", "sentence1,sentence2,score\na,b,1\nc,d,2\n", ValueError, ["2 pair(s)", "at least 3 pairs"]),
        ("p.csv", "sentence1,sentence2,score\na,b,1\nc,d,1\ne,f,1\n", ValueError, ["1 distinct score", "2 different"]),
        ("p.csv", "sentence1,sentence2,score\n", ValueError, ["has no rows", "scored pairs"]),
        (
            "p.jsonl",
            '{"text1": "a", "text2": "b", "score": 1}\n{"text1": "a",\n',
            ValueError,
            ["line 2 is not valid JSON"],
        ),
        ("p.jsonl", '{"text1": "a", "text2": 7, "score": 1}\n', ValueError, ["record 1", "text2 must be text", "int"]),
        ("p.jsonl", '["a", "b", 1]\n', ValueError, ["record 1 is a list", "named fields"]),
        ("p.json", '{"text1": "a"}', ValueError, ["holds a JSON dict", "list of objects"]),
        ("p.jsonl", '{"question": "q", "answer_id": "d1"}\n', ValueError, ["answer_id", "pass the corpus file"]),
        ("p.csv", "query,answer\nq,a\n", ValueError, ["at least 2 documents", "found 1"]),
    ],
)
def test_bad_files_say_what_is_wrong(tmp_path: Path, name: str, content: str, error: type, words: list[str]) -> None:
    path = write(tmp_path / name, content)
    with pytest.raises(error) as info:
        read_task(path)
    message = str(info.value)
    assert str(path) in message or name in message
    for word in words:
        assert word in message


def test_missing_file_and_unknown_answer_id(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"does not exist\. Give the path of a \.csv"):
        read_task(tmp_path / "nope.csv")
    questions = write(tmp_path / "q.jsonl", '{"question": "q", "answer_id": "d9"}\n')
    corpus = write(tmp_path / "c.jsonl", '{"id": "d1", "text": "one"}\n{"id": "d2", "text": "two"}\n')
    with pytest.raises(ValueError, match=r"record 1: answer_id 'd9' is not an id in the corpus file"):
        read_task(questions, corpus)
    scored = write(tmp_path / "s.csv", "sentence1,sentence2,score\na,b,1\nc,d,2\ne,f,3\n")
    with pytest.raises(ValueError, match=r"corpus was given, but .* holds scored pairs"):
        read_task(scored, corpus)
    with pytest.raises(TypeError, match=r"data must be the path of a \.csv.*got list"):
        read_task([("a", "b", 1.0)])  # type: ignore[arg-type]


def test_spearman_matches_scipy_with_ties() -> None:
    stats = pytest.importorskip("scipy.stats")
    rng = np.random.default_rng(0)
    a = rng.integers(0, 6, 400).astype(float)  # many ties
    b = a + rng.normal(0, 2, 400)
    assert spearman(a, b) == pytest.approx(stats.spearmanr(a, b).statistic, abs=1e-12)
    assert np.isnan(spearman(np.ones(5), np.arange(5.0)))


# ------------------------------------------------------------------------------------------------ the grid


@pytest.mark.slow
def test_minilm_grid_scores_equal_separately_loaded_encoders(minilm_grid: static2d.Tradeoff) -> None:
    stats = pytest.importorskip("scipy.stats")
    first, second, gold = sts_dev()
    first, second, gold = first[:N_PAIRS], second[:N_PAIRS], gold[:N_PAIRS]
    assert (minilm_grid.layers, minilm_grid.dims) == ([6, 3, 1], [384, 128, 32])
    assert (minilm_grid.kind, minilm_grid.metric, minilm_grid.n_pairs) == ("transformer", "spearman", N_PAIRS)
    for layers, dims in [(6, 384), (3, 128), (1, 32)]:
        enc = static2d.load(bundled_transformer(), layers=layers, dims=dims, backend="torch")
        a, b = enc.encode(first), enc.encode(second)
        expected = 100 * stats.spearmanr(np.einsum("ij,ij->i", a, b), gold).statistic
        assert minilm_grid.quality[layers, dims] == pytest.approx(expected, abs=0.05)
    # all-MiniLM-L6-v2 is not trained for 2D: half depth loses much more than 8x fewer dims (ANCHORS.md)
    assert minilm_grid.quality[6, 32] > minilm_grid.quality[3, 384] + 10
    assert set(minilm_grid.speed) == {6, 3, 1}
    assert all(s > 0 for s in minilm_grid.speed.values())


@pytest.mark.slow
@pytest.mark.parametrize("within", [0.0, 0.01, 0.05, 0.10, 0.5])
def test_cheapest_is_the_pareto_front_of_good_enough_settings(minilm_grid: static2d.Tradeoff, within: float) -> None:
    full = minilm_grid.quality[6, 384]
    good = {key for key, q in minilm_grid.quality.items() if q >= full * (1 - within)}
    front = minilm_grid.cheapest(within)
    chosen = {(s.layers, s.dims) for s in front}
    assert chosen <= good
    for layers, dims in good:  # every good setting is matched or beaten on both costs by a chosen one
        assert any(n <= layers and d <= dims for n, d in chosen)
    for a in chosen:  # and no chosen one is beaten by another good one
        assert not any(b != a and b[0] <= a[0] and b[1] <= a[1] for b in good)
    for s in front:
        assert s.relative == pytest.approx(s.quality / full)
        assert s.bytes == 4 * s.dims
        assert s.speed == minilm_grid.speed[s.layers]
    assert [s.layers for s in front] == sorted(s.layers for s in front)


@pytest.mark.slow
def test_cheapest_on_minilm_keeps_full_depth_at_5_percent_and_cuts_dims(minilm_grid: static2d.Tradeoff) -> None:
    # Measured: at half depth MiniLM keeps ~60-75% of its quality, so within 5% only fewer dims are cheaper.
    front = minilm_grid.cheapest(0.05)
    assert {s.layers for s in front} == {6}
    assert front[0].dims < 384
    assert minilm_grid.cheapest(0.0) == [minilm_grid.full]
    with pytest.raises(ValueError, match=r"within is a fraction of full quality in \[0, 1\).*got 5"):
        minilm_grid.cheapest(5)


@pytest.mark.slow
def test_retrieval_grid_matches_a_brute_force_ranking() -> None:
    questions = [json.loads(line) for line in (DATA / "rag-questions.jsonl").read_text(encoding="utf-8").splitlines()]
    docs = [json.loads(line) for line in (DATA / "rag-corpus.jsonl").read_text(encoding="utf-8").splitlines()]
    result = static2d.tradeoff(
        bundled_transformer(),
        DATA / "rag-questions.jsonl",
        corpus=DATA / "rag-corpus.jsonl",
        layers=[2],
        dims=[64],
        limit=40,
        backend="torch",
        speed_texts=16,
        speed_seconds=0.01,
        show_progress_bar=False,
    )
    assert (result.metric, result.layers, result.dims) == ("mrr@10", [6, 2], [384, 64])
    enc = static2d.load(bundled_transformer(), layers=2, dims=64, backend="torch")
    q = enc.encode_query([x["question"] for x in questions[:40]])
    texts = list(dict.fromkeys(d["text"] for d in docs))
    d = enc.encode_document(texts)
    reciprocal = []
    for k, question in enumerate(questions[:40]):
        answer = texts.index(next(x["text"] for x in docs if x["id"] == question["answer_id"]))
        scores = d @ q[k]
        rank = 1 + int((scores > scores[answer]).sum())
        reciprocal.append(1 / rank if rank <= 10 else 0.0)
    assert result.quality[2, 64] == pytest.approx(100 * np.mean(reciprocal), abs=0.01)
    assert result.quality[6, 384] > 50  # the real model finds most answers (paraphrases) first


# ------------------------------------------------------------------------------------------------ static models


def test_static_model_grid_is_over_dims_only(tiny_static: Path) -> None:
    result = static2d.tradeoff(tiny_static, STS, dims=[16], limit=50, speed_seconds=0.01, show_progress_bar=False)
    assert (result.kind, result.layers, result.dims) == ("static", [None], [64, 16])
    assert list(result.speed) == [None]
    assert result.full.label == "dims=64"
    assert "static" in result.table()
    with pytest.raises(ValueError, match=r"layers=\[3\] was given, but .* is a static embedding model"):
        static2d.tradeoff(tiny_static, STS, layers=[3], limit=50, show_progress_bar=False)


@pytest.mark.parametrize(
    ("kwargs", "error", "pattern"),
    [
        ({"dims": [65]}, ValueError, r"dims=65 is out of range: this model takes dims from 1 to 64"),
        ({"dims": [2.5]}, TypeError, r"dims must be a whole number"),
        ({"dims": 32}, TypeError, r"dims must be a list of whole numbers.*got 32"),
        ({"dims": []}, ValueError, r"dims is empty"),
        ({"limit": 0}, ValueError, r"limit=0 is out of range"),
    ],
)
def test_bad_grid_options(tiny_static: Path, kwargs: dict[str, object], error: type, pattern: str) -> None:
    with pytest.raises(error, match=pattern):
        static2d.tradeoff(tiny_static, STS, show_progress_bar=False, **kwargs)  # type: ignore[arg-type]


# ------------------------------------------------------------------------------------------------ outputs


@pytest.mark.slow
def test_table_csv_and_json(minilm_grid: static2d.Tradeoff, tmp_path: Path) -> None:
    table = minilm_grid.table()
    assert "layers \\ dims" in table
    assert f"{minilm_grid.quality[3, 128]:.2f}" in table
    assert "cheapest within 5%: layers=6" in table
    assert "1,536" in table  # bytes per 384-dim float32 vector
    with minilm_grid.save(tmp_path / "g.csv").open(encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 9
    assert {(int(r["layers"]), int(r["dims"])) for r in rows} == set(minilm_grid.quality)
    row = next(r for r in rows if r["layers"] == "3" and r["dims"] == "128")
    assert float(row["quality"]) == pytest.approx(minilm_grid.quality[3, 128], abs=1e-4)
    saved = json.loads(minilm_grid.save(tmp_path / "g.json").read_text(encoding="utf-8"))
    assert saved["metric"] == "spearman"
    assert len(saved["settings"]) == 9
    assert [(s["layers"], s["dims"]) for s in saved["cheapest"]["5%"]] == [
        (s.layers, s.dims) for s in minilm_grid.cheapest(0.05)
    ]
    with pytest.raises(ValueError, match=r"save\(\) writes \.csv or \.json, got .*g\.png"):
        minilm_grid.save(tmp_path / "g.png")


@pytest.mark.slow
def test_png_heatmap_side_by_side_with_a_static_model(
    minilm_grid: static2d.Tradeoff, tiny_static: Path, tmp_path: Path
) -> None:
    pytest.importorskip("matplotlib")
    static = static2d.tradeoff(tiny_static, STS, limit=50, speed_seconds=0.01, show_progress_bar=False)
    out = static2d.plot_tradeoff([minilm_grid, static], tmp_path / "sub" / "grid.png", title="test grid")
    assert out == tmp_path / "sub" / "grid.png"
    data = out.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    assert width > 2 * height > 300  # two panels side by side
    assert minilm_grid.plot(tmp_path / "one.png").stat().st_size > 10_000
    with pytest.raises(ValueError, match=r"plot\(\) writes a \.png file, got .*grid\.svg"):
        static2d.plot_tradeoff([static], tmp_path / "grid.svg")
    with pytest.raises(TypeError, match=r"takes a non-empty list of Tradeoff results"):
        static2d.plot_tradeoff(static, tmp_path / "grid.png")  # type: ignore[arg-type]


def _grid(model: str, quality: dict[tuple[int | None, int], float]) -> static2d.Tradeoff:
    layers = sorted({n for n, _ in quality}, key=lambda n: -1 if n is None else -n)
    dims = sorted({d for _, d in quality}, reverse=True)
    return static2d.Tradeoff(
        model=model,
        kind="static" if layers == [None] else "transformer",
        backend="static",
        data=str(STS),
        metric="spearman",
        n_pairs=10,
        n_texts=20,
        layers=layers,
        dims=dims,
        quality=quality,
        speed=dict.fromkeys(layers, 1000.0),
        machine="test machine",
    )


def test_heatmap_colour_scale_starts_at_a_stated_floor_the_same_in_every_panel(tmp_path: Path) -> None:
    """A static model whose cells span 65-70 (93%-100%) is coloured near the top, not from bottom to top."""
    pytest.importorskip("matplotlib")
    from static2d._tradeoff.plot import FLOOR_SHARE, colour_scale, figure

    static = _grid("static", {(None, 256): 70.0, (None, 128): 68.0, (None, 64): 65.0})
    norm, text = colour_scale([static])
    assert norm.vmin == pytest.approx(FLOOR_SHARE * 70.0)
    assert norm.vmax == pytest.approx(70.0)
    assert norm(65.0) > 0.8  # 93% of full quality: near the top of the scale, not its bottom
    assert text == "colour scale from 35.00 (50% of the best full-size quality) to 70.00"

    deep = _grid("deep", {(6, 384): 80.0, (6, 64): 76.0, (1, 384): 30.0, (1, 64): 20.0})
    norm, text = colour_scale([static, deep])
    assert norm.vmin == pytest.approx(40.0)  # half the best full-size quality of all the panels
    assert norm.vmax == pytest.approx(80.0)
    fig = figure([static, deep])
    try:
        images = [ax.images[0] for ax in fig.axes if ax.images]
        assert len(images) == 2
        assert {(im.norm.vmin, im.norm.vmax) for im in images} == {(norm.vmin, norm.vmax)}  # one scale
        assert "colour scale from 40.00 (50% of the best full-size quality) to 80.00, the same in every panel" in (
            fig.get_suptitle()
        )
        assert fig.axes[-1].get_ylabel() == "quality x100 (from 40.00)"  # the colour bar
    finally:
        import matplotlib.pyplot as plt

        plt.close(fig)

    # no positive full-size quality (a useless model): the scale starts at 0 or below, still stated
    broken = _grid("broken", {(None, 64): -5.0, (None, 32): 2.0})
    norm, text = colour_scale([broken])
    assert norm.vmin == pytest.approx(-5.0)
    assert text == "colour scale from -5.00 to 2.00"


def test_png_without_matplotlib_names_the_extra(
    tiny_static: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    result = static2d.tradeoff(tiny_static, STS, limit=20, speed_seconds=0.01, show_progress_bar=False)
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.raises(ImportError, match=r"needs matplotlib.*pip install 'static2d-core\[plot\]'"):
        result.plot(tmp_path / "grid.png")
    assert not (tmp_path / "grid.png").exists()


# ------------------------------------------------------------------------------------------------ command line


def test_command_line_writes_every_output(
    tiny_static: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from static2d.__main__ import main

    pytest.importorskip("matplotlib")
    files = {ext: tmp_path / f"out.{ext}" for ext in ("csv", "json", "png")}
    args = ["tradeoff", str(tiny_static), "--data", str(STS), "--dims", "64", "32", "--limit", "40", "--quiet"]
    assert main([*args, *(x for ext, p in files.items() for x in (f"--{ext}", str(p)))]) == 0
    out = capsys.readouterr().out
    assert "cheapest within 10%: dims=" in out
    assert all(p.stat().st_size > 0 for p in files.values())
    assert len(json.loads(files["json"].read_text(encoding="utf-8"))["settings"]) == 2


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--data", "missing.csv"], "error: data file 'missing.csv' does not exist"),
        (["--data", str(STS), "--layers", "2"], "error: layers=[2] was given, but"),
        (["--data", str(STS), "--png", "grid.jpg"], "error: --png takes a path ending in .png, got 'grid.jpg'"),
    ],
)
def test_command_line_bad_input_is_one_line_not_a_trace(
    tiny_static: Path, capsys: pytest.CaptureFixture[str], extra: list[str], message: str
) -> None:
    from static2d.__main__ import main

    assert main(["tradeoff", str(tiny_static), *extra, "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(message)
    assert "Traceback" not in err


def _unwritable_folder(tmp_path: Path) -> Path:
    """A folder this process cannot create files in (read-only; as root, which writes anywhere, /sys)."""
    import os

    if os.geteuid() == 0:
        return Path("/sys/static2d-test-out")  # sysfs: not even root creates files there
    folder = tmp_path / "read-only"
    folder.mkdir()
    folder.chmod(0o500)
    return folder


@pytest.mark.parametrize("ext", ["csv", "json", "png"])
@pytest.mark.parametrize("case", ["read-only folder", "path is a folder", "parent is a file"])
def test_command_line_checks_each_output_before_measuring(
    tiny_static: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    ext: str,
    case: str,
) -> None:
    from static2d import __main__ as cli

    pytest.importorskip("matplotlib")
    if case == "read-only folder":
        target, words = _unwritable_folder(tmp_path) / f"out.{ext}", "cannot be written ("
    elif case == "path is a folder":
        target, words = tmp_path / f"out.{ext}", "is a folder; give the path of a file in it"
        target.mkdir()
    else:
        blocker = write(tmp_path / "a-file", "not a folder")
        target, words = blocker / "sub" / f"out.{ext}", f"{str(blocker)!r} is a file, not a folder"
    measured: list[int] = []
    monkeypatch.setattr(cli, "tradeoff", lambda *a, **k: measured.append(1))
    args = ["tradeoff", str(tiny_static), "--data", str(STS), "--limit", "10", "--quiet", f"--{ext}", str(target)]
    assert cli.main(args) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: --{ext} {str(target)!r}")
    assert words in err
    assert measured == []  # refused before anything was measured


def test_an_existing_writable_output_is_accepted(tmp_path: Path) -> None:
    from static2d._tradeoff.run import check_output

    existing = write(tmp_path / "old.csv", "kept")
    assert check_output(existing, "--csv") == existing
    assert existing.read_text() == "kept"  # checked, not changed
    assert check_output(tmp_path / "new" / "deeper" / "x.json", "--json").name == "x.json"
    assert not (tmp_path / "new").exists()  # nothing made before measuring


def test_help_reads_as_text_and_every_option_has_help(capsys: pytest.CaptureFixture[str]) -> None:
    from static2d.__main__ import main

    with pytest.raises(SystemExit):
        main(["tradeoff", "--help"])
    out = " ".join(capsys.readouterr().out.split())
    assert "within 1%, 5% and 10% of full quality" in out
    assert "%%" not in out
    assert "--backend {auto,torch,onnx} Transformer only: 'torch'" in out
    assert "--batch-size N Texts per batch, at most." in out
    assert "default cpu" not in out  # the stale help texts, written by hand, are gone
    assert "32 for transformers" not in out


PAIRS = "sentence1,sentence2,score\na cat,a dog,1.5\na dog,a fox,4\na cat,a fox,0\n"


def test_a_csv_with_a_byte_order_mark_is_read(tmp_path: Path) -> None:
    path = tmp_path / "excel.csv"
    path.write_bytes(PAIRS.encode("utf-8-sig"))
    task = read_task(path)
    assert task.queries == ["a cat", "a dog", "a fox"]
    assert task.gold.tolist() == [1.5, 4.0, 0.0]
    jsonl = tmp_path / "bom.jsonl"
    rows = [{"sentence1": "a", "sentence2": "b", "score": s} for s in (1, 2, 3)]
    jsonl.write_bytes("".join(json.dumps(r) + "\n" for r in rows).encode("utf-8-sig"))
    assert read_task(jsonl).queries == ["a", "b"]


def test_a_csv_field_longer_than_the_csv_module_limit_is_read_as_jsonl_is(tmp_path: Path) -> None:
    long = "word " * 40_000  # 200,000 characters, over csv's 131,072 default
    path = write(tmp_path / "long.csv", f'sentence1,sentence2,score\n"{long}",a dog,1\na dog,a fox,4\na fox,a cat,0\n')
    jsonl = tmp_path / "long.jsonl"
    rows = [
        {"sentence1": long, "sentence2": "a dog", "score": 1},
        {"sentence1": "a dog", "sentence2": "a fox", "score": 4},
        {"sentence1": "a fox", "sentence2": "a cat", "score": 0},
    ]
    jsonl.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    assert read_task(path).queries == read_task(jsonl).queries == [long, "a dog", "a fox", "a cat"]
    assert csv.field_size_limit() == 131_072  # the csv module's own limit is put back


# ------------------------------------------------------------------------- options from the registry


def _tradeoff_parser(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    sub: argparse.ArgumentParser = commands.choices["tradeoff"]
    return sub


def test_tradeoff_takes_every_applicable_option_of_load() -> None:
    assert [o.name for o in TRADEOFF_OPTIONS] == [o.name for o in OPTIONS if o.name not in NOT_TRADEOFF_OPTIONS]
    assert "dtype" in NOT_TRADEOFF_OPTIONS or "dtype" in [o.name for o in TRADEOFF_OPTIONS]
    parameters = inspect.signature(static2d.tradeoff).parameters
    hints = typing.get_type_hints(static2d.tradeoff)
    doc = " ".join((static2d.tradeoff.__doc__ or "").split())
    for option in TRADEOFF_OPTIONS:
        assert parameters[option.name].default == option.default, option.name
        paths = option.name == "cache_folder"
        assert hints[option.name] == (option.annotation | os.PathLike[str] if paths else option.annotation), option.name
        assert f"{option.name}: {' '.join(option.doc.split())}" in doc, option.name


def test_the_command_line_takes_every_tradeoff_option_from_the_registry() -> None:
    from static2d.__main__ import _parser

    actions = {a.dest: a for a in _tradeoff_parser(_parser())._actions}
    for option in TRADEOFF_OPTIONS:
        action = actions[option.name]
        assert action.option_strings == [f"--{option.name.replace('_', '-')}"]
        assert (action.help or "").replace("%%", "%").startswith(option.doc), option.name  # the registry's doc
        assert action.default == option.default, option.name
        literal = typing.get_origin(option.annotation) is typing.Literal
        members = (option.annotation,) if literal else typing.get_args(option.annotation)
        literals = [v for m in members if typing.get_origin(m) is typing.Literal for v in typing.get_args(m)]
        if literals:
            assert list(action.choices or []) == literals, option.name
    assert "dtype" in actions
    assert actions["dtype"].choices == ["float32", "bfloat16", "float16"]


def test_an_option_added_to_the_registry_reaches_the_command_line(monkeypatch: pytest.MonkeyPatch) -> None:
    from static2d import __main__ as cli

    new = Option("new_knob", int | None, None, "A knob added later.", ("transformer",), lambda v, n: v)
    monkeypatch.setattr(cli, "TRADEOFF_OPTIONS", (*TRADEOFF_OPTIONS, new))
    action = next(a for a in _tradeoff_parser(cli._parser())._actions if a.dest == "new_knob")
    assert action.option_strings == ["--new-knob"]
    assert action.help == "A knob added later."
    assert action.type is int
    # a type the command line cannot spell is refused when the parser is made, not left out unseen
    odd = Option("odd", list[str], None, "A list.", ("transformer",), lambda v, n: v)
    monkeypatch.setattr(cli, "TRADEOFF_OPTIONS", (*TRADEOFF_OPTIONS, odd))
    with pytest.raises(TypeError, match="cannot take option 'odd'"):
        cli._parser()


def test_tradeoff_passes_dtype_to_load(tiny_static: Path) -> None:
    with pytest.raises(ValueError, match="dtype='bfloat16'"):
        static2d.tradeoff(tiny_static, STS, dtype="bfloat16", show_progress_bar=False)
    with pytest.raises(TypeError) as info:
        static2d.tradeoff(tiny_static, STS, dimension=64)  # type: ignore[call-arg]
    assert str(info.value).startswith("static2d.tradeoff has no option 'dimension': did you mean dims=64?")


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "static2d", *args], capture_output=True, text=True, check=False, timeout=300
    )


def test_the_command_line_passes_dtype(tiny_static: Path) -> None:
    done = _cli("tradeoff", str(tiny_static), "--data", str(STS), "--dtype", "bfloat16", "--quiet")
    assert done.returncode == 2
    assert done.stderr.startswith("error: dtype='bfloat16'")
    assert "Traceback" not in done.stderr


def test_an_unknown_flag_gets_the_subcommand_usage_and_the_closest_flag(tiny_static: Path) -> None:
    done = _cli("tradeoff", str(tiny_static), "--data", str(STS), "--dimension", "64")
    assert done.returncode == 2
    assert done.stderr.startswith("usage: python -m static2d tradeoff [-h] --data DATA")
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith(
        "python -m static2d tradeoff: error: unrecognized arguments: --dimension 64. python -m static2d tradeoff "
        "has no option '--dimension': did you mean --dims? Its options: --data, --corpus, --layers, --dims,"
    )
    assert "--dtype" in last
    done = _cli("tradeoff", str(tiny_static), "--data", str(STS), "--truncate-dim=64", "--quiet")
    assert "has no option '--truncate-dim': did you mean --dims?" in done.stderr
    done = _cli("tradeoff", str(tiny_static), "--data", str(STS), "--num-layers", "3")
    assert "has no option '--num-layers': did you mean --layers?" in done.stderr
