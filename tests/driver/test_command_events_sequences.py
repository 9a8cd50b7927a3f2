"""Command monitoring shows write statements as documents, as PyMongo does.

Writes go out as OP_MSG document sequences of pre-encoded BSON; a
``CommandStartedEvent`` must nevertheless carry ``command["documents"]`` (or
``updates`` / ``deletes``) as a list of documents. These run against the sandbox on
127.0.0.1, plus a check that authentication commands stay redacted and that nothing is
decoded when no command listener is registered.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

import driver.net.connection as connection_module
from driver import DeleteMany, DeleteOne, InsertOne, MongoClient, ReplaceOne, UpdateOne
from driver.bson import ObjectId
from sandbox import SandboxCluster
from tests.driver.api_support import (
    RecordingListener,
    client_fixture,  # noqa: F401 - fixtures used by name
    coll_fixture,  # noqa: F401
    fresh_name,
    listener_fixture,  # noqa: F401
    standalone_fixture,  # noqa: F401
)


def _only(listener: RecordingListener, name: str) -> dict[str, Any]:
    commands = listener.commands(name)
    assert len(commands) == 1, f"expected one {name} command, saw {len(commands)}"
    return commands[0]


def test_insert_many_event_carries_the_documents(coll: Any, listener: RecordingListener
                                                 ) -> None:
    listener.clear()
    result = coll.insert_many([{"n": 1, "tags": ["a"]}, {"n": 2, "sub": {"x": 1.5}}])
    command = _only(listener, "insert")
    assert command["insert"] == coll.name
    documents = command["documents"]
    assert [d["n"] for d in documents] == [1, 2]
    assert documents[0]["tags"] == ["a"] and documents[1]["sub"] == {"x": 1.5}
    # The _id the driver added is shown too, the same one the result reports.
    assert [d["_id"] for d in documents] == result.inserted_ids
    assert all(isinstance(d["_id"], ObjectId) for d in documents)


def test_insert_one_event_carries_the_document(coll: Any, listener: RecordingListener) -> None:
    listener.clear()
    coll.insert_one({"_id": 7, "name": "seven"})
    assert _only(listener, "insert")["documents"] == [{"_id": 7, "name": "seven"}]


def test_update_one_event_carries_the_statement(coll: Any, listener: RecordingListener
                                                ) -> None:
    coll.insert_one({"_id": 1, "v": 0})
    listener.clear()
    coll.update_one({"_id": 1}, {"$inc": {"v": 2}}, upsert=True)
    updates = _only(listener, "update")["updates"]
    assert len(updates) == 1
    statement = updates[0]
    assert statement["q"] == {"_id": 1}
    assert statement["u"] == {"$inc": {"v": 2}}
    assert statement["upsert"] is True
    assert statement.get("multi", False) is False


def test_delete_many_event_carries_the_statement(coll: Any, listener: RecordingListener
                                                 ) -> None:
    coll.insert_many([{"k": 1}, {"k": 1}, {"k": 2}])
    listener.clear()
    assert coll.delete_many({"k": 1}).deleted_count == 2
    deletes = _only(listener, "delete")["deletes"]
    assert deletes == [{"q": {"k": 1}, "limit": 0}]


def test_bulk_write_events_carry_every_statement(coll: Any, listener: RecordingListener
                                                 ) -> None:
    listener.clear()
    coll.bulk_write([
        InsertOne({"_id": 1, "a": 1}),
        InsertOne({"_id": 2, "a": 2}),
        UpdateOne({"_id": 1}, {"$set": {"a": 10}}),
        ReplaceOne({"_id": 2}, {"a": 20}),
        DeleteOne({"_id": 1}),
        DeleteMany({"a": {"$gt": 100}}),
    ])
    assert _only(listener, "insert")["documents"] == [{"_id": 1, "a": 1}, {"_id": 2, "a": 2}]
    updates = _only(listener, "update")["updates"]
    assert [(u["q"], u["u"]) for u in updates] == [
        ({"_id": 1}, {"$set": {"a": 10}}),
        ({"_id": 2}, {"a": 20}),
    ]
    deletes = _only(listener, "delete")["deletes"]
    assert deletes == [{"q": {"_id": 1}, "limit": 1}, {"q": {"a": {"$gt": 100}}, "limit": 0}]


def test_event_documents_are_not_bytes_anywhere(coll: Any, listener: RecordingListener
                                                ) -> None:
    listener.clear()
    coll.insert_many([{"i": i} for i in range(3)])
    coll.update_many({}, {"$set": {"seen": True}})
    coll.delete_one({"i": 0})
    for name, field in (("insert", "documents"), ("update", "updates"), ("delete", "deletes")):
        for statement in _only(listener, name)[field]:
            assert isinstance(statement, dict), f"{name}.{field} holds {type(statement)}"


def test_no_decoding_without_a_command_listener(standalone: SandboxCluster,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[bytes] = []
    original = connection_module._decode_statement

    def counting(statement: bytes) -> Any:
        calls.append(statement)
        return original(statement)

    monkeypatch.setattr(connection_module, "_decode_statement", counting)
    with MongoClient(standalone.uri, serverSelectionTimeoutMS=5000) as client:
        coll = client["apitest"][fresh_name()]
        coll.insert_many([{"i": 1}, {"i": 2}])
        coll.update_one({"i": 1}, {"$set": {"j": 1}})
        coll.delete_many({})
        coll.drop()
    assert calls == []


@pytest.fixture(scope="module")
def with_users() -> Iterator[SandboxCluster]:
    with SandboxCluster("standalone", users={"alice": "s3cret-pw"}) as cluster:
        yield cluster


def test_auth_commands_stay_redacted(with_users: SandboxCluster) -> None:
    listener = RecordingListener()
    with MongoClient(with_users.uri, serverSelectionTimeoutMS=5000,
                     event_listeners=[listener]) as client:
        coll = client["apitest"][fresh_name()]
        coll.insert_many([{"x": 1}])
        assert _only(listener, "insert")["documents"][0]["x"] == 1
        coll.drop()
    sensitive = [e for e in listener.started_events
                 if e.command_name.lower() in {"saslstart", "saslcontinue", "authenticate"}]
    # With speculative authentication the first step rides in the handshake (not
    # published); the SCRAM step after it is published, with an empty command.
    assert sensitive, "no authentication command was published"
    for event in sensitive:
        assert event.command == {}
    for event in listener.succeeded_events:
        if event.command_name.lower() in {"saslstart", "saslcontinue", "authenticate"}:
            assert event.reply == {}
    texts = [repr(dict(e.command)) for e in listener.started_events]
    assert not any("s3cret-pw" in text for text in texts)
