"""Cursors end to end: lazy batches over many ``getMore``s, early kills (explicit and by
the garbage collector through the reaper thread), limits, raw batches, command cursors."""

from __future__ import annotations

import gc
import threading
from typing import Any

import pytest

from driver import CursorType, MongoClient
from driver.bson import Int64, decode_all
from driver.errors import CursorNotFound, InvalidOperation, OperationFailure
from tests.driver.api_support import (  # noqa: F401  (fixtures)
    RecordingListener,
    client_fixture,
    coll_fixture,
    fresh_name,
    listener_fixture,
    standalone_fixture,
)


@pytest.fixture()
def filled(coll: Any) -> Any:
    coll.insert_many([{"_id": i, "v": i % 7} for i in range(1000)])
    return coll


def test_find_is_lazy_and_walks_many_get_mores(filled: Any, listener: RecordingListener) -> None:
    listener.clear()
    cursor = filled.find({}, batch_size=50, sort=[("_id", 1)])
    assert cursor.alive and cursor.cursor_id is None
    assert listener.commands("find") == []  # nothing sent before iteration
    ids = [doc["_id"] for doc in cursor]
    assert ids == list(range(1000))
    assert len(listener.commands("find")) == 1
    get_mores = listener.commands("getMore")
    assert len(get_mores) >= 19
    assert all(cmd["batchSize"] == 50 for cmd in get_mores)
    assert cursor.alive is False and cursor.cursor_id == 0 and cursor.retrieved == 1000
    assert listener.commands("killCursors") == []  # exhausted cursors need no kill


def test_close_early_kills_the_server_cursor(filled: Any, listener: RecordingListener) -> None:
    cursor = filled.find({}, batch_size=10)
    first = [next(cursor) for _ in range(15)]
    assert len(first) == 15
    cursor_id = cursor.cursor_id
    assert cursor_id
    cursor.close()
    assert cursor.alive is False
    kills = listener.commands("killCursors")
    assert kills and kills[-1]["cursors"] == [cursor_id]
    with pytest.raises(StopIteration):
        next(cursor)
    # The server no longer knows it.
    with pytest.raises(CursorNotFound):
        filled.database.command("getMore", Int64(cursor_id), collection=filled.name)


def test_garbage_collected_cursor_is_killed_by_the_reaper(
    filled: Any, listener: RecordingListener
) -> None:
    killed = threading.Event()
    original = listener.started

    def watch(event: Any) -> None:
        original(event)
        if event.command_name == "killCursors":
            killed.set()

    listener.started = watch  # type: ignore[method-assign]
    cursor = filled.find({}, batch_size=5)
    next(cursor)
    cursor_id = cursor.cursor_id
    main_thread = threading.current_thread()
    del cursor
    gc.collect()
    assert killed.wait(5), "the reaper did not send killCursors"
    kill_events = [e for e in listener.started_events if e.command_name == "killCursors"]
    assert dict(kill_events[-1].command)["cursors"] == [cursor_id]
    # Sent by the reaper, not by the thread that dropped the cursor.
    assert threading.current_thread() is main_thread


def test_limit_skip_and_negative_limit(filled: Any, listener: RecordingListener) -> None:
    docs = list(filled.find({}, sort=[("_id", 1)], skip=3, limit=25, batch_size=10))
    assert [d["_id"] for d in docs] == list(range(3, 28))
    assert [c.get("batchSize") for c in listener.commands("getMore")][-2:] == [10, 5]
    listener.clear()
    single = list(filled.find({}, limit=-30))
    assert len(single) == 30
    assert listener.commands("find")[-1]["singleBatch"] is True
    assert listener.commands("getMore") == []


