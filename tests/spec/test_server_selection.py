"""Runners for the server selection spec's tests: ``server_selection`` (suitable servers
and latency window per topology type, operation, read preference and deprioritized
servers), ``rtt`` (the EWMA of round trip times) and ``in_window`` (the "power of two
choices": selection is simulated ``iterations`` times with the mocked operation counts
and the observed frequencies must match the expected ones within ``tolerance``)."""

from __future__ import annotations

import random
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from driver.errors import ConfigurationError
from driver.read_preferences import make_read_preference
from driver.sdam.monitor import RttStats
from driver.sdam.selection import (
    Selector,
    choose_server,
    in_latency_window,
    select_servers,
    suitable_with_deprioritized,
    writable_server_selector,
)
from driver.sdam.server_description import ServerDescription
from driver.sdam.settings import TopologySettings
from driver.sdam.topology_description import TopologyDescription
from driver.sdam.types import ServerType, TopologyType, format_address, parse_address
from tests.specdata import load, missing, params_or_missing, spec_files, specs_dir

SUITE = "server-selection"
# Cases we do not run, each with its reason (none today).
SKIPS: dict[str, str] = {}

_REPLIES: dict[str, dict[str, Any]] = {
    "RSPrimary": {"setName": "rs", "isWritablePrimary": True},
    "RSSecondary": {"setName": "rs", "secondary": True},
    "RSArbiter": {"setName": "rs", "arbiterOnly": True},
    "RSOther": {"setName": "rs", "hidden": True},
    "RSGhost": {"isreplicaset": True},
    "Mongos": {"msg": "isdbgrid"},
    "Standalone": {"isWritablePrimary": True},
}


def _params(folder: str) -> list[Any]:
    root = specs_dir() / SUITE / folder
    return params_or_missing([
        pytest.param(p, id=f"{folder}/{p.relative_to(root).as_posix()}")
        for p in spec_files(f"{SUITE}/{folder}", "**/*.json")
    ])


def make_server(spec: dict[str, Any], heartbeat_ms: int = 10_000) -> ServerDescription:
    address = parse_address(spec["address"])
    kind = spec["type"]
    rtt = spec.get("avg_rtt_ms")
    rtt_s = None if rtt is None else rtt / 1000.0
    if kind in ("Unknown", "PossiblePrimary"):
        return ServerDescription.unknown(address)
    if kind == "LoadBalancer":
        return ServerDescription(address, {"ok": 1}, rtt_s, server_type=ServerType.LoadBalancer)
    reply: dict[str, Any] = {"ok": 1, "minWireVersion": 0,
                             "maxWireVersion": spec.get("maxWireVersion", 21)}
    reply.update(_REPLIES[kind])
    if "tags" in spec:
        reply["tags"] = spec["tags"]
    last_write = spec.get("lastWrite", {}).get("lastWriteDate")
    if last_write is not None:
        reply["lastWrite"] = {"lastWriteDate": int(last_write["$numberLong"])}
    update = spec.get("lastUpdateTime")
    return ServerDescription(address, reply, rtt_s,
                             last_update_time=None if update is None else update / 1000.0)


def make_topology(spec: dict[str, Any], heartbeat_ms: int = 10_000) -> TopologyDescription:
    servers = [make_server(s, heartbeat_ms) for s in spec["servers"]]
    settings = TopologySettings(seeds=[s.address for s in servers] or [("a", 27017)],
                                heartbeat_frequency_ms=heartbeat_ms)
    return TopologyDescription(TopologyType[spec["type"]], {s.address: s for s in servers},
                               "rs" if "ReplicaSet" in spec["type"] else None, None, None,
                               settings)


def make_selector(case: dict[str, Any]) -> Selector:
    if case.get("operation", "read") == "write":
        return writable_server_selector
    pref = case.get("read_preference", {})
    mode = pref.get("mode", "Primary")
    mode = mode[0].lower() + mode[1:]
    tag_sets = pref.get("tag_sets")
    if mode == "primary" and tag_sets is not None and all(not t for t in tag_sets):
        tag_sets = None
    return make_read_preference(mode, tag_sets, pref.get("maxStalenessSeconds", -1))


def _names(servers: list[ServerDescription]) -> set[str]:
    return {format_address(sd.address) for sd in servers}


@pytest.mark.spec
@pytest.mark.parametrize("path", _params("server_selection"))
def test_server_selection(path: Path | None) -> None:
    if path is None:
        missing(f"{SUITE}/server_selection")
        return
    case = load(path)
    td = make_topology(case["topology_description"], case.get("heartbeatFrequencyMS", 10_000))
    if case.get("error"):
        with pytest.raises((ConfigurationError, ValueError, TypeError)):
            select_servers(td, make_selector(case), 15)
        return
    selector = make_selector(case)
    deprioritized = [parse_address(s["address"]) for s in case.get("deprioritized_servers", [])]
    suitable = suitable_with_deprioritized(td, selector, deprioritized)
    assert _names(suitable) == {s["address"] for s in case["suitable_servers"]}
    window = select_servers(td, selector, 15, deprioritized)
    assert _names(window) == {s["address"] for s in case["in_latency_window"]}
    assert _names(in_latency_window(suitable, 15)) == _names(window)


@pytest.mark.spec
@pytest.mark.parametrize("path", _params("rtt"))
def test_rtt(path: Path | None) -> None:
    if path is None:
        missing(f"{SUITE}/rtt")
        return
    case = load(path)
    stats = RttStats()
    if case["avg_rtt_ms"] != "NULL":
        stats.add_sample(case["avg_rtt_ms"])
    stats.add_sample(case["new_rtt_ms"])
    assert stats.average == pytest.approx(case["new_avg_rtt"])


@pytest.mark.spec
@pytest.mark.parametrize("path", _params("in_window"))
def test_in_window(path: Path | None) -> None:
    if path is None:
        missing(f"{SUITE}/in_window")
        return
    case = load(path)
    td = make_topology(case["topology_description"])
    counts = {parse_address(s["address"]): s["operation_count"]
              for s in case["mocked_topology_state"]}
    rng = random.Random(20240229)
    window = select_servers(td, ReadNearest, 15)
    # "repeatedly select a server for a read operation ... and a "nearest" ReadPreference
    # `iterations` times" (seeded, so a run is reproducible).
    iterations = case["iterations"]
    chosen = Counter(format_address(choose_server(window, counts, rng).address)
                     for _ in range(iterations))
    outcome = case["outcome"]
    for address, expected in outcome["expected_frequencies"].items():
        frequency = chosen[address] / iterations
        assert abs(frequency - expected) <= outcome["tolerance"] + 1e-9, address


ReadNearest = make_read_preference("nearest")
