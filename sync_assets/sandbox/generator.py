"""The sandbox's data: a seeded, realistic catalog, and a "living shop" that keeps it moving.

``make_catalog`` is deterministic for a seed (one ``random.Random``, no hash-ordered iteration) and
cheap enough for 100,000 variants in a few seconds. It plants the awkward data real catalogs have: SKUs
with a single quote (``TEE-O'NEIL-L``) and non-ASCII letters, names with accents, prices with cents.

``LivingShop`` is a thread that places storefront orders, receives inventory in NetSuite and fulfils
synced sales orders after a delay, at configured rates, until stopped.
"""

from __future__ import annotations

import logging
import random
import threading
import time
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sync_assets.sandbox.model import Catalog, Customer, Location, PriceLevel, Product, Variant

log = logging.getLogger(__name__)

CURRENCY = "USD"
# The discount item a merchant account uses for storefront discounts; the bundled sync policy names it.
DISCOUNT_ITEM = "Shopify Discount"

_SIZES_APPAREL = ("XS", "S", "M", "L", "XL", "XXL")
_SIZES_HOME = ("Small", "Medium", "Large")
_COLOURS = (
    ("Black", "BLK"), ("White", "WHT"), ("Navy", "NVY"), ("Heather Grey", "HGR"), ("Forest Green", "FGR"),
    ("Rust", "RST"), ("Sand", "SND"), ("Burgundy", "BRG"), ("Sky Blue", "SKY"), ("Mustard", "MST"),
    ("Charcoal", "CHR"), ("Oat", "OAT"),
)  # fmt: skip
_SIZE_CODES = {size: size for size in _SIZES_APPAREL} | {"Small": "S", "Medium": "M", "Large": "L"}
_MATERIALS = (("Cotton", "CO"), ("Linen", "LI"), ("Wool", "WO"), ("Recycled", "RE"))

# (product type, SKU stem, size axis, price range in dollars, weight range in grams, category word)
_TYPES = (
    ("T-Shirt", "TEE", _SIZES_APPAREL, (18, 38), (150, 250)),
    ("Hoodie", "HOOD", _SIZES_APPAREL, (45, 89), (450, 750)),
    ("Sweater", "SWTR", _SIZES_APPAREL, (55, 140), (350, 600)),
    ("Jacket", "JKT", _SIZES_APPAREL, (90, 260), (700, 1400)),
    ("Jeans", "JEAN", _SIZES_APPAREL, (60, 150), (500, 800)),
    ("Socks", "SOCK", _SIZES_APPAREL, (8, 22), (40, 90)),
    ("Cap", "CAP", _SIZES_HOME, (20, 40), (80, 140)),
    ("Mug", "MUG", _SIZES_HOME, (12, 32), (300, 450)),
    ("Candle", "CNDL", _SIZES_HOME, (16, 48), (200, 600)),
    ("Throw Blanket", "THRW", _SIZES_HOME, (45, 160), (900, 1800)),
    ("Cushion Cover", "CUSH", _SIZES_HOME, (22, 58), (150, 300)),
    ("Bath Towel", "TOWL", _SIZES_HOME, (18, 54), (400, 900)),
    ("Planter", "PLNT", _SIZES_HOME, (15, 85), (500, 3000)),
    ("Vase", "VASE", _SIZES_HOME, (25, 120), (400, 2000)),
)
_ADJECTIVES = (
    "Classic", "Everyday", "Heritage", "Coastal", "Alpine", "Studio", "Harbor", "Meadow", "Urban", "Nordic",
    "Sunset", "Field", "Weekend", "Essential", "Vintage", "Summit", "Prairie", "Canyon", "Orchard", "Tidal",
)  # fmt: skip
_STYLES = ("Crew", "Relaxed", "Slim", "Oversized", "Ribbed", "Waffle", "Brushed", "Stoneware", "Woven", "Quilted")
_VENDORS = ("Northwind Goods", "Fairfield & Co", "Loom House", "Kiln Street", "Pacific Thread", "Maison Bérard")

