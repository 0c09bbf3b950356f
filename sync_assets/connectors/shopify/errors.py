"""Shopify's failures, mapped onto the shared connector hierarchy so callers catch by meaning.

Shopify reports failures at three levels, and each maps to a different decision for the caller:
HTTP status (401 bad token, 429/5xx transient), top-level GraphQL ``errors`` (THROTTLED is retried inside
the client; MAX_COST_EXCEEDED means "ask for less"; the rest are bugs or missing scopes) and per-mutation
``userErrors`` inside ``data`` (the request was fine, the business rule refused it).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sync_assets.connectors.errors import (
    AuthenticationError,
    ConnectorError,
    RequestRejected,
    ThrottledError,
    TransientError,
)

# Names of the settings an operator fixes when the shop refuses us; the Dagster resource reads these.
TOKEN_SETTING = "SHOPIFY_ACCESS_TOKEN"
SHOP_URL_SETTING = "SHOPIFY_SHOP_URL"


class ShopifyError(ConnectorError):
    service = "Shopify"


class ShopifyAuthError(ShopifyError, AuthenticationError):
    """HTTP 401/403: the token is wrong, expired or lacks a scope. Never carries the token itself."""


class ShopifyThrottledError(ShopifyError, ThrottledError):
    """Still THROTTLED / 429 after the client's throttle retry budget."""


class ShopifyTransientError(ShopifyError, TransientError):
    """5xx, reset or timeout that outlived the retry budget.

    ``maybe_applied`` is True when the failed request was a mutation the server may have committed before the
    failure (a timeout after sending, a 5xx): the caller must check before repeating a non-idempotent write.
    """

    def __init__(self, message: str, *, status: int | None = None, maybe_applied: bool = False) -> None:
        super().__init__(message, status=status)
        self.maybe_applied = maybe_applied


class ShopifyHTTPError(ShopifyError, RequestRejected):
    """A 4xx other than 401/403/429, e.g. 404 for a wrong shop URL or API version string."""


class ShopifyGraphQLError(ShopifyError, RequestRejected):
    """Top-level GraphQL ``errors`` other than THROTTLED: bad document, missing scope, internal error..."""

    def __init__(self, message: str, *, errors: list[dict[str, Any]], code: str | None = None) -> None:
        super().__init__(message, code=code)
        self.errors = errors


class ShopifyMaxCostExceeded(ShopifyGraphQLError):
    """The query's requested cost is above the single-query limit (1000). Not retryable as is: ask for less."""

    def __init__(self, message: str, *, errors: list[dict[str, Any]], cost: float | None, max_cost: float | None):
        super().__init__(message, errors=errors, code="MAX_COST_EXCEEDED")
        self.cost = cost
        self.max_cost = max_cost


@dataclass(frozen=True)
class UserErrorDetail:
    """One entry of a mutation's ``userErrors``: ``field`` is the input path, e.g. ["input","quantities","0"]."""

    message: str
    field: tuple[str, ...] | None
    code: str | None

    def __str__(self) -> str:
        where = ".".join(self.field) if self.field else "(no field)"
        return f"{self.code or 'ERROR'} at {where}: {self.message}"


class ShopifyUserError(ShopifyError, RequestRejected):
    """A mutation answered with ``userErrors``. The first error's field/code/message are on the instance."""

    def __init__(self, mutation: str, details: list[UserErrorDetail]) -> None:
        first = details[0]
        more = f" (+{len(details) - 1} more)" if len(details) > 1 else ""
        super().__init__(f"Shopify {mutation} refused: {first}{more}", code=first.code)
        self.mutation = mutation
        self.details = details
        self.field = first.field
        self.user_message = first.message


class ShopifyStaleQuantity(ShopifyUserError):
    """inventorySetQuantities compare-and-set lost: ``changeFromQuantity`` no longer matches Shopify.

    Re-read the level and retry with a *new* idempotency key; the old key would replay this same refusal.
    """


class ShopifyBulkOperationError(ShopifyError, RequestRejected):
    """A bulk operation ended FAILED, CANCELED or EXPIRED, or did not finish in the allowed time."""

    def __init__(
        self,
        message: str,
        *,
        operation_id: str | None,
        status: str | None,
        error_code: str | None = None,
        partial_data_url: str | None = None,
    ) -> None:
        super().__init__(message, code=error_code)
        self.operation_id = operation_id
        self.bulk_status = status
        self.partial_data_url = partial_data_url


class ShopifyBulkSlotBusy(ShopifyBulkOperationError):
    """Another bulk query of this app holds the shop's bulk slot, and the caller chose not to wait for it
    (the real-time lane pages instead of queueing behind a long batch export)."""

    def __init__(self, message: str, *, running_id: str | None) -> None:
        super().__init__(message, operation_id=running_id, status="OPERATION_IN_PROGRESS",
                         error_code="OPERATION_IN_PROGRESS")


class ShopifyBulkOrderingError(ShopifyError):
    """A bulk JSONL line referenced a parent outside the current root object: the output was not grouped."""


class ShopifyIncompleteError(ShopifyError):
    """A response lacked what a complete answer needs (e.g. a nested connection that could not be drained)."""


def user_error_details(raw: list[dict[str, Any]]) -> list[UserErrorDetail]:
    """Typed copies of ``userErrors``; Airbyte saw ``field`` as a bare string and blank messages, so normalise."""
    details = []
    for item in raw:
        field = item.get("field")
        if isinstance(field, str):
            field = [field]
        details.append(
            UserErrorDetail(
                message=item.get("message") or "",
                field=tuple(str(part) for part in field) if field else None,
                code=item.get("code"),
            )
        )
    return details


def raise_for_user_errors(mutation: str, raw: list[dict[str, Any]] | None) -> None:
    """Raise the typed exception for a non-empty ``userErrors`` list; stale CAS gets its own type."""
    if not raw:
        return
    details = user_error_details(raw)
    if any(d.code == "CHANGE_FROM_QUANTITY_STALE" for d in details):
        stale = [d for d in details if d.code == "CHANGE_FROM_QUANTITY_STALE"]
        raise ShopifyStaleQuantity(mutation, stale + [d for d in details if d not in stale])
    raise ShopifyUserError(mutation, details)
