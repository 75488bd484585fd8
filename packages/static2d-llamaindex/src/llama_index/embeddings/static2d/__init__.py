"""LlamaIndex embeddings backed by static2d: static and 2D-Matryoshka models with `dims` and `layers` knobs."""

from llama_index.embeddings.static2d.base import Static2DEmbedding

__all__ = ["Static2DEmbedding"]
