"""Every GraphQL document the Shopify connector sends validates against Shopify's published 2026-10 schema."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest
from graphql import GraphQLSchema, build_schema, parse, validate

from sync_assets.connectors.shopify import documents

SCHEMA_GZ = Path(__file__).parents[1] / "fixtures" / "shopify-admin-2026-10.graphql.gz"


@pytest.fixture(scope="session")
def shopify_admin_schema() -> GraphQLSchema:
    """Built once per session: 3.7 MB of SDL takes several seconds to build."""
    schema = build_schema(gzip.decompress(SCHEMA_GZ.read_bytes()).decode("utf-8"))
    # Shopify's schema breaks graphql-core's strict deprecation self-check (Node.id); skip only that
    # self-check so documents can be validated (see shared/reference/schemas/SOURCES.md, caveats).
    schema._validation_errors = []  # type: ignore[attr-defined]
    return schema


def _errors(schema: GraphQLSchema, document: str) -> list[str]:
    return [error.message for error in validate(schema, parse(document))]


ALL = documents.all_documents()


def test_documents_are_collected():
    assert {"ORDERS_PAGE", "INVENTORY_SET_QUANTITIES", "BULK_OPERATION_RUN_QUERY", "BULK_ORDERS_TEMPLATE"} <= set(ALL)
    assert len(ALL) >= 15


@pytest.mark.parametrize("name", sorted(ALL))
def test_document_validates_against_published_schema(shopify_admin_schema, name):
    assert _errors(shopify_admin_schema, ALL[name]) == []


def test_misspelt_field_is_rejected(shopify_admin_schema):
    """Proves the validator can fail: the same orders page with one field name wrong."""
    broken = documents.ORDERS_PAGE.replace("displayFinancialStatus", "displayFinancialStatuss")
    assert broken != documents.ORDERS_PAGE
    errors = _errors(shopify_admin_schema, broken)
    assert any("displayFinancialStatuss" in e for e in errors)


def test_removed_inventory_input_field_is_rejected(shopify_admin_schema):
    """compareQuantity was removed in 2026-04; a document still using it must not pass."""
    old = documents.INVENTORY_SET_QUANTITIES.replace(
        "$input: InventorySetQuantitiesInput!", "$input: InventorySetQuantitiesInput!, $ignore: Boolean"
    ).replace("inventorySetQuantities(input: $input)", "inventorySetQuantities(input: {name: \"available\", reason: \"correction\", ignoreCompareQuantity: $ignore, quantities: []})")
    assert _errors(shopify_admin_schema, old)


def test_bulk_query_template_escapes_search_string(shopify_admin_schema):
    nasty = "sku:\"A\\\"B\" AND tag:'x'\n"
    doc = documents.bulk_orders_query(nasty)
    assert _errors(shopify_admin_schema, doc) == []
    # The search string survives the round trip through GraphQL string escaping.
    orders_field = parse(doc).definitions[0].selection_set.selections[0]
    query_arg = next(a for a in orders_field.arguments if a.name.value == "query")
    assert query_arg.value.value == nasty


def test_inventory_write_carries_idempotency_and_cas():
    doc = documents.INVENTORY_SET_QUANTITIES
    assert "@idempotent(key: $idempotencyKey)" in doc
    assert "InventorySetQuantitiesInput!" in doc


SANDBOX_SCHEMA = Path(__file__).parents[2] / "sync_assets" / "sandbox" / "shopify" / "schema.graphql"


@pytest.mark.parametrize("name", sorted(ALL))
def test_document_is_inside_the_sandbox_subset(name):
    """The sandbox emulates a subset of the schema; every document we send must stay inside it too."""
    schema = _sandbox_schema()
    assert _errors(schema, ALL[name]) == []


_SANDBOX_CACHE: list[GraphQLSchema] = []


def _sandbox_schema() -> GraphQLSchema:
    if not _SANDBOX_CACHE:
        schema = build_schema(SANDBOX_SCHEMA.read_text(encoding="utf-8"))
        schema._validation_errors = []  # type: ignore[attr-defined]
        _SANDBOX_CACHE.append(schema)
    return _SANDBOX_CACHE[0]
