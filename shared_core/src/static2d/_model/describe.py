"""Describing a model from its files: every config is read once, here, into the description the rest works from.

A static model is a `StaticDescription`, a transformer a `TransformerDescription` (with the `Pipeline` of modules
around it); `ModelDescription` is either. No weights are read (only safetensors headers).

`_detect` tells the format (model2vec, sentence-transformers static, sentence-transformers transformer, plain
Hugging Face transformer) in one place; one reader per format (`_READERS`) describes it. What a format's own
library does differently when it encodes (model2vec drops the unknown token and caps characters) is a field of the
description its reader fills, so the engines never ask which format a model is.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal, TypeAlias

from static2d._model.safetensors import try_read_header

# The formats static2d reads, each by its reader below (`_READERS`); `_detect` is the one place that tells them
# apart. A static model is described as `StaticFormat`, a transformer (either of the other two) as
# "sentence-transformers", which is how it runs.
StaticFormat = Literal["model2vec", "sentence-transformers-static"]
ModelFormat = Literal[StaticFormat, "sentence-transformers", "hugging-face"]

# The static table's tensor in model.safetensors, by format: the one list of table keys (detection reads it from the
# header, the table loader from the file), sentence-transformers' first.
TABLE_KEYS: dict[StaticFormat, str] = {"sentence-transformers-static": "embedding.weight", "model2vec": "embeddings"}


@dataclass(frozen=True)
class DenseConfig:
    """A sentence-transformers Dense head after pooling, as its config describes it (weights are read on use)."""

    folder: Path
    in_features: int
    out_features: int
    bias: bool
    activation: str
    residual: bool
    input_name: str


@dataclass(frozen=True)
class Pipeline:
    """What a sentence-transformers transformer model runs around its transformer, read from its configs."""

    tf_dir: Path  # the Hugging Face model's folder (config.json, weights, tokenizer files)
    max_length: int | None  # tokens kept per text, as sentence-transformers sets them
    do_lower_case: bool
    truncation_side: str
    pad_token: str | None
    pooling: tuple[str, ...]
    include_prompt: bool
    dense: tuple[DenseConfig, ...]
    normalize: bool
    modules: tuple[str, ...]  # the kinds of module after the transformer, in order
    first_module: str  # "Transformer" for a runnable model
    positions: int | None  # max_position_embeddings of the transformer's config


@dataclass(frozen=True)
class StaticDescription:
    """A static embedding model resolved to a local directory, with what static2d learns from its configs."""

    folder: Path
    format: StaticFormat
    name: str
    static_dir: Path  # the directory holding model.safetensors and tokenizer.json
    max_dims: int | None = None
    # How the format's own library encodes, set by its reader; the engine follows them, whatever the format:
    static_max_length: int | None = None  # tokens kept per text when the user sets no max_length (model2vec's own)
    drops_unknown: bool = False  # the unknown token is dropped before pooling (model2vec)
    caps_characters: bool = False  # texts are first cut to max_length x the median token length, in characters
    tokenizer_truncation: bool = True  # with no max_length, the tokenizer's saved truncation applies (else none)
    prompts: dict[str, str] = field(default_factory=dict)
    default_prompt_name: str | None = None
    normalizes: bool = False
    kind: Literal["static"] = field(default="static", init=False)


@dataclass(frozen=True)
class TransformerDescription:
    """A (2D-Matryoshka) transformer resolved to a local directory, with the modules around it."""

    folder: Path
    name: str
    pipeline: Pipeline
    max_dims: int | None = None
    max_layers: int | None = None  # layer count read from the configs
    architecture: str = ""
    prompts: dict[str, str] = field(default_factory=dict)
    default_prompt_name: str | None = None
    normalizes: bool = False
    kind: Literal["transformer"] = field(default="transformer", init=False)
    format: Literal["sentence-transformers"] = field(default="sentence-transformers", init=False)


ModelDescription: TypeAlias = StaticDescription | TransformerDescription


_MODEL2VEC_DEFAULT_MAX_LENGTH = 512  # model2vec's default when a model's config names no max_length
# A tokenizer_config.json "model_max_length" at least this large means "no limit" (transformers' sentinel).
_NO_LIMIT = 10**20
# Pooling modes in the order sentence-transformers' legacy `pooling_mode_*` keys concatenate them.
LEGACY_POOLING = (
    ("pooling_mode_cls_token", "cls"),
    ("pooling_mode_max_tokens", "max"),
    ("pooling_mode_mean_tokens", "mean"),
    ("pooling_mode_mean_sqrt_len_tokens", "mean_sqrt_len_tokens"),
    ("pooling_mode_weightedmean_tokens", "weightedmean"),
    ("pooling_mode_lasttoken", "lasttoken"),
)
POOLING_MODES = frozenset(name for _, name in LEGACY_POOLING)

# sentence-transformers' own module classes that static2d runs, by every full name sentence-transformers has saved
# them under in modules.json: `sentence_transformers.models.Pooling` (up to 5.x, also with the file name,
# `...models.Pooling.Pooling` or `...models.pooling.Pooling`), and the 5.4+ / 6.x homes of each class
# (`sentence_transformers.sentence_transformer.modules.pooling.Pooling`, `sentence_transformers.base.modules...`).
_ST_PACKAGES = (
    "sentence_transformers.models",
    "sentence_transformers.sentence_transformer.modules",
    "sentence_transformers.base.modules",
)
_ST_FILES = {
    "Transformer": "transformer",
    "Pooling": "pooling",
    "Dense": "dense",
    "Normalize": "normalize",
    "StaticEmbedding": "static_embedding",
}
MODULE_KINDS: dict[str, str] = {
    f"{package}.{name}": kind
    for kind, file in _ST_FILES.items()
    for package in _ST_PACKAGES
    for name in (kind, f"{kind}.{kind}", f"{file}.{kind}")
}


def module_kind(type_name: str) -> str:
    """What static2d runs a modules.json entry as: "Pooling", "Dense", ... for sentence-transformers' own classes.

    Matched by the full name, never by its last part: any other type is returned as written, and no engine runs
    it as one of these.

    Example:
        >>> module_kind("sentence_transformers.models.Pooling"), module_kind("custom_pkg.Pooling")
        ('Pooling', 'custom_pkg.Pooling')
    """
    return MODULE_KINDS.get(type_name, type_name)


def read_json(path: Path, expect: type = dict) -> Any:  # noqa: ANN401 - JSON is whatever the file holds
    """Read a model's JSON config, or say which file is damaged and how: not text, not JSON, not the shape expected."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as e:
        msg = f"{path} is missing. The model files look incomplete: download the model again."
        raise ValueError(msg) from e
    except UnicodeDecodeError as e:
        msg = f"{path} is not a text file ({e.reason}). The model files look damaged: download the model again."
        raise ValueError(msg) from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        msg = f"{path} is not valid JSON ({e}). The model files look damaged: download the model again."
        raise ValueError(msg) from None
    if not isinstance(data, expect):
        msg = (
            f"{path} holds a JSON {type(data).__name__}, but a {'list' if expect is list else 'JSON object'} was "
            "expected. The model files look damaged: download the model again."
        )
        raise ValueError(msg)
    return data


