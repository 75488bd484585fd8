"""The fingerprint: stable across objects and processes, changed by everything that changes the vectors."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import static2d
from static2d._fingerprint import HASHED, SHOWN, model_identity
from static2d_testkit import make_static_model

TEXTS = ["A panda eats bamboo.", "What is the capital of France?"]


@pytest.fixture(scope="module")
def static_path(tiny_dir: Path) -> Path:
    return make_static_model(tiny_dir / "fp-static", fmt="sentence-transformers", dims=64)


def test_same_options_same_fingerprint_in_another_process(static_path: Path):
    enc = static2d.load(static_path, dims=32)
    assert enc.fingerprint == static2d.load(static_path, dims=32, batch_size=7).fingerprint  # batching: same vectors
    code = f"import static2d; print(static2d.load({str(static_path)!r}, dims=32).fingerprint)"
    other = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120)
    assert other.stdout.strip() == enc.fingerprint
    assert enc.fingerprint.startswith("s2d1-")
    assert len(enc.fingerprint) == len("s2d1-") + 16


def test_describe_is_readable_and_all_str(static_path: Path):
    fields = static2d.load(static_path, dims=32, precision="int8").describe()
    assert set(fields) == {"fingerprint", *SHOWN, *HASHED}
    assert (fields["device"], fields["backend"], fields["dtype"]) == ("cpu", "numpy", "float32")
    assert all(isinstance(value, str) for value in fields.values())
    assert fields["dims"] == "32"
    assert fields["layers"] == "none"
    assert fields["kind"] == "static"
    assert fields["precision"] == "int8"
    assert fields["source"] == str(static_path)
    assert fields["model"].startswith("sha256:")
    assert len(fields["ranges"]) == 12


@pytest.mark.parametrize(
    "change",
    [
        {"dims": 16},
        {"normalize": False},
        {"query_prompt": "query: "},
        {"document_prompt": "passage: "},
        {"max_length": 8},
        {"precision": "int8"},
        {"precision": "ubinary"},
    ],
    ids=lambda change: "-".join(f"{k}={v}" for k, v in change.items()),
)
def test_every_option_that_changes_vectors_changes_it(static_path: Path, change: dict[str, object]):
    base = static2d.load(static_path, dims=32)
    changed = static2d.load(static_path, **{"dims": 32, **change})
    long_text = [" ".join(["bamboo panda"] * 40)]
    base_vectors = base.encode_query(long_text + TEXTS) if "query_prompt" in change else None
    if base_vectors is not None:  # the option really changes the vectors, so the fingerprint must change
        assert not np.array_equal(base_vectors, changed.encode_query(long_text + TEXTS))
    assert changed.fingerprint != base.fingerprint


def test_model_identity_is_the_content_not_the_path(static_path: Path, tmp_path: Path):
    copy = shutil.copytree(static_path, tmp_path / "elsewhere")
    assert static2d.load(copy, dims=32).fingerprint == static2d.load(static_path, dims=32).fingerprint
    other = make_static_model(tmp_path / "other-weights", fmt="sentence-transformers", dims=64, seed=1)
    assert static2d.load(other, dims=32).describe()["model"] != static2d.load(static_path, dims=32).describe()["model"]


def _hub_cache(static_path: Path, root: Path, commit: str) -> Path:
    """A Hugging Face hub cache holding the model as `org/tiny-static` at `commit`, files linked to sha256 blobs."""
    import hashlib

    repo = root / "models--org--tiny-static"
    snapshot = repo / "snapshots" / commit
    (repo / "blobs").mkdir(parents=True)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(commit)
    for path in sorted(p for p in static_path.rglob("*") if p.is_file()):
        blob = repo / "blobs" / hashlib.sha256(path.read_bytes()).hexdigest()
        shutil.copyfile(path, blob)
        link = snapshot / path.relative_to(static_path)
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(blob)
    return snapshot


def test_a_hub_model_is_named_by_id_and_commit(static_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    commit = "0123456789abcdef0123456789abcdef01234567"
    _hub_cache(static_path, tmp_path / "hub", commit)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    enc = static2d.load("org/tiny-static", cache_folder=tmp_path / "hub")
    assert enc.describe()["model"] == f"org/tiny-static@{commit}"
    assert enc.describe()["source"] == "org/tiny-static"


def test_a_folder_laid_out_like_a_hub_snapshot_is_named_by_its_content(static_path: Path, tmp_path: Path):
    commit = "0123456789abcdef0123456789abcdef01234567"
    snapshot = _hub_cache(static_path, tmp_path / "hub", commit)
    assert model_identity(snapshot) == model_identity(static_path)  # a path: its content, not its place
    stored = static2d.load(snapshot, dims=32).describe()
    assert stored["model"] == static2d.load(static_path, dims=32).describe()["model"]
    # weights edited in place (through the link, so the blob keeps its name): another model, another fingerprint
    weights = snapshot / "0_StaticEmbedding" / "model.safetensors"
    from safetensors.numpy import load_file, save

    tensors = load_file(str(weights))
    tensors["embedding.weight"] = tensors["embedding.weight"][:, ::-1].copy()
    with weights.open("r+b") as f:  # what a script writing into the snapshot does: the blob changes, not its name
        f.write(save(tensors))
    assert weights.is_symlink()
    assert weights.resolve().parent.name == "blobs"
    static2d.clear_cache()
    edited = static2d.load(snapshot, dims=32)
    assert edited.describe()["model"] != stored["model"]
    with pytest.raises(static2d.FingerprintMismatchError, match=r"model .* \(sha256:[0-9a-f]{16}\) → .*\(sha256:"):
        static2d.check_fingerprint(stored, edited)


def test_check_passes_for_the_same_embedder(static_path: Path):
    stored = static2d.load(static_path, dims=32).describe()
    static2d.check_fingerprint(stored, static2d.load(static_path, dims=32))
    static2d.check_fingerprint({**stored, "hnsw:space": "cosine"}, static2d.load(static_path, dims=32))
    static2d.check_fingerprint(stored["fingerprint"], static2d.load(static_path, dims=32))


def test_check_says_what_changed_and_what_to_do(static_path: Path):
    stored = static2d.load(static_path, dims=32, precision="uint8").describe()
    with pytest.raises(static2d.FingerprintMismatchError, match="dims 32 → 16") as refused:
        static2d.check_fingerprint(stored, static2d.load(static_path, dims=16, precision="uint8"))
    message = str(refused.value)
    assert "Re-index with this embedder" in message
    # the ranges follow from dims: the remedy is the option, not the ranges
    assert "int8/uint8 ranges" in message
    with pytest.raises(static2d.FingerprintMismatchError, match="precision uint8 → float32") as refused:
        static2d.check_fingerprint(stored, static2d.load(static_path, dims=32))
    assert isinstance(refused.value, ValueError)


def test_check_names_both_models(static_path: Path, tmp_path: Path):
    other = make_static_model(tmp_path / "other", fmt="sentence-transformers", dims=64, seed=2)
    stored = static2d.load(static_path, dims=32).describe()
    with pytest.raises(static2d.FingerprintMismatchError) as refused:
        static2d.check_fingerprint(stored, static2d.load(other, dims=32))
    message = str(refused.value)
    assert f"model {static_path} (sha256:" in message
    assert f"→ {other} (sha256:" in message
    assert f"or query with model={str(static_path)!r}" in message


def test_check_with_only_the_fingerprint_stored(static_path: Path):
    stored = static2d.load(static_path, dims=32).fingerprint
    with pytest.raises(static2d.FingerprintMismatchError, match=f"fingerprint {stored}, but this embedder's is"):
        static2d.check_fingerprint(stored, static2d.load(static_path, dims=16))


def test_check_refuses_metadata_without_a_fingerprint_and_wrong_types(static_path: Path):
    enc = static2d.load(static_path, dims=32)
    with pytest.raises(ValueError, match=r"no static2d fingerprint \(keys: \['hnsw:space'\]\)"):
        static2d.check_fingerprint({"hnsw:space": "cosine"}, enc)
    with pytest.raises(TypeError, match="stored must be a fingerprint \\(str\\) or the mapping describe\\(\\) gave"):
        static2d.check_fingerprint(42, enc)  # type: ignore[arg-type]


def test_transformer_layers_change_it(tiny_dir: Path):
    from static2d_testkit import tiny_transformer

    path = tiny_transformer("bert", layers=4, name="fp-bert")
    stored = static2d.load(path, layers=2, backend="torch").describe()
    assert stored["layers"] == "2"
    full = static2d.load(path, backend="torch")
    assert full.describe()["layers"] == "4"
    assert static2d.load(path, layers=4, backend="torch").fingerprint == full.fingerprint  # None means all 4
    with pytest.raises(static2d.FingerprintMismatchError, match="layers 2 → 4") as refused:
        static2d.check_fingerprint(stored, full)
    assert str(refused.value).endswith("Re-index with this embedder, or query with layers=2.")
