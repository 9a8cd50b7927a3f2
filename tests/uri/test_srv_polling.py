"""SRV polling: ``SrvMonitor`` over real DNS packets from the stub server.

Each test waits on events (a queue filled by the change callback), never on sleeps;
intervals are shortened through ``rescan_srv_interval_ms``/``heartbeat_frequency_ms``.
"""

from __future__ import annotations

import queue
import random
import threading
import time

import pytest

from driver.connection_string.srv import SrvRecords
from driver.connection_string.srv_polling import (
    SrvMonitor,
    make_rescan,
    monitor_for_client,
    updated_host_list,
)
from tests.timing import assert_prompt
from tests.uri.dns_server import StubDnsServer

NAME = "_mongodb._tcp.poll.example.com"
A = ("a.poll.example.com", 27017)
B = ("b.poll.example.com", 27017)
C = ("c.poll.example.com", 27017)


def _monitor(
    server: StubDnsServer, changes: queue.Queue[list[tuple[str, int]]], **kw: int
) -> SrvMonitor:
    rescan = make_rescan("poll.example.com", resolver=server.resolver(0.5), lifetime=0.5)
    return SrvMonitor(
        rescan,
        changes.put,
        initial_hosts=[A, B],
        rescan_srv_interval_ms=kw.get("interval", 20),
        heartbeat_frequency_ms=kw.get("heartbeat", 20),
        srv_max_hosts=kw.get("srv_max_hosts", 0),
    )


def test_changed_records_are_reported(dns_server: StubDnsServer) -> None:
    dns_server.set_srv(NAME, [A, B])
    changes: queue.Queue[list[tuple[str, int]]] = queue.Queue()
    monitor = _monitor(dns_server, changes)
    monitor.start()
    try:
        dns_server.set_srv(NAME, [B, C])
        assert changes.get(timeout=5) == [B, C]  # A removed, B untouched, C added
        dns_server.set_srv(NAME, [C])
        monitor.request_rescan()
        assert changes.get(timeout=5) == [C]
        assert monitor.hosts == [C]
    finally:
        monitor.close()


def test_failing_poll_keeps_the_old_list_and_uses_heartbeat_interval(
    dns_server: StubDnsServer,
) -> None:
    dns_server.set_srv(NAME, [A, B])
    changes: queue.Queue[list[tuple[str, int]]] = queue.Queue()
    monitor = _monitor(dns_server, changes, interval=60_000, heartbeat=25)
    dns_server.remove(NAME, "SRV")  # NXDOMAIN
    assert monitor.rescan_once() is False
    assert monitor.hosts == [A, B] and monitor.interval_ms == 25
    dns_server.silent.add(NAME.lower())  # timeout
    assert monitor.rescan_once() is False and monitor.hosts == [A, B]
    dns_server.silent.clear()
    dns_server.set_srv(NAME, [A], ttl=90)
    assert monitor.rescan_once() is True and monitor.hosts == [A]
    # "the lowest of the individual TTL values ... MUST NOT be lower than" the floor.
    assert monitor.interval_ms == 90_000
    dns_server.set_srv(NAME, [A], ttl=5)
    monitor.rescan_once()
    assert monitor.interval_ms == 60_000
    assert changes.get_nowait() == [A] and changes.empty()


def test_srv_max_hosts_caps_the_list_while_polling() -> None:
    current = [A]
    found = [A, B, C, ("d.poll.example.com", 1)]
    new = updated_host_list(current, found, srv_max_hosts=2, rng=random.Random(1))
    assert len(new) == 2 and new[0] == A and set(new) <= set(found)
    assert updated_host_list([A, B], [B, C], 0) == [B, C]


def test_should_poll_false_pauses_polling_and_close_joins_quickly() -> None:
    calls = threading.Event()
    polled: list[int] = []

    def rescan() -> SrvRecords:
        polled.append(1)
        return SrvRecords([A], None)

    def should_poll() -> bool:
        calls.set()
        return False

    monitor = SrvMonitor(
        rescan,
        lambda hosts: None,
        initial_hosts=[A],
        rescan_srv_interval_ms=10,
        should_poll=should_poll,
    )
    monitor.start()
    assert calls.wait(5)
    started = time.monotonic()
    monitor.close()
    assert_prompt(time.monotonic() - started, "closing the SRV monitor")
    assert polled == []
    assert not any(t.name == "binnacle-srv-monitor" and t.is_alive() for t in threading.enumerate())


def test_callback_error_does_not_stop_the_monitor() -> None:
    results = iter([SrvRecords([B], None), SrvRecords([C], None)])
    seen: queue.Queue[list[tuple[str, int]]] = queue.Queue()

    def on_change(hosts: list[tuple[str, int]]) -> None:
        seen.put(hosts)
        if hosts == [B]:
            raise RuntimeError("listener bug")

    monitor = SrvMonitor(lambda: next(results), on_change, initial_hosts=[A])
    assert monitor.rescan_once() and monitor.rescan_once()
    assert [seen.get_nowait(), seen.get_nowait()] == [[B], [C]]


@pytest.mark.parametrize("ttl", [None, 0])
def test_default_interval_is_sixty_seconds(ttl: int | None) -> None:
    monitor = SrvMonitor(
        lambda: SrvRecords([A], ttl), lambda h: None, initial_hosts=[A], initial_ttl=ttl
    )
    assert monitor.interval_ms == 60_000


def test_rescan_drops_targets_outside_the_parent_domain(dns_server: StubDnsServer) -> None:
    dns_server.set_srv(NAME, [B, ("evil.other.com", 27017), ("poll.example.com.evil.net", 1)])
    rescan = make_rescan("poll.example.com", resolver=dns_server.resolver(), lifetime=1)
    assert rescan().hosts == [B]


def test_client_options_build_a_monitor_for_srv_only(dns_server: StubDnsServer) -> None:
    from driver.connection_string.client_options import ClientOptions

    dns_server.set_srv(NAME, [A, B], ttl=120)
    opts = ClientOptions.from_inputs(
        "mongodb+srv://poll.example.com/", None, {"dns_resolver": dns_server.resolver()}
    )
    changes: queue.Queue[list[tuple[str, int]]] = queue.Queue()
    monitor = monitor_for_client(opts, changes.put, should_poll=lambda: True)
    assert monitor is not None and sorted(monitor.hosts) == [A, B]
    assert monitor.interval_ms == 120_000  # the TTL of the initial answer
    dns_server.set_srv(NAME, [A])
    assert monitor.rescan_once() and changes.get_nowait() == [A]
    assert monitor_for_client(ClientOptions.from_inputs("h", None, {}), changes.put) is None
