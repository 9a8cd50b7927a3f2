"""``ClientService``: one open connection, as awaitable calls on the worker pool.

The service owns one driver client (made by an injected factory, by default the
driver's ``MongoClient``, imported only when first needed) and runs every call to it
on a ``WorkerPool`` thread, so the GUI thread never waits on the network, DNS or TLS.
Method names follow PyMongo's, which the driver mirrors: ``list_databases()``,
``client[db].list_collections()``, ``client[db].command(...)``, ``server_info()``,
``topology_description``, ``close()``.

``test_connection`` is separate from ``open``: it makes a throw-away client with the
given URI, reports the server version, topology type and members, or names the first
step that failed in plain words; ``cancel_test`` abandons it (the call keeps running on
its worker until the driver gives up, then the client is closed there).
"""

from __future__ import annotations

import asyncio
import importlib
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from app.services.bridge import EventBridge
from app.services.worker import SupersedingRequests, WorkerPool

ClientFactory = Callable[..., Any]
"""``factory(uri, **kwargs) -> client``: the ``MongoClient`` signature."""


def default_client_factory(uri: str, **kwargs: Any) -> Any:
    """The driver's ``MongoClient`` (imported lazily: keeps start-up fast)."""
    try:
        module = importlib.import_module("driver.client")
    except ImportError as exc:  # the client layer is not written yet
        raise RuntimeError("this build has no driver client (driver.client is missing)") from exc
    return module.MongoClient(uri, **kwargs)


@dataclass(frozen=True)
class ConnectionReport:
    """What "Test connection" found, in words a user can act on."""

    ok: bool
    step: str  # "parse", "resolve", "connect", "authenticate", "ping", "cancelled", "done"
    message: str
    server_version: str | None = None
    topology_type: str | None = None
    members: list[str] = field(default_factory=list)
    elapsed_s: float = 0.0


def client_rtt_samples(client: Any, address: tuple[str, int]) -> list[tuple[float, float]]:
    """A driver client's public ``rtt_samples`` for one server ([] without a client)."""
    if client is None:
        return []
    # The class, not the instance: ``client.name`` is a Database for any name the
    # client does not define (PyMongo's attribute access), so fakes without it give [].
    if not isinstance(getattr(type(client), "rtt_samples", None), property):
        return []
    return list(client.rtt_samples.get(address, ()))


