"""``ServerDescription``: the immutable view of one server after one check.

Built from a ``hello`` reply (or from an error, which gives type Unknown), following
the SDAM specification's "Parsing a hello or legacy hello response". Only the fields
the spec marks "(=)" take part in equality, so an RTT change alone never produces a
``ServerDescriptionChangedEvent``. Pure: no I/O, no clocks except the caller's.
"""

from __future__ import annotations

import datetime
import time
from collections.abc import Mapping
from typing import Any

from driver.operations.replies import bad_field, optional_document, optional_int
from driver.sdam.types import (
    DATA_BEARING_TYPES,
    Address,
    ServerType,
    format_address,
    normalize_address,
    parse_address,
)


def _server_type_from_reply(reply: Mapping[str, Any]) -> ServerType:
    # The table of "type" in the SDAM spec, checked in its order of precedence.
    if not reply.get("ok"):
        return ServerType.Unknown
    if reply.get("isreplicaset"):
        return ServerType.RSGhost
    if reply.get("setName") is not None:
        # "drivers MUST first check for the isWritablePrimary field and fall back to ismaster"
        writable = reply["isWritablePrimary"] if "isWritablePrimary" in reply else reply.get("ismaster")
        if writable:
            return ServerType.RSPrimary
        if reply.get("hidden"):
            return ServerType.RSOther
        if reply.get("secondary"):
            return ServerType.RSSecondary
        if reply.get("arbiterOnly"):
            return ServerType.RSArbiter
        return ServerType.RSOther
    if reply.get("msg") == "isdbgrid":
        return ServerType.Mongos
    return ServerType.Standalone


def _addresses(values: Any) -> tuple[Address, ...]:
    if not values:
        return ()
    if not isinstance(values, list | tuple):
        raise bad_field("hello reply", "hosts", "an array of host strings", values)
    return tuple(parse_address(str(value)) for value in values)


def _datetime_to_seconds(value: Any) -> float | None:
    """A BSON datetime (``datetime``, ``DatetimeMS``-like or milliseconds) as epoch seconds."""
    if value is None:
        return None
    if isinstance(value, datetime.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=datetime.UTC)
        return float(value.timestamp())
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value) / 1000.0
    as_int = getattr(value, "__int__", None)
    if as_int is not None:
        return float(as_int()) / 1000.0
    return None


