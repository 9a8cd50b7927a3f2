"""Export and import of documents: JSON (Extended JSON), JSON lines and CSV.

Pure Python, no Qt: every function here runs on a worker thread, reports through a
``progress`` callback (``Progress``: documents, bytes, rate, time left) and stops at the
next document when its ``cancel`` event is set.

Exports never leave a half-written file: they write to a hidden temporary name in the
destination folder and ``os.replace`` it onto the final name only when complete; a
cancel or an error removes the temporary file. A CSV export streams its rows into a
spool file while it learns the columns, so the header is the union of the fields of
*all* exported documents (not a sample), then writes header and rows. A whole-database
export writes one file per collection into a temporary folder renamed at the end
(or, in ``archive``, one ``.zip`` archive).

Imports insert in batches through an injected ``insert_many(documents, ordered)``
callable and return an ``ImportReport`` that says exactly which input lines were
written and why every other line failed.
"""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, BinaryIO, cast

from app.documents.transfer.csv_codec import flatten
from app.documents.values.json_writer import document_to_json
from app.documents.views.batch_feed import cut_documents
from driver.bson import decode_all

InsertMany = Callable[[list[dict[str, Any]], bool], Any]
"""``insert_many(documents, ordered)``; raises a ``PyMongoError`` (ideally
``BulkWriteError`` with ``details["writeErrors"]``) when some documents fail."""

ProgressCallback = Callable[["Progress"], None]
_PROGRESS_EVERY_S = 0.1
_CHECK_EVERY = 256  # documents between clock / cancel checks


class TransferCancelled(Exception):
    """The user cancelled; nothing was left on disk (exports) or the report says what was
    written (imports)."""


@dataclass(frozen=True)
class Progress:
    documents: int
    bytes: int
    elapsed_s: float
    total_documents: int | None = None

    @property
    def rate(self) -> float:
        """Documents per second so far."""
        return self.documents / self.elapsed_s if self.elapsed_s > 0 else 0.0

    @property
    def eta_s(self) -> float | None:
        """Seconds left, when the total is known and progress has been made."""
        if self.total_documents is None or self.documents == 0 or self.rate == 0:
            return None
        return max(0.0, (self.total_documents - self.documents) / self.rate)


class _Meter:
    """Counts documents and bytes, calls ``progress`` at most every 100 ms, checks cancel."""

    def __init__(
        self,
        progress: ProgressCallback | None,
        cancel: threading.Event | None,
        total: int | None,
    ) -> None:
        self._progress = progress
        self._cancel = cancel
        self._total = total
        self._started = time.monotonic()
        self._last_report = 0.0
        self.documents = 0
        self.bytes = 0

    def step(self, documents: int, nbytes: int) -> None:
        before = self.documents
        self.documents += documents
        self.bytes += nbytes
        if self.documents // _CHECK_EVERY != before // _CHECK_EVERY:
            self.check()

    def check(self) -> None:
        if self._cancel is not None and self._cancel.is_set():
            raise TransferCancelled("cancelled by the user")
        now = time.monotonic()
        if self._progress is not None and now - self._last_report >= _PROGRESS_EVERY_S:
            self._last_report = now
            self._progress(self.snapshot())

    def snapshot(self) -> Progress:
        elapsed = time.monotonic() - self._started
        return Progress(self.documents, self.bytes, elapsed, self._total)

    def finish(self) -> Progress:
        final = self.snapshot()
        if self._progress is not None:
            self._progress(final)
        return final


@dataclass(frozen=True)
class ExportResult:
    path: Path
    documents: int
    bytes: int
    columns: list[str] = field(default_factory=list)  # CSV only


# --- files written atomically ---------------------------------------------------------


@contextmanager
def _atomic_file(path: Path) -> Iterator[BinaryIO]:
    """A binary file at a temporary name beside ``path``; renamed onto it on success."""
    folder = path.parent
    folder.mkdir(parents=True, exist_ok=True)
    handle, temp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".partial", dir=folder)
    try:
        with os.fdopen(handle, "wb", buffering=1 << 20) as stream:
            yield stream
        os.replace(temp_name, path)
    except BaseException:
        _remove_quietly(Path(temp_name))
        raise


def _remove_quietly(path: Path) -> None:
    try:
        path.unlink()
    except FileNotFoundError:
        pass


def documents_from_raw_batches(batches: Iterable[bytes]) -> Iterator[dict[str, Any]]:
    """Documents from ``find_raw_batches`` batches (each batch is BSON documents end to end)."""
    for batch in batches:
        yield from decode_all(batch)


def raw_documents_from_batches(batches: Iterable[bytes]) -> Iterator[bytes]:
    """Each document's bytes, undecoded: the fastest input for ``export_json``."""
    for batch in batches:
        documents: list[bytes] = []
        offset = 0
        while offset < len(batch):
            documents.clear()
            offset = cut_documents(batch, offset, 1000, documents)
            yield from documents


def _as_document(item: Any) -> Mapping[str, Any]:
    if isinstance(item, (bytes, bytearray, memoryview)):
        (document,) = decode_all(bytes(item))
        return cast(Mapping[str, Any], document)
    return cast(Mapping[str, Any], item)


# --- JSON export ----------------------------------------------------------------------


def export_json(
    documents: Iterable[Any],
    path: str | os.PathLike[str],
    *,
    mode: str = "relaxed",
    layout: str = "lines",
    cancel: threading.Event | None = None,
    progress: ProgressCallback | None = None,
    total: int | None = None,
) -> ExportResult:
    """Write ``documents`` as Extended JSON (``mode`` relaxed/canonical), one per line
    (``layout="lines"``) or as one array (``layout="array"``). Items may be raw BSON
    (bytes, ``RawBSONDocument``: written without decoding) or mappings."""
    if mode not in ("relaxed", "canonical"):
        raise ValueError(f"mode must be 'relaxed' or 'canonical', not {mode!r}")
    if layout not in ("lines", "array"):
        raise ValueError(f"layout must be 'lines' or 'array', not {layout!r}")
    target = Path(path)
    meter = _Meter(progress, cancel, total)
    with _atomic_file(target) as stream:
        write_json_stream(documents, stream, meter, mode=mode, layout=layout)
    final = meter.finish()
    return ExportResult(target, final.documents, final.bytes)


