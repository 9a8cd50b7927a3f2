"""The replica-set health state: what the health view shows, with no Qt and no network.

``HealthState`` is fed from the GUI thread with what the driver reports (topology
descriptions, heartbeat results, RTT samples) and, when the user may run them, with
``replSetGetStatus`` / ``replSetGetConfig`` replies. It keeps one ``MemberHealth`` per
server (role, state, RTT and lag with their history, last heartbeat, last error in
plain words) and a timeline of what happened (elections with their term, members
going down or up, state and topology-type changes, heartbeat failures).

Every method takes ``now`` (epoch seconds) so the tests can drive the clock.
"""

from __future__ import annotations

import datetime
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from app.cluster.common import plain_error, server_version_for_wire

Address = tuple[str, int]

HISTORY_S = 600.0  # sparklines keep ten minutes
TIMELINE_LIMIT = 2000


class Role:
    """What a member is, in the words the diagram and table use."""

    PRIMARY = "primary"
    SECONDARY = "secondary"
    ARBITER = "arbiter"
    HIDDEN = "hidden"
    PASSIVE = "passive"
    OTHER = "other"  # RSOther that is not hidden: recovering, startup...
    GHOST = "ghost"
    UNKNOWN = "unknown"  # not checked yet, or its last reply is no longer trusted
    UNREACHABLE = "unreachable"  # answered before, or the check failed
    MONGOS = "mongos"
    STANDALONE = "standalone"
    LOAD_BALANCER = "load balancer"


_ROLE_OF_TYPE = {
    "RSPrimary": Role.PRIMARY, "RSSecondary": Role.SECONDARY, "RSArbiter": Role.ARBITER,
    "RSOther": Role.OTHER, "RSGhost": Role.GHOST, "Mongos": Role.MONGOS,
    "Standalone": Role.STANDALONE, "LoadBalancer": Role.LOAD_BALANCER,
}


def format_address(address: Address) -> str:
    host, port = address
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def parse_address(text: str) -> Address:
    host, _, port = text.rpartition(":")
    if text.startswith("[") and "]" in text:
        host = text[1:text.index("]")]
    return (host.lower(), int(port)) if port.isdigit() else (text.lower(), 27017)


def role_of(server_type_name: str, hello: Mapping[str, Any], error: BaseException | None) -> str:
    """The role of one server from its SDAM type and the hello reply it gave."""
    if server_type_name == "Unknown":
        if error is None or "stale" in str(error).lower():
            # SDAM marks a primary Unknown when a newer one appears ("stale primary"):
            # the server is reachable, the driver just stops trusting its old reply.
            return Role.UNKNOWN
        return Role.UNREACHABLE
    role = _ROLE_OF_TYPE.get(server_type_name, Role.UNKNOWN)
    if hello.get("hidden"):
        return Role.HIDDEN
    if role == Role.SECONDARY and hello.get("passive"):
        return Role.PASSIVE
    return role


def term_of_election_id(election_id: Any) -> int | None:
    """The term inside an electionId (servers write 0x7fffffff then the term)."""
    raw = getattr(election_id, "binary", None)
    if not isinstance(raw, bytes | bytearray) or len(raw) != 12:
        return None
    if raw[:4] != b"\x7f\xff\xff\xff":
        return None
    return int.from_bytes(raw[4:], "big")


def _epoch(value: Any) -> float | None:
    if isinstance(value, datetime.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=datetime.UTC)
        return float(value.timestamp())
    return None


@dataclass
class MemberHealth:
    """One server as the health view shows it."""

    address: Address
    role: str = Role.UNKNOWN
    state: str = "Unknown"
    server_type: str = "Unknown"
    set_name: str | None = None
    version: str | None = None
    wire_version: int | None = None
    tags: dict[str, Any] = field(default_factory=dict)
    priority: float | None = None
    votes: int | None = None
    sync_source: Address | None = None
    rtt_ms: float | None = None
    rtt_history: deque[tuple[float, float | None]] = field(default_factory=deque)
    lag_s: float | None = None
    lag_history: deque[tuple[float, float | None]] = field(default_factory=deque)
    last_heartbeat: float | None = None
    last_error: str | None = None
    last_write_date: float | None = None
    monitored: bool = True  # False: known only from replSetGetStatus (hidden members)
    ever_reachable: bool = False
    failing: bool = False

    @property
    def host(self) -> str:
        return format_address(self.address)

    @property
    def reachable(self) -> bool:
        return self.role not in (Role.UNKNOWN, Role.UNREACHABLE)

    def seconds_since_heartbeat(self, now: float) -> float | None:
        return None if self.last_heartbeat is None else max(0.0, now - self.last_heartbeat)


