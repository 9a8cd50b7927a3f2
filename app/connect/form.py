"""The connection dialog's tabbed form: widgets for the parts of a connection string.

Each URI option the form shows is described by an ``OptionField`` (option name, label,
tab, kind, and for TLS the warning of what it gives up); ``OptionWidget`` makes the
widget and converts between the driver's typed value and the widget. Values go back to
the driver as *strings*, exactly as they would appear in a URI, so the driver's own
validators (``driver.connection_string.options_table``) judge them and their messages are shown beside the
field. Options the form has no widget for live in the "other options" key/value table,
so nothing in a pasted string is ever lost.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

DEFAULT = "(default)"
READ_PREFERENCES = ("primary", "primaryPreferred", "secondary", "secondaryPreferred", "nearest")


@dataclass(frozen=True)
class OptionField:
    option: str
    label: str
    tab: str
    kind: str = "text"  # text, password, file, tristate, check, choice, tags
    choices: tuple[str, ...] = ()
    warning: str = ""
    placeholder: str = ""


OPTION_FIELDS: tuple[OptionField, ...] = (
    OptionField("directConnection", "Direct connection", "General", "tristate"),
    OptionField("authSource", "Authentication database", "Authentication",
                placeholder="the default database, else admin"),
    OptionField("authMechanismProperties", "Mechanism properties", "Authentication",
                placeholder="KEY:value,KEY2:value"),
    OptionField("tls", "TLS", "TLS", "tristate", choices=(DEFAULT, "on", "off")),
    OptionField("tlsCAFile", "CA file", "TLS", "file", placeholder="the system's CA store"),
    OptionField("tlsCertificateKeyFile", "Client certificate and key (PEM)", "TLS", "file"),
    OptionField("tlsCertificateKeyFilePassword", "Key password", "TLS", "password"),
    OptionField(
        "tlsAllowInvalidHostnames", "Allow invalid host names", "TLS", "check",
        warning="The server's certificate may name another host: anyone holding any valid "
        "certificate can pretend to be this server.",
    ),
    OptionField(
        "tlsAllowInvalidCertificates", "Allow invalid certificates", "TLS", "check",
        warning="The server's certificate is not checked at all: the connection is "
        "encrypted but anyone in between can read and change it.",
    ),
    OptionField(
        "tlsInsecure", "Insecure (no certificate or host name checks)", "TLS", "check",
        warning="Turns off every TLS check (certificate, host name, revocation): only "
        "for a test server you control.",
    ),
    OptionField("replicaSet", "Replica set name", "Advanced"),
    OptionField("readPreference", "Read preference", "Advanced", "choice", READ_PREFERENCES),
    OptionField("readPreferenceTags", "Read preference tags", "Advanced", "tags",
                placeholder="dc:ny,rack:1; dc:sf  (tag sets in order, ';' between)"),
    OptionField("maxStalenessSeconds", "Max staleness (s)", "Advanced",
                placeholder="-1 or 90 and more"),
    OptionField("appname", "Application name", "Advanced"),
    OptionField("connectTimeoutMS", "Connect timeout (ms)", "Advanced", placeholder="20000"),
    OptionField("socketTimeoutMS", "Socket timeout (ms)", "Advanced", placeholder="none"),
    OptionField("serverSelectionTimeoutMS", "Server selection timeout (ms)", "Advanced",
                placeholder="30000"),
    OptionField("timeoutMS", "Operation timeout (ms)", "Advanced", placeholder="none"),
    OptionField("maxPoolSize", "Max pool size", "Advanced", placeholder="100"),
    OptionField("minPoolSize", "Min pool size", "Advanced", placeholder="0"),
    OptionField("maxIdleTimeMS", "Max idle time (ms)", "Advanced", placeholder="none"),
    OptionField("w", "Write concern w", "Advanced", placeholder="1, majority or a tag"),
    OptionField("wTimeoutMS", "Write concern timeout (ms)", "Advanced"),
    OptionField("journal", "Journal", "Advanced", "tristate"),
    OptionField("retryReads", "Retry reads", "Advanced", "tristate"),
    OptionField("retryWrites", "Retry writes", "Advanced", "tristate"),
    OptionField("compressors", "Compressors", "Advanced", placeholder="zstd,zlib,snappy"),
)
FORM_OPTIONS = frozenset(f.option.lower() for f in OPTION_FIELDS) | {"authmechanism"}


def labelled(editor: QWidget, error: QLabel) -> QWidget:
    """An editor with its error label under it, as one form row."""
    box = QWidget()
    box.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Fixed)
    column = QVBoxLayout(box)
    column.setContentsMargins(0, 0, 0, 0)
    column.setSpacing(2)
    column.addWidget(editor)
    column.addWidget(error)
    return box


def format_value(value: Any) -> str:
    """A typed option value as it would be written in a URI."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ",".join(str(v) for v in value)
    if isinstance(value, dict):
        return ",".join(f"{k}:{format_value(v)}" for k, v in value.items())
    return str(value)


