from __future__ import annotations

import pytest

from sync_assets.domain.errors import PolicyError
from sync_assets.domain.policy import ENTITIES, load_policy, parse_policy


def test_bundled_policy_matches_the_design_table():
    policy = load_policy()
    assert set(policy.entities) == set(ENTITIES)
    assert {p.name for p in policy.in_lane("realtime")} == {"orders", "customers", "payments", "inventory", "fulfillments", "warehouse_load"}
    assert all(p.interval_seconds == 1 for p in policy.in_lane("realtime"))
    assert policy.entity("catalog").cron == "0 2 * * *"


def test_env_var_selects_the_file(tmp_path, monkeypatch):
    path = tmp_path / "mine.yaml"
    path.write_text("entities:\n  catalog: {lane: realtime, interval_seconds: 30}\n  orders: {lane: batch, cron: '*/15 * * * *', timezone: Europe/Paris}\n")
    monkeypatch.setenv("SYNC_POLICY_PATH", str(path))
    policy = load_policy()
    assert policy.entity("catalog").lane == "realtime" and policy.entity("catalog").cron is None
    orders = policy.entity("orders")
    assert (orders.lane, orders.cron, orders.timezone, orders.interval_seconds) == ("batch", "*/15 * * * *", "Europe/Paris", None)
    assert orders.overlap_seconds == 300  # knobs not mentioned keep their defaults


def test_knobs_are_parsed():
    policy = parse_policy("""
entities:
  inventory:
    safety_stock: {default: 2, per_sku: {SKU-1: 5}}
    location_map: {"gid://shopify/Location/1": 3}
  orders:
    default_customer: {USD: "1234"}
""")
    inv = policy.entity("inventory")
    assert inv.safety_stock.for_sku("SKU-1") == 5 and inv.safety_stock.for_sku("X") == 2
    assert dict(inv.location_map) == {"gid://shopify/Location/1": "3"}
    assert dict(policy.entity("orders").default_customer) == {"USD": "1234"}


@pytest.mark.parametrize("text, message", [
    ("entities:\n  inventory: {lane: batch, cron: '61 * * * *'}",
     "sync_policy.yaml: entities.inventory.cron: '61 * * * *' is not a valid cron expression"),
    ("entities:\n  catalog: {timezone: Mars/Olympus}", "entities.catalog.timezone: 'Mars/Olympus' is not a known IANA timezone"),
    ("entities:\n  catalog: {lane: realtime}", "entities.catalog.interval_seconds: a realtime entity needs interval_seconds"),
    ("entities:\n  orders: {lane: batch}", "entities.orders.cron: a batch entity needs a cron expression"),
    ("entities:\n  orders: {lane: sometimes}", "entities.orders.lane: 'sometimes' is not a lane"),
    ("entities:\n  orders: {interval_secs: 1}", "entities.orders.interval_secs: unknown setting"),
    ("entities:\n  shipments: {}", "entities.shipments: unknown entity"),
    ("entities:\n  orders: {interval_seconds: '1'}", "entities.orders.interval_seconds: must be a whole number, got '1'"),
    ("entities:\n  orders: {interval_seconds: 0}", "entities.orders.interval_seconds: must be ≥ 1"),
    ("entities:\n  orders: {batch_size: true}", "entities.orders.batch_size: must be a whole number"),
    ("entities:\n  orders: {cron: '0 * * * *'}", "entities.orders.cron: a realtime entity runs on interval_seconds"),
    ("entities:\n  inventory: {safety_stock: {default: -1}}", "entities.inventory.safety_stock.default: must be ≥ 0"),
    ("entities:\n  inventory: {safety_stock: {per_sku: {A: x}}}", "entities.inventory.safety_stock.per_sku.A: must be a whole number"),
    ("entities:\n  inventory: {location_map: [1, 2]}", "entities.inventory.location_map: must be a mapping"),
    ("entities: [orders]", "sync_policy.yaml: entities: must be a mapping"),
    ("surprise: 1", "unknown top-level key(s) surprise"),
    ("entities: {orders: [", "sync_policy.yaml: not valid YAML"),
    ("account: [1]", "sync_policy.yaml: account: must be a mapping"),
    ("account: {subsidary: 1}", "account.subsidary: unknown setting"),
    ("account: {subsidiary: Parent Co}", "account.subsidiary: must be the subsidiary's NetSuite internal id"),
    ("account: {netsuite_timezone: PST8PDT9}", "account.netsuite_timezone: 'PST8PDT9' is not a known IANA timezone"),
    ("account: {order_date_timezone: 5}", "account.order_date_timezone: must be text"),
    ("account: {start_date: 2026-12-01T08:00:00}", "account.start_date: 2026-12-01T08:00:00 has no offset"),
    ("account: {start_date: yesterday}", "account.start_date: 'yesterday' is not a date"),
    ("account: {start_date: 2026-02-30}", "sync_policy.yaml: not a valid date"),
    ("account: {price_level: ''}", "account.price_level: must be a NetSuite price level name"),
    ("account: {deposit_account: Undeposited Funds}", "account.deposit_account: must be the account's NetSuite internal id"),
    ("account: {payment_methods: [paypal]}", "account.payment_methods: must be a mapping"),
    ("account: {carriers: {UPS Ground: ''}}", "account.carriers.UPS Ground: must map text to text or an id"),
])
def test_errors_name_file_entity_and_field(text, message):
    with pytest.raises(PolicyError) as err:
        parse_policy(text, source="sync_policy.yaml")
    assert message in str(err.value)


