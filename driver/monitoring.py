"""Every monitoring listener and event in one public module, as ``pymongo.monitoring``.

The classes live beside the specification they implement: command monitoring in
``driver.operations.command_events``, connection pool (CMAP) events in
``driver.cmap.events``, SDAM and heartbeat events in ``driver.sdam.events``. This module
only gathers their public names, so code written against PyMongo's
``from pymongo import monitoring`` keeps working (``monitoring.CommandListener``,
``monitoring.register(listener)``...). The shared bases and the registry are in
``driver.events``. The delivery threads (publishers) stay private
to their modules.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

from driver.cmap import events as _cmap
from driver.operations import command_events as _command
from driver.sdam import events as _sdam


def _public(module: ModuleType) -> dict[str, Any]:
    """The listener, event and registration names of one events module."""
    return {
        name: getattr(module, name)
        for name in module.__all__
        if name.endswith(("Listener", "Event", "Reason")) or name in ("register", "global_listeners")
    }


globals().update(_public(_command))
globals().update(_public(_cmap))
globals().update(_public(_sdam))

__all__ = sorted(set(_public(_command)) | set(_public(_cmap)) | set(_public(_sdam))
                 | {"EventListener", "global_listeners", "register"})
