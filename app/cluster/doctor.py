"""The connection doctor: connect step by step and say, in words, which step fails and why.

``ConnectionDoctor(uri).run()`` is blocking and has no Qt in it: the app runs it on a
worker thread and receives each ``StepResult`` through ``progress`` as it finishes.
The steps follow the path a client takes: parse the URI → SRV/TXT lookup → TCP connect
to each seed → TLS handshake (subject, issuer, expiry, host-name match) → ``hello``
(server version, wire compatibility) → authentication (the mechanism tried) → server
selection (which members were seen, and why none was suitable).

Each failure carries advice: a server too old names both wire versions (and releases);
a set without a primary is explained as an election; seeds that answer while the
members they announce do not (an SSH tunnel, a NAT) suggest ``directConnection=true``
and the report offers that URI for a retry; reserved characters in a password suggest
percent-encoding. ``DoctorReport.as_text()`` never contains the password.
"""

from __future__ import annotations

import datetime
import ipaddress
import re
import socket
import ssl
import threading
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from cryptography import x509
from cryptography.x509.oid import ExtensionOID

from app.cluster.common import plain_error, server_version_for_wire

OK, FAILED, SKIPPED, WARNING = "ok", "failed", "skipped", "warning"


@dataclass
class StepResult:
    """One step: its name, outcome, what was found, how long it took, and advice."""

    name: str
    status: str
    detail: str
    elapsed_s: float = 0.0
    advice: str = ""
    facts: dict[str, str] = field(default_factory=dict)

    def as_text(self) -> str:
        mark = {OK: "✓", FAILED: "✗", SKIPPED: "–", WARNING: "!"}[self.status]
        lines = [f"{mark} {self.name} ({self.elapsed_s * 1000:.0f} ms): {self.detail}"]
        lines += [f"    {key}: {value}" for key, value in self.facts.items()]
        if self.advice:
            lines.append(f"    → {self.advice}")
        return "\n".join(lines)


@dataclass
class DoctorReport:
    uri_redacted: str
    steps: list[StepResult] = field(default_factory=list)
    retry_uri: str | None = None  # the URI with directConnection=true, when suggested
    secrets: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return bool(self.steps) and all(s.status != FAILED for s in self.steps)

    @property
    def failed_step(self) -> StepResult | None:
        return next((s for s in self.steps if s.status == FAILED), None)

    @property
    def advice(self) -> list[str]:
        return [s.advice for s in self.steps if s.advice]

    def as_text(self) -> str:
        """The copyable report; any secret that slipped into a message is masked."""
        head = [f"Binnacle connection doctor — {self.uri_redacted}",
                "Result: " + ("connected" if self.ok else
                              f"failed at '{self.failed_step.name}'" if self.failed_step
                              else "not run")]
        text = "\n".join(head + [s.as_text() for s in self.steps])
        if self.retry_uri:
            text += "\nSuggested retry: " + redact_uri(self.retry_uri, self.secrets)
        return redact_text(text, self.secrets)


# -- redaction ------------------------------------------------------------------------------

_USERINFO = re.compile(r"^(?P<scheme>mongodb(?:\+srv)?://)(?P<userinfo>.*)@(?P<rest>[^@]*)$")


def password_of(uri: str) -> str | None:
    """The password part of a URI's user information, as typed (even if badly escaped)."""
    match = _USERINFO.match(uri.strip())
    if not match or ":" not in match.group("userinfo"):
        return None
    return match.group("userinfo").split(":", 1)[1] or None


def redact_uri(uri: str, secrets: tuple[str, ...] = ()) -> str:
    match = _USERINFO.match(uri.strip())
    if match and ":" in match.group("userinfo"):
        user = match.group("userinfo").split(":", 1)[0]
        uri = f"{match.group('scheme')}{user}:****@{match.group('rest')}"
    return redact_text(uri, secrets)


def redact_text(text: str, secrets: tuple[str, ...]) -> str:
    for secret in sorted(secrets, key=len, reverse=True):
        if secret and len(secret) >= 2:
            text = text.replace(secret, "****")
    return text


