"""NetSuite's error bodies (reference §5.1): RFC-7807-like JSON with ``o:errorDetails``."""

from __future__ import annotations

import json

import flask

_RFC = "https://www.w3.org/Protocols/rfc2616/rfc2616-sec10.html"
_TYPES = {
    400: _RFC + "#sec10.4.1",
    401: _RFC + "#sec10.4.2",
    403: _RFC + "#sec10.4.4",
    404: _RFC + "#sec10.4.5",
    405: _RFC + "#sec10.4.6",
    429: _RFC,
    500: _RFC + "#sec10.5.1",
}
_TITLES = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    429: "Too Many Requests",
    500: "Internal Server Error",
}
ERROR_CONTENT_TYPE = "application/vnd.oracle.resource+json; type=error"

INVALID_LOGIN_DETAIL = (
    "Invalid login attempt. For more details, see the Login Audit Trail in the NetSuite UI at "
    "Setup > Users/Roles > User Management > View Login Audit Trail."
)


class NetSuiteError(Exception):
    """Raised anywhere inside a request; the blueprint turns it into NetSuite's error body."""

    def __init__(
        self,
        status: int,
        code: str,
        detail: str,
        *,
        path: str | None = None,
        query_param: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(f"{status} {code}: {detail}")
        self.status = status
        self.code = code
        self.detail = detail
        self.path = path
        self.query_param = query_param
        self.headers = headers or {}

    def body(self) -> dict:
        detail: dict = {"detail": self.detail, "o:errorCode": self.code}
        if self.path is not None:
            detail["o:errorPath"] = self.path
        if self.query_param is not None:
            detail["o:errorQueryParam"] = self.query_param
        return {
            "type": _TYPES.get(self.status, _RFC),
            "title": _TITLES.get(self.status, "Error"),
            "status": self.status,
            "o:errorDetails": [detail],
        }

    def response(self) -> flask.Response:
        resp = flask.Response(json.dumps(self.body()), status=self.status, content_type=ERROR_CONTENT_TYPE)
        for k, v in self.headers.items():
            resp.headers[k] = v
        return resp


def invalid_login(headers: dict[str, str] | None = None) -> NetSuiteError:
    return NetSuiteError(401, "INVALID_LOGIN", INVALID_LOGIN_DETAIL, headers=headers)


def not_found() -> NetSuiteError:
    return NetSuiteError(404, "NONEXISTENT_ID", "Record does not exist.")


def invalid_field_value(value: object, field: str, path: str) -> NetSuiteError:
    return NetSuiteError(
        400,
        "INVALID_CONTENT",
        "Error while accessing resource: You have entered an Invalid Field Value "
        f"{value} for the following field: {field}",
        path=path,
    )


def already_exists() -> NetSuiteError:
    return NetSuiteError(400, "USER_ERROR", "Error while accessing a resource. This entity already exists.")


def invalid_request(detail: str = "The request could not be understood by the server due to malformed syntax.",
                    **kw) -> NetSuiteError:
    return NetSuiteError(400, "INVALID_REQUEST", detail, **kw)


def concurrency_limit() -> flask.Response:
    # The documented 429 sample carries a top-level o:errorCode USER_ERROR besides the detail code (§5.1).
    body = {
        "type": _RFC,
        "title": "Too Many Requests",
        "status": 429,
        "o:errorCode": "USER_ERROR",
        "o:errorDetails": [
            {"detail": "Concurrent request limit exceeded. Request blocked.",
             "o:errorCode": "CONCURRENCY_LIMIT_EXCEEDED"}
        ],
    }
    return flask.Response(json.dumps(body), status=429, content_type=ERROR_CONTENT_TYPE)
