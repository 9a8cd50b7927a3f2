"""``Topology.select_server`` and friends: waiting, the timeout error's message,
wire-version compatibility errors, maxStalenessSeconds (selection and minimum values),
operation counts, deprioritized servers, SRV updates, and settings validation."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from driver.errors import (
    ConfigurationError,
    InvalidOperation,
    NetworkTimeout,
    ServerSelectionTimeoutError,
)
from driver.read_preferences import Nearest, ReadPreference, Secondary, SecondaryPreferred
from driver.sdam.selection import select_servers, validate_max_staleness, writable_server_selector
from driver.sdam.server_description import ServerDescription
from driver.sdam.settings import TopologySettings
from driver.sdam.topology import Topology
from driver.sdam.topology_description import TopologyDescription
from driver.sdam.types import TopologyType
from tests.driver.sdam_fakes import FakePool, ScriptedFactory, hello
from tests.timing import LONG_S, assert_prompt

A, B, C, D = ("a", 27017), ("b", 27017), ("c", 27017), ("d", 27017)
LOCAL = ("localhost", 27017)


def offline(seeds: list[Any], **settings: Any) -> Topology:
    topology = Topology(TopologySettings(seeds=seeds, **settings), pool_factory=FakePool,
                        monitoring=False)
    topology.open()
    return topology


def test_selection_waits_for_a_suitable_server() -> None:
    topology = offline([A, B], replica_set_name="rs")
    hosts = ["a:27017", "b:27017"]

    def elect() -> None:
        time.sleep(0.1)
        topology.on_server_check(ServerDescription(B, hello("secondary", hosts=hosts), 0.001))
        time.sleep(0.1)
        topology.on_server_check(ServerDescription(A, hello("primary", hosts=hosts), 0.001))

    feeder = threading.Thread(target=elect)
    feeder.start()
    start = time.monotonic()
    # A selection not woken by the checks would wait out its minute-long timeout.
    server = topology.select_server(writable_server_selector, timeout=LONG_S)
    waited = time.monotonic() - start
    feeder.join()
    assert server.address == A and waited > 0.15
    assert_prompt(waited, "a selection woken by the new primary")
    # A secondary read does not wait for the primary.
    assert topology.select_server(ReadPreference.SECONDARY, timeout=0).address == B
    topology.close()


def test_timeout_message_names_selector_servers_and_last_errors() -> None:
    factory = ScriptedFactory({})  # every connect fails
    factory_errors = NetworkTimeout("localhost:27017: timed out")

    def failing(address: Any, timeout: float | None) -> Any:
        factory.connects.append(address)
        raise factory_errors

    settings = TopologySettings(seeds=[LOCAL], heartbeat_frequency_ms=500)
    with Topology(settings, connection_factory=failing, pool_factory=FakePool) as topology:
        start = time.monotonic()
        with pytest.raises(ServerSelectionTimeoutError) as info:
            topology.select_server(ReadPreference.PRIMARY, timeout=0.3)
        elapsed = time.monotonic() - start
        assert elapsed > 0.25
        assert_prompt(elapsed, "a selection with a 0.3 s timeout")
    message = str(info.value)
    assert message.startswith("localhost:27017: timed out")
    assert "Timeout: 0.3s" in message and "Selector: Primary()" in message
    assert "localhost:27017 Unknown" in message
    assert info.value.errors == {"localhost:27017": "localhost:27017: timed out"}
    assert info.value.timeout


def test_timeout_message_without_errors_explains_what_is_missing() -> None:
    topology = offline([A], replica_set_name="rs")
    topology.on_server_check(ServerDescription(A, hello("secondary", hosts=["a:27017"]), 0.003))
    with pytest.raises(ServerSelectionTimeoutError, match="No primary available for writes") as e:
        topology.select_server(writable_server_selector, timeout=0)
    assert "a:27017 RSSecondary rtt=3.0ms" in str(e.value)
    with pytest.raises(ServerSelectionTimeoutError, match="No replica set members match"):
        topology.select_server(Secondary([{"dc": "ny"}]), timeout=0)
    topology.close()


def test_too_old_and_too_new_servers_raise_the_specs_text() -> None:
    topology = offline([LOCAL])
    reply = hello("standalone", maxWireVersion=6)
    topology.on_server_check(ServerDescription(LOCAL, reply, 0.001))
    with pytest.raises(ConfigurationError) as info:
        topology.select_server(ReadPreference.PRIMARY, timeout=1)
    assert str(info.value) == ("Server at localhost:27017 reports wire version 6, but this "
                               "version of Binnacle requires at least 8 (MongoDB 4.2).")
    topology.on_server_check(ServerDescription(LOCAL, hello("standalone", minWireVersion=30,
                                                            maxWireVersion=31), 0.001))
    with pytest.raises(ConfigurationError) as info:
        topology.select_server(ReadPreference.PRIMARY, timeout=1)
    assert str(info.value) == ("Server at localhost:27017 requires wire version 30, but this "
                               "version of Binnacle only supports up to 27.")
    topology.on_server_check(ServerDescription(LOCAL, hello("standalone", maxWireVersion=8), 0))
    assert topology.select_server(ReadPreference.PRIMARY, timeout=1).address == LOCAL
    topology.close()


# --- maxStalenessSeconds -------------------------------------------------------------------


def _replica_set(heartbeat_ms: int, members: dict[Any, tuple[str, float]], now: float
                 ) -> TopologyDescription:
    """``members``: address -> (kind, seconds its last write lags behind ``now``)."""
    servers = {}
    for address, (kind, lag) in members.items():
        reply = hello(kind, hosts=[f"{a[0]}:{a[1]}" for a in members],
                      lastWrite={"lastWriteDate": int((now - lag) * 1000)})
        servers[address] = ServerDescription(address, reply, 0.001, last_update_time=now)
    has_primary = any(kind == "primary" for kind, _ in members.values())
    topology_type = (TopologyType.ReplicaSetWithPrimary if has_primary
                     else TopologyType.ReplicaSetNoPrimary)
    settings = TopologySettings(seeds=list(members), heartbeat_frequency_ms=heartbeat_ms)
    return TopologyDescription(topology_type, servers, "rs", None, None, settings)


@pytest.mark.parametrize("heartbeat_ms, max_staleness, ok", [
    (10_000, 89, False),  # below smallestMaxStalenessSeconds (90)
    (10_000, 90, True),
    (85_000, 90, False),  # below heartbeatFrequencyMS + idleWritePeriodMS (95 s)
    (85_000, 95, True),
])
def test_max_staleness_minimum_values(heartbeat_ms: int, max_staleness: int, ok: bool) -> None:
    now = 1_000_000.0
    td = _replica_set(heartbeat_ms, {A: ("primary", 0), B: ("secondary", 1)}, now)
    pref = Secondary(max_staleness=max_staleness)
    if ok:
        validate_max_staleness(pref, td)
        assert [sd.address for sd in select_servers(td, pref)] == [B]
    else:
        with pytest.raises(ConfigurationError, match=f"maxStalenessSeconds={max_staleness}"):
            select_servers(td, pref)


def test_max_staleness_is_not_checked_outside_replica_sets() -> None:
    topology = offline([A])
    topology.on_server_check(ServerDescription(A, hello("mongos"), 0.001))
    topology.on_server_check(ServerDescription(A, hello("mongos"), 0.001))
    assert topology.select_server(Nearest(max_staleness=10), timeout=0).address == A
    topology.close()


def test_max_staleness_with_a_primary() -> None:
    now = 5_000_000.0
    # staleness = (S.lastUpdate - S.lastWrite) - (P.lastUpdate - P.lastWrite) + heartbeat
    td = _replica_set(10_000, {A: ("primary", 2), B: ("secondary", 50), C: ("secondary", 120),
                               D: ("secondary", 200)}, now)
    chosen = {sd.address for sd in select_servers(td, Secondary(max_staleness=120), 10_000)}
    assert chosen == {B}  # B: 58 s; C: 128 s; D: 208 s
    chosen = {sd.address for sd in select_servers(td, Secondary(max_staleness=130), 10_000)}
    assert chosen == {B, C}
    # secondaryPreferred falls back to the primary when every secondary is too stale.
    chosen = {sd.address for sd in select_servers(td, SecondaryPreferred(max_staleness=90))}
    assert chosen == {B}
    td2 = _replica_set(10_000, {A: ("primary", 0), C: ("secondary", 120)}, now)
    assert [sd.address for sd in select_servers(td2, SecondaryPreferred(max_staleness=90))] == [A]


def test_max_staleness_without_a_primary_uses_the_freshest_secondary() -> None:
    now = 5_000_000.0
    # staleness = SMax.lastWriteDate - S.lastWriteDate + heartbeat
    td = _replica_set(10_000, {B: ("secondary", 100), C: ("secondary", 180),
                               D: ("secondary", 300)}, now)
    chosen = {sd.address for sd in select_servers(td, Nearest(max_staleness=90), 10_000)}
    assert chosen == {B, C}  # B: 10 s, C: 90 s, D: 210 s


# --- counts, deprioritized servers, custom selectors -----------------------------------------


def _sharded() -> Topology:
    topology = offline([A, B])
    for address in (A, B):
        topology.on_server_check(ServerDescription(address, hello("mongos"), 0.001))
    assert topology.description.topology_type == TopologyType.Sharded
    return topology


def test_operation_counts_steer_the_choice_and_are_released() -> None:
    topology = _sharded()
    busy = topology.get_server(A)
    assert busy is not None
    busy.operation_count = 100
    picks = {topology.select_server(writable_server_selector).address for _ in range(20)}
    assert picks == {B}
    b = topology.get_server(B)
    assert b is not None and b.operation_count == 20
    for _ in range(20):
        b.operation_finished()
    with topology.selected_server(ReadPreference.NEAREST) as server:
        assert server.operation_count == 1
    assert b.operation_count == 0
    topology.close()


def test_deprioritized_and_custom_selectors() -> None:
    topology = _sharded()
    for _ in range(10):
        assert topology.select_server(writable_server_selector, deprioritized=[A]).address == B
    # Everything deprioritized: fall back to all suitable servers.
    found = {topology.select_server(writable_server_selector, deprioritized=[A, B]).address
             for _ in range(30)}
    assert found <= {A, B} and found
    only_a = topology.select_server(
        writable_server_selector, custom_selector=lambda sds: [s for s in sds if s.address == A])
    assert only_a.address == A
    topology.close()


def test_closed_topology_refuses_selection() -> None:
    topology = _sharded()
    topology.close()
    with pytest.raises(InvalidOperation, match="after close"):
        topology.select_server(writable_server_selector, timeout=0)


# --- SRV ------------------------------------------------------------------------------------


def test_srv_updates_reconcile_a_sharded_topology() -> None:
    topology = _sharded()
    assert topology.accepts_srv_updates
    topology.on_srv_update(["b:27017", "c:27017"])
    assert set(topology.description.server_descriptions()) == {B, C}
    assert topology.description_of(B).server_type.name == "Mongos"  # type: ignore[union-attr]
    topology.on_srv_update([])  # an empty answer keeps the hosts
    assert set(topology.description.server_descriptions()) == {B, C}
    topology.close()


def test_srv_max_hosts_limits_the_new_hosts() -> None:
    topology = offline([A, B], srv_max_hosts=2)
    topology.on_srv_update(["a:27017", "c:27017", "d:27017", "e:27017"])
    servers = set(topology.description.server_descriptions())
    assert len(servers) == 2 and A in servers and B not in servers
    topology.close()


def test_srv_updates_are_ignored_for_replica_sets() -> None:
    topology = offline([A], replica_set_name="rs")
    assert not topology.accepts_srv_updates
    topology.on_srv_update(["z:27017"])
    assert set(topology.description.server_descriptions()) == {A}
    topology.close()


# --- settings -------------------------------------------------------------------------------


@pytest.mark.parametrize("kwargs, message", [
    ({"heartbeat_frequency_ms": 100}, "heartbeatFrequencyMS must be at least 500, not 100"),
    ({"seeds": [A, B], "direct_connection": True}, "directConnection=true cannot be used"),
    ({"seeds": [A], "load_balanced": True, "replica_set_name": "rs"}, "with replicaSet"),
    ({"server_monitoring_mode": "push"}, "serverMonitoringMode must be one of"),
    ({"seeds": ["a:99999"]}, "invalid port '99999'"),
    ({"seeds": []}, "at least one server address"),
    ({"local_threshold_ms": -1}, "local_threshold_ms must be a non-negative number"),
])
def test_settings_errors_name_the_option(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        TopologySettings(**kwargs)


def test_monitoring_mode_auto_polls_inside_faas(monkeypatch: pytest.MonkeyPatch) -> None:
    assert TopologySettings(server_monitoring_mode="stream").use_streaming
    assert not TopologySettings(server_monitoring_mode="poll").use_streaming
    monkeypatch.setenv("AWS_EXECUTION_ENV", "AWS_Lambda_python3.11")
    assert not TopologySettings().use_streaming
    monkeypatch.delenv("AWS_EXECUTION_ENV")
    for name in ("AWS_LAMBDA_RUNTIME_API", "FUNCTIONS_WORKER_RUNTIME", "K_SERVICE",
                 "FUNCTION_NAME", "VERCEL"):
        monkeypatch.delenv(name, raising=False)
    assert TopologySettings().use_streaming


# --- descriptions are values ---------------------------------------------------------------


def test_descriptions_are_immutable_values() -> None:
    from driver.sdam.topology_description import updated_topology_description

    settings = TopologySettings(seeds=[A], replica_set_name="rs")
    before = TopologyDescription.initial(settings)
    primary = ServerDescription(A, hello("primary", hosts=["a:27017", "b:27017"]), 0.001)
    after = updated_topology_description(before, primary)
    assert set(before.server_descriptions()) == {A}  # the input did not change
    assert set(after.server_descriptions()) == {A, B}
    after.server_descriptions().clear()  # a copy: the description keeps its servers
    assert set(after.server_descriptions()) == {A, B}
    # Equality ignores the RTT ("Server Description Equality" uses only the (=) fields).
    slower = ServerDescription(A, hello("primary", hosts=["a:27017", "b:27017"]), 0.5)
    assert slower == primary and slower.round_trip_time != primary.round_trip_time
    # An outcome from a server that is not in the description is ignored.
    stranger = ServerDescription(C, hello("primary", hosts=["c:27017"]), 0.001)
    assert updated_topology_description(after, stranger) is after
