"""The 2D-Matryoshka encoder on ONNX Runtime: the transformer cut to its first `layers` layers *in the graph*.

The cut model is exported once from the (already layer-truncated) Hugging Face model with torch, cached on disk
per (model, content hash of its weights and config, layers), and verified on every load. Encoding a cached cut
model needs onnxruntime, tokenizers and numpy only: no torch. Everything after the transformer (tokenisation,
pooling, Dense, Normalize, prompts) is done here exactly as sentence-transformers does it.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import json
import logging
import os
import re
import shutil
import tempfile
import threading
import warnings
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import numpy as np
import numpy.typing as npt

from static2d._resolve import ModelFiles, is_local

logger = logging.getLogger("static2d")

RUN_HINT = "pip install 'static2d-core[onnx]'"
EXPORT_HINT = "pip install 'static2d-core[onnx-export]'"
BACKENDS = ("auto", "torch", "onnx")

# Bump when the exported graph changes: older cache entries are then not reused.
_FORMAT = 1
_OPSET = 17
_META = "static2d.json"
_MODEL = "model.onnx"
# A tokenizer_config.json "model_max_length" at least this large means "no limit" (transformers' sentinel).
_NO_LIMIT = 10**20
# Pooling modes in the order sentence-transformers' legacy `pooling_mode_*` keys concatenate them.
_LEGACY_POOLING = (
    ("pooling_mode_cls_token", "cls"),
    ("pooling_mode_max_tokens", "max"),
    ("pooling_mode_mean_tokens", "mean"),
    ("pooling_mode_mean_sqrt_len_tokens", "mean_sqrt_len_tokens"),
    ("pooling_mode_weightedmean_tokens", "weightedmean"),
    ("pooling_mode_lasttoken", "lasttoken"),
)
_ACTIVATIONS: dict[str, Callable[[npt.NDArray[np.float32]], npt.NDArray[np.float32]]] = {
    "torch.nn.modules.linear.Identity": lambda x: x,
    "torch.nn.modules.activation.Tanh": np.tanh,
    "torch.nn.modules.activation.ReLU": lambda x: np.maximum(x, 0),
    "torch.nn.modules.activation.Sigmoid": lambda x: np.reciprocal(1 + np.exp(-x)),
}


class OnnxUnsupportedError(ValueError):
    """The model cannot run on ONNX Runtime here (a module, an architecture or an export static2d cannot do)."""


def _read_json(path: Path) -> Any:  # noqa: ANN401 - JSON is whatever the file holds
    with path.open(encoding="utf-8") as f:
        return json.load(f)


# --- what runs around the transformer ------------------------------------------------------------------------


@dataclass(frozen=True)
class _Dense:
    weight: npt.NDArray[np.float32]  # (out, in)
    bias: npt.NDArray[np.float32] | None
    activation: Callable[[npt.NDArray[np.float32]], npt.NDArray[np.float32]]
    residual: npt.NDArray[np.float32] | None  # (out, in) projection, or an identity residual as a 0-d marker

    def __call__(self, x: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
        out = x @ self.weight.T
        if self.bias is not None:
            out = out + self.bias
        out = self.activation(out)
        if self.residual is not None:
            out = out + (x if self.residual.ndim == 0 else x @ self.residual.T)
        return np.asarray(out, dtype=np.float32)


@dataclass(frozen=True)
class Pipeline:
    """A sentence-transformers model read from its configs: the transformer's folder and what follows it."""

    tf_dir: Path
    max_length: int | None
    do_lower_case: bool
    pooling: tuple[str, ...]
    include_prompt: bool
    dense: tuple[_Dense, ...] = field(default=())
    normalize: bool = False


def _module_kind(type_name: str) -> str:
    return type_name.rsplit(".", 1)[-1]


