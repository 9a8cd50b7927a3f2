"""A step-by-step connection probe: the public way to ask "where does connecting fail?".

``probe(uri, **client_options)`` yields one frozen ``ProbeStep`` per step, as it
finishes, in the order a client connects:

``parse``          the connection string and options (no network)
``resolve-srv``    SRV and TXT lookup for ``mongodb+srv://`` (skipped otherwise)
``resolve``        A/AAAA lookup of each seed host
``connect``        TCP connect to each seed
``tls``            the TLS handshake on that socket (certificate DER, protocol, and the
                   verification error when it fails)
``hello``          ``hello`` and ``buildInfo`` on that socket (a ``ServerDescription``,
                   the server version; an unsupported wire version fails here)
``authenticate``   a full connection with the credentials (mechanism used)
``select``         which servers a client would select for the read preference

Each step has ``status`` ``"ok"``, ``"failed"`` or ``"skipped"``, a one-line
``detail``, the driver ``error`` of a failure, its ``duration_ms``, the ``address`` of
per-server steps and read-only ``facts`` (documented per step in ``_FACTS_DOC`` below).
Once a step fails, the steps that depend on it are yielded as skipped, so every run
yields every step name. The password never appears in a step's detail, error or repr.

``cancel`` (a ``threading.Event`` or a callable returning True) aborts the run from any
thread: a socket blocked in connect, TLS or a read is shut down at once through the
same ``ConnectCancellation`` the pools use, the step in progress fails with
``AutoReconnect`` and the rest are skipped. Name lookups (``getaddrinfo``) cannot be
interrupted; the cancellation takes effect when they return. The probe blocks: run it
on a worker thread.
"""

from __future__ import annotations

import copy
import dataclasses
import re
import socket
import ssl
import threading
import time
import urllib.parse
from collections.abc import Callable, Generator, Iterator, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from driver.errors import (
    AutoReconnect,
    ConfigurationError,
    PyMongoError,
    ServerSelectionTimeoutError,
)
from driver.net.connection import Connection
from driver.net.handshake import (
    MAX_SUPPORTED_WIRE_VERSION,
    MIN_SUPPORTED_WIRE_VERSION,
    ConnectCancellation,
    address_text,
    create_socket,
    wire_version_error,
)
from driver.net.settings import ConnectionSettings
from driver.net.tls import wrap_socket
from driver.sdam.server_description import ServerDescription

Address = tuple[str, int]
OK, FAILED, SKIPPED = "ok", "failed", "skipped"
PARSE, RESOLVE_SRV, RESOLVE, CONNECT, TLS, HELLO, AUTHENTICATE, SELECT = (
    "parse", "resolve-srv", "resolve", "connect", "tls", "hello", "authenticate", "select")
PER_SERVER_STEPS = (RESOLVE, CONNECT, TLS, HELLO)
STEP_NAMES = (PARSE, RESOLVE_SRV, RESOLVE, CONNECT, TLS, HELLO, AUTHENTICATE, SELECT)
_FACTS_DOC = {
    PARSE: "scheme ('mongodb'/'mongodb+srv'), hosts (tuple of 'host:port' as given), "
           "tls (bool), username (str or None)",
    RESOLVE_SRV: "srv_hosts (tuple of addresses), txt_options (mapping), seeds (addresses)",
    RESOLVE: "ip_addresses (tuple of str)",
    CONNECT: "peer ('ip:port')",
    TLS: "certificate (DER bytes or None), protocol, cipher, peer_certificate (ssl's "
         "dict, only when verified), verify_message (on a verification failure)",
    HELLO: "server_description (ServerDescription), server_type, server_version, "
           "min_wire_version, max_wire_version, set_name, members (addresses)",
    AUTHENTICATE: "username, source, mechanism (requested), mechanism_used",
    SELECT: "read_preference, selected (addresses in the latency window), topology "
            "(the TopologyDescription seen last)",
}

