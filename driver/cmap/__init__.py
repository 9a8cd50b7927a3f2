"""The connection pool, after the connection monitoring and pooling (CMAP) specification.

``pool``: the public ``Pool`` (ready, clear, close, checkout, checkin); ``state``: what
the pool guards with its lock and its background work; ``types``: pool options, the
pooled connection wrapper and the pool errors; ``events``: CMAP events and listeners.
"""
