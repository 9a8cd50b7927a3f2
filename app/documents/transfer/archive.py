"""A whole database as one ``.zip`` archive, and its import back into a database.

Layout of an archive: one entry per collection (``<collection>.json`` as JSON lines or an
array, or ``<collection>.csv``; unsafe characters %-coded by ``collection_file_name``)
and a small ``manifest.json`` written last, once the counts are known::

    {"kind": "binnacle-database-archive", "version": 1, "database": "shop",
     "format": "json", "mode": "canonical", "layout": "lines",
     "binnacleVersion": "0.1.0", "created": "2026-11-25T14:00:00Z",
     "collections": [{"name": "orders", "entry": "orders.json", "documents": 1200}]}

Export streams each collection straight into its (deflated) entry through the same
writers as the one-file exports, so no collection is ever held in memory; entries are
opened with ZIP64 forced because their size is not known when their header is written
(``zipfile`` would refuse to grow past 2 GiB otherwise). The archive is written to a
hidden temporary name beside the target and renamed only when complete: a cancel or an
error leaves no file.

Import reads the manifest (or, for an archive made by hand without one, takes every
``.json``/``.jsonl``/``.csv`` entry as a collection of that name), then imports entry by
entry through ``importer.import_stream``, so every failure is reported with the entry
and the line inside it. Pure Python, no Qt.
"""

from __future__ import annotations

import datetime
import json
import os
import threading
import time
import zipfile
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any
from urllib.parse import unquote

from app import __version__
from app.documents.transfer.exporter import (
    InsertMany,
    Progress,
    TransferCancelled,
    _atomic_file,
    _Meter,
    collection_file_name,
    write_csv_stream,
    write_json_stream,
)
from app.documents.transfer.importer import ImportReport, LineFailure, import_stream

MANIFEST_NAME = "manifest.json"
ARCHIVE_KIND = "binnacle-database-archive"
ARCHIVE_VERSION = 1
_DATA_SUFFIXES = (".json", ".jsonl", ".ndjson", ".csv")
# Level 1 deflate: JSON still shrinks several times, at a fraction of level 6's CPU cost,
# so the archive export is not much slower than writing plain files.
_COMPRESS_LEVEL = 1

NamedProgress = Callable[[str, Progress], None]


class ArchiveError(ValueError):
    """The file is not a usable archive; the message names the bad part."""


@dataclass(frozen=True)
class ArchiveEntry:
    collection: str
    entry: str
    documents: int
    bytes: int  # uncompressed
    columns: list[str] = field(default_factory=list)  # CSV only


@dataclass(frozen=True)
class ArchiveResult:
    path: Path
    database: str
    entries: list[ArchiveEntry]
    bytes: int  # the archive's size on disk

    @property
    def documents(self) -> int:
        return sum(entry.documents for entry in self.entries)


