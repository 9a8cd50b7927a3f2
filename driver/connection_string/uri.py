"""Connection strings both ways: ``parse_uri`` and ``ConnectionString.to_uri``.

``parse_uri(uri)`` returns a frozen ``ConnectionString``: hosts, user information,
default database and typed options (``driver.connection_string.options_table``), plus the values a client
uses directly (``credentials``, ``read_preference``, ``write_concern``,
``read_concern``). ``ConnectionString.build(...)`` makes one from the fields of a form
with the same validation, and ``to_uri()`` writes it back so that
``parse_uri(cs.to_uri()) == cs``. Nothing here touches the network: a ``mongodb+srv``
string is resolved by ``driver.connection_string.srv``.

Rules quoted from the connection-string and URI-options specifications: unknown
options and repeated keys produce a warning ("the driver MUST ... log a warning"),
an invalid value is a warning when ``warn=True`` (the spec tests' mode) and an error
otherwise; the TLS conflicts, ``directConnection``, ``loadBalanced`` and SRV rules are
errors whatever ``warn`` says.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from driver.auth.credentials import MongoCredential, build_credentials
from driver.concern import ReadConcern, WriteConcern
from driver.connection_string.options_table import (
    LEGACY_OPTIONS,
    BadOptionValue,
    OptionMap,
    is_secret_option,
    resolve_name,
    suggestion,
    validate_option,
)
from driver.connection_string.parse import (
    BAD_DATABASE_CHARACTERS,
    SCHEME,
    SRV_SCHEME,
    parse_host,
    percent_encode,
    reject_surrogates,
    split_uri,
)
from driver.errors import ConfigurationError, InvalidURI
from driver.read_preferences import ServerMode, make_read_preference

Host = tuple[str, int | None]


class URIWarning(UserWarning):
    """An unknown, repeated or (with ``warn=True``) invalid option in a connection string."""


def _warn(message: str) -> None:
    warnings.warn(message, URIWarning, stacklevel=4)


# Pairs that "MUST raise an error ... if both appear in the URI options" (URI-options
# spec, "Conflicting TLS options").
_TLS_CONFLICTS = (
    ("tlsInsecure", "tlsAllowInvalidCertificates"),
    ("tlsInsecure", "tlsAllowInvalidHostnames"),
    ("tlsInsecure", "tlsDisableOCSPEndpointCheck"),
    ("tlsInsecure", "tlsDisableCertificateRevocationCheck"),
    ("tlsAllowInvalidCertificates", "tlsDisableOCSPEndpointCheck"),
    ("tlsAllowInvalidCertificates", "tlsDisableCertificateRevocationCheck"),
    ("tlsDisableOCSPEndpointCheck", "tlsDisableCertificateRevocationCheck"),
)
_PROXY_OPTIONS = frozenset({"proxyhost", "proxyport", "proxyusername", "proxypassword"})


def type_options(
    pairs: Iterable[tuple[str, str]], *, warn: bool, where: str = "connection string"
) -> OptionMap:
    """Type decoded ``key=value`` pairs into an ``OptionMap`` under canonical names."""
    values: dict[str, Any] = {}  # canonical lower name -> value
    names: dict[str, str] = {}  # canonical lower name -> canonical spelling
    spelled: dict[str, str] = {}  # canonical lower name -> the key as written last
    for key, text in pairs:
        lowered = key.lower()
        found = resolve_name(key)
        if found is None or not found[0].in_uri:
            if lowered in LEGACY_OPTIONS:
                _warn(
                    f"option {key!r} in the {where} is not supported and was ignored; "
                    f"use {LEGACY_OPTIONS[lowered]} instead"
                )
            else:
                _warn(f"unknown option {key!r} in the {where} was ignored{suggestion(key)}")
            continue
        spec, alias = found
        canonical = spec.name.lower()
        if canonical in _PROXY_OPTIONS and canonical in values:
            raise InvalidURI(f"option {spec.name} appears more than once in the {where}; keep one")
        try:
            typed = alias.convert(text) if alias and alias.convert else spec.validate(text)
        except BadOptionValue as exc:
            shown = "****" if is_secret_option(key) or is_secret_option(spec.name) else repr(text)
            message = f"invalid value {shown} for option {key} in the {where}: {exc}"
            if not warn:
                raise ConfigurationError(message) from None
            _warn(message + "; the option was ignored")
            continue
        if spec.accumulates:
            values[canonical] = values.get(canonical, []) + list(typed)
        elif canonical in values:
            previous = spelled[canonical]
            if canonical == "tls":
                # "All instances of tls and ssl" must agree; equal ones are no error.
                if values[canonical] != typed:
                    raise InvalidURI(
                        f"{previous}={_format_scalar(values[canonical])} and "
                        f"{key}={_format_scalar(typed)} disagree (ssl is another name for "
                        "tls); give one value"
                    )
            elif previous.lower() == lowered:
                _warn(f"option {key} appears more than once in the {where}; the last value is used")
                values[canonical] = typed
            elif alias is None:
                _warn(f"both {previous} and {key} are given in the {where}; {key} is used")
                values[canonical] = typed
            else:
                _warn(f"both {previous} and {key} are given in the {where}; {previous} is used")
                continue
        else:
            values[canonical] = typed
        names[canonical] = spec.name
        spelled[canonical] = key
    return OptionMap({names[c]: value for c, value in values.items()})


def _format_scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _normalize_options(options: Mapping[str, Any] | None) -> OptionMap:
    if isinstance(options, OptionMap):
        return options
    typed: dict[str, Any] = {}
    for name, value in (options or {}).items():
        found = resolve_name(name)
        if found is None or not found[0].in_uri:
            raise ConfigurationError(
                f"{name!r} is not a connection-string option{suggestion(name)}"
            )
        canonical, checked = validate_option(name, value)
        typed[canonical] = checked
    return OptionMap(typed)


def _normalize_host(host: Any) -> Host:
    """Check one host given as ``(name, port)`` or ``"name:port"`` by writing and
    re-reading it, so a built value always survives ``to_uri``."""
    if isinstance(host, str):
        return parse_host(host)
    if not (isinstance(host, Sequence) and len(host) == 2 and isinstance(host[0], str)):
        raise ConfigurationError(f"a host must be 'name:port' or (name, port), not {host!r}")
    name, port = host
    if port is not None and (isinstance(port, bool) or not isinstance(port, int)):
        raise ConfigurationError(f"the port of host {name!r} must be an integer, not {port!r}")
    return parse_host(_format_host((name, port)))


def _format_host(host: Host) -> str:
    name, port = host
    if "/" in name:
        text = percent_encode(name)
    elif ":" in name:
        text = f"[{name}]"
    else:
        text = percent_encode(name, safe="!$&'()*+;=")
    return text if port is None else f"{text}:{port}"


def _check_database(database: str | None, collection: str | None) -> None:
    if database is None:
        if collection is not None:
            raise ConfigurationError("a collection needs a database; set database as well")
        return
    if not isinstance(database, str) or not database:
        raise ConfigurationError("the database name must be a non-empty string or None")
    bad = sorted(set(database) & set(BAD_DATABASE_CHARACTERS + "."))
    if bad:
        raise ConfigurationError(
            f"the database name {database!r} contains {bad[0]!r}, which MongoDB does not "
            "allow in database names"
        )
    if collection is not None and not (isinstance(collection, str) and collection):
        raise ConfigurationError("the collection name must be a non-empty string or None")


def _check_topology_rules(scheme_srv: bool, hosts: list[Host], options: OptionMap) -> None:
    get = options.get
    if not hosts:
        raise ConfigurationError("at least one host is needed, e.g. localhost:27017")
    if scheme_srv:
        if len(hosts) != 1:
            raise InvalidURI(
                "a mongodb+srv:// string takes exactly one host name (the DNS name holding "
                "the SRV records); list several hosts with mongodb:// instead"
            )
        name, port = hosts[0]
        if port is not None:
            raise InvalidURI(
                f"a mongodb+srv:// host may not have a port (found {name}:{port}): the "
                "ports come from the SRV records; remove ':" + str(port) + "'"
            )
        if "/" in name or ":" in name:
            raise InvalidURI("a mongodb+srv:// host must be a DNS name, not a socket or an IP")
    else:
        for name in ("srvServiceName", "srvMaxHosts"):
            if name in options:
                raise ConfigurationError(
                    f"{name} only applies to mongodb+srv:// strings; remove it or use "
                    "mongodb+srv://"
                )
    # "MUST report an error if the directConnection=true URI option is specified with
    # multiple seeds ... [or] with an SRV URI" (URI-options spec).
    if get("directConnection") is True and (scheme_srv or len(hosts) > 1):
        raise ConfigurationError(
            "directConnection=true connects to exactly one server; it cannot be used with "
            + ("mongodb+srv://" if scheme_srv else "several hosts")
            + " (remove it, or list a single host)"
        )
    if get("loadBalanced") is True:
        if len(hosts) > 1:
            raise ConfigurationError("loadBalanced=true takes exactly one host (the load balancer)")
        if get("directConnection") is True:
            raise ConfigurationError(
                "loadBalanced=true cannot be combined with directConnection=true"
            )
        if "replicaSet" in options:
            raise ConfigurationError("loadBalanced=true cannot be combined with replicaSet")
    if (get("srvMaxHosts") or 0) > 0:
        # "If srvMaxHosts is a positive integer, the driver MUST throw an error" with
        # replicaSet or loadBalanced=true (initial DNS seedlist discovery spec).
        if "replicaSet" in options:
            raise ConfigurationError("srvMaxHosts cannot be combined with replicaSet; drop one")
        if get("loadBalanced") is True:
            raise ConfigurationError("srvMaxHosts cannot be combined with loadBalanced=true")
    for first, second in _TLS_CONFLICTS:
        if first in options and second in options:
            raise InvalidURI(
                f"{first} and {second} cannot both be given ({first} already implies or "
                f"contradicts {second}); keep only one"
            )
    if _PROXY_OPTIONS.intersection(k.lower() for k in options) and "proxyHost" not in options:
        raise ConfigurationError("proxyPort, proxyUsername and proxyPassword need proxyHost")
    if ("proxyUsername" in options) != ("proxyPassword" in options):
        raise ConfigurationError("proxyUsername and proxyPassword must be given together")


def _reject_unencodable(uri: ConnectionString) -> None:
    """Refuse lone surrogates in any part given to ``build``/``replace``, naming the part
    (parsing refuses them already): they cannot be encoded, so ``to_uri()`` could not
    write them back, and no server would accept them."""
    for part in ("username", "password", "database", "collection"):
        value = getattr(uri, part)
        if isinstance(value, str):
            reject_surrogates(value, part.replace("username", "user name"))
    for host, _port in uri.hosts:
        reject_surrogates(host, "host")
    for name, value in uri.options.items():
        for text in _strings_in(value):
            reject_surrogates(text, f"{name} value")


def _strings_in(value: Any) -> list[str]:
    """Every string inside an option value (tag sets, mechanism properties, lists)."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, Mapping):
        return [text for key, item in value.items() for text in (*_strings_in(key),
                                                                  *_strings_in(item))]
    if isinstance(value, list | tuple):
        return [text for item in value for text in _strings_in(item)]
    return []


