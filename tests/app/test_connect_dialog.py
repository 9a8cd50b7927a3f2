"""The connection dialog: form → URI and URI → form for every field, round trips over
real-world strings, the driver's messages beside the fields, password masking, the
Atlas ``<password>`` placeholder, and "Test connection" with Cancel."""

from __future__ import annotations

import asyncio
import time

import pytest
from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QLineEdit

from app.connect.dialog import ConnectionDialog
from app.connect.form import OPTION_FIELDS
from driver.connection_string.uri import parse_uri
from driver.errors import ConfigurationError
from tests.app.fakes import FakeFactory
from tests.gui_ticks import assert_ticks_responsive


@pytest.fixture
def make_dialog(qtbot):
    def make(uri="mongodb://localhost:27017", **kwargs):
        dialog = ConnectionDialog(uri, **kwargs)
        qtbot.addWidget(dialog)
        return dialog

    return make


def _type(widget: QLineEdit, text: str) -> None:
    """Like typing: setText does not emit textEdited, so emit it as the user would."""
    widget.setText(text)
    widget.textEdited.emit(text)


# Per option: the URI it needs around it, what the user enters, the typed value expected.
FIELD_CASES = {
    "directConnection": ("mongodb://h", "true", True),
    "authSource": ("mongodb://u:p@h", "admin2", "admin2"),
    "authMechanismProperties": ("mongodb://u@h/?authMechanism=GSSAPI", "SERVICE_NAME:mongo",
                                {"SERVICE_NAME": "mongo"}),
    "tls": ("mongodb://h", "on", True),
    "tlsCAFile": ("mongodb://h/?tls=true", "/etc/ssl/ca.pem", "/etc/ssl/ca.pem"),
    "tlsCertificateKeyFile": ("mongodb://h/?tls=true", "/home/me/client.pem", "/home/me/client.pem"),
    "tlsCertificateKeyFilePassword": ("mongodb://h/?tls=true", "k@y/pw", "k@y/pw"),
    "tlsAllowInvalidHostnames": ("mongodb://h/?tls=true", True, True),
    "tlsAllowInvalidCertificates": ("mongodb://h/?tls=true", True, True),
    "tlsInsecure": ("mongodb://h/?tls=true", True, True),
    "replicaSet": ("mongodb://a,b", "rs0", "rs0"),
    "readPreference": ("mongodb://h", "secondaryPreferred", "secondaryPreferred"),
    "readPreferenceTags": ("mongodb://h/?readPreference=nearest", "dc:ny,rack:1; dc:sf",
                           [{"dc": "ny", "rack": "1"}, {"dc": "sf"}]),
    "maxStalenessSeconds": ("mongodb://h/?readPreference=secondary", "120", 120),
    "appname": ("mongodb://h", "My App", "My App"),
    "connectTimeoutMS": ("mongodb://h", "5000", 5000),
    "socketTimeoutMS": ("mongodb://h", "60000", 60000),
    "serverSelectionTimeoutMS": ("mongodb://h", "2500", 2500),
    "timeoutMS": ("mongodb://h", "0", 0),
    "maxPoolSize": ("mongodb://h", "50", 50),
    "minPoolSize": ("mongodb://h", "5", 5),
    "maxIdleTimeMS": ("mongodb://h", "30000", 30000),
    "w": ("mongodb://h", "majority", "majority"),
    "wTimeoutMS": ("mongodb://h/?w=2", "1000", 1000),
    "journal": ("mongodb://h", "true", True),
    "retryReads": ("mongodb://h", "false", False),
    "retryWrites": ("mongodb://h", "false", False),
    "compressors": ("mongodb://h", "zstd,zlib", ["zstd", "zlib"]),
}


def test_every_form_option_has_a_case():
    assert {f.option for f in OPTION_FIELDS} == set(FIELD_CASES)


