"""Screenshots of the connection dialog and the main window, light and dark, written to
``test-output/screenshots/`` (git-ignored) for a person to review."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtGui import QImage

from app.connect.dialog import ConnectionDialog
from app.theme import apply_theme
from app.window import MainWindow

OUTPUT = Path(__file__).resolve().parents[2] / "test-output" / "screenshots"


def _mean_lightness(image: QImage) -> float:
    step_x, step_y = max(1, image.width() // 20), max(1, image.height() // 20)
    values = [
        image.pixelColor(x, y).lightness()
        for x in range(0, image.width(), step_x)
        for y in range(0, image.height(), step_y)
    ]
    return sum(values) / len(values)


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_screenshots(qtbot, qapp, scheme, data_dir):
    palette, sheet = qapp.palette(), qapp.styleSheet()
    OUTPUT.mkdir(parents=True, exist_ok=True)
    try:
        apply_theme(qapp, scheme)
        window = MainWindow()
        qtbot.addWidget(window)
        window.show()
        qtbot.waitExposed(window)
        window.show_topology("ReplicaSetWithPrimary", "db1.example:27017")
        window.log_dock.show()
        window.append_log("✓ find at db1.example:27017 in 4.2 ms (request 7)")
        from app.connect.favorites import FavoritesStore

        store = FavoritesStore()
        store.add_folder("Production")
        store.save_favorite("Orders cluster", "mongodb+srv://cluster0.ab12c.mongodb.net/",
                            folder="Production", color="red")
        store.save_favorite("Local", "mongodb://localhost:27017", color="green")
        store.add_recent("mongodb://localhost:27017")
        dialog = ConnectionDialog(
            "mongodb+srv://ann:s3cret@cluster0.ab12c.mongodb.net/shop?retryWrites=true&w=majority"
            "&tls=true&tlsAllowInvalidHostnames=true",
            favorites=store,
        )
        qtbot.addWidget(dialog)
        dialog.show()
        qtbot.waitExposed(dialog)
        shots = {}
        for name, widget in (("main-window", window), ("dialog-general", dialog)):
            shots[name] = widget.grab().toImage()
        dialog.tabs.setCurrentIndex(2)  # TLS, with a warning showing
        shots["dialog-tls"] = dialog.grab().toImage()
        for name, image in shots.items():
            path = OUTPUT / f"{name}-{scheme}.png"
            assert image.save(str(path)), path
            assert path.stat().st_size > 1000
            lightness = _mean_lightness(image)
            assert (lightness < 128) is (scheme == "dark"), (name, lightness)
    finally:
        qapp.setPalette(palette)
        qapp.setStyleSheet(sheet)
