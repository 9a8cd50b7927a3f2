"""Client sessions: ``lsid``, the server session pool, causal consistency, ``$clusterTime``.

Following the Driver Sessions specification (``source/sessions/driver-sessions.md``):

* A *server session* is the ``lsid`` (a random UUID) plus its ``txnNumber`` counter and
  last-use time. They are pooled per client, most recently used first, because the
  server keeps state for each; "drivers MUST NOT reuse a server session that is within
  one minute of timing out" (``logicalSessionTimeoutMinutes``), and a session that saw a
  network error is discarded instead of returned.
* A ``ClientSession`` is what the user holds (``client.start_session()``); operations
  without one get an *implicit* session, taken from the pool for that operation (or for
  the life of a cursor) and given back after.
* Causal consistency (on by default for explicit sessions): every reply's
  ``operationTime`` advances the session, and later reads send
  ``readConcern.afterClusterTime`` so they see the session's earlier writes.
* ``$clusterTime``: the highest seen is kept by the client and by each session and sent
  with every command to servers that report it (replica sets and sharded clusters).
* On ``MongoClient.close()`` the pooled ids go to the server in ``endSessions``.
"""

from __future__ import annotations

import collections
import threading
import time
import uuid
from collections.abc import Mapping
from types import TracebackType
from typing import TYPE_CHECKING, Any

from driver.errors import InvalidOperation

if TYPE_CHECKING:
    from driver.client import MongoClient

# Sessions close to their server-side expiry are not reused (spec: "within one minute").
_EXPIRY_MARGIN_S = 60.0


def _timestamp_key(value: Any) -> tuple[int, int]:
    """Order BSON Timestamps (``time``, ``inc``) without relying on their comparison methods."""
    return (int(getattr(value, "time", 0)), int(getattr(value, "inc", 0)))


def newer_cluster_time(
    current: Mapping[str, Any] | None, candidate: Mapping[str, Any] | None
) -> Mapping[str, Any] | None:
    """The later of two ``$clusterTime`` documents (either may be ``None``)."""
    if candidate is None or "clusterTime" not in candidate:
        return current
    if current is None:
        return candidate
    if _timestamp_key(candidate["clusterTime"]) > _timestamp_key(current["clusterTime"]):
        return candidate
    return current


class ServerSession:
    """One ``lsid`` with its transaction counter and last use."""

    __slots__ = ("session_id", "last_use", "_txn_number", "dirty", "generation")

    def __init__(self, generation: int) -> None:
        from driver.bson import Binary

        self.session_id: dict[str, Any] = {"id": Binary(uuid.uuid4().bytes, 4)}
        self.last_use = time.monotonic()
        self._txn_number = 0
        self.dirty = False
        self.generation = generation

    def next_txn_number(self) -> int:
        self._txn_number += 1
        return self._txn_number

    @property
    def txn_number(self) -> int:
        return self._txn_number

    def timed_out(self, timeout_minutes: float | None) -> bool:
        if timeout_minutes is None:
            return False
        idle = time.monotonic() - self.last_use
        return idle > timeout_minutes * 60.0 - _EXPIRY_MARGIN_S


