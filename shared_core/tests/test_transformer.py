"""Layer and dim truncation on small random transformers of every family the core claims."""

from __future__ import annotations

import gc
import sys
import weakref
from pathlib import Path

import numpy as np
import pytest
import static2d
from conftest import TEXTS, assert_threads_match_serial
from static2d_testkit import TRANSFORMER_FAMILIES, tiny_transformer

torch = pytest.importorskip("torch")
st = pytest.importorskip("sentence_transformers")

# Where each family keeps its layers: written out here independently of the code under test.
LAYER_ATTR = {
    "bert": ("encoder", "layer"),
    "xlm-roberta": ("encoder", "layer"),
    "distilbert": ("transformer", "layer"),
    "modernbert": ("layers",),
}


@pytest.fixture(scope="module", params=TRANSFORMER_FAMILIES)
def family_model(request: pytest.FixtureRequest) -> tuple[str, Path]:
    return request.param, tiny_transformer(request.param)


def _reference(path: Path, family: str, layers: int, dims: int, texts: list[str], prompt: str = "") -> np.ndarray:
    model = st.SentenceTransformer(str(path), device="cpu")
    parent = model[0].auto_model
    *head, last = LAYER_ATTR[family]
    for attr in head:
        parent = getattr(parent, attr)
    setattr(parent, last, getattr(parent, last)[:layers])
    out = model.encode(texts, convert_to_numpy=True, prompt=prompt)[:, :dims]
    return out / np.linalg.norm(out, axis=1, keepdims=True)


@pytest.mark.parametrize("backend", ["torch", "onnx"])
@pytest.mark.parametrize(("layers", "dims"), [(4, 32), (2, 16), (1, 8)])
def test_matches_sentence_transformers_with_manual_truncation(
    family_model: tuple[str, Path], layers: int, dims: int, backend: str
) -> None:
    if backend == "onnx":
        pytest.importorskip("onnxruntime")
    family, path = family_model
    enc = static2d.load(path, layers=layers, dims=dims, device="cpu", backend=backend)  # type: ignore[arg-type]
    assert (enc.kind, enc.layers, enc.max_layers, enc.dims, enc.max_dims) == ("transformer", layers, 4, dims, 32)
    assert enc.backend == backend
    out = enc.encode(TEXTS)
    assert out.shape == (len(TEXTS), dims)
    np.testing.assert_allclose(out, _reference(path, family, layers, dims, TEXTS), atol=1e-4)


def test_fewer_layers_change_the_vectors(family_model: tuple[str, Path]) -> None:
    _, path = family_model
    full = static2d.load(path, dims=16).encode(TEXTS[:2])
    cut = static2d.load(path, layers=1, dims=16).encode(TEXTS[:2])
    assert not np.allclose(full, cut, atol=1e-3)


def test_dropped_layers_are_gone_from_the_module_and_memory(family_model: tuple[str, Path]) -> None:
    family, path = family_model
    static2d.clear_cache()
    enc = static2d.load(path, layers=1, backend="torch")  # the torch module itself is inspected
    backend = enc._get().engine
    parent = backend.model[0].auto_model  # type: ignore[attr-defined]
    *head, last = LAYER_ATTR[family]
    for attr in head:
        parent = getattr(parent, attr)
    assert len(getattr(parent, last)) == 1
    full = st.SentenceTransformer(str(path), device="cpu")
    n_full = sum(p.numel() for p in full.parameters())
    n_cut = sum(p.numel() for p in backend.model.parameters())  # type: ignore[attr-defined]
    per_layer = (n_full - n_cut) / 3
    assert per_layer > 0
    assert n_cut < n_full

    # the layers cut away are freed, not just skipped
    from static2d._torch.cut import truncate_layers

    model = st.SentenceTransformer(str(path), device="cpu")
    parent = model[0].auto_model
    for attr in head:
        parent = getattr(parent, attr)
    dropped = weakref.ref(getattr(parent, last)[2])
    truncate_layers(model[0].auto_model, 2)
    gc.collect()
    assert dropped() is None


@pytest.mark.parametrize(
    ("options", "error", "pattern"),
    [
        ({"layers": 0}, ValueError, r"layers=0 is out of range"),
        ({"layers": 5}, ValueError, r"layers=5 is out of range: this model takes layers from 1 to 4"),
        ({"dims": 33}, ValueError, r"dims=33 is out of range: this model takes dims from 1 to 32"),
        ({"layers": 2.0}, TypeError, r"layers must be a whole number"),
        ({"layers": True}, TypeError, r"\(bool\)"),
    ],
)
def test_bad_sizes_fail_before_the_weights_load(
    family_model: tuple[str, Path],
    options: dict[str, object],
    error: type,
    pattern: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _, path = family_model

    def no_load(*args: object, **kwargs: object) -> None:
        raise AssertionError("the model was loaded before its options were checked")

    monkeypatch.setattr(st, "SentenceTransformer", no_load)
    with pytest.raises(error, match=pattern):
        static2d.load(path, **options)  # type: ignore[arg-type]


def test_unknown_architecture_is_named() -> None:
    from static2d._model.weights import find_layer_list

    class Mystery(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.blocks = torch.nn.ModuleList([torch.nn.Linear(2, 2)])

    with pytest.raises(ValueError, match=r"Cannot cut layers of a Mystery.*encoder.layer"):
        find_layer_list(Mystery())


def test_prompts_go_through_sentence_transformers(family_model: tuple[str, Path]) -> None:
    family, path = family_model
    enc = static2d.load(path, query_prompt="query: ", dims=16)
    np.testing.assert_allclose(
        enc.encode_query(TEXTS[:3]), _reference(path, family, 4, 16, TEXTS[:3], prompt="query: "), atol=1e-4
    )
    np.testing.assert_allclose(enc.encode_document(TEXTS[:3]), enc.encode(TEXTS[:3]), atol=1e-6)


def test_empty_list_and_empty_string(family_model: tuple[str, Path]) -> None:
    _, path = family_model
    enc = static2d.load(path, layers=2, dims=8)
    assert enc.encode([]).shape == (0, 8)
    out = enc.encode([""])
    assert np.isfinite(out).all()
    assert np.linalg.norm(out) == pytest.approx(1.0, abs=1e-5)


def test_eight_threads_get_the_serial_vectors(family_model: tuple[str, Path]) -> None:
    _, path = family_model
    enc = static2d.load(path, layers=2, dims=16, batch_size=4)
    assert_threads_match_serial(enc, [f"{t} {i}" for i in range(6) for t in TEXTS], atol=1e-5)


def test_missing_extra_names_it(family_model: tuple[str, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    _, path = family_model
    static2d.clear_cache()
    monkeypatch.setitem(sys.modules, "sentence_transformers", None)
    with pytest.raises(ImportError, match=r"static2d-core\[transformers\]"):
        static2d.load(path, layers=3, backend="torch")


def test_pickle_only_weights_are_refused(family_model: tuple[str, Path], tmp_path: Path) -> None:
    import shutil

    _, path = family_model
    copy = tmp_path / "pickled"
    shutil.copytree(path, copy)
    (copy / "model.safetensors").rename(copy / "pytorch_model.bin")
    with pytest.raises(ValueError, match="safetensors"):
        static2d.load(copy)
