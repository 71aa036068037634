"""Encryption at rest: round trips, tamper detection, key rotation, key loading."""

from __future__ import annotations

import base64
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("cryptography")

from keel.errors import ConfigError
from keel.security.crypto import DecryptionError, Encryptor, generate_key, key_id_for


@pytest.fixture
def enc() -> Encryptor:
    return Encryptor.from_spec(generate_key())


def test_round_trip_text_and_bytes(enc: Encryptor) -> None:
    token = enc.encrypt_str("Ünïcode card ending 4242")
    assert token.startswith(f"k1.{enc.primary_key_id}.")
    assert "4242" not in token
    assert enc.decrypt_str(token) == "Ünïcode card ending 4242"
    blob = enc.encrypt(b"\x00\xffbytes")
    assert enc.decrypt(blob) == b"\x00\xffbytes"


def test_each_encryption_uses_a_fresh_nonce(enc: Encryptor) -> None:
    assert enc.encrypt_str("same") != enc.encrypt_str("same")


def test_every_flipped_byte_is_detected(enc: Encryptor) -> None:
    blob = enc.encrypt(b"refund 20 EUR to order 42")
    for i in range(len(blob)):
        bad = bytearray(blob)
        bad[i] ^= 0x01
        # The key id byte(s) may turn into an unknown id: a config error, never plaintext.
        with pytest.raises((DecryptionError, ConfigError)):
            enc.decrypt(bytes(bad))


def test_truncated_or_foreign_data(enc: Encryptor) -> None:
    blob = enc.encrypt(b"abc")
    with pytest.raises(DecryptionError):
        enc.decrypt(blob[:-1])
    with pytest.raises(DecryptionError):
        enc.decrypt(blob[:10])
    with pytest.raises(DecryptionError):
        enc.decrypt_str("not a token")
    with pytest.raises(DecryptionError):
        enc.decrypt_str("k1.abc.@@@")


def test_aad_binds_ciphertext_to_its_row(enc: Encryptor) -> None:
    token = enc.encrypt_str("secret", aad=b"customer:1")
    assert enc.decrypt_str(token, aad=b"customer:1") == "secret"
    with pytest.raises(DecryptionError):
        enc.decrypt_str(token, aad=b"customer:2")


def test_token_key_id_must_match_its_data() -> None:
    a, b = generate_key(), generate_key()
    both = Encryptor.from_spec(f"ka:{a},kb:{b}")
    token = both.encrypt_str("x")  # under ka
    forged = token.replace("k1.ka.", "k1.kb.", 1)
    with pytest.raises(DecryptionError, match="altered"):
        both.decrypt_str(forged)


def test_a_ciphertext_under_another_configured_key_fails_authentication() -> None:
    a, b = generate_key(), generate_key()
    blob = bytearray(Encryptor.from_spec(f"ka:{a}").encrypt(b"x"))
    # Rename the key id inside the header to another key the reader has: AES-GCM must refuse.
    blob[2:4] = b"kb"
    with pytest.raises(DecryptionError):
        Encryptor.from_spec(f"kb:{b}").decrypt(bytes(blob))


def test_rotation() -> None:
    old, new = generate_key(), generate_key()
    before = Encryptor.from_spec(f"v1:{old}")
    token = before.encrypt_str("hello", aad=b"r1")

    after = Encryptor.from_spec(f"v2:{new}, v1:{old}")
    assert after.primary_key_id == "v2"
    assert after.decrypt_str(token, aad=b"r1") == "hello"
    assert after.needs_rotation(token)
    rotated = after.rotate(token, aad=b"r1")
    assert rotated.startswith("k1.v2.") and not after.needs_rotation(rotated)
    assert after.decrypt_str(rotated, aad=b"r1") == "hello"
    # Once the old key is dropped, old tokens name a key that is not there.
    only_new = Encryptor.from_spec(f"v2:{new}")
    assert only_new.decrypt_str(rotated, aad=b"r1") == "hello"
    with pytest.raises(ConfigError, match="'v1', which is not configured"):
        only_new.decrypt_str(token, aad=b"r1")


