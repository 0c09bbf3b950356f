"""The product's own webhook receiver on a free port, fed by the sandbox's real signed deliveries."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from werkzeug.serving import make_server

from sync_assets.sandbox import credentials
from sync_assets.state.ledger import Ledger
from sync_assets.webhooks.receiver import create_app


@contextmanager
def receiving(sandbox, ledger: Ledger, topics: Sequence[str]) -> Iterator[None]:
    """While open, the sandbox delivers ``topics`` to a receiver that puts them in ``ledger``'s inbox."""
    server = make_server("127.0.0.1", 0, create_app(ledger, secret=credentials.SHOPIFY_WEBHOOK_SECRET), threaded=True)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    sandbox.control.register_webhooks(f"http://127.0.0.1:{server.server_port}/webhooks/shopify", list(topics))
    try:
        yield
    finally:
        sandbox.control.clear_webhooks()
        server.shutdown()
        server.server_close()