def test_modifiers_rewind_clone_and_indexing(filled: Any) -> None:
    cursor = filled.find({"v": 3}).sort("_id", -1).limit(4)
    first = cursor.to_list()
    assert [d["_id"] for d in first] == [997, 990, 983, 976]
    with pytest.raises(InvalidOperation, match="already run its query"):
        cursor.limit(1)
    cursor.rewind()
    assert cursor.to_list(2) == first[:2]
    clone = cursor.clone()
    assert [d["_id"] for d in clone] == [997, 990, 983, 976]
    assert filled.find().sort("_id")[5]["_id"] == 5
    assert [d["_id"] for d in filled.find().sort("_id")[10:13]] == [10, 11, 12]
    with pytest.raises(IndexError):
        _ = filled.find({"v": 99})[0]
    assert sorted(filled.find({"_id": {"$lt": 20}}).distinct("v")) == list(range(7))
    plan = filled.find({"v": 1}).explain()
    assert plan["queryPlanner"]["namespace"] == filled.full_name
    with filled.find(batch_size=2) as scoped:
        next(scoped)
    assert scoped.alive is False
    with pytest.raises(ValueError):
        filled.find().to_list(0)
    with pytest.raises(TypeError):
        filled.find().limit("5")


def test_tailable_cursor_options_are_sent(coll: Any, listener: RecordingListener) -> None:
    capped = coll.database.create_collection(fresh_name("capped"), capped=True, size=100000)
    capped.insert_many([{"i": i} for i in range(3)])
    cursor = capped.find({}, cursor_type=CursorType.TAILABLE_AWAIT, max_await_time_ms=50)
    try:
        assert [d["i"] for d in cursor.to_list(3)] == [0, 1, 2]
    except OperationFailure as error:
        if "not supported by the sandbox" not in str(error):
            raise
        pytest.skip(f"the sandbox refuses tailable cursors: {error}")
    finally:
        sent = listener.commands("find")[-1]
        assert sent["tailable"] is True and sent["awaitData"] is True
        cursor.close()


def test_find_raw_batches(filled: Any, listener: RecordingListener) -> None:
    decoded = list(filled.find({}, sort=[("_id", 1)]))
    batches = list(filled.find_raw_batches({}, sort=[("_id", 1)], batch_size=300))
    assert all(isinstance(batch, bytes) for batch in batches)
    assert [len(decode_all(batch)) for batch in batches] == [300, 300, 300, 100]
    assert [doc for batch in batches for doc in decode_all(batch)] == decoded
    limited = list(filled.find_raw_batches({}, limit=50, batch_size=20))
    assert sum(len(decode_all(b)) for b in limited) == 50
    empty = list(filled.find_raw_batches({"v": 99}))
    assert empty == []
    with pytest.raises(InvalidOperation):
        filled.find_raw_batches().explain()


def test_aggregate_raw_batches(filled: Any) -> None:
    batches = list(filled.aggregate_raw_batches([{"$match": {"v": 0}}], batchSize=40))
    assert sum(len(decode_all(b)) for b in batches) == 143
    assert len(batches) == 4


def test_command_cursor_batches(filled: Any, listener: RecordingListener) -> None:
    cursor = filled.aggregate([{"$match": {"v": {"$lt": 7}}}, {"$sort": {"_id": 1}}],
                              batchSize=100)
    assert cursor.alive
    assert [d["_id"] for d in cursor] == list(range(1000))
    assert len(listener.commands("getMore")) >= 9
    assert cursor.alive is False
    early = filled.aggregate([{"$match": {}}], batchSize=10)
    next(early)
    early_id = early.cursor_id
    early.close()
    assert listener.commands("killCursors")[-1]["cursors"] == [early_id]


def test_cursor_in_an_explicit_session(client: MongoClient, filled: Any,
                                       listener: RecordingListener) -> None:
    with client.start_session() as session:
        ids = [d["_id"] for d in filled.find({}, batch_size=400, session=session)]
        assert len(ids) == 1000
        lsid = session.session_id
    assert listener.commands("find")[-1]["lsid"] == lsid
    assert all(cmd["lsid"] == lsid for cmd in listener.commands("getMore"))
