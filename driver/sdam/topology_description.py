"""``TopologyDescription`` and ``updated_topology_description``: SDAM as pure functions.

Every transition of the SDAM specification's "Updating the TopologyDescription"
(the TopologyType table and its subroutines updateRSFromPrimary,
updateRSWithoutPrimary, updateRSWithPrimaryFromMember, checkIfHasPrimary,
updateUnknownWithStandalone) maps an old description and one new
``ServerDescription`` to a new description. Nothing here mutates, locks or does I/O.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from driver.errors import ConfigurationError
from driver.sdam.error_rules import compare_topology_versions
from driver.sdam.server_description import ServerDescription
from driver.sdam.settings import TopologySettings
from driver.sdam.types import (
    DATA_BEARING_TYPES,
    DRIVER_NAME,
    MAX_SUPPORTED_WIRE_VERSION,
    MIN_SUPPORTED_MONGODB_VERSION,
    MIN_SUPPORTED_WIRE_VERSION,
    REPLICA_SET_MEMBER_TYPES,
    Address,
    ServerType,
    TopologyType,
    format_address,
)

# The ServerDescription.error substrings the SDAM spec and its tests require.
STALE_PRIMARY_MESSAGE = "primary marked stale due to electionId/setVersion mismatch"
NEWER_PRIMARY_MESSAGE = "primary marked stale due to discovery of newer primary"


class StalePrimaryError(Exception):
    """The ``error`` of a primary that SDAM invalidated (it holds no server reply)."""


def _compatibility_error(servers: Iterable[ServerDescription]) -> str | None:
    """SDAM spec, "Checking wire protocol compatibility" (first incompatible server wins)."""
    for sd in servers:
        if sd.server_type in (ServerType.Unknown, ServerType.LoadBalancer):
            continue
        where = format_address(sd.address)
        if sd.min_wire_version > MAX_SUPPORTED_WIRE_VERSION:
            return (
                f"Server at {where} requires wire version {sd.min_wire_version}, but this "
                f"version of {DRIVER_NAME} only supports up to {MAX_SUPPORTED_WIRE_VERSION}."
            )
        if sd.max_wire_version < MIN_SUPPORTED_WIRE_VERSION:
            return (
                f"Server at {where} reports wire version {sd.max_wire_version}, but this "
                f"version of {DRIVER_NAME} requires at least {MIN_SUPPORTED_WIRE_VERSION} "
                f"(MongoDB {MIN_SUPPORTED_MONGODB_VERSION})."
            )
    return None


class TopologyDescription:
    """What the driver believes about the whole deployment (immutable)."""

    __slots__ = ("_type", "_servers", "_set_name", "_max_set_version", "_max_election_id",
                 "_settings", "_compat_error", "_session_timeout")

    def __init__(
        self,
        topology_type: TopologyType,
        server_descriptions: Mapping[Address, ServerDescription],
        replica_set_name: str | None,
        max_set_version: int | None,
        max_election_id: Any,
        topology_settings: TopologySettings,
    ) -> None:
        self._type = topology_type
        self._servers = dict(server_descriptions)
        self._set_name = replica_set_name
        self._max_set_version = max_set_version
        self._max_election_id = max_election_id
        self._settings = topology_settings
        self._compat_error = _compatibility_error(self._servers.values())
        # "Logical Session Timeout": the smallest value among data-bearing servers; null
        # if any of them has none.
        timeouts = [sd.logical_session_timeout_minutes for sd in self._servers.values()
                    if sd.server_type in DATA_BEARING_TYPES]
        if not timeouts or any(t is None for t in timeouts):
            self._session_timeout: int | None = None
        else:
            self._session_timeout = min(t for t in timeouts if t is not None)

    @classmethod
    def initial(cls, settings: TopologySettings) -> TopologyDescription:
        """The description before any check: every seed Unknown (a LoadBalancer if load balanced)."""
        topology_type = settings.initial_topology_type
        if topology_type == TopologyType.LoadBalanced:
            servers = {a: ServerDescription.load_balancer(a) for a in settings.normalized_seeds}
        else:
            servers = {a: ServerDescription.unknown(a) for a in settings.normalized_seeds}
        return cls(topology_type, servers, settings.replica_set_name, None, None, settings)

    def with_servers(self, servers: Mapping[Address, ServerDescription],
                     topology_type: TopologyType | None = None) -> TopologyDescription:
        """A copy with another server map (and optionally another type)."""
        return TopologyDescription(
            self._type if topology_type is None else topology_type, servers, self._set_name,
            self._max_set_version, self._max_election_id, self._settings,
        )

    # --- PyMongo's names --------------------------------------------------------------------

    @property
    def topology_type(self) -> TopologyType:
        return self._type

    @property
    def topology_type_name(self) -> str:
        return self._type.name

    def server_descriptions(self) -> dict[Address, ServerDescription]:
        """A copy of the address → ServerDescription map."""
        return dict(self._servers)

    @property
    def replica_set_name(self) -> str | None:
        return self._set_name

    @property
    def max_set_version(self) -> int | None:
        return self._max_set_version

    @property
    def max_election_id(self) -> Any:
        return self._max_election_id

    @property
    def topology_settings(self) -> TopologySettings:
        return self._settings

    @property
    def heartbeat_frequency_ms(self) -> int:
        return int(self._settings.heartbeat_frequency_ms)

    @property
    def logical_session_timeout_minutes(self) -> int | None:
        return self._session_timeout

    @property
    def compatible(self) -> bool:
        return self._compat_error is None

    @property
    def compatibility_error(self) -> str | None:
        return self._compat_error

    def check_compatible(self) -> None:
        """Raise ``ConfigurationError`` with the spec's text when a server is incompatible."""
        if self._compat_error is not None:
            raise ConfigurationError(self._compat_error)

    @property
    def known_servers(self) -> list[ServerDescription]:
        return [sd for sd in self._servers.values() if sd.is_server_type_known]

    @property
    def has_known_servers(self) -> bool:
        return any(sd.is_server_type_known for sd in self._servers.values())

    @property
    def readable_servers(self) -> list[ServerDescription]:
        return [sd for sd in self._servers.values() if sd.is_readable]

    @property
    def common_wire_version(self) -> int | None:
        versions = [sd.max_wire_version for sd in self.known_servers]
        return min(versions) if versions else None

    def _equality_key(self) -> tuple[Any, ...]:
        return (self._type, self._set_name, self._max_set_version, repr(self._max_election_id),
                self._compat_error, self._session_timeout,
                tuple(sorted((a, sd._equality_key()) for a, sd in self._servers.items())))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, TopologyDescription):
            return NotImplemented
        return self._equality_key() == other._equality_key()

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        servers = ", ".join(repr(sd) for sd in self._servers.values())
        return (f"<TopologyDescription type={self._type.name} set_name={self._set_name!r} "
                f"servers=[{servers}]>")


