"""The app's only road to the driver: a worker pool for blocking calls, the event bridge
that turns driver listener callbacks into Qt signals, and one ``ClientService`` per open
connection. Widgets import from here, never from ``driver`` directly.
"""

from app.services.worker import Superseded, SupersedingRequests, WorkerPool

__all__ = ["Superseded", "SupersedingRequests", "WorkerPool"]