def _read_optional(path: Path, expect: type = dict) -> Any:  # noqa: ANN401 - JSON
    return read_json(path, expect) if path.is_file() else expect()


def _field(cfg: dict[str, Any], key: str, kinds: type | tuple[type, ...], path: Path, default: Any) -> Any:  # noqa: ANN401
    value = cfg.get(key, default)
    if value is not None and not isinstance(value, kinds):
        msg = f"{path}: {key!r} is {value!r}, which is not of the expected type. Fix the file or download it again."
        raise ValueError(msg)
    return value


@dataclass(frozen=True)
class _Found:
    """What `describe` reads of a model's folder once, for `_detect` and the reader of the format it tells."""

    folder: Path
    name: str
    config: dict[str, Any]  # config.json, or {}
    modules: list[dict[str, Any]] | None  # modules.json (each entry checked), None without one
    kinds: list[str]  # each module's kind (`module_kind`)
    prompts: dict[str, str]
    default_prompt_name: str | None

    def static_dir(self) -> Path:
        """The folder of the StaticEmbedding module (a sentence-transformers static model)."""
        static = next(m for m, kind in zip(self.modules or [], self.kinds, strict=True) if kind == "StaticEmbedding")
        return self.folder / str(static.get("path") or ".")


def describe(folder: Path, name: str) -> ModelDescription:
    """Tell the model's kind and format from its files, and read every config it has (no weights, only headers)."""
    found = _find(folder, name)
    return _READERS[_detect(found)](found)


