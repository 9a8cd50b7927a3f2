"""Application-error handling (SDAM spec, "Application errors"): every rule, with pool
generations and topologyVersions, through ``Topology.handle_application_error`` with
monitors off and a recording fake pool."""

from __future__ import annotations

from typing import Any

import pytest

from driver.errors import (
    AutoReconnect,
    NetworkTimeout,
    NotPrimaryError,
    OperationFailure,
    WriteConcernError,
)
from driver.sdam.server_description import ServerDescription
from driver.sdam.settings import TopologySettings
from driver.sdam.topology import AFTER_HANDSHAKE, BEFORE_HANDSHAKE, Topology
from driver.sdam.types import ServerType, TopologyType
from tests.driver.sdam_fakes import FakePool, hello

A = ("a", 27017)
B = ("b", 27017)
PID = "000000000000000000000001"


def tv(counter: int, process: str = PID) -> dict[str, Any]:
    return {"processId": process, "counter": counter}


@pytest.fixture
def topology() -> Any:
    settings = TopologySettings(seeds=[A, B], replica_set_name="rs")
    topo = Topology(settings, pool_factory=FakePool, monitoring=False)
    topo.open()
    topo.on_server_check(ServerDescription(
        A, hello("primary", hosts=["a:27017", "b:27017"], topologyVersion=tv(5)), 0.001))
    topo.on_server_check(ServerDescription(
        B, hello("secondary", hosts=["a:27017", "b:27017"]), 0.001))
    assert topo.description.topology_type == TopologyType.ReplicaSetWithPrimary
    yield topo
    topo.close()


def pool(topology: Topology, address: Any = A) -> FakePool:
    server = topology.get_server(address)
    assert server is not None
    return server.pool  # type: ignore[return-value]


def server_type(topology: Topology, address: Any = A) -> ServerType:
    sd = topology.description_of(address)
    assert sd is not None
    return sd.server_type


def command_error(code: int | None, message: str = "", **extra: Any) -> OperationFailure:
    details: dict[str, Any] = {"ok": 0, "errmsg": message, **extra}
    if code is not None:
        details["code"] = code
    return OperationFailure(message, code, details)


def test_network_error_after_handshake_marks_unknown_and_clears_pool(topology: Topology) -> None:
    topology.handle_application_error(A, AutoReconnect("a:27017: connection reset"), 0, 21,
                                      AFTER_HANDSHAKE)
    assert server_type(topology) == ServerType.Unknown
    assert topology.description.topology_type == TopologyType.ReplicaSetNoPrimary
    assert pool(topology).clears == [False]
    assert "connection reset" in str(topology.description_of(A).error)  # type: ignore[union-attr]


def test_network_timeout_after_handshake_changes_nothing(topology: Topology) -> None:
    topology.handle_application_error(A, NetworkTimeout("a:27017: timed out"), 0, 21,
                                      AFTER_HANDSHAKE)
    assert server_type(topology) == ServerType.RSPrimary
    assert pool(topology).clears == []


def test_network_timeout_before_handshake_marks_unknown(topology: Topology) -> None:
    topology.handle_application_error(A, NetworkTimeout("a:27017: timed out"), 0, 21,
                                      BEFORE_HANDSHAKE)
    assert server_type(topology) == ServerType.Unknown
    assert pool(topology).clears == [False]


def test_auth_error_before_handshake_marks_unknown(topology: Topology) -> None:
    topology.handle_application_error(A, command_error(18, "Authentication failed."), 0, 21,
                                      "beforeHandshakeCompletes")
    assert server_type(topology) == ServerType.Unknown
    assert pool(topology).generation == 1


def test_auth_error_after_handshake_is_not_an_sdam_error(topology: Topology) -> None:
    topology.handle_application_error(A, command_error(18, "Authentication failed."), 0, 21,
                                      "afterHandshakeCompletes")
    assert server_type(topology) == ServerType.RSPrimary
    assert pool(topology).generation == 0


def overloaded(error: Any) -> Any:
    """``error`` as the pool hands it over after a dial or hello failure."""
    error._add_error_label("SystemOverloadedError")
    error._add_error_label("RetryableError")
    return error


