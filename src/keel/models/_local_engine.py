"""One loaded llama.cpp model per process and file, shared, and generation on a worker thread.

``llama_cpp.Llama`` holds one KV cache and is not thread-safe, so every generation takes the
engine's lock. Calls are serialised, and the KV cache keeps the previous prompt: the next prompt
that starts with the same tokens (system prompt, tool list) only evaluates its new suffix.
"""

from __future__ import annotations

import asyncio
import atexit
import codecs
import contextlib
import os
import threading
import time
import weakref
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from keel.errors import ConfigError, ContextTooLong, Timeout
from keel.models._local_prompt import ChatTemplate

if TYPE_CHECKING:
    from llama_cpp import Llama

__all__ = ["Engine", "Generation", "Job", "clear_engines", "get_engine"]

# llama.cpp's threads meet at an OpenMP barrier after every operation. libgomp's default is to spin
# there, so when another process takes a core the model's threads burn their time slices waiting
# for each other: on a busy 2-core machine generation fell from ~6 to under 1 token/s. Passive
# waiting (sleep at once) kept it at 4-8 tokens/s. libgomp reads this when llama.cpp's libraries
# load, so it is set here, before ``llama_cpp`` is first imported; a value the user set wins.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

_ENGINES: dict[tuple[str, int, int], Engine] = {}
_ENGINES_LOCK = threading.Lock()


