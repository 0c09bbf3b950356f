"""NetSuite REST client: SuiteQL reads and record writes, with pacing, retries and typed errors.

Retry rules (Oracle's guidance plus what broke in open-source clients, reference §5.3):

* 429 CONCURRENCY_LIMIT_EXCEEDED is refused before NetSuite does anything, so it is always retried
  (own, larger budget; the concurrency cap shrinks meanwhile).
* 5xx, timeouts and connection resets are retried with jittered backoff for requests that are safe to
  repeat: reads, SuiteQL, ``PUT eid:`` upserts, PATCH, and creates that carry an ``externalId``.
* A create *without* an external id is never retried once it may have reached NetSuite: a timeout or a
  500 can arrive after NetSuite committed the record, and a second POST would make a duplicate that
  nothing can tell apart from the first. It raises :class:`NetSuiteOutcomeUnknown` instead.
* Every attempt goes through ``requests``' auth hook, so TBA signs it with a fresh nonce and timestamp.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from typing import Any

import requests

from sync_assets.connectors.http import Backoff, never_sent, parse_retry_after
from sync_assets.connectors.netsuite.account_slots import LANES, REALTIME, AccountSlots
from sync_assets.connectors.netsuite.auth import host_slug_for, realm_for
from sync_assets.connectors.netsuite.errors import (
    NetSuiteDuplicateRecord,
    NetSuiteError,
    NetSuiteOutcomeUnknown,
    NetSuiteQueryError,
    NetSuiteThrottled,
    NetSuiteUnavailable,
    error_from_response,
)
from sync_assets.connectors.netsuite.pacing import ClientStats, ConcurrencyLimiter, Slot
from sync_assets.connectors.netsuite.suiteql import (
    MAX_PAGE,
    ROW_CAP,
    bind,
    has_top_level_order_by,
    identifier,
    keyset_page_query,
)

log = logging.getLogger(__name__)

RECORD_PATH = "/services/rest/record/v1"
SUITEQL_PATH = "/services/rest/query/v1/suiteql"
_RECORD_TYPE = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
_EXTERNAL_ID = re.compile(r"^[A-Za-z0-9_-]+$")  # what NetSuite allows after `eid:` in a URL
_INTERNAL_ID = re.compile(r"^-?[0-9]+$")


def default_base_url(account_id: str) -> str:
    """The real REST host of an account: ``1234567_SB1`` → ``https://1234567-sb1.suitetalk.api.netsuite.com``."""
    return f"https://{host_slug_for(account_id)}.suitetalk.api.netsuite.com"


@dataclass
class _Sent:
    response: requests.Response
    maybe_applied_before: bool  # an earlier attempt may have reached NetSuite and been applied


