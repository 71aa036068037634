"""The token loop for the local model, with grammar checked after sampling instead of before.

llama-cpp-python puts the grammar first in its sampler chain, so every token pays for matching all
~150k vocabulary entries against the grammar (about 15-20 ms a token for Qwen on 2 cores, as much
as the forward pass of the 0.5B model). llama.cpp's own server samples freely first and asks the
grammar about that one token; only when the grammar rejects it is the whole vocabulary masked and the
token sampled again. Both give a token the grammar accepts; the check-first order makes most
grammar-constrained tokens nearly free.

This module uses llama-cpp-python internals (``_ctx``, ``_model``, ``_init_sampler``) pinned by
``llama-cpp-python==0.3.36``.
"""

from __future__ import annotations

import ctypes
import math
from collections.abc import Generator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from llama_cpp import Llama

__all__ = ["GrammarGuard", "sample_tokens"]


class GrammarGuard:
    """A llama.cpp grammar sampler used as a check on one token, and as a mask when needed."""

    def __init__(self, llm: Llama, gbnf: str) -> None:
        from llama_cpp import llama_cpp as lib

        self._lib: Any = lib
        self._llm = llm
        self._smpl = lib.llama_sampler_init_grammar(llm._model.vocab, gbnf.encode("utf-8"), b"root")
        if not self._smpl:
            raise ValueError("llama.cpp rejected the grammar")
        self._one = (lib.llama_token_data * 1)()
        self._one_array = lib.llama_token_data_array(
            data=ctypes.cast(self._one, lib.llama_token_data_p), size=1, selected=-1, sorted=False
        )
        self._full: Any = None

    def allows(self, token: int) -> bool:
        entry: Any = self._one[0]
        entry.id, entry.logit, entry.p = token, 0.0, 0.0
        self._one_array.size = 1
        self._one_array.selected = -1
        self._lib.llama_sampler_apply(self._smpl, ctypes.byref(self._one_array))
        return math.isfinite(self._one[0].logit)

    def resample(self, chain: Any) -> int:
        """Mask the last logits with the grammar and let ``chain`` (greedy or dist) pick a token."""
        import numpy as np
        from llama_cpp import _internals

        llm = self._llm
        n_vocab = llm.n_vocab()
        if self._full is None:
            self._full = _internals.LlamaTokenDataArray(n_vocab=n_vocab)
        logits = np.ctypeslib.as_array(self._lib.llama_get_logits_ith(llm._ctx.ctx, -1), shape=(n_vocab,))
        self._full.copy_logits(logits)
        self._full.candidates.selected = -1
        self._lib.llama_sampler_apply(self._smpl, ctypes.byref(self._full.candidates))
        self._lib.llama_sampler_apply(chain.sampler, ctypes.byref(self._full.candidates))
        token = int(self._full.candidates_data.id[self._full.candidates.selected])
        self._lib.llama_sampler_accept(chain.sampler, token)
        return token

    def accept(self, token: int) -> None:
        self._lib.llama_sampler_accept(self._smpl, token)

    def close(self) -> None:
        if self._smpl:
            self._lib.llama_sampler_free(self._smpl)
            self._smpl = None


def _reuse_prefix(llm: Any, prompt: list[int]) -> int:
    """Keep the KV cache for the longest common prefix with the last evaluation; return its length."""
    same = 0
    for a, b in zip(llm.input_ids[: llm.n_tokens], prompt, strict=False):
        if a != b:
            break
        same += 1
    keep = min(same, len(prompt) - 1)  # at least one token is evaluated, for fresh logits
    if keep > 0 and llm._ctx.kv_cache_seq_rm(-1, keep, -1):
        llm.n_tokens = keep
        return keep
    llm.reset()
    return 0


def sample_tokens(
    llm: Llama, prompt: list[int], *, temperature: float, grammar: str | None, on_reuse: Any = None
) -> Generator[int, None, None]:
    """Evaluate ``prompt`` (reusing the cached prefix) and yield sampled tokens until closed.

    Each token is evaluated only when the next one is asked for, so stopping costs nothing.
    """
    reused = _reuse_prefix(llm, prompt)
    if on_reuse is not None:
        on_reuse(reused)
    llm.eval(prompt[reused:])
    chain = llm._init_sampler(temp=temperature, repeat_penalty=1.0)
    guard = GrammarGuard(llm, grammar) if grammar else None
    try:
        while True:
            token = int(chain.sample(llm._ctx, -1))
            if guard is not None:
                if not guard.allows(token):
                    token = guard.resample(chain)
                guard.accept(token)
            yield token
            llm.eval([token])
    finally:
        if guard is not None:
            guard.close()
        chain.close()
