"""``SandboxCluster``: a standalone server, a replica set or sharded routers on 127.0.0.1.

One asyncio loop runs in a background thread per cluster, so tests and the app can drive it from
synchronous code; each member has its own listening socket (a free port unless one is asked for);
the members share one data store. Controls (``step_down``, ``kill``, ``restart``, ``set_latency``,
``set_lag``, ``hide``, ``add_arbiter``) run on the loop and return once applied; elections follow
after ``election_delay`` seconds.

    with SandboxCluster(kind="replset", members=3) as cluster:
        client = pymongo.MongoClient(cluster.uri)
"""

from __future__ import annotations

import asyncio
import threading
import time
import urllib.parse
from collections.abc import Callable, Coroutine, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from sandbox.commands.users import add_user
from sandbox.server import MemberServer
from sandbox.state import ARBITER, MONGOS, PRIMARY, SECONDARY, STANDALONE, ClusterState, Member
from sandbox.tls import DEFAULT_SERVER_NAMES, TlsFiles, create_tls_files

KINDS = ("standalone", "replset", "sharded")
DEFAULT_MEMBERS = {"standalone": 1, "replset": 3, "sharded": 2}
T = TypeVar("T")
MemberRef = Any  # int index, "host:port", (host, port) or MemberInfo


@dataclass(frozen=True)
class MemberInfo:
    """A snapshot of one member."""

    index: int
    host: str
    port: int
    role: str
    alive: bool
    hidden: bool
    latency_ms: float
    lag_s: float

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"


def _parse_users(users: Mapping[str, str] | Iterable[Any] | None) -> list[tuple[str, str]]:
    if not users:
        return []
    if isinstance(users, Mapping):
        return [(str(u), str(p)) for u, p in users.items()]
    out = []
    for item in users:
        if isinstance(item, str):
            user, sep, password = item.partition(":")
            if not sep or not user:
                raise ValueError("users entries must look like 'user:password' (the user part "
                                 "is missing or has no ':')")
            out.append((user, password))
        else:
            user, password = item
            out.append((str(user), str(password)))
    return out


