"""Runner for the SDAM spec's backpressure files (server-discovery-and-monitoring/unified/
backpressure-*.json, added with the 2025-11 error-handling change) against sandbox
servers over real sockets.

These are unified-format files, but they use only a small part of the format, and this
runner implements exactly that part: ``runOnRequirements`` (topologies single /
replicaset, minServerVersion), ``createEntities`` (client with ``uriOptions`` and
``observeEvents``, database, collection; top level or as a testRunner operation),
``initialData``, the testRunner operations ``failPoint`` and ``waitForEvent``, the
collection operation ``insertMany`` with ``expectError`` (``isError``,
``errorLabelsContain``), and ``expectEvents`` (cmap or sdam, exact list). Anything else
in a file fails the case loudly rather than being skipped. The fail points (they close
or block the handshake hello of connections with the file's appName) are the sandbox's
``failCommand``; the runner turns them off afterwards.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from driver import MongoClient
from driver.cmap.events import ConnectionPoolListener
from driver.errors import PyMongoError
from driver.sdam.events import ServerDescriptionChangedEvent, ServerListener
from sandbox.cluster import SandboxCluster
from tests.specdata import load, missing, params_or_missing, spec_files

SUITE = "server-discovery-and-monitoring/unified"
WAIT_S = 10.0
# The unified format's topology names -> sandbox cluster kinds.
KINDS = {"single": "standalone", "replicaset": "replset"}
CMAP_METHODS = (
    "pool_created", "pool_ready", "pool_cleared", "pool_closed", "connection_created",
    "connection_ready", "connection_closed", "connection_check_out_started",
    "connection_check_out_failed", "connection_checked_out", "connection_checked_in",
)


def _cases() -> list[Any]:
    params = []
    for path in spec_files(SUITE, "backpressure-*.json"):
        spec = load(path)
        for index, test in enumerate(spec["tests"]):
            params.append(pytest.param(path, index, id=f"{path.stem}: {test['description']}"))
    return params_or_missing(params, width=2)


def _event_name(event: Any) -> str:
    """``PoolClearedEvent`` -> ``poolClearedEvent``, the unified format's spelling."""
    name = type(event).__name__
    return name[0].lower() + name[1:]


class Events(ConnectionPoolListener, ServerListener):
    """The CMAP and server-description events of one client, in order, as
    ``(family, event)``, kept only when the file's ``observeEvents`` names them."""

    def __init__(self, observe: list[str]) -> None:
        self.observe = set(observe)
        self.recorded: list[tuple[str, Any]] = []
        self._lock = threading.Lock()
        for method in CMAP_METHODS:
            setattr(self, method, lambda event: self._add("cmap", event))

    def _add(self, family: str, event: Any) -> None:
        if _event_name(event) in self.observe:
            with self._lock:
                self.recorded.append((family, event))

    def description_changed(self, event: ServerDescriptionChangedEvent) -> None:
        self._add("sdam", event)

    def snapshot(self, family: str | None = None) -> list[Any]:
        with self._lock:
            return [e for f, e in self.recorded if family is None or f == family]


def _matches(event: Any, expected: dict[str, Any]) -> bool:
    ((name, fields),) = expected.items()
    if _event_name(event) != name:
        return False
    for field, value in fields.items():
        if field == "newDescription" and set(value) <= {"type"}:
            if "type" in value and event.new_description.server_type.name != value["type"]:
                return False
        else:
            raise AssertionError(f"unsupported event field {name}.{field}")
    return True