@pytest.mark.parametrize("option", sorted(FIELD_CASES))
def test_form_to_uri_and_back_for_every_option(make_dialog, option):
    base, entered, expected = FIELD_CASES[option]
    dialog = make_dialog(base)
    widget = dialog.options[option]
    editor = widget.editor
    if isinstance(editor, QLineEdit):
        _type(editor, entered)
    elif hasattr(editor, "setChecked"):
        editor.setChecked(entered)
    else:
        editor.setCurrentText(entered)
    assert dialog.is_valid(), widget.error.text() or dialog.uri_error.text()
    assert parse_uri(dialog.uri()).options[option] == expected
    # URI → form: a new dialog on that URI shows the same value in the same widget.
    again = make_dialog(dialog.uri())
    assert again.options[option].value() == widget.value()


def test_general_fields_both_ways(make_dialog):
    dialog = make_dialog("mongodb://localhost")
    dialog.hosts_edit.setPlainText("db1.example:27018\n[::1]:27019\n%2Ftmp%2Fmongodb-27017.sock")
    _type(dialog.database_edit, "shop")
    cs = parse_uri(dialog.uri())
    assert cs.hosts == [("db1.example", 27018), ("::1", 27019), ("/tmp/mongodb-27017.sock", None)]
    assert cs.database == "shop"
    dialog.hosts_edit.setPlainText("cluster0.ab12c.mongodb.net")
    dialog.scheme.setCurrentText("mongodb+srv")
    assert dialog.uri() == "mongodb+srv://cluster0.ab12c.mongodb.net/shop"
    other = make_dialog("mongodb+srv://cluster0.ab12c.mongodb.net/shop")
    assert other.scheme.currentText() == "mongodb+srv"
    assert other.hosts_edit.toPlainText() == "cluster0.ab12c.mongodb.net"
    assert other.database_edit.text() == "shop"


@pytest.mark.parametrize(
    ("method", "mechanism", "expected_mechanism", "has_password"),
    [
        ("Username and password", "Default", None, True),
        ("Username and password", "SCRAM-SHA-256", "SCRAM-SHA-256", True),
        ("Username and password", "SCRAM-SHA-1", "SCRAM-SHA-1", True),
        ("X.509", None, "MONGODB-X509", False),
        ("LDAP (PLAIN)", None, "PLAIN", True),
        ("None", None, None, False),
    ],
)
def test_authentication_methods_both_ways(make_dialog, method, mechanism, expected_mechanism,
                                          has_password):
    dialog = make_dialog("mongodb://h/?tls=true")
    dialog.auth_method.setCurrentText(method)
    if mechanism:
        dialog.mechanism.setCurrentText(mechanism)
    _type(dialog.username_edit, "CN=client,O=Org" if method == "X.509" else "alice")
    _type(dialog.password_edit, "pw")
    assert dialog.is_valid(), dialog.uri_error.text()
    cs = parse_uri(dialog.uri())
    assert cs.options.get("authMechanism") == expected_mechanism
    assert (cs.password == "pw") is has_password
    again = make_dialog(dialog.uri())
    assert again.auth_method.currentText() == method
    if mechanism:
        assert again.mechanism.currentText() == mechanism


def test_other_options_table_keeps_unknown_to_the_form(make_dialog):
    dialog = make_dialog("mongodb://h/?loadBalanced=true&zlibCompressionLevel=4&uuidRepresentation=standard")
    table = dialog.other_table
    rows = {table.item(r, 0).text(): table.item(r, 1).text() for r in range(table.rowCount())}
    assert rows == {"loadBalanced": "true", "zlibCompressionLevel": "4", "uuidRepresentation": "standard"}
    table.item(1, 1).setText("11")  # out of range: the driver's message beside the table
    assert not dialog.is_valid()
    assert "zlibCompressionLevel" in dialog.other_error.text() + dialog.uri_error.text()
    table.item(1, 1).setText("9")
    assert parse_uri(dialog.uri()).options["zlibCompressionLevel"] == 9


