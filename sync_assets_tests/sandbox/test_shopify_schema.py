"""The sandbox schema is a strict subset of Shopify's published Admin schema, and is up to date."""

import pytest
from graphql import build_schema

from sync_assets.sandbox.shopify import schema_subset


@pytest.fixture(scope="module")
def published():
    return schema_subset.load_published()


def _sig(field) -> str:
    return str(field.type)


def test_committed_schema_is_rederived_and_a_strict_subset(published):
    assert schema_subset.SUBSET_SDL_PATH.read_text(encoding="utf-8") == schema_subset.subset_sdl(published)
    subset = build_schema(schema_subset.SUBSET_SDL_PATH.read_text(encoding="utf-8"))
    checked = 0
    for name, t in subset.type_map.items():
        if name.startswith("__"):
            continue
        assert name in published.type_map, name
        p = published.type_map[name]
        assert type(p) is type(t), name
        if hasattr(t, "values"):
            assert list(t.values) == list(p.values), name
        for fname, f in getattr(t, "fields", {}).items():
            pf = p.fields[fname]
            assert _sig(f) == _sig(pf), f"{name}.{fname}"
            for aname, a in getattr(f, "args", {}).items():
                pa = pf.args[aname]
                assert (str(a.type), a.default_value) == (str(pa.type), pa.default_value), f"{name}.{fname}({aname})"
            checked += 1
    assert checked > 300
    assert subset.get_directive("idempotent") is not None


def test_subset_tool_refuses_dropping_a_required_argument(published):
    bad = {**schema_subset.SUBSET, "QueryRoot": ["order"]}  # order(id: ID!) without its id
    try:
        schema_subset.derive(published, bad)
    except (schema_subset.SubsetError, TypeError) as e:  # graphql-core wraps errors raised in thunks
        assert "order(id)" in str(e)
    else:
        raise AssertionError("dropping a required argument must fail")
