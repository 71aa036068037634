"""Find and mask personal data in text with compiled regexes and checksums, no model.

Detected entity types, each validated beyond its shape where a checksum or a rule exists:

========== =================================================================================
EMAIL      RFC-5322-ish local part, dotted domain, alphabetic or punycode TLD
PHONE      international ``+CC ...`` (8-15 digits), North-American formats, ``0``-prefixed
           national formats, Chinese mobiles; a bare 10-digit number only next to a phone word
CREDIT_CARD 12-19 digits, plain or grouped, Luhn-valid; 12 digits only with a Maestro prefix
US_SSN     ``AAA-GG-SSSS`` with one separator kind; area not 000/666/9xx, group not 00,
           serial not 0000; other groupings (plain 9 digits, 5-4, 3-6) only after an SSN word
IBAN       country code + known length (SWIFT registry) + ISO 7064 mod-97 check
IP_ADDRESS IPv4 and IPv6 (compressed, zone ids, embedded IPv4), validated by :mod:`ipaddress`
CRYPTO     Bitcoin addresses: base58check (P2PKH/P2SH) and bech32/bech32m (``bc1...``)
========== =================================================================================

Names and places (PERSON, LOCATION) are not detected: doing that honestly needs a trained model,
and a word-list guess would give a false sense of safety. Use a NER model for those.

>>> mask_pii("Mail jane@example.com or call +1 415 555 0132")
'Mail <EMAIL> or call <PHONE>'
>>> [s.entity_type for s in detect_pii("card 4111 1111 1111 1111, IBAN GB29 NWBK 6016 1331 9268 19")]
['CREDIT_CARD', 'IBAN']
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import re
import secrets
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Literal

__all__ = ["ENTITY_TYPES", "PiiSpan", "detect_pii", "mask_pii"]

ENTITY_TYPES: tuple[str, ...] = ("EMAIL", "PHONE", "CREDIT_CARD", "US_SSN", "IBAN", "IP_ADDRESS", "CRYPTO")

MaskStyle = Literal["tag", "hash", "partial"]


@dataclass(frozen=True, slots=True)
class PiiSpan:
    """One piece of personal data found in a text: ``text[start:end]`` is ``text``.

    >>> detect_pii("ssn 078-05-1123")[0]
    PiiSpan(start=4, end=15, entity_type='US_SSN', text='078-05-1123')
    """

    start: int
    end: int
    entity_type: str
    text: str


# ------------------------------------------------------------------------------------------------
# Email
# ------------------------------------------------------------------------------------------------

_EMAIL = re.compile(
    r"(?<![\w.%+'\-])[A-Za-z0-9_%+'\-]+(?:\.[A-Za-z0-9_%+'\-]+)*"
    r"@(?:[A-Za-z0-9](?:[A-Za-z0-9\-]{0,61}[A-Za-z0-9])?\.)+(?:[A-Za-z]{2,63}|xn--[A-Za-z0-9\-]{1,59})"
    r"(?![\w\-])",
    re.ASCII,
)


def _emails(text: str) -> Iterator[tuple[int, int]]:
    for m in _EMAIL.finditer(text):
        start = m.start()
        # Text from JSON or logs often holds escaped newlines: "Mail:\\njane@x.com".
        if start and text[start - 1] == "\\" and text[start] in "ntr":
            start += 1
        yield start, m.end()


# ------------------------------------------------------------------------------------------------
# Phone numbers
# ------------------------------------------------------------------------------------------------

_EXT = r"(?:\s?(?:x|ext\.?|extension)\s?\d{1,6})?"
_PHONE_PATTERNS = [
    # International: +CC then groups; the digit count is checked after matching.
    re.compile(r"(?<![\d+])\+\d{1,3}(?:[ .\-]?\(?\d{1,10}\)?){1,7}" + _EXT + r"(?![\d])", re.ASCII),
    # North American: optional 1 / 001 / other short country prefix, (AAA) or AAA, then EEE-NNNN.
    re.compile(
        r"(?<![\d+])(?:\d{1,3}[ .\-])?(?:\(\d{3}\)\s?|\d{3}[ .\-])\d{3}[ .\-]\d{4}" + _EXT + r"(?![\d])",
        re.ASCII,
    ),
    # National numbers with a trunk 0: 090-1234-5678, 020 7123 4567, 09-7625400.
    # Not followed by yet another digit group: then it is part of a longer number.
    re.compile(r"(?<![\d+])0\d{1,4}[ \-]\d{3,4}[ \-]\d{4}(?!\d|[ \-]\d)", re.ASCII),
    re.compile(r"(?<![\d+])0\d{1,2}-\d{7,8}(?![\d])", re.ASCII),
    # Chinese mobiles: 11 digits starting 13-19.
    re.compile(r"(?<![\d+])1[3-9]\d{9}(?![\d])", re.ASCII),
]
# A bare 10-digit number is as likely an order id as a phone; accept it only beside a phone word.
_BARE_NANP = re.compile(r"(?<![\d+])[2-9]\d{2}[2-9]\d{6}(?![\d])", re.ASCII)
_PHONE_WORDS = re.compile(
    r"\b(?:call|phone|tel|telephone|mobile|cell|fax|desk|office|contact|reach|text me|sms|whatsapp|"
    r"dial|answer\w*|ring|number|no\.)\b",
    re.IGNORECASE,
)


def _phones(text: str) -> Iterator[tuple[int, int]]:
    for pat in _PHONE_PATTERNS:
        for m in pat.finditer(text):
            digits = re.sub(r"\D", "", re.split(r"x|ext|extension", m.group(), maxsplit=1)[0])
            if 8 <= len(digits) <= 15:
                yield m.start(), m.end()
    for m in _BARE_NANP.finditer(text):
        # Escaped newlines ("Desk:\\n" in logged JSON) must not glue the phone word to a letter.
        before = text[max(0, m.start() - 40) : m.start()].replace("\\n", " ")
        after = text[m.end() : m.end() + 12].replace("\\n", " ")
        if _ID_WORDS.search(before[-30:]):
            continue
        if _PHONE_WORDS.search(before) or _PHONE_WORDS.search(after):
            yield m.start(), m.end()


# ------------------------------------------------------------------------------------------------
# Credit cards
# ------------------------------------------------------------------------------------------------

_CARD = re.compile(
    r"(?<![\d\-])(?:\d{12,19}"
    r"|\d{4}(?P<s>[ \-])\d{4}(?P=s)\d{4}(?P=s)\d{1,4}(?:(?P=s)\d{1,3})?"
    r"|\d{4}(?P<a>[ \-])\d{6}(?P=a)\d{4,5})(?![\d])",
    re.ASCII,
)
_MAESTRO_12 = re.compile(r"^(?:50|5[6-9]|6)")
# One random number in ten passes Luhn, so a long order id often looks like a card. An id word
# right before the number, with no card word, says it is an id.
_ID_WORDS = re.compile(
    r"\b(?:order|purchase|invoice|tracking|ticket|reference|ref|confirmation|booking|case|account)\b"
    r"(?:\s*(?:no\.?|number|num|id|#))?(?:\s+(?:is|was))?\s*[:#]?\s*$",
    re.IGNORECASE,
)
_CARD_WORDS = re.compile(r"\b(?:card|visa|mastercard|amex|credit|debit|maestro|cc|pan)\b", re.IGNORECASE)


def luhn_valid(digits: str) -> bool:
    """True when ``digits`` passes the Luhn check used by payment cards.

    >>> luhn_valid("4111111111111111"), luhn_valid("4111111111111112")
    (True, False)
    """
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i % 2 == 1:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def _card_number_ok(digits: str) -> bool:
    if digits[0] not in "123456" or not luhn_valid(digits):
        return False
    # Issuer rules: 1xxx is UATP/JCB (15 digits); only Visa issued 13-digit numbers.
    if (digits[0] == "1" and len(digits) != 15) or (len(digits) == 13 and digits[0] != "4"):
        return False
    return len(digits) != 12 or bool(_MAESTRO_12.match(digits))


def _cards(text: str) -> Iterator[tuple[int, int]]:
    for m in _CARD.finditer(text):
        start, end = m.span()
        # "4111 1111 1111 1111 12/29": the regex also takes the expiry's "12"; drop trailing groups.
        while not _card_number_ok(re.sub(r"\D", "", text[start:end])):
            cut = max(text.rfind(" ", start, end), text.rfind("-", start, end))
            if cut <= start or len(re.sub(r"\D", "", text[start:cut])) < 12:
                break
            end = cut
        else:
            before = text[max(0, start - 30) : start]
            if not (_ID_WORDS.search(before) and not _CARD_WORDS.search(before)):
                yield start, end


# ------------------------------------------------------------------------------------------------
# US social security numbers
# ------------------------------------------------------------------------------------------------

_SSN_CANONICAL = re.compile(r"(?<![\w\-.])(\d{3})([\-. ])(\d{2})\2(\d{4})(?![\w\-]|\.\d)", re.ASCII)
_SSN_LOOSE = re.compile(r"(?<![\w\-.])(?:\d{9}|\d{3}-\d{6}|\d{5}-\d{4})(?![\w\-]|\.\d)", re.ASCII)
_SSN_WORDS = re.compile(r"\b(?:ssn|ss#|social security|social sec\.?|sozialversicherung)\b", re.I)
# Numbers the SSA voided after they were printed in advertising.
_SSN_VOIDED = frozenset({"078051120", "219099999"})


def ssn_valid(digits: str) -> bool:
    """True for a 9-digit string the SSA could have issued (area, group and serial rules).

    >>> ssn_valid("078051123"), ssn_valid("666051123"), ssn_valid("078001123")
    (True, False, False)
    """
    if len(digits) != 9 or not digits.isdigit() or digits in _SSN_VOIDED:
        return False
    area, group, serial = digits[:3], digits[3:5], digits[5:]
    return area not in ("000", "666") and area[0] != "9" and group != "00" and serial != "0000"


def _ssns(text: str) -> Iterator[tuple[int, int]]:
    for m in _SSN_CANONICAL.finditer(text):
        if ssn_valid(m.group(1) + m.group(3) + m.group(4)):
            yield m.start(), m.end()
    for m in _SSN_LOOSE.finditer(text):
        # Plain 9-digit numbers, zip+4 codes and the like collide with order ids; need context.
        if _SSN_WORDS.search(text[max(0, m.start() - 40) : m.start()]) and ssn_valid(
            m.group().replace("-", "")
        ):
            yield m.start(), m.end()


# ------------------------------------------------------------------------------------------------
# IBAN
# ------------------------------------------------------------------------------------------------

# Lengths from the SWIFT IBAN registry.
_IBAN_LENGTHS = {
    "AD": 24, "AE": 23, "AL": 28, "AT": 20, "AZ": 28, "BA": 20, "BE": 16, "BG": 22, "BH": 22, "BI": 27,
    "BR": 29, "BY": 28, "CH": 21, "CR": 22, "CY": 28, "CZ": 24, "DE": 22, "DJ": 27, "DK": 18, "DO": 28,
    "EE": 20, "EG": 29, "ES": 24, "FI": 18, "FK": 18, "FO": 18, "FR": 27, "GB": 22, "GE": 22, "GI": 23,
    "GL": 18, "GR": 27, "GT": 28, "HN": 28, "HR": 21, "HU": 28, "IE": 22, "IL": 23, "IQ": 23, "IS": 26,
    "IT": 27, "JO": 30, "KW": 30, "KZ": 20, "LB": 28, "LC": 32, "LI": 21, "LT": 20, "LU": 20, "LV": 21,
    "LY": 25, "MC": 27, "MD": 24, "ME": 22, "MK": 19, "MN": 20, "MR": 27, "MT": 31, "MU": 30, "NI": 28,
    "NL": 18, "NO": 15, "OM": 23, "PK": 24, "PL": 28, "PS": 29, "PT": 25, "QA": 29, "RO": 24, "RS": 22,
    "RU": 33, "SA": 24, "SC": 31, "SD": 18, "SE": 24, "SI": 19, "SK": 24, "SM": 27, "SO": 23, "ST": 25,
    "SV": 28, "TL": 23, "TN": 24, "TR": 26, "UA": 29, "VA": 22, "VG": 24, "XK": 20, "YE": 30,
}  # fmt: skip
_IBAN_START = re.compile(r"(?<![A-Za-z0-9])([A-Z]{2})(\d{2})", re.ASCII)


def iban_valid(iban: str) -> bool:
    """True when ``iban`` (no separators) has its country's length and passes the mod-97 check.

    >>> iban_valid("GB29NWBK60161331926819"), iban_valid("GB29NWBK60161331926810")
    (True, False)
    """
    if _IBAN_LENGTHS.get(iban[:2]) != len(iban) or not iban.isalnum() or not iban.isascii():
        return False
    rearranged = iban[4:] + iban[:4]
    return int("".join(str(int(c, 36)) for c in rearranged)) % 97 == 1


def _ibans(text: str) -> Iterator[tuple[int, int]]:
    n, resume = len(text), 0
    for m in _IBAN_START.finditer(text):
        length = _IBAN_LENGTHS.get(m.group(1))
        if length is None or m.start() < resume:
            continue
        chars, i, sep = [m.group(1), m.group(2)], m.end(), ""
        need = length - 4
        while need and i < n:
            c = text[i]
            if c.isascii() and (c.isdigit() or c.isupper()):
                chars.append(c)
                need -= 1
                i += 1
            elif c in " -" and sep in ("", c) and i + 1 < n and text[i + 1].isalnum():
                sep = c  # one separator kind per IBAN, never two in a row
                i += 1
            else:
                break
        if need or (i < n and text[i].isascii() and text[i].isalnum()):
            continue
        if iban_valid("".join(chars)):
            resume = i
            yield m.start(), i


# ------------------------------------------------------------------------------------------------
# IP addresses
# ------------------------------------------------------------------------------------------------

_IPV4 = re.compile(r"(?<![\w.])(?:\d{1,3}\.){3}\d{1,3}(?!\w|\.\d)", re.ASCII)
_IPV6 = re.compile(r"(?<![\w:.])[0-9A-Fa-f:][0-9A-Fa-f:.]*(?:%[A-Za-z0-9_\-]+)?", re.ASCII)


def _ips(text: str) -> Iterator[tuple[int, int]]:
    for m in _IPV4.finditer(text):
        try:
            ipaddress.IPv4Address(m.group())
        except ValueError:
            continue
        yield m.start(), m.end()
    for m in _IPV6.finditer(text):
        cand = m.group()
        if "%" not in cand:
            cand = cand.rstrip(".")  # a sentence's full stop is not part of the address
        end = m.start() + len(cand)
        if cand.count(":") < 2 or (end < len(text) and (text[end].isalnum() or text[end] in "_:")):
            continue
        try:
            ipaddress.IPv6Address(cand)
        except ValueError:
            continue
        yield m.start(), end


# ------------------------------------------------------------------------------------------------
# Crypto wallets (Bitcoin)
# ------------------------------------------------------------------------------------------------

_B58_ALPHABET = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
_B58_INDEX = {c: i for i, c in enumerate(_B58_ALPHABET)}
_BASE58_ADDR = re.compile(r"(?<![A-Za-z0-9])[13][1-9A-HJ-NP-Za-km-z]{25,34}(?![A-Za-z0-9])", re.ASCII)
_BECH32_ADDR = re.compile(
    r"(?<![A-Za-z0-9])(?:bc1[02-9ac-hj-np-z]{8,87}|BC1[02-9AC-HJ-NP-Z]{8,87})(?![A-Za-z0-9])"
)
_BECH32_CHARSET = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"
_BECH32_CONST, _BECH32M_CONST = 1, 0x2BC830A3


def _base58check_valid(addr: str) -> bool:
    num = 0
    for c in addr:
        num = num * 58 + _B58_INDEX[c]
    pad = len(addr) - len(addr.lstrip("1"))
    raw = b"\x00" * pad + num.to_bytes((num.bit_length() + 7) // 8, "big")
    if len(raw) != 25 or raw[0] not in (0x00, 0x05):
        return False
    check = hashlib.sha256(hashlib.sha256(raw[:-4]).digest()).digest()[:4]
    return hmac.compare_digest(check, raw[-4:])


def _bech32_polymod(values: Iterable[int]) -> int:
    gen = (0x3B6A57B2, 0x26508E6D, 0x1EA119FA, 0x3D4233DD, 0x2A1462B3)
    chk = 1
    for v in values:
        top = chk >> 25
        chk = (chk & 0x1FFFFFF) << 5 ^ v
        for i in range(5):
            chk ^= gen[i] if (top >> i) & 1 else 0
    return chk


def _bech32_valid(addr: str) -> bool:
    addr = addr.lower()
    hrp, data = addr[:2], [_BECH32_CHARSET.index(c) for c in addr[3:]]
    if len(data) < 7:
        return False
    hrp_exp = [ord(c) >> 5 for c in hrp] + [0] + [ord(c) & 31 for c in hrp]
    const = _bech32_polymod(hrp_exp + data)
    # Segwit v0 uses bech32, v1+ (taproot) bech32m (BIP-350).
    return const == (_BECH32_CONST if data[0] == 0 else _BECH32M_CONST)


def _cryptos(text: str) -> Iterator[tuple[int, int]]:
    for m in _BASE58_ADDR.finditer(text):
        if _base58check_valid(m.group()):
            yield m.start(), m.end()
    for m in _BECH32_ADDR.finditer(text):
        if _bech32_valid(m.group()):
            yield m.start(), m.end()


# ------------------------------------------------------------------------------------------------
# Detection and masking
# ------------------------------------------------------------------------------------------------

# Order = priority when two findings overlap: checksum-validated types beat shape-only ones.
_DETECTORS: dict[str, Callable[[str], Iterator[tuple[int, int]]]] = {
    "CRYPTO": _cryptos,
    "IBAN": _ibans,
    "EMAIL": _emails,
    "CREDIT_CARD": _cards,
    "IP_ADDRESS": _ips,
    "US_SSN": _ssns,
    "PHONE": _phones,
}
_RANK = {name: i for i, name in enumerate(_DETECTORS)}
# Text shaped like an IBAN is not a card or a phone number even when its checksum fails:
# "DE89 3704 0044 0532 0130 01" holds a Luhn-valid run and a phone-like run.
_IBAN_SHAPED = re.compile(
    r"(?<![A-Za-z0-9])[A-Z]{2}\d{2}(?:[ \-]?[A-Za-z0-9]{1,4}){3,8}(?![A-Za-z0-9])", re.ASCII
)
_MAYBE_PII = re.compile(r"[0-9@]|:[0-9A-Fa-f]{0,4}:")
_NUMERIC_TYPES = frozenset({"CREDIT_CARD", "PHONE", "US_SSN"})


def detect_pii(text: str, entities: Iterable[str] | None = None) -> list[PiiSpan]:
    """Return the personal data in ``text`` as non-overlapping spans sorted by position.

    ``entities`` limits the search to some of :data:`ENTITY_TYPES`. Where two findings overlap
    the checksum-validated one wins (an IBAN over the phone number inside it), then the longer.

    >>> detect_pii("write to ops@example.com from 10.0.0.1")
    [PiiSpan(start=9, end=24, entity_type='EMAIL', text='ops@example.com'), \
PiiSpan(start=30, end=38, entity_type='IP_ADDRESS', text='10.0.0.1')]
    """
    wanted = _check_entities(entities)
    # Every entity holds a digit, an "@" or two colons (IPv6); most chat text has none of them.
    if not _MAYBE_PII.search(text):
        return []
    found: list[tuple[int, int, int, str]] = []
    for name, finder in _DETECTORS.items():
        if name in wanted:
            found.extend((_RANK[name], -(end - start), start, name) for start, end in finder(text))
    if found and wanted & _NUMERIC_TYPES:
        shaped = [m.span() for m in _IBAN_SHAPED.finditer(text)]
        found = [f for f in found if f[3] not in _NUMERIC_TYPES or not _inside(f[2], f[2] - f[1], shaped)]
    found.sort()
    taken: list[tuple[int, int]] = []
    spans: list[PiiSpan] = []
    for _, neg_len, start, name in found:
        end = start - neg_len
        if any(start < e and s < end for s, e in taken):
            continue
        taken.append((start, end))
        spans.append(PiiSpan(start, end, name, text[start:end]))
    spans.sort(key=lambda s: s.start)
    return spans


def _inside(start: int, end: int, regions: list[tuple[int, int]]) -> bool:
    return any(s <= start and end <= e for s, e in regions)


def _check_entities(entities: Iterable[str] | None) -> frozenset[str]:
    if entities is None:
        return frozenset(ENTITY_TYPES)
    wanted = frozenset(entities)
    unknown = wanted - set(ENTITY_TYPES)
    if unknown:
        from keel.errors import ConfigError

        raise ConfigError(
            f"unknown PII entity type(s) {sorted(unknown)}; choose from {list(ENTITY_TYPES)}"
            " (PERSON and LOCATION need a NER model and are not detected here)"
        )
    return wanted


_PROCESS_HASH_KEY = secrets.token_bytes(32)


def mask_pii(
    text: str,
    entities: Iterable[str] | None = None,
    style: MaskStyle = "tag",
    *,
    hash_key: bytes | None = None,
) -> str:
    """Replace the personal data in ``text``.

    ``style``:

    * ``"tag"``: ``<EMAIL>``, ``<CREDIT_CARD>`` ...
    * ``"hash"``: ``<EMAIL:3f9a1c0b2e>``, a keyed HMAC-SHA256 of the normalised value, so equal
      values stay correlatable in logs but cannot be brute-forced back (phone numbers and SSNs are
      small spaces). Without ``hash_key`` a random per-process key is used; pass a stable key to
      correlate across processes.
    * ``"partial"``: keeps the last 4 characters of numbers (``************1111``), the first
      letter and the domain of emails (``j***@example.com``) and the first half of IPs.

    >>> mask_pii("card 4111-1111-1111-1111", style="partial")
    'card ****-****-****-1111'
    """
    if style not in ("tag", "hash", "partial"):
        from keel.errors import ConfigError

        raise ConfigError(f"unknown mask style {style!r}; use 'tag', 'hash' or 'partial'")
    out: list[str] = []
    pos = 0
    for span in detect_pii(text, entities):
        out.append(text[pos : span.start])
        out.append(_mask_one(span, style, hash_key or _PROCESS_HASH_KEY))
        pos = span.end
    out.append(text[pos:])
    return "".join(out)


def _mask_one(span: PiiSpan, style: MaskStyle, key: bytes) -> str:
    value = span.text
    if style == "tag":
        return f"<{span.entity_type}>"
    if style == "hash":
        norm = value.lower() if span.entity_type == "EMAIL" else re.sub(r"[\s\-.()]", "", value)
        digest = hmac.new(key, f"{span.entity_type}:{norm}".encode(), hashlib.sha256).hexdigest()
        return f"<{span.entity_type}:{digest[:10]}>"
    if span.entity_type == "EMAIL":
        local, _, domain = value.partition("@")
        return f"{local[:1]}***@{domain}"
    if span.entity_type == "IP_ADDRESS":
        sep = "." if "." in value and ":" not in value else ":"
        parts = value.split(sep)
        half = len(parts) // 2
        return sep.join(parts[:half] + ["*" * len(p) if p else p for p in parts[half:]])
    # Numbers: keep separators and the last 4 alphanumerics.
    keep_from = [i for i, c in enumerate(value) if c.isalnum()][-4:][0]
    return "".join(c if (i >= keep_from or not c.isalnum()) else "*" for i, c in enumerate(value))
