"""TLS with a throwaway CA made by ``cryptography``: verification on by default, SNI,
refusal without the CA or with a wrong host name, the allow-invalid switches, client
certificates (with a key password) and MONGODB-X509 authentication."""

from __future__ import annotations

import datetime
import socket
import ssl
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from driver.auth import MongoCredential
from driver.errors import (
    RETRYABLE_ERROR,
    SYSTEM_OVERLOADED_ERROR,
    AutoReconnect,
    ConfigurationError,
    OperationFailure,
)
from driver.net.connection import Connection, ConnectionSettings
from driver.net.tls import TLSOptions, make_ssl_context
from tests.driver.net_fake_server import FakeServer, User
from tests.driver.pool_helpers import checkout_error

CLIENT_SUBJECT = "CN=client,OU=Drivers,O=Binnacle"
KEY_PASSWORD = "k3y-passw0rd"


@dataclass
class Pki:
    ca: Path
    other_ca: Path
    server: Path  # certificate + key, PEM
    client: Path  # certificate + unencrypted key
    client_encrypted: Path  # certificate + key encrypted with KEY_PASSWORD


def _name(common_name: str, unit: str | None = None) -> x509.Name:
    parts = [x509.NameAttribute(NameOID.COMMON_NAME, common_name)]
    if unit:
        parts = [x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Binnacle"),
                 x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, unit)] + parts
    return x509.Name(parts)


def _certificate(subject: x509.Name, key: ec.EllipticCurvePrivateKey,
                 issuer: x509.Name, issuer_key: ec.EllipticCurvePrivateKey,
                 *, ca: bool = False, dns: str | None = None) -> x509.Certificate:
    now = datetime.datetime.now(datetime.UTC)
    builder = (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer)
               .public_key(key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(now - datetime.timedelta(hours=1))
               .not_valid_after(now + datetime.timedelta(days=1))
               .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
    if ca:
        builder = builder.add_extension(x509.KeyUsage(
            digital_signature=True, content_commitment=False, key_encipherment=False,
            data_encipherment=False, key_agreement=False, key_cert_sign=True, crl_sign=True,
            encipher_only=False, decipher_only=False), critical=True)
        builder = builder.add_extension(
            x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
    else:
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()),
            critical=False)
    if dns:
        builder = builder.add_extension(x509.SubjectAlternativeName([x509.DNSName(dns)]),
                                        critical=False)
    return builder.sign(issuer_key, hashes.SHA256())


def _pem(cert: x509.Certificate, key: ec.EllipticCurvePrivateKey | None = None,
         password: bytes | None = None) -> bytes:
    data = cert.public_bytes(serialization.Encoding.PEM)
    if key is not None:
        encryption: serialization.KeySerializationEncryption = (
            serialization.BestAvailableEncryption(password) if password
            else serialization.NoEncryption())
        data += key.private_bytes(serialization.Encoding.PEM,
                                  serialization.PrivateFormat.PKCS8, encryption)
    return data


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    folder = tmp_path_factory.mktemp("pki")
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = _name("Binnacle Test CA")
    ca_cert = _certificate(ca_name, ca_key, ca_name, ca_key, ca=True)
    other_key = ec.generate_private_key(ec.SECP256R1())
    other_name = _name("Some Other CA")
    other_cert = _certificate(other_name, other_key, other_name, other_key, ca=True)
    server_key = ec.generate_private_key(ec.SECP256R1())
    server_cert = _certificate(_name("localhost"), server_key, ca_name, ca_key, dns="localhost")
    client_key = ec.generate_private_key(ec.SECP256R1())
    client_cert = _certificate(_name("client", "Drivers"), client_key, ca_name, ca_key)
    paths = {
        "ca": _pem(ca_cert), "other_ca": _pem(other_cert),
        "server": _pem(server_cert, server_key), "client": _pem(client_cert, client_key),
        "client_encrypted": _pem(client_cert, client_key, KEY_PASSWORD.encode()),
    }
    for name, data in paths.items():
        (folder / f"{name}.pem").write_bytes(data)
    return Pki(*(folder / f"{name}.pem" for name in paths))


