"""Import and export of favorites as JSON files.

Export shape::

    {"type": "Binnacle Favorites", "schema_version": 1, "folders": [...],
     "favorites": [{"name", "uri", "folder", "color"}],
     "secrets": <sealed envelope>}        # only when the user gave a passphrase

URIs in ``favorites`` are always public (``split_secrets``); the secrets travel only
inside the envelope (scrypt + AES-GCM, see ``app.connect.secrets``), keyed by position.

Import reads that shape, and MongoDB Compass's "Export Saved Connections" file
(``{"type": "Compass Connections", "connections": [{"connectionOptions":
{"connectionString"}, "favorite": {"name", "color"}}]}``). Compass's own encrypted
``connectionSecrets`` cannot be read here; such passwords are asked for at connect time.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from app.connect.favorites import COLORS, FavoritesStore
from app.connect.secrets import UriSecrets, seal, split_secrets, unseal

EXPORT_TYPE = "Binnacle Favorites"
EXPORT_PURPOSE = "binnacle-favorites-export-v1"

# Compass labels its colours color1..color10; these are the nearest of ours.
_COMPASS_COLORS = {
    "color1": "red", "color2": "orange", "color3": "yellow", "color4": "green",
    "color5": "teal", "color6": "blue", "color7": "purple", "color8": "grey",
    "color9": "purple", "color10": "grey",
}


class ImportError_(ValueError):
    """The file is not a favorites export we can read (the message says why)."""


@dataclass
class ImportedFavorite:
    name: str
    uri: str
    folder: str = ""
    color: str = ""
    secrets: UriSecrets = field(default_factory=UriSecrets)


@dataclass
class ImportResult:
    favorites: list[ImportedFavorite]
    notices: list[str] = field(default_factory=list)


def export_favorites(
    store: FavoritesStore, ids: list[str] | None = None, passphrase: str | None = None
) -> bytes:
    """The export file's bytes. Secrets are included only sealed with ``passphrase``."""
    chosen = [f for f in store.favorites if ids is None or f.id in ids]
    entries = []
    sealed: dict[str, dict[str, str]] = {}
    for index, favorite in enumerate(chosen):
        public, _ = split_secrets(favorite.uri)
        entries.append(
            {"name": favorite.name, "uri": public, "folder": favorite.folder, "color": favorite.color}
        )
        if passphrase:
            found = store.secrets.get(favorite.id)
            if found:
                sealed[str(index)] = found.as_dict()
    document: dict[str, Any] = {
        "type": EXPORT_TYPE,
        "schema_version": 1,
        "folders": sorted({f.folder for f in chosen if f.folder}),
        "favorites": entries,
    }
    if passphrase:
        document["secrets"] = seal(passphrase, json.dumps(sealed).encode(), EXPORT_PURPOSE)
    return json.dumps(document, indent=2, ensure_ascii=False).encode("utf-8")


def read_export(data: bytes, passphrase: str | None = None) -> ImportResult:
    """Parse an export (ours or Compass's); ``WrongPassphrase`` if it does not open."""
    try:
        document = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise ImportError_(f"the file is not JSON: {exc}") from None
    if not isinstance(document, dict):
        raise ImportError_("the file holds no favorites (expected a JSON object)")
    kind = document.get("type")
    if kind == EXPORT_TYPE:
        return _read_binnacle(document, passphrase)
    if kind == "Compass Connections" or "connections" in document:
        return _read_compass(document)
    raise ImportError_(f"unknown export type {kind!r}; expected {EXPORT_TYPE!r} or Compass's")


def _read_binnacle(document: dict[str, Any], passphrase: str | None) -> ImportResult:
    result = ImportResult([])
    secrets: dict[str, dict[str, str]] = {}
    if "secrets" in document:
        if passphrase:
            secrets = json.loads(unseal(passphrase, document["secrets"], EXPORT_PURPOSE))
        else:
            result.notices.append(
                "The file holds encrypted passwords; without its passphrase they were skipped."
            )
    for index, entry in enumerate(document.get("favorites", [])):
        uri = str(entry.get("uri", ""))
        public, found = split_secrets(uri)
        stored = secrets.get(str(index))
        color = entry.get("color", "")
        result.favorites.append(
            ImportedFavorite(
                name=str(entry.get("name") or public),
                uri=public,
                folder=str(entry.get("folder", "")),
                color=color if color in COLORS else "",
                secrets=UriSecrets(**stored) if stored else found,
            )
        )
    return result


def _read_compass(document: dict[str, Any]) -> ImportResult:
    result = ImportResult([])
    connections = document.get("connections")
    if not isinstance(connections, list):
        raise ImportError_("the Compass file has no list of connections")
    skipped_secrets = 0
    for entry in connections:
        options = entry.get("connectionOptions") or {}
        uri = options.get("connectionString")
        if not isinstance(uri, str):
            result.notices.append(f"Skipped a connection without a connection string ({entry.get('id')}).")
            continue
        favorite = entry.get("favorite") or {}
        public, found = split_secrets(uri)
        if entry.get("connectionSecrets"):
            skipped_secrets += 1
        result.favorites.append(
            ImportedFavorite(
                name=str(favorite.get("name") or public),
                uri=public,
                color=_COMPASS_COLORS.get(str(favorite.get("color")), ""),
                secrets=found,
            )
        )
    if skipped_secrets:
        result.notices.append(
            f"{skipped_secrets} connection(s) had passwords encrypted by Compass; Binnacle will "
            "ask for them at connect time."
        )
    return result


def import_into(store: FavoritesStore, imported: ImportResult, folder: str = "") -> list[str]:
    """Add imported favorites to ``store`` (secrets to its secret store); returns ids."""
    ids = []
    for item in imported.favorites:
        target_folder = folder or item.folder
        uri = item.uri
        if item.secrets:
            from app.connect.secrets import join_secrets

            uri = join_secrets(uri, item.secrets)
        ids.append(store.save_favorite(item.name, uri, folder=target_folder, color=item.color).id)
    return ids
