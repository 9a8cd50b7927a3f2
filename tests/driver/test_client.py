"""``MongoClient`` end to end against the sandbox: construction, properties, databases,
closing and reopening, threads, and what users see when the server goes away."""

from __future__ import annotations

import socket
import threading
import time
from typing import Any

import pytest

from driver import (
    ConfigurationError,
    InvalidName,
    InvalidOperation,
    MongoClient,
    ReadPreference,
    WriteConcern,
)
from driver.database import Database
from driver.errors import AutoReconnect, OperationFailure, ServerSelectionTimeoutError
from sandbox.cluster import SandboxCluster
from tests.driver.api_support import (  # noqa: F401  (fixtures)
    RecordingListener,
    client_fixture,
    driver_threads,
    fresh_name,
    listener_fixture,
    replset_fixture,
    standalone_fixture,
)
from tests.timing import LONG_MS, assert_prompt


def _unused_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_constructor_never_blocks_for_an_unreachable_server() -> None:
    MongoClient(connect=False).close()  # first use imports modules: not what is measured
    port = _unused_port()
    started = time.monotonic()
    # A constructor that selected a server would wait out the minute.
    client = MongoClient(f"mongodb://127.0.0.1:{port}/?serverSelectionTimeoutMS={LONG_MS}")
    assert_prompt(time.monotonic() - started, "MongoClient() for an unreachable server")
    assert client.nodes == frozenset()
    client.close()
    client = MongoClient(f"mongodb://127.0.0.1:{port}/?serverSelectionTimeoutMS=1000")
    try:
        before = time.monotonic()
        with pytest.raises(ServerSelectionTimeoutError) as info:
            client.admin.command("ping")
        elapsed = time.monotonic() - before
        assert elapsed >= 0.9
        assert_prompt(elapsed, "a ping with serverSelectionTimeoutMS=1000")
        assert "refused" in str(info.value)
    finally:
        client.close()
    assert driver_threads() == []


def test_constructor_does_not_raise_for_wrong_credentials() -> None:
    with SandboxCluster(kind="standalone", users={"ann": "right"}) as cluster:
        uri = f"mongodb://ann:wrong@{cluster.members[0].address}/?serverSelectionTimeoutMS=3000"
        client = MongoClient(uri)  # no error here
        try:
            with pytest.raises(OperationFailure) as info:
                client.admin.command("ping")
            assert info.value.code == 18
            assert "wrong" not in str(info.value)
        finally:
            client.close()


def test_connect_false_starts_nothing_until_first_use(standalone: SandboxCluster) -> None:
    client = MongoClient(standalone.uri, connect=False)
    try:
        assert driver_threads() == []
        assert client.admin.command("ping")["ok"] == 1.0
        assert any(name.startswith("binnacle-monitor") for name in driver_threads())
    finally:
        client.close()
    assert driver_threads() == []


def test_standalone_properties(client: MongoClient, standalone: SandboxCluster) -> None:
    member = standalone.members[0]
    assert client.address == (member.host, member.port)
    assert client.is_primary is True
    assert client.is_mongos is False
    assert client.primary is None
    assert client.secondaries == set() and client.arbiters == set()
    assert client.nodes == frozenset({(member.host, member.port)})
    assert client.max_bson_size == 16 * 1024 * 1024
    assert client.max_message_size == 48_000_000
    assert client.max_pool_size == 100
    assert client.local_threshold_ms == 15
    assert client.read_preference == ReadPreference.PRIMARY
    assert client.write_concern == WriteConcern()
    assert client.codec_options.document_class is dict
    assert client.topology_description.topology_type_name == "Single"
    assert client.server_info()["version"]


def test_replica_set_discovered_from_one_seed(replset: SandboxCluster) -> None:
    seed = replset.members[1]
    client = MongoClient(f"mongodb://{seed.address}/?replicaSet=rs0&serverSelectionTimeoutMS=5000")
    try:
        primary = replset.wait_for_primary()
        assert client.admin.command("ping")["ok"] == 1.0
        assert client.primary == (primary.host, primary.port)
        assert client.address == (primary.host, primary.port)
        everyone = {(m.host, m.port) for m in replset.members}
        deadline = time.monotonic() + 5
        while client.nodes != everyone and time.monotonic() < deadline:
            time.sleep(0.02)
        assert client.nodes == everyone
        assert client.secondaries == everyone - {(primary.host, primary.port)}
        assert client.topology_description.topology_type_name == "ReplicaSetWithPrimary"
        name = fresh_name()
        client.db[name].insert_one({"x": 1})
        secondary = client.db.get_collection(name, read_preference=ReadPreference.SECONDARY)
        # The sandbox replicates at once (no lag configured): the secondary read finds it.
        assert secondary.find_one({"x": 1}, {"_id": 0}) == {"x": 1}
    finally:
        client.close()


