"""TLS for connections: an ``ssl.SSLContext`` built from the client's tls* options.

Verification is on by default: the server's certificate must chain to the CA file
(or the system store when none is given) and name the host we dialled.
``tlsAllowInvalidCertificates`` turns off chain checks, ``tlsAllowInvalidHostnames``
only the name check, and ``tlsInsecure`` both. SNI is sent for host names (Python's
``ssl`` does not send it for IP literals, as RFC 6066 says). OCSP endpoint checks
are not performed by Python's ``ssl``, so ``tlsDisableOCSPEndpointCheck`` is
accepted and has nothing to turn off.
"""

from __future__ import annotations

import socket
import ssl
from dataclasses import dataclass

from driver.errors import AutoReconnect, ConfigurationError, NetworkTimeout


@dataclass(frozen=True)
class TLSOptions:
    """The tls* options of a client, as the connection layer needs them."""

    ca_file: str | None = None
    certificate_key_file: str | None = None
    certificate_key_file_password: str | None = None
    allow_invalid_certificates: bool = False
    allow_invalid_hostnames: bool = False
    insecure: bool = False
    disable_ocsp_endpoint_check: bool = False
    crl_file: str | None = None

    def __repr__(self) -> str:  # the key password must never show up in logs
        return (
            f"TLSOptions(ca_file={self.ca_file!r}, "
            f"certificate_key_file={self.certificate_key_file!r}, "
            f"allow_invalid_certificates={self.allow_invalid_certificates}, "
            f"allow_invalid_hostnames={self.allow_invalid_hostnames}, insecure={self.insecure})"
        )

    @property
    def verify_certificates(self) -> bool:
        return not (self.insecure or self.allow_invalid_certificates)

    @property
    def verify_hostnames(self) -> bool:
        return self.verify_certificates and not self.allow_invalid_hostnames


def make_ssl_context(options: TLSOptions) -> ssl.SSLContext:
    """An SSLContext for ``options``; ``ConfigurationError`` names a file that will not load."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    if options.verify_certificates:
        context.verify_mode = ssl.CERT_REQUIRED
        context.check_hostname = options.verify_hostnames
        if options.ca_file:
            try:
                context.load_verify_locations(cafile=options.ca_file)
            except (OSError, ssl.SSLError) as exc:
                raise ConfigurationError(
                    f"tlsCAFile {options.ca_file!r} cannot be loaded: {_reason(exc)}"
                ) from exc
        else:
            context.load_default_certs(ssl.Purpose.SERVER_AUTH)
        if options.crl_file:
            try:
                context.load_verify_locations(cafile=options.crl_file)
            except (OSError, ssl.SSLError) as exc:
                raise ConfigurationError(
                    f"tlsCRLFile {options.crl_file!r} cannot be loaded: {_reason(exc)}"
                ) from exc
            context.verify_flags |= ssl.VERIFY_CRL_CHECK_LEAF
    else:
        # check_hostname must be switched off before verify_mode can be CERT_NONE.
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        if options.ca_file:  # still loaded, so a wrong path is reported
            try:
                context.load_verify_locations(cafile=options.ca_file)
            except (OSError, ssl.SSLError) as exc:
                raise ConfigurationError(
                    f"tlsCAFile {options.ca_file!r} cannot be loaded: {_reason(exc)}"
                ) from exc
    if options.certificate_key_file:
        try:
            context.load_cert_chain(
                options.certificate_key_file,
                password=options.certificate_key_file_password,
            )
        except (OSError, ssl.SSLError) as exc:
            hint = (
                " (wrong tlsCertificateKeyFilePassword?)"
                if options.certificate_key_file_password is not None
                else ""
            )
            raise ConfigurationError(
                f"tlsCertificateKeyFile {options.certificate_key_file!r} cannot be loaded: "
                f"{_reason(exc)}{hint}"
            ) from exc
    return context


def _reason(exc: BaseException) -> str:
    if isinstance(exc, ssl.SSLError) and exc.reason:
        return str(exc.reason)
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc) or type(exc).__name__


def wrap_socket(
    sock: socket.socket,
    context: ssl.SSLContext,
    host: str,
    port: int,
    timeout: float | None,
) -> ssl.SSLSocket:
    """Run the TLS handshake on a connected socket; errors name the address.

    A certificate the client refuses is an ``AutoReconnect`` (a ``ConnectionFailure``)
    whose message says why, as with any server that cannot be reached.
    """
    sock.settimeout(timeout)
    try:
        return context.wrap_socket(sock, server_hostname=host)
    except ssl.SSLCertVerificationError as exc:
        raise AutoReconnect(
            f"{host}:{port}: TLS certificate verification failed: "
            f"{exc.verify_message or _reason(exc)}"
        ) from exc
    except TimeoutError as exc:
        raise NetworkTimeout(f"{host}:{port}: timed out during the TLS handshake") from exc
    except (ssl.SSLError, OSError) as exc:
        raise AutoReconnect(f"{host}:{port}: TLS handshake failed: {_reason(exc)}") from exc