class ServerDescription:
    """What the driver believes about one server (SDAM spec, "ServerDescription").

    ``round_trip_time`` and ``min_round_trip_time`` are in seconds (as PyMongo's);
    ``last_update_time`` is a ``time.monotonic()`` reading; ``last_write_date`` is
    epoch seconds. ``error`` is the exception of the failed check or operation.
    """

    __slots__ = (
        "_address", "_reply", "_type", "_rtt", "_min_rtt", "_error", "_last_update_time",
        "_hosts", "_passives", "_arbiters", "_me", "_primary", "_set_name", "_set_version",
        "_election_id", "_tags", "_min_wire", "_max_wire", "_last_write_date",
        "_session_timeout", "_topology_version", "_service_id",
    )

    def __init__(
        self,
        address: Address | str,
        hello: Mapping[str, Any] | None = None,
        round_trip_time: float | None = None,
        error: BaseException | None = None,
        *,
        min_round_trip_time: float = 0.0,
        last_update_time: float | None = None,
        server_type: ServerType | None = None,
        topology_version: Mapping[str, Any] | None = None,
    ) -> None:
        self._address = normalize_address(address)
        reply: Mapping[str, Any] = hello if hello is not None else {}
        self._reply = dict(reply)
        if server_type is not None:
            self._type = server_type
        else:
            self._type = _server_type_from_reply(reply) if hello is not None else ServerType.Unknown
        known = self._type != ServerType.Unknown
        # "while a server's type is Unknown its RTT is null"
        self._rtt = round_trip_time if known else None
        self._min_rtt = min_round_trip_time if known else 0.0
        self._error = error
        self._last_update_time = time.monotonic() if last_update_time is None else last_update_time
        self._hosts = _addresses(reply.get("hosts"))
        self._passives = _addresses(reply.get("passives"))
        self._arbiters = _addresses(reply.get("arbiters"))
        me = reply.get("me")
        self._me = parse_address(str(me)) if me else None
        primary = reply.get("primary")
        self._primary = parse_address(str(primary)) if primary else None
        self._set_name: str | None = reply.get("setName")
        self._set_version: int | None = reply.get("setVersion")
        self._election_id: Any = reply.get("electionId")
        where = "hello reply"
        self._tags: dict[str, Any] = dict(optional_document(reply, "tags", where) or {})
        self._min_wire: int = optional_int(reply, "minWireVersion", where)
        self._max_wire: int = optional_int(reply, "maxWireVersion", where)
        for size_field in ("maxBsonObjectSize", "maxMessageSizeBytes", "maxWriteBatchSize"):
            optional_int(reply, size_field, where)  # read by the properties below
        last_write = optional_document(reply, "lastWrite", where) or {}
        self._last_write_date = _datetime_to_seconds(last_write.get("lastWriteDate"))
        self._session_timeout: int | None = reply.get("logicalSessionTimeoutMinutes")
        tv = (topology_version if topology_version is not None
              else optional_document(reply, "topologyVersion", where))
        self._topology_version: dict[str, Any] | None = dict(tv) if tv is not None else None
        self._service_id: Any = reply.get("serviceId")

    # --- construction helpers ---------------------------------------------------------------

    @classmethod
    def unknown(
        cls,
        address: Address | str,
        error: BaseException | None = None,
        topology_version: Mapping[str, Any] | None = None,
    ) -> ServerDescription:
        """A default description of type Unknown, optionally carrying an error."""
        return cls(address, None, None, error, topology_version=topology_version)

    @classmethod
    def load_balancer(cls, address: Address | str) -> ServerDescription:
        """The description of a load balancer: only the address and type are set."""
        return cls(address, {"ok": 1}, server_type=ServerType.LoadBalancer)

    def to_unknown(self, error: BaseException | None = None) -> ServerDescription:
        """This server marked Unknown (keeping its topologyVersion, as state-change errors do)."""
        return ServerDescription.unknown(self._address, error, self._topology_version)

    # --- properties with PyMongo's names --------------------------------------------------------

    @property
    def address(self) -> Address:
        return self._address

    @property
    def hello(self) -> dict[str, Any]:
        """The raw hello reply this description was built from (``{}`` if none)."""
        return dict(self._reply)

    @property
    def server_type(self) -> ServerType:
        return self._type

    @property
    def server_type_name(self) -> str:
        return self._type.name

    @property
    def round_trip_time(self) -> float | None:
        return self._rtt

    @property
    def min_round_trip_time(self) -> float:
        return self._min_rtt

    @property
    def error(self) -> BaseException | None:
        return self._error

    @property
    def last_update_time(self) -> float:
        return self._last_update_time

    @property
    def hosts(self) -> frozenset[Address]:
        return frozenset(self._hosts)

    @property
    def passives(self) -> frozenset[Address]:
        return frozenset(self._passives)

    @property
    def arbiters(self) -> frozenset[Address]:
        return frozenset(self._arbiters)

    @property
    def all_hosts(self) -> frozenset[Address]:
        """Every member this server reports: hosts, passives and arbiters."""
        return frozenset(self._hosts + self._passives + self._arbiters)

    @property
    def me(self) -> Address | None:
        return self._me

    @property
    def primary(self) -> Address | None:
        return self._primary

    @property
    def replica_set_name(self) -> str | None:
        return self._set_name

    @property
    def set_version(self) -> int | None:
        return self._set_version

    @property
    def election_id(self) -> Any:
        return self._election_id

    @property
    def tags(self) -> dict[str, Any]:
        return dict(self._tags)

    @property
    def min_wire_version(self) -> int:
        return self._min_wire

    @property
    def max_wire_version(self) -> int:
        return self._max_wire

    @property
    def last_write_date(self) -> float | None:
        return self._last_write_date

    @property
    def logical_session_timeout_minutes(self) -> int | None:
        return self._session_timeout

    @property
    def topology_version(self) -> dict[str, Any] | None:
        return dict(self._topology_version) if self._topology_version is not None else None

    @property
    def service_id(self) -> Any:
        return self._service_id

    @property
    def max_bson_size(self) -> int:
        return int(self._reply.get("maxBsonObjectSize", 16 * 1024 * 1024))

    @property
    def max_message_size(self) -> int:
        return int(self._reply.get("maxMessageSizeBytes", 2 * self.max_bson_size))

    @property
    def max_write_batch_size(self) -> int:
        return int(self._reply.get("maxWriteBatchSize", 100_000))

    @property
    def is_server_type_known(self) -> bool:
        return self._type != ServerType.Unknown

    @property
    def is_writable(self) -> bool:
        return self._type in (
            ServerType.RSPrimary, ServerType.Standalone, ServerType.Mongos,
            ServerType.LoadBalancer,
        )

    @property
    def is_readable(self) -> bool:
        return self._type == ServerType.RSSecondary or self.is_writable

    @property
    def is_data_bearing(self) -> bool:
        return self._type in DATA_BEARING_TYPES

    @property
    def mongos(self) -> bool:
        return self._type == ServerType.Mongos

    @property
    def retryable_writes_supported(self) -> bool:
        return self._session_timeout is not None and self._type in (
            ServerType.Mongos, ServerType.RSPrimary, ServerType.LoadBalancer,
        )

    @property
    def retryable_reads_supported(self) -> bool:
        return self._max_wire >= 6

    # --- equality ("Server Description Equality": only the fields marked (=)) -------------

    def _equality_key(self) -> tuple[Any, ...]:
        error = None if self._error is None else (type(self._error).__name__, str(self._error))
        return (
            self._address, self._type, self._min_wire, self._max_wire, self._me,
            frozenset(self._hosts), frozenset(self._passives), frozenset(self._arbiters),
            tuple(sorted((str(k), repr(v)) for k, v in self._tags.items())), self._set_name,
            self._set_version, repr(self._election_id), self._primary, self._session_timeout,
            repr(self._topology_version), error,
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ServerDescription):
            return NotImplemented
        return self._equality_key() == other._equality_key()

    def __ne__(self, other: object) -> bool:
        result = self.__eq__(other)
        return result if result is NotImplemented else not result

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        rtt = "None" if self._rtt is None else f"{self._rtt * 1000:.1f}ms"
        text = f"<ServerDescription {format_address(self._address)} {self._type.name} rtt={rtt}"
        if self._error is not None:
            text += f" error={self._error!s}"
        return text + ">"


__all__ = ["ServerDescription"]
