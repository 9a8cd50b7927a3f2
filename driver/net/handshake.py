"""The connection handshake: client metadata, the hello/isMaster command, and checks.

From the handshake spec: with a Stable API version or ``loadBalanced`` the first
command is ``hello`` over OP_MSG; otherwise it is the legacy ``isMaster`` with
``helloOk: true`` over OP_QUERY. It carries ``client`` (the metadata below, "MUST
NOT exceed 512 bytes" including BSON overhead), ``compression`` (our compressor
list), ``loadBalanced``, and for general-use connections the auth fields
(``saslSupportedMechs``, ``speculativeAuthenticate``). Commands after the handshake
carry none of these.

The reply is checked against the wire versions this driver speaks (MongoDB 4.2+).

Dialling lives here too (``create_socket``), with ``ConnectCancellation``: the handle a
closing topology or pool uses to abort a connection still dialling or handshaking.
"""

from __future__ import annotations

import errno
import inspect
import os
import platform
import select
import socket
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from driver.errors import AutoReconnect, ConfigurationError, NetworkTimeout
from driver.operations.replies import optional_int

DRIVER_NAME = "Binnacle"
MIN_SUPPORTED_WIRE_VERSION = 8
MIN_SUPPORTED_SERVER_VERSION = "4.2"
MAX_SUPPORTED_WIRE_VERSION = 25
METADATA_LIMIT = 512
APPNAME_LIMIT = 128


def driver_version() -> str:
    """The version of the ``driver`` package (read late: ``driver`` may still be importing)."""
    package = sys.modules.get("driver")
    version = getattr(package, "__version__", None)
    return version if isinstance(version, str) else "0.0.0"


def _platform_string() -> str:
    implementation = platform.python_implementation()
    version = ".".join(str(part) for part in sys.version_info[:3])
    return f"{implementation} {version}"


def _environment() -> dict[str, Any]:
    # Only container facts: the FaaS fields concern serverless runtimes this desktop
    # application does not run in.
    container: dict[str, str] = {}
    if os.path.exists("/.dockerenv"):
        container["runtime"] = "docker"
    if os.environ.get("KUBERNETES_SERVICE_HOST"):
        container["orchestrator"] = "kubernetes"
    return {"container": container} if container else {}


def validate_appname(appname: str | None) -> None:
    """"The client.application.name cannot exceed 128 bytes"."""
    if appname is None:
        return
    if not isinstance(appname, str):
        raise ConfigurationError(f"appname must be a string, not {type(appname).__name__}")
    size = len(appname.encode("utf-8"))
    if size > APPNAME_LIMIT:
        raise ConfigurationError(
            f"appname is {size} bytes in UTF-8; the handshake allows at most {APPNAME_LIMIT}"
        )


