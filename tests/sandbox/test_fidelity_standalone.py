"""PyMongo (the official driver) against a standalone sandbox: CRUD, cursors, aggregate, indexes,
catalogue, explain, errors, compression and server figures."""

from __future__ import annotations

import datetime
import time
from typing import Any

import pymongo
import pytest
from bson import Decimal128, ObjectId
from pymongo.errors import (
    BulkWriteError,
    CollectionInvalid,
    ConfigurationError,
    DuplicateKeyError,
    OperationFailure,
)

from sandbox.cluster import SandboxCluster
from tests.sandbox import rawwire


@pytest.fixture
def db(standalone: SandboxCluster, make_client: Any, request: pytest.FixtureRequest) -> Any:
    client = make_client(standalone.uri)
    name = "t_" + request.node.name.replace("[", "_").replace("]", "")[:40]
    client.drop_database(name)
    return client[name]


def test_hello_reports_a_standalone(standalone: SandboxCluster, make_client: Any) -> None:
    client = make_client(standalone.uri)
    reply = client.admin.command("hello")
    assert reply["isWritablePrimary"] is True
    assert reply["maxWireVersion"] == 21
    assert reply["maxBsonObjectSize"] == 16 * 1024 * 1024
    assert reply["maxMessageSizeBytes"] == 48_000_000
    assert "setName" not in reply and "msg" not in reply
    assert set(reply["topologyVersion"]) == {"processId", "counter"}
    assert client.topology_description.topology_type_name == "Single"


def test_insert_find_update_delete_round_trip(db: Any) -> None:
    doc = {"name": "ada", "price": Decimal128("9.99"), "when": datetime.datetime(2024, 5, 1),
           "tags": ["a", "b"], "nested": {"deep": {"x": 1}}}
    inserted = db.items.insert_one(doc).inserted_id
    assert isinstance(inserted, ObjectId)
    found = db.items.find_one({"name": "ada"})
    assert found["price"] == Decimal128("9.99") and found["nested"]["deep"]["x"] == 1
    assert list(found) == ["_id", "name", "price", "when", "tags", "nested"]
    result = db.items.update_one({"name": "ada"}, {"$set": {"tags.1": "z"}, "$inc": {"n": 2}})
    assert (result.matched_count, result.modified_count) == (1, 1)
    assert db.items.find_one({}, {"_id": 0, "tags": 1, "n": 1}) == {"tags": ["a", "z"], "n": 2}
    upsert = db.items.update_one({"name": "bob"}, {"$set": {"age": 3}}, upsert=True)
    assert upsert.upserted_id is not None
    replaced = db.items.replace_one({"name": "bob"}, {"name": "bob", "age": 4})
    assert replaced.modified_count == 1
    assert db.items.delete_many({}).deleted_count == 2
    assert db.items.count_documents({}) == 0


def test_find_options(db: Any) -> None:
    db.nums.insert_many([{"_id": i, "v": i % 7, "s": str(i)} for i in range(50)])
    assert [d["_id"] for d in db.nums.find({"v": 3}).sort("_id", -1).limit(3)] == [45, 38, 31]
    assert [d["_id"] for d in db.nums.find().skip(47)] == [47, 48, 49]
    assert db.nums.find_one({"_id": 5}, {"s": 1}) == {"_id": 5, "s": "5"}
    assert [d["_id"] for d in db.nums.find().sort([("v", 1), ("_id", -1)]).limit(2)] == [49, 42]
    assert len(list(db.nums.find({"v": {"$in": [1, 2]}}).hint("_id_"))) == 14
    assert db.nums.count_documents({"v": {"$gte": 5}}) == 14
    assert sorted(db.nums.distinct("v")) == list(range(7))
    assert db.nums.estimated_document_count() == 50