def default_threads() -> int:
    """All cores this process may use (llama.cpp's own default, half of them, idles 2-core machines)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def get_engine(path: Path, n_ctx: int, n_threads: int) -> Engine:
    """The shared engine for this file and settings, loaded on first use (blocking: call off-loop)."""
    key = (str(path), n_ctx, n_threads)
    with _ENGINES_LOCK:
        engine = _ENGINES.get(key)
        if engine is None:
            engine = _ENGINES[key] = Engine(path, n_ctx=n_ctx, n_threads=n_threads)
        return engine


def loaded_engine(path: Path, n_ctx: int, n_threads: int) -> Engine | None:
    return _ENGINES.get((str(path), n_ctx, n_threads))


def clear_engines() -> None:
    """Forget every loaded model (memory is freed once no ``LocalModel`` refers to it)."""
    with _ENGINES_LOCK:
        _ENGINES.clear()


@contextlib.contextmanager
def _without_amx_repacking() -> Iterator[None]:
    """Load weights into plain CPU buffers when llama.cpp was built with its AMX backend.

    On AMX CPUs (Xeon Sapphire Rapids and later) a native build repacks weights for AMX, and its
    matrix multiply segfaults on the first multi-token batch (ggml-org/llama.cpp#20824). The
    ``Llama`` class has no switch for ``use_extra_bufts``, so the default params are patched for
    the duration of the load (callers hold the engine-cache lock).
    """
    import llama_cpp
    import llama_cpp.llama as llama_module

    if b"AMX_INT8 = 1" not in llama_cpp.llama_print_system_info():
        yield
        return
    bindings: Any = getattr(llama_module, "llama_cpp")  # noqa: B009 - the bindings as llama.py sees them
    original = bindings.llama_model_default_params

    def params() -> Any:
        p = original()
        p.use_extra_bufts = False
        return p

    bindings.llama_model_default_params = params
    try:
        yield
    finally:
        bindings.llama_model_default_params = original


@dataclass
class Job:
    """One generation: a rendered prompt in, text out, optionally under a GBNF grammar."""

    prompt: str
    grammar: str | None = None
    max_tokens: int = 1024
    temperature: float = 0.0
    seed: int | None = None
    stop: Sequence[str] = ()
    deadline: float | None = None
    """``time.monotonic()`` after which generation stops with ``keel.errors.Timeout``."""
    on_text: Callable[[str], None] | None = None
    """Called on the worker thread with each new piece of text."""
    cancel: threading.Event = field(default_factory=threading.Event)


@dataclass
class Generation:
    text: str
    prompt_tokens: int
    output_tokens: int
    cached_tokens: int
    finish_reason: str
    """``stop`` (end of turn or a stop string), ``length`` (max_tokens) or ``cancelled``."""
    seconds: float = 0.0


def _held_back(text: str, stops: Sequence[str]) -> int:
    """How many trailing characters could still grow into a stop string (not safe to emit yet)."""
    hold = 0
    for s in stops:
        for n in range(min(len(s) - 1, len(text)), hold, -1):
            if text.endswith(s[:n]):
                hold = n
                break
    return hold


class Engine:
    """A loaded GGUF model: tokenizer, chat template, and serialised generation."""

    def __init__(self, path: Path, *, n_ctx: int, n_threads: int) -> None:
        from llama_cpp import Llama

        started = time.perf_counter()
        try:
            with _without_amx_repacking():
                self.llm: Llama = Llama(
                    model_path=str(path),
                    n_ctx=n_ctx,
                    n_threads=n_threads,
                    n_threads_batch=n_threads,
                    verbose=False,
                )
        except (ValueError, RuntimeError) as e:
            raise ConfigError(
                f"llama.cpp could not load {str(path)!r} ({e}): check it is a GGUF model file"
            ) from None
        self.load_seconds = time.perf_counter() - started
        # free the model before interpreter teardown: llama.cpp's own __del__ then finds its
        # library already unloaded and prints a traceback on every exit
        atexit.register(self.llm.close)
        self.path = path
        self.n_ctx = n_ctx
        self.lock = threading.Lock()
        meta = self.llm.metadata
        self.template = ChatTemplate(
            meta.get("tokenizer.chat_template"),
            bos_token=self._token_text(self.llm.token_bos()),
            eos_token=self._token_text(self.llm.token_eos()),
        )
        self.model_name = meta.get("general.name", path.stem)
        self._async_locks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = (
            weakref.WeakKeyDictionary()
        )

    def _token_text(self, token: int) -> str:
        if token < 0:
            return ""
        return self.llm.detokenize([token], special=True).decode("utf-8", errors="replace")

    def async_lock(self) -> asyncio.Lock:
        """An asyncio lock per event loop, so waiting requests queue on the loop, not in threads."""
        loop = asyncio.get_running_loop()
        lock = self._async_locks.get(loop)
        if lock is None:
            lock = self._async_locks[loop] = asyncio.Lock()
        return lock

    def tokenize(self, text: str) -> list[int]:
        """Exact tokens of rendered template text (special tokens such as ``<|im_start|>`` included)."""
        return list(self.llm.tokenize(text.encode("utf-8"), add_bos=False, special=True))

    def is_end(self, token: int) -> bool:
        import llama_cpp

        return bool(llama_cpp.llama_vocab_is_eog(self.llm._model.vocab, token))

    def generate(self, job: Job) -> Generation:
        """Run ``job`` to completion on this thread (holds the engine lock throughout)."""
        tokens = self.tokenize(job.prompt)
        n_prompt = len(tokens)
        if n_prompt >= self.n_ctx:
            raise ContextTooLong(
                f"the prompt is {n_prompt} tokens but the local model's context is {self.n_ctx}: "
                "shorten the history or create LocalModel(n_ctx=...) with a larger context",
                provider="local",
            )
        with self.lock:
            return self._generate_locked(job, tokens, max_tokens=min(job.max_tokens, self.n_ctx - n_prompt))

    def _generate_locked(self, job: Job, prompt: list[int], *, max_tokens: int) -> Generation:
        from keel.models._local_sampling import sample_tokens

        llm = self.llm
        started = time.perf_counter()
        if job.seed is not None:
            llm.set_seed(job.seed)
        reused: list[int] = []
        tokens = sample_tokens(
            llm, prompt, temperature=job.temperature, grammar=job.grammar, on_reuse=reused.append
        )
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        text, emitted, n_out, finish = "", 0, 0, "length"
        try:
            for token in tokens:
                if self.is_end(token):
                    finish = "stop"
                    break
                n_out += 1
                text += decoder.decode(llm.detokenize([token], special=True))
                hit = next((i for s in job.stop if (i := text.find(s)) >= 0), -1)
                if hit >= 0:
                    text, finish = text[:hit], "stop"
                    break
                safe = len(text) - _held_back(text, job.stop)
                if job.on_text is not None and safe > emitted:
                    job.on_text(text[emitted:safe])
                    emitted = safe
                if n_out >= max_tokens:
                    break
                if job.cancel.is_set():
                    finish = "cancelled"
                    break
                if job.deadline is not None and time.monotonic() > job.deadline:
                    raise Timeout(
                        f"local generation passed its timeout after {n_out} tokens", provider="local"
                    )
        finally:
            tokens.close()
        text += decoder.decode(b"", final=True)
        if job.on_text is not None and len(text) > emitted:
            job.on_text(text[emitted:])
        return Generation(
            text=text,
            prompt_tokens=len(prompt),
            output_tokens=n_out,
            cached_tokens=reused[0] if reused else 0,
            finish_reason=finish,
            seconds=time.perf_counter() - started,
        )
