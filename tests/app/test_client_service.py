"""ClientService over a fake client factory (not end to end: see tests/app/fakes.py).

Checks that every call runs on a worker thread with PyMongo's method names, that
"Test connection" reports success and each failing step in words, and that Cancel
abandons the test and closes its client."""

from __future__ import annotations

import threading

import pytest

from app.services.bridge import EventBridge
from app.services.client_service import ClientService
from app.services.worker import Superseded
from driver.errors import ConfigurationError, OperationFailure, ServerSelectionTimeoutError
from tests.app.fakes import FakeFactory

URI = "mongodb://a.example:27017/?replicaSet=rs0"


def test_calls_run_on_workers_with_pymongo_names(aloop, pool, qtbot):
    factory = FakeFactory()
    bridge = EventBridge()
    service = ClientService(URI, pool=pool, client_factory=factory, bridge=bridge)
    main = threading.get_ident()

    async def scenario():
        await service.open()
        dbs = await service.list_databases()
        colls = await service.list_collections("shop")
        stats = await service.db_stats("shop")
        cstats = await service.coll_stats("shop", "orders")
        ping = await service.ping()
        info = await service.server_info()
        await service.close()
        return dbs, colls, stats, cstats, ping, info

    dbs, colls, stats, cstats, ping, info = aloop.run_until_complete(scenario())
    assert [d["name"] for d in dbs] == ["admin", "shop"]
    assert [c["type"] for c in colls] == ["collection", "view"]
    assert stats["db"] == "shop" and cstats["db"] == "shop" and ping["ok"] == 1.0
    assert info["version"] == "7.0.2"
    client = factory.clients[0]
    assert client.uri == URI
    assert client.kwargs["event_listeners"] == bridge.listeners()
    names = [name for name, _ in client.calls]
    assert names == [
        "list_databases",
        "list_collections:shop",
        "command:shop:dbStats:1",
        "command:shop:collStats:orders",
        "command:admin:ping:1",
        "server_info",
        "close",
    ]
    assert all(thread != main for _, thread in client.calls)
    assert factory.threads[0] != main
    assert not service.is_open


def test_calls_before_open_say_so(aloop, pool):
    service = ClientService(URI, pool=pool, client_factory=FakeFactory())

    async def scenario():
        with pytest.raises(RuntimeError, match="not open"):
            await service.list_databases()

    aloop.run_until_complete(scenario())


def test_connection_test_reports_version_topology_and_members(aloop, pool):
    factory = FakeFactory()
    service = ClientService(URI, pool=pool, client_factory=factory)
    report = aloop.run_until_complete(service.test_connection(timeout_ms=1500))
    assert report.ok and report.step == "done"
    assert report.server_version == "7.0.2"
    assert report.topology_type == "ReplicaSetWithPrimary"
    assert report.members == ["a.example:27017 (RSPrimary)", "[::1]:27018 (RSSecondary)"]
    assert factory.clients[0].kwargs["serverSelectionTimeoutMS"] == 1500
    assert factory.clients[0].closed.is_set()


@pytest.mark.parametrize(
    ("error", "step", "words"),
    [
        (OperationFailure("Authentication failed.", 18), "authenticate", "Authentication failed"),
        (ServerSelectionTimeoutError("127.0.0.1:1: connection refused"), "connect", "reached"),
        (OperationFailure("not allowed", 13), "ping", "refused ping"),
    ],
)
def test_connection_test_names_the_failing_step(aloop, pool, error, step, words):
    factory = FakeFactory(ping_error=error)
    service = ClientService(URI, pool=pool, client_factory=factory)
    report = aloop.run_until_complete(service.test_connection())
    assert not report.ok
    assert report.step == step
    assert words in report.message
    assert factory.clients[0].closed.is_set()


def test_connection_test_srv_resolution_failure(aloop, pool):
    def failing_factory(uri, **kwargs):
        raise ConfigurationError("The DNS query name does not exist: _mongodb._tcp.nowhere")

    service = ClientService("mongodb+srv://nowhere.example", pool=pool, client_factory=failing_factory)
    report = aloop.run_until_complete(service.test_connection())
    assert (report.ok, report.step) == (False, "resolve")
    assert "SRV" in report.message and "does not exist" in report.message


def test_cancel_abandons_the_test_and_closes_its_client(aloop, pool, qtbot):
    factory = FakeFactory(block=True)
    service = ClientService(URI, pool=pool, client_factory=factory)

    async def scenario():
        import asyncio

        task = asyncio.ensure_future(service.test_connection())
        while not factory.clients or not factory.clients[0].calls:
            await asyncio.sleep(0.005)
        service.cancel_test()
        with pytest.raises(Superseded):
            await task

    aloop.run_until_complete(scenario())
    assert factory.clients[0].closed.wait(2)


def test_concurrent_opens_make_one_client(aloop, pool):
    import asyncio

    factory = FakeFactory()
    service = ClientService(URI, pool=pool, client_factory=factory)

    async def scenario():
        await asyncio.gather(service.open(), service.open(), service.open())
        await service.close()
        await service.close()  # twice is harmless

    aloop.run_until_complete(scenario())
    assert len(factory.clients) == 1 and factory.clients[0].closed.is_set()