REAL_WORLD = [
    "mongodb+srv://ann:s3cret@cluster0.ab12c.mongodb.net/?retryWrites=true&w=majority&appName=Cluster0",
    "mongodb+srv://cluster0.ab12c.mongodb.net/myFirstDatabase?authSource=%24external&authMechanism=MONGODB-X509&tls=true",
    "mongodb://app:p%40ss%3Aw0rd@db1.example.com:27017,db2.example.com:27017,db3.example.com:27017/prod?replicaSet=rs0&readPreference=secondaryPreferred&maxStalenessSeconds=120&w=majority&wtimeoutMS=5000",
    "mongodb://root:example@mongo:27017/?authSource=admin&directConnection=true",
    "mongodb://[::1]:27017,[2001:db8::1]:27018/?replicaSet=rs&readPreference=nearest&readPreferenceTags=dc:east,use:reporting&readPreferenceTags=",
    "mongodb://%2Ftmp%2Fmongodb-27017.sock",
    "mongodb://%2Fvar%2Frun%2Fmongod.sock,localhost:27018/admin",
    "mongodb://u:pw@ldap.example/?authMechanism=PLAIN&authSource=%24external&tls=true&tlsCAFile=%2Fetc%2Fca.pem",
    "mongodb://h1,h2/?compressors=zstd,snappy&zlibCompressionLevel=6&connectTimeoutMS=3000&maxPoolSize=20&minPoolSize=2&retryWrites=false",
    "mongodb://docdb.cluster-xyz.us-east-1.docdb.amazonaws.com:27017/?tls=true&tlsCAFile=global-bundle.pem&replicaSet=rs0&readPreference=secondaryPreferred&retryWrites=false",
    "mongodb://localhost/?tls=true&tlsCertificateKeyFile=%2Fc.pem&tlsCertificateKeyFilePassword=k%26y&tlsAllowInvalidHostnames=true",
    "mongodb://u@kerb.example/?authMechanism=GSSAPI&authMechanismProperties=SERVICE_NAME:mongodb,CANONICALIZE_HOST_NAME:true",
]


@pytest.mark.parametrize("uri", REAL_WORLD)
def test_real_world_round_trip(make_dialog, uri):
    dialog = make_dialog(uri)
    assert dialog.is_valid(), dialog.uri_error.text()
    rebuilt = dialog._cs_from_form()  # the form alone, without the parsed value
    assert rebuilt == parse_uri(uri)
    assert parse_uri(dialog.uri()) == parse_uri(uri)
    # The field keeps the string exactly as given (only its secrets masked), and the
    # same text loads the same way again.
    assert dialog.uri_as_given() == uri
    second = make_dialog(dialog.uri_as_given())
    assert second.uri_edit.text() == dialog.uri_edit.text()
    second.reveal.setChecked(True)
    assert second.uri_edit.text() == uri


@pytest.mark.parametrize(
    ("uri", "field"),
    [
        ("mongodb://h:99999", "hosts_error"),
        ("mongodb:/h", None),
        ("mongodb://u:p@ss@h", "password_error"),
        ("mongodb://h/?tls=yes", "tls"),
        ("mongodb://a,b/?directConnection=true", "directConnection"),
        ("mongodb+srv://a.example:27017", "hosts_error"),
        ("mongodb://h/?tlsInsecure=true&tlsAllowInvalidCertificates=true", "tlsInsecure"),
        ("mongodb://h/?maxStalenessSeconds=120", "maxStalenessSeconds"),
        ("mongodb://h/?connectTimeoutMS=-1", "connectTimeoutMS"),
    ],
)
def test_invalid_uris_show_the_driver_message(make_dialog, uri, field):
    with pytest.raises(ConfigurationError) as caught:
        parse_uri(uri)
    dialog = make_dialog(uri)
    message = str(caught.value)
    assert dialog.uri_error.text() == message
    assert not dialog.uri_error.isHidden()
    assert not dialog.connect_button.isEnabled()
    if field == "tlsInsecure":  # both options of the conflict are marked
        assert dialog.options["tlsAllowInvalidCertificates"].error.text() == message
    if field in dialog.options:
        assert dialog.options[field].error.text() == message
    elif field is not None:
        assert getattr(dialog, field).text() == message
    _type(dialog.uri_edit, "mongodb://localhost")
    assert dialog.connect_button.isEnabled() and dialog.uri_error.text() == ""


