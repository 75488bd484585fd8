"""Find a model's files (local directory or Hugging Face hub id) and tell which kind of model they hold."""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

Kind = Literal["static", "transformer"]
Format = Literal["model2vec", "sentence-transformers-static", "sentence-transformers"]

# What a model needs on disk: configs, tokenizers, safetensors weights. Never pickles (*.bin, *.pt), never ONNX
# or other runtimes' files: they are not read and would only cost download time.
_ALLOW_PATTERNS = ["*.json", "*.safetensors", "*.txt", "*.model", "*.md"]
_REMOTE_CODE_PATTERNS = ["*.py"]
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.\-]*(/[\w.\-]+)?$")


@dataclass(frozen=True)
class ModelFiles:
    """A model resolved to a local directory, with what was learned from its configs."""

    folder: Path
    kind: Kind
    format: Format
    name: str
    # static: the directory holding model.safetensors and tokenizer.json
    static_dir: Path | None = None
    # transformer: layer count and output dimension read from the configs, before any weights are loaded
    max_layers: int | None = None
    max_dims: int | None = None
    architecture: str = ""
    prompts: dict[str, str] = field(default_factory=dict)
    default_prompt_name: str | None = None
    normalizes: bool = False


def _read_json(path: Path) -> Any:  # noqa: ANN401 - JSON is whatever the file holds
    try:
        with path.open(encoding="utf-8") as f:
            return json.load(f)
    except json.JSONDecodeError as e:
        msg = f"{path} is not valid JSON ({e}). The model files look damaged: download the model again."
        raise ValueError(msg) from e


def is_local(model: str) -> bool:
    """Whether `model` names a local directory (or cannot be a hub id, so can only be a path)."""
    return Path(model).expanduser().exists() or not _HUB_ID.match(model)


def locate(
    model: str | os.PathLike[str],
    *,
    revision: str | None,
    cache_folder: str | os.PathLike[str] | None,
    local_files_only: bool,
    trust_remote_code: bool,
    token: str | bool | None = None,
) -> Path:
    """Return the local directory holding `model`: the directory itself, or its snapshot in the hub cache."""
    if isinstance(model, os.PathLike):
        model = os.fspath(model)
    if not isinstance(model, str) or not model.strip():
        msg = (
            f"model must be a Hugging Face hub id (like 'sentence-transformers/static-retrieval-mrl-en-v1') "
            f"or a local directory, got {model!r}."
        )
        raise ValueError(msg)
    path = Path(model).expanduser()
    if path.is_dir():
        return path.resolve()
    if path.exists():
        msg = f"model={model!r} is a file; pass the directory that holds the model's files instead."
        raise ValueError(msg)
    if not _HUB_ID.match(model):
        msg = (
            f"model={model!r} is neither an existing local directory nor a valid Hugging Face hub id "
            "('owner/name'). Check the path, or pass a hub id."
        )
        raise ValueError(msg)
    return _snapshot(
        model,
        revision=revision,
        cache_folder=cache_folder,
        local_files_only=local_files_only,
        trust_remote_code=trust_remote_code,
        token=token,
    )


