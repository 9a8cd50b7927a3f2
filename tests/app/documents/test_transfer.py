"""Export and import: round trips compared as BSON, the CSV header from all documents,
failed lines reported by number, cancellation leaving no file."""

from __future__ import annotations

import csv
import json
import threading
from typing import Any

import pytest

from app.documents.transfer.exporter import (
    TransferCancelled,
    collection_file_name,
    documents_from_raw_batches,
    export_csv,
    export_database,
    export_json,
)
from app.documents.transfer.importer import detect_csv_types, import_file
from driver.bson import Int64, ObjectId, decode, encode, json_util
from driver.errors import AutoReconnect, BulkWriteError

from .samples import every_type, people


class FakeCollection:
    """insert_many with a unique _id index, failing the way a server reports it."""

    def __init__(self) -> None:
        self.stored: list[bytes] = []
        self.ids: set[bytes] = set()
        self.calls: list[int] = []

    def insert_many(self, documents: list[dict[str, Any]], ordered: bool) -> None:
        self.calls.append(len(documents))
        errors = []
        inserted = 0
        for index, document in enumerate(documents):
            document.setdefault("_id", ObjectId())
            key = encode({"k": document["_id"]})
            if key in self.ids:
                errors.append(
                    {
                        "index": index,
                        "code": 11000,
                        "errmsg": f"E11000 duplicate key {document['_id']!r}",
                    }
                )
                if ordered:
                    break
                continue
            self.ids.add(key)
            self.stored.append(encode(document))
            inserted += 1
        if errors:
            raise BulkWriteError({"writeErrors": errors, "nInserted": inserted})


def _roundtrip_json(tmp_path, documents, mode, layout):
    path = tmp_path / f"out.{layout}.json"
    result = export_json(iter(documents), path, mode=mode, layout=layout)
    assert result.documents == len(documents) and result.bytes == path.stat().st_size
    target = FakeCollection()
    report = import_file(path, target.insert_many)
    assert report.failures == [] and report.written_count == len(documents)
    return target.stored


@pytest.mark.parametrize("layout", ["lines", "array"])
def test_canonical_json_round_trip_is_identical_bson(tmp_path, layout):
    documents = every_type() + people(300)
    stored = _roundtrip_json(tmp_path, documents, "canonical", layout)
    assert stored == [encode(document) for document in documents]


def test_relaxed_json_round_trip_keeps_values(tmp_path):
    documents = people(200)
    stored = _roundtrip_json(tmp_path, documents, "relaxed", "lines")
    assert stored == [encode(document) for document in documents]
    first_line = (tmp_path / "out.lines.json").read_text(encoding="utf-8").splitlines()[0]
    assert '"$date":"20' in first_line and "é✓" in first_line  # relaxed, UTF-8 as is


def test_export_from_raw_batches(tmp_path):
    documents = people(50)
    batches = [b"".join(encode(d) for d in documents[i : i + 20]) for i in range(0, 50, 20)]
    path = tmp_path / "raw.json"
    export_json(documents_from_raw_batches(batches), path, mode="canonical")
    lines = path.read_text(encoding="utf-8").splitlines()
    assert [encode(json_util.loads(line)) for line in lines] == [encode(d) for d in documents]


def test_csv_header_has_fields_that_appear_only_late(tmp_path):
    documents = people(1500)
    documents[1200]["late_field"] = {"inner": 5}
    documents[1499]["last_one"] = [1, 2]
    path = tmp_path / "people.csv"
    result = export_csv(iter(documents), path)
    with path.open(encoding="utf-8", newline="") as stream:
        rows = list(csv.reader(stream))
    header = rows[0]
    assert "late_field.inner" in header and "last_one" in header
    assert header[:3] == ["_id", "name", "age"] and result.columns == header
    assert len(rows) == 1501
    row = dict(zip(header, rows[1201], strict=True))
    assert row["late_field.inner"] == "5" and row["last_one"] == ""
    assert dict(zip(header, rows[1500], strict=True))["last_one"] == "[1,2]"
    assert row["_id"] == str(documents[1200]["_id"])


