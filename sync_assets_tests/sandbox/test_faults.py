"""Every fault profile, observed with plain ``requests`` against the real sandbox server."""

from __future__ import annotations

import json
import time
import uuid

import pytest
import requests

from sync_assets.sandbox.control_client import SandboxControlError
from sync_assets.sandbox.faults import FaultConfigError, FaultPlan, endpoint_name, graphql_is_mutation
from sync_assets_tests.conftest import netsuite_auth, shopify_graphql_url, shopify_headers

MISSING_CUSTOMER = "/services/rest/record/v1/customer/eid:nobody-here"
ORDERS_QUERY = "query Recent { orders(first: 250) { nodes { id email } } }"


def netsuite_read(sandbox, timeout: float = 10.0) -> requests.Response:
    return requests.get(sandbox.url + MISSING_CUSTOMER, auth=netsuite_auth(), timeout=timeout)


def netsuite_upsert_customer(sandbox, external_id: str, timeout: float = 10.0) -> requests.Response:
    body = {"firstName": "Ada", "lastName": "O'Neil", "email": f"{external_id}@example.com"}
    url = f"{sandbox.url}/services/rest/record/v1/customer/eid:{external_id}"
    return requests.put(url, json=body, auth=netsuite_auth(), timeout=timeout)


def shopify_post(sandbox, query: str, variables: dict | None = None, timeout: float = 10.0) -> requests.Response:
    return requests.post(
        shopify_graphql_url(sandbox.url),
        json={"query": query, "variables": variables or {}},
        headers=shopify_headers(),
        timeout=timeout,
    )


def shopify_order_emails(sandbox) -> set[str]:
    answer = shopify_post(sandbox, ORDERS_QUERY)
    assert answer.status_code == 200, answer.text
    return {node["email"] for node in answer.json()["data"]["orders"]["nodes"]}


def shopify_create_order(sandbox, email: str, timeout: float = 10.0) -> requests.Response:
    sku = sandbox.control.catalog()["skus_sample"][0]
    mutation = """mutation Place($order: OrderCreateOrderInput!) {
      orderCreate(order: $order) { order { id email } userErrors { field message } } }"""
    order = {
        "email": email,
        "currency": "USD",
        "lineItems": [{"sku": sku, "quantity": 1, "priceSet": {"shopMoney": {"amount": "10.00", "currencyCode": "USD"}}}],
    }
    return shopify_post(sandbox, mutation, {"order": order}, timeout=timeout)


def fault_count(sandbox, name: str) -> int:
    return sandbox.control.counters()["counters"].get(name, 0)


# --- the profiles, over HTTP ------------------------------------------------------------------------


def test_no_faults_means_normal_answers(sandbox):
    assert sandbox.control.faults()["profile"] == "none"
    answer = netsuite_read(sandbox)
    assert answer.status_code == 404
    assert answer.json()["o:errorDetails"][0]["o:errorCode"] == "NONEXISTENT_ID"
    assert shopify_post(sandbox, ORDERS_QUERY).status_code == 200


def test_throttle_netsuite_answers_429_concurrency_limit_exceeded(sandbox):
    sandbox.control.set_faults("throttle", service="netsuite")
    answer = netsuite_read(sandbox)
    assert answer.status_code == 429
    body = answer.json()
    assert body["status"] == 429
    assert body["o:errorDetails"][0]["o:errorCode"] == "CONCURRENCY_LIMIT_EXCEEDED"
    assert "Retry-After" not in answer.headers  # NetSuite documents none
    assert answer.headers["Content-Type"].startswith("application/vnd.oracle.resource+json")
    # only NetSuite was chosen
    assert shopify_post(sandbox, ORDERS_QUERY).status_code == 200
    assert fault_count(sandbox, "faults.throttle") == 1
    assert fault_count(sandbox, "faults.throttle.netsuite") == 1


def test_throttle_shopify_answers_429_with_retry_after(sandbox):
    sandbox.control.set_faults("throttle", service="shopify", retry_after=0.5)
    answer = shopify_post(sandbox, ORDERS_QUERY)
    assert answer.status_code == 429
    assert answer.headers["Retry-After"] == "0.5"
    assert answer.json()["errors"][0]["extensions"]["code"] == "THROTTLED"
    assert answer.headers.get("X-Request-Id")
    assert netsuite_read(sandbox).status_code == 404