def test_sharded_routers() -> None:
    with SandboxCluster(kind="sharded", members=2) as cluster:
        listener = RecordingListener()
        client = MongoClient(cluster.uri, serverSelectionTimeoutMS=5000,
                             event_listeners=[listener])
        try:
            assert client.is_mongos is True
            with pytest.raises(InvalidOperation, match="load balancing among mongoses"):
                _ = client.address
            coll = client.db[fresh_name()]
            coll.insert_many([{"i": i} for i in range(50)])
            nearest = coll.with_options(read_preference=ReadPreference.NEAREST)
            assert nearest.count_documents({}) == 50
            aggregates = listener.commands("aggregate")
            assert aggregates[-1]["$readPreference"] == {"mode": "nearest"}
            # Primary reads do not carry $readPreference to mongos.
            coll.find_one()
            assert "$readPreference" not in listener.commands("find")[-1]
        finally:
            client.close()


def test_attribute_access_and_names(client: MongoClient) -> None:
    assert isinstance(client.shop, Database) and client.shop.name == "shop"
    assert client["shop"] == client.shop
    with pytest.raises(AttributeError, match=r"client\['_private'\]"):
        _ = client._private
    assert client["_private"].name == "_private"
    with pytest.raises(InvalidName, match="'\\.'"):
        _ = client["a.b"]
    with pytest.raises(InvalidName):
        _ = client[""]
    with pytest.raises(InvalidName, match="'\\$'"):
        _ = client.shop["bad$name"]
    with pytest.raises(AttributeError, match=r"database\['_hidden'\]"):
        _ = client.shop._hidden
    assert client.shop.orders.items.full_name == "shop.orders.items"
    with pytest.raises(TypeError):
        iter(client).__next__()


def test_databases_listing_and_dropping(client: MongoClient) -> None:
    name = fresh_name("db")
    client[name].things.insert_one({"a": 1})
    assert name in client.list_database_names()
    infos = {d["name"]: d for d in client.list_databases()}
    assert "sizeOnDisk" in infos[name]
    client.drop_database(client[name])
    assert name not in client.list_database_names()
    with pytest.raises(TypeError):
        client.drop_database(42)  # type: ignore[arg-type]


def test_default_database(standalone: SandboxCluster) -> None:
    host = standalone.members[0].address
    with MongoClient(f"mongodb://{host}/inventory", connect=False) as client:
        assert client.get_default_database().name == "inventory"
        assert client.get_database().name == "inventory"
    with MongoClient(f"mongodb://{host}/", connect=False) as client:
        assert client.get_default_database("fallback").name == "fallback"
        with pytest.raises(ConfigurationError, match="No default database"):
            client.get_default_database()
        db = client.get_database("x", write_concern=WriteConcern(w=0))
        assert db.write_concern == WriteConcern(w=0)


def test_close_stops_threads_and_client_reopens(standalone: SandboxCluster) -> None:
    client = MongoClient(standalone.uri)
    assert client.admin.command("ping")["ok"] == 1.0
    assert driver_threads()
    client.close()
    assert driver_threads() == []
    # Used again: it reconnects by itself.
    assert client.admin.command("ping")["ok"] == 1.0
    client.close()
    assert driver_threads() == []
    with MongoClient(standalone.uri) as scoped:
        scoped.admin.command("ping")
    assert driver_threads() == []


def test_killing_the_only_server_gives_selection_timeout(standalone: SandboxCluster) -> None:
    with SandboxCluster(kind="standalone") as cluster:
        client = MongoClient(cluster.uri, serverSelectionTimeoutMS=800)
        try:
            client.db.c.insert_one({"before": True})
            cluster.kill(0)
            outcome: list[tuple[ServerSelectionTimeoutError, float]] = []
            for _ in range(3):
                started = time.monotonic()
                try:
                    client.db.c.find_one()
                except ServerSelectionTimeoutError as selection_error:
                    outcome.append((selection_error, time.monotonic() - started))
                    break
                except AutoReconnect:
                    continue  # the pooled connection saw the close first
            assert outcome, "no ServerSelectionTimeoutError after the server was killed"
            first_error, elapsed = outcome[0]
            assert elapsed >= 0.7
            assert_prompt(elapsed, "a find with serverSelectionTimeoutMS=800")
            assert cluster.members[0].address in str(first_error)
            cluster.restart(0)
            assert client.db.c.count_documents({}) == 1
        finally:
            client.close()