def _find(folder: Path, name: str) -> _Found:
    prompts, default_prompt_name = _read_prompts(folder)
    config = _read_optional(folder / "config.json")
    modules_file = folder / "modules.json"
    modules = None
    kinds: list[str] = []
    if modules_file.is_file():
        modules = read_json(modules_file, list)
        for i, m in enumerate(modules):
            if not isinstance(m, dict) or not isinstance(m.get("type", ""), str):
                msg = f"{modules_file}: entry {i} is {m!r}, not a module ({{'type': ..., 'path': ...}})."
                raise ValueError(msg)
        types = [str(m.get("type", "")) for m in modules]
        _refuse_foreign_modules(types, modules_file, name)
        kinds = [module_kind(t) for t in types]
    return _Found(folder, name, config, modules, kinds, prompts, default_prompt_name)


def _detect(found: _Found) -> ModelFormat:
    """The one place that tells a model's format from its files."""
    if found.modules is not None:
        if "StaticEmbedding" in found.kinds:
            in_folder = found.static_dir().resolve() == found.folder.resolve()
            return "model2vec" if in_folder and _is_model2vec(found) else "sentence-transformers-static"
        if "Transformer" in found.kinds:
            return "sentence-transformers"
        types = [str(m.get("type", "")) for m in found.modules]
        msg = (
            f"Model {found.name!r} is a sentence-transformers model with modules {types}, which static2d does not "
            "run: it needs a StaticEmbedding module (static model) or a Transformer module (2D-Matryoshka model)."
        )
        raise ValueError(msg)
    if _is_model2vec(found):
        return "model2vec"
    if found.config.get("num_hidden_layers") or found.config.get("n_layers"):
        return "hugging-face"
    found_files = sorted(p.name for p in found.folder.iterdir())[:20]
    msg = (
        f"Cannot tell what model {found.name!r} is: {found.folder} holds {found_files}. static2d reads model2vec "
        "models (config.json + model.safetensors + tokenizer.json), sentence-transformers models (modules.json), "
        "and Hugging Face transformers (config.json with num_hidden_layers). Pass the directory of such a model."
    )
    raise ValueError(msg)


def _is_model2vec(found: _Found) -> bool:
    # model2vec writes its `embeddings` tensor (sentence-transformers StaticEmbedding: `embedding.weight`), with a
    # modules.json beside since 0.10, and a model_type in config.json only when it distilled the model
    return found.config.get("model_type") == "model2vec" or (
        _has_static_files(found.folder)
        and "num_hidden_layers" not in found.config
        and (found.modules is None or _table_key(found.folder) == TABLE_KEYS["model2vec"])
    )


def _read_model2vec(found: _Found) -> StaticDescription:
    """A model2vec model: the table and tokenizer in the folder, and model2vec's own way of encoding.

    As model2vec.StaticModel.encode: unknown tokens are dropped, and text is cut to max_length tokens (its
    config's, else 512) after a cheap cut to max_length x the median token length in characters; with no
    max_length at all, no truncation.
    """
    if found.modules is not None:  # model2vec 0.10+: a modules.json beside, naming this folder
        static_dir, normalizes = found.static_dir(), "Normalize" in found.kinds
    else:
        static_dir, normalizes = found.folder, bool(found.config.get("normalize", False))
    description = _static(found, static_dir, "model2vec", normalizes)
    max_length = _field(found.config, "max_length", int, static_dir / "config.json", _MODEL2VEC_DEFAULT_MAX_LENGTH)
    return replace(
        description,
        static_max_length=max_length,
        drops_unknown=True,
        caps_characters=True,
        tokenizer_truncation=False,
    )


def _read_sentence_transformers_static(found: _Found) -> StaticDescription:
    """A sentence-transformers StaticEmbedding model: no length limit of its own (the tokenizer's saved one applies)."""
    return _static(found, found.static_dir(), "sentence-transformers-static", "Normalize" in found.kinds)


def _read_sentence_transformers(found: _Found) -> TransformerDescription:
    """A sentence-transformers transformer: the modules of modules.json around its Transformer."""
    return _transformer(found, found.modules or [])


def _read_hugging_face(found: _Found) -> TransformerDescription:
    """A plain Hugging Face transformer: sentence-transformers wraps it with mean pooling."""
    return _transformer(found, [])


_READERS: dict[ModelFormat, Callable[[_Found], ModelDescription]] = {
    "model2vec": _read_model2vec,
    "sentence-transformers-static": _read_sentence_transformers_static,
    "sentence-transformers": _read_sentence_transformers,
    "hugging-face": _read_hugging_face,
}