def write_json_stream(
    documents: Iterable[Any], stream: IO[bytes], meter: _Meter, *, mode: str, layout: str
) -> None:
    """The body of ``export_json``: write to any binary stream (a file, a zip entry)."""
    if layout == "array":
        stream.write(b"[")
        meter.bytes += 1
    separator = b"\n" if layout == "lines" else b",\n"
    first = True
    for item in documents:
        line = document_to_json(item, mode).encode("utf-8")
        if layout == "array" and first:
            chunk = b"\n" + line
        elif layout == "array":
            chunk = separator + line
        else:
            chunk = line + separator
        first = False
        stream.write(chunk)
        meter.step(1, len(chunk))
    if layout == "array":
        closing = b"\n]\n" if not first else b"]\n"
        stream.write(closing)
        meter.bytes += len(closing)
    meter.check()


# --- CSV export -----------------------------------------------------------------------


def export_csv(
    documents: Iterable[Any],
    path: str | os.PathLike[str],
    *,
    cancel: threading.Event | None = None,
    progress: ProgressCallback | None = None,
    total: int | None = None,
) -> ExportResult:
    """Write ``documents`` as CSV whose columns are the union of all their (dotted) fields,
    in the order first seen."""
    target = Path(path)
    meter = _Meter(progress, cancel, total)
    target.parent.mkdir(parents=True, exist_ok=True)
    with _atomic_file(target) as stream:
        header = write_csv_stream(documents, stream, meter, spool_folder=target.parent)
    final = meter.finish()
    return ExportResult(target, final.documents, final.bytes, header)


def write_csv_stream(
    documents: Iterable[Any], stream: IO[bytes], meter: _Meter, *, spool_folder: Path
) -> list[str]:
    """The body of ``export_csv``: write to any binary stream; returns the header.

    The spool (in ``spool_folder``) holds each row as JSON (column index -> text) until
    the header is known; ``meter.bytes`` ends as the number of bytes written."""
    columns: dict[str, int] = {}
    with tempfile.TemporaryFile("w+", encoding="utf-8", dir=spool_folder) as spool:
        for item in documents:
            row = flatten(_as_document(item))
            indexed = {}
            for name, text in row.items():
                index = columns.setdefault(name, len(columns))
                indexed[index] = text
            spool.write(json.dumps(indexed, ensure_ascii=False, separators=(",", ":")) + "\n")
            meter.step(1, 0)
        meter.check()
        spool.seek(0)
        header = list(columns)
        # Rows go through a small text buffer flushed as UTF-8 bytes, so any binary stream
        # works (a zip entry cannot tell its position) and the bytes are counted exactly.
        buffer = io.StringIO(newline="")
        writer = csv.writer(buffer)
        writer.writerow(header)
        written = 0
        width = len(header)
        for number, line in enumerate(spool, 1):
            cells = [""] * width
            for index, text in json.loads(line).items():
                cells[int(index)] = text
            writer.writerow(cells)
            if number % _CHECK_EVERY == 0:
                written += _flush_text(buffer, stream)
                meter.check()
        written += _flush_text(buffer, stream)
    meter.bytes = written
    return header


def _flush_text(buffer: io.StringIO, stream: IO[bytes]) -> int:
    data = buffer.getvalue().encode("utf-8")
    stream.write(data)
    buffer.seek(0)
    buffer.truncate()
    return len(data)


# --- whole database ---------------------------------------------------------------------

_UNSAFE_FILE_CHARS = set('<>:"/\\|?*\x00')


def collection_file_name(collection: str, extension: str) -> str:
    """A file name for a collection that is safe on every OS (unsafe characters %-coded)."""
    safe = "".join(
        f"%{ord(char):02X}" if char in _UNSAFE_FILE_CHARS or char == "%" else char
        for char in collection
    )
    return f"{safe}.{extension}"


def export_database(
    collections: Mapping[str, Callable[[], Iterable[Any]]],
    folder: str | os.PathLike[str],
    *,
    file_format: str = "json",
    mode: str = "relaxed",
    cancel: threading.Event | None = None,
    progress: Callable[[str, Progress], None] | None = None,
) -> list[ExportResult]:
    """Export every collection (name -> function opening its cursor) to ``folder``, one
    file each (``<name>.json`` lines or ``<name>.csv``). The folder appears only when all
    files are complete; it must not exist yet, or be empty."""
    if file_format not in ("json", "csv"):
        raise ValueError(f"file_format must be 'json' or 'csv', not {file_format!r}")
    target = Path(folder)
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise FileExistsError(f"{target} already exists and is not an empty folder")
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(
        tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".partial", dir=target.parent)
    )
    results: list[ExportResult] = []
    try:
        for name, open_cursor in collections.items():
            file_path = staging / collection_file_name(name, file_format)
            report = (lambda p, name=name: progress(name, p)) if progress else None
            if file_format == "json":
                result = export_json(open_cursor(), file_path, mode=mode, cancel=cancel,
                                     progress=report)  # fmt: skip
            else:
                result = export_csv(open_cursor(), file_path, cancel=cancel, progress=report)
            results.append(result)
        if target.exists():
            target.rmdir()
        os.replace(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return [ExportResult(target / r.path.name, r.documents, r.bytes, r.columns) for r in results]
