"""Retry timing shared by the connectors: exponential backoff with full jitter, and ``Retry-After``.

Both clients own their own loop (each must re-sign or re-pace per attempt), but the arithmetic of
waiting is one mechanism, kept here.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from datetime import datetime, timezone


@dataclass(frozen=True)
class Backoff:
    """Exponential backoff with full jitter (AWS style): attempt n waits uniform(0, min(cap, base * 2**n))."""

    max_attempts: int = 6
    base_seconds: float = 0.25
    cap_seconds: float = 20.0

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        """Seconds to wait before retry number ``attempt`` (0-based). A server's Retry-After is a floor."""
        ceiling = min(self.cap_seconds, self.base_seconds * (2**attempt))
        jittered = random.uniform(0, ceiling)
        if retry_after is not None:
            return max(retry_after, jittered)
        return jittered


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a ``Retry-After`` header: delta-seconds (Shopify sends "2.0") or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return max(0.0, (when - datetime.now(timezone.utc)).total_seconds())
