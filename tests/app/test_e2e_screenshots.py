"""Screenshots of the main window with the demo tree (light and dark), written to
``test-output/screenshots/`` (git-ignored) for a person to review.

The demo cluster is real (sandbox + our driver): the tree shows the sample databases,
``shop`` expanded with its counts, the status bar its topology and the log panel the
commands that loaded it."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.demo import DemoCluster, start_demo
from app.theme import apply_theme
from app.window import MainWindow
from tests.app.test_e2e_window import dispose

OUTPUT = Path(__file__).resolve().parents[2] / "test-output" / "screenshots"


def _mean_lightness(image) -> float:
    step_x, step_y = max(1, image.width() // 20), max(1, image.height() // 20)
    values = [image.pixelColor(x, y).lightness()
              for x in range(0, image.width(), step_x) for y in range(0, image.height(), step_y)]
    return sum(values) / len(values)


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_main_window_with_demo_tree_screenshot(aloop, pool, qtbot, qapp, data_dir, scheme):
    palette, sheet = qapp.palette(), qapp.styleSheet()
    OUTPUT.mkdir(parents=True, exist_ok=True)
    demo = DemoCluster()
    window = MainWindow()
    window.pool = pool
    try:
        apply_theme(qapp, scheme)
        window.show()
        qtbot.waitExposed(window)
        connection = aloop.run_until_complete(start_demo(window, demo))
        model = window.tree_model
        shop = model.find(connection, "shop")
        aloop.run_until_complete(model.load(shop))
        aloop.run_until_complete(model.settle())
        window.explorer.view.expand(model.index_of(shop))
        window.explorer.select(model.find(connection, "shop", "orders"))
        window.log_dock.show()
        qtbot.waitUntil(lambda: window.primary_label.text().startswith("Primary: "),
                        timeout=5000)
        image = window.grab().toImage()
        path = OUTPUT / f"main-window-demo-{scheme}.png"
        assert image.save(str(path)), path
        assert path.stat().st_size > 5000
        assert (_mean_lightness(image) < 128) is (scheme == "dark")
        assert model.index_of(model.find(connection, "shop", "orders"), 1).data() == "5,000"
    finally:
        aloop.run_until_complete(window.shutdown())
        dispose(window)
        demo.stop()
        qapp.setPalette(palette)
        qapp.setStyleSheet(sheet)
