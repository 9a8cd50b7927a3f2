"""Themes (light/dark, following the OS by default), the main window's status bar and log
panel, start-up notices, and preferences saved atomically."""

from __future__ import annotations

import asyncio
import json

import pytest
from PySide6.QtGui import QPalette

from app.settings import Preferences, atomic_write
from app.theme import apply_theme, resolve_scheme
from app.window import MainWindow
from tests.app.test_e2e_window import dispose


@pytest.fixture
def restore_theme(qapp):
    palette, sheet = qapp.palette(), qapp.styleSheet()
    preference = qapp.property("binnacleThemePreference")
    yield qapp
    qapp.setPalette(palette)
    qapp.setStyleSheet(sheet)
    qapp.setProperty("binnacleThemePreference", preference)


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_explicit_themes_set_palette_and_style_sheet(restore_theme, scheme):
    assert apply_theme(restore_theme, scheme) == scheme
    window_colour = restore_theme.palette().color(QPalette.ColorRole.Window)
    assert (window_colour.lightness() < 128) is (scheme == "dark")
    assert 'QLabel[role="error"]' in restore_theme.styleSheet()


def test_system_theme_follows_the_platform(restore_theme):
    # Offscreen reports no scheme: the fallback reads the current palette's lightness.
    apply_theme(restore_theme, "dark")
    assert resolve_scheme("system") == "dark"
    apply_theme(restore_theme, "light")
    assert resolve_scheme("system") == "light"
    with pytest.raises(ValueError, match="system, light or dark"):
        resolve_scheme("sepia")


def test_status_bar_and_log_panel(qtbot):
    window = MainWindow()
    qtbot.addWidget(window)
    window.show()
    qtbot.waitExposed(window)
    window.show_topology("ReplicaSetWithPrimary", "db1.example:27017")
    assert window.topology_label.text() == "ReplicaSetWithPrimary"
    assert window.primary_label.text() == "Primary: db1.example:27017"
    window.show_topology("ReplicaSetNoPrimary", None)
    assert window.primary_label.text() == "No primary"
    window.append_log("find shop.orders 3 ms")
    assert window.log_panel.toPlainText() == "find shop.orders 3 ms"
    window.tell_user(["Your favorites file could not be read."])
    assert "could not be read" in window.statusBar().currentMessage()


def test_preferences_round_trip_and_validation(data_dir):
    prefs = Preferences()
    assert prefs.theme == "system"
    prefs.theme = "dark"
    prefs.save()
    assert Preferences().theme == "dark"
    assert json.loads((data_dir / "settings.json").read_text())["schema_version"] == 1
    with pytest.raises(ValueError, match="theme must be one of"):
        prefs.theme = "blue"


def test_atomic_write_replaces_and_leaves_no_temp_file(tmp_path):
    target = tmp_path / "f.json"
    atomic_write(target, b"one")
    target.chmod(0o600)
    atomic_write(target, b"two")
    assert target.read_bytes() == b"two"
    assert oct(target.stat().st_mode & 0o777) == "0o600"
    assert [p.name for p in tmp_path.iterdir()] == ["f.json"]


def test_connect_action_opens_the_dialog(qtbot, data_dir):
    from app.connect.dialog import ConnectionDialog
    from app.connect.favorites import FavoritesStore

    window = MainWindow()  # deleted by dispose() below, not by qtbot
    window.favorites = FavoritesStore()
    window.connect_action.trigger()
    dialog = window.findChild(ConnectionDialog)
    assert dialog is not None and dialog.isVisible()
    dialog.accept()
    assert window.favorites.recents[0].uri == "mongodb://localhost:27017"
    # Deleted now: its queued "open this connection" timer must not fire in a later
    # test's event loop (it would start a coroutine that loop never runs).
    dispose(window)


def test_queued_writer_keeps_order_coalesces_and_reports_errors(tmp_path, monkeypatch):
    import threading

    import app.settings as settings_module
    from app.settings import QueuedWriter

    errors: list[str] = []
    main = threading.get_ident()
    seen_threads: list[int] = []
    real_write = settings_module.atomic_write

    def spy(path, data):
        seen_threads.append(threading.get_ident())
        real_write(path, data)

    monkeypatch.setattr(settings_module, "atomic_write", spy)
    writer = QueuedWriter(on_error=lambda path, exc: errors.append(path.name))
    for i in range(50):
        writer(tmp_path / "a.json", f"a{i}".encode())
    writer(tmp_path / "b.json", b"b")
    (tmp_path / "blocked").mkdir()
    writer(tmp_path / "blocked", b"x")  # a folder: the write fails
    assert writer.flush(5)
    assert (tmp_path / "a.json").read_bytes() == b"a49"
    assert (tmp_path / "b.json").read_bytes() == b"b"
    assert len(seen_threads) < 52 and main not in seen_threads
    assert errors == ["blocked"]
    assert writer.close(5)
    with pytest.raises(RuntimeError, match="closed"):
        writer(tmp_path / "a.json", b"late")


def test_favorites_store_saves_through_the_queued_writer(data_dir):
    from app.connect.favorites import FavoritesStore
    from app.settings import QueuedWriter

    writer = QueuedWriter()
    store = FavoritesStore(writer=writer)
    store.save_favorite("Queued", "mongodb://q.example")
    assert writer.close(5)
    assert [f.name for f in FavoritesStore().favorites] == ["Queued"]


def test_view_theme_menu_applies_and_remembers_the_choice(aloop, pool, qtbot, data_dir,
                                                           restore_theme):
    window = MainWindow()
    window.pool = pool
    view_menu = next(a.menu() for a in window.menuBar().actions() if a.text() == "&View")
    assert window.theme_menu.menuAction() in view_menu.actions()
    assert [a.text() for a in window.theme_menu.actions()] == ["&System", "&Light", "&Dark"]
    apply_theme(restore_theme, "system")
    window.theme_menu.aboutToShow.emit()
    assert window.theme_actions["system"].isChecked()

    window.theme_actions["dark"].trigger()
    aloop.run_until_complete(asyncio.gather(*window.pending_tasks))
    assert restore_theme.property("binnacleScheme") == "dark"
    assert restore_theme.palette().color(QPalette.ColorRole.Window).lightness() < 128
    assert window.theme_actions["dark"].isChecked()
    assert not window.theme_actions["system"].isChecked()  # exclusive
    assert Preferences().theme == "dark"  # saved in settings.json
    stored = json.loads((data_dir / "settings.json").read_text())
    assert set(stored) == {"theme", "schema_version"}  # no new fields

    window.theme_actions["light"].trigger()
    aloop.run_until_complete(asyncio.gather(*window.pending_tasks))
    assert Preferences().theme == "light" and restore_theme.property("binnacleScheme") == "light"
    # A later window (the next start) shows what was applied.
    other = MainWindow()
    other.theme_menu.aboutToShow.emit()
    assert other.theme_actions["light"].isChecked()
    dispose(window, other)
