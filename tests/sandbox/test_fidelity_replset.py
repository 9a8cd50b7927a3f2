"""PyMongo against a sandbox replica set: discovery, failover, retryable writes, kill/restart,
secondary reads and writes, lag, hidden members, arbiters, replSetGetStatus."""

from __future__ import annotations

import threading
from typing import Any

import bson
import pymongo
import pytest
from pymongo import ReadPreference, monitoring
from pymongo.errors import NotPrimaryError

from sandbox.cluster import SandboxCluster
from tests.sandbox import rawwire


def _addr(info: Any) -> tuple[str, int]:
    return (info.host, info.port)


def test_discovery_from_one_seed(replset: SandboxCluster, make_client: Any) -> None:
    members = replset.members
    seed = members[2].address
    client = client_knowing_secondaries(make_client, f"mongodb://{seed}/?replicaSet=rs0", 2)
    assert client.primary == _addr(members[0])
    assert client.secondaries == {_addr(members[1]), _addr(members[2])}
    hello = client.admin.command("hello")
    assert hello["setName"] == "rs0" and hello["isWritablePrimary"] is True
    assert set(hello["hosts"]) == {m.address for m in members}
    assert "electionId" in hello and "lastWrite" in hello


def test_step_down_then_retryable_write_succeeds_on_new_primary(
        replset: SandboxCluster, make_client: Any) -> None:
    client = make_client(replset.uri)
    client.db.c.insert_one({"n": 1})
    old = replset.primary
    assert old is not None
    term_before = client.admin.command("replSetGetStatus")["term"]
    election_before = client.admin.command("hello")["electionId"]
    replset.step_down()
    # PyMongo's first attempt hits the old primary (NotWritablePrimary + RetryableWriteError),
    # then it retries once on the newly elected primary.
    client.db.c.insert_one({"n": 2})
    new = replset.primary
    assert new is not None and new.index != old.index
    assert client.primary == _addr(new)
    assert client.db.c.count_documents({}) == 2
    hello = client.admin.command("hello")
    assert hello["electionId"] > election_before
    assert client.admin.command("replSetGetStatus")["term"] == term_before + 1


def test_non_retryable_write_on_old_primary_fails(replset: SandboxCluster,
                                                  make_client: Any) -> None:
    old = replset.primary
    client = make_client(replset.uri_for(old))
    replset.step_down()
    with pytest.raises(NotPrimaryError):
        client.db.c.insert_one({"n": 1})


def test_kill_and_restart_a_member(replset: SandboxCluster, make_client: Any) -> None:
    client = make_client(replset.uri)
    client.db.c.insert_one({"before": True})
    old = replset.primary
    assert old is not None
    process_before = client.admin.command("hello")["topologyVersion"]["processId"]
    replset.kill(old)
    client.db.c.insert_one({"after": True})  # retried on the new primary after the election
    assert replset.primary is not None and replset.primary.index != old.index
    assert [m.alive for m in replset.members].count(False) == 1
    status = client.admin.command("replSetGetStatus")
    dead = status["members"][old.index]
    assert dead["health"] == 0.0 and dead["stateStr"] == "DOWN"
    replset.restart(old)
    back = make_client(replset.uri_for(old))
    hello = back.admin.command("hello")
    assert hello["secondary"] is True
    assert hello["topologyVersion"]["processId"] != process_before
    assert back.db.c.count_documents({}) == 2  # the members share one data store


def test_killed_member_drops_its_connections(replset: SandboxCluster, make_client: Any) -> None:
    target = replset.members[1]
    client = make_client(replset.uri_for(target), serverSelectionTimeoutMS=500)
    client.admin.command("ping")
    replset.kill(target)
    with pytest.raises(pymongo.errors.PyMongoError):
        client.admin.command("ping")


def test_no_majority_means_no_primary(replset: SandboxCluster, make_client: Any) -> None:
    members = replset.members
    replset.kill(members[1])
    replset.kill(members[0])
    client = make_client(replset.uri_for(members[2]))
    assert client.admin.command("hello")["isWritablePrimary"] is False
    replset.restart(members[1])
    primary = replset.wait_for_primary(timeout=5)
    assert primary.index in (1, 2)


def test_secondary_reads_need_secondary_ok(replset: SandboxCluster, make_client: Any) -> None:
    client = make_client(replset.uri)
    client.db.c.insert_one({"x": 1})
    secondary = replset.members[1]
    direct = make_client(replset.uri_for(secondary))
    # A direct connection sends primaryPreferred, so the secondary serves the read ...
    assert direct.db.c.find_one({}, {"_id": 0}) == {"x": 1}
    # ... but a command that names no read preference is refused, as a real secondary does.
    refused = rawwire.command(secondary.address, {"find": "c", "$db": "db"})
    assert (refused["ok"], refused["code"], refused["codeName"]) == (
        0.0, 13435, "NotPrimaryNoSecondaryOk")
    allowed = rawwire.command(secondary.address, {"find": "c", "$db": "db",
                                                  "$readPreference": {"mode": "secondary"}})
    assert allowed["cursor"]["firstBatch"][0]["x"] == 1
    with pytest.raises(NotPrimaryError):
        direct.db.c.insert_one({"x": 2})
    secondary_reader = client.get_database("db", read_preference=ReadPreference.SECONDARY)
    assert secondary_reader.c.find_one({}, {"_id": 0}) == {"x": 1}