def _secret_forms(password: str | None) -> tuple[str, ...]:
    if not password:
        return ()
    decoded = urllib.parse.unquote(password)
    forms = {password, decoded, urllib.parse.quote(decoded, safe=""),
             urllib.parse.quote_plus(decoded)}
    return tuple(forms)


def with_direct_connection(uri: str) -> str:
    """``uri`` with ``directConnection=true`` (replacing any value it had)."""
    base, _, query = uri.partition("?")
    pairs = [p for p in query.split("&") if p and not p.lower().startswith("directconnection=")]
    if "/" not in base.split("://", 1)[1]:
        base += "/"
    return f"{base}?{'&'.join([*pairs, 'directConnection=true'])}"


# -- the doctor -----------------------------------------------------------------------------

Progress = Callable[[StepResult], None]


class ConnectionDoctor:
    """Runs the steps for one URI; ``run()`` blocks (call it on a worker thread)."""

    def __init__(self, uri: str, *, connect_timeout_s: float = 5.0,
                 selection_timeout_s: float = 5.0, progress: Progress | None = None,
                 cancel: threading.Event | None = None) -> None:
        self.uri = uri
        self.connect_timeout_s = connect_timeout_s
        self.selection_timeout_s = selection_timeout_s
        self._progress = progress
        self._cancel = cancel or threading.Event()
        self.report = DoctorReport(redact_uri(uri), secrets=_secret_forms(password_of(uri)))

    def _add(self, step: StepResult) -> StepResult:
        step.detail = redact_text(step.detail, self.report.secrets)
        step.advice = redact_text(step.advice, self.report.secrets)
        self.report.steps.append(step)
        if self._progress is not None:
            self._progress(step)
        return step

    def _skip_rest(self, *names: str) -> DoctorReport:
        done = {step.name.split(" ")[0] for step in self.report.steps}
        for name in names:
            if name.split(" ")[0] not in done:
                self._add(StepResult(name, SKIPPED, "not run: an earlier step failed"))
        return self.report

    def run(self) -> DoctorReport:
        options = self._parse()
        if options is None:
            return self._skip_rest("SRV/TXT lookup", "TCP connect", "TLS handshake", "hello",
                                   "Authentication", "Server selection")
        seeds = list(options.seeds)
        reachable = [a for a in seeds if self._tcp(a)]
        if not reachable:
            return self._skip_rest("TLS handshake", "hello", "Authentication", "Server selection")
        settings = _connection_settings(options, self.connect_timeout_s)
        if options.tls:
            reachable = [a for a in reachable if self._tls(a, settings)]
            if not reachable:
                return self._skip_rest("hello", "Authentication", "Server selection")
        else:
            self._add(StepResult("TLS handshake", SKIPPED, "TLS is off for this URI"))
        hellos = {a: r for a in reachable if (r := self._hello(a, settings)) is not None}
        if not hellos:
            return self._skip_rest("Authentication", "Server selection")
        if not self._authenticate(next(iter(hellos)), options, settings):
            return self._skip_rest("Server selection")
        if self._cancel.is_set():
            return self._skip_rest("Server selection")
        self._select(options, seeds, hellos)
        return self.report

    # -- 1. parse (and SRV/TXT, which the options object resolves) -------------------------
    def _parse(self) -> Any:
        from driver.connection_string.client_options import ClientOptions
        from driver.connection_string.uri import parse_uri
        from driver.errors import ConfigurationError

        started = time.monotonic()
        try:
            cs = parse_uri(self.uri)
        except ConfigurationError as exc:
            advice = "check the connection string's syntax"
            if password_of(self.uri) and re.search(r"[@:/?#\[\]%]", password_of(self.uri) or ""):
                advice = ("the password holds characters that are reserved in URIs "
                          "(: / ? # [ ] @ %); percent-encode them (for example with "
                          "urllib.parse.quote_plus): @ → %40, : → %3A, / → %2F, ? → %3F, "
                          "# → %23, [ → %5B, ] → %5D, % → %25")
            self._add(StepResult("Parse URI", FAILED, str(exc), time.monotonic() - started,
                                 advice))
            return None
        self.report.secrets = tuple({*self.report.secrets, *_secret_forms(cs.password)})
        facts = {"hosts": ", ".join(f"{h}:{p or 27017}" for h, p in cs.hosts),
                 "scheme": "mongodb+srv" if cs.scheme_srv else "mongodb"}
        self._add(StepResult("Parse URI", OK, "the connection string is valid",
                             time.monotonic() - started, facts=facts))
        started = time.monotonic()
        try:
            options = ClientOptions.from_inputs(self.uri, None, {"connect": False})
        except ConfigurationError as exc:
            name = "SRV/TXT lookup" if cs.scheme_srv else "Client options"
            advice = ("check the SRV host name (it looks like cluster0.abcde.mongodb.net) and "
                      "that DNS works from this machine" if cs.scheme_srv
                      else "fix the option named above")
            self._add(StepResult(name, FAILED, str(exc), time.monotonic() - started, advice))
            return None
        resolution = options.srv_resolution
        if cs.scheme_srv and resolution is not None:
            found = {"SRV targets": ", ".join(f"{h}:{p}" for h, p in resolution.all_hosts),
                     "TXT options": ", ".join(f"{k}={v}" for k, v in
                                              resolution.txt_options.items()) or "none"}
            self._add(StepResult("SRV/TXT lookup", OK,
                                 f"{len(resolution.all_hosts)} SRV record(s) found",
                                 time.monotonic() - started, facts=found))
        else:
            self._add(StepResult("SRV/TXT lookup", SKIPPED, "not a mongodb+srv:// URI"))
        return options

    # -- 2. TCP --------------------------------------------------------------------------
    def _tcp(self, address: tuple[str, int]) -> bool:
        from driver.net.connection import create_socket

        where = _where(address)
        started = time.monotonic()
        try:
            sock = create_socket(address, self.connect_timeout_s)
        except Exception as exc:  # noqa: BLE001 - reported as the step's result
            refused = "refused" in str(exc).lower()
            advice = (f"nothing is listening at {where}: check the port, that the server is "
                      "running, and that any SSH tunnel or port forward is up" if refused
                      else f"{where} did not answer: check the host name, the network and "
                      "firewalls (on Atlas, the IP access list)")
            self._add(StepResult(f"TCP connect {where}", FAILED, plain_error(exc),
                                 time.monotonic() - started, advice))
            return False
        peer = sock.getpeername()
        sock.close()
        self._add(StepResult(f"TCP connect {where}", OK, f"connected to {peer[0]}:{peer[1]}",
                             time.monotonic() - started))
        return True

    # -- 3. TLS --------------------------------------------------------------------------
    def _tls(self, address: tuple[str, int], settings: Any) -> bool:
        from driver.errors import ConfigurationError
        from driver.net.connection import create_socket
        from driver.net.tls import wrap_socket

        where = _where(address)
        started = time.monotonic()
        try:
            context = settings.ssl_context()
            sock = create_socket(address, self.connect_timeout_s)
            wrapped = wrap_socket(sock, context, address[0], address[1], self.connect_timeout_s)
        except ConfigurationError as exc:
            self._add(StepResult(f"TLS handshake {where}", FAILED, str(exc),
                                 time.monotonic() - started,
                                 "fix the TLS file option named above (path and format)"))
            return False
        except Exception as exc:  # noqa: BLE001 - reported as the step's result
            elapsed = time.monotonic() - started
            der = fetch_certificate(address, self.connect_timeout_s)
            facts = describe_certificate(der, address[0]) if der else {}
            text = str(exc).lower()
            if "hostname" in text or "ip address mismatch" in text or \
                    facts.get("host name match") == "no":
                advice = (f"the certificate is valid for {facts.get('valid for', 'other names')}, "
                          f"not for {address[0]}: connect with one of those names "
                          "(tlsAllowInvalidHostnames=true only as a last resort)")
            elif "issuer" in text or "self-signed" in text or "self signed" in text:
                advice = (f"the certificate was issued by {facts.get('issuer', 'an unknown CA')}, "
                          "which this computer does not trust: set tlsCAFile to that CA's "
                          "PEM file")
            elif "expired" in text:
                advice = "the server's certificate has expired: renew it on the server"
            else:
                advice = "check that the server speaks TLS on this port and tlsCAFile is right"
            self._add(StepResult(f"TLS handshake {where}", FAILED, plain_error(exc), elapsed,
                                 advice, facts))
            return False
        elapsed = time.monotonic() - started
        der = wrapped.getpeercert(binary_form=True)
        version = wrapped.version() or "?"
        wrapped.close()
        facts = describe_certificate(der, address[0]) if der else {}
        facts["protocol"] = version
        self._add(StepResult(f"TLS handshake {where}", OK, "certificate accepted", elapsed,
                             facts=facts))
        return True

    # -- 4. hello ------------------------------------------------------------------------
    def _hello(self, address: tuple[str, int], settings: Any) -> dict[str, Any] | None:
        from driver.net.connection import Connection, create_socket
        from driver.net.handshake import MIN_SUPPORTED_WIRE_VERSION, wire_version_error
        from driver.net.tls import wrap_socket

        where = _where(address)
        started = time.monotonic()
        conn = None
        try:
            sock: socket.socket = create_socket(address, self.connect_timeout_s)
            context = settings.ssl_context()
            if context is not None:
                sock = wrap_socket(sock, context, address[0], address[1], self.connect_timeout_s)
            conn = Connection(address, sock, settings)
            reply = dict(conn.command("admin", {"hello": 1}, timeout=self.connect_timeout_s,
                                      publish=False))
            try:
                build = conn.command("admin", {"buildInfo": 1}, timeout=self.connect_timeout_s,
                                     publish=False)
                version = str(build.get("version", "?"))
            except Exception:  # noqa: BLE001 - buildInfo is optional here
                version = "?"
        except Exception as exc:  # noqa: BLE001 - reported as the step's result
            self._add(StepResult(f"hello {where}", FAILED, plain_error(exc),
                                 time.monotonic() - started,
                                 "the server accepted the connection but did not answer hello: "
                                 "is this port a MongoDB server?"))
            return None
        finally:
            if conn is not None:
                conn.close()
        elapsed = time.monotonic() - started
        max_wire = int(reply.get("maxWireVersion") or 0)
        facts = {"server version": version, "wire versions":
                 f"{reply.get('minWireVersion', 0)}–{max_wire}",
                 "kind": _kind_of(reply)}
        if reply.get("hosts"):
            facts["announced members"] = ", ".join(map(str, reply["hosts"]))
        if reply.get("me"):
            facts["me"] = str(reply["me"])
        problem = wire_version_error(address, reply)
        if problem is not None:
            release = server_version_for_wire(max_wire)
            advice = (f"the server speaks wire version {max_wire} (MongoDB {release}"
                      f"{', reports ' + version if version != '?' else ''}); Binnacle needs "
                      f"wire version {MIN_SUPPORTED_WIRE_VERSION} (MongoDB "
                      f"{server_version_for_wire(MIN_SUPPORTED_WIRE_VERSION)}) or newer: "
                      "upgrade the server")
            self._add(StepResult(f"hello {where}", FAILED, problem, elapsed, advice, facts))
            return None
        self._add(StepResult(f"hello {where}", OK, f"MongoDB {version}, {facts['kind']}",
                             elapsed, facts=facts))
        return reply

    # -- 5. authentication --------------------------------------------------------------
    def _authenticate(self, address: tuple[str, int], options: Any, settings: Any) -> bool:
        from driver.errors import OperationFailure
        from driver.net.connection import Connection

        credentials = options.credentials
        if credentials is None:
            self._add(StepResult("Authentication", SKIPPED, "no credentials in the URI"))
            return True
        mechanism = getattr(credentials, "mechanism", None) or "negotiated (SCRAM-SHA-256/1)"
        source = getattr(credentials, "source", None) or "admin"
        started = time.monotonic()
        try:
            conn = Connection.open(address, settings)
        except OperationFailure as exc:
            self._add(StepResult(
                "Authentication", FAILED, plain_error(exc), time.monotonic() - started,
                f"check the user name, password and authSource (now {source}); mechanism "
                f"tried: {mechanism}. Users created in the admin database need authSource=admin",
                {"user": str(getattr(credentials, "username", "")), "mechanism": mechanism,
                 "authSource": source}))
            return False
        except Exception as exc:  # noqa: BLE001 - reported as the step's result
            self._add(StepResult("Authentication", FAILED, plain_error(exc),
                                 time.monotonic() - started))
            return False
        used = conn.authenticated_mechanism or mechanism
        conn.close()
        self._add(StepResult("Authentication", OK, f"authenticated with {used}",
                             time.monotonic() - started,
                             facts={"user": str(getattr(credentials, "username", "")),
                                    "mechanism": used, "authSource": source}))
        return True

    # -- 6. server selection -----------------------------------------------------------
    def _select(self, options: Any, seeds: list[tuple[str, int]],
                hellos: dict[tuple[str, int], dict[str, Any]]) -> None:
        from driver.client import MongoClient
        from driver.errors import AutoReconnect, PyMongoError

        started = time.monotonic()
        client = MongoClient(self.uri, serverSelectionTimeoutMS=int(
            self.selection_timeout_s * 1000), heartbeatFrequencyMS=500, connect=True)
        try:
            try:
                client.admin.command("ping", read_preference=options.read_preference)
            except AutoReconnect as exc:
                self._selection_failed(client.topology_description, exc, seeds, hellos,
                                       time.monotonic() - started)
                return
            except PyMongoError as exc:
                self._add(StepResult("Server selection", FAILED, plain_error(exc),
                                     time.monotonic() - started))
                return
            description = client.topology_description
            self._add(StepResult("Server selection", OK,
                                 f"selected a server in a {description.topology_type_name} "
                                 "topology", time.monotonic() - started,
                                 facts=_members_seen(description)))
        finally:
            client.close()

    def _selection_failed(self, description: Any, exc: BaseException,
                          seeds: list[tuple[str, int]],
                          hellos: dict[tuple[str, int], dict[str, Any]], elapsed: float) -> None:
        servers = description.server_descriptions()
        facts = _members_seen(description)
        type_name = description.topology_type_name
        seed_set = set(seeds)
        announced = {_parse(str(h)) for reply in hellos.values()
                     for h in (reply.get("hosts") or []) + (reply.get("passives") or [])}
        discovered_down = [a for a, s in servers.items()
                           if a not in seed_set and s.server_type_name == "Unknown"]
        advice = ""
        if announced and not (announced & seed_set) and discovered_down:
            advice = ("the seed answers, but the members it announces ("
                      + ", ".join(_where(a) for a in sorted(announced))
                      + ") cannot be reached from here — typical of an SSH tunnel or NAT. "
                      "Connect to the seed alone with directConnection=true (retry offered)")
            self.report.retry_uri = with_direct_connection(self.uri)
        elif type_name == "ReplicaSetNoPrimary" and any(
                s.server_type_name in ("RSSecondary", "RSArbiter") for s in servers.values()):
            advice = ("the replica set has no primary right now: it is electing one (this "
                      "normally takes a few seconds after a stepdown or a failure). Retry "
                      "shortly, or read with readPreference=primaryPreferred")
        elif type_name == "ReplicaSetNoPrimary":
            advice = "no member of the set answered as it should: see each member's error"
        else:
            advice = ("no server matched: check replicaSet, readPreference and the members' "
                      "errors above")
        self._add(StepResult("Server selection", FAILED, plain_error(exc), elapsed, advice,
                             facts))


