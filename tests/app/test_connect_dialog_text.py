"""The connection dialog keeps the URI as the user wrote it: a pasted string comes back
through the form unchanged (option names, case, order, repeated and unknown options,
percent-encoding), and a form edit changes only the part it concerns."""

from __future__ import annotations

import pytest
from PySide6.QtWidgets import QLineEdit

from app.connect.dialog import ConnectionDialog
from app.connect.uri_text import edit_text, mask_text
from driver.connection_string.uri import parse_uri


@pytest.fixture
def pasted(qtbot):
    """A dialog with ``uri`` pasted into its URI field, passwords shown."""

    def make(uri: str) -> ConnectionDialog:
        dialog = ConnectionDialog("mongodb://localhost")
        qtbot.addWidget(dialog)
        dialog.reveal.setChecked(True)
        _type(dialog.uri_edit, uri)  # many characters at once: a paste
        assert dialog.is_valid(), dialog.uri_error.text()
        return dialog

    return make


def _type(widget: QLineEdit, text: str) -> None:
    """Like typing: setText does not emit textEdited, so emit it as the user would."""
    widget.setText(text)
    widget.textEdited.emit(text)


AS_WRITTEN = [
    "mongodb://h/?retryWrites=true&w=majority&appName=Cluster0",
    "mongodb://H.Example:27017/?RETRYWRITES=TRUE&ReadPreference=secondaryPreferred&SSL=true",
    "mongodb://h/?readPreference=nearest&readPreferenceTags=dc:ny,rack:1&appname=a"
    "&readPreferenceTags=dc:sf&readPreferenceTags=",
    "mongodb://h/?fooBar=1&appname=x&zz=%20y",
    "mongodb://us%65r:p%40ss%3Aw@%2Ftmp%2Fm.sock,h2/d%62?authSource=adm%69n&appname=My%20App",
    "mongodb://h?w=1",
    "mongodb+srv://ann:s3cret@cluster0.ab12c.mongodb.net/?j=true&wtimeout=500&w=2",
    "mongodb://h/?tls=true&tlsCertificateKeyFilePassword=k%26y&tlsInsecure=TRUE",
]


@pytest.mark.parametrize("uri", AS_WRITTEN)
def test_paste_form_uri_round_trip_keeps_the_text(pasted, recwarn, uri):
    dialog = pasted(uri)
    assert dialog.uri_edit.text() == uri
    # A form edit that changes nothing rewrites nothing.
    _type(dialog.database_edit, dialog.database_edit.text())
    dialog.options["connectTimeoutMS"].editor.setText("")
    dialog.options["connectTimeoutMS"].editor.textEdited.emit("")
    assert dialog.uri_edit.text() == uri
    assert dialog.uri_as_given() == uri
    assert parse_uri(dialog.uri()) == parse_uri(uri)
    dialog.reveal.setChecked(False)
    dialog.reveal.setChecked(True)
    assert dialog.uri_edit.text() == uri


BASE = "mongodb://Ann:p%40ss@h1:27017,h2/db?RetryWrites=TRUE&w=majority&AppName=Cluster0"


def _set_option(dialog: ConnectionDialog, option: str, text: str) -> None:
    editor = dialog.options[option].editor
    if isinstance(editor, QLineEdit):
        _type(editor, text)
    else:
        editor.setCurrentText(text)


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (lambda d: _set_option(d, "w", "1"),
         "mongodb://Ann:p%40ss@h1:27017,h2/db?RetryWrites=TRUE&w=1&AppName=Cluster0"),
        (lambda d: _set_option(d, "appname", "My App"),
         "mongodb://Ann:p%40ss@h1:27017,h2/db?RetryWrites=TRUE&w=majority&AppName=My%20App"),
        (lambda d: _set_option(d, "retryWrites", "(default)"),
         "mongodb://Ann:p%40ss@h1:27017,h2/db?w=majority&AppName=Cluster0"),
        (lambda d: _set_option(d, "maxPoolSize", "5"),
         BASE + "&maxPoolSize=5"),
        (lambda d: _type(d.username_edit, "bob"),
         "mongodb://bob:p%40ss@h1:27017,h2/db?RetryWrites=TRUE&w=majority&AppName=Cluster0"),
        (lambda d: _type(d.password_edit, "n:w"),
         "mongodb://Ann:n%3Aw@h1:27017,h2/db?RetryWrites=TRUE&w=majority&AppName=Cluster0"),
        (lambda d: d.hosts_edit.setPlainText("h3:27018"),
         "mongodb://Ann:p%40ss@h3:27018/db?RetryWrites=TRUE&w=majority&AppName=Cluster0"),
        (lambda d: _type(d.database_edit, "other"),
         "mongodb://Ann:p%40ss@h1:27017,h2/other?RetryWrites=TRUE&w=majority&AppName=Cluster0"),
        (lambda d: _type(d.database_edit, ""),
         "mongodb://Ann:p%40ss@h1:27017,h2/?RetryWrites=TRUE&w=majority&AppName=Cluster0"),
        (lambda d: d.auth_method.setCurrentText("None"),
         "mongodb://h1:27017,h2/db?RetryWrites=TRUE&w=majority&AppName=Cluster0"),
    ],
)
def test_a_form_edit_changes_only_its_part(pasted, edit, expected):
    dialog = pasted(BASE)
    edit(dialog)
    assert dialog.uri_edit.text() == expected
    assert parse_uri(dialog.uri()) == parse_uri(expected)


def test_repeated_tags_are_replaced_in_place_under_the_users_key(pasted):
    dialog = pasted("mongodb://h/?readPreference=nearest&ReadPreferenceTags=dc:ny&appname=a"
                    "&readPreferenceTags=")
    _set_option(dialog, "readPreferenceTags", "dc:sf; rack:2")
    assert dialog.uri_edit.text() == (
        "mongodb://h/?readPreference=nearest&ReadPreferenceTags=dc:sf"
        "&ReadPreferenceTags=rack:2&appname=a")


def test_an_alias_that_converts_its_value_is_rewritten_under_the_real_name(pasted):
    dialog = pasted("mongodb://h/?tls=true&ssl_cert_reqs=CERT_NONE&appname=a")
    assert dialog.options["tlsAllowInvalidCertificates"].editor.isChecked()
    dialog.options["tlsAllowInvalidCertificates"].editor.setChecked(False)
    assert dialog.uri_edit.text() == "mongodb://h/?tls=true&appname=a"


def test_masking_hides_only_the_secrets():
    text = "mongodb://Ann:p%40ss@h/?SSL_PEM_passphrase=x&tlsCertificateKeyFilePassword=y&w=1"
    assert mask_text(text) == (
        "mongodb://Ann:****@h/?SSL_PEM_passphrase=****&tlsCertificateKeyFilePassword=****&w=1")
    assert mask_text("mongodb://ann:<password>@h") == "mongodb://ann:<password>@h"


def test_edit_text_falls_back_to_the_driver_form_when_the_text_does_not_parse():
    after = parse_uri("mongodb://h/?w=1")
    assert edit_text("mongodb://h:99999/?odd=1", after) == "mongodb://h/?w=1&odd=1"
