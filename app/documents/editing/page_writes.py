"""The collection page's writes, as a mixin of ``CollectionPage``: in-place edits, the
editor (insert, edit, clone), delete, and bulk update / delete by the current filter.

Every write refuses in read-only mode, runs on the worker pool, and tells the user in
words (``writeFinished``). An edit is planned by ``edit.plan_edit`` (matched on ``_id``
and the original values of the changed fields) and applied by ``edit.apply_edit``; on a
conflict ``ConflictDialog`` shows both versions. After an edit or a delete the page shows
the server's version of that one document in place (``replace_document`` /
``remove_document`` on both models), so the user keeps their scroll position; after an
insert or a bulk write the query runs again.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, cast

from PySide6.QtCore import QModelIndex
from PySide6.QtWidgets import QMessageBox, QWidget

from app.documents.editing.edit import EditError, EditOutcome, apply_edit, plan_edit
from app.documents.editing.editor import BulkDialog, ConflictDialog, DocumentEditor
from app.documents.query.bar import QuerySpec
from app.documents.values.display import type_name
from app.documents.values.raw_elements import id_element
from app.documents.views.tree_model import RawDocumentRole
from driver.bson import encode

COUNT_TIME_LIMIT_MS = 5000
CONFLICT_MESSAGE = ("The document changed on the server since you opened it; "
                    "choose a version")


def plain(value: Any) -> Any:
    """Raw documents and arrays as dicts and lists (for editing)."""
    if isinstance(value, Mapping):
        return {key: plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [plain(item) for item in value]
    return value


def with_value(document: Mapping[str, Any], path: list[str], value: Any) -> dict[str, Any]:
    """A copy of ``document`` with the field at ``path`` (keys, array positions) set."""
    result: dict[str, Any] = plain(document)
    node: Any = result
    for part in path[:-1]:
        node = node[int(part)] if isinstance(node, list) else node[part]
    if isinstance(node, list):
        node[int(path[-1])] = value
    else:
        node[path[-1]] = value
    return result


def value_at(document: Mapping[str, Any], path: list[str]) -> Any:
    node: Any = document
    for part in path:
        node = node[int(part)] if isinstance(node, list) else node[part]
    return node


def find_row(model: Any, key: bytes | None) -> int | None:
    """The row of the document whose ``_id`` element is ``key`` (first fields first)."""
    if key is None:
        return None
    for row in range(model.rowCount()):
        document = model.index(row, 0).data(RawDocumentRole)
        raw = document.raw
        # ``_id`` is almost always the first field: compare there before scanning.
        if raw[4 : 4 + len(key)] == key or id_element(raw) == key:
            return row
    return None


class DocumentWrites:
    """Write operations of ``CollectionPage`` (see the module docstring)."""

    # Provided by CollectionPage.
    service: Any
    db: str
    collection: str
    read_only: bool
    spec: QuerySpec
    run: Any
    list_model: Any
    table_model: Any
    json_view: Any
    writeFinished: Any
    writes: int

    if TYPE_CHECKING:  # the page's own methods, for the type checker only
        def show_message(self, text: str) -> None: ...
        def spawn(self, make: Any) -> Any: ...
        def _open(self, dialog: Any) -> None: ...
        def query(self, spec: QuerySpec | None = None) -> None: ...
        def selected_row(self) -> int | None: ...
        def document_at(self, row: int) -> dict[str, Any]: ...
        def _refresh_json(self) -> None: ...
        @property
        def current_view(self) -> str: ...

    def _widget(self) -> QWidget:
        """The page as the parent of its dialogs."""
        return cast(QWidget, self)

    def _refuse_if_read_only(self) -> bool:
        if self.read_only:
            self.show_message("This connection is read-only: nothing can be changed.")
        return self.read_only

    def edit_value(self, model: Any, index: QModelIndex, value: Any) -> None:
        """An in-place edit of one field (list or table)."""
        if self._refuse_if_read_only():
            return
        row, path = model.location(index)
        if row < 0 or not path:
            return
        original = plain(model.index(row, 0).data(RawDocumentRole))
        try:
            before = value_at(original, path)
        except (KeyError, IndexError, ValueError):
            before = None
        edited = with_value(original, path, value)
        old_type, new_type = type_name(before), type_name(value)
        if old_type != new_type:
            box = QMessageBox(QMessageBox.Icon.Question, "Change the type?",
                              f"Change the type of {'.'.join(path)} from {old_type} to "
                              f"{new_type}?", QMessageBox.StandardButton.Yes
                              | QMessageBox.StandardButton.No, self._widget())
            box.setObjectName("type-change-box")
            box.accepted.connect(lambda: self.save_edit(original, edited))
            self._open(box)
            return
        self.save_edit(original, edited)

    def save_edit(self, original: dict[str, Any], edited: dict[str, Any]) -> None:
        if self._refuse_if_read_only():
            return
        try:
            plan = plan_edit(original, edited)
        except EditError as exc:
            self.show_message(str(exc))
            return
        if plan.is_empty:
            self.show_message("Nothing changed")
            return
        self.spawn(lambda: self._apply(plan, edited))

    async def _apply(self, plan: Any, edited: dict[str, Any]) -> None:
        handle = self.service.collection_handle(self.db, self.collection)

        def run() -> EditOutcome:
            return apply_edit(
                plan,
                update_one=lambda f, u: handle.update_one(f, u).matched_count,
                replace_one=lambda f, r: handle.find_one_and_replace(f, r) is not None,
                find_one=handle.find_one)

        try:
            outcome = await self.service.export_job(run)
        except Exception as exc:  # noqa: BLE001 - shown to the user
            self._written(f"The edit failed: {exc}", refresh=False)
            return
        if outcome.applied:
            await self._show_current(plan.document_id)
            self._written("Document updated", refresh=False)
            return
        dialog = ConflictDialog(edited, outcome.current, self._widget())
        dialog.accepted.connect(lambda: self._resolve(dialog.choice, plan, edited,
                                                      outcome.deleted))
        self._open(dialog)
        self.writeFinished.emit(CONFLICT_MESSAGE)

    def _resolve(self, choice: str | None, plan: Any, edited: dict[str, Any],
                 deleted: bool) -> None:
        if choice == ConflictDialog.KEEP_MINE:
            if deleted:
                self.spawn(lambda: self._insert(edited, "Document inserted again"))
            else:
                self.spawn(lambda: self._apply(plan.overwrite(), edited))
        elif choice == ConflictDialog.TAKE_THEIRS:
            document_id = plan.document_id
            self.spawn(lambda: self._take_theirs(document_id))

    async def _take_theirs(self, document_id: Any) -> None:
        await self._show_current(document_id)
        self._written("Kept the server's version", refresh=False)

    def _written(self, message: str, refresh: bool = True) -> None:
        """Tell the user; ``refresh`` runs the query again (after inserts and bulk
        writes, whose documents' places in the result are unknown)."""
        self.writes += 1
        self.show_message(message)
        if refresh:
            self.query(self.spec)
        self.writeFinished.emit(message)

    async def _show_current(self, document_id: Any) -> None:
        """Show the server's version of one document in place (or take its row out if it
        is gone), so the views keep their scroll position and expanded rows."""
        try:
            raw = await self.service.find_one_raw(self.db, self.collection,
                                                  {"_id": document_id})
        except Exception as exc:  # noqa: BLE001 - the write happened; the view is stale
            self.show_message(f"Written, but could not read it back: {exc}")
            return
        key = id_element(encode({"_id": document_id}))
        if self.run is not None and key is not None:
            self.run.replace_document(key, raw)  # a view shown later gets this version
        for model in (self.list_model, self.table_model):
            row = find_row(model, key)
            if row is None:
                continue
            if raw is None:
                model.remove_document(row)
            else:
                model.replace_document(row, raw)
        if self.current_view == "json":
            self.json_view.set_documents([])
            self._refresh_json()

    def insert_document(self, document: Mapping[str, Any] | None = None,
                        title: str = "Insert document") -> DocumentEditor | None:
        if self._refuse_if_read_only():
            return None
        editor = DocumentEditor(title, document, self._widget())
        editor.save_button.setText("Insert")
        editor.accepted.connect(lambda: self.spawn(
            lambda: self._insert(editor.document or {}, "Document inserted")))
        self._open(editor)
        return editor

    async def _insert(self, document: dict[str, Any], message: str) -> None:
        try:
            await self.service.insert_one(self.db, self.collection, document)
        except Exception as exc:  # noqa: BLE001 - shown to the user
            self._written(f"Insert failed: {exc}", refresh=False)
            return
        self._written(message)

    def edit_selected(self) -> DocumentEditor | None:
        row = self.selected_row()
        if row is None or self._refuse_if_read_only():
            return None
        original = self.document_at(row)
        editor = DocumentEditor("Edit document", original, self._widget(),
                                original=original)
        editor.accepted.connect(lambda: self.save_edit(original, editor.document or {}))
        self._open(editor)
        return editor

    def clone_selected(self) -> DocumentEditor | None:
        row = self.selected_row()
        if row is None or self._refuse_if_read_only():
            return None
        copy = {k: v for k, v in self.document_at(row).items() if k != "_id"}
        return self.insert_document(copy, "Clone document")

    def delete_selected(self) -> QMessageBox | None:
        row = self.selected_row()
        if row is None or self._refuse_if_read_only():
            return None
        document = self.document_at(row)
        box = QMessageBox(QMessageBox.Icon.Warning, "Delete document",
                          f"Delete the document with _id {document.get('_id')!r}?",
                          QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel,
                          self._widget())
        box.setObjectName("delete-box")
        box.accepted.connect(lambda: self.spawn(lambda: self._delete(document["_id"])))
        self._open(box)
        return box

    async def _delete(self, document_id: Any) -> None:
        try:
            deleted = await self.service.delete_one(self.db, self.collection,
                                                    {"_id": document_id})
        except Exception as exc:  # noqa: BLE001 - shown to the user
            self._written(f"Delete failed: {exc}", refresh=False)
            return
        await self._show_current(document_id)
        self._written("Document deleted" if deleted else "The document was already gone",
                      refresh=False)

    # -- bulk ------------------------------------------------------------------------
    def bulk(self, kind: str) -> BulkDialog | None:
        if self._refuse_if_read_only():
            return None
        spec = self.spec
        dialog = BulkDialog(kind, spec.texts.get("filter", ""), self._widget())
        dialog.accepted.connect(lambda: self.spawn(lambda: self._bulk_apply(dialog, spec)))
        self._open(dialog)
        self.spawn(lambda: self._bulk_preview(dialog, spec))
        return dialog

    async def _bulk_preview(self, dialog: BulkDialog, spec: QuerySpec) -> None:
        try:
            count = await self.service.count_documents(
                self.db, self.collection, spec.filter, max_time_ms=COUNT_TIME_LIMIT_MS)
            sample = await self.service.find_documents(self.db, self.collection, spec.filter,
                                                       limit=3)
        except Exception as exc:  # noqa: BLE001 - shown in the dialog
            dialog.set_failed(str(exc))
            return
        dialog.set_preview(count, sample)

    async def _bulk_apply(self, dialog: BulkDialog, spec: QuerySpec) -> None:
        if self.read_only:
            return
        try:
            if dialog.kind == "delete":
                deleted = await self.service.delete_many(self.db, self.collection, spec.filter)
                message = f"Deleted {deleted:,} documents"
            else:
                matched, modified = await self.service.update_many(
                    self.db, self.collection, spec.filter, dialog.update)
                message = f"Updated {modified:,} of {matched:,} matching documents"
        except Exception as exc:  # noqa: BLE001 - shown to the user
            self._written(f"The bulk {dialog.kind} failed: {exc}", refresh=False)
            return
        self._written(message)
