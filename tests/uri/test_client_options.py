"""``ClientOptions.from_inputs``: MongoClient's host/port/keyword merging and defaults."""

from __future__ import annotations

import warnings

import pytest

from driver.concern import ReadConcern, WriteConcern
from driver.connection_string.client_options import ClientOptions
from driver.connection_string.uri import URIWarning
from driver.errors import ConfigurationError, InvalidURI
from driver.read_preferences import Nearest, ReadPreference
from driver.server_api import ServerApi, ServerApiVersion
from tests.uri.dns_server import StubDnsServer


def test_defaults_follow_the_specifications() -> None:
    opts = ClientOptions.from_inputs(None, None, {})
    assert opts.seeds == [("localhost", 27017)]
    assert (opts.heartbeat_frequency_ms, opts.server_selection_timeout_ms) == (10_000, 30_000)
    assert (opts.local_threshold_ms, opts.server_monitoring_mode) == (15, "auto")
    assert (opts.max_pool_size, opts.min_pool_size, opts.max_connecting) == (100, 0, 2)
    assert (opts.max_idle_time_ms, opts.wait_queue_timeout_ms) == (None, None)
    assert (opts.connect_timeout_ms, opts.socket_timeout_ms) == (20_000, None)
    assert opts.tls is False and opts.credentials is None and opts.database is None
    assert opts.direct_connection is None and opts.load_balanced is False
    assert opts.retry_reads and opts.retry_writes and opts.connect
    assert opts.read_preference == ReadPreference.PRIMARY
    assert opts.write_concern.is_server_default and opts.read_concern.is_server_default
    assert opts.compressors == [] and opts.zlib_compression_level == -1
    assert opts.server_api is None and opts.appname is None and opts.timeout_ms is None


def test_keyword_options_override_the_uri() -> None:
    opts = ClientOptions.from_inputs(
        "mongodb://h1/?maxPoolSize=5&w=2&readPreference=secondary&appname=uri",
        None,
        {"maxpoolsize": 7, "w": "majority", "wtimeout": 100, "j": True, "appName": "kw"},
    )
    assert opts.max_pool_size == 7
    assert opts.write_concern == WriteConcern(w="majority", wtimeout=100, j=True)
    assert opts.read_preference.mongos_mode == "secondary"
    assert opts.appname == "kw"


def test_several_uris_merge_and_the_last_credentials_and_database_win() -> None:
    opts = ClientOptions.from_inputs(
        ["mongodb://u1:p1@a:1/db1?replicaSet=rs", "b:2", "mongodb://u2:p2@c/db2?w=1", "[::1]:3"],
        27018,
        {},
    )
    assert opts.seeds == [("a", 1), ("b", 2), ("c", 27018), ("::1", 3)]
    assert opts.credentials is not None
    assert (opts.credentials.username, opts.credentials.password) == ("u2", "p2")
    assert opts.credentials.source == "db2"
    assert opts.database == "db2"
    assert opts.replica_set_name == "rs" and opts.write_concern.document == {"w": 1}


def test_host_list_strings_and_ipv6_and_default_port() -> None:
    opts = ClientOptions.from_inputs("h1,h2:27019,[FE80::1]", 27100, {})
    assert opts.seeds == [("h1", 27100), ("h2", 27019), ("fe80::1", 27100)]


@pytest.mark.parametrize(
    ("name", "modern"),
    [
        ("slave_okay", "readPreference"),
        ("network_timeout", "socketTimeoutMS"),
        ("pool_size", "maxPoolSize"),
        ("auto_start_request", "session"),
    ],
)
def test_legacy_connection_api_names_are_refused_with_the_modern_name(
    name: str, modern: str
) -> None:
    with pytest.raises(ConfigurationError, match=modern):
        ClientOptions.from_inputs("localhost", None, {name: True})


def test_unknown_keyword_is_refused_with_a_suggestion() -> None:
    with pytest.raises(ConfigurationError, match="did you mean maxPoolSize"):
        ClientOptions.from_inputs("localhost", None, {"maxPoolSise": 3})


def test_invalid_keyword_value_names_the_option_and_the_accepted_values() -> None:
    with pytest.raises(ConfigurationError, match=r"heartbeatFrequencyMS.*>= 500"):
        ClientOptions.from_inputs("localhost", None, {"heartbeatFrequencyMS": 10})


def test_invalid_uri_value_is_an_error_for_the_client() -> None:
    with pytest.raises(ConfigurationError, match="connectTimeoutMS"):
        ClientOptions.from_inputs("mongodb://h/?connectTimeoutMS=-2", None, {})


def test_direct_connection_with_several_seeds_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="directConnection"):
        ClientOptions.from_inputs(["a", "b"], None, {"directConnection": True})
    assert ClientOptions.from_inputs(["a"], None, {"directConnection": True}).direct_connection


