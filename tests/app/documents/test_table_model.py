"""DocumentTableModel: modeltester, columns from the union of fields, sorting in MongoDB's
type order, fetchMore without duplicate requests and stale batches dropped."""

from __future__ import annotations

import datetime

import pytest
from PySide6.QtCore import QModelIndex, QPersistentModelIndex, Qt, QTimer

from app.documents.views.table_model import DocumentTableModel, ValueRole, bson_sort_key
from driver.bson import Decimal128, Int64, MaxKey, MinKey, ObjectId, RawBSONDocument, encode

from .samples import every_type, people

ROOT = QModelIndex()


class Source:
    def __init__(self, model, generation, documents, batch_size):
        self.model, self.generation, self.batch_size = model, generation, batch_size
        self.raw = [encode(d) for d in documents]
        self.position = 0
        self.requests = 0

    def fetch_next(self):
        self.requests += 1
        QTimer.singleShot(0, self._answer)

    def _answer(self):
        chunk = self.raw[self.position : self.position + self.batch_size]
        self.position += len(chunk)
        self.model.append_batch(
            self.generation, b"".join(chunk), last=self.position >= len(self.raw)
        )


@pytest.fixture
def table(qapp):
    return DocumentTableModel()


def test_modeltester_and_cells(qtbot, qtmodeltester, table):
    table.reset(1, None)
    table.append_batch(1, b"".join(encode(d) for d in every_type()))
    qtmodeltester.check(table, force_py=True)
    qtmodeltester.check(table)
    columns = table.columns
    assert columns[:3] == ["_id", "int32", "int64"] and "only_here" in columns
    assert "a.b" in columns  # a dotted key is one column, not a path

    def cell(row, name, role=Qt.ItemDataRole.DisplayRole):
        return table.index(row, columns.index(name)).data(role)

    assert (
        cell(0, "decimal") == "1234.5600"
        and cell(0, "decimal", Qt.ItemDataRole.ToolTipRole) == "Decimal128"
    )
    assert cell(0, "nested") == "{ 2 fields }" and cell(0, "array") == "[ 5 items ]"
    assert (
        cell(1, "int32") == "" and cell(1, "int32", Qt.ItemDataRole.ToolTipRole) == "field missing"
    )
    assert cell(0, "array", ValueRole) == [1, "two", 3.0, None, [4]]
    assert isinstance(cell(0, "nested", ValueRole), RawBSONDocument)
    assert table.headerData(0, Qt.Orientation.Vertical) == "1"


def test_columns_grow_with_later_batches(qtbot, table):
    documents = people(2500)
    documents[2400]["late"] = 1
    source = Source(table, 4, documents, batch_size=1000)
    table.reset(4, source)
    while table.canFetchMore(ROOT):
        table.fetchMore(ROOT)
        table.fetchMore(ROOT)
        qtbot.waitUntil(lambda: not table.is_fetching, timeout=2000)
    assert source.requests == table.requests == 3 and table.rowCount() == 2500
    assert table.columns[-1] == "late"
    late = table.columns.index("late")
    assert table.index(2400, late).data() == "1" and table.index(0, late).data() == ""


def test_stale_batches_are_dropped(table):
    table.reset(1, None)
    table.reset(2, None)
    assert table.append_batch(1, encode({"x": 1})) is False
    assert table.rowCount() == 0 and table.columnCount() == 0


def test_sort_in_mongodb_type_order_keeps_selection(qtbot, table):
    values = [
        "b", 3, MaxKey(), None, datetime.datetime(2020, 1, 1), True, Decimal128("2.5"),
        ObjectId(b"\x00" * 12), {"o": 1}, [1], MinKey(), Int64(-1), "a", b"bin",
    ]  # fmt: skip
    documents = [{"_id": index, "v": value} for index, value in enumerate(values)]
    documents.append({"_id": 99})  # missing field sorts like null
    table.reset(1, None)
    table.append_batch(1, b"".join(encode(d) for d in documents))
    column = table.columns.index("v")
    kept = QPersistentModelIndex(table.index(0, column))  # the "b" row
    table.sort(column, Qt.SortOrder.AscendingOrder)
    order = [table.index(row, 0).data() for row in range(table.rowCount())]
    assert order == ["10", "3", "99", "11", "6", "1", "12", "0", "8", "9", "13", "7", "5", "4", "2"]
    assert kept.row() == order.index("0") and kept.data() == '"b"'
    table.sort(column, Qt.SortOrder.DescendingOrder)
    assert table.index(0, 0).data() == "2"
    table.append_batch(1, encode({"_id": 100, "v": MaxKey()}))  # merged into the order
    assert {table.index(0, 0).data(), table.index(1, 0).data()} == {"2", "100"}


def test_sort_key_handles_nan():
    assert bson_sort_key(float("nan")) < bson_sort_key(-1e308)


def test_huge_batch_is_released_in_chunks(table):
    from app.documents.views.table_model import ROW_CHUNK

    table.reset(1, None)
    table.append_batch(1, b"".join(encode({"i": i, f"f{i % 3}": i}) for i in range(2200)))
    assert table.rowCount() == ROW_CHUNK and table.canFetchMore(ROOT)
    table.fetchMore(ROOT)
    table.fetchMore(ROOT)
    assert table.rowCount() == 2200 and not table.canFetchMore(ROOT)
    assert table.columns == ["i", "f0", "f1", "f2"]
