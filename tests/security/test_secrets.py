"""API keys and scrubbing of logged data."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from keel.errors import ConfigError, redact
from keel.events import ToolCall, ToolCallStarted, parse_event
from keel.security.secrets import api_key_id, hash_api_key, new_api_key, scrub, verify_api_key

# Cheap scrypt parameters keep the tests fast; the default cost is measured in benchmarks/.
FAST = {"n": 2**10, "r": 8, "p": 1}


def test_new_api_key_shape_and_uniqueness() -> None:
    keys = [new_api_key() for _ in range(50)]
    assert len({secret for _, secret in keys}) == 50
    key_id, secret = keys[0]
    assert re.fullmatch(r"keel_[a-z0-9]{12}_[A-Za-z0-9_\-]{43}", secret)
    assert api_key_id(secret) == key_id
    assert api_key_id("keel_short_x") is None
    assert new_api_key("acme")[1].startswith("acme_")
    with pytest.raises(ConfigError):
        new_api_key("Bad Prefix")


def test_generated_keys_are_caught_by_redact() -> None:
    _, secret = new_api_key()
    assert secret[-20:] not in redact(f"Authorization failed for {secret}")


def test_hash_and_verify() -> None:
    _, secret = new_api_key()
    stored = hash_api_key(secret, **FAST)
    assert stored.startswith("scrypt$1024$8$1$") and secret not in stored
    assert verify_api_key(secret, stored)
    assert not verify_api_key(secret[:-1] + ("A" if secret[-1] != "A" else "B"), stored)
    assert not verify_api_key("", stored)


def test_salt_is_per_key() -> None:
    assert hash_api_key("same", **FAST) != hash_api_key("same", **FAST)


def test_default_cost_is_scrypt_2_14() -> None:
    stored = hash_api_key("keel_x_y")
    assert stored.split("$")[1:4] == ["16384", "8", "1"]
    assert verify_api_key("keel_x_y", stored)


@pytest.mark.parametrize(
    "stored",
    [
        "",
        "bcrypt$1$2$3$4$5",
        "scrypt$1024$8$1$%%%$abc",
        "scrypt$1000$8$1$AAAA$AAAA",  # n not a power of two
        "scrypt$4194304$8$1$AAAAAAAAAAAAAAAAAAAAAA$" + "A" * 43,  # n above the cap: refuse, don't burn CPU
        "scrypt$1024$8$1$AAAAAAAAAAAAAAAAAAAAAA$AAAA",  # hash of the wrong length
    ],
)
def test_malformed_hashes_verify_false(stored: str) -> None:
    assert verify_api_key("keel_x_y", stored) is False


def test_hash_rejects_bad_parameters() -> None:
    with pytest.raises(ConfigError):
        hash_api_key("x", n=1000)


# ------------------------------------------------------------------------------------------------
# scrub
# ------------------------------------------------------------------------------------------------


def test_scrub_nested_structure() -> None:
    _, key = new_api_key()
    data: dict[str, Any] = {
        "user": {"email": "ann@example.com", "phone": "+1 415 555 0132"},
        "headers": {"Authorization": "Bearer abcdefghijklmnop", "X-Api-Key": "whatever", "Accept": "json"},
        "messages": ["my card is 4111 1111 1111 1111", f"key {key}"],
        "usage": {"input_tokens": 120, "max_tokens": 512},
        "amount": 12.5,
        "ok": True,
        "none": None,
        "pair": ("ssn 078-05-1123", 7),
    }
    out = scrub(data)
    assert out["user"] == {"email": "<EMAIL>", "phone": "<PHONE>"}
    assert out["headers"] == {"Authorization": "[REDACTED]", "X-Api-Key": "[REDACTED]", "Accept": "json"}
    assert out["messages"][0] == "my card is <CREDIT_CARD>"
    assert key not in out["messages"][1] and "[REDACTED]" in out["messages"][1]
    assert out["usage"] == {"input_tokens": 120, "max_tokens": 512}
    assert (out["amount"], out["ok"], out["none"]) == (12.5, True, None)
    assert out["pair"] == ("ssn <US_SSN>", 7)
    assert data["user"]["email"] == "ann@example.com"  # the input is not modified


def test_scrub_numbers_keys_and_odd_objects() -> None:
    assert scrub(4111111111111111) == "<CREDIT_CARD>"
    assert scrub(123456789012) == 123456789012
    assert scrub({"jane@example.com": 1}) == {"<EMAIL>": 1}

    class Custom:
        def __str__(self) -> str:
            return "custom jane@example.com"

    assert scrub([Custom()]) == ["custom <EMAIL>"]


def test_scrub_long_strings_are_not_cut() -> None:
    text = "x" * 2000 + " jane@example.com"
    assert scrub(text) == "x" * 2000 + " <EMAIL>"


def test_scrub_deep_nesting_is_truncated() -> None:
    deep: list[object] = []
    cur = deep
    for _ in range(100):
        nxt: list[object] = []
        cur.append(nxt)
        cur = nxt
    assert "[TRUNCATED]" in json.dumps(scrub(deep))


def test_scrub_partial_style() -> None:
    assert scrub({"note": "card 4111-1111-1111-1111"}, style="partial") == {
        "note": "card ****-****-****-1111"
    }


@pytest.mark.integration
def test_scrub_a_real_run_event() -> None:
    event = ToolCallStarted(
        run_id="r1",
        step=2,
        call=ToolCall(
            id="c1", name="update_email", arguments={"email": "new@example.com", "password": "hunter22"}
        ),
    )
    clean = scrub(event.model_dump(mode="json"))
    assert clean["call"]["arguments"] == {"email": "<EMAIL>", "password": "[REDACTED]"}
    # Still a valid event after scrubbing, so it can be stored and replayed.
    assert parse_event(clean).call.arguments["email"] == "<EMAIL>"  # type: ignore[union-attr]
