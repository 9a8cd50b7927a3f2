"""SRV/TXT resolution against the stub DNS server: transports, failures, validation."""

from __future__ import annotations

import random
import time

import dns.resolver
import pytest

from driver.connection_string.srv import (
    resolve_connection_string,
    resolve_srv,
    resolve_txt,
    select_hosts,
    target_is_valid,
)
from driver.connection_string.uri import parse_uri
from driver.errors import ConfigurationError
from tests.timing import assert_prompt
from tests.uri.dns_server import StubDnsServer


def test_large_answer_is_truncated_over_udp_and_read_over_tcp(dns_server: StubDnsServer) -> None:
    targets = [(f"mongos-{i:03d}.shard.example.com", 27017) for i in range(80)]
    dns_server.set_srv("_mongodb._tcp.big.example.com", targets)
    records = resolve_srv("big.example.com", resolver=dns_server.resolver())
    assert sorted(records.hosts) == sorted(targets)
    assert dns_server.queries[("_mongodb._tcp.big.example.com", "SRV", "udp")] >= 1
    assert dns_server.queries[("_mongodb._tcp.big.example.com", "SRV", "tcp")] == 1


def test_ttl_of_the_answer_is_reported(dns_server: StubDnsServer) -> None:
    dns_server.set_srv("_mongodb._tcp.t.example.com", [("a.example.com", 1)], ttl=123)
    assert resolve_srv("t.example.com", resolver=dns_server.resolver()).ttl == 123


def test_nxdomain_is_a_configuration_error_naming_the_record(dns_server: StubDnsServer) -> None:
    with pytest.raises(ConfigurationError, match=r"_mongodb\._tcp\.nope\.example\.com.*NXDOMAIN"):
        resolve_srv("nope.example.com", resolver=dns_server.resolver())


def test_timeout_is_a_configuration_error_naming_the_record(dns_server: StubDnsServer) -> None:
    dns_server.silent.add("_mongodb._tcp.slow.example.com")
    started = time.monotonic()
    with pytest.raises(ConfigurationError, match=r"_mongodb\._tcp\.slow\.example\.com.*timed out"):
        resolve_srv("slow.example.com", resolver=dns_server.resolver(), lifetime=0.3)
    assert_prompt(time.monotonic() - started, "an SRV lookup with a 0.3 s lifetime")


def test_callable_resolver_is_accepted() -> None:
    def fake(name: str, rdtype: str) -> list[object]:
        if rdtype == "SRV":
            assert name == "_custom._tcp.db.example.com"
            return [("node.db.example.com.", 27020)]
        raise dns.resolver.NoAnswer

    cs = parse_uri("mongodb+srv://db.example.com/?srvServiceName=custom")
    resolution = resolve_connection_string(cs, resolver=fake)
    assert resolution.seeds == [("node.db.example.com", 27020)]
    assert resolution.options["tls"] is True and not resolution.txt_options


def test_txt_strings_are_concatenated_and_typed(dns_server: StubDnsServer) -> None:
    dns_server.set_txt("x.example.com", [["loadBalanced=tr", "ue&authSource=a"]])
    options = resolve_txt("x.example.com", resolver=dns_server.resolver())
    assert dict(options) == {"loadBalanced": True, "authSource": "a"}


def test_txt_invalid_value_is_an_error(dns_server: StubDnsServer) -> None:
    dns_server.set_txt("x.example.com", [["loadBalanced=yes"]])
    with pytest.raises(ConfigurationError, match="loadBalanced"):
        resolve_txt("x.example.com", resolver=dns_server.resolver())


@pytest.mark.parametrize(
    ("srv_host", "target", "ok"),
    [
        ("a.b.example.com", "n.b.example.com", True),
        ("a.b.example.com", "b.example.com", False),
        ("a.b.example.com", "n.evilb.example.com", False),
        ("localhost", "n.localhost", True),
        ("localhost", "localhost", False),
        ("mongodb.local", "x.mongodb.local", True),
        ("mongodb.local", "mongodb.local", False),
        ("mongodb.local", "x.other.local", False),
    ],
)
def test_parent_domain_rule(srv_host: str, target: str, ok: bool) -> None:
    assert target_is_valid(srv_host, target) is ok


def test_srv_max_hosts_picks_a_random_subset() -> None:
    hosts = [(f"h{i}", 27017) for i in range(10)]
    picks = {tuple(select_hosts(hosts, 3, random.Random(seed))) for seed in range(20)}
    assert all(len(p) == 3 and set(p) <= set(hosts) for p in picks)
    assert len(picks) > 1
    assert select_hosts(hosts, 0) == hosts and select_hosts(hosts, 10) == hosts


def test_srv_max_hosts_limits_seeds_end_to_end(dns_server: StubDnsServer) -> None:
    targets = [(f"n{i}.c.example.com", 27017) for i in range(5)]
    dns_server.set_srv("_mongodb._tcp.c.example.com", targets)
    cs = parse_uri("mongodb+srv://c.example.com/?srvMaxHosts=2")
    resolution = resolve_connection_string(cs, resolver=dns_server.resolver())
    assert len(resolution.seeds) == 2 and set(resolution.seeds) <= set(targets)
    assert sorted(resolution.all_hosts) == targets