def _snapshot(
    repo_id: str,
    *,
    revision: str | None,
    cache_folder: str | os.PathLike[str] | None,
    local_files_only: bool,
    trust_remote_code: bool,
    token: str | bool | None,
) -> Path:
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import (
        GatedRepoError,
        LocalEntryNotFoundError,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    patterns = _ALLOW_PATTERNS + (_REMOTE_CODE_PATTERNS if trust_remote_code else [])
    try:
        folder = snapshot_download(
            repo_id,
            revision=revision,
            cache_dir=None if cache_folder is None else os.fspath(cache_folder),
            local_files_only=local_files_only,
            allow_patterns=patterns,
            token=token,
        )
    except GatedRepoError as e:
        msg = f"{repo_id!r} is a gated model: accept its terms on the hub and log in (`hf auth login`) first."
        raise OSError(msg) from e
    except RepositoryNotFoundError as e:
        msg = (
            f"No model {repo_id!r} on the Hugging Face hub (or it is private). Check the id, log in for a private "
            "model, or pass a local directory."
        )
        raise ValueError(msg) from e
    except RevisionNotFoundError as e:
        msg = f"Model {repo_id!r} has no revision {revision!r}. Pass an existing branch, tag or commit."
        raise ValueError(msg) from e
    except LocalEntryNotFoundError as e:
        offline = os.environ.get("HF_HUB_OFFLINE", "").lower() in {"1", "true", "yes", "on"}
        why = "HF_HUB_OFFLINE is set" if offline else ("local_files_only=True" if local_files_only else "no network")
        msg = (
            f"Model {repo_id!r} is not in the local cache ({cache_folder or 'the default Hugging Face cache'}) and "
            f"cannot be downloaded ({why}). Download it once with network access (unset HF_HUB_OFFLINE / "
            "local_files_only), or pass the path of a local directory holding the model."
        )
        raise OSError(msg) from e
    return Path(folder)


def inspect_folder(folder: Path, name: str) -> ModelFiles:
    """Tell the model's kind and format from its files, and read what can be known without loading weights."""
    prompts, default_prompt_name = _read_prompts(folder)
    modules_file = folder / "modules.json"
    config = _read_json(folder / "config.json") if (folder / "config.json").is_file() else {}
    if not isinstance(config, dict):
        config = {}
    is_model2vec = config.get("model_type") == "model2vec" or (
        not modules_file.is_file() and _has_static_files(folder) and "num_hidden_layers" not in config
    )
    if modules_file.is_file():
        modules = _read_json(modules_file)
        types = [str(m.get("type", "")) for m in modules] if isinstance(modules, list) else []
        normalizes = any(t.endswith("Normalize") for t in types)
        static = [m for m in modules if str(m.get("type", "")).endswith("StaticEmbedding")]
        if static:
            static_dir = folder / str(static[0].get("path") or ".")
            fmt: Format = (
                "model2vec"
                if is_model2vec and static_dir.resolve() == folder.resolve()
                else ("sentence-transformers-static")
            )
            _check_static_files(static_dir, name)
            return ModelFiles(
                folder,
                "static",
                fmt,
                name,
                static_dir=static_dir,
                prompts=prompts,
                default_prompt_name=default_prompt_name,
                normalizes=normalizes,
                max_dims=_table_width(static_dir),
            )
        if any(t.endswith(".Transformer") or t.endswith("models.Transformer") for t in types):
            return _transformer_files(
                folder,
                name,
                config,
                modules,
                prompts=prompts,
                default_prompt_name=default_prompt_name,
                normalizes=normalizes,
            )
        msg = (
            f"Model {name!r} is a sentence-transformers model with modules {types}, which static2d does not run: "
            "it needs a StaticEmbedding module (static model) or a Transformer module (2D-Matryoshka model)."
        )
        raise ValueError(msg)
    if is_model2vec:
        _check_static_files(folder, name)
        return ModelFiles(
            folder,
            "static",
            "model2vec",
            name,
            static_dir=folder,
            prompts=prompts,
            default_prompt_name=default_prompt_name,
            normalizes=bool(config.get("normalize", False)),
            max_dims=_table_width(folder),
        )
    if config.get("num_hidden_layers") or config.get("n_layers"):
        # A plain Hugging Face transformer: sentence-transformers wraps it with mean pooling.
        return _transformer_files(
            folder, name, config, [], prompts=prompts, default_prompt_name=default_prompt_name, normalizes=False
        )
    found = sorted(p.name for p in folder.iterdir())[:20]
    msg = (
        f"Cannot tell what model {name!r} is: {folder} holds {found}. static2d reads model2vec models "
        "(config.json + model.safetensors + tokenizer.json), sentence-transformers models (modules.json), and "
        "Hugging Face transformers (config.json with num_hidden_layers). Pass the directory of such a model."
    )
    raise ValueError(msg)


def _has_static_files(folder: Path) -> bool:
    return (folder / "model.safetensors").is_file() and (folder / "tokenizer.json").is_file()


def _check_static_files(folder: Path, name: str) -> None:
    missing = [f for f in ("model.safetensors", "tokenizer.json") if not (folder / f).is_file()]
    if missing:
        msg = (
            f"Static model {name!r} is missing {missing} in {folder}. static2d loads safetensors weights only: "
            "re-save the model with safetensors, or download it again."
        )
        raise ValueError(msg)


def _table_width(folder: Path) -> int | None:
    """The static table's width, from the safetensors header alone (no weights are read)."""
    from safetensors import SafetensorError, safe_open

    try:
        with safe_open(str(folder / "model.safetensors"), framework="numpy") as f:
            for key in ("embeddings", "embedding.weight"):
                if key in f.keys():  # noqa: SIM118 - safe_open has keys(), not __contains__
                    shape = f.get_slice(key).get_shape()
                    return int(shape[1]) if len(shape) == 2 else None
    except (SafetensorError, OSError):
        return None  # reported with the right words when the table is loaded
    return None


def _read_prompts(folder: Path) -> tuple[dict[str, str], str | None]:
    path = folder / "config_sentence_transformers.json"
    if not path.is_file():
        return {}, None
    cfg = _read_json(path)
    prompts = cfg.get("prompts") or {}
    return {str(k): str(v) for k, v in prompts.items()}, cfg.get("default_prompt_name")


def _transformer_files(
    folder: Path,
    name: str,
    config: dict[str, Any],
    modules: list[dict[str, Any]],
    *,
    prompts: dict[str, str],
    default_prompt_name: str | None,
    normalizes: bool,
) -> ModelFiles:
    tf_module = next((m for m in modules if str(m.get("type", "")).endswith("Transformer")), {"path": ""})
    tf_dir = folder / str(tf_module.get("path") or "")
    if tf_dir != folder and (tf_dir / "config.json").is_file():
        config = _read_json(tf_dir / "config.json")
    if not any(tf_dir.glob("*.safetensors")):
        msg = (
            f"Model {name!r} ships no safetensors weights in {tf_dir}; static2d loads weights from safetensors "
            "only (never pickles). Use a revision with model.safetensors, or convert the model."
        )
        raise ValueError(msg)
    max_layers = config.get("num_hidden_layers", config.get("n_layers"))
    max_dims = config.get("hidden_size", config.get("dim", config.get("d_model")))
    for m in modules:  # a Dense head changes the output size
        if str(m.get("type", "")).endswith("Dense"):
            dense_cfg = folder / str(m.get("path", "")) / "config.json"
            if dense_cfg.is_file():
                max_dims = _read_json(dense_cfg).get("out_features", max_dims)
    archs = config.get("architectures") or [config.get("model_type", "unknown")]
    return ModelFiles(
        folder,
        "transformer",
        "sentence-transformers",
        name,
        max_layers=int(max_layers) if max_layers else None,
        max_dims=int(max_dims) if max_dims else None,
        architecture=str(archs[0]),
        prompts=prompts,
        default_prompt_name=default_prompt_name,
        normalizes=normalizes,
    )
