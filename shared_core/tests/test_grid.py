"""Encoder.encode_grid: every (layers, dims) from one pass, equal to an encoder loaded at that size."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import static2d
from conftest import TEXTS, sts_dev
from static2d_testkit import TRANSFORMER_FAMILIES, bundled_transformer, make_static_model, tiny_transformer
from test_onnx import _with_dense, _with_pooling, onnx_cache  # noqa: F401 - onnx_cache: a fresh ONNX cache here too

ATOL = 1e-4
BACKENDS = ("torch", "onnx")


def _needs_torch() -> None:
    for module in ("torch", "sentence_transformers", "onnx"):
        pytest.importorskip(module)


@pytest.fixture(scope="module", params=TRANSFORMER_FAMILIES)
def family_model(request: pytest.FixtureRequest) -> Path:
    _needs_torch()
    return tiny_transformer(request.param)


@pytest.fixture(scope="module")
def bert() -> Path:
    _needs_torch()
    return tiny_transformer("bert")


def assert_grid_matches_cut_encoders(
    path: Path,
    backend: str,
    texts: list[str],
    layers: list[int],
    dims: list[int],
    methods: tuple[str, ...] = ("encode", "encode_query", "encode_document"),
    **options: object,
) -> None:
    """Each grid entry equals what an encoder loaded at that (layers, dims) returns, for each of `methods`."""
    enc = static2d.load(path, backend=backend, **options)  # type: ignore[arg-type]
    grids = {m: getattr(enc, f"{m}_grid")(texts, layers=layers, dims=dims) for m in methods}
    for method, grid in grids.items():
        assert sorted(grid) == sorted((depth, d) for depth in layers for d in dims)
        for (depth, d), got in grid.items():
            cut = static2d.load(path, backend=backend, layers=depth, dims=d, **options)  # type: ignore[arg-type]
            assert got.shape == (len(texts), d)
            assert got.dtype == np.float32
            np.testing.assert_allclose(
                got, getattr(cut, method)(texts), atol=ATOL, rtol=0, err_msg=f"{method} {depth, d}"
            )


@pytest.mark.parametrize("backend", BACKENDS)
def test_each_family_matches_cut_encoders(family_model: Path, backend: str) -> None:
    """BERT, DistilBERT, ModernBERT (a final norm after the last layer) and XLM-R, with prompts."""
    texts = [*TEXTS, "word " * 400]  # past max_seq_length (128)
    assert_grid_matches_cut_encoders(
        family_model, backend, texts, [1, 2, 4], [8, 32], query_prompt="query: ", document_prompt="passage: "
    )


@pytest.mark.slow
@pytest.mark.usefixtures("run_onnx_cache")
@pytest.mark.parametrize("backend", BACKENDS)
def test_minilm_matches_cut_encoders(backend: str) -> None:
    texts = TEXTS + sts_dev()[0][:64]
    assert_grid_matches_cut_encoders(bundled_transformer(), backend, texts, [1, 3, 6], [32, 384], ("encode",))


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize(
    "pooling",
    [
        {"pooling_mode": "cls"},
        {"pooling_mode": "lasttoken"},
        {"pooling_mode": ["cls", "mean"], "include_prompt": False},
    ],
)
def test_pooling_modes_match_cut_encoders(bert: Path, tmp_path: Path, pooling: dict[str, object], backend: str) -> None:
    path = _with_pooling(bert, tmp_path / "model", pooling)
    texts = [t for t in TEXTS if t.strip()]
    assert_grid_matches_cut_encoders(path, backend, texts, [1, 3], [16, 32], query_prompt="query: a prompt of words: ")


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_dense_head_and_no_normalize_match_cut_encoders(bert: Path, tmp_path: Path, backend: str) -> None:
    path = _with_dense(bert, tmp_path / "dense", "Tanh")
    assert_grid_matches_cut_encoders(path, backend, TEXTS, [2, 4], [5, 16], normalize=False)


@pytest.mark.parametrize("backend", BACKENDS)
def test_the_transformer_runs_once_per_text(bert: Path, backend: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """One pass per batch for the whole grid: the first layer (torch) or the graph (onnx) sees each text once."""
    enc = static2d.load(bert, backend=backend, batch_size=4)
    engine: Any = enc._get().engine
    texts = [f"text number {i} " * (i % 5 + 1) for i in range(10)]
    seen: list[int] = []
    if backend == "torch":
        from static2d._model.weights import find_layer_list

        parent, attr = find_layer_list(engine._auto_model())
        handle = getattr(parent, attr)[0].register_forward_hook(lambda _m, args, _o: seen.append(len(args[0])))
    else:
        run = engine.session.run
        monkeypatch.setattr(
            engine.session, "run", lambda names, feed: seen.append(len(feed["input_ids"])) or run(names, feed)
        )
    try:
        enc.encode_grid(texts, layers=[1, 2, 3, 4], dims=[8, 16, 32])
    finally:
        if backend == "torch":
            handle.remove()
    assert seen == [4, 4, 2]


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_shallower_encoder_gives_its_depths_and_refuses_deeper(bert: Path, backend: str) -> None:
    enc = static2d.load(bert, backend=backend, layers=2, dims=8)
    grid = enc.encode_grid(TEXTS, layers=[2, 1, 2], dims=[32])  # repeats dropped; dims beyond the encoder's own
    assert sorted(grid) == [(1, 32), (2, 32)]
    with pytest.raises(ValueError, match=r"layers=3 is out of range: .* from 1 to 2 .*runs 2 of 4 layers.*layers=None"):
        enc.encode_grid(TEXTS, layers=[3], dims=[8])


def test_bad_grids_are_refused_with_what_to_do(bert: Path) -> None:
    enc = static2d.load(bert, backend="torch")
    with pytest.raises(TypeError, match=r"layers must be a list of whole numbers \(e\.g\. layers=\[1, 4\]\), got 3"):
        enc.encode_grid(TEXTS, layers=3, dims=[8])  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"dims must be a whole number \(int\) or None, got 2\.5 \(float\)"):
        enc.encode_grid(TEXTS, layers=[1], dims=[8, 2.5])  # type: ignore[list-item]
    with pytest.raises(TypeError, match=r"layers must be a whole number \(int\) or None, got True \(bool\)"):
        enc.encode_grid(TEXTS, layers=[True], dims=[8])
    with pytest.raises(ValueError, match=r"dims is empty: give at least one value from 1 to 32 \(e\.g\. dims=\[32\]\)"):
        enc.encode_grid(TEXTS, layers=[1], dims=[])
    with pytest.raises(ValueError, match=r"dims=33 is out of range: this model takes dims from 1 to 32 \(or None"):
        enc.encode_grid(TEXTS, layers=[1], dims=[33])
    with pytest.raises(TypeError, match=r"takes a list of texts, got a single str"):
        enc.encode_grid("one text", layers=[1], dims=[8])


def test_a_static_model_has_no_layers(tmp_path: Path) -> None:
    enc = static2d.load(make_static_model(tmp_path / "static"))
    with pytest.raises(
        ValueError, match=r"needs a transformer, .* static embedding model: static models have no layers"
    ):
        enc.encode_grid(TEXTS, layers=[1], dims=[8])


def test_an_empty_list_of_texts_gives_empty_arrays(bert: Path) -> None:
    grid = static2d.load(bert, backend="torch").encode_grid([], layers=[1, 4], dims=[8])
    assert {k: v.shape for k, v in grid.items()} == {(1, 8): (0, 8), (4, 8): (0, 8)}


def test_an_encoder_with_another_output_precision_is_refused(bert: Path) -> None:
    enc = static2d.load(bert, backend="torch", precision="int8")
    with pytest.raises(ValueError, match=r"returns float32 vectors, but this encoder was loaded with precision='int8'"):
        enc.encode_grid(TEXTS, layers=[1], dims=[8])