class Runner:
    def __init__(self, cluster: SandboxCluster) -> None:
        self.cluster = cluster
        self.entities: dict[str, Any] = {}
        self.events: dict[str, Events] = {}
        self.clients: list[MongoClient[Any]] = []
        self.fail_points: list[tuple[MongoClient[Any], str]] = []

    def create_entities(self, entities: list[dict[str, Any]]) -> None:
        for entity in entities:
            ((kind, spec),) = entity.items()
            if kind == "client":
                unknown = set(spec) - {"id", "useMultipleMongoses", "observeEvents", "uriOptions"}
                assert not unknown, f"unsupported client fields {unknown}"
                events = Events(spec.get("observeEvents", []))
                client: MongoClient[Any] = MongoClient(
                    self.cluster.uri, event_listeners=[events], **spec.get("uriOptions", {}))
                self.clients.append(client)
                self.events[spec["id"]] = events
                self.entities[spec["id"]] = client
            elif kind == "database":
                self.entities[spec["id"]] = self.entities[spec["client"]][spec["databaseName"]]
            elif kind == "collection":
                database = self.entities[spec["database"]]
                self.entities[spec["id"]] = database[spec["collectionName"]]
            else:
                raise AssertionError(f"unsupported entity {kind!r}")

    def initial_data(self, data: list[dict[str, Any]]) -> None:
        setup = self.clients[0]
        for entry in data:
            collection = setup[entry["databaseName"]][entry["collectionName"]]
            collection.drop()
            if entry["documents"]:
                collection.insert_many(entry["documents"])

    def run(self, operation: dict[str, Any]) -> None:
        name, target = operation["name"], operation["object"]
        arguments = operation.get("arguments", {})
        if target == "testRunner":
            if name == "createEntities":
                self.create_entities(arguments["entities"])
            elif name == "failPoint":
                client = self.entities[arguments["client"]]
                command = arguments["failPoint"]
                client.admin.command(command)
                self.fail_points.append((client, command["configureFailPoint"]))
            elif name == "waitForEvent":
                self.wait_for_event(arguments["client"], arguments["event"], arguments["count"])
            else:
                raise AssertionError(f"unsupported testRunner operation {name!r}")
            return
        if name != "insertMany" or set(arguments) != {"documents"}:
            raise AssertionError(f"unsupported operation {name!r} with {sorted(arguments)}")
        expect = operation.get("expectError")
        try:
            self.entities[target].insert_many(arguments["documents"])
        except PyMongoError as error:
            assert expect is not None, f"{name} failed unexpectedly: {error!r}"
            unknown = set(expect) - {"isError", "errorLabelsContain"}
            assert not unknown, f"unsupported expectError fields {unknown}"
            for label in expect.get("errorLabelsContain", []):
                assert error.has_error_label(label), f"{error!r} lacks the label {label}"
        else:
            assert expect is None, f"{name} succeeded, expected an error: {expect}"

    def wait_for_event(self, client: str, expected: dict[str, Any], count: int) -> None:
        deadline = time.monotonic() + WAIT_S
        while sum(_matches(e, expected) for e in self.events[client].snapshot()) < count:
            assert time.monotonic() < deadline, f"no {count} x {expected} within {WAIT_S}s"
            time.sleep(0.02)

    def check_events(self, expectations: list[dict[str, Any]]) -> None:
        for expectation in expectations:
            unknown = set(expectation) - {"client", "eventType", "events"}
            assert not unknown, f"unsupported expectEvents fields {unknown}"
            family = expectation.get("eventType", "command")
            assert family in ("cmap", "sdam"), f"unsupported eventType {family!r}"
            actual = self.events[expectation["client"]].snapshot(family)
            wanted = expectation["events"]
            assert len(actual) == len(wanted), f"{family} events {actual} != {wanted}"
            for index, (event, expected) in enumerate(zip(actual, wanted, strict=True)):
                assert _matches(event, expected), f"{family} event {index}: {event!r} != {expected}"

    def close(self) -> None:
        for client, name in self.fail_points:
            # "the test runner MUST disable the fail point" once the test is done.
            client.admin.command({"configureFailPoint": name, "mode": "off"})
        for client in self.clients:
            client.close()


@pytest.fixture(scope="module")
def clusters() -> Iterator[dict[str, SandboxCluster]]:
    started: dict[str, SandboxCluster] = {}
    try:
        yield started
    finally:
        for cluster in started.values():
            cluster.close()


def _cluster_for(spec: dict[str, Any], clusters: dict[str, SandboxCluster]) -> SandboxCluster:
    (requirement,) = spec["runOnRequirements"]
    unknown = set(requirement) - {"minServerVersion", "serverless", "topologies"}
    assert not unknown, f"unsupported runOnRequirements fields {unknown}"
    (topology,) = requirement["topologies"]
    kind = KINDS[topology]
    if kind not in clusters:
        cluster = SandboxCluster(kind, 3 if kind == "replset" else None, election_delay=0.2)
        cluster.start()
        if kind == "replset":
            cluster.wait_for_primary()
        clusters[kind] = cluster
    cluster = clusters[kind]
    with MongoClient(cluster.uri) as client:
        version = str(client.admin.command("buildInfo")["version"])
    # The sandbox must meet the requirement: a case is never skipped for it.
    assert _version(version) >= _version(requirement.get("minServerVersion", "0")), version
    return cluster


def _version(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split(".")[:3])


@pytest.mark.spec
@pytest.mark.parametrize(("path", "index"), _cases())
def test_sdam_backpressure(path: Path | None, index: int | None,
                           clusters: dict[str, SandboxCluster]) -> None:
    if path is None or index is None:
        missing(SUITE)
        return
    spec = load(path)
    test = spec["tests"][index]
    unknown = set(test) - {"description", "operations", "expectEvents"}
    assert not unknown, f"unsupported test fields {unknown}"
    runner = Runner(_cluster_for(spec, clusters))
    try:
        runner.create_entities(spec.get("createEntities", []))
        runner.initial_data(spec.get("initialData", []))
        for operation in test["operations"]:
            runner.run(operation)
        runner.check_events(test.get("expectEvents", []))
    finally:
        runner.close()
