"""static2d: fast static and 2D-Matryoshka text embedders, with `dims` and `layers` as the knobs.

Example:
    >>> import static2d
    >>> enc = static2d.load("sentence-transformers/static-retrieval-mrl-en-v1", dims=256)  # doctest: +SKIP
    >>> enc.encode(["The quick brown fox"]).shape  # doctest: +SKIP
    (1, 256)

What the adapters (LangChain, LlamaIndex, Haystack) are built from is in `static2d.adapters`.
"""

from static2d._batch import BatchEncoder
from static2d._encoder import Encoder, clear_cache, load
from static2d._fingerprint import FingerprintMismatchError, check_fingerprint
from static2d._options import DEFAULT_MODEL, OPTIONS, Backend, Dtype, Option, Quantize
from static2d._precision import Precision
from static2d._tradeoff.plot import plot as plot_tradeoff
from static2d._tradeoff.result import Setting, Tradeoff
from static2d._tradeoff.run import tradeoff

__version__ = "0.1.0"
__all__ = [
    "DEFAULT_MODEL",
    "OPTIONS",
    "Backend",
    "BatchEncoder",
    "Dtype",
    "Encoder",
    "FingerprintMismatchError",
    "Option",
    "Precision",
    "Quantize",
    "Setting",
    "Tradeoff",
    "__version__",
    "check_fingerprint",
    "clear_cache",
    "load",
    "plot_tradeoff",
    "tradeoff",
]
