"""Model files checked before they are trusted: weights that fit the architecture, tokenizers, finite tables.

Everything here runs without torch: it reads headers and configs (no transformer weights are loaded) and raises a
ValueError naming the file. The check of a transformer's weights against its architecture needs torch and lives
with the torch engine (`static2d._model.weights`).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from tokenizers import Tokenizer

from static2d._model.describe import TransformerDescription, read_json
from static2d._model.safetensors import read_header

# Files a Hugging Face tokenizer can be built from, besides tokenizer.json.
_VOCAB_FILES = ("vocab.txt", "spiece.model", "sentencepiece.bpe.model", "tokenizer.model", "source.spm")
_PICKLES = ("*.bin", "*.pt", "*.pth", "*.ckpt", "*.pkl")
SHOWN = 8  # tensor names (or rows) shown in a message


def checkpoint_tensors(tf_dir: Path) -> dict[str, tuple[tuple[int, ...], Path]]:
    """Every tensor of a transformer's safetensors weights (one file, or shards named by an index file).

    Example:
        >>> tensors = checkpoint_tensors(Path("all-MiniLM-L6-v2"))  # doctest: +SKIP
    """
    index = tf_dir / "model.safetensors.index.json"
    if index.is_file():
        try:
            weight_map = json.loads(index.read_text(encoding="utf-8"))["weight_map"]
            files = sorted({tf_dir / str(name) for name in weight_map.values()})
        except (json.JSONDecodeError, UnicodeDecodeError, KeyError, TypeError, AttributeError):
            msg = f"{index} is not a safetensors index (a JSON object with a 'weight_map'): download the model again."
            raise ValueError(msg) from None
        absent = [p.name for p in files if not p.is_file()]
        if absent:
            msg = f"{index} names weight files that are not there: {absent}. Download the model again."
            raise ValueError(msg)
    elif (tf_dir / "model.safetensors").is_file():
        files = [tf_dir / "model.safetensors"]
    else:
        files = sorted(tf_dir.glob("*.safetensors"))
    out: dict[str, tuple[tuple[int, ...], Path]] = {}
    for path in files:
        for name, info in read_header(path).items():
            out[name] = (info.shape, path)
    return out


def check_tokenizer_files(tf_dir: Path, name: str) -> None:
    """Refuse a transformer without tokenizer.json or a vocabulary file (it would map every word to unknown).

    Example:
        >>> check_tokenizer_files(Path("all-MiniLM-L6-v2"), "all-MiniLM-L6-v2")  # doctest: +SKIP
    """
    if (tf_dir / "tokenizer.json").is_file() or any((tf_dir / f).is_file() for f in _VOCAB_FILES):
        return
    if (tf_dir / "vocab.json").is_file() and (tf_dir / "merges.txt").is_file():
        return
    msg = (
        f"Model {name!r} has no tokenizer in {tf_dir}: no tokenizer.json and no vocabulary file "
        f"({', '.join(_VOCAB_FILES)}, or vocab.json with merges.txt). Without one, every word would be the unknown "
        "token. Download the model again, or copy its tokenizer files into that folder."
    )
    raise ValueError(msg)


def read_tokenizer(path: Path, name: str) -> Tokenizer:
    """The Hugging Face fast tokenizer in `path` (a tokenizer.json), or a ValueError naming the file.

    tokenizers raises a bare Exception for a file it cannot parse (empty, binary, malformed JSON, an unknown
    model): this says which file, and what to do.

    Example:
        >>> read_tokenizer(Path("all-MiniLM-L6-v2/tokenizer.json"), "all-MiniLM-L6-v2")  # doctest: +SKIP
    """
    try:
        return Tokenizer.from_file(str(path))
    except Exception as e:  # tokenizers has no error class of its own: every failure is a bare Exception
        if isinstance(e, OSError) and not path.is_file():
            raise
        why = str(e).splitlines()[0][:200] if str(e) else type(e).__name__
        msg = (
            f"Model {name!r}: {path} is not a tokenizer that Hugging Face tokenizers can read ({why}). The file "
            "looks damaged or incomplete: download the model again."
        )
        raise ValueError(msg) from e


def check_dense_heads(description: TransformerDescription) -> None:
    """Refuse a Dense head whose safetensors weights do not have the shapes its config.json declares.

    Example:
        >>> check_dense_heads(static2d._model.describe(Path("all-MiniLM-L6-v2"), "m"))  # doctest: +SKIP
    """
    for dense in description.pipeline.dense:
        path = dense.folder / "model.safetensors"
        if not path.is_file():
            continue  # a pickle alone is refused by check_no_pickled_modules; ONNX says the rest
        found = {key: info.shape for key, info in read_header(path).items()}
        expected: dict[str, tuple[int, ...]] = {"linear.weight": (dense.out_features, dense.in_features)}
        if dense.bias:
            expected["linear.bias"] = (dense.out_features,)
        wrong = [
            f"{key} {found.get(key, 'missing')} (expected {shape})"
            for key, shape in expected.items()
            if found.get(key) != shape
        ]
        if wrong:
            msg = (
                f"Model {description.name!r}: the Dense head in {dense.folder} does not fit its config.json "
                f"(in_features {dense.in_features}, out_features {dense.out_features}, bias {dense.bias}): "
                f"{'; '.join(wrong)} in {path}. The files look damaged or mismatched: download the model again."
            )
            raise ValueError(msg)


def check_no_pickled_modules(folder: Path, name: str) -> None:
    """Refuse a module whose weights exist only as a pickle (pytorch_model.bin, ...): static2d never unpickles.

    Example:
        >>> check_no_pickled_modules(Path("all-MiniLM-L6-v2"), "all-MiniLM-L6-v2")  # doctest: +SKIP
    """
    for module in _modules(folder) or [{"path": "", "type": "Transformer"}]:
        path = folder / str(module.get("path") or "")
        pickles = sorted(p.name for pattern in _PICKLES for p in path.glob(pattern))
        if pickles and not any(path.glob("*.safetensors")):
            kind = str(module.get("type", "module")).rsplit(".", 1)[-1]
            msg = (
                f"Model {name!r}: the {kind} module in {path} has its weights only as {pickles}, a pickle, which "
                "can run arbitrary code when loaded; static2d loads safetensors only and will not read it. Use a "
                "revision of the model with model.safetensors, or convert the file once where you trust it "
                "(safetensors.torch.save_file(torch.load(f, weights_only=True), 'model.safetensors'))."
            )
            raise ValueError(msg)


def _modules(folder: Path) -> list[dict[str, Any]]:
    path = folder / "modules.json"
    return [m for m in read_json(path, list) if isinstance(m, dict)] if path.is_file() else []


def check_transformer_files(description: TransformerDescription) -> None:
    """The checks that need no torch: a tokenizer that reads, no pickled module, whole weights, fitting heads.

    Reading tokenizer.json costs a parse of the file (tens of ms for a 30,000-word vocabulary).

    Example:
        >>> check_transformer_files(static2d._model.describe(Path("all-MiniLM-L6-v2"), "m"))  # doctest: +SKIP
    """
    tf_dir = description.pipeline.tf_dir
    check_tokenizer_files(tf_dir, description.name)
    if (tf_dir / "tokenizer.json").is_file():
        read_tokenizer(tf_dir / "tokenizer.json", description.name)
    check_no_pickled_modules(description.folder, description.name)
    checkpoint_tensors(tf_dir)
    check_dense_heads(description)


# Float dtypes of safetensors that numpy reads; bfloat16 is read as its bits (numpy has no bfloat16).
_NUMPY_FLOATS: dict[str, type[np.floating[Any]]] = {"F64": np.float64, "F32": np.float32, "F16": np.float16}
_BLOCK = 1 << 24  # bytes of a tensor checked at a time


def _all_finite(data: npt.NDArray[np.uint8], dtype: str) -> bool:
    """Whether raw little-endian tensor bytes of a float dtype hold no NaN and no infinity."""
    if dtype == "BF16":
        bits = data.view(np.uint16)
        return not bool(((bits & 0x7F80) == 0x7F80).any())  # exponent all ones: infinity or NaN
    return bool(np.isfinite(data.view(_NUMPY_FLOATS[dtype])).all())


def check_finite_weights(tf_dir: Path, name: str, keep: Callable[[str], bool]) -> None:
    """Refuse a transformer whose float weights (those named by `keep`) hold NaN or infinity.

    Each safetensors file is memory-mapped and its tensors read a block (16 MB) at a time, so the check needs no
    torch and little memory. Cost: one read of the weights that run (~0.1 s per 100 MB from the page cache on
    one core); integer tensors are skipped.

    Example:
        >>> check_finite_weights(Path("all-MiniLM-L6-v2"), "all-MiniLM-L6-v2", lambda key: True)  # doctest: +SKIP
    """
    bad: list[str] = []
    files: set[Path] = set()
    for path in sorted({path for _, path in checkpoint_tensors(tf_dir).values()}):
        floats = (*_NUMPY_FLOATS, "BF16")
        tensors = {k: info for k, info in read_header(path).items() if keep(k) and info.dtype in floats}
        if not tensors:
            continue
        raw = np.memmap(path, dtype=np.uint8, mode="r")
        for key, info in tensors.items():
            width = 2 if info.dtype in ("F16", "BF16") else (4 if info.dtype == "F32" else 8)
            step = _BLOCK - _BLOCK % width
            if not all(
                _all_finite(raw[start : min(start + step, info.end)], info.dtype)
                for start in range(info.begin, info.end, step)
            ):
                bad.append(key)
                files.add(path)
        del raw
    if bad:
        shown = ", ".join(sorted(bad)[:SHOWN]) + (f" (and {len(bad) - SHOWN} more)" if len(bad) > SHOWN else "")
        msg = (
            f"Model {name!r}: the weights in {', '.join(map(str, sorted(files)))} hold NaN or infinite values in "
            f"{len(bad)} tensor(s): {shown}. Every text would get a NaN vector. The file is damaged: download the "
            "model again."
        )
        raise ValueError(msg)


def check_finite(table: npt.NDArray[np.floating[Any]], path: Path, name: str) -> None:
    """Refuse an embedding table holding NaN or infinity (its texts would get NaN vectors).

    Example:
        >>> check_finite(np.zeros((2, 2), dtype=np.float32), Path("model.safetensors"), "m")
    """
    step = max(1, (1 << 22) // max(1, table.shape[1]))  # rows per block: a few MB of flags at a time
    bad = [
        start + np.flatnonzero(~np.isfinite(table[start : start + step]).all(axis=1))
        for start in range(0, table.shape[0], step)
    ]
    rows = np.concatenate(bad) if bad else np.empty(0, dtype=np.intp)
    if rows.size == 0:
        return
    shown = ", ".join(str(r) for r in rows[:SHOWN]) + (" ..." if rows.size > SHOWN else "")
    msg = (
        f"Static model {name!r}: the embedding table in {path} holds NaN or infinite values in {rows.size} row(s) "
        f"(rows {shown}); the texts holding those tokens would get NaN vectors. The file is damaged: download the "
        "model again."
    )
    raise ValueError(msg)