# --- the update function ----------------------------------------------------------------------


def _oid_key(value: Any) -> bytes:
    """An ObjectId (ours or anything with ``.binary``), bytes, or hex text, as comparable bytes."""
    binary = getattr(value, "binary", None)
    if isinstance(binary, bytes):
        return binary
    if isinstance(value, bytes):
        return value
    return bytes.fromhex(str(value))


def _election_tuple_less(sd_eid: Any, sd_sv: int | None, max_eid: Any, max_sv: int | None) -> bool:
    """(electionId, setVersion) ordering where a null sorts below every value."""
    left = (0 if sd_eid is None else 1, _oid_key(sd_eid) if sd_eid is not None else b"",
            0 if sd_sv is None else 1, sd_sv or 0)
    right = (0 if max_eid is None else 1, _oid_key(max_eid) if max_eid is not None else b"",
             0 if max_sv is None else 1, max_sv or 0)
    return left < right


class _Working:
    """The mutable scratch state of one update; frozen again by ``freeze``."""

    def __init__(self, td: TopologyDescription) -> None:
        self.type = td.topology_type
        self.servers = td.server_descriptions()
        self.set_name = td.replica_set_name
        self.max_set_version = td.max_set_version
        self.max_election_id = td.max_election_id
        self.settings = td.topology_settings

    def freeze(self) -> TopologyDescription:
        return TopologyDescription(self.type, self.servers, self.set_name, self.max_set_version,
                                   self.max_election_id, self.settings)

    def check_if_has_primary(self) -> None:
        has_primary = any(sd.server_type == ServerType.RSPrimary for sd in self.servers.values())
        self.type = (TopologyType.ReplicaSetWithPrimary if has_primary
                     else TopologyType.ReplicaSetNoPrimary)

    def add_members(self, sd: ServerDescription) -> None:
        for address in sorted(sd.all_hosts):
            if address not in self.servers:
                self.servers[address] = ServerDescription.unknown(address)

    def update_rs_from_primary(self, sd: ServerDescription) -> None:
        address = sd.address
        if self.set_name is None:
            self.set_name = sd.replica_set_name
        elif self.set_name != sd.replica_set_name:
            # "We found a primary but it doesn't have the setName provided by the user or
            # previously discovered."
            del self.servers[address]
            self.check_if_has_primary()
            return
        if not self._accept_election(sd):
            self.servers[address] = ServerDescription.unknown(
                address, StalePrimaryError(STALE_PRIMARY_MESSAGE))
            self.check_if_has_primary()
            return
        for other, other_sd in list(self.servers.items()):
            if other != address and other_sd.server_type == ServerType.RSPrimary:
                self.servers[other] = ServerDescription.unknown(
                    other, StalePrimaryError(NEWER_PRIMARY_MESSAGE))
        self.add_members(sd)
        for other in list(self.servers):
            if other not in sd.all_hosts:
                del self.servers[other]
        self.check_if_has_primary()

    def _accept_election(self, sd: ServerDescription) -> bool:
        """Update maxElectionId/maxSetVersion, or return False for a stale primary."""
        eid, sv = sd.election_id, sd.set_version
        if sd.max_wire_version >= 17:
            # MongoDB 6.0+: electionId first, then setVersion; nulls sort lowest.
            if _election_tuple_less(eid, sv, self.max_election_id, self.max_set_version):
                return False
            self.max_election_id, self.max_set_version = eid, sv
            return True
        # Before 6.0: setVersion is compared before electionId, and only when all are known.
        if eid is not None and sv is not None:
            max_eid, max_sv = self.max_election_id, self.max_set_version
            if max_eid is not None and max_sv is not None:
                if max_sv > sv or (max_sv == sv and _oid_key(max_eid) > _oid_key(eid)):
                    return False
            self.max_election_id = eid
        if sv is not None and (self.max_set_version is None or sv > self.max_set_version):
            self.max_set_version = sv
        return True

    def update_rs_without_primary(self, sd: ServerDescription) -> None:
        address = sd.address
        if self.set_name is None:
            self.set_name = sd.replica_set_name
        elif self.set_name != sd.replica_set_name:
            del self.servers[address]
            return
        self.add_members(sd)
        # The "possible primary" hint matters only to single-threaded scanning; a
        # multi-threaded client treats PossiblePrimary as Unknown (SDAM spec note).
        if sd.me is not None and address != sd.me:
            del self.servers[address]

    def update_rs_with_primary_from_member(self, sd: ServerDescription) -> None:
        address = sd.address
        if self.set_name != sd.replica_set_name or (sd.me is not None and address != sd.me):
            del self.servers[address]
        self.check_if_has_primary()


