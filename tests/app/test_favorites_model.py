"""The favorites tree model: Qt's model tester, drag and drop into folders, search."""

from __future__ import annotations

from PySide6.QtCore import QModelIndex, Qt

from app.connect.favorites import FavoritesStore
from app.connect.favorites_model import (
    MIME_TYPE,
    FavoritesFilterModel,
    FavoritesModel,
    IdRole,
    KindRole,
)


def _store(data_dir):
    store = FavoritesStore()
    store.add_folder("Work")
    store.add_folder("Archive")
    store.save_favorite("Prod", "mongodb://prod1.example,prod2.example/", folder="Work", color="red")
    store.save_favorite("Local", "mongodb://localhost")
    store.save_favorite("Atlas", "mongodb+srv://cluster0.ab12c.mongodb.net/")
    return store


def test_model_passes_qt_model_tester(qtmodeltester, data_dir):
    model = FavoritesModel(_store(data_dir))
    qtmodeltester.check(model, force_py=True)
    qtmodeltester.check(model)
    proxy = FavoritesFilterModel()
    proxy.setSourceModel(model)
    proxy.sort_by("name")
    qtmodeltester.check(proxy)


def test_tree_shape_and_data(data_dir):
    model = FavoritesModel(_store(data_dir))
    top = [model.index(r, 0).data() for r in range(model.rowCount())]
    assert top == ["Archive", "Work", "Local", "Atlas"]
    work = model.index(1, 0)
    assert model.data(work, KindRole) == "folder"
    prod = model.index(0, 0, work)
    assert prod.data() == "Prod" and prod.parent() == work
    assert prod.data(Qt.ItemDataRole.DecorationRole).name() == "#d64545"
    assert "prod2.example" in prod.data(Qt.ItemDataRole.ToolTipRole)
    assert model.rowCount(model.index(0, 0)) == 0  # empty folder


def test_drop_moves_favorites_into_a_folder_and_saves(data_dir):
    store = _store(data_dir)
    model = FavoritesModel(store)
    local = model.index(2, 0)
    mime = model.mimeData([local])
    assert mime.hasFormat(MIME_TYPE)
    archive = model.index(0, 0)
    assert model.canDropMimeData(mime, Qt.DropAction.MoveAction, -1, 0, archive)
    assert not model.canDropMimeData(mime, Qt.DropAction.MoveAction, -1, 0, model.index(2, 0))
    model.dropMimeData(mime, Qt.DropAction.MoveAction, -1, 0, archive)
    archive = model.index(0, 0)
    assert [model.index(r, 0, archive).data() for r in range(model.rowCount(archive))] == ["Local"]
    assert {f.name: f.folder for f in FavoritesStore().favorites}["Local"] == "Archive"
    # And back to the top level by dropping on the root.
    child = model.index(0, 0, model.index(0, 0))
    model.dropMimeData(model.mimeData([child]), Qt.DropAction.MoveAction, -1, 0, QModelIndex())
    assert {f.name: f.folder for f in store.favorites}["Local"] == ""


def test_rename_through_the_model(data_dir):
    store = _store(data_dir)
    model = FavoritesModel(store)
    assert model.setData(model.index(2, 0), "Laptop")
    assert model.index(2, 0).data() == "Laptop"
    assert not model.setData(model.index(2, 0), "  ")
    assert model.setData(model.index(1, 0), "Job")
    assert store.folders == ["Job", "Archive"]
    assert {f.name: f.folder for f in store.favorites}["Prod"] == "Job"


def test_search_keeps_matching_favorites_and_their_folders(data_dir):
    model = FavoritesModel(_store(data_dir))
    proxy = FavoritesFilterModel()
    proxy.setSourceModel(model)
    proxy.setFilterFixedString("PROD2")
    assert proxy.rowCount() == 1
    work = proxy.index(0, 0)
    assert work.data() == "Work"
    assert proxy.index(0, 0, work).data() == "Prod"
    proxy.setFilterFixedString("mongodb.net")
    assert [proxy.index(r, 0).data() for r in range(proxy.rowCount())] == ["Atlas"]
    proxy.setFilterFixedString("")
    proxy.sort_by("name")
    assert [proxy.index(r, 0).data() for r in range(proxy.rowCount())] == [
        "Archive", "Work", "Atlas", "Local"
    ]
    assert proxy.index(2, 0).data(IdRole)
