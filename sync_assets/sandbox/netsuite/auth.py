"""Authentication (reference §2): OAuth 1.0a TBA with HMAC-SHA256, and OAuth 2.0 M2M bearer tokens.

Every TBA failure answers the same opaque 401 ``INVALID_LOGIN`` body, as NetSuite does; the real cause is
only kept for the caller (the sandbox's "login audit trail" is the ``reason`` of :class:`AuthFailure`).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote, unquote, urlsplit

import jwt
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from sync_assets.sandbox import credentials

MAX_CLOCK_SKEW = 300  # seconds either side (reference §2.1)
MIN_NONCE_LENGTH = 6
ACCESS_TOKEN_LIFETIME = 3600
MAX_ASSERTION_LIFETIME = 3600
JWT_ALGORITHMS = ["PS256", "PS384", "PS512", "ES256", "ES384", "ES512"]  # RS256 no longer accepted
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
TOKEN_PATH = "/services/rest/auth/oauth2/v1/token"
PRIVATE_KEY_FILE = "netsuite_m2m_private.pem"
PUBLIC_KEY_FILE = "netsuite_m2m_public.pem"


class AuthFailure(Exception):
    """Why a request was refused; the wire answer never says (see module docstring)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def enc(value: str) -> str:
    """RFC 5849 §3.6 percent-encoding (unreserved: ALPHA, DIGIT, '-', '.', '_', '~')."""
    return quote(value, safe="-._~")


