"""Binnacle's desktop program (PySide6 on a qasync loop).

Widgets reach the driver only through ``app.services``; nothing here opens a socket.
"""

__version__ = "0.1.0"
