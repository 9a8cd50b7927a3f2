"""Whole-database zip archives: export and import back give identical BSON, the manifest
says what is inside, a cancelled export leaves no file, a bad line is reported with its
entry and line, a damaged archive is refused with a message naming the bad part."""

from __future__ import annotations

import json
import threading
import zipfile

import pytest

from app import __version__
from app.documents.transfer.archive import (
    ArchiveError,
    describe_archive_import,
    export_database_archive,
    import_archive,
)
from app.documents.transfer.exporter import TransferCancelled
from driver.bson import Int64, decode, encode

from .samples import every_type, people
from .test_transfer import FakeCollection


def _collections():
    return {
        "people": lambda: iter(people(300)),
        "types": lambda: iter(every_type()),
        "odd/name:x": lambda: iter([{"_id": Int64(1)}]),
        "empty": lambda: iter([]),
    }


def _import(path, **kwargs):
    targets: dict[str, FakeCollection] = {}

    def insert_for(collection):
        return targets.setdefault(collection, FakeCollection()).insert_many

    return import_archive(path, insert_for, **kwargs), targets


@pytest.mark.parametrize("layout", ["lines", "array"])
def test_archive_round_trip_is_identical_bson(tmp_path, layout):
    path = tmp_path / "shop.zip"
    progress = []
    result = export_database_archive("shop", _collections(), path, mode="canonical",
                                     layout=layout, progress=lambda n, p: progress.append(n))
    assert [e.documents for e in result.entries] == [300, 3, 1, 0]
    assert result.bytes == path.stat().st_size and {"people", "types"} <= set(progress)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["shop.zip"]  # no temporary left
    with zipfile.ZipFile(path) as archive:
        manifest = json.loads(archive.read("manifest.json"))
        assert archive.getinfo("people.json").compress_type == zipfile.ZIP_DEFLATED
    assert manifest["database"] == "shop" and manifest["format"] == "json"
    assert manifest["binnacleVersion"] == __version__ and manifest["created"].endswith("Z")
    assert manifest["collections"][2] == {"name": "odd/name:x", "entry": "odd%2Fname%3Ax.json",
                                          "documents": 1}
    report, targets = _import(path)
    assert report.database == "shop" and report.failures() == []
    assert report.written_count == 304 and not report.stopped
    for name, make in _collections().items():
        stored = targets[name].stored if name in targets else []
        assert stored == [encode(d) for d in make()], name


def test_csv_archive_round_trip(tmp_path):
    path = tmp_path / "people.zip"
    documents = people(120)
    result = export_database_archive("db", {"people": lambda: iter(documents)}, path,
                                     file_format="csv")
    assert result.entries[0].entry == "people.csv" and "address.city" in result.entries[0].columns
    report, targets = _import(path)
    assert report.failures() == [] and report.written_count == 120
    # Detected types: the zip codes look like integers, the rest comes back as it was.
    back = [decode(raw) for raw in targets["people"].stored]
    assert [d["joined"] for d in back] == [d["joined"] for d in documents]
    assert [d["_id"] for d in back] == [d["_id"] for d in documents]


def test_cancelled_archive_export_leaves_no_file(tmp_path):
    cancel = threading.Event()

    def second():
        for index, document in enumerate(people(3000)):
            if index == 1000:
                cancel.set()
            yield document

    with pytest.raises(TransferCancelled):
        export_database_archive("db", {"a": lambda: iter(people(5)), "b": second},
                                tmp_path / "db.zip", cancel=cancel)
    assert list(tmp_path.iterdir()) == []


def _damage(source, target, entry, line_number, text):
    """A copy of the archive with one line of one entry replaced."""
    with zipfile.ZipFile(source) as original, zipfile.ZipFile(target, "w") as copy:
        for info in original.infolist():
            data = original.read(info)
            if info.filename == entry:
                lines = data.decode("utf-8").split("\n")
                lines[line_number - 1] = text
                data = "\n".join(lines).encode("utf-8")
            copy.writestr(info.filename, data)


def test_corrupt_entry_line_is_reported_with_entry_and_line(tmp_path):
    good = tmp_path / "good.zip"
    export_database_archive("db", _collections(), good, mode="canonical")
    bad = tmp_path / "bad.zip"
    _damage(good, bad, "people.json", 3, '{"_id": {"$oid": "nothex"}, "name": ')
    report, targets = _import(bad, on_error="skip")
    failures = report.failures()
    assert [(entry, f.line) for entry, f in failures] == [("people.json", 3)]
    assert "not valid Extended JSON" in failures[0][1].reason
    assert len(targets["people"].stored) == 299 and len(targets["types"].stored) == 3
    text = describe_archive_import(report, "copy")
    assert "people.json line 3: not valid Extended JSON" in text
    assert "people.json → people: 299 inserted, 1 failed" in text
    stopped, targets = _import(bad, on_error="stop")
    assert stopped.stopped and [e.entry for e in stopped.entries] == ["people.json"]
    assert "types" not in targets  # the import ended at the first error


def test_damaged_archives_are_refused_with_a_clear_message(tmp_path):
    not_zip = tmp_path / "plain.zip"
    not_zip.write_text("hello", encoding="utf-8")
    with pytest.raises(ArchiveError, match="is not a zip archive"):
        _import(not_zip)
    missing = tmp_path / "missing.zip"
    with zipfile.ZipFile(missing, "w") as archive:
        archive.writestr("manifest.json", json.dumps({
            "kind": "binnacle-database-archive", "version": 1,
            "collections": [{"name": "a", "entry": "a.json", "documents": 1}]}))
    with pytest.raises(ArchiveError, match=r"collections\[0\]: entry 'a.json' is not in"):
        _import(missing)
    broken = tmp_path / "broken.zip"
    with zipfile.ZipFile(broken, "w") as archive:
        archive.writestr("manifest.json", "{not json")
    with pytest.raises(ArchiveError, match="manifest.json is not valid JSON"):
        _import(broken)


def test_archive_without_manifest_imports_each_data_entry(tmp_path):
    path = tmp_path / "hand.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("odd%2Fname.json", '{"_id": 1}\n{"_id": 2}\n')
        archive.writestr("readme.txt", "not data")
    report, targets = _import(path)
    assert report.database is None and report.written_count == 2
    assert list(targets) == ["odd/name"]
