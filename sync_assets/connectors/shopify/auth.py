"""Where the Shopify client's access token comes from: a fixed token, or the client credentials grant.

Apps made in the Dev Dashboard (every app since 1 January 2026) get a client id and secret, which the app
trades for an access token that expires after about a day:
``POST https://{shop}.myshopify.com/admin/oauth/access_token`` with the form fields
``grant_type=client_credentials``, ``client_id``, ``client_secret`` → ``{access_token, scope, expires_in}``.
Apps created earlier in the store admin ("legacy custom apps") have a fixed ``shpat_`` token that never
expires; :class:`FixedToken` carries that.

:class:`ClientCredentialsToken` keeps the token in a file under the data folder (owner-only permissions),
behind a file lock, so every Dagster run, the receiver and the CLI share one token per shop and app
instead of each asking for its own. It is renewed shortly before it expires and whenever Shopify answers
401 with it (revoked, app reinstalled). Neither the secret nor a token is ever logged or put in a message.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, Protocol

import requests
from filelock import FileLock

from sync_assets.connectors.http import Backoff, parse_retry_after

from .errors import ShopifyAuthError, ShopifyTransientError

log = logging.getLogger(__name__)

TOKEN_PATH = "/admin/oauth/access_token"
CLIENT_ID_SETTING = "SHOPIFY_CLIENT_ID"
CLIENT_SECRET_SETTING = "SHOPIFY_CLIENT_SECRET"
# Renew this long before expiry (at most a tenth of the lifetime), so no request leaves with a token that
# expires in flight and no run waits on a grant at the last second.
REFRESH_MARGIN_S = 300.0


class TokenProvider(Protocol):
    def token(self) -> str:
        """The access token to send now."""

    def invalidate(self, token: str) -> bool:
        """Shopify refused ``token`` with 401: drop it. True when asking again may give a working one."""


class FixedToken:
    """A legacy custom app's permanent Admin API token (``shpat_...``)."""

    def __init__(self, access_token: str) -> None:
        self._token = access_token.strip()

    def token(self) -> str:
        return self._token

    def invalidate(self, token: str) -> bool:
        return False  # nothing to renew: a refused fixed token is a wrong token

    def __repr__(self) -> str:
        return "FixedToken(<hidden>)"


