"""A small thread pool for blocking calls whose results come back as asyncio futures.

Why not ``loop.run_in_executor``: we need three things it does not give together.
1. Results are handed to the GUI thread only through ``loop.call_soon_threadsafe`` (on
   qasync that is a queued Qt signal), so a future is only ever completed on the loop's
   own thread.
2. A job that has not started yet can be withdrawn; one that is running cannot be
   interrupted (a blocking socket call has no cancel), so its result is dropped instead.
3. ``SupersedingRequests`` numbers each request of one kind (a connect, a query); when a
   newer one starts, the older result is dropped even if it arrives later.

Worker threads are plain daemon threads: they never touch Qt objects.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

T = TypeVar("T")

log = logging.getLogger(__name__)

_STOP = object()


class Superseded(asyncio.CancelledError):
    """The request was replaced by a newer one of the same kind; its result is dropped."""


@dataclass
class _Job:
    fn: Callable[..., Any]
    args: tuple[Any, ...]
    future: asyncio.Future[Any]
    loop: asyncio.AbstractEventLoop
    cancelled: threading.Event = field(default_factory=threading.Event)

    def withdrawn(self) -> bool:
        # Future done-callbacks run one loop iteration after cancel(), so also read the
        # future's state directly: a plain attribute read, safe from any thread, and
        # at worst it misses a cancel made at this very instant (then _deliver drops it).
        return self.cancelled.is_set() or self.future.cancelled()


class WorkerPool:
    """Runs blocking callables on at most ``max_workers`` threads.

    ``submit`` must be called on the event loop's thread; the returned future completes
    on that thread. Cancelling the future withdraws a queued job or drops a running one's
    result.
    """

    def __init__(self, max_workers: int = 4, name: str = "binnacle-worker") -> None:
        if max_workers < 1:
            raise ValueError(f"max_workers must be at least 1, not {max_workers}")
        self._max_workers = max_workers
        self._name = name
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._threads: list[threading.Thread] = []
        self._idle = 0  # threads waiting for a job
        self._pending = 0  # jobs queued and not yet taken
        self._lock = threading.Lock()
        self._closed = False
        self._counter = itertools.count(1)

    # -- submitting -----------------------------------------------------------------
    def submit(
        self,
        fn: Callable[..., T],
        *args: Any,
        loop: asyncio.AbstractEventLoop | None = None,
    ) -> asyncio.Future[T]:
        """Run ``fn(*args)`` on a worker thread; return a future on ``loop``."""
        if self._closed:
            raise RuntimeError("the worker pool is shut down")
        loop = loop or asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        job = _Job(fn, args, future, loop)
        # A cancelled future withdraws the job: a queued job is skipped, a running one's
        # result is thrown away when it arrives.
        future.add_done_callback(lambda f: job.cancelled.set() if f.cancelled() else None)
        with self._lock:
            self._pending += 1
            if self._pending > self._idle and len(self._threads) < self._max_workers:
                self._start_thread()
        self._queue.put(job)
        return future

    def _start_thread(self) -> None:
        thread = threading.Thread(
            target=self._run, name=f"{self._name}-{next(self._counter)}", daemon=True
        )
        self._threads.append(thread)
        thread.start()

    # -- worker side ----------------------------------------------------------------
    def _run(self) -> None:
        while True:
            with self._lock:
                self._idle += 1
            job = self._queue.get()
            with self._lock:
                self._idle -= 1
                if job is not _STOP:
                    self._pending -= 1
            if job is _STOP:
                return
            if not job.withdrawn():
                self._execute(job)
            del job  # drop references to the callable and its result promptly

    @staticmethod
    def _execute(job: _Job) -> None:
        try:
            outcome: tuple[bool, Any] = (True, job.fn(*job.args))
        except BaseException as exc:  # noqa: BLE001 - handed to the awaiting coroutine
            outcome = (False, exc)
        if job.withdrawn():
            return
        try:
            job.loop.call_soon_threadsafe(_deliver, job.future, outcome)
        except RuntimeError:
            # The loop was closed while the call ran: nobody is waiting any more.
            log.debug("dropped a result: event loop closed")

    # -- shutting down --------------------------------------------------------------
    @property
    def thread_count(self) -> int:
        return sum(1 for t in self._threads if t.is_alive())

    def shutdown(self, wait: bool = True, timeout: float | None = 5.0) -> bool:
        """Stop accepting work; let the threads finish. Returns True if all stopped."""
        self._closed = True
        for _ in self._threads:
            self._queue.put(_STOP)
        if not wait:
            return False
        for thread in self._threads:
            thread.join(timeout)
        return not any(t.is_alive() for t in self._threads)


def _deliver(future: asyncio.Future[Any], outcome: tuple[bool, Any]) -> None:
    """Complete ``future`` on the loop thread unless someone cancelled it meanwhile."""
    if future.done():
        return
    ok, value = outcome
    if ok:
        future.set_result(value)
    else:
        future.set_exception(value)


class SupersedingRequests:
    """Requests of one kind where only the newest counts (a connect, a tree refresh).

    Each ``submit`` bumps the generation and cancels the previous future with
    ``Superseded``; a result that belongs to an older generation is never delivered.
    """

    def __init__(self, pool: WorkerPool) -> None:
        self._pool = pool
        self._generation = 0
        self._current: asyncio.Future[Any] | None = None

    @property
    def generation(self) -> int:
        return self._generation

    def submit(self, fn: Callable[..., T], *args: Any) -> asyncio.Future[T]:
        self.cancel()
        self._generation += 1
        generation = self._generation
        inner = self._pool.submit(fn, *args)
        outer: asyncio.Future[T] = inner.get_loop().create_future()

        def relay(done: asyncio.Future[T]) -> None:
            if outer.done():
                return
            if generation != self._generation:
                outer.set_exception(Superseded(f"request {generation} was superseded"))
            elif done.cancelled():
                outer.cancel()
            elif done.exception() is not None:
                outer.set_exception(done.exception())  # type: ignore[arg-type]
            else:
                outer.set_result(done.result())

        def withdraw(done: asyncio.Future[T]) -> None:
            if done.cancelled() or isinstance(_exception_or_none(done), Superseded):
                inner.cancel()

        inner.add_done_callback(relay)
        outer.add_done_callback(withdraw)
        self._current = outer
        return outer

    def cancel(self) -> None:
        """Drop the request in flight, if any (its awaiter gets ``Superseded``)."""
        current, self._current = self._current, None
        if current is not None and not current.done():
            current.set_exception(Superseded("request was superseded"))
            # Retrieve it so an un-awaited superseded request logs nothing.
            current.exception()


def _exception_or_none(future: asyncio.Future[Any]) -> BaseException | None:
    if future.cancelled():
        return None
    return future.exception()


def event_loop_or_none() -> asyncio.AbstractEventLoop | None:
    """The loop GUI code should schedule coroutines on: the running one, else the one
    set with ``set_event_loop`` (qasync's, between ``run_until_complete`` calls in tests).

    None when there is none (a widget used without an event loop): the caller then
    drops the work instead of making a coroutine nothing would ever run.
    """
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        pass
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        try:
            loop = asyncio.get_event_loop_policy().get_event_loop()
        except RuntimeError:
            return None
    return None if loop.is_closed() else loop


def start_task(
    make: Callable[[], Any], tasks: set[asyncio.Future[Any]] | None = None
) -> asyncio.Future[Any] | None:
    """Schedule the coroutine ``make()`` on the GUI's loop and track it in ``tasks``.

    ``make`` is a callable so that no coroutine object exists when there is no loop
    (an un-awaited coroutine is a warning, and warnings fail our tests).
    """
    loop = event_loop_or_none()
    if loop is None:
        log.warning("no event loop: background work dropped")
        return None
    task: asyncio.Future[Any] = asyncio.ensure_future(make(), loop=loop)
    if tasks is not None:
        tasks.add(task)
        task.add_done_callback(tasks.discard)
    return task
