"""Parsing details the spec suites do not pin down: error messages, warnings, building."""

from __future__ import annotations

import warnings

import pytest

from driver.connection_string.uri import ConnectionString, URIWarning, parse_uri
from driver.errors import ConfigurationError, InvalidURI

SECRET = "Tr0ub4dor"


@pytest.mark.parametrize(
    ("uri", "expected"),
    [
        (f"mongodb://ann:{SECRET}@x@db.example.com", r"password contains an unescaped '@'.*%40"),
        (f"mongodb://ann:{SECRET}:x@db.example.com", r"password contains 1 unescaped ':'.*%3A"),
        (
            f"mongodb://ann:{SECRET}/x@db.example.com/admin",
            r"'/' in the user name or password.*%2F",
        ),
        (f"mongodb://ann:{SECRET}?x@db.example.com/", r"'\?' in the user name or password.*%3F"),
        (f"mongodb://ann:{SECRET}%zz@db.example.com/", r"password has a '%'.*%25"),
        (f"mongodb://ann:{SECRET}[@db.example.com/", r"password contains 1 unescaped '\['.*%5B"),
    ],
)
def test_password_errors_explain_the_escape_and_never_show_the_password(
    uri: str, expected: str
) -> None:
    with pytest.raises(InvalidURI, match=expected) as info:
        parse_uri(uri)
    assert SECRET not in str(info.value)


def test_unescaped_at_in_user_name_shows_the_escaped_form() -> None:
    with pytest.raises(InvalidURI, match=r"user name contains an unescaped '@'.*ann%40corp"):
        parse_uri("mongodb://ann@corp:pw@h/")


def test_atlas_style_uri_with_escaped_password() -> None:
    cs = parse_uri(
        "mongodb+srv://user:p%40ss%3Aw0rd@cluster0.example.net/myFirstDatabase"
        "?retryWrites=true&w=majority"
    )
    assert (cs.username, cs.password, cs.database) == ("user", "p@ss:w0rd", "myFirstDatabase")
    assert cs.scheme_srv and cs.srv_host == "cluster0.example.net"
    assert cs.write_concern.document == {"w": "majority"} and cs.options["retryWrites"] is True
    assert cs.credentials is not None and cs.credentials.source == "myFirstDatabase"
    assert cs.to_uri(redact_password=True) == (
        "mongodb+srv://user:****@cluster0.example.net/myFirstDatabase?w=majority&retryWrites=true"
    )


@pytest.mark.parametrize(
    ("uri", "fragment"),
    [
        ("http://localhost", "must start with mongodb://"),
        ("mongodb://", "names no host"),
        ("mongodb://h:0", "from 1 to 65535"),
        ("mongodb://h:99999", "from 1 to 65535"),
        ("mongodb://[::1", "no closing ']'"),
        ("mongodb://[zz::1]", "not an IPv6 address"),
        ("mongodb://a,,b", "empty entry"),
        ("mongodb://h/my$db", "database name"),
        ("mongodb://h/?=1", "no name before '='"),
        ("mongodb+srv://a.example.com,b.example.com", "exactly one host"),
        ("mongodb://h/?srvMaxHosts=1", r"only applies to mongodb\+srv"),
        ("mongodb://h/?readPreference=primary&readPreferenceTags=dc:ny", "other than primary"),
        ("mongodb://h/?w=0&journal=true", "w=0"),
        ("mongodb://h/?authMechanism=PLAIN", "needs a user name"),
        ("mongodb://u@h/?authMechanism=SCRAM-SHA-256", "needs a password"),
        ("mongodb://u:p@h/?authMechanism=MONGODB-X509", "does not use a password"),
        ("mongodb://u@h/?authMechanism=GSSAPI&authSource=admin", r"must be \$external"),
        ("mongodb://h/?proxyPort=1", "need proxyHost"),
    ],
)
def test_invalid_strings_name_the_part(uri: str, fragment: str) -> None:
    with pytest.raises(ConfigurationError, match=fragment):
        parse_uri(uri)


