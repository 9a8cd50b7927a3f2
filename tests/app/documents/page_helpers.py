"""Helpers for the collection page tests: run the qasync loop until a condition holds,
delete widgets on the GUI thread, build query specs."""

from __future__ import annotations

import asyncio
import time

import shiboken6
from PySide6.QtCore import QCoreApplication, QEvent

from app.documents.query.bar import build_spec


def dispose(*objects) -> None:
    """Delete Qt objects now, on the GUI thread (never leave them to the collector)."""
    for obj in objects:
        if shiboken6.isValid(obj):
            obj.close()
            obj.deleteLater()
    QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)


def settle(aloop, condition, timeout: float = 15.0) -> None:
    """Run the loop until ``condition()`` holds (polling; no pending timers left)."""

    async def poll() -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > deadline:
                raise AssertionError("condition not reached in time")
            await asyncio.sleep(0.005)

    aloop.run_until_complete(poll())


def spec(**texts):
    built, errors = build_spec(texts)
    assert not errors, errors
    return built


def run_query(aloop, page, **texts):
    page.query_bar.set_texts(texts)
    assert page.query_bar.run_query()
    run = page.run
    settle(aloop, lambda: run.started)
    return run


def settle_exact_count(aloop, page) -> int:
    """Wait for the page's exact count to be settled either way, then demand it.

    A count that failed (a time limit, a server error) leaves ``count_timed_out`` and the
    reason in the label's tooltip: the test fails with that reason at once instead of
    waiting for a total that can no longer come.
    """
    settle(aloop, lambda: page.exact_count is not None or page.count_timed_out)
    assert page.exact_count is not None, (
        f"the exact count failed: {page.count_label.toolTip() or 'no reason given'}")
    return page.exact_count
