"""``CollectionPage``: browse and edit one collection.

Layout: the query bar (with autocomplete of field names and operators), a tool row
(List / JSON / Table switcher, UTC dates, Insert, Edit, Clone, Delete, Update many,
Delete many, Export, Import) and the count label "1–25 of ~1,000,000", then the stacked
views. The list and table have their own models, fed by one ``QueryRun`` per query
(one cursor; the hidden views are fed only when shown); the JSON view shows the
documents the list has loaded.

Queries: Find resets the models under a new generation (late batches of the old query
are dropped) and tags the find with a comment; Cancel closes the cursor and, while the
server is still computing the first batch, kills the operation (``killOp``) found by that
comment. Counts: ``estimated_document_count`` at once, then the exact ``count_documents``
of the filter with a time limit (``COUNT_TIME_LIMIT_MS``); a count that times out leaves
the estimate shown with "~".

Writes (never in read-only mode): in-place edits (list and table) and the editor dialog go
through ``edit.plan_edit``/``apply_edit`` on a worker, matched on ``_id`` and the original
values; a conflict opens ``ConflictDialog``. A typed value whose BSON type differs from
the field's asks first ("Change the type of placed from Date to String?"). Dialogs are
opened with ``open()`` and kept in ``self.dialog`` so tests (and the page) can find them.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable, Coroutine, Mapping
from typing import Any

from PySide6.QtCore import QModelIndex, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QStackedWidget,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from app.documents.editing.page_writes import COUNT_TIME_LIMIT_MS, DocumentWrites, plain
from app.documents.query.bar import QueryBar, QuerySpec
from app.documents.query.completion import QueryCompleter, field_paths
from app.documents.query.history import QueryStore
from app.documents.query.run import QueryRun
from app.documents.transfer.dialogs import ExportDialog, ImportDialog
from app.documents.values.display import split_batch
from app.documents.views.document_views import (
    DocumentListView,
    DocumentTableView,
    EditableTableModel,
    EditableTreeModel,
    ValueDelegate,
    ViewSettings,
)
from app.documents.views.json_view import JsonView, pretty_json
from app.documents.views.tree_model import RawDocumentRole
from app.services.worker import start_task
from driver.bson import RawBSONDocument

BATCH_SIZE = 500
VIEWS = ("list", "json", "table")
JSON_PAGE = 100  # documents laid out as JSON text per "Load more" (text layout is costly)
_ROOT = QModelIndex()


def count_text(loaded: int, estimated: int | None, exact: int | None) -> str:
    """"1–25 of ~1,000,000": the exact total when known, else the estimate with "~"."""
    if exact is not None:
        total = f"{exact:,}"
    elif estimated is not None:
        total = f"~{estimated:,}"
    else:
        total = "…"
    if loaded == 0:
        return "No documents" if exact == 0 else f"0 of {total}"
    return f"1–{loaded:,} of {total}"


def results_count(matching: int, skip: int | None, limit: int | None) -> int:
    """How many documents a find returns when ``matching`` documents match its filter."""
    total = max(matching - (skip or 0), 0)
    return min(total, limit) if limit else total


class CollectionPage(DocumentWrites, QWidget):
    countChanged = Signal(str)
    queryAnswered = Signal()  # the current query's first answer arrived
    writeFinished = Signal(str)  # a write's outcome, in words

    def __init__(self, service: Any, db: str, collection: str, *, read_only: bool = False,
                 store: QueryStore | None = None, settings: ViewSettings | None = None,
                 connection_key: str = "", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("collection-page")
        self.service = service
        self.db = db
        self.collection = collection
        self.tasks: set[asyncio.Future[Any]] = set()
        self.generation = 0
        self.run: QueryRun | None = None
        self.spec = QuerySpec(filter={})
        self.estimated: int | None = None
        self.exact_count: int | None = None
        self.count_from_cursor = False  # exact_count came from the exhausted cursor
        self.count_timed_out = False
        self.dialog: QWidget | None = None
        self.explain_plan: dict[str, Any] | None = None
        self.read_only = False
        self.writes = 0  # writes finished (with or without success), for tests and logs
        self.killed_operations: int | None = None  # after a cancel that needed killOp
        self._comment = ""
        self.json_limit = JSON_PAGE
        key = QueryStore.key(connection_key, db, collection)

        self.query_bar = QueryBar(self, store=store, history_key=key if store else None)
        self.query_bar.findRequested.connect(self.query)
        self.query_bar.cancelRequested.connect(self.cancel_query)
        self.query_bar.resetRequested.connect(lambda: self.query(QuerySpec(filter={})))
        self.query_bar.explainRequested.connect(self.explain)
        self.query_bar.staleResults.connect(self.clear_stale_results)
        self.completer = QueryCompleter(self)
        for name in ("filter", "project", "sort"):
            self.completer.attach(self.query_bar.edits[name])

        self.list_model = EditableTreeModel(self)
        self.table_model = EditableTableModel(self)
        self.list_view = DocumentListView(self)
        self.list_view.setModel(self.list_model)
        self.list_delegate = ValueDelegate(
            lambda index, value: self.edit_value(self.list_model, index, value), self)
        self.list_view.setItemDelegate(self.list_delegate)
        self.list_view.fullValueRequested.connect(self._show_text)
        self.json_view = JsonView(self)
        self.more_button = QPushButton("Load more documents", self)
        self.more_button.clicked.connect(self.more_json)
        copy_one = QPushButton("Copy document", self)
        copy_one.clicked.connect(lambda: self.json_view.copy_document())
        copy_all = QPushButton("Copy all", self)
        copy_all.clicked.connect(self.json_view.copy_all)
        json_buttons = QHBoxLayout()
        json_buttons.addWidget(self.more_button)
        json_buttons.addStretch(1)
        json_buttons.addWidget(copy_one)
        json_buttons.addWidget(copy_all)
        json_page = QWidget(self)
        json_layout = QVBoxLayout(json_page)
        json_layout.setContentsMargins(0, 0, 0, 0)
        json_layout.addWidget(self.json_view, 1)
        json_layout.addLayout(json_buttons)
        self.table_view = DocumentTableView(self.table_model, settings,
                                            f"{key}", self)
        self.table_delegate = ValueDelegate(
            lambda index, value: self.edit_value(self.table_model, index, value), self)
        self.table_view.table.setItemDelegate(self.table_delegate)
        for delegate in (self.list_delegate, self.table_delegate):
            delegate.rejected.connect(self.show_message)
        self.stack = QStackedWidget(self)
        for widget in (self.list_view, json_page, self.table_view):
            self.stack.addWidget(widget)

        self.view_buttons = QButtonGroup(self)
        tools = QHBoxLayout()
        for number, name in enumerate(("List", "JSON", "Table")):
            button = QToolButton(self)
            button.setText(name)
            button.setCheckable(True)
            button.setObjectName(f"view-{name.lower()}")
            self.view_buttons.addButton(button, number)
            tools.addWidget(button)
        self.view_buttons.button(0).setChecked(True)
        self.view_buttons.idClicked.connect(lambda number: self.show_view(VIEWS[number]))
        self.utc_box = QCheckBox("UTC", self)
        self.utc_box.setChecked(True)
        self.utc_box.setToolTip("Show dates in UTC (unchecked: this computer's time zone)")
        self.utc_box.toggled.connect(self.set_utc)
        tools.addWidget(self.utc_box)
        tools.addSpacing(12)
        self.actions_by_name: dict[str, QAction] = {}
        self.write_actions: list[QAction] = []
        for name, text, slot, writes in (
            ("insert", "Insert…", self.insert_document, True),
            ("edit", "Edit…", self.edit_selected, True),
            ("clone", "Clone…", self.clone_selected, True),
            ("delete", "Delete…", self.delete_selected, True),
            ("update_many", "Update many…", lambda: self.bulk("update"), True),
            ("delete_many", "Delete many…", lambda: self.bulk("delete"), True),
            ("export", "Export…", self.export, False),
            ("import", "Import…", self.import_file, True),
        ):
            action = QAction(text, self)
            action.triggered.connect(slot)
            self.actions_by_name[name] = action
            if writes:
                self.write_actions.append(action)
            button = QToolButton(self)
            button.setDefaultAction(action)
            tools.addWidget(button)
            if name in ("edit", "clone", "delete"):
                self.list_view.extra_actions.append(action)
        self.actions_by_name["delete"].setShortcut(QKeySequence.StandardKey.Delete)
        self.actions_by_name["delete"].setShortcutContext(
            Qt.ShortcutContext.WidgetWithChildrenShortcut)
        self.addAction(self.actions_by_name["delete"])
        tools.addStretch(1)
        self.count_label = QLabel("", self)
        self.count_label.setObjectName("count-label")
        tools.addWidget(self.count_label)
        self.message = QLabel(self)
        self.message.setObjectName("page-message")
        self.message.setWordWrap(True)

        layout = QVBoxLayout(self)
        layout.addWidget(self.query_bar)
        layout.addLayout(tools)
        layout.addWidget(self.stack, 1)
        layout.addWidget(self.message)

        self._json_timer = QTimer(self)
        self._json_timer.setSingleShot(True)
        self._json_timer.setInterval(60)
        self._json_timer.timeout.connect(self._refresh_json)
        self.list_model.rowsInserted.connect(self._rows_arrived)
        self.table_model.rowsInserted.connect(lambda *_: self._update_count())
        for model in (self.list_model, self.table_model):
            model.fetchFailed.connect(self.show_message)
        self.set_read_only(read_only)

    # -- helpers -------------------------------------------------------------------
    def spawn(self, make: Callable[[], Coroutine[Any, Any, Any]]) -> asyncio.Future[Any] | None:
        return start_task(make, self.tasks)

    def show_message(self, text: str) -> None:
        self.message.setText(text)

    @property
    def current_view(self) -> str:
        return VIEWS[self.stack.currentIndex()]

    def current_find_kwargs(self) -> dict[str, Any]:
        return self.spec.find_kwargs()

    def set_read_only(self, read_only: bool) -> None:
        """Read-only: every write path is disabled (actions, in-place edits, import)."""
        self.read_only = read_only
        for action in self.write_actions:
            action.setEnabled(not read_only)
        self.list_model.editable = not read_only
        self.table_model.editable = not read_only
        self.setProperty("readOnly", read_only)

    def set_utc(self, utc: bool) -> None:
        self.list_model.set_utc(utc)
        self.table_model.set_utc(utc)
        if self.current_view == "json":
            self._refresh_json()

    def close_page(self) -> None:
        """Stop the query and the pending work (the page is being closed)."""
        if self.run is not None:
            self.run.cancel()
        if getattr(self.dialog, "running", False):
            self.dialog.cancel()  # type: ignore[union-attr]  # an import or export
        for task in list(self.tasks):
            task.cancel()
        self.list_model.close()

    # -- queries ---------------------------------------------------------------------
    def query(self, spec: QuerySpec | None = None) -> None:
        """Run ``spec`` (the query bar's, by default): reset the views, count again."""
        if spec is None:
            spec = self.query_bar.spec or QuerySpec(filter={})
        self.spec = spec
        old = self.run
        if old is not None:
            old.cancel("Replaced by a newer query")
            old.deleteLater()
        self.generation += 1
        generation = self.generation
        self._comment = f"binnacle-{uuid.uuid4().hex[:12]}"
        opener = self.service.raw_cursor_opener(
            self.db, self.collection, spec.find_kwargs(), batch_size=BATCH_SIZE,
            comment=self._comment)
        run = self.run = QueryRun(generation, opener, self.service.run_detached, self)
        run.firstAnswer.connect(lambda: self._first_answer(run))
        run.answered.connect(self._update_count)
        self.exact_count = None
        self.count_from_cursor = False
        self.count_timed_out = False
        self.message.clear()
        self.list_model.reset(generation, run.feed_for(self.list_model))
        self.table_model.reset(generation, run.feed_for(self.table_model))
        self.json_view.set_documents([])
        self.json_limit = JSON_PAGE
        self.query_bar.set_running(True)
        self._fetch_current()
        self._update_count()
        self.spawn(lambda: self._count(generation, spec))

    def clear_stale_results(self) -> None:
        """The bar's query changed to one that does not parse, or a new one is asked
        for: the last query's server error and its "0 of ~N" no longer apply."""
        self.message.clear()
        self.count_label.clear()
        self.count_label.setToolTip("")
        self.countChanged.emit("")

    def _fetch_current(self) -> None:
        model = self.table_model if self.current_view == "table" else self.list_model
        if model.rowCount() == 0 and model.canFetchMore(_ROOT):
            model.fetchMore(_ROOT)

    def _first_answer(self, run: QueryRun) -> None:
        if run is not self.run:
            return
        self.query_bar.set_running(False)
        if run.error is not None:
            self.show_message(run.error)
        if run.batches:
            documents = [RawBSONDocument(raw) for raw in split_batch(run.batches[0])]
            self.completer.set_fields(field_paths(documents))
        self.queryAnswered.emit()

    async def _count(self, generation: int, spec: QuerySpec) -> None:
        try:
            estimated = await self.service.estimated_count(self.db, self.collection)
        except Exception as exc:  # noqa: BLE001 - the count is a hint; say why it is missing
            self.show_message(f"Could not estimate the count: {exc}")
            estimated = None
        if generation != self.generation:
            return
        self.estimated = estimated
        self._update_count()
        if self.count_from_cursor:
            return  # the exhausted cursor already gave the exact total
        if not spec.filter and estimated is not None:
            self.exact_count = results_count(estimated, spec.skip, spec.limit)
            self._update_count()
            return
        try:
            exact = await self.service.count_documents(
                self.db, self.collection, spec.filter, max_time_ms=COUNT_TIME_LIMIT_MS)
        except Exception as exc:  # noqa: BLE001 - a slow count keeps the estimate
            if generation == self.generation:
                self.count_timed_out = True
                self.count_label.setToolTip(f"The exact count did not finish: {exc}")
            return
        if generation == self.generation and not self.count_from_cursor:
            self.exact_count = results_count(exact, spec.skip, spec.limit)
            self.count_label.setToolTip("")
            self._update_count()

    def loaded_count(self) -> int:
        model = self.table_model if self.current_view == "table" else self.list_model
        return int(model.rowCount())

    def _update_count(self) -> None:
        run = self.run
        if run is not None and run.done and run.error is None:
            # An exhausted cursor knows its total: every result is loaded or buffered
            # (skip and limit already applied by the server), so no estimate or slow
            # count_documents may stand in for it ("1–446 of ~1,000,000" was wrong).
            # Kept in step with the run, which drops documents deleted from the page.
            if not self.count_from_cursor:
                self.count_from_cursor = True
                self.count_timed_out = False
                self.count_label.setToolTip("")
            self.exact_count = run.documents
        text = count_text(self.loaded_count(), self.estimated, self.exact_count)
        if text != self.count_label.text():
            self.count_label.setText(text)
            self.countChanged.emit(text)

    def cancel_query(self) -> None:
        """Close the cursor; kill the find on the server if it has not answered yet."""
        run = self.run
        self.query_bar.set_running(False)
        if run is None or run.done or run.error is not None:
            return
        started = run.started
        run.cancel("Cancelled")
        self.show_message("Query cancelled")
        if not started:
            comment = self._comment
            self.spawn(lambda: self._kill(comment))

    async def _kill(self, comment: str) -> None:
        try:
            self.killed_operations = await self.service.kill_operations(comment)
        except Exception as exc:  # noqa: BLE001 - the cursor is closed anyway
            self.show_message(f"Cancelled; the server did not stop the query: {exc}")

    def explain(self, spec: QuerySpec | None = None) -> None:
        spec = spec or self.query_bar.spec or self.spec
        self.spawn(lambda: self._explain(spec))

    async def _explain(self, spec: QuerySpec) -> None:
        try:
            plan = await self.service.explain_find(self.db, self.collection, spec.find_kwargs())
        except Exception as exc:  # noqa: BLE001 - shown to the user
            self.show_message(f"Explain failed: {exc}")
            return
        self.explain_plan = plan
        self._show_text("Explain plan", f"// {plan_summary(plan)}\n" + pretty_json(plan))

    def _show_text(self, title: str, text: str) -> None:
        dialog = QDialog(self)
        dialog.setWindowTitle(title)
        dialog.setObjectName("text-dialog")
        dialog.resize(700, 520)
        view = QPlainTextEdit(text, dialog)
        view.setReadOnly(True)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, dialog)
        buttons.rejected.connect(dialog.reject)
        layout = QVBoxLayout(dialog)
        layout.addWidget(view)
        layout.addWidget(buttons)
        self._open(dialog)

    def _open(self, dialog: QWidget) -> None:
        old = self.dialog
        if old is not None and old is not dialog:
            old.deleteLater()
        self.dialog = dialog
        if isinstance(dialog, QDialog):
            dialog.open()
        else:
            dialog.show()

    # -- views -----------------------------------------------------------------------
    def show_view(self, name: str) -> None:
        number = VIEWS.index(name)
        self.stack.setCurrentIndex(number)
        self.view_buttons.button(number).setChecked(True)
        self._fetch_current()
        if name == "json":
            self._refresh_json()
        self._update_count()

    def _rows_arrived(self, *_: Any) -> None:
        self._update_count()
        if self.current_view == "json":
            self._json_timer.start()

    def _refresh_json(self) -> None:
        model = self.list_model
        shown = min(model.rowCount(), self.json_limit)
        if shown != self.json_view.document_count or not shown:
            self.json_view.set_documents([model.raw_document(row) for row in range(shown)])
        # Hidden (not just disabled) once every result is laid out: "3 of 3" offers no more.
        more = model.rowCount() > shown or model.can_fetch_documents()
        self.more_button.setEnabled(more)
        self.more_button.setHidden(not more)

    def more_json(self) -> None:
        """Lay out the next ``JSON_PAGE`` documents, fetching a batch if needed."""
        self.json_limit += JSON_PAGE
        if self.list_model.rowCount() < self.json_limit:
            self.list_model.fetchMore(_ROOT)
        self._refresh_json()

    # -- selection -------------------------------------------------------------------
    def selected_row(self) -> int | None:
        if self.current_view == "table":
            index = self.table_view.table.currentIndex()
            return index.row() if index.isValid() else None
        if self.current_view == "json":
            at_cursor: int | None = self.json_view.document_at_cursor()
            return at_cursor
        index = self.list_view.currentIndex()
        if not index.isValid():
            return None
        row, _ = self.list_model.location(index)
        return int(row)

    def document_at(self, row: int) -> dict[str, Any]:
        model = self.table_model if self.current_view == "table" else self.list_model
        raw = model.index(row, 0).data(RawDocumentRole)
        return plain(raw)  # type: ignore[no-any-return]

    # -- import / export -------------------------------------------------------------
    def export(self) -> ExportDialog:
        dialog = ExportDialog(self, self)
        self._open(dialog)
        return dialog

    def import_file(self) -> ImportDialog | None:
        if self._refuse_if_read_only():
            return None
        dialog = ImportDialog(self, self)
        dialog.finished_job.connect(lambda result: self.query(self.spec) if result else None)
        self._open(dialog)
        return dialog


def plan_summary(plan: Mapping[str, Any]) -> str:
    """"FETCH ← IXSCAN customerId_1": the winning plan's stages, outermost first."""
    planner = plan.get("queryPlanner", {})
    stage: Any = planner.get("winningPlan", {}) if isinstance(planner, Mapping) else {}
    parts = []
    while isinstance(stage, Mapping) and stage:
        name = str(stage.get("stage", "?"))
        if stage.get("indexName"):
            name += f" {stage['indexName']}"
        parts.append(name)
        stage = stage.get("inputStage")
    return " ← ".join(parts) or "no plan reported"