def test_unreadable_file(tmp_path):
    with pytest.raises(PolicyError, match="cannot read sync policy"):
        load_policy(tmp_path / "missing.yaml")


@pytest.mark.parametrize("entity", ["loyalty"])
def test_an_entity_without_a_flow_is_refused_naming_file_entity_and_that_it_has_no_flow(entity, monkeypatch):
    from sync_assets.domain import policy as policy_module

    monkeypatch.setitem(policy_module.NO_FLOW_YET, entity, "loyalty points")
    for body in ("{lane: realtime, interval_seconds: 1}", "{}"):
        with pytest.raises(PolicyError) as error:
            parse_policy(f"entities:\n  {entity}: {body}\n", source="mine.yaml")
        message = str(error.value)
        assert message.startswith(f"mine.yaml: entities.{entity}: no flow runs '{entity}' yet")
        assert "remove the entry" in message and "catalog" in message  # and lists what does have a flow
    with pytest.raises(PolicyError, match=f"entities.{entity}: no flow runs"):
        load_policy().entity(entity)


def test_finance_is_a_daily_batch_flow_that_can_move_lanes():
    finance = load_policy().entity("finance")
    assert (finance.lane, finance.cron, finance.timezone) == ("batch", "0 4 * * *", "UTC")
    moved = parse_policy("entities:\n  finance: {lane: realtime, interval_seconds: 60}\n").entity("finance")
    assert (moved.lane, moved.interval_seconds, moved.cron) == ("realtime", 60, None)


def test_customers_and_payments_follow_the_orders_entry_and_refuse_a_lane_of_their_own():
    policy = parse_policy("entities:\n  orders: {lane: batch, cron: '*/10 * * * *'}\n")
    for name in ("customers", "payments"):
        assert (policy.entity(name).lane, policy.entity(name).cron) == ("batch", "*/10 * * * *")
    # an old file restating the orders' lane and cadence still loads
    parse_policy("entities:\n  customers: {lane: realtime, interval_seconds: 1}\n  payments: {lane: realtime}\n")
    with pytest.raises(PolicyError) as error:
        parse_policy("entities:\n  payments: {lane: batch, cron: '0 * * * *'}\n")
    assert str(error.value) == (
        "sync_policy.yaml: entities.payments.lane: payments are synced inline with each of the orders (no flow of "
        "their own), so this setting would do nothing; set entities.orders.lane instead")
    with pytest.raises(PolicyError, match=r"entities.customers.batch_size: customers are synced inline"):
        parse_policy("entities:\n  customers: {batch_size: 10}\n")
    with pytest.raises(PolicyError, match=r"entities.customers.colour: unknown setting"):
        parse_policy("entities:\n  customers: {colour: red}\n")


def test_the_shipped_file_names_only_entities_that_have_a_flow():
    import yaml

    from sync_assets.domain.policy import BUNDLED_POLICY, INLINE, NO_FLOW_YET

    named = set(yaml.safe_load(BUNDLED_POLICY.read_text())["entities"])
    assert not named & (set(NO_FLOW_YET) | set(INLINE))


def test_account_facts_are_parsed_with_defaults():
    from datetime import datetime, timezone

    assert parse_policy("").account.netsuite_timezone == "UTC" and parse_policy("").account.start_date is None
    account = parse_policy("""
account:
  subsidiary: 3
  netsuite_timezone: America/Los_Angeles
  start_date: 2026-11-30
  price_level: Online Price
""").account
    assert (account.subsidiary, account.netsuite_timezone, account.price_level) == ("3", "America/Los_Angeles", "Online Price")
    assert account.start_date == datetime(2026, 11, 30, tzinfo=timezone.utc)
    with_offset = parse_policy("account: {start_date: '2026-11-30T08:00:00+02:00'}").account
    assert with_offset.start_date == datetime(2026, 11, 30, 6, tzinfo=timezone.utc)


def test_account_facts_reach_every_flow_config():
    from sync_assets.definitions import account_configs

    account = parse_policy("account: {subsidiary: 2, netsuite_timezone: Asia/Tokyo, order_date_timezone: Europe/Paris,"
                           " start_date: 2026-11-01, price_level: Online Price}").account
    configs = account_configs(account, 50)
    assert (configs["orders"].subsidiary_id, configs["orders"].tran_date_timezone) == ("2", "Europe/Paris")
    assert {configs[f].start_at for f in ("orders", "inventory", "fulfillments")} == {account.start_date}
    assert {configs[f].netsuite_timezone for f in ("inventory", "fulfillments", "catalog")} == {"Asia/Tokyo"}
    assert (configs["catalog"].price_level, configs["catalog"].max_pushes) == ("Online Price", 50)
    more = account_configs(parse_policy("account: {deposit_account: 7, payment_methods: {paypal: 4},"
                                        " shipping_methods: {Express: 81}, carriers: {UPS Ground: UPS}}").account, 1)
    assert (more["orders"].deposit_account_id, more["orders"].payment_method_map) == ("7", {"paypal": "4"})
    assert more["orders"].shipping_method_map == {"Express": "81"}
    assert more["fulfillments"].carrier_map == {"UPS Ground": "UPS"}