def test_combination_refused_from_the_form_is_explained(make_dialog):
    dialog = make_dialog("mongodb://a,b")
    dialog.options["directConnection"].editor.setCurrentText("true")
    error = dialog.options["directConnection"].error.text()
    assert "several hosts" in error and "list a single host" in error
    assert not dialog.connect_button.isEnabled()
    assert dialog.uri() == "mongodb://a,b"  # the URI keeps the last valid value


def test_password_masked_until_revealed_and_escaped(make_dialog):
    dialog = make_dialog("mongodb://alice:old@h/?tls=true&tlsCertificateKeyFilePassword=kp")
    assert dialog.uri_edit.text() == "mongodb://alice:****@h/?tls=true&tlsCertificateKeyFilePassword=****"
    _type(dialog.password_edit, "p@ss:w/rd")
    assert "p@ss" not in dialog.uri_edit.text() and "p%40ss" not in dialog.uri_edit.text()
    assert parse_uri(dialog.uri()).password == "p@ss:w/rd"
    dialog.reveal.setChecked(True)
    assert dialog.uri_edit.text().startswith("mongodb://alice:p%40ss%3Aw%2Frd@h/")
    assert "tlsCertificateKeyFilePassword=kp" in dialog.uri_edit.text()
    dialog.reveal.setChecked(False)
    # Editing the masked text elsewhere keeps the real secrets.
    _type(dialog.uri_edit, dialog.uri_edit.text() + "&appname=x")
    cs = parse_uri(dialog.uri())
    assert cs.password == "p@ss:w/rd" and cs.options["tlsCertificateKeyFilePassword"] == "kp"
    assert cs.options["appname"] == "x"


def test_pasted_uri_is_masked_immediately(make_dialog):
    dialog = make_dialog("mongodb://localhost")
    _type(dialog.uri_edit, "mongodb://bob:hunter2@db.example/")
    assert dialog.uri_edit.text() == "mongodb://bob:****@db.example/"  # only masked
    assert "hunter2" in dialog.uri()


def test_atlas_password_placeholder_focuses_the_password_field(make_dialog, qtbot):
    dialog = make_dialog("mongodb://localhost")
    dialog.show()
    qtbot.waitExposed(dialog)
    _type(dialog.uri_edit, "mongodb+srv://ann:<password>@cluster0.ab12c.mongodb.net/?retryWrites=true&w=majority")
    assert dialog.tabs.currentIndex() == 1
    assert dialog.focusWidget() is dialog.password_edit
    assert "<password>" in dialog.password_error.text()
    assert not dialog.connect_button.isEnabled() and not dialog.test_button.isEnabled()
    assert dialog.password_edit.text() == ""
    assert dialog.uri_edit.text().startswith("mongodb+srv://ann:<password>@cluster0")
    _type(dialog.username_edit, "anne")  # other edits keep the placeholder pending
    assert dialog.uri_edit.text().startswith("mongodb+srv://anne:<password>@cluster0")
    assert not dialog.connect_button.isEnabled()
    _type(dialog.password_edit, "a@b")
    assert dialog.connect_button.isEnabled()
    assert dialog.uri().startswith("mongodb+srv://anne:a%40b@cluster0.ab12c.mongodb.net/")
    assert dialog.uri_edit.text().startswith("mongodb+srv://anne:****@cluster0")
    assert dialog.password_error.text() == ""


def test_tls_options_show_what_they_give_up(make_dialog):
    dialog = make_dialog("mongodb://h/?tls=true")
    for option in ("tlsAllowInvalidHostnames", "tlsAllowInvalidCertificates", "tlsInsecure"):
        widget = dialog.options[option]
        assert widget.warning is not None and widget.warning.isHidden()
        widget.editor.setChecked(True)
        assert not widget.warning.isHidden() and len(widget.warning.text()) > 40
        widget.editor.setChecked(False)


