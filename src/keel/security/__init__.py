"""Security building blocks: PII masking, prompt-injection detection, command/output guards,
encryption at rest, API keys and scrubbing, and a hash-chained audit log.

Import the submodules directly (``from keel.security.pii import mask_pii``); this package's
``__init__`` imports nothing heavy. ``crypto`` needs the ``cryptography`` package.
"""

# The SQL guard (keel.security.sqlguard) and the path guard (keel.security.paths) are added by
# another helper: their public names go into __all__ and _WHERE below alongside these.

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__all__ = [
    "AuditLog",
    "CommandResult",
    "DecryptionError",
    "Encryptor",
    "InjectionVerdict",
    "PiiSpan",
    "UnsafeCommandError",
    "api_key_id",
    "arun_command",
    "detect_pii",
    "hash_api_key",
    "mask_pii",
    "new_api_key",
    "render_markdown_safe",
    "run_command",
    "safe_command",
    "sanitize_html",
    "scan_injection",
    "scrub",
    "spotlight",
    "verify_api_key",
]

# Names resolve lazily, so `import keel.security` stays cheap and never needs `cryptography`.
_WHERE = {
    "AuditLog": "audit",
    "CommandResult": "shell",
    "DecryptionError": "crypto",
    "Encryptor": "crypto",
    "InjectionVerdict": "injection",
    "PiiSpan": "pii",
    "UnsafeCommandError": "shell",
    "api_key_id": "secrets",
    "arun_command": "shell",
    "detect_pii": "pii",
    "hash_api_key": "secrets",
    "mask_pii": "pii",
    "new_api_key": "secrets",
    "render_markdown_safe": "output",
    "run_command": "shell",
    "safe_command": "shell",
    "sanitize_html": "output",
    "scan_injection": "injection",
    "scrub": "secrets",
    "spotlight": "injection",
    "verify_api_key": "secrets",
}

if TYPE_CHECKING:
    from keel.security.audit import AuditLog
    from keel.security.crypto import DecryptionError, Encryptor
    from keel.security.injection import InjectionVerdict, scan_injection, spotlight
    from keel.security.output import render_markdown_safe, sanitize_html
    from keel.security.pii import PiiSpan, detect_pii, mask_pii
    from keel.security.secrets import api_key_id, hash_api_key, new_api_key, scrub, verify_api_key
    from keel.security.shell import CommandResult, UnsafeCommandError, arun_command, run_command, safe_command


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'keel.security' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(f"keel.security.{module}"), name)