def export_database_archive(
    database: str,
    collections: Mapping[str, Callable[[], Iterable[Any]]],
    path: str | os.PathLike[str],
    *,
    file_format: str = "json",
    mode: str = "relaxed",
    layout: str = "lines",
    cancel: threading.Event | None = None,
    progress: NamedProgress | None = None,
) -> ArchiveResult:
    """Write every collection (name -> function opening its cursor) into one zip archive
    at ``path`` (see the module docstring). Raises ``TransferCancelled`` on cancel."""
    if file_format not in ("json", "csv"):
        raise ValueError(f"file_format must be 'json' or 'csv', not {file_format!r}")
    if mode not in ("relaxed", "canonical"):
        raise ValueError(f"mode must be 'relaxed' or 'canonical', not {mode!r}")
    if layout not in ("lines", "array"):
        raise ValueError(f"layout must be 'lines' or 'array', not {layout!r}")
    target = Path(path)
    entries: list[ArchiveEntry] = []
    with _atomic_file(target) as stream, zipfile.ZipFile(
        stream, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=_COMPRESS_LEVEL,
        allowZip64=True,
    ) as archive:  # fmt: skip
        for name, open_cursor in collections.items():
            entry_name = collection_file_name(name, file_format)
            report = (lambda p, name=name: progress(name, p)) if progress else None
            meter = _Meter(report, cancel, None)
            columns: list[str] = []
            with archive.open(entry_name, "w", force_zip64=True) as entry:
                if file_format == "json":
                    write_json_stream(open_cursor(), entry, meter, mode=mode, layout=layout)
                else:
                    columns = write_csv_stream(open_cursor(), entry, meter,
                                               spool_folder=target.parent)  # fmt: skip
            final = meter.finish()
            entries.append(ArchiveEntry(name, entry_name, final.documents, final.bytes, columns))
        if cancel is not None and cancel.is_set():
            raise TransferCancelled("cancelled by the user")
        manifest = {
            "kind": ARCHIVE_KIND,
            "version": ARCHIVE_VERSION,
            "database": database,
            "format": file_format,
            "mode": mode,
            "layout": layout if file_format == "json" else None,
            "binnacleVersion": __version__,
            "created": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "collections": [
                {"name": e.collection, "entry": e.entry, "documents": e.documents}
                for e in entries
            ],
        }
        archive.writestr(MANIFEST_NAME, json.dumps(manifest, indent=2, ensure_ascii=False))
    return ArchiveResult(target, database, entries, target.stat().st_size)


# --- import -----------------------------------------------------------------------------


@dataclass(frozen=True)
class PlannedEntry:
    collection: str
    entry: str
    documents: int | None  # from the manifest, when there is one


@dataclass
class EntryReport:
    collection: str
    entry: str
    report: ImportReport


@dataclass
class ArchiveImportReport:
    """What an archive import did, entry by entry."""

    database: str | None  # the database the archive was exported from, if known
    entries: list[EntryReport] = field(default_factory=list)
    stopped: bool = False
    cancelled: bool = False

    @property
    def written_count(self) -> int:
        return sum(item.report.written_count for item in self.entries)

    def failures(self) -> list[tuple[str, LineFailure]]:
        """(entry, failure) for every failed line of every entry."""
        return [(item.entry, failure) for item in self.entries
                for failure in item.report.failures]  # fmt: skip


def _check_collection_name(name: Any, where: str) -> str:
    if not isinstance(name, str) or not name:
        raise ArchiveError(f"{where}: the collection name must be a non-empty string")
    if "$" in name or "\x00" in name or name.startswith("system."):
        raise ArchiveError(f"{where}: {name!r} is not a collection name that can be imported")
    return name


def read_plan(path: str | os.PathLike[str]) -> tuple[str | None, list[PlannedEntry]]:
    """The source database (if known) and the entries to import, in order."""
    try:
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
            if MANIFEST_NAME not in names:
                return None, _plan_without_manifest(names)
            try:
                manifest = json.loads(archive.read(MANIFEST_NAME).decode("utf-8"))
            except (ValueError, UnicodeDecodeError) as exc:
                raise ArchiveError(f"{MANIFEST_NAME} is not valid JSON: {exc}") from None
    except zipfile.BadZipFile as exc:
        raise ArchiveError(f"{path} is not a zip archive: {exc}") from None
    return _plan_from_manifest(manifest, set(names))


def _plan_without_manifest(names: list[str]) -> list[PlannedEntry]:
    plan = []
    for name in names:
        if "/" in name or not name.lower().endswith(_DATA_SUFFIXES):
            continue
        stem = name.rsplit(".", 1)[0]
        plan.append(PlannedEntry(_check_collection_name(unquote(stem), name), name, None))
    if not plan:
        raise ArchiveError("the archive has no manifest.json and no .json or .csv entry")
    return plan


