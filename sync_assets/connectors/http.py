"""Retry rules shared by the connectors: backoff with full jitter, ``Retry-After``, and "never sent".

Both clients own their own loop (each must re-sign or re-pace per attempt), but the arithmetic of
waiting, and the test of whether a failed request can have reached the server, are one mechanism each,
kept here.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from datetime import datetime, timezone

import requests
from urllib3.exceptions import NewConnectionError


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


def never_sent(exc: BaseException) -> bool:
    """True when a failed request provably never reached the server (refused, DNS, connect timeout).

    Only then may a non-idempotent write be resent: after a read timeout or a reset the server may have
    committed it. ``requests`` wraps the urllib3 cause several layers deep (``args``, ``reason``,
    ``__cause__``/``__context__``), so every branch of that chain is searched.
    """
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return True
    seen: set[int] = set()
    stack: list[BaseException | None] = [exc]
    while stack:
        current = stack.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, (NewConnectionError, ConnectionRefusedError)):
            return True
        reason = getattr(current, "reason", None)
        stack.extend([current.__cause__, current.__context__, reason if isinstance(reason, BaseException) else None])
        stack.extend(arg for arg in getattr(current, "args", ()) if isinstance(arg, BaseException))
    return False