def test_tls_enabled_by_ssl_alias_or_implicitly_and_conflicts_refused() -> None:
    assert ClientOptions.from_inputs("h", None, {"ssl": True}).tls
    implicit = ClientOptions.from_inputs("h", None, {"tlsCAFile": "/ca.pem"})
    assert implicit.tls and implicit.tls_ca_file == "/ca.pem"
    insecure = ClientOptions.from_inputs("mongodb://h/?tlsInsecure=true", None, {})
    assert insecure.tls_allow_invalid_certificates and insecure.tls_allow_invalid_hostnames
    with pytest.raises(ConfigurationError, match="tls=false"):
        ClientOptions.from_inputs("h", None, {"tls": False, "tlsCAFile": "/ca.pem"})
    with pytest.raises(ConfigurationError, match="tlsInsecure"):
        ClientOptions.from_inputs(
            "mongodb://h/?tlsInsecure=true", None, {"tlsAllowInvalidHostnames": True}
        )
    legacy = ClientOptions.from_inputs("h", None, {"ssl_cert_reqs": "CERT_NONE"})
    assert legacy.tls_allow_invalid_certificates


def test_read_preference_object_server_api_and_concerns() -> None:
    api = ServerApi(ServerApiVersion.V1, strict=True)
    opts = ClientOptions.from_inputs(
        "mongodb://h/?readConcernLevel=majority",
        None,
        {"read_preference": Nearest(tag_sets=[{"dc": "ny"}]), "server_api": api},
    )
    assert opts.read_preference.document == {"mode": "nearest", "tags": [{"dc": "ny"}]}
    assert opts.server_api is api and api.document == {"apiVersion": "1", "apiStrict": True}
    assert opts.read_concern == ReadConcern("majority")
    with pytest.raises(ConfigurationError, match="read_preference"):
        ClientOptions.from_inputs("h", None, {"read_preference": "secondary"})
    with pytest.raises(ConfigurationError, match="server_api"):
        ClientOptions.from_inputs("h", None, {"server_api": {"version": "1"}})


def test_keyword_credentials_and_min_over_max_pool() -> None:
    opts = ClientOptions.from_inputs(
        "mongodb://h/app", None, {"username": "ann", "password": "s3cret", "authSource": "admin"}
    )
    assert opts.credentials is not None and opts.credentials.source == "admin"
    assert "s3cret" not in repr(opts) and "s3cret" not in repr(opts.credentials)
    with pytest.raises(ConfigurationError, match="minPoolSize"):
        ClientOptions.from_inputs("h", None, {"minPoolSize": 10, "maxPoolSize": 5})


def test_unsupported_compressors_warn_and_are_dropped() -> None:
    with pytest.warns(URIWarning, match="lz4"):
        opts = ClientOptions.from_inputs("mongodb://h/?compressors=lz4,zlib", None, {})
    assert opts.compressors == ["zlib"]


def test_uuid_representation_and_document_class() -> None:
    from collections import OrderedDict

    opts = ClientOptions.from_inputs(
        "mongodb://h/?uuidRepresentation=standard", None, {"document_class": OrderedDict}
    )
    assert opts.uuid_representation == 4 and opts.document_class is OrderedDict


def test_srv_client_options_kwargs_override_txt(dns_server: StubDnsServer) -> None:
    dns_server.set_srv("_mongodb._tcp.c.example.com", [("n1.example.com", 27017)])
    dns_server.set_txt("c.example.com", [["replicaSet=fromdns&authSource=dnsdb"]])
    opts = ClientOptions.from_inputs(
        "mongodb+srv://u:p@c.example.com/",
        None,
        {"dns_resolver": dns_server.resolver(), "replicaSet": "fromkw", "tls": False},
    )
    assert opts.seeds == [("n1.example.com", 27017)]
    assert opts.replica_set_name == "fromkw" and opts.tls is False
    assert opts.credentials is not None and opts.credentials.source == "dnsdb"
    assert opts.srv_host == "c.example.com" and opts.scheme_srv


def test_srv_must_be_the_only_host() -> None:
    with pytest.raises(ConfigurationError, match="only host"):
        ClientOptions.from_inputs(["mongodb+srv://c.example.com", "other"], None, {})


def test_malformed_uri_in_host_list_is_invalid_uri() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(InvalidURI, match="port"):
            ClientOptions.from_inputs(["a", "mongodb://b:xyz"], None, {})


def test_the_option_rules_do_not_import_the_srv_polling_machinery() -> None:
    # Layering (issue 14): the client builds the SRV poller from the options; the rules
    # module must not know the poller (it imported SrvMonitor before srv_polling.py).
    import ast
    from pathlib import Path

    import driver.connection_string.client_options as rules

    tree = ast.parse(Path(rules.__file__).read_text(encoding="utf-8"))
    imported = {alias.name for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)
                for alias in node.names}
    modules = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    assert "driver.connection_string.srv_polling" not in modules
    assert not imported & {"SrvMonitor", "make_rescan"}