@pytest.mark.parametrize("error", [AutoReconnect("a:27017: connection closed by the server"),
                                   NetworkTimeout("a:27017: timed out")],
                         ids=["network", "timeout"])
def test_overloaded_error_before_handshake_changes_nothing(topology: Topology,
                                                           error: Any) -> None:
    # SDAM "MongoDB Handshake errors" and the pseudocode: an error with the
    # SystemOverloadedError label is ignored; the server stays, the pool is not cleared.
    topology.handle_application_error(A, overloaded(error), 0, None, BEFORE_HANDSHAKE)
    assert server_type(topology) == ServerType.RSPrimary
    assert pool(topology).clears == []


def test_overloaded_network_error_after_handshake_changes_nothing(topology: Topology) -> None:
    topology.handle_application_error(A, overloaded(AutoReconnect("a:27017: reset")), 0, 21,
                                      AFTER_HANDSHAKE)
    assert server_type(topology) == ServerType.RSPrimary
    assert pool(topology).clears == []


@pytest.mark.parametrize("code", [2, 17, None])
def test_any_unlabelled_error_before_handshake_marks_unknown(topology: Topology,
                                                             code: int | None) -> None:
    # Not only network errors, timeouts and auth codes: "errors that do not have the
    # backpressure error label ... when establishing application connections".
    topology.handle_application_error(A, command_error(code, "hello failed"), 0, None,
                                      BEFORE_HANDSHAKE)
    assert server_type(topology) == ServerType.Unknown
    assert pool(topology).clears == [False]


def test_stale_generation_is_ignored(topology: Topology) -> None:
    pool(topology).clear()  # the pool moved on to generation 1
    topology.handle_application_error(A, AutoReconnect("old connection"), 0, 21, AFTER_HANDSHAKE)
    assert server_type(topology) == ServerType.RSPrimary
    assert pool(topology).generation == 1


@pytest.mark.parametrize("code", [10107, 13435, 10058, 11602, 13436, 189])
def test_state_change_codes_mark_unknown_without_clearing_on_42(
        topology: Topology, code: int) -> None:
    topology.handle_application_error(A, command_error(code, "x", topologyVersion=tv(6)), 0, 21,
                                      AFTER_HANDSHAKE)
    sd = topology.description_of(A)
    assert sd is not None and sd.server_type == ServerType.Unknown
    assert sd.topology_version == tv(6)  # the error's topologyVersion is kept
    assert pool(topology).clears == []  # "If the server is 4.2 or newer ... MUST NOT clear"


@pytest.mark.parametrize("code", [91, 11600])
def test_shutdown_codes_clear_the_pool(topology: Topology, code: int) -> None:
    topology.handle_application_error(A, command_error(code, "shutting down"), 0, 21,
                                      AFTER_HANDSHAKE)
    assert server_type(topology) == ServerType.Unknown
    assert pool(topology).clears == [False]


def test_state_change_from_pre_42_server_clears_the_pool(topology: Topology) -> None:
    topology.handle_application_error(A, command_error(10107, "not primary"), 0, 7,
                                      AFTER_HANDSHAKE)
    assert pool(topology).generation == 1


@pytest.mark.parametrize("message", ["not master", "not master or secondary",
                                     "node is recovering", "xx not master yy"])
def test_messages_are_used_only_without_a_code(topology: Topology, message: str) -> None:
    topology.handle_application_error(A, command_error(None, message), 0, 21, AFTER_HANDSHAKE)
    assert server_type(topology) == ServerType.Unknown


def test_a_code_wins_over_the_message(topology: Topology) -> None:
    # "If the response includes an error code, it MUST be solely used".
    topology.handle_application_error(A, command_error(2, "not master"), 0, 21, AFTER_HANDSHAKE)
    assert server_type(topology) == ServerType.RSPrimary


