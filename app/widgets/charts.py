"""Small live charts drawn with QPainter: ``Sparkline`` and ``LineChart``.

QtCharts lives in PySide6-Addons (hundreds of MB) and pyqtgraph is a dependency we
would have to justify, so these two widgets draw polylines themselves. Both keep
their data as plain ``(epoch seconds, value)`` pairs handed in by the caller and only
repaint on ``update()``; a repaint of a few hundred points per series costs well under
a millisecond, which keeps the GUI thread free (the issue allows "a few" ms per update).
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from PySide6.QtCore import QPointF, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QFont, QPainter, QPaintEvent, QPen, QPolygonF
from PySide6.QtWidgets import QSizePolicy, QWidget

Point = tuple[float, float]

# A palette that stays readable on light and dark backgrounds.
SERIES_COLOURS = (
    "#2e86de", "#e67e22", "#27ae60", "#c0392b", "#8e44ad", "#16a085", "#d35400", "#7f8c8d",
)


def _visible(points: Sequence[Point], start: float) -> list[Point]:
    """Points at or after ``start`` (data arrive oldest first, so scan from the end)."""
    index = len(points)
    while index > 0 and points[index - 1][0] >= start:
        index -= 1
    # Keep one point before the window so the line enters from the left edge.
    return list(points[max(0, index - 1):])


def _nice_ceiling(value: float) -> float:
    """A round number at or above ``value`` for the top of a y axis (1, 2, 5 × 10^n)."""
    if value <= 0 or math.isnan(value):
        return 1.0
    exponent = math.floor(math.log10(value))
    base = 10.0 ** exponent
    for step in (1.0, 2.0, 5.0, 10.0):
        if value <= step * base:
            return step * base
    return 10.0 * base


def format_number(value: float) -> str:
    """``1234567`` → ``"1.2M"``: short labels for axes and legends."""
    magnitude = abs(value)
    for limit, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if magnitude >= limit:
            return f"{value / limit:.1f}{suffix}"
    if magnitude >= 100 or value == int(value):
        return f"{value:.0f}"
    return f"{value:.1f}" if magnitude >= 10 else f"{value:.2f}"


class Sparkline(QWidget):
    """A tiny line over the last ``window_s`` seconds, with no axes.

    ``set_points`` replaces the data; ``None`` values (an unreachable member) break the
    line so a gap shows where there was no sample.
    """

    def __init__(self, parent: QWidget | None = None, *, window_s: float = 300.0,
                 colour: str = SERIES_COLOURS[0]) -> None:
        super().__init__(parent)
        self._points: list[tuple[float, float | None]] = []
        self._window_s = window_s
        self._colour = QColor(colour)
        self._now: float | None = None
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.setMinimumHeight(18)

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt's name
        return QSize(120, 22)

    @property
    def point_count(self) -> int:
        return len(self._points)

    def set_points(self, points: Iterable[tuple[float, float | None]],
                   now: float | None = None) -> None:
        self._points = list(points)
        self._now = now
        self.update()

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802 - Qt's name
        del event
        now = self._now if self._now is not None else time.time()
        start = now - self._window_s
        values = [(t, v) for t, v in self._points if t >= start]
        if values:
            # Less history than the window: stretch what there is over the whole width, so
            # a freshly opened view shows a line rather than a dot at the right edge.
            start = max(start, values[0][0])
        span = max(now - start, 1e-3)
        numbers = [v for _, v in values if v is not None]
        if not numbers:
            return
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        rect = QRectF(self.rect()).adjusted(1, 2, -1, -2)
        top = _nice_ceiling(max(numbers))
        pen = QPen(self._colour, 1.4)
        painter.setPen(pen)
        segment = QPolygonF()
        for t, value in values:
            if value is None:
                if segment.size() > 1:
                    painter.drawPolyline(segment)
                segment = QPolygonF()
                continue
            x = rect.left() + (t - start) / span * rect.width()
            y = rect.bottom() - min(value / top, 1.0) * rect.height()
            segment.append(QPointF(x, y))
        if segment.size() > 1:
            painter.drawPolyline(segment)
        elif segment.size() == 1:
            painter.drawEllipse(segment.at(0), 1.5, 1.5)
        painter.end()


@dataclass
class Series:
    """One named line of a ``LineChart``."""

    name: str
    colour: str
    points: list[Point] = field(default_factory=list)
    unit: str = ""


class LineChart(QWidget):
    """A time chart with a y axis, a legend and several series.

    ``append(name, t, value)`` adds a sample; samples older than ``max_history_s`` are
    dropped so memory stays bounded; ``window_s`` chooses how much history is drawn.
    """

    def __init__(self, title: str, parent: QWidget | None = None, *, window_s: float = 60.0,
                 max_history_s: float = 600.0, unit: str = "") -> None:
        super().__init__(parent)
        self.title = title
        self._unit = unit
        self._series: dict[str, Series] = {}
        self._window_s = window_s
        self._max_history_s = max_history_s
        self._now: float | None = None
        self.setMinimumSize(240, 130)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)

    # -- data -----------------------------------------------------------------------------
    @property
    def window_s(self) -> float:
        return self._window_s

    def set_window(self, seconds: float) -> None:
        if seconds <= 0:
            raise ValueError(f"the chart window must be positive, not {seconds}")
        self._window_s = min(seconds, self._max_history_s)
        self.update()

    def series(self, name: str) -> Series:
        if name not in self._series:
            colour = SERIES_COLOURS[len(self._series) % len(SERIES_COLOURS)]
            self._series[name] = Series(name, colour)
        return self._series[name]

    def series_names(self) -> list[str]:
        return list(self._series)

    def append(self, name: str, t: float, value: float) -> None:
        points = self.series(name).points
        points.append((t, value))
        cutoff = t - self._max_history_s
        if points[0][0] < cutoff:
            # Trim in one slice: cheaper than popping one point per append.
            keep = next((i for i, (pt, _) in enumerate(points) if pt >= cutoff), len(points))
            del points[:keep]

    def latest(self, name: str) -> float | None:
        series = self._series.get(name)
        return series.points[-1][1] if series and series.points else None

    def set_now(self, now: float | None) -> None:
        """Pin the right edge (tests); ``None`` follows the clock."""
        self._now = now

    # -- painting -------------------------------------------------------------------------
    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802 - Qt's name
        del event
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        palette = self.palette()
        text_colour = palette.color(palette.ColorRole.WindowText)
        font = QFont(self.font())
        font.setPointSizeF(max(7.0, font.pointSizeF() * 0.85))
        painter.setFont(font)
        metrics = painter.fontMetrics()
        line_height = metrics.height()
        now = self._now if self._now is not None else time.time()
        start = now - self._window_s
        visible = {name: _visible(s.points, start) for name, s in self._series.items()}
        numbers = [v for pts in visible.values() for _, v in pts]
        top = _nice_ceiling(max(numbers) if numbers else 1.0)

        painter.setPen(text_colour)
        title = self.title + (f" ({self._unit})" if self._unit else "")
        painter.drawText(QPointF(4, line_height), title)
        axis_width = max(metrics.horizontalAdvance(format_number(top * f))
                         for f in (0.0, 0.5, 1.0)) + 8
        plot = QRectF(axis_width, line_height * 1.6, self.width() - axis_width - 6,
                      self.height() - line_height * 3.2)
        if plot.width() < 10 or plot.height() < 10:
            painter.end()
            return
        grid = QColor(text_colour)
        grid.setAlpha(50)
        for fraction in (0.0, 0.5, 1.0):
            y = plot.bottom() - fraction * plot.height()
            painter.setPen(QPen(grid, 1))
            painter.drawLine(QPointF(plot.left(), y), QPointF(plot.right(), y))
            painter.setPen(text_colour)
            painter.drawText(QRectF(0, y - line_height / 2, axis_width - 4, line_height),
                             Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter,
                             format_number(top * fraction))
        if not self._series:
            painter.setPen(text_colour)
            painter.drawText(plot, Qt.AlignmentFlag.AlignCenter, "not reported by this server")
        painter.save()
        painter.setClipRect(plot)
        for name, points in visible.items():
            if len(points) < 2:
                continue
            polygon = QPolygonF([
                QPointF(plot.left() + (t - start) / self._window_s * plot.width(),
                        plot.bottom() - min(v / top, 1.0) * plot.height())
                for t, v in points])
            painter.setPen(QPen(QColor(self._series[name].colour), 1.6))
            painter.drawPolyline(polygon)
        painter.restore()
        # Legend: one colour swatch and the latest value per series.
        x = plot.left()
        y = self.height() - line_height * 0.4
        for name, series in self._series.items():
            latest = series.points[-1][1] if series.points else None
            label = f"{name} {format_number(latest) if latest is not None else '–'}"
            painter.fillRect(QRectF(x, y - line_height * 0.6, 8, 8), QColor(series.colour))
            painter.setPen(text_colour)
            painter.drawText(QPointF(x + 11, y), label)
            x += 11 + metrics.horizontalAdvance(label) + 12
        painter.end()


__all__ = ["LineChart", "Series", "Sparkline", "format_number"]
