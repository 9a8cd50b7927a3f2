"""The shared data store of one sandbox cluster: mongomock for queries, plus what mongomock lacks.

Members of a replica set (and the routers of a sharded cluster) share one :class:`DataStore`. It
wraps a ``mongomock.MongoClient`` and adds: a catalogue of collection kinds (views, time series),
collection UUIDs, a fast insert path (documents decoded from the wire are fresh objects, so
mongomock's deep copy is not needed), per-collection caches of pre-encoded BSON documents for
empty-filter finds (dropped on every write), lazily loaded collections (big sample data is built on
first use), and the history of write optimes that replica-set members report as ``lastWrite``.

Everything here runs on the cluster's event-loop thread; nothing is locked.

Importing this module installs :mod:`sandbox.bson_order` into mongomock, so every query the store
runs compares numbers by value across int/long/double/Decimal128 and other values in BSON order.
"""

from __future__ import annotations

import collections
import datetime
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import bson
import mongomock
from bson import Decimal128, ObjectId, Timestamp
from mongomock import helpers as mongomock_helpers

import sandbox.bson_order as bson_order
from sandbox.errors import BAD_VALUE, DUPLICATE_KEY, CommandError

bson_order.install()  # mongomock learns MongoDB's value order before any query runs

get_value_by_dot: Callable[[Any, str], Any] = mongomock_helpers.get_value_by_dot
Namespace = tuple[str, str]
Loader = Callable[[], Iterable[dict[str, Any]]]


@dataclass
class CollectionInfo:
    """What listCollections reports beyond the name."""

    kind: str = "collection"  # "collection" | "view" | "timeseries"
    options: dict[str, Any] = field(default_factory=dict)
    uuid: uuid.UUID = field(default_factory=uuid.uuid4)
    index_extra: dict[str, dict[str, Any]] = field(default_factory=dict)
    # (count, data size) reported for a lazy collection before it is built.
    estimate: tuple[int, int] | None = None


@dataclass
class WriteOptime:
    wall: float
    ts: Timestamp
    term: int


def store_key(doc_id: Any) -> Any:
    """The key mongomock files a document under (dict ids are made hashable)."""
    if isinstance(doc_id, dict):
        return mongomock_helpers.hashdict(doc_id)
    if isinstance(doc_id, Decimal128 | list):
        # mongomock files documents in a dict by the raw _id, so an unhashable one cannot be kept.
        raise CommandError(BAD_VALUE, f"not supported by the sandbox: an _id of type "
                                      f"{type(doc_id).__name__} ({doc_id!r})")
    return doc_id


def with_id_first(doc: dict[str, Any]) -> dict[str, Any]:
    """A real server stores ``_id`` as the first field; generate one when missing."""
    if "_id" not in doc:
        return {"_id": ObjectId(), **doc}
    if next(iter(doc)) == "_id":
        return doc
    return {"_id": doc["_id"], **{k: v for k, v in doc.items() if k != "_id"}}