def _refuse_foreign_modules(types: list[str], modules_file: Path, name: str) -> None:
    """Refuse a module that is not sentence-transformers' own: its code is another package's, never run here."""
    for i, type_name in enumerate(types):
        if not type_name.startswith("sentence_transformers."):
            msg = (
                f"Model {name!r}: {modules_file} names module {i} {type_name!r}, which is not one of "
                "sentence-transformers' own modules. static2d runs sentence-transformers' Transformer, Pooling, "
                "Dense, Normalize and StaticEmbedding modules, named in full (such as "
                "'sentence_transformers.models.Pooling'), and never another package's module, whatever its name "
                "ends with. Fix the type in modules.json if it is one of those, or load this model with "
                "sentence-transformers itself."
            )
            raise ValueError(msg)


def _has_static_files(folder: Path) -> bool:
    return (folder / "model.safetensors").is_file() and (folder / "tokenizer.json").is_file()


def _static(found: _Found, static_dir: Path, fmt: StaticFormat, normalizes: bool) -> StaticDescription:
    """The description of a static model in `static_dir`, encoded as sentence-transformers does (the defaults)."""
    missing = [f for f in ("model.safetensors", "tokenizer.json") if not (static_dir / f).is_file()]
    if missing:
        msg = (
            f"Static model {found.name!r} is missing {missing} in {static_dir}. static2d loads safetensors weights "
            "only: re-save the model with safetensors, or download it again."
        )
        raise ValueError(msg)
    return StaticDescription(
        found.folder,
        fmt,
        found.name,
        static_dir,
        max_dims=_table_width(static_dir),
        prompts=found.prompts,
        default_prompt_name=found.default_prompt_name,
        normalizes=normalizes,
    )


def _table(folder: Path) -> tuple[str, tuple[int, ...]] | None:
    """(key, shape) of the static table in the folder's model.safetensors, from its header alone (no weights read).

    None where it holds none or the file is unreadable (reported with the right words when the table is loaded).
    """
    header = try_read_header(folder / "model.safetensors") or {}
    key = next((k for k in TABLE_KEYS.values() if k in header), None)
    return None if key is None else (key, tuple(header[key].shape))


def _table_key(folder: Path) -> str | None:
    """Which static table the folder holds (`_table`)."""
    table = _table(folder)
    return None if table is None else table[0]


def _table_width(folder: Path) -> int | None:
    """The static table's width (`_table`), if it is two-dimensional."""
    table = _table(folder)
    return int(table[1][1]) if table is not None and len(table[1]) == 2 else None


def _read_prompts(folder: Path) -> tuple[dict[str, str], str | None]:
    path = folder / "config_sentence_transformers.json"
    cfg = _read_optional(path)
    prompts = _field(cfg, "prompts", dict, path, {}) or {}
    for key, value in prompts.items():
        if not isinstance(value, str):
            msg = f"{path}: prompt {key!r} is {value!r}, not a str. Fix the file or download the model again."
            raise ValueError(msg)
    return dict(prompts), _field(cfg, "default_prompt_name", str, path, None)