def test_stable_api_is_a_typed_field(make_dialog):
    dialog = make_dialog()
    assert dialog.server_api() is None and not dialog.api_strict.isEnabled()
    dialog.api_version.setCurrentText("1")
    dialog.api_strict.setChecked(True)
    assert dialog.server_api() == {"version": "1", "strict": True, "deprecation_errors": None}


def test_test_connection_reports_version_topology_and_members(make_dialog, aloop, pool):
    dialog = make_dialog("mongodb://a.example/?replicaSet=rs0", pool=pool, client_factory=FakeFactory())

    async def scenario():
        task = dialog.start_test()
        assert task is not None and not dialog.test_button.isEnabled()
        assert dialog.cancel_test_button.isEnabled()
        await task

    aloop.run_until_complete(scenario())
    text = dialog.test_result.text()
    assert "MongoDB 7.0.2" in text and "ReplicaSetWithPrimary" in text and "[::1]:27018" in text
    assert dialog.test_button.isEnabled() and not dialog.cancel_test_button.isEnabled()


def test_test_connection_cancel_while_the_loop_keeps_ticking(make_dialog, aloop, pool):
    factory = FakeFactory(block=True)  # ping blocks its worker until the client is closed
    dialog = make_dialog("mongodb://a.example", pool=pool, client_factory=factory)
    ticks: list[float] = []
    timer = QTimer()
    timer.setInterval(10)
    timer.timeout.connect(lambda: ticks.append(time.perf_counter()))

    async def scenario():
        timer.start()
        task = dialog.start_test()
        while not factory.clients or not factory.clients[0].calls:
            await asyncio.sleep(0.005)
        await asyncio.sleep(0.3)  # the test is blocked in "server selection" meanwhile
        dialog.cancel_test_button.click()
        await asyncio.gather(task, return_exceptions=True)
        timer.stop()

    aloop.run_until_complete(scenario())
    assert_ticks_responsive(ticks, "connection test blocked, then cancelled", min_ticks=3)
    assert dialog.test_result.text() == "Test cancelled."
    assert factory.clients[0].closed.wait(2)
    assert dialog.test_button.isEnabled()


def test_plain_favorite_without_its_password_asks_for_it(make_dialog):
    """A favorite saved without secrets is opened with a placeholder (see secrets.py)."""
    from app.connect.secrets import UriSecrets, join_secrets

    public = "mongodb://ldapuser@ldap.example/?authMechanism=PLAIN&authSource=%24external"
    dialog = make_dialog(join_secrets(public, UriSecrets(password="<password>")))
    assert dialog.auth_method.currentText() == "LDAP (PLAIN)"
    assert dialog.focusWidget() is dialog.password_edit
    assert not dialog.connect_button.isEnabled()
    _type(dialog.password_edit, "pw")
    assert parse_uri(dialog.uri()).password == "pw" and dialog.connect_button.isEnabled()


def test_show_passwords_reveals_and_hides_the_form_fields_with_the_uri(make_dialog, qtbot):
    dialog = make_dialog("mongodb://alice:s3cret@h/?tls=true&tlsCertificateKeyFilePassword=kp")
    dialog.show()
    qtbot.waitExposed(dialog)
    key_password = dialog.options["tlsCertificateKeyFilePassword"].editor
    hidden = (dialog.password_edit.displayText(), key_password.displayText())
    assert "s3cret" not in hidden[0] and "kp" not in hidden[1]
    assert "****" in dialog.uri_edit.text()
    qtbot.mouseClick(dialog.reveal, Qt.MouseButton.LeftButton)
    assert dialog.reveal.isChecked()
    assert dialog.password_edit.displayText() == "s3cret"
    assert key_password.displayText() == "kp"
    assert "alice:s3cret@" in dialog.uri_edit.text() and "Password=kp" in dialog.uri_edit.text()
    qtbot.mouseClick(dialog.reveal, Qt.MouseButton.LeftButton)
    assert not dialog.reveal.isChecked()
    assert (dialog.password_edit.displayText(), key_password.displayText()) == hidden
    assert "s3cret" not in dialog.uri_edit.text() and "Password=kp" not in dialog.uri_edit.text()