def _plan_from_manifest(
    manifest: Any, names: set[str]
) -> tuple[str | None, list[PlannedEntry]]:
    if not isinstance(manifest, dict) or manifest.get("kind") != ARCHIVE_KIND:
        raise ArchiveError(f"{MANIFEST_NAME} does not describe a Binnacle database archive")
    version = manifest.get("version")
    if not isinstance(version, int) or version > ARCHIVE_VERSION:
        raise ArchiveError(f"{MANIFEST_NAME}: archive version {version!r} is not supported "
                           f"(this Binnacle reads version {ARCHIVE_VERSION})")  # fmt: skip
    collections = manifest.get("collections")
    if not isinstance(collections, list):
        raise ArchiveError(f"{MANIFEST_NAME}: 'collections' must be a list")
    plan = []
    for position, item in enumerate(collections):
        where = f"{MANIFEST_NAME}, collections[{position}]"
        if not isinstance(item, dict):
            raise ArchiveError(f"{where}: expected an object")
        collection = _check_collection_name(item.get("name"), where)
        entry = item.get("entry")
        if not isinstance(entry, str) or entry not in names:
            raise ArchiveError(f"{where}: entry {entry!r} is not in the archive")
        count = item.get("documents")
        plan.append(PlannedEntry(collection, entry, count if isinstance(count, int) else None))
    database = manifest.get("database")
    return (database if isinstance(database, str) else None), plan


def import_archive(
    path: str | os.PathLike[str],
    insert_for: Callable[[str], InsertMany],
    *,
    ordered: bool = True,
    on_error: str = "stop",
    batch_size: int = 1000,
    cancel: threading.Event | None = None,
    progress: NamedProgress | None = None,
) -> ArchiveImportReport:
    """Import every entry of the archive at ``path`` into its collection, inserting through
    ``insert_for(collection)``. Progress counts across the whole archive (the manifest's
    counts give the total); ``on_error="stop"`` ends the whole import at the first error."""
    source_database, plan = read_plan(path)
    result = ArchiveImportReport(source_database)
    counts = [item.documents for item in plan]
    total = sum(c for c in counts if c is not None) if None not in counts else None
    started = time.monotonic()
    done_documents = done_bytes = 0
    with zipfile.ZipFile(path) as archive:
        for item in plan:
            def report(p: Progress, entry: str = item.entry, documents: int = done_documents,
                       nbytes: int = done_bytes) -> None:
                if progress is not None:
                    progress(entry, Progress(documents + p.documents, nbytes + p.bytes,
                                             time.monotonic() - started, total))

            def open_entry(name: str = item.entry) -> IO[bytes]:
                return archive.open(name)

            entry_report = import_stream(
                open_entry, item.entry, insert_for(item.collection), ordered=ordered,
                on_error=on_error, batch_size=batch_size, cancel=cancel, progress=report)  # fmt: skip
            result.entries.append(EntryReport(item.collection, item.entry, entry_report))
            done_documents += len(entry_report.written_lines()) + len(entry_report.failures)
            done_bytes += archive.getinfo(item.entry).file_size
            if entry_report.cancelled:
                result.cancelled = True
                break
            if entry_report.stopped:
                result.stopped = True
                break
    return result


def describe_archive_import(result: ArchiveImportReport, database: str) -> str:
    """The dialog's final report: per entry what was written and every failed line."""
    lines = [f"Inserted {result.written_count:,} documents into {database} from "
             f"{len(result.entries)} archive entr{'y' if len(result.entries) == 1 else 'ies'}."]
    for item in result.entries:
        report = item.report
        lines.append(f"{item.entry} → {item.collection}: {report.written_count:,} inserted"
                     + (f", {len(report.failures)} failed" if report.failures else ""))
        for first, last in report.unknown:
            lines.append(f"  {item.entry} lines {first}-{last}: outcome unknown "
                         "(connection lost)")  # fmt: skip
    if result.cancelled:
        lines.append("Cancelled: the documents above were written, nothing else.")
    elif result.stopped:
        lines.append("Stopped at the first error.")
    failures = result.failures()
    if failures:
        lines.append(f"{len(failures)} line(s) failed:")
        lines.extend(f"  {entry} line {f.line}: {f.reason}" for entry, f in failures)
    return "\n".join(lines)