class NetSuiteClient:
    """One NetSuite account. Thread-safe: share one instance between the threads of a run.

    ``max_concurrency`` caps this client's own requests in flight. ``account_slots`` (optional) is the
    account-wide budget shared with every other client and process on the machine; each request then also
    holds one of its slots, taken for ``lane`` (``realtime`` or ``batch``: batch leaves real-time a slot and
    gives way while real-time waits). Time spent waiting for either shows in ``stats.queue_wait_s``.
    """

    def __init__(
        self,
        base_url: str,
        account_id: str,
        auth: requests.auth.AuthBase,
        *,
        max_concurrency: int = 5,
        timeout: float = 30,
        backoff: Backoff = Backoff(),
        max_throttle_retries: int = 40,
        session: requests.Session | None = None,
        account_slots: AccountSlots | None = None,
        lane: str = REALTIME,
    ) -> None:
        if lane not in LANES:
            raise ValueError(f"NetSuite client lane must be one of {LANES}, got {lane!r}")
        if not base_url.startswith(("http://", "https://")):
            raise ValueError(f"NetSuite base URL must start with http:// or https://, got {base_url!r}")
        realm = realm_for(account_id)
        auth_realm = getattr(auth, "realm", None)
        if auth_realm is not None and auth_realm != realm:
            raise ValueError(f"NetSuite auth realm {auth_realm!r} does not match account id {account_id!r} ({realm!r})")
        self.base_url = base_url.rstrip("/")
        self.account_id = realm
        self.auth = auth
        self.timeout = timeout
        self.backoff = backoff
        self.max_throttle_retries = max_throttle_retries
        self.stats = ClientStats()
        self._limiter = ConcurrencyLimiter(max_concurrency)
        self.account_slots = account_slots
        self.lane = lane
        if session is None:
            session = requests.Session()
            # One pooled connection per concurrent request, so threads never wait on (or discard) connections.
            adapter = requests.adapters.HTTPAdapter(pool_connections=2, pool_maxsize=max(10, max_concurrency * 2))
            session.mount("http://", adapter)
            session.mount("https://", adapter)
        self._session = session

    def __repr__(self) -> str:
        return f"NetSuiteClient(base_url={self.base_url!r}, account_id={self.account_id!r}, auth={self.auth!r})"

    @property
    def max_concurrency(self) -> int:
        return self._limiter.max_concurrency

    def close(self) -> None:
        self._session.close()

    @contextmanager
    def _in_flight(self) -> Iterator[Slot]:
        """This client's slot, then (if configured) one of the account's: held while one attempt is sent."""
        started = time.monotonic()
        with self._limiter.slot() as slot:
            with self.account_slots.slot(self.lane) if self.account_slots is not None else nullcontext():
                self.stats.add(queue_wait_s=time.monotonic() - started)
                yield slot

    # ----------------------------------------------------------------------------------------- SuiteQL

    def suiteql(self, query: str, params: Mapping[str, Any] | None = None, *, page_size: int = MAX_PAGE) -> Iterator[dict]:
        """Rows of a query of at most 100,000 rows, offset-paged.

        ``:name`` placeholders are bound by :func:`suiteql.bind`. Rows are as NetSuite sends them (lower-case
        keys, string values, NULL columns missing; see :mod:`suiteql`). A result longer than one page must
        be ordered by a unique key (NetSuite skips and repeats rows between unordered pages), and one that
        hits the row cap raises: use :meth:`suiteql_keyset` for those.
        """
        q = bind(query, params)  # bad parameters fail here, at the call, not at the first next()
        _check_page_size(page_size)
        return self._offset_pages(q, page_size)

    def suiteql_first(self, query: str, params: Mapping[str, Any] | None = None) -> dict | None:
        """The first row only (``limit=1``): runs a query as it would run, at the cost of one row."""
        page = self._suiteql_page(bind(query, params), limit=1, offset=0)
        items = (page or {}).get("items") or []
        return _strip_links(items[0]) if items else None

    def record_metadata(self, record_type: str) -> dict:
        """The JSON Schema of a record type (``metadata-catalog``): answered only if the role may use it."""
        if not _RECORD_TYPE.match(record_type):
            raise ValueError(f"not a NetSuite record type name: {record_type!r}")
        sent = self._send("GET", f"{RECORD_PATH}/metadata-catalog/{record_type}",
                          headers={"Accept": "application/schema+json"}, safe=True)
        self._raise_for(sent.response)
        return sent.response.json()

    def _offset_pages(self, q: str, page_size: int) -> Iterator[dict]:
        offset = 0
        while True:
            page = self._suiteql_page(q, limit=page_size, offset=offset)
            if page is None:  # 404 past the last page
                return
            items = page.get("items") or []
            yield from (_strip_links(row) for row in items)
            seen = offset + len(items)
            if not page.get("hasMore"):
                total = _int_or_none(page.get("totalResults"))
                if total is not None and total > seen:
                    raise NetSuiteQueryError(
                        f"NetSuite stopped this SuiteQL query after {seen} of {total} rows (its row cap);"
                        " page it by key with suiteql_keyset()",
                        code="ROW_CAP",
                    )
                return
            if offset == 0 and not has_top_level_order_by(q):
                raise NetSuiteQueryError(
                    "this SuiteQL result spans several pages but has no ORDER BY: NetSuite can skip or repeat"
                    " rows between unordered pages. Add ORDER BY on a unique key, or use suiteql_keyset()",
                    code="UNORDERED_PAGING",
                )
            offset += page_size
            if offset >= ROW_CAP:
                raise NetSuiteQueryError(
                    f"this SuiteQL result has more than {ROW_CAP} rows, NetSuite's cap per query;"
                    " page it by key with suiteql_keyset()",
                    code="ROW_CAP",
                )

    def suiteql_keyset(
        self,
        select_sql: str,
        key: str = "id",
        params: Mapping[str, Any] | None = None,
        *,
        page_size: int = MAX_PAGE,
        after: Any = None,
        key_field: str | None = None,
    ) -> Iterator[dict]:
        """Every row of ``select_sql``, however many, paged by key: each page is a fresh query
        ``... WHERE (<condition>) AND key > :last ORDER BY key`` fetched at offset 0, so the 100,000-row
        cap never applies and no page depends on an unordered offset.

        ``key`` is the column expression (``id`` or ``i.id``) and must be unique; ``key_field`` is its name
        in the result rows (default: the part after the dot, lower-cased). ``after`` resumes past a key.
        """
        identifier(key)
        _check_page_size(page_size)
        field = (key_field or key.split(".")[-1]).lower()
        base = bind(select_sql, params)
        keyset_page_query(base, key, None)  # refuses a query the pager cannot extend, before any request
        return self._keyset_pages(base, key, field, page_size, after)

    def _keyset_pages(self, base: str, key: str, field: str, page_size: int, after: Any) -> Iterator[dict]:
        last = after
        while True:
            page = self._suiteql_page(keyset_page_query(base, key, _key_value(last)), limit=page_size, offset=0)
            items = (page or {}).get("items") or []
            for row in items:
                value = row.get(field)
                if value is None:
                    raise NetSuiteQueryError(
                        f"keyset paging needs column {field!r} in every row; a row came back without it"
                        f" (keys: {sorted(k for k in row if k != 'links')}). Select the key column."
                    )
                if last is not None and not _key_after(value, last):
                    raise NetSuiteQueryError(
                        f"keyset paging got key {value!r} after {last!r}: the key is not unique or not ordered"
                    )
                last = value
                yield _strip_links(row)
            if not items or not _more_after(page or {}, len(items), page_size):
                return

    def _suiteql_page(self, q: str, *, limit: int, offset: int) -> dict | None:
        sent = self._send(
            "POST",
            SUITEQL_PATH,
            params={"limit": limit, "offset": offset},
            json={"q": q},
            headers={"Prefer": "transient"},
            safe=True,
        )
        if sent.response.status_code == 404 and offset > 0:
            return None
        self._raise_for(sent.response, is_query=True)
        return sent.response.json()

    # ----------------------------------------------------------------------------------------- records

    def create_record(self, record_type: str, body: Mapping[str, Any]) -> str:
        """POST a new record; returns its internal id (from the ``Location`` header).

        With ``externalId`` in the body the create is retried on 5xx/timeouts, and an "already exists"
        answer after such a retry means the first attempt landed: the existing record's id is returned.
        Without one, a failure that may have followed a commit raises :class:`NetSuiteOutcomeUnknown`.
        """
        external_id = body.get("externalId")
        if external_id is not None:
            _check_external_id(external_id)
        sent = self._send("POST", _record_path(record_type), json=dict(body), safe=external_id is not None)
        try:
            self._raise_for(sent.response)
        except NetSuiteDuplicateRecord:
            if not sent.maybe_applied_before:
                raise
            log.info("NetSuite create of %s eid:%s landed on an earlier attempt; using it", record_type, external_id)
            return self._id_of(record_type, f"eid:{external_id}")
        return self._id_from_location(sent.response, record_type)

    def upsert_record(
        self, record_type: str, external_id: str, body: Mapping[str, Any], *, replace: tuple[str, ...] = ()
    ) -> str:
        """``PUT /<type>/eid:<external_id>``: create or replace by external id; returns the internal id.

        Idempotent, so retried freely: a server that committed and then failed leaves one record.
        ``replace`` names sublists (``("item",)``) whose existing lines the body's lines replace, so a line
        an order edit removed is removed in NetSuite too instead of surviving a keyed merge.
        """
        _check_external_id(external_id)
        in_body = body.get("externalId")
        if in_body is not None and in_body != external_id:
            raise ValueError(f"body externalId {in_body!r} differs from the upsert key {external_id!r}")
        params = {"replace": ",".join(replace)} if replace else None
        sent = self._send(
            "PUT", _record_path(record_type, f"eid:{external_id}"), params=params, json=dict(body), safe=True
        )
        self._raise_for(sent.response)
        if sent.response.headers.get("Location"):
            return self._id_from_location(sent.response, record_type)
        return self._id_of(record_type, f"eid:{external_id}")

    def get_record(self, record_type: str, id_or_eid: str | int, expand: bool = False) -> dict:
        """A record by internal id (``"42"`` / ``42``) or external id (``"eid:SHOP-1"``).

        ``expand=True`` inlines sublists and subrecords (``expandSubResources``); otherwise they are link stubs.
        """
        params = {"expandSubResources": "true"} if expand else None
        sent = self._send("GET", _record_path(record_type, _record_ref(id_or_eid)), params=params, safe=True)
        self._raise_for(sent.response)
        return sent.response.json()

    def patch_record(self, record_type: str, record_id: str | int, body: Mapping[str, Any]) -> None:
        """PATCH body fields of a record (omitted fields unchanged, ``None`` clears one).

        Retried like a read: body fields are idempotent. Keyed sublist lines merge by key; lines of a
        non-keyed sublist are appended, so send those with ``?replace=`` semantics via an upsert instead.
        """
        sent = self._send("PATCH", _record_path(record_type, _record_ref(record_id)), json=dict(body), safe=True)
        self._raise_for(sent.response)

    def _id_of(self, record_type: str, ref: str) -> str:
        record = self.get_record(record_type, ref)
        record_id = record.get("id")
        if not record_id:
            raise NetSuiteError(f"NetSuite returned {record_type} {ref} without an id")
        return str(record_id)

    def _id_from_location(self, response: requests.Response, record_type: str) -> str:
        location = response.headers.get("Location", "")
        record_id = location.rstrip("/").rsplit("/", 1)[-1]
        if not location or not _INTERNAL_ID.match(record_id):
            raise NetSuiteError(
                f"NetSuite accepted the {record_type} write ({response.status_code}) but sent no usable Location"
                f" header ({location!r}); look the record up by external id",
                status=response.status_code,
            )
        return record_id

    # ----------------------------------------------------------------------------------------- transport

    def _raise_for(self, response: requests.Response, *, is_query: bool = False) -> None:
        if response.status_code >= 400:
            raise error_from_response(response, auth_hint=getattr(self.auth, "credential_hint", None), is_query=is_query)

    def _send(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        headers: Mapping[str, str] | None = None,
        safe: bool,
    ) -> _Sent:
        """One logical request: attempts until an answer that is not worth retrying, or the budget is spent.

        ``safe`` = repeating the request cannot change the outcome. An unsafe request is still retried
        after a 429 or a failure to connect, because then it provably never reached NetSuite.
        Returns the last response (which may be a 4xx/5xx for the caller to map).
        """
        url = self.base_url + path
        failures = throttles = 0
        reauthenticated = False
        maybe_applied = False
        while True:
            try:
                with self._in_flight() as slot:
                    self.stats.add(calls=1)
                    response = self._session.request(
                        method, url, params=params, json=json, headers=headers, auth=self.auth, timeout=self.timeout
                    )
            except (requests.Timeout, requests.ConnectionError) as exc:
                reached = not never_sent(exc)
                if reached and not safe:
                    raise NetSuiteOutcomeUnknown(
                        f"NetSuite {method} {path}: {type(exc).__name__} after the request was sent; it may or may"
                        " not have been applied, and it has no external id to retry safely. Look it up before"
                        " trying again (and give creates an externalId).",
                        method=method,
                        url_path=path,
                    ) from None
                maybe_applied = maybe_applied or reached
                failures += 1
                if failures >= self.backoff.max_attempts:
                    raise NetSuiteUnavailable(
                        f"NetSuite {method} {path} failed {failures} times; last: {type(exc).__name__}: {_short(exc)}",
                        method=method,
                        url_path=path,
                    ) from None
                self._wait("retry_wait_s", self.backoff.delay(failures - 1), method, path, type(exc).__name__)
                continue
            except (NetSuiteThrottled, NetSuiteUnavailable) as exc:  # from an OAuth 2.0 token request
                failures += 1
                if failures >= self.backoff.max_attempts:
                    raise
                self._wait("retry_wait_s", self.backoff.delay(failures - 1), method, path, f"token endpoint {exc.status}")
                continue

            status = response.status_code
            if status < 400:
                self._limiter.succeeded()
                return _Sent(response, maybe_applied)
            retry_after = parse_retry_after(response.headers.get("Retry-After"))
            if status == 429:
                self.stats.add(throttled=1)
                self._limiter.throttled(slot)
                throttles += 1
                if throttles > self.max_throttle_retries:
                    return _Sent(response, maybe_applied)
                self._wait("throttle_wait_s", self.backoff.delay(min(throttles - 1, 5), retry_after), method, path, "429")
                continue
            if status == 401 and not reauthenticated and _invalidate(self.auth):
                reauthenticated = True  # an expired bearer token: mint a new one, once
                self.stats.add(retries=1)
                continue
            if status >= 500:
                if not safe:
                    error = error_from_response(response)
                    raise NetSuiteOutcomeUnknown(
                        f"{error}. This create has no external id, so it is not retried: NetSuite may have"
                        " committed it before failing. Look it up before trying again (and give creates an"
                        " externalId).",
                        status=status,
                        code=error.code,
                        detail=error.detail,
                        details=error.details,
                        method=method,
                        url_path=path,
                    )
                maybe_applied = True
                failures += 1
                if failures >= self.backoff.max_attempts:
                    return _Sent(response, maybe_applied)
                self._wait("retry_wait_s", self.backoff.delay(failures - 1, retry_after), method, path, str(status))
                continue
            return _Sent(response, maybe_applied)

    def _wait(self, stat: str, seconds: float, method: str, path: str, why: str) -> None:
        log.debug("NetSuite %s %s: %s, retrying in %.2fs", method, path, why, seconds)
        self.stats.add(retries=1, **{stat: seconds})
        time.sleep(seconds)


