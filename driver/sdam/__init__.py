"""Server discovery and monitoring, and server selection, as pure functions and values.

``ServerDescription`` / ``TopologyDescription`` are immutable; the transitions of the
SDAM specification live in ``updated_topology_description``, server selection in
``select_servers``. The threads that feed them live in ``driver.sdam.monitor`` and
``driver.sdam.topology``.
"""

from driver.sdam.selection import (
    AddressSelector,
    any_server_selector,
    choose_server,
    select_servers,
    writable_server_selector,
)
from driver.sdam.server_description import ServerDescription
from driver.sdam.settings import TopologySettings
from driver.sdam.topology_description import TopologyDescription, updated_topology_description
from driver.sdam.types import (
    SERVER_TYPE,
    TOPOLOGY_TYPE,
    Address,
    ServerType,
    TopologyType,
)

__all__ = [
    "Address",
    "AddressSelector",
    "SERVER_TYPE",
    "ServerDescription",
    "ServerType",
    "TOPOLOGY_TYPE",
    "TopologyDescription",
    "TopologySettings",
    "TopologyType",
    "any_server_selector",
    "choose_server",
    "select_servers",
    "updated_topology_description",
    "writable_server_selector",
]
