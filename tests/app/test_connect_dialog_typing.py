"""The connection dialog as a user drives it: typing the URI one character at a time
(``QTest.keyClicks``), pasting, leaving the field, editing the form while the URI is
invalid, warnings that do not block (unknown options, missing TLS files) and the notice
shown when a favorite's password cannot go to a keychain."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

from app.connect.dialog import ConnectionDialog
from app.connect.favorites import FavoritesStore
from app.connect.secrets import MemorySecretStore
from app.connect.uri_text import is_paste
from driver.connection_string.uri import parse_uri


@pytest.fixture
def shown(qtbot):
    """A dialog on screen and active, so focus moves (and editingFinished) are real."""

    def make(uri: str = "mongodb://localhost:27017", **kwargs) -> ConnectionDialog:
        dialog = ConnectionDialog(uri, **kwargs)
        qtbot.addWidget(dialog)
        dialog.show()
        qtbot.waitExposed(dialog)
        dialog.activateWindow()
        qtbot.waitUntil(lambda: QApplication.activeWindow() is dialog)
        return dialog

    return make


def _focus(qtbot, widget) -> None:
    widget.setFocus(Qt.FocusReason.MouseFocusReason)
    qtbot.waitUntil(widget.hasFocus)


def _type_fresh(qtbot, dialog: ConnectionDialog, text: str) -> list[str]:
    """Clear the URI field and type ``text`` key by key; returns the field after each key."""
    _focus(qtbot, dialog.uri_edit)
    QTest.keyClick(dialog.uri_edit, Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier)
    QTest.keyClick(dialog.uri_edit, Qt.Key.Key_Backspace)
    seen = []
    for char in text:
        QTest.keyClicks(dialog.uri_edit, char)
        seen.append(dialog.uri_edit.text())
    return seen


def _leave_uri_field(qtbot, dialog: ConnectionDialog) -> None:
    """Focus out: the line edit finishes editing (the dialog may move focus on)."""
    dialog.reveal.setFocus(Qt.FocusReason.MouseFocusReason)
    qtbot.waitUntil(lambda: not dialog.uri_edit.hasFocus())


TYPED = "mongodb://ann:secret@localhost:27017/admin?replicaSet=rs0"


def test_typing_keeps_the_text_exactly_as_typed(qtbot, shown):
    dialog = shown()
    seen = _type_fresh(qtbot, dialog, TYPED)
    assert seen == [TYPED[: i + 1] for i in range(len(TYPED))]
    # The form followed the valid text all along.
    assert dialog.is_valid() and dialog.uri_error.text() == ""
    assert dialog.database_edit.text() == "admin" and dialog.password_edit.text() == "secret"
    assert parse_uri(dialog.uri()) == parse_uri(TYPED)
    _leave_uri_field(qtbot, dialog)  # now the text is normalised and masked
    assert dialog.uri_edit.text() == "mongodb://ann:****@localhost:27017/admin?replicaSet=rs0"
    assert parse_uri(dialog.uri()).password == "secret"


def test_typing_a_seed_list_without_password_keeps_the_slash(qtbot, shown):
    dialog = shown()
    typed = "mongodb://h1:27017,h2:27018/?readPreference=secondary"
    seen = _type_fresh(qtbot, dialog, typed)
    assert seen[-1] == typed
    assert parse_uri(dialog.uri()).options["readPreference"] == "secondary"


def test_masked_password_survives_invalid_intermediate_text(qtbot, shown):
    dialog = shown(TYPED)
    assert dialog.uri_edit.text() == "mongodb://ann:****@localhost:27017/admin?replicaSet=rs0"
    _focus(qtbot, dialog.uri_edit)
    QTest.keyClick(dialog.uri_edit, Qt.Key.Key_End)
    for _ in range(len("27017/admin?replicaSet=rs0")):
        QTest.keyClick(dialog.uri_edit, Qt.Key.Key_Backspace)
    QTest.keyClicks(dialog.uri_edit, "2701")  # passes through "localhost:" (invalid)
    QTest.keyClicks(dialog.uri_edit, "8/admin?replicaSet=rs1")
    assert dialog.uri_edit.text() == "mongodb://ann:****@localhost:27018/admin?replicaSet=rs1"
    assert dialog.is_valid(), dialog.uri_error.text()
    cs = parse_uri(dialog.uri())
    assert cs.password == "secret" and cs.hosts == [("localhost", 27018)]
    assert dialog.password_edit.text() == "secret"


def test_a_mask_with_no_password_behind_it_is_an_error(qtbot, shown):
    dialog = shown("mongodb://localhost")
    _type_fresh(qtbot, dialog, "mongodb://ann:****@localhost/")
    assert not dialog.is_valid() and not dialog.connect_button.isEnabled()
    assert "re-enter the password" in dialog.uri_error.text()
    assert "re-enter the password" in dialog.password_error.text()
    assert dialog.uri() == ""
    QTest.keyClick(dialog.uri_edit, Qt.Key.Key_Home)
    for _ in range(len("mongodb://ann:")):
        QTest.keyClick(dialog.uri_edit, Qt.Key.Key_Right)
    for _ in range(4):
        QTest.keyClick(dialog.uri_edit, Qt.Key.Key_Delete)
    QTest.keyClicks(dialog.uri_edit, "pw")
    assert dialog.is_valid() and parse_uri(dialog.uri()).password == "pw"


ATLAS = "mongodb+srv://ann:<password>@cluster0.ab12c.mongodb.net/shop?retryWrites=true&w=majority"


def test_typing_an_atlas_uri_does_not_jump_to_the_password(qtbot, shown):
    dialog = shown()
    seen = _type_fresh(qtbot, dialog, ATLAS)
    assert seen[-1] == ATLAS
    assert dialog.focusWidget() is dialog.uri_edit and dialog.tabs.currentIndex() == 0
    assert dialog.password_edit.text() == ""
    assert "<password>" in dialog.password_error.text()
    assert not dialog.connect_button.isEnabled()
    _leave_uri_field(qtbot, dialog)  # editing finished: now ask for the password
    assert dialog.focusWidget() is dialog.password_edit and dialog.tabs.currentIndex() == 1
    QTest.keyClicks(dialog.password_edit, "s3cr@t")
    assert dialog.is_valid()
    assert parse_uri(dialog.uri()) == parse_uri(ATLAS.replace("<password>", "s3cr%40t"))


def test_replacing_the_placeholder_in_the_text_clears_its_note(qtbot, shown):
    dialog = shown()
    _type_fresh(qtbot, dialog, "mongodb://ann:<password>@h")
    assert "<password>" in dialog.password_error.text()
    QTest.keyClick(dialog.uri_edit, Qt.Key.Key_Home)
    for _ in range(len("mongodb://ann:")):
        QTest.keyClick(dialog.uri_edit, Qt.Key.Key_Right)
    for _ in range(len("<password>")):
        QTest.keyClick(dialog.uri_edit, Qt.Key.Key_Delete)
    QTest.keyClicks(dialog.uri_edit, "pw")
    assert dialog.uri_edit.text() == "mongodb://ann:pw@h"
    assert dialog.password_error.text() == "" and dialog.password_error.isHidden()
    assert dialog.is_valid() and dialog.focusWidget() is dialog.uri_edit


def test_pasting_an_atlas_uri_jumps_to_the_password(qtbot, shown):
    dialog = shown()
    _focus(qtbot, dialog.uri_edit)
    dialog.uri_edit.selectAll()
    QApplication.clipboard().setText(ATLAS)
    dialog.uri_edit.paste()
    assert dialog.focusWidget() is dialog.password_edit and dialog.tabs.currentIndex() == 1
    assert dialog.uri_edit.text().startswith("mongodb+srv://ann:<password>@cluster0.ab12c")
    assert parse_uri(dialog.uri_edit.text()) == parse_uri(ATLAS)


def test_invalid_uri_disables_the_form_so_it_cannot_overwrite_the_text(qtbot, shown):
    srv = "mongodb+srv://ann:pw@cluster0.ab12c.mongodb.net/shop"
    dialog = shown(srv)
    bad = "mongodb://newhost:99999/?replicaSet=rs1"
    _type_fresh(qtbot, dialog, bad)
    assert dialog.uri_edit.text() == bad
    assert not dialog.tabs.isEnabled() and dialog.form_note.isVisible()
    assert "fix the connection string to edit the form" in dialog.form_note.text().lower()
    dialog.database_edit.setFocus(Qt.FocusReason.MouseFocusReason)
    assert not dialog.database_edit.hasFocus()  # a disabled field takes no focus...
    QTest.keyClicks(dialog.database_edit, "x")  # ...and no keys
    assert dialog.uri_edit.text() == bad
    assert dialog.database_edit.text() == ""  # the last text that parsed had none
    QTest.keyClick(dialog.uri_edit, Qt.Key.Key_End)
    for _ in range(len("99999/?replicaSet=rs1")):
        QTest.keyClick(dialog.uri_edit, Qt.Key.Key_Backspace)
    QTest.keyClicks(dialog.uri_edit, "27017/?replicaSet=rs1")
    assert dialog.tabs.isEnabled() and not dialog.form_note.isVisible()
    assert dialog.is_valid()


def test_unknown_option_stays_in_the_text_with_a_warning(qtbot, shown, recwarn):
    dialog = shown()
    typed = "mongodb://h/?unknownOpt=1&appname=x"
    _type_fresh(qtbot, dialog, typed)
    assert dialog.uri_edit.text() == typed
    assert "unknown option 'unknownOpt' is ignored by the driver" in dialog.uri_warning.text()
    assert dialog.uri_warning.isVisible() and dialog.connect_button.isEnabled()
    _leave_uri_field(qtbot, dialog)  # nothing to mask: the text stays as typed
    assert dialog.uri_edit.text() == typed
    _focus(qtbot, dialog.database_edit)
    QTest.keyClicks(dialog.database_edit, "db")  # a form edit keeps it too
    assert dialog.uri_edit.text() == "mongodb://h/db?unknownOpt=1&appname=x"
    assert "unknownOpt" in dialog.uri_warning.text()
    assert not [w for w in recwarn.list if "unknownOpt" in str(w.message)]


def test_missing_tls_ca_file_is_warned_beside_its_field(qtbot, shown, tmp_path):
    dialog = shown()
    _type_fresh(qtbot, dialog, "mongodb://h/?tls=true&tlsCAFile=/nonexistent/ca.pem")
    warning = dialog.options["tlsCAFile"].warning
    assert warning is not None and "file not found: /nonexistent/ca.pem" in warning.text()
    assert not warning.isHidden() and dialog.connect_button.isEnabled()
    assert "tlsCAFile" in dialog.uri_warning.text()
    ca = tmp_path / "ca.pem"
    ca.write_text("-----BEGIN CERTIFICATE-----\n")
    dialog.tabs.setCurrentIndex(2)
    editor = dialog.options["tlsCAFile"].editor
    _focus(qtbot, editor)
    QTest.keyClick(editor, Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier)
    QTest.keyClicks(editor, str(ca))
    assert warning.isHidden() and warning.text() == ""
    assert parse_uri(dialog.uri()).options["tlsCAFile"] == str(ca)


def test_saving_without_a_keychain_says_so_once(qtbot, shown, data_dir):
    store = FavoritesStore(secret_store=MemorySecretStore())
    dialog = shown("mongodb://alice:pw@db.example/", favorites=store)
    assert dialog.status_note.isHidden()
    dialog.save_as_favorite("Prod")
    assert not dialog.status_note.isHidden()
    assert "keychain" in dialog.status_note.text() and "ask" in dialog.status_note.text()
    assert "pw" not in dialog.status_note.text().replace("password", "")
    dialog.status_note.hide()
    dialog.save_as_favorite("Prod again")
    assert dialog.status_note.isHidden()  # told once per dialog


def test_saving_without_a_password_needs_no_notice(qtbot, shown, data_dir):
    store = FavoritesStore(secret_store=MemorySecretStore())
    dialog = shown("mongodb://db.example/", favorites=store)
    dialog.save_as_favorite("Open")
    assert dialog.status_note.isHidden()


@pytest.mark.parametrize(
    ("before", "after", "paste"),
    [("", "m", False), ("abc", "abxc", False), ("abc", "ab", False), ("abc", "x", False),
     ("abc", "a", False), ("", "mongodb://h", True), ("ab", "aXYb", True), ("abc", "XY", True)],
)
def test_is_paste_tells_keystrokes_from_pastes(before, after, paste):
    assert is_paste(before, after) is paste
