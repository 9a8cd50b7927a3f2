"""Import and export from the collection page against the sandbox: every sample
collection exported (whole databases, canonical JSON lines) and imported back gives
identical BSON; CSV with a per-column type override; an import with bad lines reports
them by number; a cancelled export leaves no file."""

from __future__ import annotations

import pytest

from app.documents.transfer.dialogs import ExportDialog, ImportDialog
from app.documents.transfer.exporter import collection_file_name
from driver.bson import encode

from .page_helpers import run_query, settle

SAMPLE_DATABASES = {"shop": "orders", "catalog": "wide", "iot": "readings", "blobs": "large"}


def finish(aloop, dialog):
    settle(aloop, lambda: not dialog.running, timeout=60)
    assert dialog.error is None, dialog.error
    return dialog.result_value


def bson_of(collection):
    """Every document's bytes in natural order (the export's order, so the copy's too;
    no sort: sorting 100,000 documents is slow in the sandbox's query engine)."""
    return [encode(document) for document in collection.find({})]


@pytest.mark.parametrize("database", sorted(SAMPLE_DATABASES))
def test_export_then_import_of_every_sample_collection_gives_identical_bson(
        aloop, make_page, client, tmp_path, database):
    page = make_page(database, SAMPLE_DATABASES[database])
    export = page.export()
    assert isinstance(export, ExportDialog)
    folder = tmp_path / database
    export.configure("database", "JSON lines, canonical Extended JSON", folder)
    export.start()
    results = finish(aloop, export)
    names = sorted(name for name in client[database].list_collection_names()
                   if not name.startswith("system."))
    assert sorted(r.path.name for r in results) == [collection_file_name(n, "json")
                                                   for n in names]
    target_db = client[f"copy_{database}"]
    try:
        for name in names:
            importer = page.import_file()
            target = make_page(target_db.name, name)
            importer.page = target  # import into the copy's page
            importer.path.setText(str(folder / collection_file_name(name, "json")))
            importer.start()
            report = finish(aloop, importer)
            assert report.failures == [] and not report.stopped, name
            assert bson_of(target_db[name]) == bson_of(client[database][name]), name
    finally:
        client.drop_database(target_db.name)


def test_csv_export_of_a_query_and_import_with_a_type_override(
        aloop, make_page, client, tmp_path, scratch):
    run_query(aloop, make_page(), filter="{ status: 'returned' }")
    page = make_page("shop", "customers")
    run_query(aloop, page, filter="{ _id: { $lte: 300 } }")
    export = page.export()
    path = tmp_path / "customers.csv"
    export.configure("query", "CSV (columns from every document)", path)
    export.start()
    (result,) = finish(aloop, export)
    assert result.documents == 300 and "address.location.coordinates" in result.columns
    target = make_page("scratch", scratch.name)
    importer = target.import_file()
    importer.path.setText(str(path))
    importer.detect_columns()
    settle(aloop, lambda: importer.columns.rowCount() > 0)
    types = importer.column_types()
    assert types["_id"] == "int" and types["joined"] == "date"
    importer.columns.cellWidget(list(types).index("loyaltyPoints"), 1).setCurrentText("string")
    importer.start()
    report = finish(aloop, importer)
    assert report.written_count == 300 and report.written == [(2, 301)]
    copied = scratch.find_one({"_id": 7})
    original = client["shop"]["customers"].find_one({"_id": 7})
    assert copied["loyaltyPoints"] == str(original["loyaltyPoints"])
    assert copied["address"]["location"] == original["address"]["location"]
    assert copied["joined"] == original["joined"]


def test_import_with_bad_lines_reports_them_by_number(aloop, make_page, tmp_path, scratch):
    path = tmp_path / "people.jsonl"
    path.write_text("\n".join([
        '{"_id": 1, "name": "a"}',
        '{"_id": 2, "name": ',  # line 2: cut short
        '{"_id": 3, "name": "c"}',
        '[1, 2]',  # line 4: not a document
        '{"_id": 1, "name": "duplicate"}',  # line 5: duplicate key
        '{"_id": 6, "name": "f"}',
    ]) + "\n", encoding="utf-8")
    page = make_page("scratch", scratch.name)
    importer = page.import_file()
    assert isinstance(importer, ImportDialog)
    importer.path.setText(str(path))
    importer.on_error.setCurrentIndex(1)  # skip and go on
    importer.ordered.setChecked(False)
    importer.start()
    report = finish(aloop, importer)
    assert [failure.line for failure in report.failures] == [2, 4, 5]
    assert report.written_lines() == [1, 3, 6]
    text = importer.report.toPlainText()
    assert "line 2:" in text and "line 4:" in text and "line 5:" in text
    assert "Inserted 3 documents (lines 1, 3, 6)" in text
    assert sorted(d["_id"] for d in scratch.find({})) == [1, 3, 6]


def test_cancelled_export_leaves_no_file(aloop, make_page, tmp_path):
    page = make_page("iot", "readings")
    export = page.export()
    path = tmp_path / "readings.json"
    export.configure("collection", "JSON array, relaxed Extended JSON", path)
    export.start()
    export.cancel()
    settle(aloop, lambda: not export.running, timeout=60)
    assert export.result_value is None and export.error.startswith("Cancelled")
    assert list(tmp_path.iterdir()) == []  # neither the file nor a temporary one