# Names that make SKUs, titles and SuiteQL literals awkward on purpose: quotes and non-ASCII letters.
_AWKWARD = (("O'Neil", "O'NEIL"), ("Café", "CAFÉ"), ("D'Arcy", "D'ARCY"), ("Müller", "MÜLLER"),
            ("L'Atelier", "L'ATELIER"), ("Åsa", "ÅSA"))  # fmt: skip

_LOCATIONS = (
    ("East Warehouse", "Newark", "US"), ("West Warehouse", "Reno", "US"), ("Central DC", "Columbus", "US"),
    ("Toronto Store", "Toronto", "CA"), ("London Store", "London", "GB"), ("Berlin Hub", "Berlin", "DE"),
    ("Austin Store", "Austin", "US"), ("Seattle Store", "Seattle", "US"), ("Montréal Depot", "Montréal", "CA"),
    ("Lyon Depot", "Lyon", "FR"), ("Sydney Store", "Sydney", "AU"), ("Denver Outlet", "Denver", "US"),
)  # fmt: skip
_FIRST_NAMES = (
    "Olivia", "Liam", "Emma", "Noah", "Ava", "Mateo", "Sophia", "Lucas", "Mia", "Ethan", "Zoë", "José",
    "Chloé", "Björn", "Priya", "Aiden", "Hannah", "Kenji", "Fatima", "Seán", "Amelia", "Oliver", "Léa", "Arjun",
)  # fmt: skip
_LAST_NAMES = (
    "Smith", "Johnson", "García", "Brown", "Nguyen", "O'Brien", "Martin", "Lee", "Walker", "Müller",
    "Rossi", "Dubois", "Kowalski", "Patel", "Hernández", "Andersson", "Kim", "Taylor", "D'Souza", "Novak",
)  # fmt: skip
_EMAIL_DOMAINS = ("example.com", "example.org", "example.net")

PRICE_LEVELS = (
    PriceLevel("Base Price", Decimal("0")),
    PriceLevel("Wholesale", Decimal("40")),
    PriceLevel("MSRP", Decimal("-15")),
)

MAX_VARIANTS_PER_PRODUCT = len(_SIZES_APPAREL) * len(_COLOURS) * len(_MATERIALS)


class CatalogSpecError(ValueError):
    """Catalog sizes that cannot be generated; the message names the argument."""


