"""The connection dialog: a URI field and a tabbed form that edit each other live.

The single source of truth is a ``driver.connection_string.uri.ConnectionString``: editing the URI parses
it (``parse_uri``) and refills the form; editing the form builds a new value
(``ConnectionString.build``) and changes only the part of the URI text it concerns
(``uri_text.edit_text``): the user's option names, case, order, repeated and unknown
options stay as they wrote them. Whatever the driver refuses is shown
with the driver's own message beside the field it concerns (and the URI field), and
Connect stays disabled until the string is valid. While the typed URI is invalid the
form is disabled, so a form edit cannot overwrite what the user is typing.

The URI field is never rewritten under the user's fingers: while they type, the text
stays exactly as typed and only the form follows; its passwords are masked on a
paste, or when editing finishes (focus out, Enter), and only if it parses. Options the
driver ignores stay in the text, with a warning beside it.

Passwords: the URI field shows ``****`` for every password until "Show passwords" is
ticked; a ``****`` left in the text stands for the password the dialog already holds
(never the literal password "****": without one it is an error). A pasted Atlas string
with a ``<password>`` placeholder moves focus to the password field instead of using
the placeholder (on paste or when editing finishes, never mid-typing). Passwords typed
in the form are percent-escaped by ``to_uri``. "Show passwords" reveals the URI's and the
form's password fields together.

"Test connection" runs through ``ClientService`` on the worker pool with a Cancel
button; the dialog stays responsive.
"""

from __future__ import annotations

import asyncio
import re
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QScrollArea,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from app.connect.favorites import FavoritesStore
from app.connect.favorites_panel import FavoritesPanel
from app.connect.form import FORM_OPTIONS, OPTION_FIELDS, OptionWidget, format_value, labelled
from app.connect.keychain import SAVING, KeychainRunner
from app.connect.secrets import split_secrets
from app.connect.uri_text import (
    PLACEHOLDER,
    edit_text,
    file_problem,
    is_paste,
    mask_text,
    parse_quietly,
    restore_masked,
)
from app.services.client_service import ClientFactory, ClientService, default_client_factory
from app.services.worker import Superseded, WorkerPool
from driver.connection_string.options_table import validate_option
from driver.connection_string.uri import ConnectionString
from driver.errors import ConfigurationError

AUTH_METHODS = ("None", "Username and password", "X.509", "LDAP (PLAIN)", "Other")
MECHANISMS = ("Default", "SCRAM-SHA-256", "SCRAM-SHA-1")
DEFAULT_TEST_TIMEOUT_MS = 10_000
FILE_OPTIONS = ("tlsCAFile", "tlsCertificateKeyFile")
NO_KEYCHAIN_NOTE = (
    "No keychain is available, so the password was not saved with the favorite: "
    "Binnacle will ask for it when you connect."
)


class _FormInvalid(Exception):
    pass


def _error_label(role: str = "error") -> QLabel:
    label = QLabel()
    label.setProperty("role", role)
    label.setWordWrap(True)
    label.hide()
    return label