def normalized_base_url(url: str) -> str:
    """RFC 5849 §3.4.1.2: scheme and host lower case, default port dropped, no query or fragment."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    port = parts.port
    netloc = host if port is None or (scheme, port) in (("http", 80), ("https", 443)) else f"{host}:{port}"
    return f"{scheme}://{netloc}{parts.path or '/'}"


def signature_base_string(method: str, url: str, params: list[tuple[str, str]]) -> str:
    """``METHOD&enc(base url)&enc(sorted, encoded params)``; realm and oauth_signature must not be in params."""
    pairs = sorted((enc(k), enc(v)) for k, v in params)
    normalized = "&".join(f"{k}={v}" for k, v in pairs)
    return "&".join([method.upper(), enc(normalized_base_url(url)), enc(normalized)])


def hmac_sha256_signature(base_string: str, consumer_secret: str, token_secret: str) -> str:
    key = f"{enc(consumer_secret)}&{enc(token_secret)}".encode()
    return base64.b64encode(hmac.new(key, base_string.encode(), hashlib.sha256).digest()).decode()


def parse_oauth_header(header: str) -> dict[str, str]:
    """``OAuth realm="x", oauth_nonce="y", ...`` -> decoded dict."""
    if not header.lower().startswith("oauth "):
        raise AuthFailure("not an OAuth authorization header")
    out: dict[str, str] = {}
    for part in header[6:].split(","):
        part = part.strip()
        if not part:
            continue
        key, sep, value = part.partition("=")
        if not sep or len(value) < 2 or value[0] != '"' or value[-1] != '"':
            raise AuthFailure(f"malformed OAuth header parameter {key!r}")
        out[unquote(key.strip())] = unquote(value[1:-1])
    return out


def realm_for(account_id: str) -> str:
    return account_id.replace("-", "_").upper()


@dataclass(frozen=True)
class TbaCredentials:
    consumer_key: str
    consumer_secret: str = field(repr=False)
    token_id: str
    token_secret: str = field(repr=False)


SANDBOX_TBA = TbaCredentials(credentials.NETSUITE_CONSUMER_KEY, credentials.NETSUITE_CONSUMER_SECRET,
                             credentials.NETSUITE_TOKEN_ID, credentials.NETSUITE_TOKEN_SECRET)


class TbaVerifier:
    """Checks OAuth 1.0a headers against the integration's consumer and the user's access token."""

    def __init__(self, account_id: str, creds: TbaCredentials = SANDBOX_TBA, clock=time.time) -> None:
        self.realm = realm_for(account_id)
        self.creds = creds
        self.clock = clock
        self._lock = threading.Lock()
        self._seen: dict[tuple[str, str, str], float] = {}  # (token, nonce, timestamp) -> seen at

    def reset(self) -> None:
        with self._lock:
            self._seen.clear()

    def verify(self, method: str, url: str, header: str, extra_params: list[tuple[str, str]]) -> None:
        """Raise :class:`AuthFailure` unless the header is a valid, fresh, correctly signed TBA header.

        ``url`` is the request URL as received (its query is part of the signature);
        ``extra_params`` are form-encoded body parameters, if any (RFC 5849 §3.4.1.3.1).
        """
        oauth = parse_oauth_header(header)
        if oauth.get("realm") != self.realm:
            raise AuthFailure(f"realm {oauth.get('realm')!r} is not {self.realm!r}")
        if oauth.get("oauth_signature_method") != "HMAC-SHA256":
            raise AuthFailure(f"UnknownAlgorithm {oauth.get('oauth_signature_method')!r}")
        if oauth.get("oauth_version", "1.0") != "1.0":
            raise AuthFailure("VersionRejected")
        for required in ("oauth_consumer_key", "oauth_token", "oauth_nonce", "oauth_timestamp", "oauth_signature"):
            if not oauth.get(required):
                raise AuthFailure(f"MissingTokenPassportRequiredFields: {required}")
        if oauth["oauth_consumer_key"] != self.creds.consumer_key:
            raise AuthFailure("consumer_key_unknown")
        if oauth["oauth_token"] != self.creds.token_id:
            raise AuthFailure("token_rejected")
        nonce = oauth["oauth_nonce"]
        if len(nonce) < MIN_NONCE_LENGTH:
            raise AuthFailure("nonce_rejected: shorter than 6 characters")
        try:
            timestamp = int(oauth["oauth_timestamp"])
        except ValueError:
            raise AuthFailure("InvalidTimestamp: not an integer") from None
        now = self.clock()
        if abs(now - timestamp) > MAX_CLOCK_SKEW:
            raise AuthFailure(f"InvalidTimestamp: {timestamp} is {now - timestamp:+.0f} s from server time")
        query = urlsplit(url).query
        params = [(unquote(k.replace("+", " ")), unquote(v.replace("+", " ")))
                  for k, _, v in (p.partition("=") for p in query.split("&") if p)]
        params += extra_params
        params += [(k, v) for k, v in oauth.items() if k not in ("realm", "oauth_signature")]
        expected = hmac_sha256_signature(signature_base_string(method, url, params),
                                         self.creds.consumer_secret, self.creds.token_secret)
        if not hmac.compare_digest(expected, oauth["oauth_signature"]):
            raise AuthFailure("InvalidSignature")
        key = (oauth["oauth_token"], nonce, oauth["oauth_timestamp"])
        with self._lock:
            # Entries older than the skew window can never be replayed successfully; drop them.
            if len(self._seen) > 10_000:
                self._seen = {k: t for k, t in self._seen.items() if now - t <= 2 * MAX_CLOCK_SKEW}
            if key in self._seen:
                raise AuthFailure("NonceUsed")
            self._seen[key] = now


# ------------------------------------------------------------------------------------------------ M2M
def ensure_key_pair(key_dir: Path) -> Path:
    """Create the sandbox's M2M EC P-256 key pair in ``key_dir`` unless a private key is already there."""
    key_dir.mkdir(parents=True, exist_ok=True)
    private_path = key_dir / PRIVATE_KEY_FILE
    if not private_path.exists():
        key = ec.generate_private_key(ec.SECP256R1())
        pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
        tmp = private_path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(pem)
        os.replace(tmp, private_path)
    private = serialization.load_pem_private_key(private_path.read_bytes(), password=None)
    public_pem = private.public_key().public_bytes(serialization.Encoding.PEM,
                                                   serialization.PublicFormat.SubjectPublicKeyInfo)
    (key_dir / PUBLIC_KEY_FILE).write_bytes(public_pem)
    return private_path


