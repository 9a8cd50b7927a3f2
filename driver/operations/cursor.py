"""Cursors: ``Cursor`` (``find``), ``RawBatchCursor`` (``find_raw_batches``) and
``CommandCursor`` (``aggregate``, ``list_indexes``, ``list_collections``...).

A cursor is lazy: nothing is sent until the first ``next()``. Then the ``find`` (or the
command) returns a first batch and a cursor id; each exhausted batch is followed by one
``getMore`` to the same server, until the server reports id 0. A cursor closed early
(``close()``, a reached ``limit``, leaving a ``with`` block) sends ``killCursors`` at
once; one that is garbage-collected while still open hands its id to the client's
background reaper, which sends ``killCursors`` from its own thread: a finalizer must not
do network I/O or take locks.

An implicit session started for a cursor lives as long as the cursor, because every
``getMore`` must carry the same ``lsid``.
"""

from __future__ import annotations

import collections
import copy
from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from driver.common import (
    hint_value,
    index_document,
    index_list,
    projection_document,
    validate_non_negative_int,
)
from driver.errors import AutoReconnect, InvalidOperation, OperationFailure
from driver.operations.replies import cursor_batch, cursor_document, cursor_id

if TYPE_CHECKING:
    from driver.collection import Collection
    from driver.operations.executor import Reply
    from driver.session import ClientSession

_T = TypeVar("_T")
Address = tuple[str, int]


class CursorType:
    """The ``cursor_type`` values of ``find``."""

    NON_TAILABLE = 0
    TAILABLE = 2
    TAILABLE_AWAIT = 34
    #: Accepted for compatibility; runs as a normal cursor (exhaust is a wire optimisation).
    EXHAUST = 64


def _split_ns(namespace: str) -> tuple[str, str]:
    database, _, collection = namespace.partition(".")
    return database, collection


