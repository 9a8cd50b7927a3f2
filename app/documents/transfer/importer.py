"""Import of JSON arrays, JSON lines and CSV files into a collection.

``import_file(path, insert_many, ...)`` reads the file, turns each record into a document
(Extended JSON through ``driver.bson.json_util``; CSV through ``csv_codec`` with per-column
types detected over the whole file, overridable), and inserts them in batches through the
injected ``insert_many(documents, ordered)``.

Error handling: ``on_error="stop"`` ends the import at the first bad line or failed
write; ``"skip"`` records it and goes on. With ordered inserts the server stops a batch at
its first failing document; on skip we resubmit the rest of that batch. The returned
``ImportReport`` lists every failed line with its number and reason and, as line ranges,
exactly the lines whose documents were written. A batch whose outcome is unknown (the
connection dropped mid-write) is reported as such, never as written.
"""

from __future__ import annotations

import csv
import io
import json
import os
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from app.documents.transfer.csv_codec import COLUMN_TYPES, CellError, TypeDetector, row_to_document
from app.documents.transfer.exporter import InsertMany, ProgressCallback, TransferCancelled, _Meter
from driver.bson import json_util
from driver.errors import PyMongoError

__all__ = ["ImportReport", "LineFailure", "detect_csv_types", "import_file", "import_stream"]

OpenBinary = Callable[[], IO[bytes]]
"""Opens the input afresh (a file, a zip entry); CSV type detection reads it twice."""


@dataclass(frozen=True)
class LineFailure:
    line: int
    reason: str


@dataclass
class ImportReport:
    """What an import did. ``written`` holds inclusive (first, last) line ranges."""

    written: list[tuple[int, int]] = field(default_factory=list)
    written_count: int = 0
    failures: list[LineFailure] = field(default_factory=list)
    unknown: list[tuple[int, int]] = field(default_factory=list)  # outcome not confirmed
    stopped: bool = False
    cancelled: bool = False
    column_types: dict[str, str] = field(default_factory=dict)

    def mark_written(self, line: int) -> None:
        self.written_count += 1
        if self.written and self.written[-1][1] == line - 1:
            self.written[-1] = (self.written[-1][0], line)
        else:
            self.written.append((line, line))

    def written_lines(self) -> list[int]:
        return [line for first, last in self.written for line in range(first, last + 1)]


# --- reading records ------------------------------------------------------------------

Record = tuple[int, dict[str, Any] | None, str | None]  # (line, document, error)


def _document_or_error(line: int, text: str) -> Record:
    try:
        value = json_util.loads(text)
    except ValueError as exc:
        return line, None, f"not valid Extended JSON: {exc}"
    if not isinstance(value, dict):
        return line, None, f"expected a document {{...}}, found {type(value).__name__}"
    return line, value, None


def _json_lines(open_input: OpenBinary) -> Iterator[tuple[Record, int]]:
    with open_input() as stream:
        for number, raw_line in enumerate(stream, 1):
            text = raw_line.decode("utf-8", errors="replace").strip().lstrip("\ufeff")
            if text:
                yield _document_or_error(number, text), len(raw_line)


def _json_array(open_input: OpenBinary) -> Iterator[tuple[Record, int]]:
    """Elements of a top-level JSON array, each with the line it starts on."""
    with open_input() as stream:
        text = stream.read().decode("utf-8-sig")
    decoder = json.JSONDecoder()
    position = text.index("[") + 1
    line = 1 + text.count("\n", 0, position)
    while True:
        start = position
        while position < len(text) and text[position] in " \t\r\n,":
            position += 1
        line += text.count("\n", start, position)
        if position >= len(text):
            yield (line, None, "the array is not closed: expected ']'"), 0
            return
        if text[position] == "]":
            return
        try:
            _, end = decoder.raw_decode(text, position)
        except json.JSONDecodeError as exc:
            where = f"line {exc.lineno}, column {exc.colno}"
            yield (exc.lineno, None, f"not valid JSON at {where}: {exc.msg}; cannot go on"), 0
            return
        element = text[position:end]
        yield _document_or_error(line, element), len(element.encode("utf-8"))
        line += element.count("\n")
        position = end


def _open_text(open_input: OpenBinary) -> io.TextIOWrapper:
    return io.TextIOWrapper(open_input(), encoding="utf-8-sig", newline="")


def detect_csv_types(path: str | os.PathLike[str]) -> dict[str, str]:
    """Each column's type, detected from all its non-empty cells."""
    return _detect_csv_types(lambda: Path(path).open("rb"))


def _detect_csv_types(open_input: OpenBinary) -> dict[str, str]:
    detector = TypeDetector()
    with _open_text(open_input) as stream:
        reader = csv.reader(stream)
        header = next(reader, [])
        for row in reader:
            detector.add(dict(zip(header, row, strict=False)))
        for column in header:
            detector.add({column: ""})
    return detector.types()


def _csv_records(
    open_input: OpenBinary, overrides: Mapping[str, str] | None, report: ImportReport
) -> Iterator[tuple[Record, int]]:
    types = _detect_csv_types(open_input)
    for column, kind in (overrides or {}).items():
        if kind not in COLUMN_TYPES:
            raise ValueError(f"column {column!r}: unknown type {kind!r}; use one of {COLUMN_TYPES}")
        types[column] = kind
    report.column_types = dict(types)
    with _open_text(open_input) as stream:
        reader = csv.reader(stream)
        header = next(reader, None)
        if header is None:
            return
        duplicates = sorted({name for name in header if header.count(name) > 1})
        if duplicates:
            raise ValueError(f"the CSV header repeats column(s) {duplicates}")
        previous_end = reader.line_num
        for row in reader:
            line = previous_end + 1
            previous_end = reader.line_num
            size = sum(len(cell) for cell in row) + len(row)
            if not any(row):
                continue
            try:
                yield (line, row_to_document(header, row, types), None), size
            except CellError as exc:
                yield (line, None, str(exc)), size


