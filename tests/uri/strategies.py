"""Hypothesis strategies for valid connection strings (structured fields).

``connection_strings()`` draws the fields a connection dialog holds (scheme, hosts,
user information, database, options) such that the combination is valid by
construction: at most one option of each TLS conflict group, srv options only with
``mongodb+srv``, credentials that satisfy their mechanism's rules, and so on.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Any

from hypothesis import strategies as st

from driver.connection_string.uri import ConnectionString

# Any text that can be UTF-8 encoded (no lone surrogates), including reserved characters.
ANY_TEXT = st.text(st.characters(codec="utf-8"), min_size=1, max_size=12)
LABEL = st.from_regex(r"[a-z0-9](?:[a-z0-9-]{0,8}[a-z0-9])?", fullmatch=True) | st.sampled_from(
    ["bücher", "umläut", "xn--bcher-kva"]
)
HOSTNAME = st.lists(LABEL, min_size=1, max_size=4).map(".".join)
IPV4 = st.ip_addresses(v=4).map(str)
IPV6 = st.ip_addresses(v=6).map(lambda a: ipaddress.IPv6Address(a).compressed)
SOCKET = st.tuples(st.sampled_from(["/tmp/", "rel/", "/var/run/a b/"]), ANY_TEXT).map(
    lambda parts: parts[0] + parts[1].replace("/", "_") + ".sock"
)
PORT = st.none() | st.integers(1, 65535)
NO_COMMA = st.text(st.characters(codec="utf-8", blacklist_characters=","), min_size=1, max_size=10)
TAG_KEY = st.text(st.characters(codec="utf-8", blacklist_characters=",:"), min_size=1, max_size=8)
DATABASE = st.text(
    st.characters(codec="utf-8", blacklist_characters='/\\ "$.\x00'),
    min_size=1,
    max_size=12,
)
SERVICE_NAME = st.from_regex(r"[a-z][a-z0-9]{0,6}(?:-[a-z0-9]{1,4})?", fullmatch=True)


@st.composite
def _host(draw: st.DrawFn) -> tuple[str, int | None]:
    kind = draw(st.sampled_from(["name", "ipv4", "ipv6", "socket"]))
    if kind == "socket":
        return draw(SOCKET), None
    host = draw({"name": HOSTNAME, "ipv4": IPV4, "ipv6": IPV6}[kind])
    return host, draw(PORT)


@st.composite
def _credentials(draw: st.DrawFn) -> tuple[str | None, str | None, dict[str, Any]]:
    mechanism = draw(
        st.sampled_from(
            [None, "SCRAM-SHA-256", "SCRAM-SHA-1", "PLAIN", "MONGODB-X509", "GSSAPI", "MONGODB-AWS",
             "MONGODB-OIDC"]
        )
    )
    options: dict[str, Any] = {}
    user: str | None = draw(ANY_TEXT)
    password: str | None = draw(st.none() | st.text(max_size=12))
    if mechanism is None:
        if draw(st.booleans()):
            user = password = None
        elif draw(st.booleans()):
            options["authSource"] = draw(ANY_TEXT)
        return user, password, options
    options["authMechanism"] = mechanism
    if mechanism in ("SCRAM-SHA-256", "SCRAM-SHA-1", "PLAIN"):
        password = password if password is not None else "pw"
        if draw(st.booleans()):
            options["authSource"] = draw(ANY_TEXT)
    elif mechanism == "MONGODB-X509":
        password = None
        user = draw(st.none() | ANY_TEXT)
    elif mechanism == "GSSAPI":
        options["authMechanismProperties"] = {"SERVICE_NAME": draw(NO_COMMA)}
    elif mechanism == "MONGODB-AWS":
        user = password = None  # AWS credentials come only from the environment
    elif mechanism == "MONGODB-OIDC":
        user = password = None
        options["authMechanismProperties"] = {"ENVIRONMENT": draw(st.sampled_from(["test", "k8s"]))}
    if mechanism in ("GSSAPI", "MONGODB-X509", "MONGODB-AWS", "MONGODB-OIDC") and draw(
        st.booleans()
    ):
        options["authSource"] = "$external"
    return user, password, options


_SIMPLE_OPTIONS: dict[str, st.SearchStrategy[Any]] = {
    "appname": st.text(st.characters(codec="utf-8"), max_size=20),
    "connectTimeoutMS": st.integers(0, 2**31 - 1),
    "socketTimeoutMS": st.integers(0, 10**6),
    "serverSelectionTimeoutMS": st.integers(0, 10**6),
    "heartbeatFrequencyMS": st.integers(500, 10**6),
    "localThresholdMS": st.integers(0, 1000),
    "maxPoolSize": st.integers(0, 500),
    "minPoolSize": st.integers(0, 500),
    "maxConnecting": st.integers(1, 10),
    "maxIdleTimeMS": st.integers(0, 10**6),
    "waitQueueTimeoutMS": st.integers(1, 10**6),
    "timeoutMS": st.integers(0, 10**6),
    "retryReads": st.booleans(),
    "retryWrites": st.booleans(),
    "compressors": st.lists(st.sampled_from(["snappy", "zlib", "zstd"]), unique=True, min_size=1),
    "zlibCompressionLevel": st.integers(-1, 9),
    "readConcernLevel": ANY_TEXT,
    "wTimeoutMS": st.integers(0, 2**40),
    "journal": st.booleans(),
    "tls": st.booleans(),
    "tlsCAFile": ANY_TEXT,
    "tlsCertificateKeyFile": ANY_TEXT,
    "tlsCertificateKeyFilePassword": st.text(max_size=10),
    "serverMonitoringMode": st.sampled_from(["auto", "stream", "poll"]),
    "uuidRepresentation": st.sampled_from(["standard", "pythonLegacy", "javaLegacy"]),
    "replicaSet": ANY_TEXT,
    "w": st.integers(0, 50) | ANY_TEXT.filter(lambda t: not re.fullmatch(r"[+-]?\d+", t)),
}
_TLS_GROUP = [
    "tlsInsecure",
    "tlsAllowInvalidCertificates",
    "tlsDisableOCSPEndpointCheck",
    "tlsDisableCertificateRevocationCheck",
]


@st.composite
def _options(draw: st.DrawFn, scheme_srv: bool, host_count: int) -> dict[str, Any]:
    names = draw(st.lists(st.sampled_from(sorted(_SIMPLE_OPTIONS)), unique=True, max_size=8))
    options = {name: draw(_SIMPLE_OPTIONS[name]) for name in names}
    if options.get("w") == 0:
        options.pop("journal", None)
    if draw(st.booleans()):
        options[draw(st.sampled_from(_TLS_GROUP))] = draw(st.booleans())
        if "tlsInsecure" not in options and draw(st.booleans()):
            options["tlsAllowInvalidHostnames"] = draw(st.booleans())
    mode = draw(st.sampled_from(["primary", "secondary", "nearest", "primaryPreferred", None]))
    if mode is not None:
        options["readPreference"] = mode
    if mode not in (None, "primary"):
        if draw(st.booleans()):
            tags = st.dictionaries(TAG_KEY, NO_COMMA | st.just(""), max_size=2)
            options["readPreferenceTags"] = draw(st.lists(tags, min_size=1, max_size=3))
        if draw(st.booleans()):
            options["maxStalenessSeconds"] = draw(st.integers(90, 10**5) | st.just(-1))
    if scheme_srv:
        if draw(st.booleans()):
            options["srvServiceName"] = draw(SERVICE_NAME)
        if draw(st.booleans()) and "replicaSet" not in options:
            options["srvMaxHosts"] = draw(st.integers(0, 5))
    if host_count == 1 and not scheme_srv and draw(st.booleans()):
        options["directConnection"] = draw(st.booleans())
    if host_count == 1 and "replicaSet" not in options and not options.get("srvMaxHosts"):
        if not options.get("directConnection") and draw(st.booleans()):
            options["loadBalanced"] = draw(st.booleans())
    if draw(st.booleans()):
        options["proxyHost"] = draw(HOSTNAME)
        if draw(st.booleans()):
            options["proxyPort"] = draw(st.integers(0, 65535))
        if draw(st.booleans()):
            options["proxyUsername"] = draw(ANY_TEXT)
            options["proxyPassword"] = draw(ANY_TEXT)
    return options


@st.composite
def connection_strings(draw: st.DrawFn) -> ConnectionString:
    """A valid ``ConnectionString`` built from drawn fields."""
    scheme_srv = draw(st.booleans())
    hosts: list[tuple[str, int | None]]
    if scheme_srv:
        hosts = [(draw(HOSTNAME), None)]
    else:
        hosts = draw(st.lists(_host(), min_size=1, max_size=3, unique_by=lambda h: h))
    user, password, auth_options = draw(_credentials())
    options = draw(_options(scheme_srv, len(hosts)))
    options.update(auth_options)
    database = draw(st.none() | DATABASE)
    collection = draw(st.none() | ANY_TEXT) if database is not None else None
    return ConnectionString.build(
        scheme_srv=scheme_srv,
        hosts=hosts,
        username=user,
        password=password if user is not None else None,
        database=database,
        collection=collection,
        options=options,
    )
