"""The live state of a sandbox cluster as its servers see it (event-loop thread only).

:class:`ClusterState` holds the members, the shared :class:`~sandbox.store.DataStore`, the users,
the replica-set term and the fail points; :class:`Member` holds one server's role, its
``topologyVersion`` (a ``processId`` that changes on restart and a counter that grows on every
state change), its simulated latency and replication lag, counters for ``serverStatus`` and its
open cursors (:class:`Cursor`: the rest of a result and where its batches are cut). Elections
are scheduled on the loop after ``election_delay`` seconds.
"""

from __future__ import annotations

import asyncio
import bisect
import itertools
import os
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import bson
from bson import Int64, ObjectId

from sandbox.store import DataStore, WriteOptime
from sandbox.wire import MAX_BSON_SIZE

if TYPE_CHECKING:
    from sandbox.auth import UserCredential

# Leave room for the reply envelope around a cursor's batch.
MAX_BATCH_BYTES = MAX_BSON_SIZE - 16 * 1024


@dataclass
class Cursor:
    cursor_id: int
    namespace: str
    items: Sequence[Any]
    encoded: bool
    position: int = 0
    end: int = 0
    connection_id: int = 0
    created: float = field(default_factory=time.time)
    last_used: float = field(default_factory=time.time)

    def take(self, batch_size: int | None) -> list[bytes]:
        """The next batch (``batch_size`` None = as many as fit in 16 MiB)."""
        self.last_used = time.time()
        limit = self.end if batch_size is None else min(self.end, self.position + batch_size)
        if self.position >= limit:
            return []
        if not self.encoded:
            return self._take_documents(limit)
        # Pre-encoded: find the 16 MiB cut with running sums computed in C, a window at a time.
        start = pos = self.position
        total = 0
        while pos < limit:
            window = self.items[pos:min(limit, pos + 65536)]
            sums = list(itertools.accumulate(len(doc) + 8 for doc in window))
            fits = bisect.bisect_right(sums, MAX_BATCH_BYTES - total)
            if fits < len(window):
                pos += max(fits, 1 if pos == start else 0)
                break
            total += sums[-1]
            pos += len(window)
        batch = list(self.items[start:pos])
        self.position = pos
        return batch

    def _take_documents(self, limit: int) -> list[bytes]:
        batch: list[bytes] = []
        size = 0
        encode = bson.encode
        pos = self.position
        while pos < limit:
            doc = encode(self.items[pos])
            size += len(doc) + 8
            if batch and size > MAX_BATCH_BYTES:
                break
            batch.append(doc)
            pos += 1
        self.position = pos
        return batch

    @property
    def exhausted(self) -> bool:
        return self.position >= self.end


PRIMARY = "PRIMARY"
SECONDARY = "SECONDARY"
ARBITER = "ARBITER"
STANDALONE = "STANDALONE"
MONGOS = "MONGOS"
# replSetGetStatus numeric states
STATE_CODES = {PRIMARY: 1, SECONDARY: 2, ARBITER: 7, "DOWN": 8}


@dataclass
class Counters:
    """Figures that move as clients work (serverStatus)."""

    opcounters: dict[str, int] = field(default_factory=lambda: dict.fromkeys(
        ("insert", "query", "update", "delete", "getmore", "command"), 0))
    bytes_in: int = 0
    bytes_out: int = 0
    requests: int = 0
    connections_created: int = 0


@dataclass
class ConnectionState:
    """Per-connection state: authentication, SASL conversation, client metadata."""

    connection_id: int
    peer: str
    authenticated: set[tuple[str, str]] = field(default_factory=set)
    sasl: Any = None
    client_metadata: dict[str, Any] | None = None
    compressors: list[str] = field(default_factory=list)
    peer_certificate_subject: str | None = None
    current_op: dict[str, Any] | None = None
    current_task: asyncio.Task[Any] | None = None
    opened_at: float = field(default_factory=time.time)


class Member:
    """One server (mongod or mongos) of the cluster."""

    def __init__(self, index: int, host: str, port: int, role: str) -> None:
        self.index = index
        self.host = host
        self.port = port
        self.role = role
        self.hidden = False
        self.priority = 1.0
        self.latency_ms = 0.0
        self.lag_s = 0.0
        self.alive = True
        self.process_id = ObjectId()
        self.counter = 0
        self.started_at = time.time()
        self.election_date: float | None = None
        self.counters = Counters()
        self.cursors: dict[int, Cursor] = {}
        self.connections: dict[int, ConnectionState] = {}
        # configureFailPoint state: name -> {"mode": ..., "data": ..., "remaining": n | None}
        self.fail_points: dict[str, dict[str, Any]] = {}
        self._changed: asyncio.Event | None = None

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def is_data_bearing(self) -> bool:
        return self.role != ARBITER

    def topology_version(self) -> dict[str, Any]:
        return {"processId": self.process_id, "counter": Int64(self.counter)}

    def changed_event(self) -> asyncio.Event:
        if self._changed is None:
            self._changed = asyncio.Event()
        return self._changed

    def bump(self) -> None:
        """A state change: new topologyVersion counter, wake streaming hellos."""
        self.counter += 1
        if self._changed is not None:
            self._changed.set()
            self._changed = None

    def restarted(self) -> None:
        self.process_id = ObjectId()
        self.counter = 0
        self.started_at = time.time()
        self.cursors.clear()
        self.counters = Counters()