def server_context(pki: Pki, *, require_client_cert: bool = False) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(pki.server)
    context.load_verify_locations(pki.ca)
    context.verify_mode = ssl.CERT_REQUIRED if require_client_cert else ssl.CERT_OPTIONAL
    return context


@pytest.fixture
def tls_server(pki: Pki) -> Iterator[FakeServer]:
    context = server_context(pki)
    server = FakeServer(tls_context=context)

    def record_sni(sock: ssl.SSLObject, name: str | None, ctx: ssl.SSLContext) -> None:
        server.sni_names.append(name)

    context.sni_callback = record_sni
    with server:
        yield server


def connect(server: FakeServer, host: str = "localhost", **tls: object) -> Connection:
    settings = ConnectionSettings(connect_timeout=5, tls=TLSOptions(**tls))  # type: ignore[arg-type]
    return Connection.open((host, server.address[1]), settings)


def test_accepted_with_the_ca_and_sni_is_sent(tls_server: FakeServer, pki: Pki) -> None:
    with connect(tls_server, ca_file=str(pki.ca)) as conn:
        assert conn.command("db", {"ping": 1})["ok"] == 1
    assert tls_server.sni_names == ["localhost"]


def test_refused_without_the_ca(tls_server: FakeServer) -> None:
    with pytest.raises(AutoReconnect, match="localhost:.*certificate verification failed"):
        connect(tls_server)


def test_refused_with_another_ca(tls_server: FakeServer, pki: Pki) -> None:
    with pytest.raises(AutoReconnect, match="certificate verification failed"):
        connect(tls_server, ca_file=str(pki.other_ca))


def test_refused_with_a_wrong_hostname_unless_allowed(tls_server: FakeServer, pki: Pki) -> None:
    with pytest.raises(AutoReconnect, match="127.0.0.1:.*mismatch"):
        connect(tls_server, "127.0.0.1", ca_file=str(pki.ca))
    with connect(tls_server, "127.0.0.1", ca_file=str(pki.ca), allow_invalid_hostnames=True) as c:
        assert c.command("db", {"ping": 1})["ok"] == 1


@pytest.mark.parametrize("switch", ["allow_invalid_certificates", "insecure"])
def test_invalid_certificates_allowed_by_the_switches(tls_server: FakeServer,
                                                      switch: str) -> None:
    with connect(tls_server, "127.0.0.1", **{switch: True}) as conn:
        assert conn.command("db", {"ping": 1})["ok"] == 1


def test_context_defaults_verify() -> None:
    context = make_ssl_context(TLSOptions(disable_ocsp_endpoint_check=True))
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname
    assert context.minimum_version >= ssl.TLSVersion.TLSv1_2
    lax = make_ssl_context(TLSOptions(allow_invalid_hostnames=True))
    assert lax.verify_mode == ssl.CERT_REQUIRED and not lax.check_hostname
    off = make_ssl_context(TLSOptions(insecure=True))
    assert off.verify_mode == ssl.CERT_NONE and not off.check_hostname


def test_bad_files_are_configuration_errors_without_the_password(pki: Pki, tmp_path: Path) -> None:
    missing = tmp_path / "nope.pem"
    with pytest.raises(ConfigurationError, match="tlsCAFile .*nope.pem"):
        make_ssl_context(TLSOptions(ca_file=str(missing)))
    with pytest.raises(ConfigurationError, match="tlsCertificateKeyFile") as info:
        make_ssl_context(TLSOptions(certificate_key_file=str(pki.client_encrypted),
                                    certificate_key_file_password="not-" + KEY_PASSWORD))
    assert KEY_PASSWORD not in str(info.value)
    assert KEY_PASSWORD not in repr(TLSOptions(certificate_key_file_password=KEY_PASSWORD))