def test_lag_hidden_and_arbiter(replset: SandboxCluster, make_client: Any) -> None:
    client = make_client(replset.uri)
    client.db.c.insert_one({"x": 1})
    replset.set_lag(1, 30)
    replset.set_latency(2, 5)
    lagging = make_client(replset.uri_for(1)).admin.command("hello")
    primary = client.admin.command("hello")
    lag = primary["lastWrite"]["lastWriteDate"] - lagging["lastWrite"]["lastWriteDate"]
    assert lag.total_seconds() >= 20
    arbiter = replset.add_arbiter()
    replset.hide(2)
    hello = client.admin.command("hello")
    assert hello["arbiters"] == [arbiter.address]
    assert replset.members[2].address not in hello["hosts"]
    assert hello["setVersion"] >= 3
    assert make_client(replset.uri_for(2)).admin.command("hello")["hidden"] is True
    status = client.admin.command("replSetGetStatus")
    assert [m["stateStr"] for m in status["members"]] == [
        "PRIMARY", "SECONDARY", "SECONDARY", "ARBITER"]
    assert status["members"][2]["pingMs"] >= 5
    assert status["members"][1]["syncSourceHost"] == replset.members[0].address


def test_replset_step_down_command(replset: SandboxCluster, make_client: Any) -> None:
    client = make_client(replset.uri)
    assert client.admin.command("replSetStepDown", 10)["ok"] == 1.0  # 4.2+: no disconnect
    primary = replset.wait_for_primary(timeout=5)
    assert primary.index != 0


def test_max_staleness_avoids_a_lagging_secondary(replset: SandboxCluster,
                                                  make_client: Any) -> None:
    members = replset.members
    replset.set_lag(1, 200)
    client = client_knowing_secondaries(make_client, replset.uri, 2)
    client.db.c.insert_one({"x": 1})
    fresh_only = client.get_database(
        "db", read_preference=pymongo.read_preferences.Secondary(max_staleness=90))
    for _ in range(5):
        cursor = fresh_only.c.find({})
        assert next(cursor)["x"] == 1
        assert cursor.address == _addr(members[2])


def test_transactions_are_refused_clearly(replset: SandboxCluster, make_client: Any) -> None:
    client = make_client(replset.uri)
    client.db.c.insert_one({"x": 1})
    with client.start_session() as session:
        session.start_transaction()
        with pytest.raises(pymongo.errors.OperationFailure) as info:
            client.db.c.insert_one({"x": 2}, session=session)
        assert info.value.code == 263
    assert client.db.c.count_documents({}) == 1


class SecondariesKnown(monitoring.TopologyListener):
    """Sets an event once PyMongo's topology holds ``count`` secondaries."""

    def __init__(self, count: int) -> None:
        self.count = count
        self.event = threading.Event()

    def opened(self, event: Any) -> None:
        pass

    def closed(self, event: Any) -> None:
        pass

    def description_changed(self, event: Any) -> None:
        secondaries = [s for s in event.new_description.server_descriptions().values()
                       if s.server_type_name == "RSSecondary"]
        if len(secondaries) >= self.count:
            self.event.set()


def client_knowing_secondaries(make_client: Any, uri: str, count: int) -> Any:
    """A client created with a listener; returns once discovery found ``count`` secondaries."""
    listener = SecondariesKnown(count)
    client = make_client(uri, event_listeners=[listener])
    assert listener.event.wait(5), f"PyMongo did not discover {count} secondaries in 5 s"
    return client


def test_cluster_time_is_gossiped(replset: SandboxCluster, make_client: Any) -> None:
    client = make_client(replset.uri)
    with client.start_session(causal_consistency=True) as session:
        client.db.c.insert_one({"x": 1}, session=session)
        assert session.operation_time is not None
        assert session.cluster_time is not None
        assert client.db.c.find_one({}, session=session)["x"] == 1
    reply = rawwire.command(replset.members[0].address, {"find": "c", "$db": "db"})
    assert reply["operationTime"] == reply["$clusterTime"]["clusterTime"]
    assert reply["cursor"]["firstBatch"][0]["x"] == 1


@pytest.mark.parametrize("max_wire_version, carried", [(21, True), (9, True), (8, False)])
def test_not_primary_errors_carry_the_topology_version_from_4_4(
        max_wire_version: int, carried: bool) -> None:
    # MongoDB 4.4+ puts its topologyVersion in state change errors, so that a client can
    # ignore a hello reply that was sent before the step-down and read after the error.
    with SandboxCluster("replset", 3, election_delay=0.2,
                        max_wire_version=max_wire_version) as cluster:
        cluster.wait_for_primary()
        secondary = next(m.address for m in cluster.members if m.role == "SECONDARY")
        hello = rawwire.command(secondary, {"hello": 1, "$db": "admin"})
        errors = [
            rawwire.command(secondary, {"insert": "c", "documents": [{}], "$db": "db",
                                        "lsid": {"id": bson.Binary(b"\x00" * 16, 4)},
                                        "txnNumber": bson.Int64(1)}),
            rawwire.command(secondary, {"find": "c", "$db": "db"}),
        ]
        assert [e["code"] for e in errors] == [10107, 13435]
        assert "RetryableWriteError" in errors[0]["errorLabels"]
        for error in errors:
            if carried:
                assert error["topologyVersion"] == hello["topologyVersion"]
            else:
                assert "topologyVersion" not in error