def _connection_settings(options: Any, timeout_s: float) -> Any:
    from driver.net.settings import ConnectionSettings

    settings = ConnectionSettings.from_client_options(options)
    return ConnectionSettings(
        connect_timeout=timeout_s, socket_timeout=timeout_s, tls=settings.tls,
        appname=settings.appname, compressors=settings.compressors,
        zlib_compression_level=settings.zlib_compression_level,
        server_api=settings.server_api, load_balanced=settings.load_balanced,
        credential=settings.credential)


def _where(address: tuple[str, int]) -> str:
    host, port = address
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _parse(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    return (host.lower(), int(port)) if port.isdigit() else (text.lower(), 27017)


def _kind_of(reply: dict[str, Any]) -> str:
    if reply.get("msg") == "isdbgrid":
        return "mongos router"
    if reply.get("setName"):
        role = "primary" if reply.get("isWritablePrimary") or reply.get("ismaster") else \
            "arbiter" if reply.get("arbiterOnly") else "secondary" if reply.get("secondary") \
            else "member"
        return f"replica set {reply['setName']} {role}"
    if reply.get("isreplicaset"):
        return "replica set member not yet initialised (ghost)"
    return "standalone"


def _members_seen(description: Any) -> dict[str, str]:
    facts: dict[str, str] = {"topology": str(description.topology_type_name)}
    for address, server in sorted(description.server_descriptions().items()):
        error = getattr(server, "error", None)
        facts[_where(address)] = str(server.server_type_name) + (
            f" — {plain_error(error)}" if error is not None else "")
    return facts


# -- reading a certificate ----------------------------------------------------------------
# When verification fails the doctor still tells the user what the server presented: the
# handshake is repeated without verification only to read the certificate (nothing is
# sent over that connection).
def fetch_certificate(address: tuple[str, int], timeout_s: float) -> bytes | None:
    """The server's certificate (DER), read over an unverified handshake; None on failure."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    try:
        with socket.create_connection(address, timeout=timeout_s) as raw, \
                context.wrap_socket(raw, server_hostname=address[0]) as tls:
            return tls.getpeercert(binary_form=True)
    except (OSError, ssl.SSLError):
        return None


def _names(certificate: x509.Certificate) -> list[str]:
    try:
        extension = certificate.extensions.get_extension_for_oid(
            ExtensionOID.SUBJECT_ALTERNATIVE_NAME)
    except x509.ExtensionNotFound:
        return [a.value for a in certificate.subject.get_attributes_for_oid(
            x509.NameOID.COMMON_NAME) if isinstance(a.value, str)]
    alternatives = extension.value
    assert isinstance(alternatives, x509.SubjectAlternativeName)
    names: list[str] = list(alternatives.get_values_for_type(x509.DNSName))
    names += [str(ip) for ip in alternatives.get_values_for_type(x509.IPAddress)]
    return names


def _matches(host: str, names: list[str]) -> bool:
    try:
        wanted_ip = ipaddress.ip_address(host)
    except ValueError:
        wanted_ip = None
    for name in names:
        if wanted_ip is not None:
            try:
                if ipaddress.ip_address(name) == wanted_ip:
                    return True
            except ValueError:
                continue
            continue
        if name.lower() == host.lower():
            return True
        # One left-most wildcard label, as RFC 6125 allows: *.example.com.
        if name.startswith("*.") and "." in host and \
                host.lower().split(".", 1)[1] == name[2:].lower():
            return True
    return False


def describe_certificate(der: bytes, host: str) -> dict[str, str]:
    """Subject, issuer, validity and host-name match of a DER certificate."""
    certificate = x509.load_der_x509_certificate(der)
    names = _names(certificate)
    not_after = certificate.not_valid_after_utc
    now = datetime.datetime.now(datetime.UTC)
    expiry = f"{not_after:%Y-%m-%d %H:%M} UTC"
    if not_after < now:
        expiry += " (EXPIRED)"
    else:
        expiry += f" (in {(not_after - now).days} days)"
    return {
        "subject": certificate.subject.rfc4514_string(),
        "issuer": certificate.issuer.rfc4514_string(),
        "expires": expiry,
        "valid for": ", ".join(names) or "no names",
        "host name match": "yes" if _matches(host, names) else "no",
    }


def run_doctor(uri: str, progress: Progress | None = None, **kwargs: Any) -> DoctorReport:
    """Convenience for the worker pool: ``pool.submit(run_doctor, uri, progress)``."""
    return ConnectionDoctor(uri, progress=progress, **kwargs).run()


__all__ = ["ConnectionDoctor", "DoctorReport", "StepResult", "describe_certificate",
           "fetch_certificate", "redact_uri", "run_doctor", "with_direct_connection"]
