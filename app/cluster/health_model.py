"""The health view's live model: ``ClusterHealth`` plus two Qt item models over it.

``ClusterHealth`` (a QObject on the GUI thread) feeds a ``HealthState`` from the
``EventBridge``'s SDAM and heartbeat signals, polls the RTT monitor's samples, and every
few seconds asks for ``replSetGetStatus``/``replSetGetConfig`` (or ``listShards`` on a
sharded cluster) through a ``ClusterSource``. While the set has no primary it asks every
100 ms: any secondary names the winner the moment an election ends, often before the
driver's next heartbeat does. When the user may not run those commands (code 13,
Unauthorized) it stops asking and the view keeps what ``hello`` gives. Bursts of events
are coalesced into one ``changed`` signal per event-loop turn.

``MemberTableModel`` and ``TimelineModel`` are the table and list models the views and
tests use; both pass pytest-qt's ``qtmodeltester``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import (
    QAbstractListModel,
    QAbstractTableModel,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    Qt,
    QTimer,
    Signal,
)

from app.cluster.common import ClusterSource
from app.cluster.health_state import HealthState, MemberHealth, TimelineEvent, format_address

log = logging.getLogger(__name__)

AnyIndex = QModelIndex | QPersistentModelIndex
UNAUTHORIZED = 13
NOT_A_REPLSET = (76, 59)  # NoReplicationEnabled, CommandNotFound (a mongos)


class ClusterHealth(QObject):
    """Live health of one connection's deployment."""

    changed = Signal()
    event_added = Signal(object)  # TimelineEvent
    event_removed = Signal(object)

    def __init__(self, bridge: Any | None = None, source: ClusterSource | None = None,
                 parent: QObject | None = None, *, status_interval_ms: int = 3000,
                 rtt_interval_ms: int = 1000, electing_interval_ms: int = 100,
                 clock: Callable[[], float] = time.time) -> None:
        super().__init__(parent)
        self.state = HealthState()
        self.state.on_event = self.event_added.emit
        self.state.on_removed = self.event_removed.emit
        self._source = source
        self._clock = clock
        self._tasks: set[asyncio.Task[Any]] = set()
        self._status_allowed = True
        self._status_busy = False
        self._pending_change = False
        self.last_change_at: float | None = None  # monotonic, for measurements
        self._status_interval_ms = status_interval_ms
        self._electing_interval_ms = electing_interval_ms
        self._status_timer = QTimer(self)
        self._status_timer.setInterval(status_interval_ms)
        self._status_timer.timeout.connect(self.poll_status)
        self._rtt_timer = QTimer(self)
        self._rtt_timer.setInterval(rtt_interval_ms)
        self._rtt_timer.timeout.connect(self.poll_rtt)
        self._flush_timer = QTimer(self)
        self._flush_timer.setSingleShot(True)
        self._flush_timer.setInterval(0)
        self._flush_timer.timeout.connect(self._flush)
        if bridge is not None:
            bridge.topology_event.connect(self._on_topology_event)
            bridge.heartbeat_event.connect(self._on_heartbeat_event)

    # -- life cycle -----------------------------------------------------------------------
    @property
    def started(self) -> bool:
        return self._rtt_timer.isActive()

    def start(self) -> None:
        """Take the current description (events before now are gone) and start polling."""
        if self._source is not None:
            description = self._source.topology_description()
            if description is not None:
                self.apply_description(description)
        self._rtt_timer.start()
        self._status_timer.start()
        self.poll_status()

    def stop(self) -> None:
        self._rtt_timer.stop()
        self._status_timer.stop()
        for task in list(self._tasks):
            task.cancel()
        self._tasks.clear()

    @property
    def status_allowed(self) -> bool:
        return self._status_allowed

    # -- driver events (GUI thread, through the bridge) -----------------------------------
    def _on_topology_event(self, kind: str, event: Any) -> None:
        if kind != "description_changed":
            return
        # Queued events can be older than the snapshot ``start()`` took: with a source,
        # an event only says "look again" and the client's current description is used,
        # so the view never steps back in time.
        current = self._source.topology_description() if self._source is not None else None
        self.apply_description(current if current is not None else event.new_description)

    def apply_description(self, description: Any) -> None:
        self.state.apply_topology(description, self._clock())
        self._adjust_status_rate()
        self._changed()

    @property
    def electing(self) -> bool:
        return self.state.topology_type == "ReplicaSetNoPrimary"

    def _adjust_status_rate(self) -> None:
        """While the set has no primary, ask replSetGetStatus often: a secondary names the
        winner as soon as the election ends, before the monitors' next heartbeat."""
        if not self._status_timer.isActive():
            return
        wanted = self._electing_interval_ms if self.electing else self._status_interval_ms
        if self._status_timer.interval() != wanted:
            self._status_timer.setInterval(wanted)
            if self.electing:
                self.poll_status()

    def _on_heartbeat_event(self, kind: str, event: Any) -> None:
        host, port = event.connection_id
        address = (str(host), int(port))
        if kind == "succeeded":
            self.state.heartbeat_succeeded(address, event.duration, event.reply,
                                           bool(getattr(event, "awaited", False)), self._clock())
        elif kind == "failed":
            self.state.heartbeat_failed(address, event.duration, event.reply,
                                        self._clock())
        else:
            return
        self._changed()

    def _changed(self) -> None:
        # Many events arrive in one burst (a topology change brings one per member):
        # repaint once, on the next turn of the event loop.
        if not self._pending_change:
            self._pending_change = True
            self._flush_timer.start()

    def _flush(self) -> None:
        self._pending_change = False
        self.last_change_at = time.monotonic()
        self.changed.emit()

    # -- polling --------------------------------------------------------------------------
    def poll_rtt(self) -> None:
        if self._source is None:
            return
        for address in list(self.state.members):
            self.state.apply_rtt_samples(address, self._source.rtt_samples(address))
        self._changed()

    def poll_status(self) -> None:
        if self._source is None or not self._status_allowed or self._status_busy:
            return
        kind = self.state.topology_type
        if kind.startswith("ReplicaSet") or kind == "Sharded":
            self._spawn(self._poll_status(kind))

    def _spawn(self, coroutine: Any) -> None:
        try:
            asyncio.get_running_loop()
        except RuntimeError:  # shown before the loop runs: the timer polls again soon
            coroutine.close()
            return
        task = asyncio.ensure_future(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _poll_status(self, kind: str) -> None:
        assert self._source is not None
        self._status_busy = True
        try:
            if kind == "Sharded":
                self.state.apply_shards(await self._source.admin_command("listShards"))
            else:
                status = await self._source.admin_command("replSetGetStatus")
                self.state.apply_repl_status(status, self._clock())
                if not self.electing:  # the config rarely changes: not while polling fast
                    config = await self._source.admin_command("replSetGetConfig")
                    self.state.apply_repl_config(config.get("config") or {})
            self._changed()
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - a poll failing is shown, never raised
            code = getattr(exc, "code", None)
            if code == UNAUTHORIZED or code in NOT_A_REPLSET:
                # Not allowed (or not a replica set after all): keep what hello gives.
                self._status_allowed = False
                self.state.status_source = "hello"
            log.debug("status poll failed: %s", exc)
        finally:
            self._status_busy = False


# -- Qt models ------------------------------------------------------------------------------

COLUMNS = ("Host", "Role", "State", "Version", "RTT (ms)", "Lag (s)", "Last heartbeat",
           "Sync source", "Priority / votes", "Tags", "Last error")


def member_cell(member: MemberHealth, column: int, now: float) -> str:
    """The text of one table cell (shared by the table and the diagram's tooltips)."""
    if column == 0:
        return member.host
    if column == 1:
        return member.role
    if column == 2:
        return member.state
    if column == 3:
        return member.version or ""
    if column == 4:
        return "" if member.rtt_ms is None else f"{member.rtt_ms:.1f}"
    if column == 5:
        return "" if member.lag_s is None else f"{member.lag_s:.1f}"
    if column == 6:
        since = member.seconds_since_heartbeat(now)
        return "" if since is None else f"{since:.1f} s ago"
    if column == 7:
        return format_address(member.sync_source) if member.sync_source else ""
    if column == 8:
        if member.priority is None and member.votes is None:
            return ""
        return f"{member.priority if member.priority is not None else '?'} / " \
               f"{member.votes if member.votes is not None else '?'}"
    if column == 9:
        return ", ".join(f"{k}={v}" for k, v in sorted(member.tags.items()))
    return member.last_error or ""


class MemberTableModel(QAbstractTableModel):
    """One row per member, in address order."""

    def __init__(self, health: ClusterHealth, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._health = health
        self._rows: list[MemberHealth] = health.state.ordered_members()
        health.changed.connect(self.refresh)

    def refresh(self) -> None:
        rows = self._health.state.ordered_members()
        if [m.address for m in rows] != [m.address for m in self._rows]:
            self.beginResetModel()
            self._rows = rows
            self.endResetModel()
            return
        self._rows = rows
        if rows:
            self.dataChanged.emit(self.index(0, 0), self.index(len(rows) - 1, len(COLUMNS) - 1))

    def member(self, row: int) -> MemberHealth:
        return self._rows[row]

    def rowCount(self, parent: AnyIndex = QModelIndex()) -> int:  # noqa: B008, N802
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: AnyIndex = QModelIndex()) -> int:  # noqa: B008, N802
        return 0 if parent.isValid() else len(COLUMNS)

    def data(self, index: AnyIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self._rows):
            return None
        member = self._rows[index.row()]
        if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ToolTipRole):
            return member_cell(member, index.column(), time.time())
        if role == Qt.ItemDataRole.UserRole:
            return member.address
        return None

    def headerData(self, section: int, orientation: Qt.Orientation,  # noqa: N802
                   role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if role != Qt.ItemDataRole.DisplayRole:
            return None
        if orientation == Qt.Orientation.Horizontal and 0 <= section < len(COLUMNS):
            return COLUMNS[section]
        if orientation == Qt.Orientation.Vertical:
            return str(section + 1)
        return None


class TimelineModel(QAbstractListModel):
    """The timeline, oldest first; rows are appended as events happen."""

    def __init__(self, health: ClusterHealth, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._health = health
        self._rows: list[TimelineEvent] = list(health.state.timeline)
        health.event_added.connect(self._append)
        health.event_removed.connect(self._remove_first)

    def _append(self, event: TimelineEvent) -> None:
        row = len(self._rows)
        self.beginInsertRows(QModelIndex(), row, row)
        self._rows.append(event)
        self.endInsertRows()

    def _remove_first(self, event: TimelineEvent) -> None:
        if self._rows and self._rows[0] is event:
            self.beginRemoveRows(QModelIndex(), 0, 0)
            self._rows.pop(0)
            self.endRemoveRows()

    def timeline_event(self, row: int) -> TimelineEvent:
        return self._rows[row]

    def events(self) -> list[TimelineEvent]:
        return list(self._rows)

    def rowCount(self, parent: AnyIndex = QModelIndex()) -> int:  # noqa: B008, N802
        return 0 if parent.isValid() else len(self._rows)

    def data(self, index: AnyIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self._rows):
            return None
        event = self._rows[index.row()]
        if role == Qt.ItemDataRole.DisplayRole:
            return event.as_text()
        if role == Qt.ItemDataRole.UserRole:
            return event.kind
        if role == Qt.ItemDataRole.ToolTipRole:
            return event.text
        return None


__all__ = ["COLUMNS", "ClusterHealth", "MemberTableModel", "TimelineModel", "member_cell"]
