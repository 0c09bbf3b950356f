"""Error mapping from the bodies NetSuite documents (reference §5.1) to typed exceptions."""

from __future__ import annotations

import json

import pytest
import requests

from sync_assets.connectors.errors import AuthenticationError, RequestRejected, ThrottledError, TransientError
from sync_assets.connectors.netsuite import (
    NetSuiteAuthError,
    NetSuiteDuplicateRecord,
    NetSuiteInvalidContent,
    NetSuitePermissionDenied,
    NetSuiteQueryError,
    NetSuiteRecordLocked,
    NetSuiteRecordNotFound,
    NetSuiteRequestError,
    NetSuiteThrottled,
    NetSuiteUnavailable,
)
from sync_assets.connectors.netsuite.errors import error_from_response

URL = "https://1234567-sb1.suitetalk.api.netsuite.com/services/rest/record/v1/salesOrder"


def response(status: int, body, method: str = "POST", headers: dict | None = None) -> requests.Response:
    r = requests.Response()
    r.status_code = status
    r.url = URL
    r.request = requests.Request(method, URL).prepare()
    r._content = body if isinstance(body, bytes) else json.dumps(body).encode()
    r.headers.update(headers or {})
    return r


INVALID_LOGIN = {
    "type": "https://www.w3.org/Protocols/rfc2616/rfc2616-sec10.html",
    "title": "Unauthorized",
    "status": 401,
    "o:errorDetails": [
        {
            "detail": "Invalid login attempt. For more details, see the Login Audit Trail in the NetSuite UI at "
            "Setup > Users/Roles > User Management > View Login Audit Trail.",
            "o:errorCode": "INVALID_LOGIN",
        }
    ],
}
INVALID_CONTENT = {
    "type": "https://www.w3.org/Protocols/rfc2616/rfc2616-sec10.html#sec10.4.1",
    "title": "Bad Request",
    "status": 400,
    "o:errorDetails": [
        {
            "detail": "Error while accessing resource: You have entered an Invalid Field Value 9999 for the "
            "following field: item",
            "o:errorCode": "INVALID_CONTENT",
            "o:errorPath": "item.items[0].item",
        }
    ],
}
NOT_FOUND = {"title": "Not Found", "status": 404, "o:errorDetails": [{"detail": "Record does not exist.", "o:errorCode": "NONEXISTENT_ID"}]}
THROTTLED = {
    "type": "https://www.w3.org/Protocols/rfc2616/rfc2616-sec10.html",
    "title": "Bad Request",
    "status": 429,
    "o:errorCode": "USER_ERROR",
    "o:errorDetails": [{"detail": "Concurrent request limit exceeded. Request blocked.", "o:errorCode": "CONCURRENCY_LIMIT_EXCEEDED"}],
}
UNEXPECTED = {"title": "Internal Server Error", "status": 500, "o:errorDetails": [{"detail": "An unexpected error occurred. Error ID: jrgbpyylphhishmmlxyt", "o:errorCode": "UNEXPECTED_ERROR"}]}
DUPLICATE = {"title": "Bad Request", "status": 400, "o:errorDetails": [{"detail": "Error while accessing a resource. This entity already exists.", "o:errorCode": "USER_ERROR"}]}
LOCKED = {"title": "Bad Request", "status": 400, "o:errorDetails": [{"detail": "This record has been locked by a user defined workflow.", "o:errorCode": "USER_ERROR"}]}


def test_invalid_login_names_the_credentials_to_check():
    error = error_from_response(response(401, INVALID_LOGIN, "GET"), auth_hint="Check the token secret.")
    assert isinstance(error, NetSuiteAuthError) and isinstance(error, AuthenticationError)
    assert error.code == "INVALID_LOGIN" and error.status == 401
    assert "Login Audit Trail" in error.detail
    assert "Check the token secret." in str(error)
    assert "GET /services/rest/record/v1/salesOrder" in str(error)


def test_bearer_failure_keeps_www_authenticate():
    error = error_from_response(
        response(401, INVALID_LOGIN, "GET", {"WWW-Authenticate": 'Bearer realm="123456", error="invalid_token"'})
    )
    assert 'error="invalid_token"' in str(error)


def test_invalid_content_carries_code_detail_and_path():
    error = error_from_response(response(400, INVALID_CONTENT))
    assert isinstance(error, NetSuiteInvalidContent) and isinstance(error, RequestRejected)
    assert (error.code, error.error_path) == ("INVALID_CONTENT", "item.items[0].item")
    assert "Invalid Field Value 9999" in error.detail
    assert "(at item.items[0].item)" in str(error)
    assert error.details[0].path == "item.items[0].item"


@pytest.mark.parametrize(
    ("status", "body", "cls", "base", "code"),
    [
        (404, NOT_FOUND, NetSuiteRecordNotFound, RequestRejected, "NONEXISTENT_ID"),
        (429, THROTTLED, NetSuiteThrottled, ThrottledError, "CONCURRENCY_LIMIT_EXCEEDED"),
        (500, UNEXPECTED, NetSuiteUnavailable, TransientError, "UNEXPECTED_ERROR"),
        (400, DUPLICATE, NetSuiteDuplicateRecord, RequestRejected, "USER_ERROR"),
        (400, LOCKED, NetSuiteRecordLocked, TransientError, "USER_ERROR"),
        (403, {"o:errorDetails": [{"detail": "Permission Violation", "o:errorCode": "INSUFFICIENT_PERMISSION"}]},
         NetSuitePermissionDenied, AuthenticationError, "INSUFFICIENT_PERMISSION"),
    ],
)
def test_documented_bodies_map_to_typed_errors(status, body, cls, base, code):
    error = error_from_response(response(status, body))
    assert type(error) is cls
    assert isinstance(error, base)
    assert error.code == code and error.status == status


def test_query_errors_and_unparseable_bodies():
    body = {"title": "Bad Request", "status": 400, "o:errorDetails": [{"detail": "Invalid search query. Unknown identifier 'balance'", "o:errorCode": "INVALID_PARAMETER"}]}
    error = error_from_response(response(400, body), is_query=True)
    assert type(error) is NetSuiteQueryError and "Unknown identifier 'balance'" in str(error)
    assert type(error_from_response(response(400, body))) is NetSuiteRequestError
    html = error_from_response(response(502, b"<html>Bad gateway</html>"))
    assert isinstance(html, NetSuiteUnavailable) and "Bad gateway" in str(html)
