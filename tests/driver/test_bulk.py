"""Bulk writes: request classes, batching by the server's limits, merging of replies and
errors (unit, over real BSON bytes), and batches as they reach the sandbox."""

from __future__ import annotations

from typing import Any

import pytest

from driver import DeleteMany, DeleteOne, InsertOne, ReplaceOne, UpdateMany, UpdateOne
from driver.bson import encode
from driver.errors import (
    BulkWriteError,
    DocumentTooLarge,
    DuplicateKeyError,
    WriteConcernError,
    WriteError,
)
from driver.operations.bulk import (
    DELETE,
    INSERT,
    UPDATE,
    WriteLimits,
    _Run,
    check_single_write_reply,
    merge_reply,
    new_full_result,
    split_batches,
)
from tests.driver.api_support import (  # noqa: F401  (fixtures)
    RecordingListener,
    client_fixture,
    coll_fixture,
    listener_fixture,
    standalone_fixture,
)

# -- request classes -----------------------------------------------------------------------------


def test_request_equality_and_repr() -> None:
    assert InsertOne({"a": 1}) == InsertOne({"a": 1})
    assert InsertOne({"a": 1}) != InsertOne({"a": 2})
    assert UpdateOne({"a": 1}, {"$set": {"b": 1}}) != UpdateMany({"a": 1}, {"$set": {"b": 1}})
    assert DeleteOne({"x": 1}) != DeleteMany({"x": 1})
    assert DeleteMany({"x": 1}) != DeleteMany({"x": 2})
    assert UpdateMany({}, {"$set": {"a": 1}}) != UpdateMany({}, {"$set": {"a": 2}})
    assert repr(UpdateMany({}, {"$inc": {"n": 1}})).startswith("UpdateMany({}, {'$inc'")
    assert repr(DeleteOne({"x": 1})) == "DeleteOne({'x': 1}, None, None)"
    assert hash(ReplaceOne({}, {"a": 1})) == hash(ReplaceOne({}, {"a": 1}))


def test_request_validation() -> None:
    with pytest.raises(ValueError, match=r"\$ operators"):
        UpdateOne({}, {"a": 1})
    with pytest.raises(ValueError, match="empty"):
        UpdateMany({}, {})
    with pytest.raises(ValueError, match=r"can not include \$ operators"):
        ReplaceOne({}, {"$set": {"a": 1}})
    with pytest.raises(TypeError, match="filter"):
        DeleteOne("not a document")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="array_filters"):
        UpdateOne({}, {"$set": {"a": 1}}, array_filters={"x": 1})  # type: ignore[arg-type]
    UpdateOne({}, [{"$set": {"a": 1}}])  # pipelines are updates too


# -- batching ------------------------------------------------------------------------------------


def _docs(count: int, size: int) -> list[bytes]:
    return [encode({"_id": i, "pad": "x" * size}) for i in range(count)]


def test_batches_respect_max_write_batch_size() -> None:
    docs = _docs(25, 10)
    limits = WriteLimits(max_write_batch_size=10)
    assert split_batches(docs, limits, INSERT) == [range(0, 10), range(10, 20), range(20, 25)]


def test_batches_respect_max_message_size() -> None:
    docs = _docs(10, 30_000)  # each a little over 30 kB
    limits = WriteLimits(max_message_size=16 * 1024 + 100_000)
    batches = split_batches(docs, limits, INSERT)
    assert [len(b) for b in batches] == [3, 3, 3, 1]
    assert all(sum(len(docs[i]) for i in b) <= 100_000 for b in batches)


def test_one_document_larger_than_a_batch_still_goes_alone() -> None:
    docs = _docs(3, 50_000)
    limits = WriteLimits(max_message_size=16 * 1024 + 10_000)
    assert split_batches(docs, limits, UPDATE) == [range(0, 1), range(1, 2), range(2, 3)]


def test_oversized_insert_is_refused_before_sending() -> None:
    docs = _docs(2, 2000)
    with pytest.raises(DocumentTooLarge, match="supports BSON document sizes up to 1000"):
        split_batches(docs, WriteLimits(max_bson_size=1000), INSERT)


