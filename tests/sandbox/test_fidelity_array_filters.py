"""PyMongo against the sandbox: array updates with ``arrayFilters`` (``$[<id>]``), the
all-positional ``$[]``, and the operators mongomock lacks on array elements (``$mul``, ``$min``,
``$max``, ``$unset``), through ``update`` and ``findAndModify``, with the server's error shapes."""

from __future__ import annotations

from typing import Any

import pytest
from bson import Decimal128
from pymongo import ReturnDocument, UpdateOne
from pymongo.errors import BulkWriteError, OperationFailure, WriteError

from sandbox.cluster import SandboxCluster


@pytest.fixture
def coll(standalone: SandboxCluster, make_client: Any, request: pytest.FixtureRequest) -> Any:
    client = make_client(standalone.uri)
    collection = client["t_array_filters"][request.node.name[:50]]
    collection.drop()
    return collection


def test_filtered_positional_sets_only_matching_elements(coll: Any) -> None:
    coll.insert_one({"_id": 0, "tags": [1, 2, 3]})
    result = coll.update_one({"_id": 0}, {"$set": {"tags.$[t]": 0}},
                             array_filters=[{"t": {"$gte": 2}}])
    assert (result.matched_count, result.modified_count) == (1, 1)
    assert coll.find_one({"_id": 0})["tags"] == [1, 0, 0]
    # Nothing matches any more: matched, not modified.
    again = coll.update_one({"_id": 0}, {"$set": {"tags.$[t]": 0}},
                            array_filters=[{"t": {"$gte": 2}}])
    assert (again.matched_count, again.modified_count) == (1, 0)


def test_nested_identifiers_and_all_positional(coll: Any) -> None:
    coll.insert_one({"_id": 1, "grades": [
        {"kind": "quiz", "scores": [50, 90, 70]},
        {"kind": "exam", "scores": [40, 95]},
        {"kind": "quiz", "scores": [85]},
    ]})
    coll.update_one({"_id": 1}, {"$inc": {"grades.$[g].scores.$[s]": 5}},
                    array_filters=[{"g.kind": "quiz"}, {"s": {"$lt": 80}}])
    grades = coll.find_one({"_id": 1})["grades"]
    assert [g["scores"] for g in grades] == [[55, 90, 75], [40, 95], [85]]
    coll.update_one({"_id": 1}, {"$set": {"grades.$[].checked": True}})
    assert all(g["checked"] is True for g in coll.find_one({"_id": 1})["grades"])
    coll.update_one({"_id": 1}, {"$mul": {"grades.$[e].scores.$[]": 2}},
                    array_filters=[{"e.kind": "exam"}])
    assert coll.find_one({"_id": 1})["grades"][1]["scores"] == [80, 190]


def test_each_operator_on_filtered_elements(coll: Any) -> None:
    coll.insert_one({"_id": 2, "a": [1, 5, 9], "b": [1, 5, 9], "c": [1, 5, 9], "d": [1, 5, 9],
                     "e": [1.5, "x", 9]})
    coll.update_one({"_id": 2}, {"$mul": {"a.$[x]": 10}, "$min": {"b.$[y]": 3},
                                 "$max": {"c.$[y]": 7}, "$unset": {"d.$[x]": ""},
                                 "$inc": {"e.$[n]": 1}},
                    array_filters=[{"x": {"$gt": 4}}, {"y": {"$gte": 5}},
                                   {"n": {"$type": "number"}}])
    doc = coll.find_one({"_id": 2}, {"_id": 0})
    assert doc == {"a": [1, 50, 90], "b": [1, 3, 3], "c": [1, 7, 9], "d": [1, None, None],
                   "e": [2.5, "x", 10]}


def test_update_many_counts_documents_with_and_without_a_matching_element(coll: Any) -> None:
    coll.insert_many([{"_id": i, "v": [i, i + 10]} for i in range(4)])
    result = coll.update_many({}, {"$set": {"v.$[big]": -1}},
                              array_filters=[{"big": {"$gte": 12}}])
    assert (result.matched_count, result.modified_count) == (4, 2)
    assert [d["v"] for d in coll.find().sort("_id", 1)] == [[0, 10], [1, 11], [2, -1], [3, -1]]
    bulk = coll.bulk_write([UpdateOne({"_id": 0}, {"$inc": {"v.$[z]": 100}},
                                      array_filters=[{"z": 0}])])
    assert bulk.modified_count == 1 and coll.find_one({"_id": 0})["v"] == [100, 10]


