"""The check of a transformer's safetensors weights against its architecture (torch's meta device, no weights loaded).

A transformer whose safetensors lack a tensor, hold one of the wrong shape, or hold fewer layers than config.json
declares, loads in transformers with freshly initialised (random) weights in their place: different vectors on
every load. This raises a ValueError naming the file and the tensors instead.
"""

from __future__ import annotations

import contextlib
import importlib
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from static2d._model.files import SHOWN, check_finite_weights, checkpoint_tensors

# Where each encoder family keeps its list of layers, relative to the Hugging Face base model.
# BERT / RoBERTa / XLM-R / MPNet / E5 / BGE: encoder.layer; DistilBERT: transformer.layer; ModernBERT: layers.
_LAYER_PATHS = (("encoder", "layer"), ("transformer", "layer"), ("layers",), ("encoder", "layers"), ("layer",))
# Modules of the Hugging Face base model that sentence-transformers and the ONNX graph never run (they use the
# last hidden state): their tensors may be missing.
_UNUSED = ("pooler.",)
# transformers' legacy renames (old TensorFlow-era checkpoints), applied before comparing names.
_LEGACY = ((".gamma", ".weight"), (".beta", ".bias"))


@contextlib.contextmanager
def quiet_transformers() -> Iterator[None]:
    """Load without transformers' per-load progress bar and load report (kept for errors only)."""
    hf_logging: Any = importlib.import_module("transformers.utils.logging")  # untyped in places
    verbosity, bars = hf_logging.get_verbosity(), hf_logging.is_progress_bar_enabled()
    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        hf_logging.set_verbosity(verbosity)
        if bars:
            hf_logging.enable_progress_bar()


def find_layer_list(auto_model: Any) -> tuple[Any, str]:  # noqa: ANN401 - any torch module
    """Return (parent module, attribute name) of the model's list of transformer layers."""
    import torch

    for path in _LAYER_PATHS:
        parent = auto_model
        for attr in path[:-1]:
            parent = getattr(parent, attr, None)
        if parent is not None and isinstance(getattr(parent, path[-1], None), torch.nn.ModuleList):
            return parent, path[-1]
    arch = type(auto_model).__name__
    msg = (
        f"Cannot cut layers of a {arch}: static2d finds the layer list at encoder.layer (BERT, RoBERTa, XLM-R), "
        f"transformer.layer (DistilBERT) or layers (ModernBERT), and {arch} has none of them. Load it without "
        "`layers` to use all of its layers."
    )
    raise ValueError(msg)


@dataclass(frozen=True)
class _Expected:
    shapes: dict[str, tuple[int, ...]]
    buffers: frozenset[str]
    children: frozenset[str]
    prefix: str
    layer_list: str  # dotted path of the layer list, e.g. "encoder.layer"


def _expected(tf_dir: Path, trust_remote_code: bool) -> _Expected:
    """What the architecture of config.json holds: built on torch's meta device (no memory, no weights)."""
    import torch
    from transformers import AutoConfig, AutoModel

    with quiet_transformers():
        config = AutoConfig.from_pretrained(str(tf_dir), trust_remote_code=trust_remote_code, local_files_only=True)
        with torch.device("meta"):
            model = AutoModel.from_config(config, trust_remote_code=trust_remote_code)  # type: ignore[no-untyped-call]
    parent, attr = find_layer_list(model)
    layer_list = next(name for name, module in model.named_modules() if module is getattr(parent, attr))
    return _Expected(
        shapes={k: tuple(v.shape) for k, v in model.state_dict().items()},
        buffers=frozenset(name for name, _ in model.named_buffers()),
        children=frozenset(name for name, _ in model.named_children()),
        prefix=str(getattr(model, "base_model_prefix", "") or ""),
        layer_list=layer_list,
    )


def _model_key(key: str, expected: _Expected) -> str:
    """A checkpoint's tensor name as the model names it (base-model prefix and legacy names, as transformers)."""
    for old, new in _LEGACY:
        if key.endswith(old) and "LayerNorm" in key:
            key = key[: -len(old)] + new
    prefix = expected.prefix
    if prefix and key.startswith(prefix + ".") and key[len(prefix) + 1 :] in expected.shapes:
        return key[len(prefix) + 1 :]
    if prefix and f"{prefix}.{key}" in expected.shapes:
        return f"{prefix}.{key}"
    return key


