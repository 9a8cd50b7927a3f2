"""The three event families share one base, one registry and one way of calling listeners.

Against a real sandbox server: a globally registered command listener hears a new
client's commands (as ``pymongo.monitoring.register`` promises for every family), a
listener that raises is logged while the others still hear, and a non-listener passed as
``event_listeners`` is refused with a message naming it instead of never hearing a thing.
"""

from __future__ import annotations

import logging
from typing import Any

import pytest

from driver import MongoClient, monitoring
from driver import events as shared_events
from driver.errors import ConfigurationError
from driver.events import Event, EventListener
from sandbox.cluster import SandboxCluster

EVENT_CLASSES = [getattr(monitoring, name) for name in monitoring.__all__
                 if name.endswith("Event")]
LISTENER_CLASSES = [getattr(monitoring, name) for name in monitoring.__all__
                    if name.endswith("Listener") and name != "EventListener"]


class Commands(monitoring.CommandListener):
    def __init__(self) -> None:
        self.started_names: list[str] = []

    def started(self, event: Any) -> None:
        self.started_names.append(event.command_name)


class Raises(monitoring.CommandListener, monitoring.ConnectionPoolListener):
    """Raises from every command and pool callback."""

    def started(self, event: Any) -> None:
        raise RuntimeError("listener bug")

    def connection_created(self, event: Any) -> None:
        raise RuntimeError("listener bug")


@pytest.fixture(scope="module")
def server():
    with SandboxCluster(kind="standalone") as cluster:
        yield cluster


def test_every_event_and_listener_class_has_the_shared_base() -> None:
    assert len(EVENT_CLASSES) >= 20 and len(LISTENER_CLASSES) == 5
    for event_class in EVENT_CLASSES:
        assert issubclass(event_class, Event), event_class
    for listener_class in LISTENER_CLASSES:
        assert issubclass(listener_class, EventListener), listener_class


def test_a_registered_command_listener_hears_new_clients(server: SandboxCluster,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(shared_events, "_GLOBAL_LISTENERS", [])
    heard = Commands()
    monitoring.register(heard)
    with MongoClient(server.uri) as client:
        client.admin.command("ping")
    assert "ping" in heard.started_names


def test_a_raising_listener_is_logged_and_the_others_still_hear(
        server: SandboxCluster, caplog: pytest.LogCaptureFixture) -> None:
    heard = Commands()
    with caplog.at_level(logging.ERROR), \
            MongoClient(server.uri, event_listeners=[Raises(), heard]) as client:
        client.admin.command("ping")
    assert "ping" in heard.started_names
    messages = [record.getMessage() for record in caplog.records]
    assert any("CommandListener" in m and "raised in started" in m for m in messages)
    assert any("ConnectionPoolListener" in m and "connection_created" in m for m in messages)


@pytest.mark.parametrize("not_a_listener", [object(), "listener", lambda event: None])
def test_a_non_listener_is_refused_by_name(not_a_listener: Any) -> None:
    with pytest.raises(ConfigurationError, match="event_listeners.*CommandListener"):
        MongoClient(event_listeners=[not_a_listener], connect=False)
    with pytest.raises(TypeError, match="not "):
        monitoring.register(not_a_listener)


def test_event_reprs_name_the_class_and_fields() -> None:
    from driver.cmap.events import ConnectionClosedEvent

    text = repr(ConnectionClosedEvent(("db.example", 27017), 3, "idle"))
    assert text == ("ConnectionClosedEvent(address=('db.example', 27017), connection_id=3, "
                    "reason='idle')")
