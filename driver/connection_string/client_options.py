"""Client options: one place that validates and merges what ``MongoClient`` is given.

``ClientOptions.from_inputs(host, port, kwargs)`` takes ``MongoClient``'s arguments:
``host`` is a host name, ``host:port``, ``[ipv6]:port``, a Unix socket path, a
connection string, or a list mixing them; ``port`` is the default port; ``kwargs``
are the keyword options of PyMongo's ``MongoClient`` documentation (any spelling of a
URI option, plus ``document_class``, ``tz_aware``, ``connect``, ``server_api``,
``read_preference``, ``username``/``password``...). Rules:

* keyword options override the connection string; with several connection strings
  the seeds are combined, later options override earlier ones and the last user name,
  password and database given win;
* invalid values are errors here (``ConfigurationError`` naming the option), unlike
  ``parse_uri(warn=True)``; names of the legacy ``Connection`` API are refused with
  their modern equivalent;
* a ``mongodb+srv://`` string is resolved through ``driver.connection_string.srv`` (``dns_resolver``
  keyword to inject a resolver), which must then be the only host;
* TLS is enabled by ``tls=true``/``ssl=true``, by ``mongodb+srv://``, or implicitly by
  any other ``tls*`` option; ``tls=false`` together with other ``tls*`` options is an
  error.
"""

from __future__ import annotations

import importlib
import warnings
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from driver.auth.credentials import MongoCredential, check_complete
from driver.concern import ReadConcern, WriteConcern
from driver.connection_string.options_table import (
    KNOWN_COMPRESSORS,
    UUID_REPRESENTATIONS,
    OptionMap,
    resolve_name,
    validate_option,
)
from driver.connection_string.parse import DEFAULT_PORT, parse_host, split_uri
from driver.connection_string.srv import DEFAULT_SERVICE_NAME, resolve_connection_string
from driver.connection_string.uri import ConnectionString, URIWarning, type_options
from driver.errors import ConfigurationError
from driver.read_preferences import ServerMode
from driver.server_api import ServerApi

if TYPE_CHECKING:
    from driver.connection_string.srv import SrvResolution

Address = tuple[str, int]

_TLS_DETAIL_OPTIONS = (
    "tlsInsecure",
    "tlsAllowInvalidCertificates",
    "tlsAllowInvalidHostnames",
    "tlsCAFile",
    "tlsCertificateKeyFile",
    "tlsCertificateKeyFilePassword",
    "tlsCRLFile",
    "tlsDisableCertificateRevocationCheck",
    "tlsDisableOCSPEndpointCheck",
)


@dataclass(frozen=True)
class _Sources:
    """What the host argument contributed, before keyword options are applied."""

    seeds: list[tuple[str, int | None]]
    scheme_srv: bool
    username: str | None
    password: str | None
    database: str | None
    collection: str | None
    options: OptionMap


def _is_uri(entry: str) -> bool:
    return "://" in entry


def _collect_hosts(host: Any, port: int) -> _Sources:
    entries: list[str]
    if host is None:
        entries = ["localhost"]
    elif isinstance(host, str):
        entries = [host]
    elif isinstance(host, Iterable) and all(isinstance(h, str) for h in host):
        entries = list(host)
        if not entries:
            raise ConfigurationError("host is an empty list; give at least one host or URI")
    else:
        raise ConfigurationError(f"host must be a string or a list of strings, not {host!r}")
    seeds: list[tuple[str, int | None]] = []
    username = password = database = collection = None
    options = OptionMap()
    srv_count = 0
    for entry in entries:
        if _is_uri(entry):
            # Typed but not yet turned into credentials: keyword options (an OIDC
            # callback, ALLOWED_HOSTS) may complete them, so the merged ConnectionString
            # built in from_inputs applies the credential rules once, to everything given.
            parsed = split_uri(entry)
            parsed_options = type_options(parsed.options, warn=False)
            srv_count += parsed.scheme_srv
            seeds.extend(h for h in parsed.hosts if h not in seeds)
            username = parsed.username if parsed.username is not None else username
            password = parsed.password if parsed.username is not None else password
            if parsed.database is not None:
                database, collection = parsed.database, parsed.collection
            options = options.merged(parsed_options)
        else:
            for item in entry.split(","):
                name, item_port = parse_host(item.strip())
                if (name, item_port) not in seeds:
                    seeds.append((name, item_port))
    if srv_count and (srv_count > 1 or len(seeds) > 1):
        raise ConfigurationError(
            "a mongodb+srv:// connection string must be the only host given; its seeds come "
            "from DNS"
        )
    if not srv_count:
        seeds = [(name, p if p is not None else port) for name, p in seeds]
    return _Sources(seeds, bool(srv_count), username, password, database, collection, options)


