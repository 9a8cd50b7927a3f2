"""The replica-set health view: a topology diagram, per-member sparklines, a member
table and the event timeline with export.

``TopologyDiagram`` paints the deployment with QPainter: each member a node whose shape
and colour say its role (primary: large green disc; secondary: blue disc; passive:
pale disc; hidden: dashed purple disc; arbiter: grey diamond; ghost: dotted ring;
unknown/unreachable: red ring with a cross; mongos router: orange hexagon; standalone:
rounded square; load balancer: wide trapezoid), arrows from each sync source to the
members copying from it, and for sharded clusters the routers above the shards that
``listShards`` names. Everything repaints on ``ClusterHealth.changed``, which follows
the driver's events within the same turn of the event loop.
"""

from __future__ import annotations

import math
import time
from pathlib import Path

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import (
    QBrush,
    QColor,
    QGuiApplication,
    QHideEvent,
    QPainter,
    QPainterPath,
    QPaintEvent,
    QPen,
    QPolygonF,
    QShowEvent,
)
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFileDialog,
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QListView,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QSplitter,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from app.cluster.health_model import ClusterHealth, MemberTableModel, TimelineModel
from app.cluster.health_state import MemberHealth, Role
from app.widgets.charts import Sparkline

ROLE_COLOURS = {
    Role.PRIMARY: "#27ae60", Role.SECONDARY: "#2e86de", Role.PASSIVE: "#85c1e9",
    Role.HIDDEN: "#8e44ad", Role.ARBITER: "#95a5a6", Role.GHOST: "#bdc3c7",
    Role.OTHER: "#f1c40f", Role.UNKNOWN: "#7f8c8d", Role.UNREACHABLE: "#c0392b",
    Role.MONGOS: "#e67e22", Role.STANDALONE: "#16a085", Role.LOAD_BALANCER: "#34495e",
}


