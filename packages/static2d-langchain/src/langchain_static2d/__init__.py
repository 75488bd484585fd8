"""LangChain embeddings backed by static2d: fast static and 2D-Matryoshka models with `dims` and `layers` knobs.

Example:
    >>> from langchain_static2d import Static2DEmbeddings
    >>> embed = Static2DEmbeddings(dims=256)  # doctest: +SKIP
    >>> len(embed.embed_query("hello"))  # doctest: +SKIP
    256
"""

from langchain_static2d.embeddings import Static2DEmbeddings

__version__ = "0.1.0"
__all__ = ["Static2DEmbeddings", "__version__"]
