"""Client-secret rotation: SHOPIFY_WEBHOOK_SECRET lists several secrets, newest first, and a delivery signed by
any of them is accepted, over real HTTP, while anything else is still a 401.

Shopify signs with the oldest client secret not yet revoked and moves to the new one up to an hour after the
revocation (shopify.dev rotate-revoke-client-credentials, verify-deliveries), so both must verify meanwhile.
"""

from __future__ import annotations

import hmac
import logging
import sqlite3
from datetime import timedelta

import pytest
import requests

from sync_assets import settings
from sync_assets.cli import main
from sync_assets.state.ledger import Ledger
from sync_assets.webhooks import receiver as receiver_module
from sync_assets.webhooks.receiver import SigningSecrets, create_app
from sync_assets_tests.webhooks.conftest import SECRET, shopify_time, signed

NEW = "shpss_new_0d9e8f7a6b5c"
OLD = "shpss_old_1a2b3c4d5e6f"
UNKNOWN = "shpss_unknown_99aa88bb"
ORDER = {"id": 6200407294252, "admin_graphql_api_id": "gid://shopify/Order/6200407294252", "total_price": "186.90"}
LOGGER = "sync_assets.webhooks.receiver"


def stored_count(ledger: Ledger) -> int:
    conn = sqlite3.connect(ledger.path)
    try:
        return conn.execute("SELECT COUNT(*) FROM inbox").fetchone()[0]
    finally:
        conn.close()


def post(url: str, secret: str, **kwargs) -> requests.Response:
    body, headers = signed(dict(ORDER), secret=secret, **kwargs)
    return requests.post(url, data=body, headers=headers, timeout=5)


def health(app) -> dict:
    return requests.get(f"{app.base}/webhooks/health", timeout=5).json()


def test_old_and_new_secret_both_accepted_during_rotation_and_an_unknown_one_refused(
    ledger: Ledger, serve_app, caplog
) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    app = serve_app(create_app(ledger, secret=f"{NEW},{OLD}"))

    assert post(app.url, OLD).json() == {"status": "stored"}
    assert post(app.url, OLD).json() == {"status": "stored"}
    assert post(app.url, NEW).json() == {"status": "stored"}
    forged = post(app.url, UNKNOWN)
    assert forged.status_code == 401
    assert stored_count(ledger) == 3

    report = health(app)
    assert report["counters"]["rejected_signature"] == 1 and report["counters"]["received"] == 3
    usage = {entry["secret"]: entry for entry in report["signing_secrets"]}
    assert (usage[1]["matched"], usage[2]["matched"]) == (1, 2)
    assert usage[1]["last_matched_at"] and usage[2]["last_matched_at"]

    # The old secret's use is logged once, by position: the operator learns the rotation is under way.
    rotation_lines = [r.getMessage() for r in caplog.records if "previous secret" in r.getMessage()]
    assert len(rotation_lines) == 1 and "#2" in rotation_lines[0] and "SHOPIFY_WEBHOOK_SECRET" in rotation_lines[0]
    everything = caplog.text + forged.text + repr(report)
    assert NEW not in everything and OLD not in everything and UNKNOWN not in everything


def test_single_secret_works_as_before(ledger: Ledger, serve_app, caplog) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    app = serve_app(create_app(ledger, secret=SECRET))
    assert post(app.url, SECRET).json() == {"status": "stored"}
    assert post(app.url, OLD).status_code == 401
    assert [entry["matched"] for entry in health(app)["signing_secrets"]] == [1]
    assert "previous secret" not in caplog.text


def test_secrets_may_be_spaced_or_given_as_a_sequence(ledger: Ledger, serve_app) -> None:
    for secret in (f" {NEW} , {OLD} ", [NEW, OLD]):
        app = serve_app(create_app(ledger, secret=secret))
        assert post(app.url, NEW).status_code == 200 and post(app.url, OLD).status_code == 200
        assert post(app.url, UNKNOWN).status_code == 401


def test_replay_window_still_applies_to_the_old_secret(ledger: Ledger, serve_app) -> None:
    app = serve_app(create_app(ledger, secret=f"{NEW},{OLD}"))
    stale = post(app.url, OLD, triggered_at=shopify_time(timedelta(hours=-49)))
    assert stale.status_code == 400 and "window" in stale.json()["error"]
    assert stored_count(ledger) == 0


def test_every_secret_is_compared_whichever_matches(monkeypatch) -> None:
    """No early exit: the time taken does not depend on which secret signed the body."""
    calls: list[int] = []
    real = hmac.compare_digest

    def counting(a, b):
        calls.append(1)
        return real(a, b)

    monkeypatch.setattr(receiver_module.hmac, "compare_digest", counting)
    secrets = SigningSecrets([NEW, OLD, "shpss_older_77"])
    for secret, expected in ((NEW, 0), (OLD, 1), (UNKNOWN, None)):
        body, headers = signed(ORDER, secret=secret)
        calls.clear()
        assert secrets.match(body, headers["X-Shopify-Hmac-Sha256"]) == expected
        assert len(calls) == 3
    assert NEW not in repr(secrets)


BAD_LISTS = [
    "alpha-secret,,beta-secret",
    "alpha-secret, ,beta-secret",
    ",alpha-secret",
    "alpha-secret,",
    "alpha-secret beta-secret",
    "alpha-secret,alpha-secret",
    "",
    "   ",
]


@pytest.mark.parametrize("raw", BAD_LISTS)
def test_bad_secret_list_is_refused_naming_the_variable_never_the_values(ledger: Ledger, raw: str) -> None:
    with pytest.raises(settings.SettingError) as error:
        create_app(ledger, secret=raw)
    message = str(error.value)
    assert "SHOPIFY_WEBHOOK_SECRET" in message
    assert "alpha-secret" not in message and "beta-secret" not in message


def test_webhooks_command_stops_on_a_bad_secret_list(monkeypatch, capsys, caplog) -> None:
    monkeypatch.setenv("SHOPIFY_WEBHOOK_SECRET", "alpha-secret,,beta-secret")
    assert main(["webhooks", "--port", "1"]) == 2  # before anything binds a port
    err = capsys.readouterr().err
    assert "SHOPIFY_WEBHOOK_SECRET" in err and "#2 of 3 is empty" in err
    assert "alpha-secret" not in err + caplog.text and "beta-secret" not in err + caplog.text