def test_default_key_id_is_derived_from_the_key() -> None:
    key = generate_key()
    enc = Encryptor.from_spec(key)
    assert enc.primary_key_id == key_id_for(base64.b64decode(key))
    assert key not in enc.primary_key_id


def test_from_env_and_errors_never_echo_key_material(monkeypatch: pytest.MonkeyPatch) -> None:
    key = generate_key()
    monkeypatch.setenv("KEEL_ENCRYPTION_KEY", key)
    monkeypatch.delenv("KEEL_ENCRYPTION_KEY_FILE", raising=False)
    assert Encryptor.from_env().decrypt_str(Encryptor.from_spec(key).encrypt_str("x")) == "x"

    short = base64.b64encode(b"k" * 16).decode()
    with pytest.raises(ConfigError, match="16 bytes") as info:
        Encryptor.from_env({"KEEL_ENCRYPTION_KEY": short})
    assert short not in str(info.value)
    with pytest.raises(ConfigError, match="not valid base64"):
        Encryptor.from_env({"KEEL_ENCRYPTION_KEY": "%%%not-base64%%%"})
    with pytest.raises(ConfigError, match="KEEL_ENCRYPTION_KEY"):
        Encryptor.from_env({})
    with pytest.raises(ConfigError, match="twice"):
        Encryptor.from_spec(f"a:{key},a:{generate_key()}")


def test_key_file(tmp_path: Path) -> None:
    new, old = generate_key(), generate_key()
    path = tmp_path / "keys"
    path.write_text(f"# current key first\nk2:{new}\nk1:{old}  # retired 2026-01\n")
    path.chmod(0o600)
    enc = Encryptor.from_env({"KEEL_ENCRYPTION_KEY_FILE": str(path)})
    assert enc.primary_key_id == "k2"
    assert enc.decrypt_str(Encryptor.from_spec(f"k1:{old}").encrypt_str("x")) == "x"
    path.chmod(0o644)
    with pytest.warns(UserWarning, match="chmod 600"):
        Encryptor.from_file(path)
    with pytest.raises(ConfigError, match="cannot read"):
        Encryptor.from_file(tmp_path / "missing")


@pytest.mark.integration
def test_encrypted_column_in_sqlite_and_another_process(tmp_path: Path) -> None:
    """Values encrypted into a real SQLite file decrypt in a fresh process holding the key; a row
    edited on disk is refused."""
    key = generate_key()
    enc = Encryptor.from_spec(f"prod:{key}")
    db_path = tmp_path / "app.db"
    db = sqlite3.connect(db_path)
    db.execute("CREATE TABLE customers (id INTEGER PRIMARY KEY, card TEXT)")
    for i, card in enumerate(["4111 1111 1111 1111", "5555 5555 5555 4444"], start=1):
        db.execute(
            "INSERT INTO customers VALUES (?, ?)", (i, enc.encrypt_str(card, aad=f"customers:{i}".encode()))
        )
    db.commit()
    assert b"4111" not in db_path.read_bytes()

    reader = (
        "import sqlite3, sys\n"
        "from keel.security.crypto import Encryptor\n"
        "enc = Encryptor.from_env()\n"
        "for i, c in sqlite3.connect(sys.argv[1]).execute('SELECT id, card FROM customers ORDER BY id'):\n"
        "    print(enc.decrypt_str(c, aad=f'customers:{i}'.encode()))\n"
    )
    env = {**os.environ, "KEEL_ENCRYPTION_KEY": f"prod:{key}"}
    out = subprocess.run(
        [sys.executable, "-c", reader, str(db_path)], env=env, capture_output=True, text=True, check=True
    )
    assert out.stdout.splitlines() == ["4111 1111 1111 1111", "5555 5555 5555 4444"]

    # Swap the two ciphertexts between rows: the aad (row id) no longer matches.
    _, b = (r[0] for r in db.execute("SELECT card FROM customers ORDER BY id"))
    db.execute("UPDATE customers SET card = ? WHERE id = 1", (b,))
    db.commit()
    (token,) = db.execute("SELECT card FROM customers WHERE id = 1").fetchone()
    with pytest.raises(DecryptionError):
        enc.decrypt_str(token, aad=b"customers:1")
    db.close()