def read_pipeline(files: ModelFiles, max_length: int | None = None) -> Pipeline:
    """Read modules.json and the module configs (no weights but a Dense head's); refuse what ONNX cannot run."""
    folder = files.folder
    modules_file = folder / "modules.json"
    modules: list[dict[str, Any]] = _read_json(modules_file) if modules_file.is_file() else []
    kinds = [_module_kind(str(m.get("type", ""))) for m in modules]
    if modules and kinds[0] != "Transformer":
        msg = f"{files.name!r} starts with a {kinds[0]} module; backend='onnx' runs a Transformer module first."
        raise OnnxUnsupportedError(msg)
    tf_dir = folder / str(modules[0].get("path") or "") if modules else folder
    pooling: tuple[str, ...] = ("mean",)  # what sentence-transformers adds to a plain Hugging Face model
    include_prompt = True
    dense: list[_Dense] = []
    normalize = False
    for module, kind in zip(modules[1:], kinds[1:], strict=True):
        path = folder / str(module.get("path") or "")
        if kind == "Pooling":
            pooling, include_prompt = _read_pooling(path / "config.json")
        elif kind == "Dense":
            dense.append(_read_dense(path, files.name))
        elif kind == "Normalize":
            normalize = True
        else:
            msg = (
                f"{files.name!r} has a {kind} module, which backend='onnx' does not run (it runs Transformer, "
                "Pooling, Dense and Normalize). Use backend='torch'."
            )
            raise OnnxUnsupportedError(msg)
    if not (tf_dir / "tokenizer.json").is_file():
        msg = f"{files.name!r} has no tokenizer.json in {tf_dir}; backend='onnx' needs a fast tokenizer's file."
        raise OnnxUnsupportedError(msg)
    st_cfg_path = tf_dir / "sentence_bert_config.json"
    st_cfg = _read_json(st_cfg_path) if st_cfg_path.is_file() else {}
    return Pipeline(
        tf_dir=tf_dir,
        max_length=max_length if max_length is not None else _max_length(tf_dir, st_cfg),
        do_lower_case=bool(st_cfg.get("do_lower_case", False)),
        pooling=pooling,
        include_prompt=include_prompt,
        dense=tuple(dense),
        normalize=normalize,
    )


def _max_length(tf_dir: Path, st_cfg: dict[str, Any]) -> int | None:
    """Tokens kept per text, as sentence-transformers' Transformer module sets the tokenizer's model_max_length."""
    if st_cfg.get("max_seq_length") is not None:
        return int(st_cfg["max_seq_length"])
    tok_cfg_path = tf_dir / "tokenizer_config.json"
    tok_cfg = _read_json(tok_cfg_path) if tok_cfg_path.is_file() else {}
    limit = tok_cfg.get("model_max_length")
    limit = int(limit) if isinstance(limit, (int, float)) and limit < _NO_LIMIT else None
    config = _read_json(tf_dir / "config.json") if (tf_dir / "config.json").is_file() else {}
    positions = config.get("max_position_embeddings")
    if isinstance(positions, int) and positions != -1:
        limit = positions if limit is None else min(limit, positions)
    return limit


def _read_pooling(path: Path) -> tuple[tuple[str, ...], bool]:
    cfg = _read_json(path) if path.is_file() else {}
    mode = cfg.get("pooling_mode")
    if mode is None:
        modes = tuple(name for key, name in _LEGACY_POOLING if cfg.get(key)) or ("mean",)
    else:
        modes = (mode,) if isinstance(mode, str) else tuple(mode)
    known = {name for _, name in _LEGACY_POOLING}
    for m in modes:
        if m not in known:
            msg = f"Unknown pooling mode {m!r} in {path}; static2d knows {sorted(known)}."
            raise OnnxUnsupportedError(msg)
    return modes, bool(cfg.get("include_prompt", True))


def _read_dense(path: Path, name: str) -> _Dense:
    cfg = _read_json(path / "config.json")
    activation_name = str(cfg.get("activation_function", "torch.nn.modules.activation.Tanh"))
    if activation_name not in _ACTIVATIONS:
        msg = (
            f"{name!r} has a Dense module with activation {activation_name}, which backend='onnx' does not run "
            f"(it runs {sorted(_ACTIVATIONS)}). Use backend='torch'."
        )
        raise OnnxUnsupportedError(msg)
    if cfg.get("module_input_name", "sentence_embedding") != "sentence_embedding":
        msg = f"{name!r} has a Dense module over token embeddings; backend='onnx' runs Dense heads after pooling."
        raise OnnxUnsupportedError(msg)
    weights = path / "model.safetensors"
    if not weights.is_file():
        msg = f"{name!r}: the Dense module in {path} has no model.safetensors (static2d never loads pickles)."
        raise OnnxUnsupportedError(msg)
    from safetensors.numpy import load_file

    tensors = load_file(str(weights))
    bias = tensors.get("linear.bias") if cfg.get("bias", True) else None
    residual: npt.NDArray[np.float32] | None = None
    if cfg.get("use_residual", False):
        residual = tensors["residual.weight"].astype(np.float32) if "residual.weight" in tensors else np.array(1.0)
    return _Dense(
        weight=tensors["linear.weight"].astype(np.float32),
        bias=None if bias is None else bias.astype(np.float32),
        activation=_ACTIVATIONS[activation_name],
        residual=residual,
    )


