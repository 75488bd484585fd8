"""A full disk (or quota) under the ONNX cache: static2d says so, names the folder, the space the graph needs and
STATIC2D_ONNX_CACHE, and leaves no partial entry, at whichever write the disk fills (the graph, its stamp, its
record, the int8 graph). Also on a real 1 MB tmpfs, where this machine lets the tests mount one.
"""

from __future__ import annotations

import errno
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import static2d
from conftest import onnx_cache_at
from static2d._onnx import cache
from static2d._onnx.cache import CacheFullError, graph_bytes

pytest.importorskip("onnxruntime")
for _module in ("torch", "sentence_transformers", "onnx"):
    pytest.importorskip(_module)


@pytest.fixture(scope="module")
def bert(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from static2d_testkit import make_tiny_transformer

    return make_tiny_transformer(tmp_path_factory.mktemp("bert") / "bert", "bert", layers=2)


@pytest.fixture
def root(tmp_path: Path) -> Iterator[Path]:
    with onnx_cache_at(tmp_path / "onnx-cache") as folder:
        yield folder


def _full(*args: Any, **kwargs: Any) -> None:
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def _half_then_full(real: Any) -> Any:
    """A writer that does its work, then finds the disk full (what is written is there, but incomplete)."""

    def write(*args: Any, **kwargs: Any) -> None:
        real(*args, **kwargs)
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    return write


def _words(folder: Path) -> str:
    return (
        rf"cannot cache the ONNX graph of '.*bert' at 2 layer\(s\): the disk is full \(No space left on device\) in "
        rf"the ONNX cache folder {folder}\. The graph needs about \d+\.\d MB there \(its float32 weights\), and .* "
        r"nothing of it was kept\. Free space there, or set STATIC2D_ONNX_CACHE to a folder on a disk with room"
    )


def _leftovers(folder: Path) -> list[str]:
    """Everything in the cache folder but complete entries (a tmp build folder, or an entry without its record)."""
    if not folder.exists():
        return []
    return [p.name for p in folder.iterdir() if p.name.startswith(".") or not (p / "static2d.json").is_file()]


@pytest.mark.parametrize("backend", ["onnx", "auto"])
@pytest.mark.parametrize("step", ["graph", "stamp", "record", "install"])
def test_a_full_disk_says_so_and_leaves_nothing(
    bert: Path, root: Path, monkeypatch: pytest.MonkeyPatch, step: str, backend: str
) -> None:
    import torch

    if step == "graph":  # torch's exporter writes the graph: before, "torch cannot export BertModel to ONNX"
        monkeypatch.setattr(torch.onnx, "export", _full)
    elif step == "stamp":
        monkeypatch.setattr(cache, "stamp", _half_then_full(cache.stamp))
    elif step == "record":  # the graph fits, its static2d.json does not: before, a bare OSError
        monkeypatch.setattr(cache, "_write", _half_then_full(cache._write))
    else:
        monkeypatch.setattr(cache, "_install", _full)
    with pytest.raises(CacheFullError, match=_words(root)) as caught:
        static2d.load(bert, backend=backend)  # type: ignore[arg-type]
    assert isinstance(caught.value, OSError)
    assert caught.value.errno == errno.ENOSPC
    assert "cannot export" not in str(caught.value)
    assert list(root.iterdir()) == []  # no entry, no build folder
    monkeypatch.undo()  # room again: it builds and caches
    assert static2d.load(bert, backend="onnx").backend == "onnx"
    assert len(list(root.iterdir())) == 1


def test_a_quota_while_quantizing(bert: Path, root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import onnxruntime.quantization

    def quota(*args: Any, **kwargs: Any) -> None:
        raise OSError(errno.EDQUOT, os.strerror(errno.EDQUOT))

    monkeypatch.setattr(onnxruntime.quantization, "quantize_dynamic", quota)
    with pytest.raises(CacheFullError, match=r"the disk quota is used up \(Disk quota exceeded\) in the ONNX cache"):
        static2d.load(bert, quantize="int8")
    assert _leftovers(root) == []  # the float graph's entry is complete; no int8 entry, no build folder
    assert len(list(root.iterdir())) == 1


def test_the_estimate_is_near_the_graph(bert: Path, root: Path) -> None:
    enc = static2d.load(bert, backend="onnx")
    description = enc._get().description
    (entry,) = root.iterdir()
    real = (entry / "model.onnx").stat().st_size
    assert 0.8 * real <= graph_bytes(description, 2) <= 1.25 * real  # type: ignore[arg-type]
    assert graph_bytes(description, 1) < graph_bytes(description, 2)  # type: ignore[arg-type]


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 1 MB tmpfs (the tiny model's graph is ~4 MB), where this machine lets the tests mount one."""
    folder = tmp_path / "small"
    folder.mkdir()
    try:
        done = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(folder)], capture_output=True, check=False
        )
    except OSError:
        pytest.skip("no mount here")
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode().strip()}")
    try:
        yield folder
    finally:
        subprocess.run(["umount", str(folder)], check=False)


def test_a_real_full_disk(bert: Path, small_disk: Path) -> None:
    with onnx_cache_at(small_disk / "onnx"):
        with pytest.raises(CacheFullError, match=_words(small_disk / "onnx")):
            static2d.load(bert, backend="onnx")
        assert list((small_disk / "onnx").iterdir()) == []
