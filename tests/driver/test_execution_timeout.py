"""``maxTimeMS`` end to end: the sandbox's ``failCommand`` fail point holds a command longer than
its time limit, the server answers ``MaxTimeMSExpired`` (code 50), and our driver raises
``ExecutionTimeout`` for ``find``, ``aggregate``, ``count`` and ``distinct``; a command within its
limit succeeds, and an expired write is not applied."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from driver import MongoClient
from driver.errors import ExecutionTimeout, OperationFailure
from sandbox.cluster import SandboxCluster
from tests.driver.api_support import (  # noqa: F401  (fixtures)
    RecordingListener,
    fresh_name,
    listener_fixture,
    standalone_fixture,
)

APP_NAME = "execution-timeout-test"
BLOCK_MS = 200


@pytest.fixture(name="client")
def client_fixture(standalone: SandboxCluster,
                   listener: RecordingListener) -> Iterator[MongoClient]:
    # retryReads off: a retried read would hide the first, timed-out attempt.
    client = MongoClient(standalone.uri, serverSelectionTimeoutMS=5000, appname=APP_NAME,
                         retryReads=False, event_listeners=[listener])
    try:
        yield client
    finally:
        client.admin.command("configureFailPoint", "failCommand", mode="off")
        client.close()


@pytest.fixture(name="block")
def block_fixture(client: MongoClient) -> Callable[[str, int], None]:
    """Hold this client's next ``command`` for ``millis`` on the server (once)."""

    def block(command: str, millis: int = BLOCK_MS) -> None:
        client.admin.command("configureFailPoint", "failCommand", mode={"times": 1},
                             data={"failCommands": [command], "blockConnection": True,
                                   "blockTimeMS": millis, "appName": APP_NAME})

    return block


@pytest.fixture(name="coll")
def coll_fixture(client: MongoClient) -> Iterator[Any]:
    collection = client["timeouts"][fresh_name("slow")]
    collection.insert_many([{"_id": i, "x": i % 2} for i in range(5)])
    yield collection
    collection.drop()


def test_find_max_time_ms_raises_execution_timeout(
        coll: Any, block: Callable[[str, int], None], listener: RecordingListener) -> None:
    block("find", BLOCK_MS)
    started = time.monotonic()
    with pytest.raises(ExecutionTimeout) as info:
        list(coll.find({}).max_time_ms(50))
    assert time.monotonic() - started >= BLOCK_MS / 1000
    error = info.value
    assert isinstance(error, OperationFailure) and error.code == 50
    assert error.details is not None
    assert error.details["codeName"] == "MaxTimeMSExpired"
    assert error.details["errmsg"] == "operation exceeded time limit"
    assert listener.commands("find")[-1]["maxTimeMS"] == 50
    assert [f.failure["code"] for f in listener.failures("find")] == [50]


@pytest.mark.parametrize("command", ["aggregate", "count", "distinct"])
def test_other_reads_raise_execution_timeout(
        coll: Any, block: Callable[[str, int], None], command: str) -> None:
    run: dict[str, Callable[[], Any]] = {
        "aggregate": lambda: list(coll.aggregate([{"$match": {}}], maxTimeMS=50)),
        "count": lambda: coll.database.command("count", coll.name, maxTimeMS=50),
        "distinct": lambda: coll.distinct("x", maxTimeMS=50),
    }
    block(command, BLOCK_MS)
    with pytest.raises(ExecutionTimeout) as info:
        run[command]()
    assert info.value.code == 50


def test_within_the_limit_succeeds(coll: Any, block: Callable[[str, int], None]) -> None:
    block("find", 10)
    assert len(list(coll.find({"x": 1}).max_time_ms(2000))) == 2
    block("find", 100)
    assert len(list(coll.find({}))) == 5  # no maxTimeMS: the block only slows it down


def test_an_expired_write_is_not_applied(coll: Any, block: Callable[[str, int], None]) -> None:
    block("insert", 150)
    with pytest.raises(ExecutionTimeout):
        coll.database.command("insert", coll.name, documents=[{"_id": "late"}], maxTimeMS=20)
    assert coll.find_one({"_id": "late"}) is None
