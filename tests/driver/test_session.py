"""Sessions: the server session pool (unit), explicit and implicit sessions, causal
consistency and ``$clusterTime`` gossip, and ``endSessions`` on close (against the sandbox)."""

from __future__ import annotations

import time
from typing import Any

import pytest

from driver import MongoClient, WriteConcern
from driver.bson import Timestamp
from driver.errors import ConfigurationError, InvalidOperation
from driver.session import ServerSession, ServerSessionPool, SessionOptions, newer_cluster_time
from sandbox.cluster import SandboxCluster
from tests.driver.api_support import (  # noqa: F401  (fixtures)
    RecordingListener,
    client_fixture,
    coll_fixture,
    fresh_name,
    listener_fixture,
    replset_fixture,
    standalone_fixture,
)

# -- the server session pool (no server needed) ----------------------------------------------


def test_pool_reuses_most_recent_and_drops_expiring_sessions() -> None:
    pool = ServerSessionPool()
    first = pool.acquire(30)
    second = pool.acquire(30)
    assert first.session_id != second.session_id
    pool.release(first, 30)
    pool.release(second, 30)
    assert pool.acquire(30) is second  # LIFO
    # Within a minute of the server's timeout: never handed out again.
    first.last_use = time.monotonic() - 29.5 * 60
    assert pool.acquire(30) is not first
    assert len(pool) == 0


def test_dirty_sessions_are_discarded_and_drain_returns_ids() -> None:
    pool = ServerSessionPool()
    dirty = pool.acquire(30)
    dirty.dirty = True
    pool.release(dirty, 30)
    assert len(pool) == 0
    clean = pool.acquire(30)
    pool.release(clean, 30)
    assert pool.drain() == [clean.session_id]
    assert len(pool) == 0
    clean_again = ServerSession(0)  # from the generation before the drain
    pool.release(clean_again, 30)
    assert len(pool) == 0


def test_session_ids_are_uuid_binaries() -> None:
    session = ServerSession(0)
    binary = session.session_id["id"]
    assert binary.subtype == 4 and len(binary) == 16
    assert session.next_txn_number() == 1 and session.next_txn_number() == 2


def test_cluster_time_only_moves_forward() -> None:
    early = {"clusterTime": Timestamp(100, 1)}
    late = {"clusterTime": Timestamp(100, 2)}
    assert newer_cluster_time(None, early) is early
    assert newer_cluster_time(early, late) is late
    assert newer_cluster_time(late, early) is late
    assert newer_cluster_time(late, None) is late


def test_session_options() -> None:
    assert SessionOptions().causal_consistency is True
    assert SessionOptions(snapshot=True).causal_consistency is False
    with pytest.raises(InvalidOperation):
        SessionOptions(causal_consistency=True, snapshot=True)


# -- against the sandbox -------------------------------------------------------------------------


def test_explicit_session_sends_its_lsid(client: MongoClient, coll: Any,
                                         listener: RecordingListener) -> None:
    with client.start_session() as session:
        coll.insert_one({"a": 1}, session=session)
        coll.find_one({}, session=session)
        lsid = session.session_id
        assert lsid["id"].subtype == 4
    assert listener.commands("insert")[-1]["lsid"] == lsid
    assert listener.commands("find")[-1]["lsid"] == lsid
    assert session.has_ended
    with pytest.raises(InvalidOperation, match="ended session"):
        coll.find_one({}, session=session)


def test_implicit_sessions_are_pooled(client: MongoClient, coll: Any,
                                      listener: RecordingListener) -> None:
    for i in range(5):
        coll.insert_one({"i": i})
    lsids = {repr(cmd["lsid"]) for cmd in listener.commands("insert")}
    assert len(lsids) == 1  # one server session, reused one operation after another


def test_session_from_another_client_is_refused(client: MongoClient,
                                                standalone: SandboxCluster) -> None:
    with MongoClient(standalone.uri) as other:
        with other.start_session() as foreign:
            with pytest.raises(InvalidOperation, match="MongoClient that started it"):
                client.db.c.find_one({}, session=foreign)


def test_unacknowledged_write_with_explicit_session_is_refused(client: MongoClient) -> None:
    fast = client.db.c.with_options(write_concern=WriteConcern(w=0))
    with client.start_session() as session:
        with pytest.raises(ConfigurationError, match="unacknowledged"):
            fast.insert_one({}, session=session)


def test_causal_consistency_and_cluster_time(replset: SandboxCluster) -> None:
    listener = RecordingListener()
    client = MongoClient(replset.uri, serverSelectionTimeoutMS=5000, event_listeners=[listener])
    try:
        coll = client.db[fresh_name()]
        with client.start_session(causal_consistency=True) as session:
            coll.insert_one({"x": 1}, session=session)
            assert "readConcern" not in listener.commands("insert")[-1]
            # Advanced by the reply when the server reports operationTime, else by hand,
            # as an application passing times between sessions would.
            if session.operation_time is None:
                session.advance_operation_time(Timestamp(1_700_000_000, 5))
            seen = session.operation_time
            session.advance_operation_time(Timestamp(1, 1))  # never backwards
            assert session.operation_time == seen
            assert coll.find_one({"x": 1}, session=session)["x"] == 1
            sent = listener.commands("find")[-1]
            assert sent["readConcern"]["afterClusterTime"] == seen
            later = {"clusterTime": Timestamp(4_000_000_000, 7), "signature": {}}
            session.advance_cluster_time(later)
            coll.find_one({"x": 1}, session=session)
            assert listener.commands("find")[-1]["$clusterTime"] == later
        with client.start_session(causal_consistency=False) as loose:
            loose.advance_operation_time(Timestamp(1_700_000_000, 5))
            coll.find_one({}, session=loose)
            assert "readConcern" not in listener.commands("find")[-1]
        # Retryable writes against a replica set carry a txnNumber.
        coll.insert_one({"y": 1})
        assert int(listener.commands("insert")[-1]["txnNumber"]) >= 1
    finally:
        client.close()


def test_replies_advance_the_session(standalone: SandboxCluster) -> None:
    with MongoClient(standalone.uri, connect=False) as client:
        session = client.start_session()
        session._process_reply({"ok": 1, "operationTime": Timestamp(10, 1),
                                "$clusterTime": {"clusterTime": Timestamp(10, 1)}})
        session._process_reply({"ok": 1, "operationTime": Timestamp(9, 1)})
        assert session.operation_time == Timestamp(10, 1)
        assert session.cluster_time == {"clusterTime": Timestamp(10, 1)}
        session.end_session()


def test_close_ends_pooled_sessions(standalone: SandboxCluster) -> None:
    listener = RecordingListener()
    client = MongoClient(standalone.uri, event_listeners=[listener])
    client.db.c.insert_one({})
    with client.start_session() as session:
        client.db.c.find_one({}, session=session)
    used = {repr(cmd["lsid"]) for cmd in listener.commands("insert") + listener.commands("find")}
    client.close()
    ended = listener.commands("endSessions")
    assert len(ended) == 1
    assert {repr(lsid) for lsid in ended[0]["endSessions"]} == used
