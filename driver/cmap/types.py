"""The pool's options, its connection wrapper and its own errors (see ``driver.cmap.pool``).

``PoolOptions`` validates the CMAP spec's ConnectionPoolOptions; ``PooledConnection`` wraps
whatever the injected factory returned with what the pool tracks about it (id,
generation, last use, whether it is closed); ``PoolClearedError`` and ``PoolClosedError``
are the two errors the spec names for checkouts from a paused or a closed pool.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from driver.errors import AutoReconnect, ConfigurationError, InvalidOperation, OperationFailure

if TYPE_CHECKING:
    from driver.cmap.events import Address


class PoolClearedError(AutoReconnect):
    """A checkout from a paused (cleared) pool, or a connection interrupted by a clear.

    "The error returned as a result of the pool being cleared MUST be considered a
    retryable error and MUST NOT be an error that marks the SDAM state unknown" (CMAP
    spec): it is an ``AutoReconnect`` (retryable), and SDAM's error handling must skip it.
    """


class PoolClosedError(InvalidOperation):
    """A checkout from a closed pool (the client was closed)."""


def _check_int(name: str, value: object, minimum: int) -> None:
    # bool is an int subclass; "maxPoolSize=True" is a mistake, not a 1.
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigurationError(f"{name} must be an integer, not {type(value).__name__}")
    if value < minimum:
        raise ConfigurationError(f"{name} must be >= {minimum}, not {value}")


def _check_ms(name: str, value: object) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ConfigurationError(f"{name} must be a number of milliseconds, not {value!r}")
    if not value >= 0:  # also rejects NaN
        raise ConfigurationError(f"{name} must be >= 0, not {value}")


@dataclass(frozen=True, slots=True)
class PoolOptions:
    """The CMAP spec's ConnectionPoolOptions, validated.

    ``max_pool_size`` 0 means no limit; ``max_idle_time_ms`` and ``wait_queue_timeout_ms``
    ``None`` or 0 mean no limit. ``background_thread_interval_ms`` is the pause between two
    runs of the maintenance thread (the spec tests' ``backgroundThreadIntervalMS``; a
    negative value means no periodic runs, only the ones a clear with interruption asks for).
    """

    max_pool_size: int = 100
    min_pool_size: int = 0
    max_connecting: int = 2
    max_idle_time_ms: float | None = None
    wait_queue_timeout_ms: float | None = None
    background_thread_interval_ms: float = 1000

    def __post_init__(self) -> None:
        _check_int("maxPoolSize", self.max_pool_size, 0)
        _check_int("minPoolSize", self.min_pool_size, 0)
        # "If maxPoolSize is > 0 then minPoolSize must be <= maxPoolSize" (CMAP spec).
        if self.max_pool_size and self.min_pool_size > self.max_pool_size:
            raise ConfigurationError(
                f"minPoolSize ({self.min_pool_size}) must be <= maxPoolSize ({self.max_pool_size})"
            )
        _check_int("maxConnecting", self.max_connecting, 1)
        _check_ms("maxIdleTimeMS", self.max_idle_time_ms)
        _check_ms("waitQueueTimeoutMS", self.wait_queue_timeout_ms)
        interval = self.background_thread_interval_ms
        if isinstance(interval, bool) or not isinstance(interval, int | float) or interval == 0:
            raise ConfigurationError(
                f"backgroundThreadIntervalMS must be a non-zero number, not {interval!r}"
            )

    @classmethod
    def from_client_options(cls, options: Any) -> PoolOptions:
        """The pool part of a ``driver.connection_string.client_options.ClientOptions`` (same for every pool)."""
        return cls(
            max_pool_size=options.max_pool_size,
            min_pool_size=options.min_pool_size,
            max_connecting=options.max_connecting,
            max_idle_time_ms=options.max_idle_time_ms,
            wait_queue_timeout_ms=options.wait_queue_timeout_ms,
        )

    @property
    def max_idle_time(self) -> float | None:
        """maxIdleTimeMS in seconds; ``None`` when idle connections never expire."""
        return self.max_idle_time_ms / 1000 if self.max_idle_time_ms else None

    @property
    def wait_queue_timeout(self) -> float | None:
        """waitQueueTimeoutMS in seconds; ``None`` when checkouts wait forever."""
        return self.wait_queue_timeout_ms / 1000 if self.wait_queue_timeout_ms else None

    @property
    def non_default_options(self) -> dict[str, Any]:
        """The options that differ from the defaults, by their URI names (PoolCreatedEvent)."""
        defaults = PoolOptions()
        names = {
            "max_pool_size": "maxPoolSize",
            "min_pool_size": "minPoolSize",
            "max_connecting": "maxConnecting",
            "max_idle_time_ms": "maxIdleTimeMS",
            "wait_queue_timeout_ms": "waitQueueTimeoutMS",
        }
        return {
            uri_name: getattr(self, field)
            for field, uri_name in names.items()
            if getattr(self, field) != getattr(defaults, field)
        }


class PooledConnection:
    """One connection of a pool: the factory's object plus what the pool tracks.

    ``connection`` is what ``connect()`` returned. Code that hits a network error on it
    calls :meth:`mark_errored` (or leaves the ``with pool.checkout() as conn:`` block
    with the exception), so the pool closes it on check-in instead of reusing it. Used
    as a context manager, leaving the block checks the connection in.
    """

    __slots__ = (
        "connection",
        "id",
        "generation",
        "address",
        "last_used",
        "_closed",
        "_errored",
        "_interrupted",
        "_pool",
    )

    def __init__(
        self,
        connection: Any,
        connection_id: int,
        generation: int,
        address: Address,
        pool: Any,
    ) -> None:
        self.connection = connection
        self.id = connection_id
        self.generation = generation
        self.address = address
        self.last_used = time.monotonic()
        self._closed = False
        self._errored = False
        self._interrupted = False
        self._pool = pool

    @property
    def closed(self) -> bool:
        """True once the pool closed this connection (it must not be used again)."""
        return self._closed

    @property
    def errored(self) -> bool:
        """True when someone reported an error on it; it will not be reused."""
        return self._errored

    @property
    def interrupted(self) -> bool:
        """True when a clear with interruptInUseConnections closed it while in use."""
        return self._interrupted

    def mark_errored(self) -> None:
        """Report that the connection failed; check-in then closes it (reason ``error``)."""
        self._errored = True

    def interruption_error(self) -> PoolClearedError | None:
        """The error an operation should raise when its connection was interrupted.

        "If possible, the error SHOULD be a PoolClearedError with the following message"
        (CMAP spec); ``None`` when the connection was not interrupted.
        """
        if not self._interrupted:
            return None
        host, port = self.address
        where = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        return PoolClearedError(f"Connection to {where} interrupted due to server monitor timeout")

    def __enter__(self) -> PooledConnection:
        return self

    def __exit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> None:
        # An exception other than a server's refusal may have left a half-read reply or
        # a dead socket behind: the connection is not trusted again.
        if exc is not None and not isinstance(exc, OperationFailure):
            self._errored = True
        self._pool.checkin(self)

    def idle_for(self, now: float) -> float:
        """Seconds since the connection was last checked in (or created)."""
        return now - self.last_used

    def _close_underlying(self) -> None:
        self._closed = True
        close = getattr(self.connection, "close", None)
        if close is not None:
            close()

    def __repr__(self) -> str:
        state = "closed" if self._closed else "open"
        return f"PooledConnection(id={self.id}, generation={self.generation}, {state})"


__all__ = ["PoolClearedError", "PoolClosedError", "PoolOptions", "PooledConnection"]