@pytest.mark.parametrize("status", [500, 502, 503])
def test_server_errors_carry_each_services_body(sandbox, status):
    sandbox.control.set_faults("server_errors", statuses=[status])
    netsuite = netsuite_read(sandbox)
    assert netsuite.status_code == status
    detail = netsuite.json()["o:errorDetails"][0]
    assert detail["o:errorCode"] == "UNEXPECTED_ERROR" and "Error ID:" in detail["detail"]
    shopify = shopify_post(sandbox, ORDERS_QUERY)
    assert shopify.status_code == status
    errors = shopify.json()["errors"]
    if status == 500:
        assert errors[0]["extensions"]["code"] == "INTERNAL_SERVER_ERROR"
    else:
        assert isinstance(errors, str)
    assert fault_count(sandbox, "faults.server_errors") == 2


def test_timeouts_make_the_client_time_out(sandbox):
    sandbox.control.set_faults("timeouts", seconds=1.0)
    began = time.monotonic()
    with pytest.raises(requests.exceptions.ReadTimeout):
        netsuite_read(sandbox, timeout=0.3)
    assert time.monotonic() - began < 0.9
    assert fault_count(sandbox, "faults.timeouts") == 1


def test_resets_close_the_connection_without_an_answer(sandbox):
    sandbox.control.set_faults("resets")
    with pytest.raises(requests.exceptions.ConnectionError):
        netsuite_read(sandbox, timeout=5)
    with pytest.raises(requests.exceptions.ConnectionError):
        shopify_post(sandbox, ORDERS_QUERY, timeout=5)
    assert fault_count(sandbox, "faults.resets") == 2
    sandbox.control.clear_faults()
    assert netsuite_read(sandbox).status_code == 404  # the server itself is unharmed


def test_slow_adds_latency_then_answers_normally(sandbox):
    sandbox.control.set_faults("slow", seconds=0.4, service="shopify")
    began = time.monotonic()
    answer = shopify_post(sandbox, ORDERS_QUERY)
    assert answer.status_code == 200 and "data" in answer.json()
    assert time.monotonic() - began >= 0.4


def test_down_answers_503_for_a_window_per_service(sandbox):
    sandbox.control.set_faults("down", service="netsuite", seconds=0.8)
    assert netsuite_read(sandbox).status_code == 503
    assert shopify_post(sandbox, ORDERS_QUERY).status_code == 200
    assert sandbox.control.faults()["down_remaining_seconds"] > 0
    time.sleep(0.9)
    assert netsuite_read(sandbox).status_code == 404


def test_control_routes_are_never_faulted(sandbox):
    sandbox.control.set_faults("resets")
    assert sandbox.control.health()["status"] == "ok"
    assert sandbox.control.faults()["profile"] == "resets"


# --- committed, then failed -------------------------------------------------------------------------


@pytest.mark.parametrize("failure", ["error", "reset", "timeout"])
def test_committed_then_failed_netsuite_write_is_visible_afterwards(sandbox, failure):
    sandbox.control.set_faults("committed_then_failed", service="netsuite", failure=failure, seconds=1.0)
    # reads pass through untouched
    assert netsuite_read(sandbox).status_code == 404
    external_id = f"ctf-{failure}-{uuid.uuid4().hex[:8]}"
    if failure == "error":
        answer = netsuite_upsert_customer(sandbox, external_id)
        assert answer.status_code == 500
        assert answer.json()["o:errorDetails"][0]["o:errorCode"] == "UNEXPECTED_ERROR"
    elif failure == "reset":
        with pytest.raises(requests.exceptions.ConnectionError):
            netsuite_upsert_customer(sandbox, external_id)
    else:
        with pytest.raises(requests.exceptions.ReadTimeout):
            netsuite_upsert_customer(sandbox, external_id, timeout=0.5)
    sandbox.control.clear_faults()
    url = f"{sandbox.url}/services/rest/record/v1/customer/eid:{external_id}"
    stored = requests.get(url, auth=netsuite_auth(), timeout=10)
    assert stored.status_code == 200, stored.text
    assert stored.json()["email"] == f"{external_id}@example.com"
    assert fault_count(sandbox, "faults.committed_then_failed") == 1


