"""Light and dark themes: a palette plus a short style sheet, following the OS by default.

``resolve_scheme("system")`` asks Qt for the platform's colour scheme (Qt 6.5+
``QStyleHints.colorScheme``); when the platform does not say (offscreen, some Linux
desktops) it falls back to the lightness of the current window colour. The app listens to
``colorSchemeChanged`` so a switch in the OS settings is followed live.
"""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QGuiApplication, QPalette
from PySide6.QtWidgets import QApplication


@dataclass(frozen=True)
class Colors:
    window: str
    base: str
    alternate: str
    text: str
    muted: str
    accent: str
    error: str
    warning: str
    border: str


LIGHT = Colors("#f6f7f9", "#ffffff", "#eef1f5", "#1d2330", "#6b7280", "#2f6fd0", "#c62828",
               "#a15c00", "#cfd6df")
DARK = Colors("#1e2127", "#16181d", "#242830", "#e4e7ec", "#9aa3b2", "#5b9cf0", "#ff6b6b",
              "#f0b35a", "#3a404b")


def resolve_scheme(preference: str = "system") -> str:
    """``"light"`` or ``"dark"`` for a preference of ``system``/``light``/``dark``."""
    if preference in ("light", "dark"):
        return preference
    if preference != "system":
        raise ValueError(f"theme must be system, light or dark, not {preference!r}")
    hints = QGuiApplication.styleHints()
    scheme = hints.colorScheme() if hints is not None else Qt.ColorScheme.Unknown
    if scheme == Qt.ColorScheme.Dark:
        return "dark"
    if scheme == Qt.ColorScheme.Light:
        return "light"
    window = QGuiApplication.palette().color(QPalette.ColorRole.Window)
    return "dark" if window.lightness() < 128 else "light"


def colors_for(scheme: str) -> Colors:
    return DARK if scheme == "dark" else LIGHT


def style_sheet(colors: Colors) -> str:
    """The few rules the palette cannot express (validation labels, warnings, tabs)."""
    return f"""
QLabel[role="error"] {{ color: {colors.error}; }}
QLabel[role="warning"] {{ color: {colors.warning}; }}
QLabel[role="muted"] {{ color: {colors.muted}; }}
QLineEdit[invalid="true"] {{ border: 1px solid {colors.error}; border-radius: 3px; }}
QPlainTextEdit#logPanel {{ font-family: monospace; background: {colors.base}; }}
QStatusBar {{ border-top: 1px solid {colors.border}; }}
"""


def palette_for(colors: Colors) -> QPalette:
    palette = QPalette()
    role = QPalette.ColorRole
    for name, value in (
        (role.Window, colors.window),
        (role.Base, colors.base),
        (role.AlternateBase, colors.alternate),
        (role.Text, colors.text),
        (role.WindowText, colors.text),
        (role.ButtonText, colors.text),
        (role.ToolTipText, colors.text),
        (role.ToolTipBase, colors.base),
        (role.Button, colors.alternate),
        (role.Highlight, colors.accent),
        (role.HighlightedText, "#ffffff"),
        (role.PlaceholderText, colors.muted),
        (role.Link, colors.accent),
    ):
        palette.setColor(name, QColor(value))
    return palette


def apply_theme(app: QApplication, preference: str = "system") -> str:
    """Apply the theme to the whole app; returns the scheme used."""
    scheme = resolve_scheme(preference)
    colors = colors_for(scheme)
    app.setPalette(palette_for(colors))
    app.setStyleSheet(style_sheet(colors))
    app.setProperty("binnacleScheme", scheme)
    app.setProperty("binnacleThemePreference", preference)  # what View > Theme shows
    return scheme


def current_preference(app: QApplication) -> str:
    """The preference last applied (``system`` if none was)."""
    value = app.property("binnacleThemePreference")
    return value if value in ("system", "light", "dark") else "system"


def follow_system(app: QApplication, preference_getter: object = None) -> None:
    """Re-apply the theme when the OS switches between light and dark."""
    hints = QGuiApplication.styleHints()
    if hints is None:
        return

    def changed(_scheme: Qt.ColorScheme) -> None:
        # Without a getter, the preference last applied (View > Theme) decides: a user
        # who chose Dark keeps it when the OS turns light.
        preference = (preference_getter() if callable(preference_getter)
                      else current_preference(app))
        if preference == "system":
            apply_theme(app, "system")

    hints.colorSchemeChanged.connect(changed)