@dataclass(frozen=True)
class _Derived:
    credentials: MongoCredential | None
    read_preference: ServerMode
    write_concern: WriteConcern
    read_concern: ReadConcern


def derive(
    username: str | None, password: str | None, database: str | None, options: Mapping[str, Any]
) -> _Derived:
    """Credentials, read preference and concerns implied by these values."""
    get = options.get
    credentials = build_credentials(
        get("authMechanism"),
        username,
        password,
        get("authSource"),
        database,
        get("authMechanismProperties"),
    )
    tags = get("readPreferenceTags")
    max_staleness = get("maxStalenessSeconds", -1)
    mode = get("readPreference", "primary")
    if mode == "primary" and (tags not in (None, [{}]) or max_staleness != -1):
        raise ConfigurationError(
            "readPreferenceTags and maxStalenessSeconds need a readPreference other than "
            "primary, e.g. readPreference=secondaryPreferred"
        )
    read_preference = make_read_preference(mode, tags or None, max_staleness)
    try:
        write_concern = WriteConcern(get("w"), get("wTimeoutMS"), get("journal"), get("fsync"))
    except TypeError as exc:  # only reachable through keyword values
        raise ConfigurationError(str(exc)) from None
    return _Derived(
        credentials, read_preference, write_concern, ReadConcern(get("readConcernLevel"))
    )


