"""Properties over generated values: the round trip, redaction, and the fuzz contract.

* ``parse_uri(cs.to_uri()) == cs`` for every valid value, with no warning, and the
  written form is stable (writing the parsed value again gives the same string);
* ``to_uri(redact_password=True)`` never contains the password;
* arbitrary text (lone surrogates included) and mutated valid URIs make ``parse_uri``
  either raise ``InvalidURI``/``ConfigurationError`` or give a value that round-trips
  through ``to_uri()``, never another exception; the same holds for
  arbitrary keyword options given to ``ClientOptions.from_inputs``.
"""

from __future__ import annotations

import warnings
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from driver.connection_string.client_options import ClientOptions
from driver.connection_string.options_table import OPTION_SPECS, UUID_REPRESENTATIONS
from driver.connection_string.uri import ConnectionString, URIWarning, parse_uri
from driver.errors import ConfigurationError
from tests.uri.strategies import connection_strings

FAST = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FAST
@given(connection_strings())
def test_round_trip(cs: ConnectionString) -> None:
    uri = cs.to_uri()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        parsed = parse_uri(uri)
    assert parsed == cs
    assert parsed.to_uri() == uri
    assert parsed.credentials == cs.credentials
    assert parsed.read_preference == cs.read_preference
    assert parsed.write_concern == cs.write_concern


@FAST
@given(connection_strings(), st.text(max_size=20).map(lambda t: "\u00a7pw\u00a7" + t))
def test_redacted_uri_hides_the_password(cs: ConnectionString, secret: str) -> None:
    plain = cs.options.without("authMechanism", "authMechanismProperties")
    with_secret = cs.replace(username=cs.username or "user", password=secret, options=plain)
    redacted = with_secret.to_uri(redact_password=True)
    assert ":****@" in redacted
    assert parse_uri(redacted).password == "****"
    assert secret not in redacted and secret not in repr(with_secret)
    assert secret not in repr(with_secret.credentials)


def _parse_quietly(text: str, warn: bool) -> None:
    """Either a driver URI error, or a value that survives ``to_uri()`` unchanged."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", URIWarning)
        try:
            parsed = parse_uri(text, warn=warn)
        except ConfigurationError:  # InvalidURI is a subclass
            return
        assert parse_uri(parsed.to_uri()) == parsed, text


# Every code point, lone surrogates included (what Python makes of undecodable argv
# bytes); hypothesis leaves surrogates out of text unless asked.
ANY_CHARACTER = st.characters(blacklist_categories=())
ANY_TEXT = st.text(ANY_CHARACTER, max_size=80)


@settings(max_examples=500, deadline=None)
@given(ANY_TEXT, st.booleans())
def test_fuzz_arbitrary_text(text: str, warn: bool) -> None:
    _parse_quietly(text, warn)
    _parse_quietly("mongodb://" + text, warn)
    _parse_quietly("mongodb+srv://" + text, warn)


SPECIAL = st.sampled_from(
    list(":/?#[]@%&=,.;+ \\\"'$") + ["%4", "%zz", "%C3", "%2F", "[::1]", "::"]
)


@st.composite
def _mutated(draw: st.DrawFn) -> str:
    uri = draw(connection_strings()).to_uri()
    for _ in range(draw(st.integers(1, 4))):
        position = draw(st.integers(0, len(uri)))
        action = draw(st.sampled_from(["insert", "delete", "duplicate", "truncate"]))
        if action == "insert":
            uri = uri[:position] + draw(SPECIAL | st.text(ANY_CHARACTER, max_size=3)) + uri[position:]
        elif action == "delete":
            uri = uri[:position] + uri[position + draw(st.integers(1, 5)) :]
        elif action == "duplicate":
            uri = uri[:position] + uri[position : position + 8] * 2 + uri[position + 8 :]
        else:
            uri = uri[:position]
    return uri


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_mutated(), st.booleans())
def test_fuzz_mutated_valid_uris(uri: str, warn: bool) -> None:
    _parse_quietly(uri, warn)


KEYWORD_NAMES = st.sampled_from(
    [spec.name for spec in OPTION_SPECS if spec.name != "dns_resolver"]
    + ["ssl", "j", "wtimeout", "ssl_cert_reqs", "ssl_match_hostname", "slave_okay", "bogus"]
)
ANY_VALUE: st.SearchStrategy[Any] = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**40), 2**40),
    st.floats(allow_nan=True),
    st.text(max_size=10),
    st.sampled_from(list(UUID_REPRESENTATIONS) + ["true", "false", "-1", "0", "majority"]),
    st.lists(st.text(max_size=5), max_size=3),
    st.dictionaries(st.text(max_size=5), st.text(max_size=5), max_size=2),
)


@settings(max_examples=400, deadline=None)
@given(st.dictionaries(KEYWORD_NAMES, ANY_VALUE, max_size=4))
def test_fuzz_keyword_options(kwargs: dict[str, Any]) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", URIWarning)
        try:
            ClientOptions.from_inputs("localhost", None, kwargs)
        except ConfigurationError:
            pass
