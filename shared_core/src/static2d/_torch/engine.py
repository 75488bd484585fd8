"""The torch engine: a sentence-transformers model cut to its first `layers` layers (torch imported lazily)."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import numpy.typing as npt

from static2d._model.describe import TransformerDescription
from static2d._torch.cut import import_sentence_transformers, quiet_transformers, truncate_layers
from static2d._torch.tap import LayerTap
from static2d._torch.weights import check_transformer_weights

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer


class TorchEngine:
    """A loaded sentence-transformers model cut to `layers`, shared by every encoder that asks for it."""

    kind: Literal["transformer"] = "transformer"
    runtime: Literal["torch"] = "torch"

    def __init__(
        self,
        description: TransformerDescription,
        *,
        layers: int,
        device: str | None,
        trust_remote_code: bool,
        max_length: int | None,
    ) -> None:
        st = import_sentence_transformers()
        check_transformer_weights(
            description.pipeline.tf_dir, description.name, layers, trust_remote_code=trust_remote_code
        )
        with quiet_transformers():
            self.model: SentenceTransformer = st.SentenceTransformer(
                str(description.folder),
                device=device,
                trust_remote_code=trust_remote_code,
                model_kwargs={"use_safetensors": True},
                local_files_only=True,
            )
        self.model.eval()
        if max_length is not None:
            self.model.max_seq_length = int(max_length)
        self.max_layers: int | None = description.max_layers
        if description.max_layers is not None and layers < description.max_layers:
            truncate_layers(self._auto_model(), layers)
        self.layers: int | None = layers
        get_dim = getattr(self.model, "get_embedding_dimension", None) or self.model.get_sentence_embedding_dimension
        self.max_dims = int(get_dim() or description.max_dims or 0)
        self.max_length = self.model.max_seq_length
        # A Hugging Face fast tokenizer is not safe to call from several threads at once ("Already borrowed"),
        # and torch already uses every core for one batch: encode one batch at a time.
        self._lock = threading.Lock()

    def _auto_model(self) -> Any:  # noqa: ANN401 - any torch module
        first = self.model[0]
        auto_model = getattr(first, "auto_model", None) or getattr(first, "model", None)
        if auto_model is None:
            msg = f"Cannot find the transformer inside {type(first).__name__}; load the model without `layers`."
            raise ValueError(msg)
        return auto_model

    def encode_batch(self, texts: Sequence[str], dims: int, prompt: str, batch_size: int) -> npt.NDArray[np.float32]:
        """Encode texts with sentence-transformers (which sorts them by length), keep the first `dims` components."""
        with self._lock:
            out = self.model.encode(
                list(texts),
                batch_size=batch_size,
                prompt=prompt,  # "" means none; None would let sentence-transformers apply its default prompt
                convert_to_numpy=True,
                normalize_embeddings=False,
                show_progress_bar=False,
            )
        return np.ascontiguousarray(np.asarray(out, dtype=np.float32)[:, :dims])

    def encode_layers(
        self, texts: Sequence[str], prompt: str, layers: Sequence[int], batch_size: int
    ) -> dict[int, npt.NDArray[np.float32]]:
        """The full-width sentence embeddings of `texts` cut at each of `layers`, from one pass per batch.

        Args:
            texts: The texts (the prompt not yet put before them).
            prompt: Put before each text ("" for none), pooled or left out as the model's Pooling says.
            layers: Depths to return, each 1..self.layers.
            batch_size: Texts per forward pass.

        Returns:
            {layer: float32 array (len(texts), self.max_dims)}, rows in the order of `texts`.
        """
        import torch

        model = self.model
        modules = list(model)
        order = np.argsort([-len(t) for t in texts], kind="stable")
        out = {d: np.empty((len(texts), self.max_dims), dtype=np.float32) for d in layers}
        # one batch at a time, as encode_batch does
        with self._lock, torch.inference_mode(), LayerTap(self._auto_model()) as tap:
            for start in range(0, len(texts), batch_size):
                rows = order[start : start + batch_size]
                features = model.preprocess([texts[i] for i in rows], prompt=prompt or None)
                features = {k: v.to(model.device) if isinstance(v, torch.Tensor) else v for k, v in features.items()}
                base = modules[0](dict(features))
                tap.check(base["token_embeddings"])
                for d in layers:
                    feats = {**base, "token_embeddings": tap.finished(d)}
                    for module in modules[1:]:
                        feats = module(feats)
                    out[d][rows] = feats["sentence_embedding"].float().cpu().numpy()
        return out
