"""Test-wide settings: offscreen Qt for every test (pytest-qt's widgets need no screen),
and a closing table of the specification runners' case counts.

The table lists, per spec runner module, how many cases passed, failed and were
skipped, so a run shows at a glance that the spec suites really ran (a runner that
silently collected nothing would show 0).
"""

from __future__ import annotations

import os
from collections import Counter
from typing import Any

from tests.specdata import SPEC_RUNNERS

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


_outcomes: dict[str, Counter[str]] = {}


def pytest_runtest_logreport(report: Any) -> None:
    module = report.nodeid.split("::", 1)[0]
    if module not in SPEC_RUNNERS:
        return
    # A case counts once: by its call phase, or by its setup phase when skipped there.
    if report.when == "call" or (report.when == "setup" and report.outcome != "passed"):
        _outcomes.setdefault(module, Counter())[report.outcome] += 1


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not _outcomes:
        return
    terminalreporter.section("specification runners")
    for module in SPEC_RUNNERS:
        counts = _outcomes.get(module)
        if counts is None:
            continue
        terminalreporter.write_line(
            f"{module}: {counts['passed']} passed, {counts['failed']} failed, "
            f"{counts['skipped']} skipped"
        )
