"""Spec runner: ``initial-dns-seedlist-discovery``, served by a local DNS server.

Every case goes through ``ClientOptions.from_inputs`` with a dnspython resolver pointed
at ``StubDnsServer`` (real UDP packets on 127.0.0.1), and checks ``seeds``,
``numSeeds``, ``options`` and ``parsed_options``, or that an ``error`` case raises.
By rule, ``hosts``, ``numHosts`` and ``ping`` are not checked: they describe what a
live cluster reports after discovery (upstream runs a TLS replica set on
localhost:27017-27019), which this offline runner does not have.
"""

from __future__ import annotations

import warnings
from typing import Any

import pytest

from driver.connection_string.client_options import ClientOptions
from driver.errors import ConfigurationError
from tests.specdata import load, missing, params_or_missing, spec_files
from tests.uri.dns_server import StubDnsServer

pytestmark = pytest.mark.spec

SUITE = "initial-dns-seedlist-discovery"
# One entry per skipped file (relative path) -> reason; empty: every file runs.
SKIPS: dict[str, str] = {}
LIVE_ONLY_FIELDS = ("hosts", "numHosts", "ping")


def _cases() -> list[Any]:
    params = []
    for path in spec_files(SUITE, "*/*.json"):
        name = f"{path.parent.name}/{path.name}"
        marks = [pytest.mark.skip(reason=SKIPS[name])] if name in SKIPS else []
        params.append(pytest.param(load(path), id=name, marks=marks))
    return params_or_missing(params)


def _resolve(case: dict[str, Any], server: StubDnsServer) -> ClientOptions:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        return ClientOptions.from_inputs(case["uri"], None, {"dns_resolver": server.resolver()})


@pytest.mark.parametrize("case", _cases())
def test_seedlist_discovery(case: dict[str, Any] | None, spec_dns: StubDnsServer) -> None:
    if case is None:
        missing(SUITE)
        return
    if case.get("error"):
        with pytest.raises(ConfigurationError):
            _resolve(case, spec_dns)
        return
    options = _resolve(case, spec_dns)
    seeds = [f"{host}:{port}" for host, port in options.seeds]
    if "seeds" in case:
        assert sorted(seeds) == sorted(case["seeds"])
    if "numSeeds" in case:
        assert len(seeds) == case["numSeeds"]
        assert set(options.seeds) <= set(options.srv_resolution.all_hosts)  # type: ignore[union-attr]
    for name, value in (case.get("options") or {}).items():
        key = "tls" if name == "ssl" else name
        assert options.options.get(key) == value, name
    assert options.tls == (case.get("options") or {}).get("ssl", True)
    parsed = case.get("parsed_options") or {}
    if "user" in parsed:
        assert options.connection_string.username == parsed["user"]
    if "password" in parsed:
        assert options.connection_string.password == parsed["password"]
    for key in ("db", "auth_database", "defaultDatabase"):
        if key in parsed:
            assert options.database == parsed[key]


def test_every_file_is_collected() -> None:
    files = spec_files(SUITE, "*/*.json")
    if not files:
        missing(SUITE)
    assert len(files) == 53
    live_only = [p for p in files if set(load(p)) & set(LIVE_ONLY_FIELDS)]
    assert live_only  # these fields are ignored by rule, as the module docstring says
