"""Write results (PyMongo's attributes and ``acknowledged`` rules) and the raw-batch
splitter that ``find_raw_batches`` depends on (over real BSON bytes)."""

from __future__ import annotations

import pytest

from driver.bson import Int64, decode, decode_all, encode
from driver.errors import InvalidBSON, InvalidOperation, ProtocolError
from driver.operations.raw_batches import decode_raw_reply, split_cursor_reply
from driver.results import (
    BulkWriteResult,
    DeleteResult,
    InsertManyResult,
    InsertOneResult,
    UpdateResult,
)


def test_insert_results_keep_ids_even_unacknowledged() -> None:
    assert InsertOneResult(5, True).inserted_id == 5
    unacknowledged = InsertManyResult([1, 2], False)
    assert unacknowledged.inserted_ids == [1, 2] and unacknowledged.acknowledged is False
    assert "inserted_ids=[1, 2]" in repr(unacknowledged)


def test_update_result_counts() -> None:
    result = UpdateResult({"n": 3, "nModified": 2, "ok": 1.0}, True)
    assert (result.matched_count, result.modified_count, result.upserted_id) == (3, 2, None)
    assert result.did_upsert is False
    upserted = UpdateResult({"n": 1, "nModified": 0, "upserted": "new-id"}, True)
    assert upserted.matched_count == 0 and upserted.upserted_id == "new-id"
    assert upserted.did_upsert is True


def test_delete_and_bulk_counts() -> None:
    assert DeleteResult({"n": 4}, True).deleted_count == 4
    bulk = BulkWriteResult(
        {"nInserted": 1, "nMatched": 2, "nModified": 3, "nRemoved": 4, "nUpserted": 1,
         "upserted": [{"index": 7, "_id": "x"}]},
        True,
    )
    assert (bulk.inserted_count, bulk.matched_count, bulk.modified_count,
            bulk.deleted_count, bulk.upserted_count) == (1, 2, 3, 4, 1)
    assert bulk.upserted_ids == {7: "x"}


@pytest.mark.parametrize(
    "result, attribute",
    [
        (UpdateResult(None, False), "matched_count"),
        (UpdateResult(None, False), "modified_count"),
        (UpdateResult(None, False), "upserted_id"),
        (DeleteResult(None, False), "deleted_count"),
        (BulkWriteResult({}, False), "inserted_count"),
        (BulkWriteResult({}, False), "upserted_ids"),
    ],
)
def test_counts_of_unacknowledged_writes_raise(result: object, attribute: str) -> None:
    with pytest.raises(InvalidOperation, match=f"{attribute} is not available"):
        getattr(result, attribute)


def _cursor_reply(batch: list[dict[str, object]], field: str = "firstBatch") -> bytes:
    return encode({"cursor": {"id": Int64(123456789012), "ns": "db.coll", field: batch},
                   "ok": 1.0, "operationTime": Int64(5)})


@pytest.mark.parametrize("result, attribute, key", [
    (UpdateResult({"n": "1", "nModified": 1}, True), "matched_count", "n"),
    (UpdateResult({"n": 1, "nModified": [1]}, True), "modified_count", "nModified"),
    (DeleteResult({"n": None}, True), "deleted_count", "n"),
    (DeleteResult({"n": True}, True), "deleted_count", "n"),
    (DeleteResult({"n": 1.5}, True), "deleted_count", "n"),
    (BulkWriteResult({"nInserted": {"$numberInt": "1"}}, True), "inserted_count", "nInserted"),
])
def test_a_malformed_count_in_the_reply_is_a_protocol_error(result: object, attribute: str,
                                                            key: str) -> None:
    with pytest.raises(ProtocolError, match=f"{key}=.*not a count"):
        getattr(result, attribute)


def test_whole_float_and_int64_counts_are_read() -> None:
    assert DeleteResult({"n": 2.0}, True).deleted_count == 2
    assert BulkWriteResult({"nInserted": Int64(3)}, True).inserted_count == 3
    assert repr(DeleteResult({"n": 1}, True)) == (
        "DeleteResult(raw_result={'n': 1}, acknowledged=True)")
    assert repr(BulkWriteResult({"nInserted": 1}, True)).startswith(
        "BulkWriteResult(bulk_api_result={'nInserted': 1}")


def test_raw_reply_keeps_the_batch_bytes() -> None:
    batch = [{"_id": i, "s": "x" * i, "sub": {"a": [1, 2]}} for i in range(5)]
    body = _cursor_reply(batch)
    split = split_cursor_reply(body)
    assert split is not None
    rest, cursor_id, namespace, raw, count = split
    assert (cursor_id, namespace, count) == (123456789012, "db.coll", 5)
    assert raw == b"".join(encode(doc) for doc in batch)
    assert decode(rest) == {"ok": 1.0, "operationTime": 5}
    reply = decode_raw_reply(_cursor_reply(batch, "nextBatch"), None)
    assert reply["ok"] == 1.0 and reply["cursor"] == {"id": 123456789012, "ns": "db.coll"}
    assert reply.raw_batch is not None and decode_all(reply.raw_batch[2]) == batch


def test_raw_reply_without_cursor_is_decoded_normally() -> None:
    error = encode({"ok": 0.0, "errmsg": "no", "code": 2})
    assert split_cursor_reply(error) is None
    reply = decode_raw_reply(error, None)
    assert reply == {"ok": 0.0, "errmsg": "no", "code": 2} and reply.raw_batch is None


def test_raw_reply_empty_batch_and_corruption() -> None:
    split = split_cursor_reply(_cursor_reply([]))
    assert split is not None and split[3:] == (b"", 0)
    body = bytearray(_cursor_reply([{"a": 1}]))
    body[0] += 1  # the outer length no longer matches
    with pytest.raises(InvalidBSON):
        split_cursor_reply(bytes(body))


def test_cursor_reply_decoded_through_decode_all_equals_plain_decode() -> None:
    from driver.operations.raw_batches import decode_cursor_reply

    batch = [{"_id": i, "nested": {"list": [i, {"x": "y"}]}} for i in range(50)]
    body = encode({"cursor": {"nextBatch": batch, "id": Int64(7), "ns": "d.c",
                              "postBatchResumeToken": {"_data": "abc"}},
                   "ok": 1.0, "$clusterTime": {"clusterTime": Int64(1)}})
    assert decode_cursor_reply(body, None) == decode(body)
    error = encode({"ok": 0.0, "errmsg": "boom", "code": 8})
    assert decode_cursor_reply(error, None) == decode(error)
