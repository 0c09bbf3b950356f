"""TBA signature checks (Oracle's test vector, each rejection) and the OAuth 2.0 M2M token flow."""

from __future__ import annotations

import time

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from sync_assets.sandbox import credentials
from sync_assets.sandbox.netsuite.auth import (
    PRIVATE_KEY_FILE,
    AuthFailure,
    TbaCredentials,
    TbaVerifier,
    hmac_sha256_signature,
    signature_base_string,
)

from .netsuite_helpers import make, oauth1

Q = "/services/rest/query/v1/suiteql"
ORACLE = TbaCredentials("ef40afdd8abaac111b13825dd5e5e2ddddb44f86d5a0dd6dcf38c20aae6b67e4",
                        "d26ad321a4b2f23b0741c8d38392ce01c3e23e109df6c96eac6d099e9ab9e8b5",
                        "2b0ce516420110bcbd36b69e99196d1b7f6de3c6234c5afb799b73d87569f5cc",
                        "c29a677df7d5439a458c063654187e3d678d73aca8e3c9d8bea1478a3eb0d295")
VECTOR_URL = "https://123456.suitetalk.api.netsuite.com/services/rest/record/v1/employee/40"
VECTOR_HEADER = (
    'OAuth realm="123456", oauth_token="' + ORACLE.token_id + '", oauth_consumer_key="' + ORACLE.consumer_key
    + '", oauth_nonce="fjaLirsIcCGVZWzBX0pg", oauth_timestamp="1508242306", oauth_signature_method="HMAC-SHA256", '
    'oauth_version="1.0", oauth_signature="B5OIWznZ2YP0OB7VrJrGkYsTh%2B8H%2B5T9Hag%2Bo92q0zY%3D"')


def test_oracle_test_vector_signature() -> None:
    params = [("oauth_consumer_key", ORACLE.consumer_key), ("oauth_nonce", "fjaLirsIcCGVZWzBX0pg"),
              ("oauth_signature_method", "HMAC-SHA256"), ("oauth_timestamp", "1508242306"),
              ("oauth_token", ORACLE.token_id), ("oauth_version", "1.0")]
    base = signature_base_string("GET", VECTOR_URL, params)
    assert base.startswith("GET&https%3A%2F%2F123456.suitetalk.api.netsuite.com%2Fservices%2Frest%2Frecord%2Fv1"
                           "%2Femployee%2F40&oauth_consumer_key%3D")
    assert hmac_sha256_signature(base, ORACLE.consumer_secret, ORACLE.token_secret) == \
        "B5OIWznZ2YP0OB7VrJrGkYsTh+8H+5T9Hag+o92q0zY="


def test_verifier_accepts_the_vector_header_then_refuses_its_replay() -> None:
    verifier = TbaVerifier("123456", ORACLE, clock=lambda: 1508242306 + 10)
    verifier.verify("GET", VECTOR_URL, VECTOR_HEADER, [])
    with pytest.raises(AuthFailure, match="NonceUsed"):
        verifier.verify("GET", VECTOR_URL, VECTOR_HEADER, [])
    late = TbaVerifier("123456", ORACLE, clock=lambda: 1508242306 + 301)
    with pytest.raises(AuthFailure, match="InvalidTimestamp"):
        late.verify("GET", VECTOR_URL, VECTOR_HEADER, [])
    with pytest.raises(AuthFailure, match="InvalidSignature"):
        TbaVerifier("123456", ORACLE, clock=lambda: 1508242306).verify("GET", VECTOR_URL + "1", VECTOR_HEADER, [])


def _assert_invalid_login(resp) -> None:
    assert resp.status_code == 401
    body = resp.get_json()
    assert body["o:errorDetails"][0]["o:errorCode"] == "INVALID_LOGIN"
    assert body["o:errorDetails"][0]["detail"].startswith("Invalid login attempt.")


def test_signed_request_with_query_params_is_accepted() -> None:
    _, client, _ = make()
    resp = client.suiteql("SELECT id FROM item ORDER BY id", limit=2, offset=2)
    assert resp.status_code == 200, resp.get_json()


