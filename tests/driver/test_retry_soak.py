"""Retryable writes under repeated step-downs (issue 14): no "not primary" escapes the retry.

The issue: in a 60 s soak with a step-down every 2 s, one ``insert_one`` in about 6,000
raised ``NotPrimaryError``: its retry went to the old primary again. The cause was a race
the SDAM spec closes with ``topologyVersion`` ("What is the purpose of topologyVersion?"):

1. the primary's monitor has a hello reply in flight that the member sent just before it
   stepped down (``PRIMARY``, topologyVersion *c*);
2. the member steps down (*c + 1*) and a write gets ``NotWritablePrimary``; the driver marks
   the member Unknown;
3. the monitor then reads the old reply and, since the Unknown description carried no
   topologyVersion, applies it: the member is "RSPrimary" again, and the retry selects it.

A MongoDB 4.4+ server puts its topologyVersion (*c + 1*) in the error; the driver stores it
in the Unknown description and the late reply (*c*) is ignored as stale. The sandbox did not,
so the driver had nothing to compare. ``test_late_hello_from_before_the_step_down...`` makes
the race deterministic (it holds that hello reply until the error has been applied);
``test_soak_...`` is the issue's soak, shortened for CI.

What the retryable writes spec still allows: one retry only. If the retry's server is itself
stepped down after it was selected (a second step-down within one operation), the retry's
``NotPrimaryError`` is the operation's error. The soak accepts an escape only with proof of
that from the servers' own topologyVersion counters (every state change of the sandbox bumps
all members' counters, so a counter is a cluster-wide clock).
"""

from __future__ import annotations

import random
import threading
import time
from collections import defaultdict
from collections.abc import Mapping
from typing import Any

import pytest

from driver import MongoClient
from driver.errors import NotPrimaryError
from driver.operations.command_events import CommandListener
from driver.sdam.events import ServerListener
from driver.sdam.monitor import Monitor
from driver.sdam.types import ServerType
from sandbox.cluster import SandboxCluster
from sandbox.state import ClusterState
from tests.driver.api_support import fresh_name
from tests.timing import HANG_S

SOAK_S = 12.0  # writing time of the soak; with setup the test stays well under 30 s
WRITERS = 3


class _PerThreadCommands(CommandListener):
    """Insert events of the operation in progress on each thread (delivered on that thread)."""

    def __init__(self) -> None:
        self._events: dict[int, list[tuple[str, Any]]] = defaultdict(list)

    def reset(self) -> None:
        self._events[threading.get_ident()] = []

    def mine(self) -> list[tuple[str, Any]]:
        return list(self._events[threading.get_ident()])

    def started(self, event: Any) -> None:
        if event.command_name == "insert":
            self._events[threading.get_ident()].append(("started", event))

    def succeeded(self, event: Any) -> None:
        if event.command_name == "insert":
            self._events[threading.get_ident()].append(("succeeded", event))

    def failed(self, event: Any) -> None:
        if event.command_name == "insert":
            self._events[threading.get_ident()].append(("failed", event))


def _counter(reply: Mapping[str, Any]) -> int | None:
    """The topologyVersion counter of a server's error reply (None: it had none)."""
    tv = reply.get("topologyVersion")
    return int(tv["counter"]) if isinstance(tv, Mapping) else None


# --- the race, made deterministic ------------------------------------------------------------


class _WhenUnknown(ServerListener):
    def __init__(self, address: tuple[str, int], reached: threading.Event) -> None:
        self._address = address
        self._reached = reached

    def description_changed(self, event: Any) -> None:
        new = event.new_description
        if new.address == self._address and new.server_type == ServerType.Unknown \
                and isinstance(new.error, NotPrimaryError):
            self._reached.set()


def test_late_hello_from_before_the_step_down_does_not_send_the_retry_back(
        monkeypatch: pytest.MonkeyPatch) -> None:
    with SandboxCluster(kind="replset", members=3, election_delay=1.0) as cluster:
        old = cluster.wait_for_primary()
        old_address = (old.host, old.port)
        phase = {"now": "off"}
        held, release, finished = threading.Event(), threading.Event(), threading.Event()
        original_check = Monitor._check

        def check(self: Monitor) -> Any:
            if self.address != old_address or phase["now"] == "off":
                return original_check(self)
            if phase["now"] == "frozen":  # no later check may correct the picture
                finished.wait(HANG_S)
                return original_check(self)
            result = original_check(self)
            if result[0].server_type == ServerType.RSPrimary:
                phase["now"] = "frozen"
                held.set()
                release.wait(HANG_S)  # deliver this pre-step-down reply only after the error
            return result

        monkeypatch.setattr(Monitor, "_check", check)
        commands = _PerThreadCommands()
        client = MongoClient(
            cluster.uri, heartbeatFrequencyMS=500, serverSelectionTimeoutMS=int(HANG_S * 1000),
            event_listeners=[commands, _WhenUnknown(old_address, release)])
        try:
            coll = client.db[fresh_name("late_hello")]
            coll.insert_one({"_id": "before"})
            assert client.primary == old_address
            phase["now"] = "armed"
            # The next awaitable hello answers PRIMARY after heartbeatFrequencyMS (0.5 s).
            assert held.wait(HANG_S), "the old primary's monitor never got a PRIMARY reply"
            cluster.step_down(old.index)
            commands.reset()
            # The client still believes the old primary (its monitor's reply is held): the
            # first attempt goes there and fails; the retry must wait for the election.
            coll.insert_one({"_id": "across"})
            # Only the listener can have released the reply by now: it was delivered after
            # the error had marked the old primary Unknown (the race of the issue).
            assert release.is_set()
            events = commands.mine()
            sent_to = [e.connection_id for kind, e in events if kind == "started"]
            failed = [e for kind, e in events if kind == "failed"]
            assert sent_to[0] == old_address and len(failed) == 1, events
            assert len(sent_to) == 2 and sent_to[1] != old_address, events
            # The error told the driver the member's topologyVersion after the step-down; the
            # late PRIMARY reply, older, was ignored (the frozen monitor reported nothing since).
            error_counter = _counter(failed[0].failure)
            assert error_counter is not None
            seen = client.topology_description.server_descriptions()[old_address]
            assert seen.server_type == ServerType.Unknown, seen
            assert seen.topology_version is not None
            assert int(seen.topology_version["counter"]) == error_counter
            assert coll.count_documents({"_id": "across"}) == 1
        finally:
            release.set()
            finished.set()
            client.close()


