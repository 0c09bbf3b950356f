"""A shop's order history, generated on demand rather than held: what a backfill reads through bulk operations.

``POST /_sandbox/shopify/history`` {count, start, end, seed, malformed} says "this shop took ``count`` orders
between ``start`` and ``end`` before the sandbox started". A million orders as dicts would take gigabytes,
so none is stored: order ``i`` is rebuilt from ``(seed, i)`` whenever a bulk query pages over it, through the
same ``orderCreate`` code path live orders take (against a scratch view of the store that shares the catalog
and keeps nothing). The bulk runner writes each page straight to its JSONL file, so the server's memory stays
flat whatever ``count`` is.

Order ``i`` was placed (``createdAt`` = ``processedAt`` = ``updatedAt``) at ``start + (end - start) * i / count``:
evenly spread, oldest first, so its id and time both grow with ``i``, as Shopify's do. Ids come from a range
below the live orders' sequence (history is older) and names are ``#H<i+1>``, a series of their own, so they
never equal a live order's. ``malformed`` orders (evenly spread) carry a ``createdAt`` that is not a timestamp,
fault injection for "a bad row in the bulk result".

History orders are served by bulk queries only (a paged ``orders`` query and ``node`` do not see them): that
is how a backfill reads them, and it keeps paged reads of live orders as cheap as before.
"""

from __future__ import annotations

import bisect
import itertools
import re
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Callable
from ..generator import OrderMaker
from ..model import Catalog
from . import orders, search
from .resolvers import ORDER_GETTERS
from .store import Store, iso

# Below the live sequences of store._ID_BASE (history is older than anything placed live); each order owns
# a block of ids per child kind, enough for the generator's four lines, one shipping line and one payment.
_HISTORY_BASE = {
    "Order": 5800000000000, "LineItem": 13000000000000, "ShippingLine": 4700000000000,
    "OrderTransaction": 7400000000000, "FulfillmentOrder": 6700000000000,
    "FulfillmentOrderLineItem": 13900000000000,
}
_BLOCK = 8
MALFORMED_CREATED_AT = "0000-00-00T25:61:00Z"
_TIME_FIELDS = {"created_at", "updated_at", "processed_at"}
TEMPLATES = 251  # distinct rendered orders a time-range bulk query cycles through (prime: no beat with the spec)


class HistorySpecError(ValueError):
    """A history request that cannot be honoured as sent."""


@dataclass(frozen=True)
class HistorySpec:
    count: int
    start: datetime
    end: datetime
    seed: int = 0
    malformed: int = 0

    def __post_init__(self) -> None:
        if self.count < 1:
            raise HistorySpecError(f"history: count must be >= 1, got {self.count}")
        if self.start.tzinfo is None or self.end.tzinfo is None:
            raise HistorySpecError("history: start and end need an offset (Z or +hh:mm)")
        if not self.start < self.end:
            raise HistorySpecError(f"history: start {iso(self.start)} must be before end {iso(self.end)}")
        if not 0 <= self.malformed <= self.count:
            raise HistorySpecError(f"history: malformed must be in 0..count, got {self.malformed}")

    @property
    def first_order_number(self) -> int:
        return _HISTORY_BASE["Order"]

    def placed_at(self, i: int) -> datetime:
        return (self.start + (self.end - self.start) * i / self.count).replace(microsecond=0)

    def malformed_indices(self) -> set[int]:
        return {int((j + 0.5) * self.count / self.malformed) for j in range(self.malformed)}


