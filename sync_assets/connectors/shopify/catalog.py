"""Pushing products from the ERP with ``productSet``.

productSet has set semantics: the input *is* the product (list fields such as variants are replaced, missing
entries deleted), keyed by ``identifier`` (id, handle or a custom-id metafield). Sending the same input twice
leaves the same product, so a resend after an ambiguous failure is safe and the client retries it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Mapping

from . import documents as docs
from .paging import flatten_nested

if TYPE_CHECKING:
    from .client import ShopifyClient

_VARIANT_FOLLOW_UP = {"variants": (docs.PRODUCT_VARIANTS_PAGE, ("product", "variants"))}


def product_set(
    client: ShopifyClient,
    product: Mapping[str, Any],
    *,
    identifier: Mapping[str, Any] | None = None,
    synchronous: bool = True,
) -> dict[str, Any]:
    """Create or replace one product; returns ``product`` (variants as a complete list) or, when
    ``synchronous=False``, ``productSetOperation`` to poll."""
    variables: dict[str, Any] = {"input": dict(product), "synchronous": synchronous}
    if identifier is not None:
        variables["identifier"] = dict(identifier)
    payload = client.mutate(docs.PRODUCT_SET, variables, "productSet", idempotent=True)
    result = payload.get("product")
    if result is None:
        return {"productSetOperation": payload.get("productSetOperation")}
    return flatten_nested(client, result, _VARIANT_FOLLOW_UP, page_size=250)
