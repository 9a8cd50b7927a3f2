"""Connections over real sockets to the in-test server: handshake, commands, failures,
compression, checksums, exhaust hello, and command events."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from typing import Any

import bson
import pytest

import driver
from driver.errors import (
    AutoReconnect,
    ConfigurationError,
    DocumentTooLarge,
    DuplicateKeyError,
    ExecutionTimeout,
    NetworkTimeout,
    NotPrimaryError,
    OperationFailure,
    ProtocolError,
)
from driver.net import handshake
from driver.net.connection import Connection, ConnectionSettings, monitor_connection_factory
from driver.operations.command_events import (
    CommandFailedEvent,
    CommandListener,
    CommandStartedEvent,
    CommandSucceededEvent,
)
from tests.driver.net_fake_server import OP_MSG, OP_QUERY, FakeServer
from tests.timing import LONG_S, assert_prompt


class Api:
    """A stand-in for ``driver.server_api.ServerApi`` (same attribute names)."""

    def __init__(self, version: str, strict: bool | None = None,
                 deprecation_errors: bool | None = None) -> None:
        self.version, self.strict, self.deprecation_errors = version, strict, deprecation_errors


class Recorder(CommandListener):
    def __init__(self) -> None:
        self.events: list[Any] = []

    def started(self, event: CommandStartedEvent) -> None:
        self.events.append(event)

    def succeeded(self, event: CommandSucceededEvent) -> None:
        self.events.append(event)

    def failed(self, event: CommandFailedEvent) -> None:
        self.events.append(event)


@pytest.fixture
def server() -> Iterator[FakeServer]:
    with FakeServer() as running:
        yield running


def open_conn(server: FakeServer, **settings: Any) -> Connection:
    return Connection.open(server.address, ConnectionSettings(**settings))


# --- handshake ------------------------------------------------------------------------------


def test_legacy_handshake_then_op_msg(server: FakeServer) -> None:
    with open_conn(server, appname="binnacle-tests") as conn:
        assert conn.command("test", {"ping": 1}) == {"ok": 1}
        assert conn.max_wire_version == 21 and conn.server_connection_id == 42
    first, second = server.received[:2]
    assert first.opcode == OP_QUERY
    assert list(first.command)[:2] == ["isMaster", "helloOk"]
    client = first.command["client"]
    assert client["application"] == {"name": "binnacle-tests"}
    assert client["driver"] == {"name": "Binnacle", "version": driver.__version__}
    assert client["os"]["type"] and client["platform"].startswith(("CPython", "PyPy"))
    assert len(bson.encode(client)) <= 512
    assert "compression" not in first.command and "saslSupportedMechs" not in first.command
    assert second.opcode == OP_MSG and second.command == {"ping": 1, "$db": "test"}


def test_servers_without_hello_ok_keep_getting_legacy_hello() -> None:
    with FakeServer(hello_ok=False) as old:
        factory = monitor_connection_factory(ConnectionSettings())
        conn = factory(old.address, 1.0)
        try:
            assert "helloOk" not in conn.handshake_reply and conn.hello()["ok"] == 1
            with pytest.raises(ProtocolError, match="no more replies"):
                conn.receive_more()
        finally:
            conn.close()
        assert [next(iter(r.command)) for r in old.received] == ["isMaster", "isMaster"]
        assert old.received[1].opcode == OP_MSG


def test_unix_domain_socket(tmp_path: Any) -> None:
    path = str(tmp_path / "mongodb-27017.sock")
    with FakeServer(unix_path=path) as local:
        with Connection.open((path, 27017), ConnectionSettings()) as conn:
            assert conn.command("db", {"ping": 1}) == {"ok": 1}
        assert local.commands("ping") == [{"ping": 1, "$db": "db"}]
    with pytest.raises(AutoReconnect, match="mongodb-27017.sock"):
        Connection.open((path, 27017), ConnectionSettings())


def test_addresses_in_messages() -> None:
    assert handshake.address_text(("::1", 27017)) == "[::1]:27017"
    assert handshake.address_text(("db.example.com", 27018)) == "db.example.com:27018"
    assert handshake.address_text(("/tmp/m.sock", 27017)) == "/tmp/m.sock"


def test_stable_api_uses_hello_and_tags_every_command_but_getmore(server: FakeServer) -> None:
    api = Api("1", strict=True, deprecation_errors=True)
    with open_conn(server, server_api=api) as conn:
        conn.command("db", {"ping": 1})
        conn.command("db", {"getMore": 5, "collection": "c"}, check=False)
        hello = conn.hello()
    assert hello["ok"] == 1
    first = server.received[0]
    assert first.opcode == OP_MSG and next(iter(first.command)) == "hello"
    api_fields = {"apiVersion": "1", "apiStrict": True, "apiDeprecationErrors": True}
    for received in (server.received[0], server.received[1], server.received[3]):
        assert api_fields.items() <= received.command.items()
    assert "apiVersion" not in server.received[2].command  # getMore
    assert next(iter(server.received[3].command)) == "hello"


def test_load_balanced_handshake(server: FakeServer) -> None:
    with open_conn(server, load_balanced=True) as conn:
        assert conn.service_id is not None
    assert server.received[0].command["loadBalanced"] is True
    server.supports_load_balancing = False
    with pytest.raises(ConfigurationError, match="no serviceId"):
        open_conn(server, load_balanced=True)


def test_wire_version_too_old_gives_the_exact_error() -> None:
    assert handshake.wire_version_error(("localhost", 27017), {"maxWireVersion": 6}) == (
        "Server at localhost:27017 reports wire version 6, but this version of Binnacle "
        "requires at least 8 (MongoDB 4.2).")
    assert "only supports up to 25" in str(
        handshake.wire_version_error(("h", 1), {"maxWireVersion": 30, "minWireVersion": 26}))
    with FakeServer(max_wire_version=6) as old:
        with pytest.raises(ConfigurationError) as info:
            open_conn(old)
    host, port = old.address
    assert str(info.value) == (
        f"Server at {host}:{port} reports wire version 6, but this version of Binnacle "
        "requires at least 8 (MongoDB 4.2).")


def test_metadata_trimming_follows_the_spec_order() -> None:
    long_os = {"type": "Linux", "name": "n" * 200, "architecture": "a" * 100, "version": "v"}
    meta = handshake.client_metadata("app", encode=bson.encode, platform_string="P" * 600,
                                     os_fields=long_os, env={"name": "aws.lambda",
                                                             "region": "r" * 50})
    assert len(bson.encode(meta)) <= 512
    assert meta["os"] == {"type": "Linux"} and "env" not in meta
    assert meta["platform"].startswith("PPP") and meta["application"] == {"name": "app"}
    small = handshake.client_metadata(None, encode=bson.encode, platform_string="CPython",
                                      os_fields=long_os | {"name": "n"}, env={})
    assert small["os"]["name"] == "n" and "application" not in small
    with pytest.raises(ConfigurationError, match="at most 128"):
        handshake.client_metadata("x" * 129, encode=bson.encode)


# --- command results and errors ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "error"),
    [(2, OperationFailure), (10107, NotPrimaryError), (11602, NotPrimaryError),
     (50, ExecutionTimeout), (11000, DuplicateKeyError)],
)
def test_command_errors_by_code_keep_the_connection(server: FakeServer, code: int,
                                                    error: type[Exception]) -> None:
    with open_conn(server) as conn:
        with pytest.raises(error) as info:
            conn.command("db", {"fail": 1, "code": code, "errmsg": f"boom {code}"})
        assert f"boom {code}" in str(info.value)
        assert getattr(info.value, "details", {})["code"] == code
        assert not conn.closed and conn.command("db", {"ping": 1})["ok"] == 1


def test_document_sequences_and_unacknowledged_writes(server: FakeServer) -> None:
    docs = [{"_id": i} for i in range(4)]
    with open_conn(server) as conn:
        reply = conn.command("db", {"insert": "c"}, sequences=[("documents", docs)])
        assert reply["n"] == 4
        assert conn.command("db", {"insert": "c"}, sequences=[("documents", docs)],
                            unacknowledged=True) == {}
        assert conn.command("db", {"ping": 1}) == {"ok": 1}
    inserts = [r for r in server.received if r.command and "insert" in r.command]
    assert inserts[0].sequences == {"documents": docs} and inserts[0].flags == 0
    assert inserts[1].flags == 2  # moreToCome


def test_malformed_reply_is_protocol_error_and_closes(server: FakeServer) -> None:
    with open_conn(server) as conn:
        with pytest.raises(ProtocolError, match="unknown section kind"):
            conn.command("db", {"malformed": 1})
        assert conn.closed
        with pytest.raises(AutoReconnect, match="closed"):
            conn.command("db", {"ping": 1})
    with open_conn(server) as conn:
        with pytest.raises(ProtocolError, match="expected"):
            conn.command("db", {"wrongResponseTo": 1})
        assert conn.closed


def test_server_closing_mid_reply_is_autoreconnect_naming_the_address(
        server: FakeServer) -> None:
    host, port = server.address
    with open_conn(server, socket_timeout=LONG_S) as conn:  # not waited out
        started = time.monotonic()
        with pytest.raises(AutoReconnect, match=f"{host}:{port}: connection closed") as info:
            conn.command("db", {"closeMidReply": 1})
        assert not isinstance(info.value, NetworkTimeout)
        assert conn.closed
        assert_prompt(time.monotonic() - started, "a reply cut off by the server")


def test_connection_reset_is_autoreconnect(server: FakeServer) -> None:
    host, port = server.address
    with open_conn(server, socket_timeout=10) as conn:
        with pytest.raises(AutoReconnect, match=f"{host}:{port}: connection") as info:
            conn.command("db", {"reset": 1})
        assert not isinstance(info.value, NetworkTimeout) and conn.closed


def test_slow_server_gives_network_timeout(server: FakeServer) -> None:
    with open_conn(server, socket_timeout=0.2) as conn:
        started = time.monotonic()
        with pytest.raises(NetworkTimeout, match="timed out") as info:
            conn.command("db", {"slow": 1})
        assert info.value.timeout and conn.closed
        elapsed = time.monotonic() - started
        assert elapsed > 0.15
        assert_prompt(elapsed, "a 0.2 s socket timeout")
    with open_conn(server) as conn:  # per-operation override of socketTimeoutMS (none)
        with pytest.raises(NetworkTimeout):
            conn.command("db", {"slow": 1}, timeout=0.1)


def test_close_from_another_thread_ends_a_blocked_read(server: FakeServer) -> None:
    import threading

    conn = open_conn(server)  # no socket timeout: only close() can end the wait
    errors: list[BaseException] = []
    ready = threading.Event()

    def run() -> None:
        ready.set()
        try:
            conn.command("db", {"slow": 1})
        except BaseException as exc:  # noqa: BLE001 - the test inspects it
            errors.append(exc)

    worker = threading.Thread(target=run)
    worker.start()
    ready.wait(5)
    assert server.slow_started.wait(5)  # the request is on the wire; the reply never comes
    conn.close()
    worker.join(5)
    assert not worker.is_alive()
    assert len(errors) == 1 and isinstance(errors[0], AutoReconnect)
    assert not isinstance(errors[0], NetworkTimeout)


def test_connect_timeout_covers_a_silent_handshake() -> None:
    with FakeServer(silent=True) as silent:
        started = time.monotonic()
        with pytest.raises(NetworkTimeout):
            open_conn(silent, connect_timeout=0.2)
        assert_prompt(time.monotonic() - started, "a 0.2 s connect timeout over a silent handshake")


def test_refused_connection_names_the_address() -> None:
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    with pytest.raises(AutoReconnect, match=f"127.0.0.1:{port}"):
        Connection.open(("127.0.0.1", port), ConnectionSettings(connect_timeout=1))


def test_message_size_limits_from_the_handshake() -> None:
    with FakeServer(extra_hello={"maxBsonObjectSize": 1000, "maxMessageSizeBytes": 3000}) as s:
        with open_conn(s) as conn:
            with pytest.raises(DocumentTooLarge, match="maxMessageSizeBytes"):
                conn.command("db", {"insert": "c"},
                             sequences=[("documents", [{"s": "x" * 900}] * 4)])
            with pytest.raises(DocumentTooLarge, match="in 'documents'"):
                conn.command("db", {"insert": "c"}, sequences=[("documents", [{"s": "x" * 1200}])])
            assert not conn.closed and conn.command("db", {"ping": 1})["ok"] == 1


# --- compression, checksums, exhaust -----------------------------------------------------------


def test_zlib_compression_negotiated_both_ways() -> None:
    with FakeServer(compressors=("zlib",)) as s:
        with open_conn(s, compressors=("zstd", "zlib"), zlib_compression_level=9) as conn:
            assert conn.compressor_name == "zlib"
            reply = conn.command("db", {"find": "c", "n": 50})
            assert len(reply["cursor"]["firstBatch"]) == 50
            conn.hello()
        assert s.received[0].command["compression"] in (["zlib"], ["zstd", "zlib"])
        find = s.commands("find")[0]
        assert find["n"] == 50
        by_name = {next(iter(r.command)): r.compressed_with for r in s.received}
        assert by_name["find"] == 2 and by_name["isMaster"] is None
    with FakeServer(compressors=()) as s:
        with open_conn(s, compressors=("zlib",)) as conn:
            assert conn.compressor_name is None
            conn.command("db", {"ping": 1})
        assert s.received[-1].compressed_with is None


def test_checksummed_replies_are_verified_and_accepted() -> None:
    with FakeServer(checksum_replies=True) as s:
        with open_conn(s) as conn:
            assert conn.command("db", {"find": "c", "n": 5})["cursor"]["firstBatch"][4]["_id"] == 4


def test_exhaust_hello_streams_replies(server: FakeServer) -> None:
    factory = monitor_connection_factory(ConnectionSettings())
    conn = factory(server.address, 2.0)
    try:
        version = conn.handshake_reply["topologyVersion"]
        first = conn.hello(topology_version=version, max_await_time_ms=500)
        assert first["streamed"] == 1 and conn.more_to_come
        second = conn.hello(topology_version=version, max_await_time_ms=500)
        assert second["streamed"] == 2 and not conn.more_to_come
        plain = conn.hello()
        assert "streamed" not in plain
    finally:
        conn.close()
    hellos = server.commands("hello")
    assert hellos[0]["maxAwaitTimeMS"] == 500 and "client" not in hellos[0]
    assert server.received[1].flags == 1 << 16  # exhaustAllowed


# --- command monitoring ------------------------------------------------------------------------


def test_command_events_with_ids_durations_and_redaction() -> None:
    from driver.auth import MongoCredential
    from tests.driver.net_fake_server import User

    recorder = Recorder()
    with FakeServer(users={"ada": User("pw")}) as s:
        settings = ConnectionSettings(credential=MongoCredential(None, "ada", "pw"),
                                      command_listeners=(recorder,))
        with Connection.open(s.address, settings) as conn:
            recorder.events.clear()
            conn.command("shop", {"insert": "c"}, sequences=[("documents", [{"a": 1}])])
            with pytest.raises(OperationFailure):
                conn.command("shop", {"fail": 1, "code": 2})
        started, succeeded, started2, failed = recorder.events
    assert isinstance(started, CommandStartedEvent) and started.command_name == "insert"
    assert started.command["documents"] == [{"a": 1}] and started.database_name == "shop"
    assert isinstance(succeeded, CommandSucceededEvent) and succeeded.reply["n"] == 1
    assert succeeded.request_id == started.request_id and succeeded.duration_micros >= 0
    assert started.connection_id == s.address and started.server_connection_id == 42
    assert isinstance(failed, CommandFailedEvent) and failed.failure["code"] == 2
    assert failed.request_id == started2.request_id != started.request_id


def test_auth_and_speculative_hello_events_are_redacted() -> None:
    from driver.auth import MongoCredential
    from tests.driver.net_fake_server import User

    recorder = Recorder()
    with FakeServer(users={"ada": User("pw", ("SCRAM-SHA-1",))}) as s:
        settings = ConnectionSettings(credential=MongoCredential(None, "ada", "pw"),
                                      command_listeners=(recorder,))
        Connection.open(s.address, settings).close()
    names = [e.command_name for e in recorder.events if isinstance(e, CommandStartedEvent)]
    assert names == ["saslStart", "saslContinue"]  # the handshake itself is not published
    for event in recorder.events:
        payload = event.command if isinstance(event, CommandStartedEvent) else event.reply
        assert payload == {}, event
    # A failed auth command keeps only code, codeName and errorLabels.
    recorder.events.clear()
    with FakeServer(users={"ada": User("pw", ("SCRAM-SHA-1",))}) as s:
        settings = ConnectionSettings(credential=MongoCredential(None, "ada", "wrong"),
                                      command_listeners=(recorder,))
        with pytest.raises(OperationFailure):
            Connection.open(s.address, settings)
    failed = [e for e in recorder.events if isinstance(e, CommandFailedEvent)]
    assert [e.command_name for e in failed] == ["saslContinue"]
    assert failed[0].failure == {"code": 18, "codeName": "AuthenticationFailed"}


# --- settings from the client's options -----------------------------------------------------


def test_settings_from_real_client_options_end_to_end() -> None:
    from driver.connection_string.client_options import ClientOptions
    from driver.server_api import ServerApi
    from tests.driver.net_fake_server import User

    with FakeServer(users={"ada": User("pw")}, compressors=("zlib",)) as s:
        host, port = s.address
        uri = (f"mongodb://ada:pw@{host}:{port}/shop?authSource=admin&compressors=zlib"
               "&zlibCompressionLevel=4&appname=app1&socketTimeoutMS=1500&connectTimeoutMS=2500")
        options = ClientOptions.from_inputs(uri, None, {"server_api": ServerApi("1")})
        settings = ConnectionSettings.from_client_options(options)
        assert (settings.socket_timeout, settings.connect_timeout) == (1.5, 2.5)
        assert settings.compressors == ("zlib",) and settings.zlib_compression_level == 4
        assert settings.tls is None and settings.appname == "app1"
        with Connection.open(s.address, settings) as conn:
            assert conn.authenticated_mechanism == "SCRAM-SHA-256"
            assert conn.compressor_name == "zlib"
            assert conn.command("shop", {"ping": 1}) == {"ok": 1}
        assert s.received[0].command["hello"] == 1
        assert s.received[-1].command["apiVersion"] == "1"
    tls_options = ClientOptions.from_inputs(
        "mongodb://h/?tls=true&tlsInsecure=true&tlsCAFile=/x/ca.pem", None, {})
    tls = ConnectionSettings.from_client_options(tls_options).tls
    assert tls is not None and tls.ca_file == "/x/ca.pem" and not tls.verify_certificates


@pytest.mark.parametrize(
    ("settings", "message"),
    [({"compressors": ("lz4",)}, "unknown compressor"),
     ({"zlib_compression_level": 10}, "between -1 and 9"),
     ({"socket_timeout": -1}, "socketTimeoutMS"),
     ({"appname": "a" * 200}, "at most 128")],
)
def test_bad_settings_are_refused(settings: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        ConnectionSettings(**settings)


def test_check_command_response_variants() -> None:
    from driver.errors import CursorNotFound
    from driver.net.responses import check_command_response

    for ok in ({"ok": 1}, {"ok": 1.0}, {"ok": True}):
        check_command_response(ok)
    with pytest.raises(OperationFailure, match="legacy failure") as info:
        check_command_response({"$err": "legacy failure", "code": 13})
    assert info.value.code == 13
    with pytest.raises(NotPrimaryError):
        check_command_response({"ok": 0, "errmsg": "not master and secondaryOk=false"})
    with pytest.raises(CursorNotFound):
        check_command_response({"ok": 0, "errmsg": "cursor id 5 not found", "code": 43})
    with pytest.raises(OperationFailure, match="without an error message"):
        check_command_response({"ok": 0})
