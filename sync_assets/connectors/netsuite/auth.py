"""The two ways NetSuite REST accepts a caller, as ``requests`` auth objects.

Both sign every request when ``requests`` prepares it, so each retry carries a fresh OAuth 1.0a nonce
and timestamp (NetSuite rejects a replayed nonce+timestamp with the same opaque 401 as a bad secret).

* :class:`TokenBasedAuth` — TBA: OAuth 1.0a HMAC-SHA256 through requests-oauthlib. Realm is the account
  id in upper case with underscores (``1234567_SB1``); lower case or a hyphen is refused as INVALID_LOGIN.
* :class:`ClientCredentialsAuth` — OAuth 2.0 client credentials (M2M): a JWT client assertion signed with
  the private key of the certificate registered in NetSuite, exchanged for a 60-minute bearer token that
  is cached until shortly before it expires (there is no refresh token in this flow).

No secret ever appears in a ``repr``, an exception or a log line: ``credential_hint`` names what to check,
never the values.
"""

from __future__ import annotations

import threading
import time
import uuid
from typing import Any

import requests
from oauthlib.oauth1 import SIGNATURE_HMAC_SHA256
from requests_oauthlib import OAuth1

from sync_assets.connectors.netsuite.errors import NetSuiteAuthError, NetSuiteUnavailable, error_from_response

TOKEN_PATH = "/services/rest/auth/oauth2/v1/token"
DEFAULT_SCOPES = ("restlets", "rest_webservices")


def realm_for(account_id: str) -> str:
    """The OAuth realm form of an account id: ``1234567-sb1`` → ``1234567_SB1``."""
    return _checked_account(account_id).replace("-", "_").upper()


def host_slug_for(account_id: str) -> str:
    """The host form of an account id: ``1234567_SB1`` → ``1234567-sb1``."""
    return _checked_account(account_id).replace("_", "-").lower()


def _checked_account(account_id: str) -> str:
    if not isinstance(account_id, str) or not account_id.strip():
        raise ValueError("NetSuite account id is empty: set it to the id shown under Setup > Company > Company Information")
    return account_id.strip()


class TokenBasedAuth(requests.auth.AuthBase):
    """OAuth 1.0a HMAC-SHA256 (TBA). Signs the method, URL and query parameters (not a JSON body)."""

    kind = "TBA"

    def __init__(
        self, account_id: str, consumer_key: str, consumer_secret: str, token_id: str, token_secret: str
    ) -> None:
        for name, value in (
            ("consumer key", consumer_key),
            ("consumer secret", consumer_secret),
            ("token id", token_id),
            ("token secret", token_secret),
        ):
            if not isinstance(value, str) or not value:
                raise ValueError(f"NetSuite TBA {name} is empty")
        self.realm = realm_for(account_id)
        self._oauth = OAuth1(
            client_key=consumer_key,
            client_secret=consumer_secret,
            resource_owner_key=token_id,
            resource_owner_secret=token_secret,
            signature_method=SIGNATURE_HMAC_SHA256,
            realm=self.realm,
        )

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        return self._oauth(request)

    def invalidate(self) -> bool:
        """Nothing cached to drop: a 401 under TBA is a bad credential, not an expired token."""
        return False

    @property
    def credential_hint(self) -> str:
        return (
            "NetSuite gives this same INVALID_LOGIN answer for every token-based-auth failure (the cause is in "
            "Setup > Users/Roles > User Management > View Login Audit Trail). Check, in order: "
            f"(1) the account id / realm — sent as {self.realm!r}, it must be the account id in upper case with "
            "underscores (e.g. 1234567_SB1, never 1234567-sb1) and match the host in the base URL; "
            "(2) the consumer key and consumer secret of the integration record (Token-Based Authentication "
            "enabled, integration not blocked); "
            "(3) the token id and token secret of the access token (issued for this integration, user and role, "
            "not revoked); "
            "(4) the role's permissions: 'REST Web Services' and 'Log in using Access Tokens'; "
            "(5) the machine clock (within 5 minutes of NetSuite's)."
        )

    def __repr__(self) -> str:
        return f"TokenBasedAuth(realm={self.realm!r}, secrets=<hidden>)"