class ClientService:
    """One connection's client, driven from the GUI thread through awaitables."""

    def __init__(
        self,
        uri: str,
        *,
        pool: WorkerPool,
        client_factory: ClientFactory = default_client_factory,
        bridge: EventBridge | None = None,
        client_options: dict[str, Any] | None = None,
    ) -> None:
        self._uri = uri
        self._pool = pool
        self._factory = client_factory
        self._bridge = bridge
        self._options = dict(client_options or {})
        self._client: Any = None
        self._test_requests = SupersedingRequests(pool)
        self._test_run: _TestRun | None = None
        self._open_lock: asyncio.Lock | None = None

    # -- lifecycle ------------------------------------------------------------------
    @property
    def is_open(self) -> bool:
        return self._client is not None

    async def open(self) -> None:
        """Make the client on a worker (the constructor may resolve SRV records)."""
        if self._open_lock is None:
            self._open_lock = asyncio.Lock()
        async with self._open_lock:  # two quick opens must not make two clients
            if self._client is not None:
                return
            kwargs = dict(self._options)
            if self._bridge is not None:
                kwargs.setdefault("event_listeners", self._bridge.listeners())
            self._client = await self._pool.submit(
                _call_with_kwargs, self._factory, self._uri, kwargs
            )

    async def close(self) -> None:
        """Close the client (its monitors and pools) on a worker; safe to call twice."""
        client, self._client = self._client, None
        self._test_requests.cancel()
        if self._bridge is not None:
            self._bridge.close()
        if client is not None:
            await self._pool.submit(client.close)

    def _require(self) -> Any:
        if self._client is None:
            raise RuntimeError("the connection is not open (call open() first)")
        return self._client

    # -- calls ----------------------------------------------------------------------
    async def list_databases(self) -> list[dict[str, Any]]:
        client = self._require()
        return await self._pool.submit(lambda: list(client.list_databases()))

    async def list_collections(self, db: str) -> list[dict[str, Any]]:
        """``{"name", "type"}`` per collection, view and time-series collection.

        ``nameOnly`` is enough for the tree (the type is still given) and is cheaper on
        the server: it takes no collection locks and skips the options.
        """
        client = self._require()
        return await self._pool.submit(lambda: list(client[db].list_collections(nameOnly=True)))

    async def create_collection(self, db: str, name: str) -> None:
        """Create ``db.name`` (this is also how a new database comes to exist)."""
        client = self._require()
        # Return nothing: a Collection refuses truth tests, as in PyMongo.
        await self._pool.submit(lambda: client[db].create_collection(name) is None)

    async def drop_collection(self, db: str, name: str) -> None:
        client = self._require()
        await self._pool.submit(lambda: client[db].drop_collection(name) is None)

    async def drop_database(self, db: str) -> None:
        client = self._require()
        await self._pool.submit(lambda: client.drop_database(db))

    @property
    def uri(self) -> str:
        return self._uri

    async def db_stats(self, db: str) -> dict[str, Any]:
        client = self._require()
        return await self._pool.submit(lambda: dict(client[db].command("dbStats")))

    async def coll_stats(self, db: str, collection: str) -> dict[str, Any]:
        client = self._require()
        return await self._pool.submit(
            lambda: dict(client[db].command("collStats", collection))
        )

    async def ping(self) -> dict[str, Any]:
        client = self._require()
        return await self._pool.submit(lambda: dict(client.admin.command("ping")))

    async def server_info(self) -> dict[str, Any]:
        client = self._require()
        return await self._pool.submit(lambda: dict(client.server_info()))

    # -- documents ------------------------------------------------------------------
    # The collection page's operations. Each runs on the worker pool; ``open_cursor``
    # returns a callable for ``CursorBatchSource`` that makes the (lazy) raw-batch cursor
    # on the worker that first iterates it.
    def _collection(self, db: str, collection: str) -> Any:
        return self._require()[db][collection]

    def raw_cursor_opener(
        self, db: str, collection: str, find_kwargs: dict[str, Any], *,
        batch_size: int = 0, comment: str | None = None,
    ) -> Callable[[], Any]:
        """A callable (run on a worker) making the ``find_raw_batches`` cursor.

        ``comment`` tags the find so ``kill_operations(comment)`` can find it on the
        server while its first batch is still being computed."""
        coll = self._collection(db, collection)
        kwargs = dict(find_kwargs)
        if batch_size:
            kwargs["batch_size"] = batch_size
        if comment is not None:
            kwargs["comment"] = comment
        return lambda: coll.find_raw_batches(**kwargs)

    def run_detached(self, fn: Callable[[], Any]) -> None:
        """Run ``fn`` on the pool; its outcome is dropped (it reports by other means)."""
        from app.services.worker import event_loop_or_none

        loop = event_loop_or_none()
        if loop is None:
            raise RuntimeError("no event loop to run background work on")
        future = self._pool.submit(fn, loop=loop)
        future.add_done_callback(_consume_outcome)

    async def estimated_count(self, db: str, collection: str) -> int:
        coll = self._collection(db, collection)
        return await self._pool.submit(coll.estimated_document_count)

    async def count_documents(
        self, db: str, collection: str, filter: dict[str, Any], *, max_time_ms: int = 5000,
        **options: Any,
    ) -> int:
        """The exact count of ``filter``; the server gives up after ``max_time_ms``."""
        coll = self._collection(db, collection)
        return await self._pool.submit(
            lambda: coll.count_documents(filter, maxTimeMS=max_time_ms, **options))

    async def find_documents(
        self, db: str, collection: str, filter: dict[str, Any], *, limit: int = 0,
        **options: Any,
    ) -> list[dict[str, Any]]:
        coll = self._collection(db, collection)
        return await self._pool.submit(
            lambda: list(coll.find(filter, limit=limit, **options)))

    async def find_one(self, db: str, collection: str, filter: dict[str, Any]) -> Any:
        coll = self._collection(db, collection)
        return await self._pool.submit(lambda: coll.find_one(filter))

    async def find_one_raw(
        self, db: str, collection: str, filter: dict[str, Any]
    ) -> bytes | None:
        """The first matching document's BSON bytes, undecoded, or None."""
        coll = self._collection(db, collection)

        def run() -> bytes | None:
            cursor = coll.find_raw_batches(filter, limit=1)
            try:
                for batch in cursor:
                    size = int.from_bytes(batch[:4], "little")
                    return bytes(batch[:size])
            finally:
                cursor.close()
            return None

        return await self._pool.submit(run)

    async def insert_one(self, db: str, collection: str, document: dict[str, Any]) -> Any:
        coll = self._collection(db, collection)
        return await self._pool.submit(lambda: coll.insert_one(document).inserted_id)

    async def insert_many(
        self, db: str, collection: str, documents: list[dict[str, Any]], *, ordered: bool = True
    ) -> list[Any]:
        coll = self._collection(db, collection)
        return await self._pool.submit(
            lambda: list(coll.insert_many(documents, ordered=ordered).inserted_ids))

    async def update_one(
        self, db: str, collection: str, filter: dict[str, Any], update: dict[str, Any]
    ) -> int:
        """Returns the matched count (0: nothing matched the filter)."""
        coll = self._collection(db, collection)
        return await self._pool.submit(lambda: coll.update_one(filter, update).matched_count)

    async def update_many(
        self, db: str, collection: str, filter: dict[str, Any], update: Any
    ) -> tuple[int, int]:
        """(matched, modified)."""
        coll = self._collection(db, collection)

        def run() -> tuple[int, int]:
            result = coll.update_many(filter, update)
            return result.matched_count, result.modified_count

        return await self._pool.submit(run)

    async def find_one_and_replace(
        self, db: str, collection: str, filter: dict[str, Any], replacement: dict[str, Any]
    ) -> Any:
        """The document before the replacement, or None when nothing matched."""
        coll = self._collection(db, collection)
        return await self._pool.submit(lambda: coll.find_one_and_replace(filter, replacement))

    async def delete_one(self, db: str, collection: str, filter: dict[str, Any]) -> int:
        coll = self._collection(db, collection)
        return await self._pool.submit(lambda: coll.delete_one(filter).deleted_count)

    async def delete_many(self, db: str, collection: str, filter: dict[str, Any]) -> int:
        coll = self._collection(db, collection)
        return await self._pool.submit(lambda: coll.delete_many(filter).deleted_count)

    async def aggregate(
        self, db: str, collection: str, pipeline: list[dict[str, Any]], **options: Any
    ) -> list[dict[str, Any]]:
        coll = self._collection(db, collection)
        return await self._pool.submit(lambda: list(coll.aggregate(pipeline, **options)))

    async def explain_find(
        self, db: str, collection: str, find_kwargs: dict[str, Any]
    ) -> dict[str, Any]:
        """The server's plan for the query (``explain`` of its find command)."""
        coll = self._collection(db, collection)
        return await self._pool.submit(lambda: dict(coll.find(**find_kwargs).explain()))

    async def kill_operations(self, comment: str) -> int:
        """``killOp`` every operation on the server tagged with ``comment``; returns how
        many were asked to stop. Needed while a find computes its first batch: there is
        no cursor yet to close."""
        client = self._require()

        def run() -> int:
            reply = client.admin.command("currentOp")
            killed = 0
            for op in reply.get("inprog", []):
                command = op.get("command") or {}
                if isinstance(command, dict) and command.get("comment") == comment:
                    client.admin.command("killOp", op=op["opid"])
                    killed += 1
            return killed

        return await self._pool.submit(run)

    async def export_job(self, fn: Callable[[], Any]) -> Any:
        """Run an import or export job (a blocking callable) on the pool."""
        return await self._pool.submit(fn)

    def collection_handle(self, db: str, collection: str) -> Any:
        """The driver collection, for jobs that already run on a worker (exports)."""
        return self._collection(db, collection)

    # -- cluster views --------------------------------------------------------------
    async def admin_command(self, name: str, value: Any = 1, **fields: Any) -> dict[str, Any]:
        """Run ``{name: value, **fields}`` on the admin database, on a worker.

        The read preference is primaryPreferred: a status poll (``replSetGetStatus``,
        ``serverStatus``) must still be answered by a secondary while the set elects.
        Driver errors are raised as they are.
        """
        client = self._require()
        spec: dict[str, Any] = {name: value, **fields}
        return await self._pool.submit(_run_admin_command, client, spec)

    def rtt_samples(self, address: tuple[str, int]) -> list[tuple[float, float]]:
        """``(epoch s, rtt s)`` samples of the RTT monitor for ``address`` (empty when
        the connection is closed). An in-memory read of the client's public
        ``rtt_samples`` property."""
        return client_rtt_samples(self._client, address)

    def topology_description(self) -> Any | None:
        """The client's current ``TopologyDescription``; None until opened / once closed."""
        client = self._client
        return None if client is None else client.topology_description

    # -- test connection ------------------------------------------------------------
    async def test_connection(
        self, uri: str | None = None, *, timeout_ms: int | None = None
    ) -> ConnectionReport:
        """Connect with a throw-away client and report; a newer test supersedes this."""
        kwargs: dict[str, Any] = {"connect": True}
        if timeout_ms is not None:
            kwargs["serverSelectionTimeoutMS"] = timeout_ms
        self.cancel_test()
        run = self._test_run = _TestRun()
        return await self._test_requests.submit(
            _run_connection_test, self._factory, uri or self._uri, kwargs, run
        )

    def cancel_test(self) -> None:
        """Abandon the running test; its awaiter gets ``Superseded``.

        The blocking call cannot be interrupted, but closing its client (on another
        worker) makes the driver give up server selection early.
        """
        run, self._test_run = self._test_run, None
        self._test_requests.cancel()
        if run is not None:
            client = run.abandon()
            if client is not None:
                self._pool.submit(client.close)


