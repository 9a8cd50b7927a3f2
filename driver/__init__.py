"""Binnacle's MongoDB driver: pure Python, no Qt, PyMongo's public names.

Layers (each imports only the ones below it): ``bson`` (codec) → ``net`` (wire
protocol, connections, handshake, TLS) and ``auth`` → ``pool`` → ``sdam`` (server
discovery and monitoring, server selection) → ``topology`` → the client API.

The main names are importable from here, as with PyMongo::

    from driver import MongoClient, ReadPreference, WriteConcern, ASCENDING

They are loaded on first access (PEP 562), so importing a low layer such as
``driver.bson`` or ``driver.errors`` does not drag the whole client stack in (and
cannot create import cycles through this package).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from driver.errors import (
    AutoReconnect,
    BulkWriteError,
    CollectionInvalid,
    ConfigurationError,
    ConnectionFailure,
    CursorNotFound,
    DocumentTooLarge,
    DuplicateKeyError,
    ExecutionTimeout,
    InvalidName,
    InvalidOperation,
    InvalidURI,
    NetworkTimeout,
    NotPrimaryError,
    OperationFailure,
    ProtocolError,
    PyMongoError,
    ServerSelectionTimeoutError,
    WaitQueueTimeoutError,
    WriteConcernError,
    WriteError,
)
from driver.read_preferences import ReadPreference

__version__ = "0.1.0"
version = __version__

# name → module that defines it.
_LAZY = {
    "MongoClient": "driver.client",
    "Database": "driver.database",
    "Collection": "driver.collection",
    "Cursor": "driver.operations.cursor",
    "CursorType": "driver.operations.cursor",
    "CommandCursor": "driver.operations.cursor",
    "RawBatchCursor": "driver.operations.cursor",
    "ClientSession": "driver.session",
    "InsertOne": "driver.operations.bulk",
    "UpdateOne": "driver.operations.bulk",
    "UpdateMany": "driver.operations.bulk",
    "ReplaceOne": "driver.operations.bulk",
    "DeleteOne": "driver.operations.bulk",
    "DeleteMany": "driver.operations.bulk",
    "IndexModel": "driver.common",
    "ReturnDocument": "driver.common",
    "ASCENDING": "driver.common",
    "DESCENDING": "driver.common",
    "GEO2D": "driver.common",
    "GEOSPHERE": "driver.common",
    "HASHED": "driver.common",
    "TEXT": "driver.common",
    "InsertOneResult": "driver.results",
    "InsertManyResult": "driver.results",
    "UpdateResult": "driver.results",
    "DeleteResult": "driver.results",
    "BulkWriteResult": "driver.results",
    "WriteConcern": "driver.concern",
    "ReadConcern": "driver.concern",
    "ServerApi": "driver.server_api",
    "ServerApiVersion": "driver.server_api",
    "Primary": "driver.read_preferences",
    "PrimaryPreferred": "driver.read_preferences",
    "Secondary": "driver.read_preferences",
    "SecondaryPreferred": "driver.read_preferences",
    "Nearest": "driver.read_preferences",
    "CommandListener": "driver.operations.command_events",
    "ConnectionPoolListener": "driver.cmap.events",
    "TopologyListener": "driver.sdam.events",
    "ServerListener": "driver.sdam.events",
    "ServerHeartbeatListener": "driver.sdam.events",
}

if TYPE_CHECKING:
    from driver.client import MongoClient
    from driver.cmap.events import ConnectionPoolListener
    from driver.collection import Collection
    from driver.common import (
        ASCENDING,
        DESCENDING,
        GEO2D,
        GEOSPHERE,
        HASHED,
        TEXT,
        IndexModel,
        ReturnDocument,
    )
    from driver.concern import ReadConcern, WriteConcern
    from driver.database import Database
    from driver.operations.bulk import (
        DeleteMany,
        DeleteOne,
        InsertOne,
        ReplaceOne,
        UpdateMany,
        UpdateOne,
    )
    from driver.operations.command_events import CommandListener
    from driver.operations.cursor import CommandCursor, Cursor, CursorType, RawBatchCursor
    from driver.read_preferences import (
        Nearest,
        Primary,
        PrimaryPreferred,
        Secondary,
        SecondaryPreferred,
    )
    from driver.results import (
        BulkWriteResult,
        DeleteResult,
        InsertManyResult,
        InsertOneResult,
        UpdateResult,
    )
    from driver.sdam.events import ServerHeartbeatListener, ServerListener, TopologyListener
    from driver.server_api import ServerApi, ServerApiVersion
    from driver.session import ClientSession


def __getattr__(name: str) -> Any:
    module_name = _LAZY.get(name)
    if module_name is None:
        raise AttributeError(f"module 'driver' has no attribute {name!r}")
    value = getattr(importlib.import_module(module_name), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


__all__ = [
    "ASCENDING",
    "AutoReconnect",
    "BulkWriteError",
    "BulkWriteResult",
    "ClientSession",
    "Collection",
    "CollectionInvalid",
    "CommandCursor",
    "CommandListener",
    "ConfigurationError",
    "ConnectionFailure",
    "ConnectionPoolListener",
    "Cursor",
    "CursorNotFound",
    "CursorType",
    "DESCENDING",
    "Database",
    "DeleteMany",
    "DeleteOne",
    "DeleteResult",
    "DocumentTooLarge",
    "DuplicateKeyError",
    "ExecutionTimeout",
    "GEO2D",
    "GEOSPHERE",
    "HASHED",
    "IndexModel",
    "InsertManyResult",
    "InsertOne",
    "InsertOneResult",
    "InvalidName",
    "InvalidOperation",
    "InvalidURI",
    "MongoClient",
    "Nearest",
    "NetworkTimeout",
    "NotPrimaryError",
    "OperationFailure",
    "Primary",
    "PrimaryPreferred",
    "ProtocolError",
    "PyMongoError",
    "RawBatchCursor",
    "ReadConcern",
    "ReadPreference",
    "ReplaceOne",
    "ReturnDocument",
    "Secondary",
    "SecondaryPreferred",
    "ServerApi",
    "ServerApiVersion",
    "ServerHeartbeatListener",
    "ServerListener",
    "ServerSelectionTimeoutError",
    "TEXT",
    "TopologyListener",
    "UpdateMany",
    "UpdateOne",
    "UpdateResult",
    "WaitQueueTimeoutError",
    "WriteConcern",
    "WriteConcernError",
    "WriteError",
    "__version__",
    "version",
]
