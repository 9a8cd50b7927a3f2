"""``mongodb+srv://``: SRV and TXT look-ups and their validation.

Follows the initial DNS seedlist discovery specification
("initial-dns-seedlist-discovery.md" in mongodb/specifications); re-polling the records
afterwards is ``srv_polling`` (its own specification, machinery the option rules in
``client_options`` do not need):

* ``_{srvServiceName}._tcp.{host}`` SRV records give the seeds; every target "MUST
  ... share the original SRV's {domainname}" and, for a host of one or two labels,
  "have at least one more domain level";
* one optional TXT record on ``{host}`` may set only ``authSource``, ``replicaSet`` and
  ``loadBalanced``; options in the connection string or the keyword arguments win;
* TLS is on unless the user turned it off ("a driver MUST implicitly also enable TLS");
* ``srvMaxHosts`` picks that many seeds at random (a Fisher-Yates shuffle);

The resolver is injectable: a ``dns.resolver.Resolver`` (e.g. pointed at a test server)
or any callable ``(name, rdtype) -> iterable of records``. Every DNS failure of the
initial look-up is a ``ConfigurationError`` naming the record.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import dns.exception
import dns.resolver

from driver.connection_string.options_table import TXT_ALLOWED, OptionMap
from driver.connection_string.parse import parse_txt_options
from driver.connection_string.uri import ConnectionString, type_options
from driver.errors import ConfigurationError

log = logging.getLogger("driver.connection_string.srv")

Address = tuple[str, int]
ResolverLike = dns.resolver.Resolver | Callable[[str, str], Iterable[Any]]
DEFAULT_SERVICE_NAME = "mongodb"
DEFAULT_LIFETIME_S = 20.0


@dataclass(frozen=True)
class SrvRecords:
    """Verified SRV targets and the lowest TTL of the answer (None if unknown)."""

    hosts: list[Address]
    ttl: int | None


@dataclass(frozen=True)
class SrvResolution:
    """The outcome of resolving a ``mongodb+srv://`` string."""

    srv_host: str
    service_name: str
    seeds: list[Address]  # after srvMaxHosts
    all_hosts: list[Address]  # every verified SRV target
    ttl: int | None
    options: OptionMap  # TXT options under the URI's, with the implicit tls=true
    txt_options: OptionMap
    connection_string: ConnectionString  # the input with ``options`` merged in


class _NoRecords(Exception):
    """NXDOMAIN or an empty answer (a TXT record is optional; SRV records are not)."""


def _query(
    resolver: ResolverLike | None, name: str, rdtype: str, lifetime: float
) -> tuple[list[Any], int | None]:
    resolver = resolver if resolver is not None else dns.resolver.Resolver()
    try:
        if isinstance(resolver, dns.resolver.Resolver):
            answer: Any = resolver.resolve(name, rdtype, lifetime=lifetime, search=False)
        else:
            answer = resolver(name, rdtype)
        records = list(answer)
    except dns.resolver.NXDOMAIN:
        raise _NoRecords("the name does not exist (NXDOMAIN)") from None
    except dns.resolver.NoAnswer:
        raise _NoRecords(f"the name has no {rdtype} record") from None
    except dns.exception.Timeout:
        raise ConfigurationError(
            f"DNS look-up of the {rdtype} record {name} timed out after {lifetime:g} s; "
            "check the host name and your DNS server (or raise connectTimeoutMS)"
        ) from None
    except dns.exception.DNSException as exc:
        raise ConfigurationError(
            f"DNS look-up of the {rdtype} record {name} failed: {exc}"
        ) from None
    rrset = getattr(answer, "rrset", None)
    ttl = getattr(rrset, "ttl", None)
    return records, ttl if isinstance(ttl, int) else None


def _srv_target(record: Any) -> Address:
    if isinstance(record, tuple):
        target, port = record
    else:
        target, port = record.target, record.port
    text = target.to_text(omit_final_dot=True) if hasattr(target, "to_text") else str(target)
    return text.rstrip(".").lower(), int(port)


def _txt_text(record: Any) -> str:
    if isinstance(record, str):
        return record
    strings = record.strings if hasattr(record, "strings") else record
    # "A Client MUST support multiple TXT record strings and concatenate them."
    return "".join(s.decode("utf-8") if isinstance(s, bytes) else str(s) for s in strings)


def _domain_of(srv_host: str) -> str:
    labels = srv_host.split(".")
    return ".".join(labels[1:]) if len(labels) >= 3 else srv_host


def target_is_valid(srv_host: str, target: str) -> bool:
    """Does ``target`` share ``srv_host``'s parent domain as the spec requires?"""
    return target.lower().endswith("." + _domain_of(srv_host.lower()))


def srv_record_name(srv_host: str, service_name: str = DEFAULT_SERVICE_NAME) -> str:
    """``_{service}._tcp.{host}``."""
    return f"_{service_name}._tcp.{srv_host}"


