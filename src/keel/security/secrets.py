"""API keys (generate, hash, verify) and :func:`scrub`, which cleans data before it is logged.

A Keel API key reads ``keel_<key id>_<secret>``: the key id lets the server find the stored hash
without scanning, and the ``keel_`` shape is one that :func:`keel.errors.redact` already removes
from logs. Only the hash is stored: scrypt with a per-key random salt, its cost parameters kept
in the hash string so they can be raised later without invalidating old keys.

>>> key_id, secret = new_api_key()
>>> stored = hash_api_key(secret)
>>> verify_api_key(secret, stored), verify_api_key(secret + "x", stored)
(True, False)
>>> scrub({"user": "ann@example.com", "api_key": "abc123", "note": "card 4111 1111 1111 1111"})
{'user': '<EMAIL>', 'api_key': '[REDACTED]', 'note': 'card <CREDIT_CARD>'}
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
import secrets
import string
from collections.abc import Mapping
from typing import Any

from keel.errors import ConfigError, redact
from keel.security.pii import MaskStyle, mask_pii

__all__ = ["api_key_id", "hash_api_key", "new_api_key", "scrub", "verify_api_key"]

_ID_ALPHABET = string.ascii_lowercase + string.digits
_PREFIX = re.compile(r"^[a-z][a-z0-9]{1,15}$")
_KEY = re.compile(r"^([a-z][a-z0-9]{1,15})_([a-z0-9]{12})_([A-Za-z0-9_\-]{43})$")

# scrypt cost: n=2**14, r=8 uses 16 MiB and about 40 ms on this project's 2-core machines. API keys
# carry 256 random bits, so the KDF is belt and braces, not what keeps them from being guessed.
_N, _R, _P = 2**14, 8, 1
_MAX_N, _MAX_R, _MAX_P = 2**20, 32, 16  # bounds on parameters read back from a stored hash


def new_api_key(prefix: str = "keel") -> tuple[str, str]:
    """Return ``(key_id, secret)``: show the secret to the user once, store ``hash_api_key(secret)``
    under ``key_id``.

    >>> key_id, secret = new_api_key()
    >>> secret.startswith(f"keel_{key_id}_"), len(key_id)
    (True, 12)
    """
    if not _PREFIX.match(prefix):
        raise ConfigError(
            f"API key prefix {prefix!r} must be 2-16 lowercase letters or digits, starting with a letter"
        )
    key_id = "".join(secrets.choice(_ID_ALPHABET) for _ in range(12))
    return key_id, f"{prefix}_{key_id}_{secrets.token_urlsafe(32)}"


def api_key_id(secret: str) -> str | None:
    """The key id inside an API key, or ``None`` when ``secret`` is not shaped like one.

    >>> api_key_id("keel_abcdefgh1234_" + "x" * 43)
    'abcdefgh1234'
    """
    m = _KEY.match(secret)
    return m.group(2) if m else None


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.b64decode(text + "=" * (-len(text) % 4), validate=True)


def _scrypt(secret: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(
        secret.encode("utf-8"), salt=salt, n=n, r=r, p=p, maxmem=256 * 1024 * 1024, dklen=32
    )


def hash_api_key(secret: str, *, n: int = _N, r: int = _R, p: int = _P) -> str:
    """Hash an API key for storage: ``scrypt$<n>$<r>$<p>$<salt>$<hash>`` with a fresh 16-byte salt.

    >>> hash_api_key("keel_x_y").startswith("scrypt$16384$8$1$")
    True
    """
    if n < 2 or n & (n - 1) or n > _MAX_N or not 1 <= r <= _MAX_R or not 1 <= p <= _MAX_P:
        raise ConfigError(
            f"scrypt parameters n={n} r={r} p={p} out of range; n is a power of two up to 2**20"
        )
    salt = secrets.token_bytes(16)
    return f"scrypt${n}${r}${p}${_b64(salt)}${_b64(_scrypt(secret, salt, n, r, p))}"


def verify_api_key(secret: str, stored_hash: str) -> bool:
    """True when ``secret`` matches ``stored_hash``; compares in constant time, never raises.

    >>> verify_api_key("keel_x_y", "not a hash")
    False
    """
    parts = stored_hash.split("$")
    if len(parts) != 6 or parts[0] != "scrypt":
        return False
    try:
        n, r, p = int(parts[1]), int(parts[2]), int(parts[3])
        salt, expected = _unb64(parts[4]), _unb64(parts[5])
    except (ValueError, binascii.Error):
        return False
    if (
        n < 2
        or n & (n - 1)
        or n > _MAX_N
        or not 1 <= r <= _MAX_R
        or not 1 <= p <= _MAX_P
        or len(expected) != 32
    ):
        return False
    return hmac.compare_digest(_scrypt(secret, salt, n, r, p), expected)


# ------------------------------------------------------------------------------------------------
# Scrubbing data for logs and traces
# ------------------------------------------------------------------------------------------------

# Whole words only, so "input_tokens", "shipping" and "author" are left alone.
_SENSITIVE_KEY = re.compile(
    r"(?<![a-z0-9])(?:pass(?:word|wd|phrase)?|secret|token|api_?key|auth|authorization|cookie|set_cookie|"
    r"session_?id|private_?key|credentials?|signature|encryption_?key|access_?key|client_?secret|otp|pin|cvv|cvc)"
    r"(?![a-z0-9])"
)
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")


def _is_sensitive_key(key: str) -> bool:
    return bool(_SENSITIVE_KEY.search(_CAMEL.sub("_", key).lower().replace("-", "_")))


_MAX_DEPTH = 32


def _scrub_text(text: str, style: MaskStyle) -> str:
    return mask_pii(redact(text, limit=len(text) + 1), style=style)


def scrub(obj: Any, *, style: MaskStyle = "tag", _depth: int = 0) -> Any:
    """Return a copy of a JSON-like value with secrets redacted and personal data masked.

    * a mapping value whose key names a secret (``password``, ``api_key``, ``token``,
      ``authorization``, ``cookie`` ...) becomes ``"[REDACTED]"`` whatever it holds;
    * strings go through :func:`keel.errors.redact` (API keys, bearer tokens) and then
      :func:`keel.security.pii.mask_pii` (``style`` as there);
    * integers with 9+ digits are checked as text too (a card number stored as a number);
    * other objects are converted with ``str`` first; nesting past 32 levels is cut.

    >>> scrub(["Bearer abcdefghijkl", {"n": 4111111111111111}])
    ['Bearer [REDACTED]', {'n': '<CREDIT_CARD>'}]
    """
    if _depth > _MAX_DEPTH:
        return "[TRUNCATED]"
    if obj is None or isinstance(obj, bool | float):
        return obj
    if isinstance(obj, int):
        if abs(obj) >= 10**8:
            masked = _scrub_text(str(obj), style)
            return obj if masked == str(obj) else masked
        return obj
    if isinstance(obj, str):
        return _scrub_text(obj, style)
    if isinstance(obj, Mapping):
        out: dict[Any, Any] = {}
        for k, v in obj.items():
            key = _scrub_text(k, style) if isinstance(k, str) else k
            if isinstance(k, str) and _is_sensitive_key(k) and v not in (None, ""):
                out[key] = "[REDACTED]"
            else:
                out[key] = scrub(v, style=style, _depth=_depth + 1)
        return out
    if isinstance(obj, list | tuple | set | frozenset):
        items = [scrub(v, style=style, _depth=_depth + 1) for v in obj]
        return items if isinstance(obj, list | set | frozenset) else tuple(items)
    return _scrub_text(str(obj), style)