@dataclass(frozen=True)
class TimelineEvent:
    """One line of the timeline."""

    when: float  # epoch seconds
    kind: str  # "election", "down", "up", "state", "topology", "heartbeat", "added", "removed"
    text: str
    address: Address | None = None
    term: int | None = None

    def as_text(self) -> str:
        stamp = datetime.datetime.fromtimestamp(self.when, datetime.UTC)
        return f"{stamp:%Y-%m-%d %H:%M:%S}.{stamp.microsecond // 1000:03d}Z  {self.kind:<9}  {self.text}"


def _trim(history: deque[tuple[float, float | None]], now: float) -> None:
    while history and history[0][0] < now - HISTORY_S:
        history.popleft()


class HealthState:
    """Members and timeline of one deployment; call from one thread only."""

    def __init__(self) -> None:
        self.members: dict[Address, MemberHealth] = {}
        self.timeline: list[TimelineEvent] = []
        self.topology_type = "Unknown"
        self.set_name: str | None = None
        self.primary: Address | None = None
        self.term: int | None = None
        # The driver's monitors may learn of an election up to a heartbeat late, while any
        # member's replSetGetStatus already names the new primary: while its term is newer
        # than the last one SDAM showed, the status's primary is shown (and marked so).
        self.sdam_term: int | None = None
        self.status_term: int | None = None
        self.status_primary: Address | None = None
        self.status_names: set[Address] = set()  # members replSetGetStatus listed last
        self.election_id_seen: str | None = None
        self.election_terms: set[int] = set()  # terms already on the timeline
        self.status_source = "hello"  # or "replSetGetStatus" once one arrived
        self.shards: list[str] = []
        self.on_event: Callable[[TimelineEvent], None] | None = None
        self.on_removed: Callable[[TimelineEvent], None] | None = None
        self._last_text: dict[Address, tuple[str, str]] = {}  # last (kind, text) per member

    # -- timeline -------------------------------------------------------------------------
    def _record(self, event: TimelineEvent) -> None:
        self.timeline.append(event)
        if self.on_event is not None:
            self.on_event(event)
        if len(self.timeline) > TIMELINE_LIMIT:
            removed = self.timeline.pop(0)
            if self.on_removed is not None:
                self.on_removed(removed)

    def add_event(self, now: float, kind: str, text: str, address: Address | None = None,
                  term: int | None = None) -> None:
        if address is not None:
            # One event, one line: a member flapping between the driver's view ("not
            # reachable") and replSetGetStatus's ("DOWN") would repeat the same line at
            # every poll. Identical consecutive lines about one member are kept once.
            if self._last_text.get(address) == (kind, text):
                return
            self._last_text[address] = (kind, text)
        self._record(TimelineEvent(now, kind, text, address, term))

    def timeline_text(self) -> str:
        header = f"Binnacle cluster timeline ({self.set_name or self.topology_type})"
        return "\n".join([header, *(event.as_text() for event in self.timeline)]) + "\n"

    def ordered_members(self) -> list[MemberHealth]:
        """Members in a stable order: by address (the diagram and the table agree)."""
        return [self.members[address] for address in sorted(self.members)]

    # -- SDAM -----------------------------------------------------------------------------
    def apply_topology(self, description: Any, now: float) -> None:
        """A new ``TopologyDescription``: roles, members added or removed, elections."""
        type_name = str(description.topology_type_name)
        if type_name != self.topology_type:
            if self.topology_type != "Unknown" or type_name != "Unknown":
                self.add_event(now, "topology", f"topology type {self.topology_type} → {type_name}")
            self.topology_type = type_name
        self.set_name = description.replica_set_name or self.set_name
        servers = description.server_descriptions()
        for address in list(self.members):
            if address in servers:
                continue
            if address in self.status_names:
                # The driver stopped monitoring it (a hidden member is in no host list,
                # so SDAM drops it) but the set still has it: keep it, from the status.
                self.members[address].monitored = False
                continue
            del self.members[address]
            self.add_event(now, "removed", f"{format_address(address)} left the topology",
                           address)
        primary: Address | None = None
        override = self.status_primary_override()
        for address, server in servers.items():
            member = self.members.get(address)
            if member is None:
                member = self.members[address] = MemberHealth(address)
                self.add_event(now, "added", f"{format_address(address)} discovered", address)
            elif not member.monitored:
                if server.server_type_name == "Unknown" and server.error is None:
                    continue  # not checked yet: keep what replSetGetStatus said
                member.monitored = True
            if self._apply_server(member, server, now, override) == Role.PRIMARY:
                self._check_election(member, server, now)
            if member.role == Role.PRIMARY:
                primary = address
        if primary != self.primary and primary is None and self.primary is not None:
            self.add_event(now, "state", "no primary: the set is electing a new one")
        self.primary = primary

    def status_primary_override(self) -> Address | None:
        """The primary replSetGetStatus names while its term is newer than SDAM's."""
        if self.status_primary is None or self.status_term is None:
            return None
        if self.sdam_term is not None and self.status_term <= self.sdam_term:
            return None
        return self.status_primary

    @staticmethod
    def _overridden(member: MemberHealth, role: str, override: Address | None) -> str:
        if override is None or role in (Role.UNKNOWN, Role.UNREACHABLE):
            return role
        if member.address == override and role in (Role.SECONDARY, Role.PASSIVE, Role.OTHER):
            return Role.PRIMARY
        if member.address != override and role == Role.PRIMARY:
            return Role.SECONDARY
        return role

    def _apply_server(self, member: MemberHealth, server: Any, now: float,
                      override: Address | None = None) -> str:
        """Update one member from its ServerDescription; returns the role SDAM gives it."""
        hello = server.hello if hasattr(server, "hello") else {}
        error = getattr(server, "error", None)
        old_role = member.role
        member.server_type = str(server.server_type_name)
        sdam_role = role_of(member.server_type, hello, error)
        member.role = self._overridden(member, sdam_role, override)
        member.set_name = getattr(server, "replica_set_name", None) or member.set_name
        if hello.get("tags"):
            member.tags = dict(hello["tags"])
        max_wire = int(hello.get("maxWireVersion") or 0)
        if max_wire:
            member.wire_version = max_wire
            if member.version is None or member.version.startswith("≈"):
                member.version = "≈" + server_version_for_wire(max_wire)
        rtt = getattr(server, "round_trip_time", None)
        if rtt is not None and member.rtt_ms is None:
            member.rtt_ms = rtt * 1000.0
        if error is not None:
            member.last_error = plain_error(error)
        if member.reachable:
            if member.state in ("Unknown", "DOWN", "not reachable") or self.status_source == "hello":
                member.state = _state_from_type(member.server_type, member.role)
            member.ever_reachable = True
        else:
            member.state = "not reachable" if member.role == Role.UNREACHABLE else "Unknown"
            member.rtt_ms = None
            member.rtt_history.append((now, None))
            member.lag_s = None
        if old_role != member.role:
            self._role_changed(member, old_role, now)
        return sdam_role

    def _role_changed(self, member: MemberHealth, old_role: str, now: float,
                      source: str = "") -> None:
        where = member.host
        if member.role == Role.UNREACHABLE and member.ever_reachable:
            reason = f": {member.last_error}" if member.last_error else ""
            self.add_event(now, "down", f"{where} is unreachable{reason}", member.address)
        elif old_role == Role.UNREACHABLE and member.reachable:
            self.add_event(now, "up", f"{where} is back as {member.role}", member.address)
        elif old_role != Role.UNKNOWN or member.role != Role.UNREACHABLE:
            self.add_event(now, "state", f"{where}: {old_role} → {member.role}{source}",
                           member.address)

    def _check_election(self, member: MemberHealth, server: Any, now: float) -> None:
        election_id = getattr(server, "election_id", None)
        key = repr(election_id) if election_id is not None else f"primary:{member.host}"
        if key == self.election_id_seen:
            return
        first = self.election_id_seen is None
        self.election_id_seen = key
        term = term_of_election_id(election_id)
        if term is not None:
            self.sdam_term = term
            self.term = max(self.term or 0, term)
            if term in self.election_terms:
                return  # replSetGetStatus told us first
            self.election_terms.add(term)
        if first and not self.timeline_has_kind("election"):
            text = f"{member.host} is primary" + (f" (term {term})" if term is not None else "")
            self.add_event(now, "election", text, member.address, term)
            return
        text = f"election: {member.host} is the new primary" + (
            f" (term {term})" if term is not None else "")
        if election_id is not None:
            text += f", electionId {election_id}"
        self.add_event(now, "election", text, member.address, term)

    def timeline_has_kind(self, kind: str) -> bool:
        return any(event.kind == kind for event in self.timeline)

    # -- heartbeats -----------------------------------------------------------------------
    def heartbeat_succeeded(self, address: Address, duration_s: float, reply: Mapping[str, Any],
                            awaited: bool, now: float) -> None:
        member = self.members.get(address)
        if member is None:
            return
        member.last_heartbeat = now
        member.failing = False
        if not awaited:
            # An awaited (streaming) hello waits on the server on purpose: not an RTT.
            self._add_rtt(member, now, duration_s * 1000.0)
        last_write = _epoch((reply.get("lastWrite") or {}).get("lastWriteDate"))
        if last_write is not None:
            member.last_write_date = last_write
            if self.status_source == "hello":
                self._lag_from_last_writes(now)

    def heartbeat_failed(self, address: Address, duration_s: float, error: BaseException,
                         now: float) -> None:
        member = self.members.get(address)
        if member is None:
            return
        del duration_s
        member.last_error = plain_error(error)
        if not member.failing:
            member.failing = True
            self.add_event(now, "heartbeat", f"heartbeat to {member.host} failed: "
                           f"{member.last_error}", address)

    def apply_rtt_samples(self, address: Address, samples: Iterable[tuple[float, float]]) -> None:
        """The RTT monitor's ``(epoch s, rtt s)`` samples; only newer ones are added."""
        member = self.members.get(address)
        if member is None:
            return
        history = member.rtt_history
        last = history[-1][0] if history else 0.0
        for when, rtt in samples:
            if when > last:
                self._add_rtt(member, when, rtt * 1000.0)

    @staticmethod
    def _add_rtt(member: MemberHealth, when: float, rtt_ms: float) -> None:
        member.rtt_ms = rtt_ms
        member.rtt_history.append((when, rtt_ms))
        _trim(member.rtt_history, when)

    def _lag_from_last_writes(self, now: float) -> None:
        primary = self.members.get(self.primary) if self.primary else None
        if primary is None or primary.last_write_date is None:
            return
        for member in self.members.values():
            if member.role in (Role.SECONDARY, Role.HIDDEN, Role.PASSIVE) and \
                    member.last_write_date is not None:
                self._set_lag(member, max(0.0, primary.last_write_date - member.last_write_date),
                              now)
            elif member is primary:
                self._set_lag(member, 0.0, now)

    @staticmethod
    def _set_lag(member: MemberHealth, lag_s: float, now: float) -> None:
        member.lag_s = lag_s
        member.lag_history.append((now, lag_s))
        _trim(member.lag_history, now)

    # -- replSetGetStatus / replSetGetConfig ---------------------------------------------
    def apply_repl_status(self, status: Mapping[str, Any], now: float) -> None:
        """A ``replSetGetStatus`` reply: states, sync sources, optime lag, the term."""
        self.status_source = "replSetGetStatus"
        members = status.get("members") or []
        self.status_names = {parse_address(str(e.get("name", ""))) for e in members}
        for address, member in list(self.members.items()):
            if not member.monitored and address not in self.status_names:
                del self.members[address]
                self.add_event(now, "removed", f"{member.host} left the set", address)
        term = status.get("term")
        winner = next((str(e.get("name")) for e in members if e.get("stateStr") == "PRIMARY"),
                      None)
        if isinstance(term, int) and self.term is not None and term > self.term and winner \
                and term not in self.election_terms:
            # An election the primary's hello has not shown us yet.
            self.election_terms.add(term)
            self.add_event(now, "election", f"election: {winner} is the new primary "
                           f"(term {term}, from replSetGetStatus)", parse_address(winner), term)
        if isinstance(term, int) and winner:
            self.term = max(self.term or 0, term)
            self.status_term = term
            self.status_primary = parse_address(winner)
        primary_optime = None
        for entry in members:
            if entry.get("stateStr") == "PRIMARY":
                primary_optime = _epoch(entry.get("optimeDate"))
        for entry in members:
            address = parse_address(str(entry.get("name", "")))
            known = self.members.get(address)
            member = known if known is not None and known.monitored else \
                self._status_only_member(address, entry, now)
            state = str(entry.get("stateStr") or member.state)
            # PRIMARY/SECONDARY changes are already on the timeline from SDAM; the others
            # (DOWN, RECOVERING, STARTUP2, ROLLBACK...) only replSetGetStatus can tell.
            if state != member.state and member.state != "Unknown" and \
                    state not in ("PRIMARY", "SECONDARY"):
                self.add_event(now, "state", f"{member.host} reports {state} "
                               f"(was {member.state})", address)
            member.state = state
            sync = entry.get("syncSourceHost") or ""
            member.sync_source = parse_address(sync) if sync else None
            message = entry.get("lastHeartbeatMessage")
            if message:
                member.last_error = str(message)
            optime = _epoch(entry.get("optimeDate"))
            if optime is not None and primary_optime is not None and state != "ARBITER":
                self._set_lag(member, max(0.0, primary_optime - optime), now)
        self._apply_status_primary(now)

    def _status_only_member(self, address: Address, entry: Mapping[str, Any],
                            now: float) -> MemberHealth:
        """A member the driver does not monitor, described by replSetGetStatus alone."""
        member = self.members.get(address)
        if member is None:
            member = self.members[address] = MemberHealth(address, monitored=False)
            self.add_event(now, "added", f"{format_address(address)} listed by "
                           "replSetGetStatus (not monitored by the driver)", address)
        state = str(entry.get("stateStr") or "")
        old = member.role
        if entry.get("hidden"):
            role = Role.HIDDEN
        elif state in ("DOWN", "UNKNOWN", "REMOVED") or entry.get("health") == 0:
            role = Role.UNREACHABLE
        else:
            role = {"PRIMARY": Role.PRIMARY, "SECONDARY": Role.SECONDARY,
                    "ARBITER": Role.ARBITER}.get(state, Role.OTHER)
        member.role = role
        member.server_type = "replSetGetStatus"
        if member.reachable:
            member.ever_reachable = True
        ping = entry.get("pingMs")
        if isinstance(ping, int | float) and not isinstance(ping, bool):
            member.rtt_ms = float(ping)  # the members' own heartbeat RTT, not ours
        if old != role:
            self._role_changed(member, old, now, " (replSetGetStatus)")
        return member

    def _apply_status_primary(self, now: float) -> None:
        override = self.status_primary_override()
        if override is None or override not in self.members:
            return
        for member in self.members.values():
            role = self._overridden(member, member.role, override)
            if role != member.role:
                old, member.role = member.role, role
                self._role_changed(member, old, now, " (replSetGetStatus)")
        self.primary = override

    def apply_repl_config(self, config: Mapping[str, Any]) -> None:
        """``replSetGetConfig``'s ``config``: priority, votes, tags, hidden."""
        for entry in config.get("members") or []:
            member = self.members.get(parse_address(str(entry.get("host", ""))))
            if member is None:
                continue
            if "priority" in entry:
                member.priority = float(entry["priority"])
            if "votes" in entry:
                member.votes = int(entry["votes"])
            if entry.get("tags"):
                member.tags = dict(entry["tags"])

    def apply_build_info(self, address: Address | None, info: Mapping[str, Any]) -> None:
        """The exact version of the server our client talks to (buildInfo)."""
        version = info.get("version")
        if address is not None and address in self.members and version:
            self.members[address].version = str(version)

    def apply_shards(self, reply: Mapping[str, Any]) -> None:
        self.shards = [str(s.get("_id", "?")) + " " + str(s.get("host", ""))
                       for s in reply.get("shards") or []]


def _state_from_type(server_type: str, role: str) -> str:
    return {
        "RSPrimary": "PRIMARY", "RSSecondary": "SECONDARY", "RSArbiter": "ARBITER",
        "RSGhost": "REMOVED/STARTUP", "Mongos": "router", "Standalone": "standalone",
        "LoadBalancer": "load balancer",
    }.get(server_type, role.upper() if role == Role.HIDDEN else "OTHER")


__all__ = [
    "HealthState", "MemberHealth", "Role", "TimelineEvent", "format_address", "parse_address",
    "role_of", "term_of_election_id",
]