class _CursorState(Generic[_T]):
    """What every cursor shares: the id, the server it lives on, the buffered batch,
    the session, and the early kill."""

    def __init__(self, collection: Collection, session: ClientSession | None) -> None:
        self._collection = collection
        self._executor = collection._executor
        self._explicit_session = session
        self._session: ClientSession | None = session
        self._id: int | None = None  # None until the first command ran
        self._address: Address | None = None
        self._namespace = collection.full_name
        self._data: collections.deque[_T] = collections.deque()
        self._killed = False
        self._retrieved = 0

    # -- properties PyMongo documents --------------------------------------------------------

    @property
    def alive(self) -> bool:
        """Could this cursor still return documents (buffered, or more on the server)?"""
        return bool(self._data) or not self._killed

    @property
    def cursor_id(self) -> int | None:
        """The server's cursor id (0 when exhausted, ``None`` before the first batch)."""
        return self._id

    @property
    def address(self) -> Address | None:
        """The ``(host, port)`` of the server holding the cursor."""
        return self._address

    @property
    def session(self) -> ClientSession | None:
        """The explicit session passed in, or ``None``."""
        return self._explicit_session

    @property
    def collection(self) -> Collection:
        return self._collection

    @property
    def retrieved(self) -> int:
        """How many documents (or raw batches' documents) arrived so far."""
        return self._retrieved

    # -- plumbing ------------------------------------------------------------------------------

    def _ensure_session(self) -> ClientSession:
        if self._session is None:
            self._session = self._executor.implicit_session()
        return self._session

    def _release_session(self) -> None:
        if self._explicit_session is None and self._session is not None:
            session, self._session = self._session, None
            session.end_session()

    def _take_batch(self, reply: Reply, first: bool) -> None:
        raise NotImplementedError

    def _update_cursor(self, cursor_doc: Mapping[str, Any], address: Address | None) -> None:
        self._id = cursor_id(cursor_doc, "cursor reply")
        namespace = cursor_doc.get("ns")
        if isinstance(namespace, str) and namespace:
            self._namespace = namespace
        if address is not None:
            self._address = address
        if self._id == 0:
            self._killed = True
            self._release_session()

    def _get_more_batch_size(self) -> int | None:
        return None

    def _get_more(self) -> None:
        assert self._id and self._address is not None
        database, collection = _split_ns(self._namespace)
        from driver.bson import Int64

        command: dict[str, Any] = {"getMore": Int64(self._id), "collection": collection}
        batch_size = self._get_more_batch_size()
        if batch_size:
            command["batchSize"] = batch_size
        max_await = getattr(self, "_max_await_time_ms", None)
        if max_await is not None and getattr(self, "_await_data", False):
            command["maxTimeMS"] = max_await
        comment = getattr(self, "_comment", None)
        if comment is not None:
            command["comment"] = comment
        try:
            reply = self._executor.command(
                database, command, session=self._session, address=self._address,
                codec_options=self._collection.codec_options, kind="getMore",
                raw_batches=self._wants_raw(),
            )
        except OperationFailure:
            # CursorNotFound and friends: the server has no cursor to kill.
            self._forget()
            raise
        except AutoReconnect:
            # The connection (or the server) is gone, and the cursor with it.
            self._forget()
            raise
        except Exception:
            self._die()
            raise
        self._take_batch(reply, first=False)

    def _wants_raw(self) -> bool:
        return False

    def _first(self) -> None:
        raise NotImplementedError

    def _refresh(self) -> int:
        """Fetch the next batch when the buffer is empty; return how many are buffered."""
        if self._data or self._killed:
            return len(self._data)
        if self._id is None:
            self._first()
        elif self._id:
            self._get_more()
        else:
            self._killed = True
        return len(self._data)

    def _forget(self) -> None:
        """The server cursor is gone already: stop without sending ``killCursors``."""
        self._killed = True
        self._id = 0
        self._release_session()

    def _die(self) -> None:
        """Kill the server cursor now (if any) and release the implicit session."""
        if self._killed:
            return
        self._killed = True
        cursor_id, address = self._id, self._address
        if cursor_id and address is not None:
            database, collection = _split_ns(self._namespace)
            self._executor.kill_cursors(database, collection, cursor_id, address, self._session)
        self._release_session()

    def close(self) -> None:
        """Stop: kill the server cursor if it is still open and drop buffered documents."""
        self._data.clear()
        if self._id is None:
            self._killed = True
            self._release_session()
            return
        self._die()

    def __del__(self) -> None:
        # Runs in whatever thread the garbage collector picked: only a lock-free hand-off
        # to the client's reaper thread, never network I/O.
        try:
            if not self._killed and self._id and self._address is not None:
                database, collection = _split_ns(self._namespace)
                implicit = self._session if self._explicit_session is None else None
                self._executor.kill_cursor_soon(
                    database, collection, self._id, self._address, implicit
                )
                self._killed = True
            elif self._explicit_session is None and self._session is not None:
                self._executor.kill_cursor_soon("", "", 0, None, self._session)
        except Exception:  # at interpreter shutdown modules vanish: nothing to report
            pass

    def next(self) -> _T:
        """The next document (or raw batch); ``StopIteration`` when there is none."""
        data = self._data
        if data or self._refresh_until_data():
            return data.popleft()
        raise StopIteration

    def _refresh_until_data(self) -> bool:
        while not self._data and not self._killed:
            self._refresh()
            if self._is_tailable():
                break
        return bool(self._data)

    def _is_tailable(self) -> bool:
        return False

    __next__ = next

    def __iter__(self) -> Iterator[_T]:
        return self

    def __enter__(self) -> _CursorState[_T]:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def to_list(self, length: int | None = None) -> list[_T]:
        """Up to ``length`` documents (all when ``None``) from the current position."""
        if length is not None:
            validate_non_negative_int(length, "length")
            if length == 0:
                raise ValueError("to_list length must be greater than 0")
        result: list[_T] = []
        while length is None or len(result) < length:
            if not self._data and not self._refresh_until_data():
                break
            take = len(self._data) if length is None else min(len(self._data), length - len(result))
            for _ in range(take):
                result.append(self._data.popleft())
        return result