def test_find_one_and_update_and_upsert_with_array_filters(coll: Any) -> None:
    coll.insert_one({"_id": 3, "v": [1, 2, 3]})
    before = coll.find_one_and_update({"_id": 3}, {"$set": {"v.$[i]": 9}},
                                      array_filters=[{"i": 2}])
    assert before == {"_id": 3, "v": [1, 2, 3]}
    after = coll.find_one_and_update({"_id": 3}, {"$inc": {"v.$[i]": 1}},
                                     array_filters=[{"i": {"$lt": 5}}], projection={"_id": 0},
                                     return_document=ReturnDocument.AFTER)
    assert after == {"v": [2, 9, 4]}
    # An upsert starts from the query's equality fields, array included.
    upserted = coll.update_one({"_id": 4, "v": [1, 2]}, {"$set": {"v.$[i]": 0}},
                               array_filters=[{"i": 2}], upsert=True)
    assert upserted.upserted_id == 4
    assert coll.find_one({"_id": 4}) == {"_id": 4, "v": [1, 0]}


def test_mul_min_max_unset_without_positional_paths(coll: Any) -> None:
    coll.insert_one({"_id": 5, "n": 4, "lo": 10, "hi": 10, "arr": [1, 2, 3], "gone": 1})
    coll.update_one({"_id": 5}, {"$mul": {"n": 2.5, "fresh": 3}, "$min": {"lo": 2, "arr.2": 0},
                                 "$max": {"hi": 20, "arr.0": 7}, "$unset": {"gone": "", "arr.1": 1}})
    assert coll.find_one({"_id": 5}, {"_id": 0}) == {"n": 10.0, "lo": 2, "hi": 20,
                                                      "arr": [7, None, 0], "fresh": 0}
    same = coll.update_one({"_id": 5}, {"$min": {"lo": 5}, "$max": {"hi": 1}})
    assert same.modified_count == 0
    coll.update_one({"_id": 5}, {"$mul": {"lo": Decimal128("1.5"), "dec": Decimal128("2")}})
    assert coll.find_one({"_id": 5}, {"_id": 0, "lo": 1, "dec": 1}) == {
        "lo": Decimal128("3.0"), "dec": Decimal128("0")}


@pytest.mark.parametrize(("filters", "code", "message"), [
    ([], 2, "No array filter found for identifier 't' in path 'tags.$[t]'"),
    ([{"t": 1}, {"unused": 2}], 9,
     "The array filter for identifier 'unused' was not used in the update"),
    ([{"t": 1}, {"t": 2}], 9, "Found multiple array filters with the same top-level field name t"),
    ([{"Tee": 1}], 2, "must be an alphanumeric string beginning with a lowercase letter"),
    ([{"t": 1, "u": 1}], 9, "Expected a single top-level field name"),
    ([{"$expr": {"$eq": [1, 1]}}], 9, "without a top-level field name"),
])
def test_array_filter_errors(coll: Any, filters: list[Any], code: int, message: str) -> None:
    coll.insert_one({"_id": 6, "tags": [1, 2]})
    with pytest.raises(WriteError) as info:
        coll.update_one({"_id": 6}, {"$set": {"tags.$[t]": 0}}, array_filters=filters)
    assert info.value.code == code and message in str(info.value)
    assert coll.find_one({"_id": 6})["tags"] == [1, 2]


def test_array_update_errors_on_the_document(coll: Any) -> None:
    coll.insert_many([{"_id": 7, "s": "text"}, {"_id": 8, "v": [1, "a"]}])
    with pytest.raises(WriteError) as missing:
        coll.update_one({"_id": 7}, {"$set": {"nothere.$[]": 0}})
    assert missing.value.code == 2 and "must exist in the document" in str(missing.value)
    with pytest.raises(WriteError) as scalar:
        coll.update_one({"_id": 7}, {"$set": {"s.$[]": 0}})
    assert scalar.value.code == 2 and "non-array element s" in str(scalar.value)
    with pytest.raises(WriteError) as product:
        coll.update_one({"_id": 8}, {"$mul": {"v.$[]": 2}})
    assert product.value.code == 14
    assert coll.find_one({"_id": 8})["v"] == [1, "a"]  # nothing half-applied
    with pytest.raises(OperationFailure) as fam:
        coll.find_one_and_update({"_id": 8}, {"$set": {"v.$[q]": 0}}, array_filters=[])
    assert fam.value.code == 2 and "identifier 'q'" in str(fam.value)
    with pytest.raises(BulkWriteError) as bulk:
        coll.bulk_write([UpdateOne({"_id": 8}, {"$set": {"v.$[x]": 0}}, array_filters=[{"x": 1}]),
                         UpdateOne({"_id": 8}, {"$set": {"v.$[y]": 0}})], ordered=False)
    errors = bulk.value.details["writeErrors"]
    assert [(e["index"], e["code"]) for e in errors] == [(1, 2)]
    assert bulk.value.details["nModified"] == 1