def pool(
    hidden: npt.NDArray[np.float32], mask: npt.NDArray[np.int64], modes: Sequence[str], prompt_length: int
) -> npt.NDArray[np.float32]:
    """sentence-transformers' Pooling over right-padded token embeddings, prompt tokens left out if asked."""
    hidden = hidden.astype(np.float32, copy=False)
    original = mask
    if prompt_length:
        mask = mask.copy()
        mask[:, :prompt_length] = 0
    fmask = mask.astype(np.float32)
    out: list[npt.NDArray[np.float32]] = []
    for mode in modes:
        if mode == "cls":
            first = mask.argmax(axis=1)
            out.append(hidden[np.arange(len(hidden)), first])
        elif mode == "max":
            out.append(np.where(fmask[:, :, None] > 0, hidden, -np.inf).max(axis=1).astype(np.float32))
        elif mode in ("mean", "mean_sqrt_len_tokens"):
            total = np.einsum("bsh,bs->bh", hidden, fmask)
            count = np.maximum(fmask.sum(axis=1, keepdims=True), 1e-9)
            out.append(total / (count if mode == "mean" else np.sqrt(count)))
        elif mode == "weightedmean":
            start = original.argmax(axis=1)[:, None]  # 0 for right padding
            weights = fmask * (np.arange(1, hidden.shape[1] + 1, dtype=np.float32)[None, :] - start)
            total = np.einsum("bsh,bs->bh", hidden, weights)
            out.append(total / np.maximum(weights.sum(axis=1, keepdims=True), 1e-9))
        elif mode == "lasttoken":
            seq = mask.shape[1]
            flipped = mask[:, ::-1]
            idx = np.where(flipped.max(axis=1) == 0, seq - 1, flipped.argmax(axis=1))
            last = seq - idx - 1
            out.append(hidden[np.arange(len(hidden)), last] * fmask[np.arange(len(hidden)), last][:, None])
    return np.ascontiguousarray(np.concatenate(out, axis=1), dtype=np.float32)


# --- the cache of cut models -----------------------------------------------------------------------------------


def cache_root() -> Path:
    """Where cut models are kept: $STATIC2D_ONNX_CACHE, else $XDG_CACHE_HOME/static2d/onnx (~/.cache/...)."""
    explicit = os.environ.get("STATIC2D_ONNX_CACHE")
    if explicit:
        return Path(explicit).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "static2d" / "onnx"


_HASHES: dict[tuple[str, int, int], str] = {}
_HASHES_LOCK = threading.Lock()
_BLOB = re.compile(r"^[0-9a-f]{64}$")


def _sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _content_id(path: Path) -> str:
    """sha256 of a file: the hub cache's blob name when it is one (the hub names LFS blobs so), else computed."""
    real = path.resolve()
    if real.parent.name == "blobs" and _BLOB.match(real.name):
        return real.name
    stat = real.stat()
    key = (str(real), stat.st_size, stat.st_mtime_ns)
    with _HASHES_LOCK:
        known = _HASHES.get(key)
    if known is None:
        known = _sha256_file(real)
        with _HASHES_LOCK:
            _HASHES[key] = known
    return known


def weights_id(tf_dir: Path) -> str:
    """A content hash of what the exported graph depends on: the safetensors weights and config.json."""
    h = hashlib.sha256(f"static2d-onnx/{_FORMAT}/opset{_OPSET}".encode())
    for path in [*sorted(tf_dir.glob("*.safetensors")), tf_dir / "config.json"]:
        if path.is_file():
            h.update(f"|{path.name}={_content_id(path)}".encode())
    return h.hexdigest()