class Cursor(_CursorState[Any]):
    """The result of ``Collection.find``: iterate it for documents."""

    def __init__(
        self, collection: Collection, filter: Mapping[str, Any] | None = None,
        projection: Mapping[str, Any] | Sequence[str] | None = None, skip: int = 0,
        limit: int = 0, sort: Any = None, batch_size: int = 0, hint: Any = None,
        collation: Mapping[str, Any] | None = None, max_time_ms: int | None = None,
        comment: Any = None, allow_disk_use: bool | None = None, cursor_type: int = 0,
        no_cursor_timeout: bool = False, allow_partial_results: bool = False,
        max_await_time_ms: int | None = None, min: Any = None, max: Any = None,
        return_key: bool | None = None, show_record_id: bool | None = None,
        let: Mapping[str, Any] | None = None, session: ClientSession | None = None,
    ) -> None:
        super().__init__(collection, session)
        if filter is not None and not isinstance(filter, Mapping):
            raise TypeError(f"filter must be a document (dict-like), not {type(filter).__name__}")
        self._filter: dict[str, Any] = dict(filter) if filter else {}
        self._projection = projection_document(projection)
        self._skip = validate_non_negative_int(skip, "skip")
        if isinstance(limit, bool) or not isinstance(limit, int):
            raise TypeError(f"limit must be an integer, not {limit!r}")
        self._limit = limit
        self._batch_size = validate_non_negative_int(batch_size, "batch_size")
        self._sort = index_document(index_list(sort)) if sort is not None else None
        self._hint = hint_value(hint)
        self._collation = collation
        self._max_time_ms = max_time_ms
        self._comment = comment
        self._allow_disk_use = allow_disk_use
        if cursor_type not in (0, 2, 34, 64):
            raise ValueError(f"not a valid value for cursor_type: {cursor_type!r}")
        self._cursor_type = cursor_type
        self._no_cursor_timeout = no_cursor_timeout
        self._allow_partial_results = allow_partial_results
        self._max_await_time_ms = max_await_time_ms
        self._min = min
        self._max = max
        self._return_key = return_key
        self._show_record_id = show_record_id
        self._let = let
        self._explain = False

    # -- chainable modifiers -------------------------------------------------------------------

    def _check_unstarted(self) -> None:
        if self._id is not None or self._killed:
            raise InvalidOperation(
                "this cursor has already run its query; clone() or rewind() it to change options")

    def limit(self, limit: int) -> Cursor:
        """At most ``limit`` documents (0: no limit; negative: one batch of that many)."""
        if isinstance(limit, bool) or not isinstance(limit, int):
            raise TypeError("limit must be an integer")
        self._check_unstarted()
        self._limit = limit
        return self

    def skip(self, skip: int) -> Cursor:
        self._check_unstarted()
        self._skip = validate_non_negative_int(skip, "skip")
        return self

    def sort(self, key_or_list: Any, direction: Any = None) -> Cursor:
        """``sort("a")``, ``sort("a", -1)`` or ``sort([("a", 1), ("b", -1)])``."""
        self._check_unstarted()
        self._sort = index_document(index_list(key_or_list, direction))
        return self

    def batch_size(self, batch_size: int) -> Cursor:
        """Documents per batch (0: the server's default). Applies to later getMores too."""
        validate_non_negative_int(batch_size, "batch_size")
        self._check_unstarted()
        self._batch_size = batch_size
        return self

    def max_time_ms(self, max_time_ms: int | None) -> Cursor:
        if max_time_ms is not None:
            validate_non_negative_int(max_time_ms, "max_time_ms")
        self._check_unstarted()
        self._max_time_ms = max_time_ms
        return self

    def max_await_time_ms(self, max_await_time_ms: int | None) -> Cursor:
        if max_await_time_ms is not None:
            validate_non_negative_int(max_await_time_ms, "max_await_time_ms")
        self._check_unstarted()
        self._max_await_time_ms = max_await_time_ms
        return self

    def hint(self, index: Any) -> Cursor:
        """An index name or key specification the server must use."""
        self._check_unstarted()
        self._hint = hint_value(index)
        return self

    def collation(self, collation: Mapping[str, Any] | None) -> Cursor:
        self._check_unstarted()
        self._collation = collation
        return self

    def comment(self, comment: Any) -> Cursor:
        self._check_unstarted()
        self._comment = comment
        return self

    def allow_disk_use(self, allow_disk_use: bool) -> Cursor:
        if not isinstance(allow_disk_use, bool):
            raise TypeError("allow_disk_use must be a bool")
        self._check_unstarted()
        self._allow_disk_use = allow_disk_use
        return self

    def where(self, code: str) -> Cursor:
        """Add a ``$where`` JavaScript expression to the filter."""
        self._check_unstarted()
        self._filter["$where"] = code
        return self

    def min(self, spec: Any) -> Cursor:
        self._check_unstarted()
        self._min = index_document(index_list(spec))
        return self

    def max(self, spec: Any) -> Cursor:
        self._check_unstarted()
        self._max = index_document(index_list(spec))
        return self

    # -- cloning and restarting ----------------------------------------------------------------

    def clone(self) -> Cursor:
        """A new, unstarted cursor with the same query and options."""
        new = copy.copy(self)
        _CursorState.__init__(new, self._collection, self._explicit_session)
        new._filter = copy.deepcopy(self._filter)
        return new

    def rewind(self) -> Cursor:
        """Forget results so far; the next iteration runs the query again."""
        self.close()
        _CursorState.__init__(self, self._collection, self._explicit_session)
        return self

    def __getitem__(self, index: int | slice) -> Any:
        """``cursor[5]`` (that document, or ``IndexError``) or ``cursor[10:20]`` (this cursor
        with skip and limit applied)."""
        self._check_unstarted()
        if isinstance(index, slice):
            if index.step is not None:
                raise IndexError("Cursor instances do not support slice steps")
            start = index.start or 0
            if start < 0 or (index.stop is not None and index.stop < 0):
                raise IndexError("Cursor instances do not support negative indices")
            self._skip = start
            if index.stop is not None:
                if index.stop - start <= 0:
                    raise IndexError(f"stop index must be greater than start index for slice {index!r}")
                self._limit = index.stop - start
            return self
        if isinstance(index, int) and not isinstance(index, bool):
            if index < 0:
                raise IndexError("Cursor instances do not support negative indices")
            clone = self.clone()
            clone._skip = self._skip + index
            clone._limit = -1
            for document in clone:
                return document
            raise IndexError("no such item for Cursor instance")
        raise TypeError(f"index {index!r} cannot be applied to Cursor instances")

    # -- server round trips --------------------------------------------------------------------

    def _find_command(self) -> dict[str, Any]:
        command: dict[str, Any] = {"find": self._collection.name, "filter": self._filter}
        if self._sort:
            command["sort"] = self._sort
        if self._projection is not None:
            command["projection"] = self._projection
        if self._hint is not None:
            command["hint"] = self._hint
        if self._skip:
            command["skip"] = self._skip
        limit = abs(self._limit)
        if limit:
            command["limit"] = limit
        if self._limit < 0:
            command["singleBatch"] = True
        if self._batch_size:
            command["batchSize"] = min(self._batch_size, limit) if limit else self._batch_size
        for key, value in (
            ("maxTimeMS", self._max_time_ms), ("comment", self._comment),
            ("collation", self._collation), ("allowDiskUse", self._allow_disk_use),
            ("min", self._min), ("max", self._max), ("returnKey", self._return_key),
            ("showRecordId", self._show_record_id), ("let", self._let),
        ):
            if value is not None:
                command[key] = value
        if self._cursor_type & CursorType.TAILABLE:
            command["tailable"] = True
        if self._cursor_type == CursorType.TAILABLE_AWAIT:
            command["awaitData"] = True
        if self._no_cursor_timeout:
            command["noCursorTimeout"] = True
        if self._allow_partial_results:
            command["allowPartialResults"] = True
        return command

    @property
    def _await_data(self) -> bool:
        return self._cursor_type == CursorType.TAILABLE_AWAIT

    def _is_tailable(self) -> bool:
        return bool(self._cursor_type & CursorType.TAILABLE)

    def _first(self) -> None:
        session = self._ensure_session()
        try:
            reply = self._executor.command(
                self._collection.database.name, self._find_command(), session=session,
                read_preference=self._collection.read_preference,
                read_concern=self._collection.read_concern,
                codec_options=self._collection.codec_options, kind="read",
                raw_batches=self._wants_raw(),
            )
        except BaseException:
            self._killed = True
            self._id = 0
            self._release_session()
            raise
        self._take_batch(reply, first=True)

    def _get_more_batch_size(self) -> int | None:
        limit = abs(self._limit)
        if limit:
            remaining = limit - self._retrieved
            return min(self._batch_size, remaining) if self._batch_size else remaining
        return self._batch_size or None

    def _take_batch(self, reply: Reply, first: bool) -> None:
        where = "find reply" if first else "getMore reply"
        cursor_doc = cursor_document(reply.document, where)
        batch = cursor_batch(cursor_doc, "firstBatch" if first else "nextBatch", where)
        self._update_cursor(cursor_doc, reply.address)
        self._data.extend(batch)
        self._retrieved += len(batch)
        self._enforce_limit()

    def _enforce_limit(self) -> None:
        limit = abs(self._limit)
        if limit and self._retrieved >= limit:
            extra = self._retrieved - limit
            for _ in range(extra):
                self._data.pop()
            self._retrieved = limit
            if self._limit < 0 or self._id:
                self._die()
        elif self._limit < 0 and self._id:
            self._die()

    def explain(self) -> Any:
        """The server's explanation of this query's plan (``explain`` of the find command)."""
        reply = self._executor.command(
            self._collection.database.name, {"explain": self._find_command()},
            session=self._explicit_session, read_preference=self._collection.read_preference,
            codec_options=self._collection.codec_options, kind="read",
        )
        return reply.document

    def distinct(self, key: str) -> list[Any]:
        """Distinct values of ``key`` among the documents this cursor matches."""
        options: dict[str, Any] = {}
        if self._max_time_ms is not None:
            options["maxTimeMS"] = self._max_time_ms
        if self._comment is not None:
            options["comment"] = self._comment
        if self._collation is not None:
            options["collation"] = self._collation
        return self._collection.distinct(
            key, self._filter, session=self._explicit_session, **options
        )