class OptionWidget:
    """One option's editor (a line edit, a combo box or a check box) and its error label."""

    def __init__(self, spec: OptionField, on_change: Callable[[], None]) -> None:
        self.spec = spec
        self.error = QLabel()
        self.error.setProperty("role", "error")
        self.error.setWordWrap(True)
        self.error.hide()
        self.warning: QLabel | None = None
        # One form row holds the editor, its warning and its error, so hidden labels
        # take no space of their own.
        self.container = QWidget()
        self.container.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Fixed)
        column = QVBoxLayout(self.container)
        column.setContentsMargins(0, 0, 0, 0)
        column.setSpacing(2)
        row = QHBoxLayout()
        column.addLayout(row)
        self.editor: QWidget
        if spec.kind in ("tristate", "choice"):
            combo = QComboBox()
            items = spec.choices or ("true", "false")
            combo.addItems([DEFAULT, *items] if items[0] != DEFAULT else list(items))
            combo.currentIndexChanged.connect(lambda _i: on_change())
            self.editor = combo
        elif spec.kind == "check":
            box = QCheckBox(spec.label)
            box.toggled.connect(lambda _c: on_change())
            self.editor = box
            self.warning = QLabel(spec.warning)
            self.warning.setProperty("role", "warning")
            self.warning.setWordWrap(True)
            self.warning.hide()
            box.toggled.connect(self.warning.setVisible)
        else:
            line = QLineEdit()
            line.setPlaceholderText(spec.placeholder)
            line.setClearButtonEnabled(True)
            if spec.kind == "password":
                line.setEchoMode(QLineEdit.EchoMode.Password)
            line.textEdited.connect(lambda _t: on_change())
            self.editor = line
        self.editor.setObjectName(f"option_{spec.option}")
        row.addWidget(self.editor, 1)
        if spec.kind == "file":
            # Filled by the dialog when the named file is missing or unreadable.
            self.warning = QLabel()
            self.warning.setProperty("role", "warning")
            self.warning.setWordWrap(True)
            self.warning.hide()
            browse = QPushButton("Browse…")
            browse.clicked.connect(lambda: self._browse(on_change))
            row.addWidget(browse)
        if self.warning is not None:
            column.addWidget(self.warning)
        column.addWidget(self.error)

    def _browse(self, on_change: Callable[[], None]) -> None:
        path, _ = QFileDialog.getOpenFileName(self.container, self.spec.label)
        if path:
            self.set_text(path)
            on_change()

    # -- value in both directions ---------------------------------------------------
    def set_value(self, value: Any) -> None:
        """Show the driver's typed value (``None``: not set)."""
        editor = self.editor
        if isinstance(editor, QComboBox):
            if value is None:
                editor.setCurrentIndex(0)
            elif self.spec.option == "tls":
                editor.setCurrentText("on" if value else "off")
            else:
                editor.setCurrentText(format_value(value))
        elif isinstance(editor, QCheckBox):
            editor.setChecked(bool(value))
            if self.warning is not None:
                self.warning.setVisible(bool(value))
        elif self.spec.kind == "tags":
            sets = value or []
            self.set_text("; ".join(format_value(s) for s in sets))
        else:
            self.set_text("" if value is None else format_value(value))

    def set_text(self, text: str) -> None:
        assert isinstance(self.editor, QLineEdit)
        self.editor.setText(text)

    def value(self) -> Any:
        """The value to give the driver (a URI-style string), or ``None`` for unset."""
        editor = self.editor
        if isinstance(editor, QComboBox):
            text = editor.currentText()
            if text == DEFAULT:
                return None
            if self.spec.option == "tls":
                return "true" if text == "on" else "false"
            return text
        if isinstance(editor, QCheckBox):
            return "true" if editor.isChecked() else None
        assert isinstance(editor, QLineEdit)
        text = editor.text()
        if self.spec.kind == "tags":
            return [part.strip() for part in text.split(";")] if text.strip() else None
        if self.spec.kind == "password":
            return text or None
        return text.strip() or None

    def show_warning(self, message: str) -> None:
        """A note that does not block connecting (file options only)."""
        if self.warning is not None and self.spec.kind == "file":
            self.warning.setText(message)
            self.warning.setVisible(bool(message))

    def show_error(self, message: str) -> None:
        self.error.setText(message)
        self.error.setVisible(bool(message))
        if isinstance(self.editor, QLineEdit):
            self.editor.setProperty("invalid", bool(message))
            self.editor.style().unpolish(self.editor)
            self.editor.style().polish(self.editor)
