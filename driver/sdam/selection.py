"""Server selection over a ``TopologyDescription`` (the server selection spec).

``select_servers(td, selector, local_threshold_ms, deprioritized)`` returns the
suitable servers inside the latency window; ``choose_server`` then applies the
"power of two choices" by in-flight operation count. Selectors are read
preferences (``driver.read_preferences``), ``writable_server_selector``,
``any_server_selector`` or ``AddressSelector``. Pure: no I/O, no locks.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Collection, Mapping, Sequence
from typing import Any

from driver.errors import ConfigurationError
from driver.read_preferences import (
    NEAREST_MODE,
    PRIMARY_MODE,
    PRIMARY_PREFERRED_MODE,
    SECONDARY_MODE,
    SECONDARY_PREFERRED_MODE,
    SMALLEST_MAX_STALENESS_SECONDS,
    ServerMode,
)
from driver.sdam.server_description import ServerDescription
from driver.sdam.topology_description import TopologyDescription
from driver.sdam.types import Address, ServerType, TopologyType, format_address

# "idleWritePeriodMS is defined to be 10 seconds in the Max Staleness spec".
IDLE_WRITE_PERIOD_MS = 10_000


class ServerSelector:
    """Base of the non-read-preference selectors: picks the suitable servers."""

    is_write = False

    def suitable(self, td: TopologyDescription, servers: list[ServerDescription]
                 ) -> list[ServerDescription]:
        raise NotImplementedError

    def __repr__(self) -> str:
        return type(self).__name__


class _WritableSelector(ServerSelector):
    is_write = True

    def suitable(self, td: TopologyDescription, servers: list[ServerDescription]
                 ) -> list[ServerDescription]:
        kind = td.topology_type
        if kind == TopologyType.Single:
            return [sd for sd in servers if sd.is_server_type_known]
        if kind == TopologyType.ReplicaSetWithPrimary:
            return [sd for sd in servers if sd.server_type == ServerType.RSPrimary]
        if kind == TopologyType.Sharded:
            return [sd for sd in servers if sd.server_type == ServerType.Mongos]
        if kind == TopologyType.LoadBalanced:
            return [sd for sd in servers if sd.server_type == ServerType.LoadBalancer]
        return []

    def __repr__(self) -> str:
        return "writable server"


class _AnySelector(ServerSelector):
    def suitable(self, td: TopologyDescription, servers: list[ServerDescription]
                 ) -> list[ServerDescription]:
        return [sd for sd in servers if sd.is_data_bearing]

    def __repr__(self) -> str:
        return "any data-bearing server"


class AddressSelector(ServerSelector):
    """The one server at ``address``, once it is known (e.g. for a cursor's getMore)."""

    def __init__(self, address: Address) -> None:
        self.address = address

    def suitable(self, td: TopologyDescription, servers: list[ServerDescription]
                 ) -> list[ServerDescription]:
        return [sd for sd in servers if sd.address == self.address and sd.is_server_type_known]

    def __repr__(self) -> str:
        return f"server at {format_address(self.address)}"


writable_server_selector = _WritableSelector()
any_server_selector = _AnySelector()

#: What ``select_servers`` accepts: a read preference or one of the selectors above.
Selector = ServerMode | ServerSelector


def describe_selector(selector: Selector) -> str:
    """How a selector reads in error messages, e.g. ``Secondary(tag_sets=[{}], ...)``."""
    return repr(selector)


# --- maxStalenessSeconds --------------------------------------------------------------------


def validate_max_staleness(read_preference: ServerMode, td: TopologyDescription) -> None:
    """Raise ``ConfigurationError`` for a maxStalenessSeconds the spec forbids.

    "A driver MUST raise an error if the TopologyType is ReplicaSetWithPrimary or
    ReplicaSetNoPrimary and either of these conditions is false:
    maxStalenessSeconds * 1000 >= heartbeatFrequencyMS + idleWritePeriodMS;
    maxStalenessSeconds >= smallestMaxStalenessSeconds".
    """
    max_staleness = read_preference.max_staleness
    if max_staleness <= 0 or td.topology_type not in (
        TopologyType.ReplicaSetWithPrimary, TopologyType.ReplicaSetNoPrimary
    ):
        return
    heartbeat_ms = td.heartbeat_frequency_ms
    smallest = max(SMALLEST_MAX_STALENESS_SECONDS, -(-(heartbeat_ms + IDLE_WRITE_PERIOD_MS) // 1000))
    if max_staleness * 1000 < heartbeat_ms + IDLE_WRITE_PERIOD_MS \
            or max_staleness < SMALLEST_MAX_STALENESS_SECONDS:
        raise ConfigurationError(
            f"maxStalenessSeconds={max_staleness} is too small: it must be at least "
            f"{SMALLEST_MAX_STALENESS_SECONDS} seconds and at least heartbeatFrequencyMS "
            f"({heartbeat_ms}) + {IDLE_WRITE_PERIOD_MS} ms, i.e. at least {smallest} here"
        )


def _filter_staleness(td: TopologyDescription, candidates: list[ServerDescription],
                      max_staleness: int) -> list[ServerDescription]:
    if max_staleness <= 0:
        return candidates
    heartbeat = td.heartbeat_frequency_ms / 1000.0
    servers = td.server_descriptions().values()
    primary = next((sd for sd in servers if sd.server_type == ServerType.RSPrimary), None)
    result = []
    if primary is not None:
        p_lag = primary.last_update_time - (primary.last_write_date or 0.0)
        for sd in candidates:
            if sd.server_type != ServerType.RSSecondary:
                result.append(sd)
                continue
            staleness = (sd.last_update_time - (sd.last_write_date or 0.0)) - p_lag + heartbeat
            if staleness <= max_staleness:
                result.append(sd)
        return result
    secondaries = [sd for sd in servers if sd.server_type == ServerType.RSSecondary]
    newest = max((sd.last_write_date or 0.0 for sd in secondaries), default=0.0)
    for sd in candidates:
        if sd.server_type != ServerType.RSSecondary:
            result.append(sd)
            continue
        if newest - (sd.last_write_date or 0.0) + heartbeat <= max_staleness:
            result.append(sd)
    return result


def _filter_tags(candidates: list[ServerDescription], tag_sets: Sequence[Mapping[str, Any]]
                 ) -> list[ServerDescription]:
    # "tag sets are tried in order until a tag set matches at least one candidate server"
    if not tag_sets:
        return candidates
    for tag_set in tag_sets:
        matching = [sd for sd in candidates
                    if all(sd.tags.get(k) == v for k, v in tag_set.items())]
        if matching:
            return matching
    return []


def _read_suitable(td: TopologyDescription, servers: list[ServerDescription],
                   read_preference: ServerMode) -> list[ServerDescription]:
    kind = td.topology_type
    if kind == TopologyType.Single:
        # "read preference is ignored during server selection with topology type Single"
        return [sd for sd in servers if sd.is_server_type_known]
    if kind == TopologyType.Sharded:
        return [sd for sd in servers if sd.server_type == ServerType.Mongos]
    if kind == TopologyType.LoadBalanced:
        return [sd for sd in servers if sd.server_type == ServerType.LoadBalancer]
    if kind not in (TopologyType.ReplicaSetWithPrimary, TopologyType.ReplicaSetNoPrimary):
        return []
    primaries = [sd for sd in servers if sd.server_type == ServerType.RSPrimary]
    secondaries = [sd for sd in servers if sd.server_type == ServerType.RSSecondary]
    mode = read_preference.mode

    def eligible(candidates: list[ServerDescription]) -> list[ServerDescription]:
        fresh = _filter_staleness(td, candidates, read_preference.max_staleness)
        return _filter_tags(fresh, read_preference.tag_sets)

    if mode == PRIMARY_MODE:
        return primaries
    if mode == PRIMARY_PREFERRED_MODE:
        return primaries or eligible(secondaries)
    if mode == SECONDARY_MODE:
        return eligible(secondaries)
    if mode == SECONDARY_PREFERRED_MODE:
        return eligible(secondaries) or primaries
    if mode == NEAREST_MODE:
        return eligible(primaries + secondaries)
    raise ConfigurationError(f"unknown read preference mode {mode!r}")


def suitable_servers(td: TopologyDescription, selector: Selector,
                     excluded: Collection[Address] = ()) -> list[ServerDescription]:
    """The suitable servers for ``selector``, ignoring those at ``excluded`` addresses."""
    servers = [sd for a, sd in td.server_descriptions().items() if a not in excluded]
    if isinstance(selector, ServerMode):
        return _read_suitable(td, servers, selector)
    if isinstance(selector, ServerSelector):
        return selector.suitable(td, servers)
    raise TypeError(f"selector must be a read preference or a ServerSelector, not {selector!r}")


def suitable_with_deprioritized(td: TopologyDescription, selector: Selector,
                                deprioritized: Collection[Address] = ()
                                ) -> list[ServerDescription]:
    """Suitable servers avoiding ``deprioritized`` ones unless nothing else is suitable."""
    suitable = suitable_servers(td, selector, deprioritized) if deprioritized else []
    return suitable or suitable_servers(td, selector)


def in_latency_window(servers: Sequence[ServerDescription], local_threshold_ms: float
                      ) -> list[ServerDescription]:
    """Servers whose average RTT is within ``local_threshold_ms`` of the fastest one."""
    if len(servers) <= 1:
        return list(servers)
    fastest = min(sd.round_trip_time or 0.0 for sd in servers)
    limit = fastest + local_threshold_ms / 1000.0
    return [sd for sd in servers if (sd.round_trip_time or 0.0) <= limit + 1e-9]


def select_servers(
    td: TopologyDescription,
    selector: Selector,
    local_threshold_ms: float = 15,
    deprioritized: Collection[Address] = (),
    custom_selector: Callable[[list[ServerDescription]], list[ServerDescription]] | None = None,
) -> list[ServerDescription]:
    """Suitable servers within the latency window (server selection spec, steps 3-5).

    "Filter out any deprioritized server addresses ... If there are no suitable
    servers, perform the previous step again without filtering out deprioritized
    servers." Raises ``ConfigurationError`` for a forbidden maxStalenessSeconds.
    """
    if isinstance(selector, ServerMode):
        validate_max_staleness(selector, td)
    suitable = suitable_with_deprioritized(td, selector, deprioritized)
    if custom_selector is not None and suitable:
        suitable = list(custom_selector(suitable))
    return in_latency_window(suitable, local_threshold_ms)


def choose_server(
    servers: Sequence[ServerDescription],
    operation_counts: Mapping[Address, int],
    rng: random.Random | None = None,
) -> ServerDescription:
    """"Choose two servers at random ... select the one with the lower operationCount"."""
    if not servers:
        raise ValueError("choose_server needs at least one server")
    if len(servers) == 1:
        return servers[0]
    chooser = rng if rng is not None else random
    first, second = chooser.sample(list(servers), 2)
    first_count = operation_counts.get(first.address, 0)
    second_count = operation_counts.get(second.address, 0)
    return first if first_count <= second_count else second


__all__ = [
    "AddressSelector",
    "IDLE_WRITE_PERIOD_MS",
    "Selector",
    "ServerSelector",
    "any_server_selector",
    "choose_server",
    "describe_selector",
    "in_latency_window",
    "select_servers",
    "suitable_servers",
    "suitable_with_deprioritized",
    "validate_max_staleness",
    "writable_server_selector",
]
