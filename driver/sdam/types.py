"""Enumerations and small shared helpers of server discovery and monitoring.

``ServerType`` and ``TopologyType`` carry the SDAM specification's names (also
exposed under PyMongo's spellings ``SERVER_TYPE`` and ``TOPOLOGY_TYPE``); the
address helpers turn ``"Host:27017"`` / ``"[::1]:27017"`` into the normalised
``(host, port)`` tuples every other module uses as keys. Pure, no I/O.
"""

from __future__ import annotations

from enum import IntEnum
from typing import Any

#: ``(host, port)`` with the host lower-cased ("Hostnames are normalized to lower-case").
Address = tuple[str, int]

DEFAULT_PORT = 27017

# The wire versions this driver speaks: MongoDB 4.2 (wire version 8) and newer.
MIN_SUPPORTED_WIRE_VERSION = 8
MAX_SUPPORTED_WIRE_VERSION = 27
# The MongoDB release that introduced MIN_SUPPORTED_WIRE_VERSION, for the error text.
MIN_SUPPORTED_MONGODB_VERSION = "4.2"
DRIVER_NAME = "Binnacle"


class ServerType(IntEnum):
    """The kind of a single server, as the SDAM spec's ``ServerType``."""

    Unknown = 0
    Mongos = 1
    RSPrimary = 2
    RSSecondary = 3
    RSArbiter = 4
    RSOther = 5
    RSGhost = 6
    Standalone = 7
    LoadBalancer = 8


class TopologyType(IntEnum):
    """The kind of the whole deployment, as the SDAM spec's ``TopologyType``."""

    Single = 0
    ReplicaSetNoPrimary = 1
    ReplicaSetWithPrimary = 2
    Sharded = 3
    Unknown = 4
    LoadBalanced = 5


#: PyMongo's names for the same enumerations.
SERVER_TYPE = ServerType
TOPOLOGY_TYPE = TopologyType

#: Server types that hold data (used for logicalSessionTimeoutMinutes and pool readiness).
DATA_BEARING_TYPES = frozenset(
    {ServerType.RSPrimary, ServerType.RSSecondary, ServerType.Mongos, ServerType.Standalone,
     ServerType.LoadBalancer}
)
REPLICA_SET_MEMBER_TYPES = frozenset(
    {ServerType.RSPrimary, ServerType.RSSecondary, ServerType.RSArbiter, ServerType.RSOther}
)


def parse_address(text: str, default_port: int = DEFAULT_PORT) -> Address:
    """``"A:27018"`` → ``("a", 27018)``; ``"[::1]"`` → ``("::1", 27017)``.

    Raises ``ValueError`` naming the text when the port is not a number in 1..65535.
    """
    if not isinstance(text, str) or not text:
        raise ValueError(f"server address must be a non-empty 'host:port' string, not {text!r}")
    host, port_text = text, ""
    if text.startswith("["):
        close = text.find("]")
        if close == -1:
            raise ValueError(f"server address {text!r} has an unclosed '[' around its IPv6 host")
        host = text[1:close]
        rest = text[close + 1 :]
        if rest:
            if not rest.startswith(":"):
                raise ValueError(f"server address {text!r}: expected ':port' after ']'")
            port_text = rest[1:]
    elif text.count(":") == 1:
        host, port_text = text.split(":")
    port = default_port
    if port_text:
        if not port_text.isdigit() or not 0 < int(port_text) < 65536:
            raise ValueError(f"server address {text!r} has an invalid port {port_text!r}")
        port = int(port_text)
    return host.lower(), port


def normalize_address(value: Any) -> Address:
    """Accept ``"host:port"`` or a ``(host, port)`` pair; return the normalised tuple."""
    if isinstance(value, str):
        return parse_address(value)
    if isinstance(value, tuple) and len(value) == 2:
        host, port = value
        if isinstance(host, str) and isinstance(port, int) and not isinstance(port, bool):
            return host.lower(), port
    raise ValueError(f"server address must be 'host:port' or (host, port), not {value!r}")


def format_address(address: Address) -> str:
    """``("localhost", 27017)`` → ``"localhost:27017"``; IPv6 hosts get brackets."""
    host, port = address
    if ":" in host:
        return f"[{host}]:{port}"
    return f"{host}:{port}"


__all__ = [
    "Address",
    "DATA_BEARING_TYPES",
    "DEFAULT_PORT",
    "MAX_SUPPORTED_WIRE_VERSION",
    "MIN_SUPPORTED_WIRE_VERSION",
    "REPLICA_SET_MEMBER_TYPES",
    "SERVER_TYPE",
    "ServerType",
    "TOPOLOGY_TYPE",
    "TopologyType",
    "format_address",
    "normalize_address",
    "parse_address",
]
