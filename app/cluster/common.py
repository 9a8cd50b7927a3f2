"""Shared pieces of the cluster views: the ``ClusterSource`` they reach the connection
through, and plain words for driver errors and wire versions.

The views never hold the driver client: they ask a source for admin commands (run on
the service's worker pool, so the GUI thread never waits on the network), for the RTT
samples (the client's public ``rtt_samples``) and for the current topology description
(both in-memory reads that take the driver's lock for microseconds). ``ServiceClusterSource`` adapts
``app.services.client_service.ClientService`` through its public ``admin_command``,
``rtt_samples`` and ``topology_description``.

``plain_error`` turns an exception into one sentence a user can act on;
``server_version_for_wire`` names the MongoDB release that introduced a wire version.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Protocol

Address = tuple[str, int]


class ClusterSource(Protocol):
    async def admin_command(self, name: str, value: Any = 1, **fields: Any) -> dict[str, Any]:
        """Run ``{name: value, **fields}`` on the admin database; raise driver errors."""

    def rtt_samples(self, address: Address) -> list[tuple[float, float]]:
        """``(epoch s, rtt s)`` pairs of the RTT monitor (empty if unknown)."""

    def topology_description(self) -> Any | None:
        """The client's current ``TopologyDescription`` (None before opening)."""


class ServiceClusterSource:
    """A ``ClusterSource`` over an open ``ClientService``, through its public methods."""

    def __init__(self, service: Any) -> None:
        self._service = service

    async def admin_command(self, name: str, value: Any = 1, **fields: Any) -> dict[str, Any]:
        reply: dict[str, Any] = dict(await self._service.admin_command(name, value, **fields))
        return reply

    def rtt_samples(self, address: Address) -> list[tuple[float, float]]:
        return list(self._service.rtt_samples(address))

    def topology_description(self) -> Any | None:
        return self._service.topology_description()


class ClientSource:
    """A ``ClusterSource`` over a driver client and a ``WorkerPool`` (tests, the demo)."""

    def __init__(self, client: Any, pool: Any) -> None:
        self._client = client
        self._pool = pool

    async def admin_command(self, name: str, value: Any = 1, **fields: Any) -> dict[str, Any]:
        spec: Mapping[str, Any] = {name: value, **fields}
        result: dict[str, Any] = await self._pool.submit(_run_admin, self._client, spec)
        return result

    def rtt_samples(self, address: Address) -> list[tuple[float, float]]:
        from app.services.client_service import client_rtt_samples

        return client_rtt_samples(self._client, address)

    def topology_description(self) -> Any | None:
        return self._client.topology_description


def _run_admin(client: Any, spec: Mapping[str, Any]) -> dict[str, Any]:
    """Worker thread: the command on admin, answered by the primary if there is one and
    by any member while the set elects (a status poll must not wait for an election)."""
    from driver.read_preferences import ReadPreference

    return dict(client.admin.command(dict(spec),
                                     read_preference=ReadPreference.PRIMARY_PREFERRED))


# -- plain words ----------------------------------------------------------------------

# maxWireVersion → the first MongoDB release that reports it (from the server's
# release notes; the table only needs to be right for the versions people meet).
_WIRE_TO_RELEASE = (
    (0, "2.4"), (2, "2.6"), (3, "3.0"), (4, "3.2"), (5, "3.4"), (6, "3.6"), (7, "4.0"),
    (8, "4.2"), (9, "4.4"), (13, "5.0"), (14, "5.1"), (15, "5.2"), (16, "5.3"), (17, "6.0"),
    (18, "6.1"), (19, "6.2"), (20, "6.3"), (21, "7.0"), (22, "7.1"), (23, "7.2"), (24, "7.3"),
    (25, "8.0"), (26, "8.1"), (27, "8.2"),
)


def server_version_for_wire(max_wire_version: int) -> str:
    """``21`` → ``"7.0"``: the release line that reports this wire version."""
    release = _WIRE_TO_RELEASE[0][1]
    for wire, name in _WIRE_TO_RELEASE:
        if max_wire_version >= wire:
            release = name
    return release


_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"connection refused|errno 111", re.I),
     "connection refused: nothing is listening at that address (is the server running, "
     "is the port right?)"),
    (re.compile(r"timed out|timeout", re.I),
     "no answer in time: the server is slow, down, or a firewall drops the packets"),
    (re.compile(r"hostname mismatch|doesn't match|does not match|IP address mismatch", re.I),
     "the server's TLS certificate is not valid for this host name"),
    (re.compile(r"unable to get local issuer|self[- ]signed|certificate verify failed", re.I),
     "the server's TLS certificate was not signed by a trusted CA (set tlsCAFile)"),
    (re.compile(r"certificate has expired", re.I), "the server's TLS certificate has expired"),
    (re.compile(r"name or service not known|nodename nor servname|getaddrinfo|"
                r"temporary failure in name resolution|no address associated", re.I),
     "the host name does not resolve (DNS)"),
    (re.compile(r"connection reset|connection closed|broken pipe|eof", re.I),
     "the connection was closed by the other side"),
    (re.compile(r"authentication failed", re.I),
     "authentication failed: check user name, password, mechanism and authSource"),
    (re.compile(r"not (writable )?primary|notwritableprimary|node is recovering|"
                r"interrupted due to repl state change", re.I),
     "this member stopped being primary (a stepdown or an election is under way)"),
)


def plain_error(error: BaseException | str | None) -> str:
    """One sentence for an error, with the original message kept short after it."""
    if error is None:
        return ""
    text = str(error) or type(error).__name__
    for pattern, words in _PATTERNS:
        if pattern.search(text):
            detail = text if len(text) <= 160 else text[:157] + "…"
            return f"{words} ({detail})"
    return text if len(text) <= 240 else text[:237] + "…"


__all__ = ["ClientSource", "ClusterSource", "ServiceClusterSource", "plain_error",
           "server_version_for_wire"]
