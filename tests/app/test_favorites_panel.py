"""The connection dialog's favorites panel: save as favorite, choose (with and without a
stored secret), recents, search and sort."""

from __future__ import annotations

import pytest

from app.connect.dialog import ConnectionDialog
from app.connect.favorites import FavoritesStore
from app.connect.favorites_model import IdRole
from app.connect.secrets import MemorySecretStore
from driver.connection_string.uri import parse_uri


@pytest.fixture
def store(data_dir):
    return FavoritesStore(secret_store=MemorySecretStore())


def _dialog(qtbot, store, uri="mongodb://localhost:27017"):
    dialog = ConnectionDialog(uri, favorites=store)
    qtbot.addWidget(dialog)
    return dialog


def _names(panel):
    proxy = panel.proxy
    return [proxy.index(r, 0).data() for r in range(proxy.rowCount())]


def test_save_as_favorite_keeps_the_secret_out_of_the_file(qtbot, store, data_dir):
    dialog = _dialog(qtbot, store, "mongodb://alice:Tr0ub4dor%263@db.example/?replicaSet=rs0")
    favorite_id = dialog.save_as_favorite("Prod")
    assert b"Tr0ub4dor" not in (data_dir / "favorites.json").read_bytes()
    assert _names(dialog.favorites_panel) == ["Prod"]
    # Same session: the secret store has the password, so choosing fills it in.
    dialog.load_uri("mongodb://other")
    dialog.favorites_panel.choose(favorite_id)
    assert parse_uri(dialog.uri()).password == "Tr0ub4dor&3"
    assert dialog.is_valid()
    assert store.get(favorite_id).last_used is not None


def test_choosing_a_favorite_without_its_secret_asks_for_the_password(qtbot, store, data_dir):
    first = _dialog(qtbot, store, "mongodb://alice:pw@db.example/")
    favorite_id = first.save_as_favorite("Prod")
    fresh = FavoritesStore(secret_store=MemorySecretStore())  # a new session, no keychain
    dialog = _dialog(qtbot, fresh)
    dialog.favorites_panel.choose(favorite_id)
    assert dialog.username_edit.text() == "alice"
    assert dialog.focusWidget() is dialog.password_edit
    assert not dialog.connect_button.isEnabled()


def test_save_refused_while_invalid(qtbot, store):
    dialog = _dialog(qtbot, store, "mongodb://h:99999")
    assert not dialog.save_button.isEnabled()
    with pytest.raises(ValueError, match="no valid connection"):
        dialog.save_as_favorite("Broken")


def test_connect_remembers_a_recent_and_recents_reload_without_secrets(qtbot, store):
    dialog = _dialog(qtbot, store, "mongodb://bob:hunter2@r.example:27018/")
    dialog.accept()
    again = _dialog(qtbot, store)
    recents = again.favorites_panel.recents
    assert recents.count() == 1 and recents.item(0).text() == "r.example:27018"
    again.favorites_panel._choose_recent(recents.item(0))
    assert again.username_edit.text() == "bob"
    assert "hunter2" not in again.uri()
    assert not again.connect_button.isEnabled()  # the password is asked for


def test_search_and_sort_in_the_panel(qtbot, store):
    store.save_favorite("zulu", "mongodb://alpha.example")
    store.save_favorite("Alpha", "mongodb://zed.example")
    used = store.save_favorite("mid", "mongodb://mid.example")
    store.mark_used(used.id)
    dialog = _dialog(qtbot, store)
    panel = dialog.favorites_panel
    assert _names(panel) == ["Alpha", "mid", "zulu"]
    panel.sort.setCurrentText("Last used")
    assert _names(panel)[0] == "mid"
    panel.search.setText("ZED")
    assert _names(panel) == ["Alpha"]
    panel.tree.setCurrentIndex(panel.proxy.index(0, 0))
    assert panel.selected_id() == ("favorite", panel.proxy.index(0, 0).data(IdRole))