def client_metadata(
    appname: str | None = None,
    *,
    encode: Callable[[Mapping[str, Any]], bytes] | None = None,
    platform_string: str | None = None,
    os_fields: Mapping[str, str] | None = None,
    env: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The ``client`` document of the handshake, trimmed to 512 encoded bytes.

    The optional arguments exist for tests (to force trimming); ``encode`` defaults to
    the driver's BSON encoder.
    """
    validate_appname(appname)
    if encode is None:
        from driver.bson import encode as bson_encode

        encode = bson_encode
    metadata: dict[str, Any] = {}
    if appname:
        metadata["application"] = {"name": appname}
    metadata["driver"] = {"name": DRIVER_NAME, "version": driver_version()}
    metadata["os"] = dict(
        os_fields
        if os_fields is not None
        else {
            "type": platform.system() or "unknown",
            "name": platform.system() or "unknown",
            "architecture": platform.machine() or "unknown",
            "version": platform.release() or "unknown",
        }
    )
    metadata["platform"] = platform_string if platform_string is not None else _platform_string()
    environment = dict(env) if env is not None else _environment()
    if environment:
        metadata["env"] = environment
    return trim_metadata(metadata, encode)


def trim_metadata(
    metadata: dict[str, Any], encode: Callable[[Mapping[str, Any]], bytes]
) -> dict[str, Any]:
    """Apply the spec's trimming steps, in order, until the document fits in 512 bytes.

    "1. Omit fields from env except env.name. 2. Omit fields from os except os.type.
    3. Omit the env document entirely. 4. Truncate platform."
    """

    def fits() -> bool:
        return len(encode(metadata)) <= METADATA_LIMIT

    if fits():
        return metadata
    if "env" in metadata:
        name = metadata["env"].get("name")
        metadata["env"] = {"name": name} if name is not None else {}
        if not metadata["env"]:
            del metadata["env"]
        if fits():
            return metadata
    metadata["os"] = {"type": metadata.get("os", {}).get("type", "unknown")}
    if fits():
        return metadata
    metadata.pop("env", None)
    if fits():
        return metadata
    excess = len(encode(metadata)) - METADATA_LIMIT
    platform_text = str(metadata.get("platform", ""))
    encoded = platform_text.encode("utf-8")
    keep = max(0, len(encoded) - excess)
    metadata["platform"] = encoded[:keep].decode("utf-8", "ignore")
    if not fits():
        raise ConfigurationError(
            f"client metadata is {len(encode(metadata))} bytes even after trimming; "
            f"the limit is {METADATA_LIMIT} (is the appname too long?)"
        )
    return metadata


def server_api_fields(server_api: Any) -> dict[str, Any]:
    """``apiVersion``/``apiStrict``/``apiDeprecationErrors`` for a ``ServerApi`` (or {})."""
    if server_api is None:
        return {}
    fields: dict[str, Any] = {"apiVersion": str(server_api.version)}
    strict = getattr(server_api, "strict", None)
    if strict is not None:
        fields["apiStrict"] = bool(strict)
    deprecation_errors = getattr(server_api, "deprecation_errors", None)
    if deprecation_errors is not None:
        fields["apiDeprecationErrors"] = bool(deprecation_errors)
    return fields


def handshake_command(
    *,
    metadata: Mapping[str, Any],
    server_api: Any = None,
    load_balanced: bool = False,
    compressors: Sequence[str] = (),
    auth_fields: Mapping[str, Any] | None = None,
) -> tuple[dict[str, Any], bool]:
    """The first command of a connection and whether it must go as OP_MSG ``hello``."""
    use_hello = server_api is not None or load_balanced
    command: dict[str, Any] = {"hello": 1} if use_hello else {"isMaster": 1, "helloOk": True}
    command["client"] = dict(metadata)
    if compressors:
        command["compression"] = list(compressors)
    if load_balanced:
        command["loadBalanced"] = True
    if auth_fields:
        command.update(auth_fields)
    return command, use_hello


def address_text(address: tuple[str, int]) -> str:
    """``host:port`` (``[v6]:port`` for IPv6 literals; just the path for Unix sockets)."""
    host, port = address
    if host.endswith(".sock"):
        return host
    if ":" in host:
        return f"[{host}]:{port}"
    return f"{host}:{port}"


def wire_version_error(address: tuple[str, int], reply: Mapping[str, Any]) -> str | None:
    """The incompatibility message for a handshake reply, or None when compatible."""
    host = address_text(address)
    max_wire = optional_int(reply, "maxWireVersion", "handshake reply")
    min_wire = optional_int(reply, "minWireVersion", "handshake reply")
    if max_wire < MIN_SUPPORTED_WIRE_VERSION:
        return (
            f"Server at {host} reports wire version {max_wire}, but this version of "
            f"{DRIVER_NAME} requires at least {MIN_SUPPORTED_WIRE_VERSION} "
            f"(MongoDB {MIN_SUPPORTED_SERVER_VERSION})."
        )
    if min_wire > MAX_SUPPORTED_WIRE_VERSION:
        return (
            f"Server at {host} requires wire version {min_wire}, but this version of "
            f"{DRIVER_NAME} only supports up to {MAX_SUPPORTED_WIRE_VERSION}."
        )
    return None


def check_wire_version(address: tuple[str, int], reply: Mapping[str, Any]) -> None:
    """``ConfigurationError`` when the server speaks no wire version we support."""
    message = wire_version_error(address, reply)
    if message is not None:
        raise ConfigurationError(message)


def negotiated_compressor(requested: Sequence[str], reply: Mapping[str, Any]) -> str | None:
    """The compressor to use: the first of the server's list that we asked for."""
    offered = reply.get("compression")
    if not isinstance(offered, list | tuple):
        return None
    for name in offered:
        if isinstance(name, str) and name in requested:
            return name
    return None


# -- dialling -------------------------------------------------------------------------------


class ConnectCancellation:
    """Lets another thread abort a connection while it is being opened.

    The opening thread registers the socket it dials and handshakes on; ``cancel()``
    shuts that socket down, which wakes a blocked ``connect()``, TLS handshake or read at
    once (closing a descriptor alone wakes none of them), and the opening thread then
    fails with ``AutoReconnect``. The handle keeps its own duplicate of the descriptor,
    so shutting down from another thread never races with the owner's ``close()`` (the
    duplicate also survives TLS wrapping, which detaches the original socket object).
    One handle serves one opening; monitors and pools make a new one per attempt.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._duplicate: socket.socket | None = None
        self._cancelled = False

    @property
    def cancelled(self) -> bool:
        return self._cancelled

    def attach(self, sock: socket.socket) -> None:
        """Register the socket being opened (raises if the attempt was cancelled)."""
        unused: socket.socket | None = sock.dup()
        with self._lock:
            cancelled = self._cancelled
            if not cancelled:  # keep the new duplicate; drop one left from a failed address
                unused, self._duplicate = self._duplicate, unused
        if unused is not None:
            unused.close()
        if cancelled:
            raise AutoReconnect("connection attempt cancelled")

    def detach(self) -> None:
        """The opening finished (either way): forget the socket."""
        with self._lock:
            duplicate, self._duplicate = self._duplicate, None
        if duplicate is not None:
            duplicate.close()

    def dial(self, sock: socket.socket, sockaddr: Any, timeout: float | None) -> None:
        """``sock.connect(sockaddr)`` that a ``cancel()`` made at any moment aborts.

        Shutting a socket down wakes a ``connect()`` already in progress, but a cancel
        that lands after ``attach`` and before the ``connect()`` call finds nothing to
        wake, and the dial would then run to its timeout. So the dial is non-blocking and
        waits in short slices, looking at the flag between them.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        sock.setblocking(False)
        error = sock.connect_ex(sockaddr)
        while error in _DIAL_IN_PROGRESS:
            if self._cancelled:
                raise AutoReconnect("connection attempt cancelled")
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                raise TimeoutError("timed out")
            wait = _CANCEL_CHECK_S if remaining is None else min(remaining, _CANCEL_CHECK_S)
            if _writable(sock, wait):
                error = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        if self._cancelled:
            raise AutoReconnect("connection attempt cancelled")
        if error:
            raise OSError(error, os.strerror(error))
        sock.settimeout(timeout)

    def cancel(self) -> None:
        """Abort the opening from any thread (idempotent, never blocks)."""
        with self._lock:
            self._cancelled = True
            duplicate, self._duplicate = self._duplicate, None
        if duplicate is not None:
            try:
                duplicate.shutdown(socket.SHUT_RDWR)
            except OSError:  # not connected yet or already reset: nothing to wake
                pass
            duplicate.close()


# How long a cancellable dial waits before looking at its cancel flag again: the bound
# on how late a cancel that found no socket to shut down is noticed.
_CANCEL_CHECK_S = 0.05
# What a non-blocking connect_ex() returns while the dial is under way (Windows has its
# own WSA code for it).
_DIAL_IN_PROGRESS = frozenset(
    code for code in (errno.EINPROGRESS, errno.EWOULDBLOCK, errno.EALREADY,
                      getattr(errno, "WSAEWOULDBLOCK", None))
    if code is not None
)


def _writable(sock: socket.socket, wait: float) -> bool:
    # poll() has no descriptor-number limit; select() is the fallback where it is missing.
    if hasattr(select, "poll"):
        poller = select.poll()
        poller.register(sock, select.POLLOUT | select.POLLERR | select.POLLHUP)
        return bool(poller.poll(wait * 1000))
    _, writable, failed = select.select([], [sock], [sock], wait)
    return bool(writable or failed)


def accepts_cancel(factory: Callable[..., Any]) -> bool:
    """Whether ``factory`` takes the optional ``cancel=`` keyword (a
    ``ConnectCancellation``). Older factories (scripted test fakes, user code) do not;
    callers check once and then call them the old way."""
    try:
        parameters = inspect.signature(factory).parameters.values()
    except (TypeError, ValueError):  # builtins and some C callables have no signature
        return False
    return any(
        (p.name == "cancel" and p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD))
        or p.kind is p.VAR_KEYWORD
        for p in parameters
    )