class _TestRun:
    """Shared between the GUI thread (cancel) and the worker (the test itself)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._client: Any = None
        self.abandoned = False

    def adopt(self, client: Any) -> bool:
        """Worker: remember the client; False if the run was already abandoned."""
        with self._lock:
            self._client = client
            return not self.abandoned

    def abandon(self) -> Any:
        """GUI thread: mark abandoned; returns the client to close, if made yet."""
        with self._lock:
            self.abandoned = True
            client, self._client = self._client, None
            return client


def _consume_outcome(future: asyncio.Future[Any]) -> None:
    """Retrieve a detached job's exception so asyncio does not log it as unhandled."""
    if not future.cancelled():
        future.exception()


def _run_admin_command(client: Any, spec: dict[str, Any]) -> dict[str, Any]:
    """Worker thread: one admin command, answered by any member while there is no primary."""
    from driver.read_preferences import ReadPreference  # lazily: keeps start-up fast

    return dict(client.admin.command(spec, read_preference=ReadPreference.PRIMARY_PREFERRED))


def _call_with_kwargs(factory: ClientFactory, uri: str, kwargs: dict[str, Any]) -> Any:
    return factory(uri, **kwargs)


def _run_connection_test(
    factory: ClientFactory, uri: str, kwargs: dict[str, Any], run: _TestRun
) -> ConnectionReport:
    """Runs on a worker thread: each step's failure is named in plain words."""
    from driver import errors  # lazily: the driver's error names, no I/O

    started = time.monotonic()

    def report(ok: bool, step: str, message: str, **extra: Any) -> ConnectionReport:
        return ConnectionReport(ok, step, message, elapsed_s=time.monotonic() - started, **extra)

    try:
        client = factory(uri, **kwargs)
    except errors.ConfigurationError as exc:
        step = "resolve" if uri.startswith("mongodb+srv://") else "parse"
        what = "Could not resolve the SRV record" if step == "resolve" else "Invalid settings"
        return report(False, step, f"{what}: {exc}")
    except Exception as exc:  # noqa: BLE001 - reported to the user, not raised
        return report(False, "connect", f"Could not create a client: {exc}")
    if not run.adopt(client):
        client.close()
        return report(False, "cancelled", "Cancelled")
    try:
        try:
            client.admin.command("ping")
        except errors.ServerSelectionTimeoutError as exc:
            return report(False, "connect", f"No server could be reached in time: {exc}")
        except errors.ConnectionFailure as exc:
            return report(False, "connect", f"The connection failed: {exc}")
        except errors.OperationFailure as exc:
            if exc.code in (11, 18) or "auth" in str(exc).lower():
                return report(
                    False,
                    "authenticate",
                    "Authentication failed: check the user name, password, mechanism and "
                    f"authentication database ({exc})",
                )
            return report(False, "ping", f"The server refused ping: {exc}")
        except errors.PyMongoError as exc:
            return report(False, "ping", f"Ping failed: {exc}")
        info = client.server_info()
        description = getattr(client, "topology_description", None)
        topology_type = getattr(description, "topology_type_name", None)
        members: list[str] = []
        if description is not None and hasattr(description, "server_descriptions"):
            for address, server in description.server_descriptions().items():
                host, port = address
                kind = getattr(server, "server_type_name", "?")
                members.append(f"{_format_host(host, port)} ({kind})")
        version = info.get("version")
        return report(
            True,
            "done",
            f"Connected: MongoDB {version}, {topology_type or 'unknown topology'}",
            server_version=version,
            topology_type=topology_type,
            members=members,
        )
    finally:
        if run.abandon() is not None:  # not closed by a cancel already
            client.close()


def _format_host(host: str, port: int | None) -> str:
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    return host if port is None else f"{host}:{port}"


async def gather_stats(service: ClientService, db: str, collections: list[str]) -> dict[str, Any]:
    """collStats for several collections at once (the tree's background counts)."""
    results = await asyncio.gather(
        *(service.coll_stats(db, name) for name in collections), return_exceptions=True
    )
    return dict(zip(collections, results, strict=True))
