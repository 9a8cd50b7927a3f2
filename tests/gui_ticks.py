"""One GUI tick meter for every test that shows the window keeps responding.

A 10 ms ``QTimer`` runs on the GUI thread while a test drives work that must not block it
(a 15 MB document, the health view's polling, a connection attempt). Its ticks show the
event loop kept turning. Tests assert only what no busy machine can fake:

- the timer ticked while the work was in flight (the work did not run inside one call);
- no gap reached ``HANG_S`` (a real freeze, not scheduling noise).

How *smooth* the GUI is (the longest gap against the 50 ms goal) is a measurement, not a
test: the meter prints it, and when ``BINNACLE_GUI_GAPS`` names a file it appends one
JSON line per measurement there, which ``benchmarks/gui_stalls.py`` collects over
repeated runs and prints as medians.
"""

from __future__ import annotations

import json
import os
import time

from PySide6.QtCore import QTimer

from tests.timing import HANG_S

GAPS_FILE_ENV = "BINNACLE_GUI_GAPS"
STALL_S = 0.03  # gaps above this are listed (for the measurement; never asserted)


class TickMeter:
    """A 10 ms QTimer recording its ticks and the longest gap between them."""

    def __init__(self, interval_ms: int = 10) -> None:
        self._timer = QTimer()
        self._timer.setInterval(interval_ms)
        self._timer.timeout.connect(self._tick)
        self._last: float | None = None
        self.longest_gap_s = 0.0
        self.ticks = 0
        self.stalls: list[float] = []  # gaps above STALL_S, in seconds

    @property
    def longest(self) -> float:
        """The longest gap in seconds (short name kept for older call sites)."""
        return self.longest_gap_s

    def _tick(self) -> None:
        now = time.perf_counter()
        if self._last is not None:
            gap = now - self._last
            self.longest_gap_s = max(self.longest_gap_s, gap)
            if gap > STALL_S:
                self.stalls.append(gap)
        self._last = now
        self.ticks += 1

    def start(self) -> None:
        self._last = None
        self._timer.start()

    def stop(self) -> None:
        self._timer.stop()

    def pause(self) -> None:
        """Stop measuring (around test-only work such as grabbing a screenshot)."""
        self._timer.stop()
        self._last = None

    def resume(self) -> None:
        self._last = None
        self._timer.start()

    def assert_responsive(self, scenario: str, min_ticks: int = 2) -> None:
        """The GUI kept turning during ``scenario`` and never froze for ``HANG_S``."""
        check_responsive(scenario, self.ticks, self.longest_gap_s, len(self.stalls), min_ticks)


def gaps_of(ticks: list[float]) -> list[float]:
    """Gaps between consecutive tick times (for tests that record ticks in a list)."""
    return [b - a for a, b in zip(ticks, ticks[1:], strict=False)]


def assert_ticks_responsive(ticks: list[float], scenario: str, min_ticks: int = 2) -> None:
    """``TickMeter.assert_responsive`` for tests that record tick times in a list."""
    gaps = gaps_of(ticks)
    check_responsive(scenario, len(ticks), max(gaps, default=0.0),
                     sum(g > STALL_S for g in gaps), min_ticks)


def check_responsive(scenario: str, ticks: int, longest_s: float, stalls: int,
                     min_ticks: int) -> None:
    """Record the measurement (printed; appended to the gaps file) and assert no freeze."""
    print(f"\n{scenario}: {ticks} ticks, longest GUI gap {longest_s * 1000:.1f} ms, "
          f"{stalls} gaps over {STALL_S * 1000:.0f} ms")
    record(scenario, longest_gap_ms=longest_s * 1000, gaps_over_30ms=stalls)
    assert ticks >= min_ticks, (
        f"{scenario}: the GUI timer ticked {ticks} times: the event loop did not run "
        "while the work was in flight")
    assert longest_s < HANG_S, f"{scenario}: the GUI froze for {longest_s:.1f} s"


def record(scenario: str, **figures_ms: float) -> None:
    """Append one measurement (milliseconds, or counts) for ``benchmarks/gui_stalls.py``."""
    path = os.environ.get(GAPS_FILE_ENV)
    if path:
        with open(path, "a", encoding="utf-8") as out:
            out.write(json.dumps({"scenario": scenario, **figures_ms}) + "\n")
