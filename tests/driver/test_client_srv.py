"""``mongodb+srv://`` end to end: SRV and TXT records served by a DNS server on
127.0.0.1, mongos routers from the sandbox, and SRV polling feeding the topology.

The router names live under ``sandbox.test``; the system resolver cannot know them, so
``socket.getaddrinfo`` maps that one domain to 127.0.0.1 for the test (everything else
goes to the real function). The driver's own SRV lookups use the stub DNS server.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from driver import MongoClient
from driver.errors import ConfigurationError
from sandbox import SandboxCluster
from tests.uri.dns_server import StubDnsServer

SRV_HOST = "cluster.sandbox.test"
SRV_NAME = f"_mongodb._tcp.{SRV_HOST}"


def wait_until(predicate: Callable[[], bool], timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return predicate()


@pytest.fixture(scope="module")
def routers() -> Iterator[SandboxCluster]:
    with SandboxCluster(kind="sharded", members=3) as cluster:
        yield cluster


@pytest.fixture
def local_names(monkeypatch: pytest.MonkeyPatch) -> None:
    real = socket.getaddrinfo

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        if isinstance(host, str) and host.endswith(".sandbox.test"):
            host = "127.0.0.1"
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)


def router_targets(cluster: SandboxCluster, indexes: list[int]) -> list[tuple[str, int]]:
    ports = [member.port for member in cluster.members]
    return [(f"r{i}.sandbox.test", ports[i]) for i in indexes]


def addresses(client: MongoClient) -> set[tuple[str, int]]:
    return set(client.topology_description.server_descriptions())


def test_srv_uri_discovers_routers_and_polling_follows_record_changes(
    routers: SandboxCluster, local_names: None
) -> None:
    with StubDnsServer() as dns:
        dns.set_srv(SRV_NAME, router_targets(routers, [0, 1]))
        dns.set_txt(SRV_HOST, [["authSource=admin"]])
        client = MongoClient(
            f"mongodb+srv://{SRV_HOST}/?tls=false",
            dns_resolver=dns.resolver(),
            serverSelectionTimeoutMS=3000,
            heartbeatFrequencyMS=500,
        )
        try:
            ports = [member.port for member in routers.members]
            assert client.admin.command("ping")["ok"] == 1
            assert wait_until(lambda: client.is_mongos)
            assert addresses(client) == {("r0.sandbox.test", ports[0]),
                                         ("r1.sandbox.test", ports[1])}
            # The records change: router 0 leaves, router 2 joins. The poller (woken
            # rather than waiting its 60 s floor) must hand the new list to the topology.
            dns.set_srv(SRV_NAME, router_targets(routers, [1, 2]))
            assert client._srv_monitor is not None
            client._srv_monitor.request_rescan()
            assert wait_until(lambda: addresses(client) == {("r1.sandbox.test", ports[1]),
                                                            ("r2.sandbox.test", ports[2])})
            client.test.srv.insert_one({"via": "srv"})
            assert client.test.srv.count_documents({"via": "srv"}) >= 1
            # A failing poll keeps the routers the client has.
            dns.remove(SRV_NAME, "SRV")
            client._srv_monitor.request_rescan()
            time.sleep(0.3)
            assert len(addresses(client)) == 2
        finally:
            client.close()
    assert not [t for t in threading.enumerate() if t.name == "binnacle-srv-monitor"]


def test_srv_uri_with_no_records_names_the_record(local_names: None) -> None:
    with StubDnsServer() as dns, pytest.raises(ConfigurationError, match=SRV_NAME):
        MongoClient(f"mongodb+srv://{SRV_HOST}/", dns_resolver=dns.resolver())
