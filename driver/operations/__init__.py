"""The operations layer: where a command meets the topology, and what comes back.

``executor``: server selection, checkout, command completion and error handling for
every operation; ``retry``: the retryable reads / writes rules; ``bulk``: batching of
``bulk_write``; ``cursor``: ``Cursor``, ``CommandCursor`` and the raw-batch cursors;
``raw_batches``: undecoded cursor batches; ``command_events``: command monitoring.
"""
