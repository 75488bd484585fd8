"""The layer tap: every layer's output from one forward pass, finished as a model cut at that layer finishes it.

`Encoder.encode_grid` (on torch) and the ONNX export (which adds each layer as a graph output) read it.

A model cut at layer `l` returns, as its token embeddings, the output of layer `l` passed through whatever the
model does after its last layer (ModernBERT: `final_norm`; BERT, RoBERTa, XLM-R, DistilBERT: nothing). So one
pass through the deepest requested layer gives every shallower cut too: each layer's output is captured, put
through that "after the last layer" step, and then through the model's own Pooling / Dense / Normalize modules.
Truncating to `dims` (and re-normalising) is done by the Encoder, as for `encode`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from static2d._model.weights import find_layer_list

# What a model does to its last layer's output before returning it, by attribute of the base model.
# (ModernBERT: final_norm.) Families without one return the last layer's output unchanged.
_FINAL_NORMS = ("final_norm",)
# The model's own output must equal final_norm(last captured layer) within this (relative to its largest value),
# or the grid is refused.
SELF_CHECK_ATOL = 1e-5


class LayerTap:
    """Captures every layer's output during a forward pass; `finished(l)` is what a model cut at l returns.

    Use as a context manager around forward passes (hooks are removed on exit).

    Example:
        >>> with LayerTap(auto_model) as tap:  # doctest: +SKIP
        ...     last = auto_model(**batch).last_hidden_state
        ...     tap.check(last)  # the model's output is finished(deepest), or ValueError
        ...     layer_2 = tap.finished(2)
    """

    def __init__(self, auto_model: Any, depths: Sequence[int] | None = None) -> None:  # noqa: ANN401 - torch module
        parent, attr = find_layer_list(auto_model)
        self.name = type(auto_model).__name__
        self.layers = list(getattr(parent, attr))
        self.final_norm = next((getattr(auto_model, a) for a in _FINAL_NORMS if hasattr(auto_model, a)), None)
        # The depths captured (None: every layer); the deepest is always kept, for `check`.
        self.depths = None if depths is None else sorted({*depths, len(self.layers)})
        self.captured: dict[int, Any] = {}
        self._handles: list[Any] = []

    def __enter__(self) -> LayerTap:
        def hook_for(depth: int) -> Any:  # noqa: ANN401 - a torch hook
            def hook(_module: Any, _args: Any, output: Any) -> None:  # noqa: ANN401
                self.captured[depth] = output[0] if isinstance(output, tuple) else output

            return hook

        wanted = range(1, len(self.layers) + 1) if self.depths is None else self.depths
        self._handles = [self.layers[d - 1].register_forward_hook(hook_for(d)) for d in wanted]
        return self

    def __exit__(self, *exc: object) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles = []
        self.captured.clear()

    def finished(self, depth: int) -> Any:  # noqa: ANN401 - a tensor
        """Layer `depth`'s output as a model cut at `depth` returns it (its final norm applied, if it has one)."""
        hidden = self.captured[depth]
        return hidden if self.final_norm is None else self.final_norm(hidden)

    def error(self, output: Any) -> float:  # noqa: ANN401 - a tensor
        """How far the model's own output is from finished(deepest layer), relative to its scale."""
        if not output.numel():
            return 0.0
        diff = float((self.finished(len(self.layers)) - output).abs().max())
        return diff / max(1.0, float(output.abs().max()))

    def error_tensor(self, output: Any) -> Any:  # noqa: ANN401 - tensors
        """`error` as a 0-d tensor on the output's device: no wait for the device (read it once, at the end)."""
        import torch

        if not output.numel():
            return torch.zeros((), device=output.device)
        diff = (self.finished(len(self.layers)) - output).abs().amax().float()
        return diff / output.abs().amax().float().clamp(min=1.0)

    def check_error(self, error: float) -> None:
        """Raise ValueError unless `error` (the largest `error` over the passes) is within SELF_CHECK_ATOL."""
        if not error <= SELF_CHECK_ATOL:
            msg = (
                f"encode_grid() cannot tell what {self.name} does after its last layer (its output differs from the "
                f"last layer's by {error:.3g}), so it cannot give the cut models' vectors from one pass. Load one "
                "encoder per depth with static2d.load(..., layers=l) instead."
            )
            raise ValueError(msg)

    def module(self, model: Any, inputs: Sequence[str], depths: Sequence[int]) -> Any:  # noqa: ANN401 - torch
        """A torch module for export: `model`'s last_hidden_state, then finished(d) for each of `depths`."""
        import torch

        tap = self

        class _Outputs(torch.nn.Module):
            def __init__(self) -> None:
                super().__init__()
                self.model = model

            def forward(self, *args: Any) -> Any:  # noqa: ANN401 - tensors
                last = self.model(**dict(zip(inputs, args, strict=True))).last_hidden_state
                return (last, *(tap.finished(d) for d in depths))

        return _Outputs()

    def check(self, output: Any) -> None:  # noqa: ANN401 - a tensor
        """Raise ValueError unless the model's own output is finished(deepest layer): then every cut is known."""
        self.check_error(self.error(output))
