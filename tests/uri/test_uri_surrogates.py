"""Lone surrogates (undecodable bytes, e.g. from ``sys.argv``) in a connection string.

Python decodes bytes that are not UTF-8 in ``argv`` to lone surrogates (``\\udc80``…).
They are no characters: they cannot be encoded, sent to a server or written back by
``to_uri()``. Parsing must refuse them as ``InvalidURI`` naming the part they are in, and
building a connection string from parts must refuse them the same way, never with a
``UnicodeEncodeError`` later.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from driver.connection_string.uri import ConnectionString, parse_uri
from driver.errors import InvalidURI
from tests.uri.strategies import connection_strings

PARSED = [
    ("mongodb://u\ud800:p@h/", "user name"),
    ("mongodb://u:p\udc80@h/", "password"),
    ("mongodb://u:p%41\ud800@h/", "password"),
    ("mongodb://h\ud800/", "host"),
    ("mongodb+srv://h\udcff.example.com/", "host"),
    ("mongodb://%2Ftmp%2Fm\ud800.sock/", "host"),
    ("mongodb://h/d\ud800b", "database name"),
    ("mongodb://h/?appName=a\ud800", "appName value"),
    ("mongodb://h/?app\ud800Name=a", "option name"),
    ("mongodb://h/?authMechanismProperties=SERVICE_NAME:a\ud800", "authMechanismProperties"),
    ("mongodb://h/?readPreference=secondary&readPreferenceTags=dc:n\ud800y",
     "readPreferenceTags"),
]


@pytest.mark.parametrize(("uri", "part"), PARSED)
def test_parsing_refuses_a_lone_surrogate_naming_the_part(uri: str, part: str) -> None:
    with pytest.raises(InvalidURI, match=f"the {part}.*lone surrogate"):
        parse_uri(uri)


@pytest.mark.parametrize(("parts", "part"), [
    ({"username": "a\ud800", "password": "p"}, "user name"),
    ({"username": "a", "password": "p\udc80"}, "password"),
    ({"hosts": ["h\ud800"]}, "host"),
    ({"database": "d\ud800"}, "database"),
    ({"options": {"appName": "x\ud800"}}, "appName value"),
    ({"options": {"readPreference": "secondary",
                  "readPreferenceTags": [{"dc": "n\ud800y"}]}}, "readPreferenceTags value"),
])
def test_building_refuses_a_lone_surrogate_naming_the_part(parts: dict[str, Any],
                                                          part: str) -> None:
    with pytest.raises(InvalidURI, match=f"the {part}.*lone surrogate"):
        ConnectionString.build(**parts)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(connection_strings(), st.data())
def test_a_surrogate_anywhere_in_a_valid_uri_is_invalid_uri(cs: ConnectionString,
                                                           data: st.DataObject) -> None:
    uri = cs.to_uri()
    start = len("mongodb+srv://" if cs.scheme_srv else "mongodb://")
    position = data.draw(st.integers(start, len(uri)))
    surrogate = data.draw(st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF))
    # InvalidURI: the surrogate's own message, or that of the part it broke first (a
    # surrogate between '%' and its hex digits is first of all a bad escape).
    with pytest.raises(InvalidURI):
        parse_uri(uri[:position] + surrogate + uri[position:])