# -- merging replies ----------------------------------------------------------------------------


def test_merge_maps_indexes_back_to_the_callers_list() -> None:
    full = new_full_result()
    run = _Run(UPDATE, indexes=[1, 4, 6], statements=[b"", b"", b""],
               originals=[{"q": 1}, {"q": 4}, {"q": 6}])
    merge_reply(full, run, 1, {"n": 2, "nModified": 1, "upserted": [{"index": 1, "_id": "u"}],
                               "writeErrors": [{"index": 0, "code": 2, "errmsg": "bad"}]})
    assert full["nMatched"] == 1 and full["nUpserted"] == 1 and full["nModified"] == 1
    assert full["upserted"] == [{"index": 6, "_id": "u"}]
    assert full["writeErrors"] == [{"index": 4, "code": 2, "errmsg": "bad", "op": {"q": 4}}]
    deletes = _Run(DELETE, indexes=[0], statements=[b""], originals=[{}])
    merge_reply(full, deletes, 0, {"n": 3, "writeConcernError": {"code": 64, "errmsg": "wc"}})
    assert full["nRemoved"] == 3
    assert full["writeConcernErrors"] == [{"code": 64, "errmsg": "wc"}]


def test_single_write_errors() -> None:
    with pytest.raises(DuplicateKeyError):
        check_single_write_reply({"n": 0, "writeErrors": [{"index": 0, "code": 11000,
                                                             "errmsg": "E11000 dup"}]})
    with pytest.raises(WriteError) as info:
        check_single_write_reply({"n": 0, "writeErrors": [{"index": 0, "code": 121,
                                                             "errmsg": "validation"}]})
    assert not isinstance(info.value, DuplicateKeyError) and info.value.code == 121
    with pytest.raises(WriteConcernError) as concern:
        check_single_write_reply({"n": 1, "writeConcernError": {"code": 64, "errmsg": "timeout"},
                                  "errorLabels": ["RetryableWriteError"]})
    assert concern.value.has_error_label("RetryableWriteError")
    check_single_write_reply({"n": 1, "ok": 1})


# -- against the sandbox -----------------------------------------------------------------------


def test_batches_reach_the_server_in_order(coll: Any, listener: RecordingListener,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    executor = coll._executor
    monkeypatch.setattr(executor, "write_limits", lambda session: WriteLimits(
        max_write_batch_size=7))
    result = coll.insert_many([{"_id": i} for i in range(30)])
    assert len(result.inserted_ids) == 30
    inserts = listener.commands("insert")
    assert [len(cmd["documents"]) for cmd in inserts] == [7, 7, 7, 7, 2]
    requests: list[Any] = [UpdateOne({"_id": i}, {"$set": {"v": i}}) for i in range(10)]
    requests += [DeleteOne({"_id": i}) for i in range(20, 30)]
    outcome = coll.bulk_write(requests)
    assert outcome.modified_count == 10 and outcome.deleted_count == 10
    assert [len(cmd["updates"]) for cmd in listener.commands("update")] == [7, 3]
    assert [len(cmd["deletes"]) for cmd in listener.commands("delete")] == [7, 3]


def test_unordered_bulk_reports_every_error_with_original_indexes(
    coll: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    coll.insert_many([{"_id": i} for i in range(0, 20, 4)])  # 0, 4, 8, 12, 16 exist
    monkeypatch.setattr(coll._executor, "write_limits", lambda session: WriteLimits(
        max_write_batch_size=3))
    requests: list[Any] = [InsertOne({"_id": i}) for i in range(20)]
    requests.insert(5, UpdateOne({"_id": 0}, {"$set": {"seen": 1}}))
    with pytest.raises(BulkWriteError) as info:
        coll.bulk_write(requests, ordered=False)
    details = info.value.details
    assert details is not None
    expected = [i if i < 5 else i + 1 for i in (0, 4, 8, 12, 16)]
    assert [e["index"] for e in details["writeErrors"]] == expected
    assert all(e["code"] == 11000 for e in details["writeErrors"])
    assert details["nInserted"] == 15 and details["nMatched"] == 1
    assert coll.count_documents({}) == 20
