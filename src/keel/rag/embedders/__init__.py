"""Embedders: ``LocalEmbedder`` (default, in-process ONNX), ``OpenAIEmbedder`` (HTTP),
``CachedEmbedder`` (SQLite cache around any embedder) and ``HashingEmbedder`` (tests, no model).

None of these import numpy or onnxruntime until they embed something.
"""

from keel.rag.embedders._base import Embedder, normalise_rows
from keel.rag.embedders._cache import CachedEmbedder, content_key
from keel.rag.embedders._hashing import HashingEmbedder
from keel.rag.embedders._local import LocalEmbedder
from keel.rag.embedders._openai import OpenAIEmbedder

__all__ = [
    "CachedEmbedder",
    "Embedder",
    "HashingEmbedder",
    "LocalEmbedder",
    "OpenAIEmbedder",
    "content_key",
    "normalise_rows",
]