def entry_path(files: ModelFiles, tf_dir: Path, layers: int) -> Path:
    """The cache directory of `files` cut to `layers` (named for people, keyed by content)."""
    name = Path(files.name).name if is_local(files.name) else files.name  # a folder's name, or the hub id
    slug = re.sub(r"[^A-Za-z0-9_.-]+", "--", name)[-60:].strip("-.") or "model"
    return cache_root() / f"{slug}-L{layers}-{weights_id(tf_dir)[:20]}"


@dataclass(frozen=True)
class CutModel:
    """A verified cache entry: the graph (bytes, or a path when it keeps weights in external files)."""

    entry: Path
    model: bytes | Path
    inputs: tuple[str, ...]


def verify(entry: Path) -> CutModel | None:
    """The entry's model if every file matches the sha256 its sidecar records; None if missing or damaged."""
    try:
        meta = _read_json(entry / _META)
        recorded: dict[str, dict[str, Any]] = meta["files"]
        if meta.get("format") != _FORMAT or _MODEL not in recorded:
            return None
        data = b""
        for name, info in recorded.items():
            path = entry / name
            if path.stat().st_size != int(info["size"]):
                return None
            if name == _MODEL:
                data = path.read_bytes()
                digest = hashlib.sha256(data).hexdigest()
            else:
                digest = _sha256_file(path)
            if digest != info["sha256"]:
                return None
        model: bytes | Path = data if len(recorded) == 1 else entry / _MODEL
        return CutModel(entry, model, tuple(meta["inputs"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _install(tmp: Path, entry: Path) -> None:
    """Move a finished build into place atomically; a valid entry someone else installed meanwhile is kept."""
    for _ in range(3):
        try:
            os.rename(tmp, entry)
            return
        except OSError:
            if verify(entry) is not None:
                return  # another process (or thread) won the race with an equally good model
            trash = entry.with_name(f".{entry.name}.{os.getpid()}.{threading.get_ident()}.broken")
            with contextlib.suppress(OSError):
                os.rename(entry, trash)
            shutil.rmtree(trash, ignore_errors=True)
    os.rename(tmp, entry)


def cut_model(files: ModelFiles, pipeline: Pipeline, layers: int, *, trust_remote_code: bool) -> CutModel:
    """The verified cut model of `files` at `layers` from the cache, exported (and cached) first if need be."""
    entry = entry_path(files, pipeline.tf_dir, layers)
    found = verify(entry)
    if found is not None:
        return found
    if (entry / _META).exists():
        logger.warning("The cached ONNX model %s is damaged or incomplete; exporting it again.", entry)
    _require_export_tools(files.name)
    entry.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{entry.name}.", suffix=".tmp", dir=entry.parent))
    try:
        inputs = export(files, pipeline, layers, tmp / _MODEL, trust_remote_code=trust_remote_code)
        meta = {
            "format": _FORMAT,
            "model": files.name,
            "layers": layers,
            "max_layers": files.max_layers,
            "weights": weights_id(pipeline.tf_dir),
            "opset": _OPSET,
            "inputs": list(inputs),
            "files": {p.name: {"sha256": _sha256_file(p), "size": p.stat().st_size} for p in sorted(tmp.iterdir())},
        }
        with (tmp / _META).open("w", encoding="utf-8") as f:
            json.dump(meta, f, indent=1)
            f.flush()
            os.fsync(f.fileno())
        _install(tmp, entry)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    found = verify(entry)
    if found is None:
        msg = f"The ONNX model written to {entry} does not verify (is the disk full, or the folder shared?)."
        raise OSError(msg)
    return found


# --- export (torch, once per model and depth) ------------------------------------------------------------------


def can_export() -> bool:
    """Whether torch, transformers and onnx are installed (without importing them)."""
    return all(importlib.util.find_spec(m) is not None for m in ("torch", "transformers", "onnx"))


def _require_export_tools(name: str) -> None:
    missing = [m for m in ("torch", "transformers", "onnx") if importlib.util.find_spec(m) is None]
    if missing:
        msg = (
            f"No cut ONNX model of {name!r} at these layers is cached ({cache_root()}), and exporting one needs "
            f"{', '.join(missing)}, which {'is' if len(missing) == 1 else 'are'} not installed. Install them once "
            f"with {EXPORT_HINT} (later loads then need onnxruntime only), or use backend='torch'."
        )
        raise ImportError(msg)


def _sample_batch(tokenizer: Any, texts: list[str], inputs: Sequence[str], pad_id: int) -> dict[str, Any]:  # noqa: ANN401
    encodings = tokenizer.encode_batch(texts)
    width = max(len(e.ids) for e in encodings)
    ids = np.full((len(texts), width), pad_id, dtype=np.int64)
    mask = np.zeros((len(texts), width), dtype=np.int64)
    types = np.zeros((len(texts), width), dtype=np.int64)
    for i, e in enumerate(encodings):
        ids[i, : len(e.ids)] = e.ids
        mask[i, : len(e.ids)] = 1
        types[i, : len(e.ids)] = e.type_ids
    batch = {"input_ids": ids, "attention_mask": mask, "token_type_ids": types}
    return {k: batch[k] for k in inputs}


def export(files: ModelFiles, pipeline: Pipeline, layers: int, dest: Path, *, trust_remote_code: bool) -> list[str]:
    """Export the Hugging Face model cut to `layers` to `dest` (dynamic batch and sequence), and check it.

    The graph's output (last_hidden_state) is compared with torch's on a batch of another shape than the one
    traced; an architecture whose graph does not generalise is refused with OnnxUnsupportedError.
    """
    import inspect

    import torch
    from transformers import AutoModel

    from static2d._transformer import quiet_transformers, truncate_layers

    try:
        with quiet_transformers():
            model = AutoModel.from_pretrained(
                str(pipeline.tf_dir),
                use_safetensors=True,
                local_files_only=True,
                trust_remote_code=trust_remote_code,
                attn_implementation="eager",
                dtype=torch.float32,
            )
    except (ValueError, TypeError) as e:
        msg = f"Cannot load {files.name!r} ({files.architecture}) for ONNX export: {e}. Use backend='torch'."
        raise OnnxUnsupportedError(msg) from e
    model.eval()
    if files.max_layers is not None and 0 < layers < files.max_layers:
        truncate_layers(model, layers)
    accepted = inspect.signature(model.forward).parameters
    inputs = [n for n in ("input_ids", "attention_mask", "token_type_ids") if n in accepted]
    if inputs[:2] != ["input_ids", "attention_mask"]:
        msg = f"{files.architecture} takes no input_ids / attention_mask; backend='onnx' cannot run it."
        raise OnnxUnsupportedError(msg)

    class _LastHiddenState(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, *args: Any) -> Any:  # noqa: ANN401 - tensors
            return self.model(**dict(zip(inputs, args, strict=True))).last_hidden_state

    tokenizer = _tokenizer(pipeline)
    pad_id = _pad_id(pipeline.tf_dir, tokenizer)
    traced = _sample_batch(tokenizer, ["a panda eats bamboo in the forest", "hello"], inputs, pad_id)
    longer = ["the river bank", "x", "what is the capital city of a country? " * 3]
    check = _sample_batch(tokenizer, longer, inputs, pad_id)
    with torch.no_grad():
        expected = model(**{k: torch.from_numpy(v) for k, v in check.items()}).last_hidden_state.numpy()
        dynamic = {n: {0: "batch", 1: "sequence"} for n in [*inputs, "last_hidden_state"]}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # tracer and deprecation warnings, about torch's code, not ours
            try:
                torch.onnx.export(
                    _LastHiddenState(),
                    tuple(torch.from_numpy(traced[n]) for n in inputs),
                    str(dest),
                    input_names=inputs,
                    output_names=["last_hidden_state"],
                    dynamic_axes=dynamic,
                    opset_version=_OPSET,
                    do_constant_folding=True,
                    dynamo=False,
                )
            except Exception as e:  # the exporter raises many kinds; all mean the same here
                msg = f"torch cannot export {files.architecture} to ONNX: {e}. Use backend='torch'."
                raise OnnxUnsupportedError(msg) from e
    import onnxruntime

    try:
        session = onnxruntime.InferenceSession(str(dest), providers=["CPUExecutionProvider"])
        got = session.run(None, check)[0]
    except Exception as e:  # onnxruntime's errors have no common base but Exception
        msg = (
            f"The ONNX export of {files.architecture} does not run on inputs of another shape than the traced one "
            f"({e}). static2d cannot run it on ONNX Runtime: use backend='torch'."
        )
        raise OnnxUnsupportedError(msg) from e
    mask = check["attention_mask"][:, :, None].astype(bool)
    error = float(np.abs(np.where(mask, got - expected, 0)).max())
    scale = max(1.0, float(np.abs(expected).max()))
    if not error <= 1e-3 * scale:
        msg = (
            f"The ONNX export of {files.architecture} does not reproduce torch on inputs of another shape than "
            f"the traced one (max difference {error:.3g}): its graph depends on the traced shape, so static2d "
            "cannot run it on ONNX Runtime. Use backend='torch'."
        )
        raise OnnxUnsupportedError(msg)
    return inputs


# --- tokenisation ------------------------------------------------------------------------------------------------


def _tokenizer(pipeline: Pipeline) -> Any:  # noqa: ANN401 - a tokenizers.Tokenizer
    from tokenizers import Tokenizer, normalizers

    tok = Tokenizer.from_file(str(pipeline.tf_dir / "tokenizer.json"))
    tok.no_padding()
    if pipeline.do_lower_case:
        # As sentence-transformers: a Lowercase normalizer goes first unless there is one already.
        current = tok.normalizer
        # (cast: tokenizers' stubs differ between releases on whether a Sequence iterates)
        members = cast("Iterable[Any]", current) if isinstance(current, normalizers.Sequence) else [current]
        has_lower = any(isinstance(n, normalizers.Lowercase) for n in members)
        if not has_lower:
            tok.normalizer = normalizers.Sequence([normalizers.Lowercase(), *([current] if current else [])])
    if pipeline.max_length is not None:
        side = "right"
        cfg_path = pipeline.tf_dir / "tokenizer_config.json"
        if cfg_path.is_file():
            side = str(_read_json(cfg_path).get("truncation_side", "right"))
        tok.enable_truncation(int(pipeline.max_length), strategy="longest_first", direction=side)
    else:
        tok.no_truncation()
    return tok


def _pad_id(tf_dir: Path, tokenizer: Any) -> int:  # noqa: ANN401 - a tokenizers.Tokenizer
    cfg_path = tf_dir / "tokenizer_config.json"
    pad = _read_json(cfg_path).get("pad_token") if cfg_path.is_file() else None
    if isinstance(pad, dict):
        pad = pad.get("content")
    pad_id = tokenizer.token_to_id(pad) if isinstance(pad, str) else None
    return int(pad_id) if pad_id is not None else 0


def _special_ids(tokenizer: Any) -> set[int]:  # noqa: ANN401 - a tokenizers.Tokenizer
    added = json.loads(tokenizer.to_str()).get("added_tokens") or []
    return {int(t["id"]) for t in added if t.get("special")}


# --- the backend ---------------------------------------------------------------------------------------------------


def wanted(choice: str, files: ModelFiles, layers: int, device: str | None, max_length: int | None) -> bool:
    """Whether `backend=choice` runs this transformer on ONNX Runtime ("auto": when it can, else torch)."""
    if choice == "onnx":
        return True
    if choice != "auto" or device not in (None, "cpu") or importlib.util.find_spec("onnxruntime") is None:
        return False
    if (str(files.folder), layers) in _REFUSED:
        return False
    try:
        pipeline = read_pipeline(files, max_length)
    except (OnnxUnsupportedError, OSError, ValueError):
        return False
    return can_export() or (entry_path(files, pipeline.tf_dir, layers) / _META).is_file()


# (folder, layers) that "auto" found ONNX cannot run in this process: not tried again.
_REFUSED: set[tuple[str, int]] = set()


def refuse(files: ModelFiles, layers: int) -> None:
    """Remember that ONNX cannot run this model at this depth ("auto" then uses torch without trying again)."""
    _REFUSED.add((str(files.folder), layers))


class OnnxBackend:
    """A transformer cut to `layers` in an ONNX graph, run by ONNX Runtime; shared by every encoder asking for it."""

    kind = "transformer"
    runtime = "onnx"

    def __init__(
        self,
        files: ModelFiles,
        *,
        layers: int,
        device: str | None,
        trust_remote_code: bool,
        max_length: int | None,
    ) -> None:
        if device not in (None, "cpu"):
            msg = f"backend='onnx' runs on the CPU; device={device!r} needs backend='torch' (or leave device unset)."
            raise ValueError(msg)
        try:
            import onnxruntime
        except ImportError as e:
            msg = f"backend='onnx' needs onnxruntime, which is not installed: {RUN_HINT} (or use backend='torch')."
            raise ImportError(msg) from e
        self.pipeline = read_pipeline(files, max_length)
        depth = layers or files.max_layers or 0
        cut = cut_model(files, self.pipeline, depth, trust_remote_code=trust_remote_code)
        self.entry = cut.entry
        self.inputs = cut.inputs
        model = cut.model if isinstance(cut.model, bytes) else str(cut.model)
        options = onnxruntime.SessionOptions()
        options.log_severity_level = 3
        self.session = onnxruntime.InferenceSession(model, options, providers=["CPUExecutionProvider"])
        self.tokenizer = _tokenizer(self.pipeline)
        self.pad_id = _pad_id(self.pipeline.tf_dir, self.tokenizer)
        self.special_ids = _special_ids(self.tokenizer)
        self.max_layers: int | None = files.max_layers
        self.layers: int | None = depth
        self.max_length = self.pipeline.max_length
        hidden = int(self.session.get_outputs()[0].shape[-1])
        width = hidden * len(self.pipeline.pooling)
        for dense in self.pipeline.dense:
            width = int(dense.weight.shape[0])
        self.max_dims = width
        self._prompt_lengths: dict[str, int] = {}

    def prompt_length(self, prompt: str) -> int:
        """Tokens of the prompt as sentence-transformers counts them (its trailing special token left out)."""
        if not prompt:
            return 0
        known = self._prompt_lengths.get(prompt)
        if known is None:
            ids = self.tokenizer.encode(prompt).ids
            known = len(ids) - (1 if ids and ids[-1] in self.special_ids else 0)
            self._prompt_lengths[prompt] = known
        return known

    def encode_batch(self, texts: Sequence[str], dims: int, prompt: str, batch_size: int) -> npt.NDArray[np.float32]:
        """Tokenize, sort by length, run the graph batch by batch, pool; rows in the order given."""
        texts = [prompt + t for t in texts] if prompt else list(texts)
        skip = 0 if self.pipeline.include_prompt else self.prompt_length(prompt)
        encodings = self.tokenizer.encode_batch(texts)
        lengths = np.fromiter((len(e.ids) for e in encodings), dtype=np.int64, count=len(encodings))
        order = np.argsort(-lengths, kind="stable")
        out: npt.NDArray[np.float32] | None = None
        for start in range(0, len(order), batch_size):
            rows = order[start : start + batch_size]
            width = int(lengths[rows].max())
            ids = np.full((len(rows), width), self.pad_id, dtype=np.int64)
            mask = np.zeros((len(rows), width), dtype=np.int64)
            types = np.zeros((len(rows), width), dtype=np.int64)
            for i, r in enumerate(rows):
                e = encodings[r]
                n = len(e.ids)
                ids[i, :n] = e.ids
                mask[i, :n] = 1
                types[i, :n] = e.type_ids
            feed = {"input_ids": ids, "attention_mask": mask, "token_type_ids": types}
            hidden = self.session.run(None, {k: feed[k] for k in self.inputs})[0]
            vectors = pool(hidden, mask, self.pipeline.pooling, skip)
            for dense in self.pipeline.dense:
                vectors = dense(vectors)
            if self.pipeline.normalize:
                norms = np.linalg.norm(vectors, axis=1, keepdims=True)
                vectors = vectors / np.maximum(norms, 1e-12)
            if out is None:
                out = np.empty((len(texts), dims), dtype=np.float32)
            out[rows] = vectors[:, :dims]
        return out if out is not None else np.empty((0, dims), dtype=np.float32)
