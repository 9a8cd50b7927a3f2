"""The table of connection options: canonical names, aliases, types and validators.

One place answers "what is option X, what values may it take, how is it spelled in a
URI". Names and accepted values follow the URI-options specification
(``source/uri-options/uri-options.md`` in mongodb/specifications) plus the few extra
names PyMongo's ``MongoClient`` documents (``uuidRepresentation``, ``fsync``,
``connect``, ``tlsCRLFile``...). Lookup is case-insensitive ("Option names are
case-insensitive", connection-string spec).

A validator turns either a URI string or a typed keyword value into the typed value,
or raises ``BadOptionValue`` whose text says what was expected. What to do with a bad
value (warn and ignore, or raise) is the caller's choice.
"""

from __future__ import annotations

import datetime
import difflib
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from driver.errors import ConfigurationError, InvalidURI
from driver.events import check_listeners

AUTH_MECHANISMS = (
    "DEFAULT",
    "SCRAM-SHA-1",
    "SCRAM-SHA-256",
    "MONGODB-X509",
    "PLAIN",
    "GSSAPI",
    "MONGODB-AWS",
    "MONGODB-OIDC",
)
READ_PREFERENCE_MODES = (
    "primary",
    "primaryPreferred",
    "secondary",
    "secondaryPreferred",
    "nearest",
)
SERVER_MONITORING_MODES = ("auto", "stream", "poll")
KNOWN_COMPRESSORS = ("snappy", "zlib", "zstd")
# PyMongo's numbers for bson.binary.UuidRepresentation.
UUID_REPRESENTATIONS = {
    "unspecified": 0,
    "standard": 4,
    "pythonLegacy": 3,
    "javaLegacy": 5,
    "csharpLegacy": 6,
}
# "All integer options are 32-bit unless specified otherwise" (URI-options spec).
_INT32_MAX = 2**31 - 1
_INT64_MAX = 2**63 - 1


class BadOptionValue(ValueError):
    """A value an option does not accept; the text says what it accepts."""


Validator = Callable[[Any], Any]


# --- validators ------------------------------------------------------------------------------


def _as_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise BadOptionValue("expected true or false")


def _as_int(value: Any, low: int, high: int, expected: str) -> int:
    if isinstance(value, bool):
        raise BadOptionValue(expected)
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, str):
        if not re.fullmatch(r"[+-]?\d+", value.strip()):
            raise BadOptionValue(expected)
        value = int(value)
    if not isinstance(value, int) or not low <= value <= high:
        raise BadOptionValue(expected)
    return value


def _int_range(low: int, high: int = _INT32_MAX, expected: str | None = None) -> Validator:
    text = expected or (
        f"expected an integer from {low} to {high}"
        if high != _INT32_MAX
        else f"expected an integer >= {low}"
    )
    return lambda value: _as_int(value, low, high, text)


def _non_negative(value: Any) -> int:
    return _as_int(value, 0, _INT32_MAX, "expected a non-negative integer (0 or more)")


def _positive(value: Any) -> int:
    return _as_int(value, 1, _INT32_MAX, "expected a positive integer (1 or more)")


def _max_staleness(value: Any) -> int:
    # "-1 (no max staleness check) or integer >= 90"; values 1-89 are refused later,
    # by server selection, as the max-staleness spec says.
    number = _as_int(value, -1, _INT32_MAX, "expected -1 (no maximum) or a number of seconds")
    if number == 0:
        raise BadOptionValue("expected -1 (no maximum) or a positive number of seconds, not 0")
    return number


def _string(value: Any) -> str:
    if not isinstance(value, str):
        raise BadOptionValue("expected a string")
    return value