def test_client_certificate_with_key_password_and_x509_auth(pki: Pki) -> None:
    server = FakeServer(tls_context=server_context(pki, require_client_cert=True),
                        users={"__x509__": User(CLIENT_SUBJECT)})
    with server:
        with pytest.raises(AutoReconnect):  # the server demands a certificate
            connect(server, ca_file=str(pki.ca))
        settings = ConnectionSettings(
            connect_timeout=5,
            tls=TLSOptions(ca_file=str(pki.ca), certificate_key_file=str(pki.client_encrypted),
                           certificate_key_file_password=KEY_PASSWORD),
            credential=MongoCredential("MONGODB-X509", None, None, None))
        with Connection.open(("localhost", server.address[1]), settings) as conn:
            assert conn.authenticated_mechanism == "MONGODB-X509"
            assert conn.command("db", {"ping": 1})["ok"] == 1
        hello = server.received[0].command
        assert hello["speculativeAuthenticate"] == {
            "authenticate": 1, "mechanism": "MONGODB-X509", "db": "$external"}
        assert not server.commands("authenticate")  # done speculatively
        subject = dict(part[0] for part in server.peer_certificates[-1]["subject"])
        assert subject["commonName"] == "client"


def test_x509_with_a_wrong_user_name_fails(pki: Pki) -> None:
    server = FakeServer(tls_context=server_context(pki, require_client_cert=True),
                        users={"__x509__": User(CLIENT_SUBJECT)})
    with server:
        settings = ConnectionSettings(
            connect_timeout=5,
            tls=TLSOptions(ca_file=str(pki.ca), certificate_key_file=str(pki.client)),
            credential=MongoCredential("MONGODB-X509", "CN=mallory", None, None))
        with pytest.raises(OperationFailure, match="user 'CN=mallory' on database '\\$external'"):
            Connection.open(("localhost", server.address[1]), settings)


def test_one_context_per_client_and_no_secrets_in_settings_repr(pki: Pki) -> None:
    settings = ConnectionSettings(
        tls=TLSOptions(ca_file=str(pki.ca), certificate_key_file=str(pki.client_encrypted),
                       certificate_key_file_password=KEY_PASSWORD),
        credential=MongoCredential(None, "ada", "hunter2-secret"))
    assert settings.ssl_context() is settings.ssl_context()
    text = repr(settings)
    assert KEY_PASSWORD not in text and "hunter2-secret" not in text
    assert ConnectionSettings().ssl_context() is None


# --- backpressure labels (CMAP spec, "Backpressure-enabled") ---------------------------------


def _pool_checkout_error(address: tuple[str, int], **tls: object) -> AutoReconnect:
    error = checkout_error(address, connect_timeout=5, tls=TLSOptions(**tls))  # type: ignore[arg-type]
    assert isinstance(error, AutoReconnect)
    return error


@pytest.mark.parametrize("host", ["localhost", "127.0.0.1"], ids=["untrusted", "hostname"])
def test_certificate_failures_get_no_backpressure_labels(tls_server: FakeServer, pki: Pki,
                                                         host: str) -> None:
    # "non-I/O TLS errors (e.g., certificate validation or hostname-mismatch failures)":
    # "the driver MUST NOT add backpressure error labels".
    ca = {} if host == "localhost" else {"ca_file": str(pki.ca)}
    error = _pool_checkout_error((host, tls_server.address[1]), **ca)
    assert "certificate verification failed" in str(error)
    assert not error.has_error_label(SYSTEM_OVERLOADED_ERROR)
    assert not error.has_error_label(RETRYABLE_ERROR)


def test_peer_hanging_up_during_the_tls_handshake_is_labelled() -> None:
    # "if an I/O error (for example, an EOF error) occurs during the TLS handshake, the
    # driver MUST treat it as a potential overload condition and MUST add the labels".
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(4)

    def hang_up() -> None:
        conn, _ = listener.accept()
        conn.recv(1)  # the ClientHello has arrived
        conn.close()

    thread = threading.Thread(target=hang_up, daemon=True)
    thread.start()
    try:
        error = _pool_checkout_error(listener.getsockname(), allow_invalid_certificates=True)
    finally:
        thread.join(5)
        listener.close()
    assert "TLS handshake failed" in str(error)
    assert error.has_error_label(SYSTEM_OVERLOADED_ERROR)
    assert error.has_error_label(RETRYABLE_ERROR)
