"""The driver's public names stay what PyMongo users import, whatever the layout inside.

The package was reshaped by specification (``connection_string/``, ``cmap/``, ``sdam/``,
``operations/``); ``driver/__init__.py``'s public names must not change with it. The
list below is the public API as it stood before the reshape (65 names, pinned here on
purpose: a name dropped or renamed must fail this test, not be absorbed by it), and the
PyMongo-style modules users import from (``driver.errors`` as ``pymongo.errors``,
``driver.monitoring`` as ``pymongo.monitoring``, ...) must give the very same objects.
"""

from __future__ import annotations

import importlib

import pytest

import driver

PUBLIC_NAMES = frozenset({
    "ASCENDING", "AutoReconnect", "BulkWriteError", "BulkWriteResult", "ClientSession",
    "Collection", "CollectionInvalid", "CommandCursor", "CommandListener",
    "ConfigurationError", "ConnectionFailure", "ConnectionPoolListener", "Cursor",
    "CursorNotFound", "CursorType", "DESCENDING", "Database", "DeleteMany", "DeleteOne",
    "DeleteResult", "DocumentTooLarge", "DuplicateKeyError", "ExecutionTimeout", "GEO2D",
    "GEOSPHERE", "HASHED", "IndexModel", "InsertManyResult", "InsertOne", "InsertOneResult",
    "InvalidName", "InvalidOperation", "InvalidURI", "MongoClient", "Nearest",
    "NetworkTimeout", "NotPrimaryError", "OperationFailure", "Primary", "PrimaryPreferred",
    "ProtocolError", "PyMongoError", "RawBatchCursor", "ReadConcern", "ReadPreference",
    "ReplaceOne", "ReturnDocument", "Secondary", "SecondaryPreferred", "ServerApi",
    "ServerApiVersion", "ServerHeartbeatListener", "ServerListener",
    "ServerSelectionTimeoutError", "TEXT", "TopologyListener", "UpdateMany", "UpdateOne",
    "UpdateResult", "WaitQueueTimeoutError", "WriteConcern", "WriteConcernError",
    "WriteError", "__version__", "version",
})

# PyMongo's module for a family of names → ours; each name must be the same object there.
PYMONGO_STYLE_MODULES = {
    "driver.errors": ["AutoReconnect", "BulkWriteError", "CollectionInvalid",
                      "ConfigurationError", "ConnectionFailure", "CursorNotFound",
                      "DocumentTooLarge", "DuplicateKeyError", "ExecutionTimeout",
                      "InvalidName", "InvalidOperation", "InvalidURI", "NetworkTimeout",
                      "NotPrimaryError", "OperationFailure", "ProtocolError", "PyMongoError",
                      "ServerSelectionTimeoutError", "WaitQueueTimeoutError",
                      "WriteConcernError", "WriteError"],
    "driver.monitoring": ["CommandListener", "ConnectionPoolListener",
                          "ServerHeartbeatListener", "ServerListener", "TopologyListener"],
    "driver.results": ["BulkWriteResult", "DeleteResult", "InsertManyResult",
                       "InsertOneResult", "UpdateResult"],
    "driver.read_preferences": ["Nearest", "Primary", "PrimaryPreferred", "ReadPreference",
                                "Secondary", "SecondaryPreferred"],
    "driver.client": ["MongoClient"],
    "driver.database": ["Database"],
    "driver.collection": ["Collection", "ReturnDocument"],
    "driver.session": ["ClientSession"],
    "driver.server_api": ["ServerApi", "ServerApiVersion"],
}


def test_the_public_names_are_unchanged() -> None:
    assert set(driver.__all__) == PUBLIC_NAMES
    assert len(driver.__all__) == len(set(driver.__all__)), "a name is listed twice"


@pytest.mark.parametrize("name", sorted(PUBLIC_NAMES))
def test_every_public_name_resolves(name: str) -> None:
    assert getattr(driver, name) is not None
    namespace: dict[str, object] = {}
    exec(f"from driver import {name}", namespace)  # the way users write it
    assert namespace[name] is getattr(driver, name)


@pytest.mark.parametrize("module_name", sorted(PYMONGO_STYLE_MODULES))
def test_pymongo_style_modules_give_the_same_objects(module_name: str) -> None:
    module = importlib.import_module(module_name)
    for name in PYMONGO_STYLE_MODULES[module_name]:
        assert getattr(module, name) is getattr(driver, name), f"{module_name}.{name}"


def test_the_error_hierarchy_is_pymongos() -> None:
    errors = importlib.import_module("driver.errors")
    assert issubclass(errors.NetworkTimeout, errors.AutoReconnect)
    assert issubclass(errors.AutoReconnect, errors.ConnectionFailure)
    assert issubclass(errors.NotPrimaryError, errors.AutoReconnect)
    assert issubclass(errors.ServerSelectionTimeoutError, errors.AutoReconnect)
    assert issubclass(errors.WaitQueueTimeoutError, errors.ConnectionFailure)
    assert issubclass(errors.DuplicateKeyError, errors.WriteError)
    assert issubclass(errors.WriteError, errors.OperationFailure)
    assert issubclass(errors.BulkWriteError, errors.OperationFailure)
    assert issubclass(errors.ExecutionTimeout, errors.OperationFailure)
    assert issubclass(errors.CursorNotFound, errors.OperationFailure)
    assert issubclass(errors.InvalidURI, errors.ConfigurationError)
    for name in PYMONGO_STYLE_MODULES["driver.errors"]:
        assert issubclass(getattr(errors, name), errors.PyMongoError), name


def test_index_constants_and_version_match_pymongos_values() -> None:
    assert (driver.ASCENDING, driver.DESCENDING) == (1, -1)
    assert (driver.GEO2D, driver.GEOSPHERE, driver.HASHED, driver.TEXT) == (
        "2d", "2dsphere", "hashed", "text")
    assert driver.version == driver.__version__ and isinstance(driver.version, str)