def _non_empty_string(value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise BadOptionValue("expected a non-empty string")
    return value


def _appname(value: Any) -> str:
    text = _string(value)
    # Handshake spec: the application name "MUST NOT exceed 128 bytes".
    if len(text.encode("utf-8")) > 128:
        raise BadOptionValue("expected at most 128 bytes of UTF-8")
    return text


def _choice(choices: tuple[str, ...]) -> Validator:
    lowered = {c.lower(): c for c in choices}

    def check(value: Any) -> str:
        if isinstance(value, str) and value.lower() in lowered:
            return lowered[value.lower()]
        raise BadOptionValue(f"expected one of {', '.join(choices)}")

    return check


def _auth_mechanism(value: Any) -> str:
    if isinstance(value, str) and value.upper() in AUTH_MECHANISMS:
        return value.upper()
    if isinstance(value, str) and value.upper() == "MONGODB-CR":
        # Gone from the auth spec's list of mechanisms; servers dropped it in 4.0.
        raise BadOptionValue(
            "MONGODB-CR was removed (MongoDB 4.0 dropped it); use SCRAM-SHA-256 or "
            "SCRAM-SHA-1, or leave authMechanism out to negotiate"
        )
    raise BadOptionValue(f"expected one of {', '.join(AUTH_MECHANISMS)}")


def _uuid_representation(value: Any) -> str:
    if isinstance(value, int) and not isinstance(value, bool):
        for name, number in UUID_REPRESENTATIONS.items():
            if number == value:
                return name
    return str(_choice(tuple(UUID_REPRESENTATIONS))(value))


def _w(value: Any) -> int | str:
    if isinstance(value, str) and re.fullmatch(r"[+-]?\d+", value):
        value = int(value)
    if isinstance(value, int) and not isinstance(value, bool):
        if value < 0:
            raise BadOptionValue("expected a non-negative number of members or a tag name")
        return value
    if isinstance(value, str) and value:
        return value
    raise BadOptionValue("expected a number of members (0 or more), 'majority' or a tag name")


def _srv_service_name(value: Any) -> str:
    # RFC 6335 section 5.1 (letters, digits, inner single hyphens, at least one letter),
    # "with the exception that it may exceed 15 characters" up to the 62 DNS allows.
    text = _string(value)
    if not (
        1 <= len(text) <= 62
        and re.fullmatch(r"[A-Za-z0-9](?:-?[A-Za-z0-9])*", text)
        and re.search(r"[A-Za-z]", text)
    ):
        raise BadOptionValue(
            "expected an SRV service name: letters, digits and single inner hyphens, "
            "with at least one letter (e.g. mongodb)"
        )
    return text


def _compressors(value: Any) -> list[str]:
    if isinstance(value, str):
        items = [item.strip() for item in value.split(",")]
    elif isinstance(value, list | tuple):
        items = list(value)
    else:
        raise BadOptionValue("expected a comma-separated list such as snappy,zlib")
    if not all(isinstance(item, str) and item and "," not in item for item in items):
        raise BadOptionValue("expected a comma-separated list of names such as snappy,zlib")
    return items


def _pairs(value: Any, what: str, *, secret: bool = False) -> dict[str, str]:
    """``"k:v,k2:v2"`` (already percent-decoded, as the spec's tests require) → dict."""
    if isinstance(value, Mapping):
        result: dict[str, Any] = {}
        for key, item in value.items():
            if not isinstance(key, str) or not key or ":" in key or "," in key:
                raise BadOptionValue(f"{what} keys must be non-empty strings without ':' or ','")
            result[key] = item
        return result
    if not isinstance(value, str):
        raise BadOptionValue(f"expected {what} as key:value pairs, e.g. dc:ny,rack:1")
    pairs: dict[str, str] = {}
    if value == "":
        return pairs
    for item in value.split(","):
        key, sep, val = item.partition(":")
        if not sep or not key:
            found = "an item without 'key:'" if secret else repr(item)
            raise BadOptionValue(
                f"expected {what} as key:value pairs separated by ',' (found {found}); "
                "a ',' inside a value cannot be written in a URI"
            )
        pairs[key] = val
    return pairs


def _tag_sets(value: Any) -> list[dict[str, str]]:
    """One URI occurrence gives one tag set; a keyword value is the whole list."""
    if isinstance(value, list | tuple):
        sets = []
        for item in value:
            tags = _pairs(item, "readPreferenceTags")
            if not all(isinstance(v, str) and "," not in v for v in tags.values()):
                raise BadOptionValue("readPreferenceTags values must be strings without ','")
            sets.append(tags)
        return sets
    return [_pairs(value, "readPreferenceTags")]


def _mechanism_properties(value: Any) -> dict[str, Any]:
    # Values may be secrets (an old AWS_SESSION_TOKEN): errors never quote them. A ','
    # splits pairs in a URI; in client options a value may hold one ("a TOKEN_RESOURCE
    # with a comma must be given as a MongoClient configuration", auth spec).
    return _pairs(value, "authMechanismProperties", secret=True)


def _document_class(value: Any) -> Any:
    if not (isinstance(value, type) and issubclass(value, Mapping | dict)):
        if not callable(value):
            raise BadOptionValue("expected a Mapping subclass such as dict or SON")
    return value


def _any(value: Any) -> Any:
    return value


def _listeners(value: Any) -> list[Any]:
    if isinstance(value, list | tuple):
        try:
            return check_listeners(value)
        except TypeError as exc:
            raise BadOptionValue(str(exc)) from None
    raise BadOptionValue("expected a list of listener objects")


def _tzinfo(value: Any) -> Any:
    if value is None or isinstance(value, datetime.tzinfo):
        return value
    raise BadOptionValue("expected a datetime.tzinfo such as datetime.timezone.utc")


# --- the table -------------------------------------------------------------------------------


@dataclass(frozen=True)
class OptionSpec:
    """One option: canonical ``name``, its ``validate``, where it may be set."""

    name: str
    validate: Validator
    in_uri: bool = True
    # readPreferenceTags: every occurrence adds a tag set instead of replacing.
    accumulates: bool = False


def _spec(name: str, validate: Validator, **flags: bool) -> OptionSpec:
    return OptionSpec(name, validate, **flags)


# The order here is the order ``to_uri`` writes options in: topology first, then
# security, then tuning, so that a URI reads from the important to the detailed.
OPTION_SPECS: tuple[OptionSpec, ...] = (
    _spec("replicaSet", _non_empty_string),
    _spec("directConnection", _as_bool),
    _spec("loadBalanced", _as_bool),
    _spec("srvServiceName", _srv_service_name),
    _spec("srvMaxHosts", _non_negative),
    _spec("tls", _as_bool),
    _spec("tlsInsecure", _as_bool),
    _spec("tlsAllowInvalidCertificates", _as_bool),
    _spec("tlsAllowInvalidHostnames", _as_bool),
    _spec("tlsCAFile", _non_empty_string),
    _spec("tlsCertificateKeyFile", _non_empty_string),
    _spec("tlsCertificateKeyFilePassword", _string),
    _spec("tlsCRLFile", _non_empty_string),
    _spec("tlsDisableCertificateRevocationCheck", _as_bool),
    _spec("tlsDisableOCSPEndpointCheck", _as_bool),
    _spec("authSource", _non_empty_string),
    _spec("authMechanism", _auth_mechanism),
    _spec("authMechanismProperties", _mechanism_properties),
    _spec("readPreference", _choice(READ_PREFERENCE_MODES)),
    _spec("readPreferenceTags", _tag_sets, accumulates=True),
    _spec("maxStalenessSeconds", _max_staleness),
    _spec("w", _w),
    _spec("wTimeoutMS", _int_range(0, _INT64_MAX, "expected a non-negative integer")),
    _spec("journal", _as_bool),
    _spec("fsync", _as_bool),
    _spec("readConcernLevel", _non_empty_string),
    _spec("retryReads", _as_bool),
    _spec("retryWrites", _as_bool),
    _spec("appname", _appname),
    _spec("compressors", _compressors),
    _spec("zlibCompressionLevel", _int_range(-1, 9)),
    _spec("timeoutMS", _non_negative),
    _spec("connectTimeoutMS", _non_negative),
    _spec("socketTimeoutMS", _non_negative),
    _spec("serverSelectionTimeoutMS", _non_negative),
    _spec("serverSelectionTryOnce", _as_bool),
    _spec("serverMonitoringMode", _choice(SERVER_MONITORING_MODES)),
    _spec("heartbeatFrequencyMS", _int_range(500)),
    _spec("localThresholdMS", _non_negative),
    _spec("maxPoolSize", _non_negative),
    _spec("minPoolSize", _non_negative),
    _spec("maxConnecting", _positive),
    _spec("maxIdleTimeMS", _non_negative),
    _spec("waitQueueTimeoutMS", _positive),
    _spec("maxAdaptiveRetries", _non_negative),
    _spec("enableOverloadRetargeting", _as_bool),
    _spec("uuidRepresentation", _uuid_representation),
    _spec("connect", _as_bool),
    _spec("proxyHost", _non_empty_string),
    _spec("proxyPort", _int_range(0, 65535)),
    _spec("proxyUsername", _non_empty_string),
    _spec("proxyPassword", _non_empty_string),
    # Keyword-only options of MongoClient (no URI spelling).
    _spec("document_class", _document_class, in_uri=False),
    _spec("tz_aware", _as_bool, in_uri=False),
    _spec("tzinfo", _tzinfo, in_uri=False),
    _spec("type_registry", _any, in_uri=False),
    _spec("unicode_decode_error_handler", _non_empty_string, in_uri=False),
    _spec("datetime_conversion", _any, in_uri=False),
    _spec("event_listeners", _listeners, in_uri=False),
    _spec("server_api", _any, in_uri=False),
    _spec("read_preference", _any, in_uri=False),
    _spec("username", _string, in_uri=False),
    _spec("password", _string, in_uri=False),
    _spec("driver", _any, in_uri=False),
    _spec("auto_encryption_opts", _any, in_uri=False),
    _spec("dns_resolver", _any, in_uri=False),
)

OPTIONS: dict[str, OptionSpec] = {spec.name.lower(): spec for spec in OPTION_SPECS}
ORDER: dict[str, int] = {spec.name.lower(): index for index, spec in enumerate(OPTION_SPECS)}


@dataclass(frozen=True)
class Alias:
    """A second name for an option; ``convert`` maps its value to the canonical one's."""

    name: str
    canonical: str
    convert: Validator | None = None


def _cert_reqs_to_allow_invalid(value: Any) -> bool:
    # ssl.CERT_NONE is 0; CERT_OPTIONAL 1 and CERT_REQUIRED 2 both verify.
    names = {"cert_none": 0, "cert_optional": 1, "cert_required": 2}
    if isinstance(value, str) and value.lower() in names:
        value = names[value.lower()]
    if isinstance(value, int) and not isinstance(value, bool) and value in (0, 1, 2):
        return value == 0
    raise BadOptionValue("expected CERT_NONE, CERT_OPTIONAL or CERT_REQUIRED")


ALIASES: dict[str, Alias] = {
    alias.name.lower(): alias
    for alias in (
        Alias("ssl", "tls"),
        Alias("j", "journal"),
        Alias("wtimeout", "wTimeoutMS"),
        Alias("appName", "appname"),
        Alias("ssl_ca_certs", "tlsCAFile"),
        Alias("ssl_certfile", "tlsCertificateKeyFile"),
        Alias("ssl_pem_passphrase", "tlsCertificateKeyFilePassword"),
        Alias("ssl_crlfile", "tlsCRLFile"),
        Alias("ssl_cert_reqs", "tlsAllowInvalidCertificates", _cert_reqs_to_allow_invalid),
        Alias("ssl_match_hostname", "tlsAllowInvalidHostnames", lambda v: not _as_bool(v)),
        # "gssapiServiceName (deprecated): An alias for authMechanismProperties=SERVICE_NAME"
        Alias("gssapiServiceName", "authMechanismProperties",
              lambda v: {"SERVICE_NAME": _non_empty_string(v)}),
    )
    if alias.name.lower() != alias.canonical.lower()
}

# Names of the legacy ``Connection`` API and options PyMongo 4 removed, with what to
# use instead; a keyword argument with one of these names is refused.
LEGACY_OPTIONS: dict[str, str] = {
    "slave_okay": "readPreference='secondaryPreferred'",
    "slaveok": "readPreference='secondaryPreferred'",
    "network_timeout": "socketTimeoutMS (milliseconds)",
    "pool_size": "maxPoolSize",
    "max_pool_size": "maxPoolSize",
    "auto_start_request": "nothing: requests were removed; use a session (client.start_session())",
    "safe": "w=1 (acknowledged writes are the default)",
    "waitqueuemultiple": "maxPoolSize with waitQueueTimeoutMS",
    "socketkeepalive": "nothing: TCP keepalive is always on",
    "ssl_keyfile": "tlsCertificateKeyFile (one file holding the key and the certificate)",
    "use_greenlets": "nothing: greenlet support was removed",
}

# "A Client MUST only support the authSource, replicaSet, and loadBalanced options
# through a TXT record" (initial DNS seedlist discovery spec).
TXT_ALLOWED = frozenset({"authsource", "replicaset", "loadbalanced"})


def is_secret_option(name: str) -> bool:
    """Options whose values error messages must not quote (passwords, and mechanism
    properties, which may hold a session token)."""
    lowered = name.lower()
    return "password" in lowered or lowered == "authmechanismproperties"


def resolve_name(name: str) -> tuple[OptionSpec, Alias | None] | None:
    """The option spec a (case-insensitive) name or alias refers to, or None."""
    lowered = name.lower()
    alias = ALIASES.get(lowered)
    if alias is not None:
        return OPTIONS[alias.canonical.lower()], alias
    spec = OPTIONS.get(lowered)
    return (spec, None) if spec is not None else None


def suggestion(name: str) -> str:
    """' (did you mean X?)' for a misspelt option name, or ''."""
    candidates = [spec.name for spec in OPTION_SPECS] + [a.name for a in ALIASES.values()]
    lowered = {c.lower(): c for c in candidates}
    close = difflib.get_close_matches(name.lower(), list(lowered), n=1, cutoff=0.75)
    return f" (did you mean {lowered[close[0]]}?)" if close else ""


def validate_option(name: str, value: Any) -> tuple[str, Any]:
    """Validate one keyword option: (canonical name, typed value); ConfigurationError
    naming the option and the accepted values otherwise."""
    lowered = name.lower()
    if lowered in LEGACY_OPTIONS:
        raise ConfigurationError(
            f"option {name!r} belongs to the old Connection API and is not supported; "
            f"use {LEGACY_OPTIONS[lowered]} instead"
        )
    found = resolve_name(name)
    if found is None:
        raise ConfigurationError(f"unknown option {name!r}{suggestion(name)}")
    spec, alias = found
    if isinstance(value, str) and not value.isascii() and any(
            "\ud800" <= char <= "\udfff" for char in value):
        # Undecodable bytes (a lone surrogate) cannot be sent or written back in a URI.
        raise InvalidURI(f"the {name} value contains a lone surrogate (undecodable bytes, "
                         "not text); give it as UTF-8 text")
    try:
        if alias is not None and alias.convert is not None:
            return spec.name, alias.convert(value)
        return spec.name, spec.validate(value)
    except BadOptionValue as exc:
        shown = "****" if is_secret_option(spec.name) else repr(value)
        raise ConfigurationError(f"invalid value {shown} for option {name}: {exc}") from None


class OptionMap(Mapping[str, Any]):
    """An immutable mapping from option names to values; lookups ignore case.

    Iteration yields canonical names (``replicaSet``, ``wTimeoutMS``...) in the
    table's order, so a URI written from it reads the same way every time.
    """

    __slots__ = ("_items",)

    def __init__(self, items: Mapping[str, Any] | None = None) -> None:
        entries: dict[str, tuple[str, Any]] = {}
        for name, value in (items or {}).items():
            entries[name.lower()] = (name, value)
        ordered = sorted(entries.items(), key=lambda kv: (ORDER.get(kv[0], len(ORDER)), kv[0]))
        self._items: dict[str, tuple[str, Any]] = dict(ordered)

    def __getitem__(self, name: str) -> Any:
        return self._items[name.lower()][1]

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.lower() in self._items

    def __iter__(self) -> Iterator[str]:
        return (name for name, _ in self._items.values())

    def __len__(self) -> int:
        return len(self._items)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Mapping):
            return NotImplemented
        mine = {key: value for key, (_, value) in self._items.items()}
        theirs = {str(key).lower(): value for key, value in other.items()}
        return mine == theirs

    def __hash__(self) -> int:
        return hash(tuple(self._items))

    def __repr__(self) -> str:
        shown = {
            name: ("****" if "password" in name.lower() else value) for name, value in self.items()
        }
        return f"OptionMap({shown!r})"

    def merged(self, updates: Mapping[str, Any]) -> OptionMap:
        """A new map with ``updates`` laid over this one."""
        combined = {name: value for name, value in self.items()}
        lowered = {name.lower(): name for name in combined}
        for name, value in updates.items():
            if name.lower() in lowered:
                del combined[lowered[name.lower()]]
            combined[name] = value
        return OptionMap(combined)

    def without(self, *names: str) -> OptionMap:
        """A new map without ``names``."""
        drop = {name.lower() for name in names}
        return OptionMap({k: v for k, v in self.items() if k.lower() not in drop})


__all__ = [
    "ALIASES",
    "AUTH_MECHANISMS",
    "Alias",
    "BadOptionValue",
    "LEGACY_OPTIONS",
    "OPTIONS",
    "OPTION_SPECS",
    "OptionMap",
    "OptionSpec",
    "TXT_ALLOWED",
    "UUID_REPRESENTATIONS",
    "is_secret_option",
    "resolve_name",
    "suggestion",
    "validate_option",
]
