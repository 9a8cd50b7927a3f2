"""WriteConcern, ReadConcern, ServerApi and the auth spec's credential defaults."""

from __future__ import annotations

import pytest

from driver.auth.credentials import build_credentials
from driver.concern import ReadConcern, WriteConcern
from driver.connection_string.uri import parse_uri
from driver.errors import ConfigurationError
from driver.server_api import ServerApi


def test_write_concern_documents_and_flags() -> None:
    assert WriteConcern().document == {} and WriteConcern().is_server_default
    unack = WriteConcern(w=0)
    assert not unack.acknowledged and unack.document == {"w": 0}
    full = WriteConcern(w="majority", wtimeout=10, j=True)
    assert full.document == {"w": "majority", "wtimeout": 10, "j": True}
    assert full == WriteConcern("majority", 10, True) and full != unack
    with pytest.raises(ConfigurationError, match="both j and fsync"):
        WriteConcern(j=True, fsync=True)
    with pytest.raises(ConfigurationError, match="w=0"):
        WriteConcern(w=0, j=True)
    with pytest.raises(TypeError):
        WriteConcern(w=1.5)  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError):
        WriteConcern(w=-1)


def test_read_concern() -> None:
    assert ReadConcern().document == {} and ReadConcern().is_server_default
    assert ReadConcern("snapshot").document == {"level": "snapshot"}
    assert ReadConcern("local").ok_for_legacy and not ReadConcern("majority").ok_for_legacy
    with pytest.raises(TypeError):
        ReadConcern(5)  # type: ignore[arg-type]


def test_server_api() -> None:
    api = ServerApi("1", deprecation_errors=False)
    assert api.document == {"apiVersion": "1", "apiDeprecationErrors": False}
    command: dict[str, object] = {"ping": 1}
    api.apply_to(command)
    assert command == {"ping": 1, "apiVersion": "1", "apiDeprecationErrors": False}
    with pytest.raises(ConfigurationError, match="unknown server API version"):
        ServerApi("2")


@pytest.mark.parametrize(
    ("uri", "mechanism", "source"),
    [
        ("mongodb://u:p@h/", "DEFAULT", "admin"),
        ("mongodb://u:p@h/app", "DEFAULT", "app"),
        ("mongodb://u:p@h/app?authSource=other", "DEFAULT", "other"),
        ("mongodb://u:p@h/app?authMechanism=SCRAM-SHA-1", "SCRAM-SHA-1", "app"),
        ("mongodb://u:p@h/?authMechanism=scram-sha-256", "SCRAM-SHA-256", "admin"),
        ("mongodb://u:p@h/?authMechanism=PLAIN", "PLAIN", "$external"),
        ("mongodb://u:p@h/ldap?authMechanism=PLAIN", "PLAIN", "ldap"),
        ("mongodb://CN%3Dx@h/app?authMechanism=MONGODB-X509", "MONGODB-X509", "$external"),
        ("mongodb://h/?authMechanism=MONGODB-X509", "MONGODB-X509", "$external"),
        ("mongodb://u%40R@h/?authMechanism=GSSAPI", "GSSAPI", "$external"),
        ("mongodb://h/?authMechanism=MONGODB-AWS", "MONGODB-AWS", "$external"),
        (
            "mongodb://h/?authMechanism=MONGODB-OIDC&authMechanismProperties=ENVIRONMENT:test",
            "MONGODB-OIDC",
            "$external",
        ),
    ],
)
def test_default_source_per_mechanism(uri: str, mechanism: str, source: str) -> None:
    credentials = parse_uri(uri).credentials
    assert credentials is not None
    assert (credentials.mechanism, credentials.source) == (mechanism, source)


def test_gssapi_properties_default_and_check() -> None:
    cs = parse_uri("mongodb://u@h/?authMechanism=GSSAPI&authMechanismProperties=SERVICE_REALM:R")
    assert cs.credentials is not None
    assert cs.credentials.mechanism_properties == {"SERVICE_REALM": "R", "SERVICE_NAME": "mongodb"}
    with pytest.raises(ConfigurationError, match="CANONICALIZE_HOST_NAME"):
        parse_uri(
            "mongodb://u@h/?authMechanism=GSSAPI&authMechanismProperties=CANONICALIZE_HOST_NAME:x"
        )
    with pytest.raises(ConfigurationError, match="unknown authMechanismProperties FOO"):
        parse_uri("mongodb://u@h/?authMechanism=GSSAPI&authMechanismProperties=FOO:1")


def test_credential_rules() -> None:
    assert build_credentials(None, None, None, "db", None) is None
    with pytest.raises(ConfigurationError, match="access key id"):
        build_credentials("MONGODB-AWS", "key", None, None, None)
    with pytest.raises(ConfigurationError, match="have no meaning for SCRAM-SHA-256"):
        build_credentials("SCRAM-SHA-256", "u", "p", None, None, {"SERVICE_NAME": "x"})
    with pytest.raises(ConfigurationError, match="TOKEN_RESOURCE"):
        build_credentials("MONGODB-OIDC", None, None, None, None, {"ENVIRONMENT": "azure"})
    with pytest.raises(ConfigurationError, match="takes no user name"):
        build_credentials("MONGODB-OIDC", "u", None, None, None, {"ENVIRONMENT": "test"})
    credential = build_credentials("SCRAM-SHA-256", "u", "hunter2", None, "db")
    assert credential is not None and "hunter2" not in repr(credential)