class TopologyDiagram(QWidget):
    """QPainter drawing of the members, their roles and sync-source arrows."""

    def __init__(self, health: ClusterHealth, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._health = health
        self.node_positions: dict[tuple[str, int], QPointF] = {}
        self.setMinimumSize(260, 170)
        health.changed.connect(self.update)

    # -- layout ---------------------------------------------------------------------------
    def _layout(self, members: list[MemberHealth]) -> dict[tuple[str, int], QPointF]:
        width, height = self.width(), self.height()
        positions: dict[tuple[str, int], QPointF] = {}
        routers = [m for m in members if m.role == Role.MONGOS]
        others = [m for m in members if m.role != Role.MONGOS]
        if routers:
            top = height * 0.3
            for i, member in enumerate(routers):
                positions[member.address] = QPointF(width * (i + 1) / (len(routers) + 1), top)
            for i, member in enumerate(others):
                positions[member.address] = QPointF(width * (i + 1) / (len(others) + 1),
                                                    height * 0.7)
            return positions
        if len(others) <= 2:
            for i, member in enumerate(others):
                positions[member.address] = QPointF(width * (i + 1) / (len(others) + 1),
                                                    height * 0.42)
            return positions
        # An ellipse: wide views spread the members sideways so their labels never meet.
        # Room above for the title and below for the lowest node (its radius) and its
        # three label lines, measured in this font, so a short view cuts none off.
        label_room = self.fontMetrics().lineSpacing() * 3 + self._radius() + 8
        top = 32.0 + self._radius()
        bottom = max(height - label_room, top + 10.0)
        radius_x, radius_y = width * 0.32, max((bottom - top) / 2, 10.0)
        centre = QPointF(width / 2, (top + bottom) / 2)
        # The primary (if any) goes at the top; the others keep address order around.
        order = sorted(others, key=lambda m: m.role != Role.PRIMARY)
        for i, member in enumerate(order):
            angle = -math.pi / 2 + 2 * math.pi * i / len(order)
            positions[member.address] = QPointF(centre.x() + radius_x * math.cos(angle),
                                                centre.y() + radius_y * math.sin(angle))
        return positions

    def _radius(self) -> float:
        return max(14.0, min(self.width(), self.height()) * 0.07)

    # -- painting -------------------------------------------------------------------------
    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802 - Qt's name
        del event
        state = self._health.state
        members = state.ordered_members()
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        text_colour = self.palette().color(self.palette().ColorRole.WindowText)
        title = f"{state.set_name} · " if state.set_name else ""
        painter.setPen(text_colour)
        painter.drawText(QPointF(8, 16), f"{title}{state.topology_type}"
                         + (f" · term {state.term}" if state.term is not None else ""))
        if not members:
            painter.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter, "No servers known yet")
            painter.end()
            return
        positions = self._layout(members)
        self.node_positions = positions
        radius = self._radius()
        # Sync-source arrows first, so nodes draw over their ends.
        for member in members:
            source = member.sync_source
            if source is None or source not in positions or member.address not in positions:
                continue
            self._arrow(painter, positions[source], positions[member.address], radius)
        if any(m.role == Role.MONGOS for m in members) and state.shards:
            self._shards(painter, members, positions, radius, text_colour)
        for member in members:
            self._node(painter, member, positions[member.address], radius, text_colour)
        painter.end()

    def _arrow(self, painter: QPainter, start: QPointF, end: QPointF, radius: float) -> None:
        dx, dy = end.x() - start.x(), end.y() - start.y()
        length = math.hypot(dx, dy)
        if length < 2 * radius + 4:
            return
        ux, uy = dx / length, dy / length
        tail = QPointF(start.x() + ux * (radius + 3), start.y() + uy * (radius + 3))
        tip = QPointF(end.x() - ux * (radius + 3), end.y() - uy * (radius + 3))
        painter.setPen(QPen(QColor("#7f8c8d"), 1.5))
        painter.drawLine(tail, tip)
        head = QPolygonF([
            tip,
            QPointF(tip.x() - ux * 9 - uy * 5, tip.y() - uy * 9 + ux * 5),
            QPointF(tip.x() - ux * 9 + uy * 5, tip.y() - uy * 9 - ux * 5),
        ])
        painter.setBrush(QColor("#7f8c8d"))
        painter.drawPolygon(head)

    def _shards(self, painter: QPainter, members: list[MemberHealth],
                positions: dict[tuple[str, int], QPointF], radius: float,
                text_colour: QColor) -> None:
        shards = self._health.state.shards
        y = self.height() - radius * 1.6
        for i, name in enumerate(shards):
            x = self.width() * (i + 1) / (len(shards) + 1)
            box = QRectF(x - radius * 2.2, y - radius * 0.6, radius * 4.4, radius * 1.2)
            painter.setPen(QPen(QColor("#7f8c8d"), 1, Qt.PenStyle.DashLine))
            for member in members:
                if member.role == Role.MONGOS:
                    painter.drawLine(positions[member.address], QPointF(x, box.top()))
            painter.setBrush(QColor("#ecf0f1"))
            painter.setPen(QPen(QColor("#7f8c8d"), 1))
            painter.drawRoundedRect(box, 5, 5)
            painter.setPen(QColor("#2c3e50"))
            painter.drawText(box, Qt.AlignmentFlag.AlignCenter, name.split(" ")[0])
        del text_colour

    def _node(self, painter: QPainter, member: MemberHealth, centre: QPointF, radius: float,
              text_colour: QColor) -> None:
        role = member.role
        colour = QColor(ROLE_COLOURS.get(role, "#7f8c8d"))
        pen = QPen(colour.darker(140), 2)
        brush = QBrush(colour)
        size = radius * (1.25 if role == Role.PRIMARY else 1.0)
        if role == Role.HIDDEN:
            pen.setStyle(Qt.PenStyle.DashLine)
            brush = QBrush(colour.lighter(160))
        elif role == Role.GHOST:
            pen.setStyle(Qt.PenStyle.DotLine)
            brush = QBrush(Qt.BrushStyle.NoBrush)
        elif role in (Role.UNREACHABLE, Role.UNKNOWN):
            pen = QPen(colour, 2.5, Qt.PenStyle.DashLine if role == Role.UNKNOWN
                       else Qt.PenStyle.SolidLine)
            brush = QBrush(Qt.BrushStyle.NoBrush)
        painter.setPen(pen)
        painter.setBrush(brush)
        if role == Role.ARBITER:
            painter.drawPolygon(QPolygonF([
                QPointF(centre.x(), centre.y() - size), QPointF(centre.x() + size, centre.y()),
                QPointF(centre.x(), centre.y() + size), QPointF(centre.x() - size, centre.y())]))
        elif role == Role.MONGOS:
            painter.drawPolygon(QPolygonF([
                QPointF(centre.x() + size * math.cos(a), centre.y() + size * math.sin(a))
                for a in (math.pi / 3 * k for k in range(6))]))
        elif role == Role.STANDALONE:
            painter.drawRoundedRect(QRectF(centre.x() - size, centre.y() - size, 2 * size,
                                           2 * size), 6, 6)
        elif role == Role.LOAD_BALANCER:
            path = QPainterPath()
            path.addPolygon(QPolygonF([
                QPointF(centre.x() - size * 1.6, centre.y() - size * 0.6),
                QPointF(centre.x() + size * 1.6, centre.y() - size * 0.6),
                QPointF(centre.x() + size * 1.1, centre.y() + size * 0.6),
                QPointF(centre.x() - size * 1.1, centre.y() + size * 0.6)]))
            path.closeSubpath()
            painter.drawPath(path)
        else:
            painter.drawEllipse(centre, size, size)
        if role == Role.UNREACHABLE:
            half = size * 0.5
            painter.drawLine(QPointF(centre.x() - half, centre.y() - half),
                             QPointF(centre.x() + half, centre.y() + half))
            painter.drawLine(QPointF(centre.x() - half, centre.y() + half),
                             QPointF(centre.x() + half, centre.y() - half))
        painter.setPen(text_colour)
        lines = [member.host, role if role == member.state.lower() else
                 f"{role} · {member.state}"]
        figures = []
        if member.rtt_ms is not None:
            figures.append(f"{member.rtt_ms:.1f} ms")
        if member.lag_s is not None and role != Role.PRIMARY:
            figures.append(f"lag {member.lag_s:.1f} s")
        if figures:
            lines.append(" · ".join(figures))
        box = QRectF(centre.x() - 90, centre.y() + size + 2, 180, 16 * len(lines))
        painter.drawText(box, Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignTop,
                         "\n".join(lines))


