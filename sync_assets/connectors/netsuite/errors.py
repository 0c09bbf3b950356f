"""NetSuite's error answers, mapped to the shared connector hierarchy.

NetSuite answers every failure with an RFC 7807-like body whose useful part is ``o:errorDetails``:
``[{"detail": ..., "o:errorCode": ..., "o:errorPath": ...}]``. Each exception here keeps those three
(first detail) plus the whole list, so callers and the dead-letter queue can say exactly what was wrong
and where in the payload.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import requests

from sync_assets.connectors.errors import (
    AuthenticationError,
    ConnectorError,
    RequestRejected,
    ThrottledError,
    TransientError,
)


@dataclass(frozen=True)
class ErrorDetail:
    code: str | None
    detail: str | None
    path: str | None  # o:errorPath: JSON path inside the request body, e.g. "item.items[0].item"


class NetSuiteError(ConnectorError):
    """Base of every NetSuite error. ``code``/``detail``/``error_path`` come from the first error detail."""

    service = "NetSuite"

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        code: str | None = None,
        detail: str | None = None,
        error_path: str | None = None,
        details: tuple[ErrorDetail, ...] = (),
        method: str | None = None,
        url_path: str | None = None,
    ) -> None:
        super().__init__(message, status=status, code=code)
        self.detail = detail
        self.error_path = error_path
        self.details = details
        self.method = method
        self.url_path = url_path


class NetSuiteAuthError(NetSuiteError, AuthenticationError):
    """401 (or a refused token request): the message lists which credentials to check and how."""


class NetSuitePermissionDenied(NetSuiteAuthError):
    """403: logged in, but the role lacks a permission for this record or operation."""


class NetSuiteThrottled(NetSuiteError, ThrottledError):
    """429 CONCURRENCY_LIMIT_EXCEEDED after the retry budget was spent."""


class NetSuiteUnavailable(NetSuiteError, TransientError):
    """5xx, timeout, or connection failure after the retry budget was spent."""


class NetSuiteRecordLocked(NetSuiteError, TransientError):
    """USER_ERROR "record has been locked by a user defined workflow": retry later, not inline."""


class NetSuiteRequestError(NetSuiteError, RequestRejected):
    """NetSuite understood the request and refused it (400-class, not otherwise classified)."""


class NetSuiteRecordNotFound(NetSuiteRequestError):
    """404 NONEXISTENT_ID: no record with that internal or external id."""


class NetSuiteDuplicateRecord(NetSuiteRequestError):
    """400 USER_ERROR "This entity already exists.": a record with this external id exists."""


class NetSuiteInvalidContent(NetSuiteRequestError):
    """400 INVALID_CONTENT: a field value is invalid; ``error_path`` names the field in the body."""


class NetSuiteQueryError(NetSuiteRequestError):
    """A SuiteQL query was refused (unknown identifier, syntax, unsupported construct)."""


class NetSuiteOutcomeUnknown(NetSuiteError):
    """A create without an external id failed in a way that may have happened after NetSuite committed it.

    Deliberately *not* a TransientError: retrying could create a duplicate record. Look the record up
    (or give it an external id and upsert) before trying again.
    """


_DUPLICATE = re.compile(r"already exists", re.IGNORECASE)
_LOCKED = re.compile(r"locked by a user defined workflow", re.IGNORECASE)


def parse_error_details(body: Any) -> tuple[ErrorDetail, ...]:
    """The ``o:errorDetails`` of an error body; falls back to a top-level ``o:errorCode``/``title``."""
    if not isinstance(body, dict):
        return ()
    raw = body.get("o:errorDetails")
    details: list[ErrorDetail] = []
    if isinstance(raw, list):
        for item in raw:
            if isinstance(item, dict):
                details.append(
                    ErrorDetail(
                        code=_str_or_none(item.get("o:errorCode")),
                        detail=_str_or_none(item.get("detail")),
                        path=_str_or_none(item.get("o:errorPath")),
                    )
                )
    if not details and (body.get("o:errorCode") or body.get("title")):
        details.append(
            ErrorDetail(_str_or_none(body.get("o:errorCode")), _str_or_none(body.get("title")), None)
        )
    return tuple(details)


def _str_or_none(value: Any) -> str | None:
    return None if value is None else str(value)


def error_from_response(
    response: requests.Response,
    *,
    auth_hint: str | None = None,
    is_query: bool = False,
) -> NetSuiteError:
    """Map a non-2xx NetSuite answer to the most specific exception.

    ``auth_hint`` is the credential checklist of the auth in use (it never contains secret values).
    """
    try:
        body = response.json()
    except ValueError:
        body = None
    details = parse_error_details(body)
    first = details[0] if details else ErrorDetail(None, None, None)
    status = response.status_code
    method = response.request.method if response.request is not None else None
    url_path = requests.utils.urlparse(response.url).path if response.url else None
    code, detail, path = first.code, first.detail, first.path
    if detail is None and body is None:
        detail = (response.text or "").strip()[:300] or response.reason
    if code is None and isinstance(body, dict) and "error" in body:
        # OAuth 2.0 token endpoint style: {"error": "invalid_grant", "error_description": ...}
        code, detail = str(body["error"]), _str_or_none(body.get("error_description")) or detail

    where = f"{method} {url_path}" if method else (url_path or "request")
    summary = f"NetSuite {where} answered {status}"
    if code:
        summary += f" {code}"
    if detail:
        summary += f": {detail}"
    if path:
        summary += f" (at {path})"

    cls: type[NetSuiteError]
    if status == 401:
        cls = NetSuiteAuthError
        www = response.headers.get("WWW-Authenticate")
        if www:
            summary += f" [WWW-Authenticate: {www}]"
        if auth_hint:
            summary += f". {auth_hint}"
    elif status == 403:
        cls = NetSuitePermissionDenied
        summary += (
            ". The login worked but the role lacks a permission: grant the integration role access to this"
            " record type (and 'REST Web Services' / 'Log in using Access Tokens' or OAuth 2.0 permissions)."
        )
    elif status == 404:
        cls = NetSuiteRecordNotFound
    elif status == 429:
        cls = NetSuiteThrottled
    elif status >= 500:
        cls = NetSuiteUnavailable
    elif code == "INVALID_CONTENT":
        cls = NetSuiteInvalidContent
    elif detail and _DUPLICATE.search(detail):
        cls = NetSuiteDuplicateRecord
    elif detail and _LOCKED.search(detail):
        cls = NetSuiteRecordLocked
    elif is_query and 400 <= status < 500:
        cls = NetSuiteQueryError
    else:
        cls = NetSuiteRequestError
    return cls(
        summary,
        status=status,
        code=code,
        detail=detail,
        error_path=path,
        details=details,
        method=method,
        url_path=url_path,
    )

