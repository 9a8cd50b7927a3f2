"""Deterministic, generated sample datasets (nothing copied from anywhere).

- ``shop``: customers, products and orders with nested line items, Decimal128 prices, dates and
  arrays, plus a view of big orders.
- ``iot.readings``: a time-series collection of 100,000 sensor readings (built on first use).
- ``catalog.wide``: wide (200 fields) and deeply nested (depth 12) documents.
- ``blobs.large``: three documents of 5, 10 and 15 MB (built on first use).
- ``big.items``: 1,000,000 small documents, only on request (``big=True`` / ``--big``).

Every generator takes a seed and always yields the same documents for it.
"""

from __future__ import annotations

import datetime
import random
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

from bson import Decimal128, ObjectId

from sandbox.store import DataStore

EPOCH = datetime.datetime(2024, 1, 1)
FIRST = ["Ada", "Bruno", "Chiara", "Dmitri", "Elif", "Farah", "Goran", "Hana", "Ivo", "Jun",
         "Kemal", "Lena", "Mateo", "Nia", "Omar", "Pia", "Quinn", "Rosa", "Sven", "Tariq"]
LAST = ["Albers", "Berg", "Costa", "Dahl", "Eriksen", "Fontaine", "Grau", "Horvat", "Ibsen",
        "Jansen", "Kowalski", "Lind", "Moreau", "Novak", "Ortiz", "Petrov", "Quist", "Rossi"]
CITIES = [("Lisbon", "PT"), ("Oslo", "NO"), ("Lyon", "FR"), ("Graz", "AT"), ("Porto", "PT"),
          ("Turin", "IT"), ("Gdansk", "PL"), ("Aarhus", "DK"), ("Leiden", "NL"), ("Bilbao", "ES")]
CATEGORIES = ["tools", "garden", "kitchen", "books", "audio", "outdoor", "toys", "office"]
ADJECTIVES = ["compact", "sturdy", "quiet", "bright", "folding", "classic", "smart", "light"]
NOUNS = ["lamp", "kettle", "drill", "tent", "speaker", "notebook", "chair", "planter", "saw"]
STATUSES = ["pending", "paid", "shipped", "delivered", "returned"]
SENSOR_KINDS = ["temperature", "humidity", "pressure", "co2"]

SHOP_CUSTOMERS = 2000
SHOP_PRODUCTS = 500
SHOP_ORDERS = 5000
IOT_READINGS = 100_000
BIG_ITEMS = 1_000_000


def _oid(rng: random.Random) -> ObjectId:
    return ObjectId(rng.getrandbits(96).to_bytes(12, "big"))


def _money(value: float) -> Decimal128:
    return Decimal128(Decimal(f"{value:.2f}"))


def customers(seed: int = 1) -> Iterator[dict[str, Any]]:
    rng = random.Random(seed)
    for i in range(SHOP_CUSTOMERS):
        first, last = rng.choice(FIRST), rng.choice(LAST)
        city, country = rng.choice(CITIES)
        yield {"_id": i + 1, "name": {"first": first, "last": last},
               "email": f"{first.lower()}.{last.lower()}{i}@example.com",
               "address": {"street": f"{rng.randint(1, 250)} {rng.choice(LAST)} Street",
                           "city": city, "country": country,
                           "location": {"type": "Point",
                                        "coordinates": [round(rng.uniform(-9, 25), 5),
                                                        round(rng.uniform(37, 60), 5)]}},
               "joined": EPOCH + datetime.timedelta(minutes=rng.randint(0, 500_000)),
               "tags": rng.sample(["vip", "newsletter", "wholesale", "returning", "b2b"],
                                  rng.randint(0, 3)),
               "loyaltyPoints": rng.randint(0, 5000), "active": rng.random() > 0.1}


def _price_cents() -> list[int]:
    """Product prices in cents, shared by products() and orders() so line items match."""
    rng = random.Random(20)
    return [rng.randint(200, 40000) for _ in range(SHOP_PRODUCTS)]


def _cents(value: int) -> Decimal128:
    return Decimal128(f"{value // 100}.{value % 100:02d}")


def products(seed: int = 2) -> Iterator[dict[str, Any]]:
    rng = random.Random(seed)
    cents = _price_cents()
    for i in range(SHOP_PRODUCTS):
        yield {"_id": f"SKU-{i + 1:05d}",
               "name": f"{rng.choice(ADJECTIVES)} {rng.choice(NOUNS)}",
               "category": rng.choice(CATEGORIES),
               "price": _cents(cents[i]),
               "stock": rng.randint(0, 300),
               "dimensions": {"w": rng.randint(5, 90), "h": rng.randint(5, 90),
                              "d": rng.randint(5, 90), "unit": "cm"},
               "ratings": [rng.randint(1, 5) for _ in range(rng.randint(0, 6))],
               "created": EPOCH - datetime.timedelta(days=rng.randint(0, 900))}


