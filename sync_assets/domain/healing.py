"""The "being healed" grace rule shared by the checks that judge a day: reconciliation's verdict and the
finance tie-out.

A day's open problems split in two. *Healing*: a problem the real-time lane is already putting right (a
missing order reconciliation just re-queued; a storefront order placed moments ago and not synced yet),
for less than ``healing_seconds`` since it started. It is listed, as a warning, and holds nothing: holding
every mart and the analysts' snapshot for an order already on its way would punish the analysts for the
connector doing its job. *Blocking*: everything else, and a healing problem still open after the grace —
the real-time lane did not heal it, someone must look.

Each check says which of its problems can heal and since when (``since``); the split is this one rule.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Generic, TypeVar

T = TypeVar("T")

# How long a problem the real-time lane is healing stays a warning (reconciliation's and finance's default).
DEFAULT_HEALING_SECONDS = 3600.0


@dataclass(frozen=True)
class Verdict(Generic[T]):
    """A day's open problems, split by whether they fail the day."""

    blocking: list[T]
    healing: list[T]

    @property
    def holds(self) -> bool:
        """The day fails (an ERROR): something other than healing is open."""
        return bool(self.blocking)

    @property
    def clean(self) -> bool:
        """Nothing open at all."""
        return not self.blocking and not self.healing


def split_healing(problems: Iterable[T], now: datetime, healing_seconds: float,
                  since: Callable[[T], datetime | None]) -> Verdict[T]:
    """Split ``problems`` as of ``now``: healing when ``since(problem)`` (the moment it started being healed;
    None when it cannot heal by itself) is less than ``healing_seconds`` ago."""
    cutoff = now - timedelta(seconds=healing_seconds)
    blocking: list[T] = []
    healing: list[T] = []
    for problem in problems:
        started = since(problem)
        (healing if started is not None and started > cutoff else blocking).append(problem)
    return Verdict(blocking=blocking, healing=healing)
