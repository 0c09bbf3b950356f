"""Keep secrets out of the warehouse: drop credential and card fields from payloads before they land.

Keys are matched exactly after normalising (lower case, ``_``/``-``/`` `` removed), never by substring:
NetSuite records carry innocent fields such as ``returnAuthorization`` that a substring rule would eat.
Separately, string values that look like credentials (``Bearer …`` headers, Shopify ``shpat_`` tokens)
are replaced wherever they sit.

``PREFILTER_REGEX`` is a cheap superset test the loader runs inside DuckDB over JSON text, so only the
rare payload that might hold a secret pays for a Python parse; ``test_scrub`` checks it really is a
superset of what :func:`scrub` changes.
"""

from __future__ import annotations

import json
import re
from typing import Any

REDACTED = "[redacted]"

_SECRET_KEYS = frozenset(
    {
        "authorization",
        "proxyauthorization",
        "cookie",
        "setcookie",
        "apikey",
        "xapikey",
        "password",
        "passwd",
        "secret",
        "clientsecret",
        "consumersecret",
        "privatekey",
        "signature",
        "oauthsignature",
        "xshopifyhmacsha256",
        "hmac",
        # card data (Shopify paymentDetails, NetSuite payment records, generic gateways)
        "creditcardnumber",
        "cardnumber",
        "ccnumber",
        "pan",
        "cvv",
        "cvv2",
        "cvc",
        "csc",
        "paymentcardcsc",
        "ccsecuritycode",
        "securitycode",
        "cardswipe",
        "track1",
        "track2",
    }
)
# Suffixes cover accessToken, refresh_token, X-Shopify-Access-Token, tokenSecret, clientSecret, ...
_SECRET_SUFFIXES = ("token", "secret", "password", "apikey")

# Header-shaped values ("Bearer <long token>", 'OAuth oauth_consumer_key="..."') and Shopify tokens;
# narrow on purpose so a product called "Basic Tee" survives.
_SECRET_VALUE = re.compile(
    r"^\s*(bearer|basic)\s+[A-Za-z0-9+/=._~-]{12,}\s*$|^\s*oauth\s+\w+=\"|shp(at|ca|pa|ss)_[0-9a-f]{16,}",
    re.IGNORECASE,
)

_SEP = "[-_ ]*"


def _spaced(word: str) -> str:
    """``word`` with any run of separators allowed between its letters (what _normalise strips)."""
    return _SEP.join(re.escape(ch) for ch in word)


# What _SECRET_VALUE's ``\s`` matches, as it appears in JSON text: Python's ``\s`` is Unicode whitespace
# (no-break and em spaces, ...), written raw into JSON, while ASCII tab, newline, CR and form feed arrive as
# the escapes ``\t \n \r \f`` (the rest of the C0 controls as ``\u00XX``, caught below). RE2's own ``\s`` is
# ASCII only, so the class is spelled out (every whitespace character lies below U+3001; test_scrub checks).
_WHITESPACE = "".join(ch for ch in map(chr, range(0x3001)) if re.fullmatch(r"\s", ch))
_JSON_SPACE = "([" + _WHITESPACE + "]|\\\\[tnrf])"  # none of them is special inside a class

# Superset of the above, applied to raw JSON text (RE2 syntax for DuckDB's regexp_matches, also valid for
# Python's re): a key that normalises to a secret name, a credential-shaped value, or any \u escape (which
# could spell a key in disguise) sends the payload down the exact, slower Python path. RE2 scans every byte
# at the same speed whatever the pattern (bench/README.md "warehouse"): alternatives cost nothing extra.
PREFILTER_REGEX = "(?i)(" + "|".join(
    [
        '"' + _SEP + "(" + "|".join(_spaced(k) for k in sorted(_SECRET_KEYS)) + ")" + _SEP + '"\\s*:',
        "(" + "|".join(_spaced(k) for k in _SECRET_SUFFIXES) + ")" + _SEP + '"\\s*:',
        '"' + _JSON_SPACE + "*(bearer|basic|oauth)" + _JSON_SPACE,
        "shp(at|ca|pa|ss)_",
        r"\\u",
    ]
) + ")"


def _normalise(key: str) -> str:
    return re.sub("[-_ ]", "", key).lower()


def is_secret_key(key: str) -> bool:
    norm = _normalise(key)
    return norm in _SECRET_KEYS or norm.endswith(_SECRET_SUFFIXES)


def scrub(payload: Any) -> Any:
    """A copy of ``payload`` (dicts, lists, scalars) without secret keys and with credential-like strings redacted."""
    if isinstance(payload, dict):
        return {k: scrub(v) for k, v in payload.items() if not (isinstance(k, str) and is_secret_key(k))}
    if isinstance(payload, (list, tuple)):
        return [scrub(v) for v in payload]
    if isinstance(payload, str) and _SECRET_VALUE.search(payload):
        return REDACTED
    return payload


def scrub_json_text(text: str | None) -> str | None:
    """``scrub`` for a JSON document held as text; bad JSON is an error naming what it saw."""
    if text is None:
        return None
    try:
        doc = json.loads(text)
    except ValueError as exc:
        # The text itself stays out of the message: it is unscrubbed and may hold a credential.
        raise ValueError(f"payload is not valid JSON ({exc}; {len(text)} characters, not shown)") from exc
    return json.dumps(scrub(doc), ensure_ascii=False, default=str)


def to_json_text(payload: Any) -> str | None:
    """Serialise one payload for landing: dicts/lists are scrubbed here; text is scrubbed in SQL later."""
    if payload is None or isinstance(payload, str):
        return payload
    if isinstance(payload, float) and payload != payload:  # pandas NaN for a missing payload
        return None
    return json.dumps(scrub(payload), ensure_ascii=False, default=str)
