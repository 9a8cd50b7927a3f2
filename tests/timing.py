"""Time bounds in tests: limits that only a hang crosses, never speed targets.

Tests assert behaviour. Where a behaviour can only be seen in time ("close cancels the
connect instead of waiting for connectTimeoutMS", "the selection gives up at its
timeout"), the test makes what must *not* be waited for long (``LONG_S``, or a timeout
of that order) and asserts that the elapsed time stays under ``HANG_S``: far above what
the behaviour needs on any machine, far below what the wrong behaviour would take. A
busy machine cannot fail such a test; a hang or a forgotten timeout still does.

How fast things are (a close in milliseconds, the GUI's longest stall) is measured in
``benchmarks/``, which print medians and compare with PyMongo; it is never asserted here.
"""

from __future__ import annotations

HANG_S = 10.0  # nothing a test waits for takes a tenth of this, even on a loaded machine
LONG_S = 60.0  # a timeout or delay that the behaviour under test must not wait for
LONG_MS = int(LONG_S * 1000)


def assert_prompt(elapsed: float, what: str, bound: float = HANG_S) -> None:
    """``elapsed`` (seconds) is under ``bound``: the thing did not hang or wait it out."""
    assert elapsed < bound, f"{what} took {elapsed:.1f} s: it hung or waited for a timeout"
