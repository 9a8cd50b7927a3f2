"""The Performance tab end to end against a sandbox standalone through our driver: it
polls serverStatus only while visible, turns counters into rates, lists currentOp
slowest first and kills an operation only after confirmation."""

from __future__ import annotations

import asyncio

import pytest

from app.cluster.common import ClientSource
from app.cluster.performance import PerformanceView, ServerStatusRates, slowest_first
from driver.client import MongoClient
from driver.errors import OperationFailure
from sandbox.cluster import SandboxCluster
from tests.app.cluster.conftest import run, screenshot, wait_until


@pytest.fixture
def standalone_client():
    with SandboxCluster(kind="standalone") as cluster:
        client = MongoClient(cluster.uri, heartbeatFrequencyMS=500,
                             serverSelectionTimeoutMS=5000)
        try:
            yield client
        finally:
            client.close()


def _view(qtbot, client, pool, **kwargs) -> PerformanceView:
    view = PerformanceView(ClientSource(client, pool), interval_ms=150, **kwargs)
    qtbot.addWidget(view)
    view.resize(900, 700)
    return view


def test_polls_only_while_visible_and_charts_rates(qtbot, aloop, pool, standalone_client,
                                                   ticks):
    view = _view(qtbot, standalone_client, pool)
    collection = standalone_client["perf"]["items"]

    async def scenario() -> None:
        await asyncio.sleep(0.4)
        assert view.poll_count == 0 and not view.polling  # never shown: never polled
        view.show()
        await wait_until(lambda: view.poll_count >= 2, 5, "two polls")
        await pool.submit(lambda: collection.insert_many([{"n": i} for i in range(50)]))
        for _ in range(20):
            await pool.submit(lambda: collection.insert_one({"n": -1}))
        await wait_until(lambda: (view.charts["ops"].latest("insert") or 0) > 0, 5,
                         "an insert rate")
        await wait_until(lambda: view.charts["network"].latest("in") is not None, 5,
                         "network rate")
        screenshot(view, "performance", ticks)
        view.hide()
        await asyncio.sleep(0.05)  # a poll already in flight may still land
        frozen = view.poll_count
        await asyncio.sleep(0.6)
        assert view.poll_count == frozen and not view.polling  # hidden: no polling
        view.show()
        await wait_until(lambda: view.poll_count > frozen, 5, "polling again")

    ticks.start()
    run(aloop, scenario())
    ticks.stop()
    view.shutdown()
    assert view.charts["connections"].latest("current") >= 1
    assert view.charts["memory"].latest("resident") > 0
    assert view.last_error is None
    ticks.assert_responsive("performance charts polling")


def test_current_op_kill_after_confirmation(qtbot, aloop, pool, standalone_client):
    questions: list[str] = []
    answers = [False, True]

    def confirm(parent, question: str) -> bool:
        questions.append(question)
        return answers.pop(0)

    view = _view(qtbot, standalone_client, pool, confirm=confirm)
    view.show()
    collection = standalone_client["perf"]["slow"]
    standalone_client.admin.command(
        "configureFailPoint", "failCommand", mode={"times": 1},
        data={"failCommands": ["find"], "blockConnection": True, "blockTimeMS": 8000})

    async def scenario() -> None:
        slow = pool.submit(lambda: list(collection.find({})))

        def slow_find():
            return next((op for op in view.operations
                         if "find" in (op.get("command") or {})), None)

        async def refreshed_has_find():
            await view.refresh_operations()
            return slow_find()

        for _ in range(200):
            if await refreshed_has_find():
                break
            await asyncio.sleep(0.02)
        op = slow_find()
        assert op is not None, view.operations
        assert view.operations == slowest_first(view.operations)
        assert view.kill_operation(op) is None  # declined: nothing sent
        assert not slow.done()
        task = view.kill_operation(op)
        assert task is not None
        await task
        with pytest.raises(OperationFailure) as caught:
            await slow
        assert caught.value.code == 11601  # Interrupted
        assert str(op["opid"]) in questions[0]

    run(aloop, scenario())
    view.shutdown()
    assert len(questions) == 2


def test_rates_from_counters():
    rates = ServerStatusRates()
    first = rates.update({"opcounters": {"insert": 10}, "network": {"bytesIn": 2048},
                          "connections": {"current": 3, "active": 1}}, now=100.0)
    assert first["ops"] == {} and first["connections"] == {"current": 3.0, "active": 1.0}
    second = rates.update({"opcounters": {"insert": 30}, "network": {"bytesIn": 6144},
                           "globalLock": {"currentQueue": {"readers": 2, "writers": 0}}},
                          now=102.0)
    assert second["ops"] == {"insert": 10.0}
    assert second["network"] == {"in": 2.0}
    assert second["queues"] == {"queued readers": 2.0, "queued writers": 0.0}
    # A restart resets counters: no negative rate.
    third = rates.update({"opcounters": {"insert": 1}}, now=103.0)
    assert "insert" not in third["ops"]
