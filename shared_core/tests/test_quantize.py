"""quantize="int8": the cut graph with int8 weights (ONNX Runtime), cached beside the float graph."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import static2d
from conftest import TEXTS, spearman_x100, sts_dev
from static2d._onnx.quantize import METHODS, cpu_kind
from static2d_testkit import bundled_transformer, make_static_model, tiny_transformer
from test_onnx import onnx_cache  # noqa: F401 - a fresh ONNX cache for this module too

pytest.importorskip("onnxruntime")


@pytest.fixture(scope="module")
def bert() -> Path:
    for module in ("torch", "sentence_transformers", "onnx"):
        pytest.importorskip(module)
    return tiny_transformer("bert", hidden=64)


def _entries() -> list[dict[str, object]]:
    import json

    root = Path(os.environ["STATIC2D_ONNX_CACHE"])
    return [json.loads((p / "static2d.json").read_text())["source"] for p in root.iterdir() if p.is_dir()]


def test_int8_is_cached_beside_the_float_graph_and_reused(bert: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import onnxruntime.quantization as q

    calls: list[str] = []
    real = q.quantize_dynamic
    monkeypatch.setattr(q, "quantize_dynamic", lambda *a, **k: calls.append("q") or real(*a, **k))
    before = len(_entries())
    enc = static2d.load(bert, layers=3, backend="onnx", quantize="int8")
    assert enc.backend == "onnx"
    graphs = [s["graph"] for s in _entries() if s["layers"] == 3]
    assert len(_entries()) == before + 2  # the float graph and the int8 graph, each its own entry
    int8 = {"quantize": "int8", "method": METHODS["int8"], "cpu": cpu_kind()}
    assert sorted(map(str, graphs)) == sorted(map(str, [{}, int8]))
    assert calls == ["q"]
    static2d.clear_cache()
    again = static2d.load(bert, layers=3, quantize="int8")  # "auto" with quantize: ONNX, from the cache
    assert again.backend == "onnx"
    np.testing.assert_array_equal(again.encode(TEXTS), enc.encode(TEXTS))
    assert calls == ["q"]


def test_int8_vectors_are_close_to_float_but_not_equal(bert: Path) -> None:
    float_ = static2d.load(bert, backend="onnx").encode(TEXTS)
    int8 = static2d.load(bert, backend="onnx", quantize="int8").encode(TEXTS)
    cosines = (float_ * int8).sum(axis=1)
    assert cosines.min() > 0.95, cosines
    assert np.abs(float_ - int8).max() > 1e-4  # it did quantize


def test_encode_grid_runs_on_the_int8_graph(bert: Path) -> None:
    enc = static2d.load(bert, backend="onnx", quantize="int8")
    grid = enc.encode_grid(TEXTS, layers=[2, 4], dims=[16, 64])
    for (depth, d), got in grid.items():
        cut = static2d.load(bert, backend="onnx", quantize="int8", layers=depth, dims=d)
        # the cut model's own int8 graph quantizes its weights alike: close, though not the same graph
        assert float((got * cut.encode(TEXTS)).sum(axis=1).min()) > 0.95


def test_quantize_anywhere_but_onnx_is_refused(bert: Path, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"quantize='int8' runs on ONNX Runtime, but backend='torch' was given"):
        static2d.load(bert, backend="torch", quantize="int8")
    with pytest.raises(ValueError, match=r"quantize must be None \(float32\) or 'int8' \(backend='onnx'\), got 'int4'"):
        static2d.load(bert, backend="onnx", quantize="int4")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"quantize must be None \(float32\) or 'int8' .*got 8"):
        static2d.load(bert, quantize=8)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"is a static embedding model: quantize is for transformers on ONNX"):
        static2d.load(make_static_model(tmp_path / "static"), quantize="int8")


@pytest.mark.slow
@pytest.mark.usefixtures("run_onnx_cache")
def test_minilm_int8_keeps_sts_within_half_a_point() -> None:
    s1, s2, gold = sts_dev()
    scores, vectors = {}, {}
    for quantize in (None, "int8"):
        enc = static2d.load(bundled_transformer(), backend="onnx", quantize=quantize)  # type: ignore[arg-type]
        a, b = enc.encode(s1), enc.encode(s2)
        scores[quantize], vectors[quantize] = spearman_x100(a, b, gold), a
    assert scores[None] - scores["int8"] <= 0.5, scores
    assert float((vectors[None] * vectors["int8"]).sum(axis=1).min()) > 0.9


# --- int8 is checked against float when it is built, and refused where it bends the vectors -----------------------


def _with_outliers(src: Path, dst: Path, *, where: str) -> Path:
    """A copy of a tiny BERT whose activations hold one outlier feature, the way trained BERT-family models do.

    One feature, in every layer, fires 300x louder and the weight that reads it is scaled back (the float model
    barely changes, but int8's per-batch activation range is then the outlier's); the layer's output projection
    is made 30x stronger, so that the layer counts in the vector as a trained layer does. where="ffn": a
    feed-forward neuron (read by the down-projection); where="attention": a value feature (read by the attention
    output projection, which int8 always quantizes).
    """
    import shutil

    from safetensors.numpy import load_file, save_file

    shutil.copytree(src, dst)
    tensors = load_file(str(dst / "model.safetensors"))
    up, bias, down = {
        "ffn": ("intermediate.dense.weight", "intermediate.dense.bias", "output.dense.weight"),
        "attention": ("attention.self.value.weight", "attention.self.value.bias", "attention.output.dense.weight"),
    }[where]
    for key in list(tensors):
        if key.endswith(up):
            layer = key.removesuffix(up)
            tensors[key][3] *= 300  # torch weights are (out, in): row 3 makes feature 3
            tensors[layer + bias][3] = 15.0
            tensors[layer + down] *= 30
            tensors[layer + down][:, 3] /= 300
    save_file(tensors, str(dst / "model.safetensors"))
    return dst


def _check_of(path: Path, layers: int) -> dict[str, object]:
    """The check kept in the int8 cache entry of the model in `path` at `layers`."""
    import json

    for entry in Path(os.environ["STATIC2D_ONNX_CACHE"]).glob(f"{path.name}-L{layers}-*"):
        meta = json.loads((entry / "static2d.json").read_text())
        if meta["source"]["graph"].get("quantize") == "int8":
            return meta["check"]
    msg = f"no int8 entry for {path} at {layers} layers"
    raise AssertionError(msg)


def test_int8_keeps_the_outlier_matmuls_in_float_and_agrees_with_float(bert: Path, tmp_path: Path) -> None:
    path = _with_outliers(bert, tmp_path / "ffn-outliers", where="ffn")
    float_ = static2d.load(path, backend="onnx").encode(TEXTS)
    int8 = static2d.load(path, backend="onnx", quantize="int8").encode(TEXTS)
    check = _check_of(path, 4)
    tries = check["tries"]
    assert isinstance(tries, list)
    # quantizing every MatMul, as before, bends this model's vectors below the agreement static2d requires ...
    assert tries[0]["float32"] == "nothing"
    assert tries[0]["min_cosine"] < 0.95, tries
    # ... and with the feed-forward down-projections in float, int8 agrees with float
    assert check["float32"] == "the feed-forward down-projections"
    assert check["passed"] is True
    assert check["min_cosine"] >= 0.95
    assert float((float_ * int8).sum(axis=1).min()) > 0.95
    assert np.abs(float_ - int8).max() > 1e-4  # it did quantize


def test_int8_that_bends_the_vectors_is_refused_and_the_refusal_is_kept(
    bert: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import onnxruntime.quantization as q

    path = _with_outliers(bert, tmp_path / "attention-outliers", where="attention")
    with pytest.raises(
        ValueError, match=r"quantize='int8' is refused for .* at 4 layer\(s\): its int8 graph's"
    ) as info:
        static2d.load(path, backend="onnx", quantize="int8")
    message = str(info.value)
    assert "below the 0.95 static2d requires" in message
    assert "use quantize=None (the float32 ONNX graph) or backend='torch'" in message
    check = _check_of(path, 4)
    assert check["passed"] is False
    assert check["min_cosine"] < 0.95
    assert f"cosine of {check['min_cosine']} on static2d's calibration text" in message
    # a second load is refused at once, from the cache entry, without quantizing again
    calls: list[int] = []
    monkeypatch.setattr(q, "quantize_dynamic", lambda *a, **k: calls.append(1))
    static2d.clear_cache()
    for backend in ("onnx", "auto"):
        with pytest.raises(ValueError, match=r"is refused .*so it is not measured again"):
            static2d.load(path, backend=backend, quantize="int8")
    assert calls == []
    # float32 still runs, on the same graph cache
    assert static2d.load(path, backend="onnx").encode(TEXTS).shape == (len(TEXTS), 64)


def test_an_int8_entry_says_its_agreement(bert: Path) -> None:
    static2d.load(bert, backend="onnx", layers=2, quantize="int8")
    check = _check_of(bert, 2)
    assert check["passed"] is True
    assert check["float32"] == "nothing"
    assert 0.95 <= check["min_cosine"] <= 1.0
    assert check["texts"] > 100
    assert check["threshold"] == 0.95


def test_a_forged_int8_entry_is_never_used(bert: Path, caplog: pytest.LogCaptureFixture) -> None:
    """The float graph copied into the int8 entry, with static2d.json rewritten to match it, is rebuilt."""
    import hashlib
    import json

    float_ = static2d.load(bert, backend="onnx", layers=3).encode(TEXTS)
    int8 = static2d.load(bert, backend="onnx", layers=3, quantize="int8").encode(TEXTS)
    root = Path(os.environ["STATIC2D_ONNX_CACHE"])
    entries = {}
    for entry in root.iterdir():
        meta = json.loads((entry / "static2d.json").read_text())
        if meta["source"]["layers"] == 3:
            entries["int8" if meta["source"]["graph"] else "float"] = entry
    graph = (entries["float"] / "model.onnx").read_bytes()
    (entries["int8"] / "model.onnx").write_bytes(graph)
    meta = json.loads((entries["int8"] / "static2d.json").read_text())
    meta["files"]["model.onnx"] = {"sha256": hashlib.sha256(graph).hexdigest(), "size": len(graph)}
    (entries["int8"] / "static2d.json").write_text(json.dumps(meta))
    static2d.clear_cache()
    with caplog.at_level("WARNING", logger="static2d"):
        again = static2d.load(bert, backend="onnx", layers=3, quantize="int8").encode(TEXTS)
    assert f"The cached ONNX graph {entries['int8']} was not built as its static2d.json says" in caplog.text
    np.testing.assert_array_equal(again, int8)
    assert not np.array_equal(again, float_)