class SandboxCluster:
    """A running sandbox cluster; use as a context manager or call ``start()``/``close()``."""

    def __init__(self, kind: str = "standalone", members: int | None = None, *, tls: bool = False,
                 users: Mapping[str, str] | Iterable[Any] | None = None, seed: bool = False,
                 big: bool = False, port: int | None = None, set_name: str = "rs0",
                 election_delay: float = 1.0, max_wire_version: int = 21,
                 host: str = "127.0.0.1",
                 tls_server_names: Sequence[str] = DEFAULT_SERVER_NAMES) -> None:
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {', '.join(KINDS)}, not {kind!r}")
        count = DEFAULT_MEMBERS[kind] if members is None else members
        if not isinstance(count, int) or count < 1 or (kind == "standalone" and count != 1):
            raise ValueError(f"members must be a positive int (1 for standalone), not {members!r}")
        if election_delay < 0:
            raise ValueError("election_delay must be >= 0 seconds")
        self.kind = kind
        self._count = count
        self._tls = tls
        self._users = _parse_users(users)
        self._seed = seed
        self._big = big
        self._port = port
        self._host = host
        self._tls_server_names = tuple(tls_server_names)
        self.state = ClusterState(kind, set_name=set_name, election_delay=election_delay,
                                  max_wire_version=max_wire_version)
        self.tls_files: TlsFiles | None = None
        self._servers: dict[int, MemberServer] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    # -- life cycle ----------------------------------------------------------------------------
    def __enter__(self) -> SandboxCluster:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def start(self) -> SandboxCluster:
        if self._loop is not None:
            return self
        if self._tls:
            self.tls_files = create_tls_files(server_names=self._tls_server_names)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="sandbox-cluster",
                                        daemon=True)
        self._thread.start()
        try:
            self._call(self._start())
        except BaseException:
            self.close()
            raise
        return self

    async def _start(self) -> None:
        state = self.state
        state.stop_member = self._stop_member
        state.start_member = self._start_member
        for user, password in self._users:
            add_user(state, user, "admin", password)
        if self._users and self.tls_files is not None:
            add_user(state, self.tls_files.client_subject, "$external", None,
                     [{"role": "root", "db": "admin"}])
        state.auth_required = bool(self._users)
        role = {"standalone": STANDALONE, "replset": SECONDARY, "sharded": MONGOS}[self.kind]
        for index in range(self._count):
            port = 0 if self._port is None else self._port + index
            await self._add_member(Member(index, self._host, port, role))
        if self.kind == "replset":
            first = state.members[0]
            first.role = PRIMARY
            first.election_date = time.time()
            state.bump_all()
        if self._seed or self._big:
            from sandbox.sample_data import load_demo

            load_demo(state.store, demo=self._seed, big=self._big)

    async def _add_member(self, member: Member) -> Member:
        server = MemberServer(self.state, member,
                              self.tls_files.server_context() if self.tls_files else None)
        await server.start()
        self._servers[member.index] = server
        self.state.members.append(member)
        return member

    async def _stop_member(self, member: Member) -> None:
        server = self._servers.get(member.index)
        if server is not None:
            await server.stop()

    async def _start_member(self, member: Member) -> None:
        server = MemberServer(self.state, member,
                              self.tls_files.server_context() if self.tls_files else None)
        await server.start()
        self._servers[member.index] = server

    def close(self) -> None:
        """Stop every server, the loop and its thread; remove TLS files. Idempotent."""
        loop, thread = self._loop, self._thread
        if loop is not None and thread is not None and thread.is_alive():
            try:
                self._call(self._stop(), timeout=5)
            finally:
                loop.call_soon_threadsafe(loop.stop)
                thread.join(timeout=5)
        if loop is not None and not loop.is_running():
            _close_leftover_transports(loop)
            loop.close()
        self._loop = self._thread = None
        if self.tls_files is not None:
            self.tls_files.remove()
            self.tls_files = None

    async def _stop(self) -> None:
        self.state.close()
        await asyncio.gather(*(server.stop() for server in self._servers.values()),
                             return_exceptions=True)
        current = asyncio.current_task()
        others = [t for t in asyncio.all_tasks() if t is not current]
        for task in others:
            task.cancel()
        await asyncio.gather(*others, return_exceptions=True)

    def _call(self, coro: Coroutine[Any, Any, T], timeout: float = 30) -> T:
        if self._loop is None:
            coro.close()
            raise RuntimeError("the sandbox cluster is not running (call start() first)")
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout)

    def call(self, function: Callable[[ClusterState], T]) -> T:
        """Run ``function(state)`` on the cluster's loop (the only thread that may touch state)."""

        async def run() -> T:
            return function(self.state)

        return self._call(run())

    # -- addresses -----------------------------------------------------------------------------
    @property
    def members(self) -> list[MemberInfo]:
        return self.call(lambda state: [
            MemberInfo(m.index, m.host, m.port, m.role, m.alive, m.hidden, m.latency_ms, m.lag_s)
            for m in state.members])

    @property
    def primary(self) -> MemberInfo | None:
        for member in self.members:
            if member.role == PRIMARY and member.alive:
                return member
        return None

    @property
    def ca_file(self) -> str | None:
        return str(self.tls_files.ca_file) if self.tls_files else None

    @property
    def client_cert_file(self) -> str | None:
        return str(self.tls_files.client_pem) if self.tls_files else None

    @property
    def client_subject(self) -> str | None:
        return self.tls_files.client_subject if self.tls_files else None

    def _options(self) -> dict[str, str]:
        options: dict[str, str] = {}
        if self.kind == "replset":
            options["replicaSet"] = self.state.set_name
        if self._users:
            options["authSource"] = "admin"
        if self.tls_files is not None:
            options["tls"] = "true"
            options["tlsCAFile"] = str(self.tls_files.ca_file)
        return options

    def _build_uri(self, hosts: list[str], options: dict[str, str], credentials: bool) -> str:
        auth = ""
        if credentials and self._users:
            user, password = self._users[0]
            auth = f"{urllib.parse.quote_plus(user)}:{urllib.parse.quote_plus(password)}@"
        query = urllib.parse.urlencode(options, safe="/")
        return f"mongodb://{auth}{','.join(hosts)}/" + (f"?{query}" if query else "")

    @property
    def uri(self) -> str:
        """All members (replSet name, TLS CA and the first user's credentials included)."""
        return self._build_uri([m.address for m in self.members if m.role != ARBITER],
                               self._options(), credentials=True)

    def uri_without_credentials(self) -> str:
        return self._build_uri([m.address for m in self.members if m.role != ARBITER],
                               self._options(), credentials=False)

    def uri_for(self, member: MemberRef, direct: bool = True) -> str:
        """A URI naming one member (``directConnection=true`` unless ``direct`` is False)."""
        options = self._options()
        if direct:
            options.pop("replicaSet", None)
            options["directConnection"] = "true"
        return self._build_uri([self._info(member).address], options, credentials=True)

    # -- controls ------------------------------------------------------------------------------
    def _resolve(self, state: ClusterState, ref: MemberRef) -> Member:
        if isinstance(ref, MemberInfo):
            ref = ref.index
        if isinstance(ref, tuple):
            ref = f"{ref[0]}:{ref[1]}"
        for member in state.members:
            if ref == member.index or ref == member.address:
                return member
        raise ValueError(f"no such member: {ref!r} (members are "
                         f"{', '.join(m.address for m in state.members)})")

    def _info(self, ref: MemberRef) -> MemberInfo:
        index = self.call(lambda state: self._resolve(state, ref).index)
        return self.members[index]

    def _require_replset(self, what: str) -> None:
        if self.kind != "replset":
            raise ValueError(f"{what} needs a replica set; this cluster is {self.kind}")

    def step_down(self, member: MemberRef | None = None) -> None:
        """Make the primary (or the given member, which must be primary) a secondary."""
        self._require_replset("step_down")

        def apply(state: ClusterState) -> None:
            target = state.primary() if member is None else self._resolve(state, member)
            if target is None or target.role != PRIMARY:
                raise ValueError("step_down needs a primary; there is none right now"
                                 if target is None else f"{target.address} is not primary")
            state.step_down(target)

        self.call(apply)

    def kill(self, member: MemberRef) -> None:
        """Stop a member: close its socket and drop its connections."""

        async def run() -> None:
            await self.state.kill(self._resolve(self.state, member))

        self._call(run())

    def restart(self, member: MemberRef) -> None:
        """Bring a killed member back on the same port (a new processId)."""

        async def run() -> None:
            await self.state.restart(self._resolve(self.state, member))

        self._call(run())

    def set_latency(self, member: MemberRef, ms: float) -> None:
        if ms < 0:
            raise ValueError("latency must be >= 0 ms")
        self.call(lambda state: setattr(self._resolve(state, member), "latency_ms", float(ms)))

    def set_lag(self, member: MemberRef, seconds: float) -> None:
        self._require_replset("set_lag")
        if seconds < 0:
            raise ValueError("lag must be >= 0 seconds")

        def apply(state: ClusterState) -> None:
            self._resolve(state, member).lag_s = float(seconds)
            state.bump_all()

        self.call(apply)

    def hide(self, member: MemberRef, hidden: bool = True) -> None:
        self._require_replset("hide")
        self.call(lambda state: state.hide(self._resolve(state, member), hidden))

    def add_arbiter(self) -> MemberInfo:
        self._require_replset("add_arbiter")

        async def run() -> int:
            state = self.state
            member = await self._add_member(Member(len(state.members), self._host, 0, ARBITER))
            state.set_version += 1
            state.bump_all()
            return member.index

        index = self._call(run())
        return self.members[index]

    def wait_for_primary(self, timeout: float = 10.0) -> MemberInfo:
        """Block until a primary exists (woken by the members' state changes, not by polling)."""

        async def run() -> int:
            state = self.state
            while (primary := state.primary()) is None:
                await state.members[0].changed_event().wait()
            return primary.index

        try:
            index = self._call(asyncio.wait_for(run(), timeout), timeout=timeout + 5)
        except TimeoutError:
            raise TimeoutError(f"no primary elected within {timeout} s") from None
        return self.members[index]


def _close_leftover_transports(loop: asyncio.AbstractEventLoop) -> None:
    """Abort every socket transport still registered with the stopped loop.

    A connection accepted while a member stops (above all a TLS one still in its handshake,
    whose handler task does not exist yet) is known to no server object; left alone, its
    socket would only be closed by the garbage collector, with a ResourceWarning at some
    later, unrelated moment. This sweep closes them while the loop still exists.
    """
    selector = getattr(loop, "_selector", None)
    if selector is None:
        return
    transports = set()
    for key in list(selector.get_map().values()):
        handles = key.data if isinstance(key.data, tuple) else ()
        for handle in handles:
            owner = getattr(getattr(handle, "_callback", None), "__self__", None)
            if isinstance(owner, asyncio.Transport):
                transports.add(owner)
    for transport in transports:
        transport.abort()
    if transports:
        # abort() closes the socket in a callback: let the loop run it.
        loop.run_until_complete(asyncio.sleep(0))
        loop.run_until_complete(asyncio.sleep(0))