class ConnectionDialog(QDialog):
    def __init__(
        self,
        uri: str = "mongodb://localhost:27017",
        *,
        pool: WorkerPool | None = None,
        client_factory: ClientFactory = default_client_factory,
        favorites: FavoritesStore | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Connect")
        self.resize(720, 620)
        self._cs: ConnectionString | None = None
        # The last valid value, whatever the text shows now: where a ``****`` in the
        # text gets its real password from after the text went through invalid states.
        self._last_good: ConnectionString | None = None
        self._uri_before = ""  # the field's text before the current edit
        # The connection string as the user gave it (their option names, case and
        # order), with the real secrets: what the URI field shows, masked or not.
        self._text = ""
        self._driver_notes: list[str] = []  # the driver's warnings on the last parse
        self._keychain_noted = False
        self._updating = False
        self._form_error = False
        self._password_pending = False
        self._other_mechanism: str | None = None
        self._own_pool = pool is None
        # Two workers: a keychain call that blocks must not hold up a test or another read.
        self._pool = pool or WorkerPool(max_workers=2, name="connect-dialog")
        self._client_factory = client_factory
        self._test_service: ClientService | None = None
        self._test_task: asyncio.Future[Any] | None = None

        self.favorites = favorites
        self.favorites_panel: FavoritesPanel | None = None
        outer = QHBoxLayout(self)
        # Every secret-store call goes through the runner: off the GUI thread for a
        # keychain, with a visible, cancellable wait (issue 14).
        self.keychain: KeychainRunner | None = None
        if favorites is not None:
            self.keychain = KeychainRunner(favorites.secrets, self._pool, self)
            self.keychain.waiting.connect(self._on_keychain_waiting)
            self.favorites_panel = FavoritesPanel(favorites, self.keychain)
            self.favorites_panel.keychain_failed.connect(self._show_note)
            self.favorites_panel.read_only_chosen.connect(self._set_read_only)
            self.favorites_panel.chosen.connect(self.load_uri)
            self.favorites_panel.setMaximumWidth(260)
            outer.addWidget(self.favorites_panel)
            self.resize(980, 620)
        layout = QVBoxLayout()
        outer.addLayout(layout, 1)
        uri_row = QHBoxLayout()
        self.uri_edit = QLineEdit()
        self.uri_edit.setObjectName("uriEdit")
        self.uri_edit.setPlaceholderText("mongodb://host:27017 or mongodb+srv://cluster.example.net")
        self.uri_edit.textEdited.connect(self._on_uri_edited)
        self.uri_edit.editingFinished.connect(self._on_uri_finished)
        self.reveal = QCheckBox("Show passwords")
        self.reveal.toggled.connect(self._on_reveal_toggled)
        uri_row.addWidget(QLabel("URI"))
        uri_row.addWidget(self.uri_edit, 1)
        uri_row.addWidget(self.reveal)
        layout.addLayout(uri_row)
        self.uri_error = _error_label()
        layout.addWidget(self.uri_error)
        self.uri_warning = _error_label("warning")
        self.uri_warning.setObjectName("uriWarning")
        layout.addWidget(self.uri_warning)
        self.read_only_check = QCheckBox("Read-only: disable every write from Binnacle")
        self.read_only_check.setObjectName("readOnlyCheck")
        self.read_only_check.setToolTip(
            "Collection pages and the tree offer no insert, edit, delete, create or drop. "
            "Saved with the favorite.")
        layout.addWidget(self.read_only_check)

        self.form_note = QLabel("Fix the connection string to edit the form.")
        self.form_note.setProperty("role", "warning")
        self.form_note.hide()
        layout.addWidget(self.form_note)
        self.tabs = QTabWidget()
        layout.addWidget(self.tabs, 1)
        self.options: dict[str, OptionWidget] = {
            spec.option: OptionWidget(spec, self._on_form_changed) for spec in OPTION_FIELDS
        }
        self._forms: dict[str, QFormLayout] = {}
        for tab in ("General", "Authentication", "TLS", "Advanced"):
            page = QWidget()
            column = QVBoxLayout(page)
            self._forms[tab] = QFormLayout()
            column.addLayout(self._forms[tab])
            column.addStretch(1)
            scroll = QScrollArea()  # Advanced is long; small screens scroll
            scroll.setWidgetResizable(True)
            scroll.setFrameShape(QScrollArea.Shape.NoFrame)
            scroll.setWidget(page)
            self.tabs.addTab(scroll, tab)
        self._build_general()
        self._build_authentication()
        for spec in OPTION_FIELDS:
            if spec.tab in ("TLS", "Advanced"):
                self._add_option_row(spec.option)
        self._build_stable_api_and_other()

        test_row = QHBoxLayout()
        self.test_button = QPushButton("Test connection")
        self.test_button.clicked.connect(self.start_test)
        self.cancel_test_button = QPushButton("Cancel test")
        self.cancel_test_button.setEnabled(False)
        self.cancel_test_button.clicked.connect(self.cancel_test)
        self.test_result = QLabel()
        self.test_result.setWordWrap(True)
        self.test_result.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        test_row.addWidget(self.test_button)
        test_row.addWidget(self.cancel_test_button)
        test_row.addWidget(self.test_result, 1)
        layout.addLayout(test_row)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        if favorites is not None:
            self.save_button = self.buttons.addButton(
                "Save as favorite…", QDialogButtonBox.ButtonRole.ActionRole
            )
            self.save_button.clicked.connect(self._ask_and_save)
        self.connect_button = self.buttons.addButton("Connect", QDialogButtonBox.ButtonRole.AcceptRole)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        layout.addWidget(self.buttons)
        self.status_note = QLabel()
        self.status_note.setObjectName("statusNote")
        self.status_note.setWordWrap(True)
        self.status_note.hide()
        layout.addWidget(self.status_note)
        keychain_row = QHBoxLayout()
        self.keychain_wait = QLabel()
        self.keychain_wait.setObjectName("keychainWait")
        self.keychain_cancel = QPushButton("Cancel")
        self.keychain_cancel.setToolTip("Stop waiting for the keychain (type the password)")
        self.keychain_cancel.clicked.connect(self.cancel_keychain)
        keychain_row.addWidget(self.keychain_wait, 1)
        keychain_row.addWidget(self.keychain_cancel)
        self.keychain_wait.hide()
        self.keychain_cancel.hide()
        layout.addLayout(keychain_row)

        self.load_uri(uri)

    # -- building the tabs ----------------------------------------------------------
    def _add_option_row(self, option: str) -> None:
        widget = self.options[option]
        form = self._forms[widget.spec.tab]
        label = "" if widget.spec.kind == "check" else widget.spec.label
        form.addRow(label, widget.container)

    def _build_general(self) -> None:
        form = self._forms["General"]
        self.scheme = QComboBox()
        self.scheme.addItems(["mongodb", "mongodb+srv"])
        self.scheme.currentIndexChanged.connect(lambda _i: self._on_form_changed())
        self.scheme_error = _error_label()
        form.addRow("Scheme", labelled(self.scheme, self.scheme_error))
        self.hosts_edit = QPlainTextEdit()
        self.hosts_edit.setPlaceholderText("one host per line: host:port, [::1]:27017, /tmp/mongodb.sock")
        self.hosts_edit.setMaximumHeight(90)
        self.hosts_edit.textChanged.connect(self._on_form_changed)
        self.hosts_error = _error_label()
        form.addRow("Hosts", labelled(self.hosts_edit, self.hosts_error))
        self._add_option_row("directConnection")
        self.database_edit = QLineEdit()
        self.database_edit.setPlaceholderText("none (authentication uses admin)")
        self.database_edit.textEdited.connect(lambda _t: self._on_form_changed())
        self.database_error = _error_label()
        form.addRow("Default database", labelled(self.database_edit, self.database_error))

    def _build_authentication(self) -> None:
        form = self._forms["Authentication"]
        self.auth_method = QComboBox()
        self.auth_method.addItems(AUTH_METHODS)
        self.auth_method.currentIndexChanged.connect(lambda _i: self._on_form_changed())
        form.addRow("Method", self.auth_method)
        self.mechanism = QComboBox()
        self.mechanism.addItems(MECHANISMS)
        self.mechanism.currentIndexChanged.connect(lambda _i: self._on_form_changed())
        form.addRow("Mechanism", self.mechanism)
        self.username_edit = QLineEdit()
        self.username_edit.textEdited.connect(lambda _t: self._on_form_changed())
        self.username_error = _error_label()
        form.addRow("User name", labelled(self.username_edit, self.username_error))
        self.password_edit = QLineEdit()
        self.password_edit.setEchoMode(QLineEdit.EchoMode.Password)
        self.password_edit.textEdited.connect(self._on_password_edited)
        self.password_error = _error_label()
        form.addRow("Password", labelled(self.password_edit, self.password_error))
        self._add_option_row("authSource")
        self._add_option_row("authMechanismProperties")

    def _build_stable_api_and_other(self) -> None:
        form = self._forms["Advanced"]
        api_row = QWidget()
        row = QHBoxLayout(api_row)
        row.setContentsMargins(0, 0, 0, 0)
        self.api_version = QComboBox()
        self.api_version.addItems(["none", "1"])
        self.api_strict = QCheckBox("strict")
        self.api_deprecation = QCheckBox("deprecation errors")
        for widget in (self.api_version, self.api_strict, self.api_deprecation):
            row.addWidget(widget)
        self.api_version.currentIndexChanged.connect(self._on_api_changed)
        self._on_api_changed()
        form.addRow("Stable API version", api_row)
        self.other_table = QTableWidget(0, 2)
        self.other_table.setHorizontalHeaderLabels(["Option", "Value"])
        self.other_table.horizontalHeader().setStretchLastSection(True)
        self.other_table.itemChanged.connect(lambda _item: self._on_form_changed())
        add = QPushButton("Add option")
        add.clicked.connect(lambda: self.other_table.insertRow(self.other_table.rowCount()))
        self.other_error = _error_label()
        form.addRow("Other options", labelled(self.other_table, self.other_error))
        form.addRow("", add)

    def _secret_fields(self) -> list[QLineEdit]:
        """The form's password editors: "Show passwords" reveals them with the URI."""
        fields = [self.password_edit]
        for widget in self.options.values():
            if widget.spec.kind == "password" and isinstance(widget.editor, QLineEdit):
                fields.append(widget.editor)
        return fields

    def _on_reveal_toggled(self, checked: bool) -> None:
        # One toggle for every place a password shows, so the URI and the form never
        # disagree about whether secrets are on screen.
        mode = QLineEdit.EchoMode.Normal if checked else QLineEdit.EchoMode.Password
        for field in self._secret_fields():
            field.setEchoMode(mode)
        self._render_uri()

    def _on_api_changed(self) -> None:
        enabled = self.api_version.currentText() != "none"
        self.api_strict.setEnabled(enabled)
        self.api_deprecation.setEnabled(enabled)

    # -- favorites ------------------------------------------------------------------
    def load_uri(self, uri: str) -> None:
        """Replace the dialog's contents with ``uri`` (from a favorite or a recent)."""
        self.uri_edit.setText(uri)
        self._apply_uri_text(uri, normalise=True)
        self.uri_edit.setCursorPosition(0)  # show the scheme and hosts first

    def _set_read_only(self, read_only: bool) -> None:
        self.read_only_check.setChecked(read_only)

    @property
    def read_only(self) -> bool:
        """Whether to open the connection read-only (the checkbox)."""
        return self.read_only_check.isChecked()

    def save_as_favorite(self, name: str, folder: str = "", color: str = "") -> str:
        """Save the current connection (secrets go to the secret store) with the
        read-only checkbox's setting; returns its id."""
        if self.favorites is None or self._cs is None or self._password_pending:
            raise ValueError("there is no valid connection to save")
        uri = self.uri_as_given()
        favorites = self.favorites
        favorite, store_secret = favorites.save_favorite_later(
            name, uri, folder=folder, color=color, read_only=self.read_only)
        if self.favorites_panel is not None:
            self.favorites_panel.reload()
        assert self.keychain is not None
        self.keychain.run(
            SAVING, store_secret,
            on_result=lambda stored: favorites.secret_saved(favorite.id) if stored else None,
            on_failure=lambda message: self._show_note(
                f"The password was not saved in the keychain: {message}"),
        )
        if not self.favorites.secrets.persistent and split_secrets(uri)[1]:
            self._note_no_keychain()
        return favorite.id

    def _show_note(self, text: str) -> None:
        self.status_note.setText(text)
        self.status_note.show()

    def _on_keychain_waiting(self, message: str) -> None:
        """Show what the dialog waits for; Connect waits with it."""
        self.keychain_wait.setText(message)
        self.keychain_wait.setVisible(bool(message))
        self.keychain_cancel.setVisible(bool(message))
        self._refresh_buttons()

    def cancel_keychain(self) -> None:
        """Stop waiting for the keychain: a pending read falls back to asking."""
        if self.keychain is not None:
            self.keychain.cancel()

    def _note_no_keychain(self) -> None:
        """Say once per dialog that the secret lives only in this session's memory."""
        if self._keychain_noted:
            return
        self._keychain_noted = True
        self.status_note.setText(NO_KEYCHAIN_NOTE)
        self.status_note.show()

    def _ask_and_save(self) -> None:
        from PySide6.QtWidgets import QInputDialog, QMessageBox

        hosts = ",".join(h for h, _ in self._cs.hosts) if self._cs else ""
        name, ok = QInputDialog.getText(self, "Save as favorite", "Name", text=hosts)
        if not ok:
            return
        try:
            self.save_as_favorite(name)
        except ValueError as exc:
            QMessageBox.warning(self, "Save as favorite", str(exc))

    def accept(self) -> None:
        if self.favorites is not None and self._cs is not None:
            self.favorites.add_recent(self.uri_as_given())
        super().accept()

    # -- public values --------------------------------------------------------------
    @property
    def connection_string(self) -> ConnectionString | None:
        return self._cs

    def uri(self) -> str:
        """The real connection string (with passwords) to connect with."""
        return self._cs.to_uri() if self._cs is not None else ""

    def uri_as_given(self) -> str:
        """The same connection as the user wrote it (their option names and order),
        with passwords: what a favorite or a recent keeps."""
        return self._text if self._cs is not None else ""

    def server_api(self) -> dict[str, Any] | None:
        """``ServerApi`` keyword arguments, or None (Stable API is not a URI option)."""
        if self.api_version.currentText() == "none":
            return None
        return {
            "version": self.api_version.currentText(),
            "strict": self.api_strict.isChecked() or None,
            "deprecation_errors": self.api_deprecation.isChecked() or None,
        }

    def is_valid(self) -> bool:
        return self._cs is not None and not self._form_error and not self._password_pending \
            and not self.uri_error.text()

    # -- URI → form -----------------------------------------------------------------
    def _on_uri_edited(self, text: str) -> None:
        """A user edit: typing leaves the text alone, a paste normalises it."""
        self._apply_uri_text(text, normalise=is_paste(self._uri_before, text))

    def _on_uri_finished(self) -> None:
        """Focus out or Enter: normalise and mask the text now, if it parses."""
        if self._cs is None:
            return
        self._render_uri()
        if self._password_pending and not self.password_edit.hasFocus():
            self._ask_for_password()

    def _apply_uri_text(self, text: str, *, normalise: bool) -> None:
        self._clear_errors()
        self.uri_warning.clear()
        self.uri_warning.hide()
        try:
            cs, notes = parse_quietly(text.strip())
            cs = restore_masked(cs, self._last_good)
        except ConfigurationError as exc:
            self._cs = None
            self._show_error(str(exc), also_uri=True)
            self._set_form_enabled(False)
            self._uri_before = self.uri_edit.text()
            self._refresh_buttons()
            return
        self._set_form_enabled(True)
        # An Atlas-style "<password>" placeholder stays in the value (mechanisms such as
        # PLAIN need some password to be valid) but is never connected with: the
        # password field gets the focus and Connect waits for a real one.
        self._password_pending = cs.password is not None and bool(PLACEHOLDER.match(cs.password))
        self._cs = self._last_good = cs
        # The typed text with each ``****`` replaced by the secret it stands for.
        self._text = edit_text(text, cs)
        self._fill_form(cs)
        self._driver_notes = notes
        self._show_uri_warnings()
        if self._password_pending:
            self._note_placeholder()
        else:  # the placeholder note of an earlier keystroke no longer applies
            self.password_error.clear()
            self.password_error.hide()
        if normalise:
            self._render_uri(keep_cursor=True)
            if self._password_pending:
                self._ask_for_password()
        self._uri_before = self.uri_edit.text()
        self._refresh_buttons()

    def _set_form_enabled(self, enabled: bool) -> None:
        self.tabs.setEnabled(enabled)
        self.form_note.setVisible(not enabled)

    def _show_uri_warnings(self) -> None:
        """The driver's warnings and missing TLS files: shown, but Connect stays enabled."""
        notes = list(self._driver_notes)
        cs = self._cs
        for option in FILE_OPTIONS:
            path = cs.options.get(option) if cs is not None else None
            problem = file_problem(str(path)) if path else ""
            self.options[option].show_warning(problem)
            if problem:
                notes.append(f"{option}: {problem}")
        self.uri_warning.setText("\n".join(notes))
        self.uri_warning.setVisible(bool(notes))

    def _ask_for_password(self) -> None:
        self.tabs.setCurrentIndex(1)
        self.password_edit.clear()
        self.password_edit.setFocus()
        self._note_placeholder()

    def _note_placeholder(self) -> None:
        self.password_error.setText(
            "The connection string has a <password> placeholder: type the password here "
            "(it is escaped for the URI for you)."
        )
        self.password_error.show()

    def _fill_form(self, cs: ConnectionString) -> None:
        self._updating = True
        try:
            self.scheme.setCurrentIndex(1 if cs.scheme_srv else 0)
            self.hosts_edit.setPlainText("\n".join(_host_text(h) for h in cs.hosts))
            self.database_edit.setText(cs.database or "")
            for option, widget in self.options.items():
                widget.set_value(cs.options.get(option))
            mechanism = cs.options.get("authMechanism")
            self._other_mechanism = None
            if mechanism == "MONGODB-X509":
                method = "X.509"
            elif mechanism == "PLAIN":
                method = "LDAP (PLAIN)"
            elif mechanism in (None, *MECHANISMS[1:]):
                method = "Username and password" if cs.username is not None else "None"
                self.mechanism.setCurrentText(mechanism or "Default")
            else:
                method, self._other_mechanism = "Other", mechanism
            self.auth_method.setCurrentText(method)
            self.username_edit.setText(cs.username or "")
            placeholder = cs.password is not None and PLACEHOLDER.match(cs.password)
            self.password_edit.setText("" if placeholder else cs.password or "")
            self._update_auth_enabled()
            rows = [(k, v) for k, v in cs.options.items() if k.lower() not in FORM_OPTIONS]
            self.other_table.setRowCount(len(rows))
            for index, (name, value) in enumerate(rows):
                self.other_table.setItem(index, 0, QTableWidgetItem(name))
                self.other_table.setItem(index, 1, QTableWidgetItem(format_value(value)))
        finally:
            self._updating = False

    def _update_auth_enabled(self) -> None:
        method = self.auth_method.currentText()
        self.mechanism.setEnabled(method == "Username and password")
        self.username_edit.setEnabled(method != "None")
        self.password_edit.setEnabled(method in ("Username and password", "LDAP (PLAIN)", "Other"))

    # -- form → URI -----------------------------------------------------------------
    def _on_password_edited(self, _text: str) -> None:
        if self.password_edit.text():
            self._password_pending = False
        self._on_form_changed()

    def _on_form_changed(self) -> None:
        if self._updating:
            return
        self._update_auth_enabled()
        self._clear_errors()
        try:
            cs = self._cs_from_form()
        except _FormInvalid:
            self._form_error = True
            self._refresh_buttons()
            return
        except ConfigurationError as exc:
            self._form_error = True
            self._show_error(str(exc), also_uri=False)
            self._refresh_buttons()
            return
        self._form_error = False
        self._cs = self._last_good = cs
        self._text = edit_text(self._text, cs)  # only the part the form changed
        self._show_uri_warnings()
        self._render_uri()
        self._refresh_buttons()

    def _cs_from_form(self) -> ConnectionString:
        options: dict[str, Any] = {}
        bad = False
        for option, widget in self.options.items():
            value = widget.value()
            if value is None:
                continue
            try:
                validate_option(option, value)
            except ConfigurationError as exc:
                widget.show_error(str(exc))
                bad = True
            options[option] = value
        for row in range(self.other_table.rowCount()):
            name_item, value_item = self.other_table.item(row, 0), self.other_table.item(row, 1)
            name = name_item.text().strip() if name_item else ""
            if name:
                options[name] = value_item.text() if value_item else ""
        if bad:
            raise _FormInvalid
        method = self.auth_method.currentText()
        username = self.username_edit.text() or None
        password = self.password_edit.text() or None
        if password is None and self._password_pending and self._cs is not None:
            password = self._cs.password  # keep the placeholder until one is typed
        if method == "None":
            username = password = None
        elif method == "Username and password":
            if self.mechanism.currentText() != "Default":
                options["authMechanism"] = self.mechanism.currentText()
        elif method == "X.509":
            options["authMechanism"] = "MONGODB-X509"
            password = None
        elif method == "LDAP (PLAIN)":
            options["authMechanism"] = "PLAIN"
        elif self._other_mechanism:
            options["authMechanism"] = self._other_mechanism
        hosts = [line.strip() for line in self.hosts_edit.toPlainText().splitlines() if line.strip()]
        previous = self._cs
        return ConnectionString.build(
            scheme_srv=self.scheme.currentIndex() == 1,
            hosts=hosts,
            username=username,
            password=password,
            database=self.database_edit.text() or None,
            collection=previous.collection if previous and self.database_edit.text() else None,
            options=options,
        )

    def _render_uri(self, keep_cursor: bool = False) -> None:
        if self._cs is None:
            return
        # mask_text shows a <password> placeholder as it is: it is no secret.
        text = self._text if self.reveal.isChecked() else mask_text(self._text)
        self._uri_before = text
        if text == self.uri_edit.text():
            return
        from_end = len(self.uri_edit.text()) - self.uri_edit.cursorPosition()
        self.uri_edit.setText(text)
        if keep_cursor:
            self.uri_edit.setCursorPosition(max(0, len(text) - from_end))

    # -- errors and buttons ---------------------------------------------------------
    def _clear_errors(self) -> None:
        for label in (self.uri_error, self.scheme_error, self.hosts_error, self.database_error,
                      self.username_error, self.other_error):
            label.clear()
            label.hide()
        if not self._password_pending:
            self.password_error.clear()
            self.password_error.hide()
        for widget in self.options.values():
            widget.show_error("")

    def _show_error(self, message: str, *, also_uri: bool) -> None:
        """Show the driver's message beside the fields it concerns (and the URI)."""
        targets = self._targets_for(message)
        for target in targets:
            if isinstance(target, OptionWidget):
                target.show_error(message)
            else:
                target.setText(message)
                target.show()
        if also_uri or not targets:
            self.uri_error.setText(message)
            self.uri_error.show()

    def _targets_for(self, message: str) -> list[OptionWidget | QLabel]:
        """Every form option the message names; else the field its words point to."""
        lowered = message.lower()
        named: list[OptionWidget | QLabel] = [
            widget for option, widget in self.options.items()
            if re.search(rf"\b{re.escape(option.lower())}\b", lowered)
        ]
        if named:
            return named
        for words, label in (
            (("host", "port", "socket"), self.hosts_error),
            (("mongodb+srv",), self.scheme_error),
            (("password",), self.password_error),
            (("user name", "username"), self.username_error),
            (("database",), self.database_error),
            (("option",), self.other_error),
        ):
            if any(word in lowered for word in words):
                return [label]
        return []

    def _refresh_buttons(self) -> None:
        valid = self.is_valid()
        waiting = self.keychain is not None and bool(self.keychain.message)
        self.connect_button.setEnabled(valid and not waiting)
        if self.favorites is not None:
            self.save_button.setEnabled(valid)
        self.test_button.setEnabled(valid and self._test_task is None)

    # -- test connection ------------------------------------------------------------
    def start_test(self) -> asyncio.Future[Any] | None:
        """Start "Test connection" (needs the qasync loop running); returns its task."""
        if not self.is_valid() or self._test_task is not None:
            return None
        uri = self.uri()
        timeout = None if self._cs and "serverSelectionTimeoutMS" in self._cs.options \
            else DEFAULT_TEST_TIMEOUT_MS
        self._test_service = ClientService(uri, pool=self._pool, client_factory=self._client_factory)
        self.test_result.setText("Testing… (resolving, connecting, authenticating, pinging)")
        self.cancel_test_button.setEnabled(True)
        self._test_task = asyncio.ensure_future(self._run_test(self._test_service, timeout))
        self._refresh_buttons()
        return self._test_task

    async def _run_test(self, service: ClientService, timeout: int | None) -> None:
        try:
            report = await service.test_connection(timeout_ms=timeout)
        except Superseded:
            self.test_result.setText("Test cancelled.")
            return
        except Exception as exc:  # noqa: BLE001 - shown to the user
            self.test_result.setText(f"Test failed: {exc}")
            return
        finally:
            self._test_task = None
            self.cancel_test_button.setEnabled(False)
            self._refresh_buttons()
        if report.ok:
            members = ", ".join(report.members)
            self.test_result.setText(f"{report.message}. Members: {members} ({report.elapsed_s:.1f} s)")
        else:
            self.test_result.setText(f"Failed at step '{report.step}': {report.message}")

    def cancel_test(self) -> None:
        if self._test_service is not None:
            self._test_service.cancel_test()

    def done(self, result: int) -> None:
        self.cancel_test()
        if self.keychain is not None:
            self.keychain.cancel(notify=False)
        if self._own_pool:
            self._pool.shutdown(wait=False)
        super().done(result)


def _host_text(host: tuple[str, int | None]) -> str:
    name, port = host
    if ":" in name and not name.startswith("/"):
        name = f"[{name}]"
    elif "/" in name:
        name = name.replace("/", "%2F")
    return name if port is None else f"{name}:{port}"
