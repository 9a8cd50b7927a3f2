"""The connection doctor against real sockets: the sandbox (plain, TLS, with users, too
old, members that cannot be reached) and a closed port. Each case checks the failing
step, its advice and that the copyable report holds no password; then the widget."""

from __future__ import annotations

import socket

import pytest
from PySide6.QtGui import QGuiApplication

from app.cluster.doctor import (
    FAILED,
    OK,
    SKIPPED,
    ConnectionDoctor,
    password_of,
    redact_uri,
    with_direct_connection,
)
from app.cluster.doctor_view import DoctorView
from sandbox.cluster import SandboxCluster
from tests.app.cluster.conftest import run, screenshot, wait_until


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _doctor(uri: str, **kwargs) -> ConnectionDoctor:
    kwargs.setdefault("connect_timeout_s", 2.0)
    kwargs.setdefault("selection_timeout_s", 1.5)
    return ConnectionDoctor(uri, **kwargs)


def test_healthy_replset_every_step_ok():
    with SandboxCluster(kind="replset", members=3) as cluster:
        seen = []
        report = _doctor(cluster.uri, progress=seen.append).run()
    assert report.ok, report.as_text()
    names = [s.name.split(" ")[0] for s in report.steps]
    assert names[0] == "Parse" and names[-1] == "Server"
    assert seen == report.steps  # progress got every step, in order
    hello = next(s for s in report.steps if s.name.startswith("hello"))
    assert "replica set rs0 primary" in hello.detail
    assert all(s.elapsed_s >= 0 for s in report.steps)


def test_closed_port_fails_at_tcp():
    port = _closed_port()
    report = _doctor(f"mongodb://127.0.0.1:{port}/").run()
    failed = report.failed_step
    assert failed is not None and failed.name == f"TCP connect 127.0.0.1:{port}"
    assert "nothing is listening" in failed.advice
    assert [s.status for s in report.steps[-4:]] == [SKIPPED] * 4


def test_wrong_tls_hostname_names_the_certificates_names():
    # The sandbox's certificate is for localhost/127.0.0.1/::1; serve on 127.0.0.2.
    with SandboxCluster(kind="standalone", tls=True, host="127.0.0.2") as cluster:
        uri = f"mongodb://127.0.0.2:{cluster.members[0].port}/?tls=true&tlsCAFile={cluster.ca_file}"
        report = _doctor(uri).run()
    failed = report.failed_step
    assert failed is not None and failed.name.startswith("TLS handshake"), report.as_text()
    assert failed.facts["host name match"] == "no"
    assert "127.0.0.1" in failed.facts["valid for"] and "localhost" in failed.facts["valid for"]
    assert "not for 127.0.0.2" in failed.advice
    assert "Binnacle Sandbox CA" in failed.facts["issuer"]


def test_missing_ca_says_which_issuer_to_trust():
    with SandboxCluster(kind="standalone", tls=True) as cluster:
        uri = f"mongodb://127.0.0.1:{cluster.members[0].port}/?tls=true"
        report = _doctor(uri).run()
        ok_report = _doctor(cluster.uri).run()  # with tlsCAFile: all good
    failed = report.failed_step
    assert failed is not None and failed.name.startswith("TLS handshake"), report.as_text()
    assert "tlsCAFile" in failed.advice and "Binnacle Sandbox CA" in failed.advice
    assert failed.facts["host name match"] == "yes"
    assert ok_report.ok, ok_report.as_text()
    tls_step = next(s for s in ok_report.steps if s.name.startswith("TLS"))
    assert tls_step.status == OK and "CN=localhost" in tls_step.facts["subject"]
    assert "days" in tls_step.facts["expires"]


def test_wrong_password_fails_at_authentication_without_leaking_it():
    with SandboxCluster(kind="standalone", users={"alice": "right-secret"}) as cluster:
        port = cluster.members[0].port
        uri = f"mongodb://alice:Wr0ng-Pass@127.0.0.1:{port}/?authSource=admin"
        report = _doctor(uri).run()
        good = _doctor(f"mongodb://alice:right-secret@127.0.0.1:{port}/?authSource=admin").run()
    failed = report.failed_step
    assert failed is not None and failed.name == "Authentication", report.as_text()
    assert "mechanism tried" in failed.advice
    text = report.as_text()
    assert "Wr0ng-Pass" not in text and "alice:****@" in text
    assert good.ok, good.as_text()
    auth = next(s for s in good.steps if s.name == "Authentication")
    assert auth.facts["mechanism"].startswith("SCRAM-SHA")
    assert "right-secret" not in good.as_text()


def test_server_too_old_names_both_versions():
    with SandboxCluster(kind="standalone", max_wire_version=6) as cluster:
        report = _doctor(cluster.uri).run()
    failed = report.failed_step
    assert failed is not None and failed.name.startswith("hello"), report.as_text()
    assert "wire version 6" in failed.advice and "MongoDB 3.6" in failed.advice
    assert "wire version 8" in failed.advice and "MongoDB 4.2" in failed.advice


