"""Fixtures for the app tests: a qasync loop per test, a worker pool, a data folder.

qasync under pytest-qt: the loop is created per test on pytest-qt's ``qapp`` and driven
only with ``run_until_complete`` (which starts and ends ``QApplication.exec`` itself);
we never ``stop()`` an ``already_running`` loop, which would leave Qt's quit flag set and
break later ``qtbot.wait`` calls.
"""

from __future__ import annotations

import asyncio
import threading

import pytest
import qasync

from app.services.worker import WorkerPool


@pytest.fixture
def aloop(qapp):
    loop = qasync.QEventLoop(qapp)
    asyncio.set_event_loop(loop)
    try:
        yield loop
    finally:
        asyncio.set_event_loop(None)
        loop.close()


@pytest.fixture
def pool():
    workers = WorkerPool(max_workers=3, name="test-worker")
    yield workers
    assert workers.shutdown(wait=True, timeout=5), "worker threads did not stop"


@pytest.fixture
def data_dir(tmp_path, monkeypatch):
    """The app's data folder, redirected to a fresh temporary folder."""
    folder = tmp_path / "appdata"
    monkeypatch.setenv("BINNACLE_DATA_DIR", str(folder))
    return folder


@pytest.fixture(autouse=True)
def no_leaked_threads():
    before = {t.ident for t in threading.enumerate()}
    yield
    leaked = [
        t for t in threading.enumerate() if t.ident not in before and t.is_alive() and not t.daemon
    ]
    assert not leaked, f"threads left running: {leaked}"
