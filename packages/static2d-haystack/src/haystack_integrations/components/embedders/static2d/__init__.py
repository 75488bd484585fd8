"""Haystack embedders backed by static2d: fast static and 2D-Matryoshka embeddings with `dims` and `layers`."""

from haystack_integrations.components.embedders.static2d.document_embedder import Static2DDocumentEmbedder
from haystack_integrations.components.embedders.static2d.text_embedder import Static2DTextEmbedder

__all__ = ["Static2DDocumentEmbedder", "Static2DTextEmbedder"]