@dataclass(frozen=True, repr=False)
class ConnectionString:
    """A parsed (or built) connection string; immutable and validated on creation."""

    scheme_srv: bool
    hosts: list[Host]
    username: str | None = None
    password: str | None = None
    database: str | None = None
    collection: str | None = None
    options: OptionMap = field(default_factory=OptionMap)
    _derived: _Derived = field(init=False, compare=False)

    def __post_init__(self) -> None:
        if not isinstance(self.scheme_srv, bool):
            raise ConfigurationError(f"scheme_srv must be True or False, not {self.scheme_srv!r}")
        if isinstance(self.hosts, str | bytes) or not isinstance(self.hosts, Iterable):
            raise ConfigurationError("hosts must be a list of (name, port) pairs")
        object.__setattr__(self, "hosts", [_normalize_host(h) for h in self.hosts])
        object.__setattr__(self, "options", _normalize_options(self.options))
        for name in ("username", "password"):
            value = getattr(self, name)
            if value is not None and not isinstance(value, str):
                raise ConfigurationError(f"{name} must be a string or None")
        _reject_unencodable(self)
        if self.password is not None and self.username is None:
            raise ConfigurationError("a password needs a user name")
        if self.username == "":
            raise ConfigurationError("the user name is empty; give one or None")
        _check_database(self.database, self.collection)
        _check_topology_rules(self.scheme_srv, self.hosts, self.options)
        object.__setattr__(
            self, "_derived", derive(self.username, self.password, self.database, self.options)
        )

    # --- construction ------------------------------------------------------------------

    @classmethod
    def build(
        cls,
        *,
        scheme_srv: bool = False,
        hosts: Iterable[Host | str] = (("localhost", None),),
        username: str | None = None,
        password: str | None = None,
        database: str | None = None,
        collection: str | None = None,
        options: Mapping[str, Any] | None = None,
    ) -> ConnectionString:
        """A connection string from structured fields (what the dialog's form holds);
        option names may be any spelling and values typed or strings."""
        return cls(
            scheme_srv=scheme_srv,
            hosts=list(hosts),  # type: ignore[arg-type]  # normalized in __post_init__
            username=username,
            password=password,
            database=database,
            collection=collection,
            options=_normalize_options(options),
        )

    def replace(self, **changes: Any) -> ConnectionString:
        """A new, validated value with some fields changed (``options`` replaces the
        whole mapping; use ``with_options`` to change a few)."""
        if "options" in changes:
            changes["options"] = _normalize_options(changes["options"])
        return replace(self, **changes)

    def with_options(self, **updates: Any) -> ConnectionString:
        """A new value with these options set (``None`` removes one)."""
        removed = [name for name, value in updates.items() if value is None]
        kept = {name: value for name, value in updates.items() if value is not None}
        merged = self.options.without(*removed).merged(_normalize_options(kept))
        return replace(self, options=merged)

    # --- derived values ----------------------------------------------------------------

    @property
    def credentials(self) -> MongoCredential | None:
        """Who to authenticate as (None without a user name)."""
        return self._derived.credentials

    @property
    def read_preference(self) -> ServerMode:
        """``readPreference`` with its tag sets and ``maxStalenessSeconds``."""
        return self._derived.read_preference

    @property
    def write_concern(self) -> WriteConcern:
        """``w``, ``wTimeoutMS``, ``journal`` and ``fsync`` as a ``WriteConcern``."""
        return self._derived.write_concern

    @property
    def read_concern(self) -> ReadConcern:
        """``readConcernLevel`` as a ``ReadConcern``."""
        return self._derived.read_concern

    @property
    def srv_host(self) -> str | None:
        """The DNS name to look SRV records up under, for ``mongodb+srv://``."""
        return self.hosts[0][0] if self.scheme_srv else None

    # --- writing -----------------------------------------------------------------------

    def to_uri(self, redact_password: bool = False) -> str:
        """The connection string; ``redact_password=True`` writes ``****`` instead."""
        parts = [SRV_SCHEME if self.scheme_srv else SCHEME]
        if self.username is not None:
            parts.append(percent_encode(self.username))
            if self.password is not None:
                parts.append(":" + ("****" if redact_password else percent_encode(self.password)))
            parts.append("@")
        parts.append(",".join(_format_host(host) for host in self.hosts))
        query = "&".join(self._option_pairs(redact_password))
        if self.database is not None or query:
            parts.append("/")
        if self.database is not None:
            parts.append(percent_encode(self.database))
            if self.collection is not None:
                parts.append("." + percent_encode(self.collection, safe="."))
        if query:
            parts.append("?" + query)
        return "".join(parts)

    def _option_pairs(self, redact_password: bool) -> list[str]:
        pairs = []
        value_safe = ":/@?"
        for name, value in self.options.items():
            if redact_password and "password" in name.lower():
                pairs.append(f"{name}=****")
            elif name == "readPreferenceTags":
                for tags in value:
                    text = ",".join(
                        f"{percent_encode(k)}:{percent_encode(v, value_safe)}"
                        for k, v in tags.items()
                    )
                    pairs.append(f"{name}={text}")
            elif name == "authMechanismProperties":
                items = [
                    f"{percent_encode(k)}:{percent_encode(_format_scalar(v), value_safe)}"
                    for k, v in value.items()
                    # Callbacks, lists and values with ',' cannot be written in a URI.
                    if isinstance(v, str | bool | int) and "," not in _format_scalar(v)
                ]
                pairs.append(f"{name}={','.join(items)}")
            elif isinstance(value, list):
                pairs.append(f"{name}={','.join(percent_encode(v) for v in value)}")
            else:
                pairs.append(f"{name}={percent_encode(_format_scalar(value), value_safe)}")
        return pairs

    def __repr__(self) -> str:
        return f"ConnectionString({self.to_uri(redact_password=True)!r})"

    def __hash__(self) -> int:
        return hash(self.to_uri())


def parse_uri(uri: str, *, warn: bool = False) -> ConnectionString:
    """Parse a ``mongodb://`` or ``mongodb+srv://`` connection string (no DNS).

    Raises ``InvalidURI`` for malformed strings and ``ConfigurationError`` for
    options that contradict each other. Unknown and repeated options give a
    ``URIWarning``; an invalid option value is a warning (and the option is
    ignored) with ``warn=True``, an error otherwise.
    """
    raw = split_uri(uri)
    options = type_options(raw.options, warn=warn)
    return ConnectionString(
        scheme_srv=raw.scheme_srv,
        hosts=raw.hosts,
        username=raw.username,
        password=raw.password,
        database=raw.database,
        collection=raw.collection,
        options=options,
    )


__all__ = ["ConnectionString", "Host", "URIWarning", "derive", "parse_uri", "type_options"]
