"""Secret-store calls off the GUI thread, with a visible, cancellable wait.

A keychain can block for as long as it likes: a locked login keychain waits for the
user's passphrase, a Secret Service may take seconds to start over D-Bus. So every call
of a store whose ``may_block`` is true runs on the dialog's ``WorkerPool`` and comes
back as an asyncio future on the GUI thread (the app's one way across threads, see
``app.services.worker``); the caller's callbacks run there, never on the worker.

- ``read`` is superseding: choosing another favorite while a read is blocked drops the
  older read's result (``SupersedingRequests``), so a late answer never loads the wrong
  favorite.
- ``cancel`` stops waiting: pending results are dropped (a running keychain call cannot
  be interrupted) and each call's ``on_cancel`` runs, so the caller can fall back to
  asking for the password.
- ``waiting`` carries what the dialog waits for ("" once nothing is pending).

A store that never blocks (the session-memory store used when there is no keychain), or
a runner without an event loop, calls the store directly and the callbacks at once: the
behaviour the dialog always had.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QObject, Signal

from app.connect.secrets import SecretStore, UriSecrets
from app.services.worker import SupersedingRequests, WorkerPool, event_loop_or_none, start_task

READING = "Reading the saved password from the keychain…"
SAVING = "Saving the password in the keychain…"
COPYING = "Copying the saved password in the keychain…"
REMOVING = "Removing the saved password from the keychain…"


@dataclass
class _Pending:
    message: str
    future: asyncio.Future[Any]
    on_cancel: Callable[[], None] | None


class KeychainRunner(QObject):
    """Runs one dialog's secret-store calls; results land on the GUI thread."""

    waiting = Signal(str)

    def __init__(self, secrets: SecretStore, pool: WorkerPool | None,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.secrets = secrets
        self._pool = pool
        self._reads = SupersedingRequests(pool) if pool is not None else None
        self._pending: dict[int, _Pending] = {}
        self._ids = itertools.count(1)
        self._tasks: set[asyncio.Future[Any]] = set()

    @property
    def message(self) -> str:
        """What is being waited for: the newest pending call's message, or ''."""
        return self._pending[max(self._pending)].message if self._pending else ""

    def off_thread(self) -> bool:
        return (self.secrets.may_block and self._pool is not None
                and event_loop_or_none() is not None)

    # -- calls ----------------------------------------------------------------------
    def read(self, key: str, on_result: Callable[[UriSecrets | None], None],
             on_failure: Callable[[str], None],
             on_cancel: Callable[[], None] | None = None) -> None:
        """``secrets.get(key)``; a newer ``read`` drops this one's result."""
        self._call(READING, self.secrets.get, (key,), on_result, on_failure, on_cancel,
                   superseding=True)

    def run(self, message: str, fn: Callable[..., Any], *args: Any,
            on_result: Callable[[Any], None] = lambda _value: None,
            on_failure: Callable[[str], None] = lambda _message: None,
            on_cancel: Callable[[], None] | None = None) -> None:
        """``fn(*args)``, a call that touches only the secret store (a save, a copy)."""
        self._call(message, fn, args, on_result, on_failure, on_cancel, superseding=False)

    def _call(self, message: str, fn: Callable[..., Any], args: tuple[Any, ...],
              on_result: Callable[[Any], None], on_failure: Callable[[str], None],
              on_cancel: Callable[[], None] | None, *, superseding: bool) -> None:
        if not self.off_thread():
            try:
                value = fn(*args)
            except Exception as exc:  # noqa: BLE001 - any backend failure is shown
                on_failure(describe_failure(exc))
                return
            on_result(value)
            return
        assert self._pool is not None and self._reads is not None
        if superseding:  # the older read's caller no longer waits for it
            for call_id in [i for i, p in self._pending.items() if p.message == READING]:
                del self._pending[call_id]
        future = self._reads.submit(fn, *args) if superseding else self._pool.submit(fn, *args)
        call_id = next(self._ids)
        self._pending[call_id] = _Pending(message, future, on_cancel)
        self.waiting.emit(self.message)
        start_task(lambda: self._finish(call_id, future, on_result, on_failure), self._tasks)

    async def _finish(self, call_id: int, future: asyncio.Future[Any],
                      on_result: Callable[[Any], None],
                      on_failure: Callable[[str], None]) -> None:
        try:
            value = await future
        except asyncio.CancelledError:  # cancelled or superseded (a subclass): dropped
            return
        except Exception as exc:  # noqa: BLE001 - any backend failure is shown
            if self._settle(call_id):
                on_failure(describe_failure(exc))
            return
        if self._settle(call_id):
            on_result(value)

    def _settle(self, call_id: int) -> bool:
        """Forget a finished call; False when nobody waits for it any more."""
        if self._pending.pop(call_id, None) is None:
            return False
        self.waiting.emit(self.message)
        return True

    # -- stopping -------------------------------------------------------------------
    def cancel(self, *, notify: bool = True) -> None:
        """Stop waiting for every pending call; their results are dropped."""
        pending, self._pending = list(self._pending.values()), {}
        for item in pending:
            item.future.cancel()
        if pending:
            self.waiting.emit("")
        for item in pending if notify else ():
            if item.on_cancel is not None:
                item.on_cancel()


def describe_failure(exc: Exception) -> str:
    """A keychain failure in words (keyring's exceptions often carry no message)."""
    text = str(exc).strip()
    kind = type(exc).__name__
    return f"{kind}: {text}" if text else kind
