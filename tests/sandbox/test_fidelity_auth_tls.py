"""PyMongo against sandboxes with users (SCRAM-SHA-1/256, X.509) and TLS; and sharded routers."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from pymongo.errors import OperationFailure, ServerSelectionTimeoutError

from sandbox.cluster import SandboxCluster
from tests.sandbox import rawwire


@pytest.fixture(scope="module")
def secured() -> Iterator[SandboxCluster]:
    with SandboxCluster("standalone", users={"alice": "s3cret", "bob": "pässword"}) as cluster:
        yield cluster


@pytest.mark.parametrize("mechanism", ["SCRAM-SHA-256", "SCRAM-SHA-1", None])
def test_scram_with_the_right_password(secured: SandboxCluster, make_client: Any,
                                       mechanism: str | None) -> None:
    options = {"authMechanism": mechanism} if mechanism else {}
    client = make_client(secured.uri, **options)
    client.db.c.insert_one({"ok": True})
    status = client.admin.command("connectionStatus")
    assert status["authInfo"]["authenticatedUsers"] == [{"user": "alice", "db": "admin"}]


def test_scram_sha_256_with_a_non_ascii_password(secured: SandboxCluster,
                                                 make_client: Any) -> None:
    client = make_client(secured.members[0].address, username="bob", password="pässword",
                         authMechanism="SCRAM-SHA-256")
    assert client.admin.command("ping")["ok"] == 1.0
    client.db.list_collection_names()


@pytest.mark.parametrize("mechanism", ["SCRAM-SHA-256", "SCRAM-SHA-1"])
def test_scram_with_a_wrong_password(secured: SandboxCluster, make_client: Any,
                                     mechanism: str) -> None:
    client = make_client(secured.members[0].address, username="alice", password="wrong",
                         authMechanism=mechanism)
    with pytest.raises(OperationFailure) as info:
        client.db.list_collection_names()
    assert info.value.code == 18
    assert "wrong" not in str(info.value)


def test_unknown_user_fails(secured: SandboxCluster, make_client: Any) -> None:
    client = make_client(secured.members[0].address, username="mallory", password="x")
    with pytest.raises(OperationFailure) as info:
        client.db.list_collection_names()
    assert info.value.code == 18


def test_commands_need_authentication(secured: SandboxCluster) -> None:
    address = secured.members[0].address
    assert rawwire.command(address, {"ping": 1, "$db": "admin"})["ok"] == 1.0
    assert rawwire.command(address, {"hello": 1, "$db": "admin"})["ok"] == 1.0
    refused = rawwire.command(address, {"listDatabases": 1, "$db": "admin"})
    assert (refused["code"], refused["codeName"]) == (13, "Unauthorized")


def test_create_user_and_users_info(secured: SandboxCluster, make_client: Any) -> None:
    admin = make_client(secured.uri)
    admin.app.command("createUser", "carol", pwd="pw", roles=["readWrite"])
    info = admin.app.command("usersInfo", "carol")["users"][0]
    assert info["user"] == "carol" and "SCRAM-SHA-256" in info["mechanisms"]
    assert "pwd" not in info
    carol = make_client(secured.members[0].address, username="carol", password="pw",
                        authSource="app")
    assert carol.app.command("ping")["ok"] == 1.0


@pytest.fixture(scope="module")
def tls_cluster() -> Iterator[SandboxCluster]:
    with SandboxCluster("replset", 2, tls=True, users={"alice": "pw"},
                        election_delay=0.2) as cluster:
        yield cluster


def test_tls_with_the_ca_file(tls_cluster: SandboxCluster, make_client: Any) -> None:
    assert "tls=true" in tls_cluster.uri and tls_cluster.ca_file
    client = make_client(tls_cluster.uri)
    client.db.c.insert_one({"over": "tls"})
    assert client.db.c.find_one({}, {"_id": 0}) == {"over": "tls"}
    localhost = make_client(tls_cluster.uri.replace("127.0.0.1", "localhost"))
    assert localhost.admin.command("ping")["ok"] == 1.0


def test_tls_without_the_ca_file_fails(tls_cluster: SandboxCluster, make_client: Any) -> None:
    address = tls_cluster.members[0].address
    client = make_client(f"mongodb://{address}/?tls=true&directConnection=true",
                         serverSelectionTimeoutMS=800)
    with pytest.raises(ServerSelectionTimeoutError, match="CERTIFICATE_VERIFY_FAILED"):
        client.admin.command("ping")
    plain = make_client(f"mongodb://{address}/?directConnection=true",
                        serverSelectionTimeoutMS=800)
    with pytest.raises(ServerSelectionTimeoutError):
        plain.admin.command("ping")


def test_x509_client_certificate(tls_cluster: SandboxCluster, make_client: Any) -> None:
    address = tls_cluster.members[0].address
    client = make_client(f"mongodb://{address}/?directConnection=true", tls=True,
                         tlsCAFile=tls_cluster.ca_file,
                         tlsCertificateKeyFile=tls_cluster.client_cert_file,
                         authMechanism="MONGODB-X509")
    status = client.admin.command("connectionStatus")
    assert status["authInfo"]["authenticatedUsers"] == [
        {"user": tls_cluster.client_subject, "db": "$external"}]


def test_sharded_routers(make_client: Any) -> None:
    with SandboxCluster("sharded", 2) as cluster:
        client = make_client(cluster.uri, localThresholdMS=1000)
        client.db.c.insert_many([{"i": i} for i in range(10)])
        assert client.db.c.count_documents({}) == 10
        assert client.topology_description.topology_type_name == "Sharded"
        for member in cluster.members:
            direct = make_client(cluster.uri_for(member))
            hello = direct.admin.command("hello")
            direct.close()
            assert hello["msg"] == "isdbgrid" and hello["isWritablePrimary"] is True
            assert member.role == "MONGOS"
        assert client.admin.command("listShards")["shards"]
        cluster.kill(0)
        assert client.db.c.count_documents({}) == 10  # the other router still serves
        client.close()  # before the cluster goes: closing sends endSessions


def test_sasl_plain(secured: SandboxCluster, make_client: Any) -> None:
    good = make_client(secured.members[0].address, username="alice", password="s3cret",
                       authMechanism="PLAIN", authSource="admin")
    assert good.admin.command("connectionStatus")["authInfo"]["authenticatedUsers"] == [
        {"user": "alice", "db": "admin"}]
    bad = make_client(secured.members[0].address, username="alice", password="nope",
                      authMechanism="PLAIN", authSource="admin")
    with pytest.raises(OperationFailure) as info:
        bad.admin.command("listDatabases")
    assert info.value.code == 18


def test_tls_hostname_check(make_client: Any) -> None:
    with SandboxCluster("standalone", tls=True, tls_server_names=["example.invalid"]) as cluster:
        strict = make_client(cluster.uri, serverSelectionTimeoutMS=800)
        with pytest.raises(ServerSelectionTimeoutError, match="(?i)hostname|match"):
            strict.admin.command("ping")
        relaxed = make_client(cluster.uri, tlsAllowInvalidHostnames=True)
        assert relaxed.admin.command("ping")["ok"] == 1.0
        relaxed.close()
        strict.close()