def load_public_key(pem: str | bytes):
    """A public key from a PEM public key or an x.509 certificate (what NetSuite's setup page takes)."""
    data = pem.encode() if isinstance(pem, str) else pem
    if b"BEGIN CERTIFICATE" in data:
        return x509.load_pem_x509_certificate(data).public_key()
    return serialization.load_pem_public_key(data)


class M2MIssuer:
    """The OAuth 2.0 client-credentials token endpoint and the bearer tokens it mints."""

    def __init__(self, account_id: str, client_id: str = credentials.NETSUITE_CLIENT_ID, clock=time.time) -> None:
        self.account_id = account_id
        self.client_id = client_id
        self.clock = clock
        self._lock = threading.Lock()
        self._keys: dict[str, object] = {}
        self._tokens: dict[str, float] = {}  # token -> expiry

    def register_key(self, certificate_id: str, public_key_pem: str | bytes) -> None:
        key = load_public_key(public_key_pem)
        with self._lock:
            self._keys[certificate_id] = key

    def reset_tokens(self) -> None:
        with self._lock:
            self._tokens.clear()

    def _audiences(self, request_url: str) -> set[str]:
        host = self.account_id.replace("_", "-").lower()
        return {normalized_base_url(request_url),
                f"https://{host}.suitetalk.api.netsuite.com{TOKEN_PATH}",
                f"https://{host}.restlets.api.netsuite.com{TOKEN_PATH}"}

    def issue(self, form: dict[str, str], request_url: str) -> dict:
        """Validate a client-credentials request; return the token response or raise AuthFailure."""
        if form.get("grant_type") != "client_credentials":
            raise AuthFailure("unsupported_grant_type")
        if form.get("client_assertion_type") != ASSERTION_TYPE or not form.get("client_assertion"):
            raise AuthFailure("invalid_request: client_assertion_type/client_assertion missing")
        assertion = form["client_assertion"]
        try:
            header = jwt.get_unverified_header(assertion)
        except jwt.PyJWTError as e:
            raise AuthFailure(f"malformed assertion: {e}") from None
        if header.get("alg") not in JWT_ALGORITHMS:
            raise AuthFailure(f"algorithm {header.get('alg')!r} not accepted")
        with self._lock:
            key = self._keys.get(header.get("kid", ""))
        if key is None:
            raise AuthFailure(f"no certificate registered under kid {header.get('kid')!r}")
        now = self.clock()
        try:
            claims = jwt.decode(assertion, key=key, algorithms=[header["alg"]], audience=list(
                self._audiences(request_url)), issuer=self.client_id, options={
                "require": ["exp", "iat", "iss", "aud"], "verify_iat": False, "verify_exp": False})
        except jwt.PyJWTError as e:
            raise AuthFailure(f"assertion rejected: {e}") from None
        exp, iat = claims["exp"], claims["iat"]
        if exp <= now:
            raise AuthFailure("assertion expired")
        if iat > now + MAX_CLOCK_SKEW:
            raise AuthFailure("assertion issued in the future")
        if exp - iat > MAX_ASSERTION_LIFETIME:
            raise AuthFailure("assertion lifetime exceeds 60 minutes")
        scope = claims.get("scope", [])
        scopes = set(scope.split(",") if isinstance(scope, str) else scope)
        if "rest_webservices" not in {s.strip() for s in scopes}:
            raise AuthFailure("scope rest_webservices missing")
        token = secrets.token_urlsafe(48)
        with self._lock:
            self._tokens = {t: e for t, e in self._tokens.items() if e > now}
            self._tokens[token] = now + ACCESS_TOKEN_LIFETIME
        return {"access_token": token, "expires_in": ACCESS_TOKEN_LIFETIME, "token_type": "Bearer"}

    def verify_bearer(self, token: str) -> None:
        with self._lock:
            expiry = self._tokens.get(token)
        if expiry is None:
            raise AuthFailure("unknown bearer token")
        if expiry <= self.clock():
            raise AuthFailure("bearer token expired")
