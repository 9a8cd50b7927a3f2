"""``driver.probe`` against real sockets: sandbox servers (standalone, replica set, TLS,
users), a closed port, a server that accepts connections and never answers, and a
cancelled run; plus the client's public ``topology_description`` and ``rtt_samples``
snapshots. Each case checks the step statuses, the driver errors and that no step's
detail, error or repr holds the password."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import pytest

from driver.client import MongoClient
from driver.errors import (
    AutoReconnect,
    ConfigurationError,
    NetworkTimeout,
    OperationFailure,
    PyMongoError,
    ServerSelectionTimeoutError,
)
from driver.probe import (
    AUTHENTICATE,
    CONNECT,
    FAILED,
    HELLO,
    OK,
    PARSE,
    RESOLVE,
    RESOLVE_SRV,
    SELECT,
    SKIPPED,
    STEP_NAMES,
    TLS,
    ProbeStep,
    probe,
    run_probe,
)
from driver.sdam.server_description import ServerDescription
from driver.sdam.topology_description import TopologyDescription
from sandbox.cluster import SandboxCluster


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port whose kernel accepts connections that nobody ever reads."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        yield int(listener.getsockname()[1])


def _by_name(steps: list[ProbeStep], name: str) -> list[ProbeStep]:
    return [step for step in steps if step.name == name]


def _assert_no_secret(steps: list[ProbeStep], secret: str) -> None:
    for step in steps:
        assert secret not in step.detail and secret not in repr(step)
        assert step.error is None or secret not in str(step.error)


def _assert_shape(steps: list[ProbeStep]) -> None:
    assert [s.name for s in steps][0] == PARSE and steps[-1].name == SELECT
    assert {s.name for s in steps} == set(STEP_NAMES)
    for step in steps:
        assert step.status in (OK, FAILED, SKIPPED)
        assert (step.error is not None) == (step.status == FAILED), step
        assert step.error is None or isinstance(step.error, PyMongoError)
        assert step.duration_ms >= 0


def test_standalone_every_step_ok():
    with SandboxCluster(kind="standalone") as cluster:
        steps = run_probe(cluster.uri, connect_timeout=2, server_selection_timeout=2)
        address = ("127.0.0.1", cluster.members[0].port)
    _assert_shape(steps)
    assert [s.status for s in steps if s.status == FAILED] == []
    assert _by_name(steps, RESOLVE_SRV)[0].status == SKIPPED
    assert _by_name(steps, TLS)[0].status == SKIPPED
    assert _by_name(steps, AUTHENTICATE)[0].status == SKIPPED
    hello = _by_name(steps, HELLO)[0]
    assert hello.facts["server_type"] == "Standalone"
    assert isinstance(hello.facts["server_description"], ServerDescription)
    assert "127.0.0.1" in _by_name(steps, RESOLVE)[0].facts["ip_addresses"]
    select = steps[-1]
    assert select.ok and select.facts["selected"] == (address,)
    assert isinstance(select.facts["topology"], TopologyDescription)


def test_replica_set_hello_and_selection_follow_the_read_preference():
    from driver.read_preferences import ReadPreference

    with SandboxCluster(kind="replset", members=3) as cluster:
        primary = run_probe(cluster.uri, connect_timeout=2, server_selection_timeout=5)
        secondary = run_probe(cluster.uri, connect_timeout=2, server_selection_timeout=5,
                              read_preference=ReadPreference.SECONDARY)
    _assert_shape(primary)
    hellos = _by_name(primary, HELLO)
    assert len(hellos) == 3 and all(h.ok for h in hellos)
    assert {h.facts["server_type"] for h in hellos} == {"RSPrimary", "RSSecondary"}
    assert all(h.facts["set_name"] == "rs0" and len(h.facts["members"]) == 3 for h in hellos)
    by_type = {h.facts["server_type"]: h.address for h in hellos}
    assert primary[-1].ok and primary[-1].facts["selected"] == (by_type["RSPrimary"],)
    assert secondary[-1].ok
    chosen = secondary[-1].facts["selected"]
    assert chosen and by_type["RSPrimary"] not in chosen


def test_tls_certificate_details_and_a_missing_ca():
    with SandboxCluster(kind="standalone", tls=True) as cluster:
        good = run_probe(cluster.uri, connect_timeout=2, server_selection_timeout=2)
        port = cluster.members[0].port
        bad = run_probe(f"mongodb://127.0.0.1:{port}/?tls=true", connect_timeout=2,
                        server_selection_timeout=2)
    tls = _by_name(good, TLS)[0]
    assert tls.ok and tls.facts["certificate"] and tls.facts["protocol"].startswith("TLS")
    assert good[-1].ok
    failed = _by_name(bad, TLS)[0]
    assert failed.status == FAILED and isinstance(failed.error, AutoReconnect)
    assert "verif" in str(failed.error) and failed.facts["verify_message"]
    assert failed.facts["certificate"]  # still read, to say what the server presented
    assert [s.status for s in bad[-3:]] == [SKIPPED] * 3  # hello, authenticate, select
    _assert_shape(bad)


def test_a_bad_ca_file_is_a_configuration_error_at_tls(tmp_path):
    missing = tmp_path / "nowhere.pem"
    with SandboxCluster(kind="standalone", tls=True) as cluster:
        port = cluster.members[0].port
        steps = run_probe(f"mongodb://127.0.0.1:{port}/?tls=true&tlsCAFile={missing}",
                          connect_timeout=2, server_selection_timeout=1)
    failed = next(s for s in steps if s.failed)
    assert failed.name in (PARSE, TLS) and isinstance(failed.error, ConfigurationError)


def test_authentication_right_and_wrong_password_never_shows_it():
    with SandboxCluster(kind="standalone", users={"alice": "right-s3cret"}) as cluster:
        port = cluster.members[0].port
        good = run_probe(f"mongodb://alice:right-s3cret@127.0.0.1:{port}/?authSource=admin",
                         connect_timeout=2, server_selection_timeout=2)
        bad = run_probe(f"mongodb://alice:Wr0ng-Pa%40ss@127.0.0.1:{port}/?authSource=admin",
                        connect_timeout=2, server_selection_timeout=2)
    auth = _by_name(good, AUTHENTICATE)[0]
    assert auth.ok and auth.facts["mechanism_used"].startswith("SCRAM-SHA")
    assert auth.facts["username"] == "alice" and auth.facts["source"] == "admin"
    assert good[-1].ok
    failed = _by_name(bad, AUTHENTICATE)[0]
    assert failed.status == FAILED and isinstance(failed.error, OperationFailure)
    assert bad[-1].status == SKIPPED
    _assert_no_secret(good, "right-s3cret")
    for form in ("Wr0ng-Pa%40ss", "Wr0ng-Pa@ss"):
        _assert_no_secret(bad, form)


def test_a_password_in_a_string_that_does_not_parse_is_not_repeated():
    steps = run_probe("mongodb://bob:p@ss@127.0.0.1:1/")
    assert steps[0].name == PARSE and steps[0].status == FAILED
    assert all(s.status == SKIPPED for s in steps[1:])
    _assert_shape(steps)
    _assert_no_secret(steps, "p@ss")


def test_unreachable_port_fails_at_connect():
    port = _closed_port()
    steps = run_probe(f"mongodb://127.0.0.1:{port}/", connect_timeout=2)
    _assert_shape(steps)
    connect = _by_name(steps, CONNECT)[0]
    assert connect.status == FAILED and isinstance(connect.error, AutoReconnect)
    assert connect.address == ("127.0.0.1", port)
    assert [s.status for s in steps[-4:]] == [SKIPPED] * 4  # tls, hello, auth, select


def test_silent_server_times_out_at_hello(silent_port):
    steps = run_probe(f"mongodb://127.0.0.1:{silent_port}/", connect_timeout=0.3)
    _assert_shape(steps)
    assert _by_name(steps, CONNECT)[0].ok
    hello = _by_name(steps, HELLO)[0]
    assert hello.status == FAILED and isinstance(hello.error, NetworkTimeout)
    assert [s.status for s in steps[-2:]] == [SKIPPED, SKIPPED]


def test_cancel_wakes_a_blocked_hello(silent_port):
    cancel = threading.Event()
    seen: list[ProbeStep] = []

    def run() -> None:
        seen.extend(probe(f"mongodb://127.0.0.1:{silent_port}/", connect_timeout=60,
                          cancel=cancel))

    thread = threading.Thread(target=run)
    thread.start()
    deadline = time.monotonic() + 10
    while not _by_name(seen, CONNECT) and time.monotonic() < deadline:
        time.sleep(0.01)
    cancel.set()
    thread.join(30)  # far below the 60 s the read would otherwise wait
    assert not thread.is_alive()
    hello = _by_name(seen, HELLO)[0]
    assert hello.status == FAILED and "cancelled" in str(hello.error)


def test_cancel_callable_before_start_skips_the_network():
    steps = run_probe(f"mongodb://127.0.0.1:{_closed_port()}/", cancel=lambda: True)
    connect = _by_name(steps, CONNECT)[0]
    assert connect.status == FAILED and "cancelled" in str(connect.error)


def test_selection_timeout_names_what_was_seen():
    with SandboxCluster(kind="standalone") as cluster:
        uri = f"{cluster.uri.rstrip('/')}/?replicaSet=other" if "?" not in cluster.uri \
            else cluster.uri + "&replicaSet=other"
        steps = run_probe(uri, connect_timeout=1, server_selection_timeout=0.5)
    select = steps[-1]
    assert select.status == FAILED and isinstance(select.error, ServerSelectionTimeoutError)
    assert isinstance(select.facts["topology"], TopologyDescription)


def test_steps_are_frozen():
    step = run_probe("mongodb://bob:p@ss@127.0.0.1:1/")[0]
    with pytest.raises(AttributeError):
        step.status = OK  # type: ignore[misc]
    with pytest.raises(TypeError):
        step.facts["x"] = 1  # type: ignore[index]


# -- the client's public snapshots ----------------------------------------------------------


def test_topology_description_and_rtt_samples_are_public_snapshots():
    with SandboxCluster(kind="replset", members=3) as cluster:
        client = MongoClient(cluster.uri, heartbeatFrequencyMS=500,
                             serverSelectionTimeoutMS=5000, connect=False)
        try:
            assert dict(client.rtt_samples) == {}  # not opened yet: nothing measured
            client.admin.command("ping")
            before = client.topology_description
            assert isinstance(before, TopologyDescription)
            assert before.topology_type_name == "ReplicaSetWithPrimary"
            servers = before.server_descriptions()
            assert len(servers) == 3
            assert all(sd.round_trip_time is not None for sd in servers.values())
            servers.clear()  # a copy: the snapshot is untouched
            assert len(before.server_descriptions()) == 3
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline and not all(client.rtt_samples.values()):
                time.sleep(0.05)
            samples = client.rtt_samples
            assert set(samples) == set(before.server_descriptions())
            assert all(s and all(rtt >= 0 for _, rtt in s) for s in samples.values())
            with pytest.raises(TypeError):
                samples[("x", 1)] = ()  # type: ignore[index]
            cluster.step_down()
            deadline = time.monotonic() + 10
            while (time.monotonic() < deadline
                   and client.topology_description is before):
                time.sleep(0.05)
            assert before.topology_type_name == "ReplicaSetWithPrimary"  # never altered
        finally:
            client.close()
        assert dict(client.rtt_samples) == {}