def _check(name: str, value: int, low: int, high: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise CatalogSpecError(f"make_catalog: {name} must be an integer in {low}..{high}, got {value!r}")


def _cents(cents: int) -> Decimal:
    return Decimal(cents).scaleb(-2)


def make_catalog(
    seed: int = 42,
    products: int = 20,
    variants_per_product: int = 3,
    customers: int = 10,
    locations: int = 3,
) -> Catalog:
    """A realistic catalog, the same for the same arguments."""
    _check("products", products, 1, 1_000_000)
    _check("variants_per_product", variants_per_product, 1, MAX_VARIANTS_PER_PRODUCT)
    _check("customers", customers, 0, 1_000_000)
    _check("locations", locations, 1, len(_LOCATIONS))
    _check("seed", seed, -(2**63), 2**63 - 1)
    rng = random.Random(seed)
    locs = [Location(f"loc-{i + 1}", name, city, cc) for i, (name, city, cc) in enumerate(_LOCATIONS[:locations])]
    prods = _products(rng, products, variants_per_product)
    custs = _customers(rng, customers, [loc.country_code for loc in locs])
    inventory = _inventory(rng, prods, locs)
    return Catalog(CURRENCY, locs, list(PRICE_LEVELS), prods, custs, inventory, discount_item=DISCOUNT_ITEM)


def _awkward_positions(products: int) -> dict[int, int]:
    """Product index -> index into _AWKWARD: a few, spread over the catalog, at least one quote if ≥ 1."""
    count = min(len(_AWKWARD), max(1, products // 10))
    return {k * products // count: k for k in range(count)}


def _option_combos(sizes: tuple[str, ...]) -> list[tuple[str, str, str, str]]:
    """(title, sku suffix, size, colour) per variant option, colour-major so one product's sizes sit together.

    Sizes vary fastest, so a product's consecutive combos are one colour in every size; materials come
    last and only show in titles and SKUs when a product needs more variants than sizes × colours.
    """
    combos = []
    for material, mcode in _MATERIALS:
        for colour, ccode in _COLOURS:
            for size in sizes:
                scode = _SIZE_CODES[size]
                title = f"{size} / {colour}" if material == "Cotton" else f"{size} / {colour} / {material}"
                suffix = f"{ccode}-{scode}" if material == "Cotton" else f"{ccode}-{mcode}-{scode}"
                combos.append((title, suffix, size, colour))
    return combos


_COMBOS = {id(s): _option_combos(s) for s in (_SIZES_APPAREL, _SIZES_HOME)}


def _products(rng: random.Random, count: int, per_product: int) -> list[Product]:
    awkward = _awkward_positions(count)
    barcode_base = 40_000_000_000 + rng.randrange(10_000_000)
    out: list[Product] = []
    random_ = rng.random

    def pick(options: tuple[Any, ...]) -> Any:  # float draws: cheaper than rng.choice at this volume
        return options[int(random_() * len(options))]

    serial = 0
    for index in range(count):
        ptype, stem, sizes, (low, high), (wlow, whigh) = pick(_TYPES)
        combos = _COMBOS[id(sizes)]
        if per_product > len(combos):  # home goods have fewer sizes; fall back to apparel sizing
            combos = _COMBOS[id(_SIZES_APPAREL)]
        if index in awkward:
            name, code = _AWKWARD[awkward[index]]
            title = f"{name} {ptype}"
            sku_stem = f"{stem}-{code}"
        else:
            title = f"{pick(_ADJECTIVES)} {pick(_STYLES)} {ptype}"
            sku_stem = f"{stem}-{index + 1:06d}"
        base_cents = (low + int(random_() * (high - low))) * 100 + pick((0, 0, 50, 95, 99, 99))
        weight = wlow + int(random_() * (whigh - wlow))
        # Plain (cotton) options unless the product needs more variants than sizes × colours.
        blocks = len(_COLOURS) if per_product <= len(sizes) * len(_COLOURS) else len(combos) // len(sizes)
        start = int(random_() * blocks) * len(sizes)
        short_skus = index in awkward and per_product <= len(sizes)
        variants = []
        for j in range(per_product):
            vtitle, suffix, size, _colour = combos[(start + j) % len(combos)]
            cents = base_cents + (200 if size in ("XL", "XXL", "Large") else 0)
            # Awkward products with one size axis keep the short form of a real SKU: TEE-O'NEIL-L.
            sku = f"{sku_stem}-{_SIZE_CODES[size]}" if short_skus else f"{sku_stem}-{suffix}"
            serial += 1
            barcode = None if serial % 17 == 0 else _upc(barcode_base + serial)
            cost = cents * (35 + int(random_() * 25)) // 100
            variants.append(Variant(sku, vtitle, _cents(cents), _cents(cost), weight, barcode))
        description = f"{title} from our {ptype.lower()} range. Made to last, easy to care for."
        out.append(Product(f"prod-{index + 1:06d}", title, pick(_VENDORS), ptype, description, tuple(variants)))
    return out


def _upc(number: int) -> str:
    """A 12-digit UPC-A with a valid check digit."""
    digits = f"{number % 10**11:011d}"
    odd = sum(map(int, digits[0::2]))
    even = sum(map(int, digits[1::2]))
    return digits + str((10 - (odd * 3 + even) % 10) % 10)


def _customers(rng: random.Random, count: int, countries: list[str]) -> list[Customer]:
    out = []
    for i in range(count):
        first, last = rng.choice(_FIRST_NAMES), rng.choice(_LAST_NAMES)
        ascii_name = unicodedata.normalize("NFKD", f"{first}.{last}").encode("ascii", "ignore").decode()
        local = "".join(ch for ch in ascii_name.lower() if ch.isalnum() or ch == ".")
        email = f"{local}{i + 1}@{_EMAIL_DOMAINS[i % len(_EMAIL_DOMAINS)]}"
        phone = None if rng.random() < 0.3 else f"+1-555-{rng.randrange(100, 1000):03d}-{rng.randrange(10_000):04d}"
        out.append(Customer(f"cust-{i + 1:06d}", email, first, last, phone, rng.choice(countries)))
    return out


def _inventory(rng: random.Random, products: list[Product], locations: list[Location]) -> dict[tuple[str, str], int]:
    inventory: dict[tuple[str, str], int] = {}
    keys = [loc.key for loc in locations]
    random_ = rng.random  # float draws: several times cheaper than randrange at this volume
    for product in products:
        for variant in product.variants:
            for key in keys:
                # About one pair in five is unstocked (left out: 0), and a few run low, as in a real shop.
                roll = random_()
                if roll < 0.2:
                    continue
                inventory[(variant.sku, key)] = 1 + int(random_() * 5) if roll < 0.3 else 10 + int(random_() * 240)
    return inventory


# --- the living shop --------------------------------------------------------------------------------


@dataclass(frozen=True)
class StreamSettings:
    orders_per_minute: float = 0.0
    inventory_receipts_per_minute: float = 0.0
    fulfillment_delay_seconds: float = 30.0

    def __post_init__(self) -> None:
        for name in ("orders_per_minute", "inventory_receipts_per_minute", "fulfillment_delay_seconds"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
                raise CatalogSpecError(f"stream: {name} must be a number >= 0, got {value!r}")

    @property
    def active(self) -> bool:
        return self.orders_per_minute > 0 or self.inventory_receipts_per_minute > 0


_DISCOUNT_CODES = ("WELCOME10", "SPRING15", "VIP20")
_SHIPPING = (("Standard Shipping", "STANDARD", 595), ("Express Shipping", "EXPRESS", 1495), ("Free Shipping", "FREE", 0))
_STREETS = ("Maple Ave", "Oak St", "Harbour Rd", "King St W", "Rue de la Paix", "Hauptstraße", "High St", "Elm Dr")


class OrderMaker:
    """Random but plausible Shopify ``OrderCreateOrderInput`` dicts for a catalog."""

    def __init__(self, catalog: Catalog, seed: int = 0) -> None:
        self._rng = random.Random(seed)
        self._catalog = catalog
        self._variants = [v for p in catalog.products for v in p.variants]
        self._titles = {v.sku: p.title for p in catalog.products for v in p.variants}
        if not self._variants:
            raise CatalogSpecError("orders: the catalog has no variants to sell")

    def _money(self, cents: int) -> dict[str, Any]:
        return {"shopMoney": {"amount": str(_cents(cents)), "currencyCode": self._catalog.currency}}

    def make(self) -> dict[str, Any]:
        rng = self._rng
        currency = self._catalog.currency
        lines = []
        subtotal = 0
        for variant in rng.sample(self._variants, k=min(len(self._variants), rng.randint(1, 4))):
            quantity = rng.choice((1, 1, 1, 2, 3))
            cents = int(variant.price * 100)
            subtotal += cents * quantity
            lines.append({
                "sku": variant.sku,
                "title": self._titles[variant.sku],
                "variantTitle": variant.title,
                "quantity": quantity,
                "priceSet": self._money(cents),
                "requiresShipping": True,
            })  # fmt: skip
        order: dict[str, Any] = {"currency": currency, "lineItems": lines, "sourceName": "sandbox"}
        if self._catalog.customers:
            customer = rng.choice(self._catalog.customers)
            order["email"] = customer.email
            order["customer"] = {
                "toUpsert": {"email": customer.email, "firstName": customer.first_name, "lastName": customer.last_name}
            }
            order["shippingAddress"] = {
                "firstName": customer.first_name,
                "lastName": customer.last_name,
                "address1": f"{rng.randrange(1, 999)} {rng.choice(_STREETS)}",
                "city": rng.choice(self._catalog.locations).city,
                "countryCode": customer.country_code,
                "zip": f"{rng.randrange(10000, 99999)}",
            }
        total = subtotal
        if rng.random() < 0.25:
            code = rng.choice(_DISCOUNT_CODES)
            percent = int(code[-2:])
            order["discountCode"] = {"itemPercentageDiscountCode": {"code": code, "percentage": float(percent)}}
            total -= (subtotal * percent + 50) // 100  # rounded half-up to the cent, as the sandbox does
        if rng.random() < 0.7:
            title, code, cents = rng.choice(_SHIPPING)
            order["shippingLines"] = [{"title": title, "code": code, "priceSet": self._money(cents)}]
            total += cents
        if rng.random() < 0.75:
            order["financialStatus"] = "PAID"
            order["transactions"] = [
                {"kind": "SALE", "status": "SUCCESS", "gateway": "shopify_payments", "amountSet": self._money(total)}
            ]
        else:
            order["financialStatus"] = "PENDING"
        return order


class LivingShop(threading.Thread):
    """Keeps the sandbox moving: orders in the storefront, receipts and fulfilments in NetSuite.

    ``place_order``, ``receive_inventory`` and ``fulfill`` are the backends' methods (injected so the
    shop knows nothing of HTTP); an exception in one of them is logged and counted, never fatal.
    """

    def __init__(
        self,
        catalog: Catalog,
        settings: StreamSettings,
        *,
        place_order: Callable[[dict[str, Any]], Any],
        receive_inventory: Callable[[str, str, int], Any],
        fulfill: Callable[[float], int],
        on_event: Callable[[str], None] = lambda name: None,
        seed: int = 0,
        fulfillment_check_seconds: float | None = None,
    ) -> None:
        super().__init__(name="sandbox-living-shop", daemon=True)
        self.settings = settings
        self._orders = OrderMaker(catalog, seed)
        self._rng = random.Random(seed + 1)
        self._skus = catalog.skus()
        self._location_keys = [loc.key for loc in catalog.locations]
        self._place_order = place_order
        self._receive_inventory = receive_inventory
        self._fulfill = fulfill
        self._on_event = on_event
        self._stop_event = threading.Event()
        delay = settings.fulfillment_delay_seconds
        self._fulfill_every = fulfillment_check_seconds or min(5.0, max(0.5, delay / 2))

    def stop(self, timeout: float = 5.0) -> None:
        self._stop_event.set()
        if self.is_alive() and threading.current_thread() is not self:
            self.join(timeout)

    def run(self) -> None:
        now = time.monotonic()
        schedule: dict[str, tuple[float, Callable[[], None]]] = {}
        if self.settings.orders_per_minute > 0:
            schedule["orders"] = (60.0 / self.settings.orders_per_minute, self._order)
        if self.settings.inventory_receipts_per_minute > 0:
            schedule["receipts"] = (60.0 / self.settings.inventory_receipts_per_minute, self._receipt)
        if self.settings.orders_per_minute > 0:
            schedule["fulfillments"] = (self._fulfill_every, self._fulfillments)
        due = {name: now + interval for name, (interval, _) in schedule.items()}
        while schedule and not self._stop_event.is_set():
            name = min(due, key=due.__getitem__)
            if self._stop_event.wait(max(0.0, due[name] - time.monotonic())):
                break
            interval, action = schedule[name]
            try:
                action()
                self._on_event(f"stream.{name}")
            except Exception:  # noqa: BLE001 - a failing backend call must not end the stream
                log.exception("living shop: %s failed", name)
                self._on_event(f"stream.{name}.failed")
            # Fixed-rate schedule; if we fell behind (slow backend), skip ahead instead of bursting.
            due[name] = max(due[name] + interval, time.monotonic())

    def _order(self) -> None:
        self._place_order(self._orders.make())

    def _receipt(self) -> None:
        sku = self._rng.choice(self._skus)
        self._receive_inventory(sku, self._rng.choice(self._location_keys), self._rng.randrange(5, 100))

    def _fulfillments(self) -> None:
        self._fulfill(self.settings.fulfillment_delay_seconds)
