"""The CRM mart on what the flows really land: Shopify and NetSuite customers merged by external id and by
email (case and whitespace aside), guest-free order aggregates, RFM scores and segments — exact values on
known sandbox data, built with `dbt build` (its tests included). Also: the analysts' CRM recipes and the
segments an older "as of" date gives."""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from datetime import datetime, timedelta, timezone
from decimal import Decimal as D

import duckdb
import pytest

from sync_assets.defs import warehouse_models
from sync_assets.flows import customers as customers_flow
from sync_assets.flows import orders as orders_flow
from sync_assets.state.ledger import Ledger
from sync_assets_tests.flows import orders_support as support

RECIPES = Path(__file__).resolve().parents[2] / "docs" / "analyst_recipes.md"
RESET = {"seed": 3, "products": 4, "variants_per_product": 2, "customers": 3, "locations": 2}
COLUMNS = ("person_key, found_in, matched_by, netsuite_records, email, orders, revenue, average_order_value, "
           "rfm_score, segment, accepts_email_marketing")


@pytest.fixture(scope="module")
def crm(sandbox_server, tmp_path_factory):
    from sync_assets.sandbox.control_client import SandboxControl

    control = SandboxControl(sandbox_server.url)
    control.reset(**RESET)
    root = tmp_path_factory.mktemp("crm")
    handle = type("H", (), {"url": sandbox_server.url, "control": control})()
    shopify, netsuite = support.shopify_client(handle), support.netsuite_client(handle)
    ledger, landing = Ledger(root / "ledger.sqlite"), support.landing_at(root)
    try:
        control.create_customer(email="Prospect@Example.com", firstName="Pat", marketingState="SUBSCRIBED")
        mixed = control.create_customer(email="mixed.case@example.com", firstName="Mix")["id"]
        # Entered in NetSuite by hand: the same person as Shopify's, typed differently.
        netsuite.upsert_record("customer", "crm-web-1", {"isPerson": True, "firstName": "Mix", "lastName": "Case",
                                                          "email": "Mixed.Case@EXAMPLE.com"})
        # A wholesale account only NetSuite knows, entered twice.
        for eid, email in (("crm-wholesale-1", "Wholesale@Example.com"), ("crm-wholesale-2", "wholesale@example.COM")):
            netsuite.upsert_record("customer", eid, {"isPerson": False, "companyName": "Acme", "email": email})
        buyers = support.place_orders(handle, 4)  # buyer0: 2 orders, 37.50; buyer1: 23.00; buyer2: 12.50
        orders_flow.run_orders_flow(shopify, netsuite, ledger, support.policy(), landing=landing, run_id="orders-1",
                                    config=support.CONFIG)  # creates NetSuite customers shopify-customer-<n>
        buyer1 = shopify.execute('{ customers(first: 1, query: "email:buyer1@example.com") { nodes { id } } }')
        buyer1 = buyer1["customers"]["nodes"][0]["id"]
        # buyer1 changes address in Shopify: only the external id links the two records now.
        control.update_customer(buyer1, email="Buyer1.New@example.com ")
        customers_flow.run_customers_flow(netsuite, ledger, landing, run_id="crm-1")
        customers_flow.run_shopify_customers_flow(shopify, ledger, landing, run_id="crm-1")
    finally:
        ledger.close()
    path = support.merge_at(root)
    warehouse_models.run_dbt(path, "build")  # raises if any dbt test fails
    return {"path": path, "buyers": buyers, "buyer1": buyer1, "mixed": mixed, "root": root}


def rows(path, sql, *params):
    with duckdb.connect(str(path), read_only=True) as conn:
        return conn.execute(sql, list(params)).fetchall()


def _by_email(path, columns=COLUMNS):
    return {r[4]: r for r in rows(path, f"SELECT {columns} FROM analytics.crm_customers")}


def test_one_row_per_person_merged_by_external_id_then_email(crm):
    people = _by_email(crm["path"])
    assert len(people) == 3 + 3 + 3  # 3 catalog customers, 3 buyers, prospect, mixed case, wholesale
    b1 = "shopify:" + crm["buyer1"].rsplit("/", 1)[1]
    assert people["Buyer1.New@example.com "] == (b1, "both", "external_id", 1, "Buyer1.New@example.com ", 1,
                                                  D("23.00"), D("23.00"), "511", "new", False)
    mixed = "shopify:" + crm["mixed"].rsplit("/", 1)[1]
    assert people["mixed.case@example.com"] == (mixed, "both", "email", 1, "mixed.case@example.com", 0, None, None,
                                                None, "prospect", False)
    assert people["Wholesale@Example.com"][:4] == ("email:wholesale@example.com", "netsuite", None, 2)
    assert people["Prospect@Example.com"][1:4] == ("shopify", None, 0)
    assert people["Prospect@Example.com"][-2:] == ("prospect", True)
    assert people["buyer0@example.com"][1:] == ("both", "external_id", 1, "buyer0@example.com", 2, D("37.50"),
                                                D("18.75"), "521", "promising", False)
    assert people["buyer2@example.com"][5:10] == (1, D("12.50"), D("12.50"), "511", "new")
    # the catalog's customers exist in both systems with the same address: merged by email
    catalog = [p for e, p in people.items() if p[1] == "both" and p[2] == "email" and e != "mixed.case@example.com"]
    assert len(catalog) == 3 and {p[-2] for p in catalog} == {"prospect"}


