"""Offline tests of the two NetSuite auth objects (no network)."""

from __future__ import annotations

import time
from urllib.parse import unquote

import jwt
import oauthlib.oauth1.rfc5849 as rfc5849
import pytest
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from sync_assets.connectors.netsuite import (
    ClientCredentialsAuth,
    NetSuiteAuthError,
    TokenBasedAuth,
    default_base_url,
    host_slug_for,
    realm_for,
)

# Oracle's published sample (reference §2.1).
ORACLE = dict(
    account_id="123456",
    consumer_key="ef40afdd8abaac111b13825dd5e5e2ddddb44f86d5a0dd6dcf38c20aae6b67e4",
    consumer_secret="d26ad321a4b2f23b0741c8d38392ce01c3e23e109df6c96eac6d099e9ab9e8b5",
    token_id="2b0ce516420110bcbd36b69e99196d1b7f6de3c6234c5afb799b73d87569f5cc",
    token_secret="c29a677df7d5439a458c063654187e3d678d73aca8e3c9d8bea1478a3eb0d295",
)
ORACLE_URL = "https://123456.suitetalk.api.netsuite.com/services/rest/record/v1/employee/40"


def _oauth_params(header: str) -> dict[str, str]:
    assert header.startswith("OAuth ")
    out = {}
    for part in header[6:].split(","):
        key, _, value = part.strip().partition("=")
        out[key] = value.strip('"')
    return out


def _sign(auth: requests.auth.AuthBase, method: str = "GET", url: str = ORACLE_URL, **kw) -> dict[str, str]:
    prepared = requests.Request(method, url, **kw).prepare()
    header = auth(prepared).headers["Authorization"]
    return _oauth_params(header.decode() if isinstance(header, bytes) else header)


def test_tba_signature_matches_oracle_test_vector(monkeypatch):
    monkeypatch.setattr(rfc5849, "generate_nonce", lambda: "fjaLirsIcCGVZWzBX0pg")
    monkeypatch.setattr(rfc5849, "generate_timestamp", lambda: "1508242306")
    params = _sign(TokenBasedAuth(**ORACLE))
    assert params["oauth_signature"] == "B5OIWznZ2YP0OB7VrJrGkYsTh%2B8H%2B5T9Hag%2Bo92q0zY%3D"
    assert params["realm"] == "123456"
    assert params["oauth_signature_method"] == "HMAC-SHA256"
    assert params["oauth_version"] == "1.0"
    assert params["oauth_consumer_key"] == ORACLE["consumer_key"]
    assert params["oauth_token"] == ORACLE["token_id"]


def test_tba_signature_changes_with_any_secret(monkeypatch):
    monkeypatch.setattr(rfc5849, "generate_nonce", lambda: "fjaLirsIcCGVZWzBX0pg")
    monkeypatch.setattr(rfc5849, "generate_timestamp", lambda: "1508242306")
    wrong = dict(ORACLE, token_secret=ORACLE["token_secret"][:-1] + "0")
    assert _sign(TokenBasedAuth(**wrong))["oauth_signature"] != "B5OIWznZ2YP0OB7VrJrGkYsTh%2B8H%2B5T9Hag%2Bo92q0zY%3D"


def test_tba_signs_every_request_with_a_fresh_nonce_and_timestamp():
    auth = TokenBasedAuth(**ORACLE)
    first = _sign(auth)
    second = _sign(auth)
    assert first["oauth_nonce"] != second["oauth_nonce"]
    assert len(unquote(first["oauth_nonce"])) >= 6
    assert abs(int(first["oauth_timestamp"]) - time.time()) < 5
    assert first["oauth_signature"] != second["oauth_signature"]


def test_tba_signs_query_parameters_not_json_body(monkeypatch):
    monkeypatch.setattr(rfc5849, "generate_nonce", lambda: "fixednonce123")
    monkeypatch.setattr(rfc5849, "generate_timestamp", lambda: "1508242306")
    auth = TokenBasedAuth(**ORACLE)
    url = "https://123456.suitetalk.api.netsuite.com/services/rest/query/v1/suiteql?limit=1000&offset=0"
    a = _sign(auth, "POST", url, json={"q": "SELECT 1 FROM dual"})
    b = _sign(auth, "POST", url, json={"q": "SELECT 2 FROM dual"})
    c = _sign(auth, "POST", url.replace("offset=0", "offset=1000"), json={"q": "SELECT 1 FROM dual"})
    assert a["oauth_signature"] == b["oauth_signature"]
    assert a["oauth_signature"] != c["oauth_signature"]


