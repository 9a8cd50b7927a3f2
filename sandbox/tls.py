"""Throwaway TLS material for a sandbox cluster, made with ``cryptography`` at start-up.

A private CA signs a server certificate valid for ``localhost``, ``127.0.0.1`` and ``::1`` (or other
names, to test hostname checks) and a
client certificate (for X.509 authentication). Keys are ECDSA P-256 (fast to generate). The files
live in a temporary directory removed when the cluster closes.
"""

from __future__ import annotations

import datetime
import ipaddress
import shutil
import ssl
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

CLIENT_SUBJECT = "CN=client,OU=sandbox-clients,O=Binnacle"


@dataclass
class TlsFiles:
    directory: Path
    ca_file: Path
    server_pem: Path  # certificate + key
    client_pem: Path  # certificate + key
    client_subject: str = CLIENT_SUBJECT

    def server_context(self) -> ssl.SSLContext:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.server_pem)
        context.load_verify_locations(self.ca_file)
        context.verify_mode = ssl.CERT_OPTIONAL  # a client certificate is asked for, not required
        return context

    def remove(self) -> None:
        shutil.rmtree(self.directory, ignore_errors=True)


def _name(*parts: tuple[x509.ObjectIdentifier, str]) -> x509.Name:
    return x509.Name([x509.NameAttribute(oid, value) for oid, value in parts])


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def _builder(subject: x509.Name, issuer: x509.Name, public_key: ec.EllipticCurvePublicKey,
             days: int) -> x509.CertificateBuilder:
    now = datetime.datetime.now(datetime.UTC)
    return (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer)
            .public_key(public_key).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=days)))


DEFAULT_SERVER_NAMES = ("localhost", "127.0.0.1", "::1")


def _alt_name(name: str) -> x509.GeneralName:
    try:
        return x509.IPAddress(ipaddress.ip_address(name))
    except ValueError:
        return x509.DNSName(name)


def create_tls_files(directory: Path | None = None,
                     server_names: Sequence[str] = DEFAULT_SERVER_NAMES) -> TlsFiles:
    """Make a CA, a server certificate for ``server_names`` and a client certificate.

    Other names than the default let a driver test its hostname check (a certificate for
    ``example.invalid`` served on 127.0.0.1 must be refused unless invalid hostnames are allowed).
    """
    if not server_names:
        raise ValueError("server_names must name at least one host or IP address")
    folder = Path(directory) if directory else Path(tempfile.mkdtemp(prefix="sandbox-tls-"))
    folder.mkdir(parents=True, exist_ok=True)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = _name((NameOID.COMMON_NAME, "Binnacle Sandbox CA"),
                    (NameOID.ORGANIZATION_NAME, "Binnacle"))
    ca_cert = (_builder(ca_name, ca_name, ca_key.public_key(), 30)
               .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
               .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False,
                                            False), critical=True)
               .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()),
                              critical=False)
               .sign(ca_key, hashes.SHA256()))
    aki = x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key())

    server_key = ec.generate_private_key(ec.SECP256R1())
    server_cert = (_builder(_name((NameOID.COMMON_NAME, server_names[0]),
                                  (NameOID.ORGANIZATION_NAME, "Binnacle")),
                            ca_name, server_key.public_key(), 30)
                   .add_extension(x509.SubjectAlternativeName(
                       [_alt_name(n) for n in server_names]), critical=False)
                   .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
                   .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]),
                                  critical=False)
                   .add_extension(aki, critical=False)
                   .sign(ca_key, hashes.SHA256()))

    client_key = ec.generate_private_key(ec.SECP256R1())
    client_cert = (_builder(_name((NameOID.ORGANIZATION_NAME, "Binnacle"),
                                  (NameOID.ORGANIZATIONAL_UNIT_NAME, "sandbox-clients"),
                                  (NameOID.COMMON_NAME, "client")),
                            ca_name, client_key.public_key(), 30)
                   .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
                   .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]),
                                  critical=False)
                   .add_extension(aki, critical=False)
                   .sign(ca_key, hashes.SHA256()))

    pem = serialization.Encoding.PEM
    files = TlsFiles(folder, folder / "ca.pem", folder / "server.pem", folder / "client.pem")
    files.ca_file.write_bytes(ca_cert.public_bytes(pem))
    files.server_pem.write_bytes(server_cert.public_bytes(pem) + _key_pem(server_key))
    files.client_pem.write_bytes(client_cert.public_bytes(pem) + _key_pem(client_key))
    return files
