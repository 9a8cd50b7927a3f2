"""Where Binnacle keeps its files, and how it writes them safely.

* ``data_dir()``: ``QStandardPaths.AppDataLocation`` (per user), or the folder named by
  ``BINNACLE_DATA_DIR`` (tests, portable installs).
* ``atomic_write(path, data)``: temp file in the same folder, ``fsync``, ``os.replace``,
  then ``fsync`` of the folder, so a crash (even ``kill -9``) leaves either the old or
  the new file, never a torn one.
* ``load_json_document``: reads a versioned JSON file; one that fails to parse is moved
  aside as ``name.corrupt-YYYYmmddTHHMMSSZ`` and a notice for the user is returned, so
  the app still starts.
* ``Preferences``: small settings such as the theme (``system``/``light``/``dark``).
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

DATA_DIR_ENV = "BINNACLE_DATA_DIR"


def data_dir() -> Path:
    """The per-user data folder (created on first use)."""
    override = os.environ.get(DATA_DIR_ENV)
    if override:
        folder = Path(override)
    else:
        from PySide6.QtCore import QStandardPaths

        location = QStandardPaths.writableLocation(
            QStandardPaths.StandardLocation.AppDataLocation
        )
        if not location:
            raise RuntimeError("the system offers no writable application data folder")
        folder = Path(location)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def atomic_write(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data`` so that readers see the old or the new bytes only."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        if path.exists():
            # Keep the owner-only permissions of an existing file across the replace.
            os.chmod(temp_name, path.stat().st_mode & 0o777)
        os.replace(temp_name, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp_name)
        raise
    _fsync_dir(path.parent)


def _fsync_dir(folder: Path) -> None:
    # The rename itself is durable only once the folder entry is flushed (POSIX);
    # Windows cannot open folders this way and makes the rename durable itself.
    if os.name != "posix":
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def remove_stale_temp_files(path: Path, older_than_s: float = 60.0) -> int:
    """Delete temp files a killed writer left next to ``path``; returns how many."""
    removed = 0
    now = time.time()
    for candidate in path.parent.glob(f".{path.name}.*.tmp"):
        with contextlib.suppress(OSError):
            if now - candidate.stat().st_mtime >= older_than_s:
                candidate.unlink()
                removed += 1
    return removed


@dataclass(frozen=True)
class LoadResult:
    """A loaded document (``None`` if the file was absent or unusable) and notices."""

    document: dict[str, Any] | None
    notices: tuple[str, ...] = ()
    moved_aside: Path | None = None
    migrated_from: int | None = None  # the file's version when migrations ran


def move_aside(path: Path) -> Path:
    """Rename a broken file to ``name.corrupt-<UTC timestamp>`` and return the new path."""
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    target = path.with_name(f"{path.name}.corrupt-{stamp}")
    counter = 1
    while target.exists():
        counter += 1
        target = path.with_name(f"{path.name}.corrupt-{stamp}-{counter}")
    os.replace(path, target)
    return target


def load_json_document(
    path: Path,
    current_version: int,
    migrations: Mapping[int, Callable[[dict[str, Any]], dict[str, Any]]],
    what: str,
) -> LoadResult:
    """Read ``path``, migrating from older ``schema_version``s step by step.

    ``migrations[n]`` turns a version-``n`` document into version ``n + 1``.
    """
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return LoadResult(None)
    try:
        document = json.loads(raw.decode("utf-8"))
        if not isinstance(document, dict):
            raise ValueError(f"expected a JSON object, found {type(document).__name__}")
        version = document.get("schema_version", 1)
        if not isinstance(version, int) or version < 1:
            raise ValueError(f"schema_version must be a positive integer, not {version!r}")
    except (UnicodeDecodeError, ValueError) as exc:
        aside = move_aside(path)
        notice = (
            f"Your {what} file could not be read ({exc}). It was kept as {aside.name} and "
            f"Binnacle started with an empty list."
        )
        return LoadResult(None, (notice,), aside)
    if version > current_version:
        notice = (
            f"Your {what} file was written by a newer Binnacle (schema {version}); it is "
            f"opened read-only so that nothing in it is lost."
        )
        return LoadResult(document, (notice,))
    original = version
    while version < current_version:
        document = migrations[version](document)
        version += 1
        document["schema_version"] = version
    return LoadResult(document, migrated_from=original if original != version else None)


class Preferences:
    """Small user settings kept in ``settings.json`` in the data folder."""

    VERSION = 1
    THEMES = ("system", "light", "dark")

    def __init__(self, folder: Path | None = None) -> None:
        self.path = (folder or data_dir()) / "settings.json"
        loaded = load_json_document(self.path, self.VERSION, {}, "settings")
        self.notices = loaded.notices
        self._values: dict[str, Any] = dict(loaded.document or {})

    @property
    def theme(self) -> str:
        value = self._values.get("theme", "system")
        return value if value in self.THEMES else "system"

    @theme.setter
    def theme(self, value: str) -> None:
        if value not in self.THEMES:
            raise ValueError(f"theme must be one of {', '.join(self.THEMES)}, not {value!r}")
        self._values["theme"] = value

    def save(self) -> None:
        document = {**self._values, "schema_version": self.VERSION}
        atomic_write(self.path, json.dumps(document, indent=2).encode("utf-8"))


class QueuedWriter:
    """Writes files atomically on one background thread, newest content per file wins.

    The GUI hands over bytes and returns at once (no file I/O on the GUI thread); writes
    keep their order, and a file changed again before its write started is written
    once with the newest bytes. ``flush`` waits (at exit); ``close`` flushes and stops.
    ``on_error(path, exc)`` is called on the writer thread: hand it to the GUI through
    a signal, never touch widgets from it.
    """

    def __init__(self, on_error: Callable[[Path, BaseException], None] | None = None) -> None:
        import threading

        self._pending: dict[Path, bytes] = {}
        self._busy = False
        self._closed = False
        self._condition = threading.Condition()
        self._on_error = on_error
        self.errors: list[tuple[Path, BaseException]] = []
        self._thread = threading.Thread(target=self._run, name="binnacle-file-writer", daemon=True)
        self._thread.start()

    def __call__(self, path: Path, data: bytes) -> None:
        with self._condition:
            if self._closed:
                raise RuntimeError("the file writer is closed")
            self._pending.pop(path, None)  # re-queue at the end: order of last change
            self._pending[path] = data
            self._condition.notify_all()

    def _run(self) -> None:
        while True:
            with self._condition:
                while not self._pending and not self._closed:
                    self._condition.wait()
                if not self._pending:
                    return
                path = next(iter(self._pending))
                data = self._pending.pop(path)
                self._busy = True
            try:
                atomic_write(path, data)
            except OSError as exc:
                self.errors.append((path, exc))
                if self._on_error is not None:
                    self._on_error(path, exc)
            finally:
                with self._condition:
                    self._busy = False
                    self._condition.notify_all()

    def flush(self, timeout: float | None = 10.0) -> bool:
        """Wait until every queued write is done; False on timeout."""
        with self._condition:
            return self._condition.wait_for(lambda: not self._pending and not self._busy, timeout)

    def close(self, timeout: float | None = 10.0) -> bool:
        done = self.flush(timeout)
        with self._condition:
            self._closed = True
            self._condition.notify_all()
        self._thread.join(timeout)
        return done and not self._thread.is_alive()