class _Scratch(Store):
    """The store's catalog, customers and locations by reference, with fresh order tables and id sequences
    for history order ``i``: ``orders.create_order`` runs against it and leaves nothing behind."""

    def __init__(self, store: Store, i: int) -> None:  # noqa: D107 - no Store.reset(): nothing of its own
        self.lock = threading.RLock()
        for name in ("currency", "locations", "location_by_key", "products", "variants", "items",
                     "variant_by_sku", "levels", "levels_by_item", "customers", "customer_by_email"):
            setattr(self, name, getattr(store, name))
        self.orders, self.fulfillment_orders, self.fulfillments = {}, {}, {}
        self.bulk_operations, self.idempotency = {}, {}
        self._seq = {k: itertools.count(base + (i if k == "Order" else i * _BLOCK)) for k, base in _HISTORY_BASE.items()}
        self.order_number = itertools.count(i + 1)

    def _new_customer(self, email, first, last, phone, stamp) -> int:
        # The generator only sells to the catalog's customers, who exist; never add one to the shared table.
        raise RuntimeError(f"history order for unknown customer {email!r}: reset the sandbox's catalog first")


class History:
    """The seeded history of one shop (see the module docstring)."""

    def __init__(self, spec: HistorySpec, catalog: Catalog, store: Store) -> None:
        self.spec, self.catalog, self.store = spec, catalog, store
        self._malformed = spec.malformed_indices()
        self._times = None  # epoch seconds of each order, built on first use (bisect over them)

    def _epochs(self) -> list[float]:
        if self._times is None:
            self._times = [self.spec.placed_at(i).timestamp() for i in range(self.spec.count)]
        return self._times

    def order(self, i: int, *, malformed: bool | None = None) -> dict:
        maker = OrderMaker(self.catalog, seed=self.spec.seed * 1_000_003 + i)
        draft = maker.make()
        scratch = _Scratch(self.store, i)
        record, _events = orders.create_order(scratch, draft, {"inventoryBehaviour": "BYPASS"})
        at = self.spec.placed_at(i)
        stamp = iso(at)
        bad = i in self._malformed if malformed is None else malformed
        created = MALFORMED_CREATED_AT if bad else stamp
        record.update(name=f"#H{i + 1}", createdAt=created, updatedAt=stamp, processedAt=stamp, _created=at,
                      _updated=at)
        for txn in record["transactions"]:
            txn["createdAt"] = txn["processedAt"] = stamp
        return record

    def candidates(self, s: search.Search) -> range:
        """Indices that may match ``s``: narrowed by bisection when ``s`` is one AND group of time ranges
        (what a backfill sends); otherwise every order, each then checked with ``s.accepts``."""
        everything = range(self.spec.count)
        if len(s.groups) != 1 or not s.groups[0] or any(t.field not in _TIME_FIELDS for t in s.groups[0]):
            return everything
        times = self._epochs()
        lo, hi = 0, len(times)
        for t in s.groups[0]:
            value = search.parse_datetime(t.value)
            if value is None:
                return everything
            v = value.timestamp()
            if t.op == ":>=":
                lo = max(lo, bisect.bisect_left(times, v))
            elif t.op == ":>":
                lo = max(lo, bisect.bisect_right(times, v))
            elif t.op == ":<":
                hi = min(hi, bisect.bisect_left(times, v))
            elif t.op == ":<=":
                hi = min(hi, bisect.bisect_right(times, v))
            else:
                lo, hi = max(lo, bisect.bisect_left(times, v)), min(hi, bisect.bisect_right(times, v))
        return range(lo, max(lo, hi))

    def write_bulk(self, s: search.Search, render: Callable[[dict], list[str]], out) -> tuple[int, int]:
        """Write the JSONL lines of every history order matching ``s`` to ``out``; returns (lines, orders).

        ``render(record)`` runs the bulk query's document over one order and returns its flattened lines,
        so the file holds exactly what the query selects. Rendering costs ~3 ms an order (graphql-core), an
        hour for a million, so for a search of time ranges only (what a backfill sends) ``TEMPLATES``
        orders are rendered (a few seconds) and order ``i`` is template ``i % TEMPLATES`` with its own ids, name and times
        put in; any other search renders each candidate and checks it with ``s.accepts``."""
        indices = self.candidates(s)
        lines = orders_written = 0
        fast = bool(s.terms) and all(t.field in _TIME_FIELDS for t in s.terms)
        templates: dict[int, _Template] = {}
        for i in indices:
            if fast:
                t = i % TEMPLATES
                template = templates.get(t)
                if template is None:
                    template = templates[t] = _Template(t, self.spec, render(self.order(t, malformed=False)))
                rendered = template.instance(i, i in self._malformed)
            else:
                record = self.order(i)
                if s.terms and not s.accepts(lambda name, r=record: ORDER_GETTERS[name](r)):
                    continue
                rendered = render(record)
            text = "".join(rendered)
            out.write(text)
            lines += text.count("\n")
            orders_written += 1
        return lines, orders_written