@pytest.mark.parametrize("failure", ["error", "reset"])
def test_committed_then_failed_shopify_mutation_is_visible_afterwards(sandbox, failure):
    sandbox.control.set_faults("committed_then_failed", service="shopify", failure=failure)
    assert shopify_post(sandbox, ORDERS_QUERY).status_code == 200  # queries pass through
    email = f"ctf-{uuid.uuid4().hex[:8]}@example.com"
    if failure == "error":
        answer = shopify_create_order(sandbox, email)
        assert answer.status_code == 500
        assert answer.json()["errors"][0]["extensions"]["code"] == "INTERNAL_SERVER_ERROR"
    else:
        with pytest.raises(requests.exceptions.ConnectionError):
            shopify_create_order(sandbox, email)
    sandbox.control.clear_faults()
    assert email in shopify_order_emails(sandbox)


def test_committed_then_failed_reads_a_chunked_mutation_and_still_runs_it(sandbox):
    sandbox.control.set_faults("committed_then_failed", service="shopify", failure="error")
    email = f"chunked-{uuid.uuid4().hex[:8]}@example.com"
    sku = sandbox.control.catalog()["skus_sample"][0]
    document = json.dumps({
        "query": "mutation Place($order: OrderCreateOrderInput!) { orderCreate(order: $order) { order { id } } }",
        "variables": {"order": {"email": email, "lineItems": [{"sku": sku, "quantity": 1}]}},
    }).encode()  # fmt: skip
    # a generator body makes requests send Transfer-Encoding: chunked, with no Content-Length
    answer = requests.post(
        shopify_graphql_url(sandbox.url), data=iter([document[:40], document[40:]]), headers=shopify_headers(), timeout=10
    )
    assert answer.status_code == 500
    sandbox.control.clear_faults()
    assert email in shopify_order_emails(sandbox)


# --- rate, seed, limit ------------------------------------------------------------------------------


def statuses(sandbox, n: int) -> list[int]:
    return [netsuite_read(sandbox).status_code for _ in range(n)]


def test_rate_and_seed_give_a_repeatable_fraction(sandbox):
    sandbox.control.set_faults("throttle", rate=0.5, seed=11)
    first = statuses(sandbox, 30)
    sandbox.control.set_faults("throttle", rate=0.5, seed=11)
    assert statuses(sandbox, 30) == first
    hits = first.count(429)
    assert 5 <= hits <= 25 and set(first) == {404, 429}


def test_limit_caps_the_number_of_faults(sandbox):
    sandbox.control.set_faults("server_errors", statuses=[503], limit=2)
    assert statuses(sandbox, 4) == [503, 503, 404, 404]
    assert sandbox.control.faults()["injected"] == 2


def test_bad_fault_plans_are_refused_naming_the_field(sandbox):
    for params, field in [
        ({"profile": "gremlins"}, "profile"),
        ({"profile": "throttle", "rate": 2}, "rate"),
        ({"profile": "throttle", "service": "sap"}, "service"),
        ({"profile": "throttle", "colour": "red"}, "colour"),
    ]:
        with pytest.raises(SandboxControlError, match=field):
            sandbox.control.set_faults(**params)


# --- pure helpers -----------------------------------------------------------------------------------


def test_fault_plan_parsing():
    plan = FaultPlan.from_json({"profile": "down", "service": "shopify", "seconds": 3})
    assert plan.services == ("shopify",) and plan.effective_seconds == 3.0
    assert FaultPlan.from_json({"profile": "slow"}).effective_seconds == 0.2
    with pytest.raises(FaultConfigError, match="statuses"):
        FaultPlan.from_json({"profile": "server_errors", "statuses": [418]})


def test_graphql_mutation_detection():
    assert graphql_is_mutation(b'{"query": "mutation { orderCreate(order: {}) { order { id } } }"}', "application/json")
    assert not graphql_is_mutation(b'{"query": "{ orders(first: 1) { nodes { id } } }"}', "application/json")
    two = b'{"query": "query A { shop { name } } mutation B { x }", "operationName": "B"}'
    assert graphql_is_mutation(two, "application/json")
    assert not graphql_is_mutation(two.replace(b'"B"}', b'"A"}'), "application/json")
    assert graphql_is_mutation(b"# comment\nmutation { x }", "application/graphql")
    assert not graphql_is_mutation(b"not graphql", "application/json")


def test_endpoint_names_fold_record_ids():
    assert endpoint_name("GET", "/services/rest/record/v1/salesOrder/123") == "GET /services/rest/record/v1/salesOrder/{id}"
    assert endpoint_name("PUT", "/services/rest/record/v1/customer/eid:abc") == "PUT /services/rest/record/v1/customer/{id}"