class ServerSessionPool:
    """LIFO pool of server sessions (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._sessions: collections.deque[ServerSession] = collections.deque()
        self.generation = 0

    def acquire(self, timeout_minutes: float | None) -> ServerSession:
        with self._lock:
            # Expired ones are at the old end; drop them while we are here.
            while self._sessions and self._sessions[-1].timed_out(timeout_minutes):
                self._sessions.pop()
            while self._sessions:
                session = self._sessions.popleft()
                if not session.timed_out(timeout_minutes):
                    return session
        return ServerSession(self.generation)

    def release(self, session: ServerSession, timeout_minutes: float | None) -> None:
        session.last_use = time.monotonic()
        with self._lock:
            if session.dirty or session.generation != self.generation:
                return
            while self._sessions and self._sessions[-1].timed_out(timeout_minutes):
                self._sessions.pop()
            self._sessions.appendleft(session)

    def drain(self) -> list[dict[str, Any]]:
        """Forget every pooled session (client close / fork) and return their ids."""
        with self._lock:
            ids = [s.session_id for s in self._sessions]
            self._sessions.clear()
            self.generation += 1
            return ids

    def __len__(self) -> int:
        return len(self._sessions)


class SessionOptions:
    """Options of ``start_session``."""

    def __init__(self, causal_consistency: bool | None = None, snapshot: bool = False) -> None:
        if snapshot and causal_consistency:
            raise InvalidOperation("snapshot reads and causal_consistency are mutually exclusive")
        self._causal_consistency = (not snapshot) if causal_consistency is None else bool(
            causal_consistency
        )
        self._snapshot = bool(snapshot)

    @property
    def causal_consistency(self) -> bool:
        return self._causal_consistency

    @property
    def snapshot(self) -> bool:
        return self._snapshot


class ClientSession:
    """A logical session: pass it as ``session=`` to operations of the same client.

    Use as a context manager, or call ``end_session()``; the server session goes back to
    the client's pool. Transactions are not supported by this driver yet.
    """

    def __init__(
        self, client: MongoClient, options: SessionOptions, *, implicit: bool = False
    ) -> None:
        self._client = client
        self._options = options
        self._implicit = implicit
        self._server_session: ServerSession | None = None
        self._cluster_time: Mapping[str, Any] | None = None
        self._operation_time: Any = None
        self._ended = False
        self._lock = threading.Lock()

    # -- PyMongo's public surface ------------------------------------------------------------

    @property
    def client(self) -> MongoClient:
        return self._client

    @property
    def options(self) -> SessionOptions:
        return self._options

    @property
    def session_id(self) -> dict[str, Any]:
        """The ``lsid`` document ``{"id": Binary(uuid, 4)}``."""
        return dict(self._server().session_id)

    @property
    def cluster_time(self) -> Mapping[str, Any] | None:
        return self._cluster_time

    @property
    def operation_time(self) -> Any:
        return self._operation_time

    @property
    def has_ended(self) -> bool:
        return self._ended

    @property
    def in_transaction(self) -> bool:
        return False

    def advance_cluster_time(self, cluster_time: Mapping[str, Any]) -> None:
        """Move ``cluster_time`` forward (never back) to ``cluster_time``."""
        if not isinstance(cluster_time, Mapping) or "clusterTime" not in cluster_time:
            raise ValueError("cluster_time must be a $clusterTime document with 'clusterTime'")
        self._cluster_time = newer_cluster_time(self._cluster_time, cluster_time)

    def advance_operation_time(self, operation_time: Any) -> None:
        """Move ``operation_time`` forward (never back); it must be a BSON Timestamp."""
        if not hasattr(operation_time, "time") or not hasattr(operation_time, "inc"):
            raise TypeError("operation_time must be a Timestamp")
        if self._operation_time is None or _timestamp_key(operation_time) > _timestamp_key(
            self._operation_time
        ):
            self._operation_time = operation_time

    def start_transaction(self, *args: Any, **kwargs: Any) -> None:
        raise InvalidOperation("transactions are not supported by this driver yet")

    def with_transaction(self, *args: Any, **kwargs: Any) -> None:
        raise InvalidOperation("transactions are not supported by this driver yet")

    def end_session(self) -> None:
        """Give the server session back to the pool; the session cannot be used after."""
        with self._lock:
            if self._ended:
                return
            self._ended = True
            server_session, self._server_session = self._server_session, None
        if server_session is not None:
            self._client._release_server_session(server_session)

    def __enter__(self) -> ClientSession:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.end_session()

    # -- used by the executor ----------------------------------------------------------------

    def _server(self) -> ServerSession:
        if self._ended:
            raise InvalidOperation("Cannot use ended session")
        with self._lock:
            if self._server_session is None:
                self._server_session = self._client._acquire_server_session()
            return self._server_session

    @property
    def _lsid(self) -> dict[str, Any]:
        return self._server().session_id

    def _next_txn_number(self) -> int:
        return self._server().next_txn_number()

    def _mark_dirty(self) -> None:
        if self._server_session is not None:
            self._server_session.dirty = True

    def _touch(self) -> None:
        if self._server_session is not None:
            self._server_session.last_use = time.monotonic()

    def _process_reply(self, reply: Mapping[str, Any]) -> None:
        """Gossip ``$clusterTime`` and advance ``operationTime`` from a server reply."""
        cluster_time = reply.get("$clusterTime")
        if cluster_time is not None:
            self._cluster_time = newer_cluster_time(self._cluster_time, cluster_time)
        operation_time = reply.get("operationTime")
        if operation_time is not None and self._options.causal_consistency:
            self.advance_operation_time(operation_time)

    def _apply_read_concern(self, command: dict[str, Any], is_read: bool) -> None:
        """Add ``afterClusterTime`` to a read of a causally consistent session.

        Spec: "the driver MUST include the afterClusterTime ... when causalConsistency is
        true and the session has an operationTime" (only for commands that take a
        readConcern).
        """
        if not is_read or not self._options.causal_consistency or self._operation_time is None:
            return
        read_concern = dict(command.get("readConcern") or {})
        read_concern["afterClusterTime"] = self._operation_time
        command["readConcern"] = read_concern


__all__ = ["ClientSession", "ServerSession", "ServerSessionPool", "SessionOptions"]