def test_revenue_per_currency_and_order_dates(crm):
    got = rows(crm["path"], "SELECT c.email, r.currency, r.orders, r.revenue, r.first_order_at <= r.last_order_at "
                            "FROM analytics.crm_revenue_by_currency r JOIN analytics.crm_customers c USING (person_key) "
                            "ORDER BY r.revenue DESC")
    assert got == [("buyer0@example.com", "USD", 2, D("37.50"), True),
                   ("Buyer1.New@example.com ", "USD", 1, D("23.00"), True),
                   ("buyer2@example.com", "USD", 1, D("12.50"), True)]
    [(first, last)] = rows(crm["path"], "SELECT first_order_at, last_order_at FROM analytics.crm_customers "
                                        "WHERE email = 'buyer0@example.com'")
    placed = rows(crm["path"], "SELECT min(created_at), max(created_at) FROM analytics.orders "
                               "WHERE customer_email = 'buyer0@example.com'")
    assert [(first, last)] == placed


@pytest.fixture(scope="module")
def later(crm, tmp_path_factory):
    """The same warehouse scored 200 days on (dbt var crm_as_of), in a copy."""
    copy = tmp_path_factory.mktemp("crm-later") / "warehouse.duckdb"
    shutil.copy(crm["path"], copy)
    moment = (datetime.now(timezone.utc) + timedelta(days=200)).isoformat()
    warehouse_models.run_dbt(copy, "run", "--select", "analytics__crm_customers", "--vars", f"{{crm_as_of: '{moment}'}}")
    return copy


def test_an_older_as_of_date_moves_buyers_to_at_risk_and_hibernating(later):
    people = _by_email(later)
    assert people["buyer0@example.com"][8:10] == ("221", "at_risk")
    assert people["buyer2@example.com"][8:10] == ("211", "hibernating")


def _recipe(name: str) -> str:
    return dict(re.findall(r"<!-- query: (\w+) -->\n```sql\n(.*?)```", RECIPES.read_text(encoding="utf-8"),
                           flags=re.S))[name]


def test_the_crm_recipes_answer_with_exact_values(crm, later):
    repeat = rows(crm["path"], _recipe("crm_repeat_customers"))
    assert [r[:6] + (r[-1],) for r in repeat] == [("buyer0@example.com", "Buyer", "N0", 2, D("37.50"), "USD", "promising")]
    assert rows(crm["path"], _recipe("crm_at_risk_customers")) == []  # everyone bought today
    assert rows(crm["path"], _recipe("crm_segments")) == [("prospect", 6, 0, 1), ("new", 2, 2, 0),
                                                          ("promising", 1, 2, 0)]
    [at_risk] = rows(later, _recipe("crm_at_risk_customers"))
    assert at_risk[:5] == ("buyer0@example.com", "Buyer", "N0", 2, D("37.50")) and at_risk[-2:] == (200, "221")


def test_netsuite_creation_times_are_read_in_the_account_zone(sandbox, tmp_path, monkeypatch):
    """SuiteQL shows datecreated in the integration user's zone: at UTC+14 a customer created just now reads
    14 hours ahead as UTC. staging.customers.created_at reads it in account.netsuite_timezone."""
    from sync_assets.domain.policy import BUNDLED_POLICY, ENV_VAR

    zone = "Pacific/Kiritimati"
    policy_file = tmp_path / "sync_policy.yaml"
    policy_file.write_text(BUNDLED_POLICY.read_text().replace("netsuite_timezone: UTC", f"netsuite_timezone: {zone}"))
    monkeypatch.setenv(ENV_VAR, str(policy_file))
    sandbox.control.configure(netsuite_timezone=zone)
    netsuite, ledger, landing = support.netsuite_client(sandbox), Ledger(tmp_path / "ledger.sqlite"), support.landing_at(tmp_path)
    try:
        netsuite.upsert_record("customer", "crm-zone-1", {"isPerson": True, "firstName": "Zed", "email": "zed@example.com"})
        customers_flow.run_customers_flow(netsuite, ledger, landing, run_id="crm-1",
                                          config=customers_flow.CrmConfig(netsuite_timezone=zone))  # fmt: skip
    finally:
        ledger.close()
    path = support.merge_at(tmp_path)
    warehouse_models.run_dbt(path, "run", "--select", "staging__customers")
    [(created, shown)] = rows(path, "SELECT created_at, json_extract_string(payload, '$.datecreated') FROM "
                                    "staging.customers JOIN raw.netsuite_customers USING (customer_id) "
                                    "WHERE external_id = 'crm-zone-1' QUALIFY row_number() OVER () = 1")
    assert abs((datetime.now(timezone.utc) - created).total_seconds()) < 600, (created, shown)
    local = datetime.fromisoformat(shown).replace(tzinfo=timezone.utc)  # what reading it as UTC would say
    assert abs((local - created).total_seconds() - 14 * 3600) < 60
