"""The "Performance" tab: live ``serverStatus`` charts and ``currentOp`` with kill.

While the tab is visible a timer asks for ``serverStatus`` once a second through the
``ClusterSource`` (on the worker pool, never on the GUI thread); when it is hidden the
timer stops, so a hidden tab costs nothing. Counters become rates (operations per
second by type, network bytes in/out per second); gauges are drawn as they come
(connections, resident/virtual memory, queued and active readers/writers). The charts
keep ten minutes and show 60 s, 5 min or 10 min of it.

``currentOp`` is listed slowest first; "Kill operation" asks for confirmation, then
sends ``killOp``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping
from typing import Any

from PySide6.QtCore import QTimer
from PySide6.QtGui import QHideEvent, QShowEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QMessageBox,
    QPushButton,
    QScrollArea,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.cluster.common import ClusterSource, plain_error
from app.widgets.charts import LineChart

log = logging.getLogger(__name__)

WINDOWS = (("60 s", 60.0), ("5 min", 300.0), ("10 min", 600.0))
OP_TYPES = ("insert", "query", "update", "delete", "getmore", "command")
OP_COLUMNS = ("opid", "op", "namespace", "running (s)", "client", "description")
CURRENT_OP_EVERY = 5  # refresh currentOp every fifth serverStatus poll


def _number(document: Mapping[str, Any], *path: str) -> float | None:
    value: Any = document
    for key in path:
        if not isinstance(value, Mapping) or key not in value:
            return None
        value = value[key]
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


class ServerStatusRates:
    """Turns successive ``serverStatus`` replies into rates and gauges (pure)."""

    def __init__(self) -> None:
        self._previous: tuple[float, Mapping[str, Any]] | None = None

    def update(self, status: Mapping[str, Any], now: float) -> dict[str, dict[str, float]]:
        """``{chart: {series: value}}`` for this sample; rates need two samples."""
        out: dict[str, dict[str, float]] = {"ops": {}, "connections": {}, "network": {},
                                            "memory": {}, "queues": {}}
        previous = self._previous
        self._previous = (now, status)
        if previous is not None and now > previous[0]:
            elapsed = now - previous[0]
            for op in OP_TYPES:
                rate = self._rate(previous[1], status, elapsed, "opcounters", op)
                if rate is not None:
                    out["ops"][op] = rate
            for key, name in (("bytesIn", "in"), ("bytesOut", "out")):
                rate = self._rate(previous[1], status, elapsed, "network", key)
                if rate is not None:
                    out["network"][name] = rate / 1024.0
        for key in ("current", "active", "available"):
            value = _number(status, "connections", key)
            if value is not None and key != "available":
                out["connections"][key] = value
        for key in ("resident", "virtual"):
            value = _number(status, "mem", key)
            if value is not None:
                out["memory"][key] = value
        for group, label in (("currentQueue", "queued"), ("activeClients", "active")):
            for side in ("readers", "writers"):
                value = _number(status, "globalLock", group, side)
                if value is not None:
                    out["queues"][f"{label} {side}"] = value
        return out

    @staticmethod
    def _rate(before: Mapping[str, Any], after: Mapping[str, Any], elapsed: float,
              *path: str) -> float | None:
        old, new = _number(before, *path), _number(after, *path)
        if old is None or new is None or new < old:  # a restart resets counters
            return None
        return (new - old) / elapsed


def slowest_first(operations: list[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    def running(op: Mapping[str, Any]) -> float:
        micros = _number(op, "microsecs_running")
        return micros / 1e6 if micros is not None else _number(op, "secs_running") or 0.0

    return sorted(operations, key=running, reverse=True)


class PerformanceView(QWidget):
    """Charts from ``serverStatus`` (polled only while visible) and ``currentOp``."""

    def __init__(self, source: ClusterSource, parent: QWidget | None = None, *,
                 interval_ms: int = 1000,
                 confirm: Callable[[QWidget, str], bool] | None = None) -> None:
        super().__init__(parent)
        self._source = source
        self._confirm = confirm or _ask
        self._rates = ServerStatusRates()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._busy = False
        self.poll_count = 0
        self.last_error: str | None = None
        self.operations: list[Mapping[str, Any]] = []
        self._timer = QTimer(self)
        self._timer.setInterval(interval_ms)
        self._timer.timeout.connect(self.poll)

        self.charts = {
            "ops": LineChart("Operations", unit="per s"),
            "connections": LineChart("Connections"),
            "network": LineChart("Network", unit="KB/s"),
            "memory": LineChart("Memory", unit="MB"),
            "queues": LineChart("Queued and active clients"),
        }
        self.window_box = QComboBox()
        for label, seconds in WINDOWS:
            self.window_box.addItem(label, seconds)
        self.window_box.currentIndexChanged.connect(self._window_changed)
        self.status_label = QLabel()
        grid = QGridLayout()
        for i, chart in enumerate(self.charts.values()):
            grid.addWidget(chart, i // 2, i % 2)
        self.op_table = QTableWidget(0, len(OP_COLUMNS))
        self.op_table.setHorizontalHeaderLabels(list(OP_COLUMNS))
        self.op_table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.op_table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.op_table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.op_table.verticalHeader().hide()
        self.op_table.horizontalHeader().setStretchLastSection(True)
        refresh = QPushButton("Refresh operations")
        refresh.clicked.connect(lambda: self._spawn(self.refresh_operations()))
        self.kill_button = QPushButton("Kill operation…")
        self.kill_button.clicked.connect(self._kill_selected)
        header = QHBoxLayout()
        header.addWidget(QLabel("History:"))
        header.addWidget(self.window_box)
        header.addStretch(1)
        header.addWidget(self.status_label)
        ops_bar = QHBoxLayout()
        ops_bar.addWidget(QLabel("<b>Current operations</b> (slowest first)"))
        ops_bar.addStretch(1)
        ops_bar.addWidget(refresh)
        ops_bar.addWidget(self.kill_button)
        content = QWidget()
        layout = QVBoxLayout(content)
        layout.addLayout(header)
        layout.addLayout(grid, 3)
        layout.addLayout(ops_bar)
        layout.addWidget(self.op_table, 1)
        # A small window scrolls the charts instead of imposing their minimum size on
        # the whole window (the tab shares its minimum with the Cluster tab).
        scroll_area = QScrollArea()
        scroll_area.setWidgetResizable(True)
        scroll_area.setFrameShape(QFrame.Shape.NoFrame)
        scroll_area.setWidget(content)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.addWidget(scroll_area)

    # -- visibility drives polling ----------------------------------------------------------
    def showEvent(self, event: QShowEvent) -> None:  # noqa: N802 - Qt's name
        super().showEvent(event)
        self._timer.start()
        self.poll()

    def hideEvent(self, event: QHideEvent) -> None:  # noqa: N802 - Qt's name
        super().hideEvent(event)
        self._timer.stop()

    @property
    def polling(self) -> bool:
        return self._timer.isActive()

    def shutdown(self) -> None:
        """Stop the timer and drop polls in flight (call before closing the connection)."""
        self._timer.stop()
        for task in list(self._tasks):
            task.cancel()
        self._tasks.clear()

    def _window_changed(self) -> None:
        seconds = float(self.window_box.currentData())
        for chart in self.charts.values():
            chart.set_window(seconds)

    def _spawn(self, coroutine: Any) -> bool:
        try:
            asyncio.get_running_loop()
        except RuntimeError:  # shown before the loop runs: the timer polls again soon
            coroutine.close()
            return False
        task = asyncio.ensure_future(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return True

    # -- polling ------------------------------------------------------------------------
    def poll(self) -> None:
        if self._busy or not self.isVisible():
            return  # one request in flight at a time; none while hidden
        self._busy = self._spawn(self._poll())

    async def _poll(self) -> None:
        try:
            status = await self._source.admin_command("serverStatus")
            self.apply_status(status, time.time())
            self.poll_count += 1
            if self.poll_count % CURRENT_OP_EVERY == 1:
                await self.refresh_operations()
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - shown in the tab, polling goes on
            self.last_error = plain_error(exc)
            self.status_label.setText(f"serverStatus failed: {self.last_error}")
        finally:
            self._busy = False

    def apply_status(self, status: Mapping[str, Any], now: float) -> None:
        for chart_name, values in self._rates.update(status, now).items():
            chart = self.charts[chart_name]
            for series, value in values.items():
                chart.append(series, now, value)
            chart.update()
        host = status.get("host", "")
        version = status.get("version", "")
        self.status_label.setText(f"{host} · MongoDB {version}".strip(" ·"))

    async def refresh_operations(self) -> None:
        reply = await self._source.admin_command("currentOp")
        self.show_operations(list(reply.get("inprog") or []))

    def show_operations(self, operations: list[Mapping[str, Any]]) -> None:
        self.operations = slowest_first(operations)
        table = self.op_table
        table.setRowCount(len(self.operations))
        for row, op in enumerate(self.operations):
            micros = _number(op, "microsecs_running")
            seconds = micros / 1e6 if micros is not None else _number(op, "secs_running")
            cells = (str(op.get("opid", "")), str(op.get("op", "")), str(op.get("ns", "")),
                     "" if seconds is None else f"{seconds:.3f}", str(op.get("client", "")),
                     str(op.get("desc", "")))
            for column, text in enumerate(cells):
                table.setItem(row, column, QTableWidgetItem(text))

    # -- killing ------------------------------------------------------------------------
    def _kill_selected(self) -> None:
        rows = self.op_table.selectionModel().selectedRows()
        if not rows:
            self.status_label.setText("Select an operation to kill first.")
            return
        op = self.operations[rows[0].row()]
        self.kill_operation(op)

    def kill_operation(self, op: Mapping[str, Any]) -> asyncio.Task[Any] | None:
        """Ask for confirmation, then send ``killOp``; returns the task (None if declined)."""
        opid = op.get("opid")
        question = (f"Kill operation {opid} ({op.get('op', '?')} on {op.get('ns', '?')}, "
                    f"from {op.get('client', '?')})? The client will get an error.")
        if opid is None or not self._confirm(self, question):
            return None
        task = asyncio.ensure_future(self._kill(opid))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def _kill(self, opid: Any) -> dict[str, Any]:
        reply = await self._source.admin_command("killOp", op=opid)
        self.status_label.setText(f"killOp sent for operation {opid}")
        await self.refresh_operations()
        return reply


def _ask(parent: QWidget, question: str) -> bool:
    answer = QMessageBox.question(parent, "Kill operation", question,
                                  QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
                                  QMessageBox.StandardButton.No)
    return answer == QMessageBox.StandardButton.Yes


__all__ = ["PerformanceView", "ServerStatusRates", "slowest_first"]
