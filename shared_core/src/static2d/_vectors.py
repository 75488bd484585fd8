"""Row normalisation of embedding matrices, shared by every engine and the encoder."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt


def normalize_rows(vectors: npt.NDArray[np.float32], *, eps: float = 0.0) -> npt.NDArray[np.float32]:
    """Scale each row to unit length in place (rows of length <= eps, zero rows among them, are left as they are)."""
    if vectors.size:
        norms = np.sqrt(np.einsum("ij,ij->i", vectors, vectors))
        np.divide(vectors, norms[:, None], out=vectors, where=norms[:, None] > eps)
    return vectors
