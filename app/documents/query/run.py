"""``QueryRun``: one query's cursor shared by the page's document models.

The list, table and JSON views each have their own model, but a query must reach the
server once: ``QueryRun`` is the only target of the ``CursorBatchSource`` and keeps the
batches it received; each model gets a ``feed_for(model)`` source that replays those
batches and asks the cursor for the next one only when it has seen them all. One request
is in flight at a time however many models wait (``requests`` counts them: the find,
then one ``getMore`` per batch, then the empty answer that ends the cursor).

A model that is not shown is never fed, so the views that are hidden cost nothing until
the user switches to them. ``cancel()`` closes the cursor and fails the waiting models
with "Cancelled"; every answer after that is dropped.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from PySide6.QtCore import QObject, Signal

from app.documents.values.display import split_batch
from app.documents.values.raw_elements import id_element
from app.documents.views.cursor_source import CursorBatchSource


class _Model(Protocol):
    def append_batch(self, generation: int, raw_batch: bytes, *, last: bool = False) -> bool: ...
    def finish(self, generation: int) -> None: ...
    def fail(self, generation: int, message: str) -> None: ...


class _ModelFeed:
    """A model's ``BatchSource``: replays the run's batches, then waits for more."""

    def __init__(self, run: QueryRun, model: _Model) -> None:
        self.run = run
        self.model = model
        self.position = 0

    def fetch_next(self) -> None:
        run = self.run
        generation = run.generation
        if self.position < len(run.batches):
            raw = run.batches[self.position]
            self.position += 1
            self.model.append_batch(generation, raw)
        elif run.error is not None:
            self.model.fail(generation, run.error)
        elif run.done:
            self.model.finish(generation)
        else:
            run.wait(self)


class QueryRun(QObject):
    firstAnswer = Signal()  # the find answered (a batch, the end, or an error)
    answered = Signal()  # any answer, including the first

    def __init__(
        self,
        generation: int,
        open_cursor: Callable[[], Any],
        submit: Callable[[Callable[[], None]], object],
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.generation = generation
        self.batches: list[bytes] = []
        self.documents = 0
        self.done = False
        self.error: str | None = None
        self.in_flight = False
        self._waiting: list[_ModelFeed] = []
        self._answers = 0
        self.source = CursorBatchSource(self, generation, open_cursor, submit, self)

    @property
    def requests(self) -> int:
        return self.source.requests

    @property
    def started(self) -> bool:
        """True once the find answered."""
        return self._answers > 0

    def feed_for(self, model: _Model) -> _ModelFeed:
        return _ModelFeed(self, model)

    def wait(self, feed: _ModelFeed) -> None:
        if feed not in self._waiting:
            self._waiting.append(feed)
        if not self.in_flight and not self.done and self.error is None:
            self.in_flight = True
            self.source.fetch_next()

    def cancel(self, reason: str = "Cancelled") -> None:
        if self.done or self.error is not None:
            self.source.cancel()
            return
        self.source.cancel()
        self.in_flight = False
        self._answer_error(reason)

    def replace_document(self, key: bytes, raw: bytes | None) -> bool:
        """Put a document's new version (``None``: deleted) into the kept batches, so a
        model fed from them later does not show the old one. ``key`` is its ``_id``
        element (``raw_elements.id_element``). True if it was found."""
        for number, batch in enumerate(self.batches):
            documents = split_batch(batch)
            for position, document in enumerate(documents):
                if document[4 : 4 + len(key)] == key or id_element(document) == key:
                    if raw is None:
                        del documents[position]
                        self.documents -= 1
                    else:
                        documents[position] = raw
                    self.batches[number] = b"".join(documents)
                    return True
        return False

    # -- the source's target ---------------------------------------------------------
    def append_batch(self, generation: int, raw_batch: bytes, *, last: bool = False) -> bool:
        if generation != self.generation:
            return False
        self.batches.append(raw_batch)
        self.documents += _count_documents(raw_batch)
        if last:
            self.done = True
        self._answered()
        return True

    def finish(self, generation: int) -> None:
        if generation == self.generation:
            self.done = True
            self._answered()

    def fail(self, generation: int, message: str) -> None:
        if generation == self.generation:
            self._answer_error(message)

    def _answer_error(self, message: str) -> None:
        self.error = message
        self._answered()

    def _answered(self) -> None:
        self.in_flight = False
        self._answers += 1
        waiting, self._waiting = self._waiting, []
        for feed in waiting:
            feed.fetch_next()
        if self._answers == 1:
            self.firstAnswer.emit()
        self.answered.emit()


def _count_documents(raw: bytes) -> int:
    count = 0
    offset = 0
    total = len(raw)
    while offset + 4 <= total:
        offset += int.from_bytes(raw[offset : offset + 4], "little")
        count += 1
    return count