def test_twenty_threads_share_one_client(standalone: SandboxCluster) -> None:
    client = MongoClient(standalone.uri, maxPoolSize=5)
    coll = client.db[fresh_name()]
    errors: list[BaseException] = []
    barrier = threading.Barrier(20)

    def work(worker: int) -> None:
        try:
            barrier.wait()
            for i in range(25):
                coll.insert_one({"worker": worker, "i": i})
                assert coll.find_one({"worker": worker, "i": i})["i"] == i
        except BaseException as error:  # collected for the main thread
            errors.append(error)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    try:
        assert errors == []
        assert coll.count_documents({}) == 500
        pools: list[Any] = [s.pool for s in client._get_topology()._servers.values()]
        assert all(pool.total_connection_count <= 5 for pool in pools)
    finally:
        coll.drop()
        client.close()


def test_command_monitoring_events(client: MongoClient, listener: RecordingListener) -> None:
    client.admin.command("ping")
    with pytest.raises(OperationFailure):
        client.admin.command("noSuchCommand")
    started = listener.commands("ping")
    assert started and started[-1]["$db"] == "admin"
    succeeded = [e for e in listener.succeeded_events if e.command_name == "ping"]
    assert succeeded[-1].duration_micros >= 0
    assert succeeded[-1].request_id == [
        e for e in listener.started_events if e.command_name == "ping"][-1].request_id
    assert listener.failures("noSuchCommand")


def test_database_commands(client: MongoClient) -> None:
    db = client[fresh_name("db")]
    db.create_collection("made")
    assert "made" in db.list_collection_names()
    from driver.errors import CollectionInvalid

    with pytest.raises(CollectionInvalid):
        db.create_collection("made")
    assert db.command("count", "made")["n"] == 0
    assert db.command({"ping": 1})["ok"] == 1.0
    listed = list(db.list_collections(nameOnly=True))
    assert listed[0]["name"] == "made"
    db.drop_collection("made")
    db.drop_collection("made")  # dropping again is not an error
    assert db.list_collection_names() == []
    with pytest.raises(OperationFailure) as info:
        db.command("noSuchCommand")
    assert info.value.code is not None
    client.drop_database(db)



def test_right_credentials_and_stable_api() -> None:
    from driver import ServerApi

    with SandboxCluster(kind="standalone", users={"ann": "s3cret"}) as cluster:
        listener = RecordingListener()
        client = MongoClient(cluster.uri, serverSelectionTimeoutMS=5000,
                             server_api=ServerApi("1", strict=True, deprecation_errors=True),
                             event_listeners=[listener])
        try:
            assert client.admin.command("ping")["ok"] == 1.0
            client.db.c.insert_one({"a": 1})
            assert client.db.c.find_one({}, {"_id": 0}) == {"a": 1}
            sent = listener.commands("find")[-1]
            assert (sent["apiVersion"], sent["apiStrict"], sent["apiDeprecationErrors"]) == (
                "1", True, True)
            assert all("s3cret" not in repr(e.command) for e in listener.started_events)
        finally:
            client.close()


def test_sdam_and_pool_listeners_receive_events(standalone: SandboxCluster) -> None:
    from driver import ConnectionPoolListener, TopologyListener

    class Topologies(TopologyListener):
        def __init__(self) -> None:
            self.changes: list[Any] = []
            self.closed_seen = threading.Event()

        def description_changed(self, event: Any) -> None:
            self.changes.append(event.new_description.topology_type_name)

        def closed(self, event: Any) -> None:
            self.closed_seen.set()

    class Pools(ConnectionPoolListener):
        def __init__(self) -> None:
            self.checked_out = 0

        def connection_checked_out(self, event: Any) -> None:
            self.checked_out += 1

    topologies, pools = Topologies(), Pools()
    client = MongoClient(standalone.uri, event_listeners=[topologies, pools])
    try:
        client.admin.command("ping")
        assert pools.checked_out >= 1
    finally:
        client.close()
    assert topologies.closed_seen.wait(2)
    assert "Single" in topologies.changes