_GID_NUMBER = re.compile(r"gid://shopify/(Order|LineItem|ShippingLine|OrderTransaction|FulfillmentOrder|"
                         r"FulfillmentOrderLineItem)/(\d+)")


class _Template:
    """History order ``t`` rendered once; :meth:`instance` is order ``i`` in its place (same lines, with
    ``i``'s ids, name and timestamps): the template is cut once at every such token, an instance is a join."""

    def __init__(self, t: int, spec: HistorySpec, lines: list[str]) -> None:
        self.t, self.spec = t, spec
        text = "".join(lines)
        numbers = {int(n) for _kind, n in _GID_NUMBER.findall(text)}
        self.order_number = _HISTORY_BASE["Order"] + t
        stamp = iso(spec.placed_at(t))
        tokens = [str(n) for n in sorted(numbers, reverse=True)] + [re.escape(f'"#H{t + 1}"'), re.escape(stamp)]
        pattern = re.compile("|".join(f"(?<!\\d){tok}(?!\\d)" if tok.isdigit() else tok for tok in tokens))
        # pieces alternate: literal text, then a slot (what the token was), then text, …
        self.texts: list[str] = []
        self.slots: list[str] = []
        at = 0
        for m in pattern.finditer(text):
            self.texts.append(text[at:m.start()])
            token = m.group(0)
            if token == stamp:
                self.slots.append("stamp")
            elif token.startswith('"#H'):
                self.slots.append("name")
            else:
                self.slots.append("order" if int(token) == self.order_number else token)
            at = m.end()
        self.tail = text[at:]
        self.first_created = next((k for k, (before, slot) in enumerate(zip(self.texts, self.slots))
                                   if slot == "stamp" and before.endswith('"createdAt":"')), None)

    def instance(self, i: int, malformed: bool) -> list[str]:
        shift = (i - self.t) * _BLOCK
        values = {"stamp": iso(self.spec.placed_at(i)), "name": f'"#H{i + 1}"',
                  "order": str(_HISTORY_BASE["Order"] + i)}
        parts: list[str] = []
        for k, (text, slot) in enumerate(zip(self.texts, self.slots)):
            parts.append(text)
            if malformed and k == self.first_created:
                parts.append(MALFORMED_CREATED_AT)
            else:
                parts.append(values[slot] if slot in values else str(int(slot) + shift))
        parts.append(self.tail)
        return ["".join(parts)]


def parse_spec(body: dict, now: datetime) -> HistorySpec:
    """The control API's body as a spec; every mistake a :class:`HistorySpecError` naming the field."""

    def stamp(name: str) -> datetime:
        value = body.get(name)
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00")) if isinstance(value, str) else None
        except ValueError:
            parsed = None
        if parsed is None or parsed.tzinfo is None:
            raise HistorySpecError(f"history: {name} must be an ISO timestamp with an offset, got {value!r}")
        return parsed

    def integer(name: str, default: int) -> int:
        value = body.get(name, default)
        if isinstance(value, bool) or not isinstance(value, int):
            raise HistorySpecError(f"history: {name} must be an integer, got {value!r}")
        return value

    spec = HistorySpec(integer("count", 0), stamp("start"), stamp("end"), integer("seed", 0), integer("malformed", 0))
    if spec.end > now + timedelta(seconds=1):
        raise HistorySpecError(f"history: end {iso(spec.end)} is in the future; history ends by now ({iso(now)})")
    if spec.count > 10_000_000:
        raise HistorySpecError(f"history: count must be at most 10000000, got {spec.count}")
    return spec