def test_invalid_value_warns_with_warn_true_and_raises_otherwise() -> None:
    with pytest.warns(URIWarning, match=r"maxPoolSize.*non-negative"):
        cs = parse_uri("mongodb://h/?maxPoolSize=-1", warn=True)
    assert "maxPoolSize" not in cs.options
    with pytest.raises(ConfigurationError, match=r"maxPoolSize.*non-negative"):
        parse_uri("mongodb://h/?maxPoolSize=-1")


def test_unknown_and_repeated_options_warn_with_their_names() -> None:
    with pytest.warns(URIWarning, match=r"unknown option 'replicaSett'.*did you mean replicaSet"):
        parse_uri("mongodb://h/?replicaSett=rs")
    with pytest.warns(URIWarning, match="appname appears more than once"):
        cs = parse_uri("mongodb://h/?appname=a&appname=b")
    assert cs.options["appName"] == "b"
    with pytest.warns(URIWarning, match="slaveOk.*readPreference"):
        parse_uri("mongodb://h/?slaveOk=true")


def test_aliases_fold_into_canonical_names() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        cs = parse_uri("mongodb://h/?SSL=true&J=true&wtimeout=7&TLSINSECURE=false")
    assert dict(cs.options) == {"tls": True, "journal": True, "wTimeoutMS": 7, "tlsInsecure": False}
    assert cs.options["TLS"] is True and "Journal" in cs.options


def test_build_validates_and_escapes() -> None:
    cs = ConnectionString.build(
        hosts=["Db1.Example.com:27018", ("/tmp/mongo db.sock", None), ("::1", 27019)],
        username="ann@corp",
        password="p@ss:/?#[]%",
        database="sales",
        options={"readpreference": "SECONDARY", "readPreferenceTags": [{"dc": "ny"}], "w": "2"},
    )
    assert cs.hosts == [("db1.example.com", 27018), ("/tmp/mongo db.sock", None), ("::1", 27019)]
    assert cs.options["w"] == 2 and cs.options["readPreference"] == "secondary"
    assert cs.to_uri() == (
        "mongodb://ann%40corp:p%40ss%3A%2F%3F%23%5B%5D%25@db1.example.com:27018,"
        "%2Ftmp%2Fmongo%20db.sock,[::1]:27019/sales"
        "?readPreference=secondary&readPreferenceTags=dc:ny&w=2"
    )
    assert parse_uri(cs.to_uri()) == cs
    with pytest.raises(ConfigurationError, match="maxPoolSize"):
        cs.with_options(maxPoolSize=-5)
    with pytest.raises(ConfigurationError, match="database name"):
        cs.replace(database="a.b")
    assert cs.with_options(w=None, appname="x").options == {
        "readPreference": "secondary",
        "readPreferenceTags": [{"dc": "ny"}],
        "appname": "x",
    }


def test_dotted_path_gives_database_and_collection() -> None:
    cs = parse_uri("mongodb://h/db.coll.sub")
    assert (cs.database, cs.collection) == ("db", "coll.sub")
    assert parse_uri("mongodb://h/").database is None
    assert parse_uri("mongodb://h").database is None


def test_derived_read_preference_and_concerns() -> None:
    cs = parse_uri(
        "mongodb://h/?readPreference=nearest&readPreferenceTags=dc:ny&readPreferenceTags="
        "&maxStalenessSeconds=120&readConcernLevel=majority&w=3&wTimeoutMS=50&journal=true"
    )
    assert cs.read_preference.document == {
        "mode": "nearest",
        "tags": [{"dc": "ny"}, {}],
        "maxStalenessSeconds": 120,
    }
    assert cs.write_concern.document == {"w": 3, "wtimeout": 50, "j": True}
    assert cs.write_concern.acknowledged and not cs.write_concern.is_server_default
    assert cs.read_concern.document == {"level": "majority"}


def test_every_tls_and_ssl_instance_must_agree() -> None:
    with pytest.raises(InvalidURI, match="disagree"):
        parse_uri("mongodb://h/?tls=true&tls=false")
    with pytest.raises(InvalidURI, match="disagree"):
        parse_uri("mongodb://h/?ssl=true&tls=true&SSL=false")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert parse_uri("mongodb://h/?ssl=true&tls=true&TLS=true").options["tls"] is True
