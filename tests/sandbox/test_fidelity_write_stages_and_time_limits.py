"""PyMongo against the sandbox: ``aggregate`` ending in ``$out`` or ``$merge`` (targets, ``on``,
``whenMatched``/``whenNotMatched``, write concern, errors) and ``maxTimeMS`` made to expire with
the ``failCommand`` fail point's ``blockConnection``."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from pymongo import WriteConcern
from pymongo.errors import ExecutionTimeout, OperationFailure

from sandbox.cluster import SandboxCluster


@pytest.fixture
def db(standalone: SandboxCluster, make_client: Any, request: pytest.FixtureRequest) -> Any:
    client = make_client(standalone.uri)
    name = "t_ws_" + request.node.name.replace("[", "_").replace("]", "")[:40]
    client.drop_database(name)
    client.drop_database(name + "_other")
    database = client[name]
    database.src.insert_many([{"_id": i, "k": i % 3, "v": i} for i in range(9)])
    return database


def _aggregate_reply(db: Any, pipeline: list[Any], **extra: Any) -> Any:
    return db.command("aggregate", "src", pipeline=pipeline, cursor={}, **extra)


def test_out_replaces_the_target_keeps_its_indexes_and_answers_an_empty_cursor(db: Any) -> None:
    db.dst.insert_many([{"_id": 0, "old": True}, {"_id": 100}])
    db.dst.create_index("old")
    reply = _aggregate_reply(db, [{"$match": {"k": 0}}, {"$out": "dst"}])
    assert reply["cursor"] == {"firstBatch": [], "id": 0, "ns": f"{db.name}.src"}
    assert list(db.dst.find().sort("_id", 1)) == [{"_id": i, "k": 0, "v": i} for i in (0, 3, 6)]
    assert "old_1" in db.dst.index_information()
    other = db.client[db.name + "_other"]
    assert list(db.src.aggregate([{"$match": {"k": 1}}, {"$out": {"db": other.name,
                                                                   "coll": "o"}}])) == []
    assert sorted(d["_id"] for d in other.o.find()) == [1, 4, 7]
    db.src.aggregate([{"$match": {"k": 2}}, {"$out": "src"}])  # into itself
    assert db.src.count_documents({}) == 3


def test_out_is_all_or_nothing(db: Any) -> None:
    db.dst.insert_one({"_id": "kept"})
    with pytest.raises(OperationFailure) as info:
        db.src.aggregate([{"$project": {"_id": "$k"}}, {"$out": "dst"}])
    assert info.value.code == 11000
    assert list(db.dst.find()) == [{"_id": "kept"}]


def test_merge_defaults_on_id_merge_and_insert(db: Any) -> None:
    db.m.insert_many([{"_id": 0, "old": True, "v": -1}, {"_id": 100, "keep": 1}])
    strong = db.src.with_options(write_concern=WriteConcern(w=1, j=True))
    assert list(strong.aggregate([{"$match": {"k": 0}}, {"$project": {"v": 1}},
                                  {"$merge": {"into": "m"}}])) == []
    assert list(db.m.find().sort("_id", 1)) == [
        {"_id": 0, "old": True, "v": 0}, {"_id": 3, "v": 3}, {"_id": 6, "v": 6},
        {"_id": 100, "keep": 1}]
    other = db.client[db.name + "_other"]
    db.src.aggregate([{"$match": {"k": 1}}, {"$merge": {"into": {"db": other.name,
                                                                 "coll": "x"}}}])
    assert other.x.count_documents({}) == 3
    db.src.aggregate([{"$match": {"_id": 1}}, {"$merge": "plain"}])  # the string form
    assert db.plain.find_one() == {"_id": 1, "k": 1, "v": 1}


def test_merge_when_matched_and_when_not_matched(db: Any) -> None:
    db.m.insert_many([{"_id": 0, "old": True}, {"_id": 3, "old": True}])
    db.src.aggregate([{"$project": {"z": "$v"}},
                      {"$merge": {"into": "m", "whenMatched": "replace",
                                  "whenNotMatched": "discard"}}])
    assert list(db.m.find().sort("_id", 1)) == [{"_id": 0, "z": 0}, {"_id": 3, "z": 3}]
    db.src.aggregate([{"$merge": {"into": "m", "whenMatched": "keepExisting"}}])
    assert db.m.count_documents({}) == 9 and db.m.find_one({"_id": 0}) == {"_id": 0, "z": 0}
    with pytest.raises(OperationFailure) as failed:
        db.src.aggregate([{"$merge": {"into": "m", "whenMatched": "fail"}}])
    assert failed.value.code == 11000
    db.src.aggregate([{"$match": {"k": 0}},
                      {"$merge": {"into": "m", "whenMatched": "merge", "whenNotMatched": "fail"}}])
    with pytest.raises(OperationFailure) as none:
        db.src.aggregate([{"$addFields": {"_id": "new"}},
                          {"$merge": {"into": "m", "whenNotMatched": "fail"}}])
    assert none.value.code == 13113
    assert (none.value.details or {})["codeName"] == "MergeStageNoMatchingDocument"


def test_merge_on_other_fields_needs_a_unique_index(db: Any) -> None:
    grouped = [{"$group": {"_id": "$k", "n": {"$sum": 1}}},
               {"$project": {"_id": 0, "k": "$_id", "n": 1}}]
    with pytest.raises(OperationFailure) as info:
        db.src.aggregate([*grouped, {"$merge": {"into": "byk", "on": "k"}}])
    assert info.value.code == 51183
    db.byk.create_index("k", unique=True)
    db.byk.insert_one({"k": 0, "n": 0, "note": "existing"})
    db.src.aggregate([*grouped, {"$merge": {"into": "byk", "on": ["k"]}}])
    assert sorted((d["k"], d["n"]) for d in db.byk.find()) == [(0, 3), (1, 3), (2, 3)]
    assert db.byk.find_one({"k": 0})["note"] == "existing"
    with pytest.raises(OperationFailure) as null_on:
        db.src.aggregate([{"$project": {"k": None}}, {"$merge": {"into": "byk", "on": "k"}}])
    assert null_on.value.code == 51132


@pytest.mark.parametrize(("pipeline", "code"), [
    ([{"$out": "a"}, {"$match": {}}], 40601),
    ([{"$merge": {"into": "a"}}, {"$match": {}}], 40601),
    ([{"$merge": {"on": "_id"}}], 40414),
    ([{"$merge": {"into": "a", "bogus": 1}}], 40415),
    ([{"$merge": {"into": "a", "whenMatched": "nope"}}], 2),
    ([{"$merge": {"into": "a", "whenNotMatched": "replace"}}], 2),
    ([{"$out": 5}], 16990),
])
def test_write_stage_errors(db: Any, pipeline: list[Any], code: int) -> None:
    with pytest.raises(OperationFailure) as info:
        db.src.aggregate(pipeline)
    assert info.value.code == code
    assert "a" not in db.list_collection_names()


@pytest.fixture
def block_find(standalone: SandboxCluster, make_client: Any) -> Iterator[Any]:
    """A client whose next find/aggregate/count/distinct is held 200 ms by the fail point."""
    client = make_client(standalone.uri, retryReads=False, appname="max-time")
    admin = client.admin

    def block(command: str, millis: int = 200) -> None:
        admin.command("configureFailPoint", "failCommand", mode={"times": 1},
                      data={"failCommands": [command], "blockConnection": True,
                            "blockTimeMS": millis, "appName": "max-time"})

    client.block = block
    yield client
    admin.command("configureFailPoint", "failCommand", mode="off")


@pytest.mark.parametrize("command", ["find", "aggregate", "count", "distinct"])
def test_max_time_ms_expires_when_a_block_outlasts_it(block_find: Any, command: str) -> None:
    coll = block_find.t_max_time.c
    coll.insert_one({"x": 1})
    run: Callable[[], Any] = {
        "find": lambda: coll.find_one({}, max_time_ms=50),
        "aggregate": lambda: list(coll.aggregate([], maxTimeMS=50)),
        "count": lambda: coll.estimated_document_count(maxTimeMS=50),  # the count command
        "distinct": lambda: coll.distinct("x", maxTimeMS=50),
    }[command]
    block_find.block(command)
    started = time.monotonic()
    with pytest.raises(ExecutionTimeout) as info:
        run()
    assert time.monotonic() - started >= 0.2  # the block is not cut short, as on a server
    assert info.value.code == 50
    details = info.value.details or {}
    assert (details["codeName"], details["errmsg"]) == ("MaxTimeMSExpired",
                                                       "operation exceeded time limit")
    block_find.block(command, millis=10)
    run()  # a block shorter than the limit: the command succeeds


def test_expired_write_is_not_applied(block_find: Any) -> None:
    coll = block_find.t_max_time.w
    block_find.block("insert", millis=150)
    with pytest.raises(ExecutionTimeout):
        block_find.t_max_time.command("insert", "w", documents=[{"_id": 1}], maxTimeMS=20)
    assert coll.count_documents({}) == 0


def test_max_time_ms_is_validated(block_find: Any) -> None:
    database = block_find.t_max_time
    with pytest.raises(OperationFailure) as negative:
        database.command("count", "c", maxTimeMS=-1)
    assert negative.value.code == 2
    with pytest.raises(OperationFailure) as wrong_type:
        database.command("count", "c", maxTimeMS="soon")
    assert wrong_type.value.code == 14
    assert database.command("count", "c", maxTimeMS=0)["ok"] == 1.0  # 0 = no limit
