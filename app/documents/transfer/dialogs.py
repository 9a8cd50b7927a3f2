"""Export and import dialogs: the background jobs of ``transfer`` / ``importer`` with a
progress bar (documents, bytes, rate, time left), Cancel, and a final report.

Threads: the job runs on the connection's worker pool and reports progress by putting
plain ``Progress`` values into a ``queue.SimpleQueue``; a GUI-thread timer drains it. The
job never touches a Qt object, so no Qt object can be left to die on a worker thread.
Cancel sets a ``threading.Event`` the job checks between documents; an export then
leaves no file behind (``transfer`` writes to a temporary name), an import reports
exactly which lines were written.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from PySide6.QtCore import QTimer, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QTableWidget,
    QVBoxLayout,
    QWidget,
)

from app.documents.transfer.archive import (
    ArchiveImportReport,
    ArchiveResult,
    describe_archive_import,
    export_database_archive,
    import_archive,
)
from app.documents.transfer.csv_codec import COLUMN_TYPES
from app.documents.transfer.exporter import (
    ExportResult,
    Progress,
    TransferCancelled,
    documents_from_raw_batches,
    export_csv,
    export_database,
    export_json,
    raw_documents_from_batches,
)
from app.documents.transfer.importer import ImportReport, detect_csv_types, import_file
from app.documents.values.display import human_size
from app.services.worker import start_task

EXPORT_FORMATS = {
    "JSON lines, relaxed Extended JSON": ("json", "relaxed", "lines"),
    "JSON lines, canonical Extended JSON": ("json", "canonical", "lines"),
    "JSON array, relaxed Extended JSON": ("json", "relaxed", "array"),
    "JSON array, canonical Extended JSON": ("json", "canonical", "array"),
    "CSV (columns from every document)": ("csv", "", ""),
}
EXPORT_SCOPES = ("query", "collection", "database", "archive")


def describe_progress(progress: Progress, prefix: str = "",
                      total_bytes: int | None = None) -> str:
    """"1,200 documents, 3.1 MB, 4,000/s, 12 s left" (time left from the document total,
    or for imports from the file's size)."""
    eta = progress.eta_s
    if eta is None and total_bytes and progress.bytes and progress.elapsed_s > 0:
        eta = max(0.0, (total_bytes - progress.bytes) / (progress.bytes / progress.elapsed_s))
    left = f", {eta:.0f} s left" if eta is not None else ""
    return (f"{prefix}{progress.documents:,} documents, {human_size(progress.bytes)}, "
            f"{progress.rate:,.0f}/s{left}")


class _TransferDialog(QDialog):
    """Shared progress, cancel and run plumbing of both dialogs."""

    finished_job = Signal(object)  # the result (ExportResult list / ImportReport) or None

    def __init__(self, page: Any, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.page = page
        self.cancel_event = threading.Event()
        self._progress: queue.SimpleQueue[tuple[str, Progress]] = queue.SimpleQueue()
        self.total_bytes: int | None = None  # an import's file size
        self.running = False
        self.result_value: Any = None
        self.error: str | None = None
        self.last_progress = ""
        self.progress_bar = QProgressBar(self)
        self.progress_bar.setRange(0, 0)
        self.progress_bar.hide()
        self.progress_label = QLabel(self)
        self.progress_label.setObjectName("transfer-progress")
        self.report = QPlainTextEdit(self)
        self.report.setObjectName("transfer-report")
        self.report.setReadOnly(True)
        self.report.hide()
        self.start_button = QPushButton("Start", self)
        self.cancel_button = QPushButton("Cancel", self)
        self.close_button = QPushButton("Close", self)
        self.start_button.clicked.connect(self.start)
        self.cancel_button.clicked.connect(self.cancel)
        self.close_button.clicked.connect(self.reject)
        self.cancel_button.setEnabled(False)
        self._timer = QTimer(self)
        self._timer.setInterval(100)
        self._timer.timeout.connect(self._drain)

    def _button_row(self) -> QHBoxLayout:
        row = QHBoxLayout()
        row.addStretch(1)
        for button in (self.start_button, self.cancel_button, self.close_button):
            row.addWidget(button)
        return row

    def reporter(self, name: str = "") -> Callable[[Progress], None]:
        """A progress callback for the worker: plain data into a queue."""
        sink = self._progress
        return lambda progress: sink.put((name, progress))

    def _drain(self) -> None:
        last: tuple[str, Progress] | None = None
        while True:
            try:
                last = self._progress.get_nowait()
            except queue.Empty:
                break
        if last is None:
            return
        name, progress = last
        if progress.total_documents:
            self.progress_bar.setRange(0, progress.total_documents)
            self.progress_bar.setValue(min(progress.documents, progress.total_documents))
        elif self.total_bytes:
            self.progress_bar.setRange(0, 1000)
            self.progress_bar.setValue(min(1000, progress.bytes * 1000 // self.total_bytes))
        self.last_progress = describe_progress(progress, f"{name}: " if name else "",
                                               self.total_bytes)
        self.progress_label.setText(self.last_progress)

    def run_job(self, job: Callable[[], Any]) -> None:
        self.cancel_event.clear()
        self.running = True
        self.start_button.setEnabled(False)
        self.cancel_button.setEnabled(True)
        self.progress_bar.show()
        self.report.hide()
        self._timer.start()

        async def run() -> None:
            try:
                result = await self.page.service.export_job(job)
            except TransferCancelled:
                self._done(None, "Cancelled: nothing was written.")
            except Exception as exc:  # noqa: BLE001 - shown in the dialog
                self._done(None, f"Failed: {exc}")
            else:
                self._done(result, None)

        start_task(run, self.page.tasks)

    def cancel(self) -> None:
        self.cancel_event.set()
        self.progress_label.setText("Cancelling…")

    def _done(self, result: Any, error: str | None) -> None:
        self._drain()
        self._timer.stop()
        self.running = False
        self.result_value = result
        self.error = error
        self.start_button.setEnabled(True)
        self.cancel_button.setEnabled(False)
        self.progress_bar.hide()
        self.report.show()
        self.report.setPlainText(error if error is not None else self.describe(result))
        self.finished_job.emit(result)

    def describe(self, result: Any) -> str:
        raise NotImplementedError

    def start(self) -> None:
        raise NotImplementedError

    def reject(self) -> None:
        if self.running:
            self.cancel()
            return  # closes once the job has stopped
        super().reject()


class ExportDialog(_TransferDialog):
    """Export the query result, the collection or the whole database."""

    def __init__(self, page: Any, parent: QWidget | None = None) -> None:
        super().__init__(page, parent)
        self.setWindowTitle(f"Export from {page.db}.{page.collection}")
        self.setObjectName("export-dialog")
        self.scope = QComboBox(self)
        self.scope.addItem("The current query's result", "query")
        self.scope.addItem(f"The whole collection {page.collection}", "collection")
        self.scope.addItem(f"The whole database {page.db} (one file per collection)",
                           "database")
        self.scope.addItem(f"The whole database {page.db} as one .zip archive", "archive")
        self.file_format = QComboBox(self)
        for label in EXPORT_FORMATS:
            self.file_format.addItem(label)
        self.path = QLineEdit(self)
        self.path.setObjectName("export-path")
        browse = QPushButton("Browse…", self)
        browse.clicked.connect(self._browse)
        path_row = QHBoxLayout()
        path_row.addWidget(self.path, 1)
        path_row.addWidget(browse)
        form = QFormLayout()
        form.addRow("Export", self.scope)
        form.addRow("Format", self.file_format)
        form.addRow("To", path_row)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.progress_bar)
        layout.addWidget(self.progress_label)
        layout.addWidget(self.report, 1)
        layout.addLayout(self._button_row())

    def _browse(self) -> None:
        if self.scope.currentData() == "database":
            chosen = QFileDialog.getSaveFileName(self, "Export to a new folder")[0]
        elif self.scope.currentData() == "archive":
            chosen = QFileDialog.getSaveFileName(self, "Export to an archive", "",
                                                 "Zip archive (*.zip)")[0]
        else:
            chosen = QFileDialog.getSaveFileName(self, "Export to file")[0]
        if chosen:
            self.path.setText(chosen)

    def configure(self, scope: str, format_label: str, path: str | Path) -> None:
        self.scope.setCurrentIndex(EXPORT_SCOPES.index(scope))
        self.file_format.setCurrentText(format_label)
        self.path.setText(str(path))

    def start(self) -> None:
        target = self.path.text().strip()
        if not target:
            self.progress_label.setText("Choose where to write the export first.")
            return
        kind, mode, layout = EXPORT_FORMATS[self.file_format.currentText()]
        scope = self.scope.currentData()
        if scope == "archive" and not target.lower().endswith(".zip"):
            target += ".zip"
            self.path.setText(target)
        page = self.page
        service = page.service
        # The job gets plain values only: it must not keep a widget alive on a worker.
        db, collection = page.db, page.collection
        cancel = self.cancel_event
        find_kwargs = page.current_find_kwargs() if scope == "query" else {"filter": {}}
        total = page.exact_count if scope == "query" else page.estimated
        del page
        report = self.reporter()
        report_named = self._progress

        def export_one(handle: Any, kwargs: dict[str, Any], path: Path,
                       total: int | None) -> ExportResult:
            batches = handle.find_raw_batches(**kwargs)
            try:
                if kind == "csv":
                    return export_csv(documents_from_raw_batches(batches), path, cancel=cancel,
                                      progress=report, total=total)
                return export_json(raw_documents_from_batches(batches), path, mode=mode,
                                   layout=layout, cancel=cancel, progress=report, total=total)
            finally:
                batches.close()

        def job() -> list[ExportResult] | list[ArchiveResult]:
            if scope not in ("database", "archive"):
                handle = service.collection_handle(db, collection)
                return [export_one(handle, find_kwargs, Path(target), total)]
            handle = service.collection_handle(db, collection)
            names = sorted(name for name in handle.database.list_collection_names()
                           if not name.startswith("system."))
            reader = documents_from_raw_batches if kind == "csv" else raw_documents_from_batches

            def opener(name: str) -> Callable[[], Iterable[Any]]:
                return lambda: reader(
                    service.collection_handle(db, name).find_raw_batches({}))

            openers = {name: opener(name) for name in names}
            if scope == "archive":
                return [export_database_archive(
                    db, openers, target, file_format=kind, mode=mode or "relaxed",
                    layout=layout or "lines", cancel=cancel,
                    progress=lambda name, p: report_named.put((name, p)))]
            return export_database(
                openers, target, file_format=kind, mode=mode or "relaxed", cancel=cancel,
                progress=lambda name, p: report_named.put((name, p)))

        self.run_job(job)

    def describe(self, result: Any) -> str:
        lines = []
        for r in result:
            lines.append(f"Wrote {r.documents:,} documents ({human_size(r.bytes)}) to {r.path}")
            if isinstance(r, ArchiveResult):
                lines.extend(f"  {e.entry}: {e.documents:,} documents" for e in r.entries)
        return "\n".join(lines) or "Nothing to export."


class ImportDialog(_TransferDialog):
    """Import a JSON, JSON lines or CSV file into the page's collection."""

    def __init__(self, page: Any, parent: QWidget | None = None) -> None:
        super().__init__(page, parent)
        self.setWindowTitle(f"Import into {page.db}.{page.collection}")
        self.setObjectName("import-dialog")
        self.path = QLineEdit(self)
        self.path.setObjectName("import-path")
        self.path.editingFinished.connect(self.detect_columns)
        browse = QPushButton("Browse…", self)
        browse.clicked.connect(self._browse)
        path_row = QHBoxLayout()
        path_row.addWidget(self.path, 1)
        path_row.addWidget(browse)
        self.file_format = QComboBox(self)
        for label, value in (("Detect from the file", "auto"), ("JSON array", "json"),
                             ("JSON lines", "jsonl"), ("CSV", "csv"),
                             ("Whole-database archive (.zip), into this database", "archive")):
            self.file_format.addItem(label, value)
        self.ordered = QCheckBox("Ordered inserts (stop a batch at its first failure)", self)
        self.ordered.setChecked(True)
        self.on_error = QComboBox(self)
        self.on_error.addItem("Stop at the first error", "stop")
        self.on_error.addItem("Skip bad documents and go on", "skip")
        self.columns = QTableWidget(0, 2, self)
        self.columns.setObjectName("import-columns")
        self.columns.setHorizontalHeaderLabels(["CSV column", "Type"])
        self.columns.hide()
        form = QFormLayout()
        form.addRow("File", path_row)
        form.addRow("Format", self.file_format)
        form.addRow("", self.ordered)
        form.addRow("On error", self.on_error)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.columns)
        layout.addWidget(self.progress_bar)
        layout.addWidget(self.progress_label)
        layout.addWidget(self.report, 1)
        layout.addLayout(self._button_row())

    def _browse(self) -> None:
        chosen = QFileDialog.getOpenFileName(self, "Import a file", "",
                                             "Data (*.json *.jsonl *.ndjson *.csv *.zip);;All (*)")[0]
        if chosen:
            self.path.setText(chosen)
            self.detect_columns()

    def is_csv(self) -> bool:
        choice = self.file_format.currentData()
        return choice == "csv" or (choice == "auto"
                                   and self.path.text().strip().lower().endswith(".csv"))

    def is_archive(self) -> bool:
        choice = self.file_format.currentData()
        return choice == "archive" or (choice == "auto"
                                       and self.path.text().strip().lower().endswith(".zip"))

    def detect_columns(self) -> None:
        """Fill the per-column type table for a CSV file (detection runs on a worker)."""
        path = self.path.text().strip()
        if not path or not self.is_csv():
            self.columns.hide()
            return

        async def run() -> None:
            try:
                types = await self.page.service.export_job(lambda: detect_csv_types(path))
            except (OSError, ValueError) as exc:
                self.progress_label.setText(f"Cannot read the CSV file: {exc}")
                return
            self.set_column_types(types)

        start_task(run, self.page.tasks)

    def set_column_types(self, types: dict[str, str]) -> None:
        self.columns.setRowCount(len(types))
        for row, (name, kind) in enumerate(types.items()):
            label = QLabel(name)
            self.columns.setCellWidget(row, 0, label)
            combo = QComboBox()
            combo.addItems([k for k in COLUMN_TYPES if k != "auto"])
            combo.setCurrentText(kind)
            self.columns.setCellWidget(row, 1, combo)
        self.columns.show()

    def column_types(self) -> dict[str, str]:
        chosen: dict[str, str] = {}
        for row in range(self.columns.rowCount()):
            label = self.columns.cellWidget(row, 0)
            combo = self.columns.cellWidget(row, 1)
            if isinstance(label, QLabel) and isinstance(combo, QComboBox):
                chosen[label.text()] = combo.currentText()
        return chosen

    def start(self) -> None:
        if self.page.read_only:
            self.progress_label.setText("This connection is read-only.")
            return
        path = self.path.text().strip()
        if not path:
            self.progress_label.setText("Choose a file to import first.")
            return
        if self.is_archive():
            self._start_archive(path)
            return
        handle = self.page.service.collection_handle(self.page.db, self.page.collection)
        file_format = self.file_format.currentData()
        ordered = self.ordered.isChecked()
        on_error = self.on_error.currentData()
        types = self.column_types() if self.is_csv() else None
        cancel = self.cancel_event
        report = self.reporter()
        try:
            self.total_bytes = Path(path).stat().st_size
        except OSError as exc:
            self.progress_label.setText(f"Cannot read {path}: {exc}")
            return

        def job() -> ImportReport:
            return import_file(
                path, lambda docs, is_ordered: handle.insert_many(docs, ordered=is_ordered),
                file_format=file_format, ordered=ordered, on_error=on_error,
                column_types=types, cancel=cancel, progress=report)

        self.run_job(job)

    def _start_archive(self, path: str) -> None:
        """Each entry of a whole-database archive into its collection of the page's db."""
        service, db = self.page.service, self.page.db
        ordered = self.ordered.isChecked()
        on_error = self.on_error.currentData()
        cancel = self.cancel_event
        report_named = self._progress
        self.total_bytes = None  # the progress bar follows the manifest's document total

        def insert_for(collection: str) -> Callable[[list[dict[str, Any]], bool], Any]:
            handle = service.collection_handle(db, collection)
            return lambda docs, is_ordered: handle.insert_many(docs, ordered=is_ordered)

        def job() -> ArchiveImportReport:
            return import_archive(path, insert_for, ordered=ordered, on_error=on_error,
                                  cancel=cancel,
                                  progress=lambda name, p: report_named.put((name, p)))

        self.run_job(job)

    def describe(self, result: Any) -> str:
        if isinstance(result, ArchiveImportReport):
            return describe_archive_import(result, self.page.db)
        assert isinstance(result, ImportReport)
        ranges = ", ".join(f"{a}" if a == b else f"{a}-{b}" for a, b in result.written)
        lines = [f"Inserted {result.written_count:,} documents"
                 + (f" (lines {ranges})" if ranges else "") + "."]
        if result.cancelled:
            lines.append("Cancelled: the lines above were written, nothing else.")
        elif result.stopped:
            lines.append("Stopped at the first error.")
        for unknown in result.unknown:
            lines.append(f"Lines {unknown[0]}-{unknown[1]}: outcome unknown (connection lost).")
        if result.failures:
            lines.append(f"{len(result.failures)} line(s) failed:")
            lines.extend(f"  line {f.line}: {f.reason}" for f in result.failures)
        return "\n".join(lines)
