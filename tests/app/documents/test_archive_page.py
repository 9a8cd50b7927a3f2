"""Whole-database archives from the dialogs, against the sandbox: the demo's ``shop``
database exported to one zip and imported into a new database gives identical BSON per
collection; a cancelled archive export leaves no file; a bad line in an entry is
reported in the import dialog with the entry and the line."""

from __future__ import annotations

import zipfile

from app.documents.transfer.archive import ArchiveImportReport, ArchiveResult
from app.documents.transfer.dialogs import ExportDialog, ImportDialog

from .page_helpers import settle
from .test_collection_page_transfer import bson_of, finish

CANONICAL_LINES = "JSON lines, canonical Extended JSON"


def test_shop_to_zip_and_back_into_a_new_database(aloop, make_page, client, tmp_path):
    page = make_page("shop", "orders")
    export = page.export()
    assert isinstance(export, ExportDialog)
    export.configure("archive", CANONICAL_LINES, tmp_path / "shop")  # ".zip" is added
    export.start()
    (result,) = finish(aloop, export)
    assert isinstance(result, ArchiveResult) and result.path == tmp_path / "shop.zip"
    assert [p.name for p in tmp_path.iterdir()] == ["shop.zip"]
    names = sorted(n for n in client["shop"].list_collection_names()
                   if not n.startswith("system."))
    assert [e.collection for e in result.entries] == names
    assert "shop.zip" in export.report.toPlainText()
    target_db = client["copy_shop_zip"]
    try:
        importer = make_page(target_db.name, "anything").import_file()
        assert isinstance(importer, ImportDialog)
        importer.path.setText(str(result.path))
        assert importer.is_archive()
        importer.start()
        report = finish(aloop, importer)
        assert isinstance(report, ArchiveImportReport) and report.failures() == []
        assert report.database == "shop"
        for name in names:
            assert bson_of(target_db[name]) == bson_of(client["shop"][name]), name
        assert f"Inserted {report.written_count:,} documents into copy_shop_zip" in (
            importer.report.toPlainText())
    finally:
        client.drop_database(target_db.name)


def test_cancelled_archive_export_leaves_no_file(aloop, make_page, tmp_path):
    export = make_page("shop", "orders").export()
    export.configure("archive", CANONICAL_LINES, tmp_path / "shop.zip")
    export.start()
    export.cancel()
    settle(aloop, lambda: not export.running, timeout=60)
    assert export.result_value is None and export.error.startswith("Cancelled")
    assert list(tmp_path.iterdir()) == []


def test_bad_entry_line_is_reported_by_entry_and_line(aloop, make_page, tmp_path, scratch):
    path = tmp_path / "hand.zip"
    # Written by hand: no manifest, so the collection's name comes from the entry's.
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr(f"{scratch.name}.json",
                         '{"_id": 1}\n{"_id": 2}\n{"_id": 3, "bad": }\n{"_id": 4}\n')
    importer = make_page("scratch", scratch.name).import_file()
    importer.path.setText(str(path))
    importer.on_error.setCurrentIndex(1)  # skip and go on
    importer.start()
    report = finish(aloop, importer)
    assert [(entry, f.line) for entry, f in report.failures()] == [(f"{scratch.name}.json", 3)]
    assert f"{scratch.name}.json line 3: not valid Extended JSON" in importer.report.toPlainText()
    assert sorted(d["_id"] for d in scratch.find({})) == [1, 2, 4]
