"""What a connection needs from the client's options, validated once per client.

``ConnectionSettings.from_client_options`` maps ``driver.connection_string.client_options.ClientOptions``
(duck-typed by attribute name) to seconds-based timeouts, TLS options, compressors,
Stable API, load balancing, the credential and the command listeners; the SSLContext
is built once, on first use, and shared by every connection of the client.
"""

from __future__ import annotations

import ssl
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from driver.auth import Credential
from driver.errors import ConfigurationError
from driver.net import compression, handshake
from driver.net.tls import TLSOptions, make_ssl_context
from driver.operations.command_events import CommandListener


@dataclass(frozen=True)
class ConnectionSettings:
    """Everything a connection needs from the client's options."""

    connect_timeout: float | None = 20.0
    socket_timeout: float | None = None
    tls: TLSOptions | None = None
    appname: str | None = None
    compressors: tuple[str, ...] = ()
    zlib_compression_level: int = -1
    server_api: Any = None
    load_balanced: bool = False
    credential: Credential | None = None
    command_listeners: tuple[CommandListener, ...] = ()
    _ssl_context: list[ssl.SSLContext] = field(default_factory=list, repr=False, compare=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def __post_init__(self) -> None:
        handshake.validate_appname(self.appname)
        for name in self.compressors:
            if name.lower() not in compression.COMPRESSOR_IDS or name.lower() == "noop":
                raise ConfigurationError(f"unknown compressor {name!r} in compressors")
        if not -1 <= self.zlib_compression_level <= 9:
            raise ConfigurationError(
                f"zlibCompressionLevel must be between -1 and 9, not {self.zlib_compression_level}"
            )
        for label, value in (("connectTimeoutMS", self.connect_timeout),
                             ("socketTimeoutMS", self.socket_timeout)):
            if value is not None and value < 0:
                raise ConfigurationError(f"{label} must not be negative")

    @classmethod
    def from_client_options(
        cls, options: Any, listeners: Iterable[CommandListener] = ()
    ) -> ConnectionSettings:
        """Settings from ``driver.connection_string.client_options.ClientOptions`` (duck-typed: attribute names)."""

        def seconds(ms: Any) -> float | None:
            return None if ms is None or ms == 0 else float(ms) / 1000.0

        tls = None
        if getattr(options, "tls", False):
            insecure = bool(getattr(options, "tls_insecure", False))
            tls = TLSOptions(
                ca_file=getattr(options, "tls_ca_file", None),
                certificate_key_file=getattr(options, "tls_certificate_key_file", None),
                certificate_key_file_password=getattr(
                    options, "tls_certificate_key_file_password", None
                ),
                allow_invalid_certificates=bool(
                    getattr(options, "tls_allow_invalid_certificates", False)
                ),
                allow_invalid_hostnames=bool(
                    getattr(options, "tls_allow_invalid_hostnames", False)
                ),
                insecure=insecure,
                disable_ocsp_endpoint_check=bool(
                    getattr(options, "tls_disable_ocsp_endpoint_check", False)
                ),
                crl_file=getattr(options, "tls_crl_file", None),
            )
        zlib_level = getattr(options, "zlib_compression_level", None)
        return cls(
            connect_timeout=seconds(getattr(options, "connect_timeout_ms", 20000)),
            socket_timeout=seconds(getattr(options, "socket_timeout_ms", None)),
            tls=tls,
            appname=getattr(options, "appname", None),
            compressors=tuple(getattr(options, "compressors", None) or ()),
            zlib_compression_level=-1 if zlib_level is None else int(zlib_level),
            server_api=getattr(options, "server_api", None),
            load_balanced=bool(getattr(options, "load_balanced", False)),
            credential=getattr(options, "credentials", None),
            command_listeners=tuple(listeners),
        )

    def ssl_context(self) -> ssl.SSLContext | None:
        """The SSLContext (built once, on first use), or None without TLS."""
        if self.tls is None:
            return None
        with self._lock:
            if not self._ssl_context:
                self._ssl_context.append(make_ssl_context(self.tls))
            return self._ssl_context[0]