Cancel = threading.Event | Callable[[], bool] | None


@dataclass(frozen=True)
class ProbeStep:
    """One finished step of a probe (immutable)."""

    name: str
    status: str
    detail: str
    error: PyMongoError | None = None
    duration_ms: float = 0.0
    address: Address | None = None
    facts: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}),
                                     hash=False, compare=False)

    @property
    def ok(self) -> bool:
        return self.status == OK

    @property
    def failed(self) -> bool:
        return self.status == FAILED

    def __repr__(self) -> str:  # facts may hold certificates: only their names are shown
        where = f", address={address_text(self.address)!r}" if self.address else ""
        error = f", error={type(self.error).__name__}({str(self.error)!r})" if self.error else ""
        return (f"ProbeStep({self.name!r}, {self.status!r}{where}, detail={self.detail!r}"
                f"{error}, duration_ms={self.duration_ms:.1f}, facts={sorted(self.facts)!r})")


# -- secrets --------------------------------------------------------------------------------

_USERINFO = re.compile(r"^mongodb(?:\+srv)?://(?P<userinfo>.*)@[^@]*$")


def _secret_forms(uri: str, options: Mapping[str, Any]) -> tuple[str, ...]:
    """Every spelling of the password that could end up in a message."""
    raw: list[str] = []
    match = _USERINFO.match(uri.strip())
    if match and ":" in match.group("userinfo"):
        raw.append(match.group("userinfo").split(":", 1)[1])
    if isinstance(options.get("password"), str):
        raw.append(options["password"])
    forms: set[str] = set()
    for password in raw:
        decoded = urllib.parse.unquote(password)
        forms |= {password, decoded, urllib.parse.quote(decoded, safe=""),
                  urllib.parse.quote_plus(decoded)}
    return tuple(sorted((f for f in forms if len(f) >= 2), key=len, reverse=True))


class _Scrubber:
    def __init__(self, secrets: tuple[str, ...]) -> None:
        self.secrets = secrets

    def text(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, "****")
        return text

    def error(self, exc: BaseException) -> PyMongoError:
        """``exc`` as a driver error whose message holds no secret."""
        if not isinstance(exc, PyMongoError):
            wrapped = AutoReconnect(f"{type(exc).__name__}: {exc}")
            wrapped.__cause__ = exc
            exc = wrapped
        message = str(exc)
        clean = self.text(message)
        if clean == message:
            return exc
        scrubbed = copy.copy(exc)
        scrubbed.args = (clean, *exc.args[1:])
        if hasattr(scrubbed, "_message"):
            scrubbed._message = clean
        scrubbed.__cause__ = None
        scrubbed.__context__ = None
        return scrubbed


# -- cancellation ---------------------------------------------------------------------------


class _Cancellation:
    """Turns the caller's event or callable into ``ConnectCancellation`` calls."""

    def __init__(self, cancel: Cancel) -> None:
        if isinstance(cancel, threading.Event):
            self._check: Callable[[], bool] = cancel.is_set
        elif cancel is not None:
            self._check = cancel
        else:
            self._check = lambda: False
        self._lock = threading.Lock()
        self._handles: set[ConnectCancellation] = set()
        self._done = threading.Event()
        self._fired = False
        self._watcher: threading.Thread | None = None
        if cancel is not None:
            self._watcher = threading.Thread(target=self._watch, name="binnacle-probe-cancel",
                                             daemon=True)
            self._watcher.start()

    @property
    def cancelled(self) -> bool:
        return self._fired or bool(self._check())

    def _watch(self) -> None:
        while not self._done.wait(0.02):
            if self._check():
                with self._lock:
                    self._fired = True
                    handles = list(self._handles)
                for handle in handles:
                    handle.cancel()
                return

    def handle(self) -> ConnectCancellation:
        handle = ConnectCancellation()
        with self._lock:
            self._handles.add(handle)
            fired = self._fired
        if fired:
            handle.cancel()
        return handle

    def release(self, handle: ConnectCancellation) -> None:
        with self._lock:
            self._handles.discard(handle)
        handle.detach()

    def close(self) -> None:
        self._done.set()