def _transformer(found: _Found, modules: list[dict[str, Any]]) -> TransformerDescription:
    folder, name, config = found.folder, found.name, found.config
    kinds = [module_kind(str(m.get("type", ""))) for m in modules]
    tf_dir = folder / str(modules[0].get("path") or "") if modules else folder
    if tf_dir != folder and (tf_dir / "config.json").is_file():
        config = read_json(tf_dir / "config.json")
    if not any(tf_dir.glob("*.safetensors")):
        msg = (
            f"Model {name!r} ships no safetensors weights in {tf_dir}; static2d loads weights from safetensors "
            "only (never pickles). Use a revision with model.safetensors, or convert the model."
        )
        raise ValueError(msg)
    cfg_path = tf_dir / "config.json"
    max_layers = _field(config, "num_hidden_layers", int, cfg_path, None) or _field(
        config, "n_layers", int, cfg_path, None
    )
    hidden = config.get("hidden_size", config.get("dim", config.get("d_model")))
    if hidden is not None and (isinstance(hidden, bool) or not isinstance(hidden, int)):
        msg = f"{cfg_path}: hidden_size is {hidden!r}, not a whole number. Fix the file or download it again."
        raise ValueError(msg)
    positions = _field(config, "max_position_embeddings", int, cfg_path, None)
    pooling: tuple[str, ...] = ("mean",)  # what sentence-transformers adds to a plain Hugging Face model
    include_prompt = True
    dense: list[DenseConfig] = []
    for module, kind in zip(modules[1:], kinds[1:], strict=True):
        path = folder / str(module.get("path") or "")
        if kind == "Pooling":
            pooling, include_prompt = _read_pooling(path / "config.json", name)
        elif kind == "Dense":
            dense.append(_read_dense(path))
    max_dims = hidden * len(pooling) if hidden else None
    for head in dense:  # a Dense head changes the output size
        max_dims = head.out_features
    st_cfg_path = tf_dir / "sentence_bert_config.json"
    st_cfg = _read_optional(st_cfg_path)
    tok_cfg_path = tf_dir / "tokenizer_config.json"
    tok_cfg = _read_optional(tok_cfg_path)
    pad = tok_cfg.get("pad_token")
    if isinstance(pad, dict):
        pad = pad.get("content")
    pipeline = Pipeline(
        tf_dir=tf_dir,
        max_length=_max_length(st_cfg, st_cfg_path, tok_cfg, positions),
        do_lower_case=bool(_field(st_cfg, "do_lower_case", bool, st_cfg_path, False)),
        truncation_side=str(_field(tok_cfg, "truncation_side", str, tok_cfg_path, "right")),
        pad_token=pad if isinstance(pad, str) else None,
        pooling=pooling,
        include_prompt=include_prompt,
        dense=tuple(dense),
        normalize="Normalize" in kinds[1:],
        modules=tuple(kinds[1:]),
        first_module=kinds[0] if kinds else "Transformer",
        positions=positions if positions and positions > 0 else None,
    )
    archs = config.get("architectures") or [config.get("model_type", "unknown")]
    return TransformerDescription(
        folder,
        name,
        pipeline,
        max_dims=int(max_dims) if max_dims else None,
        max_layers=int(max_layers) if max_layers else None,
        architecture=str(archs[0]) if isinstance(archs, list) and archs else "unknown",
        prompts=found.prompts,
        default_prompt_name=found.default_prompt_name,
        normalizes=pipeline.normalize,
    )


def _max_length(st_cfg: dict[str, Any], st_path: Path, tok_cfg: dict[str, Any], positions: int | None) -> int | None:
    """Tokens kept per text, as sentence-transformers' Transformer module sets the tokenizer's model_max_length."""
    given = _field(st_cfg, "max_seq_length", int, st_path, None)
    if given is not None:
        return int(given)
    limit = tok_cfg.get("model_max_length")
    limit = (
        int(limit) if isinstance(limit, (int, float)) and not isinstance(limit, bool) and limit < _NO_LIMIT else None
    )
    if positions is not None and positions > 0:
        limit = positions if limit is None else min(limit, positions)
    return limit


def _read_pooling(path: Path, name: str) -> tuple[tuple[str, ...], bool]:
    if not path.is_file():
        msg = (
            f"Model {name!r} has a Pooling module but no {path}: that file says how it pools (CLS token, mean, "
            "...), and static2d will not guess. The model files look incomplete: download the model again."
        )
        raise ValueError(msg)
    cfg = read_json(path)
    mode = cfg.get("pooling_mode")
    if mode is None:
        modes = tuple(name for key, name in LEGACY_POOLING if cfg.get(key)) or ("mean",)
    elif isinstance(mode, str):
        modes = (mode,)
    elif isinstance(mode, list) and all(isinstance(m, str) for m in mode):
        modes = tuple(mode)
    else:
        msg = f"{path}: pooling_mode is {mode!r}, not a mode name or a list of them."
        raise ValueError(msg)
    for m in modes:
        if m not in POOLING_MODES:
            msg = f"Unknown pooling mode {m!r} in {path}; static2d knows {sorted(POOLING_MODES)}."
            raise ValueError(msg)
    return modes, bool(cfg.get("include_prompt", True))


def _read_dense(folder: Path) -> DenseConfig:
    path = folder / "config.json"
    cfg = read_json(path)
    sizes = [_field(cfg, key, int, path, None) for key in ("in_features", "out_features")]
    if None in sizes:
        msg = f"{path} names no in_features / out_features for its Dense head. Download the model again."
        raise ValueError(msg)
    return DenseConfig(
        folder=folder,
        in_features=int(sizes[0]),
        out_features=int(sizes[1]),
        bias=bool(cfg.get("bias", True)),
        activation=str(_field(cfg, "activation_function", str, path, "torch.nn.modules.activation.Tanh")),
        residual=bool(cfg.get("use_residual", False)),
        input_name=str(_field(cfg, "module_input_name", str, path, "sentence_embedding")),
    )
