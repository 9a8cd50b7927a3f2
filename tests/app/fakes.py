"""A fake driver client for the service tests.

It is NOT end to end: it stands in for ``MongoClient`` only to check that the service
calls PyMongo's method names on worker threads and reports failures in words. The real
client is tested end to end once it exists.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any


@dataclass
class FakeServer:
    server_type_name: str


@dataclass
class FakeTopology:
    topology_type_name: str
    servers: dict[tuple[str, int], FakeServer]

    def server_descriptions(self) -> dict[tuple[str, int], FakeServer]:
        return dict(self.servers)


@dataclass
class FakeClient:
    uri: str
    kwargs: dict[str, Any]
    ping_error: BaseException | None = None
    ping_blocks: threading.Event | None = None
    calls: list[tuple[str, int]] = field(default_factory=list)
    closed: threading.Event = field(default_factory=threading.Event)

    def _record(self, name: str) -> None:
        self.calls.append((name, threading.get_ident()))

    def list_databases(self):
        self._record("list_databases")
        return iter([{"name": "admin", "sizeOnDisk": 1}, {"name": "shop", "sizeOnDisk": 2}])

    def __getitem__(self, name: str) -> FakeDatabase:
        return FakeDatabase(self, name)

    @property
    def admin(self) -> FakeDatabase:
        return FakeDatabase(self, "admin")

    def server_info(self) -> dict[str, Any]:
        self._record("server_info")
        return {"version": "7.0.2", "ok": 1.0}

    @property
    def topology_description(self) -> FakeTopology:
        return FakeTopology(
            "ReplicaSetWithPrimary",
            {("a.example", 27017): FakeServer("RSPrimary"), ("::1", 27018): FakeServer("RSSecondary")},
        )

    def close(self) -> None:
        self._record("close")
        self.closed.set()


@dataclass
class FakeDatabase:
    client: FakeClient
    name: str

    def list_collections(self, **kwargs: Any):
        self.client._record(f"list_collections:{self.name}")
        return iter([{"name": "orders", "type": "collection"}, {"name": "v", "type": "view"}])

    def command(self, name: str, value: Any = 1) -> dict[str, Any]:
        self.client._record(f"command:{self.name}:{name}:{value}")
        if name == "ping":
            if self.client.ping_blocks is not None:
                # Like server selection: waits until the client is closed or times out.
                self.client.closed.wait(5)
                from driver.errors import ServerSelectionTimeoutError

                raise ServerSelectionTimeoutError("client closed during selection")
            if self.client.ping_error is not None:
                raise self.client.ping_error
        return {"ok": 1.0, "db": self.name}


class FakeFactory:
    """Records every client it makes; ``ping_error`` applies to the clients it makes."""

    def __init__(self, ping_error: BaseException | None = None, block: bool = False) -> None:
        self.clients: list[FakeClient] = []
        self.ping_error = ping_error
        self.block = block
        self.threads: list[int] = []

    def __call__(self, uri: str, **kwargs: Any) -> FakeClient:
        self.threads.append(threading.get_ident())
        client = FakeClient(uri, kwargs, self.ping_error, threading.Event() if self.block else None)
        self.clients.append(client)
        return client