@pytest.mark.parametrize("overrides", [
    {"signature_method": "HMAC-SHA1"},
    {"realm": credentials.NETSUITE_ACCOUNT_ID.lower()},
    {"client_secret": "wrong"},
    {"resource_owner_secret": "wrong"},
    {"resource_owner_key": "unknown-token"},
    {"nonce": "abc12"},
    {"timestamp_skew": -400},
    {"timestamp_skew": +400},
])
def test_each_tba_rejection_is_the_same_opaque_401(overrides) -> None:
    overrides = dict(overrides)
    if "timestamp_skew" in overrides:  # taken now, not at collection: a long session would erode the skew
        overrides["timestamp"] = str(int(time.time()) + overrides.pop("timestamp_skew"))
    _, client, counters = make()
    resp = client.call("POST", Q, body={"q": "SELECT id FROM item"}, auth=oauth1(**overrides),
                       headers={"Prefer": "transient"})
    _assert_invalid_login(resp)
    assert counters.snapshot()["netsuite.auth_failures"] == 1


def test_replayed_nonce_and_missing_header_are_refused() -> None:
    _, client, _ = make()
    fixed = oauth1(nonce="samenonce123456", timestamp=str(int(time.time())))
    assert client.call("GET", "/services/rest/record/v1/customer/1", auth=fixed).status_code == 200
    _assert_invalid_login(client.call("GET", "/services/rest/record/v1/customer/1", auth=fixed))
    _assert_invalid_login(client.call("GET", "/services/rest/record/v1/customer/1", sign=False))


def _assertion(key, *, kid=credentials.NETSUITE_CERTIFICATE_ID, alg="ES256", **claims) -> str:
    now = int(time.time())
    payload = {"iss": credentials.NETSUITE_CLIENT_ID, "scope": ["rest_webservices"],
               "aud": "http://localhost/services/rest/auth/oauth2/v1/token", "iat": now, "exp": now + 3600,
               "jti": "j1"}
    payload.update(claims)
    return jwt.encode(payload, key, algorithm=alg, headers={"kid": kid})


def _token(client, assertion: str):
    return client.flask.post("/services/rest/auth/oauth2/v1/token", data={
        "grant_type": "client_credentials",
        "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
        "client_assertion": assertion})


def test_m2m_token_flow_end_to_end(tmp_path) -> None:
    backend, client, counters = make(key_dir=tmp_path)
    key = serialization.load_pem_private_key((tmp_path / PRIVATE_KEY_FILE).read_bytes(), password=None)
    resp = _token(client, _assertion(key))
    assert resp.status_code == 200, resp.get_json()
    token = resp.get_json()
    assert token["expires_in"] == 3600 and token["token_type"] == "Bearer"
    bearer = {"Authorization": f"Bearer {token['access_token']}", "Prefer": "transient"}
    ok = client.flask.post(Q, json={"q": "SELECT count(*) AS n FROM item"}, headers=bearer)
    assert ok.status_code == 200 and ok.get_json()["items"][0]["n"] == "11"

    bad = client.flask.post(Q, json={"q": "SELECT 1 FROM item"}, headers={"Authorization": "Bearer nope",
                                                                         "Prefer": "transient"})
    _assert_invalid_login(bad)
    assert 'error="invalid_token"' in bad.headers["WWW-Authenticate"]

    backend.m2m.clock = lambda: time.time() + 3601  # the token outlives its hour
    _assert_invalid_login(client.flask.post(Q, json={"q": "SELECT 1 FROM item"}, headers=bearer))


def test_m2m_assertion_rejections_and_registered_key(tmp_path) -> None:
    _, client, _ = make(key_dir=tmp_path)
    key = serialization.load_pem_private_key((tmp_path / PRIVATE_KEY_FILE).read_bytes(), password=None)
    other = ec.generate_private_key(ec.SECP256R1())
    now = int(time.time())
    for assertion in [_assertion(other), _assertion(key, iss="someone-else"), _assertion(key, aud="https://x/"),
                      _assertion(key, exp=now - 1), _assertion(key, iat=now - 10, exp=now + 3700),
                      _assertion(key, scope=["restlets"]), _assertion(key, kid="unknown")]:
        resp = _token(client, assertion)
        assert resp.status_code == 400 and resp.get_json() == {"error": "invalid_grant"}
    public = other.public_key().public_bytes(serialization.Encoding.PEM,
                                             serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    reg = client.flask.post("/_sandbox/netsuite/m2m-keys", json={"certificate_id": "cert-2", "public_key_pem": public})
    assert reg.status_code == 201
    assert _token(client, _assertion(other, kid="cert-2", scope="restlets,rest_webservices")).status_code == 200
