"""Runner for the SDAM spec's unit tests (server-discovery-and-monitoring/{rs,single,
sharded,load-balanced}): every phase's ``responses`` and ``applicationErrors`` go through
a real ``Topology`` with its monitors off, and the ``outcome`` is compared field by field
(servers, topologyType, setName, logicalSessionTimeoutMinutes, maxSetVersion,
maxElectionId, compatible, pool.generation, topologyVersion, error substrings).

Expected type "PossiblePrimary" is compared as Unknown: the SDAM spec says
multi-threaded clients "do not need this ServerType; it is synonymous with Unknown".
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from driver.bson import ObjectId
from driver.errors import AutoReconnect, NetworkTimeout, OperationFailure
from driver.sdam.server_description import ServerDescription
from driver.sdam.topology import Topology
from driver.sdam.types import format_address, parse_address
from tests.driver.sdam_fakes import FakePool, settings_from_uri
from tests.specdata import load, missing, params_or_missing, spec_files

SUITE = "server-discovery-and-monitoring"
FOLDERS = ("rs", "single", "sharded", "load-balanced")
# Cases we do not run, each with its reason (none today).
SKIPS: dict[str, str] = {}


def _files() -> list[Any]:
    params = []
    for folder in FOLDERS:
        for path in spec_files(f"{SUITE}/{folder}"):
            params.append(pytest.param(path, id=f"{folder}/{path.name}"))
    return params_or_missing(params)


def from_extended_json(value: Any) -> Any:
    """The few Extended JSON forms these files use ($oid, $numberLong)."""
    if isinstance(value, dict):
        if set(value) == {"$oid"}:
            return ObjectId(value["$oid"])
        if set(value) == {"$numberLong"}:
            return int(value["$numberLong"])
        return {k: from_extended_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [from_extended_json(v) for v in value]
    return value


def _application_error(spec: dict[str, Any]) -> BaseException:
    kind = spec["type"]
    if kind == "command":
        response = spec["response"]
        return OperationFailure(str(response.get("errmsg", "")), response.get("code"), response)
    if kind == "network":
        return AutoReconnect("network error injected by the test")
    if kind == "timeout":
        return NetworkTimeout("timed out (injected by the test)")
    raise AssertionError(f"unknown applicationErrors type {kind!r}")


def _check_server(name: str, sd: ServerDescription, expected: dict[str, Any],
                  pool: FakePool) -> None:
    kind = expected["type"]
    if kind == "PossiblePrimary":
        kind = "Unknown"
    assert sd.server_type.name == kind, f"{name}: type"
    simple = {"setName": sd.replica_set_name, "setVersion": sd.set_version,
              "electionId": sd.election_id,
              "logicalSessionTimeoutMinutes": sd.logical_session_timeout_minutes,
              "topologyVersion": sd.topology_version}
    for field, actual in simple.items():
        if field in expected:
            assert actual == expected[field], f"{name}: {field}"
    for field, actual in (("minWireVersion", sd.min_wire_version),
                          ("maxWireVersion", sd.max_wire_version)):
        if field in expected:
            # A load balancer's description has only its address: null means the default 0.
            assert actual == (expected[field] or 0), f"{name}: {field}"
    if "error" in expected:
        assert expected["error"] in str(sd.error), f"{name}: error"
    if "pool" in expected:
        assert pool.generation == expected["pool"]["generation"], f"{name}: pool.generation"


@pytest.mark.spec
@pytest.mark.parametrize("path", _files())
def test_sdam(path: Path | None) -> None:
    if path is None:
        missing(SUITE)
        return
    case_id = f"{path.parent.name}/{path.name}"
    if case_id in SKIPS:
        pytest.skip(SKIPS[case_id])
    spec = from_extended_json(load(path))
    topology = Topology(settings_from_uri(spec["uri"]), pool_factory=FakePool, monitoring=False)
    topology.open()
    try:
        for number, phase in enumerate(spec["phases"]):
            for address, reply in phase.get("responses", []):
                if reply:
                    sd = ServerDescription(address, reply, 0.0)
                    topology.on_server_check(sd)
                else:
                    # An empty response stands for a network error during the check.
                    error = AutoReconnect(f"{address}: connection refused (test)")
                    topology.on_server_check(ServerDescription.unknown(address, error),
                                             clear_pool=True)
            for app_error in phase.get("applicationErrors", []):
                address = parse_address(app_error["address"])
                server = topology.get_server(address)
                assert server is not None
                generation = app_error.get("generation", server.pool.generation)
                topology.handle_application_error(
                    address, _application_error(app_error), generation,
                    app_error.get("maxWireVersion"), app_error["when"])
            _check_outcome(topology, phase["outcome"], f"{spec['description']} phase {number}")
    finally:
        topology.close()
    assert not topology.threads()


def _check_outcome(topology: Topology, outcome: dict[str, Any], where: str) -> None:
    td = topology.description
    assert td.topology_type.name == outcome["topologyType"], where
    servers = {format_address(a): sd for a, sd in td.server_descriptions().items()}
    assert set(servers) == set(outcome["servers"]), where
    for name, expected in outcome["servers"].items():
        server = topology.get_server(name)
        assert server is not None
        _check_server(f"{where}: {name}", servers[name], expected, server.pool)  # type: ignore[arg-type]
    fields = {"setName": td.replica_set_name,
              "logicalSessionTimeoutMinutes": td.logical_session_timeout_minutes,
              "maxSetVersion": td.max_set_version, "maxElectionId": td.max_election_id,
              "compatible": td.compatible}
    for field, actual in fields.items():
        if field in outcome:
            assert actual == outcome[field], f"{where}: {field}"