def _record_path(record_type: str, ref: str | None = None) -> str:
    if not isinstance(record_type, str) or not _RECORD_TYPE.match(record_type):
        raise ValueError(f"not a NetSuite record type: {record_type!r} (e.g. 'salesOrder', 'customer')")
    return f"{RECORD_PATH}/{record_type}" + (f"/{ref}" if ref is not None else "")


def _record_ref(id_or_eid: str | int) -> str:
    if isinstance(id_or_eid, int) and not isinstance(id_or_eid, bool):
        return str(id_or_eid)
    if isinstance(id_or_eid, str):
        if _INTERNAL_ID.match(id_or_eid):
            return id_or_eid
        if id_or_eid.startswith("eid:"):
            _check_external_id(id_or_eid[4:])
            return id_or_eid
    raise ValueError(f"not a NetSuite record reference: {id_or_eid!r} (an internal id like '42', or 'eid:<external id>')")


def _check_external_id(external_id: Any) -> None:
    if not isinstance(external_id, str) or not _EXTERNAL_ID.match(external_id):
        raise ValueError(
            f"external id {external_id!r} cannot be used in a NetSuite URL: only letters, digits, '_' and '-'"
        )


def _check_page_size(page_size: int) -> None:
    if not 1 <= page_size <= MAX_PAGE:
        raise ValueError(f"SuiteQL page size must be 1..{MAX_PAGE}, got {page_size}")


def _strip_links(row: dict) -> dict:
    return {k: v for k, v in row.items() if k != "links"}


def _key_value(value: Any) -> Any:
    """SuiteQL returns ids as strings; compare them as numbers so '10' sorts after '9'."""
    if isinstance(value, str) and _INTERNAL_ID.match(value):
        return int(value)
    return value


def _key_after(value: Any, last: Any) -> bool:
    a, b = _key_value(value), _key_value(last)
    if isinstance(a, int) and isinstance(b, int):
        return a > b
    return a != b  # text keys: collation is the server's; only insist on progress


def _more_after(page: dict, count: int, page_size: int) -> bool:
    """Whether rows may follow this offset-0 page. A full page always may; a short one may too when the
    server cut it at a row cap lower than the page (then totalResults exceeds what it sent)."""
    total = _int_or_none(page.get("totalResults"))
    return bool(page.get("hasMore")) or count >= page_size or (total is not None and total > count)


def _int_or_none(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _invalidate(auth: Any) -> bool:
    invalidate = getattr(auth, "invalidate", None)
    return bool(invalidate()) if callable(invalidate) else False


def _short(exc: BaseException) -> str:
    text = str(exc)
    return text if len(text) <= 200 else text[:197] + "..."