class ClusterState:
    """Everything the servers of one cluster share; touched only on the cluster's loop."""

    def __init__(self, kind: str, *, set_name: str = "rs0", election_delay: float = 1.0,
                 max_wire_version: int = 21, store: DataStore | None = None) -> None:
        self.kind = kind
        self.set_name = set_name
        self.election_delay = election_delay
        self.max_wire_version = max_wire_version
        self.store = store or DataStore()
        self.members: list[Member] = []
        self.users: dict[tuple[str, str], UserCredential] = {}
        self.auth_required = False
        self.term = 1
        self.set_version = 1
        self._election: asyncio.TimerHandle | None = None
        self._stepped_down: dict[int, float] = {}
        self._ids = itertools.count(1)
        self.opids = itertools.count(1)
        # Set by the cluster: stop/start a member's listening socket and drop its connections.
        self.stop_member: Callable[[Member], Awaitable[None]] | None = None
        self.start_member: Callable[[Member], Awaitable[None]] | None = None
        self.store.write_listeners.append(self._on_write)

    def next_id(self) -> int:
        return next(self._ids)

    # -- queries -------------------------------------------------------------------------------
    @property
    def is_replset(self) -> bool:
        return self.kind == "replset"

    def primary(self) -> Member | None:
        for member in self.members:
            if member.role == PRIMARY and member.alive:
                return member
        return None

    def election_id(self) -> ObjectId:
        # A real server's electionId is 0x7fffffff followed by the term: it grows with the term.
        return ObjectId(b"\x7f\xff\xff\xff" + self.term.to_bytes(8, "big"))

    def optime(self, member: Member) -> WriteOptime:
        now = time.time()
        if member.role == PRIMARY:
            return self.store.optime_at(now)
        return self.store.optime_at(now - member.lag_s)

    # -- state changes -------------------------------------------------------------------------
    def bump_all(self) -> None:
        for member in self.members:
            member.bump()

    def _on_write(self) -> None:
        self.store.term = self.term

    def step_down(self, member: Member) -> None:
        if member.role != PRIMARY:
            return
        member.role = SECONDARY
        self._stepped_down[member.index] = time.monotonic()
        self.bump_all()
        self.schedule_election()

    def schedule_election(self, delay: float | None = None) -> None:
        if not self.is_replset or self.primary() is not None:
            return
        if self._election is not None:
            self._election.cancel()
        loop = asyncio.get_running_loop()
        wait = self.election_delay if delay is None else delay
        self._election = loop.call_later(wait, self.elect)

    def elect(self) -> Member | None:
        """Hold an election: a majority of voters must be up; the best electable member wins."""
        self._election = None
        if self.primary() is not None:
            return None
        voters = self.members
        alive_votes = sum(1 for m in voters if m.alive)
        if alive_votes * 2 <= len(voters):
            return None  # no majority: no primary until a member comes back
        candidates = [m for m in self.members
                      if m.alive and m.role == SECONDARY and not m.hidden and m.priority > 0]
        if not candidates:
            return None
        now = time.monotonic()
        # The member that just stepped down waits (replSetStepDown's freeze) unless it is alone.
        fresh = [m for m in candidates if now - self._stepped_down.get(m.index, -1e9) > 10.0]
        pool = fresh or candidates
        winner = min(pool, key=lambda m: (-m.priority, m.lag_s, m.index))
        self.term += 1
        self.store.term = self.term
        winner.role = PRIMARY
        winner.election_date = time.time()
        self.store.wrote("admin")  # the "new primary" no-op entry
        self.bump_all()
        return winner

    async def kill(self, member: Member) -> None:
        if not member.alive:
            return
        was_primary = member.role == PRIMARY
        member.alive = False
        if self.stop_member is not None:
            await self.stop_member(member)
        if was_primary:
            member.role = SECONDARY
        self.bump_all()
        if was_primary:
            self.schedule_election()

    async def restart(self, member: Member) -> None:
        if member.alive:
            return
        member.restarted()
        if self.start_member is not None:
            await self.start_member(member)
        member.alive = True
        self.bump_all()
        self.schedule_election()

    def hide(self, member: Member, hidden: bool = True) -> None:
        member.hidden = hidden
        member.priority = 0.0 if hidden else 1.0
        self.set_version += 1
        if hidden and member.role == PRIMARY:
            member.role = SECONDARY
            self.schedule_election()
        self.bump_all()

    def close(self) -> None:
        if self._election is not None:
            self._election.cancel()
            self._election = None


def process_info() -> dict[str, Any]:
    return {"pid": Int64(os.getpid())}