def test_not_primary_error_and_write_concern_error_are_state_changes(topology: Topology) -> None:
    error = NotPrimaryError("not primary", {"ok": 0, "code": 10107, "errmsg": "not primary"})
    topology.handle_application_error(A, error, 0, 21, AFTER_HANDSHAKE)
    assert server_type(topology) == ServerType.Unknown
    topology.on_server_check(ServerDescription(
        A, hello("primary", hosts=["a:27017", "b:27017"], topologyVersion=tv(7)), 0.001))
    wce = WriteConcernError("wce", 189, {"code": 189, "errmsg": "PrimarySteppedDown",
                                         "topologyVersion": tv(8)})
    topology.handle_application_error(A, wce, 0, 21, AFTER_HANDSHAKE)
    assert server_type(topology) == ServerType.Unknown


@pytest.mark.parametrize("error_tv, applied", [
    (tv(4), False),  # older than the server's (5): stale
    (tv(5), False),  # equal: "We use >= instead of >" - stale
    (tv(6), True),  # newer
    (tv(1, "000000000000000000000002"), True),  # another process: assumed newer
    (None, True),  # no version: assumed newer
])
def test_topology_version_of_the_error_decides_staleness(
        topology: Topology, error_tv: Any, applied: bool) -> None:
    extra = {"topologyVersion": error_tv} if error_tv is not None else {}
    topology.handle_application_error(A, command_error(10107, "x", **extra), 0, 21,
                                      AFTER_HANDSHAKE)
    assert (server_type(topology) == ServerType.Unknown) is applied


def test_generation_none_means_current_and_unknown_address_is_ignored(
        topology: Topology) -> None:
    topology.handle_application_error(("z", 1), AutoReconnect("x"), None, 21, AFTER_HANDSHAKE)
    assert len(topology.description.server_descriptions()) == 2
    topology.handle_application_error("A:27017", AutoReconnect("x"), None, 21, AFTER_HANDSHAKE)
    assert server_type(topology) == ServerType.Unknown


def test_bad_when_is_rejected_by_name(topology: Topology) -> None:
    with pytest.raises(ValueError, match="'during'"):
        topology.handle_application_error(A, AutoReconnect("x"), 0, 21, "during")


def test_load_balanced_errors_never_mark_the_balancer_unknown() -> None:
    settings = TopologySettings(seeds=[A], load_balanced=True)
    with Topology(settings, pool_factory=FakePool, monitoring=False) as topo:
        topo.handle_application_error(A, AutoReconnect("reset"), 0, 21, AFTER_HANDSHAKE)
        topo.handle_application_error(A, command_error(10107, "not primary"), 0, 21,
                                      AFTER_HANDSHAKE)
        assert server_type(topo) == ServerType.LoadBalancer
        assert pool(topo).is_ready


def test_monitor_check_errors_clear_with_interrupt_for_timeouts(topology: Topology) -> None:
    timeout = NetworkTimeout("b:27017: timed out")
    topology.on_server_check(ServerDescription.unknown(B, timeout), clear_pool=True,
                             interrupt_in_use=True)
    assert pool(topology, B).clears == [True]
    assert server_type(topology, B) == ServerType.Unknown


@pytest.mark.parametrize("error_tv, late_reply_applied", [
    (tv(6), False),  # a 4.4+ server's error: the reply from before the step-down (5) is stale
    (None, True),  # no version in the error (a 4.2 server): the driver cannot tell (issue 14)
])
def test_a_primary_reply_sent_before_the_step_down_and_read_after_the_error(
        topology: Topology, error_tv: Any, late_reply_applied: bool) -> None:
    extra = {"topologyVersion": error_tv} if error_tv is not None else {}
    error = NotPrimaryError("not primary", {"ok": 0, "code": 10107, "errmsg": "not primary",
                                            **extra})
    topology.handle_application_error(A, error, 0, 21, AFTER_HANDSHAKE)
    assert server_type(topology) == ServerType.Unknown
    late = ServerDescription(
        A, hello("primary", hosts=["a:27017", "b:27017"], topologyVersion=tv(5)), 0.001)
    assert topology.on_server_check(late) is late_reply_applied
    expected = ServerType.RSPrimary if late_reply_applied else ServerType.Unknown
    assert server_type(topology) == expected
    # The member's own report after the step-down is taken (same version as the error).
    topology.on_server_check(ServerDescription(
        A, hello("secondary", hosts=["a:27017", "b:27017"], topologyVersion=tv(6)), 0.001))
    assert server_type(topology) == ServerType.RSSecondary
