"""The connection doctor's widget: a URI field, the steps as they finish, advice, a
copyable (redacted) report and, when the doctor suggests it, a retry with
``directConnection=true``.

The doctor runs on the app's ``WorkerPool``; each finished step crosses to the GUI
thread through a queued signal (``_step_finished``), so the list fills in live while
the GUI thread never blocks.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QBrush, QColor, QGuiApplication
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.cluster.doctor import (
    FAILED,
    OK,
    SKIPPED,
    DoctorReport,
    StepResult,
    redact_uri,
    run_doctor,
)

_COLOURS = {OK: "#27ae60", FAILED: "#c0392b", SKIPPED: "#7f8c8d", "warning": "#e67e22"}
_MARKS = {OK: "✓", FAILED: "✗", SKIPPED: "–", "warning": "!"}


class DoctorView(QWidget):
    """Run the connection doctor for a URI and show each step's result and time."""

    _step_finished = Signal(object)  # emitted from the worker thread (queued to the GUI)
    finished = Signal(object)  # DoctorReport
    retry_requested = Signal(str)  # the URI with directConnection=true

    def __init__(self, pool: Any, uri: str = "", parent: QWidget | None = None, *,
                 connect_timeout_s: float = 5.0, selection_timeout_s: float = 10.0) -> None:
        super().__init__(parent)
        self._pool = pool
        self._timeouts = {"connect_timeout_s": connect_timeout_s,
                          "selection_timeout_s": selection_timeout_s}
        self._task: asyncio.Task[Any] | None = None
        self._cancel: threading.Event | None = None
        self.report: DoctorReport | None = None
        self._uri = uri
        self.uri_edit = QLineEdit(redact_uri(uri))
        self.uri_edit.setPlaceholderText("mongodb://host:27017/?replicaSet=rs0")
        self.uri_edit.setEchoMode(QLineEdit.EchoMode.Normal)
        self.run_button = QPushButton("Diagnose")
        self.run_button.clicked.connect(self.start)
        self.steps = QTreeWidget()
        self.steps.setColumnCount(3)
        self.steps.setHeaderLabels(["Step", "Time", "Result"])
        self.steps.setRootIsDecorated(True)
        self.steps.setColumnWidth(0, 260)
        self.steps.setColumnWidth(1, 70)
        self.summary = QLabel()
        self.summary.setWordWrap(True)
        self.summary.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.copy_button = QPushButton("Copy report")
        self.copy_button.setEnabled(False)
        self.copy_button.clicked.connect(self.copy_report)
        self.retry_button = QPushButton("Retry with directConnection=true")
        self.retry_button.hide()
        self.retry_button.clicked.connect(self._retry)
        top = QHBoxLayout()
        top.addWidget(QLabel("Connection string:"))
        top.addWidget(self.uri_edit, 1)
        top.addWidget(self.run_button)
        bottom = QHBoxLayout()
        bottom.addWidget(self.summary, 1)
        bottom.addWidget(self.retry_button)
        bottom.addWidget(self.copy_button)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.steps, 1)
        layout.addLayout(bottom)
        self._step_finished.connect(self._add_step, Qt.ConnectionType.QueuedConnection)

    def set_uri(self, uri: str) -> None:
        """Diagnose ``uri`` next; the field shows it with the password masked."""
        self._uri = uri
        self.uri_edit.setText(redact_uri(uri))

    def current_uri(self) -> str:
        """The field's URI, with the real password if the user left the masked one."""
        text = self.uri_edit.text().strip()
        return self._uri if self._uri and text == redact_uri(self._uri) else text

    # -- running --------------------------------------------------------------------------
    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    def start(self) -> asyncio.Task[Any] | None:
        """Diagnose the URI in the field (a run in progress is abandoned)."""
        uri = self.current_uri()
        if not uri:
            self.summary.setText("Enter a connection string first.")
            return None
        self.cancel()
        self.steps.clear()
        self.report = None
        self.copy_button.setEnabled(False)
        self.retry_button.hide()
        self.summary.setText("Diagnosing…")
        self.run_button.setEnabled(False)
        cancel = self._cancel = threading.Event()
        self._task = asyncio.ensure_future(self._run(uri, cancel))
        return self._task

    def cancel(self) -> None:
        if self._cancel is not None:
            self._cancel.set()
        if self._task is not None and not self._task.done():
            self._task.cancel()
        self._task = None

    async def _run(self, uri: str, cancel: threading.Event) -> DoctorReport | None:
        def progress(step: StepResult) -> None:
            if not cancel.is_set():
                self._step_finished.emit(step)  # worker thread → queued to the GUI

        try:
            report: DoctorReport = await self._pool.submit(
                _run, uri, progress, cancel, self._timeouts)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - the doctor itself broke: say so
            self.summary.setText(f"The doctor could not run: {exc}")
            self.run_button.setEnabled(True)
            return None
        # Steps arrive through queued signals; the report is complete, so use it.
        self.report = report
        self._show_report(report)
        self.finished.emit(report)
        return report

    def _add_step(self, step: StepResult) -> None:
        if self.report is not None:
            return  # a late signal of a finished run
        item = QTreeWidgetItem([f"{_MARKS.get(step.status, '?')} {step.name}",
                                f"{step.elapsed_s * 1000:.0f} ms", step.detail])
        item.setForeground(0, QBrush(QColor(_COLOURS.get(step.status, "#000000"))))
        item.setToolTip(2, step.detail)
        for key, value in step.facts.items():
            item.addChild(QTreeWidgetItem([f"    {key}", "", value]))
        if step.advice:
            advice = QTreeWidgetItem(["    advice", "", step.advice])
            advice.setToolTip(2, step.advice)
            item.addChild(advice)
        self.steps.addTopLevelItem(item)
        item.setExpanded(step.status == FAILED)

    def _show_report(self, report: DoctorReport) -> None:
        # Rebuild from the report so the list is complete whatever the signal timing.
        self.steps.clear()
        self.report = None
        for step in report.steps:
            self._add_step(step)
        self.report = report
        failed = report.failed_step
        if failed is None:
            self.summary.setText("All steps passed: the connection works.")
        else:
            self.summary.setText(f"<b>Failed at: {failed.name}</b><br>{failed.advice or failed.detail}")
        self.copy_button.setEnabled(True)
        self.retry_button.setVisible(report.retry_uri is not None)
        self.run_button.setEnabled(True)

    def failed_step_name(self) -> str | None:
        failed = self.report.failed_step if self.report else None
        return failed.name if failed else None

    def report_text(self) -> str:
        return self.report.as_text() if self.report else ""

    def copy_report(self) -> None:
        QGuiApplication.clipboard().setText(self.report_text())

    def _retry(self) -> None:
        if self.report is None or self.report.retry_uri is None:
            return
        retry = self.report.retry_uri
        self.retry_requested.emit(retry)
        self.set_uri(retry)
        self.start()


def _run(uri: str, progress: Any, cancel: threading.Event,
         timeouts: dict[str, float]) -> DoctorReport:
    return run_doctor(uri, progress, cancel=cancel, **timeouts)


__all__ = ["DoctorView"]
