"""Query history and named favourite queries, per collection, in ``queries.json``.

File shape (``schema_version`` 1)::

    {"schema_version": 1,
     "collections": {
        "<connection id>/<db>.<collection>": {
            "history": [{"query": {...fields as typed...}, "at": "2024-05-01T12:00:00Z"}, ...],
            "favorites": [{"name": "big orders", "query": {...}}, ...]}}}

Queries are stored as the text the user typed in each query-bar field (filter, project,
sort, collation, skip, limit, maxTimeMS, hint), so they come back exactly as written,
comments included. The newest history entry comes first; running the same query again
moves it to the front; ``HISTORY_LIMIT`` (50) entries are kept per collection. Writes go
through ``app.settings.atomic_write``; an unreadable file is moved aside (never lost).
A file from a newer Binnacle is opened read-only.
"""

from __future__ import annotations

import datetime
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from app.settings import atomic_write, data_dir, load_json_document, remove_stale_temp_files

HISTORY_LIMIT = 50
SCHEMA_VERSION = 1
FILE_NAME = "queries.json"
QUERY_FIELDS = ("filter", "project", "sort", "collation", "skip", "limit", "maxTimeMS", "hint")


def _clean_query(query: Mapping[str, str]) -> dict[str, str]:
    unknown = sorted(set(query) - set(QUERY_FIELDS))
    if unknown:
        raise ValueError(f"unknown query field(s) {unknown}; expected {list(QUERY_FIELDS)}")
    for name, text in query.items():
        if not isinstance(text, str):
            raise TypeError(f"query field {name!r} must be the text typed, not {text!r}")
    # Blank fields are not worth remembering; they make equal queries look different.
    return {name: query[name] for name in QUERY_FIELDS if query.get(name, "").strip()}


class QueryStore:
    """History and favourites of queries; ``key`` names a collection on a connection."""

    def __init__(self, folder: Path | None = None) -> None:
        self._path = (folder or data_dir()) / FILE_NAME
        remove_stale_temp_files(self._path)
        loaded = load_json_document(self._path, SCHEMA_VERSION, {}, "query history")
        self.notices = loaded.notices
        self.read_only = loaded.document is not None and (
            loaded.document.get("schema_version", 1) > SCHEMA_VERSION
        )
        document = loaded.document or {}
        collections = document.get("collections", {})
        self._collections: dict[str, dict[str, list[dict[str, Any]]]] = (
            collections if isinstance(collections, dict) else {}
        )

    @staticmethod
    def key(connection_id: str, database: str, collection: str) -> str:
        return f"{connection_id}/{database}.{collection}"

    def _entry(self, key: str) -> dict[str, list[dict[str, Any]]]:
        return self._collections.setdefault(key, {"history": [], "favorites": []})

    # -- history ------------------------------------------------------------------
    def history(self, key: str) -> list[dict[str, str]]:
        """Newest first."""
        return [dict(item["query"]) for item in self._collections.get(key, {}).get("history", [])]

    def record(
        self, key: str, query: Mapping[str, str], *, now: datetime.datetime | None = None
    ) -> None:
        cleaned = _clean_query(query)
        if not cleaned:
            return  # the empty query is always one click away
        entry = self._entry(key)
        history = [item for item in entry["history"] if item["query"] != cleaned]
        moment = (now or datetime.datetime.now(datetime.UTC)).strftime("%Y-%m-%dT%H:%M:%SZ")
        history.insert(0, {"query": cleaned, "at": moment})
        entry["history"] = history[:HISTORY_LIMIT]
        self._save()

    def clear_history(self, key: str) -> None:
        if key in self._collections:
            self._collections[key]["history"] = []
            self._save()

    # -- favourites ---------------------------------------------------------------
    def favorites(self, key: str) -> dict[str, dict[str, str]]:
        items = self._collections.get(key, {}).get("favorites", [])
        return {item["name"]: dict(item["query"]) for item in items}

    def save_favorite(self, key: str, name: str, query: Mapping[str, str]) -> None:
        name = name.strip()
        if not name:
            raise ValueError("a favourite query needs a name")
        entry = self._entry(key)
        others = [item for item in entry["favorites"] if item["name"] != name]
        entry["favorites"] = [*others, {"name": name, "query": _clean_query(query)}]
        self._save()

    def remove_favorite(self, key: str, name: str) -> bool:
        entry = self._collections.get(key)
        if entry is None:
            return False
        before = len(entry["favorites"])
        entry["favorites"] = [item for item in entry["favorites"] if item["name"] != name]
        if len(entry["favorites"]) == before:
            return False
        self._save()
        return True

    # -- file ---------------------------------------------------------------------
    def _save(self) -> None:
        if self.read_only:
            raise PermissionError(
                f"{self._path.name} was written by a newer Binnacle; it is kept read-only"
            )
        document = {"schema_version": SCHEMA_VERSION, "collections": self._collections}
        text = json.dumps(document, ensure_ascii=False, indent=1, sort_keys=True)
        atomic_write(self._path, text.encode("utf-8"))
