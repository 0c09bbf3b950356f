"""Errors no route handled (unknown path, wrong method, a bug) answered as the emulated service would:
NetSuite's ``o:errorDetails`` body under ``/services/``, the control API's ``{"error"}`` under
``/_sandbox/``, Shopify's ``{"errors"}`` everywhere else. Never Flask's HTML page: clients parse JSON."""

from __future__ import annotations

import json
import logging

import flask
from werkzeug.exceptions import HTTPException, InternalServerError

from sync_assets.sandbox.netsuite.errors import NetSuiteError

log = logging.getLogger(__name__)

_NETSUITE = {404: ("NONEXISTENT_ID", "The requested resource does not exist."),
             405: ("INVALID_REQUEST", "The request method is not supported for this resource.")}
# Shopify's 5xx answer carries the GraphQL error code its clients retry on (shopify-admin.md §2.3).
_SHOPIFY_INTERNAL = {"errors": [{"message": "Internal error. Looks like something went wrong on our end.",
                                 "extensions": {"code": "INTERNAL_SERVER_ERROR"}}]}


def install(app: flask.Flask) -> None:
    app.register_error_handler(HTTPException, _answer)
    app.register_error_handler(Exception, _crash)


def _crash(error: Exception) -> flask.Response:
    log.exception("sandbox: unhandled error on %s %s", flask.request.method, flask.request.path)
    return _answer(InternalServerError())


def _answer(error: HTTPException) -> flask.Response:
    status = error.code or 500
    path = flask.request.path
    if path.startswith("/services/"):
        code, detail = _NETSUITE.get(status, ("UNEXPECTED_ERROR", "An unexpected error occurred."))
        return NetSuiteError(status, code, detail).response()
    if path.startswith("/_sandbox/"):
        return flask.Response(json.dumps({"error": f"{path}: {error.name}"}), status=status,
                              mimetype="application/json")
    body = _SHOPIFY_INTERNAL if status >= 500 else {"errors": error.name}
    return flask.Response(json.dumps(body), status=status, mimetype="application/json")