def _names(keys: list[str]) -> str:
    shown = ", ".join(sorted(keys)[:SHOWN])
    return shown + (f" (and {len(keys) - SHOWN} more)" if len(keys) > SHOWN else "")


def check_transformer_weights(tf_dir: Path, name: str, layers: int, *, trust_remote_code: bool) -> None:
    """Refuse weights that do not fit config.json's architecture for the first `layers` layers (those that run).

    Missing, unexpected and wrongly shaped tensors are each named, with the file, and so are tensors that run and
    hold NaN or infinity (`check_finite_weights`: one read of those weights); tensors of layers that will not
    run, of modules that never run (the pooler), buffers transformers recomputes and heads for other tasks (such as
    `cls.*`, outside the base model) are not counted.

    Example:
        >>> check_transformer_weights(Path("all-MiniLM-L6-v2"), "all-MiniLM-L6-v2", 6, trust_remote_code=False)
        ...  # doctest: +SKIP
    """
    layers = layers or 1 << 30  # 0: the model's depth is unknown, so every layer runs
    found = checkpoint_tensors(tf_dir)
    expected = _expected(tf_dir, trust_remote_code)
    layer_re = re.compile(rf"^{re.escape(expected.layer_list)}\.(\d+)\.")

    def runs(key: str) -> bool:
        match = layer_re.match(key)
        return not key.startswith(_UNUSED) and (match is None or int(match.group(1)) < layers)

    mapped = {_model_key(k, expected): (shape, path, k) for k, (shape, path) in found.items()}
    missing = [k for k in expected.shapes if runs(k) and k not in mapped]
    unexpected = [
        original
        for k, (_, _, original) in mapped.items()
        if k not in expected.shapes and k not in expected.buffers and k.split(".", 1)[0] in expected.children
    ]
    wrong = [
        f"{original} {shape} (expected {expected.shapes[k]})"
        for k, (shape, _, original) in mapped.items()
        if k in expected.shapes and runs(k) and shape != expected.shapes[k]
    ]
    if not (missing or unexpected or wrong):
        # then the values: a NaN or an infinity in a weight that runs makes every vector NaN
        def used(key: str) -> bool:
            model_key = _model_key(key, expected)
            return model_key in expected.shapes and runs(model_key)

        check_finite_weights(tf_dir, name, used)
        return
    files = sorted({str(path) for _, path in found.values()}) or [str(tf_dir / "model.safetensors")]
    declared = _declared_layers(expected, layer_re)
    held = sorted({int(m.group(1)) for k in mapped if (m := layer_re.match(k))})
    problems = []
    if missing:
        problems.append(f"missing {len(missing)} tensor(s): {_names(missing)}")
    if unexpected:
        problems.append(f"{len(unexpected)} tensor(s) the architecture does not have: {_names(unexpected)}")
    if wrong:
        problems.append(f"{len(wrong)} tensor(s) of the wrong shape: {_names(wrong)}")
    layer_note = ""
    if declared is not None and held and len(held) != declared:
        layer_note = f" config.json declares {declared} layers, the weights hold {len(held)}" + (
            f" (pass layers={len(held)} or less, or fix num_hidden_layers in config.json)." if held else "."
        )
    msg = (
        f"Model {name!r}: the weights in {', '.join(files)} do not fit its config.json "
        f"for the {layers} layer(s) that would run: {'; '.join(problems)}.{layer_note} transformers would fill the "
        "gaps with random numbers (different vectors on every load), so static2d refuses the model. The files look "
        "damaged or mismatched: download the model again, or save config.json and the weights together."
    )
    raise ValueError(msg)


def _declared_layers(expected: _Expected, layer_re: re.Pattern[str]) -> int | None:
    indices = {int(m.group(1)) for k in expected.shapes if (m := layer_re.match(k))}
    return len(indices) or None
