"""Emulated Shopify Admin GraphQL API (a strict subset of the published 2026-10 schema)."""

from .backend import ShopifyBackend
from .store import UserError

__all__ = ["ShopifyBackend", "UserError"]