# --- the soak ----------------------------------------------------------------------------------


def _step_down(state: ClusterState) -> tuple[tuple[str, int], int] | None:
    """On the cluster's loop: step the primary down; its address and new topologyVersion."""
    target = state.primary()
    if target is None:
        return None
    state.step_down(target)
    return (target.host, target.port), target.counter


def test_soak_step_downs_never_leak_not_primary_past_the_retry() -> None:
    rng = random.Random(14)
    with SandboxCluster(kind="replset", members=3, election_delay=0.2) as cluster:
        cluster.wait_for_primary()
        commands = _PerThreadCommands()
        # Short awaitable hellos: replies that cross a step-down are frequent.
        client = MongoClient(cluster.uri, retryWrites=True, heartbeatFrequencyMS=500,
                             serverSelectionTimeoutMS=int(HANG_S * 1000),
                             event_listeners=[commands])
        coll = client.db[fresh_name("soak")]
        stop = threading.Event()
        lock = threading.Lock()
        acknowledged: list[str] = []
        escapes: list[tuple[str, BaseException, list[tuple[str, Any]]]] = []
        step_downs: list[tuple[tuple[str, int], int]] = []
        retried = [0]

        def writer(k: int) -> None:
            i = 0
            while not stop.is_set():
                key = f"{k}-{i}"
                i += 1
                commands.reset()
                try:
                    coll.insert_one({"_id": key})
                except Exception as error:  # every escape is judged below
                    with lock:
                        escapes.append((key, error, commands.mine()))
                    continue
                with lock:
                    acknowledged.append(key)
                    if any(kind == "failed" for kind, _ in commands.mine()):
                        retried[0] += 1

        def stepper() -> None:
            while not stop.wait(rng.uniform(0.4, 1.2)):
                cluster.wait_for_primary()
                done = cluster.call(_step_down)
                if done is not None:
                    with lock:
                        step_downs.append(done)

        threads = [threading.Thread(target=writer, args=(k,), daemon=True)
                   for k in range(WRITERS)]
        threads.append(threading.Thread(target=stepper, daemon=True))
        try:
            for thread in threads:
                thread.start()
            time.sleep(SOAK_S)
            stop.set()
            for thread in threads:
                thread.join(HANG_S)
                assert not thread.is_alive(), "a writer or the stepper hung"
            cluster.wait_for_primary()
            unexplained = [_unexplained(key, error, events, step_downs)
                           for key, error, events in escapes]
            unexplained = [text for text in unexplained if text is not None]
            assert unexplained == [], "\n".join(unexplained)
            stored = {doc["_id"] for doc in coll.find({}, projection={"_id": 1})}
            assert set(acknowledged) <= stored, "an acknowledged insert is missing"
            # A "not primary" from both attempts means neither wrote.
            assert not {key for key, _, _ in escapes} & stored
            assert len(step_downs) >= 5, step_downs
            assert retried[0] >= 1, "no insert met a step-down: the soak proved nothing"
        finally:
            stop.set()
            client.close()


def _unexplained(key: str, error: BaseException, events: list[tuple[str, Any]],
                 step_downs: list[tuple[tuple[str, int], int]]) -> str | None:
    """None when the escape is the retryable writes spec's "one retry" case: the retry's
    server was stepped down after the first attempt failed. Otherwise, why not."""
    started = [e for kind, e in events if kind == "started"]
    failed = [e for kind, e in events if kind == "failed"]
    story = f"insert {key!r} raised {error!r}; attempts: {[(e.connection_id) for e in started]}"
    if not isinstance(error, NotPrimaryError):
        return f"{story}: not a 'not primary' error"
    if len(started) != 2 or len(failed) != 2:
        return f"{story}: expected exactly two attempts, both failed"
    first, second = (_counter(e.failure) for e in failed)
    if first is None or second is None:
        return f"{story}: a 'not primary' reply without topologyVersion"
    retry_server = failed[1].connection_id
    later = [c for address, c in step_downs if address == retry_server and first < c <= second]
    if not later:
        return (f"{story}: the retry's server {retry_server} was not stepped down after the "
                f"first attempt failed (topologyVersion {first} -> {second}; step-downs "
                f"{step_downs})")
    return None
