"""The connection doctor: connect step by step and say, in words, which step fails and why.

``ConnectionDoctor(uri).run()`` is blocking and has no Qt in it: the app runs it on a
worker thread and receives each ``StepResult`` through ``progress`` as it finishes.
The steps are the driver's public probe (``driver.probe``; the doctor uses nothing
else of the driver but its errors), which follows the path a client takes: parse the
URI → SRV/TXT lookup → DNS → TCP connect to each seed → TLS handshake (subject, issuer, expiry, host-name match) → ``hello``
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
import threading
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
    """Runs the steps for one URI; ``run()`` blocks (call it on a worker thread).

    The steps themselves are the driver's public probe (``driver.probe``); the doctor
    names them for people, keeps their facts as text and adds the advice.
    """

    def __init__(self, uri: str, *, connect_timeout_s: float = 5.0,
                 selection_timeout_s: float = 5.0, progress: Progress | None = None,
                 cancel: threading.Event | None = None) -> None:
        self.uri = uri
        self.connect_timeout_s = connect_timeout_s
        self.selection_timeout_s = selection_timeout_s
        self._progress = progress
        self._cancel = cancel or threading.Event()
        self.report = DoctorReport(redact_uri(uri), secrets=_secret_forms(password_of(uri)))
        self._seeds: list[tuple[str, int]] = []
        self._announced: set[tuple[str, int]] = set()

    def _add(self, step: StepResult) -> StepResult:
        step.detail = redact_text(step.detail, self.report.secrets)
        step.advice = redact_text(step.advice, self.report.secrets)
        step.facts = {k: redact_text(v, self.report.secrets) for k, v in step.facts.items()}
        self.report.steps.append(step)
        if self._progress is not None:
            self._progress(step)
        return step

    def run(self) -> DoctorReport:
        from driver.probe import probe

        steps = probe(self.uri, connect_timeout=self.connect_timeout_s,
                      server_selection_timeout=self.selection_timeout_s, cancel=self._cancel)
        try:
            for step in steps:
                self._add(self._explain(step))
        finally:
            steps.close()
        return self.report

    # -- one probe step → one doctor step ---------------------------------------------------
    def _explain(self, step: Any) -> StepResult:
        from driver import probe as p

        explain = {p.PARSE: self._parse, p.RESOLVE_SRV: self._srv, p.RESOLVE: self._dns,
                   p.CONNECT: self._tcp, p.TLS: self._tls, p.HELLO: self._hello,
                   p.AUTHENTICATE: self._authenticate, p.SELECT: self._select}[step.name]
        result = explain(step)
        if step.status == p.SKIPPED and not result.detail.startswith("not run") and \
                step.detail.startswith("not run"):
            result.detail = "not run: an earlier step failed"
        return result

    @staticmethod
    def _result(name: str, step: Any, detail: str | None = None, advice: str = "",
                facts: dict[str, str] | None = None) -> StepResult:
        return StepResult(name, step.status, step.detail if detail is None else detail,
                          step.duration_ms / 1000.0, advice if step.status == FAILED else "",
                          facts or {})

    def _parse(self, step: Any) -> StepResult:
        advice = ""
        if step.status == FAILED:
            advice = "check the connection string's syntax"
            password = password_of(self.uri) or ""
            if password and re.search(r"[@:/?#\[\]%]", password):
                advice = ("the password holds characters that are reserved in URIs "
                          "(: / ? # [ ] @ %); percent-encode them (for example with "
                          "urllib.parse.quote_plus): @ → %40, : → %3A, / → %2F, ? → %3F, "
                          "# → %23, [ → %5B, ] → %5D, % → %25")
        facts = {}
        if step.status == OK:
            facts = {"hosts": ", ".join(step.facts["hosts"]), "scheme": step.facts["scheme"]}
        return self._result("Parse URI", step, advice=advice, facts=facts)

    def _srv(self, step: Any) -> StepResult:
        facts = {}
        if step.status == OK:
            facts = {"SRV targets": ", ".join(_where(a) for a in step.facts["srv_hosts"]),
                     "TXT options": ", ".join(f"{k}={v}" for k, v in
                                              step.facts["txt_options"].items()) or "none"}
        return self._result("SRV/TXT lookup", step, advice=(
            "check the SRV host name (it looks like cluster0.abcde.mongodb.net) and that "
            "DNS works from this machine"), facts=facts)

    def _dns(self, step: Any) -> StepResult:
        name = f"DNS lookup {step.address[0]}" if step.address else "DNS lookup"
        if step.address and step.address not in self._seeds:
            self._seeds.append(step.address)
        return self._result(name, step, advice=(
            "the host name does not resolve: check its spelling and this machine's DNS"))

    def _tcp(self, step: Any) -> StepResult:
        where = _where(step.address) if step.address else ""
        name = f"TCP connect {where}".strip()
        refused = "refused" in str(step.error or "").lower()
        advice = (f"nothing is listening at {where}: check the port, that the server is "
                  "running, and that any SSH tunnel or port forward is up" if refused
                  else f"{where} did not answer: check the host name, the network and "
                  "firewalls (on Atlas, the IP access list)")
        detail = plain_error(step.error) if step.error is not None else None
        return self._result(name, step, detail, advice)

    def _tls(self, step: Any) -> StepResult:
        from driver.errors import ConfigurationError

        address = step.address
        name = f"TLS handshake {_where(address)}" if address else "TLS handshake"
        if step.status == SKIPPED:
            return self._result(name, step)
        der = step.facts.get("certificate")
        facts = describe_certificate(der, address[0]) if der and address else {}
        if step.status == OK:
            facts["protocol"] = str(step.facts.get("protocol", "?"))
            return self._result(name, step, "certificate accepted", facts=facts)
        if isinstance(step.error, ConfigurationError):
            return self._result(name, step, str(step.error),
                                "fix the TLS file option named above (path and format)")
        text = str(step.error).lower()
        host = address[0] if address else "this host"
        if "hostname" in text or "ip address mismatch" in text or \
                facts.get("host name match") == "no":
            advice = (f"the certificate is valid for {facts.get('valid for', 'other names')}, "
                      f"not for {host}: connect with one of those names "
                      "(tlsAllowInvalidHostnames=true only as a last resort)")
        elif "issuer" in text or "self-signed" in text or "self signed" in text:
            advice = (f"the certificate was issued by {facts.get('issuer', 'an unknown CA')}, "
                      "which this computer does not trust: set tlsCAFile to that CA's PEM file")
        elif "expired" in text:
            advice = "the server's certificate has expired: renew it on the server"
        else:
            advice = "check that the server speaks TLS on this port and tlsCAFile is right"
        return self._result(name, step, plain_error(step.error), advice, facts)

    def _hello(self, step: Any) -> StepResult:
        from driver.probe import MIN_SUPPORTED_WIRE_VERSION

        name = f"hello {_where(step.address)}" if step.address else "hello"
        if step.status == SKIPPED:
            return self._result(name, step)
        if "server_description" not in step.facts:
            return self._result(name, step, plain_error(step.error), (
                "the server accepted the connection but did not answer hello: is this "
                "port a MongoDB server?"))
        server = step.facts["server_description"]
        version = str(step.facts["server_version"])
        max_wire = int(step.facts["max_wire_version"])
        kind = _kind_of(server.hello)
        facts = {"server version": version,
                 "wire versions": f"{step.facts['min_wire_version']}–{max_wire}",
                 "kind": kind}
        if server.hosts:
            facts["announced members"] = ", ".join(_where(a) for a in sorted(server.hosts))
        if server.me:
            facts["me"] = _where(server.me)
        if step.status == OK:
            self._announced |= set(server.hosts) | set(server.passives)
            return self._result(name, step, f"MongoDB {version}, {kind}", facts=facts)
        release = server_version_for_wire(max_wire)
        advice = (f"the server speaks wire version {max_wire} (MongoDB {release}"
                  f"{', reports ' + version if version != '?' else ''}); Binnacle needs "
                  f"wire version {MIN_SUPPORTED_WIRE_VERSION} (MongoDB "
                  f"{server_version_for_wire(MIN_SUPPORTED_WIRE_VERSION)}) or newer: "
                  "upgrade the server")
        return self._result(name, step, str(step.error), advice, facts)

    def _authenticate(self, step: Any) -> StepResult:
        from driver.errors import OperationFailure

        if step.status == SKIPPED:
            detail = "no credentials in the URI" if "credentials" in step.detail else None
            return self._result("Authentication", step, detail)
        mechanism = step.facts.get("mechanism") or "DEFAULT"
        if mechanism == "DEFAULT":
            mechanism = "negotiated (SCRAM-SHA-256/1)"
        source = step.facts.get("source") or "admin"
        facts = {"user": str(step.facts.get("username") or ""), "authSource": str(source),
                 "mechanism": str(step.facts.get("mechanism_used") or mechanism)}
        if step.status == OK:
            return self._result("Authentication", step,
                                f"authenticated with {facts['mechanism']}", facts=facts)
        advice = ""
        if isinstance(step.error, OperationFailure):
            advice = (f"check the user name, password and authSource (now {source}); "
                      f"mechanism tried: {mechanism}. Users created in the admin database "
                      "need authSource=admin")
        return self._result("Authentication", step, plain_error(step.error), advice, facts)

    def _select(self, step: Any) -> StepResult:
        description = step.facts.get("topology")
        if step.status == SKIPPED:
            return self._result("Server selection", step)
        facts = _members_seen(description) if description is not None else {}
        if step.status == OK:
            return self._result("Server selection", step,
                                f"selected a server in a {description.topology_type_name} "
                                "topology", facts=facts)
        if description is None:
            return self._result("Server selection", step, plain_error(step.error))
        return self._result("Server selection", step, plain_error(step.error),
                            self._selection_advice(description), facts)

    def _selection_advice(self, description: Any) -> str:
        servers = description.server_descriptions()
        type_name = description.topology_type_name
        seed_set = set(self._seeds)
        announced = self._announced
        discovered_down = [a for a, s in servers.items()
                           if a not in seed_set and s.server_type_name == "Unknown"]
        if announced and not (announced & seed_set) and discovered_down:
            self.report.retry_uri = with_direct_connection(self.uri)
            return ("the seed answers, but the members it announces ("
                    + ", ".join(_where(a) for a in sorted(announced))
                    + ") cannot be reached from here — typical of an SSH tunnel or NAT. "
                    "Connect to the seed alone with directConnection=true (retry offered)")
        if type_name == "ReplicaSetNoPrimary" and any(
                s.server_type_name in ("RSSecondary", "RSArbiter") for s in servers.values()):
            return ("the replica set has no primary right now: it is electing one (this "
                    "normally takes a few seconds after a stepdown or a failure). Retry "
                    "shortly, or read with readPreference=primaryPreferred")
        if type_name == "ReplicaSetNoPrimary":
            return "no member of the set answered as it should: see each member's error"
        return "no server matched: check replicaSet, readPreference and the members' errors above"


def _where(address: tuple[str, int]) -> str:
    host, port = address
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


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
# The probe hands over the server's certificate (DER) even when verification failed; the
# doctor turns it into words.
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
           "redact_uri", "run_doctor", "with_direct_connection"]
