"""The emulated NetSuite account: routes, auth gate, concurrency governance and the sandbox's hooks.

Peak in-flight requests are kept here (Counters only adds): read them with :meth:`NetSuiteBackend.peak_in_flight`.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path

import flask
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sync_assets.sandbox import credentials
from sync_assets.sandbox.model import Catalog, Counters

from . import inventory, suiteql
from .auth import TOKEN_PATH, AuthFailure, M2MIssuer, TbaVerifier, ensure_key_pair, realm_for
from .db import AccountDB
from .errors import NetSuiteError, concurrency_limit, invalid_login, invalid_request
from .reads import Renderer
from .writes import RECORD_TABLES, Writer, find_id, require

RECORD_PREFIX = "/services/rest/record/v1"
SUITEQL_PATH = "/services/rest/query/v1/suiteql"
SINGULAR = "application/vnd.oracle.resource+json; type=singular"
WRITABLE = {"customer", "salesOrder", "customerDeposit", "customerPayment", "customerRefund", "itemFulfillment"}  # itemFulfillment: PATCH only
GET_PARAMS = {"expandSubResources", "fields", "expand", "simpleEnumFormat"}


class NetSuiteBackend:
    name = "netsuite"

    def __init__(self, counters: Counters, *, account_id: str = credentials.NETSUITE_ACCOUNT_ID,
                 row_cap: int = 100_000, concurrency_limit: int = 5, key_dir: Path | None = None) -> None:
        self.counters = counters
        self.account_id = account_id
        self.row_cap = row_cap
        self.concurrency_limit = concurrency_limit
        self.denied_tables: frozenset[str] = frozenset()
        self.db = AccountDB()
        self.writer = Writer(self.db)
        self.tba = TbaVerifier(account_id)
        self.m2m = M2MIssuer(account_id)
        self.private_key_path: Path | None = None
        if key_dir is not None:
            self.private_key_path = ensure_key_pair(Path(key_dir))
            self.m2m.register_key(credentials.NETSUITE_CERTIFICATE_ID,
                                  (Path(key_dir) / "netsuite_m2m_public.pem").read_bytes())
        self._location_ids: dict[str, int] = {}
        self._flight_lock = threading.Lock()
        self._in_flight = 0
        self._peak = 0

    # ------------------------------------------------------------------------------------ sandbox hooks
    def reset(self) -> None:
        self.db.reset()
        self.writer.reset()
        self.tba.reset()
        self.m2m.reset_tokens()
        self._location_ids = {}
        with self._flight_lock:
            self._peak = self._in_flight

    def load_catalog(self, catalog: Catalog) -> None:
        self._location_ids.update(self.db.load_catalog(catalog))

    def configure(self, *, row_cap: int | None = None, concurrency_limit: int | None = None,
                  timezone: str | None = None, oneworld: bool | None = None,
                  denied_tables: list[str] | None = None) -> None:
        """``timezone``: the integration user's zone (timestamps SuiteQL shows); ``oneworld``: customers need
        a subsidiary; ``denied_tables``: tables the integration role has no permission for."""
        if timezone is not None:
            try:
                ZoneInfo(timezone)
            except (ZoneInfoNotFoundError, ValueError):
                raise ValueError(f"timezone {timezone!r} is not an IANA time zone") from None
            self.db.set_timezone(timezone)
        if oneworld is not None:
            self.db.set_oneworld(bool(oneworld))
        if denied_tables is not None:
            self.denied_tables = frozenset(t.lower() for t in denied_tables)
        if row_cap is not None:
            if row_cap < 1:
                raise ValueError(f"row_cap must be positive, got {row_cap}")
            self.row_cap = row_cap
        if concurrency_limit is not None:
            if concurrency_limit < 1:
                raise ValueError(f"concurrency_limit must be positive, got {concurrency_limit}")
            self.concurrency_limit = concurrency_limit

    def location_id(self, location_key: str) -> str:
        try:
            return str(self._location_ids[location_key])
        except KeyError:
            raise KeyError(f"unknown location key {location_key!r}; known: {sorted(self._location_ids)}") from None

    def item_id(self, sku: str) -> str:
        row = self.db.one("SELECT id FROM item WHERE itemid = ? AND matrixtype = 'CHILD'", [sku])
        if row is None:
            raise KeyError(f"unknown sku {sku!r}")
        return str(row[0])

    def receive_inventory(self, sku: str, location_key: str, quantity: int) -> None:
        inventory.receive(self.db, int(self.item_id(sku)), int(self.location_id(location_key)), quantity)

    def fulfill_sales_orders(self, older_than_seconds: float) -> int:
        return inventory.fulfill_open_orders(self.db, older_than_seconds)

    def peak_in_flight(self) -> int:
        with self._flight_lock:
            return self._peak

    def in_flight(self) -> int:
        with self._flight_lock:
            return self._in_flight

    # ------------------------------------------------------------------------------------------ routes
    def blueprint(self) -> flask.Blueprint:
        bp = flask.Blueprint("netsuite", __name__)
        bp.before_request(self._admit)
        bp.teardown_request(self._release)
        bp.register_error_handler(NetSuiteError, lambda e: e.response())
        bp.add_url_rule(TOKEN_PATH, "token", self._token, methods=["POST"])
        bp.add_url_rule(SUITEQL_PATH, "suiteql", self._suiteql, methods=["POST"])
        bp.add_url_rule(f"{RECORD_PREFIX}/<record_type>", "create", self._create, methods=["POST"])
        bp.add_url_rule(f"{RECORD_PREFIX}/metadata-catalog/<record_type>", "metadata", self._metadata, methods=["GET"])
        bp.add_url_rule(f"{RECORD_PREFIX}/<record_type>/<key>", "record", self._record,
                        methods=["GET", "PATCH", "PUT"])
        bp.add_url_rule("/_sandbox/netsuite/m2m-keys", "m2m_keys", self._m2m_keys, methods=["POST"])
        return bp

    def _admit(self):
        """Account-wide concurrency governance: past the limit, 429 at once (reference §5.2)."""
        if not flask.request.path.startswith("/services/"):
            return None
        with self._flight_lock:
            if self._in_flight >= self.concurrency_limit:
                rejected = True
            else:
                rejected = False
                self._in_flight += 1
                self._peak = max(self._peak, self._in_flight)
                flask.g.netsuite_admitted = True
        if rejected:
            self.counters.incr("netsuite.throttled")
            return concurrency_limit()
        return None

    def _release(self, _exc) -> None:
        if flask.g.pop("netsuite_admitted", False):
            with self._flight_lock:
                self._in_flight -= 1

    def _authenticate(self) -> None:
        header = flask.request.headers.get("Authorization", "")
        try:
            if header[:7].lower() == "bearer ":
                try:
                    self.m2m.verify_bearer(header[7:].strip())
                except AuthFailure:
                    self.counters.incr("netsuite.auth_failures")
                    raise invalid_login({"WWW-Authenticate": f'Bearer realm="{realm_for(self.account_id)}", '
                                         'error="invalid_token", error_description="Invalid login attempt."'})
                return
            form = []
            if flask.request.mimetype == "application/x-www-form-urlencoded":
                form = list(flask.request.form.items(multi=True))
            self.tba.verify(flask.request.method, flask.request.url, header, form)
        except AuthFailure:
            self.counters.incr("netsuite.auth_failures")
            raise invalid_login() from None

    def _json_body(self):
        try:
            return json.loads(flask.request.get_data(as_text=True) or "null")
        except ValueError:
            raise invalid_request() from None

    def _suiteql(self):
        self._authenticate()
        result = suiteql.run(self.db, body=self._json_body(), args=flask.request.args,
                             prefer=flask.request.headers.get("Prefer"), self_url=flask.request.base_url,
                             row_cap=self.row_cap, denied_tables=self.denied_tables)
        return flask.Response(json.dumps(result), status=200, content_type="application/json; charset=UTF-8")

    def _record_type(self, record_type: str) -> str:
        if record_type not in RECORD_TABLES:
            raise NetSuiteError(404, "INVALID_ID", f"Record type '{record_type}' does not exist.")
        return record_type

    def _metadata(self, record_type: str):
        """The record type's JSON Schema (reference §1): here only its name and the analytics columns the
        sandbox keeps for it, enough to tell a reachable record type from a denied or unknown one."""
        self._authenticate()
        record_type = self._record_type(record_type)
        table = RECORD_TABLES[record_type]
        if {record_type.lower(), table} & self.denied_tables:
            raise NetSuiteError(403, "INSUFFICIENT_PERMISSION", "Permission Violation: You need a higher level of "
                                f"the '{record_type}' permission to access this page. Please contact your "
                                "account administrator.")
        columns = [r[0] for r in self.db.all("SELECT column_name FROM information_schema.columns "
                                             "WHERE table_name = ? ORDER BY ordinal_position", [table])]
        schema = {"$schema": "http://json-schema.org/draft-06/schema#", "type": "object", "title": record_type,
                  "properties": {c: {"type": "string"} for c in columns}}
        return flask.Response(json.dumps(schema), status=200, content_type="application/schema+json")

    def _location(self, record_type: str, rid: int) -> flask.Response:
        resp = flask.Response(status=204)
        resp.headers["Location"] = f"{flask.request.host_url.rstrip('/')}{RECORD_PREFIX}/{record_type}/{rid}"
        return resp

    def _create(self, record_type: str):
        self._authenticate()
        record_type = self._record_type(record_type)
        if record_type not in WRITABLE:
            raise NetSuiteError(405, "INVALID_REQUEST", f"Record type {record_type} cannot be created directly.")
        rid = self.writer.write(record_type, self._json_body(), record_id=None, external_id=None, mode="create")
        self.counters.incr("netsuite.writes")
        return self._location(record_type, rid)

    def _record(self, record_type: str, key: str):
        self._authenticate()
        record_type = self._record_type(record_type)
        method = flask.request.method
        if method == "GET":
            unknown = set(flask.request.args) - GET_PARAMS
            if unknown:
                name = sorted(unknown)[0]
                raise NetSuiteError(400, "INVALID_PARAMETER", f"Invalid query parameter name: {name}. Allowed "
                                    "query parameters are: fields, expand, expandSubResources.", query_param=name)
            rid = require(self.db, record_type, key)
            expand = flask.request.args.get("expandSubResources", "false").lower() == "true"
            base = f"{flask.request.host_url.rstrip('/')}{RECORD_PREFIX}"
            body = Renderer(self.db, self.writer, base).render(record_type, rid, expand)
            return flask.Response(json.dumps(body), status=200, content_type=SINGULAR)
        if record_type not in WRITABLE:
            raise NetSuiteError(405, "INVALID_REQUEST", f"Record type {record_type} is read-only here.")
        body = self._json_body()
        if method == "PUT":
            if not key.startswith("eid:") or len(key) == 4:
                raise invalid_request("PUT (upsert) needs an external id: /<type>/eid:<externalId>.")
            rid = find_id(self.db, record_type, key)
            rid = self.writer.write(record_type, body, record_id=rid, external_id=key[4:], mode="upsert")
        else:
            rid = require(self.db, record_type, key)
            replace = {s.strip().lower() for s in flask.request.args.get("replace", "").split(",") if s.strip()}
            self.writer.write(record_type, body, record_id=rid, external_id=None, mode="patch", replace=replace)
        self.counters.incr("netsuite.writes")
        return self._location(record_type, rid)

    def _token(self):
        form = {k: v for k, v in flask.request.form.items()}
        try:
            result = self.m2m.issue(form, flask.request.base_url)
        except AuthFailure as e:
            self.counters.incr("netsuite.auth_failures")
            error = e.reason.split(":")[0] if e.reason.startswith(("unsupported_grant_type", "invalid_request")) \
                else "invalid_grant"
            return flask.Response(json.dumps({"error": error}), status=400, content_type="application/json")
        return flask.Response(json.dumps(result), status=200, content_type="application/json",
                              headers={"Cache-Control": "no-store"})

    def _m2m_keys(self):
        body = self._json_body()
        if not isinstance(body, dict) or not body.get("certificate_id") or not body.get("public_key_pem"):
            return flask.jsonify({"error": "body must be {certificate_id, public_key_pem}"}), 400
        try:
            self.m2m.register_key(str(body["certificate_id"]), body["public_key_pem"])
        except (ValueError, TypeError) as e:
            return flask.jsonify({"error": f"public_key_pem is not a PEM public key or certificate: {e}"}), 400
        return flask.jsonify({"certificate_id": body["certificate_id"]}), 201


__all__ = ["NetSuiteBackend"]
