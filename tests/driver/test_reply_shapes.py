"""Server replies of the wrong shape come out as driver errors that name the field.

Each test makes the stub (``reply_stub.ReplyStub``, real sockets, replies encoded by
PyMongo's ``bson``) answer one command with a reply of the wrong shape and checks the
exact error class and that its message names the field that was wrong. Before the
typed reply readers (``driver/operations/replies.py``) these escaped as ``KeyError``,
``AttributeError``, ``TypeError`` or ``ValueError``.
"""

from __future__ import annotations

from typing import Any

import bson
import pytest

from driver import UpdateOne
from driver.errors import (
    OperationFailure,
    ProtocolError,
    ServerSelectionTimeoutError,
    WriteConcernError,
)
from tests.driver.net_fake_server import User
from tests.driver.reply_stub import ReplyStub, stub_client


def _cursor_reply(cursor: Any) -> dict[str, Any]:
    return {"ok": 1, "cursor": cursor}


def _run(documents: dict[str, Any], operation: Any) -> ProtocolError:
    with stub_client(ReplyStub(documents=documents)) as client:
        with pytest.raises(ProtocolError) as caught:
            operation(client["db"]["c"])
    return caught.value


def test_find_reply_without_cursor() -> None:
    error = _run({"find": {"ok": 1}}, lambda c: list(c.find()))
    assert "find reply" in str(error)
    assert "'cursor'" in str(error) and "missing" in str(error)


def test_find_reply_whose_cursor_is_a_list() -> None:
    error = _run({"find": _cursor_reply([1, 2])}, lambda c: list(c.find()))
    assert "'cursor'" in str(error) and "a document" in str(error) and "list" in str(error)


def test_find_reply_whose_cursor_id_is_not_a_number() -> None:
    reply = _cursor_reply({"id": "seven", "ns": "db.c", "firstBatch": []})
    error = _run({"find": reply}, lambda c: list(c.find()))
    assert "'cursor.id'" in str(error) and "a number" in str(error) and "seven" in str(error)


def test_find_reply_whose_batch_is_not_an_array() -> None:
    reply = _cursor_reply({"id": 0, "ns": "db.c", "firstBatch": {"a": 1}})
    error = _run({"find": reply}, lambda c: list(c.find()))
    assert "'cursor.firstBatch'" in str(error) and "an array" in str(error)


def test_get_more_reply_whose_next_batch_is_a_string() -> None:
    documents = {
        "find": _cursor_reply({"id": 77, "ns": "db.c", "firstBatch": [{"_id": 1}]}),
        "getMore": _cursor_reply({"id": 0, "ns": "db.c", "nextBatch": "nope"}),
    }
    error = _run(documents, lambda c: list(c.find()))
    assert "getMore reply" in str(error) and "'cursor.nextBatch'" in str(error)


def test_aggregate_reply_without_cursor() -> None:
    error = _run({"aggregate": {"ok": 1}}, lambda c: list(c.aggregate([])))
    assert "aggregate reply" in str(error) and "'cursor'" in str(error)


def test_list_indexes_reply_whose_cursor_is_a_number() -> None:
    error = _run({"listIndexes": _cursor_reply(5)}, lambda c: list(c.list_indexes()))
    assert "listIndexes reply" in str(error) and "'cursor'" in str(error)


def test_list_collections_reply_without_cursor() -> None:
    error = _run({"listCollections": {"ok": 1}},
                 lambda c: c.database.list_collection_names())
    assert "listCollections reply" in str(error) and "'cursor'" in str(error)


def test_list_databases_reply_whose_databases_is_a_document() -> None:
    error = _run({"listDatabases": {"ok": 1, "databases": {"db": 1}}},
                 lambda c: c.database.client.list_database_names())
    assert "listDatabases reply" in str(error) and "'databases'" in str(error)


def test_count_documents_reply_whose_n_is_a_string() -> None:
    reply = _cursor_reply({"id": 0, "ns": "db.c", "firstBatch": [{"_id": 1, "n": "3"}]})
    error = _run({"aggregate": reply}, lambda c: c.count_documents({}))
    assert "count reply" in str(error) and "'n'" in str(error) and "a number" in str(error)


def test_estimated_count_reply_whose_n_is_a_list() -> None:
    error = _run({"count": {"ok": 1, "n": [3]}}, lambda c: c.estimated_document_count())
    assert "count reply" in str(error) and "'n'" in str(error)


def test_estimated_count_reply_whose_n_is_a_decimal128() -> None:
    error = _run({"count": {"ok": 1, "n": bson.Decimal128("NaN")}},
                 lambda c: c.estimated_document_count())
    assert "'n'" in str(error) and "Decimal128" in str(error)


def test_find_reply_whose_cursor_id_is_infinite() -> None:
    reply = _cursor_reply({"id": float("inf"), "ns": "db.c", "firstBatch": []})
    error = _run({"find": reply}, lambda c: list(c.find()))
    assert "'cursor.id'" in str(error) and "finite" in str(error)


def test_distinct_reply_whose_values_is_a_number() -> None:
    error = _run({"distinct": {"ok": 1, "values": 4}}, lambda c: c.distinct("x"))
    assert "distinct reply" in str(error) and "'values'" in str(error)


def test_find_and_modify_reply_whose_value_is_a_string() -> None:
    error = _run({"findAndModify": {"ok": 1, "value": "doc"}},
                 lambda c: c.find_one_and_delete({}))
    assert "findAndModify reply" in str(error) and "'value'" in str(error)


