"""SDAM event sequences, the way the application's replica-set health view sees them:
a replica set that loses and regains its primary, a stale primary, a load balancer, the
closing events, and the delivery thread's guarantees (order, other thread, a listener
that raises)."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from driver import events as shared_events
from driver import monitoring
from driver.errors import AutoReconnect
from driver.sdam.events import (
    EventPublisher,
    ServerClosedEvent,
    ServerDescriptionChangedEvent,
    ServerOpeningEvent,
    TopologyClosedEvent,
    TopologyDescriptionChangedEvent,
    TopologyListener,
    TopologyOpenedEvent,
)
from driver.sdam.server_description import ServerDescription
from driver.sdam.settings import TopologySettings
from driver.sdam.topology import AFTER_HANDSHAKE, Topology
from tests.driver.sdam_fakes import FakePool, Recorder, hello

A, B, C = ("a", 27017), ("b", 27017), ("c", 27017)
HOSTS = ["a:27017", "b:27017", "c:27017"]


def oid(n: int) -> str:
    return f"{n:024x}"


def summarize(event: Any) -> tuple[Any, ...]:
    if isinstance(event, TopologyOpenedEvent):
        return ("TopologyOpened",)
    if isinstance(event, TopologyClosedEvent):
        return ("TopologyClosed",)
    if isinstance(event, TopologyDescriptionChangedEvent):
        return ("TopologyChanged", event.previous_description.topology_type_name,
                event.new_description.topology_type_name)
    if isinstance(event, ServerOpeningEvent):
        return ("ServerOpening", event.server_address[0])
    if isinstance(event, ServerClosedEvent):
        return ("ServerClosed", event.server_address[0])
    if isinstance(event, ServerDescriptionChangedEvent):
        return ("ServerChanged", event.server_address[0],
                event.previous_description.server_type_name,
                event.new_description.server_type_name)
    raise AssertionError(f"unexpected event {event!r}")


def new_topology(recorder: Recorder) -> Topology:
    settings = TopologySettings(seeds=[A], replica_set_name="rs")
    return Topology(settings, pool_factory=FakePool, listeners=[recorder], monitoring=False)


def check(topology: Topology, address: Any, reply: dict[str, Any] | None) -> None:
    if reply is None:
        sd = ServerDescription.unknown(address, AutoReconnect(f"{address[0]}: connection refused"))
        topology.on_server_check(sd, clear_pool=True)
    else:
        topology.on_server_check(ServerDescription(address, reply, 0.002))


def drain(topology: Topology, recorder: Recorder) -> list[tuple[Any, ...]]:
    assert topology.publisher.flush()
    events = [summarize(e) for e in recorder.events]
    recorder.events.clear()
    return events


def test_replica_set_loses_and_regains_its_primary() -> None:
    recorder = Recorder()
    topology = new_topology(recorder)
    topology.open()
    assert drain(topology, recorder) == [
        ("TopologyOpened",),
        ("TopologyChanged", "Unknown", "ReplicaSetNoPrimary"),
        ("ServerOpening", "a"),
    ]
    check(topology, A, hello("primary", hosts=HOSTS, electionId=oid(1), setVersion=1))
    assert drain(topology, recorder) == [
        ("ServerChanged", "a", "Unknown", "RSPrimary"),
        ("ServerOpening", "b"),
        ("ServerOpening", "c"),
        ("TopologyChanged", "ReplicaSetNoPrimary", "ReplicaSetWithPrimary"),
    ]
    check(topology, B, hello("secondary", hosts=HOSTS, setVersion=1))
    check(topology, C, hello("secondary", hosts=HOSTS, setVersion=1))
    assert drain(topology, recorder) == [
        ("ServerChanged", "b", "Unknown", "RSSecondary"),
        ("TopologyChanged", "ReplicaSetWithPrimary", "ReplicaSetWithPrimary"),
        ("ServerChanged", "c", "Unknown", "RSSecondary"),
        ("TopologyChanged", "ReplicaSetWithPrimary", "ReplicaSetWithPrimary"),
    ]
    # The same reply again (only the RTT differs): no event at all.
    check(topology, B, hello("secondary", hosts=HOSTS, setVersion=1))
    assert drain(topology, recorder) == []

    # The primary disappears (an application's network error), ...
    topology.handle_application_error(A, AutoReconnect("a:27017: connection reset"), 0, 21,
                                      AFTER_HANDSHAKE)
    assert drain(topology, recorder) == [
        ("ServerChanged", "a", "RSPrimary", "Unknown"),
        ("TopologyChanged", "ReplicaSetWithPrimary", "ReplicaSetNoPrimary"),
    ]
    # Its monitor cannot reach it either: still Unknown, but the error is one of the fields
    # of "Server Description Equality", so the new error is an event of its own.
    check(topology, A, None)
    assert drain(topology, recorder) == [
        ("ServerChanged", "a", "Unknown", "Unknown"),
        ("TopologyChanged", "ReplicaSetNoPrimary", "ReplicaSetNoPrimary"),
    ]
    check(topology, A, None)  # the very same error again: nothing changed, no event
    assert drain(topology, recorder) == []
    # ... b is elected, ...
    check(topology, B, hello("primary", hosts=HOSTS, electionId=oid(2), setVersion=1))
    assert drain(topology, recorder) == [
        ("ServerChanged", "b", "RSSecondary", "RSPrimary"),
        ("TopologyChanged", "ReplicaSetNoPrimary", "ReplicaSetWithPrimary"),
    ]
    # ... and a comes back as a secondary.
    check(topology, A, hello("secondary", hosts=HOSTS, setVersion=1))
    assert drain(topology, recorder) == [
        ("ServerChanged", "a", "Unknown", "RSSecondary"),
        ("TopologyChanged", "ReplicaSetWithPrimary", "ReplicaSetWithPrimary"),
    ]
    topology.close()
    assert [summarize(e) for e in recorder.events] == [
        ("ServerClosed", "a"), ("ServerClosed", "b"), ("ServerClosed", "c"),
        ("TopologyChanged", "ReplicaSetWithPrimary", "Unknown"),
        ("TopologyClosed",),
    ]
    assert not topology.threads()


def test_newer_primary_invalidates_the_old_one_with_an_event_for_each() -> None:
    recorder = Recorder()
    topology = new_topology(recorder)
    topology.open()
    check(topology, A, hello("primary", hosts=HOSTS, electionId=oid(1), setVersion=1))
    check(topology, B, hello("secondary", hosts=HOSTS, setVersion=1))
    drain(topology, recorder)
    check(topology, B, hello("primary", hosts=HOSTS, electionId=oid(2), setVersion=1))
    events = drain(topology, recorder)
    assert events == [
        ("ServerChanged", "a", "RSPrimary", "Unknown"),
        ("ServerChanged", "b", "RSSecondary", "RSPrimary"),
        ("TopologyChanged", "ReplicaSetWithPrimary", "ReplicaSetWithPrimary"),
    ]
    sd_a = topology.description_of(A)
    assert sd_a is not None and "discovery of newer primary" in str(sd_a.error)
    # The old primary still believes it leads: it is marked stale, not primary.
    check(topology, A, hello("primary", hosts=HOSTS, electionId=oid(1), setVersion=1))
    sd_a = topology.description_of(A)
    assert sd_a is not None and "electionId/setVersion mismatch" in str(sd_a.error)
    assert drain(topology, recorder) == [
        ("ServerChanged", "a", "Unknown", "Unknown"),  # same type, new error
        ("TopologyChanged", "ReplicaSetWithPrimary", "ReplicaSetWithPrimary"),
    ]
    topology.close()


def test_member_removed_by_the_primary_is_closed() -> None:
    recorder = Recorder()
    topology = new_topology(recorder)
    topology.open()
    check(topology, A, hello("primary", hosts=HOSTS, electionId=oid(1), setVersion=1))
    drain(topology, recorder)
    check(topology, A, hello("primary", hosts=HOSTS[:2], electionId=oid(1), setVersion=2))
    assert drain(topology, recorder) == [
        ("ServerChanged", "a", "RSPrimary", "RSPrimary"),
        ("ServerClosed", "c"),
        ("TopologyChanged", "ReplicaSetWithPrimary", "ReplicaSetWithPrimary"),
    ]
    closed_pool = FakePool.instances[-1]
    assert closed_pool.address == C and closed_pool.closed
    topology.close()


def test_load_balancer_sequence() -> None:
    recorder = Recorder()
    topology = Topology(TopologySettings(seeds=[A], load_balanced=True), pool_factory=FakePool,
                        listeners=[recorder], monitoring=False)
    topology.open()
    topology.close()
    assert [summarize(e) for e in recorder.events] == [
        ("TopologyOpened",),
        ("TopologyChanged", "Unknown", "LoadBalanced"),
        ("ServerOpening", "a"),
        ("ServerChanged", "a", "Unknown", "LoadBalancer"),
        ("TopologyChanged", "LoadBalanced", "LoadBalanced"),
        ("ServerClosed", "a"),
        ("TopologyChanged", "LoadBalanced", "Unknown"),
        ("TopologyClosed",),
    ]


class _Raising(TopologyListener):
    def opened(self, event: TopologyOpenedEvent) -> None:
        raise RuntimeError("listener bug")


def test_listeners_run_on_the_event_thread_and_a_raising_one_is_skipped(
        caplog: pytest.LogCaptureFixture) -> None:
    recorder = Recorder()
    threads: list[threading.Thread] = []

    class Where(TopologyListener):
        def description_changed(self, event: TopologyDescriptionChangedEvent) -> None:
            threads.append(threading.current_thread())

    topology = Topology(TopologySettings(seeds=[A]), listeners=[_Raising(), recorder, Where()],
                        monitoring=False)
    topology.open()
    assert topology.publisher.flush()
    assert summarize(recorder.events[0]) == ("TopologyOpened",)
    assert threads and all(t is not threading.current_thread() for t in threads)
    assert threads[0].name == "binnacle-events"
    assert "listener bug" in caplog.text
    topology.close()
    assert not threads[0].is_alive()


def test_globally_registered_listeners_receive_events(monkeypatch: pytest.MonkeyPatch) -> None:
    recorder = Recorder()
    monkeypatch.setattr(shared_events, "_GLOBAL_LISTENERS", [])
    monitoring.register(recorder)
    with pytest.raises(TypeError, match="listeners must be"):
        monitoring.register(object())  # type: ignore[arg-type]
    with Topology(TopologySettings(seeds=[A]), monitoring=False) as topology:
        assert topology.publisher.flush()
    assert summarize(recorder.events[-1]) == ("TopologyClosed",)


def test_publisher_without_listeners_starts_no_thread() -> None:
    publisher = EventPublisher([])
    publisher.publish(TopologyOpenedEvent(1))
    assert publisher.flush()
    assert publisher._thread is None
    publisher.close()
