"""``BatchFeed`` and ``FedRows``: the fetch bookkeeping both document models share.

A query's batches come from a source object (``fetch_next()``, answered later on the GUI
thread by the model's ``append_batch``/``finish``/``fail``). The feed remembers the
current query's generation, allows one request in flight, and knows when the cursor is
exhausted; an answer carrying another generation is stale and is dropped. ``FedRows`` is
the part of a model built on it (the tree of documents and the table): reset, batches in,
end of cursor, and fetching at the root; each model says only how its rows are cleared
and released.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from PySide6.QtCore import QModelIndex, QPersistentModelIndex

if TYPE_CHECKING:
    from PySide6.QtCore import QAbstractItemModel, SignalInstance

    _ModelBase = QAbstractItemModel
else:
    _ModelBase = object


class BatchSource(Protocol):
    def fetch_next(self) -> None:
        """Ask for the next batch; answer later with ``append_batch``/``finish``/``fail``."""


class BatchFeed:
    def __init__(self) -> None:
        self.generation = 0
        self.source: BatchSource | None = None
        self.in_flight = False
        self.exhausted = True
        self.requests = 0  # fetch_next calls, for diagnostics and tests

    def restart(self, generation: int, source: BatchSource | None) -> None:
        self.generation = generation
        self.source = source
        self.in_flight = False
        self.exhausted = source is None

    def can_fetch(self) -> bool:
        return self.source is not None and not self.exhausted and not self.in_flight

    def request(self) -> bool:
        """Ask the source for the next batch unless one is already on its way."""
        if not self.can_fetch():
            return False
        assert self.source is not None
        self.in_flight = True  # set first: fetch_next may answer synchronously
        self.requests += 1
        self.source.fetch_next()
        return True

    def accept(self, generation: int) -> bool:
        """True if an answer for ``generation`` belongs to the current query."""
        if generation != self.generation:
            return False
        self.in_flight = False
        return True

    def end(self, generation: int) -> bool:
        """The cursor of ``generation`` is exhausted or failed; True if it is current."""
        if not self.accept(generation):
            return False
        self.exhausted = True
        return True


class FedRows(_ModelBase):
    """Mixin for a ``QAbstractItemModel`` whose top-level rows come from a ``BatchFeed``.

    The model declares the ``exhausted`` and ``fetchFailed(str)`` signals, calls
    :meth:`_init_feed` in its constructor, and implements :meth:`_clear_rows` (called
    inside the reset) and :meth:`_release_rows` (shows the next chunk of pending rows).
    """

    if TYPE_CHECKING:
        exhausted: SignalInstance
        fetchFailed: SignalInstance

    def _init_feed(self) -> None:
        self._feed = BatchFeed()
        self._pending = PendingRows()

    def _clear_rows(self) -> None:
        raise NotImplementedError

    def _release_rows(self) -> None:
        raise NotImplementedError

    @property
    def generation(self) -> int:
        return self._feed.generation

    @property
    def is_fetching(self) -> bool:
        return self._feed.in_flight

    @property
    def requests(self) -> int:
        """How many batches were asked for in this query and earlier ones."""
        return self._feed.requests

    def reset(self, generation: int, source: BatchSource | None) -> None:
        """Start over for a new query; anything from older generations is dropped."""
        self.beginResetModel()
        self._pending.clear()
        self._clear_rows()
        self._feed.restart(generation, source)
        self.endResetModel()

    def append_batch(self, generation: int, raw_batch: bytes, *, last: bool = False) -> bool:
        """Add the documents of one reply batch; False (and nothing changes) if stale."""
        if not self._feed.accept(generation):
            return False
        self._pending.add(raw_batch)
        self._release_rows()
        if last:
            self.finish(generation)
        return True

    def finish(self, generation: int) -> None:
        if self._feed.end(generation):
            self.exhausted.emit()

    def fail(self, generation: int, message: str) -> None:
        if self._feed.end(generation):
            self.fetchFailed.emit(message)

    def _root_can_fetch_more(self, parent: QModelIndex | QPersistentModelIndex) -> bool:
        return not parent.isValid() and (bool(self._pending) or self._feed.can_fetch())

    def _fetch_more_at_root(self) -> None:
        if self._pending:
            self._release_rows()  # already received: no request needed
        else:
            self._feed.request()


class PendingRows:
    """Documents received but not yet shown: a huge batch is handed to the view a chunk
    at a time (through ``fetchMore``), because Qt's views walk every row they hold."""

    def __init__(self) -> None:
        self._batches: list[tuple[bytes, int]] = []  # (batch, offset of the next document)

    def __bool__(self) -> bool:
        return bool(self._batches)

    def clear(self) -> None:
        self._batches.clear()

    def add(self, raw_batch: bytes) -> None:
        if raw_batch:
            self._batches.append((raw_batch, 0))

    def take(self, limit: int) -> list[bytes]:
        """Up to ``limit`` documents, cut from the front (only their lengths are read)."""
        taken: list[bytes] = []
        while self._batches and len(taken) < limit:
            batch, offset = self._batches[0]
            offset = cut_documents(batch, offset, limit - len(taken), taken)
            if offset >= len(batch):
                self._batches.pop(0)
            else:
                self._batches[0] = (batch, offset)
        return taken


def cut_documents(batch: bytes, offset: int, limit: int, out: list[bytes]) -> int:
    """Append up to ``limit`` documents of ``batch`` from ``offset`` to ``out``; returns
    the offset after them. Raises ``InvalidBSON`` on a bad length prefix."""
    from driver.errors import InvalidBSON

    total = len(batch)
    while offset < total and limit > 0:
        if total - offset < 5:
            raise InvalidBSON(f"{total - offset} trailing bytes are too few for a document", offset)
        size = int.from_bytes(batch[offset : offset + 4], "little", signed=True)
        end = offset + size
        if size < 5 or end > total or batch[end - 1] != 0:
            raise InvalidBSON(f"bad document length {size}", offset)
        out.append(batch[offset:end])
        offset = end
        limit -= 1
    return offset
