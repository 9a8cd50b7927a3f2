"""Binnacle's MongoDB driver: pure Python, no Qt, PyMongo's public names.

Layers (each imports only the ones below it): ``bson`` (codec) → ``net`` (wire
protocol, connections, handshake, TLS) and ``auth`` → ``pool`` → ``sdam`` (server
discovery and monitoring, server selection) → ``topology`` → the client API.
The main names are re-exported here as the client lands.
"""

from driver.errors import (  # noqa: F401
    AutoReconnect,
    ConfigurationError,
    ConnectionFailure,
    InvalidName,
    InvalidOperation,
    InvalidURI,
    OperationFailure,
    PyMongoError,
    ServerSelectionTimeoutError,
)
from driver.read_preferences import ReadPreference  # noqa: F401

__version__ = "0.1.0"
