"""The ONNX engine's head, in numpy: sentence-transformers' Pooling and Dense modules after the graph."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from static2d._model.describe import DenseConfig

_ACTIVATIONS: dict[str, Callable[[npt.NDArray[np.float32]], npt.NDArray[np.float32]]] = {
    "torch.nn.modules.linear.Identity": lambda x: x,
    "torch.nn.modules.activation.Tanh": np.tanh,
    "torch.nn.modules.activation.ReLU": lambda x: np.maximum(x, 0),
    "torch.nn.modules.activation.Sigmoid": lambda x: np.reciprocal(1 + np.exp(-x)),
}
ACTIVATIONS = frozenset(_ACTIVATIONS)


def dense_refusal(dense: DenseConfig) -> str | None:
    """Why numpy cannot run this Dense head (None: it can)."""
    if dense.activation not in _ACTIVATIONS:
        known = sorted(ACTIVATIONS)
        return f"a Dense module with activation {dense.activation}, which numpy does not run (it runs {known})"
    if dense.input_name != "sentence_embedding":
        return "a Dense module over token embeddings (numpy runs Dense heads after pooling)"
    if not (dense.folder / "model.safetensors").is_file():
        return f"a Dense module in {dense.folder} without model.safetensors (static2d never loads pickles)"
    return None


@dataclass(frozen=True)
class Dense:
    """A sentence-transformers Dense head with its weights, run in numpy."""

    weight: npt.NDArray[np.float32]  # (out, in)
    bias: npt.NDArray[np.float32] | None
    activation: Callable[[npt.NDArray[np.float32]], npt.NDArray[np.float32]]
    residual: npt.NDArray[np.float32] | None  # (out, in) projection, or an identity residual as a 0-d marker

    @classmethod
    def load(cls, config: DenseConfig) -> Dense:
        """Read the head's safetensors weights (`dense_refusal(config)` must be None)."""
        from safetensors.numpy import load_file

        tensors = load_file(str(config.folder / "model.safetensors"))
        bias = tensors.get("linear.bias") if config.bias else None
        residual: npt.NDArray[np.float32] | None = None
        if config.residual:
            residual = tensors["residual.weight"].astype(np.float32) if "residual.weight" in tensors else np.array(1.0)
        return cls(
            weight=tensors["linear.weight"].astype(np.float32),
            bias=None if bias is None else bias.astype(np.float32),
            activation=_ACTIVATIONS[config.activation],
            residual=residual,
        )

    def __call__(self, x: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
        out = x @ self.weight.T
        if self.bias is not None:
            out = out + self.bias
        out = self.activation(out)
        if self.residual is not None:
            out = out + (x if self.residual.ndim == 0 else x @ self.residual.T)
        return np.asarray(out, dtype=np.float32)


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
