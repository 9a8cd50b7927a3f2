"""``CursorBatchSource``: feeds a document model from a ``find_raw_batches`` cursor.

``fetch_next()`` (called by the model's ``fetchMore``) runs one ``next(cursor)`` (the
first batch of ``find``, then ``getMore``) on a worker through the injected ``submit``
(any ``submit(fn)`` running ``fn`` on another thread: the app's worker pool, or a
``ThreadPoolExecutor``). The answer comes back to the GUI thread through a queued Qt
signal and goes to ``model.append_batch`` / ``finish`` / ``fail`` with this source's
generation, so a model that moved on to another query ignores it. ``cancel()`` closes
the cursor on the worker (the driver sends ``killCursors``).

Why the worker side is a plain object: a job on a worker must never hold the last
reference to a Qt object (the wrapper would then be destroyed on that thread, which has
crashed the app). The worker only touches ``_CursorWork`` and one application-wide relay
object that lives as long as the ``QApplication``; the relay finds the source again on
the GUI thread by its number.
"""

from __future__ import annotations

import itertools
import threading
import weakref
from collections.abc import Callable, Iterator
from typing import Any, Protocol

from PySide6.QtCore import QCoreApplication, QObject, Qt, Signal


class _Model(Protocol):
    def append_batch(self, generation: int, raw_batch: bytes, *, last: bool = False) -> bool: ...
    def finish(self, generation: int) -> None: ...
    def fail(self, generation: int, message: str) -> None: ...


class _Relay(QObject):
    """Carries answers from worker threads to the GUI thread (one per application)."""

    answered = Signal(int, object)  # source number, ("batch"|"end"|"error", payload)

    def __init__(self) -> None:
        super().__init__(QCoreApplication.instance())  # owned by the app: never collected
        self.sources: weakref.WeakValueDictionary[int, CursorBatchSource] = (
            weakref.WeakValueDictionary())
        self.answered.connect(self._route, Qt.ConnectionType.QueuedConnection)

    def _route(self, number: int, answer: tuple[str, Any]) -> None:
        source = self.sources.get(number)
        if source is not None:
            source._deliver(answer)


_relay: _Relay | None = None
_numbers = itertools.count(1)


def _the_relay() -> _Relay:
    global _relay
    if _relay is None:
        _relay = _Relay()
    return _relay


class _CursorWork:
    """The worker side: the cursor and its iterator, used under a lock so a close never
    runs in the middle of a ``getMore`` on another worker."""

    def __init__(self, number: int, open_cursor: Callable[[], Any], relay: _Relay) -> None:
        self.number = number
        self.open_cursor = open_cursor
        self.relay = relay
        self.lock = threading.Lock()
        self.cursor: Any = None
        self.batches: Iterator[bytes] | None = None
        self.cancelled = False

    def fetch(self) -> None:
        with self.lock:
            if self.cancelled:
                return
            try:
                if self.batches is None:
                    self.cursor = self.open_cursor()
                    self.batches = iter(self.cursor)
                batch = next(self.batches, None)
            except Exception as exc:  # shown to the user; the cursor is finished either way
                answer: tuple[str, Any] = ("error", _describe(exc))
            else:
                answer = ("end", None) if batch is None else ("batch", bytes(batch))
        self.relay.answered.emit(self.number, answer)

    def close(self) -> None:
        with self.lock:
            close = getattr(self.cursor, "close", None)
            if close is not None:
                close()


class CursorBatchSource(QObject):
    def __init__(
        self,
        model: _Model,
        generation: int,
        open_cursor: Callable[[], Any],
        submit: Callable[[Callable[[], None]], object],
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self._model = model
        self._generation = generation
        self._submit = submit
        relay = _the_relay()
        self._number = next(_numbers)
        relay.sources[self._number] = self
        self._work = _CursorWork(self._number, open_cursor, relay)
        self._cancelled = False
        self.requests = 0  # batches asked of the server (find, then each getMore)

    @property
    def generation(self) -> int:
        return self._generation

    @property
    def cancelled(self) -> bool:
        return self._cancelled

    def fetch_next(self) -> None:
        self.requests += 1
        self._submit(self._work.fetch)

    def cancel(self) -> None:
        """Stop: close the cursor on a worker; later answers are dropped."""
        if self._cancelled:
            return
        self._cancelled = True
        self._work.cancelled = True
        self._submit(self._work.close)

    # -- GUI side -----------------------------------------------------------------
    def _deliver(self, answer: tuple[str, Any]) -> None:
        if self._cancelled:
            return
        kind, payload = answer
        if kind == "batch":
            self._model.append_batch(self._generation, payload)
        elif kind == "end":
            self._model.finish(self._generation)
        else:
            self._model.fail(self._generation, payload)


def _describe(exc: Exception) -> str:
    text = str(exc) or type(exc).__name__
    return f"{type(exc).__name__}: {text}" if type(exc).__name__ not in text else text
