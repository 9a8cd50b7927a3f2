"""Fixtures of the URI/SRV tests: a stub DNS server loaded with the spec's records."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.specdata import load, specs_dir
from tests.uri.dns_server import StubDnsServer


@pytest.fixture(scope="module")
def spec_dns() -> Iterator[StubDnsServer]:
    """A server answering with ``initial-dns-seedlist-discovery/dns-records.json``
    (empty when the spec data is absent; the runner then skips)."""
    path = specs_dir() / "initial-dns-seedlist-discovery" / "dns-records.json"
    records = load(path) if path.is_file() else {}
    with StubDnsServer(records) as server:
        yield server


@pytest.fixture
def dns_server() -> Iterator[StubDnsServer]:
    """An empty server for one test to fill."""
    with StubDnsServer() as server:
        yield server
