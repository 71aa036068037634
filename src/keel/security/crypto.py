"""Encryption at rest: AES-256-GCM with key ids, so keys can rotate without re-encrypting at once.

Keys come from ``KEEL_ENCRYPTION_KEY`` or from the file named by ``KEEL_ENCRYPTION_KEY_FILE``.
Either holds one or more keys separated by commas or newlines, the first being the one that
encrypts and the others only decrypting (old keys during a rotation)::

    KEEL_ENCRYPTION_KEY="<base64 key>"                          # one key, id derived from it
    KEEL_ENCRYPTION_KEY="k2:<base64 new key>,k1:<base64 old>"   # named keys, k2 encrypts

Every ciphertext names its key id, and the id and an optional ``aad`` (e.g. the row id) are
authenticated with the data, so moving a ciphertext to another row or changing a byte raises
:class:`DecryptionError` instead of returning garbage.

>>> enc = Encryptor.from_spec(generate_key())
>>> token = enc.encrypt_str("card ending 4242", aad=b"customer:7")
>>> enc.decrypt_str(token, aad=b"customer:7")
'card ending 4242'

Needs the ``cryptography`` package (``pip install 'keel[security]'``).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import re
import secrets
import stat
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from keel.errors import ConfigError, KeelError

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

__all__ = ["DecryptionError", "Encryptor", "generate_key", "key_id_for"]

_VERSION = b"\x01"
_NONCE_LEN = 12
_KID = re.compile(r"^[A-Za-z0-9_\-]{1,32}$")
_FORMAT_TAG = "k1"
_HINT = "generate one with: python -c 'from keel.security.crypto import generate_key; print(generate_key())'"


class DecryptionError(KeelError):
    """A ciphertext failed authentication (tampered, truncated, wrong ``aad``) or is malformed."""


def generate_key() -> str:
    """A new random 256-bit key, base64-encoded, for ``KEEL_ENCRYPTION_KEY``.

    >>> len(base64.b64decode(generate_key()))
    32
    """
    return base64.b64encode(secrets.token_bytes(32)).decode()


def key_id_for(key: bytes) -> str:
    """The default id of a key: 8 hex digits of a hash of it (it does not reveal the key).

    >>> key_id_for(bytes(32))
    'd7c7ced4'
    """
    return hashlib.sha256(b"keel-key-id:" + key).hexdigest()[:8]


def _decode_key(text: str, where: str) -> bytes:
    text = text.strip()
    try:
        key = base64.b64decode(
            text + "=" * (-len(text) % 4),
            altchars=b"-_" if ("-" in text or "_" in text) else None,
            validate=True,
        )
    except (binascii.Error, ValueError):
        raise ConfigError(f"{where} is not valid base64; {_HINT}") from None
    if len(key) != 32:
        raise ConfigError(f"{where} decodes to {len(key)} bytes, AES-256 needs 32; {_HINT}")
    return key


def _parse_spec(spec: str, where: str) -> tuple[dict[str, bytes], str]:
    keys: dict[str, bytes] = {}
    primary = ""
    entries = [e.strip() for line in spec.splitlines() for e in line.split("#", 1)[0].split(",")]
    for n, entry in enumerate(e for e in entries if e):
        kid, sep, b64 = entry.partition(":")
        if not sep:
            kid, b64 = "", entry
        key = _decode_key(b64, f"{where} entry {n + 1}")
        kid = kid.strip() or key_id_for(key)
        if not _KID.match(kid):
            raise ConfigError(f"{where} entry {n + 1}: key id {kid!r} must be 1-32 of A-Z a-z 0-9 _ -")
        if kid in keys:
            raise ConfigError(f"{where}: key id {kid!r} appears twice; give each key its own id")
        keys[kid] = key
        primary = primary or kid
    if not keys:
        raise ConfigError(f"{where} holds no key; {_HINT}")
    return keys, primary


class Encryptor:
    """AES-256-GCM with a primary key for encryption and any number of older keys for decryption.

    >>> old, new = generate_key(), generate_key()
    >>> token = Encryptor.from_spec(f"v1:{old}").encrypt_str("secret")
    >>> rotated = Encryptor.from_spec(f"v2:{new},v1:{old}")
    >>> rotated.decrypt_str(token), rotated.needs_rotation(token)
    ('secret', True)
    """

    def __init__(self, keys: Mapping[str, bytes], primary_key_id: str) -> None:
        try:
            from cryptography.hazmat.primitives.ciphers.aead import AESGCM
        except ImportError:
            raise ConfigError(
                "encryption needs the 'cryptography' package: pip install 'keel[security]'"
            ) from None
        if primary_key_id not in keys:
            raise ConfigError(f"primary key id {primary_key_id!r} is not among the keys {sorted(keys)}")
        for kid, key in keys.items():
            if not _KID.match(kid) or len(key) != 32:
                raise ConfigError(f"key {kid!r}: ids are 1-32 of A-Z a-z 0-9 _ -, and keys 32 bytes")
        self._aead: dict[str, AESGCM] = {kid: AESGCM(key) for kid, key in keys.items()}
        self.primary_key_id = primary_key_id

    @classmethod
    def from_spec(cls, spec: str, *, where: str = "key spec") -> Encryptor:
        """Build from the ``KEEL_ENCRYPTION_KEY`` syntax: ``[id:]base64key`` entries, first encrypts."""
        keys, primary = _parse_spec(spec, where)
        return cls(keys, primary)

    @classmethod
    def from_file(cls, path: str | os.PathLike[str]) -> Encryptor:
        """Build from a key file (same syntax, one entry a line, ``#`` comments)."""
        p = Path(path)
        try:
            mode = p.stat().st_mode
            text = p.read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigError(
                f"cannot read the key file {p}: {exc.strerror}; check the path and permissions"
            ) from None
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            warnings.warn(f"key file {p} is readable by other users; run: chmod 600 {p}", stacklevel=2)
        return cls.from_spec(text, where=f"key file {p}")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Encryptor:
        """Build from ``KEEL_ENCRYPTION_KEY``, else from the file named by ``KEEL_ENCRYPTION_KEY_FILE``."""
        env = os.environ if environ is None else environ
        if env.get("KEEL_ENCRYPTION_KEY"):
            return cls.from_spec(env["KEEL_ENCRYPTION_KEY"], where="KEEL_ENCRYPTION_KEY")
        if env.get("KEEL_ENCRYPTION_KEY_FILE"):
            return cls.from_file(env["KEEL_ENCRYPTION_KEY_FILE"])
        raise ConfigError(
            f"set KEEL_ENCRYPTION_KEY (base64 of 32 random bytes) or KEEL_ENCRYPTION_KEY_FILE; {_HINT}"
        )

    # -- bytes ------------------------------------------------------------------------------------

    def encrypt(self, plaintext: bytes, *, aad: bytes = b"") -> bytes:
        """Encrypt with the primary key: ``version | len(kid) | kid | nonce | ciphertext+tag``."""
        kid = self.primary_key_id.encode()
        nonce = secrets.token_bytes(_NONCE_LEN)
        header = _VERSION + bytes([len(kid)]) + kid
        return header + nonce + self._aead[self.primary_key_id].encrypt(nonce, plaintext, header + aad)

    def decrypt(self, blob: bytes, *, aad: bytes = b"") -> bytes:
        """Decrypt with whichever configured key the blob names; raise on any tampering."""
        kid, header, rest = self._split(blob)
        try:
            return self._aead[kid].decrypt(rest[:_NONCE_LEN], rest[_NONCE_LEN:], header + aad)
        except Exception as exc:  # cryptography's InvalidTag, or a too-short blob
            raise DecryptionError(
                "ciphertext failed authentication: it was modified, truncated, or the aad differs"
            ) from exc

    def key_id_of(self, blob: bytes) -> str:
        """The id of the key a blob was encrypted with."""
        return self._split(blob)[0]

    def _split(self, blob: bytes) -> tuple[str, bytes, bytes]:
        if len(blob) < 2 or blob[:1] != _VERSION:
            raise DecryptionError(
                "not a Keel ciphertext (unknown version byte); was it encrypted by Encryptor?"
            )
        n = blob[1]
        header, rest = blob[: 2 + n], blob[2 + n :]
        kid = header[2:].decode("ascii", "replace")
        if len(rest) < _NONCE_LEN + 16:
            raise DecryptionError("ciphertext is truncated")
        if kid not in self._aead:
            raise ConfigError(
                f"ciphertext was encrypted with key id {kid!r}, which is not configured; add that key "
                "after the current one in KEEL_ENCRYPTION_KEY (old keys decrypt, only the first encrypts)"
            )
        return kid, header, rest

    # -- text -------------------------------------------------------------------------------------

    def encrypt_str(self, plaintext: str, *, aad: bytes = b"") -> str:
        """Encrypt text to an ASCII token ``k1.<kid>.<base64url>`` that fits a TEXT column."""
        blob = self.encrypt(plaintext.encode("utf-8"), aad=aad)
        return f"{_FORMAT_TAG}.{self.primary_key_id}." + base64.urlsafe_b64encode(blob).decode().rstrip("=")

    def decrypt_str(self, token: str, *, aad: bytes = b"") -> str:
        """Decrypt a token from :meth:`encrypt_str`."""
        prefix, _, rest = token.partition(".")
        kid, _, body = rest.partition(".")
        if prefix != _FORMAT_TAG or not body:
            raise DecryptionError("not a Keel token (expected 'k1.<key id>.<data>')")
        try:
            blob = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
        except (binascii.Error, ValueError):
            raise DecryptionError("token data is not valid base64url") from None
        if self.key_id_of(blob) != kid:
            raise DecryptionError("token key id does not match its data; the token was altered")
        return self.decrypt(blob, aad=aad).decode("utf-8")

    def needs_rotation(self, token: str | bytes) -> bool:
        """True when ``token`` was encrypted with a key other than the primary one."""
        if isinstance(token, bytes):
            return self.key_id_of(token) != self.primary_key_id
        return token.split(".", 2)[1:2] != [self.primary_key_id]

    def rotate(self, token: str, *, aad: bytes = b"") -> str:
        """Re-encrypt a text token under the primary key (a no-op copy when it already is)."""
        return self.encrypt_str(self.decrypt_str(token, aad=aad), aad=aad)