# --- writing --------------------------------------------------------------------------


def _write_errors(exc: PyMongoError) -> list[tuple[int, str]] | None:
    """(index in batch, message) for each failed document, or None if unknown."""
    details = getattr(exc, "details", None)
    if not isinstance(details, Mapping) or "writeErrors" not in details:
        return None
    errors = []
    for error in details["writeErrors"]:
        errors.append((int(error["index"]), str(error.get("errmsg", "write error"))))
    return sorted(errors)


class _Batcher:
    def __init__(
        self, insert_many: InsertMany, ordered: bool, skip: bool, report: ImportReport
    ) -> None:
        self._insert_many = insert_many
        self._ordered = ordered
        self._skip = skip
        self._report = report
        self.pending: list[tuple[int, dict[str, Any]]] = []

    def flush(self) -> bool:
        """Insert the pending documents; False when the import must stop."""
        batch, self.pending = self.pending, []
        while batch:
            try:
                self._insert_many([document for _, document in batch], self._ordered)
            except PyMongoError as exc:
                errors = _write_errors(exc)
                if errors is None:
                    self._report.unknown.append((batch[0][0], batch[-1][0]))
                    self._report.failures.append(
                        LineFailure(batch[0][0], f"batch of lines {batch[0][0]}-{batch[-1][0]} "
                                                 f"failed, outcome unknown: {exc}")
                    )  # fmt: skip
                    return False
                batch = self._account(batch, errors)
                if not self._skip:
                    return False
                continue
            for line, _ in batch:
                self._report.mark_written(line)
            batch = []
        return True

    def _account(
        self, batch: list[tuple[int, dict[str, Any]]], errors: list[tuple[int, str]]
    ) -> list[tuple[int, dict[str, Any]]]:
        """Record a partly failed batch; return what is left to retry (ordered only)."""
        failed = dict(errors)
        if self._ordered:
            first_failure = errors[0][0]
            for line, _ in batch[:first_failure]:
                self._report.mark_written(line)
            line = batch[first_failure][0]
            self._report.failures.append(LineFailure(line, failed[first_failure]))
            return batch[first_failure + 1 :]
        for index, (line, _) in enumerate(batch):
            if index in failed:
                self._report.failures.append(LineFailure(line, failed[index]))
            else:
                self._report.mark_written(line)
        return []


def import_file(
    path: str | os.PathLike[str],
    insert_many: InsertMany,
    *,
    file_format: str = "auto",
    ordered: bool = True,
    on_error: str = "stop",
    batch_size: int = 1000,
    column_types: Mapping[str, str] | None = None,
    cancel: threading.Event | None = None,
    progress: ProgressCallback | None = None,
) -> ImportReport:
    """Import ``path`` (``file_format`` json / jsonl / csv / auto by extension and content)."""
    source = Path(path)
    return import_stream(
        lambda: source.open("rb"), source.name, insert_many, file_format=file_format,
        ordered=ordered, on_error=on_error, batch_size=batch_size, column_types=column_types,
        cancel=cancel, progress=progress)  # fmt: skip


def import_stream(
    open_input: OpenBinary,
    name: str,
    insert_many: InsertMany,
    *,
    file_format: str = "auto",
    ordered: bool = True,
    on_error: str = "stop",
    batch_size: int = 1000,
    column_types: Mapping[str, str] | None = None,
    cancel: threading.Event | None = None,
    progress: ProgressCallback | None = None,
) -> ImportReport:
    """Import what ``open_input()`` reads (a file or an archive entry called ``name``,
    whose extension helps detect the format); otherwise as ``import_file``."""
    if on_error not in ("stop", "skip"):
        raise ValueError(f"on_error must be 'stop' or 'skip', not {on_error!r}")
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    file_format = _resolve_format(open_input, name, file_format)
    report = ImportReport()
    if file_format == "csv":
        records = _csv_records(open_input, column_types, report)
    elif file_format == "json":
        records = _json_array(open_input)
    else:
        records = _json_lines(open_input)
    batcher = _Batcher(insert_many, ordered, on_error == "skip", report)
    meter = _Meter(progress, cancel, None)
    try:
        for (line, document, error), size in records:
            meter.step(1, size)
            if error is not None:
                report.failures.append(LineFailure(line, error))
                if on_error == "stop":
                    report.stopped = True
                    break
                continue
            assert document is not None
            batcher.pending.append((line, document))
            if len(batcher.pending) >= batch_size:
                meter.check()  # a cancel is honoured before each write, never during one
                if batcher.flush():
                    continue
                report.stopped = True
                break
        else:
            if batcher.pending and not batcher.flush():
                report.stopped = True
        if report.stopped:
            batcher.pending.clear()
    except TransferCancelled:
        report.cancelled = True
        batcher.pending.clear()  # nothing pending was sent; the report says what was
    meter.finish()
    return report


def _resolve_format(open_input: OpenBinary, name: str, file_format: str) -> str:
    if file_format not in ("auto", "json", "jsonl", "csv"):
        raise ValueError(f"file_format must be auto, json, jsonl or csv, not {file_format!r}")
    if file_format != "auto":
        return file_format
    if name.lower().endswith(".csv"):
        return "csv"
    with open_input() as stream:
        head = stream.read(4096).lstrip(b"\xef\xbb\xbf \t\r\n")
    return "json" if head.startswith(b"[") else "jsonl"