def _dial_tcp(
    host: str, port: int, timeout: float | None, cancel: ConnectCancellation | None
) -> socket.socket:
    # socket.create_connection() hides the socket until it is connected; dialling here
    # lets a cancellation handle see (and shut down) a socket stuck in connect().
    last_error: OSError | None = None
    for family, kind, proto, _, sockaddr in socket.getaddrinfo(
        host, port, 0, socket.SOCK_STREAM
    ):
        sock = socket.socket(family, kind, proto)
        try:
            if cancel is not None:
                cancel.attach(sock)
                cancel.dial(sock, sockaddr, timeout)
            else:
                sock.settimeout(timeout)
                sock.connect(sockaddr)
            return sock
        except OSError as exc:
            sock.close()
            last_error = exc
        except BaseException:
            sock.close()
            raise
    if last_error is None:
        # A resolution failure (no overload sign), like the errors getaddrinfo raises.
        raise socket.gaierror(f"getaddrinfo returned no address for {host!r}")
    raise last_error


def create_socket(
    address: tuple[str, int], timeout: float | None, cancel: ConnectCancellation | None = None
) -> socket.socket:
    """A connected socket: TCP (every resolved address tried in turn), or a Unix domain
    socket when the host is a path ending in ``.sock``, as connection strings allow.
    With ``cancel``, another thread may abort the attempt (``AutoReconnect``)."""
    host, port = address
    where = address_text(address)
    try:
        if host.endswith(".sock") and hasattr(socket, "AF_UNIX"):
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                if cancel is not None:
                    cancel.attach(sock)
                sock.settimeout(timeout)
                sock.connect(host)
            except BaseException:
                sock.close()
                raise
            return sock
        sock = _dial_tcp(host, port, timeout, cancel)
    except AutoReconnect as exc:  # cancelled before the socket existed
        raise AutoReconnect(f"{where}: {exc}") from exc
    except TimeoutError as exc:
        raise NetworkTimeout(
            f"{where}: timed out connecting (connectTimeoutMS={_ms(timeout)})"
        ) from exc
    except OSError as exc:
        if cancel is not None and cancel.cancelled:
            raise AutoReconnect(f"{where}: connection attempt cancelled") from exc
        raise AutoReconnect(f"{where}: {exc}") from exc
    try:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
    except OSError:  # a socket that cannot take options still works
        pass
    return sock


def _ms(timeout: float | None) -> str:
    return "none" if timeout is None else str(int(timeout * 1000))
