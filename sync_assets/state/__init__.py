"""Transactional sync state (ledger, watermarks, dead letters, webhook inbox, alerts) in SQLite."""

from sync_assets.state.ledger import Claim, DeadLetter, InboxEvent, Ledger, LedgerEntry

__all__ = ["Claim", "DeadLetter", "InboxEvent", "Ledger", "LedgerEntry"]