class RawBatchCursor(Cursor):
    """Like ``Cursor``, but each item is one whole batch: ``bytes`` of concatenated BSON
    documents, undecoded (``driver.bson.decode_all`` decodes one)."""

    def _wants_raw(self) -> bool:
        return True

    def _take_batch(self, reply: Reply, first: bool) -> None:
        cursor_id, namespace, batch, count = _raw_batch(reply, first)
        self._update_cursor({"id": cursor_id, "ns": namespace}, reply.address)
        if count:
            self._data.append(batch)
        self._retrieved += count
        limit = abs(self._limit)
        if (limit and self._retrieved >= limit and self._id) or (self._limit < 0 and self._id):
            self._die()

    def explain(self) -> Any:
        raise InvalidOperation("Cannot call explain on a RawBatchCursor")


class CommandCursor(_CursorState[Any]):
    """A cursor a command opened (``aggregate``, ``listIndexes``, ``listCollections``)."""

    def __init__(
        self, collection: Collection, cursor_doc: Mapping[str, Any], address: Address | None,
        *, batch_size: int = 0, max_await_time_ms: int | None = None,
        session: ClientSession | None = None, explicit_session: bool = False,
        comment: Any = None, limit: int = 0,
    ) -> None:
        super().__init__(collection, session if explicit_session else None)
        self._session = session
        self._batch_size = batch_size
        self._max_await_time_ms = max_await_time_ms
        self._await_data = max_await_time_ms is not None
        self._comment = comment
        self._limit = limit
        batch = cursor_batch(cursor_doc, "firstBatch", "command cursor reply")
        self._update_cursor(cursor_doc, address)
        self._data.extend(batch)
        self._retrieved += len(batch)

    def _get_more_batch_size(self) -> int | None:
        return self._batch_size or None

    def _take_batch(self, reply: Reply, first: bool) -> None:
        cursor_doc = cursor_document(reply.document, "getMore reply")
        batch = cursor_batch(cursor_doc, "nextBatch", "getMore reply")
        self._update_cursor(cursor_doc, reply.address)
        self._data.extend(batch)
        self._retrieved += len(batch)

    def batch_size(self, batch_size: int) -> CommandCursor:
        """Documents per later ``getMore``."""
        self._batch_size = validate_non_negative_int(batch_size, "batch_size")
        return self


class RawBatchCommandCursor(CommandCursor):
    """``aggregate_raw_batches``: each item is the bytes of one batch."""

    def _wants_raw(self) -> bool:
        return True

    def _take_batch(self, reply: Reply, first: bool) -> None:
        cursor_id, namespace, batch, count = _raw_batch(reply, first)
        self._update_cursor({"id": cursor_id, "ns": namespace}, reply.address)
        if count:
            self._data.append(batch)
        self._retrieved += count


def _raw_batch(reply: Reply, first: bool) -> tuple[int, str, bytes, int]:
    """The undecoded batch of a raw-batch cursor's reply. The raw decoder leaves
    ``raw_batch`` unset when the reply has no cursor batch: then the reply's shape is
    checked (a missing ``cursor`` is a ``ProtocolError``) and the batch is empty."""
    if reply.raw_batch is not None:
        return reply.raw_batch
    where = "find reply" if first else "getMore reply"
    cursor_doc = cursor_document(reply.document, where)
    namespace = cursor_doc.get("ns")
    return cursor_id(cursor_doc, where), namespace if isinstance(namespace, str) else "", b"", 0


__all__ = ["CommandCursor", "Cursor", "CursorType", "RawBatchCommandCursor", "RawBatchCursor"]