def _split_kwargs(kwargs: Mapping[str, Any]) -> tuple[OptionMap, dict[str, Any]]:
    """Validate keyword options: (URI-able options, keyword-only options)."""
    uri_options: dict[str, Any] = {}
    extra: dict[str, Any] = {}
    for name, value in kwargs.items():
        canonical, typed = validate_option(name, value)
        spec, _ = resolve_name(canonical) or (None, None)
        if canonical.lower() in {k.lower() for k in uri_options} and canonical == "tls":
            if uri_options["tls"] != typed:
                raise ConfigurationError("tls and ssl are given with different values; give one")
        if spec is not None and spec.in_uri:
            uri_options[canonical] = typed
        else:
            extra[canonical] = typed
    return OptionMap(uri_options), extra


@dataclass(frozen=True)
class ClientOptions:
    """Every client setting, validated, with the defaults of the specifications."""

    seeds: list[Address]
    scheme_srv: bool
    srv_host: str | None
    srv_service_name: str
    srv_max_hosts: int
    replica_set_name: str | None
    direct_connection: bool | None
    load_balanced: bool
    heartbeat_frequency_ms: int
    server_selection_timeout_ms: int
    local_threshold_ms: int
    server_monitoring_mode: str
    max_pool_size: int
    min_pool_size: int
    max_connecting: int
    max_idle_time_ms: int | None
    wait_queue_timeout_ms: int | None
    connect_timeout_ms: int
    socket_timeout_ms: int | None
    timeout_ms: int | None
    tls: bool
    tls_ca_file: str | None
    tls_certificate_key_file: str | None
    tls_certificate_key_file_password: str | None = field(repr=False)
    tls_crl_file: str | None
    tls_allow_invalid_certificates: bool
    tls_allow_invalid_hostnames: bool
    tls_disable_ocsp_endpoint_check: bool
    tls_disable_certificate_revocation_check: bool
    tls_insecure: bool
    credentials: MongoCredential | None
    read_preference: ServerMode
    write_concern: WriteConcern
    read_concern: ReadConcern
    server_api: ServerApi | None
    appname: str | None
    compressors: list[str]
    zlib_compression_level: int
    retry_reads: bool
    retry_writes: bool
    database: str | None
    connect: bool
    document_class: Any
    tz_aware: bool
    uuid_representation: int
    event_listeners: tuple[Any, ...]
    options: OptionMap  # every URI-able option after merging (canonical names)
    connection_string: ConnectionString = field(repr=False)
    extra: Mapping[str, Any] = field(repr=False)  # keyword-only options as given
    srv_resolution: SrvResolution | None = field(repr=False)

    @classmethod
    def from_inputs(
        cls, host: Any = None, port: int | None = None, kwargs: Mapping[str, Any] | None = None
    ) -> ClientOptions:
        """Validate and merge ``MongoClient(host, port, **kwargs)``."""
        if port is None:
            port = DEFAULT_PORT
        if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
            raise ConfigurationError(f"port must be an integer from 1 to 65535, not {port!r}")
        sources = _collect_hosts(host, port)
        keyword_options, extra = _split_kwargs(kwargs or {})
        username = extra.pop("username", sources.username)
        password = extra.pop("password", sources.password)
        merged = sources.options.merged(keyword_options)
        _check_tls(merged, sources.scheme_srv)
        cs = ConnectionString(
            scheme_srv=sources.scheme_srv,
            hosts=list(sources.seeds),
            username=username,
            password=password,
            database=sources.database,
            collection=sources.collection,
            options=merged,
        )
        resolution = None
        seeds: list[Address]
        if cs.scheme_srv:
            resolution = resolve_connection_string(
                cs, resolver=extra.get("dns_resolver"), overrides=keyword_options
            )
            cs = resolution.connection_string
            merged = cs.options
            seeds = list(resolution.seeds)
        else:
            seeds = [(name, p if p is not None else port) for name, p in cs.hosts]
        return cls._from_merged(cs, merged, seeds, extra, resolution)

    @classmethod
    def _from_merged(
        cls,
        cs: ConnectionString,
        opts: OptionMap,
        seeds: list[Address],
        extra: dict[str, Any],
        resolution: SrvResolution | None,
    ) -> ClientOptions:
        check_complete(cs.credentials)
        get = opts.get
        if get("maxPoolSize", 100) and get("minPoolSize", 0) > get("maxPoolSize", 100):
            raise ConfigurationError(
                f"minPoolSize ({get('minPoolSize')}) cannot exceed maxPoolSize "
                f"({get('maxPoolSize', 100)})"
            )
        read_preference = extra.get("read_preference")
        if read_preference is None:
            read_preference = cs.read_preference
        elif not isinstance(read_preference, ServerMode):
            raise ConfigurationError(
                "read_preference must be a read preference such as ReadPreference.SECONDARY; "
                "use readPreference='secondary' for a name"
            )
        server_api = extra.get("server_api")
        if server_api is not None and not isinstance(server_api, ServerApi):
            raise ConfigurationError("server_api must be a driver.server_api.ServerApi instance")
        insecure = bool(get("tlsInsecure", False))
        listeners = extra.get("event_listeners") or ()
        return cls(
            seeds=seeds,
            scheme_srv=cs.scheme_srv,
            srv_host=cs.srv_host,
            srv_service_name=str(get("srvServiceName", DEFAULT_SERVICE_NAME)),
            srv_max_hosts=int(get("srvMaxHosts", 0)),
            replica_set_name=get("replicaSet"),
            direct_connection=get("directConnection"),
            load_balanced=bool(get("loadBalanced", False)),
            heartbeat_frequency_ms=int(get("heartbeatFrequencyMS", 10_000)),
            server_selection_timeout_ms=int(get("serverSelectionTimeoutMS", 30_000)),
            local_threshold_ms=int(get("localThresholdMS", 15)),
            server_monitoring_mode=str(get("serverMonitoringMode", "auto")),
            max_pool_size=int(get("maxPoolSize", 100)),
            min_pool_size=int(get("minPoolSize", 0)),
            max_connecting=int(get("maxConnecting", 2)),
            max_idle_time_ms=get("maxIdleTimeMS") or None,  # 0 means no limit
            wait_queue_timeout_ms=get("waitQueueTimeoutMS"),
            connect_timeout_ms=int(get("connectTimeoutMS", 20_000)),
            socket_timeout_ms=get("socketTimeoutMS") or None,  # 0 means no timeout
            timeout_ms=get("timeoutMS"),
            tls=_tls_enabled(opts, cs.scheme_srv),
            tls_ca_file=get("tlsCAFile"),
            tls_certificate_key_file=get("tlsCertificateKeyFile"),
            tls_certificate_key_file_password=get("tlsCertificateKeyFilePassword"),
            tls_crl_file=get("tlsCRLFile"),
            tls_allow_invalid_certificates=insecure or bool(get("tlsAllowInvalidCertificates")),
            tls_allow_invalid_hostnames=insecure or bool(get("tlsAllowInvalidHostnames")),
            tls_disable_ocsp_endpoint_check=insecure or bool(get("tlsDisableOCSPEndpointCheck")),
            tls_disable_certificate_revocation_check=bool(
                get("tlsDisableCertificateRevocationCheck")
            ),
            tls_insecure=insecure,
            credentials=cs.credentials,
            read_preference=read_preference,
            write_concern=cs.write_concern,
            read_concern=cs.read_concern,
            server_api=server_api,
            appname=get("appname"),
            compressors=_compressors(get("compressors") or []),
            zlib_compression_level=int(get("zlibCompressionLevel", -1)),
            retry_reads=bool(get("retryReads", True)),
            retry_writes=bool(get("retryWrites", True)),
            database=cs.database,
            connect=bool(get("connect", True)),
            document_class=extra.get("document_class", dict),
            tz_aware=bool(extra.get("tz_aware", False)),
            uuid_representation=UUID_REPRESENTATIONS[get("uuidRepresentation", "unspecified")],
            event_listeners=tuple(listeners),
            options=opts,
            connection_string=cs,
            extra=dict(extra),
            srv_resolution=resolution,
        )

    @property
    def codec_options(self) -> Any:
        """``driver.bson.CodecOptions`` for ``document_class``, ``tz_aware``,
        ``uuidRepresentation``, ``tzinfo`` and ``unicode_decode_error_handler``."""
        bson = importlib.import_module("driver.bson")
        settings: dict[str, Any] = {}
        if self.document_class is not dict:
            settings["document_class"] = self.document_class
        if self.tz_aware:
            settings["tz_aware"] = True
        if self.uuid_representation:
            settings["uuid_representation"] = self.uuid_representation
        for name in (
            "tzinfo",
            "unicode_decode_error_handler",
            "datetime_conversion",
        ):
            if self.extra.get(name) is not None:
                settings[name] = self.extra[name]
        return bson.CodecOptions(**settings) if settings else bson.DEFAULT_CODEC_OPTIONS

    @property
    def dns_resolver(self) -> Any:
        """The injected resolver (``dns_resolver`` keyword), or None for the system's."""
        return self.extra.get("dns_resolver")

    def __repr__(self) -> str:
        return f"ClientOptions({self.connection_string.to_uri(redact_password=True)!r}, seeds={self.seeds!r})"


def _tls_enabled(opts: OptionMap, scheme_srv: bool) -> bool:
    if "tls" in opts:
        return bool(opts["tls"])
    return scheme_srv or any(name in opts for name in _TLS_DETAIL_OPTIONS)


def _check_tls(opts: OptionMap, scheme_srv: bool) -> None:
    if opts.get("tls") is False:
        given = [name for name in _TLS_DETAIL_OPTIONS if name in opts]
        if given:
            raise ConfigurationError(
                f"tls=false, but {', '.join(given)} {'is' if len(given) == 1 else 'are'} set; "
                "set tls=true or remove them"
            )


def _compressors(names: list[str]) -> list[str]:
    known = [name for name in names if name in KNOWN_COMPRESSORS]
    unknown = [name for name in names if name not in KNOWN_COMPRESSORS]
    if unknown:
        warnings.warn(
            f"unsupported compressors ignored: {', '.join(unknown)} "
            f"(supported: {', '.join(KNOWN_COMPRESSORS)})",
            URIWarning,
            stacklevel=4,
        )
    return known


__all__ = ["ClientOptions"]
