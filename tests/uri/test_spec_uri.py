"""Spec runners: ``connection-string`` and ``uri-options`` (mongodb/specifications).

Each case parses its URI with ``warn=True`` (the mode the suites are written for) and
checks ``valid``, ``warning``, ``hosts``, ``auth`` and ``options`` as the suites'
README describes: a ``null`` expectation is not checked, option names compare without
regard to case.
"""

from __future__ import annotations

import ipaddress
import warnings
from typing import Any

import pytest

from driver.connection_string.uri import ConnectionString, URIWarning, parse_uri
from driver.errors import ConfigurationError
from tests.specdata import load, missing, params_or_missing, spec_files

pytestmark = pytest.mark.spec

# One entry per skipped case: (file stem, description) -> reason. Empty: every case of
# both suites runs (proxy, OCSP and compression-level options are all validated).
SKIPS: dict[tuple[str, str], str] = {}


def _cases(suite: str) -> list[Any]:
    params = []
    for path in spec_files(suite):
        for case in load(path)["tests"]:
            key = (path.stem, case["description"])
            marks = [pytest.mark.skip(reason=SKIPS[key])] if key in SKIPS else []
            params.append(pytest.param(case, id=f"{path.stem}:{case['description']}", marks=marks))
    return params_or_missing(params)


def _host_type(host: str) -> str:
    if "/" in host:
        return "unix"
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return "hostname"
    return "ipv4" if address.version == 4 else "ip_literal"


def _parse_recording(uri: str) -> tuple[ConnectionString, list[warnings.WarningMessage]]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        parsed = parse_uri(uri, warn=True)
    return parsed, list(caught)


def run_case(case: dict[str, Any]) -> None:
    if not case["valid"]:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", URIWarning)
            with pytest.raises(ConfigurationError):
                parse_uri(case["uri"], warn=True)
        return
    parsed, caught = _parse_recording(case["uri"])
    ours = [w for w in caught if issubclass(w.category, URIWarning)]
    assert len(ours) == len(caught), [str(w.message) for w in caught]
    if case.get("warning") is True:
        assert ours, "expected a warning"
    elif case.get("warning") is False:
        assert not ours, [str(w.message) for w in ours]
    if case.get("hosts") is not None:
        expected = [(h["host"], h["port"]) for h in case["hosts"]]
        assert parsed.hosts == expected
        assert [_host_type(h) for h, _ in parsed.hosts] == [h["type"] for h in case["hosts"]]
    auth = case.get("auth")
    if auth is not None:
        assert parsed.username == auth["username"]
        assert parsed.password == auth["password"]
        db = parsed.database
        if db is not None and parsed.collection is not None:
            db = f"{db}.{parsed.collection}"
        assert db == auth["db"]
    for name, value in (case.get("options") or {}).items():
        assert name in parsed.options, f"option {name} missing from {dict(parsed.options)}"
        assert parsed.options[name] == value, name


def _run(case: dict[str, Any] | None, suite: str) -> None:
    if case is None:
        missing(suite)
        return
    run_case(case)


@pytest.mark.parametrize("case", _cases("connection-string"))
def test_connection_string(case: dict[str, Any] | None) -> None:
    _run(case, "connection-string")


@pytest.mark.parametrize("case", _cases("uri-options"))
def test_uri_options(case: dict[str, Any] | None) -> None:
    _run(case, "uri-options")


def test_case_counts_match_the_suites() -> None:
    """The runner sees every case the README counts (98 and 159)."""
    counts = {
        suite: sum(len(load(p)["tests"]) for p in spec_files(suite))
        for suite in ("connection-string", "uri-options")
    }
    if not all(counts.values()):
        missing("connection-string")
    assert counts == {"connection-string": 98, "uri-options": 159}