def resolve_srv(
    srv_host: str,
    service_name: str = DEFAULT_SERVICE_NAME,
    *,
    resolver: ResolverLike | None = None,
    lifetime: float = DEFAULT_LIFETIME_S,
    strict: bool = True,
) -> SrvRecords:
    """The SRV targets of ``srv_host``. ``strict`` (initial discovery) makes a target
    outside the parent domain an error; otherwise (polling) it is dropped and logged."""
    name = srv_record_name(srv_host, service_name)
    reason = "the answer held no record"
    try:
        records, ttl = _query(resolver, name, "SRV", lifetime)
    except _NoRecords as exc:
        records, ttl, reason = [], None, str(exc)
    hosts: list[Address] = []
    for record in records:
        target, port = _srv_target(record)
        if not target_is_valid(srv_host, target):
            message = (
                f"SRV record {name} points to {target}, which is not under the parent domain "
                f"{_domain_of(srv_host)}; refusing to connect to it"
            )
            if strict:
                raise ConfigurationError(message)
            log.warning("%s", message)
            continue
        if (target, port) not in hosts:
            hosts.append((target, port))
    if not hosts and strict:
        raise ConfigurationError(
            f"no SRV records found for {name} ({reason}); check the host name after mongodb+srv:// "
            "(a cluster's SRV name looks like cluster0.abcde.mongodb.net)"
        )
    return SrvRecords(hosts, ttl)


def resolve_txt(
    srv_host: str, *, resolver: ResolverLike | None = None, lifetime: float = DEFAULT_LIFETIME_S
) -> OptionMap:
    """The options of ``srv_host``'s TXT record (empty when there is none)."""
    try:
        records, _ = _query(resolver, srv_host, "TXT", lifetime)
    except _NoRecords:
        return OptionMap()
    if len(records) > 1:
        raise ConfigurationError(
            f"{srv_host} has {len(records)} TXT records; a mongodb+srv:// host may have "
            'at most one ("A Client MUST NOT allow multiple TXT records")'
        )
    if not records:
        return OptionMap()
    pairs = parse_txt_options(_txt_text(records[0]), srv_host)
    for key, _ in pairs:
        if key.lower() not in TXT_ALLOWED:
            raise ConfigurationError(
                f"the TXT record of {srv_host} sets {key!r}; only authSource, replicaSet and "
                "loadBalanced may come from DNS"
            )
    return type_options(pairs, warn=False, where=f"TXT record of {srv_host}")


def select_hosts(
    hosts: Sequence[Address], srv_max_hosts: int, rng: random.Random | None = None
) -> list[Address]:
    """All hosts, or ``srv_max_hosts`` of them chosen at random (Fisher-Yates)."""
    if srv_max_hosts <= 0 or srv_max_hosts >= len(hosts):
        return list(hosts)
    chosen = list(hosts)
    (rng or random.Random()).shuffle(chosen)  # random.shuffle is a Fisher-Yates shuffle
    return chosen[:srv_max_hosts]


def resolve_connection_string(
    cs: ConnectionString,
    *,
    resolver: ResolverLike | None = None,
    lifetime: float | None = None,
    overrides: OptionMap | None = None,
    rng: random.Random | None = None,
) -> SrvResolution:
    """Resolve a ``mongodb+srv://`` value: seeds from SRV, options from TXT merged under
    the URI's (and ``overrides``, the client's keyword options), then re-validated
    ("the driver MUST first do the SRV and TXT lookup and then perform the validation")."""
    if not cs.scheme_srv or cs.srv_host is None:
        raise ConfigurationError("resolve_connection_string needs a mongodb+srv:// value")
    given = cs.options.merged(overrides or {})
    if lifetime is None:
        timeout_ms = given.get("connectTimeoutMS") or 0
        lifetime = timeout_ms / 1000 if timeout_ms else DEFAULT_LIFETIME_S
    service_name = str(given.get("srvServiceName", DEFAULT_SERVICE_NAME))
    records = resolve_srv(cs.srv_host, service_name, resolver=resolver, lifetime=lifetime)
    txt = resolve_txt(cs.srv_host, resolver=resolver, lifetime=lifetime)
    merged = txt.merged(given)
    if "tls" not in merged:
        merged = merged.merged({"tls": True})
    resolved = cs.replace(options=merged)  # re-runs every cross-option rule
    if merged.get("loadBalanced") is True and len(records.hosts) > 1:
        raise ConfigurationError(
            f"loadBalanced=true needs exactly one SRV record, but {srv_record_name(cs.srv_host, service_name)} "
            f"has {len(records.hosts)}"
        )
    seeds = select_hosts(records.hosts, int(merged.get("srvMaxHosts", 0)), rng)
    return SrvResolution(
        srv_host=cs.srv_host,
        service_name=service_name,
        seeds=seeds,
        all_hosts=records.hosts,
        ttl=records.ttl,
        options=merged,
        txt_options=txt,
        connection_string=resolved,
    )


__all__ = [
    "SrvRecords",
    "SrvResolution",
    "resolve_connection_string",
    "resolve_srv",
    "resolve_txt",
    "select_hosts",
    "srv_record_name",
    "target_is_valid",
]