def orders(seed: int = 3) -> Iterator[dict[str, Any]]:
    rng = random.Random(seed)
    cents = _price_cents()  # exact sums in cents
    unit_prices = [_cents(c) for c in cents]
    shipping = [_money(v) for v in (0, 4.9, 9.9)]
    for i in range(SHOP_ORDERS):
        items = []
        total = 0
        for _ in range(rng.randint(1, 5)):
            index = rng.randrange(SHOP_PRODUCTS)
            quantity = rng.randint(1, 4)
            total += cents[index] * quantity
            items.append({"sku": f"SKU-{index + 1:05d}", "quantity": quantity,
                          "unitPrice": unit_prices[index]})
        placed = EPOCH + datetime.timedelta(seconds=rng.randint(0, 31_000_000))
        yield {"_id": _oid(rng), "orderNo": 100_000 + i, "customerId": rng.randint(1, SHOP_CUSTOMERS),
               "placed": placed, "status": rng.choice(STATUSES), "items": items,
               "total": _cents(total),
               "shipping": {"method": rng.choice(["standard", "express", "pickup"]),
                            "cost": shipping[rng.randrange(3)]},
               "notes": None if rng.random() < 0.8 else "leave at the door"}


def readings(seed: int = 4, count: int = IOT_READINGS) -> Iterator[dict[str, Any]]:
    rng = random.Random(seed)
    sensors = [{"sensorId": f"S{n:03d}", "kind": SENSOR_KINDS[n % 4], "site": f"site-{n % 7}"}
               for n in range(64)]
    base = {"temperature": 21.0, "humidity": 45.0, "pressure": 1013.0, "co2": 420.0}
    for i in range(count):
        sensor = sensors[i % 64]
        value = base[sensor["kind"]] + rng.gauss(0, 2.5)
        yield {"_id": _oid(rng), "ts": EPOCH + datetime.timedelta(seconds=15 * (i // 64)),
               "sensor": sensor, "value": round(value, 3), "battery": rng.randint(5, 100)}


def _nested(rng: random.Random, depth: int) -> dict[str, Any]:
    if depth == 0:
        return {"leaf": rng.random(), "label": f"depth-end-{rng.randint(0, 99)}"}
    return {"level": depth, "values": [rng.randint(0, 9) for _ in range(3)],
            "child": _nested(rng, depth - 1)}


def wide_documents(seed: int = 5, count: int = 200) -> Iterator[dict[str, Any]]:
    rng = random.Random(seed)
    for i in range(count):
        doc: dict[str, Any] = {"_id": i}
        for f in range(200):
            kind = f % 5
            doc[f"field_{f:03d}"] = (rng.randint(0, 10**6) if kind == 0 else
                                     round(rng.random() * 100, 4) if kind == 1 else
                                     f"text-{rng.getrandbits(32):08x}" if kind == 2 else
                                     rng.random() < 0.5 if kind == 3 else
                                     [rng.randint(0, 99) for _ in range(4)])
        doc["deep"] = _nested(rng, 12)
        yield doc


def large_documents(seed: int = 6) -> Iterator[dict[str, Any]]:
    rng = random.Random(seed)
    for index, megabytes in enumerate((5, 10, 15)):
        # Built from a random block repeated: big but cheap to make.
        block = "".join(rng.choice("abcdefghijklmnopqrstuvwxyz0123456789 ") for _ in range(4096))
        chunk_count = megabytes * 1024 * 1024 // len(block) // 16
        yield {"_id": index, "sizeMB": megabytes,
               "chunks": [block * 4 for _ in range(chunk_count * 4)],
               "summary": {"chunks": chunk_count * 4, "blockBytes": len(block) * 4}}


def big_items(seed: int = 7, count: int = BIG_ITEMS) -> Iterator[dict[str, Any]]:
    rng = random.Random(seed)
    for i in range(count):
        yield {"_id": i, "n": rng.getrandbits(31), "group": i % 100, "name": f"item-{i:07d}"}


def big_orders_view() -> dict[str, Any]:
    return {"viewOn": "orders", "pipeline": [{"$match": {"status": "delivered"}},
                                             {"$project": {"orderNo": 1, "total": 1, "placed": 1}}]}


def load_demo(store: DataStore, *, demo: bool = True, big: bool = False) -> None:
    """Load the demo datasets into ``store``: small ones now, large ones when first used."""
    if demo:
        store.bulk_load("shop", "customers", customers())
        store.bulk_load("shop", "products", products())
        store.bulk_load("shop", "orders", orders())
        store.collection("shop", "customers").create_index([("email", 1)], unique=True,
                                                           name="email_1")
        store.collection("shop", "orders").create_index([("customerId", 1)], name="customerId_1")
        view = store.info("shop", "deliveredOrders")
        view.kind, view.options = "view", big_orders_view()
        store.bulk_load("catalog", "wide", wide_documents())
        store.register_lazy("iot", "readings", readings, estimate=(IOT_READINGS, 13_500_000))
        store.info("iot", "readings").kind = "timeseries"
        store.info("iot", "readings").options = {"timeseries": {
            "timeField": "ts", "metaField": "sensor", "granularity": "seconds",
            "bucketMaxSpanSeconds": 3600}}
        store.register_lazy("blobs", "large", large_documents, estimate=(3, 31_500_000))
    if big:
        store.register_lazy("big", "items", big_items, estimate=(BIG_ITEMS, 60_000_000))