class ClientCredentialsToken:
    """Access tokens from the client credentials grant, shared across processes through ``cache_dir``."""

    def __init__(
        self,
        shop_url: str,
        client_id: str,
        client_secret: str,
        cache_dir: str | os.PathLike[str],
        *,
        timeout: float = 30.0,
        backoff: Backoff = Backoff(),
        session: requests.Session | None = None,
    ) -> None:
        if not client_id or not client_id.strip():
            raise ValueError(f"Shopify client id is empty: set {CLIENT_ID_SETTING} (Dev Dashboard > your app > Settings)")
        if not client_secret or not client_secret.strip():
            raise ValueError(f"Shopify client secret is empty: set {CLIENT_SECRET_SETTING} (Dev Dashboard > your app > Settings)")
        shop_url = shop_url.strip().rstrip("/")
        self.shop_url = shop_url if "://" in shop_url else "https://" + shop_url  # as the client reads it
        self.token_url = self.shop_url + TOKEN_PATH
        self.client_id = client_id.strip()
        self._secret = client_secret.strip()
        self._timeout = timeout
        self._backoff = backoff
        self._session = session or requests.Session()
        # One file per shop and app; the secret is left out of the key so a rotated secret reuses the token.
        key = hashlib.sha256(f"{self.shop_url}\n{self.client_id}".encode()).hexdigest()[:16]
        self.cache_path = Path(cache_dir) / f"shopify-token-{key}.json"
        self._lock = FileLock(str(self.cache_path) + ".lock")
        self._memory = threading.Lock()
        self._cached: dict[str, Any] | None = None

    def __repr__(self) -> str:
        return f"ClientCredentialsToken({self.shop_url!r}, client_id={self.client_id!r}, secret=<hidden>)"

    def token(self) -> str:
        with self._memory:
            if _fresh(self._cached):
                return self._cached["access_token"]  # type: ignore[index]
            _private_dir(self.cache_path.parent)
            with self._lock:
                entry = self._read()
                if not _fresh(entry):
                    entry = self._grant()
                    self._write(entry)
            self._cached = entry
            return entry["access_token"]

    def invalidate(self, token: str) -> bool:
        with self._memory:
            self._cached = None
            _private_dir(self.cache_path.parent)
            with self._lock:
                entry = self._read()
                # Another process may already have put a new token there: keep that one.
                if entry is not None and entry.get("access_token") == token:
                    self.cache_path.unlink(missing_ok=True)
        return True

    # --- the grant and the cache file ------------------------------------------------------------------------

    def _grant(self) -> dict[str, Any]:
        response = self._post_grant()
        payload = _json(response)
        if response.status_code != 200 or not isinstance(payload.get("access_token"), str):
            raise self._refused(response.status_code, payload)
        lifetime = float(payload.get("expires_in") or 86399)
        now = time.time()
        log.info("Shopify access token obtained for %s (client credentials; valid %.0f s; scopes %s)",
                 self.shop_url, lifetime, payload.get("scope", "?"))  # fmt: skip
        return {"access_token": payload["access_token"], "scope": payload.get("scope", ""),
                "issued_at": now, "expires_at": now + lifetime}  # fmt: skip

    def _post_grant(self) -> requests.Response:
        """POST the grant, riding out 5xx, 429 and lost connections (a second grant only mints a second token)."""
        form = {"grant_type": "client_credentials", "client_id": self.client_id, "client_secret": self._secret}
        for attempt in range(self._backoff.max_attempts):
            retry_after = None
            try:
                response = self._session.post(
                    self.token_url, data=form, headers={"Accept": "application/json"}, timeout=self._timeout
                )
            except requests.RequestException as exc:
                problem, status = f"unreachable ({type(exc).__name__})", None
            else:
                if response.status_code < 500 and response.status_code != 429:
                    return response
                problem, status = f"answered HTTP {response.status_code}", response.status_code
                retry_after = parse_retry_after(response.headers.get("Retry-After"))
            if attempt + 1 < self._backoff.max_attempts:
                delay = self._backoff.delay(attempt, retry_after)
                log.info("Shopify token endpoint %s %s; retry %d in %.2fs", self.token_url, problem, attempt + 1, delay)
                time.sleep(delay)
        raise ShopifyTransientError(
            f"Shopify token endpoint {self.token_url} {problem} after {self._backoff.max_attempts} attempts; "
            "check SHOPIFY_SHOP_URL, or try again later",
            status=status,
        )

    def _refused(self, status: int, payload: dict[str, Any]) -> ShopifyAuthError:
        code = str(payload.get("error") or f"HTTP {status}")
        detail = payload.get("error_description") or payload.get("errors") or ""
        if code == "invalid_client":
            hint = (f"check {CLIENT_ID_SETTING} and {CLIENT_SECRET_SETTING} against the Dev Dashboard (your app > "
                    "Settings; a rotated secret invalidates the old one)")  # fmt: skip
        elif code in ("app_not_installed", "shop_not_permitted"):
            hint = ("install the app on this store from the Dev Dashboard; the client credentials grant only works for "
                    "apps made by the store's own organization")  # fmt: skip
        else:
            hint = f"check SHOPIFY_SHOP_URL, {CLIENT_ID_SETTING} and {CLIENT_SECRET_SETTING}"
        return ShopifyAuthError(
            f"Shopify refused the client credentials grant for {self.shop_url} (HTTP {status}, {code}"
            f"{': ' + str(detail) if detail else ''}): {hint}",
            status=status,
            code=code,
        )

    def _read(self) -> dict[str, Any] | None:
        try:
            entry = json.loads(self.cache_path.read_text())
        except (OSError, ValueError):
            return None  # missing or torn: ask for a new one
        return entry if isinstance(entry, dict) and isinstance(entry.get("access_token"), str) else None

    def _write(self, entry: dict[str, Any]) -> None:
        # Written whole under a temporary name, then renamed: a reader never sees half a token.
        fd, tmp = tempfile.mkstemp(dir=self.cache_path.parent, prefix=".shopify-token-")
        try:
            os.chmod(tmp, 0o600)
            with os.fdopen(fd, "w") as out:
                json.dump(entry, out)
            os.replace(tmp, self.cache_path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise


def _fresh(entry: dict[str, Any] | None) -> bool:
    if not entry:
        return False
    try:
        expires_at, issued_at = float(entry["expires_at"]), float(entry["issued_at"])
    except (KeyError, TypeError, ValueError):
        return False
    margin = min(REFRESH_MARGIN_S, (expires_at - issued_at) * 0.1)
    return time.time() < expires_at - margin


def _private_dir(path: Path) -> None:
    path.mkdir(parents=True, exist_ok=True, mode=0o700)


def _json(response: requests.Response) -> dict[str, Any]:
    try:
        payload = response.json()
    except ValueError:
        return {"errors": (response.text or "")[:200]}
    return payload if isinstance(payload, dict) else {}


def token_provider_for(shop_url: str, *, access_token: str, client_id: str, client_secret: str,
                       cache_dir: str | os.PathLike[str]) -> TokenProvider:
    """A legacy app's fixed token when one is set, else the client credentials grant."""
    if access_token.strip():
        return FixedToken(access_token)
    return ClientCredentialsToken(shop_url, client_id, client_secret, cache_dir)


def as_token_provider(access_token: str | TokenProvider) -> TokenProvider:
    if isinstance(access_token, str):
        return FixedToken(access_token)
    return access_token