def test_csv_round_trip_with_detected_types(tmp_path):
    documents = people(120)
    path = tmp_path / "people.csv"
    export_csv(documents, path)
    types = detect_csv_types(path)
    assert types["_id"] == "objectId" and types["age"] == "int" and types["score"] == "double"
    assert types["joined"] == "date" and types["tags"] == "json" and types["vip"] == "bool"
    assert types["address.zip"] == "int"  # looks numeric; the user overrides it below
    target = FakeCollection()
    report = import_file(path, target.insert_many, column_types={"address.zip": "string"})
    assert report.failures == [] and report.written_count == 120
    assert report.column_types["address.zip"] == "string"
    assert [decode(raw) for raw in target.stored] == documents


def test_import_reports_bad_lines_by_number_and_skips_them(tmp_path):
    lines = [
        '{"_id": 1, "a": 1}',
        '{"_id": 2, "a": }',
        "",
        '{"_id": {"$oid": "nothex"}}',
        "[1, 2]",
        '{"_id": 1, "dup": true}',
        '{"_id": 3}',
    ]
    path = tmp_path / "in.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    target = FakeCollection()
    report = import_file(path, target.insert_many, on_error="skip", ordered=True, batch_size=10)
    reasons = {failure.line: failure.reason for failure in report.failures}
    assert sorted(reasons) == [2, 4, 5, 6]
    assert "not valid Extended JSON" in reasons[2] and "$oid" in reasons[4]
    assert "expected a document" in reasons[5] and "E11000" in reasons[6]
    assert report.written_lines() == [1, 7] and report.written_count == 2
    assert [decode(raw)["_id"] for raw in target.stored] == [1, 3]


def test_import_stop_on_first_error_says_what_was_written(tmp_path):
    path = tmp_path / "in.jsonl"
    path.write_text("\n".join(json.dumps({"_id": i % 5}) for i in range(8)), encoding="utf-8")
    target = FakeCollection()
    report = import_file(path, target.insert_many, on_error="stop", batch_size=3)
    assert report.stopped and report.written == [(1, 5)]
    assert [(f.line, "E11000" in f.reason) for f in report.failures] == [(6, True)]


def test_unordered_insert_reports_each_failed_document(tmp_path):
    path = tmp_path / "in.json"
    path.write_text(json.dumps([{"_id": i % 3} for i in range(6)], indent=2), encoding="utf-8")
    target = FakeCollection()
    report = import_file(path, target.insert_many, ordered=False, on_error="skip")
    assert report.written_lines() == [2, 5, 8]  # indent=2: an element every 3 lines
    assert [f.line for f in report.failures] == [11, 14, 17]


def test_unknown_outcome_is_not_reported_as_written(tmp_path):
    path = tmp_path / "in.jsonl"
    path.write_text("\n".join(f'{{"x": {i}}}' for i in range(5)), encoding="utf-8")

    def flaky(documents, ordered):
        raise AutoReconnect("connection reset")

    report = import_file(path, flaky, batch_size=2)
    assert report.written_count == 0 and report.unknown == [(1, 2)] and report.stopped


def test_csv_import_bad_cells_reported(tmp_path):
    path = tmp_path / "in.csv"
    path.write_text(
        "n,when,a,a.b\n1,2024-01-01,x,\n2,2024-01-02,,y\nzz,2024-01-03,,\n3,nope,p,q\n",
        encoding="utf-8",
    )
    target = FakeCollection()
    report = import_file(
        path, target.insert_many, on_error="skip", column_types={"n": "int", "when": "date"}
    )
    reasons = {failure.line: failure.reason for failure in report.failures}
    assert sorted(reasons) == [4, 5]
    assert "'zz' is not int" in reasons[4] and "'nope' is not date" in reasons[5]
    stored = [decode(raw) for raw in target.stored]
    assert [{k: v for k, v in d.items() if k != "_id"} for d in stored] == [
        {"n": 1, "when": __import__("datetime").datetime(2024, 1, 1), "a": "x"},
        {"n": 2, "when": __import__("datetime").datetime(2024, 1, 2), "a": {"b": "y"}},
    ]


def test_cancelled_export_leaves_no_file(tmp_path):
    cancel = threading.Event()
    seen = []

    def documents():
        for index, document in enumerate(people(5000)):
            if index == 2000:
                cancel.set()
            yield document

    for exporter, name in ((export_json, "c.json"), (export_csv, "c.csv")):
        with pytest.raises(TransferCancelled):
            exporter(documents(), tmp_path / name, cancel=cancel, progress=seen.append)
        cancel.clear()
    assert list(tmp_path.iterdir()) == []