def test_unreachable_discovered_members_suggest_direct_connection():
    """The SSH-tunnel case: the seed answers, but the members it announces are at
    addresses this machine cannot reach (here: ports where nothing listens)."""
    with SandboxCluster(kind="replset", members=3) as cluster:
        seed = cluster.members[0]
        closed = [_closed_port() for _ in range(3)]

        def announce_elsewhere(state) -> None:
            for member, port in zip(state.members, closed, strict=True):
                member.port = port  # what hello reports; the sockets stay where they are
            state.bump_all()

        cluster.call(announce_elsewhere)
        uri = f"mongodb://127.0.0.1:{seed.port}/?replicaSet=rs0"
        report = _doctor(uri).run()
        assert report.failed_step is not None
        assert report.failed_step.name == "Server selection", report.as_text()
        assert "directConnection=true" in report.failed_step.advice
        assert report.retry_uri == with_direct_connection(uri)
        retried = _doctor(report.retry_uri).run()
    assert retried.ok, retried.as_text()


def test_no_primary_during_an_election_is_explained():
    with SandboxCluster(kind="replset", members=3, election_delay=30) as cluster:
        cluster.step_down()
        report = _doctor(cluster.uri).run()
    failed = report.failed_step
    assert failed is not None and failed.name == "Server selection", report.as_text()
    assert "electing" in failed.advice


def test_srv_name_that_does_not_resolve_fails_at_lookup():
    # .invalid never resolves (RFC 2606); without network the lookup times out instead.
    report = _doctor("mongodb+srv://cluster0.nowhere.invalid/?connectTimeoutMS=2000").run()
    failed = report.failed_step
    assert failed is not None and failed.name == "SRV/TXT lookup", report.as_text()
    assert "SRV" in failed.advice
    assert [s.name for s in report.steps].count("SRV/TXT lookup") == 1


@pytest.mark.parametrize("password", ["p@ss", "p:ss", "p#ss"])
def test_reserved_characters_in_password_suggest_escaping(password):
    uri = f"mongodb://bob:{password}@127.0.0.1:1/"
    report = _doctor(uri).run()
    # No network for a URI that does not parse: every later step is skipped.
    assert all(step.status == SKIPPED for step in report.steps[1:]), report.as_text()
    failed = report.failed_step
    assert failed is not None and failed.name == "Parse URI"
    assert "percent-encode" in failed.advice
    assert password not in report.as_text()
    assert report.steps[-1].status == SKIPPED and report.steps[-1].name == "Server selection"
    assert failed.status == FAILED


def test_redaction_helpers():
    assert password_of("mongodb://u:p@ss@h/") == "p@ss"
    assert redact_uri("mongodb+srv://u:secret@cluster0.example.net/db") == \
        "mongodb+srv://u:****@cluster0.example.net/db"
    assert with_direct_connection("mongodb://h:1") == "mongodb://h:1/?directConnection=true"
    assert with_direct_connection("mongodb://h:1/?directConnection=false&w=1") == \
        "mongodb://h:1/?w=1&directConnection=true"


def test_doctor_view_wrong_password_then_retry_direct(qtbot, aloop, pool, ticks):
    """The widget on the qasync loop: steps fill in from the worker thread, the failing
    step shows, the copied report has no password, and the suggested directConnection
    retry runs and succeeds."""
    with SandboxCluster(kind="replset", members=3, users={"ops": "s3cret"}) as cluster:
        seed = cluster.members[0].port
        closed = [_closed_port() for _ in range(3)]

        def announce_elsewhere(state) -> None:
            for member, port in zip(state.members, closed, strict=True):
                member.port = port
            state.bump_all()

        cluster.call(announce_elsewhere)
        view = DoctorView(pool, f"mongodb://ops:bad-pass@127.0.0.1:{seed}/?replicaSet=rs0",
                          connect_timeout_s=2, selection_timeout_s=1.5)
        qtbot.addWidget(view)
        view.resize(900, 520)
        view.show()
        reports = []
        view.finished.connect(reports.append)

        async def scenario() -> None:
            await view.start()
            assert view.failed_step_name() == "Authentication"
            assert view.steps.topLevelItemCount() == len(view.report.steps)
            screenshot(view, "doctor-wrong-password", ticks)
            view.copy_report()
            copied = QGuiApplication.clipboard().text()
            assert "bad-pass" not in copied and "ops:****@" in copied
            view.set_uri(f"mongodb://ops:s3cret@127.0.0.1:{seed}/?replicaSet=rs0")
            assert "s3cret" not in view.uri_edit.text()
            await view.start()
            assert view.failed_step_name() == "Server selection"
            assert view.retry_button.isVisibleTo(view)
            screenshot(view, "doctor-unreachable-members", ticks)
            view.retry_button.click()
            await wait_until(lambda: len(reports) == 3, 10, "the retry to finish")
            assert view.report is not None and view.report.ok, view.report_text()
            assert "directConnection=true" in view.uri_edit.text()
            assert "s3cret" not in view.report_text()
            screenshot(view, "doctor-retry-ok", ticks)

        ticks.start()
        run(aloop, scenario())
        ticks.stop()
    ticks.assert_responsive("doctor run")