def test_realm_and_host_forms_of_a_sandbox_account():
    assert realm_for("1234567-sb1") == "1234567_SB1"
    assert realm_for("1234567_SB1") == "1234567_SB1"
    assert host_slug_for("1234567_SB1") == "1234567-sb1"
    assert default_base_url("1234567_SB1") == "https://1234567-sb1.suitetalk.api.netsuite.com"
    assert TokenBasedAuth(**dict(ORACLE, account_id="1234567-sb1")).realm == "1234567_SB1"
    with pytest.raises(ValueError, match="account id"):
        realm_for(" ")


def test_tba_never_shows_secrets():
    auth = TokenBasedAuth(**ORACLE)
    text = repr(auth) + auth.credential_hint
    for name in ("consumer_secret", "token_secret", "consumer_key", "token_id"):
        assert ORACLE[name] not in text
    for credential in ("realm", "consumer key", "consumer secret", "token id", "token secret", "REST Web Services"):
        assert credential in text
    with pytest.raises(ValueError, match="token secret"):
        TokenBasedAuth(**dict(ORACLE, token_secret=""))


def _pem(key) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


TOKEN_URL = "https://1234567-sb1.suitetalk.api.netsuite.com/services/rest/auth/oauth2/v1/token"


@pytest.mark.parametrize(
    ("key", "alg"),
    [
        (ec.generate_private_key(ec.SECP256R1()), "ES256"),
        (ec.generate_private_key(ec.SECP384R1()), "ES384"),
        (rsa.generate_private_key(public_exponent=65537, key_size=2048), "PS256"),
    ],
)
def test_m2m_client_assertion_claims(key, alg):
    auth = ClientCredentialsAuth(TOKEN_URL, "client-1", "cert-9", _pem(key))
    assertion = auth.client_assertion()
    header = jwt.get_unverified_header(assertion)
    assert header == {"alg": alg, "kid": "cert-9", "typ": "JWT"}
    claims = jwt.decode(assertion, key.public_key(), algorithms=[alg], audience=TOKEN_URL, issuer="client-1")
    assert claims["scope"] == ["restlets", "rest_webservices"]
    assert 0 < claims["exp"] - claims["iat"] < 3600
    assert claims["jti"] != jwt.decode(auth.client_assertion(), options={"verify_signature": False})["jti"]


class _FakeTokenSession:
    """Stands in for the token endpoint: counts calls and answers with a scripted status."""

    def __init__(self, status: int = 200, body: bytes | None = None) -> None:
        self.calls = 0
        self.status = status
        self.body = body

    def post(self, url, data, timeout):
        self.calls += 1
        response = requests.Response()
        response.status_code = self.status
        response.url = url
        response.request = requests.Request("POST", url).prepare()
        response._content = self.body or b'{"access_token": "tok-%d", "expires_in": 3600, "token_type": "Bearer"}' % self.calls
        return response


def test_m2m_token_is_cached_and_renewed_after_invalidate():
    session = _FakeTokenSession()
    auth = ClientCredentialsAuth(TOKEN_URL, "c", "k", _pem(ec.generate_private_key(ec.SECP256R1())), session=session)
    first = auth(requests.Request("GET", "https://x/").prepare()).headers["Authorization"]
    second = auth(requests.Request("GET", "https://x/").prepare()).headers["Authorization"]
    assert first == second == "Bearer tok-1"
    assert session.calls == 1
    assert auth.invalidate() is True
    assert auth(requests.Request("GET", "https://x/").prepare()).headers["Authorization"] == "Bearer tok-2"


def test_m2m_token_expiring_soon_is_renewed():
    session = _FakeTokenSession(body=b'{"access_token": "short", "expires_in": 0}')
    auth = ClientCredentialsAuth(TOKEN_URL, "c", "k", _pem(ec.generate_private_key(ec.SECP256R1())), session=session)
    auth.access_token()
    auth.access_token()
    assert session.calls == 2


def test_m2m_refused_token_names_the_credentials_not_the_key():
    key = ec.generate_private_key(ec.SECP256R1())
    session = _FakeTokenSession(400, b'{"error": "invalid_grant"}')
    auth = ClientCredentialsAuth(TOKEN_URL, "client-1", "cert-9", _pem(key), session=session)
    with pytest.raises(NetSuiteAuthError) as caught:
        auth.access_token()
    message = str(caught.value)
    assert "invalid_grant" in message and "certificate id" in message and "client id" in message
    assert "PRIVATE KEY" not in message + repr(auth)


def test_m2m_rejects_a_key_netsuite_cannot_use():
    with pytest.raises(ValueError, match="PEM private key"):
        ClientCredentialsAuth(TOKEN_URL, "c", "k", b"not a key")