def test_failed_export_leaves_previous_file_untouched(tmp_path):
    path = tmp_path / "keep.json"
    path.write_text("old", encoding="utf-8")

    def broken():
        yield {"a": 1}
        raise RuntimeError("cursor died")

    with pytest.raises(RuntimeError):
        export_json(broken(), path)
    assert path.read_text(encoding="utf-8") == "old" and len(list(tmp_path.iterdir())) == 1


def test_progress_reports_rate_and_eta(tmp_path):
    reports = []
    export_json(people(3000), tmp_path / "p.json", progress=reports.append, total=3000)
    final = reports[-1]
    assert final.documents == 3000 and final.bytes == (tmp_path / "p.json").stat().st_size
    assert final.rate > 0 and final.eta_s == 0.0


def test_whole_database_export(tmp_path):
    collections = {
        "people": lambda: iter(people(40)),
        "types": lambda: iter(every_type()),
        "odd/name:x": lambda: iter([{"_id": Int64(1)}]),
    }
    results = export_database(collections, tmp_path / "dump", mode="canonical")
    names = sorted(path.name for path in (tmp_path / "dump").iterdir())
    assert names == sorted([collection_file_name(n, "json") for n in collections])
    assert "odd%2Fname%3Ax.json" in names and [r.documents for r in results] == [40, 3, 1]
    target = FakeCollection()
    import_file(tmp_path / "dump" / "types.json", target.insert_many)
    assert target.stored == [encode(d) for d in every_type()]
    with pytest.raises(FileExistsError):
        export_database(collections, tmp_path / "dump")


def test_cancelled_database_export_leaves_nothing(tmp_path):
    cancel = threading.Event()

    def second():
        cancel.set()
        return iter(people(600))

    with pytest.raises(TransferCancelled):
        export_database({"a": lambda: iter(people(5)), "b": second}, tmp_path / "db", cancel=cancel)
    assert list(tmp_path.iterdir()) == []


def test_cancelled_import_reports_written_batches(tmp_path):
    path = tmp_path / "in.jsonl"
    path.write_text("\n".join(f'{{"i": {i}}}' for i in range(3000)), encoding="utf-8")
    cancel = threading.Event()
    target = FakeCollection()

    def insert(documents, ordered):
        target.insert_many(documents, ordered)
        cancel.set()

    report = import_file(path, insert, batch_size=100, cancel=cancel)
    assert report.cancelled and report.written == [(1, 100)] and len(target.stored) == 100


def _oddities():
    from driver.bson import Binary, Code, DBPointer, Symbol

    return {
        "_id": 5,
        "code": Code("f()", {"a": 1}),
        "symbol": Symbol("s"),
        "pointer": DBPointer("db.c", ObjectId(b"\x01" * 12)),
        "old_binary": Binary(b"\x03\x00\x00\x00abc", 2),
        "before_1970": __import__("datetime").datetime(1960, 1, 1),
        "floats": [1e300, -0.0, float("inf"), float("-inf"), float("nan"), 2.5e-10],
        "unicode": 'é ✓ \U0001f600 "quote" \\ \x01',
    }


@pytest.mark.parametrize("mode", ["relaxed", "canonical"])
def test_raw_json_writer_matches_json_util(mode):
    from app.documents.values.json_writer import document_to_json, raw_to_json

    for document in [*every_type(), *people(30), _oddities()]:
        expected = json.dumps(
            json_util.to_extended_json(document, mode), ensure_ascii=False, separators=(",", ":")
        )
        assert raw_to_json(encode(document), mode) == expected
        assert document_to_json(document, mode) == expected
    with pytest.raises(ValueError, match="mode"):
        raw_to_json(encode({}), "loose")


def test_export_of_raw_documents_without_decoding(tmp_path):
    from app.documents.transfer.exporter import raw_documents_from_batches

    documents = [*every_type(), *people(2500), _oddities()]
    raw = [encode(document) for document in documents]
    batches = [b"".join(raw[i : i + 700]) for i in range(0, len(raw), 700)]
    path = tmp_path / "raw.json"
    result = export_json(raw_documents_from_batches(batches), path, mode="canonical")
    assert result.documents == len(documents)
    target = FakeCollection()
    report = import_file(path, target.insert_many)
    assert report.written_count == len(documents) and target.stored == raw
