"""orderCreate's ``discountCode`` (OrderCreateDiscountCodeInput): one code, applied as Shopify does.

A code discount is a ``DiscountCodeApplication`` (allocationMethod ACROSS, targetSelection ALL) whose amount
is allocated over the lines it targets in proportion to their price. Per the published schema, a code
discount does *not* change ``LineItem.discountedUnitPriceSet`` ("doesn't include order-level or code-based
discounts"); it shows in ``discountAllocations``, ``discountedUnitPriceAfterAllDiscountsSet`` and the
order's ``totalDiscountsSet``, which is what the NetSuite mapping reads.

Rounding: the percentage amount is rounded half-up to the cent once for the order, then split so that the
allocations add up to it exactly (the last target takes the remainder).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

from .store import UserError, bag

_CENT = Decimal("0.01")
_KINDS = ("itemFixedDiscountCode", "itemPercentageDiscountCode", "freeShippingDiscountCode")
_FIELD = ["order", "discountCode"]


@dataclass
class AppliedDiscount:
    codes: list[str] = field(default_factory=list)
    applications: list[dict] = field(default_factory=list)
    items: Decimal = Decimal(0)  # taken off line items (shop currency)
    items_p: Decimal = Decimal(0)
    shipping: Decimal = Decimal(0)  # taken off shipping lines
    shipping_p: Decimal = Decimal(0)

    @property
    def total(self) -> Decimal:
        return self.items + self.shipping

    @property
    def total_p(self) -> Decimal:
        return self.items_p + self.shipping_p


def _round(value: Decimal) -> Decimal:
    return value.quantize(_CENT, rounding=ROUND_HALF_UP)


def _split(amount: Decimal, weights: list[Decimal]) -> list[Decimal]:
    """``amount`` split in proportion to ``weights``, in cents, summing to ``amount`` exactly."""
    base = sum(weights, Decimal(0))
    if base == 0:
        return [Decimal(0)] * len(weights)
    parts = [_round(amount * w / base) for w in weights[:-1]]
    return [*parts, amount - sum(parts, Decimal(0))]


def apply_discount_code(spec: dict | None, lines: list[dict], shipping_lines: list[dict], amounts, cur: str,
                        pres: str) -> AppliedDiscount:
    """Apply ``spec`` to ``lines``/``shipping_lines`` in place and return what it took off.

    ``amounts(money_bag, field) -> (shop, presentment)`` parses a MoneyBagInput (the caller's validator).
    """
    applied = AppliedDiscount()
    for line in lines:
        line["discountAllocations"] = []
        line["discountedUnitPriceAfterAllDiscountsSet"] = line["discountedUnitPriceSet"]
    for s in shipping_lines:
        s["discountAllocations"] = []
    if not spec:
        return applied
    given = [k for k in _KINDS if spec.get(k)]
    if len(given) != 1:
        raise UserError(_FIELD, f"Specify exactly one of {', '.join(_KINDS)}; got {len(given)}", "INVALID")
    kind = given[0]
    attrs = spec[kind]
    code = attrs.get("code")
    if not isinstance(code, str) or not code.strip():
        raise UserError([*_FIELD, kind, "code"], "A discount code must not be blank", "INVALID")
    app = {"__typename": "DiscountCodeApplication", "code": code, "index": 0, "allocationMethod": "ACROSS",
           "targetSelection": "ALL", "targetType": "SHIPPING_LINE" if kind == "freeShippingDiscountCode" else "LINE_ITEM"}

    if kind == "freeShippingDiscountCode":
        targets = shipping_lines
        weights = [Decimal(s["originalPriceSet"]["shopMoney"]["amount"]) for s in targets]
        weights_p = [Decimal(s["originalPriceSet"]["presentmentMoney"]["amount"]) for s in targets]
        amount, amount_p = sum(weights, Decimal(0)), sum(weights_p, Decimal(0))
        app["value"] = {"percentage": 100.0}
    else:
        targets = lines
        weights = [Decimal(li["originalTotalSet"]["shopMoney"]["amount"]) for li in targets]
        weights_p = [Decimal(li["originalTotalSet"]["presentmentMoney"]["amount"]) for li in targets]
        base, base_p = sum(weights, Decimal(0)), sum(weights_p, Decimal(0))
        if kind == "itemPercentageDiscountCode":
            pct = attrs.get("percentage")
            if pct is None or not 0 <= pct <= 100:
                raise UserError([*_FIELD, kind, "percentage"], f"Percentage must be between 0 and 100, got {pct!r}", "INVALID")
            rate = Decimal(str(pct)) / 100
            amount, amount_p = _round(base * rate), _round(base_p * rate)
            app["value"] = {"percentage": float(pct)}
        else:
            if not attrs.get("amountSet"):
                raise UserError([*_FIELD, kind, "amountSet"], "A fixed discount code needs an amountSet", "INVALID")
            amount, amount_p = amounts(attrs["amountSet"], [*_FIELD, kind, "amountSet"])
            if amount < 0:
                raise UserError([*_FIELD, kind, "amountSet"], "A discount amount cannot be negative", "INVALID")
            # a code never takes more than the goods it applies to
            amount, amount_p = min(amount, base), min(amount_p, base_p)
            app["value"] = {"amount": amount}

    for target, part, part_p in zip(targets, _split(amount, weights), _split(amount_p, weights_p)):
        target["discountAllocations"].append({"allocatedAmountSet": bag(part, cur, part_p, pres), "discountApplication": app})
        if kind == "freeShippingDiscountCode":
            left = Decimal(target["originalPriceSet"]["shopMoney"]["amount"]) - part
            left_p = Decimal(target["originalPriceSet"]["presentmentMoney"]["amount"]) - part_p
            target["discountedPriceSet"] = bag(left, cur, left_p, pres)
        else:
            qty = target["quantity"]
            left = (Decimal(target["originalTotalSet"]["shopMoney"]["amount"]) - part) / qty
            left_p = (Decimal(target["originalTotalSet"]["presentmentMoney"]["amount"]) - part_p) / qty
            target["discountedUnitPriceAfterAllDiscountsSet"] = bag(_round(left), cur, _round(left_p), pres)

    applied.codes.append(code)
    applied.applications.append(app)
    if kind == "freeShippingDiscountCode":
        applied.shipping, applied.shipping_p = amount, amount_p
    else:
        applied.items, applied.items_p = amount, amount_p
    return applied
