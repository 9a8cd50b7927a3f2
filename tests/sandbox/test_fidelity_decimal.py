"""PyMongo (and our driver) against the sandbox: Decimal128 among the other numbers, as a server has it.

Numbers of every BSON type (int32, Int64, double, Decimal128) compare by value in ``$gt``..``$lte``,
``$eq``/``$ne``/``$in``/``$nin``, sorting, ``distinct``, ``$group``'s ``$sum``/``$avg``/``$min``/
``$max`` and the ``$min``/``$max`` update operators; other values follow the BSON type order. The
demo's ``shop.orders`` (Decimal128 totals) is the main witness: every expectation is recomputed in
Python from all its documents. Whatever the engine cannot do comes back as a server-shaped error.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any

import pymongo
import pytest
from bson import Decimal128, Int64
from bson.decimal128 import create_decimal128_context
from pymongo.errors import OperationFailure, WriteError

from driver import MongoClient as DriverClient
from sandbox.cluster import SandboxCluster
from tests.sandbox.conftest import FAST

OVER_100 = {"total": {"$gt": 100}}
DECIMAL128 = create_decimal128_context()


@pytest.fixture(scope="module")
def seeded() -> Iterator[SandboxCluster]:
    with SandboxCluster("standalone", seed=True) as cluster:
        yield cluster


@pytest.fixture(scope="module")
def client(seeded: SandboxCluster) -> Iterator[pymongo.MongoClient[Any]]:
    options: dict[str, Any] = dict(FAST)
    mongo: pymongo.MongoClient[Any] = pymongo.MongoClient(seeded.uri, **options)
    with mongo:
        yield mongo


@pytest.fixture(scope="module")
def all_orders(client: pymongo.MongoClient[Any]) -> list[dict[str, Any]]:
    return list(client.shop.orders.find())  # the empty-filter fast path


@pytest.fixture
def scratch(client: pymongo.MongoClient[Any], request: pytest.FixtureRequest) -> Any:
    collection = client["t_decimal"][request.node.name[:50]]
    collection.drop()
    return collection


def _totals(docs: list[dict[str, Any]]) -> list[Decimal]:
    return [doc["total"].to_decimal() for doc in docs]


def test_gt_filter_on_the_demo_orders_counts_like_python(client: Any, all_orders: Any) -> None:
    expected = sum(1 for total in _totals(all_orders) if total > 100)
    assert 0 < expected < len(all_orders)  # the filter really splits the data
    orders = client.shop.orders
    found = list(orders.find(OVER_100))
    assert len(found) == expected
    assert all(doc["total"].to_decimal() > 100 for doc in found)
    assert all(isinstance(doc["total"], Decimal128) for doc in found)  # values come back as stored
    assert orders.count_documents(OVER_100) == expected
    assert client.shop.command("count", "orders", query=OVER_100)["n"] == expected
    assert orders.count_documents({"total": {"$lte": Decimal128("100")}}) == len(all_orders) - expected


def test_our_driver_counts_the_same(seeded: SandboxCluster, all_orders: Any) -> None:
    expected = sum(1 for total in _totals(all_orders) if total > 100)
    driver_client = DriverClient(seeded.uri, serverSelectionTimeoutMS=3000)
    try:
        assert driver_client.shop.orders.count_documents(OVER_100) == expected
        assert len(list(driver_client.shop.orders.find(OVER_100))) == expected
    finally:
        driver_client.close()


@pytest.mark.parametrize("direction", [pymongo.ASCENDING, pymongo.DESCENDING])
def test_sort_by_decimal_total(client: Any, all_orders: Any, direction: int) -> None:
    docs = list(client.shop.orders.find({}, {"total": 1}).sort("total", direction))
    expected = sorted(_totals(all_orders), reverse=direction == pymongo.DESCENDING)
    assert _totals(docs) == expected
    top = client.shop.orders.find(OVER_100).sort("total", direction).skip(2).limit(5)
    assert _totals(list(top)) == [t for t in expected if t > 100][2:7]


def test_group_sum_avg_min_max_are_exact_decimals(client: Any, all_orders: Any) -> None:
    pipeline = [{"$group": {"_id": "$status", "sum": {"$sum": "$total"},
                            "avg": {"$avg": "$total"}, "min": {"$min": "$total"},
                            "max": {"$max": "$total"}, "n": {"$sum": 1}}}]
    groups = {doc["_id"]: doc for doc in client.shop.orders.aggregate(pipeline)}
    by_status: dict[str, list[Decimal]] = {}
    for doc in all_orders:
        by_status.setdefault(doc["status"], []).append(doc["total"].to_decimal())
    assert set(groups) == set(by_status)
    for status, totals in by_status.items():
        group = groups[status]
        assert all(isinstance(group[k], Decimal128) for k in ("sum", "avg", "min", "max"))
        assert group["sum"].to_decimal() == sum(totals)
        # The server divides with Decimal128's 34 significant digits.
        assert group["avg"].to_decimal() == DECIMAL128.divide(sum(totals), len(totals))
        assert group["min"].to_decimal() == min(totals)
        assert group["max"].to_decimal() == max(totals)
        assert group["n"] == len(totals)


def test_group_mixes_numbers_like_the_server(scratch: Any) -> None:
    scratch.insert_many([{"v": 1}, {"v": Int64(2)}, {"v": 0.5}, {"v": Decimal128("0.25")},
                         {"v": "text"}, {"v": None}, {}])
    [mixed] = scratch.aggregate([{"$group": {"_id": None, "sum": {"$sum": "$v"},
                                             "avg": {"$avg": "$v"}, "min": {"$min": "$v"},
                                             "max": {"$max": "$v"}}}])
    assert mixed["sum"] == Decimal128("3.75")  # a Decimal128 input makes the sum a Decimal128
    assert mixed["avg"] == Decimal128("0.9375")  # over the four numbers only
    assert mixed["min"] == Decimal128("0.25")
    assert mixed["max"] == "text"  # strings sort after numbers; null and missing are ignored
    [plain] = scratch.aggregate([{"$match": {"v": {"$in": [1, 2, 0.5]}}},
                                 {"$group": {"_id": None, "sum": {"$sum": "$v"},
                                             "avg": {"$avg": "$v"}}}])
    assert plain["sum"] == 3.5 and isinstance(plain["sum"], float)
    assert plain["avg"] == pytest.approx(3.5 / 3)


def test_group_keys_equal_by_value_are_one_group(scratch: Any) -> None:
    scratch.insert_many([{"k": 1, "v": 1}, {"k": Decimal128("1.0"), "v": 2}, {"k": 1.0, "v": 3},
                         {"k": Int64(1), "v": 4}, {"k": Decimal128("2.50"), "v": 5},
                         {"k": 2.5, "v": 6}, {"k": None, "v": 7}, {"v": 8}])
    groups = list(scratch.aggregate([{"$group": {"_id": "$k", "n": {"$sum": 1},
                                                 "vs": {"$push": "$v"}}}]))
    assert [(g["_id"], g["n"], sorted(g["vs"])) for g in groups] == [
        (None, 2, [7, 8]), (1, 4, [1, 2, 3, 4]), (Decimal128("2.50"), 2, [5, 6])]


def test_comparisons_mix_int_long_double_and_decimal(scratch: Any) -> None:
    scratch.insert_many([
        {"_id": 1, "v": 1}, {"_id": 2, "v": Int64(2)}, {"_id": 3, "v": 2.5},
        {"_id": 4, "v": Decimal128("3.00")}, {"_id": 5, "v": Decimal128("1")},
        {"_id": 6, "v": "10"}, {"_id": 7, "v": None}, {"_id": 8, "v": [Decimal128("7.5"), 0]},
        {"_id": 9, "v": {"x": Decimal128("1.0")}},
    ])

    def ids(flt: dict[str, Any]) -> list[int]:
        return sorted(doc["_id"] for doc in scratch.find(flt, {"_id": 1}))

    assert ids({"v": {"$gt": 2}}) == [3, 4, 8]  # the string "10" is not a number: no match
    assert ids({"v": {"$gte": Decimal128("2.0")}}) == [2, 3, 4, 8]
    assert ids({"v": {"$lt": Int64(1)}}) == [8]
    assert ids({"v": {"$lte": 1.0}}) == [1, 5, 8]
    # Without $elemMatch each condition may be met by a different array element (7.5, then 0).
    assert ids({"v": {"$gt": 1, "$lt": Decimal128("3")}}) == [2, 3, 8]
    assert ids({"v": {"$elemMatch": {"$gt": 1, "$lt": Decimal128("3")}}}) == []
    assert ids({"v": 1}) == [1, 5]  # equality by value, both ways
    assert ids({"v": Decimal128("1.000")}) == [1, 5]
    assert ids({"v": {"$eq": 3}}) == [4]
    assert ids({"v": {"$ne": 1}}) == [2, 3, 4, 6, 7, 8, 9]
    assert ids({"v": {"$in": [Decimal128("2"), 7.5]}}) == [2, 8]
    assert ids({"v": {"$nin": [1, 2, 3, 2.5, None]}}) == [6, 8, 9]
    assert ids({"v": {"x": 1}}) == [9]  # embedded documents compare field values by value
    assert ids({"v": {"$elemMatch": {"$gt": 7}}}) == [8]
    assert ids({"$or": [{"v": 2}, {"v": {"$lt": 0.5}}]}) == [2, 8]
    assert ids({"v": {"$not": {"$eq": 1}}}) == [2, 3, 4, 6, 7, 8, 9]


def test_sort_orders_mixed_types_by_bson_type_then_value(scratch: Any) -> None:
    scratch.insert_many([
        {"_id": "str", "v": "a"}, {"_id": "dec", "v": Decimal128("2.5")}, {"_id": "int", "v": 3},
        {"_id": "long", "v": Int64(-4)}, {"_id": "dbl", "v": 1.5}, {"_id": "null", "v": None},
        {"_id": "missing"}, {"_id": "nan", "v": Decimal128("NaN")}, {"_id": "bool", "v": True},
        {"_id": "doc", "v": {"a": 1}},
    ])
    ascending = [doc["_id"] for doc in scratch.find().sort([("v", 1), ("_id", 1)])]
    assert ascending == ["missing", "null", "nan", "long", "dbl", "dec", "int", "str", "doc",
                         "bool"]
    descending = [doc["_id"] for doc in scratch.find().sort([("v", -1), ("_id", 1)])]
    assert descending[:5] == ["bool", "doc", "str", "int", "dec"]
    assert scratch.count_documents({"v": Decimal128("NaN")}) == 1  # NaN equals NaN in queries


def test_range_on_an_indexed_decimal_field(client: Any, scratch: Any, all_orders: Any) -> None:
    for doc in all_orders[:300]:
        scratch.insert_one({"_id": doc["_id"], "total": doc["total"]})
    scratch.insert_many([{"total": 150}, {"total": 99.5}, {"total": Int64(101)}])
    scratch.create_index("total")
    expected = sum(1 for t in _totals(all_orders[:300]) if 100 < t <= 200) + 2
    in_range = {"total": {"$gt": 100, "$lte": Decimal128("200")}}
    assert scratch.count_documents(in_range) == expected
    assert len(list(scratch.find(in_range).hint("total_1"))) == expected
    plan = scratch.find(in_range).explain()
    assert plan["queryPlanner"]["winningPlan"]["inputStage"]["indexName"] == "total_1"
    assert plan["executionStats"]["nReturned"] == expected


def test_distinct_treats_equal_numbers_as_one(client: Any, scratch: Any) -> None:
    scratch.insert_many([{"v": 1}, {"v": 1.0}, {"v": Decimal128("1.00")}, {"v": Int64(2)},
                         {"v": [Decimal128("2"), "2"]}, {"v": True}, {"v": {"a": 1}},
                         {"v": {"a": Decimal128("1")}}])
    values = scratch.distinct("v")
    assert len(values) == 5 and values[0] == 1 and values[1] == 2
    assert {repr(v) for v in values[2:]} == {"'2'", "True", "{'a': 1}"}
    costs = client.shop.orders.distinct("shipping.cost", OVER_100)
    assert sorted(c.to_decimal() for c in costs) == [Decimal("0"), Decimal("4.9"), Decimal("9.9")]


def test_updates_and_deletes_match_numbers_by_value(scratch: Any) -> None:
    scratch.insert_many([{"_id": 1, "v": Decimal128("5.00")}, {"_id": 2, "v": 7},
                         {"_id": 3, "v": Decimal128("9")}])
    assert scratch.update_many({"v": {"$gte": 6}}, {"$set": {"big": True}}).modified_count == 2
    assert scratch.update_one({"v": 5}, {"$max": {"v": 6}}).modified_count == 1
    assert scratch.find_one({"_id": 1})["v"] == 6
    scratch.update_one({"_id": 2}, {"$min": {"v": Decimal128("6.5")}})
    assert scratch.find_one({"_id": 2})["v"] == Decimal128("6.5")
    scratch.update_one({"_id": 3}, {"$min": {"v": 10}})  # 10 > 9: no change
    assert scratch.find_one({"_id": 3})["v"] == Decimal128("9")
    found = scratch.find_one_and_update({"v": Decimal128("6.50")}, {"$inc": {"n": 1}},
                                        return_document=pymongo.ReturnDocument.AFTER)
    assert found["_id"] == 2
    assert scratch.delete_many({"v": {"$in": [9, 6.0]}}).deleted_count == 2
    # An upsert keeps the filter's own values in the new document.
    scratch.update_one({"v": Decimal128("42.0")}, {"$set": {"new": True}}, upsert=True)
    assert scratch.find_one({"new": True})["v"] == Decimal128("42.0")


def test_engine_limits_are_server_shaped_errors(client: Any, scratch: Any) -> None:
    scratch.insert_one({"v": Decimal128("1")})
    unsupported = {"$where": "this.v > 0"}  # mongomock raises NotImplementedError for this
    attempts: list[Callable[[], Any]] = [
        lambda: list(scratch.find(unsupported)),
        lambda: scratch.count_documents(unsupported),
        lambda: client.t_decimal.command("count", scratch.name, query=unsupported),
        lambda: list(scratch.aggregate([{"$match": unsupported}])),
        lambda: scratch.distinct("v", unsupported),
        lambda: scratch.find_one_and_delete(unsupported),
    ]
    for attempt in attempts:
        with pytest.raises(OperationFailure) as info:
            attempt()
        assert info.value.code == 2, info.value.details
        assert "not supported by the sandbox" in str(info.value)
        assert "NotImplementedError" not in str(info.value)
    writes: list[Callable[[], Any]] = [
        lambda: scratch.update_one(unsupported, {"$set": {"x": 1}}),
        lambda: scratch.delete_many(unsupported),
    ]
    for write in writes:
        with pytest.raises(WriteError) as write_info:
            write()
        assert write_info.value.code == 2
        assert "not supported by the sandbox" in str(write_info.value)
    assert scratch.count_documents({}) == 1  # nothing was changed


def test_replacements_matched_by_value_keep_the_stored_id(scratch: Any) -> None:
    # A replacement's filter is matched by value, but the stored _id (an int) must stay
    # as stored: no matching wrapper may leak into the document.
    scratch.insert_many([{"_id": 1, "v": "a"}, {"_id": 2, "v": "b"}])
    assert scratch.replace_one({"_id": 1.0}, {"v": "A"}).modified_count == 1
    assert scratch.find_one({"_id": 1}) == {"_id": 1, "v": "A"}
    before = scratch.find_one_and_replace({"_id": Int64(2)}, {"v": "B"})
    assert before == {"_id": 2, "v": "b"}
    assert scratch.find_one({"_id": 2}) == {"_id": 2, "v": "B"}
    assert type(scratch.find_one({"_id": 2})["_id"]) is int
