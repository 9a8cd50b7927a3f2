"""Failover against a sandbox replica set: retryable writes and reads across a step-down
and a killed primary. Every acknowledged write must be there exactly once afterwards."""

from __future__ import annotations

import time
from typing import Any

import pytest

from driver import MongoClient
from driver.errors import AutoReconnect
from sandbox.cluster import SandboxCluster
from tests.driver.api_support import RecordingListener, fresh_name


@pytest.fixture()
def cluster() -> Any:
    with SandboxCluster(kind="replset", members=3, election_delay=0.2) as replset:
        replset.wait_for_primary()
        yield replset


def _insert_loop(coll: Any, count: int, disrupt_at: int, disrupt: Any) -> tuple[list[int], list[str]]:
    acknowledged: list[int] = []
    surfaced: list[str] = []
    for i in range(count):
        if i == disrupt_at:
            disrupt()
        try:
            coll.insert_one({"_id": i})
            acknowledged.append(i)
        except AutoReconnect as error:  # only when the retry failed too
            surfaced.append(repr(error))
    return acknowledged, surfaced


def test_step_down_during_inserts(cluster: SandboxCluster) -> None:
    listener = RecordingListener()
    # Polling once a minute: the client cannot learn of the step-down from its monitor
    # before the next insert (a streaming monitor often did, and the insert then went
    # straight to the new primary: nothing failed, nothing was retried, nothing proved).
    client = MongoClient(cluster.uri, serverSelectionTimeoutMS=10000, event_listeners=[listener],
                         serverMonitoringMode="poll", heartbeatFrequencyMS=60_000)
    try:
        coll = client.db[fresh_name("failover")]
        acknowledged, surfaced = _insert_loop(coll, 200, 60, cluster.step_down)
        assert surfaced == []
        ids = [doc["_id"] for doc in coll.find({}, sort=[("_id", 1)])]
        assert ids == sorted(set(ids)), "a document was written twice"
        assert set(acknowledged) <= set(ids)
        assert len(acknowledged) == 200
        failed = listener.failures("insert")
        assert failed, "the step-down never reached an insert; the test proved nothing"
        # The retry reused the transaction number of the failed attempt.
        retried = [c for c in listener.commands("insert")
                   if int(c["txnNumber"]) == int(_command_of(failed[0], listener)["txnNumber"])]
        assert len(retried) == 2
        new_primary = cluster.wait_for_primary()
        deadline = time.monotonic() + 10
        while client.primary != (new_primary.host, new_primary.port):
            assert time.monotonic() < deadline, "the client never saw the new primary"
            client.admin.command("ping")
    finally:
        client.close()


def test_killed_primary_then_new_primary_found(cluster: SandboxCluster) -> None:
    client = MongoClient(cluster.uri, serverSelectionTimeoutMS=10000)
    try:
        coll = client.db[fresh_name("killed")]
        primary = cluster.wait_for_primary()
        acknowledged, surfaced = _insert_loop(coll, 120, 40, lambda: cluster.kill(primary.index))
        # A killed primary may surface one AutoReconnect if the retry found no primary
        # within the selection; every acknowledged write must be present exactly once.
        assert len(surfaced) <= 1
        ids = [doc["_id"] for doc in coll.find({}, sort=[("_id", 1)])]
        assert ids == sorted(set(ids))
        assert set(acknowledged) <= set(ids)
        assert len(acknowledged) >= 119
        deadline = time.monotonic() + 10
        while client.primary in (None, (primary.host, primary.port)):
            assert time.monotonic() < deadline, "the client never saw the new primary"
            client.admin.command("ping")
        cluster.restart(primary.index)
    finally:
        client.close()


def test_retryable_read_after_step_down(cluster: SandboxCluster) -> None:
    client = MongoClient(cluster.uri, serverSelectionTimeoutMS=10000)
    try:
        coll = client.db[fresh_name("reads")]
        coll.insert_many([{"i": i} for i in range(10)])
        for round_number in range(3):
            cluster.step_down()
            assert coll.count_documents({}) == 10, f"round {round_number}"
            cluster.wait_for_primary()
    finally:
        client.close()


def _command_of(failed_event: Any, listener: RecordingListener) -> dict[str, Any]:
    for event in listener.started_events:
        if event.request_id == failed_event.request_id:
            return dict(event.command)
    raise AssertionError("no started event for the failed command")


def test_killed_router_retries_on_the_other_one() -> None:
    with SandboxCluster(kind="sharded", members=2) as routers:
        listener = RecordingListener()
        # Polling once a minute: the monitors cannot notice the kill before an insert
        # does (a streaming monitor's pending hello sees the socket close at once, and
        # then no insert would ever meet the dead router: correct, but nothing to test).
        client = MongoClient(routers.uri, serverSelectionTimeoutMS=5000,
                             serverMonitoringMode="poll", heartbeatFrequencyMS=60_000,
                             event_listeners=[listener])
        try:
            coll = client.db[fresh_name("routers")]
            acknowledged, surfaced = _insert_loop(coll, 120, 40, lambda: routers.kill(0))
            assert surfaced == [] and len(acknowledged) == 120
            ids = [doc["_id"] for doc in coll.find()]
            assert sorted(ids) == list(range(120))
            assert listener.failures("insert"), "the kill never reached an insert"
            dead = routers.members[0]
            failed_id = listener.failures("insert")[0].request_id
            inserts = [e for e in listener.started_events if e.command_name == "insert"]
            position = next(i for i, e in enumerate(inserts) if e.request_id == failed_id)
            # The retry went to the other router (the dead one is deprioritized).
            assert inserts[position].connection_id == (dead.host, dead.port)
            assert inserts[position + 1].connection_id != (dead.host, dead.port)
        finally:
            client.close()
