"""Authentication end to end over real sockets: the in-test server runs the server side
of SCRAM (written from RFC 5802 with hashlib), PLAIN, and mechanism negotiation."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from driver.auth import MongoCredential
from driver.errors import OperationFailure
from driver.net.connection import Connection, ConnectionSettings, monitor_connection_factory
from tests.driver.net_fake_server import FakeServer, User

USERS = {
    "both": User("both-pw"),
    "sha1": User("sha1-pw", ("SCRAM-SHA-1",)),
    "sha256": User("sha256-pw", ("SCRAM-SHA-256",)),
    "IX": User("IX", ("SCRAM-SHA-256",)),
    "\u2168": User("\u2163", ("SCRAM-SHA-256",)),
    "ldap": User("ldap-pw", ("PLAIN",)),
}


@pytest.fixture
def server() -> Iterator[FakeServer]:
    with FakeServer(users=dict(USERS)) as running:
        yield running


def login(server: FakeServer, user: str, password: str, mechanism: str | None = None,
          source: str | None = None) -> Connection:
    credential = MongoCredential(mechanism, user, password, source)
    return Connection.open(server.address, ConnectionSettings(credential=credential))


def names(server: FakeServer) -> list[str]:
    return [next(iter(r.command)) for r in server.received]


def test_negotiated_sha256_completes_speculatively(server: FakeServer) -> None:
    with login(server, "both", "both-pw") as conn:
        assert conn.authenticated_mechanism == "SCRAM-SHA-256"
        assert conn.command("db", {"ping": 1})["ok"] == 1
    hello = server.received[0].command
    assert hello["saslSupportedMechs"] == "admin.both"
    assert hello["speculativeAuthenticate"]["mechanism"] == "SCRAM-SHA-256"
    assert hello["speculativeAuthenticate"]["db"] == "admin"
    assert names(server) == ["isMaster", "saslContinue", "ping"]  # no saslStart round trip


def test_negotiation_falls_back_to_sha1_for_a_sha1_only_user(server: FakeServer) -> None:
    with login(server, "sha1", "sha1-pw") as conn:
        assert conn.authenticated_mechanism == "SCRAM-SHA-1"
    assert names(server) == ["isMaster", "saslStart", "saslContinue"]
    assert server.received[1].command["mechanism"] == "SCRAM-SHA-1"


@pytest.mark.parametrize("mechanism", ["SCRAM-SHA-1", "SCRAM-SHA-256"])
def test_explicit_mechanisms(server: FakeServer, mechanism: str) -> None:
    with login(server, "both", "both-pw", mechanism) as conn:
        assert conn.authenticated_mechanism == mechanism
    assert "saslSupportedMechs" not in server.received[0].command


def test_server_ignoring_speculative_auth_gets_the_full_conversation(
        server: FakeServer) -> None:
    server.speculative = False
    with login(server, "both", "both-pw") as conn:
        assert conn.authenticated_mechanism == "SCRAM-SHA-256"
    assert names(server) == ["isMaster", "saslStart", "saslContinue"]
    assert server.received[1].command["mechanism"] == "SCRAM-SHA-256"


def test_explicit_mechanism_the_user_lacks_fails(server: FakeServer) -> None:
    with pytest.raises(OperationFailure) as info:
        login(server, "sha256", "sha256-pw", "SCRAM-SHA-1")
    assert info.value.code == 18


@pytest.mark.parametrize(("user", "source"), [("both", None), ("nobody", "shop")])
def test_wrong_credentials_name_user_and_source_never_the_password(
        server: FakeServer, user: str, source: str | None) -> None:
    password = "Wr0ng-Passw0rd!"
    with pytest.raises(OperationFailure) as info:
        login(server, user, password, source=source)
    error = info.value
    assert error.code == 18
    text = str(error)
    assert f"user {user!r}" in text and f"database {source or 'admin'!r}" in text
    assert "Authentication failed" in text
    assert password not in text and password not in repr(error.details)
    assert password not in repr(error.__cause__) if error.__cause__ else True


def test_legacy_servers_extra_empty_round(server: FakeServer) -> None:
    server.skip_empty_exchange = False
    with login(server, "sha1", "sha1-pw", "SCRAM-SHA-1") as conn:
        assert conn.command("db", {"ping": 1})["ok"] == 1
    continues = server.commands("saslContinue")
    assert len(continues) == 2 and continues[1]["payload"] == b""


@pytest.mark.parametrize(
    ("user", "password"),
    [("IX", "IX"), ("IX", "I\u00adX"), ("\u2168", "IV"), ("\u2168", "I\u00adV")],
)
def test_saslprep_users_from_the_auth_spec(server: FakeServer, user: str, password: str) -> None:
    with login(server, user, password) as conn:
        assert conn.authenticated_mechanism == "SCRAM-SHA-256"
    # "The username MUST NOT be modified": the raw name goes in saslSupportedMechs.
    assert server.received[0].command["saslSupportedMechs"] == f"admin.{user}"


def test_plain_right_and_wrong(server: FakeServer) -> None:
    with login(server, "ldap", "ldap-pw", "PLAIN") as conn:
        assert conn.authenticated_mechanism == "PLAIN"
    start = server.commands("saslStart")[0]
    assert start["payload"] == b"\x00ldap\x00ldap-pw" and start["$db"] == "$external"
    with pytest.raises(OperationFailure, match="user 'ldap' on database '\\$external'") as info:
        login(server, "ldap", "nope-pw", "PLAIN")
    assert info.value.code == 18 and "nope-pw" not in str(info.value)


def test_iteration_count_below_minimum_is_refused(server: FakeServer) -> None:
    server.iterations = 1000
    with pytest.raises(OperationFailure, match="at least 4096"):
        login(server, "both", "both-pw", "SCRAM-SHA-256")


def test_monitoring_connections_never_authenticate(server: FakeServer) -> None:
    credential = MongoCredential(None, "both", "both-pw")
    factory = monitor_connection_factory(ConnectionSettings(credential=credential))
    conn = factory(server.address, 1.0)
    try:
        assert conn.hello()["ok"] == 1 and conn.authenticated_mechanism is None
    finally:
        conn.close()
    hello = server.received[0].command
    assert "saslSupportedMechs" not in hello and "speculativeAuthenticate" not in hello
    assert names(server) == ["isMaster", "hello"]


def test_arbiters_are_not_authenticated(server: FakeServer) -> None:
    server.extra_hello = {"arbiterOnly": True}
    with login(server, "sha1", "sha1-pw", "SCRAM-SHA-1") as conn:
        assert conn.authenticated_mechanism is None
    assert names(server) == ["isMaster"]


@pytest.mark.parametrize(
    "query",
    [
        "authMechanism=GSSAPI",
        "authMechanism=MONGODB-AWS",
        "authMechanism=MONGODB-OIDC&authMechanismProperties=ENVIRONMENT:k8s",
    ],
)
def test_mechanisms_not_implemented_refuse_to_connect(server: FakeServer, query: str) -> None:
    """Validated when parsed, then refused on connecting with a ConfigurationError that
    says so: never a bare KeyError, never an unauthenticated connection."""
    from driver.client import MongoClient
    from driver.errors import ConfigurationError

    host, port = server.address
    user = "u@" if "GSSAPI" in query else ""
    client = MongoClient(f"mongodb://{user}{host}:{port}/?{query}&serverSelectionTimeoutMS=2000")
    try:
        with pytest.raises(ConfigurationError, match="not supported by this driver"):
            client.admin.command("ping")
    finally:
        client.close()
    assert all(next(iter(r.command)) in ("hello", "isMaster", "ismaster") for r in server.received)