# -- the probe ------------------------------------------------------------------------------


def probe(uri: str, *, connect_timeout: float | None = None,
          server_selection_timeout: float | None = None, read_preference: Any = None,
          cancel: Cancel = None, **client_options: Any) -> Generator[ProbeStep, None, None]:
    """Probe ``uri`` (with ``MongoClient`` keyword options); yields each ``ProbeStep``.

    ``connect_timeout`` and ``server_selection_timeout`` are in seconds (default: the
    URI's connectTimeoutMS and serverSelectionTimeoutMS); ``read_preference`` defaults
    to the URI's. Closing the generator early releases every socket it holds.
    """
    run = _Probe(uri, connect_timeout, server_selection_timeout, read_preference, cancel,
                 client_options)
    try:
        yield from run.steps()
    finally:
        run.cancellation.close()


def run_probe(uri: str, **kwargs: Any) -> list[ProbeStep]:
    """Every step of ``probe(uri, **kwargs)`` as a list."""
    return list(probe(uri, **kwargs))


class _Probe:
    def __init__(self, uri: str, connect_timeout: float | None,
                 selection_timeout: float | None, read_preference: Any, cancel: Cancel,
                 client_options: Mapping[str, Any]) -> None:
        self.uri = uri
        self.connect_timeout = connect_timeout
        self.selection_timeout = selection_timeout
        self.read_preference = read_preference
        self.client_options = dict(client_options)
        self.cancellation = _Cancellation(cancel)
        self.scrub = _Scrubber(_secret_forms(uri, client_options))

    def _step(self, name: str, status: str, detail: str, started: float | None = None, *,
              error: BaseException | None = None, address: Address | None = None,
              facts: Mapping[str, Any] | None = None) -> ProbeStep:
        elapsed = 0.0 if started is None else (time.perf_counter() - started) * 1000.0
        return ProbeStep(name, status, self.scrub.text(detail),
                         None if error is None else self.scrub.error(error), elapsed,
                         address, MappingProxyType(dict(facts or {})))

    def _skipped(self, names: tuple[str, ...], why: str,
                 address: Address | None = None) -> Iterator[ProbeStep]:
        for name in names:
            yield self._step(name, SKIPPED, why, address=address)

    def steps(self) -> Iterator[ProbeStep]:
        after_parse = STEP_NAMES[1:]
        options, step = self._parse_and_resolve()
        yield from step
        if options is None:
            failed = step[-1].name
            yield from self._skipped(after_parse[after_parse.index(failed) + 1:]
                                     if failed in after_parse else after_parse,
                                     "not run: an earlier step failed")
            return
        settings = self._settings(options)
        answered: list[tuple[Address, ServerDescription]] = []
        for address in options.seeds:
            for result in self._server_steps(address, settings):
                yield result
                if result.name == HELLO and result.ok:
                    answered.append((address, result.facts["server_description"]))
        if not answered:
            yield from self._skipped((AUTHENTICATE, SELECT),
                                     "not run: no server answered hello")
            return
        auth = self._authenticate(answered[0][0], options, settings)
        yield auth
        if auth.failed:
            yield from self._skipped((SELECT,), "not run: authentication failed")
            return
        yield self._select(options)

    # -- parse and SRV --------------------------------------------------------------------
    def _parse_and_resolve(self) -> tuple[Any, list[ProbeStep]]:
        from driver.connection_string.client_options import ClientOptions
        from driver.connection_string.uri import parse_uri

        started = time.perf_counter()
        try:
            cs = parse_uri(self.uri)
        except PyMongoError as exc:
            return None, [self._step(PARSE, FAILED, str(exc), started, error=exc)]
        facts: dict[str, Any] = {"scheme": "mongodb+srv" if cs.scheme_srv else "mongodb",
                 "hosts": tuple(f"{h}:{p or 27017}" for h, p in cs.hosts),
                 "username": cs.username}
        parsed: list[ProbeStep] = []
        if cs.scheme_srv:
            parsed.append(self._step(PARSE, OK, "the connection string is valid", started,
                                     facts=facts))
            started = time.perf_counter()
        kwargs = {**self.client_options, "connect": False}
        try:
            options = ClientOptions.from_inputs(self.uri, None, kwargs)
        except PyMongoError as exc:
            name = RESOLVE_SRV if cs.scheme_srv else PARSE
            return None, [*parsed, self._step(name, FAILED, str(exc), started, error=exc)]
        if not cs.scheme_srv:
            facts["tls"] = bool(options.tls)
            parsed.append(self._step(PARSE, OK, "the connection string is valid", started,
                                     facts=facts))
            parsed.append(self._step(RESOLVE_SRV, SKIPPED, "not a mongodb+srv:// URI"))
            return options, parsed
        resolution = options.srv_resolution
        srv_facts = {"srv_hosts": tuple(resolution.all_hosts) if resolution else (),
                     "txt_options": MappingProxyType(
                         dict(resolution.txt_options.items()) if resolution else {}),
                     "seeds": tuple(options.seeds)}
        count = len(srv_facts["srv_hosts"])
        parsed.append(self._step(RESOLVE_SRV, OK, f"{count} SRV record(s) found", started,
                                 facts=srv_facts))
        return options, parsed

    def _settings(self, options: Any) -> ConnectionSettings:
        settings = ConnectionSettings.from_client_options(options)
        timeout = self.connect_timeout if self.connect_timeout is not None \
            else settings.connect_timeout
        return dataclasses.replace(settings, connect_timeout=timeout, socket_timeout=timeout,
                                   _ssl_context=[], _lock=threading.Lock())

    # -- per server: DNS, TCP, TLS, hello -------------------------------------------------
    def _server_steps(self, address: Address,
                      settings: ConnectionSettings) -> Iterator[ProbeStep]:
        host, port = address
        where = address_text(address)
        timeout = settings.connect_timeout
        rest = PER_SERVER_STEPS[1:]
        started = time.perf_counter()
        if host.endswith(".sock"):
            yield self._step(RESOLVE, SKIPPED, "a Unix domain socket: no lookup",
                             address=address)
        else:
            try:
                infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
            except OSError as exc:
                error = AutoReconnect(f"{where}: cannot resolve {host}: "
                                      f"{exc.strerror or exc}")
                yield self._step(RESOLVE, FAILED, str(error), started, error=error,
                                 address=address)
                yield from self._skipped(rest, "not run: the host did not resolve", address)
                return
            ips = tuple(dict.fromkeys(str(info[4][0]) for info in infos))
            yield self._step(RESOLVE, OK, ", ".join(ips), started, address=address,
                             facts={"ip_addresses": ips})
        handle = self.cancellation.handle()
        sock: socket.socket | None = None
        try:
            started = time.perf_counter()
            try:
                if self.cancellation.cancelled:
                    raise AutoReconnect(f"{where}: probe cancelled")
                sock = create_socket(address, timeout, handle)
            except PyMongoError as exc:
                yield self._step(CONNECT, FAILED, str(exc), started, error=exc,
                                 address=address)
                yield from self._skipped(rest[1:], "not run: TCP connect failed", address)
                return
            peer = sock.getpeername()
            peer_text = f"{peer[0]}:{peer[1]}" if isinstance(peer, tuple) else str(peer)
            yield self._step(CONNECT, OK, f"connected to {peer_text}", started,
                             address=address, facts={"peer": peer_text})
            tls_step, sock = self._tls(address, settings, sock)
            yield tls_step
            if tls_step.failed:
                yield self._skipped_one(HELLO, "not run: the TLS handshake failed", address)
                return
            yield self._hello(address, settings, sock)
            sock = None  # the Connection closed it
        finally:
            self.cancellation.release(handle)
            if sock is not None:
                sock.close()

    def _skipped_one(self, name: str, why: str, address: Address) -> ProbeStep:
        return self._step(name, SKIPPED, why, address=address)

    def _tls(self, address: Address, settings: ConnectionSettings,
             sock: socket.socket) -> tuple[ProbeStep, socket.socket]:
        if settings.tls is None:
            return self._step(TLS, SKIPPED, "TLS is off for this connection",
                              address=address), sock
        started = time.perf_counter()
        try:
            context = settings.ssl_context()
            assert context is not None
            wrapped = wrap_socket(sock, context, address[0], address[1],
                                  settings.connect_timeout)
        except PyMongoError as exc:
            facts: dict[str, Any] = {}
            if not isinstance(exc, ConfigurationError):
                facts["certificate"] = _fetch_certificate(address, settings.connect_timeout)
                cause = exc.__cause__
                if isinstance(cause, ssl.SSLCertVerificationError):
                    facts["verify_message"] = cause.verify_message or str(cause.reason)
            return self._step(TLS, FAILED, str(exc), started, error=exc, address=address,
                              facts=facts), sock
        cipher = wrapped.cipher()
        facts = {"certificate": wrapped.getpeercert(binary_form=True),
                 "protocol": wrapped.version() or "?",
                 "cipher": cipher[0] if cipher else "?",
                 "peer_certificate": MappingProxyType(dict(wrapped.getpeercert() or {}))}
        return self._step(TLS, OK, f"certificate accepted ({facts['protocol']})", started,
                          address=address, facts=facts), wrapped

    def _hello(self, address: Address, settings: ConnectionSettings,
               sock: socket.socket) -> ProbeStep:
        started = time.perf_counter()
        conn = Connection(address, sock, settings)
        try:
            reply = dict(conn.command("admin", {"hello": 1}, timeout=settings.connect_timeout,
                                      publish=False))
            rtt = time.perf_counter() - started
            try:
                build = conn.command("admin", {"buildInfo": 1},
                                     timeout=settings.connect_timeout, publish=False)
                version = str(build.get("version", "?"))
            except PyMongoError:  # buildInfo is optional (some proxies refuse it)
                version = "?"
        except PyMongoError as exc:
            error: PyMongoError = exc
            if self.cancellation.cancelled:
                error = AutoReconnect(f"{address_text(address)}: probe cancelled")
            return self._step(HELLO, FAILED, str(error), started, error=error,
                              address=address)
        finally:
            conn.close()
        description = ServerDescription(address, reply, rtt)
        facts = {"server_description": description,
                 "server_type": description.server_type_name,
                 "server_version": version,
                 "min_wire_version": description.min_wire_version,
                 "max_wire_version": description.max_wire_version,
                 "set_name": description.replica_set_name,
                 "members": tuple(sorted(description.all_hosts))}
        problem = wire_version_error(address, reply)
        if problem is not None:
            return self._step(HELLO, FAILED, problem, started, error=ConfigurationError(problem),
                              address=address, facts=facts)
        return self._step(HELLO, OK, f"MongoDB {version}, {description.server_type_name}",
                          started, address=address, facts=facts)

    # -- authentication and selection ----------------------------------------------------
    def _authenticate(self, address: Address, options: Any,
                      settings: ConnectionSettings) -> ProbeStep:
        credentials = options.credentials
        if credentials is None:
            return self._step(AUTHENTICATE, SKIPPED, "no credentials given")
        mechanism = credentials.mechanism
        facts = {"username": credentials.username, "source": credentials.source,
                 "mechanism": mechanism}
        started = time.perf_counter()
        handle = self.cancellation.handle()
        try:
            if self.cancellation.cancelled:
                raise AutoReconnect(f"{address_text(address)}: probe cancelled")
            conn = Connection.open(address, settings, cancel=handle, publish_events=False)
        except PyMongoError as exc:
            return self._step(AUTHENTICATE, FAILED, str(exc), started, error=exc,
                              address=address, facts=facts)
        finally:
            self.cancellation.release(handle)
        used = conn.authenticated_mechanism or mechanism
        conn.close()
        facts["mechanism_used"] = used
        return self._step(AUTHENTICATE, OK, f"authenticated as {credentials.username} with "
                          f"{used}", started, address=address, facts=facts)

    def _select(self, options: Any) -> ProbeStep:
        from driver.client import MongoClient
        from driver.sdam.selection import select_servers

        preference = self.read_preference or options.read_preference
        timeout = (self.selection_timeout if self.selection_timeout is not None
                   else options.server_selection_timeout_ms / 1000.0)
        kwargs: dict[str, Any] = {"heartbeatFrequencyMS": 500, **self.client_options,
                                  "serverSelectionTimeoutMS": max(1, int(timeout * 1000)),
                                  "connect": True}
        if self.connect_timeout is not None:
            kwargs["connectTimeoutMS"] = max(1, int(self.connect_timeout * 1000))
        facts: dict[str, Any] = {"read_preference": preference.name}
        started = time.perf_counter()
        deadline = time.monotonic() + timeout
        client = MongoClient(self.uri, **kwargs)
        try:
            while True:
                description = client.topology_description
                facts["topology"] = description
                try:
                    chosen = select_servers(description, preference, options.local_threshold_ms)
                except PyMongoError as exc:
                    return self._step(SELECT, FAILED, str(exc), started, error=exc,
                                      facts=facts)
                if chosen:
                    facts["selected"] = tuple(sd.address for sd in chosen)
                    names = ", ".join(f"{address_text(sd.address)} ({sd.server_type_name})"
                                      for sd in chosen)
                    return self._step(SELECT, OK, f"{preference.name} would select {names} "
                                      f"in a {description.topology_type_name} topology",
                                      started, facts=facts)
                if self.cancellation.cancelled:
                    error: PyMongoError = AutoReconnect("server selection: probe cancelled")
                    return self._step(SELECT, FAILED, str(error), started, error=error,
                                      facts=facts)
                if time.monotonic() >= deadline:
                    seen = ", ".join(f"{address_text(a)}: {sd.server_type_name}"
                                     for a, sd in sorted(description.server_descriptions()
                                                         .items()))
                    error = ServerSelectionTimeoutError(
                        f"no server matches {preference.name} after {timeout:.1f} s "
                        f"({description.topology_type_name}: {seen})")
                    return self._step(SELECT, FAILED, str(error), started, error=error,
                                      facts=facts)
                time.sleep(0.02)
        finally:
            client.close()


def _fetch_certificate(address: Address, timeout: float | None) -> bytes | None:
    """The server's certificate (DER), read over an unverified handshake; None on failure.

    Only used after verification failed, to say what the server presented: nothing is
    sent over this connection."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    try:
        with socket.create_connection(address, timeout=timeout) as raw, \
                context.wrap_socket(raw, server_hostname=address[0]) as tls:
            return tls.getpeercert(binary_form=True)
    except (OSError, ssl.SSLError):
        return None


__all__ = ["AUTHENTICATE", "CONNECT", "FAILED", "HELLO", "MAX_SUPPORTED_WIRE_VERSION",
           "MIN_SUPPORTED_WIRE_VERSION", "OK", "PARSE", "PER_SERVER_STEPS", "RESOLVE",
           "RESOLVE_SRV", "SELECT", "SKIPPED", "STEP_NAMES", "TLS", "ProbeStep", "probe",
           "run_probe"]