def test_insert_reply_whose_write_errors_is_a_document() -> None:
    error = _run({"insert": {"ok": 1, "n": 0, "writeErrors": {"index": 0}}},
                 lambda c: c.insert_one({"x": 1}))
    assert "write reply" in str(error) and "'writeErrors'" in str(error)


def test_bulk_reply_whose_write_error_index_is_out_of_the_batch() -> None:
    reply = {"ok": 1, "n": 0, "writeErrors": [{"index": 9, "code": 11000, "errmsg": "dup"}]}
    error = _run({"insert": reply}, lambda c: c.insert_many([{"x": 1}, {"x": 2}]))
    assert "'writeErrors.index'" in str(error) and "9" in str(error)


def test_bulk_reply_whose_upserted_entry_has_no_index() -> None:
    reply = {"ok": 1, "n": 1, "nModified": 0, "upserted": [{"_id": 5}]}
    error = _run({"update": reply},
                 lambda c: c.bulk_write([UpdateOne(
                     {"x": 1}, {"$set": {"y": 1}}, upsert=True)]))
    assert "'index'" in str(error) and "upserted" in str(error)


def test_update_reply_whose_n_modified_is_a_string() -> None:
    error = _run({"update": {"ok": 1, "n": 1, "nModified": "1"}},
                 lambda c: c.bulk_write([UpdateOne(
                     {"x": 1}, {"$set": {"y": 1}})]))
    assert "'nModified'" in str(error)


def test_write_concern_error_that_is_not_a_document() -> None:
    error = _run({"create": {"ok": 1, "writeConcernError": "bad"}},
                 lambda c: c.database.create_collection("d"))
    assert "'writeConcernError'" in str(error)


def test_cluster_time_that_is_not_a_document() -> None:
    error = _run({"ping": {"ok": 1, "$clusterTime": 12}},
                 lambda c: c.database.command("ping"))
    assert "'$clusterTime'" in str(error)


def test_handshake_whose_max_bson_size_is_a_string_is_a_protocol_error() -> None:
    stub = ReplyStub(extra_hello={"maxBsonObjectSize": "big"})
    with stub_client(stub, serverSelectionTimeoutMS=1500) as client:
        with pytest.raises(ServerSelectionTimeoutError) as caught:
            client["db"]["c"].find_one()
    assert "maxBsonObjectSize" in str(caught.value)


def test_hello_whose_max_wire_version_is_a_string() -> None:
    stub = ReplyStub(extra_hello={"maxWireVersion": "21"})
    with stub_client(stub, serverSelectionTimeoutMS=1500) as client:
        with pytest.raises(ServerSelectionTimeoutError) as caught:
            client.admin.command("ping")
    assert "maxWireVersion" in str(caught.value)


def test_scram_reply_whose_payload_is_a_number() -> None:
    stub = ReplyStub(users={"ann": User("secret")}, speculative=False,
                     documents={"saslStart": {"ok": 1, "conversationId": 1, "done": False,
                                              "payload": 17}})
    with stub_client(stub, username="ann", password="secret",
                     serverSelectionTimeoutMS=1500) as client:
        with pytest.raises(ProtocolError) as caught:
            client.admin.command("ping")
    assert "SCRAM reply" in str(caught.value) and "'payload'" in str(caught.value)


def test_write_concern_error_with_null_error_labels() -> None:
    # Found by the fuzz: a TypeError from list(None) while building the WriteConcernError.
    reply = {"ok": 1, "writeConcernError": {"code": 64, "errmsg": "waiting"},
             "errorLabels": None}
    with stub_client(ReplyStub(documents={"findAndModify": reply})) as client:
        with pytest.raises(WriteConcernError) as caught:
            client["db"]["c"].find_one_and_delete({})
    assert "waiting" in str(caught.value)


def test_error_labels_that_are_documents_are_not_labels() -> None:
    # Found by the fuzz: unhashable dict labels made a TypeError out of the server's error.
    reply = {"ok": 0, "code": 2, "errmsg": "bad value", "errorLabels": [{"x": 1}, "Mine"]}
    with stub_client(ReplyStub(documents={"ping": reply})) as client:
        with pytest.raises(OperationFailure) as caught:
            client["db"].command("ping")
    assert "bad value" in str(caught.value)
    assert caught.value.has_error_label("Mine")


# Entries of a listing whose ``name`` is missing or not a string (were a bare KeyError).


def test_list_database_names_entry_without_name() -> None:
    error = _run({"listDatabases": {"ok": 1, "databases": [{"sizeOnDisk": 1}]}},
                 lambda c: c.database.client.list_database_names())
    assert "listDatabases entry" in str(error) and "'name'" in str(error)


def test_list_collection_names_entry_whose_name_is_a_number() -> None:
    reply = _cursor_reply({"id": 0, "ns": "db.$cmd.listCollections",
                           "firstBatch": [{"name": 3, "type": "collection"}]})
    error = _run({"listCollections": reply}, lambda c: c.database.list_collection_names())
    assert "listCollections entry" in str(error) and "'name'" in str(error)


def test_index_information_entry_without_name() -> None:
    reply = _cursor_reply({"id": 0, "ns": "db.c", "firstBatch": [{"key": {"_id": 1}, "v": 2}]})
    error = _run({"listIndexes": reply}, lambda c: c.index_information())
    assert "listIndexes entry" in str(error) and "'name'" in str(error)
