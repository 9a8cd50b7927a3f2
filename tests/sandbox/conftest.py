"""Fixtures for the sandbox fidelity suite: clusters, short-timeout PyMongo clients, leak checks."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any

import pymongo
import pytest

from sandbox.cluster import SandboxCluster

FAST = {"serverSelectionTimeoutMS": 3000, "heartbeatFrequencyMS": 500, "connectTimeoutMS": 3000}


def sandbox_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "sandbox-cluster"]


@pytest.fixture(autouse=True)
def no_leaked_sandbox_threads() -> Iterator[None]:
    before = set(sandbox_threads())
    yield
    leaked = [t for t in sandbox_threads() if t not in before]
    assert not leaked, f"sandbox threads left running: {leaked}"


@pytest.fixture
def make_client() -> Iterator[Callable[..., pymongo.MongoClient[Any]]]:
    clients: list[pymongo.MongoClient[Any]] = []

    def make(uri: str, **kwargs: Any) -> pymongo.MongoClient[Any]:
        client: pymongo.MongoClient[Any] = pymongo.MongoClient(uri, **{**FAST, **kwargs})
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()


@pytest.fixture(scope="module")
def standalone() -> Iterator[SandboxCluster]:
    with SandboxCluster("standalone") as cluster:
        yield cluster


@pytest.fixture
def replset() -> Iterator[SandboxCluster]:
    with SandboxCluster("replset", 3, election_delay=0.2) as cluster:
        yield cluster