class ClientCredentialsAuth(requests.auth.AuthBase):
    """OAuth 2.0 client credentials with a certificate-signed JWT assertion (M2M)."""

    kind = "OAuth 2.0 M2M"

    def __init__(
        self,
        token_url: str,
        client_id: str,
        certificate_id: str,
        private_key_pem: bytes | str,
        *,
        scopes: tuple[str, ...] = DEFAULT_SCOPES,
        timeout: float = 30.0,
        refresh_margin_s: float = 60.0,
        session: requests.Session | None = None,
    ) -> None:
        if not client_id:
            raise ValueError("NetSuite OAuth 2.0 client id is empty")
        if not certificate_id:
            raise ValueError("NetSuite OAuth 2.0 certificate id is empty")
        key_bytes = private_key_pem.encode() if isinstance(private_key_pem, str) else private_key_pem
        try:
            self._key = _load_private_key(key_bytes)
        except (ValueError, TypeError) as exc:
            # The library's message never contains key material, only what is wrong with the format.
            raise ValueError(f"NetSuite OAuth 2.0 private key is not an unencrypted PEM private key: {exc}") from None
        self.algorithm = _algorithm_for(self._key)
        self.token_url = token_url
        self.client_id = client_id
        self.certificate_id = certificate_id
        self.scopes = scopes
        self._timeout = timeout
        self._margin = refresh_margin_s
        self._session = session or requests.Session()
        self._lock = threading.Lock()
        self._token: str | None = None
        self._expires_at = 0.0

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers["Authorization"] = f"Bearer {self.access_token()}"
        return request

    def access_token(self) -> str:
        with self._lock:
            if self._token is None or time.monotonic() >= self._expires_at:
                self._token, lifetime = self._fetch_token()
                # Renew a little early so a request never leaves with a token that expires in flight.
                self._expires_at = time.monotonic() + lifetime - min(self._margin, lifetime * 0.1)
            return self._token

    def invalidate(self) -> bool:
        """Drop the cached token after a 401 so the next attempt mints a fresh one. True = worth a retry."""
        with self._lock:
            had_token = self._token is not None
            self._token = None
            return had_token

    def client_assertion(self) -> str:
        now = int(time.time())
        claims = {
            "iss": self.client_id,
            "scope": list(self.scopes),
            "aud": self.token_url,
            "iat": now,
            "exp": now + 300,
            "jti": uuid.uuid4().hex,
        }
        import jwt  # with cryptography, a quarter of a second that only M2M runs should pay

        return jwt.encode(claims, self._key, algorithm=self.algorithm, headers={"kid": self.certificate_id, "typ": "JWT"})

    def _fetch_token(self) -> tuple[str, float]:
        data = {
            "grant_type": "client_credentials",
            "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            "client_assertion": self.client_assertion(),
        }
        response = self._session.post(self.token_url, data=data, timeout=self._timeout)
        if response.status_code >= 500 or response.status_code == 429:
            raise error_from_response(response)  # NetSuiteUnavailable / NetSuiteThrottled: the client retries
        if response.status_code != 200:
            error = error_from_response(response)
            raise NetSuiteAuthError(
                f"NetSuite refused the OAuth 2.0 token request ({error}). {self.credential_hint}",
                status=error.status,
                code=error.code,
                detail=error.detail,
                details=error.details,
                method="POST",
                url_path=error.url_path,
            )
        try:
            payload: dict[str, Any] = response.json()
            token = str(payload["access_token"])
            lifetime = float(payload.get("expires_in", 3600))
        except (ValueError, KeyError, TypeError):
            raise NetSuiteUnavailable(
                f"NetSuite token endpoint {self.token_url} answered 200 without an access_token", status=200
            ) from None
        return token, lifetime

    @property
    def credential_hint(self) -> str:
        return (
            "Check, in order: (1) the client id of the integration record (sent as iss "
            f"{self.client_id!r}) and that it has the 'Client Credentials (Machine to Machine) Grant' enabled; "
            f"(2) the certificate id (sent as kid {self.certificate_id!r}) from Setup > Integration > Manage "
            "Authentication > OAuth 2.0 Client Credentials (M2M) Setup, mapped to this integration, entity and role; "
            f"(3) that the private key (signed with {self.algorithm}) belongs to the certificate uploaded there "
            "and the certificate has not expired; "
            f"(4) the token URL {self.token_url!r} is the account's (account id in the host); "
            "(5) the role's 'REST Web Services' permission; (6) the machine clock."
        )

    def __repr__(self) -> str:
        return (
            f"ClientCredentialsAuth(client_id={self.client_id!r}, certificate_id={self.certificate_id!r}, "
            f"algorithm={self.algorithm!r}, key=<hidden>)"
        )


def _load_private_key(pem: bytes) -> Any:
    # Imported here: cryptography costs every run process a quarter of a second, and only M2M needs it.
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    return load_pem_private_key(pem, password=None)


def _algorithm_for(key: Any) -> str:
    """NetSuite accepts PS256/384/512 and ES256/384/512 (not RS256): pick the one the key type allows."""
    from cryptography.hazmat.primitives.asymmetric import ec, rsa

    if isinstance(key, rsa.RSAPrivateKey):
        return "PS256"
    if isinstance(key, ec.EllipticCurvePrivateKey):
        return {256: "ES256", 384: "ES384", 521: "ES512"}.get(key.curve.key_size) or _unsupported(key)
    return _unsupported(key)


def _unsupported(key: Any) -> str:
    raise ValueError(
        f"NetSuite OAuth 2.0 needs an RSA or EC (P-256/P-384/P-521) private key, not {type(key).__name__}"
    )


def token_url_for(base_url: str) -> str:
    return base_url.rstrip("/") + TOKEN_PATH