class DataStore:
    """The databases of one cluster."""

    def __init__(self) -> None:
        self.client: Any = mongomock.MongoClient()
        self.catalog: dict[Namespace, CollectionInfo] = {}
        self._encoded: dict[Namespace, list[bytes]] = {}
        self._lazy: dict[Namespace, Loader] = {}
        self.created_at = time.time()
        self._increment = 0
        self.term = 1
        self.history: collections.deque[WriteOptime] = collections.deque(maxlen=20000)
        self.history.append(WriteOptime(self.created_at, Timestamp(int(self.created_at), 1), 1))
        self.write_listeners: list[Callable[[], None]] = []

    # -- namespaces ----------------------------------------------------------------------------
    def collection(self, db: str, name: str) -> Any:
        """The mongomock collection, materialising a lazy one first."""
        ns = (db, name)
        if ns in self._lazy:
            self._materialise(ns)
        return self.client[db][name]

    def _raw_store(self, db: str, name: str) -> Any:
        return self.client._store[db][name]

    def exists(self, db: str, name: str) -> bool:
        ns = (db, name)
        if ns in self._lazy:
            return True
        if ns in self.catalog and self.catalog[ns].kind == "view":
            return True
        return bool(self._raw_store(db, name).is_created)

    def info(self, db: str, name: str) -> CollectionInfo:
        ns = (db, name)
        if ns not in self.catalog:
            self.catalog[ns] = CollectionInfo()
        return self.catalog[ns]

    def collection_names(self, db: str) -> list[str]:
        names: set[str] = set(self.client._store[db].list_created_collection_names())
        names.update(name for (d, name) in self._lazy if d == db)
        names.update(name for (d, name), info in self.catalog.items()
                     if d == db and info.kind == "view")
        return sorted(names)

    def database_names(self) -> list[str]:
        names: set[str] = set(self.client._store.list_created_database_names())
        names.update(d for (d, _n) in self._lazy)
        names.update(d for (d, _n), info in self.catalog.items() if info.kind == "view")
        return sorted(names)

    def register_lazy(self, db: str, name: str, loader: Loader,
                      estimate: tuple[int, int] | None = None) -> None:
        """A collection whose documents are built by ``loader`` when first touched."""
        self._lazy[(db, name)] = loader
        self.info(db, name).estimate = estimate

    def is_lazy(self, db: str, name: str) -> bool:
        return (db, name) in self._lazy

    def _materialise(self, ns: Namespace) -> None:
        loader = self._lazy.pop(ns)
        self.bulk_load(ns[0], ns[1], loader())
        self.info(*ns).estimate = None

    def bulk_load(self, db: str, name: str, docs: Iterable[dict[str, Any]]) -> int:
        """Load trusted documents straight into the store (no copies, no unique checks)."""
        raw = self._raw_store(db, name)
        raw.create()
        target = raw._documents
        count = 0
        for doc in docs:
            doc = with_id_first(doc)
            target[store_key(doc["_id"])] = doc
            count += 1
        self.info(db, name)
        self.invalidate(db, name)
        return count

    # -- documents -----------------------------------------------------------------------------
    def documents(self, db: str, name: str) -> Iterator[dict[str, Any]]:
        """The stored documents themselves (not copies): callers must not mutate them."""
        self.collection(db, name)
        return iter(self._raw_store(db, name)._documents.values())

    def count(self, db: str, name: str) -> int:
        self.collection(db, name)
        return len(self._raw_store(db, name)._documents)

    def encoded_documents(self, db: str, name: str) -> list[bytes]:
        """Every document of a collection as BSON, in natural order; cached until a write."""
        ns = (db, name)
        cached = self._encoded.get(ns)
        if cached is None:
            encode = bson.encode
            cached = [encode(doc) for doc in self.documents(db, name)]
            self._encoded[ns] = cached
        return cached

    def data_size(self, db: str, name: str) -> int:
        return sum(len(d) for d in self.encoded_documents(db, name))

    def insert(self, db: str, name: str, doc: dict[str, Any]) -> Any:
        """Insert one freshly decoded document; raises DuplicateKey like the server."""
        doc_id = self._put(db, name, doc)
        self.wrote(db, name)
        return doc_id

    def _put(self, db: str, name: str, doc: dict[str, Any]) -> Any:
        collection = self.collection(db, name)
        raw = self._raw_store(db, name)
        doc = with_id_first(doc)
        key = store_key(doc["_id"])
        if key in raw._documents:
            raise self.duplicate_key_error(db, name, "_id_", {"_id": 1}, {"_id": doc["_id"]})
        raw._documents[key] = doc
        try:
            collection._ensure_uniques(doc)
        except mongomock.DuplicateKeyError:
            del raw._documents[key]
            raise self.explain_duplicate(db, name, doc) from None
        raw._is_force_created = True
        return doc["_id"]

    def replace_contents(self, db: str, name: str, docs: Iterable[dict[str, Any]]) -> int:
        """Swap a collection's documents for ``docs``, keeping its indexes (``$out``).

        All or nothing, as the server's write-to-a-temporary-then-rename is: on a duplicate key
        the old documents come back and the error is raised."""
        self.collection(db, name)
        raw = self._raw_store(db, name)
        raw.create()
        saved = list(raw._documents.items())
        raw._documents.clear()
        count = 0
        try:
            for doc in docs:
                self._put(db, name, doc)
                count += 1
        except CommandError:
            raw._documents.clear()
            raw._documents.update(saved)
            raise
        finally:
            self.info(db, name)
            self.wrote(db, name)
        return count

    def explain_duplicate(self, db: str, name: str, doc: dict[str, Any],
                          exclude_id: Any = None) -> CommandError:
        """The DuplicateKey error naming the unique index ``doc`` violates."""
        raw = self._raw_store(db, name)
        for index_name, index in raw.indexes.items():
            if not index.get("unique"):
                continue
            key_value = {}
            for field_name, _direction in index["key"]:
                try:
                    key_value[field_name] = get_value_by_dot(doc, field_name)
                except KeyError:
                    key_value[field_name] = None
            clashes = [other for other in raw._documents.values()
                       if other.get("_id") != doc.get("_id") and other.get("_id") != exclude_id
                       and _key_of(other, key_value) == list(key_value.values())]
            if clashes:
                return self.duplicate_key_error(db, name, index_name, dict(index["key"]), key_value)
        return self.duplicate_key_error(db, name, "_id_", {"_id": 1}, {"_id": doc.get("_id")})

    @staticmethod
    def duplicate_key_error(db: str, name: str, index_name: str, key_pattern: dict[str, Any],
                            key_value: dict[str, Any]) -> CommandError:
        shown = ", ".join(f"{k}: {v!r}" for k, v in key_value.items())
        return CommandError(
            DUPLICATE_KEY,
            f"E11000 duplicate key error collection: {db}.{name} index: {index_name} "
            f"dup key: {{ {shown} }}",
            extra={"keyPattern": key_pattern, "keyValue": key_value},
        )

    # -- writes and optimes --------------------------------------------------------------------
    def invalidate(self, db: str, name: str) -> None:
        self._encoded.pop((db, name), None)

    def wrote(self, db: str, name: str | None = None) -> None:
        """Record that a write happened (drops caches, appends an optime)."""
        if name is None:
            for ns in [ns for ns in self._encoded if ns[0] == db]:
                del self._encoded[ns]
        else:
            self._encoded.pop((db, name), None)
        now = time.time()
        last = self.history[-1]
        secs = int(now)
        self._increment = self._increment + 1 if secs == last.ts.time else 1
        self.history.append(WriteOptime(now, Timestamp(secs, self._increment), self.term))
        for listener in self.write_listeners:
            listener()

    def optime_at(self, wall: float) -> WriteOptime:
        """The last write applied at ``wall`` (a lagging secondary's view of the primary).

        A primary writes a no-op every 10 s when idle, so the reported optime never ages more than
        that; drivers compute max staleness from it."""
        noop_wall = wall - (wall % 10.0)
        chosen: WriteOptime | None = None
        for entry in reversed(self.history):
            if entry.wall <= wall:
                chosen = entry
                break
        if chosen is None:  # before the first recorded write: a no-op of that time
            return WriteOptime(noop_wall, Timestamp(int(noop_wall), 0), self.history[0].term)
        if noop_wall > chosen.wall:
            return WriteOptime(noop_wall, Timestamp(int(noop_wall), 0), chosen.term)
        return chosen

    # -- views ---------------------------------------------------------------------------------
    def drop(self, db: str, name: str) -> bool:
        ns = (db, name)
        existed = self.exists(db, name)
        self._lazy.pop(ns, None)
        self.catalog.pop(ns, None)
        self.client[db].drop_collection(name)
        self.wrote(db, name)
        return existed

    def drop_database(self, db: str) -> None:
        for ns in [ns for ns in self._lazy if ns[0] == db]:
            del self._lazy[ns]
        for ns in [ns for ns in self.catalog if ns[0] == db]:
            del self.catalog[ns]
        self.client.drop_database(db)
        self.wrote(db)


def _key_of(doc: dict[str, Any], key_value: dict[str, Any]) -> list[Any]:
    out = []
    for field_name in key_value:
        try:
            out.append(get_value_by_dot(doc, field_name))
        except KeyError:
            out.append(None)
    return out


def utc_now() -> datetime.datetime:
    """Milliseconds precision, naive UTC: what BSON dates round-trip to."""
    now = datetime.datetime.now(datetime.UTC).replace(tzinfo=None)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)