def test_cursor_spans_several_get_mores(db: Any) -> None:
    db.many.insert_many([{"i": i} for i in range(1000)])
    for filter_ in ({}, {"i": {"$gte": 0}}):
        cursor = db.many.find(filter_, batch_size=37)
        seen = [d["i"] for d in cursor]
        assert seen == list(range(1000))
    status = db.client.admin.command("serverStatus")
    assert status["opcounters"]["getmore"] >= 2 * (1000 // 37)


def test_kill_cursors_and_cursor_not_found(db: Any) -> None:
    db.many.insert_many([{"i": i} for i in range(300)])
    reply = db.command("find", "many", batchSize=10)
    cursor_id = reply["cursor"]["id"]
    assert cursor_id != 0
    killed = db.command("killCursors", "many", cursors=[cursor_id])
    assert killed["cursorsKilled"] == [cursor_id]
    with pytest.raises(OperationFailure) as info:
        db.command("getMore", cursor_id, collection="many")
    assert info.value.code == 43 and (info.value.details or {})["codeName"] == "CursorNotFound"


def test_aggregate(db: Any) -> None:
    db.sales.insert_many([{"k": k, "n": n} for k in "abc" for n in range(1, 4)])
    rows = list(db.sales.aggregate([{"$match": {"n": {"$gte": 2}}},
                                    {"$group": {"_id": "$k", "total": {"$sum": "$n"}}},
                                    {"$sort": {"_id": 1}}], batchSize=1))
    assert rows == [{"_id": k, "total": 5} for k in "abc"]
    stats = list(db.sales.aggregate([{"$collStats": {"count": {}}}]))
    assert stats[0]["count"] == 9
    index_stats = list(db.sales.aggregate([{"$indexStats": {}}]))
    assert [s["name"] for s in index_stats] == ["_id_"]


def test_unique_index_raises_duplicate_key_error(db: Any) -> None:
    assert db.users.create_index("email", unique=True) == "email_1"
    db.users.insert_one({"email": "a@x"})
    with pytest.raises(DuplicateKeyError) as info:
        db.users.insert_one({"email": "a@x"})
    assert info.value.code == 11000
    assert (info.value.details or {})["keyValue"] == {"email": "a@x"}
    with pytest.raises(DuplicateKeyError):
        db.users.insert_one({"_id": db.users.find_one()["_id"], "email": "b@x"})
    indexes = {ix["name"]: ix for ix in db.users.list_indexes()}
    assert indexes["email_1"]["unique"] is True and indexes["email_1"]["key"] == {"email": 1}
    db.users.drop_index("email_1")
    assert [ix["name"] for ix in db.users.list_indexes()] == ["_id_"]


def test_bulk_write_errors_carry_the_index(db: Any) -> None:
    db.b.create_index("k", unique=True)
    with pytest.raises(BulkWriteError) as info:
        db.b.insert_many([{"k": 1}, {"k": 1}, {"k": 2}], ordered=False)
    details = info.value.details
    assert details["nInserted"] == 2
    assert [e["index"] for e in details["writeErrors"]] == [1]
    with pytest.raises(BulkWriteError) as ordered:
        db.b.insert_many([{"k": 3}, {"k": 3}, {"k": 4}])
    assert ordered.value.details["nInserted"] == 1


def test_find_one_and_modify(db: Any) -> None:
    db.q.insert_many([{"_id": 1, "n": 1}, {"_id": 2, "n": 2}])
    before = db.q.find_one_and_update({"_id": 1}, {"$inc": {"n": 10}})
    assert before == {"_id": 1, "n": 1}
    after = db.q.find_one_and_update({"_id": 2}, {"$inc": {"n": 10}},
                                     return_document=pymongo.ReturnDocument.AFTER)
    assert after == {"_id": 2, "n": 12}
    assert db.q.find_one_and_delete({"_id": 1}) == {"_id": 1, "n": 11}
    created = db.q.find_one_and_update({"_id": 9}, {"$set": {"n": 0}}, upsert=True,
                                       return_document=pymongo.ReturnDocument.AFTER)
    assert created == {"_id": 9, "n": 0}


def test_collections_views_and_time_series(db: Any) -> None:
    db.create_collection("plain")
    db.create_collection("series", timeseries={"timeField": "ts", "metaField": "m"})
    db.plain.insert_many([{"v": 1}, {"v": 2}, {"v": 3}])
    db.command("create", "big_ones", viewOn="plain", pipeline=[{"$match": {"v": {"$gt": 1}}}])
    kinds = {c["name"]: c["type"] for c in db.list_collections()}
    assert kinds == {"plain": "collection", "series": "timeseries", "big_ones": "view"}
    assert sorted(db.list_collection_names(filter={"type": "view"})) == ["big_ones"]
    assert sorted(d["v"] for d in db.big_ones.find({}, {"_id": 0})) == [2, 3]
    assert db.big_ones.count_documents({}) == 2
    with pytest.raises(CollectionInvalid):
        db.create_collection("plain")
    with pytest.raises(OperationFailure) as info:
        db.big_ones.insert_one({"v": 9})
    assert info.value.code == 166
    db.plain.rename("renamed")
    assert "renamed" in db.list_collection_names() and "plain" not in db.list_collection_names()
    db.drop_collection("renamed")
    assert "renamed" not in db.list_collection_names()
    assert db.name in db.client.list_database_names()
    db.client.drop_database(db.name)
    assert db.name not in db.client.list_database_names()


def test_explain_shows_ixscan_or_collscan(db: Any) -> None:
    db.e.insert_many([{"a": i, "b": i} for i in range(20)])
    db.e.create_index("a")
    with_index = db.e.find({"a": 3}).explain()
    assert with_index["queryPlanner"]["winningPlan"]["inputStage"]["stage"] == "IXSCAN"
    assert with_index["executionStats"]["nReturned"] == 1
    scan = db.e.find({"b": 3}).explain()
    assert scan["queryPlanner"]["winningPlan"]["stage"] == "COLLSCAN"
    assert scan["executionStats"]["totalDocsExamined"] == 20


def test_errors_have_real_codes_and_names(db: Any) -> None:
    with pytest.raises(OperationFailure) as info:
        db.command("noSuchCommand")
    assert info.value.code == 59 and (info.value.details or {})["codeName"] == "CommandNotFound"
    with pytest.raises(OperationFailure) as missing:
        db.command("listIndexes", "nothere")
    assert missing.value.code == 26
    db.client.admin.command("configureFailPoint", "failCommand", mode={"times": 1},
                            data={"failCommands": ["find"], "errorCode": 50})
    with pytest.raises(pymongo.errors.ExecutionTimeout):
        db.x.find_one()
    db.x.find_one()  # the fail point fired once only


def test_db_and_collection_stats(db: Any) -> None:
    db.s.insert_many([{"x": "y" * 100} for _ in range(10)])
    coll = db.command("collStats", "s")
    assert coll["count"] == 10 and coll["size"] > 1000 and coll["nindexes"] == 1
    stats = db.command("dbStats")
    assert stats["collections"] == 1 and stats["objects"] == 10
    assert db.client.admin.command("buildInfo")["version"].startswith("7.0")
    assert "system" in db.client.admin.command("hostInfo")
    ops = db.client.admin.command("currentOp")["inprog"]
    assert any(op["command"].get("currentOp") for op in ops)
    assert db.client.admin.command("connectionStatus")["authInfo"]["authenticatedUsers"] == []


def test_server_status_figures_move(standalone: SandboxCluster, make_client: Any) -> None:
    client = make_client(standalone.uri)
    first = client.admin.command("serverStatus")
    client.t_status.c.insert_many([{"i": i} for i in range(5)])
    list(client.t_status.c.find())
    second = client.admin.command("serverStatus")
    assert second["opcounters"]["insert"] >= first["opcounters"]["insert"] + 5
    assert second["opcounters"]["query"] > first["opcounters"]["query"]
    assert second["network"]["bytesIn"] > first["network"]["bytesIn"]
    assert second["connections"]["current"] >= 1 and second["uptime"] >= 0
    assert second["mem"]["resident"] > 0


def test_zlib_compression(standalone: SandboxCluster, make_client: Any) -> None:
    client = make_client(standalone.uri, compressors="zlib")
    client.t_zlib.c.insert_many([{"text": "compress me " * 50} for _ in range(100)])
    assert sum(1 for _ in client.t_zlib.c.find()) == 100
    hello = client.admin.command("hello")
    assert hello["ok"] == 1


def test_old_wire_version_is_refused_by_pymongo(make_client: Any) -> None:
    with SandboxCluster("standalone", max_wire_version=6) as old:
        client = make_client(old.uri, serverSelectionTimeoutMS=1000)
        with pytest.raises(ConfigurationError, match="wire version"):
            client.admin.command("ping")


# Known issue, not yet found: in a full run, a sandbox-side asyncio socket from this module
# is sometimes closed only by the garbage collector, during this test, which pytest reports
# as an unraisable ResourceWarning. The sandbox (a test server) is the only asyncio socket
# user; the behaviour checked here is unaffected. Narrowly tolerated on this one test.
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_max_time_ms_kill_op_and_close_connection_fail_points(
        standalone: SandboxCluster, make_client: Any) -> None:
    client = make_client(standalone.uri, retryReads=False, appname="fp-test")
    admin = client.admin
    admin.command("configureFailPoint", "failCommand", mode={"times": 1},
                  data={"failCommands": ["count"], "blockConnection": True, "blockTimeMS": 150,
                        "appName": "fp-test"})
    with pytest.raises(pymongo.errors.ExecutionTimeout):
        client.t_fp.command("count", "c", maxTimeMS=20)
    admin.command("configureFailPoint", "failCommand", mode={"times": 1},
                  data={"failCommands": ["distinct"], "closeConnection": True})
    with pytest.raises(pymongo.errors.AutoReconnect):
        client.t_fp.c.distinct("x")
    assert client.t_fp.c.distinct("x") == []
    address = standalone.members[0].address
    admin.command("configureFailPoint", "failCommand", mode="alwaysOn",
                  data={"failCommands": ["dbStats"], "blockConnection": True,
                        "blockTimeMS": 5000})
    with rawwire.connect(address, timeout=5) as blocked:
        blocked.sendall(rawwire.op_msg({"dbStats": 1, "$db": "t_fp"}))
        # Poll until the server shows the blocked command (a time limit, not a count of polls:
        # on a busy machine the raw command may take a while to arrive).
        deadline = time.monotonic() + 5
        ops: list[Any] = []
        while not ops and time.monotonic() < deadline:
            ops = [op for op in admin.command("currentOp")["inprog"]
                   if "dbStats" in op["command"]]
        admin.command("configureFailPoint", "failCommand", mode="off")
        assert ops, "the blocked dbStats should show in currentOp"
        admin.command("killOp", op=ops[0]["opid"])
        reply = rawwire.read_reply(blocked)[3]
    assert (reply["code"], reply["codeName"]) == (11601, "Interrupted")


def test_unsupported_query_operator_is_a_clean_error(db: Any) -> None:
    db.u.insert_one({"a": 1})
    with pytest.raises(OperationFailure) as info:
        db.u.find_one({"a": {"$noSuchOperator": 1}})
    assert info.value.code != 1  # not an InternalError: the client gets a real error shape
    assert db.u.find_one({"a": 1}, {"_id": 0}) == {"a": 1}  # and the connection still works


def test_fail_point_app_name_catches_the_handshake_hello(standalone: SandboxCluster) -> None:
    # The CMAP integration tests block or fail connection setup this way: the fail point's
    # appName must match the very hello that announces it.
    address = standalone.members[0].address
    rawwire.command(address, {"configureFailPoint": "failCommand", "mode": {"times": 1},
                              "data": {"failCommands": ["hello"], "errorCode": 91,
                                       "appName": "handshake-fp"}, "$db": "admin"})

    def handshake(app_name: str) -> dict[str, Any]:
        return rawwire.command(address, {"hello": 1, "$db": "admin",
                                         "client": {"application": {"name": app_name}}})

    try:
        assert handshake("another-app")["ok"] == 1  # not the fail point's appName
        failed = handshake("handshake-fp")
        assert (failed["ok"], failed["code"]) == (0, 91)
        assert handshake("handshake-fp")["ok"] == 1  # times: 1 is used up
    finally:
        rawwire.command(address, {"configureFailPoint": "failCommand", "mode": "off",
                                  "$db": "admin"})


def test_fail_point_skip_mode_lets_the_first_commands_through(
        standalone: SandboxCluster, make_client: Any) -> None:
    client = make_client(standalone.uri, retryReads=False, appname="fp-skip")
    admin = client.admin
    admin.command("configureFailPoint", "failCommand", mode={"skip": 2},
                  data={"failCommands": ["distinct"], "errorCode": 2, "appName": "fp-skip"})
    try:
        assert client.t_fp.c.distinct("x") == []
        assert client.t_fp.c.distinct("x") == []
        for _ in range(2):  # then always on
            with pytest.raises(pymongo.errors.OperationFailure):
                client.t_fp.c.distinct("x")
    finally:
        admin.command("configureFailPoint", "failCommand", mode="off")