class MemberSparklines(QWidget):
    """For each member: its name, RTT now + sparkline, lag now + sparkline."""

    def __init__(self, health: ClusterHealth, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._health = health
        self._grid = QGridLayout(self)
        self._grid.setContentsMargins(4, 4, 4, 4)
        for column, text in enumerate(("Member", "RTT", "", "Lag", "")):
            self._grid.addWidget(QLabel(f"<b>{text}</b>"), 0, column)
        self._grid.setColumnStretch(2, 1)
        self._grid.setColumnStretch(4, 1)
        self._rows: dict[tuple[str, int], tuple[QLabel, QLabel, Sparkline, QLabel, Sparkline]] = {}
        health.changed.connect(self.refresh)
        self.refresh()

    def rtt_sparkline(self, address: tuple[str, int]) -> Sparkline:
        return self._rows[address][2]

    def refresh(self) -> None:
        members = self._health.state.ordered_members()
        if [m.address for m in members] != list(self._rows):
            for widgets in self._rows.values():
                for widget in widgets:
                    self._grid.removeWidget(widget)
                    widget.deleteLater()
            self._rows.clear()
            for row, member in enumerate(members, start=1):
                widgets = (QLabel(member.host), QLabel(), Sparkline(colour="#2e86de"),
                           QLabel(), Sparkline(colour="#e67e22"))
                for line in (widgets[2], widgets[4]):
                    line.setMinimumWidth(60)
                # Names and figures never shrink below their text (they would overlap
                # the next column); the sparklines take what is left.
                widgets[0].setMinimumWidth(widgets[0].sizeHint().width())
                widgets[0].setSizePolicy(QSizePolicy.Policy.Minimum,
                                         QSizePolicy.Policy.Preferred)
                for label in (widgets[1], widgets[3]):
                    label.setMinimumWidth(label.fontMetrics().horizontalAdvance("8888.8 ms"))
                for column, cell in enumerate(widgets):
                    self._grid.addWidget(cell, row, column)
                self._rows[member.address] = widgets
            for row in range(self._grid.rowCount()):
                self._grid.setRowStretch(row, 0)
            self._grid.setRowStretch(len(members) + 1, 1)
        now = time.time()
        for member in members:
            _, rtt_label, rtt_line, lag_label, lag_line = self._rows[member.address]
            rtt_label.setText("–" if member.rtt_ms is None else f"{member.rtt_ms:.1f} ms")
            lag_label.setText("–" if member.lag_s is None else f"{member.lag_s:.1f} s")
            rtt_line.set_points(member.rtt_history, now)
            lag_line.set_points(member.lag_history, now)


class HealthView(QWidget):
    """The whole health tab: diagram + sparklines, member table, timeline with export."""

    def __init__(self, health: ClusterHealth, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.health = health
        self.diagram = TopologyDiagram(health)
        self.sparklines = MemberSparklines(health)
        self.member_model = MemberTableModel(health, self)
        self.timeline_model = TimelineModel(health, self)
        self.table = QTableView()
        self.table.setModel(self.member_model)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        # Columns as wide as their contents (full host names), the last one stretched
        # to the edge: nothing is clipped at any width (a scroll bar appears instead).
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setStretchLastSection(True)
        self.table.verticalHeader().hide()
        self.timeline = QListView()
        self.timeline.setModel(self.timeline_model)
        self.timeline.setUniformItemSizes(True)
        self.timeline_model.rowsInserted.connect(lambda *_: self.timeline.scrollToBottom())
        self.source_label = QLabel()
        copy_button = QPushButton("Copy timeline")
        copy_button.clicked.connect(self.copy_timeline)
        export_button = QPushButton("Export timeline…")
        export_button.clicked.connect(self._ask_export)

        top = QSplitter(Qt.Orientation.Horizontal)
        top.addWidget(self.diagram)
        top.addWidget(self.sparklines)
        top.setStretchFactor(0, 3)
        top.setStretchFactor(1, 2)
        top.setChildrenCollapsible(False)  # squeezed below their minimum, they overlap
        timeline_box = QWidget()
        timeline_layout = QVBoxLayout(timeline_box)
        timeline_layout.setContentsMargins(0, 0, 0, 0)
        buttons = QHBoxLayout()
        buttons.addWidget(QLabel("<b>Timeline</b>"))
        buttons.addStretch(1)
        buttons.addWidget(self.source_label)
        buttons.addWidget(copy_button)
        buttons.addWidget(export_button)
        timeline_layout.addLayout(buttons)
        timeline_layout.addWidget(self.timeline)
        splitter = QSplitter(Qt.Orientation.Vertical)
        splitter.addWidget(top)
        splitter.addWidget(self.table)
        splitter.addWidget(timeline_box)
        splitter.setStretchFactor(0, 3)
        splitter.setStretchFactor(1, 1)
        splitter.setStretchFactor(2, 1)
        splitter.setChildrenCollapsible(False)
        # A small window scrolls the tab rather than squeezing its parts into each other.
        self.scroll_area = QScrollArea()
        self.scroll_area.setWidgetResizable(True)
        self.scroll_area.setFrameShape(QFrame.Shape.NoFrame)
        self.scroll_area.setWidget(splitter)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.scroll_area)
        health.changed.connect(self._update_source_label)

    # Polling (RTT samples, replSetGetStatus) runs while the view is shown; the driver's
    # events keep the state current meanwhile, so the timeline misses nothing.
    def showEvent(self, event: QShowEvent) -> None:  # noqa: N802 - Qt's name
        super().showEvent(event)
        if not self.health.started:
            self.health.start()

    def hideEvent(self, event: QHideEvent) -> None:  # noqa: N802 - Qt's name
        super().hideEvent(event)
        self.health.stop()

    def _update_source_label(self) -> None:
        state = self.health.state
        self.source_label.setText(
            "from replSetGetStatus" if state.status_source == "replSetGetStatus"
            else "from hello (replSetGetStatus not available)" if not self.health.status_allowed
            else "from hello")

    def timeline_text(self) -> str:
        return self.health.state.timeline_text()

    def copy_timeline(self) -> None:
        QGuiApplication.clipboard().setText(self.timeline_text())

    def export_timeline(self, path: str | Path) -> Path:
        target = Path(path)
        target.write_text(self.timeline_text(), encoding="utf-8")
        return target

    def _ask_export(self) -> None:
        name, _ = QFileDialog.getSaveFileName(self, "Export timeline", "cluster-timeline.txt",
                                              "Text (*.txt)")
        if name:
            self.export_timeline(name)


__all__ = ["HealthView", "MemberSparklines", "ROLE_COLOURS", "TopologyDiagram"]