def updated_topology_description(
    topology_description: TopologyDescription, server_description: ServerDescription
) -> TopologyDescription:
    """The description after one check (or application error) of one server.

    Outcomes for servers not in the description are ignored ("the client MUST ignore
    hello or legacy hello outcomes from servers that are not in the
    TopologyDescription"), and so are replies whose topologyVersion is older than
    the one we hold ("replace its description ... if and only if the new
    ServerDescription's topologyVersion is greater than or equal").
    """
    td, sd = topology_description, server_description
    current = td.server_descriptions().get(sd.address)
    if current is None:
        return td
    if compare_topology_versions(current.topology_version, sd.topology_version) > 0:
        return td
    work = _Working(td)
    work.servers[sd.address] = sd
    kind = sd.server_type

    if work.type == TopologyType.LoadBalanced:
        return td  # a load balancer is never monitored; its description never changes
    if work.type == TopologyType.Single:
        # "if the ServerDescription's setName is null or wrong, the ServerDescription MUST
        # be replaced with a default ServerDescription of type Unknown"
        if work.set_name is not None and kind != ServerType.Unknown \
                and sd.replica_set_name != work.set_name:
            work.servers[sd.address] = ServerDescription.unknown(
                sd.address, ConfigurationError(
                    f"server at {format_address(sd.address)} reports replica set name "
                    f"{sd.replica_set_name!r}, expected {work.set_name!r}"))
        return work.freeze()

    if work.type == TopologyType.Unknown:
        if kind == ServerType.Standalone:
            if len(work.settings.normalized_seeds) == 1:
                work.type = TopologyType.Single
            else:
                del work.servers[sd.address]
        elif kind == ServerType.Mongos:
            work.type = TopologyType.Sharded
        elif kind == ServerType.RSPrimary:
            work.update_rs_from_primary(sd)
        elif kind in REPLICA_SET_MEMBER_TYPES:
            work.type = TopologyType.ReplicaSetNoPrimary
            work.update_rs_without_primary(sd)
    elif work.type == TopologyType.Sharded:
        if kind not in (ServerType.Unknown, ServerType.Mongos):
            del work.servers[sd.address]
    elif work.type == TopologyType.ReplicaSetNoPrimary:
        if kind in (ServerType.Standalone, ServerType.Mongos):
            del work.servers[sd.address]
        elif kind == ServerType.RSPrimary:
            work.update_rs_from_primary(sd)
        elif kind in REPLICA_SET_MEMBER_TYPES:
            work.update_rs_without_primary(sd)
    elif work.type == TopologyType.ReplicaSetWithPrimary:
        if kind in (ServerType.Standalone, ServerType.Mongos):
            del work.servers[sd.address]
            work.check_if_has_primary()
        elif kind == ServerType.RSPrimary:
            work.update_rs_from_primary(sd)
        elif kind in REPLICA_SET_MEMBER_TYPES:
            work.update_rs_with_primary_from_member(sd)
        else:
            work.check_if_has_primary()
    return work.freeze()


__all__ = [
    "NEWER_PRIMARY_MESSAGE",
    "STALE_PRIMARY_MESSAGE",
    "StalePrimaryError",
    "TopologyDescription",
    "updated_topology_description",
]
