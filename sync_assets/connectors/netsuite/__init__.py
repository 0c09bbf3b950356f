"""NetSuite SuiteTalk REST connector: ``requests`` only, nothing Dagster.

Typical use::

    auth = TokenBasedAuth(account_id, consumer_key, consumer_secret, token_id, token_secret)
    client = NetSuiteClient(default_base_url(account_id), account_id, auth, max_concurrency=4)
    for row in client.suiteql_keyset("SELECT id, itemid FROM item WHERE isinactive = :inactive", params={"inactive": False}):
        ...
    so_id = client.upsert_record("salesOrder", "SHOP-1001", {...})
"""

from sync_assets.connectors.netsuite.auth import (
    ClientCredentialsAuth,
    TokenBasedAuth,
    host_slug_for,
    realm_for,
    token_url_for,
)
from sync_assets.connectors.netsuite.client import NetSuiteClient, default_base_url
from sync_assets.connectors.netsuite.errors import (
    ErrorDetail,
    NetSuiteAuthError,
    NetSuiteDuplicateRecord,
    NetSuiteError,
    NetSuiteInvalidContent,
    NetSuiteOutcomeUnknown,
    NetSuitePermissionDenied,
    NetSuiteQueryError,
    NetSuiteRecordLocked,
    NetSuiteRecordNotFound,
    NetSuiteRequestError,
    NetSuiteThrottled,
    NetSuiteUnavailable,
)
from sync_assets.connectors.netsuite.pacing import ClientStats
from sync_assets.connectors.netsuite.suiteql import bind, literal, parse_ts, ts_column, ts_literal

__all__ = [
    "ClientCredentialsAuth",
    "ClientStats",
    "ErrorDetail",
    "NetSuiteAuthError",
    "NetSuiteClient",
    "NetSuiteDuplicateRecord",
    "NetSuiteError",
    "NetSuiteInvalidContent",
    "NetSuiteOutcomeUnknown",
    "NetSuitePermissionDenied",
    "NetSuiteQueryError",
    "NetSuiteRecordLocked",
    "NetSuiteRecordNotFound",
    "NetSuiteRequestError",
    "NetSuiteThrottled",
    "NetSuiteUnavailable",
    "TokenBasedAuth",
    "bind",
    "default_base_url",
    "host_slug_for",
    "literal",
    "parse_ts",
    "realm_for",
    "token_url_for",
    "ts_column",
    "ts_literal",
]
