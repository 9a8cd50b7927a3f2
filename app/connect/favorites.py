"""Favorites and recents: a versioned JSON file in the data folder, secrets elsewhere.

File shape (``favorites.json``, ``schema_version`` 3)::

    {"schema_version": 3,
     "folders": ["Production", "Staging"],
     "favorites": [{"id", "name", "uri", "folder", "color", "created", "updated",
                    "last_used", "has_secret", "read_only"}],
     "recents": [{"uri", "name", "used"}]}

``uri`` is always the *public* string: ``split_secrets`` takes the password and key
passphrase out before anything is written, and they go to the ``SecretStore`` (keychain,
session memory or encrypted file) under the favorite's id. Writes are atomic
(``app.settings.atomic_write``); an unreadable file is moved aside and reported in
``notices``; a file from a newer Binnacle is opened read-only.

Version 3 added ``read_only`` (open the connection with every write path disabled). The
version was raised, not just the field added, on purpose: a Binnacle that knows only
version 2 would drop the unknown field when it saves, silently making a production
favorite writable again; seeing version 3 it opens the file read-only instead.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from app.connect.secrets import (
    MemorySecretStore,
    SecretStore,
    UriSecrets,
    _split_authority,
    split_secrets,
)
from app.settings import atomic_write, data_dir, load_json_document, remove_stale_temp_files

SCHEMA_VERSION = 3
MAX_RECENTS = 20
COLORS = {
    "": "no colour",
    "red": "#d64545",
    "orange": "#e08a2c",
    "yellow": "#d9b72b",
    "green": "#3f9e4d",
    "teal": "#2b9e9e",
    "blue": "#3d7bd9",
    "purple": "#8a55c9",
    "grey": "#8a8a8a",
}
SORT_KEYS = ("name", "last_used", "created", "host")


class FavoritesReadOnly(RuntimeError):
    """The file belongs to a newer Binnacle; saving would lose what it added."""


@dataclass(frozen=True)
class Favorite:
    id: str
    name: str
    uri: str
    folder: str = ""
    color: str = ""
    created: float = 0.0
    updated: float = 0.0
    last_used: float | None = None
    has_secret: bool = False
    read_only: bool = False  # connect with writes disabled (a production cluster...)

    @property
    def hosts(self) -> str:
        return _split_authority(self.uri)[2]

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Favorite:
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in data.items() if k in known}
        # Only a real ``true`` makes a connection read-only (a hand edit may write "no").
        values["read_only"] = values.get("read_only") is True
        return cls(**values)


@dataclass(frozen=True)
class Recent:
    uri: str
    name: str
    used: float = field(default_factory=time.time)


def _migrate_v1(document: dict[str, Any]) -> dict[str, Any]:
    """Version 1 kept ``connections: [{name, uri, colour}]`` and no folders or recents."""
    now = time.time()
    favorites = [
        {
            "id": uuid.uuid4().hex,
            "name": item.get("name") or "Unnamed",
            "uri": item.get("uri", ""),
            "color": item.get("colour", "") if item.get("colour", "") in COLORS else "",
            "folder": "",
            "created": now,
            "updated": now,
        }
        for item in document.get("connections", [])
    ]
    return {"schema_version": 1, "folders": [], "favorites": favorites, "recents": []}


def _migrate_v2(document: dict[str, Any]) -> dict[str, Any]:
    """Version 2 had no ``read_only``: every favorite stays writable, as it was."""
    favorites = [dict(item, read_only=False) if isinstance(item, dict) else item
                 for item in document.get("favorites", [])]
    return {**document, "favorites": favorites}


MIGRATIONS = {1: _migrate_v1, 2: _migrate_v2}


def host_summary(uri: str) -> str:
    """What a recent shows as its name: the host list of the URI."""
    return _split_authority(uri)[2] or uri


class FavoritesStore:
    """Favorites, folders and recents, saved after every change (the file is small)."""

    def __init__(
        self,
        folder: Path | None = None,
        secret_store: SecretStore | None = None,
        *,
        autosave: bool = True,
        writer: Callable[[Path, bytes], None] = atomic_write,
    ) -> None:
        self.path = (folder or data_dir()) / "favorites.json"
        # The GUI passes a ``QueuedWriter`` so saves never block it; tests and tools
        # write synchronously.
        self.writer = writer
        self.secrets: SecretStore = secret_store or MemorySecretStore()
        self.autosave = autosave
        self.favorites: list[Favorite] = []
        self.folders: list[str] = []
        self.recents: list[Recent] = []
        self.notices: list[str] = []
        self.read_only = False
        self.load()

    # -- file -----------------------------------------------------------------------
    def load(self) -> None:
        remove_stale_temp_files(self.path)
        result = load_json_document(self.path, SCHEMA_VERSION, MIGRATIONS, "favorites")
        self.notices = list(result.notices)
        document = result.document or {}
        self.read_only = document.get("schema_version", SCHEMA_VERSION) > SCHEMA_VERSION
        try:
            self.favorites = [Favorite.from_json(x) for x in document.get("favorites", [])]
            self.folders = [str(x) for x in document.get("folders", [])]
            self.recents = [Recent(**x) for x in document.get("recents", [])][:MAX_RECENTS]
        except (TypeError, AttributeError) as exc:
            self.favorites, self.folders, self.recents = [], [], []
            self.notices.append(f"Your favorites file has entries Binnacle cannot use: {exc}")
        # Defence in depth: a secret found in the file (an old version, a hand edit)
        # is moved to the secret store and the file rewritten without it.
        moved = False
        for index, favorite in enumerate(self.favorites):
            public, found = split_secrets(favorite.uri)
            if found:
                self.secrets.set(favorite.id, found)
                self.favorites[index] = replace(favorite, uri=public, has_secret=True)
                moved = True
        for index, recent in enumerate(self.recents):
            public, found = split_secrets(recent.uri)
            if found:
                self.recents[index] = replace(recent, uri=public)
                moved = True
        if (moved or result.migrated_from is not None) and not self.read_only:
            self.save()

    def to_document(self) -> dict[str, Any]:
        return {
            "schema_version": SCHEMA_VERSION,
            "folders": list(self.folders),
            "favorites": [asdict(f) for f in self.favorites],
            "recents": [asdict(r) for r in self.recents],
        }

    def save(self) -> None:
        if self.read_only:
            raise FavoritesReadOnly(
                "the favorites file was written by a newer Binnacle; it is read-only here"
            )
        data = json.dumps(self.to_document(), indent=2, ensure_ascii=False).encode("utf-8")
        self.writer(self.path, data)

    def _changed(self) -> None:
        if self.autosave:
            self.save()

    # -- favorites ------------------------------------------------------------------
    def get(self, favorite_id: str) -> Favorite:
        for favorite in self.favorites:
            if favorite.id == favorite_id:
                return favorite
        raise KeyError(f"no favorite with id {favorite_id!r}")

    def _put(self, favorite: Favorite) -> Favorite:
        for index, existing in enumerate(self.favorites):
            if existing.id == favorite.id:
                self.favorites[index] = favorite
                break
        else:
            self.favorites.append(favorite)
        self._changed()
        return favorite

    def save_favorite(
        self,
        name: str,
        uri: str,
        *,
        folder: str = "",
        color: str = "",
        favorite_id: str | None = None,
        read_only: bool = False,
    ) -> Favorite:
        """Add or update a favorite; its secrets go to the secret store, not the file.

        ``read_only``: Binnacle opens this connection with every write path disabled.
        The secret store is called on this thread: the GUI uses ``save_favorite_later``.
        """
        favorite, found = self._prepared(name, uri, folder, color, favorite_id, read_only)
        self._store_secret(favorite.id, found, replacing=favorite_id is not None)
        return self._put(replace(favorite, has_secret=bool(found) and self.secrets.persistent))

    def save_favorite_later(
        self,
        name: str,
        uri: str,
        *,
        folder: str = "",
        color: str = "",
        favorite_id: str | None = None,
        read_only: bool = False,
    ) -> tuple[Favorite, Callable[[], bool]]:
        """``save_favorite`` without touching the secret store: the favorite is saved
        now, and the returned call stores (or clears) its secret. That call touches only
        ``self.secrets``, so it may run on a worker thread; it returns whether a secret
        was stored (report it with ``secret_saved``)."""
        favorite, found = self._prepared(name, uri, folder, color, favorite_id, read_only)
        saved = self._put(replace(favorite, has_secret=False))
        replacing = favorite_id is not None
        return saved, lambda: self._store_secret(saved.id, found, replacing=replacing)

    def secret_saved(self, favorite_id: str) -> None:
        """The secret store now holds this favorite's secret (it may be gone since)."""
        if self.secrets.persistent and any(f.id == favorite_id for f in self.favorites):
            self._put(replace(self.get(favorite_id), has_secret=True))

    def _prepared(self, name: str, uri: str, folder: str, color: str,
                  favorite_id: str | None, read_only: bool) -> tuple[Favorite, UriSecrets]:
        """The favorite to save (checked, not yet stored) and the secrets taken out."""
        name = _check_name(name)
        _check_color(color)
        if favorite_id is not None:
            self.get(favorite_id)
        if folder and folder not in self.folders:
            self.folders.append(folder)
        public, found = split_secrets(uri)
        now = time.time()
        if favorite_id is None:
            favorite = Favorite(uuid.uuid4().hex, name, public, folder, color, now, now,
                                read_only=bool(read_only))
        else:
            favorite = replace(
                self.get(favorite_id), name=name, uri=public, folder=folder, color=color, updated=now,
                read_only=bool(read_only),
            )
        return favorite, found

    def _store_secret(self, favorite_id: str, found: UriSecrets, *, replacing: bool) -> bool:
        if found:
            self.secrets.set(favorite_id, found)
        elif replacing:
            self.secrets.delete(favorite_id)
        return bool(found)

    def rename(self, favorite_id: str, name: str) -> Favorite:
        return self._put(replace(self.get(favorite_id), name=_check_name(name), updated=time.time()))

    def set_color(self, favorite_id: str, color: str) -> Favorite:
        _check_color(color)
        return self._put(replace(self.get(favorite_id), color=color, updated=time.time()))

    def set_read_only(self, favorite_id: str, read_only: bool) -> Favorite:
        """Open this favorite's connection read-only (or writable) from now on."""
        return self._put(replace(self.get(favorite_id), read_only=bool(read_only),
                                 updated=time.time()))

    def duplicate(self, favorite_id: str, *, copy_secret: bool = True) -> Favorite:
        """A copy named "... (copy)"; ``copy_secret=False`` leaves the secret store alone
        (the GUI then runs ``copy_secret`` on a worker thread)."""
        original = self.get(favorite_id)
        taken = {f.name for f in self.favorites}
        name = f"{original.name} (copy)"
        counter = 2
        while name in taken:
            name = f"{original.name} (copy {counter})"
            counter += 1
        now = time.time()
        copy = replace(original, id=uuid.uuid4().hex, name=name, created=now, updated=now)
        if copy_secret:
            self.copy_secret(original.id, copy.id)
        return self._put(copy)

    def copy_secret(self, from_id: str, to_id: str) -> None:
        """Give ``to_id`` the secret of ``from_id`` (touches only ``self.secrets``)."""
        found = self.secrets.get(from_id)
        if found:
            self.secrets.set(to_id, found)

    def delete(self, favorite_id: str, *, forget_secret: bool = True) -> None:
        """Remove a favorite; ``forget_secret=False`` leaves its secret for the caller to
        delete from ``self.secrets`` (off the GUI thread)."""
        self.get(favorite_id)
        self.favorites = [f for f in self.favorites if f.id != favorite_id]
        if forget_secret:
            self.secrets.delete(favorite_id)
        self._changed()

    def uri_with_secrets(self, favorite_id: str) -> tuple[str, bool]:
        """The URI to connect with, and whether its secret is missing (ask the user)."""
        return self.uri_with(favorite_id, self.secrets.get(favorite_id))

    def uri_with(self, favorite_id: str, found: UriSecrets | None) -> tuple[str, bool]:
        """``uri_with_secrets`` for secrets already read from the store."""
        from app.connect.secrets import join_secrets

        favorite = self.get(favorite_id)
        if found:
            return join_secrets(favorite.uri, found), False
        # A user name without a stored password: ask (X.509 takes no password).
        has_user = bool(_split_authority(favorite.uri)[1])
        needs_password = has_user and "mongodb-x509" not in favorite.uri.lower()
        return favorite.uri, needs_password

    def mark_used(self, favorite_id: str) -> Favorite:
        return self._put(replace(self.get(favorite_id), last_used=time.time()))

    # -- folders --------------------------------------------------------------------
    def add_folder(self, name: str) -> None:
        name = _check_name(name, what="folder name")
        if name in self.folders:
            raise ValueError(f"a folder named {name!r} already exists")
        self.folders.append(name)
        self._changed()

    def rename_folder(self, old: str, new: str) -> None:
        new = _check_name(new, what="folder name")
        if old not in self.folders:
            raise KeyError(f"no folder named {old!r}")
        if new != old and new in self.folders:
            raise ValueError(f"a folder named {new!r} already exists")
        self.folders[self.folders.index(old)] = new
        self.favorites = [replace(f, folder=new) if f.folder == old else f for f in self.favorites]
        self._changed()

    def delete_folder(self, name: str) -> None:
        """Remove a folder; its favorites move to the top level (nothing is lost)."""
        if name not in self.folders:
            raise KeyError(f"no folder named {name!r}")
        self.folders.remove(name)
        self.favorites = [replace(f, folder="") if f.folder == name else f for f in self.favorites]
        self._changed()

    def move_to_folder(self, favorite_ids: Iterable[str], folder: str) -> None:
        if folder and folder not in self.folders:
            raise KeyError(f"no folder named {folder!r}")
        ids = set(favorite_ids)
        for favorite_id in ids:
            self.get(favorite_id)
        self.favorites = [replace(f, folder=folder) if f.id in ids else f for f in self.favorites]
        self._changed()

    # -- sort and search ------------------------------------------------------------
    def sorted(self, key: str = "name", favorites: Iterable[Favorite] | None = None) -> list[Favorite]:
        if key not in SORT_KEYS:
            raise ValueError(f"sort key must be one of {', '.join(SORT_KEYS)}, not {key!r}")
        items = list(self.favorites if favorites is None else favorites)
        if key == "name":
            return sorted(items, key=lambda f: f.name.casefold())
        if key == "host":
            return sorted(items, key=lambda f: f.hosts.casefold())
        if key == "created":
            return sorted(items, key=lambda f: f.created, reverse=True)
        return sorted(items, key=lambda f: f.last_used or 0.0, reverse=True)

    def search(self, text: str) -> list[Favorite]:
        """Favorites whose name or host list contains ``text`` (case-insensitive)."""
        needle = text.strip().casefold()
        return [f for f in self.favorites if needle in f.name.casefold() or needle in f.hosts.casefold()]

    # -- recents --------------------------------------------------------------------
    def add_recent(self, uri: str) -> Recent:
        """Remember a connection (without its secrets); the newest 20 are kept."""
        public, _ = split_secrets(uri)
        recent = Recent(public, host_summary(public), time.time())
        self.recents = [recent] + [r for r in self.recents if r.uri != public]
        del self.recents[MAX_RECENTS:]
        self._changed()
        return recent

    def clear_recents(self) -> None:
        self.recents = []
        self._changed()


def _check_name(name: str, what: str = "name") -> str:
    cleaned = name.strip()
    if not cleaned:
        raise ValueError(f"the {what} must not be empty")
    if len(cleaned) > 200:
        raise ValueError(f"the {what} is too long ({len(cleaned)} characters, at most 200)")
    return cleaned


def _check_color(color: str) -> None:
    if color not in COLORS:
        raise ValueError(f"unknown colour label {color!r}; use one of {', '.join(c for c in COLORS if c)}")
